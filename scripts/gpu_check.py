#!/usr/bin/env python
"""The GPU check in one call: what users run, on a GPU: kernels, precision, determinism, frames/s and memory.

Run on a CUDA machine from the repository root:

    .venv/bin/python scripts/gpu_check.py

It needs the package installed with its dependencies (``make setup``), CuPy for the CUDA build of
torch (``pip install -e '.[cuda]'``: ``cupy-cuda13x`` for torch's CUDA 13; ``cupy-cuda12x`` for a
CUDA 12 torch), ffmpeg (as ``vsanimsplat run`` finds it) and the weights of the default preset's models
(``vsanimsplat models fetch union`` and ``… fetch rife``). It installs and downloads nothing. Without
CuPy the kernel comparison is reported as skipped; without weights the steps that need them are
reported as errors; the rest still runs.

The clip is what users feed it: a synthetic cartoon at 24000/1001 on a still textured background whose
three shapes are each on their own cadence (twos, threes, twos), so that ``dedupe`` finds drawings,
the regions that change are parts of the frame and ``layers`` moves a held shape at its own times.
Everything runs with ``interpolate``'s defaults (the ``default`` preset, ``static_tolerance``,
``regions``, ``layers``, the registry's precision) unless a case says otherwise.

What it measures, in this order, writing ``OUT/gpu.json`` and ``OUT/gpu.md`` after every step (so a
run that is killed still leaves what it measured), with the GPU, driver, CUDA, torch, CuPy, the CPU
and the exact command:

1. **kernels**: :func:`vsanimsplat.ops.softsplat_with_holes` through the CuPy kernels, and through the
   PyTorch path in a fixed order (:func:`vsanimsplat.ops.deterministic`), against the plain PyTorch
   path: every mode, float32 and float64, on random flows with collisions, exact-pixel landings, far
   and non-finite targets: the output, the hole mask, and under autograd the gradients of input,
   flow and metric (max abs difference over max(1, largest reference value); passes at ≤ 1e-4 in
   float32, 1e-9 in float64), and whether the fixed order gives the same bits twice. Forward
   milliseconds of the three paths (float32, 2×3×540×960, one 1080p frame's pixels).
2. **precision**: ``dedupe`` → ``interpolate(factor=2)`` at 1920×1080 in float16, and in bfloat16 where
   the GPU computes it, against float32: PSNR of the 8-bit in-betweens, over all of them and the worst
   one; passes at ≥ 45 dB.
3. **determinism** at 1280×720: the same ``interpolate`` twice with ``deterministic=True`` (every frame
   must be the same bits) and twice without (how many frames differ: for information); then
   ``vsanimsplat run`` of the clip as a video file, lossless (``--codec ffv1``), in one encode with
   ``--deterministic`` and in chunks (``--chunk-seconds 0.5``): the same frames (ffmpeg's framemd5),
   and the time of each run.
4. **speed** at 1280×720 and 1920×1080: output frames/s through VapourSynth (``--threads`` threads):
   ``dedupe`` → ``interpolate`` to ×2 (and to 60000/1001), the same in float32 and with
   ``deterministic=True``, and the naive way, ``interpolate(clip, factor=2)`` of the clip as it is (every
   pair of neighbouring frames by index, no ``dedupe``); ``--frames`` output frames timed after a
   warm-up, and each case's peak GPU memory (``torch.cuda.max_memory_allocated``, reset per case; model
   loading included).

A time guard (``--budget`` seconds from the start, 420 by default so that a run ends within 8
minutes) skips what is left with a note, and stops a case's frames early. Progress goes to stdout.
Exit status: 0 when nothing failed, 1 when a check failed or a step raised, and 1 with a one-line
message when no CUDA device is visible.

``--device cpu --tiny`` is only a **dry run** of this script's logic on a machine without a GPU:
every step at 160×96 on the CPU, the compiled CPU splatting path (Numba) taking the kernels' place
(forward only: it computes no gradients, so that comparison shows as skipped), bfloat16 taking
float16's, no GPU memory figures; about a minute on 2 busy cores. It exits 1: bfloat16 at 160×96 stays under
the PSNR floor (≈ 38 dB). Its records go to a temporary folder unless ``--out-dir`` is given.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the tree this script belongs to, whatever is installed

import vapoursynth as vs  # noqa: E402

import vsanimsplat  # noqa: E402
from vsanimsplat.ffmpeg import write_rgb_video  # noqa: E402
from vsanimsplat.filters.frames import clip_from_arrays  # noqa: E402
from vsanimsplat.machine import describe, machine  # noqa: E402
from vsanimsplat.metrics import psnr  # noqa: E402
from vsanimsplat.models import capability  # noqa: E402
from vsanimsplat.ops import _softsplat_cpu, _softsplat_cuda, deterministic, softsplat_with_holes  # noqa: E402
from vsanimsplat.ops.softsplat import MODES  # noqa: E402
from vsanimsplat.testing import Scene, animate_layers, cadence  # noqa: E402

SOURCE_RATE = Fraction(24000, 1001)
TARGETS = {"x2": Fraction(2), "60000/1001": Fraction(60000, 1001) / SOURCE_RATE}  # as factors of the source rate
SIZES = ((1280, 720), (1920, 1080))
"""The sizes of the speed step; the precision step runs at the larger, the determinism step at the smaller."""
TINY = (160, 96)
"""The one size of a dry run (``--tiny``)."""
TOLERANCE = {torch.float32: 1e-4, torch.float64: 1e-9}
"""A path against plain PyTorch: max abs difference over max(1, largest reference value)."""
HOLES_TOLERANCE = 1e-5
"""Kernel against PyTorch: share of pixels whose hole flag may differ (coverage summed in another order)."""
PSNR_FLOOR_DB = 45.0
"""16-bit networks against float32: the lowest PSNR that passes (the bfloat16 target of benchmarks/bench.md)."""
PRECISIONS = {"auto": {}, "float32": {"fp16": False, "bf16": False}, "float16": {"fp16": True},
              "bfloat16": {"bf16": True}}
"""``interpolate``'s precision arguments by name; ``auto`` is the registry's choice (float16 on CUDA)."""
CHUNK_SECONDS = "0.5"
"""The chunks of the determinism step's chunked ``run``."""
STATUS = {"running": "incomplete (written during the run; if nothing follows, the run stopped here)"}
"""How the Markdown record words a status of the JSON one."""
CASE_MARGIN_S = 20.0
"""A speed case starts only with this much of the budget left."""


class Case(NamedTuple):
    """One speed case: how ``interpolate`` is called.

    | field | type | default | meaning |
    |---|---|---|---|
    | `name` | str | | what the record calls it |
    | `deduped` | bool | True | ``dedupe`` first; False: the naive way, every frame of the clip by index |
    | `precision` | str | "auto" | a key of :data:`PRECISIONS` |
    | `deterministic` | bool | False | ``interpolate``'s ``deterministic`` |
    | `target` | str | "x2" | a key of :data:`TARGETS` |
    """

    name: str
    deduped: bool = True
    precision: str = "auto"
    deterministic: bool = False
    target: str = "x2"


SPEED_CASES = (
    Case("dedupe + interpolate"),
    Case("dedupe + interpolate", target="60000/1001"),
    Case("dedupe + interpolate, float32", precision="float32"),
    Case("dedupe + interpolate, deterministic", deterministic=True),
    Case("naive: interpolate every frame", deduped=False),
)


def _failed(result: dict) -> bool:
    """Whether a step's result records a failed check (``pass`` False; None means not compared)."""
    return result.get("pass") is False or any(row.get("pass") is False for row in result.get("rows", []))


def _log(start: float, message: str) -> None:
    print(f"[{time.perf_counter() - start:6.1f} s] {message}", flush=True)


def _free(device: str) -> None:
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


def _db(value: float) -> float | str:
    """A PSNR for the JSON record: rounded, or ``"inf"`` for identical pictures."""
    return "inf" if math.isinf(value) else round(value, 2)


# --------------------------------------------------------------------------- 1. kernels


@contextlib.contextmanager
def _splat_path(path: str) -> Iterator[list[str]]:
    """softsplat through ``path``: ``"fast"`` (the CuPy kernels, or Numba on the CPU; lists the calls that reach
    it), ``"torch"`` (plain PyTorch only) or ``"fixed"`` (plain PyTorch in a fixed order)."""
    reached: list[str] = []
    launch, compiled = _softsplat_cuda._launch, _softsplat_cpu.splat
    saved = [(_softsplat_cuda, "usable", _softsplat_cuda.usable), (_softsplat_cuda, "_launch", launch),
             (_softsplat_cpu, "usable", _softsplat_cpu.usable), (_softsplat_cpu, "splat", compiled)]
    try:
        if path == "fast":
            _softsplat_cuda._launch = lambda *a: reached.append("kernel") or launch(*a)
            _softsplat_cpu.splat = lambda *a: reached.append("compiled") or compiled(*a)
        else:
            _softsplat_cuda.usable = _softsplat_cpu.usable = lambda *a: False
        with deterministic(path == "fixed"):
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


def _splat_once(inputs: list[torch.Tensor | None], mode: str, path: str,
                upstream: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor | None], bool]:
    """Output, holes, gradients (with ``upstream``: of input, flow, metric for ``sum(out · upstream)``) and
    whether the fast path ran, through ``path`` (:func:`_splat_path`)."""
    leaves = [None if t is None else t.detach().requires_grad_(upstream is not None) for t in inputs]
    with _splat_path(path) as reached, torch.set_grad_enabled(upstream is not None):
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
    """Part 1: the fast splatting path and the fixed order against plain PyTorch (see the module docstring)."""
    if device.startswith("cuda"):
        fast_name = "CuPy kernels"
        missing = None if _softsplat_cuda._cupy() is not None else "CuPy is not installed, does not import or sees no GPU"
    else:
        fast_name = "compiled CPU path (Numba)"
        missing = None if _softsplat_cpu._numba() is not None else "Numba does not import"
    part = {"fast_path": fast_name, "fast_skipped": missing, "shape": list(shape), "rows": [], "speed": []}
    for dtype in TOLERANCE:
        for seed, mode in enumerate(MODES):
            inputs = _splat_inputs(shape, mode, dtype, device, seed)
            row = {"dtype": str(dtype).removeprefix("torch."), "mode": mode, "tolerance": TOLERANCE[dtype]}
            ref, ref_holes, _, _ = _splat_once(inputs, mode, "torch", None)
            fixed = [_splat_once(inputs, mode, "fixed", None) for _ in range(2)]
            row["fixed_forward"] = _scaled_difference(fixed[0][0], ref)
            row["fixed_repeats"] = torch.equal(fixed[0][0], fixed[1][0]) and torch.equal(fixed[0][1], fixed[1][1])
            if not missing:
                out, holes, _, ran = _splat_once(inputs, mode, "fast", None)
                if ran:
                    row["forward"] = _scaled_difference(out, ref)
                    row["holes_differing"] = (holes != ref_holes).double().mean().item()
                upstream = torch.randn(ref.shape, generator=torch.Generator().manual_seed(99), dtype=torch.float64)
                upstream = upstream.to(device=device, dtype=dtype)
                _, _, grads, ran = _splat_once(inputs, mode, "fast", upstream)
                _, _, ref_grads, _ = _splat_once(inputs, mode, "torch", upstream)
                if ran:
                    for name, grad, ref_grad in zip(("input", "flow", "metric"), grads, ref_grads):
                        if ref_grad is not None:
                            row[f"grad_{name}"] = _scaled_difference(grad, ref_grad)
            scores = [v for k, v in row.items() if k in ("forward", "fixed_forward") or k.startswith("grad_")]
            row["pass"] = (all(v <= TOLERANCE[dtype] for v in scores) and row["fixed_repeats"]
                           and row.get("holes_differing", 0.0) <= HOLES_TOLERANCE)
            part["rows"].append(row)
            if dtype == torch.float32:
                paths = ("torch", "fixed") if missing else ("fast", "torch", "fixed")
                timed = {path: _time_ms(lambda path=path: _splat_once(inputs, mode, path, None), device)
                         for path in paths}
                part["speed"].append({"mode": mode, **{f"{path}_ms": round(ms, 3) for path, ms in timed.items()}})
    return part


# --------------------------------------------------------------------------- the clip


def _scene(width: int, height: int) -> Scene:
    """The cartoon of every step: a still textured background, shapes moving width/80 px per source frame."""
    return Scene(width, height, seed=7, speed=width / 80, texture=0.5)


def source_clip(size: tuple[int, int], output_frames: int) -> vs.VideoNode:
    """The cartoon at 24000/1001 as a decoder gives it (YUV420P8, BT.709), its shapes on twos, threes and twos,
    long enough for ``output_frames`` at ×2 (the highest rate here needs the most source frames)."""
    frames = math.ceil(output_frames / 2) + 2
    holds = [cadence([2], frames), cadence([3], frames), cadence([2], frames)]
    animation = animate_layers(_scene(*size), holds, frames)
    return clip_from_arrays(animation.frames, SOURCE_RATE).resize.Bicubic(format=vs.YUV420P8, matrix_s="709")


def _interpolated(clip: vs.VideoNode, device: str, deduped: bool = True, target: str = "x2", precision: str = "auto",
                  deterministic: bool = False, model: str | None = None) -> vs.VideoNode:
    """``interpolate`` as users call it (the default preset unless ``model``), after ``dedupe`` if ``deduped``."""
    factor = TARGETS[target]
    return vsanimsplat.interpolate(vsanimsplat.dedupe(clip) if deduped else clip,
                                   factor=int(factor) if factor.denominator == 1 else factor, model=model,
                                   device=device, deterministic=deterministic, **PRECISIONS[precision])


def frame_hash(frame: vs.VideoFrame) -> str:
    """SHA-256 of a frame's planes."""
    digest = hashlib.sha256()
    for plane in range(frame.format.num_planes):
        digest.update(np.asarray(frame[plane]).tobytes())
    return digest.hexdigest()


# --------------------------------------------------------------------------- 2. precision


def _rgb(frame: vs.VideoFrame) -> np.ndarray:
    """An RGB24 frame as an (H, W, 3) array."""
    return np.stack([np.asarray(frame[p]) for p in range(3)], -1)


def check_precision(clip: vs.VideoNode, device: str, halves: Sequence[str], frames: int,
                    model: str | None = None) -> dict:
    """Part 2: the in-betweens among the first ``frames`` output frames in each of ``halves`` against float32."""
    outputs = {}
    for precision in ("float32", *halves):
        out = _interpolated(clip, device, precision=precision, model=model).resize.Bicubic(format=vs.RGB24,
                                                                                          matrix_in_s="709")
        outputs[precision] = [_rgb(f) for f in out[:frames].frames(close=True) if f.props["AnimSplat_Interpolated"]]
        del out
        _free(device)
    rows = []
    for half in halves:
        pairs = list(zip(outputs[half], outputs["float32"]))
        worst = min(psnr(a, b) for a, b in pairs)
        overall = psnr(np.stack([a for a, _ in pairs]), np.stack([b for _, b in pairs]))
        rows.append({"half": half, "in_betweens": len(pairs), "psnr_db": _db(overall), "worst_db": _db(worst),
                     "pass": worst >= PSNR_FLOOR_DB})
    return {"size": f"{clip.width}x{clip.height}", "floor_db": PSNR_FLOOR_DB, "rows": rows}


# --------------------------------------------------------------------------- 3. determinism


def interpolate_determinism(clip: vs.VideoNode, device: str, frames: int, model: str | None = None) -> list[dict]:
    """The first ``frames`` output frames of the same ``interpolate`` made twice (each with its own model and
    engine), with and without ``deterministic``: how many differ."""
    rows = []
    for fixed in (True, False):
        runs = []
        for _ in range(2):
            out = _interpolated(clip, device, deterministic=fixed, model=model)
            runs.append([frame_hash(f) for f in out[:frames].frames(close=True)])
            del out
            _free(device)
        differing = sum(a != b for a, b in zip(*runs))
        rows.append({"what": f"interpolate, deterministic={fixed}", "frames": len(runs[0]), "differing": differing,
                     "pass": differing == 0 if fixed else None})
    return rows


def run_determinism(clip: vs.VideoNode, device: str, work: Path, model: str | None = None) -> list[dict]:
    """``vsanimsplat run`` of ``clip`` (written as an x264 file) in one encode with ``--deterministic`` and in chunks,
    lossless: each run's time, and whether the chunked one has the frames of the one encode."""
    video = work / "cartoon.mkv"
    write_rgb_video([_rgb(f) for f in clip.resize.Bicubic(format=vs.RGB24, matrix_in_s="709").frames(close=True)],
                    video, SOURCE_RATE)
    which = ["--model", model] if model else []
    runs = {"one encode, --deterministic": ["--deterministic"], f"chunks of {CHUNK_SECONDS} s": ["--chunk-seconds",
                                                                                                 CHUNK_SECONDS]}
    rows, hashes = [], []
    for index, (name, options) in enumerate(runs.items()):
        output = work / f"run-{index}.mkv"
        command = [sys.executable, "-m", "vsanimsplat", "run", str(video), "-o", str(output), "--codec", "ffv1",
                   "--device", device, "-q", *which, *options]
        begin = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
        seconds = time.perf_counter() - begin
        if done.returncode != 0:
            raise RuntimeError(f"{shlex.join(command)} exited {done.returncode}: {done.stderr.strip()[-500:]}")
        hashes.append([frame_hash(f) for f in vsanimsplat.open_video(output).frames(close=True)])
        rows.append({"what": f"run, {name}", "frames": len(hashes[-1]), "seconds": round(seconds, 2),
                     "differing": None, "pass": None})
    rows[-1]["differing"] = sum(a != b for a, b in zip(*hashes)) + abs(len(hashes[0]) - len(hashes[1]))
    rows[-1]["pass"] = rows[-1]["differing"] == 0
    return rows


def check_determinism(clip: vs.VideoNode, device: str, frames: int, model: str | None = None) -> dict:
    """Part 3 (see the module docstring)."""
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as work:
        rows = interpolate_determinism(clip, device, frames, model) + run_determinism(clip, device, Path(work), model)
    return {"size": f"{clip.width}x{clip.height}", "rows": rows}


# --------------------------------------------------------------------------- 4. speed


def speed_case(clip: vs.VideoNode, device: str, case: Case, warm: int, frames: int, deadline: float,
               model: str | None = None) -> dict:
    """Part 4, one case: setup, warm-up and timed frames through VapourSynth, and peak GPU memory."""
    _free(device)
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    baseline = torch.cuda.memory_allocated(device) if cuda else None  # what earlier steps left (should be ~0)
    begin = time.perf_counter()
    out = _interpolated(clip, device, case.deduped, case.target, case.precision, case.deterministic, model)
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
    row = {**case._asdict(), "size": f"{clip.width}x{clip.height}", "setup_s": round(setup, 2), "warm_up_frames": warm,
           "warm_up_s": round(warm_s, 2), "frames": done, "seconds": round(seconds, 3), "fps": round(done / seconds, 2),
           "cut_short": done < frames,
           "memory_at_start_gib": None if baseline is None else round(baseline / 2**30, 2),
           "peak_memory_gib": round(torch.cuda.max_memory_allocated(device) / 2**30, 2) if cuda else None,
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
                bf16=capability(torch.device(device)).bf16, cudnn=torch.backends.cudnn.version(), driver=None,
                cupy=None)
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


def _verdict(passed: bool | None) -> str:
    return {True: "pass", False: "FAIL", None: "—"}[passed]


def _table(header: list[str], rows: list[list[object]]) -> list[str]:
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join("—" if v is None else str(v) for v in row) + " |" for row in rows])


def _section(title: str, text: str, header: list[str], rows: list[list[object]]) -> list[str]:
    """A report section: its heading, a paragraph, one table."""
    return [f"## {title}", "", text, "", *_table(header, rows), ""]


def _kernels_markdown(kernels: dict) -> list[str]:
    lines = [f"## 1. Splatting: {kernels['fast_path']} and the fixed order against the PyTorch path", ""]
    if kernels["fast_skipped"]:
        lines += [f"{kernels['fast_path']}: skipped ({kernels['fast_skipped']}).", ""]
    lines += [f"`softsplat_with_holes` on {'×'.join(map(str, kernels['shape']))} (N×C×H×W) random inputs. Differences "
              "are max |path − PyTorch| / max(1, max |PyTorch|); holes = share of pixels whose hole flag differs "
              f"(≤ {HOLES_TOLERANCE:g} passes); gradients of Σ out · g for a random g; fixed = the PyTorch path in a "
              "fixed order (`deterministic=True`), run twice. — = that path did not run (the compiled CPU path "
              "computes no gradients).", ""]
    lines += _table(["dtype", "mode", "forward", "holes", "∂input", "∂flow", "∂metric", "fixed", "fixed twice",
                     "tolerance", "result"],
                    [[r["dtype"], r["mode"], *(_sci(r.get(k)) for k in ("forward", "holes_differing", "grad_input",
                                                                         "grad_flow", "grad_metric", "fixed_forward")),
                      "same bits" if r["fixed_repeats"] else "DIFFER", f"{r['tolerance']:g}", _verdict(r["pass"])]
                     for r in kernels["rows"]])
    lines += ["", "Forward time, float32, median of 5 after a warm-up:", ""]
    paths = [p for p in ("fast", "torch", "fixed") if f"{p}_ms" in kernels["speed"][0]] if kernels["speed"] else []
    names = {"fast": "fast path ms", "torch": "PyTorch ms", "fixed": "fixed order ms"}
    lines += _table(["mode", *(names[p] for p in paths)],
                    [[s["mode"], *(f"{s[f'{p}_ms']:.3f}" for p in paths)] for s in kernels["speed"]])
    return lines + [""]


def _precision_markdown(precision: dict) -> list[str]:
    return _section(f"2. 16-bit networks against float32, {precision['size']}",
                    "`dedupe` → `interpolate(factor=2)` with the default preset, regions and layers; PSNR of the 8-bit "
                    "RGB in-betweens against float32's, over all of them and the worst one "
                    f"(≥ {precision['floor_db']} dB passes).",
                    ["precision", "in-betweens", "PSNR dB", "worst dB", "result"],
                    [[r["half"], r["in_betweens"], r["psnr_db"], r["worst_db"], _verdict(r["pass"])]
                     for r in precision["rows"]])


def _determinism_markdown(determinism: dict) -> list[str]:
    return _section(f"3. Determinism, {determinism['size']}",
                    "The same `interpolate` twice, each with its own model: frames whose bits differ (with "
                    "`deterministic=True` none may). Then `vsanimsplat run` of the clip as a file, lossless (ffv1), in "
                    f"one encode with `--deterministic` and in chunks of {CHUNK_SECONDS} s (always deterministic): the "
                    "chunked file's frames against the one encode's.",
                    ["what", "frames", "seconds", "frames that differ", "result"],
                    [[r["what"], r["frames"], r.get("seconds"), r["differing"], _verdict(r["pass"])]
                     for r in determinism["rows"]])


def _speed_markdown(report: dict) -> list[str]:
    text = ("Source: the cartoon at 24000/1001 (YUV420P8). `dedupe` → `interpolate(factor=…)` with the default preset "
             "(precision `auto` = the registry's choice, `fp16=None, bf16=None`), and the naive way, "
             "`interpolate(clip, factor=2)` of every frame by index. Setup = the `interpolate` call (model loading, "
             "reading the timing); fps over the timed frames after the warm-up frames; peak memory = "
             "`torch.cuda.max_memory_allocated` over the whole case"
             + (f" (allocated at its start: {', '.join(str(r['memory_at_start_gib']) for r in report['speed'])} GiB)"
                if any(r["memory_at_start_gib"] is not None for r in report["speed"]) else "") + ".")
    return _section(f"4. Output frames/s, VapourSynth with {report['threads']} threads", text,
                    ["size", "case", "target", "precision", "setup s", "warm-up frames (s)", "timed frames", "seconds",
                     "fps", "peak memory GiB (reserved)"],
                    [[r["size"], r["name"], r["target"], r["precision"], f"{r['setup_s']:.2f}",
                      f"{r['warm_up_frames']} ({r['warm_up_s']:.2f})",
                      f"{r['frames']}" + (" (cut short)" if r["cut_short"] else ""), f"{r['seconds']:.2f}",
                      f"{r['fps']:.2f}", None if r["peak_memory_gib"] is None
                      else f"{r['peak_memory_gib']} ({r['peak_reserved_gib']})"] for r in report["speed"]])


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
        lines += [f"GPU: {gpu['name']} (compute capability {gpu['capability']}, {gpu['memory_gib']} GiB, "
                  f"{'with' if gpu['bf16'] else 'without'} bfloat16), driver {gpu['driver']}, torch {gpu['torch']} "
                  f"(CUDA {gpu['torch_cuda']}, cuDNN {gpu['cudnn']}), CuPy {gpu['cupy'] or 'not available'}.", ""]
    lines += [f"Machine: {report['machine_line']}.", ""]
    for key, part in (("kernels", _kernels_markdown), ("precision", _precision_markdown),
                      ("determinism", _determinism_markdown)):
        if report.get(key):
            lines += part(report[key])
    if report.get("speed"):
        lines += _speed_markdown(report)
    if report["notes"]:
        lines += ["## Notes", ""] + [f"- {note}" for note in report["notes"]] + [""]
    return "\n".join(lines)


def write(report: dict, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "gpu.json").write_text(json.dumps(report, indent=1) + "\n")
    (out_dir / "gpu.md").write_text(markdown(report))


# --------------------------------------------------------------------------- main


def arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (``argv``, else ``sys.argv``), checked: an error names the option and what it takes."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="'cuda' or 'cuda:N'; 'cpu' only for a dry run")
    parser.add_argument("--tiny", action="store_true", help=f"{TINY[0]}×{TINY[1]} and few frames: a quick run of the logic")
    parser.add_argument("--out-dir", type=Path, help="where gpu.json and gpu.md go (default: benchmarks/, "
                                                     "or a temporary folder with --device cpu)")
    parser.add_argument("--budget", type=float, default=420.0, help="seconds after which what is left is skipped")
    parser.add_argument("--threads", type=int, default=min(8, os.cpu_count() or 1), help="VapourSynth threads")
    parser.add_argument("--frames", type=int, help="output frames timed per speed case (default 40; 6 with --tiny)")
    args = parser.parse_args(argv)
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
    args = arguments()
    cuda = args.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        built = "has no CUDA support" if torch.version.cuda is None else f"(CUDA {torch.version.cuda}) finds no GPU"
        sys.exit(f"gpu_check: no CUDA device: torch {torch.__version__} {built}; this check needs one "
                 "(--device cpu --tiny is a dry run of its logic)")
    if cuda and torch.device(args.device).index is not None and torch.device(args.device).index >= torch.cuda.device_count():
        sys.exit(f"gpu_check: no device {args.device}: {torch.cuda.device_count()} CUDA device(s)")
    out_dir = args.out_dir or (REPO / "benchmarks" if cuda else Path(tempfile.gettempdir()) / "vsanimsplat-gpu-check")
    deadline = start + args.budget
    sizes = (TINY,) if args.tiny else SIZES
    frames = args.frames or (6 if args.tiny else 40)
    warm = 2 if args.tiny else 8
    halves = (["float16"] + (["bfloat16"] if capability(torch.device(args.device)).bf16 else [])) if cuda else ["bfloat16"]
    vs.core.num_threads = args.threads
    torch.manual_seed(0)
    report = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "command": shlex.join([sys.executable, *sys.argv]),
              "cwd": os.getcwd(), "device": args.device, "threads": args.threads, "budget_s": args.budget,
              "status": "running", "gpu": gpu_info(args.device), "machine": machine(), "machine_line": describe(),
              "notes": []}
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

    clips: dict[tuple[int, int], vs.VideoNode] = {}

    def clip(size: tuple[int, int]) -> vs.VideoNode:
        if size not in clips:
            clips[size] = source_clip(size, warm + frames)
        return clips[size]

    write(report, out_dir)
    _log(start, f"{report['machine_line']}; GPU {json.dumps(report['gpu'])}; records in {out_dir}")
    step("kernels", lambda: check_kernels(args.device, (1, 3, 24, 32) if args.tiny else (2, 3, 540, 960)),
         lambda result: report.update(kernels=result))
    step(f"precision {', '.join(halves)} vs float32", lambda: check_precision(clip(sizes[-1]), args.device, halves,
                                                                              warm + frames),
         lambda result: report.update(precision=result))
    step("determinism", lambda: check_determinism(clip(sizes[0]), args.device, warm + frames),
         lambda result: report.update(determinism=result))
    report["speed"] = []
    for size in sizes:
        for case in SPEED_CASES:
            label = f"speed {size[0]}x{size[1]} {case.name} {case.target}"
            step(label, lambda size=size, case=case: speed_case(clip(size), args.device, case, warm, frames, deadline),
                 report["speed"].append, CASE_MARGIN_S)
    report["status"] = "stopped by the time guard" if guarded else "complete"
    report["elapsed_s"] = round(time.perf_counter() - start, 1)
    write(report, out_dir)
    _log(start, f"done ({report['status']}; {'a check FAILED or a step raised' if failed else 'no failure'}): "
                f"{out_dir / 'gpu.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
