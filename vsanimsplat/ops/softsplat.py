"""Softmax splatting: forward warping by bilinear splatting (Niklaus & Liu, CVPR 2020).

Every source pixel ``p`` of ``input`` is moved to ``q = p + flow(p)`` and its value is spread over the four
pixels around ``q`` with bilinear weights ``b``. Where several sources land on one pixel they are combined by
``mode``:

| mode | result at a target pixel |
|---|---|
| `sum` | ``Σ b·x`` |
| `avg` | ``Σ b·x / (Σ b + ε)`` |
| `linear` | ``Σ b·Z·x / (Σ b·Z + ε)`` |
| `soft` | ``Σ b·exp(Z)·x / (Σ b·exp(Z) + ε)``: a softmax over the sources, weighted by the metric ``Z`` |

``ε = 1e-7`` as in the published implementation, so networks trained with it (GMFSS) get the same numbers. In
`soft` mode the exponentials are taken relative to a shift ``m`` and ``ε`` is scaled by ``exp(-m)``: the value is
the formula above exactly, but no ``exp`` can overflow, whatever the size of ``Z``. ``m`` is the largest metric
among the sources that reach each target pixel; on the CPU the PyTorch path uses the largest metric of the whole
image instead when that provably loses nothing (it is at most ~52 in float32), which saves a scatter and a gather.

The splat runs in plain PyTorch (``index_add_``) on every device and whenever a gradient is wanted. Two faster
paths do the same arithmetic: on the CPU without autograd, a loop compiled by Numba (:mod:`._softsplat_cpu`;
metrics beyond the per-image limit fall back to PyTorch); for float32 and float64 work on CUDA, when CuPy is
installed for torch's CUDA, fused kernels of :mod:`._softsplat_cuda` (always with the per-target shift; without
them the first CUDA splat warns, naming the ``cuda`` extra). 16-bit inputs are
accumulated in float32 and the result is returned in the input's dtype.

Sums over the sources that land on one pixel are added in the order the atomic additions of a GPU happen to
land (the CuPy kernels, ``index_add_`` on CUDA), so CUDA output may differ in the last bits from run to run.
Within :func:`deterministic` (per thread), or under ``torch.use_deterministic_algorithms(True)``, the PyTorch path
runs on every device and adds with ``index_put_(accumulate=True)``, which sorts the sources by target first: the
same bits on every run, at the cost of the sort. The CPU paths give the same bits on every run either way.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import torch
from torch import Tensor

from ..errors import BadOption
from . import _softsplat_cpu, _softsplat_cuda
from ._common import check_choice, check_image, check_same_grid, compute_dtype, pixel_targets

__all__ = ["softsplat", "softsplat_with_holes", "deterministic", "deterministic_enabled", "MODES", "NORMALISE_EPS",
           "HOLE_EPS"]

MODES = ("sum", "avg", "linear", "soft")
NORMALISE_EPS = 1e-7
"""Added to the splatted weights before dividing, as in the published implementation."""
HOLE_EPS = 1e-3
"""Default threshold on the splatted bilinear weight below which a pixel counts as a hole."""

_OP = "softsplat"
# A coordinate that no pixel's four neighbours reach, given to non-finite targets.
_OFF_FRAME = -2.0
_DETERMINISTIC: ContextVar[bool] = ContextVar("deterministic splatting", default=False)


@contextmanager
def deterministic(enabled: bool = True) -> Iterator[None]:
    """Within the block, in this thread, splatting adds in a fixed order on every device (see the module docstring).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `enabled` | bool | True | False: the default order again within the block |
    """
    token = _DETERMINISTIC.set(enabled)
    try:
        yield
    finally:
        _DETERMINISTIC.reset(token)


def deterministic_enabled() -> bool:
    """Whether splatting here adds in a fixed order: within :func:`deterministic`, or under
    ``torch.use_deterministic_algorithms(True)``."""
    return _DETERMINISTIC.get() or torch.are_deterministic_algorithms_enabled()



def softsplat(input: Tensor, flow: Tensor, metric: Tensor | None = None, mode: str = "soft") -> Tensor:
    """Forward-warp ``input`` by ``flow`` with bilinear splatting; see the module docstring for the modes.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `input` | Tensor (N, C, H, W) | — | values to move, floating point |
    | `flow` | Tensor (N, 2, H, W) | — | where each pixel goes, in pixels: x (right) then y (down). Non-finite targets are skipped, targets outside the frame dropped |
    | `metric` | Tensor (N, 1, H, W) or None | None | ``Z``: weights (`linear`) or log-weights (`soft`); required by those modes, not allowed for `sum`, `avg` |
    | `mode` | str | "soft" | one of `sum`, `avg`, `linear`, `soft` |

    Returns a tensor like ``input``: differentiable with respect to ``input``, ``flow`` and ``metric``.
    """
    return _softsplat(input, flow, metric, mode, None)[0]


def softsplat_with_holes(
    input: Tensor, flow: Tensor, metric: Tensor | None = None, mode: str = "soft", eps: float = HOLE_EPS
) -> tuple[Tensor, Tensor]:
    """:func:`softsplat`, and the mask of pixels no source reached.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `input`, `flow`, `metric`, `mode` | | | as for :func:`softsplat` |
    | `eps` | float | 1e-3 | a pixel is a hole when the bilinear weights splatted onto it add up to less than this |

    Returns ``(output, holes)``: ``holes`` is a (N, 1, H, W) bool tensor, True at the holes. It does not depend
    on ``metric``: it marks where sources landed, not how much they weigh.
    """
    if not eps > 0:
        raise BadOption(f"ops.{_OP}", "eps", f"eps must be > 0, got {eps!r}")
    output, coverage = _softsplat(input, flow, metric, mode, eps)
    if coverage.device.type == "cpu":  # NumPy's comparison: see _softsplat_cpu on torch's spinning threads
        return output, torch.from_numpy(coverage.numpy() < eps)
    return output, coverage < eps


def _softsplat(
    input: Tensor, flow: Tensor, metric: Tensor | None, mode: str, hole_eps: float | None
) -> tuple[Tensor, Tensor | None]:
    """The result and, if ``hole_eps`` is given, the splatted bilinear weight (N, 1, H, W)."""
    check_choice(_OP, "mode", mode, MODES)
    check_image(_OP, "input", input)
    check_image(_OP, "flow", flow, channels=2)
    check_same_grid(_OP, ("input", input), ("flow", flow))
    if mode in ("linear", "soft"):
        if metric is None:
            raise BadOption(f"ops.{_OP}", "metric", f"mode {mode!r} needs a metric (N, 1, H, W)")
        check_image(_OP, "metric", metric, channels=1)
        check_same_grid(_OP, ("input", input), ("metric", metric))
    elif metric is not None:
        raise BadOption(f"ops.{_OP}", "metric", f"metric is only used by modes 'linear' and 'soft', not {mode!r}; pass None")

    dtype = compute_dtype(input, flow, *([] if metric is None else [metric]))
    x, flow = input.to(dtype), flow.to(dtype)
    metric = None if metric is None else metric.to(dtype)
    if _softsplat_cpu.usable(x, flow, metric):
        compiled = _splat_compiled(x, flow, metric, mode, hole_eps is not None)
        if compiled is not None:
            return compiled[0].to(input.dtype), compiled[1]
    if mode != "sum":
        # The last channel splats the weights themselves: the normaliser.
        x = torch.cat((x, x.new_ones(x.shape[0], 1, *x.shape[2:])), 1)
    log_weight = None
    if mode == "linear":
        x = x * metric
    elif mode == "soft":
        log_weight = metric

    fast = not deterministic_enabled() and _softsplat_cuda.usable(x)  # the kernels add with atomics
    splat = _softsplat_cuda.splat if fast else _splat_torch
    # In `avg` mode the normaliser is the coverage itself.
    out, shift, coverage = splat(x, flow, log_weight, hole_eps is not None and mode != "avg")

    if mode != "sum":
        if mode == "avg" and hole_eps is not None:
            coverage = out[:, -1:].detach()
        eps = NORMALISE_EPS if shift is None else NORMALISE_EPS * torch.exp(-shift)
        out = out[:, :-1] / (out[:, -1:] + eps)
    return out.to(input.dtype).contiguous(), coverage


def _splat_compiled(
    x: Tensor, flow: Tensor, metric: Tensor | None, mode: str, coverage: bool
) -> tuple[Tensor, Tensor | None] | None:
    """:func:`_softsplat` on the compiled CPU path, or None for `soft` metrics too large for a per-image shift."""
    eps = None if mode == "sum" else x.new_tensor(NORMALISE_EPS)
    top = None
    if mode == "soft":
        # NumPy's maximum, not torch's: see _softsplat_cpu on torch's spinning threads
        top = torch.from_numpy(metric.detach().numpy().max(axis=(1, 2, 3), keepdims=True))
        if not _exact_image_shift(top):
            return None
        eps = NORMALISE_EPS * torch.exp(-top)
    return _softsplat_cpu.splat(x, flow, metric, top, eps, coverage)


def _image_shift(log_weight: Tensor) -> Tensor | None:
    """The largest log weight of each image (N, 1, 1, 1), if subtracting it alone is exact (see
    :func:`_image_shift_limit`) and the values need not leave the device to check it; else None."""
    top = log_weight.detach().amax((1, 2, 3), keepdim=True)
    return top if _exact_image_shift(top) else None


def _exact_image_shift(top: Tensor) -> bool:
    """Whether shifting by ``top``, each image's largest log weight, is exact. Checking needs the values on the
    host: a GPU takes the per-target shift instead, so that splatting never waits for the device."""
    return top.device.type == "cpu" and bool(((top > -torch.inf) & (top <= _image_shift_limit(top.dtype))).all())


def _splat_torch(
    values: Tensor, flow: Tensor, log_weight: Tensor | None, coverage: bool
) -> tuple[Tensor, Tensor | None, Tensor | None]:
    """Bilinear sum-splatting of ``values`` (N, R, H, W) by ``flow``, in plain PyTorch.

    With ``log_weight`` (N, 1, H, W), each source's contribution to a target pixel is also weighted by
    ``exp(log_weight - m)`` for a shift ``m`` that the caller undoes through the normaliser's epsilon.
    Returns the splat (N, R, H, W), ``m`` (broadcastable to (N, 1, H, W)) or None, and the splatted bilinear
    weight (N, 1, H, W) if ``coverage``, else None.
    """
    n, r, h, w = values.shape
    index, bilinear, size = _corners(flow)
    shift = None
    factor = bilinear
    if log_weight is not None:
        top = _image_shift(log_weight)
        if top is not None:
            values = values * torch.exp(log_weight - top)
            shift = top
        else:
            factor, top = _shift_per_target(index, bilinear, log_weight, size)
            shift = _crop(top.view(1, -1), n, h, w)

    source = values.transpose(0, 1).reshape(r, -1)
    # In a fixed order, index_put_ adds the sources of each target after sorting them by target: it wants the targets
    # as rows, so the accumulator is (size, R) seen as (R, size).
    fixed = deterministic_enabled()
    out = values.new_zeros(size, r).t() if fixed else values.new_zeros(r, size)
    # Without autograd the four products share one buffer: fresh ones cost more in page faults than in flops.
    reuse = not (torch.is_grad_enabled() and (source.requires_grad or factor.requires_grad))
    product = None
    for corner in range(4):
        product = torch.mul(source, factor[corner], out=product if reuse else None)
        if fixed:
            out.t().index_put_((index[corner],), product.t(), accumulate=True)
        else:
            out.index_add_(1, index[corner], product)

    splatted = None
    if coverage:
        splatted = values.new_zeros(size)
        if fixed:
            splatted.index_put_((index.view(-1),), bilinear.detach().view(-1), accumulate=True)
        else:
            splatted.index_add_(0, index.view(-1), bilinear.detach().view(-1))
        splatted = _crop(splatted.view(1, -1), n, h, w)
    return _crop(out, n, h, w), shift, splatted


def _corners(flow: Tensor) -> tuple[Tensor, Tensor, int]:
    """Where each source's value goes: flat indices (4, N·H·W) into a padded frame, bilinear weights (4, N·H·W)
    and the size of the accumulator.

    Targets are indexed in a frame padded by one pixel on each side, so each source needs one bounds check for
    its four neighbours: the ring is cropped at the end. Sources whose neighbours all fall outside, or whose
    target is not finite, go to scratch slots past the end. Corners are in the order (y0, x0), (y0, x0+1),
    (y0+1, x0), (y0+1, x0+1).
    """
    n, _, h, w = flow.shape
    wp, hp = w + 2, h + 2
    scratch = n * hp * wp
    tx, ty = (t.nan_to_num(_OFF_FRAME, _OFF_FRAME, _OFF_FRAME) for t in pixel_targets(flow.contiguous()))
    x0, y0 = tx.floor(), ty.floor()
    fx, fy = tx - x0, ty - y0
    xc, yc = x0.clamp(-1, w - 1), y0.clamp(-1, h - 1)
    outside = (xc != x0) | (yc != y0)
    base = yc.long().mul_(wp).add_(xc.long()).add_(wp + 1)
    base += torch.arange(0, scratch, hp * wp, device=flow.device).view(n, 1, 1)
    base.masked_fill_(outside, scratch)
    step = torch.arange(2, device=flow.device)  # corner offsets 0, 1, wp, wp + 1, made where the flow is
    index = base.view(1, -1) + (step.view(2, 1) * wp + step).view(4, 1)
    wx, wy = torch.stack((1 - fx, fx)), torch.stack((1 - fy, fy))
    bilinear = (wy.unsqueeze(1) * wx.unsqueeze(0)).view(4, -1)
    return index, bilinear, scratch + wp + 2


def _image_shift_limit(dtype: torch.dtype) -> float:
    """The largest per-image shift that loses nothing: with ``m`` below it, every term small enough to be
    subnormal is under 1/16 of a rounding error of the smallest possible denominator, ``ε·exp(-m)``."""
    info = torch.finfo(dtype)
    return math.log(NORMALISE_EPS * info.eps / (16 * info.tiny))


def _shift_per_target(index: Tensor, bilinear: Tensor, log_weight: Tensor, size: int) -> tuple[Tensor, Tensor]:
    """Weights ``bilinear · exp(Z - m[t])`` with ``m[t]`` the largest ``Z`` among the sources reaching target ``t``
    with a nonzero weight (0 where none does), and ``m`` over the accumulator's slots."""
    z = log_weight.reshape(1, -1)
    top = torch.full((size,), -torch.inf, dtype=z.dtype, device=z.device)
    reaching = index.masked_fill(bilinear == 0, size - 1)  # corners of zero weight do not count
    top.scatter_reduce_(0, reaching.view(-1), z.detach().expand(4, -1).reshape(-1), "amax")
    top.masked_fill_(top == -torch.inf, 0.0)
    gap = z - torch.take(top, index)
    # Only zero-weight corners can lie above their target's maximum: cap them at exp(0), which their zero
    # weight cancels (where, not clamp, keeps the gradient at gap == 0).
    return bilinear * torch.exp(torch.where(gap > 0, 0.0, gap)), top


def _crop(flat: Tensor, n: int, h: int, w: int) -> Tensor:
    """(R, size) padded-frame accumulator -> (N, R, H, W) view without the ring and the scratch slots."""
    r = flat.shape[0]
    return flat[:, : n * (h + 2) * (w + 2)].view(r, n, h + 2, w + 2)[:, :, 1:-1, 1:-1].transpose(0, 1)
