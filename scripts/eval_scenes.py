"""Scene-cut metric on the shared clips: the highest colour-histogram distances between adjacent frames.

Usage: python scripts/eval_scenes.py [VIDEO ...] > benchmarks/scenes.md
"""

from __future__ import annotations

import sys
from pathlib import Path

from vsanimsplat.filters.interpolate import DEFAULT_SCENE_THRESHOLD, scene_scores
from vsanimsplat.filters.source import open_video
from vsanimsplat.machine import describe

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CLIPS = ["megamind-scenecuts.avi", "tupi-butterfly-18fps.avi", "synfig-eye-48fps.mkv"]


def main() -> None:
    paths = [Path(p) for p in sys.argv[1:]] or [DATA / name for name in CLIPS]
    print("# Scene-cut metric\n")
    print(f"Machine: {describe()}\n")
    print(f"Colour-histogram distance (8×8×8 bins of YUV at 1/4 size) between adjacent frames; "
          f"`interpolate` cuts above {DEFAULT_SCENE_THRESHOLD}.\n")
    print("| clip | frames | cuts found (after frame) | highest scores (frame: score) | highest score that is not a cut |")
    print("|---|---|---|---|---|")
    for path in paths:
        clip = open_video(path)
        scores = scene_scores(clip, progress=False)
        ranked = sorted(range(len(scores)), key=lambda i: -scores[i])
        cuts = sorted(i for i in ranked if scores[i] > DEFAULT_SCENE_THRESHOLD)
        below = next((scores[i] for i in ranked if scores[i] <= DEFAULT_SCENE_THRESHOLD), 0.0)
        top = ", ".join(f"{i}: {scores[i]:.3f}" for i in ranked[:6])
        print(f"| {path.name} | {clip.num_frames} | {cuts} | {top} | {below:.3f} |")


if __name__ == "__main__":
    main()
