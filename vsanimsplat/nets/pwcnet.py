"""PWC-Net optical flow (Sun et al., "PWC-Net: CNNs for Optical Flow Using Pyramid, Warping, and Cost
Volume", CVPR 2018), in the layout of the PyTorch port by Simon Niklaus (github sniklaus/pytorch-pwc),
whose ``network-default.pytorch`` holds the official Caffe weights.

| stage | resolution | work |
|---|---|---|
| feature pyramid | 1/2 … 1/64 | six levels of three 3×3 convolutions (16, 32, 64, 96, 128, 196 channels), the first of stride 2 |
| decoders | 1/64 … 1/4 | per level: warp the second image's features by the upsampled flow, 81-channel cost volume (:func:`~vsanimsplat.ops.correlation`, displacement 4), five densely connected convolutions (128, 128, 96, 64, 32), flow |
| context refiner | 1/4 | dilated convolutions (1, 2, 4, 8, 16, 1, 1) on the last decoder's features, added to its flow |

Flows are predicted divided by 20 (the Caffe training convention) in pixels of the input: the result
is the 1/4-resolution estimate × 20, upsampled bilinearly. The network needs sizes that are multiples
of 64; :meth:`PWCNet.forward` resizes any picture to the next multiples of 64 and scales the flow back,
as the port does. The Caffe weights expect BGR: the forward pass takes RGB and swaps the channels.

The published file's keys (``netExtractor.netOne.0.weight`` … ``netRefiner.netMain.12.bias``, ``module``
instead of ``net`` in the file) are renamed on load, so ``load_state_dict(file, strict=True)`` works.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import BadOption
from ..ops import backwarp, correlation
from ._keys import ORDINALS, rename_hook

__all__ = ["PWCNet", "LEVEL_CHANNELS", "SIZE_MULTIPLE", "conv_stack", "pyramid"]

LEVEL_CHANNELS = (16, 32, 64, 96, 128, 196)
"""Channels of the feature pyramid, finest (1/2) first."""
SIZE_MULTIPLE = 64
"""The network runs on sizes that are multiples of this (six stride-2 levels)."""

_DISPLACEMENT = 4
_VOLUME = (2 * _DISPLACEMENT + 1) ** 2
_DENSE = (128, 128, 96, 64, 32)
_FLOW_SCALE = 20.0
_LEVELS = range(6, 1, -1)  # decoders, coarsest first; level k works at 1/2**k
_SLOPE = 0.1


def _decoder_channels(level: int) -> int:
    """Input channels of the decoder at ``level``: cost volume (+ features, upsampled flow and features)."""
    return _VOLUME if level == 6 else _VOLUME + LEVEL_CHANNELS[level - 1] + 2 + 2


def _masked_backwarp(features: Tensor, flow: Tensor) -> Tensor:
    """Backward warp with zero padding, zeroing every sample that reads outside the frame at all."""
    ones = features.new_ones(features.shape[0], 1, *features.shape[2:])
    warped = backwarp(torch.cat((features, ones), 1), flow, padding="zeros")
    return warped[:, :-1] * (warped[:, -1:] > 0.999).to(features.dtype)


class _Decoder(nn.Module):
    """Flow estimator of one pyramid level (see the module docstring)."""

    def __init__(self, level: int) -> None:
        super().__init__()
        channels = _decoder_channels(level)
        if level < 6:
            self.upflow = nn.ConvTranspose2d(2, 2, 4, 2, 1)
            self.upfeat = nn.ConvTranspose2d(_decoder_channels(level + 1) + sum(_DENSE), 2, 4, 2, 1)
            self.warp_scale = _FLOW_SCALE / 2**level
        self.dense = nn.ModuleList(
            nn.Conv2d(channels + sum(_DENSE[:i]), width, 3, 1, 1) for i, width in enumerate(_DENSE)
        )
        self.predict = nn.Conv2d(channels + sum(_DENSE), 2, 3, 1, 1)

    def forward(self, one: Tensor, two: Tensor, previous: tuple[Tensor, Tensor] | None) -> tuple[Tensor, Tensor]:
        """(flow / 20, features) of this level from the two images' features and the coarser level's output."""
        if previous is None:
            features = F.leaky_relu(correlation(one, two, _DISPLACEMENT), _SLOPE)
        else:
            flow, coarse = self.upflow(previous[0]), self.upfeat(previous[1])
            volume = F.leaky_relu(correlation(one, _masked_backwarp(two, flow * self.warp_scale), _DISPLACEMENT), _SLOPE)
            features = torch.cat((volume, one, flow, coarse), 1)
        for conv in self.dense:
            features = torch.cat((F.leaky_relu(conv(features), _SLOPE), features), 1)
        return self.predict(features), features


def conv_stack(
    widths: tuple[int, ...], stride: int, last_activated: bool, dilations: tuple[int, ...] | None = None
) -> nn.Sequential:
    """3×3 convolutions with bias ``widths[i] → widths[i+1]``, each followed by a leaky ReLU (slope 0.1).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `widths` | tuple of int | — | channels: input, then the output of each convolution |
    | `stride` | int | — | stride of the first convolution (the others have 1) |
    | `last_activated` | bool | — | whether the last convolution is followed by a leaky ReLU too |
    | `dilations` | tuple of int or None | None | dilation (and padding) of each convolution; None = all 1 |
    """
    dilations = dilations or (1,) * (len(widths) - 1)
    layers: list[nn.Module] = []
    for i, dilation in enumerate(dilations):
        layers.append(nn.Conv2d(widths[i], widths[i + 1], 3, stride if i == 0 else 1, dilation, dilation))
        if last_activated or i < len(dilations) - 1:
            layers.append(nn.LeakyReLU(_SLOPE))
    return nn.Sequential(*layers)


def pyramid(blocks: nn.ModuleList, image: Tensor) -> list[Tensor]:
    """The output of every block of ``blocks`` applied in turn to ``image``, finest first."""
    levels = []
    for block in blocks:
        image = block(image)
        levels.append(image)
    return levels


_LEVEL = "(" + "|".join(ORDINALS) + ")"
_RULES = [
    (rf"netExtractor\.net{_LEVEL}\.", lambda m: f"extractor.{ORDINALS[m[1]] - 1}."),
    (r"netRefiner\.netMain\.", lambda m: "refiner."),
    (rf"net{_LEVEL}\.netUp(flow|feat)\.", lambda m: f"decoders.{ORDINALS[m[1]] - 2}.up{m[2]}."),
    (rf"net{_LEVEL}\.netSix\.0\.", lambda m: f"decoders.{ORDINALS[m[1]] - 2}.predict."),
    (rf"net{_LEVEL}\.net{_LEVEL}\.0\.", lambda m: f"decoders.{ORDINALS[m[1]] - 2}.dense.{ORDINALS[m[2]] - 1}."),
]


class PWCNet(nn.Module):
    """PWC-Net flow estimator (random weights until a state dict is loaded).

    ``forward(img0, img1)`` takes two (N, 3, H, W) RGB pictures in [0, 1] of any size and returns the
    flow from ``img0`` to ``img1``, (N, 2, H, W) in pixels (x right, y down). ``load_state_dict``
    accepts the published ``network-default.pytorch`` as well as this module's own state dicts.
    """

    def __init__(self) -> None:
        super().__init__()
        widths = (3, *LEVEL_CHANNELS)
        self.extractor = nn.ModuleList(
            conv_stack((widths[k], widths[k + 1], widths[k + 1], widths[k + 1]), 2, True)
            for k in range(len(LEVEL_CHANNELS))
        )
        self.decoders = nn.ModuleList(_Decoder(level) for level in range(2, 7))  # decoders[k] is level k + 2
        self.refiner = conv_stack(
            (_decoder_channels(2) + sum(_DENSE), 128, 128, 128, 96, 64, 32, 2), 1, False, (1, 2, 4, 8, 16, 1, 1)
        )
        self.register_load_state_dict_pre_hook(rename_hook(_RULES))

    def estimate(self, one: Tensor, two: Tensor) -> Tensor:
        """Flow / 20 at 1/4 resolution, of BGR pictures whose sizes are multiples of 64 (the bare network)."""
        pyramids = [pyramid(self.extractor, image) for image in (one, two)]
        estimate = None
        for level in _LEVELS:
            estimate = self.decoders[level - 2](pyramids[0][level - 1], pyramids[1][level - 1], estimate)
        flow, features = estimate
        return flow + self.refiner(features)

    def forward(self, img0: Tensor, img1: Tensor) -> Tensor:
        """Flow from ``img0`` to ``img1`` (RGB in [0, 1], any size) in pixels."""
        if img0.dim() != 4 or img0.shape[1] != 3 or img0.shape != img1.shape:
            raise BadOption(
                "nets.PWCNet", "img0" if img0.dim() != 4 or img0.shape[1] != 3 else "img1",
                f"img0 and img1 must be RGB pictures of the same shape (N, 3, H, W), got "
                f"{tuple(img0.shape)} and {tuple(img1.shape)}"
            )
        height, width = img0.shape[-2:]
        size = (math.ceil(height / SIZE_MULTIPLE) * SIZE_MULTIPLE, math.ceil(width / SIZE_MULTIPLE) * SIZE_MULTIPLE)
        one, two = (x.flip(1) for x in (img0, img1))  # RGB → BGR
        if size != (height, width):
            one, two = (F.interpolate(x, size=size, mode="bilinear", align_corners=False) for x in (one, two))
        flow = F.interpolate(self.estimate(one, two) * _FLOW_SCALE, size=(height, width), mode="bilinear",
                             align_corners=False)
        scale = flow.new_tensor([width / size[1], height / size[0]]).view(1, 2, 1, 1)
        return flow * scale
