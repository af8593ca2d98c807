"""Opening video files as clips, with a frame rate that can be trusted."""

from __future__ import annotations

import os
from fractions import Fraction
from os import PathLike
from pathlib import Path

import vapoursynth as vs

__all__ = ["input_problem", "open_video", "standard_rate"]

_STANDARD_RATES = [Fraction(n * 1000, 1001) for n in (24, 30, 48, 60, 120)] + [
    Fraction(n) for n in (8, 10, 12, 15, 18, 24, 25, 30, 48, 50, 60, 72, 90, 100, 120, 144, 240)
]


def standard_rate(rate: Fraction, tolerance: float = 2e-4) -> Fraction:
    """The standard frame rate within ``tolerance`` (relative) of ``rate``, else ``rate`` itself.

    Containers store rates rounded (2997/125 for 24000/1001); this undoes that rounding.
    """
    for standard in _STANDARD_RATES:
        if abs(rate / standard - 1) <= tolerance:
            return standard
    return rate


def input_problem(path: str | PathLike[str]) -> str | None:
    """Why ``path`` cannot be read as a video file (missing, a directory, unreadable), or None.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `path` | str or PathLike | | the input file |
    """
    file = Path(path)
    if file.is_dir():
        return f"input is a directory, not a video file: {file}"
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
    | `vfr` | bool | False | keep the file's own per-frame timestamps as durations (variable-rate sources) instead of a constant rate |

    By default the clip is constant-rate: every frame lasts exactly ``1/fps``. Containers round
    timestamps (Matroska to 1 ms, so 23.976 fps frames last 41 or 42 ms); taking them literally
    would jitter every in-between. When the file carries no timestamps BestSource can use (some
    AVI files report a wrong rate), the rate comes from L-SMASH (``core.lsmas``), snapped to the
    nearest standard rate. Raises ``vs.Error`` naming the path when the file is missing or cannot
    be decoded, and ``ValueError`` for a non-positive ``fps``.
    """
    file = Path(path)
    if problem := input_problem(file):
        raise vs.Error(problem)
    if fps is not None and Fraction(fps) <= 0:
        raise ValueError(f"fps must be a positive frame rate such as 24000/1001, got {fps}")
    try:
        clip = vs.core.bs.VideoSource(str(file))
    except vs.Error as error:
        raise vs.Error(f"cannot decode {file} as video ({error})") from None
    if vfr:
        return clip
    if fps is None:
        fps = Fraction(clip.fps)
        if "_DurationNum" not in clip.get_frame(0).props or fps == 0:
            fps = standard_rate(Fraction(vs.core.lsmas.LWLibavSource(str(file), cache=0).fps))
    fps = Fraction(fps)
    clip = clip.std.AssumeFPS(fpsnum=fps.numerator, fpsden=fps.denominator)
    return clip.std.SetFrameProps(_DurationNum=fps.denominator, _DurationDen=fps.numerator)
