"""The synthetic animation generator: deterministic, held frames repeat, drawings differ, truth is exact."""

import numpy as np
import pytest

from vsanimsplat.testing import Cut, Scene, add_noise, animate, cadence


def test_render_is_deterministic_and_moves():
    a, b = Scene(80, 48, seed=3), Scene(80, 48, seed=3)
    assert np.array_equal(a.render(2.5), b.render(2.5))
    assert not np.array_equal(a.render(0), a.render(1))
    image = a.render(0)
    assert image.shape == (48, 80, 3) and image.dtype == np.float32
    assert 0 <= image.min() and image.max() <= 1


def test_outlines_are_dark():
    scene = Scene(96, 64, seed=1)
    assert (scene.render(0).max(axis=2) <= 0.06).sum() > 50  # outline pixels exist


def test_animate_holds_drawings_and_keeps_truth():
    holds = cadence([2, 3, 1], 5)
    assert holds == [2, 3, 1, 2, 3]
    clip = animate(Scene(64, 48, seed=2), holds)
    assert clip.starts == [0, 2, 5, 6, 8]
    assert len(clip.frames) == 11
    assert np.array_equal(clip.frames[0], clip.frames[1])
    assert not np.array_equal(clip.frames[1], clip.frames[2])
    assert np.array_equal(clip.frames[5], clip.truth(5))
    assert not np.array_equal(clip.truth(5.5), clip.truth(5))


def test_noise_is_small_and_varies():
    clean = np.full((32, 32, 3), 128, np.uint8)
    rng = np.random.default_rng(0)
    a, b = add_noise(clean, rng, 2.0), add_noise(clean, rng, 2.0)
    assert not np.array_equal(a, b)
    assert np.abs(a.astype(int) - 128).mean() < 3


@pytest.mark.parametrize("bad", [[], [0], [2, -1]])
def test_cadence_rejects_bad_patterns(bad):
    with pytest.raises(ValueError, match="pattern"):
        cadence(bad, 3)


def test_scene_rejects_tiny_frames():
    with pytest.raises(ValueError, match="width and height"):
        Scene(8, 8)


def test_scene_changes_for_cut_detection():
    plain = Scene(64, 48, seed=3, speed=0)
    pan = Scene(64, 48, seed=3, speed=0, pan=(5.0, 0.0))
    assert np.array_equal(pan.background, plain.background) and np.array_equal(pan.render(0), plain.render(0))
    assert np.allclose(pan._background_at(2), np.roll(plain.background, 10, axis=1))  # 5 px per frame, wrapping
    flash = Scene(64, 48, seed=3, speed=0, flash=(1, 2))
    assert np.array_equal(flash.render(0), plain.render(0))
    assert np.allclose(flash.render(1), 0.45 + 0.55 * plain.render(1))
    recolour = Scene(64, 48, seed=3, speed=0, recolour=1)
    blink = Scene(64, 48, seed=3, speed=0, blink=(1, 2))
    for changed in (recolour, blink):
        assert np.array_equal(changed.render(0), plain.render(0)) and not np.array_equal(changed.render(1), plain.render(1))
    assert (blink.render(1) != plain.render(1)).any(axis=2).mean() < 0.05  # a small region only
    second = Scene(64, 48, seed=4)
    cut = animate(Cut(plain, second, at=2), [2, 2])
    assert np.array_equal(cut.frames[0], cut.truth(0)) and np.array_equal(cut.truth(2), np.rint(second.render(0) * 255))
    with pytest.raises(ValueError, match="same size"):
        Cut(plain, Scene(32, 48), at=2)
