"""The CUDA path of :mod:`.softsplat`: fused splatting kernels compiled at run time by CuPy (NVRTC).

Used automatically for CUDA tensors when CuPy (``cupy-cuda13x``, the ``cuda`` extra) imports and matches torch's
major CUDA version; for CPU tensors, or without it, the pure-PyTorch path runs and nothing here is loaded (the first
CUDA splat then warns why, naming what to install). The kernels do the arithmetic of the PyTorch path one
source pixel per thread: ``splat_max`` finds the per-target shift of `soft` mode with an atomic max,
``splat_forward`` adds each source to its four neighbours with atomic adds, and ``splat_backward`` gathers the
gradients of each source from its four neighbours (no atomics).

The source also compiles as plain C++ (serial loops, ``scalar_t`` float or double): the tests build it with the
host compiler and run the autograd function below on the CPU through it.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

__all__ = ["KERNEL_SOURCE", "usable", "splat"]

KERNEL_SOURCE = r"""
#ifdef __CUDACC__
#define KERNEL extern "C" __global__
#define DEVICE __device__ __forceinline__
#define FOR_EACH_SOURCE(s, total) \
    for (long long s = blockIdx.x * (long long)blockDim.x + threadIdx.x; s < (total); \
         s += (long long)blockDim.x * gridDim.x)
DEVICE void atomic_add(scalar_t* address, scalar_t value) { atomicAdd(address, value); }
// Float max through integer atomics: non-negative floats order like their bits as signed integers,
// negative ones in reverse order of their bits as unsigned integers.
DEVICE void atomic_max(float* address, float value) {
    if (!signbit(value)) atomicMax((int*)address, __float_as_int(value));
    else atomicMin((unsigned int*)address, __float_as_uint(value));
}
DEVICE void atomic_max(double* address, double value) {
    if (!signbit(value)) atomicMax((long long*)address, __double_as_longlong(value));
    else atomicMin((unsigned long long*)address, (unsigned long long)__double_as_longlong(value));
}
#else
#include <cmath>
using std::exp; using std::floor; using std::isfinite;
#define KERNEL extern "C"
#define DEVICE static inline
#define FOR_EACH_SOURCE(s, total) for (long long s = 0; s < (total); ++s)
DEVICE void atomic_add(scalar_t* address, scalar_t value) { *address += value; }
DEVICE void atomic_max(scalar_t* address, scalar_t value) { if (value > *address) *address = value; }
#endif

// The four pixels around where source s (= n*H*W + y*W + x) lands, in the order (y0, x0), (y0, x0+1),
// (y0+1, x0), (y0+1, x0+1): flat target index (-1 outside the frame), bilinear weight, and the weight's
// derivatives by the landing point's x and y. False when the landing point is not finite.
DEVICE bool corners(const scalar_t* flow, long long s, long long P, int H, int W,
                    long long* target, scalar_t* weight, scalar_t* weight_dx, scalar_t* weight_dy) {
    const long long n = s / P;
    const int p = (int)(s - n * P);
    const scalar_t tx = (scalar_t)(p % W) + flow[2 * n * P + p];
    const scalar_t ty = (scalar_t)(p / W) + flow[(2 * n + 1) * P + p];
    if (!isfinite(tx) || !isfinite(ty)) return false;
    const scalar_t x0 = floor(tx), y0 = floor(ty), fx = tx - x0, fy = ty - y0;
    for (int k = 0; k < 4; ++k) {
        const int right = k & 1, below = k >> 1;
        const scalar_t cx = x0 + right, cy = y0 + below;
        const scalar_t wx = right ? fx : 1 - fx, wy = below ? fy : 1 - fy;
        weight[k] = wy * wx;
        weight_dx[k] = right ? wy : -wy;
        weight_dy[k] = below ? wx : -wx;
        const bool inside = cx >= 0 && cx <= W - 1 && cy >= 0 && cy <= H - 1;
        target[k] = inside ? n * P + (long long)cy * W + (long long)cx : -1;
    }
    return true;
}

// exp(log_weight[s] - top[t]), 1 without log weights. Only corners of zero weight can lie above their
// target's maximum: they are capped at exp(0), which their weight cancels.
DEVICE scalar_t relative_weight(const scalar_t* log_weight, const scalar_t* top, long long s, long long t) {
    if (!log_weight) return 1;
    const scalar_t gap = log_weight[s] - top[t];
    return exp(gap > 0 ? (scalar_t)0 : gap);
}

// top[t] = max(top[t], log_weight of every source that reaches t with a nonzero weight).
KERNEL void splat_max(const scalar_t* flow, const scalar_t* log_weight, scalar_t* top,
                      long long N, long long H, long long W) {
    const long long P = H * W;
    FOR_EACH_SOURCE(s, N * P) {
        long long t[4]; scalar_t w[4], w_dx[4], w_dy[4];
        if (!corners(flow, s, P, (int)H, (int)W, t, w, w_dx, w_dy)) continue;
        for (int k = 0; k < 4; ++k)
            if (t[k] >= 0 && w[k] > 0) atomic_max(&top[t[k]], log_weight[s]);
    }
}

// out[n, r, t] += values[n, r, s] * w * relative_weight;
// cover[t] += w (if cover). out and cover start at zero.
KERNEL void splat_forward(const scalar_t* values, const scalar_t* flow, const scalar_t* log_weight,
                          const scalar_t* top, scalar_t* out, scalar_t* cover,
                          long long N, long long R, long long H, long long W) {
    const long long P = H * W;
    FOR_EACH_SOURCE(s, N * P) {
        long long t[4]; scalar_t w[4], w_dx[4], w_dy[4];
        if (!corners(flow, s, P, (int)H, (int)W, t, w, w_dx, w_dy)) continue;
        const long long n = s / P, source = s + n * (R - 1) * P, image = n * (R - 1) * P;
        for (int k = 0; k < 4; ++k) {
            if (t[k] < 0) continue;
            const scalar_t a = w[k] * relative_weight(log_weight, top, s, t[k]);
            if (cover) atomic_add(&cover[t[k]], w[k]);
            for (long long r = 0; r < R; ++r) atomic_add(&out[image + t[k] + r * P], values[source + r * P] * a);
        }
    }
}

// Gradients of splat_forward's out (top held constant) for each source, from grad = dL/d(out).
KERNEL void splat_backward(const scalar_t* values, const scalar_t* flow, const scalar_t* log_weight,
                           const scalar_t* top, const scalar_t* grad, scalar_t* grad_values,
                           scalar_t* grad_flow, scalar_t* grad_log_weight,
                           long long N, long long R, long long H, long long W) {
    const long long P = H * W;
    FOR_EACH_SOURCE(s, N * P) {
        long long t[4] = {-1, -1, -1, -1}; scalar_t w[4], w_dx[4], w_dy[4], e[4];
        const bool lands = corners(flow, s, P, (int)H, (int)W, t, w, w_dx, w_dy);
        for (int k = 0; k < 4; ++k) {
            if (!lands) t[k] = -1;
            e[k] = t[k] >= 0 ? relative_weight(log_weight, top, s, t[k]) : 0;
        }
        const long long n = s / P, source = s + n * (R - 1) * P, image = n * (R - 1) * P;
        scalar_t g_x = 0, g_y = 0, g_z = 0;
        for (long long r = 0; r < R; ++r) {
            const scalar_t v = values[source + r * P];
            scalar_t g_v = 0;
            for (int k = 0; k < 4; ++k) {
                if (t[k] < 0) continue;
                const scalar_t g = grad[image + t[k] + r * P] * e[k];
                g_v += w[k] * g;
                g_x += w_dx[k] * v * g;
                g_y += w_dy[k] * v * g;
                g_z += w[k] * v * g;
            }
            grad_values[source + r * P] = g_v;
        }
        grad_flow[s + n * P] = g_x;
        grad_flow[s + n * P + P] = g_y;
        if (grad_log_weight) grad_log_weight[s] = g_z;
    }
}
"""

_THREADS = 256
_MAX_BLOCKS = 65535


_EXTRA_CUDA = 13
"""The major CUDA version of the CuPy wheel that the ``cuda`` extra installs (``cupy-cuda13x``, pyproject.toml)."""


@functools.cache
def _cupy():
    """The CuPy module, or None when it cannot run the kernels beside torch: it is missing, does not load, sees no
    GPU, or is built for another major CUDA version than torch. Asked on the first CUDA splat only, which then warns
    why the slow path runs and how to install the matching CuPy."""
    try:
        import cupy
    except ImportError as error:
        return _without_cupy("CuPy is not installed" if error.name == "cupy" else f"CuPy does not load ({error})")
    except Exception as error:  # a CUDA library it needs is missing or broken
        return _without_cupy(f"CuPy does not load ({type(error).__name__}: {error})")
    try:
        if not cupy.cuda.is_available():
            return _without_cupy("CuPy sees no GPU")
        version = cupy.cuda.runtime.runtimeGetVersion()  # 1000 × major + 10 × minor
    except Exception as error:
        return _without_cupy(f"CuPy cannot use CUDA ({type(error).__name__}: {error})")
    major = version // 1000
    if str(major) != _torch_cuda_major():
        return _without_cupy(f"CuPy is built for CUDA {major}.{version % 1000 // 10}, torch for CUDA "
                             f"{torch.version.cuda}", replace=f"cupy-cuda{major}x")
    return cupy


def _torch_cuda_major() -> str:
    """The major version of the CUDA that torch is built with ("None" for a torch without CUDA)."""
    return str(torch.version.cuda).split(".")[0]


def _without_cupy(reason: str, replace: str | None = None) -> None:
    """Warn that splatting on CUDA runs the slow PyTorch path because of ``reason``, and what to install (after
    uninstalling ``replace``, the CuPy package of the wrong CUDA, if given)."""
    major = _torch_cuda_major()
    install = ("pip install 'vsanimsplat[cuda]'" if major == str(_EXTRA_CUDA) else
               f"pip install cupy-cuda{major}x (the 'vsanimsplat[cuda]' extra installs cupy-cuda{_EXTRA_CUDA}x, for "
               f"CUDA {_EXTRA_CUDA})")
    uninstall = "" if replace is None else f"pip uninstall {replace}, then "
    warnings.warn(f"softmax splatting on CUDA runs the slow PyTorch path: {reason}. For the fast CuPy kernels: "
                  f"{uninstall}{install}", stacklevel=2)


def usable(x: Tensor) -> bool:
    """Whether the kernels can run on ``x``: a float32/float64 CUDA tensor with CuPy available (the first CUDA tensor
    asks, and warns if not)."""
    return x.is_cuda and x.dtype in (torch.float32, torch.float64) and _cupy() is not None


@functools.cache
def _module(dtype: torch.dtype):
    cupy = _cupy()
    scalar = {torch.float32: "float", torch.float64: "double"}[dtype]
    return cupy.RawModule(code=KERNEL_SOURCE, options=(f"-Dscalar_t={scalar}",))


def _launch_cuda(name: str, total: int, *args: Tensor | int | None) -> None:
    """Run kernel ``name`` over ``total`` source pixels on the device and stream of the tensor arguments."""
    cupy = _cupy()
    device = next(a.device for a in args if isinstance(a, Tensor))
    dtype = next(a.dtype for a in args if isinstance(a, Tensor))
    kernel = _module(dtype).get_function(name)
    # Tensors go as device pointers (CuPy passes a Python int as a 64-bit value), None as a null pointer.
    raw = tuple(a.data_ptr() if isinstance(a, Tensor) else 0 if a is None else a for a in args)
    blocks = max(1, min(_MAX_BLOCKS, -(-total // _THREADS)))
    with cupy.cuda.Device(device.index), cupy.cuda.ExternalStream(torch.cuda.current_stream(device).cuda_stream):
        kernel((blocks,), (_THREADS,), raw)


_launch: Callable[..., None] = _launch_cuda
"""How kernels are run; the tests substitute a launcher of the host-compiled source."""


class _Splat(torch.autograd.Function):
    @staticmethod
    def forward(ctx, values: Tensor, flow: Tensor, log_weight: Tensor | None, top: Tensor | None, coverage: bool):
        n, r, h, w = values.shape
        out = torch.zeros_like(values)
        cover = values.new_zeros(n, 1, h, w) if coverage else None
        _launch("splat_forward", n * h * w, values, flow, log_weight, top, out, cover, n, r, h, w)
        ctx.save_for_backward(values, flow, log_weight, top)
        if cover is not None:
            ctx.mark_non_differentiable(cover)
        return out, cover

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor, _grad_cover: Tensor | None):
        values, flow, log_weight, top = ctx.saved_tensors
        n, r, h, w = values.shape
        grad_values, grad_flow = torch.empty_like(values), torch.empty_like(flow)
        grad_log_weight = None if log_weight is None else torch.empty_like(log_weight)
        _launch(
            "splat_backward", n * h * w,
            values, flow, log_weight, top, grad_out.contiguous(), grad_values, grad_flow, grad_log_weight, n, r, h, w,
        )  # fmt: skip
        return grad_values, grad_flow, grad_log_weight, None, None


def splat(
    values: Tensor, flow: Tensor, log_weight: Tensor | None, coverage: bool
) -> tuple[Tensor, Tensor | None, Tensor | None]:
    """Kernel version of :func:`.softsplat._splat_torch`, with the same arguments and results."""
    values, flow = values.contiguous(), flow.contiguous()
    top = None
    if log_weight is not None:
        log_weight = log_weight.contiguous()
        n, _, h, w = flow.shape
        top = flow.new_full((n, 1, h, w), -torch.inf)
        _launch("splat_max", n * h * w, flow, log_weight.detach(), top, n, h, w)
        top = torch.where(top == -torch.inf, 0.0, top)
    out, cover = _Splat.apply(values, flow, log_weight, top, coverage)
    return out, top, cover
