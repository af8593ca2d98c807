"""The released softmax-splatting model: the published key layout loads strictly, parameter count, the
model interface at odd sizes, and its per-pair normalisation; its output values, with hand-set weights in the
real architecture whose right output is known (a known motion splatted to t·D, every level in its own pixels,
the importance metric choosing which overlapping source shows, the L1 error the metric reads), and with the
published weights where they are installed."""

from __future__ import annotations

import pytest
import torch

from vsanimsplat.models.base import PairState
from vsanimsplat.models.softsplat import SoftSplat, SoftSplatPair
from tests.test_nets_pwcnet import conv, fingerprints, random_state, saved_and_loaded

FLOW_LEVELS = ("First", "Second", "Third", "Fourth", "Fifth", "Sixth")
FLOW_PYRAMID = (3, 16, 32, 64, 96, 128, 192)
GRID = (32, 64, 96)
METRIC_GRID = (16, 32, 64, 96)


def prelu(layout: dict, key: str, channels: int) -> None:
    layout[f"{key}.weight"] = (channels,)


def plain(layout: dict, key: str, cin: int, cout: int, size: int = 3) -> None:
    layout[f"{key}.weight"] = (cout, cin, size, size)


def residual(layout: dict, key: str, pre: bool, widths: tuple[int, int, int], p: str) -> None:
    """The authors' ``Basic`` block: PReLU-conv-PReLU-conv (``pre``) or conv-PReLU-conv, 1×1 shortcut if needed."""
    c0, c1, c2 = widths
    if pre:
        prelu(layout, f"{key}.{p}Main.0", c0), plain(layout, f"{key}.{p}Main.1", c0, c1)
        prelu(layout, f"{key}.{p}Main.2", c1), plain(layout, f"{key}.{p}Main.3", c1, c2)
    else:
        plain(layout, f"{key}.{p}Main.0", c0, c1), prelu(layout, f"{key}.{p}Main.1", c1)
        plain(layout, f"{key}.{p}Main.2", c1, c2)
    if c0 != c2:
        plain(layout, f"{key}.{p}Shortcut", c0, c2, 1)


def resample(layout: dict, key: str, c0: int, c1: int, first: int) -> None:
    """``Downsample`` (layers from 0) or ``Upsample`` (a bilinear layer, then from 1): PReLU-conv-PReLU-conv."""
    prelu(layout, f"{key}.{first}", c0), plain(layout, f"{key}.{first + 1}", c0, c1)
    prelu(layout, f"{key}.{first + 2}", c1), plain(layout, f"{key}.{first + 3}", c1, c1)


def grid(layout: dict, prefix: str, widths: tuple[int, ...], down: range, up: range, p: str) -> None:
    for column in range(len(down) + len(up) - 1):
        for row, width in enumerate(widths):
            residual(layout, f"{prefix}{row}x{column} - {row}x{column + 1}", True, (width,) * 3, p)
    for column in down:
        for row in range(len(widths) - 1):
            resample(layout, f"{prefix}{row}x{column} - {row + 1}x{column}.{p}Main", widths[row], widths[row + 1], 0)
    for column in up:
        for row in range(len(widths) - 1):
            resample(layout, f"{prefix}{row + 1}x{column} - {row}x{column}.{p}Main", widths[row + 1], widths[row], 1)


def published_layout(p: str = "module") -> dict[str, tuple[int, ...]]:
    """Keys and shapes of ``network-lf.pytorch`` / ``network-l1.pytorch`` (sniklaus/softmax-splatting)."""
    layout: dict[str, tuple[int, ...]] = {}
    flow = f"{p}Flow."
    for k, name in enumerate(FLOW_LEVELS):
        cin, c = FLOW_PYRAMID[k], FLOW_PYRAMID[k + 1]
        conv(layout, f"{flow}{p}Extractor.{p}{name}.0", cin, c)
        conv(layout, f"{flow}{p}Extractor.{p}{name}.2", c, c)
        width = c + 81 + (0 if name == "Sixth" else 2)
        for i, out in enumerate((128, 128, 96, 64, 32, 2)):
            conv(layout, f"{flow}{p}{name}.{p}Main.{2 * i}", width, out)
            width = out
    synthesis = f"{p}Synthesis."
    for name, cin, c in (("One", 3, 32), ("Two", 32, 64), ("Thr", 64, 96)):
        plain(layout, f"{synthesis}{p}Encode.{p}{name}.0", cin, c), prelu(layout, f"{synthesis}{p}Encode.{p}{name}.1", c)
        plain(layout, f"{synthesis}{p}Encode.{p}{name}.2", c, c), prelu(layout, f"{synthesis}{p}Encode.{p}{name}.3", c)
    metric = f"{synthesis}{p}Softmetric."
    plain(layout, f"{metric}{p}Input", 3, 12)
    plain(layout, f"{metric}{p}Error", 1, 4)
    grid(layout, metric, METRIC_GRID, range(1), range(1, 2), p)
    residual(layout, f"{metric}{p}Output", False, (16, 16, 1), p)
    for name, cin, c in (("One", 72, 32), ("Two", 130, 64), ("Thr", 194, 96)):
        residual(layout, f"{synthesis}{p}Warp.{p}{name}", False, (cin, c, c), p)
    grid(layout, synthesis, GRID, range(3), range(3, 6), p)
    residual(layout, f"{synthesis}{p}Output", False, (32, 32, 3), p)
    return layout


@pytest.mark.slow
@pytest.mark.parametrize("prefix", ["module", "net"])
def test_published_layout_loads_strictly_and_every_tensor_lands(prefix):
    state = saved_and_loaded(random_state(published_layout(prefix), seed=3))
    model = SoftSplat(states={"network": state})
    ours = model.network
    assert fingerprints(ours.state_dict()) == fingerprints(state)
    p = prefix
    checks = {
        f"{p}Flow.{p}Sixth.{p}Main.10.bias": ours.flow.decoders[5][10].bias,
        f"{p}Flow.{p}Extractor.{p}Third.2.weight": ours.flow.extractor[2][2].weight,
        f"{p}Synthesis.{p}Encode.{p}Two.3.weight": ours.synthesis.encoder.levels[1][3].weight,
        f"{p}Synthesis.{p}Softmetric.{p}Error.weight": ours.synthesis.softmetric.error_in.weight,
        f"{p}Synthesis.{p}Softmetric.3x1 - 2x1.{p}Main.4.weight": ours.synthesis.softmetric.grid.up[0][2].body[4].weight,
        f"{p}Synthesis.{p}Softmetric.2x0 - 2x1.{p}Main.3.weight": ours.synthesis.softmetric.grid.lateral[2][0].body[3].weight,
        f"{p}Synthesis.{p}Softmetric.{p}Output.{p}Shortcut.weight": ours.synthesis.softmetric.output.shortcut.weight,
        f"{p}Synthesis.{p}Warp.{p}Thr.{p}Main.2.weight": ours.synthesis.warp[2].body[2].weight,
        f"{p}Synthesis.1x3 - 1x4.{p}Main.1.weight": ours.synthesis.grid.lateral[1][3].body[1].weight,
        f"{p}Synthesis.0x2 - 1x2.{p}Main.0.weight": ours.synthesis.grid.down[2][0].body[0].weight,
        f"{p}Synthesis.2x5 - 1x5.{p}Main.2.weight": ours.synthesis.grid.up[2][1].body[2].weight,
        f"{p}Synthesis.1x3 - 0x3.{p}Main.3.weight": ours.synthesis.grid.up[0][0].body[3].weight,
        f"{p}Synthesis.{p}Output.{p}Main.2.weight": ours.synthesis.output.body[2].weight,
    }
    for key, parameter in checks.items():
        torch.testing.assert_close(parameter.detach(), state[key], msg=key)


def test_bad_layout_is_refused():
    state = random_state(published_layout())
    del state["moduleSynthesis.0x4 - 0x5.moduleMain.3.weight"]
    with pytest.raises(RuntimeError, match="Missing key"):
        SoftSplat(states={"network": state})


def test_parameter_count_of_the_released_model():
    count = sum(p.numel() for p in SoftSplat().network.parameters())
    assert count == sum(torch.Size(s).numel() for s in published_layout().values())
    assert round(count / 1e6, 2) == 7.67


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return SoftSplat()


def pictures(height: int, width: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    base = torch.rand(1, 3, height, width, generator=generator) * 0.5 + 0.25
    return base, torch.roll(base, 2, dims=3)


@pytest.mark.slow
@pytest.mark.parametrize("size", [(37, 51), (64, 96), (2, 2)])
def test_interface_at_any_size(model, size):
    a, b = pictures(*size, seed=1)
    pair = model.pair(model.prepare(a), model.prepare(b))
    assert isinstance(pair, SoftSplatPair)
    out = model.synthesize(pair, 0.25)
    assert out.image.shape == (1, 3, *size) and out.image.dtype == torch.float32
    assert out.holes.shape == (1, 1, *size) and out.holes.dtype == torch.bool
    assert 0.0 <= float(out.image.min()) and float(out.image.max()) <= 1.0
    flow01, flow10 = model.flows(pair)
    assert flow01.shape == flow10.shape == (1, 2, *size)
    with pytest.raises(ValueError, match="t must be strictly between 0 and 1"):
        model.synthesize(pair, 1.0)


@pytest.mark.slow
def test_pictures_are_normalised_per_pair(model):
    """An affine change of brightness of both pictures changes the result the same way: the model sees the
    pictures normalised by their joint mean and standard deviation."""
    a, b = pictures(64, 70, seed=2)  # no padding: the statistics are those of the pictures
    first = model.synthesize(model.pair(model.prepare(a), model.prepare(b)), 0.4).image
    scale, offset = 0.5, 0.2
    second = model.synthesize(model.pair(model.prepare(a * scale + offset), model.prepare(b * scale + offset)), 0.4)
    inside = (first > 0) & (first < 1)
    assert inside.float().mean() > 0.5
    torch.testing.assert_close(second.image[inside], (first * scale + offset)[inside], atol=1e-4, rtol=0)
    pair = model.pair(model.prepare(a), model.prepare(b))
    torch.testing.assert_close(pair.mean.flatten(), torch.stack((a, b)).mean().reshape(1))
    torch.testing.assert_close(pair.std.flatten(), torch.stack((a, b)).std(unbiased=False).reshape(1))


def test_foreign_states_and_variants_are_refused(model):
    a, b = pictures(8, 8, seed=3)
    with pytest.raises(TypeError, match="needs a SoftSplatPair"):
        model.synthesize(PairState(a=model.prepare(a), b=model.prepare(b)), 0.5)
    with pytest.raises(ValueError, match="variant must be one of"):
        SoftSplat("softsplat-xl")


# --- output values: the real architecture with hand-set weights, whose right output is known ---


def texture(height: int, width: int, seed: int, low: float = 0.2, high: float = 0.8) -> torch.Tensor:
    """Smooth random colours in [low, high] (4-px cells, bilinear)."""
    generator = torch.Generator().manual_seed(seed)
    cells = torch.rand(1, 3, height // 4 + 2, width // 4 + 2, generator=generator)
    smooth = torch.nn.functional.interpolate(cells, scale_factor=4.0, mode="bilinear", align_corners=False)
    return low + (high - low) * smooth[..., :height, :width]


def shifted(picture: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """``picture`` moved by (dx, dy) (wrapping around: compare away from the edges)."""
    return torch.roll(picture, (dy, dx), dims=(2, 3))


class FixedFlow(torch.nn.Module):
    """Stands in for the flow network: returns the given flows one → two and two → one."""

    def __init__(self, flow01: torch.Tensor, flow10: torch.Tensor) -> None:
        super().__init__()
        self.flows = (flow01, flow10)

    def forward(self, one, two):
        return self.flows


def mean_of_splats(model: SoftSplat, brightness_weight: float = 0.0) -> SoftSplat:
    """Hand-set weights in the real architecture: every parameter zero (so the flow network gives zero flow and
    every residual block is the identity), except three 1×1 shortcuts that make the output the mean of the two
    softmax-splatted pictures (level 0 of the encoder carries the picture itself), and, with
    ``brightness_weight`` k, a metric of −k × the picture's mean channel (the released model splats with
    exp(−metric): the brighter of two sources landing on one pixel wins)."""
    synthesis = model.network.synthesis
    with torch.no_grad():
        for parameter in model.network.parameters():
            parameter.zero_()
        merge = synthesis.warp[0].shortcut.weight  # (32, 72, 1, 1): per side, 35 feature channels + the metric
        for c in range(3):
            merge[c, c] = merge[c, 36 + c] = 0.5
            synthesis.output.shortcut.weight[c, c] = 1.0
        synthesis.softmetric.image_in.weight[0, :, 1, 1] = brightness_weight / 3
        synthesis.softmetric.output.shortcut.weight[0, 0] = -1.0
    return model


@pytest.mark.slow
@pytest.mark.parametrize("t", [0.25, 0.5, 0.75])
def test_a_known_motion_is_splatted_to_its_place_at_time_t(t):
    """b is a moved by D = (8, -4) px: with the flows D and −D, the in-between at t is a moved by t·D, not
    by (1 − t)·D, nor a cross-fade (a wrong scaling of either flow, a swapped axis or sign fails)."""
    a = texture(64, 96, seed=1)
    b = shifted(a, 8, -4)
    model = mean_of_splats(SoftSplat())
    flow = torch.tensor([8.0, -4.0]).view(1, 2, 1, 1).expand(1, 2, 64, 96)
    model.network.flow = FixedFlow(flow, -flow)
    out = model.synthesize(model.pair(model.prepare(a), model.prepare(b)), t)
    inside = (..., slice(8, -8), slice(12, -12))
    expected = shifted(a, round(8 * t), round(-4 * t))
    torch.testing.assert_close(out.image[inside], expected[inside], atol=1e-5, rtol=0)
    assert not out.holes[inside].any()
    assert (torch.lerp(a, b, t) - expected)[inside].abs().max() > 0.1  # the cross-fade is far from it


@pytest.mark.slow
def test_lower_levels_splat_with_the_flow_in_their_own_pixels(monkeypatch):
    """The features at 1/2 and 1/4 resolution move by t·D/2 and t·D/4 (a flow left in full-resolution pixels
    would splat them twice or four times too far)."""
    import vsanimsplat.nets.softsplat_synthesis as synthesis_module

    seen = []
    splat = synthesis_module.softsplat
    monkeypatch.setattr(synthesis_module, "softsplat", lambda x, flow, metric: seen.append(flow) or splat(x, flow, metric))
    a = texture(64, 96, seed=2)
    model = mean_of_splats(SoftSplat())
    flow = torch.tensor([8.0, -4.0]).view(1, 2, 1, 1).expand(1, 2, 64, 96)
    model.network.flow = FixedFlow(flow, -flow)
    model.synthesize(model.pair(model.prepare(a), model.prepare(shifted(a, 8, -4))), 0.25)
    assert [tuple(f.shape[2:]) for f in seen] == [(32, 48), (32, 48), (16, 24), (16, 24)]
    motion = torch.tensor([8.0, -4.0]).view(1, 2, 1, 1)
    for (level, side), flow_at in zip(((1, 0.25), (1, -0.75), (2, 0.25), (2, -0.75)), seen):
        torch.testing.assert_close(flow_at, (motion * side / 2**level).expand_as(flow_at))  # a's flow, then b's


def square_over_background(x: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(picture, mask): a bright textured 16-px square at column ``x``, row 24, over a dark static background."""
    picture = texture(64, 96, seed=3, low=0.05, high=0.25)
    picture[..., 24:40, x : x + 16] = texture(16, 16, seed=4, low=0.75, high=0.95)
    mask = torch.zeros(1, 1, 64, 96, dtype=torch.bool)
    mask[..., 24:40, x : x + 16] = True
    return picture, mask


@pytest.mark.slow
@pytest.mark.parametrize("weight", [4.0, 0.0])
def test_the_importance_metric_chooses_which_of_two_overlapping_sources_shows(weight):
    """A bright square moves 16 px right over a still dark background. Halfway, in each picture's splat the
    square lands on background that stays: with a metric that ranks the bright square in front (the released
    sign: splat weights exp(−metric)), the in-between shows the square whole where it should be; with a flat
    metric, where they overlap it is a cross-fade of square and background (which the assertion tells apart)."""
    a, mask_a = square_over_background(20)
    b, mask_b = square_over_background(36)
    moving = torch.tensor([16.0, 0.0]).view(1, 2, 1, 1)
    model = mean_of_splats(SoftSplat(), brightness_weight=weight)
    model.network.flow = FixedFlow(moving * mask_a, -moving * mask_b)
    out = model.synthesize(model.pair(model.prepare(a), model.prepare(b)), 0.5).image
    square = (..., slice(24, 40), slice(28, 44))
    error = (out[square] - square_over_background(28)[0][square]).abs().max()
    if weight:
        assert error < 2e-3, error
    else:
        assert error > 0.2, error


@pytest.mark.slow
def test_the_error_the_metric_sees_is_zero_where_the_flow_is_right():
    """The metric network reads the mean L1 error between picture a's features and b's warped back by the flow
    a → b: zero (inside the frame) for the true flow of a moved picture, large for no flow or the flow reversed."""
    a = texture(64, 96, seed=5)
    b = shifted(a, 3, -2)
    model = SoftSplat()
    seen = []
    model.network.synthesis.softmetric.error_in.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    synthesis = model.network.synthesis
    with torch.no_grad():
        features_a, features_b = synthesis.encode(a), synthesis.encode(b)
        for dx, dy in ((3, -2), (0, 0), (-3, 2)):
            flow = torch.tensor([float(dx), float(dy)]).view(1, 2, 1, 1).expand(1, 2, 64, 96)
            synthesis.metric(features_a, features_b, flow)
    right, none, reversed_ = (error[..., 8:-8, 8:-8] for error in seen)
    assert right.abs().max() < 1e-4 * min(none.mean(), reversed_.mean())  # random weights: features of ~0.1


@pytest.mark.parametrize("name", ["softsplat", "softsplat-l1"])
def test_published_weights_find_a_motion_and_put_the_in_between_halfway(name):
    """With the authors' weights (skipped where they are not installed: academic use only, not fetched by
    ``make weights``): a picture and its copy moved by (6, -4) px; the flows are that motion (mean within half a
    pixel), and the in-between at t = 0.5 is the picture moved by (3, -2), far closer to it than the cross-fade."""
    from vsanimsplat.models import load_model
    from vsanimsplat.models.weights import installed

    if set(installed()[name].values()) != {"ok"}:
        pytest.skip(f"the published weights of {name!r} are not installed: python -m vsanimsplat models fetch {name}")
    a = texture(128, 192, seed=6)
    b = shifted(a, 6, -4)
    model = load_model(name, device="cpu")
    pair = model.pair(model.prepare(a), model.prepare(b))
    inside = (..., slice(16, -16), slice(16, -16))
    flow01, flow10 = model.flows(pair)
    torch.testing.assert_close(flow01[inside].mean((2, 3)), torch.tensor([[6.0, -4.0]]), atol=0.5, rtol=0)
    torch.testing.assert_close(flow10[inside].mean((2, 3)), torch.tensor([[-6.0, 4.0]]), atol=0.5, rtol=0)
    out = model.synthesize(pair, 0.5).image
    truth = shifted(a, 3, -2)
    error = (out - truth)[inside].abs().mean()
    assert error < 0.25 * (torch.lerp(a, b, 0.5) - truth)[inside].abs().mean(), error
