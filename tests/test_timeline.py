"""Pure timing logic: thresholds, drawing starts, exact durations, cadence, timecodes."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vsanimsplat.timeline import (
    cadence_report,
    drawing_starts,
    format_timecodes_v2,
    group_drawings,
    resolve_threshold,
    start_times,
)

durations_st = st.lists(
    st.builds(Fraction, st.integers(1, 5000), st.sampled_from([24, 25, 30, 1000, 24000, 30000, 60000])),
    min_size=1,
    max_size=60,
)


def test_resolve_threshold_pixels_and_fraction():
    assert resolve_threshold(0, 100) == 0
    assert resolve_threshold(100, 100) == 100
    assert resolve_threshold(0.25, 100) == 25
    assert resolve_threshold(0.0005, 1920 * 1080) == 1036


@pytest.mark.parametrize("bad", [-1, 101, -0.1, 1.5, "5", None, True])
def test_resolve_threshold_rejects_out_of_range(bad):
    with pytest.raises(ValueError, match="threshold"):
        resolve_threshold(bad, 100)


def test_threshold_zero_keeps_every_changed_frame():
    assert drawing_starts([0, 3, 0, 0, 1], 0) == [0, 2, 5]
    assert drawing_starts([0, 3, 0, 0, 1], 1) == [0, 2]
    assert drawing_starts([], 0) == [0]


@given(st.lists(st.integers(1, 6), min_size=1, max_size=40), st.integers(0, 50))
def test_starts_follow_holds(holds, threshold):
    # frames inside a hold differ by <= threshold, the first frame of a new drawing by more
    counts = []
    for i, hold in enumerate(holds):
        counts += [threshold] * (hold - 1)
        if i < len(holds) - 1:
            counts.append(threshold + 1)
    starts = drawing_starts(counts, threshold)
    assert len(starts) == len(holds)
    assert [b - a for a, b in zip(starts, starts[1:] + [sum(holds)])] == holds


@given(durations_st, st.data())
def test_group_drawings_preserves_total_duration_exactly(durations, data):
    n = len(durations)
    inner = data.draw(st.sets(st.integers(1, max(1, n - 1)), max_size=n - 1)) if n > 1 else set()
    starts = [0] + sorted(s for s in inner if s < n)
    drawings = group_drawings(starts, durations)
    assert sum(d.duration for d in drawings) == sum(durations)
    assert sum(d.frames for d in drawings) == n
    assert [d.start for d in drawings] == [start_times(durations)[s] for s in starts]
    assert [d.source_first for d in drawings] == starts


def test_group_drawings_keeps_earlier_holds_and_source_numbers():
    # input that an earlier dedupe already reduced: frames stand for 2, 3, 1 source frames
    d = [Fraction(2, 24), Fraction(3, 24), Fraction(1, 24)]
    drawings = group_drawings([0, 2], d, holds=[2, 3, 1], source_frames=[0, 2, 5])
    assert [(x.source_first, x.hold, x.duration) for x in drawings] == [(0, 5, Fraction(5, 24)), (5, 1, Fraction(1, 24))]


@pytest.mark.parametrize("starts", [[], [1], [0, 0], [0, 3]])
def test_group_drawings_rejects_bad_starts(starts):
    with pytest.raises(ValueError, match="starts"):
        group_drawings(starts, [Fraction(1, 24)] * 3)


def test_cadence_report_histogram():
    d = [Fraction(1, 24)] * 12
    drawings = group_drawings([0, 1, 3, 6, 7], d)  # holds 1, 2, 3, 1, 5
    report = cadence_report(drawings, 12)
    assert report.histogram == {"ones": 2, "twos": 1, "threes": 1, "longer": 1}
    assert report.dropped == 7 and report.drawings == 5 and report.duration == Fraction(1, 2)
    assert "drawings: 5" in report.lines()


def test_timecodes_v2_format():
    text = format_timecodes_v2([Fraction(1001, 24000), Fraction(2002, 24000), Fraction(3, 100)])
    assert text == "# timecode format v2\n0.000000000\n41.708333333\n125.125000000\n"
