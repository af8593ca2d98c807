"""The fast CPU path of :mod:`.softsplat`: the splatting loops compiled by Numba, for work without autograd.

Inference on the CPU (no tensor needing a gradient, float32 or float64 after the caller's promotion) runs here;
training and every other device use the PyTorch path. The arithmetic is that of the PyTorch path, in the same
precision and order per source: target ``(x + flow_x, y + flow_y)`` in the flow's dtype, bilinear weights
``(1-fy)(1-fx)`` …, value times source weight times bilinear weight; only the order in which sources are added on
one target differs, and `soft` mode's exponentials are NumPy's (within an ulp of torch's). Around the loops
this module calls NumPy rather than torch: a torch operation starts torch's OpenMP threads, which then spin
for a while on the very cores the splatting threads need (measured: 26 ms instead of 18 ms at 1920×1080).

One accumulator, interleaved (plane fastest) and padded by one pixel, so a source's four targets are four runs
of adjacent memory behind one bounds check. Its planes: the C values times the weight, the weight alone (the
normaliser), the bilinear weight alone (the coverage, for the hole mask) as needed. Inputs of more than
``_GROUP`` channels go through in groups of channels, one pass over the flow each: narrow cells are faster than
one wide pass (see ``_GROUP``).

Threads (as many as ``torch.get_num_threads()``, on a shared pool) take bands of source rows in two phases,
even bands then odd ones; the bands of a phase run at once only when the accumulator rows they can reach (found
by a first pass over the flow) are disjoint, else one after the other, so no two threads ever add to one
address and the result does not depend on the thread count's timing. While it splats a row, a thread reads
the accumulator row ``_AHEAD`` rows below it in order, so that the hardware prefetches the lines which the
jumping targets would otherwise fetch one by one. A second pass divides by the normaliser into the output and
zeroes the accumulator, which is kept for the next call of the same size: faulting in fresh pages costs more
than splatting into warm ones.

Numba compiles the loops on first use (about a second per plane count, dtype and memory layout) and caches
them on disk beside the package or in the user cache.
"""

from __future__ import annotations

import functools
import math
import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch import Tensor

__all__ = ["usable", "splat"]

@functools.cache
def _numba():
    """The Numba module, or None when it does not import."""
    try:
        import numba

        return numba
    except Exception:
        return None


@functools.cache
def _kernels(planes: int):
    """The accumulation and normalisation loops compiled for ``planes`` planes (a constant lets the compiler
    unroll the loops over planes)."""
    numba = _numba()

    @numba.njit(nogil=True, cache=True, error_model="numpy")
    def accumulate(values, channel, c, flow, weight, normaliser, acc, row_first, row_last, reach_first, reach_last):
        # values (N, ·, H, W), flow (N, 2, H, W), weight (N, H, W) or (0, 0, 0), acc (N, (H+2)·(W+2)·planes).
        # Source planes: 0..c-1 the value channels channel..channel+c-1 (times the weight), then the weight
        # itself if `normaliser`, then ones while planes remain. This task adds source rows [row_first,
        # row_last) of N·H, which reach accumulator rows reach_first..reach_last (as _target_rows counts them).
        _, _, h, w = values.shape
        wp = w + 2
        one = flow.dtype.type(1)
        weighted = weight.shape[0] > 0
        source = np.empty(planes, acc.dtype)  # one source's value in every plane
        line = 64 // acc.itemsize
        read = acc.dtype.type(0)
        for row in range(row_first, row_last):
            n, y = row // h, row % h
            yf = flow.dtype.type(y)
            out = acc[n]
            # Read one value per cache line of the accumulator row _AHEAD rows below, if this task writes it:
            # in order, so the hardware prefetches it, instead of fetching lines on demand as targets jump.
            ahead = y + 1 + _AHEAD
            if ahead < h + 2 and reach_first <= n * (h + 2) + ahead <= reach_last:
                for i in range(ahead * wp * planes, (ahead + 1) * wp * planes, line):
                    read += out[i]
            for x in range(w):
                tx = flow[n, 0, y, x] + flow.dtype.type(x)
                ty = flow[n, 1, y, x] + yf
                if not (math.isfinite(tx) and math.isfinite(ty)):
                    continue
                x0 = np.floor(tx)
                y0 = np.floor(ty)
                if x0 < -1 or x0 > w - 1 or y0 < -1 or y0 > h - 1:
                    continue
                fx = tx - x0
                fy = ty - y0
                gx = one - fx
                gy = one - fy
                w00 = gy * gx
                w01 = gy * fx
                w10 = fy * gx
                w11 = fy * fx
                s = weight[n, y, x] if weighted else one
                for p in range(planes):
                    if p < c:
                        source[p] = values[n, channel + p, y, x] * s
                    elif p == c and normaliser:
                        source[p] = s
                    else:
                        source[p] = one
                # corner by corner: four runs of `planes` adjacent values
                t = ((int(y0) + 1) * wp + int(x0) + 1) * planes
                below = wp * planes
                for p in range(planes):
                    out[t + p] += source[p] * w00
                for p in range(planes):
                    out[t + planes + p] += source[p] * w01
                for p in range(planes):
                    out[t + below + p] += source[p] * w10
                for p in range(planes):
                    out[t + below + planes + p] += source[p] * w11
        return read  # unused, but it keeps the compiler from dropping the reads

    @numba.njit(nogil=True, cache=True, error_model="numpy")
    def normalise(acc, eps, out, channel, c, coverage, row_first, row_last):
        # acc (N, (H+2)·(W+2)·planes). Channels channel..channel+c-1 of out (N, ·, H, W) = the c value planes /
        # (normaliser + eps[n]) when eps has N entries, else the value planes; coverage (N, H, W) = the last
        # plane, if it has N entries.
        _, _, h, w = out.shape
        wp = w + 2
        for row in range(row_first, row_last):
            n, y = row // h, row % h
            line = acc[n, ((y + 1) * wp + 1) * planes :]
            for x in range(w):
                i = x * planes
                if eps.shape[0] > 0:
                    denominator = line[i + c] + eps[n]
                    for p in range(c):
                        out[n, channel + p, y, x] = line[i + p] / denominator
                else:
                    for p in range(c):
                        out[n, channel + p, y, x] = line[i + p]
                if coverage.shape[0] > 0:
                    coverage[n, y, x] = line[i + planes - 1]
            # Leave the accumulator zeroed for the next call: this row, and the padding rows beside the frame.
            first = y if y == 0 else y + 1
            last = y + 3 if y == h - 1 else y + 2
            acc[n, first * wp * planes : last * wp * planes] = 0

    return accumulate, normalise


@functools.cache
def _target_rows():
    """The compiled pass that finds which accumulator rows a band of sources can touch."""

    @_numba().njit(nogil=True, cache=True)
    def target_rows(flow, row_first, row_last):
        # (first, last) padded accumulator rows, counted over the batch as n·(H+2) + y + 1, that sources of rows
        # [row_first, row_last) of the N·H rows splat onto; (0, -1) if none lands. The landing test repeats
        # accumulate's on purpose: as a shared inlined helper it made both loops 15-20 % slower and kept Numba
        # from caching them (measured).
        _, _, h, w = flow.shape
        first, last = 1 << 62, -1
        for row in range(row_first, row_last):
            n, y = row // h, row % h
            for x in range(w):
                tx = flow[n, 0, y, x] + flow.dtype.type(x)
                ty = flow[n, 1, y, x] + flow.dtype.type(y)
                if not (math.isfinite(tx) and math.isfinite(ty)):
                    continue
                x0 = np.floor(tx)
                y0 = np.floor(ty)
                if x0 < -1 or x0 > w - 1 or y0 < -1 or y0 > h - 1:
                    continue
                top = n * (h + 2) + int(y0) + 1
                first = min(first, top)
                last = max(last, top + 1)
        return (first, last) if last >= 0 else (0, -1)

    return target_rows


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="softsplat")


def usable(*tensors: Tensor | None) -> bool:
    """Whether the compiled loops can run: CPU tensors of float32/float64, no gradient wanted, Numba importable."""
    present = [t for t in tensors if t is not None]
    return (
        all(t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64) for t in present)
        and not (torch.is_grad_enabled() and any(t.requires_grad for t in present))
        and _numba() is not None
    )


def splat(
    values: Tensor, flow: Tensor, weight: Tensor | None, shift: Tensor | None, eps: Tensor | None, coverage: bool
) -> tuple[Tensor, Tensor | None]:
    """Splat ``values`` (N, C, H, W), each source times its weight, normalised by the splatted weights.

    | parameter | type | meaning |
    |---|---|---|
    | `values` | Tensor (N, C, H, W) | what to splat |
    | `flow` | Tensor (N, 2, H, W) | where each source goes, same dtype as `values` |
    | `weight` | Tensor (N, 1, H, W) or None | per-source weight (None: 1), or its logarithm when `shift` is given |
    | `shift` | Tensor (N, 1, 1, 1) or None | given: the weights are ``exp(weight - shift)`` |
    | `eps` | Tensor (N, 1, 1, 1) or None | divide by the splatted weights plus this; None: plain sum |
    | `coverage` | bool | also return the splatted bilinear weights |

    Returns the result (N, C, H, W), contiguous, and the splatted bilinear weights (N, 1, H, W) or None.
    """
    n, c, h, w = values.shape
    normaliser = eps is not None
    extra = coverage and not (normaliser and weight is None)  # unweighted, the normaliser is the coverage
    threads = max(1, torch.get_num_threads())
    blocks = min(2 * threads, n * h)
    cuts = [n * h * i // blocks for i in range(blocks + 1)]
    spans = list(zip(cuts, cuts[1:]))
    values, flow = values.detach().numpy(), flow.detach().numpy()
    dtype = values.dtype
    none = np.zeros((0, 0, 0), dtype)
    if shift is not None:  # exp(weight - shift), computed band by band below into a kept buffer
        weights, logs, shifts = _take((n, h, w), dtype), weight[:, 0].detach().numpy(), shift.detach().numpy()
    else:
        weights = none if weight is None else weight[:, 0].detach().numpy()

    def prepare(span: tuple[int, int]) -> tuple[int, int]:
        """On the pool: the band's weights, if they are exponentials, and the accumulator rows it reaches."""
        row = span[0]
        while shift is not None and row < span[1]:  # the band's rows, image by image
            image, y = divmod(row, h)
            end = min(span[1], (image + 1) * h)
            rows = slice(y, y + end - row)
            np.exp(np.subtract(logs[image, rows], shifts.flat[image], out=weights[image, rows]), out=weights[image, rows])
            row = end
        return _target_rows()(flow, *span)

    reach = list(_pool().map(prepare, spans))
    out = np.empty((n, c, h, w), dtype)
    cover = np.empty((n, 1, h, w), dtype) if coverage else None
    eps_array = np.zeros(0, dtype) if eps is None else eps.detach().reshape(-1).expand(n).numpy()
    for channel in range(0, c, _GROUP):
        channels = min(_GROUP, c - channel)
        planes = channels + normaliser + extra
        accumulate, normalise = _kernels(planes)
        # NumPy allocates: its fresh pages cost less to fault in than torch's (4 ms against 16 ms for 66 MB here).
        acc = _take((n, (h + 2) * (w + 2) * planes), dtype, zeroed=True)
        source = (values, channel, channels, flow, weights, normaliser, acc)
        for phase in (spans[0::2], reach[0::2]), (spans[1::2], reach[1::2]):
            _run(accumulate, source, *phase)
        _run(normalise, (acc, eps_array, out, channel, channels, none if cover is None else cover[:, 0]), spans)
        _give(acc)
    if shift is not None:
        _give(weights)
    return torch.from_numpy(out), None if cover is None else torch.from_numpy(cover)


_AHEAD = 32
"""How far below the source row ``accumulate`` reads the accumulator ahead of its writes. At 1920×1080, C = 3,
one thread, with the accumulator zeroed between calls: 29.2 ms without, 25.0 / 22.2 / 20.6 / 18.9 / 18.7 ms
with 0 / 8 / 16 / 24 / 32 rows on the benchmark's flow; 35.1 ms without and 22.1 with 32 on twice that flow,
24.3 and 17.9 on a quarter of it; a constant flow pays 15.5 → 16.4 ms."""

_GROUP = 12
"""Value channels splatted per pass over the flow. Wider accumulator cells, and more planes read at once, cost
more than the repeated passes save: `soft` at C = 64 with groups of 4 / 8 / 12 / 16 / 64 channels took 478 / 363
/ 342 / 551 / 760 ms at 1920×1080 and 42 / 45 / 49 / 54 / 84 ms at 640×360 (this machine, scripts/bench_ops.py
inputs, fastest of three rounds in shuffled order; the rounds spread by up to 25 %)."""

_spare: OrderedDict[tuple[tuple[int, ...], np.dtype], np.ndarray] = OrderedDict()
_spare_lock = threading.Lock()
_SPARE_LIMIT = 6
"""Buffers kept for reuse (one per shape and dtype, the most recent few): faulting in fresh pages costs more
than working in warm ones. Accumulators (shape (N, ·)) come back zeroed; weight buffers (N, H, W) do not."""


def _take(shape: tuple[int, ...], dtype: np.dtype, zeroed: bool = False) -> np.ndarray:
    with _spare_lock:
        spare = _spare.pop((shape, dtype), None)
    if spare is None:
        return np.zeros(shape, dtype) if zeroed else np.empty(shape, dtype)
    return spare


def _give(buffer: np.ndarray) -> None:
    with _spare_lock:
        _spare[buffer.shape, buffer.dtype] = buffer
        while len(_spare) > _SPARE_LIMIT:
            _spare.popitem(last=False)


def _conflicting(reach: list[tuple[int, int]]) -> bool:
    """Whether two of the row intervals ``(first, last)`` (inclusive; empty when last < first) overlap."""
    ordered = sorted(r for r in reach if r[1] >= r[0])
    return any(later[0] <= earlier[1] for earlier, later in zip(ordered, ordered[1:]))


def _run(kernel, arguments: tuple, spans: list[tuple[int, int]], reach: list[tuple[int, int]] | None = None) -> None:
    """``kernel(*arguments, first, last)`` for each span of rows, or ``kernel(*arguments, first, last,
    reach_first, reach_last)`` given ``reach`` (the accumulator rows each span writes): on the pool at once, or
    here one after the other when two spans write a common row."""
    tasks = spans if reach is None else [span + rows for span, rows in zip(spans, reach)]
    if reach is not None and _conflicting(reach):
        for task in tasks:
            kernel(*arguments, *task)
        return
    for job in [_pool().submit(kernel, *arguments, *task) for task in tasks]:
        job.result()
