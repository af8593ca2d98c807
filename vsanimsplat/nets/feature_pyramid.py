"""Three-level feature pyramid of a frame (the contextual features that get splatted).

Each level halves the resolution: features at 1/2, 1/4 and 1/8 of the input size with
64, 128 and 192 channels. Parameter names match GMFSS_Fortuna's ``feat_*.pkl``
(``block1`` … ``block3``), so those state dicts load with ``strict=True``.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["FeaturePyramid", "LEVEL_CHANNELS", "prelu_block"]

LEVEL_CHANNELS: tuple[int, int, int] = (64, 128, 192)
"""Channels of the pyramid levels, finest first."""


def prelu_block(first: nn.Module, channels: int) -> nn.Sequential:
    """``PReLU → first → PReLU → 3×3 conv`` (pre-activation pair of convolutions).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `first` | nn.Module | — | first layer (3×3 conv, strided conv or transposed conv) producing `channels` channels |
    | `channels` | int | — | channels of `first`'s output and of the block's output |
    """
    return nn.Sequential(nn.PReLU(), first, nn.PReLU(), nn.Conv2d(channels, channels, 3, 1, 1))


class FeaturePyramid(nn.Module):
    """Features of one frame at 1/2, 1/4 and 1/8 resolution.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `in_channels` | int | 3 | channels of the input image |

    ``forward(image)`` takes (N, C, H, W) with H and W divisible by 8 and returns a tuple of
    three tensors (N, 64, H/2, W/2), (N, 128, H/4, W/4), (N, 192, H/8, W/8).
    """

    def __init__(self, in_channels: int = 3) -> None:
        super().__init__()
        widths = (in_channels, *LEVEL_CHANNELS)
        for level, (cin, cout) in enumerate(zip(widths[:-1], widths[1:]), start=1):
            self.add_module(f"block{level}", prelu_block(nn.Conv2d(cin, cout, 3, 2, 1), cout))

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        levels = []
        x = image
        for block in self.children():
            x = block(x)
            levels.append(x)
        return tuple(levels)
