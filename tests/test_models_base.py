"""The model interface on random-initialised networks: padding, shapes, dtype, determinism, reuse, holes."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from vsanimsplat.models import GMFSS, RIFE, FrameState, Synthesis
from vsanimsplat.models.base import pad_to_multiple
from vsanimsplat.models.gmfss import GMFSSFrame, GMFSSPair

H, W = 48, 80  # padded to 64 x 128 by GMFSS, 64 x 96 by RIFE


class ConstantFlow(nn.Module):
    """Stand-in for GMFlow: the same translation (dx, dy) for any pair; counts its calls."""

    def __init__(self, dx: float = 0.0, dy: float = 0.0):
        super().__init__()
        self.register_buffer("flow", torch.tensor([dx, dy]).view(1, 2, 1, 1))
        self.calls = 0

    def forward(self, img0, img1):
        self.calls += 1
        return self.flow.expand(img0.shape[0], 2, *img0.shape[2:]).clone()


class TinyFlow(nn.Module):
    """Stand-in for GMFlow that depends on its inputs (so flows differ both ways)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(6, 2, 3, padding=1)

    def forward(self, img0, img1):
        return 4 * self.conv(torch.cat((img0, img1), 1))


def _frames(seed=0, h=H, w=W):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, h, w, generator=g), torch.rand(1, 3, h, w, generator=g)


def _gmfss(variant="union", flownet=None, **kwargs):
    torch.manual_seed(0)
    return GMFSS(variant, flownet=TinyFlow() if flownet is None else flownet, **kwargs)


@pytest.fixture(scope="module")
def union():
    return _gmfss("union")


@pytest.fixture(scope="module")
def base():
    return _gmfss("base")


@pytest.fixture(scope="module")
def union64(union):
    """The union model in float64, with the same weights."""
    states = {role: net.state_dict() for role, net in union.networks().items()}
    return GMFSS("union", flownet=TinyFlow(), states=states, dtype=torch.float64)


# --------------------------------------------------------------------------- padding


@pytest.mark.parametrize("mode", ["replicate", "reflect"])
def test_padding_keeps_the_picture_and_fills_like_numpy(mode):
    image = torch.rand(1, 3, 5, 7, dtype=torch.float64)
    padded = pad_to_multiple(image, 8, mode)
    assert padded.shape == (1, 3, 8, 8)
    expected = np.pad(image.numpy(), ((0, 0), (0, 0), (0, 3), (0, 1)), mode="edge" if mode == "replicate" else "reflect")
    np.testing.assert_array_equal(padded.numpy(), expected)


def test_reflect_padding_larger_than_the_picture_is_repeated():
    image = torch.arange(3.0).view(1, 1, 1, 3)
    padded = pad_to_multiple(image, 8, "reflect")
    assert padded.shape == (1, 1, 8, 8)
    # mirrored row 0 1 2 1 0 1 2 1, and a 1-row picture is replicated downwards
    assert padded[0, 0, 0].tolist() == [0, 1, 2, 1, 0, 1, 2, 1]
    assert torch.equal(padded[0, 0], padded[0, 0, :1].expand(8, 8))


def test_padding_is_a_no_op_on_a_multiple_and_rejects_unknown_modes():
    image = torch.rand(1, 3, 64, 128)
    assert torch.equal(pad_to_multiple(image, 64, "reflect"), image)
    with pytest.raises(ValueError, match="padding"):
        pad_to_multiple(image, 64, "zeros")
    with pytest.raises(ValueError, match="padding"):
        GMFSS("base", flownet=TinyFlow(), padding="circular")


# --------------------------------------------------------------------------- shapes and contract


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["union", "base"])
def test_gmfss_states_and_outputs(variant, request):
    model = request.getfixturevalue(variant)
    img0, img1 = _frames()
    a, b = model.prepare(img0), model.prepare(img1)
    assert isinstance(a, GMFSSFrame) and a.size == (H, W)
    assert a.image.shape == (1, 3, 64, 128) and a.half.shape == (1, 3, 32, 64)
    assert [f.shape[1:] for f in a.features] == [(64, 32, 64), (128, 16, 32), (192, 8, 16)]
    pair = model.pair(a, b)
    assert isinstance(pair, GMFSSPair) and pair.flow01.shape == (1, 2, 32, 64) and pair.metric1.shape == (1, 1, 32, 64)
    for t in (0.25, 0.5, 0.9):
        out = model.synthesize(pair, t)
        assert isinstance(out, Synthesis)
        assert out.image.shape == (1, 3, H, W) and out.image.dtype == torch.float32
        assert 0 <= out.image.min() and out.image.max() <= 1
        assert out.holes.shape == (1, 1, H, W) and out.holes.dtype == torch.bool
    flow01, flow10 = model.flows(pair)
    assert flow01.shape == flow10.shape == (1, 2, H, W)
    torch.testing.assert_close(flow01[..., ::2, ::2].mean(), 2 * pair.flow01[..., : H // 2, : W // 2].mean(), rtol=0.05, atol=0.05)


def test_rife_states_and_outputs():
    torch.manual_seed(0)
    model = RIFE()
    img0, img1 = _frames(h=50, w=70)
    a = model.prepare(img0)
    assert type(a) is FrameState and a.image.shape == (1, 3, 64, 96)
    out = model.synthesize(model.pair(a, model.prepare(img1)), 0.3)
    assert out.image.shape == (1, 3, 50, 70) and out.holes is None
    with pytest.raises(NotImplementedError, match="rife"):
        model.flows(model.pair(a, a))


@pytest.mark.parametrize("t", [0.0, 1.0, -0.5, 1.5, math.nan])
def test_t_outside_the_open_interval_is_refused(union, t):
    a = union.prepare(_frames()[0])
    pair = union.pair(a, a)
    with pytest.raises(ValueError, match="t must"):
        union.synthesize(pair, t)


def test_bad_images_and_mismatched_pairs_are_refused(union):
    with pytest.raises(ValueError, match="shape"):
        union.prepare(torch.rand(3, H, W))
    with pytest.raises(ValueError, match="shape"):
        union.prepare(torch.rand(1, 4, H, W))
    with pytest.raises(ValueError, match="floating"):
        union.prepare(torch.zeros(1, 3, H, W, dtype=torch.uint8))
    a, b = union.prepare(torch.rand(1, 3, H, W)), union.prepare(torch.rand(1, 3, H, W - 2))
    with pytest.raises(ValueError, match="same size"):
        union.pair(a, b)
    rife = RIFE()
    with pytest.raises(TypeError, match="GMFSSFrame"):
        union.pair(rife.prepare(torch.rand(1, 3, H, W)), a)


@pytest.mark.slow
@pytest.mark.parametrize("size", [(1, 1), (17, 5), (64, 64), (70, 66)])
def test_any_size_is_padded_and_cropped_back(base, size):
    model = base
    img0, img1 = _frames(h=size[0], w=size[1])
    out = model.synthesize(model.pair(model.prepare(img0), model.prepare(img1)), 0.5)
    assert out.image.shape == (1, 3, *size)


# --------------------------------------------------------------------------- dtype and device plumbing


@pytest.mark.slow
def test_float64_model_converts_inputs_and_returns_float32(union64):
    model = union64
    assert all(p.dtype == torch.float64 for net in model.networks().values() for p in net.parameters())
    img0, img1 = _frames()
    a = model.prepare(img0.half())  # a 16-bit input is converted to the model's dtype
    assert a.image.dtype == torch.float64 and a.features[0].dtype == torch.float64
    pair = model.pair(a, model.prepare(img1))
    assert pair.metric0.dtype == torch.float64
    out = model.synthesize(pair, 0.5)
    assert out.image.dtype == torch.float32 and out.image.device == torch.device("cpu")


@pytest.mark.slow
def test_float64_and_float32_agree(union, union64):
    img0, img1 = _frames()
    outs = []
    for model in (union, union64):
        outs.append(model.synthesize(model.pair(model.prepare(img0), model.prepare(img1)), 0.4).image)
    torch.testing.assert_close(outs[0], outs[1], atol=1e-4, rtol=0)


@pytest.mark.slow
def test_bfloat16_runs_on_cpu():
    torch.manual_seed(0)
    model = RIFE(dtype=torch.bfloat16)
    img0, img1 = _frames()
    out = model.synthesize(model.pair(model.prepare(img0), model.prepare(img1)), 0.5)
    assert out.image.dtype == torch.float32 and torch.isfinite(out.image).all()


def test_states_are_inference_tensors(union):
    a = union.prepare(_frames()[0])
    assert a.image.is_inference() and not a.features[0].requires_grad


# --------------------------------------------------------------------------- determinism, weight loading, reuse


@pytest.mark.slow
def test_deterministic_and_loaded_states_reproduce_the_model(union):
    img0, img1 = _frames(1)
    pair = union.pair(union.prepare(img0), union.prepare(img1))
    first = union.synthesize(pair, 0.5).image
    assert torch.equal(first, union.synthesize(pair, 0.5).image)
    states = {role: net.state_dict() for role, net in union.networks().items()}
    torch.manual_seed(123)  # different random initialisation, then overwritten by the states
    copy = GMFSS("union", flownet=TinyFlow(), states=states)
    pair = copy.pair(copy.prepare(img0), copy.prepare(img1))
    assert torch.equal(first, copy.synthesize(pair, 0.5).image)
    with pytest.raises(ValueError, match="ifnet"):
        GMFSS("union", flownet=TinyFlow(), states={k: v for k, v in states.items() if k != "ifnet"})


@pytest.mark.slow
def test_pair_work_runs_once_and_synthesis_per_t(union, monkeypatch):
    model = union
    flownet = ConstantFlow(2.0, 0.0)
    monkeypatch.setattr(model, "flownet", flownet)
    calls = {"features": 0, "metricnet": 0, "synthesis": 0, "ifnet": 0}
    handles = [
        model.networks()[role].register_forward_hook(lambda *args, role=role: calls.__setitem__(role, calls[role] + 1))
        for role in calls
    ]
    try:
        img0, img1 = _frames()
        a, b = model.prepare(img0), model.prepare(img1)
        assert calls["features"] == 2 and flownet.calls == 0
        pair = model.pair(a, b)
        assert flownet.calls == 2 and calls["metricnet"] == 1
        for t in (0.25, 0.5, 0.75):
            model.synthesize(pair, t)
        assert calls == {"features": 2, "metricnet": 1, "synthesis": 3, "ifnet": 3} and flownet.calls == 2
    finally:
        for handle in handles:
            handle.remove()


@pytest.mark.slow
def test_t_changes_the_output(union):
    img0, img1 = _frames(2)
    pair = union.pair(union.prepare(img0), union.prepare(img1))
    assert not torch.equal(union.synthesize(pair, 0.25).image, union.synthesize(pair, 0.75).image)


@pytest.mark.slow
def test_holes_are_where_neither_splat_lands(base, monkeypatch):
    # both flows move everything 8 half-resolution pixels to the right; at t = 0.5 both splats
    # shift by exactly 4 half-res pixels, leaving the 8 leftmost full-resolution columns empty
    model = base
    monkeypatch.setattr(model, "flownet", ConstantFlow(8.0, 0.0))
    img0, img1 = _frames()
    pair = model.pair(model.prepare(img0), model.prepare(img1))
    holes = model.synthesize(pair, 0.5).holes
    assert holes[..., :8].all() and not holes[..., 8:].any()
    flow01, flow10 = model.flows(pair)
    torch.testing.assert_close(flow01, torch.tensor([16.0, 0.0]).view(1, 2, 1, 1).expand(1, 2, H, W))
    # zero flows leave no holes
    monkeypatch.setattr(model, "flownet", ConstantFlow())
    assert not model.synthesize(model.pair(model.prepare(img0), model.prepare(img1)), 0.5).holes.any()


# --------------------------------------------------------------------------- flow resolution, shared flow work


class RampFlow(nn.Module):
    """Stand-in flow net needing multiples of 32: flow x = the column index at the resolution it is given."""

    size_multiple = 32

    def __init__(self):
        super().__init__()
        self.sizes = []

    def forward(self, img0, img1):
        self.sizes.append(tuple(img0.shape[-2:]))
        flow = torch.zeros(img0.shape[0], 2, *img0.shape[2:], dtype=img0.dtype)
        flow[:, 0] = torch.arange(img0.shape[-1], dtype=img0.dtype)
        return flow


@pytest.mark.slow
@pytest.mark.parametrize("flow_scale,given", [(1.0, (32, 64)), (0.5, (32, 32)), (0.25, (32, 32))])
def test_flow_scale_shrinks_the_flow_input_and_scales_the_flow_back(flow_scale, given):
    flownet = RampFlow()
    model = GMFSS("union", flownet=flownet, flow_scale=flow_scale)
    img0, img1 = _frames()  # padded to 64 x 128: half size 32 x 64; the flow input is padded to 32
    pair = model.pair(model.prepare(img0), model.prepare(img1))
    assert flownet.sizes == [given, given]
    assert pair.flow01.shape == (1, 2, 32, 64)
    # bilinear upsampling of the cropped ramp (align_corners=False), in half-size pixels
    x = torch.arange(64, dtype=torch.float32)
    expected = ((x + 0.5) * flow_scale - 0.5) / flow_scale
    torch.testing.assert_close(pair.flow01[0, 0, 5, 4:56], expected[4:56])
    assert not pair.flow01[:, 1].any()


@pytest.mark.parametrize("flow_scale", [0.75, 2.0, 0.0])
def test_other_flow_scales_are_refused(flow_scale):
    with pytest.raises(ValueError, match=r"flow_scale must be one of \(1.0, 0.5, 0.25\)"):
        GMFSS("union", flownet=TinyFlow(), flow_scale=flow_scale)


@pytest.mark.slow
def test_gmflow_backbone_runs_per_frame_and_both_flows_match_separate_calls():
    torch.manual_seed(0)
    model = GMFSS("base")
    calls = []
    handle = model.flownet.backbone.register_forward_hook(lambda mod, args, out: calls.append(args[0].shape[0]))
    try:
        img0, img1 = _frames(3)
        a, b = model.prepare(img0), model.prepare(img1)
        assert calls == [1, 1]
        pair = model.pair(a, b)
        assert calls == [1, 1]  # no backbone work left for the pair
        with torch.inference_mode():
            ref01, ref10 = model.flownet(a.half, b.half), model.flownet(b.half, a.half)
    finally:
        handle.remove()
    torch.testing.assert_close(pair.flow01, ref01, rtol=1e-5, atol=5e-4)  # batched: rounding only (pixels)
    torch.testing.assert_close(pair.flow10, ref10, rtol=1e-5, atol=5e-4)


@pytest.mark.slow
def test_bfloat16_model_keeps_bfloat16_states_and_stays_close_to_float32(union):
    states = {role: net.state_dict() for role, net in union.networks().items()}
    model = GMFSS("union", flownet=TinyFlow(), states=states, dtype=torch.bfloat16)
    assert all(p.dtype == torch.bfloat16 for net in model.networks().values() for p in net.parameters())
    img0, img1 = _frames(4)
    a = model.prepare(img0)
    assert a.image.dtype == a.half.dtype == a.features[2].dtype == torch.bfloat16
    pair = model.pair(a, model.prepare(img1))
    assert pair.flow01.dtype == pair.metric0.dtype == torch.bfloat16
    out = model.synthesize(pair, 0.4)
    assert out.image.dtype == torch.float32 and out.holes.dtype == torch.bool
    ref = union.synthesize(union.pair(union.prepare(img0), union.prepare(img1)), 0.4).image
    error = (out.image - ref).abs()
    assert 0 < error.max() < 0.1 and error.mean() < 0.01


@pytest.mark.slow
@pytest.mark.parametrize("flow_scale", [1.0, 0.5])
def test_gmfss_never_reads_device_values_on_the_host(flow_scale):
    """On the shape-only "meta" device any host read of a value (``.item()``, ``bool()``, ``if tensor``) or a
    constant made on the CPU raises: so on a GPU the model queues its work without waiting for the device."""
    torch.manual_seed(0)
    model = GMFSS("union", device="meta", dtype=torch.float16, flow_scale=flow_scale)
    image = torch.empty(1, 3, 100, 180, device="meta")
    a = model.prepare(image)
    pair = model.pair(a, model.prepare(image))
    out = model.synthesize(pair, 0.3)
    assert a.features[0].dtype == torch.float16 and pair.flow01.dtype == torch.float32  # flows kept in float32
    assert out.image.shape == (1, 3, 100, 180) and out.image.dtype == torch.float32 and out.image.device.type == "meta"
    assert out.holes.shape == (1, 1, 100, 180)
