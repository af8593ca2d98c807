"""``dedupe``: find the drawings of an animated clip and keep one frame per drawing."""

from __future__ import annotations

import weakref
from array import array
from dataclasses import dataclass
from fractions import Fraction
from os import PathLike

import numpy as np
import vapoursynth as vs

from .analysis import Timing, analysis_clip, remember
from .frames import check_constant, duration_of, frame_durations, frame_to_array, scan_frames, shared_duration
from ..analysis import DrawingCuts
from ..errors import BadOption, given_to
from ..layers import ChangeMaps
from ..noise import (LEVELS, Detection, aligned_difference, choose_settings, choose_tolerance, grain_level,
                     noise_threshold, pair_to_align)
from ..scenes import relative_scores
from ..timeline import Drawing, drawing_starts, format_timecodes_v2, group_drawings, resolve_threshold

__all__ = ["dedupe", "find_drawings", "frame_differences", "detection", "write_timecodes", "DEFAULT_THRESHOLD",
           "DEFAULT_TOLERANCE", "Passes", "passes_of", "reuse_passes"]

DEFAULT_TOLERANCE = 10
"""The least tolerance ``dedupe`` chooses, and the one it counts every pass at (8-bit code values)."""
LUMA = (0.2126, 0.7152, 0.0722)
"""The weights of R, G and B in the luma the pass compares RGB clips by (BT.709)."""
DEFAULT_THRESHOLD = 0.0005
"""The threshold ``dedupe`` starts from (a share of the frame): raised above coding noise, lowered under it only where
a clip's small drawings stand apart from its held frames (:mod:`vsanimsplat.noise`)."""


@dataclass(frozen=True)
class _Cuts:
    """The scene cuts and change maps between the *candidate* drawings of a pass (the frames that differ from the
    one before in more than ``threshold`` pixels at the pass's least tolerance), as ``interpolate`` reads them."""

    threshold: int
    starts: array  # of int64: the candidates' first frames
    scores: array  # of float64
    marked: set[int]
    first_props: dict  # of the first frame's analysis picture
    changes: ChangeMaps

    def select(self, starts: list[int]) -> tuple[array, set[int], ChangeMaps] | None:
        """Scores, marked cuts and change maps between the drawings that begin at ``starts``, or None when these are
        not all candidates. Between two drawings, the pair of candidates that crosses into the later one counts:
        the candidates in between repeat the earlier drawing."""
        index = {start: i for i, start in enumerate(self.starts)}
        if any(start not in index for start in starts):
            return None
        crossing = [index[start] - 1 for start in starts[1:]]
        group = {pair: sum(1 for start in starts[1:] if index[start] <= pair) for pair in self.marked}
        return (array("d", (self.scores[i] for i in crossing)), set(group.values()) - {len(starts) - 1},
                self.changes.select(crossing))


@dataclass(frozen=True)
class _Analysis:
    """What one pass over a clip learns: differing pixels to the next frame at each counted tolerance, the mean
    absolute difference (luma, 8-bit code values), the timing of every frame, the scene cuts between its
    candidate drawings (None for ``find_drawings``), and the quiet pair's difference with its motion put back
    (:func:`~vsanimsplat.noise.aligned_difference`; None where :func:`~vsanimsplat.noise.pair_to_align` needs none).
    The numbers of every frame are kept in arrays of machine numbers, the durations as shared
    :class:`~fractions.Fraction` objects (:func:`~.frames.duration_of`): a few dozen bytes a frame."""

    diff_counts: dict[int, array]  # of int32 ('i')
    mean_differences: array  # of float64 ('d')
    durations: list[Fraction]
    holds: array  # of int32
    source_frames: array  # of int32
    cuts: _Cuts | None
    luma_counts: dict[int, array] | None = None  # luma's own counts where diff_counts add chroma's (YUV, chroma=True)
    aligned: float | None = None

    @property
    def grain(self) -> float:
        """The clip's grain level (:func:`~vsanimsplat.noise.grain_level`)."""
        return grain_level(self.mean_differences, self.aligned)


Passes = dict[tuple, _Analysis]
"""What the passes over one clip learnt, per comparison settings: picklable, to hand to another process."""

# One analysis per clip object and comparison settings; entries die with the clip.
_analyses: weakref.WeakKeyDictionary[vs.VideoNode, Passes] = weakref.WeakKeyDictionary()


def passes_of(clip: vs.VideoNode) -> Passes:
    """What :func:`dedupe`'s passes over ``clip`` learnt (empty when none was made), for :func:`reuse_passes`."""
    return dict(_analyses.get(clip, {}))


def reuse_passes(clip: vs.VideoNode, passes: Passes) -> None:
    """Let :func:`dedupe` use ``passes`` (:func:`passes_of` of a clip of the same frames, e.g. the same source
    opened in another process) for ``clip`` instead of reading it again. :class:`~vsanimsplat.errors.BadOption` if
    they describe another number of frames."""
    for analysis in passes.values():
        if len(analysis.durations) != clip.num_frames:
            raise BadOption("filters.dedupe.reuse_passes", "passes",
                            f"the passes describe {len(analysis.durations)} frames, but the "
                            f"clip has {clip.num_frames}")
    _analyses.setdefault(clip, {}).update(passes)


def _error(parameter: str, reason: str) -> BadOption:
    """A bad option of :func:`dedupe` (the other functions here check their arguments as it does)."""
    return BadOption("dedupe", parameter, reason)


def _check_clip(clip: vs.VideoNode, name: str = "clip") -> None:
    if not isinstance(clip, vs.VideoNode):
        raise _error(name, f"{name} must be a vapoursynth.VideoNode, got {type(clip).__name__}")
    check_constant(clip, "dedupe", name)
    if clip.format.sample_type != vs.INTEGER:
        raise _error(name, f"{name} must be an integer format (8–16 bit); float formats are not supported, got {clip.format.name}")
    if clip.num_frames < 1:
        raise _error(name, f"{name} has no frames")


def _difference_stats(clip: vs.VideoNode, levels: list[int],
                      chroma: bool) -> tuple[vs.VideoNode, list[tuple[int, str, int, int]]]:
    """A clip whose frames say how frame ``n`` differs from ``n + 1``: the mean absolute difference of luma
    (``MAverage``) and, per tolerance of ``levels``, a mask frame (prop ``D<tolerance>``) whose ``P<plane>Average``
    is the share of the compared plane's samples that differ by more than it.

    Returns the stats clip and, per count, (tolerance, prop, plane, samples each mask sample stands for).
    """
    fmt = clip.format
    scale = 1 << (fmt.bits_per_sample - 8)
    following = clip[1:] + clip[-1] if clip.num_frames > 1 else clip
    if fmt.color_family == vs.RGB:
        planes = [c.std.ShufflePlanes(p, vs.GRAY) for c in (clip, following) for p in range(3)]
        red, green, blue = LUMA
        luma = f"x a - {red} * y b - {green} * + z c - {blue} * + abs"
        gray = vs.core.query_video_format(vs.GRAY, vs.INTEGER, fmt.bits_per_sample, 0, 0)
        stats = vs.core.std.Expr(planes, luma, format=gray.id).std.PlaneStats(prop="M")
        counts = []
        for level in levels:
            differs = f"abs {level * scale} > "
            expr = (f"x a - {differs} y b - {differs} or z c - {differs} or 255 0 ?" if chroma
                    else f"{luma} {level * scale} > 255 0 ?")
            mask = vs.core.std.Expr(planes, expr, format=vs.GRAY8)
            stats = stats.std.ClipToProp(mask.std.PlaneStats(prop="P0"), prop=f"D{level}")
            counts.append((level, f"D{level}", 0, 1))
        return stats, counts
    compared = range(fmt.num_planes) if chroma else [0]
    mask_format = vs.core.query_video_format(fmt.color_family, vs.INTEGER, 8, fmt.subsampling_w, fmt.subsampling_h)
    stats = vs.core.std.Expr([clip, following], ["x y - abs"] + ["0"] * (fmt.num_planes - 1)).std.PlaneStats(prop="M")
    counts = []
    for level in levels:
        expr = [f"x y - abs {level * scale} > 255 0 ?" if p in compared else "0" for p in range(fmt.num_planes)]
        mask = vs.core.std.Expr([clip, following], expr, format=mask_format.id)
        for p in compared:
            mask = mask.std.PlaneStats(plane=p, prop=f"P{p}")
            counts.append((level, f"D{level}", p, 1 if p == 0 else 1 << (fmt.subsampling_w + fmt.subsampling_h)))
        stats = stats.std.ClipToProp(mask, prop=f"D{level}")
    return stats, counts


def _luma(frame: vs.VideoFrame) -> np.ndarray:
    """A frame's luma in 8-bit code values (float32; of RGB, weighted as the pass weighs it)."""
    fmt = frame.format
    planes = [np.asarray(frame[p], dtype=np.float32) for p in range(fmt.num_planes if fmt.color_family == vs.RGB else 1)]
    luma = sum(weight * plane for weight, plane in zip(LUMA, planes)) if len(planes) == 3 else planes[0]
    return luma / (1 << (fmt.bits_per_sample - 8))


def _plane_area(clip: vs.VideoNode, plane: int) -> int:
    if plane == 0:
        return clip.width * clip.height
    fmt = clip.format
    return (clip.width >> fmt.subsampling_w) * (clip.height >> fmt.subsampling_h)


def _levels(tolerance: int | None) -> list[int]:
    """The tolerances a pass counts at: the given one, or those ``dedupe`` chooses from."""
    return [tolerance] if tolerance is not None else [DEFAULT_TOLERANCE * level for level in LEVELS]


def _analyse(clip: vs.VideoNode, tolerance: int | None, chroma: bool, progress: bool | None,
             limit: int | None = None) -> _Analysis:
    """The pass over ``clip`` for ``tolerance`` (None: the levels ``dedupe`` chooses from) and ``chroma``, cached;
    a new pass also scores the scene cuts between its candidate drawings (more than ``limit`` pixels differ at the
    least tolerance), reading each frame once for all, and the two frames of the quiet pair again where their
    difference would raise the tolerance (:func:`~vsanimsplat.noise.pair_to_align`)."""
    key = (tolerance, chroma)
    cached = _analyses.get(clip, {}).get(key)
    if cached is not None:
        return cached
    levels = _levels(tolerance)
    stats, readers = _difference_stats(clip, levels, chroma)
    sizes = [_plane_area(clip, plane) for _, _, plane, _ in readers]
    counts = {level: array("i") for level in levels}
    separate = len({plane for _, _, plane, _ in readers}) > 1  # chroma planes counted beside luma
    luma = {level: array("i") for level in levels}
    means, durations, holds, sources, first = array("d"), [], array("i"), array("i"), {}
    scenes = DrawingCuts(limit) if limit is not None else None
    if scenes is not None:
        stats = stats.std.ClipToProp(analysis_clip(clip), prop="AnimSplat_Analysis")

    def visit(n: int, frame: vs.VideoFrame) -> None:
        props = frame.props
        differing = dict.fromkeys(levels, 0)
        for (level, prop, plane, scale), area in zip(readers, sizes):
            count = round(props[prop].props[f"P{plane}Average"] * area) * scale
            differing[level] += count
            if separate and plane == 0:
                luma[level].append(count)
        for level, count in differing.items():
            counts[level].append(count)
        means.append(255 * props["MAverage"])
        durations.append(duration_of(props, clip, n, "dedupe"))
        holds.append(int(props.get("AnimSplat_Hold", 1)))
        sources.append(int(props.get("AnimSplat_SourceFrame", n)))
        if scenes is not None:
            picture = props["AnimSplat_Analysis"]
            if n == 0:
                first.update(picture.props)
            scenes.add(counts[levels[0]][-1], lambda: frame_to_array(picture), bool(props.get("_SceneChangeNext", 0)),
                       bool(props.get("_SceneChangePrev", 0)))

    scan_frames(stats, visit, "finding drawings", progress)
    cuts = None if scenes is None else _Cuts(limit, scenes.starts, scenes.cuts.scores, scenes.cuts.marked, first,
                                             scenes.cuts.changes)
    pairs = means[:-1]
    quiet = pair_to_align(pairs, DEFAULT_TOLERANCE)  # read again, where the grain would raise the tolerance
    aligned = None if quiet is None else aligned_difference(_luma(clip.get_frame(quiet)), _luma(clip.get_frame(quiet + 1)))
    result = _Analysis({level: values[:-1] for level, values in counts.items()}, pairs, durations, holds, sources,
                       cuts, {level: values[:-1] for level, values in luma.items()} if separate else None, aligned)
    _analyses.setdefault(clip, {})[key] = result
    return result


def dedupe(
    clip: vs.VideoNode,
    threshold: int | float | None = None,
    tolerance: int | None = None,
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
    | `threshold` | int, float or None | None | most differing pixels that still count as the same drawing: an ``int`` is a pixel count (``0 … width×height``), a ``float`` a fraction of the frame (``0.0 … 1.0``). ``0`` with ``tolerance=0`` keeps every frame that differs at all. None: 0.0005 (:data:`DEFAULT_THRESHOLD`), raised above the clip's coding noise, or lowered (to 0.0001 at least) under it where small drawings stand apart from the held frames |
    | `tolerance` | int or None | None | a pixel differs when its value changes by more than this, in 8-bit code values (``0 … 255``, scaled to the clip's bit depth). None: 10, 20 or 30 (:data:`DEFAULT_TOLERANCE` × 1, 2, 3), the least that is well above the clip's grain, or above coding noise that no gap parts from the drawings |
    | `chroma` | bool | False | also compare the chroma planes of YUV clips (a subsampled chroma sample counts for the pixels it covers); RGB clips compare BT.709 luma, or with ``chroma=True`` all three channels (a pixel differs when any channel does) |
    | `progress` | bool or None | None | show a progress bar on stderr during analysis; ``None`` shows it for clips of 500+ frames when stderr is a terminal |

    Why these defaults: lossy encodes never repeat a frame exactly, and grain changes every pixel. The pass
    measures both (:mod:`vsanimsplat.noise`, :func:`detection`): the tolerance rises above dense grain (the quietest
    pairs' difference, less what a pan explains where no frame is held), and the
    threshold into the first wide gap between the clip's quiet pairs (a held drawing re-coded) and its new
    drawings, from 0.05 % of the frame (100 pixels at 520×380, 1037 at 1920×1080), which keeps a
    blinking eye or a moving mouth. Where no such gap parts quiet, faint pairs from the drawings, the tolerance
    rises to the next level at which one does. Where the threshold stays at 0.05 % but a wide gap under it parts the
    held frames from small drawings whose lines change by much (tiny or slow shapes at 1080p), it is lowered into that
    gap, never under 0.01 %. Given values are used as they are
    (see ``benchmarks/analysis.md`` and ``benchmarks/dedupe.md``).

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
    drawings, cuts, _ = _find(clip, threshold, tolerance, chroma, progress, scenes=True)
    kept = _Kept.of(drawings)
    out = _drawings_clip(clip, [d.first for d in drawings], kept)
    selected = None if cuts is None else cuts.select([d.first for d in drawings])
    if selected is not None:
        scores, marked, changes = selected
        remember(out, Timing(kept.durations, kept.holds, kept.sources, marked, relative_scores(scores),
                             {**cuts.first_props, **kept.props(0)}, changes, Fraction(clip.fps)))
    return out


def find_drawings(
    clip: vs.VideoNode,
    threshold: int | float | None = None,
    tolerance: int | None = None,
    chroma: bool = False,
    progress: bool | None = None,
) -> list[Drawing]:
    """The drawings of ``clip`` with their exact timing, as :func:`dedupe` finds them (same parameters)."""
    return _find(clip, threshold, tolerance, chroma, progress, scenes=False)[0]


def detection(
    clip: vs.VideoNode,
    threshold: int | float | None = None,
    tolerance: int | None = None,
    chroma: bool = False,
    progress: bool | None = None,
) -> Detection:
    """The tolerance and threshold :func:`dedupe` uses on ``clip`` with these parameters (the same), and the grain and
    coding noise it measured (:class:`~vsanimsplat.noise.Detection`), from the same cached pass."""
    return _find(clip, threshold, tolerance, chroma, progress, scenes=False)[2]


def frame_differences(
    clip: vs.VideoNode,
    tolerance: int | None = None,
    chroma: bool = False,
    progress: bool | None = None,
) -> list[int]:
    """The score :func:`dedupe` compares with its threshold: ``[i]`` = pixels that differ between frame ``i`` and
    ``i + 1`` of ``clip`` (``num_frames − 1`` of them) by more than the tolerance ``dedupe`` uses
    (:func:`detection`), from the pass ``dedupe``/:func:`find_drawings` made with the same ``tolerance`` and
    ``chroma`` (read once and cached per clip).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `clip` | vs.VideoNode | | as :func:`dedupe`'s |
    | `tolerance`, `chroma`, `progress` | | | as :func:`dedupe`'s |
    """
    _check_clip(clip)
    _check_tolerance(tolerance)
    analysis = _analyse(clip, tolerance, bool(chroma), progress)
    area = clip.width * clip.height
    return list(analysis.diff_counts[_settings(analysis, tolerance, None, resolve_threshold(DEFAULT_THRESHOLD, area),
                                               area)[0]])


def _check_tolerance(tolerance: int | None) -> None:
    if tolerance is not None and (isinstance(tolerance, bool) or not isinstance(tolerance, int)
                                  or not 0 <= tolerance <= 255):
        raise _error("tolerance", f"tolerance must be None (chosen from the clip's grain) or an int within 0 … 255 "
                                  f"(8-bit code values), got {tolerance!r}")


def _settings(analysis: _Analysis, tolerance: int | None, given: int | None, least: int,
              area: int) -> tuple[int, int, int]:
    """The tolerance, threshold and largest count taken for coding noise: as given, else chosen from the pass
    (:func:`~vsanimsplat.noise.choose_settings`; with a given threshold, the tolerance the grain asks for)."""
    means = analysis.mean_differences
    if tolerance is None and given is None:
        return choose_settings(analysis.diff_counts, means, least, area, analysis.luma_counts, analysis.aligned)
    used = tolerance if tolerance is not None else choose_tolerance(DEFAULT_TOLERANCE, analysis.grain)
    if given is not None:
        return used, given, 0
    return (used, *noise_threshold(analysis.diff_counts[used], means, least, area, grain=analysis.grain))


def _find(clip: vs.VideoNode, threshold: int | float | None, tolerance: int | None, chroma: bool,
          progress: bool | None, scenes: bool) -> tuple[list[Drawing], _Cuts | None, Detection]:
    """The drawings; with ``scenes``, the cuts the pass that found them scored between its candidates (else None);
    and the settings used."""
    _check_clip(clip)
    _check_tolerance(tolerance)
    area = clip.width * clip.height
    with given_to("dedupe"):
        given = None if threshold is None else resolve_threshold(threshold, area)
    least = resolve_threshold(DEFAULT_THRESHOLD, area) if given is None else given
    analysis = _analyse(clip, tolerance, bool(chroma), progress, least if scenes else None)
    used, limit, noise = _settings(analysis, tolerance, given, least, area)
    settings = Detection(used, limit, analysis.grain, noise,
                         tolerance is None, threshold is None)
    drawings = group_drawings(drawing_starts(analysis.diff_counts[used], limit), analysis.durations, analysis.holds,
                              analysis.source_frames)
    return drawings, analysis.cuts if scenes else None, settings


@dataclass(frozen=True)
class _Kept:
    """The timing of every drawing ``dedupe`` keeps, as its output clip carries it for as long as it lives: arrays of
    machine numbers and shared durations (no Python object per drawing)."""

    durations: list[Fraction]  # shared objects (frames.shared_duration)
    holds: array  # of int64
    sources: array  # of int64: the first source frame
    starts: array  # of float64: seconds

    @classmethod
    def of(cls, drawings: list[Drawing]) -> _Kept:
        """The timing of ``drawings``."""
        return cls([shared_duration(d.duration.numerator, d.duration.denominator) for d in drawings],
                   array("q", (d.hold for d in drawings)), array("q", (d.source_first for d in drawings)),
                   array("d", (float(d.start) for d in drawings)))

    def props(self, n: int) -> dict[str, int | float]:
        """The props ``dedupe`` gives the output frame of drawing ``n``."""
        return {"_DurationNum": self.durations[n].numerator, "_DurationDen": self.durations[n].denominator,
                "_AbsoluteTime": self.starts[n], "AnimSplat_SourceFrame": self.sources[n],
                "AnimSplat_Hold": self.holds[n]}


def _drawings_clip(clip: vs.VideoNode, firsts: list[int], kept: _Kept) -> vs.VideoNode:
    """One frame per drawing (``firsts``: their first frames), with its timing props."""
    starts = set(firsts)
    frames = clip.std.DeleteFrames([n for n in range(clip.num_frames) if n not in starts]) if len(starts) < clip.num_frames else clip
    durations = set(kept.durations)
    fps = 1 / durations.pop() if len(durations) == 1 else Fraction(0)
    shell = vs.core.std.BlankClip(frames, fpsnum=fps.numerator, fpsden=fps.denominator)

    def stamp(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        out.props.update(kept.props(n))
        return out

    return shell.std.ModifyFrame(frames, stamp)


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
