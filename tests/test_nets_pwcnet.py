"""PWC-Net: the published key layout loads strictly, flow shape and scale at any size, channel order,
parameter count; each level warps the second picture's features onto the first's, and (with the published
weights, where installed) a translation is recovered."""

from __future__ import annotations

import io

import pytest
import torch
import torch.nn.functional as F

from vsanimsplat.nets.pwcnet import PWCNet

ORDINALS = ("One", "Two", "Thr", "Fou", "Fiv", "Six")
PYRAMID = (3, 16, 32, 64, 96, 128, 196)
DENSE = (128, 128, 96, 64, 32)


def conv(layout: dict, key: str, cin: int, cout: int, size: int = 3, transposed: bool = False) -> None:
    layout[f"{key}.weight"] = (cin, cout, size, size) if transposed else (cout, cin, size, size)
    layout[f"{key}.bias"] = (cout,)


def published_layout(prefix: str = "module") -> dict[str, tuple[int, ...]]:
    """Keys and shapes of ``network-default.pytorch`` (sniklaus/pytorch-pwc: ``module`` names in the file)."""
    layout: dict[str, tuple[int, ...]] = {}
    for k, name in enumerate(ORDINALS):
        cin, c = PYRAMID[k], PYRAMID[k + 1]
        for index, width_in in zip((0, 2, 4), (cin, c, c)):
            conv(layout, f"{prefix}Extractor.{prefix}{name}.{index}", width_in, c)
    inputs = {level: 81 if level == 6 else 81 + PYRAMID[level] + 4 for level in range(2, 7)}
    for level in range(2, 7):
        name = ORDINALS[level - 1]
        if level < 6:
            conv(layout, f"{prefix}{name}.{prefix}Upflow", 2, 2, 4, transposed=True)
            conv(layout, f"{prefix}{name}.{prefix}Upfeat", inputs[level + 1] + sum(DENSE), 2, 4, transposed=True)
        width = inputs[level]
        for j, out in enumerate(DENSE):
            conv(layout, f"{prefix}{name}.{prefix}{ORDINALS[j]}.0", width, out)
            width += out
        conv(layout, f"{prefix}{name}.{prefix}Six.0", width, 2)
    widths = (inputs[2] + sum(DENSE), 128, 128, 128, 96, 64, 32, 2)
    for i in range(7):
        conv(layout, f"{prefix}Refiner.{prefix}Main.{2 * i}", widths[i], widths[i + 1])
    return layout


def random_state(layout: dict[str, tuple[int, ...]], seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {key: torch.randn(shape, generator=generator) * 0.05 for key, shape in layout.items()}


def saved_and_loaded(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def fingerprints(state: dict[str, torch.Tensor]) -> list[tuple]:
    return sorted((tuple(v.shape), round(float(v.double().sum()), 6)) for v in state.values())


@pytest.mark.parametrize("prefix", ["module", "net"])
def test_published_layout_loads_strictly_and_every_tensor_lands(prefix):
    state = saved_and_loaded(random_state(published_layout(prefix)))
    net = PWCNet()
    net.load_state_dict(state, strict=True)
    assert fingerprints(net.state_dict()) == fingerprints(state)  # same tensors, none left at random init
    torch.testing.assert_close(net.refiner[12].bias, state[f"{prefix}Refiner.{prefix}Main.12.bias"])
    torch.testing.assert_close(net.decoders[1].dense[3].weight, state[f"{prefix}Thr.{prefix}Fou.0.weight"])
    torch.testing.assert_close(net.decoders[4].predict.weight, state[f"{prefix}Six.{prefix}Six.0.weight"])
    torch.testing.assert_close(net.decoders[0].upfeat.weight, state[f"{prefix}Two.{prefix}Upfeat.weight"])
    torch.testing.assert_close(net.extractor[5][4].weight, state[f"{prefix}Extractor.{prefix}Six.4.weight"])


@pytest.mark.slow
def test_own_state_dict_round_trips_and_bad_keys_are_refused():
    first, second = PWCNet().eval(), PWCNet().eval()
    second.load_state_dict(saved_and_loaded(first.state_dict()), strict=True)
    one, two = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(first(one, two), second(one, two))
    state = random_state(published_layout())
    state["moduleRefiner.moduleMain.14.weight"] = torch.zeros(2)
    with pytest.raises(RuntimeError, match="Unexpected key"):
        PWCNet().load_state_dict(state, strict=True)
    del state["moduleRefiner.moduleMain.14.weight"], state["moduleTwo.moduleUpflow.bias"]
    with pytest.raises(RuntimeError, match="Missing key"):
        PWCNet().load_state_dict(state, strict=True)


def test_parameter_count_of_the_published_network():
    count = sum(p.numel() for p in PWCNet().parameters())
    assert count == sum(torch.Size(s).numel() for s in published_layout().values())
    assert round(count / 1e6, 2) == 9.37


class ConstantEstimate(PWCNet):
    """The bare network replaced by a constant flow of (1, 1) network-pixels, recording what it was given."""

    def estimate(self, one, two):
        self.given = (one, two)
        return torch.full((one.shape[0], 2, one.shape[2] // 4, one.shape[3] // 4), 1.0 / 20.0)


@pytest.mark.parametrize("size", [(37, 91), (64, 64), (1, 5), (130, 65)])
def test_flow_of_any_size_is_scaled_back_to_input_pixels(size):
    height, width = size
    net = ConstantEstimate()
    img0, img1 = torch.rand(2, 3, height, width), torch.rand(2, 3, height, width)
    flow = net(img0, img1)
    padded = (-(-height // 64) * 64, -(-width // 64) * 64)
    assert flow.shape == (2, 2, height, width)
    assert net.given[0].shape[2:] == padded
    # one pixel of the resized picture is width / padded_width pixels of the input
    torch.testing.assert_close(flow[:, 0], torch.full((2, height, width), width / padded[1]))
    torch.testing.assert_close(flow[:, 1], torch.full((2, height, width), height / padded[0]))


def test_input_is_swapped_to_bgr_for_the_caffe_weights():
    net = ConstantEstimate()
    img0, img1 = torch.rand(1, 3, 64, 128), torch.rand(1, 3, 64, 128)
    net(img0, img1)
    assert torch.equal(net.given[0], img0[:, [2, 1, 0]]) and torch.equal(net.given[1], img1[:, [2, 1, 0]])


@pytest.mark.slow
def test_random_network_gives_finite_flow_of_odd_size():
    with torch.no_grad():
        flow = PWCNet()(torch.rand(1, 3, 45, 77), torch.rand(1, 3, 45, 77))
    assert flow.shape == (1, 2, 45, 77) and bool(torch.isfinite(flow).all())


def test_mismatched_inputs_are_refused():
    with pytest.raises(ValueError, match="img0 and img1 must be RGB pictures of the same shape"):
        PWCNet()(torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 32))
    with pytest.raises(ValueError, match="img0 and img1"):
        PWCNet()(torch.rand(1, 1, 64, 64), torch.rand(1, 1, 64, 64))


# --- output values: warping lines the pictures up at every level; the published weights find a translation ---


def texture(height: int, width: int, seed: int) -> torch.Tensor:
    """Smooth random colours in [0, 1] (4-px cells, bicubic)."""
    generator = torch.Generator().manual_seed(seed)
    cells = torch.rand(1, 3, height // 4 + 2, width // 4 + 2, generator=generator)
    return F.interpolate(cells, scale_factor=4.0, mode="bicubic", align_corners=False)[..., :height, :width].clamp(0, 1)


def constant_flow_network(flow: tuple[float, float]) -> PWCNet:
    """Random features, but every decoder predicts ``flow`` (pixels of the input / 20) everywhere, and the
    learned upsampling of the flow is bilinear (a constant stays constant away from the edges)."""
    net = PWCNet().eval()
    bilinear = torch.tensor([0.25, 0.75, 0.75, 0.25])
    with torch.no_grad():
        for decoder in net.decoders:
            decoder.predict.weight.zero_()
            decoder.predict.bias.copy_(torch.tensor(flow) / 20)
            if hasattr(decoder, "upflow"):
                decoder.upflow.weight.zero_()
                decoder.upflow.bias.zero_()
                for channel in range(2):
                    decoder.upflow.weight[channel, channel] = bilinear[:, None] * bilinear[None, :]
    return net


@pytest.mark.slow
def test_each_level_warps_the_second_pictures_features_onto_the_firsts(monkeypatch):
    """The second picture is the first moved by D = (64, -128) px; with decoders that all predict D, each level's
    cost volume compares the first picture's features with the second's warped back by D in that level's own
    pixels (D/4 … D/32): inside the frame they are the same features. A warp by the flow in the wrong units
    (× 20 or not, the wrong power of two), of the wrong sign or with its axes swapped leaves them apart."""
    import vsanimsplat.nets.pwcnet as pwcnet_module

    seen = []
    correlation = pwcnet_module.correlation
    monkeypatch.setattr(pwcnet_module, "correlation", lambda one, two, d: seen.append((one, two)) or correlation(one, two, d))
    dx, dy = 64, -128
    big = texture(512 + 256, 512 + 128, seed=0)
    first = big[..., 128 : 128 + 512, 64 : 64 + 512]
    second = big[..., 128 - dy : 128 - dy + 512, 64 - dx : 64 - dx + 512]  # first(p) = second(p + D)
    with torch.no_grad():
        constant_flow_network((dx, dy))(first, second)
    assert [tuple(one.shape[2:]) for one, _ in seen] == [(8, 8), (16, 16), (32, 32), (64, 64), (128, 128)]
    for level, (one, warped) in zip((4, 3, 2), seen[2:]):
        # rows past the top and columns past the right read outside the frame (zeros); zero padding of the
        # features reaches 5 pixels in
        top, right, edge = -dy // 2**level, dx // 2**level, 6
        inside = (..., slice(top + edge, -edge), slice(edge, -right - edge))
        torch.testing.assert_close(warped[inside], one[inside], atol=1e-4 * float(one.abs().max()), rtol=0,
                                   msg=f"level {level}")


@pytest.fixture(scope="module")
def published():
    """PWC-Net with the published weights, skipped where they are not installed (they are not fetched by
    ``make weights``: NVIDIA's licence is non-commercial; ``python -m vsanimsplat models fetch pwcnet``)."""
    from vsanimsplat.models.weights import installed, load_weights

    if installed()["pwcnet"] != {"network-default.pytorch": "ok"}:
        pytest.skip("PWC-Net's published weights (network-default.pytorch) are not installed: "
                    "python -m vsanimsplat models fetch pwcnet")
    net = PWCNet().eval()
    net.load_state_dict(load_weights("pwcnet")["flownet"], strict=True)
    return net


def test_published_weights_recover_a_translation(published):
    """A 256x384 picture and a copy of it moved by (5, -3) px (unequal, opposite signs: swapped axes or signs
    fail): the flow inside the frame is that motion to within half a pixel on average, 1 px almost everywhere."""
    h, w, dx, dy = 256, 384, 5, -3
    big = texture(h + 32, w + 32, seed=1)
    img0 = big[..., 16 : 16 + h, 16 : 16 + w]
    img1 = big[..., 16 - dy : 16 - dy + h, 16 - dx : 16 - dx + w]  # img0(p) = img1(p + shift)
    with torch.inference_mode():
        flow = published(img0, img1)[..., 16:-16, 16:-16]
    truth = torch.tensor([dx, dy], dtype=flow.dtype).view(1, 2, 1, 1)
    mean = flow.mean((2, 3))[0]
    assert (mean - truth.view(2)).abs().max() < 0.5, mean
    assert ((flow - truth).norm(dim=1) < 1.0).float().mean() > 0.9
