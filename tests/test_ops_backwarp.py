"""backwarp / backwarp_valid: exact grid_sample equivalence, a per-pixel reference, validity, gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from vsanimsplat.ops import backwarp, backwarp_valid

TOLERANCE = {torch.float64: 1e-9, torch.float32: 1e-4}


def reference(x: np.ndarray, flow: np.ndarray, padding: str) -> np.ndarray:
    """Bilinear sample of each pixel's landing point, one pixel at a time: border repeats the edge pixels,
    zeros reads 0 for every neighbour outside the frame."""
    n_, c_, h, w = x.shape
    out = np.zeros(x.shape)
    for n in range(n_):
        for y in range(h):
            for xx in range(w):
                px, py = xx + flow[n, 0, y, xx], y + flow[n, 1, y, xx]
                if padding == "border":
                    px, py = min(max(px, 0.0), w - 1.0), min(max(py, 0.0), h - 1.0)
                x0, y0 = math.floor(px), math.floor(py)
                for cy in (y0, y0 + 1):
                    for cx in (x0, x0 + 1):
                        weight = (1 - abs(px - cx)) * (1 - abs(py - cy))
                        if 0 <= cx < w and 0 <= cy < h and weight > 0:
                            out[n, :, y, xx] += weight * x[n, :, cy, cx]
    return out


def border_flow(rng: np.random.Generator, n: int, h: int, w: int) -> np.ndarray:
    """Random flow with landing points exactly on pixel centres, on the frame's edges, half a pixel and far
    outside."""
    flow = rng.uniform(-3, 3, (n, 2, h, w))
    ys, xs = np.mgrid[0:h, 0:w]
    flow[:, :, ::3, ::2] = np.round(flow[:, :, ::3, ::2])
    flow[:, 0, 1, :] = (w - 1) - xs[1]  # row 1 lands on the right edge
    flow[:, 1, :, 1] = -ys[:, 1]  # column 1 on the top edge
    flow[:, 0, 2, :] = -0.5 - xs[2]  # row 2 half a pixel left of the frame
    flow[:, 1, -1, :] = 1e5
    return flow


@pytest.mark.parametrize("padding", ["border", "zeros"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_equals_grid_sample_with_the_rife_grid(padding, dtype):
    g = torch.Generator().manual_seed(0)
    n, c, h, w = 2, 3, 9, 11
    x = torch.randn(n, c, h, w, generator=g, dtype=dtype)
    flow = torch.randn(n, 2, h, w, generator=g, dtype=dtype) * 4
    horizontal = torch.linspace(-1.0, 1.0, w, dtype=dtype).view(1, 1, 1, w).expand(n, -1, h, -1)
    vertical = torch.linspace(-1.0, 1.0, h, dtype=dtype).view(1, 1, h, 1).expand(n, -1, -1, w)
    grid = torch.cat((horizontal, vertical), 1)
    scaled = torch.cat((flow[:, 0:1] / ((w - 1.0) / 2.0), flow[:, 1:2] / ((h - 1.0) / 2.0)), 1)
    expected = F.grid_sample(
        x, (grid + scaled).permute(0, 2, 3, 1), mode="bilinear", padding_mode=padding, align_corners=True
    )
    assert torch.equal(backwarp(x, flow, padding), expected)


@pytest.mark.parametrize("padding", ["border", "zeros"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_matches_reference(padding, dtype):
    rng = np.random.default_rng(1)
    x = torch.tensor(rng.standard_normal((2, 3, 7, 8)), dtype=dtype)
    flow = torch.tensor(border_flow(rng, 2, 7, 8), dtype=dtype)
    out = backwarp(x, flow, padding)
    assert out.dtype == dtype
    expected = reference(x.double().numpy(), flow.double().numpy(), padding)
    assert np.abs(out.double().numpy() - expected).max() <= TOLERANCE[dtype]


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    shape=st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(2, 6), st.integers(2, 6)),
    scale=st.sampled_from([0.0, 0.5, 2.0, 8.0]),
    padding=st.sampled_from(["border", "zeros"]),
)
def test_random_shapes_and_flows(seed, shape, scale, padding):
    rng = np.random.default_rng(seed)
    n, c, h, w = shape
    x = torch.tensor(rng.standard_normal(shape))
    flow = torch.tensor(np.round(rng.normal(0, scale, (n, 2, h, w)) * 4) / 4)  # quarter pixels
    out = backwarp(x, flow, padding)
    assert np.abs(out.numpy() - reference(x.numpy(), flow.numpy(), padding)).max() <= 1e-9
    # Where the sample lies inside the frame the padding does not matter.
    valid = backwarp_valid(flow).expand_as(out)
    other = backwarp(x, flow, "zeros" if padding == "border" else "border")
    assert torch.equal(out[valid], other[valid])


def test_valid_mask():
    flow = torch.zeros(1, 2, 3, 4, dtype=torch.float64)
    flow[0, 0, 0, 0] = -1e-9  # just left of the frame
    flow[0, 0, 0, 3] = 0.0  # exactly on the right edge
    flow[0, 1, 2, 1] = 1e-9  # just below the frame
    flow[0, 1, 1, 1] = 1.0  # exactly on the bottom edge
    flow[0, 0, 1, 2] = math.nan
    flow[0, 1, 1, 3] = math.inf
    expected = torch.ones(1, 1, 3, 4, dtype=torch.bool)
    expected[0, 0, 0, 0] = expected[0, 0, 2, 1] = expected[0, 0, 1, 2] = expected[0, 0, 1, 3] = False
    assert torch.equal(backwarp_valid(flow), expected)
    assert backwarp_valid(flow.half()).dtype == torch.bool


@pytest.mark.parametrize("padding", ["border", "zeros"])
def test_gradcheck(padding):
    rng = np.random.default_rng(2)
    x = torch.tensor(rng.standard_normal((1, 2, 4, 5)), requires_grad=True)
    # fractional parts away from pixel centres; some samples outside the frame
    flow = rng.integers(-2, 3, (1, 2, 4, 5)) + rng.uniform(0.15, 0.85, (1, 2, 4, 5))
    flow = torch.tensor(flow, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, f: backwarp(a, f, padding), (x, flow))


def test_16_bit_inputs_are_sampled_in_float32():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(1, 3, 5, 6, generator=g).half()
    flow = (torch.randn(1, 2, 5, 6, generator=g) * 2).half()
    out = backwarp(x, flow)
    assert out.dtype == torch.float16
    assert torch.equal(out, backwarp(x.float(), flow.float()).half())


def test_invalid_arguments_raise_value_errors_naming_the_parameter():
    x, flow = torch.rand(1, 3, 4, 5), torch.zeros(1, 2, 4, 5)
    with pytest.raises(ValueError, match="padding must be one of 'border', 'zeros'"):
        backwarp(x, flow, "reflection")
    with pytest.raises(ValueError, match="flow must have 2 channel"):
        backwarp(x, torch.zeros(1, 1, 4, 5))
    with pytest.raises(ValueError, match="flow must have the batch size"):
        backwarp(x, torch.zeros(1, 2, 4, 6))
    with pytest.raises(ValueError, match="at least 2×2"):
        backwarp(torch.rand(1, 3, 1, 5), torch.zeros(1, 2, 1, 5))
    with pytest.raises(ValueError, match="flow must have shape"):
        backwarp_valid(torch.zeros(2, 4, 5))
