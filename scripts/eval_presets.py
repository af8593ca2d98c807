#!/usr/bin/env python
"""The presets on a quality/speed frontier: PSNR, SSIM, line chamfer and seconds per output frame, written to
benchmarks/presets.md.

Methods: every preset (``vsanimsplat.models.registry.PRESETS``, through ``load_preset``), ``union`` alone
(the default before presets), a 50/50 blend and mvtools FlowFPS, all with the defaults users get
(static pixels kept, networks on the changed region). Sets, every output rounded to 8 bits:

* **eye, t = ½**: ``synfig-eye-48fps.mkv`` triplets (48 fps frames 2k, 2k+1, 2k+2) whose middle lies in frames 56–166;
* **eye on twos, t = ¼ ½ ¾**: drawings every 4th 48 fps frame (56, 60 … 164), truth the three frames between;
* **Middlebury**: the 12 "other" sequences with a ground-truth middle frame;
* **synthetic cartoons, t = ½**: ``vsanimsplat.testing.Scene`` (outlined flat shapes over a textured panning
  background) at 512×288, rendered exactly at t = 0, ½, 1.

Line chamfer (pixels, lower is better): Canny edges (OpenCV, thresholds 100/200 on 8-bit luma) of the output and
of the truth; the mean distance from each edge pixel of one to the nearest edge pixel of the other, both ways,
averaged (the EISAI paper's measure of line art). Seconds per output frame: one pair prepared, paired and
synthesised at t = ½ (what each in-between of a ×2 job costs), after a warm-up, best of ``--repeats``, on a
full-frame pan (every pixel moves) and on the eye's blink (a small change), both scaled to 640×360 and 1280×720.

Usage: ``python scripts/eval_presets.py [--data ../shared/data] [--out benchmarks/presets.md]``
(needs the weights, ``python -m vsanimsplat models fetch union``, and OpenCV: ``pip install .[bench]``).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from vsanimsplat.evaluation import DATA, EYE_MOTION, flowfps, middlebury_triplets, quantise, ssim, to_tensor, video_frames
from vsanimsplat.machine import describe
from vsanimsplat.metrics import psnr
from vsanimsplat.models import Model, load_model, load_preset
from vsanimsplat.models.registry import DEFAULT_PRESET, PRESETS
from vsanimsplat.testing import Scene

REPO = Path(__file__).resolve().parents[1]
SIZES = ((640, 360), (1280, 720))


@dataclass(frozen=True)
class Case:
    """Two input frames and the truth at times ``ts`` between them, (1, 3, H, W) float32 in [0, 1]."""

    set: str
    frame0: torch.Tensor
    frame1: torch.Tensor
    ts: tuple[float, ...]
    truths: tuple[torch.Tensor, ...]


def eye_cases(data: Path, step: int = 1) -> tuple[list[Case], list[Case]]:
    """The eye's triplets at t = ½ and its pairs on twos at t = ¼, ½, ¾ (frames 56–166), every ``step``-th."""
    frames = [to_tensor(f) for f in video_frames(data / "synfig-eye-48fps.mkv")]
    lo, hi = EYE_MOTION
    halves = [Case("eye ½", frames[k - 1], frames[k + 1], (0.5,), (frames[k],)) for k in range(lo, hi + 1) if k % 2]
    twos = [Case("eye on twos", frames[k], frames[k + 4], (0.25, 0.5, 0.75), tuple(frames[k + 1:k + 4]))
            for k in range(lo, hi - 3, 4)]
    return halves[::step], twos[::step]


def synthetic_cases(count: int = 6) -> list[Case]:
    """Cartoons at 512×288: shapes at 6–12 px per frame over a textured background panning 3 px per frame."""
    cases = []
    for seed in range(count):
        scene = Scene(512, 288, seed=seed, shapes=3, speed=6.0, texture=0.3, pan=(3.0, 1.0))
        picture = [torch.from_numpy(scene.render(t)).permute(2, 0, 1)[None] for t in (0.0, 0.5, 1.0)]
        cases.append(Case("synthetic", quantise(picture[0]), quantise(picture[2]), (0.5,), (quantise(picture[1]),)))
    return cases


def line_chamfer(output: torch.Tensor, truth: torch.Tensor) -> float:
    """Symmetric chamfer distance in pixels between the Canny edges of two pictures (NaN when either has none)."""
    def edges(x: torch.Tensor) -> np.ndarray:
        rgb = (x[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        return cv2.Canny(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), 100, 200) > 0

    one, two = edges(output), edges(truth)
    if not one.any() or not two.any():
        return float("nan")

    def distance_to(mask: np.ndarray) -> np.ndarray:
        return cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5)

    return 0.5 * (float(distance_to(two)[one].mean()) + float(distance_to(one)[two].mean()))


def model_method(model: Model) -> Callable[[torch.Tensor, torch.Tensor, Sequence[float]], list[torch.Tensor]]:
    def run(frame0: torch.Tensor, frame1: torch.Tensor, ts: Sequence[float]) -> list[torch.Tensor]:
        pair = model.pair(model.prepare(frame0), model.prepare(frame1))
        return [model.synthesize(pair, t).image for t in ts]
    return run


def blend(frame0: torch.Tensor, frame1: torch.Tensor, ts: Sequence[float]) -> list[torch.Tensor]:
    return [torch.lerp(frame0, frame1, t) for t in ts]


def timing_pairs(data: Path) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The pan (eye frame 148 and the same moved 2 % right and 1 % down) and the blink (frames 148 → 152), 480×270."""
    frames = video_frames(data / "synfig-eye-48fps.mkv")
    eye = [to_tensor(frames[k]) for k in (148, 152)]
    moved = torch.roll(eye[0], shifts=(3, 10), dims=(2, 3))
    return {"pan": (eye[0], moved), "blink": (eye[0], eye[1])}


def seconds_per_frame(method: Callable, pair: tuple[torch.Tensor, torch.Tensor], size: tuple[int, int],
                      repeats: int) -> float:
    """Best of ``repeats`` timed runs (after one warm-up) of one in-between at t = ½ of ``pair`` scaled to ``size``."""
    width, height = size
    a, b = (F.interpolate(x, size=(height, width), mode="bicubic", align_corners=False).clamp(0, 1) for x in pair)
    method(a, b, (0.5,))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        method(a, b, (0.5,))
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "presets.md")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0, help="at most this many cases per set (a smoke run)")
    parser.add_argument("--eye-step", type=int, default=1, help="every N-th eye triplet and pair on twos")
    args = parser.parse_args()
    torch.set_grad_enabled(False)

    float32 = {"device": "cpu", "bf16": False}  # the records are float32 (the loaders' own default is automatic)
    methods: dict[str, Callable] = {"union": model_method(load_model("union", **float32))}
    methods.update({name: model_method(load_preset(name, **float32)) for name in PRESETS})
    methods.update({"blend": blend, "mvtools": flowfps})
    halves, twos = eye_cases(args.data, args.eye_step)
    middlebury = [Case("Middlebury", t.frame0, t.frame1, (0.5,), (t.middle,)) for t in middlebury_triplets(args.data)]
    synthetic = synthetic_cases()
    if args.limit:
        halves, twos, middlebury, synthetic = (cases[:args.limit] for cases in (halves, twos, middlebury, synthetic))
    sets = {f"eye, t = ½ ({len(halves)})": halves, f"eye on twos, t = ¼ ½ ¾ ({3 * len(twos)})": twos,
            f"Middlebury ({len(middlebury)})": middlebury, f"synthetic cartoons ({len(synthetic)})": synthetic}

    scores: dict[str, dict[str, list[tuple[float, float, float]]]] = {m: {s: [] for s in sets} for m in methods}
    twos_by_t: dict[str, dict[float, list[float]]] = {m: {t: [] for t in (0.25, 0.5, 0.75)} for m in methods}
    for set_name, cases in sets.items():
        start = time.perf_counter()
        for case in cases:
            for method, run in methods.items():
                for t, output, truth in zip(case.ts, run(case.frame0, case.frame1, case.ts), case.truths):
                    output = quantise(output)
                    scores[method][set_name].append((psnr(output, truth, 1.0), ssim(output, truth), line_chamfer(output, truth)))
                    if case.set == "eye on twos":
                        twos_by_t[method][t].append(scores[method][set_name][-1][0])
        print(f"{set_name}: {time.perf_counter() - start:.0f} s", flush=True)

    pairs = timing_pairs(args.data)
    seconds = {m: {(size, kind): seconds_per_frame(run, pair, size, args.repeats) for size in SIZES for kind, pair in pairs.items()}
               for m, run in methods.items()}
    for m, row in seconds.items():
        print(m, {f"{w}x{h} {k}": f"{s:.2f}" for ((w, h), k), s in row.items()}, flush=True)

    text = _report(scores, twos_by_t, seconds, list(sets), args.eye_step)
    args.out.write_text(text)
    print(f"wrote {args.out}")


def _mean(rows: list[tuple[float, float, float]], index: int) -> float:
    return float(np.nanmean([r[index] for r in rows]))


def _report(scores, twos_by_t, seconds, set_names: list[str], eye_step: int) -> str:
    methods = list(scores)
    quality = ["| method | " + " | ".join(set_names) + " |", "|---|" + "---|" * len(set_names)]
    for m in methods:
        cells = [f"{_mean(scores[m][s], 0):.2f} / {_mean(scores[m][s], 1):.4f} / {_mean(scores[m][s], 2):.3f}" for s in set_names]
        quality.append(f"| {_label(m)} | " + " | ".join(cells) + " |")
    gains = ["| method | " + " | ".join(set_names) + " |", "|---|" + "---|" * len(set_names)]
    for m in methods:
        if m == "union":
            continue
        cells = []
        for s in set_names:
            mine, theirs = (np.array([r[0] for r in scores[x][s]]) for x in (m, "union"))
            cells.append(f"{(mine - theirs).mean():+.2f} ({int((mine > theirs).sum())}/{len(mine)} better, "
                         f"{int((mine < theirs).sum())} worse)")
        gains.append(f"| {_label(m)} | " + " | ".join(cells) + " |")
    per_t = ["| method | t = ¼ | t = ½ | t = ¾ |", "|---|---|---|---|"]
    for m in methods:
        per_t.append(f"| {_label(m)} | " + " | ".join(f"{np.mean(v):.2f}" for v in twos_by_t[m].values()) + " |")
    columns = [(size, kind) for size in SIZES for kind in ("pan", "blink")]
    speed = ["| method | " + " | ".join(f"{w}×{h} {k}" for (w, h), k in columns) + " | × union (720p pan) |",
             "|---|" + "---|" * (len(columns) + 1)]
    for m in methods:
        ratio = seconds[m][(SIZES[1], "pan")] / seconds["union"][(SIZES[1], "pan")]
        speed.append(f"| {_label(m)} | " + " | ".join(f"{seconds[m][c]:.2f}" for c in columns) + f" | {ratio:.2f} |")
    runs = "\n".join(f"- `{name}`: {' + '.join(p.runs)}" for name, p in PRESETS.items())
    return f"""# Presets: quality and cost

Made by `scripts/eval_presets.py` on {time.strftime('%Y-%m-%d')}: {describe()}.
Float32 on the CPU, every method with the defaults users get (static pixels from the drawings, networks on
the changed region); outputs rounded to 8 bits; eye: {"every" if eye_step == 1 else f"one in {eye_step} of the"} triplets and pairs on twos of frames 56–166.
The presets (`vsanimsplat.models.registry.PRESETS`,
default `{DEFAULT_PRESET}`), each run's pictures averaged (`vsanimsplat.models.ensemble`):

{runs}

`union` alone was the default before presets.

## Quality: PSNR (dB) / SSIM / line chamfer (px, lower is better)

{chr(10).join(quality)}

## Against union alone, per output frame (PSNR difference, dB)

{chr(10).join(gains)}

## Eye on twos by t (PSNR, dB)

{chr(10).join(per_t)}

## Seconds per output frame (one pair and one in-between at t = ½)

{chr(10).join(speed)}
"""


def _label(method: str) -> str:
    if method in PRESETS:
        return f"preset `{method}`" + (" (default)" if method == DEFAULT_PRESET else "")
    return {"union": "`union` alone", "blend": "50/50 blend", "mvtools": "mvtools FlowFPS"}[method]


if __name__ == "__main__":
    main()
