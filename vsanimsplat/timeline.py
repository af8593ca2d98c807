"""Pure timing logic: drawings, holds, cadence and timecodes.

Nothing here knows about VapourSynth or torch. Times are exact
:class:`fractions.Fraction` seconds; durations never pass through floats.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from .errors import BadOption

__all__ = [
    "Drawing",
    "CadenceReport",
    "FrameClock",
    "HOLD_NAMES",
    "hold_name",
    "resolve_threshold",
    "drawing_starts",
    "is_new_drawing",
    "group_drawings",
    "start_times",
    "cadence_report",
    "format_timecodes_v2",
]


@dataclass(frozen=True)
class Drawing:
    """One drawing: a run of consecutive input frames that show the same picture.

    | field | type | meaning |
    |---|---|---|
    | `first` | int | index of the first input frame of the run |
    | `frames` | int | number of input frames in the run |
    | `source_first` | int | first *original* source frame (differs from `first` when the input was already deduplicated) |
    | `hold` | int | original source frames held (sum of the input frames' holds) |
    | `start` | Fraction | start time in seconds, from the start of the clip |
    | `duration` | Fraction | how long the drawing is shown, in seconds |
    """

    first: int
    frames: int
    source_first: int
    hold: int
    start: Fraction
    duration: Fraction


def resolve_threshold(threshold: int | float, area: int) -> int:
    """Turn a user threshold into a pixel count.

    | parameter | type | meaning |
    |---|---|---|
    | `threshold` | int or float | an ``int`` is a pixel count in ``0 … area``; a ``float`` is a fraction of the frame in ``0.0 … 1.0`` |
    | `area` | int | pixels per frame (width × height) |

    Returns the largest number of differing pixels that still counts as "same drawing".
    Raises :class:`~vsanimsplat.errors.BadOption` naming ``threshold`` when it is out of range or of the wrong type.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise BadOption(
            "timeline.resolve_threshold", "threshold",
            f"threshold must be an int (pixels, 0 … {area}) or a float (fraction of the frame, 0.0 … 1.0), "
            f"got {threshold!r}"
        )
    if isinstance(threshold, int):
        if not 0 <= threshold <= area:
            raise BadOption("timeline.resolve_threshold", "threshold",
                            f"threshold in pixels must be within 0 … {area} (width × height), got {threshold}")
        return threshold
    if not 0.0 <= threshold <= 1.0:
        raise BadOption("timeline.resolve_threshold", "threshold",
                        f"threshold as a fraction of the frame must be within 0.0 … 1.0, got {threshold}")
    return int(threshold * area)


def drawing_starts(diff_counts: Sequence[int], threshold: int) -> list[int]:
    """Indices of the frames that start a new drawing.

    | parameter | type | meaning |
    |---|---|---|
    | `diff_counts` | sequence of int | ``diff_counts[i]`` = pixels that differ between frame ``i`` and ``i + 1`` (length ``num_frames - 1``) |
    | `threshold` | int | frames whose difference is ``<= threshold`` pixels are the same drawing |

    Frame 0 always starts a drawing. With ``threshold=0`` every frame that differs at all starts one.
    """
    if threshold < 0:
        raise BadOption("timeline.drawing_starts", "threshold", f"threshold must be >= 0, got {threshold}")
    return [0] + [i + 1 for i, count in enumerate(diff_counts) if is_new_drawing(count, threshold)]


def is_new_drawing(diff_count: int, threshold: int) -> bool:
    """Whether a frame that differs from the one before it in ``diff_count`` pixels starts a new drawing
    (more than ``threshold`` pixels differ)."""
    return diff_count > threshold


def group_drawings(
    starts: Sequence[int],
    durations: Sequence[Fraction],
    holds: Sequence[int] | None = None,
    source_frames: Sequence[int] | None = None,
) -> list[Drawing]:
    """Group input frames into drawings with exact timing.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `starts` | sequence of int | | first frame of each drawing, increasing, starting at 0 (see :func:`drawing_starts`) |
    | `durations` | sequence of Fraction | | duration of every input frame in seconds |
    | `holds` | sequence of int | all 1 | source frames each input frame already stands for (from an earlier dedupe) |
    | `source_frames` | sequence of int | ``0 … n-1`` | original source index of each input frame |

    The durations of the drawings sum exactly to the sum of ``durations``.
    """
    n = len(durations)
    if not starts or starts[0] != 0 or any(b <= a for a, b in zip(starts, starts[1:])) or starts[-1] >= n:
        raise BadOption("timeline.group_drawings", "starts",
                        f"starts must increase from 0 and stay below {n}, got {list(starts)[:8]}…")
    holds = [1] * n if holds is None else holds
    source_frames = range(n) if source_frames is None else source_frames
    drawings = []
    time = Fraction(0)
    for first, end in zip(starts, list(starts[1:]) + [n]):
        duration = sum(durations[first:end], Fraction(0))
        drawings.append(
            Drawing(
                first=first,
                frames=end - first,
                source_first=source_frames[first],
                hold=sum(holds[first:end]),
                start=time,
                duration=duration,
            )
        )
        time += duration
    return drawings


def start_times(durations: Iterable[Fraction]) -> list[Fraction]:
    """Start time of every frame: the running sum of the durations before it (first frame at 0)."""
    times = [Fraction(0)]
    for duration in durations:
        times.append(times[-1] + duration)
    return times[:-1]


@dataclass(frozen=True)
class CadenceReport:
    """Summary of the drawings found in a clip.

    | field | type | meaning |
    |---|---|---|
    | `frames` | int | input frames |
    | `drawings` | int | drawings found |
    | `histogram` | dict[str, int] | drawings held ``ones``, ``twos``, ``threes`` and ``longer`` (in source frames) |
    | `dropped` | int | input frames removed as repeats (``frames - drawings``) |
    | `duration` | Fraction | total duration in seconds |
    """

    frames: int
    drawings: int
    histogram: dict[str, int]
    dropped: int
    duration: Fraction

    def lines(self) -> list[str]:
        """The report as human-readable lines."""
        h = self.histogram
        share = (lambda k: f"{100 * h[k] / self.drawings:5.1f}%") if self.drawings else (lambda k: "  n/a")
        return [
            f"frames:   {self.frames}",
            f"drawings: {self.drawings}",
            f"dropped:  {self.dropped} repeated frames",
            f"duration: {float(self.duration):.3f} s",
            "holds:",
            *(f"  {key:<7}{h[key]:6d}  {share(key)}" for key in HOLD_NAMES),
        ]


@dataclass(frozen=True)
class FrameClock:
    """When each frame of a clip starts, known per drawing: frame ``firsts[k] + i`` of drawing ``k`` starts at
    ``starts[k] + i × durations[k] / counts[k]`` (the frames of a drawing share its duration evenly).

    | field | type | meaning |
    |---|---|---|
    | `firsts` | list[int] | the first frame of each drawing, increasing |
    | `counts` | list[int] | frames of each drawing (≥ 1) |
    | `starts` | list[Fraction] | start time of each drawing in seconds |
    | `durations` | list[Fraction] | how long each drawing is shown |
    """

    firsts: list[int]
    counts: list[int]
    starts: list[Fraction]
    durations: list[Fraction]

    @classmethod
    def of(cls, drawings: Sequence[Drawing]) -> FrameClock:
        """The clock of the input frames of ``drawings`` (as :func:`group_drawings` makes them)."""
        return cls([d.first for d in drawings], [d.frames for d in drawings], [d.start for d in drawings],
                   [d.duration for d in drawings])

    @property
    def frames(self) -> int:
        """Frames the clock knows: ``0 … frames − 1`` (from the first drawing's first frame)."""
        return self.firsts[-1] + self.counts[-1]

    @property
    def end(self) -> Fraction:
        """When the last frame ends, in seconds."""
        return self.starts[-1] + self.durations[-1]

    def time(self, frame: int) -> Fraction:
        """When ``frame`` starts (``frames`` gives :attr:`end`)."""
        if frame >= self.frames:
            return self.end
        k = max(0, bisect_right(self.firsts, frame) - 1)
        return self.starts[k] + (frame - self.firsts[k]) * self.durations[k] / self.counts[k]

    def frame(self, time: Fraction) -> int:
        """The frame on screen at ``time`` seconds (0 before the start, the last one from its start on)."""
        k = max(0, bisect_right(self.starts, time) - 1)
        within = int((time - self.starts[k]) * self.counts[k] / self.durations[k]) if time > self.starts[k] else 0
        return min(self.firsts[k] + min(within, self.counts[k] - 1), self.frames - 1)


HOLD_NAMES = ("ones", "twos", "threes", "longer")
"""The names of holds of 1, 2, 3 and more source frames, as reports and plots group the drawings."""


def hold_name(hold: int) -> str:
    """The group of a drawing held ``hold`` source frames (≥ 1): one of :data:`HOLD_NAMES`."""
    return HOLD_NAMES[min(hold, len(HOLD_NAMES)) - 1]


def cadence_report(drawings: Sequence[Drawing], frames: int) -> CadenceReport:
    """Count drawings by hold length (in source frames) and summarise them."""
    counts = Counter(hold_name(d.hold) for d in drawings)
    histogram = {name: counts[name] for name in HOLD_NAMES}
    duration = sum((d.duration for d in drawings), Fraction(0))
    return CadenceReport(frames, len(drawings), histogram, frames - len(drawings), duration)


def format_timecodes_v2(durations: Iterable[Fraction]) -> str:
    """Matroska timecode v2 text: a header, then each frame's start time in milliseconds.

    The format matches ``vspipe --timecodes``: nine decimals, one line per frame, no end time.
    """
    lines = ["# timecode format v2"]
    lines += [f"{float(t * 1000):.9f}" for t in start_times(durations)]
    return "\n".join(lines) + "\n"
