#!/usr/bin/env python
"""Speed of the models on this machine: milliseconds of prepare, pair, synthesize; frames/s at ×2 and ×4.

For each model and size, two synthetic cartoon frames go through ``prepare`` (each),
``pair`` and ``synthesize`` at t = 0.25, 0.5, 0.75; every call is timed ``--reps`` times
after one untimed warm-up run, and the median is kept. A clip interpolated by k needs,
per input frame, one ``prepare``, one ``pair`` and k − 1 ``synthesize``, so

    output frames/s at ×k = k / (prepare + pair + (k − 1) · synthesize)

(the input frames themselves pass through for free). RIFE's ``pair`` does nothing and
its ``synthesize`` is the whole network, so ×4 costs it three full runs per pair.

Usage: ``python scripts/bench_model.py [--models union base rife] [--sizes 640x360 1280x720] [--reps 2]``
Writes ``benchmarks/model_speed.md``. Needs the weights (``python -m vsanimsplat models fetch all``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from vsanimsplat.machine import describe
from vsanimsplat.models import load_model
from vsanimsplat.testing import Scene

REPO = Path(__file__).resolve().parents[1]
TIMESTEPS = (0.25, 0.5, 0.75)


def _median_ms(call: Callable[[], object], reps: int) -> float:
    call()  # warm-up: allocations, kernel selection
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def _frame(scene: Scene, t: float) -> torch.Tensor:
    return torch.from_numpy(scene.render(t)).float().permute(2, 0, 1).unsqueeze(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["union", "base", "rife"])
    parser.add_argument("--sizes", nargs="+", default=["640x360", "1280x720"])
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "model_speed.md")
    parser.add_argument("--note", default="", help="a remark written under the table (e.g. the CPU was shared)")
    args = parser.parse_args()

    machine_line = describe()
    rows = []
    for size in args.sizes:
        width, height = map(int, size.split("x"))
        scene = Scene(width, height, seed=3, speed=6.0)
        img0, img1 = _frame(scene, 0.0), _frame(scene, 1.0)
        for name in args.models:
            model = load_model(name)
            prepare = _median_ms(lambda: model.prepare(img0), args.reps)
            a, b = model.prepare(img0), model.prepare(img1)
            pair_ms = _median_ms(lambda: model.pair(a, b), args.reps)
            pair = model.pair(a, b)
            synth = [_median_ms(lambda t=t: model.synthesize(pair, t), args.reps) for t in TIMESTEPS]
            synth_ms = statistics.mean(synth)
            fps = {k: 1000 * k / (prepare + pair_ms + (k - 1) * synth_ms) for k in (2, 4)}
            row = [
                size, name, f"{prepare:.0f}", f"{pair_ms:.0f}", " / ".join(f"{s:.0f}" for s in synth),
                f"{prepare + pair_ms + synth_ms:.0f}", f"{prepare + pair_ms + 3 * synth_ms:.0f}",
                f"{fps[2]:.3f}", f"{fps[4]:.3f}",
            ]  # fmt: skip
            rows.append(row)
            print(" | ".join(row), flush=True)

    header = [
        "size", "model", "prepare ms", "pair ms", "synthesize ms (t=.25/.5/.75)",
        "ms per input frame ×2", "ms per input frame ×4", "output fps ×2", "output fps ×4",
    ]  # fmt: skip
    table = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]
    text = f"""# Model speed

Made by `scripts/bench_model.py` on {time.strftime('%Y-%m-%d')}: {machine_line}; load average
{os.getloadavg()[0]:.2f} at end. float32 on the CPU, median of {args.reps} runs
after a warm-up. Per input frame a ×k clip needs one `prepare`, one `pair` and k − 1 `synthesize`;
output fps ×k = k / (that time). GMFSS (`union`, `base`) shares `pair` across the timesteps, so ×4
only adds two `synthesize` per input frame; `rife` has no pair work and runs the whole network per t.

{chr(10).join(table)}
{args.note}
"""
    args.out.write_text(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
