"""The flow estimator of the released softmax-splatting model (Niklaus & Liu, CVPR 2020; github
sniklaus/softmax-splatting, ``run.py``): a lighter PWC-style network than :mod:`.pwcnet`.

| stage | resolution | work |
|---|---|---|
| feature pyramid | 1/2 … 1/64 | six levels of two 3×3 convolutions (16, 32, 64, 96, 128, 192 channels), the first of stride 2 |
| decoders | 1/64 … 1/2 | per level: the coarser flow resized to this level (vectors scaled by the width ratio), the second picture's features warped by it, 81-channel cost volume (no activation), six convolutions (128, 128, 96, 64, 32, 2) predicting this level's flow in its own pixels |

One pass gives both flows (one → two and two → one) from the same features; the 1/2-resolution flows are
resized to the input size. Any size works (the levels are resized to each other, not assumed to halve
exactly). The inputs are the normalised pictures of :class:`~vsanimsplat.models.softsplat.SoftSplat`.

The released files' keys (``netFlow.netExtractor.netFirst.0.weight`` … ``netFlow.netSixth.netMain.10.bias``
below the model's prefix) are renamed on load.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..ops import backwarp, correlation
from ._keys import rename_hook
from .pwcnet import conv_stack, pyramid

__all__ = ["SoftsplatFlow", "LEVEL_CHANNELS", "resize_flow"]

LEVEL_CHANNELS = (16, 32, 64, 96, 128, 192)
"""Channels of the feature pyramid, finest (1/2) first."""

_DISPLACEMENT = 4
_VOLUME = (2 * _DISPLACEMENT + 1) ** 2
_DECODER_WIDTHS = (128, 128, 96, 64, 32, 2)
_LEVEL_NAMES = ("First", "Second", "Third", "Fourth", "Fifth", "Sixth")


def resize_flow(flow: Tensor, size: tuple[int, int]) -> Tensor:
    """``flow`` (N, 2, h, w) resized bilinearly to ``size`` (H, W), both vectors scaled by ``W / w`` (as the
    released model does, whatever the height ratio)."""
    return F.interpolate(flow, size=size, mode="bilinear", align_corners=False) * (size[1] / flow.shape[3])


_RULES = [
    (rf"netExtractor\.net({'|'.join(_LEVEL_NAMES)})\.", lambda m: f"extractor.{_LEVEL_NAMES.index(m[1])}."),
    (rf"net({'|'.join(_LEVEL_NAMES)})\.netMain\.", lambda m: f"decoders.{_LEVEL_NAMES.index(m[1])}."),
]


class SoftsplatFlow(nn.Module):
    """Flows both ways between two pictures (random weights until a state dict is loaded).

    ``forward(one, two)`` takes two (N, 3, H, W) pictures (H, W ≥ 2) and returns ``(flow_one_two,
    flow_two_one)``, each (N, 2, H, W) in pixels.
    """

    def __init__(self) -> None:
        super().__init__()
        widths = (3, *LEVEL_CHANNELS)
        self.extractor = nn.ModuleList(
            conv_stack((widths[k], widths[k + 1], widths[k + 1]), 2, True) for k in range(len(LEVEL_CHANNELS))
        )
        # decoders[k] works at 1/2**(k+1); the coarsest one has no flow to start from
        self.decoders = nn.ModuleList(
            conv_stack((channels + _VOLUME + (2 if k < 5 else 0), *_DECODER_WIDTHS), 1, False)
            for k, channels in enumerate(LEVEL_CHANNELS)
        )
        self.register_load_state_dict_pre_hook(rename_hook(_RULES))

    def _decode(self, k: int, one: Tensor, two: Tensor, coarser: Tensor | None) -> Tensor:
        if coarser is None:
            return self.decoders[k](torch.cat((one, correlation(one, two, _DISPLACEMENT)), 1))
        flow = resize_flow(coarser, one.shape[2:])
        volume = correlation(one, backwarp(two, flow, padding="zeros"), _DISPLACEMENT)
        return self.decoders[k](torch.cat((one, volume, flow), 1))

    def forward(self, one: Tensor, two: Tensor) -> tuple[Tensor, Tensor]:
        """Flows one → two and two → one, in pixels of the input."""
        first, second = pyramid(self.extractor, one), pyramid(self.extractor, two)
        forward = backward = None
        for k in reversed(range(len(self.decoders))):
            forward = self._decode(k, first[k], second[k], forward)
            backward = self._decode(k, second[k], first[k], backward)
        size = one.shape[2:]
        return resize_flow(forward, size), resize_flow(backward, size)
