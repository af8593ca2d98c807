"""``dedupe``: find the drawings of an animated clip and keep one frame per drawing."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from fractions import Fraction
from os import PathLike

import vapoursynth as vs

from .analysis import Timing, analysis_clip, remember
from .frames import check_constant, duration_of, frame_durations, frame_to_array, scan_frames
from ..analysis import DrawingCuts
from ..layers import ChangeMaps
from ..timeline import Drawing, drawing_starts, format_timecodes_v2, group_drawings, resolve_threshold

__all__ = ["dedupe", "find_drawings", "frame_differences", "write_timecodes", "DEFAULT_THRESHOLD", "DEFAULT_TOLERANCE",
           "Passes", "passes_of", "reuse_passes"]

DEFAULT_TOLERANCE = 10
DEFAULT_THRESHOLD = 0.0005


@dataclass(frozen=True)
class _Cuts:
    """The scene cuts between the drawings one threshold (in pixels) finds, as ``interpolate`` reads them."""

    threshold: int
    scores: list[float]
    marked: set[int]
    first_props: dict  # of the first frame's analysis picture
    changes: ChangeMaps


@dataclass(frozen=True)
class _Analysis:
    """What one pass over a clip learns: differing pixels to the next frame, the timing of every frame, and
    the scene cuts between the drawings of the threshold ``dedupe`` was called with (None for ``find_drawings``)."""

    diff_counts: list[int]
    durations: list[Fraction]
    holds: list[int]
    source_frames: list[int]
    cuts: _Cuts | None


Passes = dict[tuple, _Analysis]
"""What the passes over one clip learnt, per comparison settings: picklable, to hand to another process."""

# One analysis per clip object and comparison settings; entries die with the clip.
_analyses: weakref.WeakKeyDictionary[vs.VideoNode, Passes] = weakref.WeakKeyDictionary()


def passes_of(clip: vs.VideoNode) -> Passes:
    """What :func:`dedupe`'s passes over ``clip`` learnt (empty when none was made), for :func:`reuse_passes`."""
    return dict(_analyses.get(clip, {}))


def reuse_passes(clip: vs.VideoNode, passes: Passes) -> None:
    """Let :func:`dedupe` use ``passes`` (:func:`passes_of` of a clip of the same frames, e.g. the same source
    opened in another process) for ``clip`` instead of reading it again. ValueError if they describe another
    number of frames."""
    for analysis in passes.values():
        if len(analysis.durations) != clip.num_frames:
            raise ValueError(f"the passes describe {len(analysis.durations)} frames, but the clip has {clip.num_frames}")
    _analyses.setdefault(clip, {}).update(passes)


def _error(message: str) -> vs.Error:
    return vs.Error(f"vsanimsplat.dedupe: {message}")


def _check_clip(clip: vs.VideoNode, name: str = "clip") -> None:
    if not isinstance(clip, vs.VideoNode):
        raise _error(f"{name} must be a vapoursynth.VideoNode, got {type(clip).__name__}")
    check_constant(clip, "dedupe", name)
    if clip.format.sample_type != vs.INTEGER:
        raise _error(f"{name} must be an integer format (8–16 bit); float formats are not supported, got {clip.format.name}")
    if clip.num_frames < 1:
        raise _error(f"{name} has no frames")


def _difference_mask(clip: vs.VideoNode, tolerance: int, chroma: bool) -> tuple[vs.VideoNode, list[tuple[str, int]]]:
    """A clip of 0/255 masks marking samples that differ from the next frame by more than ``tolerance``.

    Returns the stats clip and, per compared plane, (prop prefix, samples each mask sample stands for).
    """
    fmt = clip.format
    level = tolerance << (fmt.bits_per_sample - 8)
    following = clip[1:] + clip[-1] if clip.num_frames > 1 else clip
    differs = f"abs {level} > "
    if fmt.color_family == vs.RGB:
        planes = [c.std.ShufflePlanes(p, vs.GRAY) for c in (clip, following) for p in range(3)]
        if chroma:  # any channel
            expr = f"x a - {differs} y b - {differs} or z c - {differs} or 255 0 ?"
        else:  # BT.709 luma
            expr = f"x a - 0.2126 * y b - 0.7152 * + z c - 0.0722 * + {differs} 255 0 ?"
        mask = vs.core.std.Expr(planes, expr, format=vs.GRAY8)
        return mask.std.PlaneStats(prop="D0"), [("D0", 1)]
    compared = range(fmt.num_planes) if chroma else [0]
    mask_format = vs.core.query_video_format(fmt.color_family, vs.INTEGER, 8, fmt.subsampling_w, fmt.subsampling_h)
    expr = [f"x y - {differs} 255 0 ?" if p in compared else "0" for p in range(fmt.num_planes)]
    mask = vs.core.std.Expr([clip, following], expr, format=mask_format.id)
    stats, weights = mask, []
    for p in compared:
        stats = stats.std.PlaneStats(plane=p, prop=f"D{p}")
        weights.append((f"D{p}", 1 if p == 0 else 1 << (fmt.subsampling_w + fmt.subsampling_h)))
    return stats, weights


def _plane_area(clip: vs.VideoNode, plane: int) -> int:
    if plane == 0:
        return clip.width * clip.height
    fmt = clip.format
    return (clip.width >> fmt.subsampling_w) * (clip.height >> fmt.subsampling_h)


def _analyse(clip: vs.VideoNode, tolerance: int, chroma: bool, progress: bool | None,
             limit: int | None = None) -> _Analysis:
    """The pass over ``clip`` for ``tolerance`` and ``chroma``, cached; a new pass also scores the scene cuts
    between the drawings ``limit`` (pixels) finds, reading each frame once for both."""
    key = (tolerance, chroma)
    cached = _analyses.get(clip, {}).get(key)
    if cached is not None:
        return cached
    stats, weights = _difference_mask(clip, tolerance, chroma)
    sizes = [_plane_area(clip, int(prefix[1:])) for prefix, _ in weights]
    counts, durations, holds, sources, first = [], [], [], [], {}
    scenes = DrawingCuts(limit) if limit is not None else None
    if scenes is not None:
        stats = stats.std.ClipToProp(analysis_clip(clip), prop="AnimSplat_Analysis")

    def visit(n: int, frame: vs.VideoFrame) -> None:
        props = frame.props
        counts.append(sum(round(props[f"{prefix}Average"] * area) * scale
                          for (prefix, scale), area in zip(weights, sizes)))
        durations.append(duration_of(props, clip, n, "dedupe"))
        holds.append(int(props.get("AnimSplat_Hold", 1)))
        sources.append(int(props.get("AnimSplat_SourceFrame", n)))
        if scenes is not None:
            picture = props["AnimSplat_Analysis"]
            if n == 0:
                first.update(picture.props)
            scenes.add(counts[-1], lambda: frame_to_array(picture), bool(props.get("_SceneChangeNext", 0)),
                       bool(props.get("_SceneChangePrev", 0)))

    scan_frames(stats, visit, "finding drawings", progress)
    cuts = None if scenes is None else _Cuts(limit, scenes.cuts.scores, scenes.cuts.marked, first, scenes.cuts.changes)
    result = _Analysis(counts[:-1], durations, holds, sources, cuts)
    _analyses.setdefault(clip, {})[key] = result
    return result


def dedupe(
    clip: vs.VideoNode,
    threshold: int | float = DEFAULT_THRESHOLD,
    tolerance: int = DEFAULT_TOLERANCE,
    chroma: bool = False,
    progress: bool | None = None,
) -> vs.VideoNode:
    """Keep one frame per drawing: drop the frames that repeat the previous drawing.

    Two adjacent frames are the same drawing when the number of pixels that differ by more than
    ``tolerance`` is at most ``threshold``. Each output frame is the first frame of its drawing and
    carries the drawing's true timing, so later filters place in-betweens at the right time.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `clip` | vs.VideoNode | | integer YUV, GRAY or RGB clip of constant format and size, 8–16 bit |
    | `threshold` | int or float | 0.0005 | most differing pixels that still count as the same drawing: an ``int`` is a pixel count (``0 … width×height``), a ``float`` a fraction of the frame (``0.0 … 1.0``). ``0`` with ``tolerance=0`` keeps every frame that differs at all |
    | `tolerance` | int | 10 | a pixel differs when its value changes by more than this, in 8-bit code values (``0 … 255``, scaled to the clip's bit depth) |
    | `chroma` | bool | False | also compare the chroma planes of YUV clips (a subsampled chroma sample counts for the pixels it covers); RGB clips compare BT.709 luma, or with ``chroma=True`` all three channels (a pixel differs when any channel does) |
    | `progress` | bool or None | None | show a progress bar on stderr during analysis; ``None`` shows it for clips of 500+ frames when stderr is a terminal |

    Why these defaults: lossy encodes never repeat a frame exactly. On the 18 fps MPEG-4 Tupi cartoon in
    the project's evaluation data, held frames differ by at most a few code values in a few dozen pixels,
    while the smallest real change between drawings moves hundreds of pixels by far more than 10
    (see ``benchmarks/dedupe.md``). A tolerance of 10 sits above coding noise and below outline
    contrast; 0.05 % of the frame (100 pixels at 520×380, 1037 at 1920×1080) keeps a blinking eye or a
    moving mouth while ignoring stray noise.

    Output props on every frame:

    | prop | meaning |
    |---|---|
    | `_DurationNum`, `_DurationDen` | how long the drawing is shown (sum of its input frames' durations, exact) |
    | `_AbsoluteTime` | start time of the drawing in seconds, counted from the start of ``clip`` |
    | `AnimSplat_SourceFrame` | first source frame of the drawing (kept from an earlier ``dedupe``) |
    | `AnimSplat_Hold` | source frames the drawing was held |

    ``clip.fps`` of the output is the input rate divided by the hold when every drawing is held equally
    long, and 0/1 (variable rate, VapourSynth's convention) otherwise; the durations are always exact.
    The analysis reads the whole clip once when ``dedupe`` is called, and is cached per clip and
    settings. The same pass scores the scene cuts between the drawings at the analysis size of
    ``clip`` (:func:`~vsanimsplat.filters.interpolate.scene_scores`), so that :func:`~vsanimsplat.interpolate`
    on the output reads nothing again (after a cached analysis with another ``threshold``,
    ``interpolate`` reads the output once itself). Running ``dedupe`` on its own output keeps every
    frame and the original source numbering.
    """
    drawings, cuts = _find(clip, threshold, tolerance, chroma, progress, scenes=True)
    out = _drawings_clip(clip, drawings)
    if cuts is not None:
        remember(out, Timing([d.duration for d in drawings], [d.hold for d in drawings],
                             [d.source_first for d in drawings], cuts.marked, cuts.scores,
                             {**cuts.first_props, **_drawing_props(drawings[0])}, cuts.changes))
    return out


def find_drawings(
    clip: vs.VideoNode,
    threshold: int | float = DEFAULT_THRESHOLD,
    tolerance: int = DEFAULT_TOLERANCE,
    chroma: bool = False,
    progress: bool | None = None,
) -> list[Drawing]:
    """The drawings of ``clip`` with their exact timing, as :func:`dedupe` finds them (same parameters)."""
    return _find(clip, threshold, tolerance, chroma, progress, scenes=False)[0]


def frame_differences(
    clip: vs.VideoNode,
    tolerance: int = DEFAULT_TOLERANCE,
    chroma: bool = False,
    progress: bool | None = None,
) -> list[int]:
    """The score :func:`dedupe` compares with its threshold: ``[i]`` = pixels that differ between frame ``i`` and
    ``i + 1`` of ``clip`` (``num_frames − 1`` of them), from the pass ``dedupe``/:func:`find_drawings` made with
    the same ``tolerance`` and ``chroma`` (read once and cached per clip).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `clip` | vs.VideoNode | | as :func:`dedupe`'s |
    | `tolerance`, `chroma`, `progress` | | | as :func:`dedupe`'s |
    """
    _check_clip(clip)
    _check_tolerance(tolerance)
    return list(_analyse(clip, tolerance, bool(chroma), progress).diff_counts)


def _check_tolerance(tolerance: int) -> None:
    if isinstance(tolerance, bool) or not isinstance(tolerance, int) or not 0 <= tolerance <= 255:
        raise _error(f"tolerance must be an int within 0 … 255 (8-bit code values), got {tolerance!r}")


def _find(clip: vs.VideoNode, threshold: int | float, tolerance: int, chroma: bool, progress: bool | None,
          scenes: bool) -> tuple[list[Drawing], _Cuts | None]:
    """The drawings, and with ``scenes`` the cuts between them when the pass that found them scored them."""
    _check_clip(clip)
    _check_tolerance(tolerance)
    try:
        limit = resolve_threshold(threshold, clip.width * clip.height)
    except ValueError as error:
        raise _error(str(error)) from None
    analysis = _analyse(clip, tolerance, bool(chroma), progress, limit if scenes else None)
    starts = drawing_starts(analysis.diff_counts, limit)
    drawings = group_drawings(starts, analysis.durations, analysis.holds, analysis.source_frames)
    return drawings, analysis.cuts if analysis.cuts is not None and analysis.cuts.threshold == limit else None


def _drawing_props(drawing: Drawing) -> dict[str, int | float]:
    """The props ``dedupe`` gives the output frame of ``drawing``."""
    return {"_DurationNum": drawing.duration.numerator, "_DurationDen": drawing.duration.denominator,
            "_AbsoluteTime": float(drawing.start), "AnimSplat_SourceFrame": drawing.source_first,
            "AnimSplat_Hold": drawing.hold}


def _drawings_clip(clip: vs.VideoNode, drawings: list[Drawing]) -> vs.VideoNode:
    """One frame per drawing, with its timing props."""
    starts = {d.first for d in drawings}
    kept = clip.std.DeleteFrames([n for n in range(clip.num_frames) if n not in starts]) if len(starts) < clip.num_frames else clip
    durations = {d.duration for d in drawings}
    fps = 1 / durations.pop() if len(durations) == 1 else Fraction(0)
    shell = vs.core.std.BlankClip(kept, fpsnum=fps.numerator, fpsden=fps.denominator)

    def stamp(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        out.props.update(_drawing_props(drawings[n]))
        return out

    return shell.std.ModifyFrame(kept, stamp)


def write_timecodes(clip: vs.VideoNode, path: str | PathLike[str]) -> None:
    """Write the start time of every frame of ``clip`` as a Matroska timecode v2 file.

    | parameter | type | meaning |
    |---|---|---|
    | `clip` | vs.VideoNode | any clip; durations come from `_DurationNum`/`_DurationDen`, else from ``clip.fps`` |
    | `path` | str or PathLike | file to write (mkvmerge ``--timestamps 0:path``) |

    The text is the same as ``vspipe --timecodes`` writes for the same clip.
    """
    text = format_timecodes_v2(frame_durations(clip))
    with open(path, "w", encoding="ascii") as out:
        out.write(text)
