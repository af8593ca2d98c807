"""Opening video files as clips, with a frame rate that can be trusted."""

from __future__ import annotations

import tempfile
from fractions import Fraction
from os import PathLike
from pathlib import Path

import vapoursynth as vs

from ..timestamps import SourceTiming, judge_timing, nominal_rate, standard_rate

__all__ = ["frame_times", "open_video", "source_timing", "standard_rate"]


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
    nearest standard rate. Raises ``vs.Error`` naming the path when the file is missing or cannot
    be decoded, and ``ValueError`` for a non-positive ``fps``.
    """
    file = Path(path)
    if not file.is_file():
        raise vs.Error(f"input file not found: {file}")
    if fps is not None and Fraction(fps) <= 0:
        raise ValueError(f"fps must be a positive frame rate such as 24000/1001, got {fps}")
    try:
        clip = vs.core.bs.VideoSource(str(file))
    except vs.Error as error:
        raise vs.Error(f"cannot decode {file} as video ({error})") from None
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
        if "_DurationNum" not in clip.get_frame(0).props or fps == 0:
            fps = standard_rate(Fraction(vs.core.lsmas.LWLibavSource(str(file), cache=0).fps))
    fps = Fraction(fps)
    clip = clip.std.AssumeFPS(fpsnum=fps.numerator, fpsden=fps.denominator)
    return clip.std.SetFrameProps(_DurationNum=fps.denominator, _DurationDen=fps.numerator)


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
        raise vs.Error(f"input file not found: {file}")
    with tempfile.TemporaryDirectory(prefix="vsanimsplat-") as folder:
        timecodes = Path(folder) / "timecodes.txt"
        try:
            vs.core.bs.VideoSource(str(file), timecodes=str(timecodes))
        except vs.Error as error:
            if "unknown timestamp" in str(error):
                return None
            raise vs.Error(f"cannot decode {file} as video ({error})") from None
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
    stated = Fraction(open_video(path).fps)
    times = frame_times(path)
    return SourceTiming(stated) if times is None else judge_timing(times, stated)
