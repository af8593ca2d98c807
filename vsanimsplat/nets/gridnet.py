"""GridNet synthesis network: turns splatted images and feature pyramids into the frame.

A grid of three rows (resolutions 1/1, 1/2, 1/4 of its input, 64/128/192 channels) and
four columns. Column 0 gathers the inputs (row 0: the images and the finest features,
rows 1 and 2: the coarser features plus the row above, downsampled). Then one column
flows downwards (each node = lateral residual + the node above, downsampled) and two
columns flow upwards (lateral residual + the node below, upsampled). A pixel-shuffle tail
doubles the resolution of row 0 into the output picture.

Parameter names follow GMFSS_Fortuna's ``fusionnet_*.pkl`` (columns are numbered 0, 1, 4,
5 there, so ``residual_model_14`` is row 1, column 4). Base and union differ only in the
number of image channels; the base file's ``residual_model_head.*`` keys are renamed to
``residual_model_head0.*`` on load, so both load with ``strict=True``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .feature_pyramid import LEVEL_CHANNELS, prelu_block

__all__ = ["GridNet"]

_DOWN_COLUMNS = (1,)
_UP_COLUMNS = (4, 5)
_ROWS = len(LEVEL_CHANNELS)


class _PixelShuffleTail(nn.Module):
    """``conv → PReLU → conv → pixel shuffle ×2 → conv``: the output head at twice the resolution."""

    def __init__(self, channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv_before_upsample = nn.Sequential(nn.Conv2d(channels, channels, 3, 1, 1), nn.PReLU())
        self.upsample = nn.Sequential(nn.Conv2d(channels, 4 * channels, 3, 1, 1), nn.PixelShuffle(2))
        self.conv_last = nn.Conv2d(channels, out_channels, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_last(self.upsample(self.conv_before_upsample(x)))


def _rename_base_head(
    module: nn.Module, state_dict: dict[str, Any], prefix: str, *args: Any
) -> None:
    """Load-state-dict pre-hook: the base model's file calls the image head ``residual_model_head``."""
    old = prefix + "residual_model_head."
    for key in [k for k in state_dict if k.startswith(old)]:
        state_dict[prefix + "residual_model_head0." + key[len(old):]] = state_dict.pop(key)


class GridNet(nn.Module):
    """Synthesis network of GMFSS (base: 12 image channels, union: 9).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `in_channels` | int | — | channels of the image input (base: 12 = frame 0, both splats, frame 1; union: 9 = splat 0, RIFE estimate, splat 1) |
    | `out_channels` | int | 3 | channels of the output |

    ``forward(images, feat1, feat2, feat3)``: ``images`` (N, in_channels, H, W), the splatted
    feature pyramids of both frames concatenated per level, (N, 128, H, W), (N, 256, H/2,
    W/2), (N, 384, H/4, W/4); returns (N, out_channels, 2H, 2W), not clamped.
    """

    def __init__(self, in_channels: int, out_channels: int = 3) -> None:
        super().__init__()
        widths = LEVEL_CHANNELS
        self.residual_model_head0 = prelu_block(nn.Conv2d(in_channels, widths[0], 3, 1, 1), widths[0])
        for row, width in enumerate(widths):
            # the features of both frames, concatenated
            self.add_module(f"residual_model_head{row + 1}", prelu_block(nn.Conv2d(2 * width, width, 3, 1, 1), width))
        for column in (*_DOWN_COLUMNS, *_UP_COLUMNS):
            for row, width in enumerate(widths):
                self.add_module(f"residual_model_{row}{column}", prelu_block(nn.Conv2d(width, width, 3, 1, 1), width))
        for column in (0, *_DOWN_COLUMNS):
            for row in range(1, _ROWS):
                self.add_module(
                    f"downsample_model_{row}{column}",
                    prelu_block(nn.Conv2d(widths[row - 1], widths[row], 3, 2, 1), widths[row]),
                )
        for column in _UP_COLUMNS:
            for row in range(_ROWS - 1):
                self.add_module(
                    f"upsample_model_{row}{column}",
                    prelu_block(nn.ConvTranspose2d(widths[row + 1], widths[row], 4, 2, 1), widths[row]),
                )
        self.residual_model_tail = _PixelShuffleTail(widths[0], out_channels)
        self.register_load_state_dict_pre_hook(_rename_base_head)

    def _node(self, kind: str, row: int, column: int) -> nn.Module:
        """The ``kind`` ("residual", "downsample" or "upsample") layer arriving at grid node (row, column)."""
        return getattr(self, f"{kind}_model_{row}{column}")

    def forward(
        self, images: torch.Tensor, feat1: torch.Tensor, feat2: torch.Tensor, feat3: torch.Tensor
    ) -> torch.Tensor:
        features = (feat1, feat2, feat3)
        # column 0: inputs
        grid = [self.residual_model_head0(images) + self.residual_model_head1(feat1)]
        for row in range(1, _ROWS):
            head = getattr(self, f"residual_model_head{row + 1}")
            grid.append(self._node("downsample", row, 0)(grid[row - 1]) + head(features[row]))
        for column in _DOWN_COLUMNS:
            for row in range(_ROWS):
                node = self._node("residual", row, column)(grid[row]) + grid[row]
                if row > 0:
                    node = node + self._node("downsample", row, column)(grid[row - 1])
                grid[row] = node
        for column in _UP_COLUMNS:
            for row in reversed(range(_ROWS)):
                node = self._node("residual", row, column)(grid[row]) + grid[row]
                if row < _ROWS - 1:
                    node = node + self._node("upsample", row, column)(grid[row + 1])
                grid[row] = node
        return self.residual_model_tail(grid[0])
