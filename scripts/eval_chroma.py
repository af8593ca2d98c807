"""Drawings found on the generated corpus (:mod:`vsanimsplat.corpus`) counting luma only (``dedupe``'s default) and
counting chroma too (``chroma=True``), side by side, through the public API (the delivered file read by BestSource,
:func:`~vsanimsplat.filters.dedupe.find_drawings` with the chosen tolerance and threshold).

Usage: python scripts/eval_chroma.py [--seed N ...] [--cache DIR] >> benchmarks/analysis.md
Each seed's encodes are kept in ``DIR/<seed>`` (made when missing).
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import vapoursynth as vs

from vsanimsplat.corpus import Case, corpus, deliver, make
from vsanimsplat.filters.dedupe import find_drawings
from vsanimsplat.machine import describe


def scope(case: Case) -> str:
    """The issue's scope of a case: lossless and CRF ≤ 23, or CRF 28."""
    return "CRF 28" if case.lossy and case.crf > 23 else "lossless or CRF ≤ 23"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, nargs="+", default=[2026])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/vsanimsplat-corpus"))
    args = parser.parse_args()
    print(f"Machine: {describe()}\n")
    print(f"`vsanimsplat.corpus.corpus(seed=N)` for N in {', '.join(map(str, args.seed))} (48 cases of 48 frames each); the "
          "cases where the two differ, then the totals (found with exact timing and extra, in % of the true drawings).\n")
    print("| seed | case | true | luma: found | extra | chroma: found | extra |")
    print("|---|---|---|---|---|---|---|")
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * 5)
    for seed in args.seed:
        folder = args.cache / str(seed)
        folder.mkdir(parents=True, exist_ok=True)
        for case in corpus(seed=seed):
            truth = make(case)
            path = folder / f"{case.name}.mkv"
            if not path.exists():
                deliver(case, truth, path)
            clip = vs.core.bs.VideoSource(str(path), cachemode=0)
            true = set(truth.starts)
            cells = []
            keys = (("all", "all"), ("scope", scope(case)), ("timing", case.timing))
            for key in keys:
                totals[key][0] += len(true)
            for index, chroma in enumerate((False, True)):
                found = {drawing.first for drawing in find_drawings(clip, chroma=chroma, progress=False)}
                cells += [len(found & true), len(found - true)]
                for key in keys:
                    totals[key][1 + 2 * index] += len(found & true)
                    totals[key][2 + 2 * index] += len(found - true)
            if cells[:2] != cells[2:]:
                print(f"| {seed} | {case.name} | {len(true)} | {cells[0]} | {cells[1]} | {cells[2]} | {cells[3]} |",
                      flush=True)
            del clip
    print("\n| cases | luma: found | extra | chroma: found | extra |")
    print("|---|---|---|---|---|")
    for (_, name), (true, *counts) in sorted(totals.items()):
        print(f"| {name} | {100 * counts[0] / true:.1f} % | {100 * counts[1] / true:.2f} % "
              f"| {100 * counts[2] / true:.1f} % | {100 * counts[3] / true:.2f} % |")


if __name__ == "__main__":
    main()
