"""Pure logic: does a source keep a constant frame rate, and if not, what did its timestamps show?

Nothing here knows about VapourSynth; times are exact :class:`fractions.Fraction` seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from .errors import BadOption

__all__ = ["CONTAINER_ROUNDING", "SourceTiming", "constant_rate_drift", "judge_timing", "nominal_rate", "standard_rate"]

_STANDARD_RATES = [Fraction(n * 1000, 1001) for n in (24, 30, 48, 60, 120)] + [
    Fraction(n) for n in (8, 10, 12, 15, 18, 24, 25, 30, 48, 50, 60, 72, 90, 100, 120, 144, 240)
]

CONTAINER_ROUNDING = Fraction(1, 1000)
"""How far a frame's timestamp may sit from a constant rate and still count as that rate: Matroska's 1 ms
timestamp resolution, the coarsest of the containers read (MP4, MOV and MPEG-TS store finer times)."""


def standard_rate(rate: Fraction, tolerance: float = 2e-4) -> Fraction:
    """The standard frame rate nearest to ``rate`` when within ``tolerance`` (relative) of it, else ``rate`` itself.

    Containers store rates rounded (2997/125 for 24000/1001); this undoes that rounding.
    """
    nearest = min(_STANDARD_RATES, key=lambda standard: abs(rate / standard - 1))
    return nearest if abs(rate / nearest - 1) <= tolerance else rate


@dataclass(frozen=True)
class SourceTiming:
    """How to read a source, from what its timestamps say.

    | field | type | meaning |
    |---|---|---|
    | `rate` | Fraction or None | the constant rate that keeps every frame at its timestamp; None: none does (variable timing) |
    | `notice` | str | what was found and done, for people ("30 frames missing at 2.5 s; timing kept"); empty when the stated rate fits |
    """

    rate: Fraction | None
    notice: str = ""

    @property
    def constant(self) -> bool:
        """Whether a constant rate keeps the timing."""
        return self.rate is not None


def _keeps(times: Sequence[Fraction], rate: Fraction, tolerance: Fraction) -> bool:
    """Whether frame ``i`` of ``times`` starts within ``tolerance`` of ``times[0] + i / rate`` for every ``i``."""
    return all(abs(t - times[0] - i / rate) <= tolerance for i, t in enumerate(times))


def judge_timing(times: Sequence[Fraction], rate: Fraction, tolerance: Fraction = CONTAINER_ROUNDING) -> SourceTiming:
    """The constant rate that keeps every frame of a source at its timestamp, or what its timestamps show instead.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `times` | sequence of Fraction | | start time of every frame in seconds, in presentation order |
    | `rate` | Fraction | | the rate the file states (frames per second, > 0) |
    | `tolerance` | Fraction | 1 ms | how far a timestamp may be off a constant rate (container rounding, ≥ 0) |

    A constant-rate reading places frame ``i`` at ``times[0] + i / rate``. When every frame is within ``tolerance``
    of that place the stated ``rate`` is kept (empty notice). Else the timestamps' own mean rate (a standard rate
    when one fits) is tried the same way, with a notice that names both. Else no constant rate keeps the timing
    (``rate`` None) and the notice says what the timestamps show: sections at different rates, frames missing (a
    frame that lasts a whole number of its neighbours' durations), or irregular timestamps (damage, jitter).
    Raises :class:`~vsanimsplat.errors.BadOption` for no times, a non-positive ``rate`` or a negative ``tolerance``.
    """
    if not times:
        raise BadOption("timestamps.judge_timing", "times", "times must hold at least one frame's start time, got none")
    if rate <= 0:
        raise BadOption("timestamps.judge_timing", "rate", f"rate must be a positive frame rate, got {rate}")
    if tolerance < 0:
        raise BadOption("timestamps.judge_timing", "tolerance", f"tolerance must be >= 0 seconds, got {tolerance}")
    rate = Fraction(rate)
    if _keeps(times, rate, tolerance):
        return SourceTiming(rate)
    span = times[-1] - times[0]
    if span > 0:
        mean = (len(times) - 1) / span
        standard = standard_rate(mean, float(2 * tolerance / span))  # the mean is known to 2 × tolerance over the span
        own = standard if standard != mean else mean.limit_denominator(1001)
        if _keeps(times, own, tolerance):
            return SourceTiming(own, f"frames {_rate(own)} fps apart, not the stated {_rate(rate)} fps; read at {own} fps")
    return SourceTiming(None, f"{_describe(times, tolerance)}; timing kept")


def constant_rate_drift(times: Sequence[Fraction], rate: Fraction, tolerance: Fraction = CONTAINER_ROUNDING) -> str:
    """What reading a source at the constant ``rate`` does to its timing, for people, or empty when every frame stays
    within ``tolerance`` of its timestamp.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `times` | sequence of Fraction | | start time of every frame in seconds, in presentation order |
    | `rate` | Fraction | | the constant rate it is read at (frames per second, > 0) |
    | `tolerance` | Fraction | 1 ms | how far a frame may move and not count (container rounding, ≥ 0) |

    Frame ``i`` is shown at ``times[0] + i / rate``; the notice names the frame moved furthest from its timestamp
    and by how much, which is as far as the audio and subtitles (kept at their timestamps) drift from it.
    Raises :class:`~vsanimsplat.errors.BadOption` for a non-positive ``rate``.
    """
    if rate <= 0:
        raise BadOption("timestamps.constant_rate_drift", "rate", f"rate must be a positive frame rate, got {rate}")
    moved = [times[0] + Fraction(i) / rate - t for i, t in enumerate(times)]
    furthest = max(range(len(moved)), key=lambda i: abs(moved[i]), default=0)
    if not moved or abs(moved[furthest]) <= tolerance:
        return ""
    shift = moved[furthest]
    return (f"at a constant {_rate(rate)} fps, frame {furthest} (at {_seconds(times[furthest])} in the file) is shown "
            f"{round(float(abs(shift)) * 1000):g} ms {'later' if shift > 0 else 'earlier'}: the audio and subtitles, "
            f"which keep their timestamps, drift from the picture by as much")


def _runs(durations: Sequence[Fraction], tolerance: Fraction) -> list[tuple[int, int]]:
    """Runs of consecutive frame durations equal within ``tolerance``, as (first index, count)."""
    runs: list[tuple[int, int]] = []
    for i, duration in enumerate(durations):
        if runs and abs(duration - durations[runs[-1][0]]) <= tolerance:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((i, 1))
    return runs


def _rate(rate: Fraction) -> str:
    """A rate for people: 24, 23.976, 12."""
    return f"{round(float(rate), 3):g}"


def _section_rates(durations: Sequence[Fraction], runs: Sequence[tuple[int, int]],
                   tolerance: Fraction) -> dict[int, tuple[Fraction, Fraction]]:
    """The sections (runs of two frames or more) by first index: their mean frame duration and their rate,
    the standard rate that duration can be (it is known to 2 × tolerance, its two ends, over its frames)."""
    sections = {}
    for first, count in runs:
        if count > 1:
            mean = sum(durations[first:first + count], Fraction(0)) / count
            sections[first] = mean, standard_rate(1 / mean, max(2e-4, float(2 * tolerance / count / mean)))
    return sections


def nominal_rate(times: Sequence[Fraction], tolerance: Fraction = CONTAINER_ROUNDING) -> Fraction | None:
    """The rate of the fastest steady section of a variable-rate source: what ``--factor`` multiplies.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `times` | sequence of Fraction | | start time of every frame in seconds, in presentation order |
    | `tolerance` | Fraction | 1 ms | how far frame durations may differ within a section (container rounding) |

    A section is two or more consecutive frame durations equal within ``tolerance``; its rate is the standard
    rate its mean duration can be, else that mean's rate. None when no section exists (under three frames).
    """
    durations = [b - a for a, b in zip(times, times[1:])]
    rates = [rate for _, rate in _section_rates(durations, _runs(durations, tolerance), tolerance).values()]
    return max(rates, default=None)


def _seconds(time: Fraction) -> str:
    return f"{round(float(time), 3):g} s"


def _describe(times: Sequence[Fraction], tolerance: Fraction) -> str:
    """What the timestamps of a source that no constant rate fits show."""
    durations = [b - a for a, b in zip(times, times[1:])]
    if any(d <= 0 for d in durations):
        at = next(i for i, d in enumerate(durations) if d <= 0)
        return f"timestamps repeat or go backwards at {_seconds(times[at])}"
    runs = _runs(durations, tolerance)
    sections = _section_rates(durations, runs, tolerance)
    rates = list(dict.fromkeys(_rate(rate) for _, rate in sections.values()))
    missing, gaps, irregular = 0, [], []
    for k, (first, count) in enumerate(runs):
        if count > 1:
            continue
        neighbours = [f for f, c in (runs[k - 1] if k else (0, 0), runs[k + 1] if k + 1 < len(runs) else (0, 0))
                      if c > 1]
        base = sections[neighbours[0]][0] if neighbours else Fraction(0)
        frames = round(durations[first] / base) if base else 0
        # a gap is known to 2 × tolerance, its neighbours' duration to 2 × tolerance over their frames
        error = 2 * tolerance / dict(runs)[neighbours[0]] if neighbours else 0
        if frames >= 2 and abs(durations[first] - frames * base) <= 2 * tolerance + frames * error:
            missing += frames - 1
            gaps.append(times[first] + base)
        else:
            irregular.append(times[first])
    parts = []
    if len(rates) > 1:
        parts.append(f"variable frame rate: {', '.join(rates[:-1])} and {rates[-1]} fps sections")
    if missing:
        where = f"at {_seconds(gaps[0])}" if len(gaps) == 1 else f"in {len(gaps)} gaps from {_seconds(gaps[0])}"
        parts.append(f"{missing} frame{'s' if missing > 1 else ''} missing {where}")
    if irregular:
        more = f" and {len(irregular) - 1} more" if len(irregular) > 1 else ""
        parts.append(f"irregular timestamps at {_seconds(irregular[0])}{more}")
    return "; ".join(parts) or "irregular timestamps"
