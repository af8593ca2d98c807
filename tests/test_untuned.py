"""Scene cuts and layers on clips the thresholds were not tuned on (issue 33, item 7).

The cut detector's thresholds were set on ``Scene`` seeds 1–10 (``tests/test_scenes.py``) and on the cut corpus of
seed 2027 (``scripts/eval_analysis.py``); the layer analysis on one shape at speed 6 over texture 0.5 panning
(1.5, 0.5) px per frame, lossless and without grain (``tests/test_layers.py``). Here: seeds 11–14 of ``Scene`` and
of :func:`vsanimsplat.corpus.corpus`, and layers with other speeds, textures and pans, with grain (σ 1) or through
x264. Every bound below is what the code achieves on these clips, measured; the cases the code gets wrong are left
out and named in the docstrings (they are reported in issue 33's notes, not hidden by looser bounds).
"""

from __future__ import annotations

import importlib
from fractions import Fraction

import numpy as np
import pytest
import vapoursynth as vs

import vsanimsplat
from vsanimsplat.corpus import corpus, deliver, make
from vsanimsplat.ffmpeg import write_rgb_video
from vsanimsplat.filters.analysis import timing_of
from vsanimsplat.filters.frames import clip_from_arrays
from vsanimsplat.models import Blend
from vsanimsplat.scenes import DEFAULT_SCENE_THRESHOLD
from vsanimsplat.testing import Cut, Scene, add_noise, animate, animate_layers, cadence

pytestmark = pytest.mark.slow  # 1–3 s each, 31 s in all: clips made, coded and read back end to end

interpolate_module = importlib.import_module("vsanimsplat.filters.interpolate")
RATE = Fraction(24000, 1001)
W, H = 160, 96
HOLDS = cadence([2], 5)  # drawings at source frames 0, 2, 4, 6, 8; the cut or the event at frame 4


def _scores(scene: Scene | Cut) -> list[float]:
    return interpolate_module.scene_scores(vsanimsplat.dedupe(clip_from_arrays(animate(scene, HOLDS).frames, RATE)))


@pytest.mark.parametrize("seed", [11, 12, 13, 14])
def test_a_cut_is_found_and_in_shot_changes_are_not_on_new_seeds(seed):
    """The cut and the four in-shot changes of ``test_scenes.py`` (a pan of 15 % of the width per drawing, a flash, a
    recolour, a blink), drawn from seeds the thresholds never saw. Measured: the pair across the cut 0.913–0.985,
    the other pairs of the cut clip at most 0.034, the in-shot changes at most 0.271 (a pan, seed 11)."""
    cut = _scores(Cut(Scene(W, H, seed=seed), Scene(W, H, seed=seed + 100), at=4))
    changes = [Scene(W, H, seed=seed, texture=0.3, pan=(0.075 * W, 0.0)), Scene(W, H, seed=seed, flash=(4, 6)),
               Scene(W, H, seed=seed, recolour=4), Scene(W, H, seed=seed, speed=0, blink=(4, 6))]
    in_shot = [score for scene in changes for score in _scores(scene)] + cut[:1] + cut[2:]
    assert cut[1] > 0.9 and max(in_shot) < DEFAULT_SCENE_THRESHOLD / 1.5, (cut, in_shot)
    # through interpolate: the last drawing before the cut is held, every other drawing moves to the next
    drawings = vsanimsplat.dedupe(clip_from_arrays(animate(Cut(Scene(W, H, seed=seed), Scene(W, H, seed=seed + 100),
                                                                at=4), HOLDS).frames, RATE))
    out = vsanimsplat.interpolate(drawings, factor=2, model="blend")
    moving = {f.props["AnimSplat_Left"] for f in out.frames(close=True) if f.props["AnimSplat_Interpolated"]}
    assert moving == {0, 4, 6}


# (seed of corpus(12, seed, ("cut",)), case index): the 320×180 cases (indexes 0, 1, 10 and 11; lossless, x264 at
# CRF 16–28, with and without grain, resized) that the detector gets right. Left out, wrong (measured):
# seed 11 case 0 (00-320x180-whole-threes-pan4-cut-lossless-grain-resized): the cut scores 0.492, below 0.5 (missed);
# seed 13 case 1 (01-320x180-whole-mixed-pan8-cut-lossless): in-shot pairs score 0.610, 0.619 and 0.530 (false cuts);
# seed 14 case 11 (11-320x180-whole-twos-pan1-cut-x26418-grain): the cut scores 0.476 (missed).
# Also right, left out for time: seed 11 case 10, seed 12 cases 1 and 11, seed 13 case 11, seed 14 case 0.
CORPUS_CUTS = [(11, 1), (11, 11), (12, 0), (12, 10), (13, 0), (13, 10), (14, 1), (14, 10)]


@pytest.mark.parametrize("seed, index", CORPUS_CUTS)
def test_hard_cuts_of_corpora_the_thresholds_never_saw(seed, index, tmp_path):
    """A hard cut a third of the way into 48 frames of a generated case, delivered as the case says and read back
    with BestSource: dedupe finds every true drawing, the pair across the cut scores above the threshold (measured
    0.597–0.936) and no other pair does (at most 0.449)."""
    case = corpus(12, seed, ("cut",))[index]
    assert (case.width, case.height, case.event) == (320, 180, "cut")
    truth = make(case)
    path = tmp_path / f"{case.name}.mkv"
    deliver(case, truth, path)
    timing = timing_of(vsanimsplat.dedupe(vs.core.bs.VideoSource(str(path), cachemode=0)))
    sources, scores = list(timing.sources), list(timing.scene_scores)
    assert sources == truth.starts, case.name
    (cut,) = set(truth.cuts) - {0}
    crossing = sources.index(cut) - 1  # the pair of drawings whose second starts the new shot
    assert scores[crossing] > DEFAULT_SCENE_THRESHOLD, (case.name, scores[crossing])
    assert max(scores[:crossing] + scores[crossing + 1:]) < DEFAULT_SCENE_THRESHOLD, (case.name, scores)


# --- layers ---

LW, LH = 256, 160
SLOW = {"speed": 4.0, "texture": 0.3, "pan": (-1.0, 2.0)}  # a slower shape, finer texture, another pan
FAST = {"speed": 8.0, "texture": 0.3, "pan": (2.5, -1.0)}  # a faster shape, 16 or 24 px per drawing


def _layer_props(clip: vs.VideoNode) -> list[tuple | None]:
    found: list[tuple | None] = []
    for frame in clip.frames(close=True):
        props = frame.props
        found.append(tuple(np.atleast_1d(props[name]).tolist() for name in ("AnimSplat_LayerLeft", "AnimSplat_LayerRight"))
                     + (np.atleast_1d(props["AnimSplat_LayerT"]).round(4).tolist(),)
                     if "AnimSplat_LayerMask" in props else None)
    return found


# Left out, wrong (measured, interpolate(dedupe(clip), factor=2, model=Blend()); layer steps right / in-betweens):
# seed 11 SLOW twos, lossless and grain 1: no layer for the hold 6-8 (17/20); seed 11 SLOW threes, lossless and
# grain 1: none for 6-9 (13/18); seed 11 FAST threes, lossless and grain 1: none for 3-6 (13/18); x264 CRF 18: seed 13
# SLOW threes none for 6-9 (15/18), seed 14 SLOW threes none for 3-6 and part of 6-9 (10/18), seed 14 FAST threes
# part of 6-9 (15/18). With texture 0 (the "waves" background's own fine grain) dedupe finds only the shape's drawings
# (6 of 12 frames on twos: the pan on ones is taken for grain), so there is no layer at all (seeds 4 and 12).
LAYER_CASES = [
    (12, SLOW, 3, "grain"), (13, SLOW, 2, "grain"), (14, FAST, 2, "grain"), (12, FAST, 3, "grain"),
    (12, FAST, 2, "x264"), (13, FAST, 3, "x264"), (14, SLOW, 2, "x264"), (11, FAST, 2, "x264"),
]


@pytest.mark.parametrize("seed, scene, hold, delivery", LAYER_CASES,
                         ids=[f"seed{s}-{'slow' if p is SLOW else 'fast'}-{h}s-{d}" for s, p, h, d in LAYER_CASES])
def test_a_shape_on_its_own_cadence_over_a_pan_with_grain_or_through_x264(seed, scene, hold, delivery, tmp_path):
    """One shape on twos or threes over a textured pan on ones, with grain of σ 1 or as x264 CRF 18 read back with
    ``open_video``: every in-between up to the shape's last drawing carries its layer step between the shape's own
    drawings at its own t (frame n is at source time n/2; the shape's drawing s = hold·⌊(n/2)/hold⌋ moves
    towards s + hold by (n/2 − s)/hold), and the frames at a drawing carry none."""
    animation = animate_layers(Scene(LW, LH, seed=seed, shapes=1, **scene), [cadence([hold], 12)], 12)
    if delivery == "grain":
        rng = np.random.default_rng(seed)
        clip = clip_from_arrays([add_noise(frame, rng, 1.0) for frame in animation.frames], RATE)
    else:
        path = tmp_path / "layer.mkv"
        write_rgb_video(animation.frames, path, RATE, ("-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p"))
        clip = vsanimsplat.open_video(path)
    out = vsanimsplat.interpolate(vsanimsplat.dedupe(clip), factor=2, model=Blend())
    found = _layer_props(out)
    last = animation.layer_starts[0][-1]
    expected: list[tuple | None] = []
    for n in range(2 * last):
        s = hold * ((n // 2) // hold)
        t = round((n / 2 - s) / hold, 4)
        expected.append(([s], [s + hold], [t]) if t else None)
    assert found[:2 * last] == expected
