"""Opening video files as clips, with a frame rate that can be trusted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import warnings
from fractions import Fraction
from os import PathLike
from pathlib import Path

import vapoursynth as vs

from ..errors import AnimSplatError, BadOption, given_to
from ..ffmpeg import Stream, find_ffmpeg, probe_streams
from ..timestamps import SourceTiming, judge_timing, nominal_rate, standard_rate

__all__ = ["frame_times", "input_problem", "open_video", "source_timing", "standard_rate"]


def input_problem(path: str | PathLike[str]) -> str | None:
    """Why ``path`` cannot be read as a video file (missing, a directory, unreadable), or None.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `path` | str or PathLike | | the input file |
    """
    file = Path(path)
    if file.is_dir():
        return f"input is a directory, not a video file: {file}"
    if file.exists() and not file.is_file():
        return f"input is not a regular file (a pipe or a device: the source and ffmpeg must seek in it): {file}"
    if not file.is_file():
        return f"input file not found: {file}"
    if not os.access(file, os.R_OK):
        return f"input file is not readable: {file}"
    return None


def open_video(path: str | PathLike[str], fps: Fraction | None = None, vfr: bool = False) -> vs.VideoNode:
    """Open a video file (mp4, mkv, avi, wmv, mov …) with BestSource (``core.bs``).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `path` | str or PathLike | | the video file |
    | `fps` | Fraction or None | None | the constant frame rate to assume (frames are neither dropped nor added); ``None`` takes the file's |
    | `vfr` | bool | False | keep the file's own per-frame timestamps as durations (variable-rate sources) instead of a constant rate; the last frame lasts as long as the one before it, and the clip's rate is that of its fastest steady section (:func:`~vsanimsplat.timestamps.nominal_rate`) |

    By default the clip is constant-rate: every frame lasts exactly ``1/fps``. Containers round
    timestamps (Matroska to 1 ms, so 23.976 fps frames last 41 or 42 ms); taking them literally
    would jitter every in-between. When the file carries no timestamps BestSource can use (some
    AVI files report a wrong rate), the rate comes from L-SMASH (``core.lsmas``), snapped to the
    nearest standard rate, unless ffmpeg states a standard rate for it. Where the rate the file states (a standard one) differs from BestSource's but keeps every
    frame at its timestamp, the stated rate is taken (BestSource reads a 2-frame Matroska file at 24000/1001 fps
    as 500/21, from its frames' 42 ms apart).

    Sizes are kept: BestSource crops a picture whose size its chroma subsampling cannot hold (321×181
    4:2:0 → 320×180), so such a file is decoded as 4:4:4 at its own size instead (L-SMASH, with
    BestSource's frame props), with a warning (:class:`UserWarning`) saying so. L-SMASH reads the track BestSource
    reads, tried in a child process first (it ends the process on pictures it cannot give): where it cannot, the
    cropped picture or BestSource's rate is taken, with a warning. The pixel shape is
    in the frame props ``_SARNum``/``_SARDen`` where the file gives one. A picture with rotation metadata (a
    phone's video) is turned as players show it, with a warning. Raises
    :class:`~vsanimsplat.errors.BadOption` (a ``vs.Error`` and a ValueError) naming ``path`` when the file is missing
    or cannot be decoded, or ``fps`` when it is not positive.
    """
    file = Path(path)
    if problem := input_problem(file):
        raise BadOption("open_video", "path", problem)
    if fps is not None and Fraction(fps) <= 0:
        raise BadOption("open_video", "fps", f"fps must be a positive frame rate such as 24000/1001, got {fps}")
    try:
        clip = vs.core.bs.VideoSource(str(file))
    except vs.Error as error:
        raise BadOption("open_video", "path", f"cannot decode {file} as video ({error})") from None
    with given_to("open_video"):
        streams = probe_streams(find_ffmpeg().path, file)
    stream = next((s for s in streams if s.kind == "video" and not s.picture), None)
    if stream is not None and stream.rotation:  # BestSource turns the pictures as the display matrix says
        width, height = stream.size
        warnings.warn(f"{file.name}: its {width}x{height} pictures are shown turned by {stream.rotation}° (rotation "
                      f"metadata); processed as players show them, {clip.width}x{clip.height}, and written upright, "
                      "without the tag", stacklevel=2)
    decoded = clip  # BestSource's: its props say whether it found timestamps (the 4:4:4 clip below has L-SMASH's)
    clip = _uncropped(file, clip, stream)
    if vfr:
        times = frame_times(file) if clip.num_frames > 1 else None
        if not times:
            return clip
        last = times[-1] - times[-2]  # the index knows when a frame starts, not when the last one ends
        clip = clip[:-1] + clip[-1].std.SetFrameProps(_DurationNum=last.numerator, _DurationDen=last.denominator)
        nominal = nominal_rate(times)
        if nominal is None:
            return clip
        return clip.std.AssumeFPS(fpsnum=nominal.numerator, fpsden=nominal.denominator).std.CopyFrameProps(clip)
    if fps is None:
        fps = Fraction(clip.fps)
        if "_DurationNum" not in decoded.get_frame(0).props or fps == 0:
            fps = _untimed_rate(file, decoded, stream)
        elif stream is not None and stream.rate not in (None, fps) and clip.num_frames > 1:
            times = frame_times(file)  # BestSource's rate of a short file is its timestamps' (2 frames 42 ms apart)
            fps = stream.rate if times and not judge_timing(times, stream.rate).notice else fps
    fps = Fraction(fps)
    clip = clip.std.AssumeFPS(fpsnum=fps.numerator, fpsden=fps.denominator)
    return clip.std.SetFrameProps(_DurationNum=fps.denominator, _DurationDen=fps.numerator)


def _untimed_rate(file: Path, clip: vs.VideoNode, stream: Stream | None) -> Fraction:
    """The rate of a file whose frames have no timestamps BestSource can use (``clip`` is BestSource's): the standard
    rate ffmpeg states, else L-SMASH's (snapped to a standard rate), else BestSource's with a warning."""
    if stream is not None and stream.rate is not None:
        return stream.rate
    fmt = clip.format  # a 4:4:4 picture of any size, where L-SMASH's own format may not hold the file's size
    options = {"format": f"YUV444P{fmt.bits_per_sample}"} if fmt.subsampling_w or fmt.subsampling_h else {}
    try:
        return standard_rate(Fraction(_lsmash(file, stream, **options).fps))
    except vs.Error as error:
        warnings.warn(f"{file.name}: its frames have no timestamps and {error}; BestSource's {clip.fps} fps is "
                      "taken (--cfr RATE sets another)", stacklevel=3)
        return Fraction(clip.fps)


def _lsmash(file: Path, stream: Stream | None, **options: str) -> vs.VideoNode:
    """L-SMASH's clip (``core.lsmas.LWLibavSource``) of ``stream`` (None: the one L-SMASH chooses), opened in a child
    process first: where L-SMASH cannot give a picture VapourSynth holds (its own 4:2:0 format at an odd size), it
    ends the whole process (a C++ ``terminate``), not with an exception. Raises
    :class:`~vsanimsplat.errors.AnimSplatError` ("L-SMASH cannot read it: …", its last message) instead. The child's
    index (a file of its own) is the one this process reads.
    """
    with tempfile.TemporaryDirectory(prefix="vsanimsplat-") as folder:
        arguments = {**options, "cache": 1, "cachefile": str(Path(folder) / "index.lwi")}
        arguments.update({"stream_index": stream.index} if stream is not None else {})
        trial = subprocess.run([sys.executable, "-c", "import json, sys, vapoursynth as vs; vs.core.lsmas.LWLibavSource("
                                "sys.argv[1], **json.loads(sys.argv[2])).get_frame(0)", str(file), json.dumps(arguments)],
                               capture_output=True, text=True, errors="replace")
        if trial.returncode != 0:
            said = trial.stderr.strip().splitlines()
            ended = f"ended by signal {-trial.returncode}" if trial.returncode < 0 else f"exit {trial.returncode}"
            raise AnimSplatError(f"L-SMASH cannot read it: {said[-1] if said else 'no message'} ({ended})")
        return vs.core.lsmas.LWLibavSource(str(file), **arguments)


def _uncropped(file: Path, clip: vs.VideoNode, stream: Stream | None) -> vs.VideoNode:
    """``clip`` (BestSource's) at the size of ``stream``'s pictures as shown: 4:4:4 where subsampling made
    BestSource crop.

    L-SMASH converts to 4:4:4 at the full size, but its conversion rings on sharp luma edges (up to
    17 code values at a black line), so the luma BestSource decoded is kept and only the missing column/row of
    luma comes from L-SMASH, with the upsampled chroma. L-SMASH's pictures are turned as BestSource's
    (:func:`_turned`); BestSource crops the stored picture's last column and row, which its turn moves to
    other sides.
    """
    fmt = clip.format
    if (fmt.subsampling_w == 0 and fmt.subsampling_h == 0) or stream is None or stream.shown_size in (
            None, (clip.width, clip.height)):
        return clip
    width, height = stream.shown_size
    try:
        full = _turned(_lsmash(file, stream, format=f"YUV444P{fmt.bits_per_sample}"), stream.rotation)
    except vs.Error as error:
        warnings.warn(f"{file.name}: {width}x{height} is an odd size for {fmt.name} chroma and {error}; BestSource's "
                      f"picture is taken, cropped to {clip.width}x{clip.height}", stacklevel=3)
        return clip
    if (full.width, full.height, full.num_frames) != (width, height, clip.num_frames):
        raise BadOption("open_video", "path",
                        f"{file}: cannot decode its {width}x{height} {fmt.name} pictures at their "
                        f"size (L-SMASH gives {full.num_frames} frames of {full.width}x{full.height}, BestSource "
                        f"{clip.num_frames} cropped to {clip.width}x{clip.height})")
    warnings.warn(f"{file.name}: {width}x{height} is an odd size for {fmt.name} chroma; decoded as YUV444P"
                  f"{fmt.bits_per_sample} to keep every pixel (so it is encoded as 4:4:4)", stacklevel=3)
    # what BestSource cropped off the stored picture (its right and bottom sides), on the sides its turn moves them to
    stored_w, stored_h = stream.size
    cropped = (0, stored_w - (clip.height if stream.rotation % 180 else clip.width), stored_h - (
        clip.width if stream.rotation % 180 else clip.height), 0)  # top, right, bottom, left
    turns = stream.rotation // 90
    top, right, bottom, left = (cropped[(side + turns) % 4] for side in range(4))
    luma = full.std.ShufflePlanes(0, vs.GRAY)
    rows = luma.std.Crop(top=top, bottom=bottom)
    middle = [rows.std.Crop(right=width - left)] if left else []
    middle += [clip.std.ShufflePlanes(0, vs.GRAY)] + ([rows.std.Crop(left=width - right)] if right else [])
    band = vs.core.std.StackHorizontal(middle) if len(middle) > 1 else middle[0]
    stack = ([luma.std.Crop(bottom=height - top)] if top else []) + [band] + (
        [luma.std.Crop(top=height - bottom)] if bottom else [])
    plane = vs.core.std.StackVertical(stack) if len(stack) > 1 else stack[0]
    full = vs.core.std.ShufflePlanes([plane, full], [0, 1, 2], vs.YUV)
    full = full.std.CopyFrameProps(clip).std.RemoveFrameProps("_ChromaLocation")
    return full.std.AssumeFPS(clip)


def _turned(clip: vs.VideoNode, rotation: int) -> vs.VideoNode:
    """``clip``'s stored pictures turned as a display matrix's ``rotation`` (0, 90, 180 or 270 degrees) shows them,
    as BestSource turns them."""
    if rotation == 90:
        return clip.std.Transpose().std.FlipVertical()
    if rotation == 180:
        return clip.std.Turn180()
    if rotation == 270:
        return clip.std.Transpose().std.FlipHorizontal()
    return clip


def frame_times(path: str | PathLike[str]) -> list[Fraction] | None:
    """Start time of every frame of a video file in seconds, in presentation order, from BestSource's index;
    None when some frame has no timestamp (AVI files, raw streams).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `path` | str or PathLike | | the video file |

    No frame is decoded beyond the index :func:`open_video` builds anyway (BestSource keeps it on disk, so
    opening the file again reads it back). The times come to 0.01 ms (BestSource's timecode file).
    """
    file = Path(path)
    if not file.is_file():
        raise BadOption("filters.source.frame_times", "path", f"input file not found: {file}")
    with tempfile.TemporaryDirectory(prefix="vsanimsplat-") as folder:
        timecodes = Path(folder) / "timecodes.txt"
        try:
            vs.core.bs.VideoSource(str(file), timecodes=str(timecodes))
        except vs.Error as error:
            if "unknown timestamp" in str(error):
                return None
            raise BadOption("filters.source.frame_times", "path", f"cannot decode {file} as video ({error})") from None
        lines = timecodes.read_text(encoding="ascii").splitlines()
    return [Fraction(line) / 1000 for line in lines if line and not line.startswith("#")]


def source_timing(path: str | PathLike[str]) -> SourceTiming:
    """The constant rate that keeps every frame of the file at its timestamp (the file's own, as
    :func:`open_video` reads it, when it does), or what the timestamps show instead
    (:func:`~vsanimsplat.timestamps.judge_timing`).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `path` | str or PathLike | | the video file |

    A file without timestamps (:func:`frame_times` gives None) keeps the rate :func:`open_video` finds.
    """
    with warnings.catch_warnings():  # only the rate is read here: the caller's own open_video says what it changed
        warnings.simplefilter("ignore")
        stated = Fraction(open_video(path).fps)
    times = frame_times(path)
    return SourceTiming(stated) if times is None else judge_timing(times, stated)
