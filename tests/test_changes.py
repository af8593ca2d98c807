"""Unchanged pixels come from the inputs, and the networks run only where the picture changes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import vapoursynth as vs

import vsanimsplat
from vsanimsplat.filters.frames import clip_from_arrays
from vsanimsplat.models import GMFSS, RIFE, Blend, ChangedPair, ChangePolicy, Model, SoftSplat, SplatOnly, load_model
from vsanimsplat.models.changes import (CONTEXT, FEATHER, GROW, LINK, changed_pixels, network_weight, region_box,
                                        region_boxes)
from vsanimsplat.models.weights import installed
from vsanimsplat.testing import Scene

core = vs.core
AVAILABLE = [name for name in ("union", "base", "rife", "splat") if set(installed()[name].values()) == {"ok"}]
_MISSING = pytest.mark.skipif(
    len(AVAILABLE) < 4, reason="published weights not installed; run `python -m vsanimsplat models fetch all`")
_RANDOM = {"union": lambda: GMFSS("union"), "base": lambda: GMFSS("base"), "rife": RIFE, "splat": SplatOnly,
           "blend": Blend, "softsplat": lambda: SoftSplat("softsplat")}
"""Every model class, made with random weights in the test that uses it (not while the module is collected)."""


def needs_weights(test: Callable) -> Callable:
    """The published weights' networks on the CPU: skipped without them, and slow (``make check`` leaves them out)."""
    return pytest.mark.slow(_MISSING(test))


def _random_model(name: str) -> Model:
    """The model ``name`` with random weights, under the default policy."""
    model = _RANDOM[name]()
    model.changes = ChangePolicy()
    return model


def _picture(height: int = 128, width: int = 192, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(Scene(width, height, seed=seed).render(0.0)).permute(2, 0, 1).unsqueeze(0)


def _blink(picture: torch.Tensor, top: int = 50, left: int = 80, size: int = 12) -> torch.Tensor:
    """``picture`` with a small square recoloured (a local change, like a blink)."""
    changed = picture.clone()
    changed[..., top:top + size, left:left + size] = torch.tensor([0.1, 0.8, 0.2]).view(1, 3, 1, 1)
    return changed


def _far_from(changed: torch.Tensor, distance: float) -> torch.Tensor:
    """(H, W) bool: pixels farther than ``distance`` (Euclidean) from every True pixel of ``changed`` (1, 1, H, W)."""
    ys, xs = torch.nonzero(changed[0, 0], as_tuple=True)
    yy, xx = torch.meshgrid(torch.arange(changed.shape[2]), torch.arange(changed.shape[3]), indexing="ij")
    nearest = torch.full(yy.shape, float("inf"))
    for y, x in zip(ys.tolist(), xs.tolist()):
        nearest = torch.minimum(nearest, ((yy - y) ** 2 + (xx - x) ** 2).float().sqrt())
    return nearest > distance


# --- the pieces ----------------------------------------------------------------------------------------------

def test_weight_is_one_near_changes_and_zero_beyond_grow_plus_feather():
    active = torch.zeros(1, 1, 80, 80, dtype=torch.bool)
    active[..., 40, 40] = True
    weight = network_weight(active)[0, 0]
    assert weight[40, 40] == 1 and weight[40, 40 + GROW] == 1
    row = weight[40, 40:].tolist()
    assert all(a >= b for a, b in zip(row, row[1:]))  # a ramp down, no step back up
    assert 0 < weight[40, 40 + GROW + FEATHER // 2] < 1
    assert weight[40, 40 + GROW + FEATHER] > 0
    assert weight[40, 40 + GROW + FEATHER + 1] == 0 and weight[40 - GROW - FEATHER - 1, 40] == 0
    assert (weight > 0).sum() == (2 * (GROW + FEATHER) + 1) ** 2


def test_region_box_holds_the_changes_with_context_aligned_and_none_when_most_of_the_frame():
    changed = torch.zeros(1, 1, 300, 500, dtype=torch.bool)
    changed[..., 140:150, 220:240] = True
    top, bottom, left, right = region_box(changed, (320, 512), 64)
    assert all(v % 64 == 0 for v in (top, bottom, left, right))
    assert top <= 140 - CONTEXT and bottom >= 150 + CONTEXT and left <= 220 - CONTEXT and right >= 240 + CONTEXT
    assert (bottom - top) * (right - left) < 0.5 * 320 * 512
    changed[..., 5, 5] = changed[..., 290, 490] = True  # changes in opposite corners: the box is the frame
    assert region_box(changed, (320, 512), 64) is None


def test_changes_far_apart_are_separate_regions_and_close_ones_one():
    changed = torch.zeros(1, 1, 1080, 1920, dtype=torch.bool)
    changed[..., 100:120, 100:140] = True
    changed[..., 900:910, 1700:1760] = True  # far from the first
    boxes = region_boxes(changed, (1088, 1920), 64, 320)
    assert len(boxes) == 2
    for (top, bottom, left, right), (rows, cols) in zip(boxes, [(slice(100, 120), slice(100, 140)),
                                                                (slice(900, 910), slice(1700, 1760))]):
        assert all(v % 64 == 0 for v in (top, bottom, left, right)) and min(bottom - top, right - left) >= 320
        assert top <= rows.start - CONTEXT and bottom >= rows.stop + CONTEXT
        assert left <= cols.start - CONTEXT and right >= min(cols.stop + CONTEXT, 1920)
    # a change less than LINK pixels from the first joins it: one box around both
    changed[..., 100:120, 140 + LINK - 1:140 + LINK + 20] = True
    boxes = region_boxes(changed, (1088, 1920), 64, 320)
    assert len(boxes) == 2 and boxes[0][2] <= 100 - CONTEXT and boxes[0][3] >= 140 + LINK + 20 + CONTEXT
    # boxes grown to the smallest picture overlap: merged into one
    near = torch.zeros(1, 1, 1080, 1920, dtype=torch.bool)
    near[..., 500, 500] = near[..., 500, 500 + LINK + 2 * CONTEXT + 64] = True  # never linked
    assert len(region_boxes(near, (1088, 1920), 64, 0)) == 2
    assert region_boxes(near, (1088, 1920), 64, 512) == [(192, 768, 192, 1216)]
    # changes all over the frame: the whole frame
    spread = torch.zeros(1, 1, 1080, 1920, dtype=torch.bool)
    spread[..., ::300, ::300] = True
    assert region_boxes(spread, (1088, 1920), 64, 320) is None


def test_policy_rejects_bad_tolerances():
    for bad in (-1, 256, 2.5, True):
        with pytest.raises(ValueError, match="static_tolerance"):
            ChangePolicy(bad)


# --- models ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.slow) if name == "base" else name  # as union
                                  for name in _RANDOM])
def test_identical_pictures_come_back_bit_exact_from_every_model(name):
    model = _random_model(name)
    picture = _picture(70, 90)
    pair = model.pair(model.prepare(picture), model.prepare(picture.clone()))
    assert isinstance(pair, ChangedPair) and pair.regions == ()  # no network ran
    for t in (0.25, 0.5, 0.9):
        out = model.synthesize(pair, t)
        assert torch.equal(out.image, picture)
        assert not out.weight.any()


@pytest.mark.parametrize("name", ["rife", pytest.param("union", marks=pytest.mark.slow)])
def test_without_a_policy_the_networks_draw_every_pixel(name):
    model = _RANDOM[name]()
    picture = _picture(70, 90)
    out = model.synthesize(model.pair(model.prepare(picture), model.prepare(picture)), 0.5)
    assert out.weight is None and not torch.equal(out.image, picture)


@needs_weights
@pytest.mark.parametrize("name", ["union", "base", "rife", "splat", "blend"])
def test_a_small_change_leaves_every_pixel_32_px_away_untouched(name, torch_device):
    device = torch_device
    model = load_model(name, device=device)
    picture = _picture()
    changed_picture = _blink(picture)
    pair = model.pair(model.prepare(picture.to(device)), model.prepare(changed_picture.to(device)))
    changed = changed_pixels(picture, changed_picture, model.changes.threshold)
    far = _far_from(changed, 32)
    for t in (0.3, 0.5):
        out = model.synthesize(pair, t).image.cpu()
        assert torch.equal(out[..., far], picture[..., far])
        assert not torch.equal(out, picture)  # the change itself is interpolated


@needs_weights
def test_small_changes_far_apart_are_computed_on_their_own_crops_close_to_the_whole_frame_result():
    cropped, whole = load_model("union", device="cpu"), load_model("union", device="cpu", regions=False)
    picture = _picture(448, 896, seed=3)
    changed_picture = _blink(_blink(picture, 40, 40, 16), 400, 840, 16)  # two blinks in opposite corners
    pairs = [m.pair(m.prepare(picture), m.prepare(changed_picture)) for m in (cropped, whole)]
    assert [region.box for region in pairs[1].regions] == [None]
    assert len(pairs[0].regions) == 2
    for region in pairs[0].regions:
        top, bottom, left, right = region.box
        assert region.inner.a.image.shape[-2:] == (bottom - top, right - left)  # the networks saw the crop only
    assert sum((bottom - top) * (right - left) for top, bottom, left, right in (region.box for region in pairs[0].regions)) <= 0.55 * 448 * 896
    a, b = (m.synthesize(p, 0.5).image for m, p in zip((cropped, whole), pairs))
    mse = torch.mean((a - b) ** 2).item()
    assert 10 * np.log10(1 / mse) > 40
    changed = changed_pixels(picture, changed_picture, cropped.changes.threshold).float()
    far = F.max_pool2d(changed, 65, stride=1, padding=32)[0, 0] == 0  # more than 32 px away in x or y
    assert torch.equal(a[..., far], picture[..., far])


@needs_weights
def test_a_pan_is_computed_on_the_whole_frame():
    model = load_model("union", device="cpu")
    picture = _picture(128, 192)
    pair = model.pair(model.prepare(picture), model.prepare(torch.roll(picture, 6, dims=3)))
    assert [region.box for region in pair.regions] == [None]


@needs_weights
def test_an_object_in_the_middle_of_its_path_is_kept():
    """A small object that jumps far: its in-between position is neither of the changed places."""
    model = load_model("union", device="cpu")
    scene = Scene(256, 128, seed=2, shapes=0)
    background = torch.from_numpy(scene.background).permute(2, 0, 1).unsqueeze(0)

    def with_dot(x: int) -> torch.Tensor:
        picture = background.clone()
        picture[..., 56:72, x:x + 16] = torch.tensor([0.9, 0.1, 0.1]).view(1, 3, 1, 1)
        return picture

    out = model.synthesize(model.pair(model.prepare(with_dot(40)), model.prepare(with_dot(120))), 0.5)
    middle = out.image[..., 56:72, 84:92]  # the middle of the dot's path, 40 px from both ends
    assert (out.weight[..., 56:72, 84:92] > 0).all()
    assert middle[:, 0].mean() > 0.5 and middle[:, 1].mean() < 0.4  # red, not the background


# --- through interpolate ----------------------------------------------------------------------------------------

def _clip(frames: list[np.ndarray], fmt: int) -> vs.VideoNode:
    clip = clip_from_arrays(frames)
    if fmt == vs.RGB24:
        return clip
    return clip.resize.Bicubic(format=fmt, matrix_s="709")


def _uint8(picture: torch.Tensor) -> np.ndarray:
    return (picture[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def _planes(frame: vs.VideoFrame) -> list[np.ndarray]:
    return [np.asarray(frame[p]).copy() for p in range(frame.format.num_planes)]


@pytest.mark.parametrize(("model", "fmt"), [  # the formats' plumbing with blend; each network's policy in one format
    *(("blend", fmt) for fmt in (vs.YUV420P8, vs.YUV420P10, vs.RGB24, vs.GRAY16)),
    *(pytest.param(model, vs.YUV420P8, marks=pytest.mark.slow) for model in ("rife", "union", "base", "splat"))])
def test_interpolate_returns_identical_drawings_bit_exact(model, fmt):
    if model != "blend" and model not in AVAILABLE:
        pytest.skip(f"weights of {model!r} not installed; run `python -m vsanimsplat models fetch all`")
    picture = _uint8(_picture(72, 96))
    clip = _clip([picture] * 3, fmt)
    out = vsanimsplat.interpolate(clip, factor=2, model=model, scene_detect=False)
    source = _planes(clip.get_frame(0))
    interpolated = 0
    for n in range(out.num_frames):
        frame = out.get_frame(n)
        interpolated += frame.props["AnimSplat_Interpolated"]
        assert all(np.array_equal(a, b) for a, b in zip(_planes(frame), source)), f"frame {n}"
    assert interpolated >= 2


@needs_weights
@pytest.mark.parametrize("fmt", [vs.YUV420P8, vs.RGB24])
def test_interpolate_keeps_everything_far_from_a_small_change(fmt):
    picture = _picture(128, 192)
    changed_picture = _blink(picture)
    clip = _clip([_uint8(picture), _uint8(changed_picture)], fmt)
    out = vsanimsplat.interpolate(clip, factor=2, model="union", scene_detect=False)
    frame = out.get_frame(1)
    assert frame.props["AnimSplat_Interpolated"] == 1 and 0 < frame.props["AnimSplat_ChangeFraction"] < 0.1
    far = _far_from(changed_pixels(picture, changed_picture, ChangePolicy().threshold), 32).numpy()
    for made, source in zip(_planes(frame), _planes(clip.get_frame(0))):
        step = far.shape[0] // made.shape[0]
        plane_far = far[::step, ::step] & far[1::step, 1::step] if step > 1 else far
        assert np.array_equal(made[plane_far], source[plane_far])
    mask = frame.props["AnimSplat_ChangeMask"]
    assert np.asarray(mask[0])[far].max() == 0 and np.asarray(mask[0]).max() == 255


def test_interpolate_static_tolerance_none_lets_the_model_draw_everything():
    picture = _uint8(_picture(72, 96))
    clip = _clip([picture] * 2, vs.RGB24)
    out = vsanimsplat.interpolate(clip, factor=2, model="blend", scene_detect=False, static_tolerance=None)
    assert "AnimSplat_ChangeMask" not in out.get_frame(1).props


@pytest.mark.parametrize("bad", [-1, 256, 1.5, "10"])
def test_interpolate_rejects_a_bad_static_tolerance(bad):
    clip = _clip([_uint8(_picture(72, 96))] * 2, vs.RGB24)
    with pytest.raises(vs.Error, match="static_tolerance"):
        vsanimsplat.interpolate(clip, factor=2, model="blend", static_tolerance=bad)
