"""The released softmax-splatting model: the published key layout loads strictly, parameter count, the
model interface at odd sizes, and its per-pair normalisation."""

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
