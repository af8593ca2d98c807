"""Backward warping: sample an image at ``x + flow(x)`` with bilinear interpolation.

Pixel centres are at integer coordinates (``align_corners=True``): ``backwarp(input, flow)`` is exactly
``F.grid_sample(input, grid, mode="bilinear", padding_mode=padding, align_corners=True)`` with the grid that
RIFE's IFNet and the GMFlow family build, ``linspace(-1, 1, W) + flow_x / ((W - 1) / 2)`` (same for y).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import BadOption
from ._common import check_choice, check_image, check_same_grid, compute_dtype, pixel_targets

__all__ = ["backwarp", "backwarp_valid", "PADDINGS"]

PADDINGS = ("border", "zeros")
_OP = "backwarp"


def backwarp(input: Tensor, flow: Tensor, padding: str = "border") -> Tensor:
    """Bilinear sample of ``input`` at each pixel ``p`` moved by ``flow(p)``.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `input` | Tensor (N, C, H, W) | — | image or features to sample, floating point; H, W ≥ 2 |
    | `flow` | Tensor (N, 2, H, W) | — | offset of each sample point in pixels, x (right) then y (down) |
    | `padding` | str | "border" | outside the frame: `border` repeats the edge pixels, `zeros` reads zeros |

    Returns a tensor like ``input``; differentiable with respect to ``input`` and ``flow``. Samples that fall
    outside ``[0, W-1] × [0, H-1]`` (see :func:`backwarp_valid`) depend on ``padding``; the others do not.
    16-bit inputs are sampled in float32 and returned in their dtype.
    """
    check_choice(_OP, "padding", padding, PADDINGS)
    check_image(_OP, "input", input)
    check_image(_OP, "flow", flow, channels=2)
    check_same_grid(_OP, ("input", input), ("flow", flow))
    n, _, h, w = input.shape
    if h < 2 or w < 2:
        raise BadOption(f"ops.{_OP}", "input", f"input must be at least 2×2 pixels, got {tuple(input.shape)}")
    dtype = compute_dtype(input, flow)
    flow = flow.to(dtype)
    xs = torch.linspace(-1.0, 1.0, w, dtype=dtype, device=flow.device).view(1, 1, w).expand(n, h, w)
    ys = torch.linspace(-1.0, 1.0, h, dtype=dtype, device=flow.device).view(1, h, 1).expand(n, h, w)
    grid = torch.stack((xs + flow[:, 0] / ((w - 1.0) / 2.0), ys + flow[:, 1] / ((h - 1.0) / 2.0)), 3)
    out = F.grid_sample(input.to(dtype), grid, mode="bilinear", padding_mode=padding, align_corners=True)
    return out.to(input.dtype)


def backwarp_valid(flow: Tensor) -> Tensor:
    """Where :func:`backwarp` samples inside the frame.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `flow` | Tensor (N, 2, H, W) | — | as for :func:`backwarp` |

    Returns a (N, 1, H, W) bool tensor, True where ``p + flow(p)`` is finite and lies in
    ``[0, W-1] × [0, H-1]``: there the sample uses only real pixels, whatever the padding.
    """
    check_image(_OP, "flow", flow, channels=2)
    _, _, h, w = flow.shape
    tx, ty = pixel_targets(flow.to(compute_dtype(flow)))
    return ((tx >= 0) & (tx <= w - 1) & (ty >= 0) & (ty <= h - 1)).unsqueeze(1)
