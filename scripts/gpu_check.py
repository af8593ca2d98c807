#!/usr/bin/env python
"""The GPU check in one call: CuPy kernels against PyTorch, float16 against float32, fps and VRAM at 1080p.

Run on a CUDA machine from the repository root:

    .venv/bin/python scripts/gpu_check.py

It needs the package installed with its dependencies (``make setup``), CuPy for the CUDA build of
torch (``pip install -e '.[cuda]'``: ``cupy-cuda13x`` for torch's CUDA 13; ``cupy-cuda12x`` for a
CUDA 12 torch) and the weights of ``union`` and ``rife`` (``vsanimsplat models fetch union`` and
``… fetch rife``). It installs and downloads nothing. Without CuPy the kernel comparison is reported
as skipped; without weights the cases that need them are reported as errors; the rest still runs.

What it measures, in this order, writing ``OUT/gpu.json`` and ``OUT/gpu.md`` after every step (so a
run that is killed still leaves what it measured), with the GPU, driver, CUDA, torch, CuPy, the CPU
and the exact command:

1. **kernels**: :func:`vsanimsplat.ops.softsplat_with_holes` through the CuPy kernels against the
   plain PyTorch path, every mode (`sum`, `avg`, `linear`, `soft`), float32 and float64, on random
   flows with collisions, exact-pixel landings, far and non-finite targets: the output, the hole
   mask, and under autograd the gradients of input, flow and metric. Max abs difference divided by
   max(1, largest reference value); passes at ≤ 1e-4 (float32) or 1e-9 (float64). Forward
   milliseconds of both paths (float32, 2×3×540×960, i.e. one 1080p frame's pixels).
2. **precision**: ``union`` in float16 and float32 on one 1920×1080 pair of drawings (a textured,
   panning synthetic cartoon, drawings two source frames apart) at t = 0.25, 0.5, 0.75; PSNR of the
   8-bit float16 output against the float32 one (passes at ≥ 45 dB) and of both against the truth.
3. **speed**: output frames/s at 1920×1080 through VapourSynth (``--threads`` threads) from a
   24000/1001 clip on twos to ×2 and to 60000/1001: ``dedupe`` then ``interpolate`` with ``union``
   (float32 and float16) and ``rife``, and the naive way, ``interpolate(clip, factor=…)`` on the
   clip as it is (``union``, float32); ``--frames`` output frames timed after a warm-up, and each
   case's peak VRAM (``torch.cuda.max_memory_allocated``, reset per case; model loading included).

A time guard (``--budget`` seconds from the start, 420 by default so that a run ends within 8
minutes) skips what is left with a note, and stops a case's frames early. Progress goes to stdout.
Exit status: 0 when nothing failed, 1 when a check failed or a step raised, and 1 with a one-line
message when no CUDA device is visible.

``--device cpu --tiny`` is only a **dry run** of this script's logic on a machine without a GPU:
every step at 160×96 on the CPU, the compiled CPU splatting path (Numba) taking the kernels' place
(forward only: it computes no gradients, so that comparison shows as skipped), bfloat16 taking
float16's, no VRAM figures; about 3 minutes on 2 busy cores. It exits 1: bfloat16 at 160×96 stays
under the PSNR floor (≈ 36 dB). Its records go to a temporary folder unless ``--out-dir`` is given.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the tree this script belongs to, whatever is installed

import vapoursynth as vs  # noqa: E402

import vsanimsplat  # noqa: E402
from vsanimsplat.filters.frames import clip_from_arrays  # noqa: E402
from vsanimsplat.machine import describe, machine  # noqa: E402
from vsanimsplat.metrics import psnr  # noqa: E402
from vsanimsplat.models import load_model  # noqa: E402
from vsanimsplat.ops import _softsplat_cpu, _softsplat_cuda, softsplat_with_holes  # noqa: E402
from vsanimsplat.ops.softsplat import MODES  # noqa: E402
from vsanimsplat.testing import Scene, animate, cadence  # noqa: E402

SOURCE_RATE = Fraction(24000, 1001)
TARGETS = {"x2": Fraction(2), "60000/1001": Fraction(60000, 1001) / SOURCE_RATE}  # as factors of the source rate
TOLERANCE = {torch.float32: 1e-4, torch.float64: 1e-9}
"""Kernel against PyTorch: max abs difference over max(1, largest reference value)."""
HOLES_TOLERANCE = 1e-5
"""Kernel against PyTorch: share of pixels whose hole flag may differ (coverage summed in another order)."""
PSNR_FLOOR_DB = 45.0
"""float16 against float32: the lowest PSNR that passes (the bfloat16 target of benchmarks/bench.md)."""
STATUS = {"running": "incomplete (written during the run; if nothing follows, the run stopped here)"}
"""How the Markdown record words a status of the JSON one."""
CASE_MARGIN_S = 20.0
"""A speed case starts only with this much of the budget left."""


def _failed(result: dict) -> bool:
    """Whether a step's result records a failed check (``pass`` False; None means not compared)."""
    return result.get("pass") is False or any(row.get("pass") is False for row in result.get("rows", []))


def _log(start: float, message: str) -> None:
    print(f"[{time.perf_counter() - start:6.1f} s] {message}", flush=True)


# --------------------------------------------------------------------------- 1. kernels


@contextlib.contextmanager
def _splat_path(fast: bool) -> Iterator[list[str]]:
    """softsplat through its fast path (the CuPy kernels, or Numba on the CPU), listing the calls that reach
    it, or through plain PyTorch only."""
    reached: list[str] = []
    launch, compiled = _softsplat_cuda._launch, _softsplat_cpu.splat
    saved = [(_softsplat_cuda, "usable", _softsplat_cuda.usable), (_softsplat_cuda, "_launch", launch),
             (_softsplat_cpu, "usable", _softsplat_cpu.usable), (_softsplat_cpu, "splat", compiled)]
    try:
        if fast:
            _softsplat_cuda._launch = lambda *a: reached.append("kernel") or launch(*a)
            _softsplat_cpu.splat = lambda *a: reached.append("compiled") or compiled(*a)
        else:
            _softsplat_cuda.usable = _softsplat_cpu.usable = lambda *a: False
        yield reached
    finally:
        for module, name, value in saved:
            setattr(module, name, value)


def _splat_inputs(shape: tuple[int, int, int, int], mode: str, dtype: torch.dtype, device: str,
                  seed: int) -> list[torch.Tensor | None]:
    """Input, flow and metric (None for `sum`, `avg`): flows up to ±8 px with a tenth landing exactly on pixels,
    a hundredth far outside or non-finite, and a block that all lands near one spot (many collisions)."""
    n, c, h, w = shape
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=torch.float64)
    flow = torch.randint(-8, 9, (n, 2, h, w), generator=g).double()
    flow += torch.rand(flow.shape, generator=g, dtype=torch.float64) * (torch.rand(flow.shape, generator=g) > 0.1)
    special = torch.rand((n, 1, h, w), generator=g).expand_as(flow)
    flow = flow.masked_fill(special < 0.005, math.nan).masked_fill((special >= 0.005) & (special < 0.01), 1e4)
    ys, xs = torch.meshgrid(*(torch.arange(k // 4, dtype=torch.float64) for k in (h, w)), indexing="ij")
    flow[:, 0, : h // 4, : w // 4] = w / 2 - xs + 0.3 * torch.rand(xs.shape, generator=g, dtype=torch.float64)
    flow[:, 1, : h // 4, : w // 4] = h / 2 - ys + 0.3 * torch.rand(ys.shape, generator=g, dtype=torch.float64)
    metric = {"linear": 0.1 + 2 * torch.rand((n, 1, h, w), generator=g, dtype=torch.float64),  # positive weights
              "soft": 200 * torch.rand((n, 1, h, w), generator=g, dtype=torch.float64) - 100}.get(mode)  # exp overflows
    return [None if t is None else t.to(device=device, dtype=dtype) for t in (x, flow, metric)]


def _scaled_difference(fast: torch.Tensor, reference: torch.Tensor) -> float:
    """max |fast − reference| / max(1, max |reference|), over the finite reference values (nan if none)."""
    finite = torch.isfinite(reference)
    if not finite.any():
        return math.nan
    if not torch.equal(finite, torch.isfinite(fast)):
        return math.inf
    gap = (fast[finite].double() - reference[finite].double()).abs().max().item()
    return gap / max(1.0, reference[finite].abs().max().item())


def _splat_once(inputs: list[torch.Tensor | None], mode: str, fast: bool,
                upstream: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor | None], bool]:
    """Output, holes, gradients (with ``upstream``: of input, flow, metric for ``sum(out · upstream)``) and
    whether the fast path ran."""
    leaves = [None if t is None else t.detach().requires_grad_(upstream is not None) for t in inputs]
    with _splat_path(fast) as reached, torch.set_grad_enabled(upstream is not None):
        out, holes = softsplat_with_holes(leaves[0], leaves[1], leaves[2], mode)
        if upstream is not None:
            (out * upstream).sum().backward()
    return out.detach(), holes, [None if t is None else t.grad for t in leaves], bool(reached)


def _time_ms(call: Callable[[], object], device: str, reps: int = 5) -> float:
    """Median milliseconds of ``call`` after a warm-up, waiting for the device."""
    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize(device)

    call()
    times = []
    for _ in range(reps):
        sync()
        begin = time.perf_counter()
        call()
        sync()
        times.append(1000 * (time.perf_counter() - begin))
    return sorted(times)[reps // 2]


def check_kernels(device: str, shape: tuple[int, int, int, int]) -> dict:
    """Part 1: the fast splatting path against plain PyTorch (see the module docstring)."""
    if device.startswith("cuda"):
        fast_name = "CuPy kernels"
        missing = None if _softsplat_cuda._cupy() is not None else "CuPy is not installed, does not import or sees no GPU"
    else:
        fast_name = "compiled CPU path (Numba)"
        missing = None if _softsplat_cpu._numba() is not None else "Numba does not import"
    part = {"fast_path": fast_name, "shape": list(shape), "rows": [], "speed": []}
    if missing:
        part["skipped"] = missing
        return part
    for dtype in TOLERANCE:
        for seed, mode in enumerate(MODES):
            inputs = _splat_inputs(shape, mode, dtype, device, seed)
            row = {"dtype": str(dtype).removeprefix("torch."), "mode": mode, "tolerance": TOLERANCE[dtype]}
            out, holes, _, ran = _splat_once(inputs, mode, True, None)
            ref, ref_holes, _, _ = _splat_once(inputs, mode, False, None)
            if ran:
                row["forward"] = _scaled_difference(out, ref)
                row["holes_differing"] = (holes != ref_holes).double().mean().item()
            upstream = torch.randn(ref.shape, generator=torch.Generator().manual_seed(99), dtype=torch.float64)
            upstream = upstream.to(device=device, dtype=dtype)
            _, _, grads, ran = _splat_once(inputs, mode, True, upstream)
            _, _, ref_grads, _ = _splat_once(inputs, mode, False, upstream)
            if ran:
                for name, grad, ref_grad in zip(("input", "flow", "metric"), grads, ref_grads):
                    if ref_grad is not None:
                        row[f"grad_{name}"] = _scaled_difference(grad, ref_grad)
            scores = [v for k, v in row.items() if k == "forward" or k.startswith("grad_")]
            row["pass"] = None if not scores else (all(v <= TOLERANCE[dtype] for v in scores)
                                                   and row.get("holes_differing", 0.0) <= HOLES_TOLERANCE)
            part["rows"].append(row)
            if dtype == torch.float32:
                timed = {fast: _time_ms(lambda fast=fast: _splat_once(inputs, mode, fast, None), device)
                         for fast in (True, False)}
                part["speed"].append({"mode": mode, "fast_ms": round(timed[True], 3), "torch_ms": round(timed[False], 3)})
    return part


# --------------------------------------------------------------------------- 2. precision


def _scene(width: int, height: int) -> Scene:
    """The textured cartoon of parts 2 and 3: shapes moving width/80 px and a background panning width/160 px per frame."""
    return Scene(width, height, seed=7, speed=width / 80, texture=0.5, pan=(width / 160, 0.0))


def _eight_bit(image: np.ndarray | torch.Tensor) -> np.ndarray:
    """A picture in [0, 1] (HWC array or (1, 3, H, W) tensor) rounded to 8 bits, channels last."""
    if isinstance(image, torch.Tensor):
        image = image[0].permute(1, 2, 0).float().cpu().numpy()
    return np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8)


def check_precision(device: str, size: tuple[int, int], half: str) -> dict:
    """Part 2: ``union`` in ``half`` ("float16" or "bfloat16") against float32 on one pair of drawings."""
    scene = _scene(*size)
    a, b = (torch.from_numpy(scene.render(t)).permute(2, 0, 1).unsqueeze(0).contiguous() for t in (0.0, 2.0))
    steps = (0.25, 0.5, 0.75)
    outputs = {}
    for name in ("float32", half):
        model = load_model("union", device=device, fp16=name == "float16", bf16=name == "bfloat16")
        pair = model.pair(model.prepare(a), model.prepare(b))
        outputs[name] = [_eight_bit(model.synthesize(pair, t).image) for t in steps]
        del model, pair
        _free(device)
    rows = []
    for t, full, reduced in zip(steps, outputs["float32"], outputs[half]):
        truth = _eight_bit(scene.render(2 * t))
        rows.append({"t": t, "psnr_half_vs_float32": round(psnr(reduced, full), 2),
                     "psnr_float32_vs_truth": round(psnr(full, truth), 2),
                     "psnr_half_vs_truth": round(psnr(reduced, truth), 2)})
    worst = min(r["psnr_half_vs_float32"] for r in rows)
    return {"half": half, "size": f"{size[0]}x{size[1]}", "rows": rows, "floor_db": PSNR_FLOOR_DB,
            "pass": worst >= PSNR_FLOOR_DB}


# --------------------------------------------------------------------------- 3. speed


def _free(device: str) -> None:
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


def source_clip(size: tuple[int, int], output_frames: int) -> vs.VideoNode:
    """The cartoon on twos at 24000/1001 as a decoder gives it (YUV420P8, BT.709), long enough for
    ``output_frames`` at ×2 (the highest rate here needs the most source frames), plus a drawing."""
    drawings = math.ceil(output_frames / 2 / 2) + 1
    frames = animate(_scene(*size), cadence([2], drawings)).frames
    return clip_from_arrays(frames, SOURCE_RATE).resize.Bicubic(format=vs.YUV420P8, matrix_s="709")


SPEED_CASES = (  # name, model, precision, whether dedupe runs first
    ("dedupe + union", "union", "float32", True),
    ("dedupe + union", "union", "half", True),
    ("dedupe + rife", "rife", "float32", True),
    ("naive union", "union", "float32", False),
)


def speed_case(clip: vs.VideoNode, device: str, case: tuple[str, str, str, bool], half: str, target: str,
               warm: int, frames: int, deadline: float) -> dict:
    """Part 3, one case: setup, warm-up and timed frames through VapourSynth, and peak VRAM."""
    name, model, precision, deduped = case
    precision = half if precision == "half" else precision
    _free(device)
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    baseline = torch.cuda.memory_allocated(device) if cuda else None  # what earlier steps left (should be ~0)
    begin = time.perf_counter()
    factor = TARGETS[target]
    out = vsanimsplat.interpolate(vsanimsplat.dedupe(clip) if deduped else clip,
                                  factor=int(factor) if factor.denominator == 1 else factor, model=model,
                                  device=device, fp16=precision == "float16", bf16=precision == "bfloat16")
    setup = time.perf_counter() - begin
    if out.num_frames < warm + frames:
        raise RuntimeError(f"the output has {out.num_frames} frames, fewer than warm-up {warm} + timed {frames}")
    begin = time.perf_counter()
    for _ in out[:warm].frames(close=True):
        pass
    warm_s = time.perf_counter() - begin
    done = 0
    begin = time.perf_counter()
    for _ in out[warm:warm + frames].frames(close=True):
        done += 1
        if time.perf_counter() > deadline:
            break
    seconds = time.perf_counter() - begin
    row = {"case": name, "model": model, "precision": precision, "dedupe": deduped, "target": target,
           "setup_s": round(setup, 2), "warm_up_frames": warm, "warm_up_s": round(warm_s, 2), "frames": done,
           "seconds": round(seconds, 3), "fps": round(done / seconds, 2),
           "cut_short": done < frames,
           "vram_at_start_gib": None if baseline is None else round(baseline / 2**30, 2),
           "peak_vram_gib": round(torch.cuda.max_memory_allocated(device) / 2**30, 2) if cuda else None,
           "peak_reserved_gib": round(torch.cuda.max_memory_reserved(device) / 2**30, 2) if cuda else None}
    del out
    return row


# --------------------------------------------------------------------------- machine and records


def gpu_info(device: str) -> dict:
    """The GPU, its driver, CUDA, cuDNN and CuPy versions (None where unknown)."""
    info: dict[str, object] = {"torch": torch.__version__, "torch_cuda": torch.version.cuda}
    if not device.startswith("cuda"):
        return info
    index = torch.device(device).index or 0
    props = torch.cuda.get_device_properties(index)
    info.update(name=props.name, capability=f"{props.major}.{props.minor}", memory_gib=round(props.total_memory / 2**30, 1),
                cudnn=torch.backends.cudnn.version(), driver=None, cupy=None)
    try:
        smi = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader", "-i", str(index)],
                             capture_output=True, text=True, timeout=20)
        info["driver"] = smi.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        pass
    cupy = _softsplat_cuda._cupy()
    if cupy is not None:
        try:
            runtime = cupy.cuda.runtime.runtimeGetVersion()
        except Exception as error:  # a broken CUDA runtime is reported by the kernel comparison
            runtime = f"unknown: {type(error).__name__}"
        info["cupy"] = f"{cupy.__version__} (CUDA runtime {runtime})"
    return info


def _sci(value: float | None) -> str | None:
    return None if value is None else f"{value:.2e}"


def _table(header: list[str], rows: list[list[object]]) -> list[str]:
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join("—" if v is None else str(v) for v in row) + " |" for row in rows])


def markdown(report: dict) -> str:
    """The Markdown record of ``report``."""
    gpu = report["gpu"]
    dry = not report["device"].startswith("cuda")
    lines = ["# GPU check" + (" — DRY RUN on the CPU, not GPU results" if dry else ""), "",
             f"Made by `{report['command']}` (in `{report['cwd']}`) on {report['date']}; "
             f"status: **{STATUS.get(report['status'], report['status'])}**.", ""]
    if dry:
        lines += ["A dry run of `scripts/gpu_check.py`'s logic (`--device cpu`): the compiled CPU path stands in for "
                  "the CuPy kernels, bfloat16 for float16; its numbers say nothing about a GPU.", ""]
    else:
        lines += [f"GPU: {gpu['name']} (compute capability {gpu['capability']}, {gpu['memory_gib']} GiB), driver "
                  f"{gpu['driver']}, torch {gpu['torch']} (CUDA {gpu['torch_cuda']}, cuDNN {gpu['cudnn']}), "
                  f"CuPy {gpu['cupy'] or 'not available'}.", ""]
    lines += [f"Machine: {report['machine_line']}.", ""]
    kernels = report.get("kernels")
    if kernels:
        lines += [f"## 1. Splatting: {kernels['fast_path']} against the PyTorch path", ""]
        if "skipped" in kernels:
            lines += [f"Skipped: {kernels['skipped']}.", ""]
        else:
            lines += [f"`softsplat_with_holes` on {'×'.join(map(str, kernels['shape']))} (N×C×H×W) random inputs. "
                      "Differences are max |fast − PyTorch| / max(1, max |PyTorch|); holes = share of pixels whose "
                      f"hole flag differs (≤ {HOLES_TOLERANCE:g} passes); gradients of Σ out · g for a random g. "
                      "— = that path did not run (the compiled CPU path computes no gradients).", ""]
            lines += _table(["dtype", "mode", "forward", "holes", "∂input", "∂flow", "∂metric", "tolerance", "result"],
                            [[r["dtype"], r["mode"], *(_sci(r.get(k)) for k in ("forward", "holes_differing", "grad_input",
                                                                                 "grad_flow", "grad_metric")),
                              f"{r['tolerance']:g}",
                              {True: "pass", False: "FAIL", None: "not compared"}[r["pass"]]]
                             for r in kernels["rows"]])
            lines += ["", "Forward time, float32, median of 5 after a warm-up:", ""]
            lines += _table(["mode", "fast path ms", "PyTorch ms"],
                            [[s["mode"], f"{s['fast_ms']:.3f}", f"{s['torch_ms']:.3f}"] for s in kernels["speed"]])
            lines.append("")
    precision = report.get("precision")
    if precision:
        lines += [f"## 2. `union` in {precision['half']} against float32, {precision['size']}", "",
                  "One pair of drawings two source frames apart (textured background panning, shapes moving), "
                  f"8-bit outputs. Result: **{'pass' if precision['pass'] else 'FAIL'}** (every t ≥ "
                  f"{precision['floor_db']} dB).", ""]
        lines += _table(["t", f"PSNR {precision['half']} vs float32 dB", "float32 vs truth dB",
                         f"{precision['half']} vs truth dB"],
                        [[r["t"], r["psnr_half_vs_float32"], r["psnr_float32_vs_truth"], r["psnr_half_vs_truth"]]
                         for r in precision["rows"]])
        lines.append("")
    if report.get("speed"):
        lines += [f"## 3. Output frames/s, {report['size']}, VapourSynth with {report['threads']} threads", "",
                  "Source: the cartoon on twos at 24000/1001 (YUV420P8). `dedupe` → `interpolate(factor=…)` "
                  "for the models, `interpolate(clip, factor=…)` on the clip as it is for the naive way. Setup = "
                  "the `interpolate` call (model loading, reading the timing); fps over the timed frames after "
                  "the warm-up frames; peak VRAM = `torch.cuda.max_memory_allocated` over the whole case (allocated at its start: "
                  f"{', '.join(str(r['vram_at_start_gib']) for r in report['speed'])} GiB).", ""]
        lines += _table(["case", "target", "precision", "setup s", "warm-up frames (s)", "timed frames", "seconds",
                         "fps", "peak VRAM GiB (reserved)"],
                        [[r["case"], r["target"], r["precision"], f"{r['setup_s']:.2f}",
                          f"{r['warm_up_frames']} ({r['warm_up_s']:.2f})",
                          f"{r['frames']}" + (" (cut short)" if r["cut_short"] else ""), f"{r['seconds']:.2f}",
                          f"{r['fps']:.2f}", None if r["peak_vram_gib"] is None
                          else f"{r['peak_vram_gib']} ({r['peak_reserved_gib']})"] for r in report["speed"]])
        lines.append("")
    if report["notes"]:
        lines += ["## Notes", ""] + [f"- {note}" for note in report["notes"]] + [""]
    return "\n".join(lines)


def write(report: dict, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "gpu.json").write_text(json.dumps(report, indent=1) + "\n")
    (out_dir / "gpu.md").write_text(markdown(report))


# --------------------------------------------------------------------------- main


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="'cuda' or 'cuda:N'; 'cpu' only for a dry run")
    parser.add_argument("--tiny", action="store_true", help="160×96 and few frames: a quick run of the logic")
    parser.add_argument("--out-dir", type=Path, help="where gpu.json and gpu.md go (default: benchmarks/, "
                                                     "or a temporary folder with --device cpu)")
    parser.add_argument("--budget", type=float, default=420.0, help="seconds after which what is left is skipped")
    parser.add_argument("--threads", type=int, default=min(8, os.cpu_count() or 1), help="VapourSynth threads")
    parser.add_argument("--frames", type=int, help="output frames timed per speed case (default 40; 6 with --tiny)")
    args = parser.parse_args()
    if args.device != "cpu" and not (args.device == "cuda" or (args.device.startswith("cuda:")
                                                               and args.device[5:].isdigit())):
        parser.error(f"--device must be 'cuda', 'cuda:N' or 'cpu', got {args.device!r}")
    if not args.budget > 0:
        parser.error(f"--budget must be > 0 seconds, got {args.budget}")
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    if args.frames is not None and args.frames < 1:
        parser.error(f"--frames must be at least 1, got {args.frames}")
    return args


def main() -> int:
    start = time.perf_counter()
    args = _arguments()
    cuda = args.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        built = "has no CUDA support" if torch.version.cuda is None else f"(CUDA {torch.version.cuda}) finds no GPU"
        sys.exit(f"gpu_check: no CUDA device: torch {torch.__version__} {built}; this check needs one "
                 "(--device cpu --tiny is a dry run of its logic)")
    if cuda and torch.device(args.device).index is not None and torch.device(args.device).index >= torch.cuda.device_count():
        sys.exit(f"gpu_check: no device {args.device}: {torch.cuda.device_count()} CUDA device(s)")
    out_dir = args.out_dir or (REPO / "benchmarks" if cuda else Path(tempfile.gettempdir()) / "vsanimsplat-gpu-check")
    deadline = start + args.budget
    size = (160, 96) if args.tiny else (1920, 1080)
    frames = args.frames or (6 if args.tiny else 40)
    warm = 2 if args.tiny else 8
    half = "float16" if cuda else "bfloat16"
    vs.core.num_threads = args.threads
    torch.manual_seed(0)
    report = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "command": shlex.join([sys.executable, *sys.argv]),
              "cwd": os.getcwd(), "device": args.device, "size": f"{size[0]}x{size[1]}", "threads": args.threads,
              "budget_s": args.budget, "status": "running", "gpu": gpu_info(args.device), "machine": machine(),
              "machine_line": describe(), "notes": []}
    failed = guarded = False

    def step(label: str, run: Callable[[], dict], store: Callable[[dict], None], margin: float = 0.0) -> None:
        """Run one step unless the time guard says no; record its result, or its error, and write the records."""
        nonlocal failed, guarded
        if time.perf_counter() > deadline - margin:
            guarded = True
            report["notes"].append(f"{label}: skipped by the time guard ({args.budget:.0f} s budget)")
            _log(start, f"{label}: skipped (time guard)")
        else:
            _log(start, f"{label} …")
            try:
                result = run()
            except Exception as error:  # one broken step must not cost the others their run
                failed = True
                report["notes"].append(f"{label}: error {type(error).__name__}: {error}")
                traceback.print_exc()
                _log(start, f"{label}: ERROR {type(error).__name__}: {error}")
            else:
                store(result)
                failed |= _failed(result)
                guarded |= bool(result.get("cut_short"))
                _log(start, f"{label}: {json.dumps(result)}")
        write(report, out_dir)

    write(report, out_dir)
    _log(start, f"{report['machine_line']}; GPU {json.dumps(report['gpu'])}; records in {out_dir}")
    step("kernels", lambda: check_kernels(args.device, (1, 3, 24, 32) if args.tiny else (2, 3, 540, 960)),
         lambda result: report.update(kernels=result))
    step(f"precision {half} vs float32", lambda: check_precision(args.device, size, half),
         lambda result: report.update(precision=result))
    report["speed"] = []
    clips: list[vs.VideoNode] = []  # made by the first case that runs
    for case in SPEED_CASES:
        for target in TARGETS:
            def run_case(case: tuple = case, target: str = target) -> dict:
                if not clips:
                    clips.append(source_clip(size, warm + frames))
                return speed_case(clips[0], args.device, case, half, target, warm, frames, deadline)

            label = f"speed {case[0]} {half if case[2] == 'half' else case[2]} {target}"
            step(label, run_case, report["speed"].append, CASE_MARGIN_S)
    report["status"] = "stopped by the time guard" if guarded else "complete"
    report["elapsed_s"] = round(time.perf_counter() - start, 1)
    write(report, out_dir)
    _log(start, f"done ({report['status']}; {'a check FAILED or a step raised' if failed else 'no failure'}): "
                f"{out_dir / 'gpu.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
