"""The seed's command line, kept: ``python scripts/run.py --video in.mp4 --fps 3 --threshold 120``.

A thin wrapper over ``vsanimsplat run``, which accepts the seed's flags under the same names:
``--video`` becomes its INPUT, the output is ``-o`` if given, else ``VIDEO-interpolated.mkv``
beside the video, and every other ``vsanimsplat run`` option (``--model``, ``--overwrite`` …)
passes through unchanged. Exit codes are those of ``vsanimsplat run``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from vsanimsplat.cli import main as vsanimsplat_main

SEED_FLAGS = ("flow", "second", "width", "height", "fps", "threshold")


def run_argv(argv: Sequence[str]) -> list[str]:
    """The ``vsanimsplat`` arguments for the seed-style arguments ``argv``."""
    parser = argparse.ArgumentParser(
        description="Interpolate an animated video (the seed's flags; any other `vsanimsplat run` option passes through).",
        epilog="See `vsanimsplat run --help` for the other options.")
    parser.add_argument("--video", required=True, help="the input video file")
    parser.add_argument("-o", "--output", help="the video to write (default: VIDEO-interpolated.mkv beside the video)")
    parser.add_argument("--flow", metavar="PATH", help="write the optical flow of the first two drawings (.flo)")
    parser.add_argument("--second", metavar="SECONDS", help="process only the first SECONDS")
    parser.add_argument("--width", help="output width")
    parser.add_argument("--height", help="output height")
    parser.add_argument("--fps", help="factor (3) or target rate (60000/1001); default: factor 2")
    parser.add_argument("--threshold", help="drawing detection: differing pixels (120) or fraction of the frame (0.001)")
    args, rest = parser.parse_known_args(argv)
    video = Path(args.video)
    output = args.output or str(video.with_name(f"{video.stem}-interpolated.mkv"))
    seed = [item for flag in SEED_FLAGS if getattr(args, flag) is not None for item in (f"--{flag}", getattr(args, flag))]
    return ["run", str(video), "-o", output, *seed, *rest]


if __name__ == "__main__":
    sys.exit(vsanimsplat_main(run_argv(sys.argv[1:])))
