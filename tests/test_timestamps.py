"""The decision between a constant rate and the file's own timestamps, on plain lists of times."""

from fractions import Fraction

import pytest

from vsanimsplat.timestamps import CONTAINER_ROUNDING, SourceTiming, judge_timing, nominal_rate

MS = Fraction(1, 1000)


def steady(rate: Fraction, frames: int, start: Fraction = Fraction(0)) -> list[Fraction]:
    return [start + Fraction(i) / rate for i in range(frames)]


def matroska(times: list[Fraction]) -> list[Fraction]:
    """Times as Matroska stores them: whole milliseconds."""
    return [round(t * 1000) * MS for t in times]


@pytest.mark.parametrize("rate", [Fraction(24000, 1001), Fraction(24), Fraction(30000, 1001), Fraction(120)])
def test_a_constant_rate_rounded_by_the_container_is_constant(rate):
    assert judge_timing(steady(rate, 2000), rate) == SourceTiming(rate)
    assert judge_timing(matroska(steady(rate, 2000, start=Fraction(1, 3))), rate) == SourceTiming(rate)


def test_a_wrong_stated_rate_gives_way_to_the_timestamps_own():
    """30 fps timestamps stated as 30000/1001 fps: 1 ms off after 1 s, beyond container rounding, so 30 fps it is."""
    timing = judge_timing(matroska(steady(Fraction(30), 300)), Fraction(30000, 1001))
    assert timing.rate == 30 and timing.notice == "frames 30 fps apart, not the stated 29.97 fps; read at 30 fps"
    assert judge_timing(steady(Fraction(30), 29), Fraction(30000, 1001)) == SourceTiming(Fraction(30000, 1001))
    odd = judge_timing(steady(Fraction(1000, 37), 100), Fraction(1000))  # no standard rate: the mean, simply
    assert odd.rate == Fraction(1000, 37) and odd.notice.startswith("frames 27.027 fps apart, not the stated 1000 fps")


def test_missing_frames_are_named_with_their_place():
    times = [t for i, t in enumerate(steady(Fraction(24), 240)) if not 60 <= i < 90]
    timing = judge_timing(matroska(times), Fraction(24))
    assert not timing.constant and timing.notice == "30 frames missing at 2.5 s; timing kept"
    several = [t for i, t in enumerate(steady(Fraction(24), 240)) if i not in (10, 100, 101)]
    assert judge_timing(several, Fraction(24)).notice == "3 frames missing in 2 gaps from 0.417 s; timing kept"


def test_sections_at_different_rates():
    times = steady(Fraction(24), 48) + steady(Fraction(12), 24, start=Fraction(2)) + steady(Fraction(24), 48, start=4)
    timing = judge_timing(matroska(times), Fraction(24))
    assert timing.notice == "variable frame rate: 24 and 12 fps sections; timing kept"
    three = steady(Fraction(24000, 1001), 30) + steady(Fraction(12), 10, start=Fraction(30 * 1001, 24000))
    three += steady(Fraction(60), 30, start=three[-1] + Fraction(1, 12))
    assert judge_timing(three, Fraction(24000, 1001)).notice == "variable frame rate: 23.976, 12 and 60 fps sections; timing kept"


def test_damage_and_disorder():
    times = steady(Fraction(24), 100)
    jump = times[:50] + [t + Fraction(7, 10) for t in times[50:]]  # 0.7 s: not a whole number of frames
    assert judge_timing(jump, Fraction(24)).notice == "irregular timestamps at 2.042 s; timing kept"
    repeated = times[:50] + times[49:]
    assert judge_timing(repeated, Fraction(24)).notice == "timestamps repeat or go backwards at 2.042 s; timing kept"


def test_tolerance_is_the_container_rounding():
    late = steady(Fraction(25), 50)
    late[20] += CONTAINER_ROUNDING
    assert judge_timing(late, Fraction(25)).constant
    late[20] += MS / 10
    assert not judge_timing(late, Fraction(25)).constant
    assert judge_timing(late, Fraction(25), tolerance=2 * MS).constant


def test_a_single_frame_is_constant():
    assert judge_timing([Fraction(5)], Fraction(24)) == SourceTiming(Fraction(24))


@pytest.mark.parametrize("times, rate, tolerance, name", [
    ([], Fraction(24), MS, "times"), ([Fraction(0)], Fraction(0), MS, "rate"), ([Fraction(0)], Fraction(24), -MS, "tolerance")])
def test_bad_arguments_are_named(times, rate, tolerance, name):
    with pytest.raises(ValueError, match=name):
        judge_timing(times, rate, tolerance)


def test_nominal_rate_is_the_fastest_steady_section():
    times = matroska(steady(Fraction(12), 30) + steady(Fraction(24000, 1001), 100, start=Fraction(30, 12)))
    assert nominal_rate(times) == Fraction(24000, 1001)
    gaps = [t for i, t in enumerate(matroska(steady(Fraction(24), 50))) if i % 7 != 3]
    assert nominal_rate(gaps) == 24
    assert nominal_rate([Fraction(0), Fraction(1, 10)]) is None
