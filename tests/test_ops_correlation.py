"""correlation: against a per-pixel reference, PWC-Net channel order, gradients, dtypes."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vsanimsplat.ops import correlation

correlation_module = importlib.import_module("vsanimsplat.ops.correlation")

TOLERANCE = {torch.float64: 1e-9, torch.float32: 1e-4}


def reference(f1: np.ndarray, f2: np.ndarray, d: int) -> np.ndarray:
    n_, c, h, w = f1.shape
    out = np.zeros((n_, (2 * d + 1) ** 2, h, w))
    for n in range(n_):
        for y in range(h):
            for x in range(w):
                for dy in range(-d, d + 1):
                    for dx in range(-d, d + 1):
                        if 0 <= y + dy < h and 0 <= x + dx < w:
                            total = sum(f1[n, k, y, x] * f2[n, k, y + dy, x + dx] for k in range(c))
                            out[n, (dy + d) * (2 * d + 1) + (dx + d), y, x] = total / c
    return out


@pytest.mark.parametrize("band_elements", [None, 1, 280])
@pytest.mark.parametrize("d", [0, 1, 4])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_matches_reference(d, dtype, band_elements, monkeypatch):
    """Also in bands of 1 row and of 4 rows (6 = 4 + 2), as large frames are computed."""
    if band_elements is not None:
        monkeypatch.setattr(correlation_module, "_BAND_ELEMENTS", band_elements)
    g = torch.Generator().manual_seed(d)
    f1 = torch.randn(2, 5, 6, 7, generator=g, dtype=dtype)
    f2 = torch.randn(2, 5, 6, 7, generator=g, dtype=dtype)
    out = correlation(f1, f2, d)
    assert out.shape == (2, (2 * d + 1) ** 2, 6, 7) and out.dtype == dtype
    expected = reference(f1.double().numpy(), f2.double().numpy(), d)
    assert np.abs(out.double().numpy() - expected).max() <= TOLERANCE[dtype]


def test_default_is_81_channels_in_pwc_order():
    """A single bright pixel of f2 shows up in the channel of its displacement from each f1 pixel."""
    f1 = torch.ones(1, 2, 11, 11)
    f2 = torch.zeros(1, 2, 11, 11)
    f2[0, :, 5, 5] = 1.0
    out = correlation(f1, f2)
    assert out.shape == (1, 81, 11, 11)
    for dy in range(-4, 5):
        for dx in range(-4, 5):
            channel = out[0, (dy + 4) * 9 + (dx + 4)]
            assert channel[5 - dy, 5 - dx] == 1.0
            assert channel.sum() == 1.0


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    shape=st.tuples(st.integers(1, 2), st.integers(1, 4), st.integers(1, 6), st.integers(1, 6)),
    d=st.integers(0, 3),
)
def test_random_shapes(seed, shape, d):
    rng = np.random.default_rng(seed)
    f1, f2 = rng.standard_normal(shape), rng.standard_normal(shape)
    out = correlation(torch.tensor(f1), torch.tensor(f2), d)
    assert np.abs(out.numpy() - reference(f1, f2, d)).max() <= 1e-9
    # symmetry: correlating the other way round swaps displacement (dx, dy) for (-dx, -dy) at the moved pixel
    back = correlation(torch.tensor(f2), torch.tensor(f1), d).numpy()
    k = 2 * d + 1
    for dy in range(-d, d + 1):
        for dx in range(-d, d + 1):
            h, w = shape[2:]
            if abs(dy) < h and abs(dx) < w:
                there = out[:, (dy + d) * k + dx + d, max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)]
                here = back[:, (-dy + d) * k - dx + d, max(0, dy) : h - max(0, -dy), max(0, dx) : w - max(0, -dx)]
                assert np.allclose(there.numpy(), here, atol=1e-12)


def test_gradcheck():
    g = torch.Generator().manual_seed(5)
    f1 = torch.randn(1, 3, 4, 5, generator=g, dtype=torch.float64, requires_grad=True)
    f2 = torch.randn(1, 3, 4, 5, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: correlation(a, b, 2), (f1, f2))


def test_16_bit_inputs_are_computed_in_float32():
    g = torch.Generator().manual_seed(6)
    f1, f2 = torch.randn(1, 96, 6, 6, generator=g).half(), torch.randn(1, 96, 6, 6, generator=g).half()
    out = correlation(f1, f2, 2)
    assert out.dtype == torch.float16
    assert torch.equal(out, correlation(f1.float(), f2.float(), 2).half())


def test_invalid_arguments_raise_value_errors_naming_the_parameter():
    f = torch.rand(1, 3, 4, 5)
    with pytest.raises(ValueError, match="max_displacement must be an int"):
        correlation(f, f, -1)
    with pytest.raises(ValueError, match="max_displacement must be an int"):
        correlation(f, f, 2.0)
    with pytest.raises(ValueError, match="same channels"):
        correlation(f, torch.rand(1, 4, 4, 5))
    with pytest.raises(ValueError, match="f2 must have the batch size"):
        correlation(f, torch.rand(1, 3, 4, 6))
    with pytest.raises(ValueError, match="f1 must have shape"):
        correlation(f[0], f)
