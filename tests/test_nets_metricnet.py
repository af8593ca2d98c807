"""MetricNet and the forward-backward occlusion check."""

import torch

from vsanimsplat.nets.metricnet import MetricNet, occlusion_masks


def _translation(dx, dy, h=24, w=32):
    flow = torch.zeros(1, 2, h, w)
    flow[:, 0], flow[:, 1] = dx, dy
    return flow


def test_consistent_flows_are_not_occluded_inside():
    occ0, occ1 = occlusion_masks(_translation(3, -2), _translation(-3, 2))
    assert occ0.shape == occ1.shape == (1, 1, 24, 32)
    # away from the borders the round trip lands back on itself
    assert occ0[..., 4:-4, 4:-4].sum() == 0 and occ1[..., 4:-4, 4:-4].sum() == 0
    # where the forward flow leaves the picture, the backward flow reads zeros: inconsistent
    assert occ0[..., :, -3:].all()


def test_contradicting_flows_are_occluded():
    occ0, occ1 = occlusion_masks(_translation(3, 0), _translation(3, 0))
    # |f + f| = 6 > 0.01 * 6 + 0.5 everywhere the warp stays inside
    assert occ0[..., :, :-3].all() and occ1[..., :, 3:].all()


def test_small_inconsistency_is_tolerated():
    occ0, _ = occlusion_masks(_translation(3, 0), _translation(-2.6, 0))
    assert occ0[..., 4:-4, 4:-4].sum() == 0  # |0.4| < 0.01 * 5.6 + 0.5


def test_output_shapes_bounds_and_published_keys():
    torch.manual_seed(0)
    net = MetricNet().eval()
    img0, img1 = torch.rand(2, 3, 24, 32), torch.rand(2, 3, 24, 32)
    flow01, flow10 = 5 * torch.randn(2, 2, 24, 32), 5 * torch.randn(2, 2, 24, 32)
    with torch.no_grad():
        z0, z1 = net(img0, img1, flow01, flow10)
    assert z0.shape == z1.shape == (2, 1, 24, 32)
    assert z0.abs().max() <= 10 and z1.abs().max() <= 10
    assert not torch.equal(z0, z1)
    keys = set(net.state_dict())
    assert len(keys) == 14 and {"metric_in.weight", "metric_net3.1.bias", "metric_out.0.weight"} <= keys


def test_input_of_the_first_layer_is_as_published():
    """The 14 input channels: images, negated photometric errors, normalised flows, occlusions."""
    net = MetricNet().eval()
    seen = {}

    def remember(module, args, out):
        seen["x"] = args[0]

    net.metric_in.register_forward_hook(remember)
    img = torch.rand(1, 3, 16, 24)
    with torch.no_grad():
        net(img, img, _translation(0, 0, 16, 24), _translation(0, 0, 16, 24))
    x = seen["x"]
    torch.testing.assert_close(x[:, :3], img)
    torch.testing.assert_close(x[:, 3:6], img)
    assert x[:, 6:14].abs().max() < 1e-5  # zero errors (up to grid_sample rounding), zero flows, no occlusion

    with torch.no_grad():
        net(img, img, _translation(11.5, 0, 16, 24), _translation(-11.5, 0, 16, 24))
    # flow normalised by (W - 1) / 2 = 11.5
    torch.testing.assert_close(seen["x"][:, 8], torch.ones(1, 16, 24))
    torch.testing.assert_close(seen["x"][:, 10], -torch.ones(1, 16, 24))
