"""Mixed cadence inside one frame: parts of the picture that hold their drawing while the rest moves (plain numpy).

A character on twos over a background panning on ones makes every frame a new drawing, so whole-frame
timing moves the character move–stop–move–stop. This module finds such *layer holds* from the frames
themselves, so that ``interpolate`` can move each part between the two drawings *of its own layer*.

The analysis pass compares each drawing with the next at the analysis size
(:func:`~vsanimsplat.scenes.analysis_size`) and keeps one small **change map** per pair: which blocks of
:data:`BLOCK` × :data:`BLOCK` analysis pixels differ by more than :data:`TOLERANCE` in any channel
(:func:`change_map`, :class:`ChangeMaps`). A block *holds* drawings ``s … e−1`` when it changes between
``s−1`` and ``s`` (or ``s`` is the first drawing), between ``e−1`` and ``e``, and not in between.
:meth:`ChangeMaps.layers` gives the layer holds on screen at a drawing ``k``:

1. blocks whose hold around ``k`` lasts 2 … :data:`MAX_HOLD` drawings, grouped by their hold ``(s, e)``;
2. a group counts only where it is part of a **cadence**: within :data:`REACH` blocks there are blocks
   holding the layer's previous drawing (a hold that ends at ``s``) or its next (one that begins at ``e``). Where
   the rest of the picture changes clearly between every two drawings of the hold (at least as many blocks as a
   layer holds change by more than :data:`FIRM`), that is a hold as long in source frames, and where the frame
   itself holds during the hold, any hold of two source frames or more (on a still picture a shape on threes beside
   one on twos holds each drawing for one or two drawings of the frame, and a mixed cadence changes its length);
   else one of as many drawings (``s − L … s − 1`` or ``e … e + L − 1``: two
   drawings that coding noise parted are no cadence in time). This tells a layer on twos from a part of the picture
   that merely pauses once (an eye that stays shut for two drawings while the lid moved on every drawing before
   and after): the pause keeps whole-frame timing. A group too small to be a layer by itself (:data:`MIN_BLOCKS`,
   :data:`MIN_SHARE`, :data:`MIN_PART`) counts where the layer's previous *and* next drawings are layers by
   themselves: its blocks within :data:`REACH` of both, at least :data:`BRIDGE` of them (the block grid can cut a
   small flat shape so that at one drawing only a sliver of its outline falls in whole blocks);
3. it begins and ends with a **clear change**: at each end (but the clip's), at least half of its held blocks change
   by more than :data:`FIRM` code values. A part that creeps (a slow sub-pixel slide, a fade's dark parts) changes by
   little more than :data:`TOLERANCE` where it crosses it, and so looks held in between: that is not a layer's next
   drawing;
4. its **reach**: the held blocks and the layer's next drawing (blocks holding from ``e`` on, 2 …
   :data:`MAX_HOLD` drawings, within :data:`REACH`), grown by half of :data:`REACH` so that the path between
   the two lies inside it. Everything the layer does between ``s`` and ``e`` happens in its reach.

Where the frame itself holds during a layer hold (a drawing of it is shown for more than one source frame, as on a
still background), a part that holds over two drawings is most often a **pause** of a picture held on one cadence
(a slow shape, background a shape uncovers). Such a hold counts only where, in addition, the held blocks are a
layer by themselves, the rest of the picture changes clearly between every two of its drawings, no block next to
its held blocks changes by more than :data:`FIRM` in between, and another part holds **out of step** with it (its
hold begins inside this one and ends after it, or begins before and ends inside): the picture holds on more than one
cadence.

Scene cuts count as changes of every block: no layer hold spans a cut, and a hold that ends at a cut is none (its
next drawing is in the other shot).
"""

from __future__ import annotations

import threading
import zlib
from array import array
from collections import OrderedDict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .errors import BadOption
from .timeline import start_times

__all__ = ["BLOCK", "TOLERANCE", "FIRM", "DETAIL", "MAX_HOLD", "REACH", "MIN_BLOCKS", "MIN_PART", "MIN_SHARE", "BRIDGE", "change_map", "ChangeMaps", "LayerHold",
           "LayerStep", "LayerTiming", "LayerReport", "layer_report"]

BLOCK = 4
"""Analysis pixels per side of a change map's block (32 source pixels at 1920×1080, 8 at 512×320)."""
TOLERANCE = 4
"""8-bit code values an analysis pixel may change by in every channel and still count as held: above what is left of
coding noise in the analysis pictures (the clip scaled down by an integer factor), below the change a slow pan of
low-contrast texture makes (at 10, dedupe's tolerance, such texture held in scattered blocks)."""
FIRM = 10
"""8-bit code values by which a layer's drawing changes, in some pixel of at least half of its held blocks, where it
begins and ends: its previous and next drawings are clearly other drawings (chosen on the corpus' tuning half: creeping
parts cross :data:`TOLERANCE` by a few code values)."""
DETAIL = 24
"""A block holds only where a channel spans more than this many 8-bit code values in it (line art, texture)."""
MAX_HOLD = 4
"""Longest layer hold, in drawings: longer holds are pauses (as ``interpolate``'s ``max_hold`` for whole frames)."""
REACH = 8
"""Blocks within which a layer's previous or next drawing is looked for (1/8 of the analysis width)."""
MIN_BLOCKS = 4
"""Fewest held blocks that make a layer …"""
MIN_PART = 3
"""Fewest held blocks of a part that lies together (a flat cel shape of 0.5 % of the frame holds 3 to 8)."""
MIN_SHARE = 0.005
"""… and the smallest share of the picture's blocks (100×100 pixels at 1920×1080): smaller groups are mostly the
straight edges of a moving shape that slide along themselves (they look held) or where two layers overlap."""
BRIDGE = 2
"""Fewest held blocks of a layer's drawing whose previous and next drawings (holding as long, within :data:`REACH`) are
layers by themselves: a small flat shape that the block grid cuts so that only its fill and a sliver of outline fall
in whole blocks."""


def change_map(a: np.ndarray, b: np.ndarray, tolerance: int = TOLERANCE) -> np.ndarray:
    """(rows, cols) bool: the :data:`BLOCK`-sized blocks of pictures ``a`` and ``b`` that do *not* hold.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `a`, `b` | np.ndarray (H, W, C) uint8 | | two analysis pictures of the same shape |
    | `tolerance` | int | :data:`TOLERANCE` | a pixel differs when any channel changes by more than this |

    A block holds when no pixel in it differs and ``b`` has detail there (a channel spans more than
    :data:`DETAIL` code values): a flat block looks the same whatever moves over it, so it shows nothing
    held. Partial blocks at the right and bottom edges count (``rows = ceil(H / BLOCK)``).
    """
    return _changes(a, b, tolerance)[0]


def _changes(a: np.ndarray, b: np.ndarray, tolerance: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`change_map` of ``a`` and ``b``, and (rows, cols) bool: the blocks where some pixel changes by more than
    :data:`FIRM` (flat or not)."""
    if a.shape != b.shape or a.ndim != 3:
        raise BadOption("layers.change_map", "b" if a.ndim == 3 else "a",
                        f"a and b must be pictures (H, W, C) of one shape, got {a.shape} and {b.shape}")
    largest = _blocks(np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=-1, keepdims=True)).max(axis=(2, 3))
    later = _blocks(b)
    flat = ((later.max(axis=2).astype(np.int16) - later.min(axis=2)) <= DETAIL).all(axis=-1)
    return (largest > tolerance) | flat, largest > FIRM


def _blocks(values: np.ndarray) -> np.ndarray:
    """(rows, cols, BLOCK², C) of a picture (H, W, C): its :data:`BLOCK`-sized blocks, edges repeated into the partial
    blocks at the right and bottom (``rows = ceil(H / BLOCK)``)."""
    height, width = values.shape[:2]
    rows, cols = -(-height // BLOCK), -(-width // BLOCK)
    padded = np.pad(values, ((0, rows * BLOCK - height), (0, cols * BLOCK - width), (0, 0)), mode="edge")
    return padded.reshape(rows, BLOCK, cols, BLOCK, -1).transpose(0, 2, 1, 3, 4).reshape(rows, cols, BLOCK * BLOCK, -1)


def _grow(mask: np.ndarray, radius: int) -> np.ndarray:
    """Dilation of a 2-D bool mask by a square of half-width ``radius``."""
    if radius <= 0 or not mask.any():
        return mask.copy()
    rows, cols = mask.shape
    padded = np.pad(mask, radius)
    wide = np.zeros((rows + 2 * radius, cols), bool)
    for shift in range(2 * radius + 1):
        wide |= padded[:, shift:shift + cols]
    grown = np.zeros((rows, cols), bool)
    for shift in range(2 * radius + 1):
        grown |= wide[shift:shift + rows]
    return grown


def _neighbours(mask: np.ndarray) -> np.ndarray:
    """Per block of a 2-D bool mask, how many of its 8 neighbours are set."""
    padded = np.pad(mask, 1).astype(np.int8)
    rows, cols = mask.shape
    return sum(padded[1 + dy:1 + dy + rows, 1 + dx:1 + dx + cols]
               for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0))


def _part(mask: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """The blocks of ``mask`` connected (8 neighbours) to ``seed``."""
    part = seed & mask
    while True:
        grown = _grow(part, 1) & mask
        if np.array_equal(grown, part):
            return part
        part = grown


def _filled(mask: np.ndarray) -> np.ndarray:
    """``mask`` with the blocks it encloses: those from which no path of side-by-side (4-neighbour) unset blocks
    leads out of it (a flat shape's outline ring and its fill)."""
    outside = np.pad(np.zeros_like(mask), 1)
    outside[0, :] = outside[-1, :] = outside[:, 0] = outside[:, -1] = True
    free = ~np.pad(mask, 1, constant_values=False)
    while True:
        grown = outside.copy()
        grown[1:] |= outside[:-1]
        grown[:-1] |= outside[1:]
        grown[:, 1:] |= outside[:, :-1]
        grown[:, :-1] |= outside[:, 1:]
        grown &= free
        if np.array_equal(grown, outside):
            return ~outside[1:-1, 1:-1]
        outside = grown


def _layer_blocks(blocks: np.ndarray, smallest: float) -> np.ndarray:
    """The held ``blocks`` that make a layer: all of them where they are at least ``smallest``; else each part of
    them (connected blocks) of at least :data:`MIN_PART` blocks that lies together (a box at least 2 blocks each way
    that it fills half of with the blocks it encloses: a ring of outline counts with its inside) and reaches
    ``smallest`` with the ring of blocks around it. A flat cel shape holds only the blocks wholly inside it that show
    its outline (its fill shows nothing held, and blocks at its edge hold background that moves), so the ring stands
    for the rest of it; scattered blocks (straight edges sliding along themselves, texture) get no ring. Empty where
    none does."""
    if blocks.sum() >= smallest:
        return blocks
    found = np.zeros_like(blocks)
    left = blocks.copy()
    while left.any():
        seed = np.zeros_like(left)
        seed[tuple(np.argwhere(left)[0])] = True
        part = _part(left, seed)
        left &= ~part
        rows, cols = np.nonzero(part)
        height, width = int(rows.max() - rows.min()) + 1, int(cols.max() - cols.min()) + 1
        count = len(rows)
        box = part[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
        if (count >= MIN_PART and min(height, width) >= 2 and 2 * _filled(box).sum() >= height * width
                and _grow(part, 1).sum() >= smallest):
            found |= part
    return found


def _first_change(changes: np.ndarray, none: int) -> np.ndarray:
    """Per block, the index of the first true map of ``changes`` (maps, rows, cols); ``none`` where there is none."""
    if len(changes) == 0:
        return np.full(changes.shape[1:], none)
    return np.where(changes.any(axis=0), changes.argmax(axis=0), none)


@dataclass(frozen=True, eq=False)
class LayerHold:
    """A part of the picture that holds one drawing over drawings ``first … end − 1`` while other parts change.

    | field | type | meaning |
    |---|---|---|
    | `first` | int | the drawing (input frame) where its hold begins |
    | `end` | int | the drawing where its next drawing appears |
    | `held` | np.ndarray (rows, cols) bool | the blocks it holds still |
    | `reach` | np.ndarray (rows, cols) bool | where it can be between ``first`` and ``end`` (see the module docstring) |
    """

    first: int
    end: int
    held: np.ndarray
    reach: np.ndarray


class ChangeMaps:
    """The change maps of consecutive drawings of a clip, each with its map of firm changes (:data:`FIRM`), kept
    packed (one bit a block) and deflated, one after another in one buffer, fed in order: no Python object of its own
    per map, and a pair of maps of a few changed parts in a few dozen bytes (576 bytes unpacked at 1920×1080).

    ``len()`` is the number of maps: one less than the drawings seen. :meth:`layers` answers which layer
    holds are on screen at a drawing, :meth:`pixels` where a set of blocks lies in a picture of any size.
    """

    def __init__(self) -> None:
        self.size: tuple[int, int] | None = None  # (height, width) of the analysis pictures
        self.shape: tuple[int, int] | None = None  # (rows, cols) of blocks
        self._packed = bytearray()  # every pair's bits (change map, then firm changes), packed and deflated (raw DEFLATE)
        self._ends = array("q")  # where each pair's maps end in _packed

    def __len__(self) -> int:
        return len(self._ends)

    def add(self, a: np.ndarray, b: np.ndarray) -> None:
        """The next pair: analysis pictures (H, W, C) uint8 of the last drawing and the next (:func:`change_map`)."""
        changed, firm = _changes(a, b, TOLERANCE)
        if self.size is None:
            self.size, self.shape = a.shape[:2], changed.shape
        elif a.shape[:2] != self.size:
            raise BadOption("layers.ChangeMaps.add", "a",
                            f"every analysis picture must be {self.size[1]}×{self.size[0]}, got {a.shape[1]}×{a.shape[0]}")
        both = np.concatenate([changed.ravel(), firm.ravel()])
        self._packed += zlib.compress(np.packbits(both).tobytes(), 1, wbits=-15)
        self._ends.append(len(self._packed))

    def select(self, pairs: Sequence[int]) -> ChangeMaps:
        """The change maps of ``pairs`` (indices of maps), in that order: the maps of a clip of fewer drawings
        (``self`` itself when ``pairs`` are all of its maps in order)."""
        if list(pairs) == list(range(len(self))):
            return self
        chosen = ChangeMaps()
        chosen.size, chosen.shape = self.size, self.shape
        for j in pairs:
            chosen._packed += self._packed[self._ends[j - 1] if j else 0:self._ends[j]]
            chosen._ends.append(len(chosen._packed))
        return chosen

    def pixels(self, blocks: np.ndarray, height: int, width: int) -> np.ndarray:
        """(height, width) bool: ``blocks`` (rows, cols) on a picture of that size (the analysis picture scaled to it)."""
        (picture_h, picture_w), (rows, cols) = self.size, self.shape
        row = np.minimum(((np.arange(height) + 0.5) * picture_h / height).astype(int) // BLOCK, rows - 1)
        col = np.minimum(((np.arange(width) + 0.5) * picture_w / width).astype(int) // BLOCK, cols - 1)
        return blocks[row][:, col]

    def _maps(self, j: int) -> np.ndarray:
        """(2, rows, cols) bool: the change map and the firm changes between drawing ``j`` and ``j + 1``."""
        rows, cols = self.shape
        j = range(len(self))[j]  # IndexError past the maps
        deflated = self._packed[self._ends[j - 1] if j else 0:self._ends[j]]
        bits = np.frombuffer(zlib.decompress(deflated, wbits=-15), np.uint8)
        return np.unpackbits(bits, count=2 * rows * cols).reshape(2, rows, cols).astype(bool)

    def __getitem__(self, j: int) -> np.ndarray:
        """The change map between drawing ``j`` and ``j + 1``."""
        return self._maps(j)[0]

    def layers(self, k: int, cuts: Collection[int] = (), holds: Sequence[int] | None = None) -> list[LayerHold]:
        """The layer holds on screen at drawing ``k`` (see the module docstring), largest first.

        | parameter | type | default | meaning |
        |---|---|---|---|
        | `k` | int | | a drawing, ``0 … len(self)`` |
        | `cuts` | collection of int | () | ``j`` in ``cuts``: a scene cut between drawings ``j`` and ``j + 1`` |
        | `holds` | sequence of int or None | None | source frames each drawing is held (``AnimSplat_Hold``): a layer's previous and next drawings are looked for in source frames, and a hold over drawings held more than one frame counts only as the module docstring says; None: every drawing is one frame |
        """
        drawings = len(self) + 1
        if not 0 <= k < drawings:
            raise BadOption("layers.ChangeMaps.layers", "k", f"k must be a drawing in 0 … {drawings - 1}, got {k}")
        if drawings < 3:
            return []
        rows, cols = self.shape
        if holds is not None and len(holds) < drawings:
            raise BadOption("layers.ChangeMaps.layers", "holds",
                            f"holds must give one count of source frames per drawing ({drawings}), got {len(holds)}")
        times = list(range(drawings)) if holds is None else np.concatenate([[0], np.cumsum(holds[:drawings - 1])]).tolist()
        smallest = max(MIN_BLOCKS, MIN_SHARE * rows * cols)
        low, high = max(0, k - 2 * MAX_HOLD), min(drawings - 1, k + 2 * MAX_HOLD)
        changes = np.ones((high - low, rows, cols), bool)
        firm = np.ones((high - low, rows, cols), bool)  # a cut is a firm change of every block
        for j in range(low, high):
            if j not in cuts:
                changes[j - low], firm[j - low] = self._maps(j)

        none = np.zeros((rows, cols), bool)

        def changed(j: int) -> np.ndarray:
            """Blocks changing between j and j + 1; the clip's ends are changes of every block."""
            if j < 0 or j >= drawings - 1:
                return np.ones((rows, cols), bool)
            return changes[j - low]

        def holding(start: int, end: int) -> np.ndarray:
            """Blocks holding exactly drawings ``start … end − 1``: none where that is no hold of 1 … MAX_HOLD
            drawings inside the clip."""
            if start < 0 or end > drawings or not 1 <= end - start <= MAX_HOLD:
                return none
            still = ~changes[start - low:end - 1 - low].any(axis=0)
            return still & changed(start - 1) & changed(end - 1)

        def neighbours(s: int, e: int, clear: bool, paused: bool) -> tuple[np.ndarray, np.ndarray]:
            """Blocks holding the drawing before ``s … e − 1``, and those holding the one after it. Where the rest
            of the picture changes ``clear``-ly between every two drawings of the hold: holds as long in source frames,
            and where the frame itself holds (``paused``) any hold of two source frames or more (a shape on threes
            beside one on twos over a still background holds its drawings for one or two drawings of the frame, and
            a mixed cadence changes its length). Else holds of as many drawings."""
            if not clear:
                return holding(2 * s - e, s), holding(e, 2 * e - s)
            if not paused:
                return (holding(times.index(2 * times[s] - times[e]), s) if 2 * times[s] - times[e] in times else none,
                        holding(e, times.index(2 * times[e] - times[s])) if 2 * times[e] - times[s] in times else none)
            return (np.logical_or.reduce([none] + [holding(p, s) for p in range(max(0, s - MAX_HOLD), s)
                                                   if times[s] - times[p] >= 2]),
                    np.logical_or.reduce([none] + [holding(e, q) for q in range(e + 1, min(drawings, e + MAX_HOLD + 1))
                                                   if times[q] - times[e] >= 2]))

        def around(m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            """Per block, the hold around drawing ``m`` (its first drawing and its end) and whether it lasts 2 …
            MAX_HOLD drawings. The hold begins after the last change before ``m`` (the clip's start counts as one)
            and ends with the first change from ``m`` on; ``drawings`` marks a hold longer than the window (or open
            at the clip's end)."""
            back = _first_change(changes[:m - low][::-1], m - low if low == 0 else drawings)
            ahead = _first_change(changes[m - low:], drawings)
            first, end = m - back, m + ahead + 1
            return first, end, (end - first >= 2) & (end - first <= MAX_HOLD) & (back < drawings) & (ahead < drawings)

        def interleaved(s: int, e: int) -> bool:
            """Whether another part holds out of step with ``s … e − 1``: its hold begins inside and ends after, or
            begins before and ends inside (the picture holds on more than one cadence)."""
            first, end, valid = around(e)
            other = valid & (first > s) & (first < e)
            if s > 0:
                first, end, valid = around(s - 1)
                other |= valid & (end > s) & (end < e)
            return bool(_layer_blocks(other & (_neighbours(other) > 0), smallest).any())

        first, end, candidates = around(k)
        found = []
        for s, e in sorted({(int(a), int(b)) for a, b in zip(first[candidates], end[candidates])}):
            if e - 1 in cuts:  # the layer's next drawing is in another shot: it holds until the cut, as the frame does
                continue
            part = candidates & (first == s) & (end == e)
            part &= _neighbours(part) > 0  # a part of the picture, not a scattered block of texture
            # the rest of the picture changes clearly between every two drawings of the hold: at least ``smallest``
            # blocks by more than FIRM (else the hold's drawings are one picture that coding noise parted)
            clear = all(firm[j - low].sum() >= smallest for j in range(s, e - 1))
            paused = times[e] - times[s] > e - s  # the frame itself holds over some drawing of the hold
            previous, following = neighbours(s, e, clear, paused)
            group = _layer_blocks(part, smallest)
            held = _layer_blocks(group & _grow(previous | following, REACH), smallest)
            if not held.any() and not paused:  # too few blocks on their own: a layer's drawing between two layers
                linked = [_layer_blocks(blocks & (_neighbours(blocks) > 0), smallest) for blocks in (previous, following)]
                held = part & _grow(linked[0], REACH) & _grow(linked[1], REACH)
                if held.sum() < BRIDGE:
                    continue
            if any(2 * firm[j - low][held].sum() < held.sum() for j in (s - 1, e - 1) if 0 <= j < drawings - 1):
                continue  # no clear change at an end: a part that creeps, not a layer's drawing
            if paused and not (clear and held.any() and interleaved(s, e)
                               and not any(firm[j - low][_grow(held, 1)].any() for j in range(s, e - 1))):
                continue  # the frame holds too, on one cadence, or something moves right beside the part: a pause
            for next_end in range(e + 2, e + MAX_HOLD + 1):
                following = following | holding(e, next_end)
            following &= _grow(held, REACH)
            found.append(LayerHold(s, e, held, _grow(held | following, REACH // 2 + 1)))
        return sorted(found, key=lambda layer: -int(layer.held.sum()))


@dataclass(frozen=True, eq=False)
class LayerStep:
    """One layer's in-between in an output frame: its two drawings, its own ``t`` between them, and where it can be.

    | field | type | meaning |
    |---|---|---|
    | `left`, `right` | int | the layer's drawings (input frames) ``first`` and ``end`` |
    | `t` | Fraction | its position between them, 0 < t < 1 |
    | `reach` | np.ndarray (rows, cols) bool | :attr:`LayerHold.reach` |
    """

    left: int
    right: int
    t: Fraction
    reach: np.ndarray


class LayerTiming:
    """Which layer in-betweens an output frame needs on top of the frame's own timing.

    | parameter | type | meaning |
    |---|---|---|
    | `maps` | ChangeMaps | the change maps of the input clip's consecutive drawings |
    | `durations` | sequence of Fraction | every drawing's duration (as ``interpolate`` reads them) |
    | `cuts` | collection of int | the scene cuts ``interpolate`` respects (``j``: between drawings ``j`` and ``j + 1``) |
    | `holds` | sequence of int or None | source frames each drawing is held (:meth:`ChangeMaps.layers`) |

    Thread-safe; the layer holds of the last few drawings asked about are kept.
    """

    _KEPT = 16

    def __init__(self, maps: ChangeMaps, durations: Sequence[Fraction], cuts: Collection[int],
                 holds: Sequence[int] | None = None) -> None:
        if len(maps) != max(0, len(durations) - 1):
            raise BadOption("layers.LayerTiming", "maps",
                            f"maps must hold one change map per pair of drawings ({len(durations) - 1}), got {len(maps)}")
        self.maps = maps
        self.starts = start_times(durations)
        self.cuts = frozenset(cuts)
        self.holds = None if holds is None else list(holds)
        self._lock = threading.Lock()
        self._holds: OrderedDict[int, list[LayerHold]] = OrderedDict()

    def at(self, k: int, time: Fraction) -> list[LayerStep]:
        """The layers in motion at ``time`` while drawing ``k`` is on screen, largest first (none at a layer's own drawing).

        A layer's reach leaves out the place of each larger layer of the same length on screen at ``k`` (its held
        blocks with what they enclose, grown by one block): one cadence in two phases in one place is a part of the
        background that a slow pan holds off a shape's cadence, not a second shape; the larger keeps its timing.
        """
        with self._lock:
            holds = self._holds.get(k)
        if holds is None:
            holds = self.maps.layers(k, self.cuts, self.holds)
            with self._lock:
                self._holds[k] = holds
                while len(self._holds) > self._KEPT:
                    self._holds.popitem(last=False)
        steps = []
        for i, hold in enumerate(holds):
            t = (time - self.starts[hold.first]) / (self.starts[hold.end] - self.starts[hold.first])
            if not 0 < t < 1:
                continue
            # one cadence in another phase cannot share a place with a larger layer: where they meet, it keeps its
            # place (a sliver of background that a slow pan holds off a shape's cadence would move the shape)
            reach = hold.reach
            for larger in holds[:i]:
                if larger.end - larger.first == hold.end - hold.first:
                    reach = reach & ~_grow(_filled(larger.held), 1)
            if reach.any():
                steps.append(LayerStep(hold.first, hold.end, t, reach))
        return steps


_CADENCE_NAMES = {2: "twos", 3: "threes", 4: "fours"}


@dataclass(frozen=True)
class LayerReport:
    """The layer holds of a clip: parts of the picture on their own cadence while the rest moves.

    | field | type | meaning |
    |---|---|---|
    | `drawings` | int | drawings of the clip (input frames of ``interpolate``) |
    | `holds` | dict[tuple[int, int], float] | every layer hold, ``(first, end)`` as :class:`LayerHold`'s, in order: the share of the frame's blocks it holds |
    """

    drawings: int
    holds: dict[tuple[int, int], float]

    @property
    def with_layers(self) -> int:
        """Drawings on screen while at least one layer holds."""
        return len({k for first, end in self.holds for k in range(first, end)})

    @property
    def shares(self) -> dict[int, list[float]]:
        """Per hold length in drawings (2 … :data:`MAX_HOLD`), each layer hold's share of the frame's blocks it holds."""
        shares: dict[int, list[float]] = {}
        for (first, end), share in self.holds.items():
            shares.setdefault(end - first, []).append(share)
        return shares

    def lines(self) -> list[str]:
        """The report as human-readable lines."""
        share = f"{100 * self.with_layers / self.drawings:5.1f}%" if self.drawings else "  n/a"
        lines = ["regions (parts held while the rest of the picture moves):",
                 f"  drawings with a layer  {self.with_layers:6d}  {share}"]
        shares = self.shares
        for length in range(2, MAX_HOLD + 1):
            found = shares.get(length, [])
            covering = f"  held parts cover {100 * float(np.mean(found)):.1f}% of the frame on average" if found else ""
            lines.append(f"  layer holds on {_CADENCE_NAMES[length]:<7}{len(found):6d}{covering}")
        return lines


def layer_report(maps: ChangeMaps, cuts: Collection[int] = (), holds: Sequence[int] | None = None) -> LayerReport:
    """Every layer hold of a clip (:meth:`ChangeMaps.layers`), counted by length.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `maps` | ChangeMaps | | the change maps of the clip's consecutive drawings |
    | `cuts` | collection of int | () | scene cuts (``j``: between drawings ``j`` and ``j + 1``) |
    | `holds` | sequence of int or None | None | source frames each drawing is held (:meth:`ChangeMaps.layers`) |

    Every hold of 2 drawings or more contains an even drawing, so only those are asked about.
    """
    drawings = len(maps) + 1
    found: dict[tuple[int, int], float] = {}
    for k in range(0, drawings, 2):
        for hold in maps.layers(k, cuts, holds):
            found.setdefault((hold.first, hold.end), float(hold.held.mean()))
    return LayerReport(drawings, dict(sorted(found.items())))
