"""Drawing detection that sees past coding noise and grain: the pure rules (:mod:`vsanimsplat.noise`), and ``dedupe``
with its defaults on coded and grainy clips of the generated corpus (:mod:`vsanimsplat.corpus`), where the fixed
settings of before invented drawings."""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction
from pathlib import Path

import numpy as np

import pytest
import vapoursynth as vs

from vsanimsplat import dedupe
from vsanimsplat.corpus import Case, corpus, deliver, make
from vsanimsplat.filters.frames import clip_from_arrays
from vsanimsplat.filters.dedupe import DEFAULT_THRESHOLD, DEFAULT_TOLERANCE, detection, find_drawings, frame_differences
from vsanimsplat.noise import (FAINT, FIRM, GAP, RISE, SMALLEST, aligned_difference, choose_settings, choose_tolerance,
                               expected_grain_count, grain_level, noise_threshold, small_drawings_threshold,
                               tolerance_under_grain)
from vsanimsplat.testing import Scene, add_noise, animate

AREA = 320 * 180
LEAST = int(DEFAULT_THRESHOLD * AREA)  # 28 px


def test_grain_level_is_a_low_quantile_of_the_mean_differences():
    assert grain_level([]) == 0.0
    assert grain_level([3.0] * 4 + [0.2] * 6 + [9.0] * 10) == 0.2  # the quiet fifth
    assert grain_level([4.0] * 10) == 4.0
    assert grain_level([4.0] * 10, aligned=1.5) == 1.5  # the quiet pair's motion put back
    assert grain_level([4.0] * 10, aligned=6.0) == 4.0


def _painted(height: int, width: int, shift: tuple[float, float]) -> np.ndarray:
    """A painted background (detail at every scale, amplitude falling with frequency) moved by ``shift`` (rows,
    columns; any fraction of a pixel, wrapping round), in 8-bit code values."""
    rows, columns = np.fft.fftfreq(height)[:, None], np.fft.rfftfreq(width)[None, :]
    rng = np.random.default_rng(9)
    spectrum = (rng.normal(size=(height, width // 2 + 1)) + 1j * rng.normal(size=(height, width // 2 + 1)))
    spectrum /= np.hypot(rows, columns) + 0.01
    spectrum *= np.exp(-2j * np.pi * (rows * shift[0] + columns * shift[1]))
    picture = np.fft.irfft2(spectrum, s=(height, width))
    return 128 + 40 * picture / picture.std()


@pytest.mark.parametrize("pan", [(2.0, -3.0), (-2.5, 1.5), (0.0, 6.25)])
def test_aligned_difference_puts_back_a_pan_under_held_shapes(pan):
    """A background panning under two held flat shapes (a fifth of the frame): its plain difference is the pan's,
    and once each block is moved back by the pan (found to a fraction of a pixel) at most 15 % of it is left (the
    blocks across a shape's edge keep theirs; measured 6.5–12 %)."""
    a, b = _painted(180, 320, (0.0, 0.0)), _painted(180, 320, pan)
    for picture in (a, b):
        picture[40:100, 30:130] = 200.0
        picture[110:160, 180:300] = 30.0
    plain = float(np.abs(a - b).mean())
    assert plain > 10 and aligned_difference(a, b) < 0.15 * plain, (plain, aligned_difference(a, b))


def test_aligned_difference_leaves_grain_and_small_pictures_as_they_are():
    """A held frame with grain (σ 3) keeps its plain mean difference exactly: no shift takes a fifth off a block's
    grain. A picture too small for a block past the border is compared plainly."""
    rng = np.random.default_rng(5)
    base = _painted(180, 320, (0.0, 0.0))
    a, b = base + rng.normal(0, 3, base.shape), base + rng.normal(0, 3, base.shape)
    assert aligned_difference(a, b) == pytest.approx(float(np.abs(a - b).astype(np.float32).mean()), rel=1e-5)
    tiny_a, tiny_b = rng.uniform(0, 255, (6, 9)), rng.uniform(0, 255, (6, 9))
    assert aligned_difference(tiny_a, tiny_b) == pytest.approx(float(np.abs(tiny_a - tiny_b).mean()), rel=1e-5)


@pytest.mark.parametrize("grain, expected", [(0.0, 10), (2.0, 10), (2.1, 20), (4.0, 20), (5.0, 30), (40.0, 30)])
def test_tolerance_rises_in_steps_above_grain(grain, expected):
    assert choose_tolerance(10, grain) == expected


def test_threshold_rises_into_the_gap_above_coding_noise():
    held = [0, 0, 3, 12, 33, 39, 52]  # a held drawing re-coded: counts at tolerance 10 (x264 CRF 18, 320×180)
    new = [2603, 2821, 4026, 8551]
    counts = held + new + held
    quiet = [0.05] * len(counts)
    threshold, noise = noise_threshold(counts, quiet, LEAST, AREA)
    assert noise == 52 and threshold == 104  # twice the noise, below the gap's middle (368)
    assert all(c <= threshold for c in held) and all(c > threshold for c in new)


@pytest.mark.parametrize("counts, why", [
    ([0, 0, 5, 2603, 2821], "nothing above the least threshold to raise"),
    ([0, 0, 0, 40, 40, 2603], "the first gap starts at a held pair: a small change (a lip flap) on a clean clip"),
    ([40, 52, 60, 2603, 2821], "no held pair: a clip on ones keeps every small change"),
    ([0, 33, 52, 80, 150, 300, 2603], "no gap of GAP times between noise and drawings"),
    ([0, 500, 2603 * 10], "the lower side is above NOISE_CAP of the frame"),
])
def test_threshold_stays_at_the_least_without_clear_noise(counts, why):
    assert noise_threshold(counts, [0.05] * len(counts), LEAST, AREA) == (LEAST, 0), why
    assert GAP == 4.0


def test_noise_must_be_as_still_as_the_quiet_pairs():
    """A fade's late drawings change few pixels by more than the tolerance, but every pixel a little."""
    counts = [0, 0, 3, 12, 40, 52, 2603, 2821]
    assert noise_threshold(counts, [0.1, 0.1, 0.1, 0.1, 0.2, 0.2, 9, 9], LEAST, AREA) == (104, 52)
    assert noise_threshold(counts, [0.1, 0.1, 0.1, 0.1, 3.0, 0.2, 9, 9], LEAST, AREA) == (LEAST, 0)
    # x264 over grain re-codes its key frames up to 0.6 code values above the quiet pairs: still noise
    assert noise_threshold(counts, [0.1, 0.1, 0.1, 0.1, 0.7, 0.2, 9, 9], LEAST, AREA) == (104, 52)
    # x264 CRF 20 over a textured pan re-codes a held frame's B-frame 0.8 above (a corpus case on threes, 640×360)
    assert noise_threshold(counts, [0.03, 0.03, 0.03, 0.03, 0.83, 0.2, 9, 9], LEAST, AREA) == (104, 52)


def test_noise_over_every_held_pair_is_raised_past_when_faint():
    """x264 over grain (σ 4, CRF 20, 1280×720, scaled to 320×180) re-codes every held frame in more pixels than the
    least threshold: no pair is held by count. The pairs under a wide gap are taken for noise where every one is
    faint (few of their pixels still differ at the next level); small drawings, whose lines change by much, are not."""
    counts = [34, 40, 47, 55, 66, 82, 95, 104] + [6200, 7400, 8100, 9000]
    quiet = [1.9, 1.8, 2.3, 1.9, 2.1, 1.9, 2.4, 2.0] + [7.5] * 4
    assert min(counts) > LEAST
    faint = [0, 1, 1, 0, 2, 5, 9, 1] + [900, 1000, 1300, 1500]
    assert noise_threshold(counts, quiet, LEAST, AREA, faint) == (208, 104)
    drawn = [20, 25, 30, 40, 50, 60, 80, 90] + faint[8:]  # small drawings: most of their pixels change by much
    assert noise_threshold(counts, quiet, LEAST, AREA, drawn) == (LEAST, 0)
    assert noise_threshold(counts, quiet, LEAST, AREA) == (LEAST, 0), "not counted at a next level: not looked at"


def test_noise_over_every_held_pair_is_faint_taken_together():
    """Where no pair is held by count, the pairs under the gap are faint taken together (their pixels that still
    differ at the next level, pooled), not each: x264 over grain (σ 4, CRF 18, 640×360) left two of eleven held pairs
    with 26–29 % of their pixels above 20 (62 of 211, 56 of 219), 10 % of all; the rule on every pair kept all 24 frames.
    Small drawings among them still make the pool firm."""
    counts = [360, 142, 304, 181, 227, 211, 262, 219, 246, 157, 329] + [10400, 10900, 11000]
    quiet = [2.1, 2.0, 2.2, 2.0, 2.1, 2.0, 2.1, 2.0, 2.1, 1.9, 2.1] + [5.3] * 3
    stronger = [73, 3, 3, 2, 0, 62, 0, 56, 29, 26, 4] + [10100, 10600, 10700]
    area = 640 * 360
    least = int(0.0005 * area)
    assert min(counts) > least and max(stronger[j] / counts[j] for j in range(11)) > FAINT
    assert noise_threshold(counts, quiet, least, area, stronger) == (720, 360)
    firmer = [stronger[j] if j % 2 == 0 or j >= 11 else counts[j] for j in range(len(counts))]  # half of them drawn
    assert noise_threshold(counts, quiet, least, area, firmer) == (least, 0)


def test_noise_apart_from_the_held_pairs_is_raised_past_when_faint():
    """A few refined frames of x265 over grain (counts of report case 27, scaled to 320×180) sit far above the
    other held pairs: the first gap starts at a held pair, and only the next gap, past them, parts noise from
    drawings. They are faint (few of their pixels still differ at the next tolerance level); a lip flap is not."""
    held = [4, 6, 6, 8, 10]
    counts = held + [46, 48] + [2900, 3300, 4000]
    quiet = [0.4] * 7 + [6.0] * 3
    faint = [1, 1, 1, 2, 2, 7, 8, 2700, 3100, 3800]  # at the next level: 15 % of the two pairs' pixels
    assert 7 / 46 <= FAINT
    threshold, noise = noise_threshold(counts, quiet, LEAST, AREA, faint)
    assert noise == 48 and threshold == 96
    lip = faint[:5] + [40, 44] + faint[7:]  # most of a drawn line's pixels change by much
    assert noise_threshold(counts, quiet, LEAST, AREA, lip) == (LEAST, 0)
    assert noise_threshold(counts, quiet, LEAST, AREA) == (LEAST, 0), "not counted at a next level: not looked at"


def test_firm_pairs_below_a_blink_are_drawings_not_noise():
    """Slow shapes over grain (x264 CRF 16, 854×480, scaled to 320×180): small drawings below a blink's count look
    like noise under a gap, but nearly all their pixels change by much, and they are most of the clip's changes."""
    counts = [1, 3, 9, 12, 23] + [40, 55, 60, 75, 94] + [750, 780]
    quiet = [1.0] * 5 + [1.2] * 5 + [2.2] * 2
    assert noise_threshold(counts, quiet, LEAST, AREA) == (188, 94), "counts alone: taken for noise"
    firm = [0, 1, 2, 3, 5] + [38, 52, 56, 72, 89] + [745, 770]  # 95 %
    assert min(f / c for f, c in zip(firm[5:10], counts[5:10])) > FIRM
    assert noise_threshold(counts, quiet, LEAST, AREA, firm) == (LEAST, 0)
    coded = firm[:5] + [20, 30, 33, 40, 60] + firm[10:]  # x264's refinements at CRF 28: half of them
    assert noise_threshold(counts, quiet, LEAST, AREA, coded) == (188, 94)
    recoded = [0, 0, 8, 0, 32] + [70] + [2000, 2100, 1900, 2200, 2050]  # two frames x264 coded anew among drawings
    assert noise_threshold(recoded, [0.0] * 11, LEAST, AREA, recoded) == (140, 70), "few firm pairs: noise"


def test_with_chroma_counted_firm_and_faint_are_told_by_luma():
    """The firm pairs above with chroma counted too (dedupe(chroma=True), 4:2:0): soft chroma edges add pixels that
    change by less than the next level, so only 68 % of the total still differs there (corpus 2028 case 04: 3 of 21
    drawings kept). Luma's own counts still show them firm: drawings. A chroma-only change has no luma to judge by:
    firm, never faint."""
    luma = {10: [1, 3, 9, 12, 23] + [40, 55, 60, 75, 94] + [750, 780],
            20: [0, 1, 2, 3, 5] + [38, 52, 56, 72, 89] + [745, 770]}
    chroma = {10: [0, 0, 0, 4, 8] + [20, 28, 32, 36, 44] + [400, 420], 20: [0] * 10 + [80, 90]}
    total = {level: [a + b for a, b in zip(luma[level], chroma[level])] for level in luma}
    quiet = [1.0] * 5 + [1.2] * 5 + [2.2] * 2
    drawings = total[20][5:10]
    assert max(s / c for s, c in zip(drawings, total[10][5:10])) < FIRM, "the total alone: not firm"
    used, limit, _ = choose_settings(total, quiet, LEAST, AREA)
    assert all(total[used][j] <= limit for j in range(5, 10)), "the total alone: taken for noise"
    used, limit, _ = choose_settings(total, quiet, LEAST, AREA, luma)
    assert all(total[used][j] > limit for j in range(5, 12)) and all(total[used][j] <= limit for j in range(5))
    hue = {10: [0] * 12, 20: [0] * 12}  # the same pairs changing colour alone
    assert noise_threshold(total[10], quiet, LEAST, AREA, hue[20], hue[10]) == (LEAST, 0)

def test_dedupe_sees_past_faint_noise_apart_from_the_held_pairs():
    """Through ``dedupe``: a 320×180 cartoon on twos where two held frames were refined in 150 pixels by 12 code
    values (above the least tolerance, below the next) finds exactly its drawings; the least threshold would
    count both as new drawings."""
    clip_frames = [frame.copy() for frame in animate(Scene(320, 180, seed=5), [2] * 12).frames]
    rng = np.random.default_rng(1)
    for k in (5, 13):  # the second frame of two holds
        rows, cols = rng.integers(0, 180, 150), rng.integers(0, 320, 150)
        clip_frames[k][rows, cols] = np.clip(clip_frames[k][rows, cols].astype(int) + 12, 0, 255)
    clip = clip_from_arrays(clip_frames, Fraction(24000, 1001))
    assert [d.first for d in find_drawings(clip, DEFAULT_THRESHOLD, DEFAULT_TOLERANCE)] == sorted(
        list(range(0, 24, 2)) + [5, 13])
    found = dedupe(clip)
    assert [f.props["AnimSplat_SourceFrame"] for f in found.frames(close=True)] == list(range(0, 24, 2))
    used = detection(clip)
    assert used.tolerance == DEFAULT_TOLERANCE and 150 <= used.noise < used.threshold


def test_noise_without_a_gap_is_seen_past_at_a_higher_tolerance():
    """x264 over light grain (2029 case 43, scaled to 320×180): held frames re-coded in up to 80 pixels, within 2× of
    the smallest drawing at tolerance 10, so no wide gap; at 30 nearly all of their pixels stop differing, the
    drawings' do not. The least higher tolerance that drops only quiet, faint pairs well below the kept ones is
    taken; the rule's every condition is needed."""
    at10 = [3, 8, 20, 30, 60, 75, 80, 150, 200, 230]
    at20 = [1, 4, 10, 15, 40, 50, 55, 140, 190, 220]  # the refinements differ by 10–30: firm at 20
    at30 = [0, 0, 1, 2, 5, 6, 8, 130, 185, 210]  # … and faint at 30
    quiet = [1.0] * 7 + [1.5] * 3
    assert noise_threshold(at10, quiet, LEAST, AREA, at20) == (LEAST, 0), "no gap at the grain's tolerance"
    assert choose_settings({10: at10, 20: at20, 30: at30}, quiet, LEAST, AREA) == (30, LEAST, 8)
    assert choose_settings({10: at10, 20: at20, 30: at20}, quiet, LEAST, AREA)[0] == 10, "firm: drawings"
    assert choose_settings({10: at10, 20: at20, 30: at30}, quiet[:6] + [3.0] + quiet[7:], LEAST, AREA)[0] == 10, \
        "a dropped pair moves more than grain: a drawing"
    close = at10[:7] + [RISE * 80 - 1] + at10[8:]
    assert choose_settings({10: close, 20: at20, 30: at30}, quiet, LEAST, AREA)[0] == 10, "no margin to the drawings"
    unheld = [count + LEAST for count in at10]
    assert choose_settings({10: unheld, 20: at20, 30: at30}, quiet, LEAST, AREA)[0] == 10, "no held pair: no step"
    apart = [0, 0, 0] + at10[3:]  # held frames that repeat exactly: the pairs above are a group of their own
    assert choose_settings({10: apart, 20: [0, 0, 0] + at20[3:], 30: [0, 0, 0] + at30[3:]}, quiet, LEAST,
                           AREA)[0] == 10, "a faint change apart from the held pairs (a recoloured patch): a drawing"


def test_dedupe_sees_past_coding_noise_without_a_gap():
    """Through ``dedupe``: a 320×180 picture whose mouth flaps on threes (400 pixels a drawing), light grain, and every
    frame refined in 6 to 110 pixels by 15 code values (held pairs of 18 to 200 px at tolerance 10, within 2× of a
    drawing and no gap among them) finds exactly its drawings, at tolerance 20; the fixed settings count most
    refinements as drawings."""
    base = animate(Scene(320, 180, seed=5), [1]).frames[0]
    rng = np.random.default_rng(1)
    frames = []
    for k in range(24):
        frame = base.copy()
        frame[90:110, 150:170] = (40, 20, 20) if (k // 3) % 2 else (200, 120, 120)
        refined = (6, 12, 20, 35, 50, 70, 90, 110)[k % 8]
        rows, cols = rng.integers(0, 180, refined), rng.integers(0, 320, refined)
        frame[rows, cols] = np.clip(frame[rows, cols].astype(int) + 15, 0, 255)
        frames.append(add_noise(frame, rng, 1.0))
    clip = clip_from_arrays(frames, Fraction(24000, 1001))
    assert len(find_drawings(clip, DEFAULT_THRESHOLD, DEFAULT_TOLERANCE)) > 16
    assert [f.props["AnimSplat_SourceFrame"] for f in dedupe(clip).frames(close=True)] == list(range(0, 24, 3))
    used = detection(clip)
    assert (used.tolerance, used.threshold, used.tolerance_chosen) == (2 * DEFAULT_TOLERANCE, LEAST, True)

def test_firm_pairs_are_told_one_level_up_where_grain_spreads_them():
    """Grain over small drawings (2032 case 25, x264 CRF 23, σ = 4) leaves a third of their differing pixels between
    tolerance 10 and 20, so at 10 they read as not firm and a gap below a cut takes them for noise; one level up,
    nearly all still differ: firm, drawings. A pair with nothing at the next level is judged by its own share."""
    at10 = [20, 45, 80, 150] + [340, 610, 800, 830, 1000] + [22000]
    at20 = [5, 20, 40, 95] + [170, 330, 520, 540, 820] + [17000]
    at30 = [1, 3, 5, 6] + [140, 280, 490, 500, 790] + [16000]
    quiet = [1.5] * 9 + [5.0]
    least = 205
    assert noise_threshold(at10, quiet, least, 410_000, at20)[1] == 1000, "judged at 10 → 20: noise"
    assert noise_threshold(at10, quiet, least, 410_000, at20, firmer=(at30, at20)) == (least, 0)
    assert choose_settings({10: at10, 20: at20, 30: at30}, quiet, least, 410_000) == (10, least, 0)
    empty = [0] * 4 + [0, 0, 0, 0, 0] + [16000]  # nothing one level up: the pairs' own share (faint) decides
    assert noise_threshold(at10, quiet, least, 410_000, at20, firmer=(empty, empty))[1] == 1000


def test_dedupe_finds_small_grainy_drawings_under_the_gap_to_a_cut():
    """Through ``dedupe``: a 640×360 figure stepping on twos with a soft shadow (a third of its changed pixels change by
    15), every frame re-coded in 5–61 pixels (held pairs up to 101 px, under the least threshold 115, no wide gap to
    the drawings), and a cut: the defaults find exactly the drawings and the cut; judged firm at tolerance 10 → 20
    alone, the drawings were taken for coding noise under the cut (two drawings found)."""
    rng = np.random.default_rng(3)
    frames = []
    for k in range(32):
        frame = np.full((360, 640, 3), 128 if k < 24 else 60, np.uint8)
        x = 200 + 3 * (k // 2)
        frame[150:186, x - 3:x] = 143
        frame[150:186, x:x + 6] = 20
        refined = 5 + 7 * (k % 8)
        rows, cols = rng.integers(0, 360, refined), rng.integers(0, 640, refined)
        step = np.where(np.arange(refined) % 6, 15, 25)[:, None]
        frame[rows, cols] = np.clip(frame[rows, cols].astype(int) + step, 0, 255)
        frames.append(add_noise(frame, rng, 1.0))
    clip = clip_from_arrays(frames, Fraction(24000, 1001))
    assert [f.props["AnimSplat_SourceFrame"] for f in dedupe(clip).frames(close=True)] == list(range(0, 32, 2))
    used = detection(clip)
    assert (used.tolerance, used.threshold, used.noise) == (DEFAULT_TOLERANCE, int(DEFAULT_THRESHOLD * 640 * 360), 0)


def _case(**changes) -> Case:
    """A small case of the corpus' tuning half with the given conditions."""
    base = next(c for c in corpus() if c.name.startswith("00-"))
    return dataclasses.replace(base, **changes)


@pytest.fixture(scope="module")
def delivered(tmp_path_factory):
    """Cases as files, made once: the issue's 320×180 cartoon on twos as x264 CRF 18 and a lossless one with grain."""
    folder = tmp_path_factory.mktemp("corpus")
    cases = {
        "x264": _case(name="x264", cadence="mixed", codec="x264", crf=18, grain=0.0, background="waves", texture=0.3,
                      shapes=4, speed=3.0, area=0.05, pan=(0.0, 0.0)),
        "grain": _case(name="grain", cadence="twos", codec="lossless", crf=0, grain=4.0),
    }
    files = {}
    for name, case in cases.items():
        truth = make(case)
        deliver(case, truth, folder / f"{name}.mkv")
        files[name] = (folder / f"{name}.mkv", truth)
    return files


@pytest.mark.slow
@pytest.mark.parametrize("name, tolerance", [("x264", DEFAULT_TOLERANCE), ("grain", 2 * DEFAULT_TOLERANCE)])
def test_defaults_find_exactly_the_drawings_where_fixed_settings_invent_some(delivered, name, tolerance):
    path: Path
    path, truth = delivered[name]
    clip = vs.core.bs.VideoSource(str(path), cachemode=0)
    fixed = [d.first for d in find_drawings(clip, DEFAULT_THRESHOLD, DEFAULT_TOLERANCE)]
    assert len(set(fixed) - set(truth.starts)) >= 1  # the settings of before: coding noise or grain made drawings
    found = dedupe(clip)
    assert [f.props["AnimSplat_SourceFrame"] for f in found.frames(close=True)] == truth.starts
    used = detection(clip)
    assert used.tolerance == tolerance and used.tolerance_chosen and used.threshold_chosen
    assert used.threshold >= int(DEFAULT_THRESHOLD * clip.width * clip.height)
    given = detection(clip, threshold=DEFAULT_THRESHOLD, tolerance=DEFAULT_TOLERANCE)  # given values stay as given
    assert (given.tolerance, given.threshold, given.tolerance_chosen, given.threshold_chosen) == (
        DEFAULT_TOLERANCE, int(DEFAULT_THRESHOLD * clip.width * clip.height), False, False)


@pytest.mark.parametrize("pan, seed", [((-3.0, 2.5), 1), ((1.0, -2.0), 2)])
def test_dedupe_keeps_a_pan_on_ones_whose_difference_reads_as_grain(pan, seed):
    """Through ``dedupe``: four shapes on twos over a fine background panning on ones (lossless, no grain), so that
    no frame is held. The quietest pairs are the pan's alone (mean difference ≈ 7, every pixel a little): read as
    grain, they asked for tolerance 30, at which those pairs count nothing, and half the frames were lost (12 of 24
    kept). With the pan put back the grain is measured at most 4 and every frame is kept."""
    case = _case(timing="layers", cadence="twos", background="waves", texture=0.0, seed=seed, pan=pan, shake=0.0,
                 shapes=4, area=0.03, speed=2.0, event="none", codec="lossless", crf=0, grain=0.0, frames=24)
    truth = make(case)
    clip = clip_from_arrays(truth.frames, Fraction(24000, 1001))
    assert truth.starts == list(range(24))
    assert [f.props["AnimSplat_SourceFrame"] for f in dedupe(clip).frames(close=True)] == truth.starts
    used = detection(clip)
    assert used.grain <= 4.0 and used.tolerance <= 2 * DEFAULT_TOLERANCE, used


def test_expected_grain_count_follows_the_normal_tail():
    rng = np.random.default_rng(5)
    a, b = (rng.normal(128, 3.0, (360, 640)) for _ in range(2))
    grain = float(np.abs(a - b).mean())
    for tolerance in (10, 20):
        counted = int((np.abs(np.rint(a) - np.rint(b)) > tolerance).sum())
        assert 0.85 * counted <= expected_grain_count(grain, tolerance, a.size) <= 1.15 * counted + 2
    assert expected_grain_count(0.0, 10, AREA) == 0.0


def test_a_lower_tolerance_is_taken_only_where_it_adds_pairs_that_move_more_than_grain():
    grain = 4.4  # asks for tolerance 30; at 20 grain moves about 16 pixels of a held pair at 320×180
    used = [900, 5, 3, 800, 4, 2]  # at 30: two drawings, the pan-only frames between them count nothing
    lower = [5000, 2100, 1900, 4800, 2000, 1800]  # at 20: the pan's frames count thousands
    moving = [9.0, 5.9, 5.8, 9.0, 5.9, 5.8]
    threshold = tolerance_under_grain(lower, used, LEAST, moving, 20, LEAST, AREA, grain)
    assert threshold is not None and math.ceil(GAP * expected_grain_count(grain, 20, AREA)) == threshold < 1800
    held = [9.0, 4.4, 4.5, 9.0, 4.3, 4.4]  # the added pairs are as still as grain: held frames, not a pan
    assert tolerance_under_grain(lower, used, LEAST, held, 20, LEAST, AREA, grain) is None
    assert tolerance_under_grain(lower, used, LEAST, moving, 10, LEAST, AREA, grain) is None  # grain alone passes 10
    lost = [5000, 2100, 1900, 10, 2000, 1800]  # the drawing at pair 3 would be lost at 20
    assert tolerance_under_grain(lost, used, LEAST, moving, 20, LEAST, AREA, grain) is None


@pytest.mark.parametrize("seed", [2, 4])
def test_dedupe_keeps_a_smooth_pan_under_grain(seed):
    """Through ``dedupe``: two shapes on threes over a smooth background panning 3 px per frame, grain σ 3 with
    block offsets (lossless), no frame held. The grain asks for tolerance 30, at which the pan's frames count
    nothing (9 and 8 of 24 kept before); at 20 they count thousands of pixels, every one more than grain moves."""
    case = _case(timing="layers", cadence="threes", background="waves", texture=0.0, seed=seed, pan=(3.0, 0.5),
                 shake=0.0, shapes=2, area=0.03, speed=2.0, event="none", codec="lossless", crf=0, grain=3.0,
                 resized=False, frames=24)
    truth = make(case)
    clip = clip_from_arrays(truth.frames, Fraction(24000, 1001))
    assert truth.starts == list(range(24))
    assert [f.props["AnimSplat_SourceFrame"] for f in dedupe(clip).frames(close=True)] == truth.starts
    used = detection(clip)
    assert choose_tolerance(DEFAULT_TOLERANCE, used.grain) == 3 * DEFAULT_TOLERANCE and used.tolerance == 20, used


@pytest.mark.slow
def test_dedupe_sees_past_coding_noise_over_every_held_frame(tmp_path):
    """Through ``dedupe``: a 640×360 cartoon on twos over grain (σ 4) as x264 CRF 18, whose every held frame is
    re-coded in more pixels than the least threshold (176 or more of 115): the fixed settings find all 12 held frames
    as drawings; the defaults find exactly the 12 drawings."""
    case = _case(name="every-held", width=640, height=360, seed=2, timing="whole", cadence="twos", codec="x264",
                 crf=18, grain=4.0, event="none", pan=(0.0, 0.0), shake=0.0, resized=False, frames=24)
    truth = make(case)
    deliver(case, truth, tmp_path / "every-held.mkv")
    clip = vs.core.bs.VideoSource(str(tmp_path / "every-held.mkv"), cachemode=0)
    least = int(DEFAULT_THRESHOLD * clip.width * clip.height)
    assert min(frame_differences(clip, tolerance=DEFAULT_TOLERANCE)) > least
    assert len([d.first for d in find_drawings(clip, DEFAULT_THRESHOLD, DEFAULT_TOLERANCE)]) == 24
    assert [f.props["AnimSplat_SourceFrame"] for f in dedupe(clip).frames(close=True)] == truth.starts == list(range(0, 24, 2))
    assert detection(clip).threshold > least


HD = 1920 * 1080
HD_LEAST = int(DEFAULT_THRESHOLD * HD)  # 1036 px


@pytest.mark.parametrize("held, drawings, strength, expected, why", [
    ([0, 4, 12, 33, 50], [691, 777, 956], 0.99, 207, "firm small drawings apart from held frames: into the gap, at least SMALLEST"),
    ([0, 4, 12, 33, 50], [691, 777, 956], 0.5, HD_LEAST, "faint changes under the least may be coding noise: the least stays"),
    ([0, 12, 80, 150], [691, 777, 956], 0.99, 300, "twice the largest held count where that is below the gap's middle"),
    ([0, 12, 80, 200], [691, 777, 956], 0.99, HD_LEAST, "the highest wide gap (12 → 80) has faint held pairs above it"),
    ([0, 3, 8, 20, 45, 100, 210], [691, 777, 956], 0.99, HD_LEAST, "no gap of GAP times under the least"),
])
def test_small_firm_drawings_take_the_threshold_under_the_least(held, drawings, strength, expected, why):
    counts = held + drawings + held  # at 1920×1080: held frames re-coded (x264 CRF 18, faint) and small drawings
    stronger = [round(count * (strength if count in drawings else 0.1)) for count in counts]
    assert small_drawings_threshold(counts, stronger, HD_LEAST, HD) == expected, why
    assert int(SMALLEST * HD) == 207 and GAP == 4.0 and FIRM < 0.99


def test_dedupe_finds_drawings_smaller_than_the_least_threshold():
    """Through ``dedupe``: a 640×360 lossless clip where an 8×8 square steps 4 px on twos changes 64 pixels a drawing,
    under the least threshold (115): the defaults find every drawing, the least threshold alone finds none."""
    frames = []
    for k in range(24):
        frame = np.full((360, 640, 3), 170, np.uint8)
        x = 100 + 4 * (k // 2)
        frame[200:208, x:x + 8] = 20
        frames.append(frame)
    clip = clip_from_arrays(frames, Fraction(24000, 1001))
    assert [d.first for d in find_drawings(clip, DEFAULT_THRESHOLD, DEFAULT_TOLERANCE)] == [0]
    found = dedupe(clip)
    assert [f.props["AnimSplat_SourceFrame"] for f in found.frames(close=True)] == list(range(0, 24, 2))
    assert detection(clip).threshold == int(SMALLEST * 640 * 360)
