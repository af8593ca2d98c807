"""The ``vsanimsplat`` command line.

Exit codes: 0 success, 1 processing failed, 2 bad arguments or input.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from fractions import Fraction

import vapoursynth as vs

from . import __version__
from .filters.dedupe import DEFAULT_THRESHOLD, DEFAULT_TOLERANCE, find_drawings
from .filters.source import open_video
from .models.weights import add_models_subcommand, models_command
from .timeline import cadence_report, format_timecodes_v2

__all__ = ["main", "parse_threshold", "parse_rate"]


def parse_threshold(text: str) -> int | float:
    """``"120"`` → 120 pixels; ``"0.001"`` or ``"1e-3"`` → a fraction of the frame."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"threshold must be a pixel count (e.g. 120) or a fraction of the frame (e.g. 0.001), got {text!r}"
            ) from None


def parse_rate(text: str) -> Fraction:
    """A positive rational rate: ``"24000/1001"``, ``"23.976"`` or ``"24"``."""
    try:
        rate = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"expected a rate such as 24, 23.976 or 24000/1001, got {text!r}") from None
    if rate <= 0:
        raise argparse.ArgumentTypeError(f"rate must be positive, got {text!r}")
    return rate


def _add_detection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threshold", type=parse_threshold, default=DEFAULT_THRESHOLD,
                        help="most differing pixels for 'same drawing': a count (120) or a fraction of the frame "
                             f"(0.001); 0 keeps every changed frame (default {DEFAULT_THRESHOLD})")
    parser.add_argument("--tolerance", type=int, default=DEFAULT_TOLERANCE,
                        help=f"a pixel differs when it changes by more than this, 8-bit units (default {DEFAULT_TOLERANCE})")
    parser.add_argument("--chroma", action="store_true", help="compare chroma too, not only luma")
    parser.add_argument("--input-fps", type=parse_rate, default=None, metavar="RATE",
                        help="force the input frame rate (e.g. 24000/1001) when the file's is wrong")
    parser.add_argument("--vfr", action="store_true",
                        help="keep the file's per-frame timestamps (variable-rate input) instead of a constant rate")


def _report(args: argparse.Namespace) -> int:
    clip = open_video(args.input, fps=args.input_fps, vfr=args.vfr)
    began = time.perf_counter()
    drawings = find_drawings(clip, threshold=args.threshold, tolerance=args.tolerance, chroma=args.chroma,
                             progress=False if args.quiet else None)
    elapsed = time.perf_counter() - began
    print(f"{args.input}: {clip.width}x{clip.height} {clip.format.name}, {clip.num_frames} frames at {clip.fps} fps")
    for line in cadence_report(drawings, clip.num_frames).lines():
        print(line)
    print(f"analysis: {clip.num_frames / max(elapsed, 1e-9):.0f} frames/s")
    if args.timecodes:
        with open(args.timecodes, "w", encoding="ascii") as out:
            out.write(format_timecodes_v2(d.duration for d in drawings))
        print(f"timecodes: {args.timecodes}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``vsanimsplat`` command."""
    parser = argparse.ArgumentParser(prog="vsanimsplat", description="Frame interpolation for animation.")
    parser.add_argument("--version", action="version", version=f"vsanimsplat {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser("report", help="find the drawings of a video and print its cadence")
    report.add_argument("input", help="video file (mp4, mkv, avi, wmv, mov …)")
    _add_detection_options(report)
    report.add_argument("--timecodes", metavar="PATH", help="also write Matroska v2 timecodes of the drawings")
    report.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    report.set_defaults(handler=_report)
    add_models_subcommand(commands).set_defaults(handler=models_command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (vs.Error, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
