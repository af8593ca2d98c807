#!/usr/bin/env python
"""The default model side by side with the naive way and its peers, in one run; writes benchmarks/bench.{json,md}.

What one run measures, at 640×360 and 1280×720 (and 1920×1080 with ``--full``):

* **stages** of the default model (``union`` with the filter's defaults: bfloat16 where the CPU
  computes it natively, ``flow_scale`` 1), of the float32 model and of ``flow_scale`` 0.5 / 0.25:
  CPU seconds on one torch thread of ``prepare`` (one frame), ``pair`` and ``synthesize`` (best of
  ``--reps`` runs after a warm-up), GFLOPs (``torch.utils.flop_counter``: convolutions, matrix
  products, attention) and the achieved GFLOP/s against one core's peak;
* **end to end**: ``vspipe`` to no output (``--``) on a generated cartoon animated on twos
  (24000/1001, YUV420P8 BT.709), to 60000/1001 and to ×2 (48000/1001), for ``ours`` (``dedupe`` →
  ``interpolate``, defaults), ``ours`` with ``flow_scale`` 0.5, the **naive way** (our model in
  float32, every output frame computed from scratch by index: no dedupe, no reuse, ``t`` from
  the frame index, as the published plugins do; first few output frames only, whole cycles of
  the cadence), a **blend** (our pipeline with ``model="blend"``: the floor of the pipeline) and
  **mvtools FlowFPS** (Super pel 2, Analyse blksize 16 overlap 8 both ways), with each run's
  peak RSS (``wait4``) and the load average;
* **quality guard**: PSNR of the fast paths (bfloat16; ``flow_scale`` 0.5, 0.25) against the
  float32 path on synthetic triplets and, when ``/work/shared/data`` (``--data``) is there, on
  triplets of the eye render and Middlebury; and the end-to-end output of ``ours`` against the
  float32 output at the same times (whose per-pair reuse is exact, so it is what the float32
  model computes from scratch for those frames).

Seconds per output frame of ``ours`` include the first frame's latency (no warm-up). The naive
run makes one model call at a time, under a lock, on torch's threads.

Usage: ``python scripts/bench.py [--full] [--sizes 640x360 1280x720] [--reps 2] [--data DIR] [--out benchmarks/bench]``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
import vapoursynth as vs
from torch.utils.flop_counter import FlopCounterMode

import vsanimsplat
from vsanimsplat.filters.frames import array_into_frame, clip_from_arrays, frame_to_tensor
from vsanimsplat.machine import cpu_peak as cpu_peak_of_flags
from vsanimsplat.machine import describe, machine
from vsanimsplat.evaluation import DATA, EYE_MOTION, eye_triplets, middlebury_triplets, one_thread, quantise
from vsanimsplat.metrics import psnr
from vsanimsplat.models import Model, load_model, native_bf16
from vsanimsplat.testing import Scene, animate, cadence

REPO = Path(__file__).resolve().parents[1]
SOURCE_RATE = Fraction(24000, 1001)
TARGETS = {"60000/1001": Fraction(60000, 1001), "x2": 2 * SOURCE_RATE}
# drawings of the end-to-end clip and output frames of the naive run (whole cycles: 5 at 60000/1001, 2 at x2)
DRAWINGS = {"640x360": 12, "1280x720": 6, "1920x1080": 4}
NAIVE_FRAMES = {"640x360": {"60000/1001": 10, "x2": 8}, "1280x720": {"60000/1001": 5, "x2": 4},
                "1920x1080": {"60000/1001": 5, "x2": 2}}
# in-betweens per drawing on twos: 4 of every 5 output frames at 60000/1001, 3 of 4 at x2
BETWEENS = {"60000/1001": 4, "x2": 3}


# --------------------------------------------------------------------------- clips and graphs (vspipe runs these)


def source_clip(width: int, height: int, drawings: int) -> vs.VideoNode:
    """A synthetic cartoon on twos at 24000/1001, YUV420P8 BT.709 (as a decoder gives it)."""
    animation = animate(Scene(width, height, seed=7, speed=width / 80), cadence([2], drawings))
    return clip_from_arrays(animation.frames, SOURCE_RATE).resize.Bicubic(format=vs.YUV420P8, matrix_s="709")


def naive(clip: vs.VideoNode, rate: Fraction, model: Model) -> vs.VideoNode:
    """``clip`` at ``rate`` the index-based way: output ``j`` sits at source position ``p = j·rate_in/rate``
    between frames ``floor(p)`` and the next, every in-between computed from scratch (two ``prepare``,
    one ``pair``, one ``synthesize``)."""
    count = math.ceil(clip.num_frames * rate / SOURCE_RATE)
    positions = [Fraction(j) * SOURCE_RATE / rate for j in range(count)]
    lefts = [min(math.floor(p), clip.num_frames - 1) for p in positions]
    rgb = clip.resize.Bicubic(format=vs.RGBS, matrix_in_s="709")
    left = vs.core.std.Splice([rgb[i] for i in lefts])
    right = vs.core.std.Splice([rgb[min(i + 1, clip.num_frames - 1)] for i in lefts])
    shell = vs.core.std.BlankClip(rgb, length=count, fpsnum=rate.numerator, fpsden=rate.denominator)
    lock = threading.Lock()

    def compute(n: int, f: list[vs.VideoFrame]) -> vs.VideoFrame:
        t = positions[n] - lefts[n]
        if t == 0 or lefts[n] == clip.num_frames - 1:
            return f[0]
        with lock:
            a, b = model.prepare(frame_to_tensor(f[0])), model.prepare(frame_to_tensor(f[1]))
            image = model.synthesize(model.pair(a, b), float(t)).image
        return array_into_frame(image.numpy(), f[0].copy())

    made = shell.std.ModifyFrame([left, right], compute)
    return made.resize.Bicubic(format=clip.format.id, matrix_s="709", dither_type="error_diffusion")


def graph(kind: str, width: int, height: int, drawings: int, target: str, flow_scale: float = 1.0) -> vs.VideoNode:
    """The clip a run renders: ``kind`` is ``ours``, ``naive``, ``blend`` or ``mvtools``."""
    clip = source_clip(width, height, drawings)
    rate = TARGETS[target]
    if kind == "ours":
        return vsanimsplat.interpolate(vsanimsplat.dedupe(clip), fps_num=rate.numerator, fps_den=rate.denominator,
                                       device="cpu", flow_scale=flow_scale)
    if kind == "blend":
        return vsanimsplat.interpolate(vsanimsplat.dedupe(clip), fps_num=rate.numerator, fps_den=rate.denominator,
                                       model="blend", device="cpu")
    if kind == "naive":
        return naive(clip, rate, load_model("union"))
    if kind == "mvtools":
        sup = clip.mv.Super(pel=2)
        backward, forward = (sup.mv.Analyse(isb=isb, blksize=16, overlap=8) for isb in (True, False))
        return clip.mv.FlowFPS(sup, backward, forward, num=rate.numerator, den=rate.denominator)
    raise ValueError(f"kind must be 'ours', 'naive', 'blend' or 'mvtools', got {kind!r}")


def vspipe(kind: str, size: str, target: str, frames: int | None = None, flow_scale: float = 1.0) -> dict:
    """Render ``graph(...)`` with vspipe to no output; seconds (vspipe's own count), frames, peak RSS."""
    width, height = map(int, size.split("x"))
    params = {"kind": kind, "width": width, "height": height, "drawings": DRAWINGS[size], "target": target,
              "flow_scale": flow_scale}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bench.vpy"
        script.write_text(f"import sys\nsys.path.insert(0, {str(Path(__file__).parent)!r})\nimport bench\n"
                          f"bench.graph(**{params!r}).set_output()\n")
        command = [_vspipe_path(), str(script), "--"] + ([] if frames is None else ["--end", str(frames - 1)])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        load = os.getloadavg()[0]
        with (Path(tmp) / "stderr.txt").open("w+") as log:
            start = time.perf_counter()
            process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)
            peak = 0
            while (done := os.wait4(process.pid, os.WNOHANG))[0] == 0:
                peak = max(peak, _peak_rss_kib(process.pid))
                time.sleep(0.1)
            _, status, usage = done
            wall = time.perf_counter() - start
            log.seek(0)
            stderr = log.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"vspipe {kind} {size} {target} failed:\n{stderr}")
    match = re.search(r"Output (\d+) frames in ([\d.]+) seconds", stderr)
    count, seconds = int(match.group(1)), float(match.group(2))
    row = {"kind": kind, "size": size, "target": target, "flow_scale": flow_scale, "frames": count,
           "seconds": round(seconds, 2), "s_per_frame": round(seconds / count, 4), "wall_s": round(wall, 2),
           "setup_s": round(wall - seconds, 2), "peak_rss_mib": round(peak / 1024),
           "cpu_s": round(usage.ru_utime + usage.ru_stime, 1), "load_before": round(load, 2)}
    print(json.dumps(row), flush=True)
    return row


def _peak_rss_kib(pid: int) -> int:
    """The process's peak resident set so far (VmHWM), 0 if it is gone. (``wait4``'s ``ru_maxrss`` would
    include this large parent's memory: Linux keeps the high-water mark of the forked copy across ``exec``.)"""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) if match else 0


def _vspipe_path() -> str:
    """The vspipe executable itself (a pip-installed VapourSynth puts a Python wrapper on the PATH that runs the
    binary as a child, whose memory the wrapper's VmHWM would not show)."""
    binary = Path(vs.__file__).with_name("vspipe")
    found = str(binary) if binary.is_file() else shutil.which("vspipe") or str(Path(sys.executable).with_name("vspipe"))
    if not Path(found).exists():
        raise SystemExit("vspipe not found: activate the venv (make test sets it up)")
    return found


# --------------------------------------------------------------------------- the CPU's peak


def cpu_peak() -> dict:
    """FLOP/s peak of one core of this CPU (:func:`vsanimsplat.machine.cpu_peak`: clock × FLOP per cycle from the
    lscpu flags), and what big matrix products (2048², best of 4) reach on one thread, like the stage timings. The
    bfloat16 peak counts AMX where the CPU has it."""
    found = cpu_peak_of_flags()
    peak = {"cores": found.cores, "mhz": found.mhz, "clock_source": found.clock_source,
            "fp32_flops_per_cycle": found.fp32_per_cycle, "bf16_flops_per_cycle": found.bf16_per_cycle,
            "fp32_gflops_per_core": round(found.gflops("float32", cores=1), 1),
            "bf16_gflops_per_core": round(found.gflops("bfloat16", cores=1), 1), "assumption": found.assumption}
    with one_thread():
        for dtype, kind in ((torch.float32, "fp32"), (torch.bfloat16, "bf16")):
            a, b = torch.rand(2048, 2048, dtype=dtype), torch.rand(2048, 2048, dtype=dtype)
            seconds = min(_cpu_timed(lambda: torch.mm(a, b))[1] for _ in range(4))
            peak[f"{kind}_gemm_gflops_per_core"] = round(2 * 2048**3 / seconds / 1e9, 1)
    return peak




def _cpu_timed(call: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - wall, time.process_time() - cpu


# --------------------------------------------------------------------------- stages


STAGE_CONFIGS = {  # name: (bf16, flow_scale)
    "default": (None, 1.0),
    "float32": (False, 1.0),
    "default, flow_scale 0.5": (None, 0.5),
    "default, flow_scale 0.25": (None, 0.25),
}


def _frame(scene: Scene, t: float) -> torch.Tensor:
    return torch.from_numpy(scene.render(t)).permute(2, 0, 1).unsqueeze(0).contiguous()


def _model(bf16: bool | None, flow_scale: float) -> Model:
    return load_model("union", bf16=bf16, flow_scale=flow_scale)  # None: the registry's choice, as interpolate


def stages(size: str, reps: int, peak: dict) -> list[dict]:
    """CPU seconds, GFLOPs and GFLOP/s of prepare / pair / synthesize for each of :data:`STAGE_CONFIGS`, on one
    torch thread: its CPU time is the work itself, whatever else runs on the machine."""
    width, height = map(int, size.split("x"))
    scene = Scene(width, height, seed=3, speed=width / 80)
    img0, img1 = _frame(scene, 0.0), _frame(scene, 2.0)
    rows = []
    for name, (bf16, flow_scale) in STAGE_CONFIGS.items():
        model = _model(bf16, flow_scale)
        with one_thread():
            a, b = model.prepare(img0), model.prepare(img1)
            pair = model.pair(a, b)
            calls = {"prepare": lambda: model.prepare(img1), "pair": lambda: model.pair(a, b),
                     "synthesize": lambda: model.synthesize(pair, 0.4)}
            flops = {}
            for stage, call in calls.items():
                with FlopCounterMode(display=False) as counter:
                    call()  # also the warm-up
                flops[stage] = counter.get_total_flops()
            load = os.getloadavg()[0]
            timed = {stage: [_cpu_timed(call) for _ in range(reps)] for stage, call in calls.items()}
        wall = {stage: min(w for w, _ in runs) for stage, runs in timed.items()}
        cpu = {stage: min(c for _, c in runs) for stage, runs in timed.items()}
        # per in-between at 60000/1001 on twos: one prepare and one pair per drawing, 4 in-betweens per drawing;
        # the naive way: two prepares, a pair and a synthesis for every in-between
        per_frame = (cpu["prepare"] + cpu["pair"]) / 4 + cpu["synthesize"]
        naive = 2 * cpu["prepare"] + cpu["pair"] + cpu["synthesize"]
        per_frame_flops = (flops["prepare"] + flops["pair"]) / 4 + flops["synthesize"]
        naive_flops = 2 * flops["prepare"] + flops["pair"] + flops["synthesize"]
        kind = "bf16" if model.dtype == torch.bfloat16 else "fp32"
        row = {"size": size, "config": name, "dtype": str(model.dtype).removeprefix("torch."), "flow_scale": flow_scale,
               **{f"{s}_cpu_s": round(v, 3) for s, v in cpu.items()},
               **{f"{s}_wall_s": round(v, 3) for s, v in wall.items()},
               **{f"{s}_gflop": round(v / 1e9, 1) for s, v in flops.items()},
               "cpu_s_per_inbetween": round(per_frame, 3), "naive_cpu_s_per_inbetween": round(naive, 3),
               "gflop_per_inbetween": round(per_frame_flops / 1e9, 1),
               "naive_gflop_per_inbetween": round(naive_flops / 1e9, 1),
               "gflops_per_core": round(per_frame_flops / per_frame / 1e9, 1),
               "share_of_peak": round(per_frame_flops / per_frame / 1e9 / peak[f"{kind}_gflops_per_core"], 3),
               "load_before": round(load, 2)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


# --------------------------------------------------------------------------- quality


def _synthetic_triplets(width: int, height: int, count: int) -> list[tuple[str, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Drawings 2 frames apart on twos and the true picture between them, motion ``width / 80`` px per frame."""
    triplets = []
    for seed in range(count):
        scene = Scene(width, height, seed=10 + seed, speed=width / 80)
        triplets.append((f"synthetic{seed}", _frame(scene, 0.0), _frame(scene, 1.0), _frame(scene, 2.0)))
    return triplets


def _shared_triplets(data: Path, eye: int, middlebury: int) -> dict[str, list]:
    sets = {}
    if (data / "synfig-eye-48fps.mkv").is_file():
        motion = [t for t in eye_triplets(data) if EYE_MOTION[0] <= t.middle_index <= EYE_MOTION[1]]
        step = max(1, len(motion) // eye)
        sets["eye"] = [(t.name, t.frame0, t.middle, t.frame1) for t in motion[::step][:eye]]
    if (data / "middlebury").is_dir():
        sets["middlebury"] = [(t.name, t.frame0, t.middle, t.frame1) for t in middlebury_triplets(data)[:middlebury]]
    return sets


QUALITY_CONFIGS = {"float32": (False, 1.0), "default": (None, 1.0), "default, flow_scale 0.5": (None, 0.5),
                   "default, flow_scale 0.25": (None, 0.25)}


def quality(data: Path, eye: int, middlebury: int) -> tuple[list[dict], list[str]]:
    """PSNR (8-bit outputs) of each of :data:`QUALITY_CONFIGS` against float32 and against the true middle."""
    sets = {"synthetic 640x360": _synthetic_triplets(640, 360, 3), "synthetic 1280x720": _synthetic_triplets(1280, 720, 2),
            **_shared_triplets(data, eye, middlebury)}
    notes = [] if len(sets) == 4 else [f"shared triplets (partly) skipped: {data} lacks the eye render or Middlebury"]
    outputs: dict[str, dict[str, list[torch.Tensor]]] = {}
    for name, (bf16, flow_scale) in QUALITY_CONFIGS.items():
        model = _model(bf16, flow_scale)
        outputs[name] = {s: [quantise(model.synthesize(model.pair(model.prepare(a), model.prepare(b)), 0.5).image)
                             for _, a, _, b in triplets] for s, triplets in sets.items()}
    rows = []
    for name in QUALITY_CONFIGS:
        for s, triplets in sets.items():
            against = [psnr(x, y, 1.0) for x, y in zip(outputs[name][s], outputs["float32"][s])]
            truth = [psnr(x, quantise(t[2]), 1.0) for x, t in zip(outputs[name][s], triplets)]
            rows.append({"config": name, "set": s, "triplets": len(triplets),
                         "psnr_vs_float32_mean": round(statistics.mean(against), 2) if name != "float32" else None,
                         "psnr_vs_float32_min": round(min(against), 2) if name != "float32" else None,
                         "psnr_vs_truth": round(statistics.mean(truth), 2)})
            print(json.dumps(rows[-1]), flush=True)
    for s, triplets in sets.items():
        truth = [psnr(quantise((t[1] + t[3]) / 2), quantise(t[2]), 1.0) for t in triplets]
        rows.append({"config": "blend 50/50", "set": s, "triplets": len(triplets), "psnr_vs_float32_mean": None,
                     "psnr_vs_float32_min": None, "psnr_vs_truth": round(statistics.mean(truth), 2)})
    return rows, notes


def end_to_end_quality(size: str, frames: int) -> dict:
    """PSNR of ``ours`` (defaults) against ``ours`` in float32 over the first ``frames`` output frames at
    60000/1001 (YUV420P8 outputs; in-betweens only)."""
    width, height = map(int, size.split("x"))
    clip = source_clip(width, height, DRAWINGS[size])
    rate = TARGETS["60000/1001"]
    outs = {bf16: vsanimsplat.interpolate(vsanimsplat.dedupe(clip), fps_num=rate.numerator, fps_den=rate.denominator,
                                          device="cpu", bf16=bf16) for bf16 in (None, False)}
    values = []
    for n in range(min(frames, outs[None].num_frames)):
        fast, exact = outs[None].get_frame(n), outs[False].get_frame(n)
        if fast.props["AnimSplat_Interpolated"]:
            values.append(psnr(np.concatenate([np.asarray(fast[p]).ravel() for p in range(3)]),
                                np.concatenate([np.asarray(exact[p]).ravel() for p in range(3)])))
    return {"size": size, "inbetweens": len(values), "psnr_mean": round(statistics.mean(values), 2),
            "psnr_min": round(min(values), 2)}


# --------------------------------------------------------------------------- report


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def summary(report: dict) -> list[dict]:
    """Ratios of ``ours`` against the naive way and the peers, per size and target, from the end-to-end rows."""
    runs = report["end_to_end"]

    def find(kind: str, size: str, target: str, flow_scale: float = 1.0) -> dict | None:
        return next((r for r in runs if (r["kind"], r["size"], r["target"], r["flow_scale"]) ==
                     (kind, size, target, flow_scale)), None)

    def per_inbetween(run: dict, target: str) -> float:
        return round(run["seconds"] / (run["frames"] * BETWEENS[target] / (BETWEENS[target] + 1)), 3)

    out = []
    for size in report["sizes"]:
        for target in TARGETS:
            ours = find("ours", size, target)
            if ours is None:
                continue
            row = {"size": size, "target": target, "ours_s_per_frame": ours["s_per_frame"],
                   "ours_s_per_inbetween": per_inbetween(ours, target)}
            for kind in ("naive", "blend", "mvtools"):
                other = find(kind, size, target)
                if other is not None:
                    row[f"{kind}_s_per_frame"] = other["s_per_frame"]
                    row[f"ours_vs_{kind}"] = round(ours["s_per_frame"] / other["s_per_frame"], 3)
            fast = find("ours", size, target, 0.5)
            if fast is not None:
                row["flow_scale_0.5_s_per_inbetween"] = per_inbetween(fast, target)
            out.append(row)
    return out


def targets(report: dict) -> list[tuple[str, str, str]]:
    """The issue's targets: (target, measured, met?)."""
    rows = []
    by = {(r["size"], r["target"]): r for r in report["summary"]}
    stage = {(r["size"], r["config"]): r for r in report["stages"]}
    small = by.get(("640x360", "60000/1001"))
    guard = next((q for q in report["end_to_end_quality"] if q["size"] == "640x360"), None)
    if small and "ours_vs_naive" in small:
        ratio = small["ours_vs_naive"]
        rows.append(("640×360, 60000/1001 end to end: s per output frame ≤ 1/3 of the naive way (stretch ≤ 1/5)",
                     f"{ratio:.3f} (1/{1 / ratio:.1f}): {small['ours_s_per_frame']} s vs {small['naive_s_per_frame']} s",
                     "met" + (", stretch met" if ratio <= 0.2 else ", stretch missed") if ratio <= 1 / 3 else "missed"))
    fast, exact = stage.get(("640x360", "default")), stage.get(("640x360", "float32"))
    if fast and exact:
        ratio = fast["cpu_s_per_inbetween"] / exact["naive_cpu_s_per_inbetween"]
        rows.append(("the same from the stages' CPU time (one thread, insensitive to other load)",
                     f"{ratio:.3f} (1/{1 / ratio:.1f}): {fast['cpu_s_per_inbetween']} vs "
                     f"{exact['naive_cpu_s_per_inbetween']} CPU s per in-between",
                     "met" + (", stretch met" if ratio <= 0.2 else ", stretch missed") if ratio <= 1 / 3 else "missed"))
    if guard:
        rows.append(("output PSNR against float32 ≥ 45 dB (640×360, end to end)",
                     f"mean {guard['psnr_mean']} dB, min {guard['psnr_min']} dB",
                     "met" if guard["psnr_min"] >= 45 else "missed"))
    hd = by.get(("1280x720", "60000/1001"))
    if hd:
        best = min(hd["ours_s_per_inbetween"], hd.get("flow_scale_0.5_s_per_inbetween", math.inf))
        rows.append(("1280×720 with a documented flow_scale: ≤ 4 s per in-between (end to end)",
                     f"flow_scale 1: {hd['ours_s_per_inbetween']} s, flow_scale 0.5: "
                     f"{hd.get('flow_scale_0.5_s_per_inbetween')} s", "met" if best <= 4 else "missed"))
    full = [r for r in report["end_to_end"] if r["size"] == "1920x1080" and r["kind"] == "ours"]
    rows.append(("1920×1080: peak RSS ≤ 8 GB",
                 ", ".join(f"{r['target']} flow_scale {r['flow_scale']}: {r['peak_rss_mib']} MiB" for r in full)
                 if full else "not run (`--full`)",
                 ("met" if max(r["peak_rss_mib"] for r in full) <= 8 * 1024 else "missed") if full else "—"))
    return rows


def markdown(report: dict) -> str:
    peak = report["peak"]
    parts = [
        "# Benchmark: the default model side by side",
        "",
        f"Made by `scripts/bench.py{' --full' if report['full'] else ''}` on {report['date']}: {report['machine_line']}.",
        f"Load average (1 min) {report['load_start']} at start, {report['load_end']} at end: the CPU is shared with "
        "other engineers, so wall times are upper bounds (see the `load` columns; stage CPU times are not affected "
        f"much). The default model here is `union` in {'bfloat16' if report['bf16_default'] else 'float32'}. "
        "No GPU: **GPU figures are not measured**.",
        "",
        "## Targets",
        "",
        _table(["target", "measured", ""], targets(report)),
        "",
        "## This CPU's peak (one core)",
        "",
        f"{peak['mhz']:.0f} MHz ({peak['clock_source']}) × FLOPs per cycle ("
        f"{peak.get('assumption', 'float32: 2 FMA pipes × 16 lanes (avx512f) × 2; bfloat16 twice that (avx512_bf16)')}) = "
        f"**{peak['fp32_gflops_per_core']} GFLOP/s float32, {peak['bf16_gflops_per_core']} GFLOP/s bfloat16 per core** "
        f"({peak['cores']} cores). A 2048² matrix product on one thread reaches {peak['fp32_gemm_gflops_per_core']} "
        f"(float32) and {peak['bf16_gemm_gflops_per_core']} (bfloat16) GFLOP/s"
        + (f": more than the computed peak, so the cores run at {implied:.0f} MHz or more (boost), above the clock "
           "the hypervisor reports; shares of peak below are then upper bounds."
           if (implied := max(peak['fp32_gemm_gflops_per_core'] / peak['fp32_flops_per_cycle'],
                              peak['bf16_gemm_gflops_per_core'] / peak['bf16_flops_per_cycle']) * 1e3) > peak["mhz"]
           else "."),
        "",
        "## Stages (one torch thread; best of runs after a warm-up)",
        "",
        "CPU seconds of one call. Per in-between at 60000/1001 on twos = (prepare + pair) / 4 + synthesize (one "
        "drawing, one pair, four in-betweens); the naive way = 2 prepare + pair + synthesize. GFLOPs count "
        "convolutions, matrix products and attention (`torch.utils.flop_counter`); GFLOP/s = per in-between "
        "GFLOPs / CPU seconds, against one core's peak.",
        "",
        _table(["size", "config", "dtype", "prepare", "pair", "synthesize", "CPU s per in-between (naive)",
                "GFLOP prepare / pair / synth", "GFLOP per in-between (naive)", "GFLOP/s", "of peak", "load"],
               [[r["size"], r["config"], r["dtype"], r["prepare_cpu_s"], r["pair_cpu_s"], r["synthesize_cpu_s"],
                 f"{r['cpu_s_per_inbetween']} ({r['naive_cpu_s_per_inbetween']})",
                 f"{r['prepare_gflop']} / {r['pair_gflop']} / {r['synthesize_gflop']}",
                 f"{r['gflop_per_inbetween']} ({r['naive_gflop_per_inbetween']})", r["gflops_per_core"],
                 f"{100 * r['share_of_peak']:.0f} %", r["load_before"]] for r in report["stages"]]),
        "",
        "## End to end (vspipe to no output)",
        "",
        "Seconds are vspipe's own count of the rendering (after the script is evaluated); setup = the rest of the "
        "process's life (imports, weights, generating the clip, reading its timing). `ours` includes its first "
        "frame's latency. Peak RSS = the vspipe process's VmHWM. CPU s = the process's CPU time, setup included.",
        "",
        _table(["size", "target", "run", "flow_scale", "output frames", "seconds", "s per frame", "setup s", "CPU s",
                "peak RSS MiB", "load"],
               [[r["size"], r["target"], r["kind"], r["flow_scale"], r["frames"], r["seconds"], r["s_per_frame"],
                 r["setup_s"], r["cpu_s"], r["peak_rss_mib"], r["load_before"]] for r in report["end_to_end"]]),
        "",
        "## Ratios (seconds per output frame, ours ÷ other; below 1 = ours faster)",
        "",
        _table(["size", "target", "ours s/frame", "ours s per in-between", "vs naive", "vs blend", "vs mvtools",
                "flow_scale 0.5: s per in-between"],
               [[r["size"], r["target"], r["ours_s_per_frame"], r["ours_s_per_inbetween"], r.get("ours_vs_naive"),
                 r.get("ours_vs_blend"), r.get("ours_vs_mvtools"), r.get("flow_scale_0.5_s_per_inbetween")]
                for r in report["summary"]]),
        "",
        "## Quality guard",
        "",
        "t = 0.5 of each triplet, outputs rounded to 8 bits; PSNR against the float32 model (flow_scale 1) and "
        "against the true middle frame. Synthetic: cartoons moving width/80 px per frame, drawings two frames apart. "
        "`flow_scale` is meant for large pictures: GMFlow is unreliable when its input (half size × flow_scale) is "
        "under ~192 px on a side, so 0.5 fits 1280×720 and up, 0.25 fits 4K.",
        "",
        _table(["config", "set", "triplets", "PSNR vs float32 (mean)", "(min)", "PSNR vs truth"],
               [[r["config"], r["set"], r["triplets"], r["psnr_vs_float32_mean"], r["psnr_vs_float32_min"],
                 r["psnr_vs_truth"]] for r in report["quality"]]),
        "",
        *[f"*{note}*" for note in report["notes"]],
        "",
        "End to end: " + "; ".join(
            f"{q['size']}: PSNR of ours (defaults) against ours in float32 (whose reuse is exact: the float32 model "
            f"from scratch at the same times), {q['inbetweens']} in-betweens at 60000/1001 (YUV420P8): mean "
            f"{q['psnr_mean']} dB, min {q['psnr_min']} dB" for q in report["end_to_end_quality"]) + ".",
        "",
    ]
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="also 1920x1080")
    parser.add_argument("--sizes", nargs="+", help="sizes to run (default 640x360 1280x720, + 1920x1080 with --full)")
    parser.add_argument("--reps", type=int, default=2, help="timed runs per stage (the best is kept)")
    parser.add_argument("--data", type=Path, default=DATA, help="shared footage (eye render, Middlebury)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "bench", help="writes OUT.json and OUT.md")
    args = parser.parse_args()
    sizes = args.sizes or ["640x360", "1280x720"] + (["1920x1080"] if args.full else [])
    if unknown := [s for s in sizes if s not in DRAWINGS]:
        parser.error(f"--sizes must be among {sorted(DRAWINGS)}, got {unknown}")
    torch.set_grad_enabled(False)
    report: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "full": args.full, "sizes": sizes,
                    "machine": machine(), "machine_line": describe(), "load_start": round(os.getloadavg()[0], 2),
                    "bf16_default": native_bf16()}
    report["peak"] = cpu_peak()
    print(json.dumps(report["peak"]), flush=True)
    report["stages"] = [row for size in sizes for row in stages(size, args.reps, report["peak"])]
    runs = []
    for size in sizes:
        for target in TARGETS:
            runs.append(vspipe("ours", size, target))
            runs.append(vspipe("naive", size, target, frames=NAIVE_FRAMES[size][target]))
            runs.append(vspipe("blend", size, target))
            runs.append(vspipe("mvtools", size, target))
        if size != "640x360":
            runs.append(vspipe("ours", size, "60000/1001", flow_scale=0.5))
    report["end_to_end"] = runs
    report["quality"], report["notes"] = quality(args.data, eye=4, middlebury=3)
    report["end_to_end_quality"] = [end_to_end_quality("640x360", 10)]
    report["load_end"] = round(os.getloadavg()[0], 2)
    report["summary"] = summary(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
