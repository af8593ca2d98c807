"""How much a clip's frames differ when nothing was redrawn, and the drawing-detection settings that see past it.

Lossy video never repeats a frame exactly, and grain changes every pixel of every frame. ``dedupe`` measures both
in its one pass over the clip and chooses, unless the user gives them, its ``tolerance`` and ``threshold`` from
them (plain Python; the pass itself is in :mod:`vsanimsplat.filters.dedupe`):

- **Grain** is dense: almost every pixel of a held frame moves by a few code values. Its level is the mean
  absolute difference of adjacent frames, taken at the :data:`GRAIN_QUANTILE` of the clip's pairs (held pairs
  are the quiet ones; a clip with any holds has them there). A clip with no held frame (a pan on ones) has a moving
  pair there, whose difference is motion, not grain: the level is therefore at most that pair's difference once
  what moves is put back (:func:`aligned_difference`), which leaves a held pair's as it is (a corpus case, a smooth
  background panning 5 px per frame under shapes on twos, lossless, read as grain 4.1 and lost half its drawings
  at the tolerance 30 that asked for; aligned, 1.6 and tolerance 10). The tolerance is the least of the measured levels
  (1, 2 and 3 × the least tolerance) that is at least :data:`GRAIN_MARGIN` × that level, so that a pixel of a
  held frame seldom passes it. A smooth background panning under grain changes its pixels by less than that
  tolerance: where a lower counted tolerance finds every drawing the higher one does and more, each added pair moving
  more than grain does (not :data:`QUIET`), the lower one is taken, with the threshold :data:`GAP` × the pixels grain
  of the measured level moves beyond it in a held pair (:func:`tolerance_under_grain`).
- **Coding noise** is sparse: a few dozen to a few hundred pixels near edges change by more than the tolerance
  when an encoder refines a held frame. Counted at the chosen tolerance, the pairs of a held drawing stay far
  below those of a new drawing. The threshold is raised into the first wide gap (:data:`GAP` × or more) in the
  clip's counts above the least threshold, up to :data:`NOISE_CAP` of the frame: to twice the largest count
  below the gap (or the gap's geometric middle, if lower), when the clip has held pairs (or, where x264 over grain
  re-codes every held frame in more pixels than the least threshold, the pairs so raised are :data:`FAINT` taken
  together, their differing pixels pooled: over grain a few of them may not be, each) and the pairs so raised are
  as still on average as its quiet ones (:data:`QUIET`). Noise that sits apart from the held pairs (a few refined
  frames of x265 over grain, many times the rest) leaves a first gap below the least threshold: past it, the next
  wide gap is taken when the pairs it raises are also :data:`FAINT`, that is most of their differing
  pixels change by little (counted again at the next tolerance level), as coding noise does and a new drawing's
  lines, lip flaps and blinks do not. Wherever the gap, pairs that are mostly :data:`FIRM` (nearly all their
  differing pixels change by much) and outnumber the pairs above the gap are small drawings, not noise: slow
  shapes over grain leave them below a few blinks' counts (a few firm pairs among many drawings are an encoder's
  re-coded frames). Firm is told one level further up where the pass counted one (the share at 30 of the pixels
  differing at 20, for the tolerance 10): grain leaves a third of a small drawing's differing pixels between 10 and
  20, and the lines beyond (a corpus case over grain σ = 4, x264 CRF 23, kept 2 of 21 drawings before this; 21
  after).
- **Small drawings under the least threshold.** Tiny or slow shapes at 1080p change fewer pixels than the least
  threshold (0.05 % of 1920×1080 is 1037). Where the threshold stays at the least, the clip's counts below it are
  looked at: the highest wide gap (:data:`GAP` ×) under the least, with every pair between it and the least
  :data:`FIRM` (their lines change by much, as drawings' do and coding noise's do not), takes the threshold into
  that gap (twice the count below it, or the gap's geometric middle if lower), never under :data:`SMALLEST` of the
  frame (:func:`small_drawings_threshold`). Any other clip keeps the least threshold.
- **Coding noise without a gap.** x264 over light grain re-codes held frames in hundreds of pixels by 10–30 code
  values, close enough to small drawings that no wide gap parts them at the tolerance the grain asks for. Where the
  threshold stays at the least there but the clip has held pairs, the least higher counted tolerance is taken at
  which every pair it drops is quiet and faint (as above), all of them count :data:`RISE` × fewer pixels than the
  pairs it keeps, and they continue the held pairs' counts with no wide gap (:data:`GAP`) between: a faint change
  apart from held frames that repeat exactly (a recoloured patch) is a drawing (:func:`choose_settings`).
- **Chroma counted too** (``dedupe(chroma=True)`` on YUV): firm and faint are told by luma's own counts. The soft
  edges of 4:2:0 chroma change by 10–20 code values, so a slow shape's chroma makes its pairs look faint and a gap
  below a blink would take them for coding noise (a corpus case kept 3 of 21 drawings before this; 19 after).

Measured on the tuning half of the generated corpus (:mod:`vsanimsplat.corpus`): held pairs of x264/x265 at
CRF 16–28 differ in at most 0.35 % of the frame at tolerance 10, held frames with grain of σ = 4 in 1.2 %
at tolerance 10 and 0.002 % at 20; new drawings differ in more than 1 % except for small or slow changes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["GRAIN_QUANTILE", "GRAIN_MARGIN", "GAP", "QUIET", "FAINT", "FIRM", "RISE", "NOISE_CAP", "SMALLEST", "LEVELS",
           "ALIGN_BLOCK", "ALIGN_GAIN", "ALIGN_REACH", "Detection", "quiet_pair", "pair_to_align", "aligned_difference",
           "grain_level", "choose_tolerance", "expected_grain_count", "tolerance_under_grain", "noise_threshold", "small_drawings_threshold", "choose_settings"]

GRAIN_QUANTILE = 0.2
"""The share of a clip's pairs whose mean absolute difference is at most its grain level."""
GRAIN_MARGIN = 5.0
"""The tolerance is at least this many times the grain level (about 4 standard deviations of the difference)."""
GAP = 4.0
"""Counts this many times apart (each plus one) are a gap between noise and drawings."""
QUIET = 1.0
"""Coding noise leaves a pair's mean absolute difference within this many code values of the clip's grain level (x264
over grain re-codes some held frames, its key frames, up to 0.6 above the quiet pairs; x264 over a textured pan
re-codes B-frames of a held drawing up to 0.8 above)."""
FAINT = 0.25
"""A pair is faint when at most this share of its differing pixels still differ at the next tolerance level."""
FIRM = 0.9
"""A pair is firm when more than this share of its differing pixels still differ at the next tolerance level."""
RISE = 1.5
"""A higher tolerance is taken only where the pairs it drops all count this many times fewer pixels than the pairs it
keeps, at the tolerance the grain asks for."""
NOISE_CAP = 0.005
"""Coding noise is looked for up to this share of the frame (0.5 %); above it, counts are drawings."""
SMALLEST = 0.0001
"""The threshold is never taken under the least threshold to less than this share of the frame (0.01 %)."""
LEVELS = (1, 2, 3)
"""The tolerances the pass counts at, as multiples of the least tolerance."""
ALIGN_BLOCK = 16
""":func:`aligned_difference` puts back what moves in blocks of this many pixels a side."""
ALIGN_GAIN = 0.2
""":func:`aligned_difference` takes a block for moved only where moving it removes at least this share of its difference
(grain alone varies a block's difference by a few per cent, which the least of three comparisons would take off)."""
ALIGN_REACH = 8
""":func:`aligned_difference` looks for pans of up to 1/this of the frame's shorter side per frame."""


@dataclass(frozen=True)
class Detection:
    """The settings drawing detection used on a clip, and what it measured.

    | field | type | meaning |
    |---|---|---|
    | `tolerance` | int | a pixel differs when a value changes by more than this (8-bit code values) |
    | `threshold` | int | the most differing pixels between frames of one drawing |
    | `grain` | float | the clip's grain level: mean absolute difference of its quiet pairs, pans put back (8-bit code values; :func:`grain_level`) |
    | `noise` | int | the largest count of differing pixels taken for coding noise (0 when none was) |
    | `tolerance_chosen`, `threshold_chosen` | bool | whether each was chosen from the measurements (else given) |
    """

    tolerance: int
    threshold: int
    grain: float
    noise: int
    tolerance_chosen: bool
    threshold_chosen: bool

    def lines(self, area: int) -> list[str]:
        """Human-readable lines for a frame of ``area`` pixels."""
        noise = f"coding noise up to {self.noise} px ({100 * self.noise / area:.2f} %)" if self.noise else "no coding noise above the least threshold"
        return [f"noise: grain {self.grain:.1f} code values (mean difference of the quiet pairs, pans put back), {noise}",
                f"detection: tolerance {self.tolerance} ({'chosen' if self.tolerance_chosen else 'given'}), "
                f"threshold {self.threshold} px = {100 * self.threshold / area:.3f} % of the frame "
                f"({'chosen' if self.threshold_chosen else 'given'})"]


def quiet_pair(mean_differences: Sequence[float]) -> int:
    """The pair at the :data:`GRAIN_QUANTILE` of the clip's mean absolute differences (its index; at least one pair)."""
    ordered = sorted(range(len(mean_differences)), key=lambda j: (mean_differences[j], j))
    return ordered[min(len(ordered) - 1, int(GRAIN_QUANTILE * len(ordered)))]


def pair_to_align(mean_differences: Sequence[float], least: int) -> int | None:
    """The :func:`quiet_pair` whose :func:`aligned_difference` :func:`grain_level` needs, or None where none is needed:
    where its plain difference asks for the least tolerance ``least`` already, putting a pan back changes nothing
    that costs a drawing (and the clip's frames are read only once)."""
    if not mean_differences:
        return None
    quiet = quiet_pair(mean_differences)
    return quiet if choose_tolerance(least, mean_differences[quiet]) > least else None


def _pans(a: np.ndarray, b: np.ndarray, reach: int, count: int) -> list[tuple[float, float]]:
    """The ``count`` strongest global shifts ``(dy, dx)`` of ``b`` onto ``a`` within ``reach`` pixels, other than none:
    peaks of their phase correlation, each at least 3 pixels from the others, to a fraction of a pixel
    (from the peak's neighbours, as a shift between the pixels spreads it)."""
    cross = np.fft.rfft2(a - a.mean()) * np.conj(np.fft.rfft2(b - b.mean()))
    surface = np.fft.irfft2(cross / (np.abs(cross) + 1e-9), s=a.shape)
    height, width = surface.shape
    near = np.full(surface.shape, -np.inf)
    rows, columns = np.r_[0:reach + 1, height - reach:height], np.r_[0:reach + 1, width - reach:width]
    near[np.ix_(rows, columns)] = 0.0
    near[0, 0] = -np.inf  # none: the unmoved comparison
    searched = surface + near
    pans = []
    for _ in range(count):
        dy, dx = (int(v) for v in np.unravel_index(int(np.argmax(searched)), surface.shape))
        searched[np.ix_(np.arange(dy - 2, dy + 3) % height, np.arange(dx - 2, dx + 3) % width)] = -np.inf
        peak = surface[dy, dx]
        offsets = []
        for before, after in ((surface[dy - 1, dx], surface[(dy + 1) % height, dx]),
                              (surface[dy, dx - 1], surface[dy, (dx + 1) % width])):
            side, sign = (after, 1.0) if after > before else (before, -1.0)
            offsets.append(sign * side / (side + peak) if side > 0 and peak > 0 else 0.0)
        pans.append(((dy - height if dy > height // 2 else dy) + offsets[0],
                     (dx - width if dx > width // 2 else dx) + offsets[1]))
    return pans


def _moved(spectrum: np.ndarray, shape: tuple[int, int], shift: tuple[float, float]) -> np.ndarray:
    """The picture whose :func:`numpy.fft.rfft2` is ``spectrum`` moved by ``shift`` (rows, columns; any fraction of a
    pixel, wrapping round)."""
    rows = np.fft.fftfreq(shape[0])[:, None]
    columns = np.fft.rfftfreq(shape[1])[None, :]
    return np.fft.irfft2(spectrum * np.exp(-2j * np.pi * (rows * shift[0] + columns * shift[1])), s=shape)


def aligned_difference(a: np.ndarray, b: np.ndarray) -> float:
    """The mean absolute difference of two pictures once what moves between them is put back.

    | parameter | type | meaning |
    |---|---|---|
    | `a`, `b` | 2-D arrays of one shape | luma of two adjacent frames, in 8-bit code values |

    Every :data:`ALIGN_BLOCK`-pixel block of ``a`` (away from a border as wide as the largest shift) is compared with
    ``b`` unmoved and moved by each of the two strongest global shifts between them (up to 1/:data:`ALIGN_REACH` of
    the shorter side, to a fraction of a pixel). A block is taken for moved where a shift removes at least
    :data:`ALIGN_GAIN` of its difference. The plain mean absolute difference is scaled by the share of the blocks'
    difference left so: a held frame's blocks keep their grain (the plain mean, exactly, where no block moved), a
    panning background's lose the pan, and shapes held over it stay put.
    """
    a, b = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    plain = float(np.abs(a - b).mean())
    height, width = a.shape
    reach = min(height, width) // ALIGN_REACH
    shifts = _pans(a, b, reach, 2) if reach else []
    border = math.ceil(max((max(abs(dy), abs(dx)) for dy, dx in shifts), default=0)) + 1
    rows = (height - 2 * border) // ALIGN_BLOCK * ALIGN_BLOCK
    columns = (width - 2 * border) // ALIGN_BLOCK * ALIGN_BLOCK
    if not shifts or rows <= 0 or columns <= 0:
        return plain
    inner = (slice(border, border + rows), slice(border, border + columns))
    spectrum = np.fft.rfft2(b)
    unmoved, *moved = [np.abs(a[inner] - (b if shift is None else _moved(spectrum, b.shape, shift))[inner]).reshape(
        rows // ALIGN_BLOCK, ALIGN_BLOCK, columns // ALIGN_BLOCK, ALIGN_BLOCK).mean(axis=(1, 3))
        for shift in [None, *shifts]]
    least = np.min(moved, axis=0)
    kept = np.where(least < (1 - ALIGN_GAIN) * unmoved, least, unmoved)
    total = float(unmoved.sum())
    return plain * float(kept.sum()) / total if total else plain


def grain_level(mean_differences: Sequence[float], aligned: float | None = None) -> float:
    """The grain level of a clip (8-bit code values; 0.0 for no pairs).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `mean_differences` | sequence of float | | every pair's mean absolute difference |
    | `aligned` | float or None | None | the :func:`quiet_pair`'s :func:`aligned_difference` (None: not measured) |

    The mean absolute difference of the :func:`quiet_pair`, or ``aligned`` where that is less.
    """
    if not mean_differences:
        return 0.0
    quiet = float(mean_differences[quiet_pair(mean_differences)])
    return quiet if aligned is None else min(quiet, aligned)


def choose_tolerance(least: int, grain: float) -> int:
    """The least of ``least × LEVELS`` that is at least :data:`GRAIN_MARGIN` × ``grain`` (else the largest)."""
    levels = [least * level for level in LEVELS]
    return next((level for level in levels if level >= GRAIN_MARGIN * grain), levels[-1])


def _share(stronger: int, own: int) -> float:
    """The share of a pair's differing pixels that still differ at the next tolerance level; 1.0 (firm) where none
    differ at this one (a change of chroma alone, judged by luma's counts, shows nothing faint)."""
    return stronger / own if own else 1.0


def noise_threshold(counts: Sequence[int], mean_differences: Sequence[float], least: int,
                    area: int, stronger: Sequence[int] | None = None, own: Sequence[int] | None = None,
                    firmer: tuple[Sequence[int], Sequence[int]] | None = None,
                    grain: float | None = None) -> tuple[int, int]:
    """The threshold that puts a clip's coding noise below it, and the largest count taken for noise.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `counts` | sequence of int | | differing pixels of every pair of adjacent frames |
    | `mean_differences` | sequence of float | | every pair's mean absolute difference (8-bit code values) |
    | `least` | int | | the least threshold (pixels) |
    | `area` | int | | pixels per frame |
    | `stronger` | sequence of int or None | None | every pair's differing pixels at the next tolerance level (None: not counted; then no gap past the first is looked at) |
    | `own` | sequence of int or None | None | what ``stronger`` is compared with to tell firm from faint: the same kind of count at this level (None: ``counts``; luma's own counts where ``counts`` add chroma's, whose soft 4:2:0 edges would read as faint) |
    | `firmer` | pair of sequences of int, or None | None | the counts one level further up and ``stronger``'s own kind of count, for telling firm pairs only (None: ``stronger`` and ``own``): grain spreads a small drawing's differing pixels at a low tolerance, so that its pairs read as firm only a level higher |
    | `grain` | float or None | None | the clip's grain level (None: :func:`grain_level` of ``mean_differences``) |

    See the module docstring. The counts below the gap are taken for noise only when the clip has a held pair
    (a count at most ``least``), or the pairs they raise are :data:`FAINT` taken together (x264 over grain can re-code
    every held frame in more pixels than ``least``), and every pair they raise above is :data:`QUIET`: as still on
    average as the clip's quiet pairs (a fade, a slow pan of a smooth background or a clip on ones is not), they are
    not mostly :data:`FIRM` while outnumbering the pairs above the gap, and, past a first gap that raises nothing,
    every one is :data:`FAINT`. Returns ``(least, 0)`` when the counts show no such gap.
    """
    if not counts:
        return least, 0
    unheld = min(counts) > least  # x264 over grain re-codes every held frame in more pixels than the least
    if unheld and stronger is None:
        return least, 0
    cap = NOISE_CAP * area
    calm = (grain_level(mean_differences) if grain is None else grain) + QUIET
    values = sorted(set(counts))
    past_first = False
    for low, high in zip(values, values[1:]):
        if low > cap:
            break
        if high <= least or high + 1 < GAP * (low + 1):
            continue
        if low <= least:  # the held pairs' own gap: look further only where faintness can be told
            if stronger is None:
                return least, 0
            past_first = True
            continue
        raised = [j for j, count in enumerate(counts) if least < count <= low]
        if any(mean_differences[j] > calm for j in raised):
            return least, 0
        if stronger is not None:
            compared = counts if own is None else own
            shares = sorted(_share(stronger[j], compared[j]) for j in raised)
            pooled = _share(sum(stronger[j] for j in raised), sum(compared[j] for j in raised))
            firm = shares if firmer is None else sorted(
                _share(firmer[0][j], firmer[1][j]) if firmer[1][j] else _share(stronger[j], compared[j]) for j in raised)
            above = sum(count >= high for count in counts)
            if ((firm[len(firm) // 2] > FIRM and len(raised) > above) or (past_first and shares[-1] > FAINT)
                    or (unheld and pooled > FAINT)):
                return least, 0
        return max(least, min(2 * low, int(math.sqrt(low * high)))), low
    return least, 0


def small_drawings_threshold(counts: Sequence[int], stronger: Sequence[int], least: int, area: int,
                             own: Sequence[int] | None = None) -> int:
    """The threshold under ``least`` that parts a clip's held pairs from its small drawings, else ``least``.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `counts` | sequence of int | | differing pixels of every pair of adjacent frames |
    | `stronger` | sequence of int | | every pair's differing pixels at the next tolerance level |
    | `least` | int | | the least threshold (pixels) |
    | `area` | int | | pixels per frame |
    | `own` | sequence of int or None | None | what ``stronger`` is compared with to tell firm pairs (as :func:`noise_threshold`'s) |

    The highest wide gap (:data:`GAP` ×) in the counts at most ``least``, where every pair between it and ``least``
    is :data:`FIRM`: twice the count below the gap, or the gap's geometric middle if lower, at least :data:`SMALLEST`
    of the frame (and never above ``least``).
    """
    compared = counts if own is None else own
    values = sorted({count for count in counts if count <= least})
    for low, high in reversed(list(zip(values, values[1:]))):
        if high + 1 < GAP * (low + 1):
            continue
        if any(_share(stronger[j], compared[j]) <= FIRM for j, count in enumerate(counts) if low < count <= least):
            return least
        return min(least, max(int(SMALLEST * area), min(2 * low, int(math.sqrt(low * high)))))
    return least


def expected_grain_count(grain: float, tolerance: int, area: int) -> float:
    """How many pixels of a held pair grain of level ``grain`` (:func:`grain_level`) moves by more than ``tolerance``
    code values, in a frame of ``area`` pixels: the difference of two frames' grain taken for normal, its standard
    deviation √(π/2) × its mean absolute difference, rounded to whole code values (more than ``tolerance`` is at
    least ``tolerance + 1``)."""
    if grain <= 0:
        return 0.0
    return area * math.erfc((tolerance + 0.5) / (grain * math.sqrt(math.pi)))


def tolerance_under_grain(lower: Sequence[int], used: Sequence[int], limit: int, mean_differences: Sequence[float],
                          level: int, least: int, area: int, grain: float) -> int | None:
    """The threshold at a tolerance ``level`` under the one the grain asks for, where that level finds more drawings
    and loses none; else None.

    | parameter | type | meaning |
    |---|---|---|
    | `lower` | sequence of int | every pair's differing pixels at ``level`` |
    | `used` | sequence of int | every pair's differing pixels at the tolerance the grain asks for (:func:`choose_tolerance`) |
    | `limit` | int | the threshold chosen there |
    | `mean_differences` | sequence of float | every pair's mean absolute difference (8-bit code values) |
    | `level`, `least`, `area`, `grain` | int, int, int, float | the tolerance tried, the least threshold, pixels per frame, :func:`grain_level` |

    A smooth background panning under grain changes its pixels by less than the tolerance the grain asks for, and
    its frames merge (a corpus case over grain σ 4, lossless, kept 16 of 48). At a lower tolerance grain moves
    :func:`expected_grain_count` pixels of a held pair: the threshold there is :data:`GAP` × that (at least
    ``least``, at most :data:`NOISE_CAP` of the frame), taken where every drawing found at the higher tolerance is
    found and every pair it adds is not :data:`QUIET` (moves more than grain: a held pair's mean difference is the
    grain's).
    """
    threshold = max(least, math.ceil(GAP * expected_grain_count(grain, level, area)))
    if threshold > NOISE_CAP * area:
        return None
    found = {j for j, count in enumerate(used) if count > limit}
    here = {j for j, count in enumerate(lower) if count > threshold}
    added = here - found
    if found <= here and added and all(mean_differences[j] > grain + QUIET for j in added):
        return threshold
    return None


def choose_settings(counts: Mapping[int, Sequence[int]], mean_differences: Sequence[float], least: int,
                    area: int, luma: Mapping[int, Sequence[int]] | None = None,
                    aligned: float | None = None) -> tuple[int, int, int]:
    """The tolerance, the threshold and the largest count taken for coding noise that ``dedupe`` chooses for a clip.

    | parameter | type | meaning |
    |---|---|---|
    | `counts` | mapping of int to sequence of int | per counted tolerance (``least tolerance × LEVELS``), every pair's differing pixels |
    | `mean_differences` | sequence of float | every pair's mean absolute difference (8-bit code values) |
    | `least` | int | the least threshold (pixels) |
    | `area` | int | pixels per frame |
    | `luma` | mapping of int to sequence of int, or None | luma's own counts where ``counts`` add chroma's: firm and faint are told by them (None: by ``counts``) |
    | `aligned` | float or None | the quiet pair's :func:`aligned_difference`, for :func:`grain_level` (None: not measured) |

    The tolerance the grain asks for (:func:`choose_tolerance`) and the threshold above its coding noise
    (:func:`noise_threshold`, with the next level's counts), or a lower counted tolerance where
    :func:`tolerance_under_grain` gives one (the lowest); where that threshold stays at the least while the clip
    has held pairs, the least higher tolerance whose threshold drops only pairs that are quiet, faint,
    :data:`RISE` × below every pair it keeps and in one run with the held pairs' counts (see the module docstring);
    where the threshold stays at the least after all, :func:`small_drawings_threshold` under it.
    """
    levels = sorted(counts)
    grain = grain_level(mean_differences, aligned)
    calm = grain + QUIET
    firm = counts if luma is None else luma

    def at(level: int) -> tuple[int, int]:
        above = [higher for higher in levels if higher > level]
        return noise_threshold(counts[level], mean_differences, least, area, firm[above[0]] if above else None,
                               firm[level], (firm[above[1]], firm[above[0]]) if len(above) > 1 else None, grain)

    used = choose_tolerance(levels[0], grain)
    limit, noise = at(used)
    for level in (lower_level for lower_level in levels if lower_level < used):
        below = tolerance_under_grain(counts[level], counts[used], limit, mean_differences, level, least, area, grain)
        if below is not None:
            return level, below, 0
    lower = counts[used]
    if noise or not any(count <= limit for count in lower):
        return used, limit, noise
    for level in (higher for higher in levels if higher > used):
        raised, _ = at(level)
        drawn = [j for j, count in enumerate(lower) if count > limit]
        dropped = [j for j in drawn if counts[level][j] <= raised]
        kept = [j for j in drawn if counts[level][j] > raised]
        tail = sorted([count for count in lower if count <= limit] + [lower[j] for j in dropped])
        if (dropped and kept and all(mean_differences[j] <= calm and _share(firm[level][j], firm[used][j]) <= FAINT
                                     for j in dropped)
                and RISE * max(lower[j] for j in dropped) <= min(lower[j] for j in kept)
                and all(high <= limit or high + 1 < GAP * (low + 1) for low, high in zip(tail, tail[1:]))):
            return level, raised, max(counts[level][j] for j in dropped)
    stronger = [higher for higher in levels if higher > used]
    if noise or limit != least or not stronger:
        return used, limit, noise
    return used, small_drawings_threshold(lower, firm[stronger[0]], least, area, firm[used]), 0
