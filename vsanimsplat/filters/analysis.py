"""What ``interpolate`` needs to know about its input clip, read in one pass or handed over by ``dedupe``.

``dedupe`` scores the scene cuts between the drawings it finds during its own pass over the source
(:class:`~vsanimsplat.analysis.DrawingCuts`) and leaves the result here for its output clip, so
``interpolate(dedupe(clip))`` reads no frame of ``clip`` a second time. Any other clip is read by
:func:`timing_of` itself, once, and the result is cached for as long as the clip lives.
"""

from __future__ import annotations

import weakref
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import vapoursynth as vs

from ..analysis import CutScores
from ..layers import ChangeMaps
from ..errors import BadOption
from ..scenes import analysis_size, relative_scores
from .frames import duration_of, frame_to_array, scan_frames

__all__ = ["Timing", "analysis_clip", "first_props", "recorded_rate", "timing_of", "remember", "resize"]


@dataclass(frozen=True)
class Timing:
    """What ``interpolate`` learns about its input, one entry per input frame (drawing); the numbers in arrays of
    machine numbers, the durations as shared Fraction objects (no Python object of its own per frame).

    | field | type | meaning |
    |---|---|---|
    | `durations` | sequence of Fraction | how long each frame is shown |
    | `holds` | sequence of int | source frames each frame stands for (``AnimSplat_Hold``, else 1) |
    | `sources` | sequence of int | first source frame of each (``AnimSplat_SourceFrame``, else its index) |
    | `marked_cuts` | set[int] | pairs ``k`` (frame ``k`` and ``k + 1``) marked as cuts by ``_SceneChangeNext``/``_SceneChangePrev`` |
    | `scene_scores` | sequence of float | between frame ``k`` and ``k + 1``: :class:`~vsanimsplat.analysis.CutScores`' score against its shot's (:func:`~vsanimsplat.scenes.relative_scores`) |
    | `first_props` | dict | the props of the first frame |
    | `changes` | ChangeMaps | between frame ``k`` and ``k + 1``: where the picture changes (:mod:`vsanimsplat.layers`) |
    | `source_rate` | Fraction | the nominal rate of the frames before ``dedupe`` (its input's ``fps``; the clip's own when read here), 0 when variable |
    """

    durations: Sequence[Fraction]
    holds: Sequence[int]
    sources: Sequence[int]
    marked_cuts: set[int]
    scene_scores: Sequence[float]
    first_props: dict
    changes: ChangeMaps
    source_rate: Fraction


_timings: weakref.WeakKeyDictionary[vs.VideoNode, Timing] = weakref.WeakKeyDictionary()


def analysis_clip(clip: vs.VideoNode) -> vs.VideoNode:
    """The small YUV 4:4:4 8-bit copy of ``clip`` the scene-cut detector reads (:func:`~vsanimsplat.scenes.analysis_size`)."""
    width, height = analysis_size(clip.width, clip.height)
    if clip.format.color_family == vs.GRAY:
        gray = clip.resize.Bilinear(width, height, format=vs.GRAY8)
        grey = gray.std.BlankClip(color=128, keep=True)
        return vs.core.std.ShufflePlanes([gray, grey, grey], [0, 0, 0], vs.YUV)
    matrix = {"matrix": 1, "matrix_in": 0} if clip.format.color_family == vs.RGB else {}
    return clip.resize.Bilinear(width, height, format=vs.YUV444P8, **matrix)


def remember(clip: vs.VideoNode, timing: Timing) -> None:
    """Record ``timing`` as what :func:`timing_of` returns for ``clip`` (for as long as ``clip`` lives)."""
    if len(timing.durations) != clip.num_frames:
        raise BadOption("filters.analysis.remember", "timing",
                        f"the timing describes {len(timing.durations)} frames, but the clip has {clip.num_frames}")
    _timings[clip] = timing


def resize(clip: vs.VideoNode, width: int, height: int) -> vs.VideoNode:
    """``clip`` resized (Spline36) to the display size ``width × height`` with square pixels, keeping what has
    been learnt about it: after ``dedupe``, ``interpolate`` on the result reads no frame again.

    | parameter | type | meaning |
    |---|---|---|
    | `clip` | vs.VideoNode | any clip, e.g. a :func:`~vsanimsplat.dedupe` output |
    | `width`, `height` | int | the new size (as ``core.resize.Spline36`` takes it) |

    The result's frames say square pixels (``_SARNum``/``_SARDen`` 1:1), where ``core.resize`` would
    keep the old display shape in a changed pixel shape: a 360×240 clip with 32:27 pixels (16:9 on
    screen) resized to 320×180 is 16:9 with square pixels, resized to 360×240 it shows 3:2.
    The scene cuts stay scored on ``clip``'s analysis pictures
    (:func:`~vsanimsplat.scenes.analysis_size` of ``clip``, not of the result), so the size does
    not change where ``interpolate`` cuts.
    """
    if not isinstance(clip, vs.VideoNode):
        raise BadOption("resize", "clip", f"clip must be a vapoursynth.VideoNode, got {type(clip).__name__}")
    resized = clip.resize.Spline36(width, height).std.SetFrameProps(_SARNum=1, _SARDen=1)
    timing = _timings.get(clip)
    if timing is not None:
        remember(resized, timing)
    return resized


def recorded_rate(clip: vs.VideoNode) -> Fraction | None:
    """The nominal rate before ``dedupe`` that :func:`remember` recorded for ``clip`` (:attr:`Timing.source_rate`),
    or None: none recorded, or a variable rate."""
    cached = _timings.get(clip)
    return cached.source_rate if cached is not None and cached.source_rate > 0 else None


def first_props(clip: vs.VideoNode) -> dict:
    """The props of ``clip``'s first frame: recorded with its :class:`Timing` (by ``dedupe``, no frame read), else
    read from that frame alone (no pass over the clip)."""
    cached = _timings.get(clip)
    return dict(cached.first_props) if cached is not None else dict(clip.get_frame(0).props)


def timing_of(clip: vs.VideoNode, progress: bool | None = None) -> Timing:
    """The :class:`Timing` of ``clip``: recorded (by ``dedupe``), else read from its analysis copy once and cached.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `clip` | vs.VideoNode | | YUV, RGB or GRAY clip of constant format |
    | `progress` | bool or None | None | progress bar while reading; ``None`` = for 500+ frames on a terminal |
    """
    cached = _timings.get(clip)
    if cached is not None:
        return cached
    durations, holds, sources, first = [], array("q"), array("q"), {}
    cuts = CutScores()

    def visit(n: int, frame: vs.VideoFrame) -> None:
        props = frame.props
        if n == 0:
            first.update(props)
        durations.append(duration_of(props, clip, n, "interpolate"))
        holds.append(int(props.get("AnimSplat_Hold", 1)))
        sources.append(int(props.get("AnimSplat_SourceFrame", n)))
        cuts.add(frame_to_array(frame), bool(props.get("_SceneChangeNext", 0)), bool(props.get("_SceneChangePrev", 0)))

    scan_frames(analysis_clip(clip), visit, "reading timing", progress)
    timing = Timing(durations, holds, sources, cuts.marked, relative_scores(cuts.scores), first, cuts.changes,
                    Fraction(clip.fps))
    _timings[clip] = timing
    return timing
