"""Where a chunked job's chunks begin, and what makes two jobs the same (the chunked runs themselves are in
test_run.py)."""

from __future__ import annotations

import os
import random
from fractions import Fraction
from pathlib import Path

import pytest

from vsanimsplat.job import JobOptions, boundaries, choose_spans, run_chunks
from vsanimsplat.job.chunks import job_record
from vsanimsplat.retime import Step


def test_equal_chunks_without_drawing_starts():
    assert choose_spans(100, 30) == [(0, 33), (33, 67), (67, 100)]
    assert choose_spans(100, 100) == choose_spans(100, 1000) == [(0, 100)]
    assert choose_spans(5, 1) == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]


def test_boundaries_move_to_the_nearest_drawing_start_within_a_quarter_chunk():
    # chunks of 33⅓ frames, a quarter is 8: 30 and 36 are both 3 from 33 (the earlier wins), 70 beats 60
    assert choose_spans(100, 30, starts=[30, 36, 60, 70]) == [(0, 30), (30, 70), (70, 100)]
    assert choose_spans(100, 30, starts=[20, 80]) == [(0, 33), (33, 67), (67, 100)]  # too far: kept


def test_a_clean_boundary_wins_over_a_nearer_drawing_start():
    assert choose_spans(100, 30, starts=[30, 40, 70], clean=[40]) == [(0, 40), (40, 70), (70, 100)]


def test_spans_cover_every_frame_once():
    rng = random.Random(1)
    for _ in range(200):
        total, target = rng.randint(1, 500), rng.randint(1, 80)
        starts = rng.sample(range(1, total + 1), min(total, rng.randint(0, 60)))
        spans = choose_spans(total, target, starts, starts[: len(starts) // 3])
        assert spans[0][0] == 0 and spans[-1][1] == total
        assert all(first < end for first, end in spans)
        assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))


@pytest.mark.parametrize("total, target", [(0, 10), (10, 0), (-1, 5)])
def test_nothing_to_split_is_refused(total, target):
    with pytest.raises(ValueError, match="total and target must be ≥ 1 frame"):
        choose_spans(total, target)


def test_boundaries_are_new_drawings_and_clean_after_a_held_frame():
    half = Fraction(1, 2)
    steps = [Step(0, None, Fraction(0)), Step(0, 1, half),  # drawing 0, an in-between towards 1
             Step(1, None, Fraction(0)), Step(1, 2, half),  # 1 begins after an in-between of 0–1: not clean
             Step(2, None, Fraction(0)), Step(2, None, Fraction(0)),  # 2 begins after one of 1–2, then a cut: held
             Step(3, None, Fraction(0)), Step(3, 4, half)]  # 3 begins after a held frame: clean
    assert boundaries(steps) == ([2, 4, 6], [6])


def test_the_job_record_tells_inputs_apart_by_content_options_and_encode(tmp_path):
    """An input rewritten with the same size and modification time (a restored copy) is another job, as are another
    option and another segment encode; the same file, options and encode give the same record wherever it is run."""
    video = tmp_path / "in.mkv"
    video.write_bytes(b"drawing A" * 100)
    stamp = video.stat().st_mtime_ns
    options, seconds, segment = JobOptions(video, model="blend"), Fraction(5), ["-c:v", "libx264"]
    record = job_record(options, seconds, segment)
    assert record == job_record(JobOptions(Path(os.path.relpath(video)), model="blend"), seconds, segment)
    assert record != job_record(options, seconds, ["-c:v", "libx265"])
    assert record != job_record(JobOptions(video, model="rife"), seconds, segment)
    video.write_bytes(b"drawing B" * 100)
    os.utime(video, ns=(stamp, stamp))
    assert video.stat().st_size == 900 and video.stat().st_mtime_ns == stamp
    assert record != job_record(options, seconds, segment)


def test_a_chunked_job_must_be_deterministic(tmp_path):
    """Chunks made apart (other processes, other workers, a GPU) hold the frames of one encode only in a fixed order."""
    with pytest.raises(ValueError, match=r"a chunked job needs JobOptions\(deterministic=True\)"):
        run_chunks(None, JobOptions(tmp_path / "in.mkv", model="blend"), Fraction(5), None, [], [],
                   tmp_path / "out.mkv", None)
    assert not (tmp_path / "out.mkv.work").exists()
