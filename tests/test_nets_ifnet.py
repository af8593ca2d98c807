"""IFNet: shapes, published keys, blend of warped frames."""

import pytest
import torch

from vsanimsplat.nets.ifnet import IFNet


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return IFNet().eval()


def test_published_keys(net):
    keys = set(net.state_dict())
    assert len(keys) == 120  # as in rife.pkl
    assert {"block0.conv0.0.0.weight", "block3.convblock.7.beta", "block2.lastconv.0.bias"} <= keys
    assert net.block0.conv0[0][0].in_channels == 7 and net.block1.conv0[0][0].in_channels == 12


def test_output_shape_and_dependence_on_t(net):
    img0, img1 = torch.rand(1, 3, 32, 64), torch.rand(1, 3, 32, 64)
    with torch.no_grad():
        (a, flows), b = net(img0, img1, 0.25), net(img0, img1, 0.75)[0]
    assert a.shape == (1, 3, 32, 64) and flows.shape == (1, 4, 32, 64)  # to both frames, x then y
    assert not torch.allclose(a, b)


def test_constant_frames_give_the_constant(net):
    img = torch.full((1, 3, 32, 32), 0.3)
    with torch.no_grad():
        out = net(img, img, 0.5)[0]
    torch.testing.assert_close(out, img)


def test_mismatched_configuration_is_refused():
    with pytest.raises(ValueError, match="same length"):
        IFNet(widths=(64, 32), scales=(4, 2, 1))
