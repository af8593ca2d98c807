"""The one streamed analysis pass: pure accumulation, and ``dedupe`` handing its cut scores to ``interpolate``."""

from __future__ import annotations

import importlib
from collections import Counter

import numpy as np
import pytest
import vapoursynth as vs

import vsanimsplat
from vsanimsplat.analysis import CutScores, DrawingCuts
from vsanimsplat.filters.dedupe import find_drawings
from vsanimsplat.scenes import DEFAULT_SCENE_THRESHOLD
from vsanimsplat.testing import Cut, Scene, animate, cadence
from tests.helpers import synthetic_clip

interpolate_module = importlib.import_module("vsanimsplat.filters.interpolate")
W, H = 160, 96
HOLDS = cadence([2, 3], 6)  # drawings at source frames 0, 2, 5, 7, 10, 12; the cut at frame 7


def cut_scene() -> Cut:
    return Cut(Scene(W, H, seed=5), Scene(W, H, seed=6), at=7)


def test_drawing_cuts_look_only_at_drawing_starts_and_score_drawing_pairs():
    animation = animate(cut_scene(), HOLDS)
    frames = animation.frames
    counts = [int((a != b).any(axis=-1).sum()) for a, b in zip(frames, frames[1:])] + [0]
    looked = []

    def picture(n):
        def read():
            looked.append(n)
            return frames[n]
        return read

    scan = DrawingCuts(threshold=0)
    for n, count in enumerate(counts):
        scan.add(count, picture(n), cut_after=n == 2, cut_before=n == 12)
    assert looked == animation.starts
    # one score per pair of drawings, by the scene's geometry: only drawing 2 → 3 (frames 5 → 7) crosses the cut to
    # another shot, whose shapes share nothing with the first's; the other pairs move the shapes of one shot
    scores = list(scan.cuts.scores)
    assert len(scores) == len(animation.starts) - 1 == 5
    assert scores[2] > 0.9 and max(scores[:2] + scores[3:]) < DEFAULT_SCENE_THRESHOLD / 1.5, scores
    assert scan.cuts.marked == {1, 4} and scan.cuts.drawings == len(animation.starts)


def test_cut_scores_ignore_a_mark_before_the_first_drawing():
    scores = CutScores()
    scores.add(np.zeros((16, 16, 3), np.uint8), cut_before=True)
    assert scores.marked == set() and list(scores.scores) == []


@pytest.mark.parametrize(("fmt", "counted_first"), [(vs.YUV420P8, False), (vs.RGB24, True),  # the other formats: slow
                                                  *(pytest.param(fmt, False, marks=pytest.mark.slow)
                                                    for fmt in (vs.RGB24, vs.GRAY8))])
def test_scores_handed_over_by_dedupe_equal_interpolates_own_reading(fmt, counted_first):
    clip, _ = synthetic_clip(HOLDS, scene=cut_scene(), fmt=fmt)
    marked = vs.core.std.Splice([clip[:10], clip[10].std.SetFrameProps(_SceneChangeNext=1), clip[11:]])
    if counted_first:  # the differences are cached without scores: dedupe leaves the reading to interpolate
        find_drawings(marked)
    drawings = vsanimsplat.dedupe(marked)
    unknown = drawings.std.Trim(0, drawings.num_frames - 1)  # the same frames in a clip dedupe did not make
    shared, own = interpolate_module.scene_scores(drawings), interpolate_module.scene_scores(unknown)
    assert shared == own and max(shared) == shared[2] > DEFAULT_SCENE_THRESHOLD
    names = ("AnimSplat_Left", "AnimSplat_Interpolated", "_AbsoluteTime")
    results = [[([f.props[name] for name in names], [np.asarray(f[p]).copy() for p in range(f.format.num_planes)])
                for f in vsanimsplat.interpolate(c, factor=2, model="blend").frames(close=True)]
               for c in (drawings, unknown)]
    assert [r[0] for r in results[0]] == [r[0] for r in results[1]]
    assert all(np.array_equal(a, b) for (_, x), (_, y) in zip(*results) for a, b in zip(x, y))
    assert {left for (left, moving, _), _ in results[0] if moving} == {0, 2, 7}  # held: the cut (5 → 7), the mark (10 → 12), the end


@pytest.mark.parametrize("resized", [False, True])
def test_interpolate_after_dedupe_reads_each_source_frame_once(resized):
    clip, _ = synthetic_clip(cadence([2, 3], 80), 32, 18)  # 200 frames: too many for VapourSynth's cache to hide a second pass
    requests = Counter()

    def count(n, f):
        requests[n] += 1
        return f

    source = clip.std.ModifyFrame(clip, count)
    drawings = vsanimsplat.dedupe(source)
    vsanimsplat.interpolate(vsanimsplat.resize(drawings, 16, 10) if resized else drawings, factor=2, model="blend")
    assert requests == Counter(range(clip.num_frames))  # before any output frame is asked for


def _moving_square(frames: int, width: int = 256, height: int = 144) -> vs.VideoNode:
    """A generated YUV 4:2:0 clip at 24000/1001 fps: a square moving on twos, a new background (a cut) every 100
    frames."""
    blank = vs.core.std.BlankClip(format=vs.YUV420P8, width=width, height=height, length=frames, fpsnum=24000,
                                  fpsden=1001)
    side = height // 4

    def draw(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        drawing, out = n // 2, f.copy()
        x, y = 2 * (drawing * 7 % ((width - side) // 2)), 2 * (drawing * 3 % ((height - side) // 2))
        for plane in range(3):
            picture, step = np.asarray(out[plane]), 1 if plane == 0 else 2
            picture[:] = (n // 100 * 97 + plane * 60) % 256
            picture[y // step:(y + side) // step, x // step:(x + side) // step] = 255 - picture[0, 0]
        return out

    return blank.std.ModifyFrame(blank, draw)


def _kept_bytes(frames: int) -> int:
    """What ``interpolate(dedupe(clip))`` of ``frames`` source frames keeps allocated in Python and numpy."""
    import gc
    import tracemalloc

    warm = _moving_square(120)  # the modules and caches a first call sets up (the cut's too)
    vsanimsplat.interpolate(vsanimsplat.dedupe(warm, progress=False), factor=2, model="blend", progress=False)
    clip = _moving_square(frames)
    gc.collect()
    tracemalloc.start()
    try:
        out = vsanimsplat.interpolate(vsanimsplat.dedupe(clip, progress=False), factor=2, model="blend",
                                      progress=False)
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert out.num_frames == 2 * frames
    return kept


@pytest.mark.slow
def test_the_analysis_keeps_no_python_object_per_frame():
    """What dedupe's pass and interpolate's plan keep grows by machine numbers per source frame (counts, means,
    deflated change maps, the plan's steps in arrays): under 400 bytes a frame on twos, where a Fraction, a Step, a
    Drawing and a numpy array per frame or drawing kept over 1,000 (issue 29: fragments the heap the 1080p frames
    pass through; benchmarks/memory.md)."""
    short, long = _kept_bytes(300), _kept_bytes(900)
    assert (long - short) / 600 < 400
