"""Measure drawing detection: cadence report and analysis speed vs. plain decoding.

Usage: python scripts/bench_dedupe.py [VIDEO ...]   (default: the shared Tupi cartoon)
Prints a markdown section; paste or append it to benchmarks/dedupe.md.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from vsanimsplat.evaluation import DATA
from vsanimsplat.filters.dedupe import DEFAULT_THRESHOLD, DEFAULT_TOLERANCE, find_drawings
from vsanimsplat.filters.source import open_video
from vsanimsplat.machine import describe
from vsanimsplat.timeline import cadence_report

DEFAULT = DATA / "tupi-butterfly-18fps.avi"


def best_of(runs: int, work) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return min(times)


def bench(path: Path) -> list[str]:
    clip = open_video(path)
    decode = best_of(3, lambda: [None for _ in open_video(path).frames(close=True)])
    analyse = best_of(3, lambda: find_drawings(open_video(path), progress=False))
    report = cadence_report(find_drawings(clip, progress=False), clip.num_frames)
    n = clip.num_frames
    return [
        f"### {path.name} ({clip.width}x{clip.height} {clip.format.name}, {n} frames at {clip.fps} fps)",
        "",
        f"threshold={DEFAULT_THRESHOLD}, tolerance={DEFAULT_TOLERANCE}",
        "",
        "```",
        *report.lines(),
        "```",
        "",
        "| pass | frames/s |",
        "|---|---|",
        f"| decode only (bs) | {n / decode:.0f} |",
        f"| decode + analysis (dedupe) | {n / analyse:.0f} |",
        "",
    ]


def main() -> None:
    paths = [Path(p) for p in sys.argv[1:]] or [DEFAULT]
    print(f"Machine: {describe()}")
    print()
    for path in paths:
        print("\n".join(bench(path)))


if __name__ == "__main__":
    main()
