"""Scene cuts between drawings, in plain numpy: a two-stage detector that knows about motion, and cut lists.

A cut is where no motion leads from one drawing to the next. Pictures are analysed at a small
size (:func:`analysis_size`, at most :data:`ANALYSIS_WIDTH` pixels wide), 8-bit YUV 4:4:4.

**Stage 1, candidates** — the colour-histogram distance
(:func:`vsanimsplat.metrics.histogram_distance`) exceeds :data:`CANDIDATE_THRESHOLD`. Cheap, run on
every pair; low enough to catch every cut with a wide margin, so it also lets through the big
in-shot changes (a blink, a flash, a colour change), which stage 2 must explain.

**Stage 2, confirmation** (:func:`unexplained_share`, only for candidates) — the share of the
picture that motion does not explain. Each 8×8 block of luma of one drawing is looked for in the
other: around no motion and around each of the motions in the picture (:func:`motion_shifts`: an exhaustive
search on a 1/4-size copy, up to 30 % of the picture each way, so that fast pans are found, picking greedily
the background's motion and the shapes that move on their own, at most :data:`SHIFTS`), ±2 pixels. Blocks
are compared by the absolute normalised cross-correlation (zero-mean, contrast-normalised), so a
flash (brightness and contrast change) and a recoloured shape (even a dark shape turned bright)
still match; flat blocks (luma standard deviation ≤ 2 code values) carry no information and do not
vote. Both directions are pooled (a → b and b → a), so appearing and disappearing content count
alike; blocks that the dominant shift moves out of the picture (what a pan uncovers) do not vote.
A block is explained when its best correlation is at least :data:`MATCH` and the two blocks look alike: their
means within :data:`LEVEL` and their standard deviations within a factor :data:`CONTRAST`, as they are or after the
change of light between the pictures (one gain and offset for the whole picture, :func:`_light`: a flash, a fade's
step). The correlation alone ignores level and contrast, so that the smooth ramps and soft textures of two unrelated
shots drawn in one style match under many shifts; by a motion after the first, the means must agree as they are (a
moving shape keeps its colours).

**Colours** — blocks too flat to vote are looked for by their level and colour (block means of Y, U and V within
half of :data:`LEVEL`) anywhere in the other picture, as they are or after the change of light and colour between the
pictures (a gain and offset of luma, one gain of the colours' distance from grey: a flash or a fade). The score is at
least the share of all blocks (both directions) that are flat and not found: two shots on flat backgrounds of
different colours that motion would explain alike (a teal background cut to a pink one of the same brightness). New
colours on a part of the picture (a recoloured shape, a character walking in) stay under half of it.

**Stage 3, against the shot** (:func:`relative_scores`, over the clip's pairs of drawings) — what the shot's own
motion leaves unexplained is taken off: with ``m`` the median score of the pairs within :data:`SHOT_PAIRS` each side that
are no cut themselves (at most :data:`DEFAULT_SCENE_THRESHOLD`), a pair scores ``(s − m) / (1 − m)``. Fast action of
several shapes on their own, which the few motions of stage 2 cannot all explain, leaves 0.3–0.5 of every pair of the
shot unexplained, and a pair of it above the threshold stands out from its neighbours by less than a cut does; in a
quiet shot ``m`` is near 0 and nothing changes.

**Transients** (:class:`vsanimsplat.analysis.CutScores`, before stage 3) — a run of one or :data:`TRANSIENT_RUN`
drawings whose pair into it or out of it scores above :data:`TRANSIENT` (a run of two only where the pair between its
drawings scores no more) is compared with the drawings either side of it; where those two match better than the run
matches either of them, it is a flash or an impact frame inside one shot, and its pairs take the score of the pair
that skips it. A cut is never so: the drawings either side of a cut are two shots, and match worse than the in-shot
pair beside the cut.

| constant | value | meaning |
|---|---|---|
| :data:`ANALYSIS_WIDTH` | 256 | the analysis pictures are the clip scaled down by an integer factor to at most this width |
| :data:`CANDIDATE_THRESHOLD` | 0.02 | stage 1: a pair is a candidate when its histogram distance exceeds this |
| :data:`DEFAULT_SCENE_THRESHOLD` | 0.5 | stage 2: a candidate is a cut when its unexplained share exceeds this (``interpolate``'s ``scene_threshold``) |
| :data:`BLOCK` | 8 | block size in analysis pixels |
| :data:`FLAT` | 2.0 | blocks whose luma standard deviation is at most this (8-bit code values) do not vote |
| :data:`MATCH` | 0.8 | least absolute normalised cross-correlation of an explained block |
| :data:`RADIUS` | 2 | local search around each shift, pixels each way |
| :data:`COARSE` | 4 | the global shift is searched on a copy this many times smaller, with blocks ``BLOCK // 2`` |
| :data:`REACH` | 0.3 | the global shift is searched up to this share of the width and height each way |
| :data:`SHIFTS` | 3 | most motions looked for besides no motion |
| :data:`MOVER` | 0.03 | a motion counts when it explains at least this share of the informative coarse blocks that no motion before it explained (and two) |
| :data:`LEVEL` | 12 | most difference of block means (8-bit code values) for an explained block |
| :data:`CONTRAST` | 1.6 | most ratio of block standard deviations (each plus one) for an explained block |
| :data:`GRAIN_MARGIN` | 2.5 | blocks vote only where their standard deviation is at least this many times the pair's noise (:func:`pair_noise`) |
| :data:`GRAINY` | 8 | … but never more than this standard deviation |
| :data:`MIN_VOTING` | 0.02 | where fewer than this share of either picture's blocks vote (a fade's dark end under grain), a change of light over the block means decides |
| :data:`PRIOR` | 0.01 | the unexplained share counts this share of all blocks more as voting and explained (few votes weigh less) |
| :data:`FAINT` | 48 | next to a flat picture, a picture whose block means span more than this is a cut to or from it, less a fade's step |
| :data:`SHOT_PAIRS` | 4 | stage 3: pairs of drawings each side whose scores tell the shot's own unexplained share |
| :data:`TRANSIENT` | 0.25 | a run of drawings whose pair into or out of it scores above this is compared with the drawings either side of it |
| :data:`TRANSIENT_RUN` | 2 | the longest run of drawings taken for a transient (a flash held on twos, parted by grain) |

Measured in ``benchmarks/scenes.md`` and ``benchmarks/analysis.md`` (report halves): the project's clips keep their cuts
(Megamind's lowest 0.84) with in-shot changes ≤ 0.24; on the generated cut corpus 21 of 22 hard cuts score above the
threshold and no in-shot pair does (several shapes moving fast on their own at 640×360 to 1920×1080: 0.42 at most, against the shot).
"""

from __future__ import annotations

import math
import os
from array import array
import re
from bisect import bisect_right
from collections.abc import Sequence

import numpy as np

from .errors import BadOption

__all__ = [
    "ANALYSIS_WIDTH",
    "CANDIDATE_THRESHOLD",
    "DEFAULT_SCENE_THRESHOLD",
    "TRANSIENT",
    "TRANSIENT_RUN",
    "analysis_size",
    "unexplained_share",
    "relative_scores",
    "pair_noise",
    "motion_shifts",
    "read_cut_list",
    "cuts_between_drawings",
]

ANALYSIS_WIDTH = 256
CANDIDATE_THRESHOLD = 0.02
DEFAULT_SCENE_THRESHOLD = 0.5
BLOCK = 8
FLAT = 2.0
MATCH = 0.8
RADIUS = 2
COARSE = 4
REACH = 0.3
SHIFTS = 3
MOVER = 0.03
LEVEL = 12.0
CONTRAST = 1.6
"""Most ratio of the standard deviations (each plus one code value) of a block and the block that explains it."""
GRAIN_MARGIN = 2.5
"""A block votes only where its standard deviation is at least this many times the pair's noise (:func:`pair_noise`)."""
GRAINY = 8.0
"""… up to this standard deviation (8-bit code values): noise is taken to be at most 3.2 (a pair that differs more
where it matches best is two different pictures, not grain)."""
MIN_VOTING = 0.02
"""Below this share of voting blocks (both directions), or where one picture has none, a change of light over the
block means decides instead (cartoons on flat backgrounds cut with 4–9 % of their blocks voting)."""
FAINT = 48.0
"""Next to a flat picture, block means spanning more than this many 8-bit code values are a shot, not a fade's step."""
PRIOR = 0.01
"""The share counts this share of all blocks (both pictures) more as voting and explained: a few unexplained blocks of
a flat cartoon (a share of few votes) weigh less than many."""
SHOT_PAIRS = 4
"""Pairs of drawings each side of a pair whose scores tell how much the shot's own motion leaves unexplained
(:func:`relative_scores`)."""
TRANSIENT = 0.25
"""A run of drawings whose pair into it or out of it scores above this is compared with the drawings either side of
it (a flash: the shot goes on after it; :class:`vsanimsplat.analysis.CutScores`)."""
TRANSIENT_RUN = 2
"""The longest run of drawings taken for a transient (grain parts a flash held on twos into two drawings)."""


def analysis_size(width: int, height: int) -> tuple[int, int]:
    """The size of the analysis pictures: ``width × height`` divided by ``ceil(width / ANALYSIS_WIDTH)``."""
    factor = max(1, math.ceil(width / ANALYSIS_WIDTH))
    return max(2, width // factor), max(2, height // factor)


def _blocks(picture: np.ndarray, block: int) -> np.ndarray:
    """Non-overlapping ``block × block`` tiles as (rows, columns, block²); a partial edge is left out."""
    rows, cols = picture.shape[0] // block, picture.shape[1] // block
    tiles = picture[:rows * block, :cols * block].reshape(rows, block, cols, block)
    return tiles.transpose(0, 2, 1, 3).reshape(rows, cols, block * block)


def _centred(tiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Zero-mean tiles and their L2 norms."""
    centred = tiles - tiles.mean(axis=-1, keepdims=True)
    return centred, np.sqrt((centred * centred).sum(axis=-1))


class _Matcher:
    """Best absolute normalised cross-correlation of every block of ``b`` with ``a`` moved by given offsets.

    ``b(p)`` is compared with ``a(p - offset)``; an offset that takes a block partly outside ``a``
    gives no correlation for it.
    """

    def __init__(self, a: np.ndarray, b: np.ndarray, block: int, reach: int) -> None:
        self.block, self.reach = block, reach
        self.rows, self.cols = b.shape[0] // block, b.shape[1] // block
        self.padded = np.full((a.shape[0] + 2 * reach, a.shape[1] + 2 * reach), np.nan, np.float32)
        self.padded[reach:reach + a.shape[0], reach:reach + a.shape[1]] = a
        self.shape = a.shape
        self.means = _blocks(b, block).mean(axis=-1)
        self.tiles, self.norms = _centred(_blocks(b, block))

    def informative(self, flat: float) -> np.ndarray:
        """Blocks of ``b`` whose standard deviation exceeds ``flat``."""
        return self.norms > flat * self.block

    def correlation(self, offsets: Sequence[tuple[int, int]], level: float | None = None,
                    light: tuple[float, float] | None = None) -> np.ndarray:
        """Per offset and block, the absolute correlation, shape (offsets, rows, columns); NaN where the
        moved block leaves ``a``; with ``level``, where the two blocks' means differ by more than it; with ``light``
        (a gain and an offset, :func:`_light`), where the blocks' looks differ (:func:`_same_look`)."""
        windows = np.lib.stride_tricks.sliding_window_view(self.padded, (self.block, self.block))
        shifts = np.asarray(offsets).reshape(-1, 1, 1, 2)
        ys = self.reach - shifts[..., 0] + (np.arange(self.rows) * self.block)[:, None]
        xs = self.reach - shifts[..., 1] + (np.arange(self.cols) * self.block)[None, :]
        tiles = windows[ys, xs].reshape(len(offsets), self.rows, self.cols, -1)
        moved, norms = _centred(tiles)
        correlation = np.abs((moved * self.tiles).sum(axis=-1)) / (norms * self.norms + 1e-6)
        if level is not None:
            correlation[np.abs(tiles.mean(axis=-1) - self.means) > level] = np.nan
        if light is not None:
            correlation[~_same_look(tiles.mean(axis=-1), norms / self.block, self.means, self.norms / self.block,
                                    light)] = np.nan
        return correlation

    @staticmethod
    def best(correlations: np.ndarray) -> np.ndarray:
        """The best correlation over the first axis, −1 where there is none."""
        return np.nan_to_num(np.fmax.reduce(correlations, axis=0), nan=-1.0)

    def inside(self, shift: tuple[int, int]) -> np.ndarray:
        """Blocks of ``b`` whose source under ``shift`` lies wholly inside ``a``."""
        ys = np.arange(self.rows) * self.block - shift[0]
        xs = np.arange(self.cols) * self.block - shift[1]
        return (((ys >= 0) & (ys + self.block <= self.shape[0]))[:, None]
                & ((xs >= 0) & (xs + self.block <= self.shape[1]))[None, :])


def _tint(a: np.ndarray, b: np.ndarray) -> float:
    """The change of colour from chroma ``a`` to ``b`` (…, 2; 8-bit, grey at 128) as one gain of their distance from
    grey: a flash or a fade takes every colour towards grey alike, a new shot does not."""
    return float(np.abs(b - 128.0).mean()) / max(float(np.abs(a - 128.0).mean()), 1e-3)


def _light(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """The change of light from picture ``a`` to ``b`` as a gain and an offset (``b ≈ gain × a + offset``): the
    ratio of their standard deviations and what then brings the means together (a flash, a fade's step)."""
    gain = float(b.std()) / max(float(a.std()), 1e-3)
    return gain, float(b.mean()) - gain * float(a.mean())


def _same_look(mean_a: np.ndarray, std_a: np.ndarray, mean_b: np.ndarray, std_b: np.ndarray,
               light: tuple[float, float]) -> np.ndarray:
    """Whether blocks of ``a`` (their means and standard deviations) look like blocks of ``b``: the means within
    :data:`LEVEL` and the standard deviations (each plus one code value) within a factor :data:`CONTRAST`, as they
    are or after the change of ``light`` (``gain``, ``offset``) from ``a`` to ``b``."""
    gain, offset = light

    def close(mean: np.ndarray, std: np.ndarray) -> np.ndarray:
        return (np.abs(mean - mean_b) <= LEVEL) & (np.abs(np.log((std_b + 1.0) / (std + 1.0))) <= math.log(CONTRAST))

    return close(mean_a, std_a) | close(gain * mean_a + offset, gain * std_a)


def _shrink(picture: np.ndarray, factor: int) -> np.ndarray:
    """Mean of ``factor × factor`` tiles."""
    rows, cols = picture.shape[0] // factor, picture.shape[1] // factor
    return picture[:rows * factor, :cols * factor].reshape(rows, factor, cols, factor).mean(axis=(1, 3))


def motion_shifts(a: np.ndarray, b: np.ndarray) -> list[tuple[int, int]]:
    """The motions from luma picture ``a`` to ``b`` beyond no motion, as (dy, dx) pixels (``b(p) ≈ a(p - shift)``),
    most explaining first: the background's pan and the shapes that move on their own (at most :data:`SHIFTS`).

    Exhaustive search on ``COARSE``-times smaller copies, up to ``REACH`` of the size each way: the blocks that
    no motion explains are explained greedily, each time by the shift that explains most of those left, while it
    explains at least :data:`MOVER` of the informative blocks (and two). Empty when no shift does.
    """
    small_a, small_b = _shrink(a, COARSE), _shrink(b, COARSE)
    block = BLOCK // 2
    if min(small_a.shape) < block:  # too small a picture to hold one coarse block
        return []
    reach_y, reach_x = int(REACH * small_a.shape[0]), int(REACH * small_a.shape[1])
    matcher = _Matcher(small_a, small_b, block, max(reach_y, reach_x))
    informative = matcher.informative(FLAT / 2)
    shifts = [(dy, dx) for dy in range(-reach_y, reach_y + 1) for dx in range(-reach_x, reach_x + 1)]
    explained = (matcher.correlation(shifts) >= MATCH) & informative  # NaN (outside) compares False
    kept = (matcher.correlation(shifts, LEVEL) >= MATCH) & informative
    still = shifts.index((0, 0))
    taken = explained[still].copy()
    least = max(2.0, MOVER * informative.sum())
    found: list[tuple[int, int]] = []
    while len(found) < SHIFTS:
        gains = (explained & ~taken).sum(axis=(1, 2))
        gains[still] = 0
        best = int(np.argmax(gains))
        if gains[best] < least:
            break
        found.append((shifts[best][0] * COARSE, shifts[best][1] * COARSE))
        taken |= explained[best]
        explained = kept  # the background's motion may come with a change of light; a shape keeps its colours
    return found


def _unexplained(a: np.ndarray, b: np.ndarray, shifts: Sequence[tuple[int, int]], noise: float) -> tuple[int, int]:
    """Blocks of ``b`` that no shift explains, and blocks that vote, for pictures with ``noise`` (a standard deviation,
    :func:`pair_noise`). A block votes where its standard deviation exceeds :data:`FLAT` and :data:`GRAIN_MARGIN` ×
    ``noise`` (up to :data:`GRAINY`); it is explained where its best correlation reaches :data:`MATCH` times the
    correlation that noise leaves two copies of the same picture (1 − noise² / the block's variance)."""
    window = [(dy, dx) for dy in range(-RADIUS, RADIUS + 1) for dx in range(-RADIUS, RADIUS + 1)]
    reach = max(max(abs(y), abs(x)) for y, x in shifts) + RADIUS
    matcher = _Matcher(a, b, BLOCK, reach)
    informative = matcher.informative(max(FLAT, GRAIN_MARGIN * noise))
    variance = np.maximum((matcher.norms / BLOCK) ** 2, 1e-6)
    least = MATCH * np.clip(1.0 - noise * noise / variance, 0.0, 1.0)
    light = _light(a, b)
    per_shift = [matcher.best(matcher.correlation([(y + dy, x + dx) for dy, dx in window], None if i < 2 else LEVEL,
                                                  light))
                 for i, (y, x) in enumerate(shifts)]
    explained = np.max(per_shift, axis=0) >= least
    dominant = max(range(len(shifts)), key=lambda i: int(((per_shift[i] >= least) & informative).sum()))
    voting = informative & matcher.inside(shifts[dominant])
    return int((~explained & voting).sum()), int(voting.sum())


def _unpainted(a: np.ndarray, b: np.ndarray, flat: float) -> tuple[int, int]:
    """Blocks of ``b`` too flat to vote (luma standard deviation at most ``flat``) whose level and colour no block of
    ``a`` has, and such blocks: block means of YUV pictures ``a``, ``b`` (H, W, 3) within half :data:`LEVEL` in every
    plane (as :func:`_unlit_share` compares flat blocks), as they are or after the change of light (:func:`_light`)
    and colour (:func:`_tint`) between them."""
    def means(picture: np.ndarray) -> np.ndarray:
        return np.stack([_blocks(picture[..., plane], BLOCK).mean(axis=-1) for plane in range(3)], -1).reshape(-1, 3)

    painted, flats = means(a), means(b)[(_blocks(b[..., 0], BLOCK).std(axis=-1) <= flat).ravel()]
    if not len(flats) or not len(painted):
        return 0, len(flats)
    gain, offset = _light(a[..., 0], b[..., 0])
    lit = np.concatenate([gain * painted[:, :1] + offset, 128.0 + _tint(a[..., 1:], b[..., 1:]) * (painted[:, 1:] - 128.0)], 1)
    found = np.zeros(len(flats), bool)
    for palette in (painted, lit):
        found |= (np.abs(flats[:, None, :] - palette[None, :, :]).max(axis=-1) <= LEVEL / 2).any(axis=1)
    return int((~found).sum()), len(flats)


def pair_noise(a: np.ndarray, b: np.ndarray, shifts: Sequence[tuple[int, int]] = ((0, 0),)) -> float:
    """The noise (grain, coding noise) of two luma pictures as a standard deviation in 8-bit code values, at most
    :data:`GRAINY` / :data:`GRAIN_MARGIN`: the lower quartile, over :data:`BLOCK`-sized blocks, of the standard
    deviation of ``b`` less ``a`` moved by each of ``shifts`` (as :func:`motion_shifts` gives them), over √2 (where
    the two match, only the noise of both differs); the least of these. Across a cut nothing matches and the
    estimate reaches that bound: :func:`unexplained_share` then takes the pair as noise-free."""
    def quartile(picture: np.ndarray) -> float:
        tiles = _blocks(picture, BLOCK)
        return float(np.quantile(tiles.std(axis=-1), 0.25)) if tiles.size else 0.0

    moved = [quartile(b - np.roll(a, shift, axis=(0, 1))) / math.sqrt(2) for shift in shifts]
    return min(GRAINY / GRAIN_MARGIN, *moved)


def unexplained_share(a: np.ndarray, b: np.ndarray, colour_a: np.ndarray | None = None,
                      colour_b: np.ndarray | None = None) -> float:
    """Stage 2: the share (0 … 1) of informative blocks of two luma pictures that motion does not explain.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `a`, `b` | np.ndarray (H, W) | | luma of two drawings at the analysis size (8-bit code values, any real dtype) |
    | `colour_a`, `colour_b` | np.ndarray (H, W, 2) or None | None | their chroma (8-bit, grey at 128); with both, the share is at least the share of all blocks that are flat and whose level and colour the other picture lacks |

    See the module docstring for the method. A block is informative when its standard deviation exceeds
    :data:`FLAT` and :data:`GRAIN_MARGIN` times the pair's noise (:func:`pair_noise`, up to :data:`GRAINY`): a block
    of grain matches nothing. Where fewer than :data:`MIN_VOTING` of either picture's blocks vote (a dark fade,
    low-contrast pictures: a few blocks of a nearly flat picture are too little to tell), a change of light over the
    block means decides (:func:`_unlit_share`). With colours, flat blocks are looked for by their level and colour
    anywhere in the other picture (after the change of light and colour); the share is at least the share of all
    blocks that are flat and not found, both directions (the module docstring).
    """
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    if a.shape != b.shape or a.ndim != 2:
        raise BadOption("scenes.unexplained_share", "b" if a.ndim == 2 else "a",
                        f"a and b must be 2-D luma pictures of one shape, got {a.shape} and {b.shape}")
    if min(a.shape) < BLOCK:
        return 1.0
    shifts = [(0, 0)] + motion_shifts(a, b)
    noise = pair_noise(a, b, shifts[:2])
    if noise >= GRAINY / GRAIN_MARGIN:  # nothing matches even moved: two pictures to compare, not grain to see past
        noise = 0.0
    forward = _unexplained(a, b, shifts, noise)
    backward = _unexplained(b, a, [(-y, -x) for y, x in shifts], noise)
    blocks = (a.shape[0] // BLOCK) * (a.shape[1] // BLOCK)  # of each picture
    if min(forward[1], backward[1]) >= MIN_VOTING * blocks:
        share = (forward[0] + backward[0]) / (forward[1] + backward[1] + 2 * PRIOR * blocks)
    else:
        share = _unlit_share(_blocks(a, BLOCK).mean(axis=-1).ravel(), _blocks(b, BLOCK).mean(axis=-1).ravel())
    if colour_a is None or colour_b is None:
        return share
    if np.shape(colour_a) != a.shape + (2,) or np.shape(colour_b) != a.shape + (2,):
        raise BadOption("scenes.unexplained_share", "colour_a",
                        f"colour_a and colour_b must be chroma pictures of shape {a.shape + (2,)}, got "
                        f"{np.shape(colour_a)} and {np.shape(colour_b)}")
    pictures = [np.dstack([luma, np.asarray(colour, np.float32)]) for luma, colour in ((a, colour_a), (b, colour_b))]
    flat = max(FLAT, GRAIN_MARGIN * noise)
    there, back = _unpainted(pictures[0], pictures[1], flat), _unpainted(pictures[1], pictures[0], flat)
    return max(share, (there[0] + back[0]) / (2 * blocks))


def relative_scores(scores: Sequence[float]) -> array:
    """Each pair's unexplained share beyond its shot's (stage 3 of the module docstring): ``(s − m) / (1 − m)``, at
    least 0, ``m`` the median of the scores within :data:`SHOT_PAIRS` pairs each side that are at most
    :data:`DEFAULT_SCENE_THRESHOLD` (0 where there are none).

    | parameter | type | meaning |
    |---|---|---|
    | `scores` | sequence of float | :func:`unexplained_share` of every pair of consecutive drawings of a clip (0.0 where not computed) |
    """
    relative = array("d")
    for k, score in enumerate(scores):
        around = [scores[j] for j in range(max(0, k - SHOT_PAIRS), min(len(scores), k + SHOT_PAIRS + 1))
                  if j != k and scores[j] <= DEFAULT_SCENE_THRESHOLD]
        shot = float(np.median(around)) if around else 0.0
        relative.append(max(0.0, (score - shot) / (1.0 - shot)))
    return relative


def _unlit_share(a: np.ndarray, b: np.ndarray) -> float:
    """The share of block means ``b`` that ``gain × a + offset`` (least squares, gain ≥ 0) misses by more than
    ``LEVEL / 2``. Next to a flat picture (block means within ``LEVEL / 2``), 1.0 when the other shows more than
    :data:`FAINT` (a cut to or from black), else 0.0 (a fade's first or last step); two flat pictures, 1.0 when
    their levels differ by more than :data:`LEVEL`."""
    flat_a, flat_b = np.ptp(a) <= LEVEL / 2, np.ptp(b) <= LEVEL / 2
    if flat_a and flat_b:
        return float(abs(float(a.mean()) - float(b.mean())) > LEVEL)
    if flat_a or flat_b:
        return float(max(np.ptp(a), np.ptp(b)) > FAINT)
    gain = max(0.0, float(np.cov(a, b, bias=True)[0, 1] / a.var()))
    offset = float(b.mean()) - gain * float(a.mean())
    return float((np.abs(b - (gain * a + offset)) > LEVEL / 2).mean())


_SEPARATORS = re.compile(r"[\s,]+")


def read_cut_list(cuts: str | os.PathLike[str] | Sequence[int]) -> list[int]:
    """Source frame numbers where a new shot begins, from a file or a sequence, sorted and unique.

    | parameter | type | meaning |
    |---|---|---|
    | `cuts` | str, PathLike or sequence of int | a text file, or the frame numbers themselves |

    The file holds integers ≥ 0, one a line or separated by commas or spaces; ``#`` starts a
    comment, blank lines are ignored (e.g. the start frames of PySceneDetect's scene list, or
    ffmpeg ``scdet`` times × the frame rate). Raises :class:`~vsanimsplat.errors.BadOption` naming the file and
    line for a missing file or a value that is not a non-negative integer.
    """
    if isinstance(cuts, (str, os.PathLike)):
        try:
            text = open(cuts, encoding="utf-8").read()  # noqa: SIM115 - closed by the read
        except OSError as error:
            raise BadOption("scenes.read_cut_list", "cuts",
                            f"cannot read the cut list {os.fspath(cuts)!r}: {error.strerror or error}") from None
        frames = []
        for number, line in enumerate(text.splitlines(), 1):
            for word in _SEPARATORS.split(line.split("#", 1)[0].strip()):
                if not word:
                    continue
                if not re.fullmatch(r"\+?\d+", word):
                    raise BadOption("scenes.read_cut_list", "cuts",
                                    f"{os.fspath(cuts)} line {number}: expected a frame number ≥ 0, got {word!r}")
                frames.append(int(word))
        return sorted(set(frames))
    if isinstance(cuts, (bytes, bytearray)) or not isinstance(cuts, Sequence):
        raise BadOption("scenes.read_cut_list", "cuts", f"expected a file path or a sequence of frame numbers, got {type(cuts).__name__}")
    bad = [c for c in cuts if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 0]
    if bad:
        raise BadOption("scenes.read_cut_list", "cuts", f"frame numbers must be integers ≥ 0, got {bad[0]!r}")
    return sorted({int(c) for c in cuts})


def cuts_between_drawings(frames: Sequence[int], sources: Sequence[int]) -> set[int]:
    """Drawing pairs a cut list separates: ``k`` means no interpolation between drawings ``k`` and ``k + 1``.

    | parameter | type | meaning |
    |---|---|---|
    | `frames` | sequence of int | source frames where a new shot begins (:func:`read_cut_list`) |
    | `sources` | sequence of int | the first source frame of every drawing, increasing (``AnimSplat_SourceFrame``) |

    A cut at source frame ``s`` separates the drawing on screen at ``s − 1`` from the one on screen
    at ``s``. When both are the same drawing (``s`` falls inside a hold) or ``s`` lies outside the
    drawings, nothing is separated.
    """
    separated = set()
    for s in frames:
        before, after = bisect_right(sources, s - 1) - 1, bisect_right(sources, s) - 1
        if 0 <= before < after:
            separated.add(before)
    return separated
