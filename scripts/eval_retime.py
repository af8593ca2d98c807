"""Timing-aware vs naive interpolation on a real cartoon animated on twos, against its 48 fps render.

The shared Synfig cartoon is rendered at 48 fps. Every 4th frame, held twice at 24 fps, makes a
clip "on twos" whose ideal 48 fps output is the render itself. For each model this script runs

- timing-aware: ``dedupe`` → ``interpolate(factor=2)`` (in-betweens at their true times);
- naive: ``interpolate(factor=2)`` on the 24 fps clip as is (every frame a drawing, t from frame
  indices), all other options at their defaults. Per-region timing (``layers``) still finds the
  parts of the picture that hold for 2–4 frames, so this is no longer index-based;
- index-based: the same with ``layers=False``: t from frame indices everywhere, the way
  index-based interpolators work;

and prints PSNR against the render (pooled over all frames, and over the in-between frames
only, for the whole clip and for frames 56–166 where the motion is) and the temporal smoothness:
the coefficient of variation (std / mean) of the mean absolute difference between consecutive
output frames, in the motion range (0 would be perfectly even motion; the render's own value is
the reference).

Each of ``--models`` is a model or a preset (``vsanimsplat.models.PRESET_NAMES``, e.g. ``default``:
what ``interpolate`` runs when given neither).

Usage: python scripts/eval_retime.py [--models default union splat blend] [--timings timing-aware naive index-based]
       [--out benchmarks/retime.md]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import vapoursynth as vs

import vsanimsplat
from vsanimsplat.evaluation import DATA
from vsanimsplat.filters.source import open_video
from vsanimsplat.machine import describe
from vsanimsplat.metrics import psnr
from vsanimsplat.models import DEFAULT_PRESET, PRESET_NAMES

EYE = DATA / "synfig-eye-48fps.mkv"
MOTION = range(56, 167)


def on_twos(render: vs.VideoNode) -> vs.VideoNode:
    """Every 4th frame of the 48 fps render, each held twice, at 24 fps."""
    drawings = render.std.SelectEvery(4, 0)
    clip = vs.core.std.Interleave([drawings, drawings]).std.AssumeFPS(fpsnum=24, fpsden=1)
    return clip.std.SetFrameProps(_DurationNum=1, _DurationDen=24)


def rgb(frame: vs.VideoFrame) -> np.ndarray:
    return np.stack([np.asarray(frame[p]) for p in range(3)], axis=-1).astype(np.float64)


def smoothness(frames: list[np.ndarray]) -> float:
    steps = np.array([np.abs(b - a).mean() for a, b in zip(frames, frames[1:])])
    return float(steps.std() / steps.mean())


def evaluate(out: vs.VideoNode, truth: list[np.ndarray]) -> dict[str, float]:
    n = min(out.num_frames, len(truth))
    frames = [rgb(out.get_frame(j)) for j in range(n)]
    between = [j for j in range(n) if j % 4]
    pooled = lambda js: psnr(np.stack([frames[j] for j in js]), np.stack([truth[j] for j in js]))  # noqa: E731
    return {
        "all": pooled(range(n)),
        "in-betweens": pooled(between),
        "motion all": pooled(MOTION),
        "motion in-betweens": pooled([j for j in MOTION if j % 4]),
        "smoothness (CV)": smoothness([frames[j] for j in MOTION]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=[DEFAULT_PRESET, "union", "splat", "blend"])
    timings = ["timing-aware", "naive", "index-based"]
    parser.add_argument("--timings", nargs="+", choices=timings, default=timings)
    parser.add_argument("--out", type=Path, help="also write the markdown table here")
    args = parser.parse_args()
    render = open_video(EYE)
    truth = [rgb(f) for f in render.frames(close=True)]
    clip = on_twos(render)
    rows = []
    for model in args.models:
        chosen = {"preset" if model in PRESET_NAMES else "model": model, "device": "cpu"}
        outputs = {
            "timing-aware": lambda: vsanimsplat.interpolate(vsanimsplat.dedupe(clip), factor=2, **chosen),
            "naive": lambda: vsanimsplat.interpolate(clip, factor=2, **chosen),
            "index-based": lambda: vsanimsplat.interpolate(clip, factor=2, layers=False, **chosen),
        }
        for name in args.timings:
            began = time.perf_counter()
            scores = evaluate(outputs[name](), truth)
            rows.append((model, name, scores, time.perf_counter() - began))
            print(model, name, {k: round(v, 3) for k, v in scores.items()}, f"{rows[-1][3]:.0f} s", flush=True)
    keys = list(rows[0][2])
    lines = [
        f"Machine: {describe()}",
        f"Input: {EYE.name} every 4th frame held twice at 24 fps ({clip.num_frames} frames), ×2 → 48 fps; "
        f"truth = the 48 fps render ({len(truth)} frames). Render smoothness (CV) in the motion range: "
        f"{smoothness(truth[MOTION.start:MOTION.stop]):.3f}",
        "",
        "| model or preset | timing | " + " | ".join(f"PSNR {k} (dB)" if "CV" not in k else k for k in keys) + " | wall time (s) |",
        "|---|---|" + "---|" * (len(keys) + 1),
    ]
    for model, name, scores, seconds in rows:
        lines.append(f"| {model} | {name} | " + " | ".join(f"{scores[k]:.2f}" if "CV" not in k else f"{scores[k]:.3f}"
                                                           for k in keys) + f" | {seconds:.0f} |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
