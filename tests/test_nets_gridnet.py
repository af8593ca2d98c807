"""GridNet: the loop-built grid computes the published graph; base and union keys load."""

import pytest
import torch

from vsanimsplat.nets.gridnet import GridNet


def _inputs(in_channels, h=16, w=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.rand(1, in_channels, h, w, generator=g),
        torch.randn(1, 128, h, w, generator=g),
        torch.randn(1, 256, h // 2, w // 2, generator=g),
        torch.randn(1, 384, h // 4, w // 4, generator=g),
    )


def _explicit_graph(net, x, x1, x2, x3):
    """The grid written out node by node (rows 0-2; columns 0, 1 down; 4, 5 up)."""
    m = lambda name: getattr(net, name)  # noqa: E731
    x00 = m("residual_model_head0")(x) + m("residual_model_head1")(x1)
    x10 = m("downsample_model_10")(x00) + m("residual_model_head2")(x2)
    x20 = m("downsample_model_20")(x10) + m("residual_model_head3")(x3)
    x01 = m("residual_model_01")(x00) + x00
    x11 = m("residual_model_11")(x10) + x10 + m("downsample_model_11")(x01)
    x21 = m("residual_model_21")(x20) + x20 + m("downsample_model_21")(x11)
    x24 = m("residual_model_24")(x21) + x21
    x14 = m("residual_model_14")(x11) + x11 + m("upsample_model_14")(x24)
    x04 = m("residual_model_04")(x01) + x01 + m("upsample_model_04")(x14)
    x25 = m("residual_model_25")(x24) + x24
    x15 = m("residual_model_15")(x14) + x14 + m("upsample_model_15")(x25)
    x05 = m("residual_model_05")(x04) + x04 + m("upsample_model_05")(x15)
    return m("residual_model_tail")(x05)


@pytest.mark.slow
@pytest.mark.parametrize("in_channels", [9, 12])
def test_output_doubles_resolution_and_matches_explicit_graph(in_channels):
    torch.manual_seed(1)
    net = GridNet(in_channels).eval()
    inputs = _inputs(in_channels)
    with torch.no_grad():
        out = net(*inputs)
        expected = _explicit_graph(net, *inputs)
    assert out.shape == (1, 3, 32, 48)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)


def test_published_parameter_count_and_key_set():
    net = GridNet(9)
    keys = set(net.state_dict())
    assert len(keys) == 133  # as in fusionnet_union.pkl
    assert "residual_model_head0.1.weight" in keys
    assert "residual_model_tail.upsample.0.weight" in keys
    assert not any(k.startswith(("residual_model_02", "downsample_model_12", "upsample_model_03")) for k in keys)


def test_base_file_head_name_is_renamed_on_strict_load():
    source = GridNet(12)
    state = {k.replace("residual_model_head0.", "residual_model_head."): v for k, v in source.state_dict().items()}
    assert "residual_model_head.1.weight" in state
    target = GridNet(12)
    target.load_state_dict(state, strict=True)
    torch.testing.assert_close(target.residual_model_head0[1].weight, source.residual_model_head0[1].weight)


def test_wrong_channel_count_is_refused_by_strict_load():
    with pytest.raises(RuntimeError, match="size mismatch"):
        GridNet(9).load_state_dict(GridNet(12).state_dict(), strict=True)
