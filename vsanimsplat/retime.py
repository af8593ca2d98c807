"""Retiming: which two drawings, and which ``t`` between them, every output frame comes from.

Pure logic on exact :class:`fractions.Fraction` times; no VapourSynth, no torch.

Each input frame (a drawing) starts at the sum of the durations before it. The output is
constant-rate: frame ``j`` is at ``T = j / rate``. It shows the drawing ``A`` on screen at ``T``
moved towards the next drawing ``B`` by ``t = (T - m) / (start(B) - m)``, where ``m`` is when
the move from ``A`` to ``B`` begins:

- normally ``m = start(A)``, so the move takes the whole hold;
- a hold longer than ``max_hold`` source frames is a pause, not slow motion: ``A`` stays still and
  the move takes only the last ``cadence`` source frames before ``B`` (``cadence`` = the local
  hold length of the neighbouring drawings);
- no move crosses a scene cut, and the last drawing has nothing to move to: ``A`` is shown as is.

::

    source at 24 fps, on twos     A A B B C C C C C C D D
    (C held 6 > 2 × 2: a pause)   |   |   |           |
    move                          A→B B→C  C still  C→D
    output at 48 fps, value of t  0 ¼ ½ ¾ 0 ¼ ½ ¾ 0 0 0 0 0 0 0 0 0 ¼ ½ ¾ 0 …
    drawing shown (left)          A A A A B B B B C C C C C C C C C C C C D …
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_right
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from fractions import Fraction
from statistics import median_low
from typing import overload

from .errors import BadOption
from .timeline import start_times

__all__ = ["Plan", "Step", "output_length", "local_cadence", "is_pause", "plan"]


@dataclass(frozen=True)
class Step:
    """How to make one output frame.

    | field | type | meaning |
    |---|---|---|
    | `left` | int | input frame shown (t = 0) |
    | `right` | int or None | the next drawing when the frame is an in-between, else None |
    | `t` | Fraction | position between ``left`` (0) and ``right`` (1); 0 when ``right`` is None |
    """

    left: int
    right: int | None
    t: Fraction

    @property
    def interpolated(self) -> bool:
        """True when the frame must be synthesised (0 < t < 1)."""
        return self.right is not None


class Plan(Sequence[Step]):
    """The :class:`Step` of every output frame, in order (what :func:`plan` returns), kept in arrays of machine
    numbers (24 bytes a frame); a Step is made when it is read.

    ``t`` is kept as its numerator and denominator; one that does not fit 64 bits (never seen: it would take
    times of thousands of digits) is kept as its Fraction.
    """

    def __init__(self) -> None:
        self._left = array("i")
        self._right = array("i")  # -1: not an in-between
        self._t = array("q")  # numerator and denominator of each t, in turn
        self._exact: dict[int, Fraction] = {}

    def append(self, step: Step) -> None:
        """Add the next output frame's step."""
        self._left.append(step.left)
        self._right.append(-1 if step.right is None else step.right)
        fits = max(abs(step.t.numerator), step.t.denominator) < 1 << 63
        self._t.extend((step.t.numerator, step.t.denominator) if fits else (0, 1))
        if not fits:
            self._exact[len(self._left) - 1] = step.t

    def __len__(self) -> int:
        return len(self._left)

    @overload
    def __getitem__(self, j: int) -> Step: ...

    @overload
    def __getitem__(self, j: slice) -> list[Step]: ...

    def __getitem__(self, j: int | slice) -> Step | list[Step]:
        if isinstance(j, slice):
            return [self._step(i) for i in range(*j.indices(len(self)))]
        return self._step(j)

    def _step(self, j: int) -> Step:
        j = range(len(self))[j]  # IndexError past the steps
        right = self._right[j]
        t = self._exact.get(j) or Fraction(self._t[2 * j], self._t[2 * j + 1])
        return Step(self._left[j], None if right < 0 else right, t)


def output_length(duration: Fraction, rate: Fraction) -> int:
    """Output frames for an input lasting ``duration`` seconds at ``rate`` fps.

    The rule: every output frame whose start time lies before the end of the input, i.e.
    ``ceil(duration × rate)``. When ``duration × rate`` is whole (24 frames ×2 = 48) the output
    covers the input exactly; otherwise the last frame runs past the end by less than one output frame.
    """
    return math.ceil(Fraction(duration) * Fraction(rate))


def local_cadence(holds: Sequence[int], k: int, radius: int = 3) -> int:
    """The usual hold around drawing ``k``: the lower median of the holds of up to ``radius``
    drawings on each side (``holds[k]`` itself when it has no neighbours)."""
    neighbours = list(holds[max(0, k - radius):k]) + list(holds[k + 1:k + 1 + radius])
    return max(1, median_low(neighbours)) if neighbours else holds[k]


def is_pause(holds: Sequence[int], k: int, max_hold: int | None = None) -> bool:
    """Whether drawing ``k`` is a pause: held longer than ``max_hold`` source frames (``None``: twice the local
    cadence, :func:`local_cadence`; ``0``: never), so that it stays still and moves only at the end of its hold.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `holds` | sequence of int | | source frames each drawing is held |
    | `k` | int | | the drawing |
    | `max_hold` | int or None | None | as :func:`plan`'s |
    """
    limit = 2 * local_cadence(holds, k) if max_hold is None else max_hold
    return limit != 0 and holds[k] > limit


def _move_start(k: int, starts: Sequence[Fraction], durations: Sequence[Fraction], holds: Sequence[int],
                max_hold: int | None) -> Fraction:
    """When the move from drawing k to k + 1 begins (see the module docstring)."""
    if not is_pause(holds, k, max_hold):
        return starts[k]
    source_frame = durations[k] / holds[k]
    return max(starts[k], starts[k] + durations[k] - local_cadence(holds, k) * source_frame)


def plan(
    durations: Sequence[Fraction],
    rate: Fraction,
    holds: Sequence[int] | None = None,
    cuts: Collection[int] = (),
    max_hold: int | None = None,
) -> Plan:
    """The :class:`Step` of every output frame (a :class:`Plan`).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `durations` | sequence of Fraction | | duration of every input frame (drawing) in seconds, all > 0 |
    | `rate` | Fraction | | output frame rate in frames per second, > 0 |
    | `holds` | sequence of int | all 1 | source frames each drawing was held (``AnimSplat_Hold``) |
    | `cuts` | collection of int | () | ``k`` in ``cuts`` means a scene cut between drawings ``k`` and ``k + 1`` |
    | `max_hold` | int or None | None | holds longer than this many source frames are pauses; ``None`` = twice the local cadence; ``0`` = never pause |
    """
    rate = Fraction(rate)
    if rate <= 0:
        raise BadOption("retime.plan", "rate", f"rate must be a positive frame rate, got {rate}")
    if not durations or any(d <= 0 for d in durations):
        raise BadOption("retime.plan", "durations", "durations must be a non-empty list of positive durations")
    holds = [1] * len(durations) if holds is None else list(holds)
    if len(holds) != len(durations) or any(h < 1 for h in holds):
        raise BadOption("retime.plan", "holds", f"holds must give a hold >= 1 for each of the {len(durations)} frames")
    if max_hold is not None and max_hold < 0:
        raise BadOption("retime.plan", "max_hold",
                        f"max_hold must be None (automatic), 0 (never pause) or a positive hold, got {max_hold}")
    starts = start_times(durations)
    last = len(durations) - 1
    moves: dict[int, Fraction] = {}
    steps = Plan()
    for j in range(output_length(sum(durations, Fraction(0)), rate)):
        time = j / rate
        k = bisect_right(starts, time) - 1
        if k == last or k in cuts:
            steps.append(Step(k, None, Fraction(0)))
            continue
        if k not in moves:
            moves[k] = _move_start(k, starts, durations, holds, max_hold)
        begin = moves[k]
        t = (time - begin) / (starts[k + 1] - begin)
        steps.append(Step(k, k + 1, t) if t > 0 else Step(k, None, Fraction(0)))
    return steps
