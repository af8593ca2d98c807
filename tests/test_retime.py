"""Retiming: every output time maps to the right pair of drawings and the right t."""

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vsanimsplat.retime import Plan, Step, local_cadence, output_length, plan
from vsanimsplat.timeline import start_times

RATES = [Fraction(24000, 1001), Fraction(24), Fraction(25), Fraction(30000, 1001)]
TARGETS = [Fraction(2), Fraction(5, 2), Fraction(3), Fraction(60000, 1001), Fraction(120), Fraction(13, 7)]


@st.composite
def timelines(draw):
    source_rate = draw(st.sampled_from(RATES))
    holds = draw(st.lists(st.integers(1, 9), min_size=1, max_size=30))
    durations = [h / source_rate for h in holds]
    cuts = draw(st.sets(st.integers(0, len(holds) - 1)))
    target = draw(st.sampled_from(TARGETS))
    rate = target * source_rate if target < 10 else target  # a factor, or an absolute rate
    max_hold = draw(st.sampled_from([None, 0, 3, 5]))
    return durations, holds, cuts, rate, max_hold


@settings(max_examples=300)
@given(timelines())
def test_every_output_time_maps_to_the_right_pair_and_t(case):
    durations, holds, cuts, rate, max_hold = case
    steps = plan(durations, rate, holds, cuts, max_hold)
    starts = start_times(durations)
    total = sum(durations)
    assert len(steps) == math.ceil(total * rate)
    assert (len(steps) - 1) / rate < total <= len(steps) / rate  # covers the input, not one frame more
    for j, step in enumerate(steps):
        time = j / rate
        k = step.left
        assert starts[k] <= time < starts[k] + durations[k]  # the drawing on screen at T
        if not step.interpolated:
            assert step.t == 0
            continue
        assert step.right == k + 1 and k not in cuts
        assert 0 < step.t < 1
        # T lies in the move: begins at start(A) or later, ends at start(B)
        begin = (time - step.t * starts[k + 1]) / (1 - step.t)
        assert starts[k] <= begin < starts[k + 1]
        if max_hold == 0 or holds[k] <= (2 * local_cadence(holds, k) if max_hold is None else max_hold):
            assert begin == starts[k] and step.t == (time - starts[k]) / durations[k]


@given(timelines())
def test_frames_at_a_drawing_start_are_that_drawing(case):
    durations, holds, cuts, rate, max_hold = case
    steps = plan(durations, rate, holds, cuts, max_hold)
    for j, start in enumerate(start_times(durations)):
        position = start * rate
        if position.denominator == 1 and position < len(steps):
            step = steps[int(position)]
            assert (step.left, step.right, step.t) == (j, None, 0)


def test_long_hold_is_a_pause_then_a_move_at_the_local_cadence():
    unit = Fraction(1, 24)
    durations = [2 * unit, 2 * unit, 6 * unit, 2 * unit]
    steps = plan(durations, Fraction(48), holds=[2, 2, 6, 2])
    c = [s for s in steps if s.left == 2]
    assert len(c) == 12
    assert [s.t for s in c] == [0] * 9 + [Fraction(1, 4), Fraction(1, 2), Fraction(3, 4)]
    # without the pause rule the same hold is slow motion over all 12 frames
    slow = [s for s in plan(durations, Fraction(48), holds=[2, 2, 6, 2], max_hold=0) if s.left == 2]
    assert [s.t for s in slow] == [Fraction(i, 12) for i in range(12)]


def test_default_max_hold_follows_the_local_cadence():
    unit = Fraction(1, 24)
    # on threes a hold of 6 is still motion (limit 2 × 3), a hold of 7 is a pause
    threes = [3, 3, 3, 6, 3, 3, 3]
    moving = plan([h * unit for h in threes], Fraction(24), holds=threes)
    assert sum(s.interpolated for s in moving if s.left == 3) == 5
    paused = [3, 3, 3, 7, 3, 3, 3]
    still = plan([h * unit for h in paused], Fraction(24), holds=paused)
    assert sum(s.interpolated for s in still if s.left == 3) == 2  # the last 3 source frames move


def test_cuts_and_the_last_drawing_are_shown_as_they_are():
    durations = [Fraction(1, 12)] * 4
    steps = plan(durations, Fraction(48), cuts={1})
    assert [s.interpolated for s in steps] == [False, True, True, True] + [False] * 4 + [False, True, True, True] + [False] * 4


def test_output_length_rounding_rule():
    assert output_length(Fraction(48 * 1001, 24000), Fraction(48000, 1001)) == 96
    assert output_length(Fraction(1001, 24000) * 3, Fraction(60000, 1001)) == 8  # 7.5 → 8
    assert output_length(Fraction(1, 24) * 5, Fraction(60)) == 13  # 12.5 → 13


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"durations": [], "rate": Fraction(48)}, "durations"),
        ({"durations": [Fraction(0)], "rate": Fraction(48)}, "durations"),
        ({"durations": [Fraction(1, 24)], "rate": Fraction(0)}, "rate"),
        ({"durations": [Fraction(1, 24)], "rate": Fraction(48), "holds": [0]}, "holds"),
        ({"durations": [Fraction(1, 24)], "rate": Fraction(48), "holds": [1, 1]}, "holds"),
        ({"durations": [Fraction(1, 24)], "rate": Fraction(48), "max_hold": -1}, "max_hold"),
    ],
)
def test_bad_input_names_the_parameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        plan(**kwargs)


def test_a_plan_keeps_its_steps_in_arrays_and_gives_them_back_exactly():
    """Plan holds machine numbers (issue 29: no Python object per output frame); a t past 64 bits stays exact."""
    huge = Fraction(1, 3 ** 50)
    steps = Plan()
    for step in (Step(0, 1, Fraction(1, 3)), Step(1, 2, huge), Step(2, None, Fraction(0))):
        steps.append(step)
    assert list(steps) == [Step(0, 1, Fraction(1, 3)), Step(1, 2, huge), Step(2, None, Fraction(0))]
    assert steps[-1] == Step(2, None, Fraction(0)) and steps[1:] == [Step(1, 2, huge), Step(2, None, Fraction(0))]
    with pytest.raises(IndexError):
        steps[3]
