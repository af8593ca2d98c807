"""Local correlation (cost volume) of two feature maps, as in PWC-Net-style flow estimators."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import BadOption
from ._common import check_image, check_same_grid, compute_dtype

__all__ = ["correlation"]

_OP = "correlation"
_BAND_ELEMENTS = 2**19


def correlation(f1: Tensor, f2: Tensor, max_displacement: int = 4) -> Tensor:
    """Mean over channels of ``f1`` at each pixel times ``f2`` at each displacement within a window.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `f1` | Tensor (N, C, H, W) | — | features of the first image, floating point |
    | `f2` | Tensor (N, C, H, W) | — | features of the second image, same shape |
    | `max_displacement` | int | 4 | ``d``: displacements run over ``-d..d`` in x and in y |

    Returns (N, (2d+1)², H, W): channel ``(dy + d)·(2d+1) + (dx + d)`` holds
    ``mean_c f1[c, y, x] · f2[c, y + dy, x + dx]``, 0 where ``(x + dx, y + dy)`` is outside the frame.
    Differentiable. It works through bands of a few rows, so beyond the output it needs only a band-sized
    product at a time. 16-bit inputs are computed in float32 and returned in their dtype.
    """
    check_image(_OP, "f1", f1)
    check_image(_OP, "f2", f2)
    if f1.shape[1] != f2.shape[1]:
        raise BadOption(f"ops.{_OP}", "f2",
                        f"f1 and f2 must have the same channels, got {tuple(f1.shape)} and {tuple(f2.shape)}")
    check_same_grid(_OP, ("f1", f1), ("f2", f2))
    if isinstance(max_displacement, bool) or not isinstance(max_displacement, int) or max_displacement < 0:
        raise BadOption(f"ops.{_OP}", "max_displacement", f"max_displacement must be an int ≥ 0, got {max_displacement!r}")
    d = max_displacement
    k = 2 * d + 1
    n, c, h, w = f1.shape
    dtype = compute_dtype(f1, f2)
    a = f1.to(dtype) / c
    b = F.pad(f2.to(dtype), (d, d, d, d))
    out = a.new_empty(n, k * k, h, w)
    # Bands of rows small enough that a band of f1 and the rows of f2 it meets stay in cache for all k² products.
    band = max(1, _BAND_ELEMENTS // max(1, n * c * w))
    for top in range(0, h, band):
        bottom = min(h, top + band)
        rows = a[:, :, top:bottom]
        for dy in range(k):
            window = b[:, :, top + dy : bottom + dy]
            for dx in range(k):
                out[:, dy * k + dx, top:bottom] = torch.linalg.vecdot(rows, window[..., dx : dx + w], dim=1)
    return out.to(f1.dtype)
