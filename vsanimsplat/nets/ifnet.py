"""IFNet (RIFE, "HDv3" layout): direct estimate of the in-between frame at time t.

Four blocks refine, coarse to fine (1/8, 1/4, 1/2, 1/1 of the input size), the flows from
the in-between frame back to both inputs and a blending mask; the output is the mask-blend
of both frames backward-warped to time t. Nothing of it can be reused across t: every block
takes t as an input. Parameter names match GMFSS_Fortuna's ``rife.pkl`` (``block0`` …
``block3``), so that state dict loads with ``strict=True``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import BadOption
from ..ops import backwarp

__all__ = ["IFBlock", "IFNet"]

_NEGATIVE_SLOPE = 0.2
_RESIDUAL_LAYERS = 8


def _conv_lrelu(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, stride, 1), nn.LeakyReLU(_NEGATIVE_SLOPE))


class _ResConv(nn.Module):
    """``leaky_relu(β · conv(x) + x)`` with a learnt per-channel β."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, 1, 1)
        self.beta = nn.Parameter(torch.ones(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.conv(x) * self.beta + x, _NEGATIVE_SLOPE)


class IFBlock(nn.Module):
    """One refinement level: works at 1/(4·scale) resolution, returns flow and mask residuals.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `in_channels` | int | — | channels of the input (images, t, mask, and the current flow if any) |
    | `width` | int | — | channels of the hidden layers |
    | `out_channels` | int | 6 | channels of the output: 4 flow, 1 mask, the rest features for the next level (RIFE 4.0–4.6 has 6, its last one unused; the layout with an encoder, :mod:`~vsanimsplat.nets.feature_ifnet`, 13) |

    ``forward(x, flow, scale)``: ``x`` (N, C, H, W), ``flow`` (N, 4, H, W) or None, ``scale``
    the downsampling factor of this level; returns flow (N, 4, H, W) in pixels and mask
    logits (N, 1, H, W). :meth:`features` returns the three parts, the features too.
    """

    def __init__(self, in_channels: int, width: int, out_channels: int = 6) -> None:
        super().__init__()
        self.conv0 = nn.Sequential(_conv_lrelu(in_channels, width // 2, 2), _conv_lrelu(width // 2, width, 2))
        self.convblock = nn.Sequential(*(_ResConv(width) for _ in range(_RESIDUAL_LAYERS)))
        self.lastconv = nn.Sequential(nn.ConvTranspose2d(width, 4 * out_channels, 4, 2, 1), nn.PixelShuffle(2))

    def forward(
        self, x: torch.Tensor, flow: torch.Tensor | None, scale: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        flow, mask, _ = self.features(x, flow, scale)
        return flow, mask

    def features(
        self, x: torch.Tensor, flow: torch.Tensor | None, scale: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Flow (N, 4, H, W) in pixels, mask logits (N, 1, H, W) and features (N, out_channels − 5, H, W)."""
        if scale != 1:
            x = F.interpolate(x, scale_factor=1.0 / scale, mode="bilinear")
        if flow is not None:
            if scale != 1:
                flow = F.interpolate(flow, scale_factor=1.0 / scale, mode="bilinear") / scale
            x = torch.cat((x, flow), 1)
        out = self.lastconv(self.convblock(self.conv0(x)))
        if scale != 1:
            out = F.interpolate(out, scale_factor=float(scale), mode="bilinear")
        return out[:, :4] * scale, out[:, 4:5], out[:, 5:]


class IFNet(nn.Module):
    """The RIFE in-between estimator.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `widths` | tuple[int, ...] | (192, 128, 96, 64) | hidden channels of the blocks, coarse to fine |
    | `scales` | tuple[int, ...] | (8, 4, 2, 1) | downsampling factor of each block's input |

    ``forward(img0, img1, t)``: images (N, 3, H, W) in [0, 1] with H and W divisible by
    ``4 · max(scales)`` (32), ``t`` a float in [0, 1]; returns the estimate (N, 3, H, W) and the
    flows (N, 4, H, W) it sampled the two images along.
    """

    def __init__(
        self, widths: tuple[int, ...] = (192, 128, 96, 64), scales: tuple[int, ...] = (8, 4, 2, 1)
    ) -> None:
        super().__init__()
        if len(widths) != len(scales):
            raise BadOption("nets.IFNet", "scales", f"widths and scales must have the same length, got {widths} and {scales}")
        self.scales = scales
        # first block: both images and t; the others also get both warped images, the mask and the flow
        for index, width in enumerate(widths):
            self.add_module(f"block{index}", IFBlock(7 if index == 0 else 7 + 1 + 4, width))

    def forward(self, img0: torch.Tensor, img1: torch.Tensor, t: float) -> tuple[torch.Tensor, torch.Tensor]:
        """The estimate at ``t`` and its flows (N, 4, H, W) from the in-between to ``img0`` (0–1) and ``img1`` (2–3)."""
        time = img0.new_full((img0.shape[0], 1, *img0.shape[2:]), t)
        blocks = list(self.children())
        flow, mask = blocks[0](torch.cat((img0, img1, time), 1), None, self.scales[0])
        warped0, warped1 = self._warp(img0, img1, flow)
        for block, scale in zip(blocks[1:], self.scales[1:]):
            dflow, dmask = block(torch.cat((warped0, warped1, time, mask), 1), flow, scale)
            flow, mask = flow + dflow, mask + dmask
            warped0, warped1 = self._warp(img0, img1, flow)
        weight = torch.sigmoid(mask)
        return warped0 * weight + warped1 * (1 - weight), flow

    @staticmethod
    def _warp(img0: torch.Tensor, img1: torch.Tensor, flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both frames backward-warped to time t along ``flow`` (t→0 in channels 0–1, t→1 in 2–3)."""
        return backwarp(img0, flow[:, :2], padding="border"), backwarp(img1, flow[:, 2:4], padding="border")
