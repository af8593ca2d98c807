"""``interpolate`` with the reference design: ``model="softsplat"`` and ``flow="pwcnet"``, end to end from
the weight cache, on random weights in the published key layouts (no download, no real weights)."""

from __future__ import annotations

import hashlib
import math
from fractions import Fraction

import numpy as np
import pytest
import torch
import vapoursynth as vs

import vsanimsplat
from vsanimsplat.models import GMFSS, SPECS, load_model, weights
from vsanimsplat.models.blend import Blend
from vsanimsplat.models.softsplat import SoftSplat
from vsanimsplat.nets.pwcnet import PWCNet
from tests.helpers import synthetic_clip
from tests.test_models_softsplat import published_layout as softsplat_layout
from tests.test_nets_pwcnet import published_layout as pwc_layout
from tests.test_nets_pwcnet import random_state

NTSC = Fraction(24000, 1001)
HOLDS = [2, 3, 2]


@pytest.fixture(scope="module")
def random_files(tmp_path_factory):
    """Random weights saved as the published files (their key layouts)."""
    folder = tmp_path_factory.mktemp("published")
    files = {"softsplat": folder / "network-lf.pytorch", "pwcnet": folder / "network-default.pytorch"}
    torch.save(random_state(softsplat_layout(), seed=5), files["softsplat"])
    torch.save(random_state(pwc_layout(), seed=6), files["pwcnet"])
    return files


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VSANIMSPLAT_MODEL_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def planes(frame: vs.VideoFrame) -> np.ndarray:
    return np.stack([np.asarray(frame[p]) for p in range(3)], axis=-1)


def check_timing_and_props(out: vs.VideoNode, clip: vs.VideoNode, animation) -> None:
    """x2 of a dedupe output: exact frame count, held frames bit-exact, in-betweens at their true times."""
    rate = 2 * NTSC
    assert (out.width, out.height, out.format.id) == (clip.width, clip.height, clip.format.id)
    assert out.fps == rate and out.num_frames == math.ceil(Fraction(sum(HOLDS) * 1001, 24000) * rate)
    starts = [0, 2, 5]
    for n, frame in enumerate(out.frames(close=True)):
        source = n / 2  # source frames elapsed
        left = max(s for s in starts if s <= source)
        right = min((s for s in starts if s > source), default=None)
        assert frame.props["AnimSplat_Left"] == left
        assert frame.props["_AbsoluteTime"] == pytest.approx(float(n / rate))
        if right is None or source == left:
            assert frame.props["AnimSplat_Interpolated"] == 0
            assert np.array_equal(planes(frame), animation.frames[left])
        else:
            assert frame.props["AnimSplat_Interpolated"] == 1 and frame.props["AnimSplat_Right"] == right
            assert frame.props["AnimSplat_T"] == pytest.approx((source - left) / (right - left))
            picture = planes(frame)
            assert picture.std() > 1.0  # a picture, not a blank frame


@pytest.mark.slow
def test_softsplat_runs_end_to_end_from_the_cache(cache, random_files):
    weights.add("softsplat", random_files["softsplat"], progress=lambda _: None)
    clip, animation = synthetic_clip(HOLDS, 70, 46)
    out = vsanimsplat.interpolate(vsanimsplat.dedupe(clip), factor=2, model="softsplat", device="cpu",
                                  scene_detect=False)
    check_timing_and_props(out, clip, animation)


@pytest.mark.slow
def test_splat_with_pwcnet_flow_runs_end_to_end(cache, random_files):
    weights.add("pwcnet", random_files["pwcnet"], progress=lambda _: None)
    assert isinstance(load_model("splat", flow="pwcnet").flownet, PWCNet)
    clip, animation = synthetic_clip(HOLDS, 70, 46)
    out = vsanimsplat.interpolate(vsanimsplat.dedupe(clip), factor=2, model="splat", flow="pwcnet",
                                  device="cpu", scene_detect=False)
    check_timing_and_props(out, clip, animation)


@pytest.mark.slow
def test_union_with_pwcnet_flow_loads_only_what_it_needs(cache, random_files, monkeypatch):
    """GMFlow's file is absent: the union model with PWC-Net flow does not need it."""
    weights.add("pwcnet", random_files["pwcnet"], progress=lambda _: None)
    hashes = {}
    for role, network in GMFSS("union").networks().items():
        filename = SPECS["union"].roles[role]
        if role != "flownet":
            torch.save(network.state_dict(), cache / filename)
            hashes[filename] = hashlib.sha256((cache / filename).read_bytes()).hexdigest()
    monkeypatch.setattr(weights, "FILES", {**weights.FILES, **hashes})
    with pytest.raises(weights.WeightsError, match="models fetch union"):
        load_model("union")  # GMFlow's flownet.pkl is missing
    model = load_model("union", flow="pwcnet")
    assert isinstance(model.flownet, PWCNet)
    clip, animation = synthetic_clip(HOLDS, 70, 46)
    out = vsanimsplat.interpolate(vsanimsplat.dedupe(clip), factor=2, model="union", flow="pwcnet", device="cpu",
                                  scene_detect=False)
    check_timing_and_props(out, clip, animation)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"model": "softsplat"}, r"models fetch softsplat.*content\.sniklaus\.com.*models add softsplat PATH"),
        ({"model": "softsplat-l1"}, "network-l1.pytorch"),
        ({"model": "splat", "flow": "pwcnet"}, "weights of 'pwcnet' are not installed"),
        ({"model": "union", "flow": "raft"}, "flow must be None .* or one of 'gmflow', 'pwcnet', got 'raft'"),
        ({"model": "softsplat", "flow": "pwcnet"}, "flow applies to the models 'union', 'base', 'splat'"),
        ({"model": Blend(), "flow": "pwcnet"}, "flow apply to models loaded by name"),
    ],
)
def test_missing_weights_and_bad_flows_are_clear_errors(cache, kwargs, match):
    clip, _ = synthetic_clip(HOLDS, 70, 46)
    with pytest.raises(vs.Error, match=match):
        vsanimsplat.interpolate(clip, factor=2, device="cpu", **kwargs)


@pytest.mark.slow
def test_softsplat_l1_runs_end_to_end_and_its_in_betweens_are_what_its_weights_make(cache, tmp_path):
    """``softsplat-l1`` from its own file: hand-set weights in the released architecture whose output is the mean
    of the two pictures splatted by zero flow (:func:`tests.test_models_softsplat.mean_of_splats`), so every
    in-between must be the mean of the drawings on either side, to rounding: the file is loaded (not the
    ``softsplat`` one), the pictures go through the model's normalisation and colour order and back."""
    from tests.test_models_softsplat import mean_of_splats

    path = tmp_path / "network-l1.pytorch"
    torch.save(mean_of_splats(SoftSplat()).network.state_dict(), path)
    weights.add("softsplat-l1", path, progress=lambda _: None)
    assert weights.installed()["softsplat"] != {"network-lf.pytorch": "ok"}
    clip, animation = synthetic_clip(HOLDS, 70, 46)
    out = vsanimsplat.interpolate(vsanimsplat.dedupe(clip), factor=2, model="softsplat-l1", device="cpu",
                                  scene_detect=False, static_tolerance=None)  # every pixel from the network
    check_timing_and_props(out, clip, animation)
    made = 0
    for frame in out.frames(close=True):
        if frame.props["AnimSplat_Interpolated"]:
            left, right = (animation.frames[frame.props[side]].astype(np.float64) for side in ("AnimSplat_Left", "AnimSplat_Right"))
            assert np.abs(planes(frame) - (left + right) / 2).max() <= 1.0
            made += 1
    assert made == 8
