"""FeaturePyramid: shapes, parameter names of the published feat_*.pkl."""

import torch

from vsanimsplat.nets.feature_pyramid import LEVEL_CHANNELS, FeaturePyramid


def test_levels_halve_the_resolution():
    torch.manual_seed(0)
    levels = FeaturePyramid()(torch.rand(2, 3, 64, 96))
    assert [tuple(x.shape) for x in levels] == [(2, 64, 32, 48), (2, 128, 16, 24), (2, 192, 8, 12)]


def test_parameter_names_and_shapes_are_the_published_ones():
    shapes = {k: tuple(v.shape) for k, v in FeaturePyramid().state_dict().items()}
    expected = {}
    widths = (3, *LEVEL_CHANNELS)
    for level in range(1, 4):
        cin, cout = widths[level - 1], widths[level]
        expected |= {
            f"block{level}.0.weight": (1,),
            f"block{level}.1.weight": (cout, cin, 3, 3),
            f"block{level}.1.bias": (cout,),
            f"block{level}.2.weight": (1,),
            f"block{level}.3.weight": (cout, cout, 3, 3),
            f"block{level}.3.bias": (cout,),
        }
    assert shapes == expected


def test_prelu_weight_is_used_on_negative_inputs():
    net = FeaturePyramid()
    torch.nn.init.zeros_(net.block1[1].weight)
    torch.nn.init.constant_(net.block1[1].bias, -1.0)  # conv output is -1 everywhere
    image = torch.rand(1, 3, 16, 16)
    before = net(image)[0]
    with torch.no_grad():
        net.block1[2].weight.fill_(0.5)
    after = net(image)[0]
    assert not torch.allclose(before, after)
