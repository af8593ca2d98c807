"""The synthesis network of the released softmax-splatting model (Niklaus & Liu, "Softmax Splatting for
Video Frame Interpolation", CVPR 2020; github sniklaus/softmax-splatting, ``run.py``).

| part | what it does |
|---|---|
| encoder | three levels of features of each picture: 32 channels at full resolution (with the picture itself: 35), 64 at 1/2, 96 at 1/4 |
| importance metric | a 4-row, 2-column grid network (16, 32, 64, 96 channels) on the picture, and on the error between its features and the other picture's backward-warped by the flow: one metric per pixel |
| warp | at each level, both pictures' features and metrics softmax-splatted to time t (``Z = -clip(metric, -20, 20)`` … negated), concatenated, and merged by a residual block |
| GridNet | 3 rows (32, 64, 96 channels) × 6 columns: three columns flowing down, three flowing up, with a residual output head (3 channels) |

All convolutions lack biases; activations are PReLUs with one slope per channel. Upsampling is bilinear
×2 (cropped to the finer level when the sizes are odd). Down- and upsampling blocks, lateral blocks and
heads are :class:`_Block` s: ``body`` and, for residual blocks, an identity or 1×1 ``shortcut``.

The released files' keys below ``netSynthesis.`` (``netEncode.netOne.0.weight``, ``netSoftmetric.0x0 -
1x0.netMain.1.weight``, ``1x2 - 1x3.netMain.3.weight``, ``netOutput.netShortcut.weight`` …) are renamed
on load to this module's (``encoder.0.0.weight``, ``metric.grid.down.0.0.body.1.weight`` …).
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..ops import backwarp, softsplat, softsplat_with_holes
from ._keys import ORDINALS, rename_hook
from .pwcnet import pyramid
from .softsplat_flow import resize_flow

__all__ = ["SoftsplatSynthesis", "ENCODER_CHANNELS"]

ENCODER_CHANNELS = (32, 64, 96)
"""Channels of the encoder's levels (full, 1/2, 1/4 resolution); the first also carries the picture."""
_METRIC_CHANNELS = (16, 32, 64, 96)
_METRIC_LIMIT = 20.0


def _prelu_conv(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
    return [nn.PReLU(cin, 0.25), nn.Conv2d(cin, cout, 3, stride, 1, bias=False)]


def _conv_prelu(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.PReLU(cout, 0.25)]


class _Block(nn.Module):
    """``body(x)``, plus ``x`` (identity shortcut) or ``shortcut(x)`` (1×1 convolution) when residual."""

    def __init__(self, *layers: nn.Module, residual: bool = False, channels: tuple[int, int] = (0, 0)) -> None:
        super().__init__()
        self.body = nn.Sequential(*layers)
        self.residual = residual
        cin, cout = channels
        self.shortcut = nn.Conv2d(cin, cout, 1, bias=False) if residual and cin != cout else None
        self.register_load_state_dict_pre_hook(rename_hook([(r"net(Main|Shortcut)\.", _body_or_shortcut)]))

    def forward(self, x: Tensor) -> Tensor:
        out = self.body(x)
        if not self.residual:
            return out
        return out + (x if self.shortcut is None else self.shortcut(x))


def _body_or_shortcut(match: re.Match[str]) -> str:
    return "body." if match[1] == "Main" else "shortcut."


def _lateral(channels: int) -> _Block:
    """PReLU → conv → PReLU → conv, plus the input."""
    return _Block(*_prelu_conv(channels, channels), *_prelu_conv(channels, channels), residual=True)


def _head(cin: int, middle: int, cout: int) -> _Block:
    """conv → PReLU → conv, plus a 1×1 convolution of the input (``cin`` ≠ ``cout`` always, here)."""
    return _Block(*_conv_prelu(cin, middle), nn.Conv2d(middle, cout, 3, 1, 1, bias=False), residual=True,
                  channels=(cin, cout))


_GRID_LINK = r"(\d)x(\d) - (\d)x(\d)\."
"""The released names of grid links: ``"{row}x{column} - {row'}x{column'}."``."""


class _Grid(nn.Module):
    """A grid network: rows of decreasing resolution and ``columns`` columns; lateral residual blocks
    between columns; the first ``down_columns`` columns link each row to the one below (strided
    convolutions), the others each row to the one above (bilinear ×2). Row ``r`` of column 0 is
    ``inputs[r]`` plus the row above, downsampled.

    Keys: ``lateral.{row}.{column - 1}``, ``down.{column}.{row - 1}``, ``up.{column - down_columns}.{row}``
    (links into that row and column).
    """

    def __init__(self, widths: tuple[int, ...], columns: int, down_columns: int) -> None:
        super().__init__()
        rows = range(len(widths))
        self.columns, self.down_columns = columns, down_columns
        self.lateral = nn.ModuleList(nn.ModuleList(_lateral(w) for _ in range(columns - 1)) for w in widths)
        self.down = nn.ModuleList(
            nn.ModuleList(_Block(*_prelu_conv(widths[r - 1], widths[r], 2), *_prelu_conv(widths[r], widths[r]))
                          for r in rows[1:])
            for _ in range(down_columns)
        )
        self.up = nn.ModuleList(
            nn.ModuleList(
                _Block(nn.Upsample(scale_factor=2.0, mode="bilinear", align_corners=False),
                       *_prelu_conv(widths[r + 1], widths[r]), *_prelu_conv(widths[r], widths[r]))
                for r in rows[:-1]
            )
            for _ in range(columns - down_columns)
        )
        self.register_load_state_dict_pre_hook(rename_hook([(_GRID_LINK, self._key)]))

    def _key(self, match: re.Match[str]) -> str:
        row, column, to_row, to_column = (int(g) for g in match.groups())
        if to_row == row:
            return f"lateral.{row}.{to_column - 1}."
        if to_row == row + 1:
            return f"down.{column}.{row}."
        return f"up.{column - self.down_columns}.{to_row}."

    def forward(self, inputs: list[Tensor | None]) -> Tensor:
        """The top row of the last column; ``inputs[0]`` must be a tensor, the others may be None."""
        rows = [inputs[0]]
        for r in range(1, len(inputs)):
            node = self.down[0][r - 1](rows[r - 1])
            rows.append(node if inputs[r] is None else inputs[r] + node)
        for column in range(1, self.columns):
            if column < self.down_columns:
                for r in range(len(rows)):
                    rows[r] = self.lateral[r][column - 1](rows[r])
                    if r > 0:
                        rows[r] = rows[r] + self.down[column][r - 1](rows[r - 1])
            else:
                for r in reversed(range(len(rows))):
                    rows[r] = self.lateral[r][column - 1](rows[r])
                    if r < len(rows) - 1:
                        up = self.up[column - self.down_columns][r](rows[r + 1])
                        rows[r] = rows[r] + up[..., : rows[r].shape[2], : rows[r].shape[3]]
        return rows[0]


class _Encoder(nn.Module):
    """Features of a picture at full, 1/2 and 1/4 resolution (the first level carries the picture too)."""

    def __init__(self) -> None:
        super().__init__()
        widths = (3, *ENCODER_CHANNELS)
        self.levels = nn.ModuleList(
            nn.Sequential(*_conv_prelu(widths[k], widths[k + 1], 1 if k == 0 else 2),
                          *_conv_prelu(widths[k + 1], widths[k + 1]))
            for k in range(len(ENCODER_CHANNELS))
        )
        self.register_load_state_dict_pre_hook(rename_hook([(r"net(One|Two|Thr)\.", _level_key)]))

    def forward(self, image: Tensor) -> list[Tensor]:
        levels = pyramid(self.levels, image)
        return [torch.cat((image, levels[0]), 1), *levels[1:]]


def _level_key(match: re.Match[str]) -> str:
    return f"levels.{ORDINALS[match[1]] - 1}."


class _Metric(nn.Module):
    """The importance metric of picture a: where its features agree with b's warped back by the flow a → b."""

    def __init__(self) -> None:
        super().__init__()
        self.image_in = nn.Conv2d(3, 12, 3, 1, 1, bias=False)
        self.error_in = nn.Conv2d(1, 4, 3, 1, 1, bias=False)
        self.grid = _Grid(_METRIC_CHANNELS, columns=2, down_columns=1)
        self.output = _head(_METRIC_CHANNELS[0], _METRIC_CHANNELS[0], 1)
        self.register_load_state_dict_pre_hook(rename_hook([
            (r"netInput\.", lambda m: "image_in."),
            (r"netError\.", lambda m: "error_in."),
            (r"netOutput\.", lambda m: "output."),
            (_GRID_LINK, lambda m: "grid." + m[0]),
        ]))

    def forward(self, features_a: list[Tensor], features_b: list[Tensor], flow: Tensor) -> Tensor:
        error = (features_a[0] - backwarp(features_b[0], flow, padding="zeros")).abs().mean(1, keepdim=True)
        first = torch.cat((self.image_in(features_a[0][:, :3]), self.error_in(error)), 1)
        return self.output(self.grid([first, None, None, None]))


class SoftsplatSynthesis(nn.Module):
    """Encoder, importance metric, three-scale softmax splatting and GridNet of the released model.

    The model calls it in three steps, so that work shared by all in-betweens of a pair is done once:

    | method | per | returns |
    |---|---|---|
    | ``encode(image)`` | picture | list of 3 feature maps (N, 35, H, W), (N, 64, H/2, W/2), (N, 96, H/4, W/4) |
    | ``metric(features_a, features_b, flow_ab)`` | pair and direction | (N, 1, H, W) metric of a (before scaling by time) |
    | ``forward(features_a, features_b, metric_a, metric_b, flow_a, flow_b)`` | in-between | ``(image, holes)``: the picture (N, 3, H, W), and where neither splat landed at full resolution (N, 1, H, W) bool |

    ``forward`` takes metrics and flows already scaled for time t (the released model uses ``2t·metric_a``,
    ``2(1-t)·metric_b``, ``t·flow_ab`` and ``(1-t)·flow_ba``). Pictures are the normalised ones of
    :class:`~vsanimsplat.models.softsplat.SoftSplat`; H and W must be even.
    """

    def __init__(self) -> None:
        super().__init__()
        self.encoder = _Encoder()
        self.softmetric = _Metric()
        widths = ((ENCODER_CHANNELS[0] + 3 + 1) * 2, *((c + 1) * 2 for c in ENCODER_CHANNELS[1:]))
        self.warp = nn.ModuleList(_head(cin, cout, cout) for cin, cout in zip(widths, ENCODER_CHANNELS))
        self.grid = _Grid(ENCODER_CHANNELS, columns=6, down_columns=3)
        self.output = _head(ENCODER_CHANNELS[0], ENCODER_CHANNELS[0], 3)
        self.register_load_state_dict_pre_hook(rename_hook([
            (r"netEncode\.", lambda m: "encoder."),
            (r"netSoftmetric\.", lambda m: "softmetric."),
            (r"netWarp\.net(One|Two|Thr)\.", lambda m: f"warp.{ORDINALS[m[1]] - 1}."),
            (r"netOutput\.", lambda m: "output."),
            (_GRID_LINK, lambda m: "grid." + m[0]),
        ]))

    def encode(self, image: Tensor) -> list[Tensor]:
        """Features of ``image`` at three levels."""
        return self.encoder(image)

    def metric(self, features_a: list[Tensor], features_b: list[Tensor], flow: Tensor) -> Tensor:
        """Importance metric of picture a given the flow a → b."""
        return self.softmetric(features_a, features_b, flow)

    def forward(
        self, features_a: list[Tensor], features_b: list[Tensor], metric_a: Tensor, metric_b: Tensor,
        flow_a: Tensor, flow_b: Tensor,
    ) -> tuple[Tensor, Tensor]:
        """The in-between picture and its holes (see the class docstring)."""
        warped, holes = [], None
        for level, merge in enumerate(self.warp):
            size = features_a[level].shape[2:]
            if level > 0:  # each level resized from the one before, as in the released model
                metric_a, metric_b = (F.interpolate(m, size=size, mode="bilinear", align_corners=False)
                                      for m in (metric_a, metric_b))
                flow_a, flow_b = resize_flow(flow_a, size), resize_flow(flow_b, size)
            splats = []
            for features, metric, flow in ((features_a, metric_a, flow_a), (features_b, metric_b, flow_b)):
                values = torch.cat((features[level], metric), 1)
                weight = (-metric).clamp(-_METRIC_LIMIT, _METRIC_LIMIT)
                if level == 0:
                    splat, missed = softsplat_with_holes(values, flow, weight)
                    holes = missed if holes is None else holes & missed
                else:
                    splat = softsplat(values, flow, weight)
                splats.append(splat)
            warped.append(merge(torch.cat(splats, 1)))
        return self.output(self.grid(warped)), holes
