"""softsplat: against a per-pixel reference, the published formula, gradients, numerics, dispatch and kernels.

The kernels of the CUDA path are also built from the same source with the host C++ compiler and run through
the same autograd function on the CPU (``backend="kernel"``), so their arithmetic is tested without a GPU. The
compiled CPU path (Numba) runs the same tests (``backend="compiled"``) and its own, on threads and buffers.
"""

from __future__ import annotations

import ctypes
import importlib
import math
import shutil
import subprocess
import sys
import tomllib
import types
import warnings
from collections import defaultdict
from pathlib import Path

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vsanimsplat.ops import softsplat, softsplat_with_holes

splat_module = importlib.import_module("vsanimsplat.ops.softsplat")
cuda_module = importlib.import_module("vsanimsplat.ops._softsplat_cuda")
cpu_module = importlib.import_module("vsanimsplat.ops._softsplat_cpu")

ROOT = Path(__file__).resolve().parents[1]

MODES = ("sum", "avg", "linear", "soft")
TOLERANCE = {torch.float64: 1e-9, torch.float32: 1e-4}


# --- an independent reference: explicit loops over sources and the four pixels around their landing point ---


def landing(flow: np.ndarray) -> dict[tuple[int, int, int], list[tuple[int, int, float]]]:
    """For each target (n, y, x): the sources (y, x) that reach it and their bilinear weights 1-|dx|, 1-|dy|."""
    reached = defaultdict(list)
    n_, _, h, w = flow.shape
    for n in range(n_):
        for y in range(h):
            for x in range(w):
                px, py = x + float(flow[n, 0, y, x]), y + float(flow[n, 1, y, x])
                if not (math.isfinite(px) and math.isfinite(py)):
                    continue
                for ty in (math.floor(py), math.floor(py) + 1):
                    for tx in (math.floor(px), math.floor(px) + 1):
                        if 0 <= tx < w and 0 <= ty < h:
                            reached[n, ty, tx].append((y, x, (1 - abs(px - tx)) * (1 - abs(py - ty))))
    return reached


def reference(x, flow, metric=None, mode="soft", exp=math.exp):
    """The published formula, target by target: (output float64 array, splatted bilinear weight)."""
    x, flow = np.asarray(x, np.float64), np.asarray(flow, np.float64)
    z = None if metric is None else np.asarray(metric, np.float64)
    out = np.zeros(x.shape)
    coverage = np.zeros((x.shape[0], 1, *x.shape[2:]))
    for (n, ty, tx), sources in landing(flow).items():
        num, den = [0] * x.shape[1], 0
        for y, sx, b in sources:
            if mode == "linear":
                weight = z[n, 0, y, sx]
            elif mode == "soft":
                weight = exp(z[n, 0, y, sx])
            else:
                weight = 1
            for c in range(x.shape[1]):
                num[c] += b * weight * x[n, c, y, sx]
            den += b * weight
            coverage[n, 0, ty, tx] += b
        for c in range(x.shape[1]):
            out[n, c, ty, tx] = float(num[c] if mode == "sum" else num[c] / (den + 1e-7))
    return out, coverage


def special_flow(rng: np.random.Generator, n: int, h: int, w: int) -> np.ndarray:
    """Random flow with, scattered over the frame: exact integer and half-pixel landings, landings exactly on
    the frame's edges and just past them, far outside, NaN and ±inf, and a cluster of sources that all land
    on one point."""
    flow = rng.uniform(-2.5, 2.5, (n, 2, h, w))
    ys, xs = np.mgrid[0:h, 0:w]
    targets = [
        lambda y, x: (0.0, 0.0),
        lambda y, x: (float(rng.integers(-2, 3)), float(rng.integers(-2, 3))),
        lambda y, x: (0.5, -0.5),
        lambda y, x: (w - 1 - x, rng.uniform(-1, 1)),  # exactly on the right edge
        lambda y, x: (-x, h - 1 - y),  # exactly on the left and bottom edges
        lambda y, x: (-x - 1.0, 0.3),  # one pixel left of the frame: only a zero weight reaches column 0
        lambda y, x: (w - x - 0.5, 0.0),  # half a pixel right of the frame
        lambda y, x: (-x - 0.25, -y - 0.75),  # just above-left of the frame
        lambda y, x: (1e6, 0.0),
        lambda y, x: (0.0, -3e7),
        lambda y, x: (math.nan, 0.0),
        lambda y, x: (0.0, math.inf),
        lambda y, x: (-math.inf, -math.inf),
        lambda y, x: (1.25 - x, 0.75 - y),  # collide on (1.25, 0.75)
        lambda y, x: (1.25 - x, 0.75 - y),
        lambda y, x: (1.25 - x, 0.75 - y),
    ]
    cells = rng.permutation(h * w)
    for i, cell in enumerate(cells[: n * len(targets)]):
        b, kind = divmod(i, len(targets))
        y, x = ys.flat[cell], xs.flat[cell]
        flow[b % n, 0, y, x], flow[b % n, 1, y, x] = targets[kind](y, x)
    return flow


def sample(seed: int, n=2, c=3, h=7, w=9, metric_range=3.0, dtype=torch.float64):
    """(input, flow, metric) tensors of ``dtype``, with :func:`special_flow`."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w))
    flow = special_flow(rng, n, h, w)
    z = rng.uniform(-metric_range, metric_range, (n, 1, h, w))
    return as_torch(x, flow, z, dtype=dtype)


def as_torch(*arrays, dtype=torch.float64):
    return [torch.tensor(a, dtype=dtype) for a in arrays]


def metric_for(mode: str, z: torch.Tensor) -> torch.Tensor | None:
    """The metric a mode takes: none, positive weights (`linear`: a sum of signed weights near 0 is
    ill-conditioned in any arithmetic) or ``z`` itself (`soft`)."""
    return {"sum": None, "avg": None, "linear": z.abs() + 0.1, "soft": z}[mode]


def reference_of(x, flow, metric=None, mode="soft", exp=math.exp):
    """:func:`reference` of tensors, in float64 from the values they hold."""
    arrays = [None if t is None else t.double().numpy() for t in (x, flow, metric)]
    return reference(*arrays, mode=mode, exp=exp)


# --- running the kernels of the CUDA path on the host ---


@pytest.fixture(scope="session")
def host_kernels(tmp_path_factory):
    """The kernel source compiled as C++ for float and double, loaded with ctypes."""
    compiler = shutil.which("g++") or shutil.which("c++")
    if compiler is None:
        pytest.skip("no C++ compiler to build the kernels on the host")
    folder = tmp_path_factory.mktemp("kernels")
    source = folder / "splat.cpp"
    source.write_text(cuda_module.KERNEL_SOURCE)
    libraries = {}
    for dtype, scalar in ((torch.float32, "float"), (torch.float64, "double")):
        library = folder / f"splat_{scalar}.so"
        subprocess.run(
            [compiler, "-O1", "-shared", "-fPIC", f"-Dscalar_t={scalar}", "-o", str(library), str(source)], check=True
        )
        libraries[dtype] = ctypes.CDLL(str(library))
    return libraries


BACKENDS = ("torch", "torch-per-target", "kernel", "deterministic", "compiled")


def use_backend(name: str, request, monkeypatch) -> list[str]:
    """Route softsplat through one path; returns the list the kernels or the compiled path append to. The
    ``deterministic`` path is the PyTorch path in a fixed order, taken even where the kernels could run, and never
    through ``index_add_`` (whose order on CUDA is that of atomics)."""
    launched = []
    if name == "deterministic":
        def refuse(*args):
            raise AssertionError("index_add_ or a kernel in a fixed-order splat")

        monkeypatch.setattr(cuda_module, "usable", lambda x: True)
        monkeypatch.setattr(cuda_module, "_launch", refuse)
        monkeypatch.setattr(torch.Tensor, "index_add_", refuse)
        context = splat_module.deterministic()
        context.__enter__()
        request.addfinalizer(lambda: context.__exit__(None, None, None))
    if name == "compiled":
        splat = cpu_module.splat
        monkeypatch.setattr(cpu_module, "splat", lambda *a: launched.append("compiled") or splat(*a))
    else:
        monkeypatch.setattr(cpu_module, "usable", lambda *tensors: False)
    if name == "torch-per-target":
        monkeypatch.setattr(splat_module, "_image_shift_limit", lambda dtype: -math.inf)
    if name == "kernel":
        libraries = request.getfixturevalue("host_kernels")

        def launch(name, total, *args):
            launched.append(name)
            dtype = next(a.dtype for a in args if isinstance(a, torch.Tensor))
            for a in args:
                assert not isinstance(a, torch.Tensor) or a.is_contiguous()
            raw = [
                ctypes.c_void_p(a.data_ptr()) if isinstance(a, torch.Tensor) else None if a is None else ctypes.c_longlong(a)
                for a in args
            ]
            getattr(libraries[dtype], name)(*raw)

        monkeypatch.setattr(cuda_module, "usable", lambda x: True)
        monkeypatch.setattr(cuda_module, "_launch", launch)
    return launched


@pytest.fixture(params=BACKENDS)
def backend(request, monkeypatch):
    """Run softsplat through the PyTorch path, the PyTorch path with the per-target shift of `soft` mode
    forced (it is otherwise taken only for large metrics), the kernels of the CUDA path (built for the host),
    or the compiled CPU path (Numba; it is taken without autograd, so tests of gradients use `grad_backend`)."""
    launched = use_backend(request.param, request, monkeypatch)
    yield request.param
    assert bool(launched) == (request.param in ("kernel", "compiled"))


@pytest.fixture(params=BACKENDS[:4])
def grad_backend(request, monkeypatch):
    """The paths that compute gradients: PyTorch, PyTorch with the per-target shift, the kernels, PyTorch in a fixed
    order."""
    launched = use_backend(request.param, request, monkeypatch)
    yield request.param
    assert bool(launched) == (request.param == "kernel")


# --- results ---


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("mode", MODES)
def test_matches_reference(backend, mode, dtype):
    x, flow, z = sample(seed=MODES.index(mode), dtype=dtype)
    metric = metric_for(mode, z)
    expected, coverage = reference_of(x, flow, metric, mode)
    out, holes = softsplat_with_holes(x, flow, metric, mode)
    assert out.dtype == dtype and out.shape == x.shape
    assert np.abs(out.double().numpy() - expected).max() <= TOLERANCE[dtype]
    assert torch.equal(holes, torch.tensor(coverage < splat_module.HOLE_EPS))
    assert torch.equal(softsplat(x, flow, metric, mode), out)


def test_reference_sees_the_special_cases():
    """The special flows do what they claim: collisions, dropped targets, skipped non-finite sources."""
    x, flow, _ = sample(seed=0)
    assert max(len(s) for s in landing(flow.numpy()).values()) >= 3
    _, coverage = reference_of(x, flow, mode="sum")
    assert (coverage == 0).any() and (coverage > 1).any()
    assert not torch.isfinite(flow).all()


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    shape=st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 6), st.integers(1, 6)),
    mode=st.sampled_from(MODES),
    scale=st.sampled_from([0.0, 0.5, 1.0, 4.0]),
    integer=st.booleans(),
)
def test_random_shapes_and_flows(seed, shape, mode, scale, integer):
    rng = np.random.default_rng(seed)
    n, c, h, w = shape
    flow = rng.normal(0, scale, (n, 2, h, w))
    if integer:
        flow = np.round(flow * 2) / 2  # whole and half pixels
    x, flow, z = as_torch(rng.standard_normal(shape), flow, rng.uniform(-4, 4, (n, 1, h, w)))
    metric = metric_for(mode, z)
    expected, coverage = reference_of(x, flow, metric, mode)
    out, holes = softsplat_with_holes(x, flow, metric, mode)
    assert np.abs(out.numpy() - expected).max() <= 1e-9
    assert torch.equal(holes, torch.tensor(coverage < splat_module.HOLE_EPS))


def test_sum_conserves_mass_when_everything_lands_inside():
    rng = np.random.default_rng(1)
    x = torch.tensor(rng.standard_normal((1, 2, 8, 8)))
    flow = torch.zeros(1, 2, 8, 8, dtype=torch.float64)
    flow[..., 2:-2, 2:-2] = torch.tensor(rng.uniform(-0.9, 0.9, (1, 2, 4, 4)))  # lands well inside
    out = softsplat(x, flow, mode="sum")
    assert torch.allclose(out.sum((2, 3)), x.sum((2, 3)), atol=1e-12)


# --- agreement with the published normalisation, numerical safety, invariance ---


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_published_formula_near_holes(backend, dtype):
    """Targets reached only by tiny bilinear weights, where the published +1e-7 matters, agree too."""
    h, w = 6, 8
    x = torch.tensor(np.random.default_rng(2).uniform(0.5, 1.5, (1, 3, h, w)), dtype=dtype)
    # Odd rows land a hair above-left of the next pixel centre: 2^-13 short, exact in float32 too. Their
    # own pixel and its neighbours get weights 2^-26 and 2^-13; even rows stay put.
    flow = torch.full((1, 2, h, w), 1 - 2.0**-13, dtype=dtype)
    flow[..., ::2, :] = 0.0
    for z in (torch.full((1, 1, h, w), -3.0), torch.tensor(np.random.default_rng(3).uniform(-8, 2, (1, 1, h, w)))):
        z = z.to(dtype)
        expected, coverage = reference_of(x, flow, z, "soft")
        tiny = (coverage > 0) & (coverage < 1e-3)
        assert tiny.any()
        out = softsplat(x, flow, z, mode="soft").double().numpy()
        assert np.abs(out - expected).max() <= TOLERANCE[dtype]
        # the 1e-7 matters there: results are far from both 0 and the plain weighted mean
        ratio = expected[:, :, tiny[0, 0]] / x.double().numpy()[:, :, tiny[0, 0]]
        assert ((ratio > 1e-3) & (ratio < 0.999)).any()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_soft_metric_up_to_50_neither_overflows_nor_underflows(backend, dtype):
    x, flow, z = sample(seed=4, metric_range=50.0, dtype=dtype)
    z[0, 0, 0, :4] = torch.tensor([50.0, -50.0, 50.0, -50.0])
    out = softsplat(x, flow, z, "soft")
    assert out.dtype == dtype and torch.isfinite(out).all()
    expected, _ = reference_of(x, flow, z, "soft")
    tolerance = 1e-4 if dtype == torch.float32 else 4e-3 * max(1.0, float(np.abs(expected).max()))
    assert np.abs(out.double().numpy() - expected).max() <= tolerance


def test_soft_any_metric_size_matches_exact_arithmetic(backend):
    """Metrics far past float32's exp range (the published formula gives inf/nan) still give the exact value."""
    x, flow, z = sample(seed=5, n=1, c=2, h=5, w=6, metric_range=900.0, dtype=torch.float32)
    published = softsplat(x * z.exp(), flow, mode="sum") / (softsplat(z.exp(), flow, mode="sum") + 1e-7)
    assert not torch.isfinite(published).all()
    out = softsplat(x, flow, z, "soft")
    with mpmath.workdps(30):
        expected, _ = reference_of(x, flow, z, "soft", mpmath.exp)
    assert torch.isfinite(out).all()
    assert np.abs(out.double().numpy() - expected).max() <= 1e-4


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shift=st.floats(0.0, 45.0))
def test_soft_is_invariant_to_adding_a_constant_to_the_metric(seed, shift):
    """Where the normaliser dwarfs the 1e-7 of the published formula, Z + c gives the same result as Z. A constant
    c ≥ 0 keeps it so wherever it was (every reached pixel's normaliser is at least 0.1 · e^-3 here); a negative one
    shrinks it by e^c, and the 1e-7 then shows (seed 9825003, c = -2: 1.06e-4)."""
    rng = np.random.default_rng(seed)
    x = torch.tensor(rng.standard_normal((1, 3, 6, 7)), dtype=torch.float32)
    flow = torch.tensor(rng.normal(0, 1.5, (1, 2, 6, 7)), dtype=torch.float32)
    z = torch.tensor(rng.uniform(-3, 3, (1, 1, 6, 7)), dtype=torch.float32)
    out, holes = softsplat_with_holes(x, flow, z, "soft", eps=0.1)
    moved = softsplat(x, flow, z + shift, "soft")
    solid = ~holes.expand_as(out)
    assert solid.any()
    assert (moved - out)[solid].abs().max() <= 1e-4


# --- holes ---


def test_holes_where_no_source_lands():
    x = torch.rand(1, 2, 4, 6)
    flow = torch.zeros(1, 2, 4, 6)
    flow[:, 0] = 2.0  # everything moves two pixels right: the two left columns are empty
    for mode, metric in (("sum", None), ("avg", None), ("linear", torch.rand(1, 1, 4, 6) + 0.5), ("soft", torch.randn(1, 1, 4, 6))):
        out, holes = softsplat_with_holes(x, flow, metric, mode)
        expected = torch.zeros(1, 1, 4, 6, dtype=torch.bool)
        expected[..., :2] = True
        assert torch.equal(holes, expected)
        assert torch.allclose(out[..., 2:], x[..., :-2], atol=1e-6)
        assert (out[..., :2] == 0).all()


def test_hole_threshold_is_eps():
    x = torch.ones(1, 1, 1, 3, dtype=torch.float64)
    flow = torch.zeros(1, 2, 1, 3, dtype=torch.float64)
    flow[0, 0, 0, 0] = 0.998  # pixel 0 keeps weight 0.002 of itself; pixel 1 is reached fully
    flow[0, 0, 0, 1] = 5.0  # pixel 1's own source leaves the frame
    flow[0, 0, 0, 2] = -0.5
    out, holes = softsplat_with_holes(x, flow, mode="avg", eps=1e-3)
    assert holes.flatten().tolist() == [False, False, False]
    _, holes = softsplat_with_holes(x, flow, mode="avg", eps=3e-3)
    assert holes.flatten().tolist() == [True, False, False]
    with pytest.raises(ValueError, match="eps"):
        softsplat_with_holes(x, flow, mode="avg", eps=0.0)


# --- gradients ---


@pytest.mark.parametrize("mode", MODES)
def test_gradcheck(grad_backend, mode):
    rng = np.random.default_rng(6)
    n, c, h, w = 2, 2, 4, 5
    x = torch.tensor(rng.standard_normal((n, c, h, w)), requires_grad=True)
    # Fractional parts kept away from 0 so finite differences never cross a pixel boundary; some land
    # partly or wholly outside the frame, some collide.
    whole = rng.integers(-2, 3, (n, 2, h, w))
    flow = torch.tensor(whole + rng.uniform(0.15, 0.85, (n, 2, h, w)), requires_grad=True)
    metric = torch.tensor(rng.uniform(-2, 2, (n, 1, h, w)), requires_grad=mode in ("linear", "soft"))
    if mode in ("linear", "soft"):
        inputs = (x, flow, metric)
        assert torch.autograd.gradcheck(lambda a, f, m: softsplat(a, f, m, mode), inputs)
    else:
        assert torch.autograd.gradcheck(lambda a, f: softsplat(a, f, None, mode), (x, flow))


def test_gradient_of_sources_that_do_not_land_is_zero(grad_backend):
    x = torch.rand(1, 2, 3, 4, dtype=torch.float64, requires_grad=True)
    flow = torch.zeros(1, 2, 3, 4, dtype=torch.float64)
    flow[0, 0, 1, 1] = math.nan
    flow[0, 1, 2, 2] = 100.0
    flow.requires_grad_()
    metric = torch.rand(1, 1, 3, 4, dtype=torch.float64, requires_grad=True)
    softsplat(x, flow, metric, "soft").square().sum().backward()
    for grad in (x.grad, flow.grad, metric.grad):
        assert torch.isfinite(grad).all()
    assert (x.grad[0, :, 1, 1] == 0).all() and (x.grad[0, :, 2, 2] == 0).all()
    assert metric.grad[0, 0, 1, 1] == 0 and metric.grad[0, 0, 2, 2] == 0
    assert (x.grad[0, :, 0, 0] != 0).all()


# --- precision and dispatch ---


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_16_bit_inputs_are_computed_in_float32(dtype):
    x, flow, z = sample(seed=7, dtype=dtype)
    for mode in MODES:
        metric = z if mode in ("linear", "soft") else None
        out = softsplat(x, flow, metric, mode)
        assert out.dtype == dtype
        wide = softsplat(x.float(), flow.float(), None if metric is None else metric.float(), mode)
        assert torch.equal(out, wide.to(dtype))


def test_16_bit_collisions_accumulate_in_float32():
    """4096 ones landing on one pixel sum to 4096; a float16 accumulator would stall at 2048."""
    x = torch.ones(1, 1, 64, 64, dtype=torch.float16)
    ys, xs = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    flow = torch.stack((-xs, -ys)).unsqueeze(0).half()
    out = softsplat(x, flow, mode="sum")
    assert out.dtype == torch.float16 and out[0, 0, 0, 0].item() == 4096.0


def test_a_fixed_order_gives_the_default_result_the_same_bits_every_time(monkeypatch):
    """The PyTorch path in a fixed order (deterministic(), or torch's deterministic algorithms) against its
    default order: the same picture within float32 rounding, the same holes, and the same bits on every run."""
    monkeypatch.setattr(cpu_module, "usable", lambda *tensors: False)
    x, flow, z = sample(seed=9, dtype=torch.float32)
    flow = flow.round()  # whole-pixel flows: many sources on one target, the sums where the order matters
    expected, expected_holes = softsplat_with_holes(x, flow, z, "soft")
    assert not splat_module.deterministic_enabled()
    with splat_module.deterministic():
        assert splat_module.deterministic_enabled()
        with splat_module.deterministic(False):
            assert not splat_module.deterministic_enabled()
        runs = [softsplat_with_holes(x, flow, z, "soft") for _ in range(3)]
    assert not splat_module.deterministic_enabled()
    for out, holes in runs:
        torch.testing.assert_close(out, expected, rtol=1e-6, atol=1e-6)
        assert torch.equal(holes, expected_holes) and torch.equal(out, runs[0][0])
    torch.use_deterministic_algorithms(True)
    try:
        assert splat_module.deterministic_enabled()
        assert torch.equal(softsplat(x, flow, z, "soft"), runs[0][0])
    finally:
        torch.use_deterministic_algorithms(False)


def test_kernels_are_not_chosen_for_cpu_tensors(monkeypatch):
    monkeypatch.setattr(cuda_module, "_cupy", lambda: types.SimpleNamespace())  # pretend CuPy imported

    def fail(*args):
        raise AssertionError("kernel launched for a CPU tensor")

    monkeypatch.setattr(cuda_module, "_launch", fail)
    x, flow, z = sample(seed=8, dtype=torch.float32)
    assert not cuda_module.usable(x)
    softsplat(x, flow, z, "soft")
    fake_cuda = types.SimpleNamespace(is_cuda=True, dtype=torch.float32)
    assert cuda_module.usable(fake_cuda)
    assert not cuda_module.usable(types.SimpleNamespace(is_cuda=True, dtype=torch.float16))
    monkeypatch.setattr(cuda_module, "_cupy", lambda: None)
    assert not cuda_module.usable(fake_cuda)


CUDA_TENSOR = types.SimpleNamespace(is_cuda=True, dtype=torch.float32)
"""What ``usable`` reads of a float32 CUDA tensor: the question the first splat on a GPU asks."""


@pytest.fixture
def cupy_asked_afresh(monkeypatch):
    """``_cupy`` asks again (its answer is cached for the process), with torch built for CUDA 13.0."""
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    cuda_module._cupy.cache_clear()
    yield
    cuda_module._cupy.cache_clear()


def fake_cupy(monkeypatch, available: bool = True, runtime: int = 13000) -> types.ModuleType:
    """A CuPy module that imports, sees a GPU or not, and runs CUDA runtime ``runtime`` (1000 × major + 10 × minor)."""
    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(is_available=lambda: available,
                                      runtime=types.SimpleNamespace(runtimeGetVersion=lambda: runtime))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    return fake


def slow_path_warnings(ask) -> list[str]:
    """The messages of the warnings that ``ask()`` gives, each one shown."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ask()
    return [str(w.message) for w in caught]


@pytest.mark.parametrize("available", [False, True])
def test_cupy_is_used_only_if_it_sees_a_gpu(monkeypatch, cupy_asked_afresh, available):
    fake = fake_cupy(monkeypatch, available)
    found = slow_path_warnings(lambda: cuda_module._cupy())
    assert (cuda_module._cupy() is fake) == available
    assert cuda_module.usable(CUDA_TENSOR) == available
    assert len(found) == (0 if available else 1) and all("CuPy sees no GPU" in message for message in found)


def test_missing_cupy_warns_once_on_the_first_cuda_splat_naming_the_cuda_extra(monkeypatch, cupy_asked_afresh):
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy raises ImportError
    x, flow, z = sample(seed=3, dtype=torch.float32)
    assert slow_path_warnings(lambda: softsplat(x, flow, z, "soft")) == []  # the CPU never asks for CuPy
    found = slow_path_warnings(lambda: cuda_module.usable(CUDA_TENSOR))
    assert len(found) == 1
    assert "slow PyTorch path: CuPy is not installed" in found[0] and "pip install 'vsanimsplat[cuda]'" in found[0]
    assert not cuda_module.usable(CUDA_TENSOR)
    assert slow_path_warnings(lambda: cuda_module.usable(CUDA_TENSOR)) == []  # once a process


def test_cupy_of_another_cuda_is_not_used_and_the_warning_says_what_to_replace(monkeypatch, cupy_asked_afresh):
    fake_cupy(monkeypatch, runtime=12040)
    found = slow_path_warnings(lambda: cuda_module.usable(CUDA_TENSOR))
    assert len(found) == 1 and not cuda_module.usable(CUDA_TENSOR)
    assert "CuPy is built for CUDA 12.4, torch for CUDA 13.0" in found[0]
    assert "pip uninstall cupy-cuda12x, then pip install 'vsanimsplat[cuda]'" in found[0]


def test_cupy_of_torchs_cuda_is_used_without_a_warning(monkeypatch, cupy_asked_afresh):
    fake = fake_cupy(monkeypatch, runtime=13020)
    assert slow_path_warnings(lambda: cuda_module.usable(CUDA_TENSOR)) == []
    assert cuda_module._cupy() is fake


def test_for_a_torch_of_another_cuda_the_warning_names_its_cupy_wheel(monkeypatch, cupy_asked_afresh):
    monkeypatch.setattr(torch.version, "cuda", "12.6")
    monkeypatch.setitem(sys.modules, "cupy", None)
    found = slow_path_warnings(lambda: cuda_module.usable(CUDA_TENSOR))
    assert len(found) == 1 and "pip install cupy-cuda12x (the 'vsanimsplat[cuda]' extra installs cupy-cuda13x" in found[0]


def test_the_cuda_extra_installs_the_cupy_the_warning_names():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(requirement.startswith(f"cupy-cuda{cuda_module._EXTRA_CUDA}x") for requirement in extras["cuda"])


@pytest.mark.slow
def test_import_and_cpu_use_without_cupy():
    code = (
        "import sys; sys.modules['cupy'] = None\n"
        "import torch\n"
        "from vsanimsplat.ops import softsplat\n"
        "x = torch.rand(1, 3, 4, 5)\n"
        "out = softsplat(x, torch.zeros(1, 2, 4, 5), torch.zeros(1, 1, 4, 5))\n"
        "assert torch.allclose(out, x, atol=1e-6)\n"
    )
    subprocess.run([sys.executable, "-W", "error", "-c", code], check=True, timeout=120)  # and no warning


_COMPILE = """
import sys
from cuda.bindings import nvrtc
from vsanimsplat.ops._softsplat_cuda import KERNEL_SOURCE
err, program = nvrtc.nvrtcCreateProgram(KERNEL_SOURCE.encode(), b"splat.cu", 0, [], [])
assert err == nvrtc.nvrtcResult.NVRTC_SUCCESS, err
options = [f"-Dscalar_t={sys.argv[1]}".encode(), b"--gpu-architecture=compute_75"]
(result,) = nvrtc.nvrtcCompileProgram(program, len(options), options)
_, size = nvrtc.nvrtcGetProgramLogSize(program)
log = b" " * size
nvrtc.nvrtcGetProgramLog(program, log)
assert result == nvrtc.nvrtcResult.NVRTC_SUCCESS, log.decode(errors="replace")
_, size = nvrtc.nvrtcGetPTXSize(program)
ptx = b" " * size
nvrtc.nvrtcGetPTX(program, ptx)
sys.stdout.write(ptx.decode(errors="replace"))
"""


@pytest.mark.slow
@pytest.mark.parametrize("scalar", ["float", "double"])
def test_kernel_source_compiles_for_the_gpu(scalar):
    """NVRTC compiles the kernels to PTX (in a child process: importing cuda.bindings breaks torch.load's
    weights-only unpickler for the rest of the process)."""
    pytest.importorskip("cuda.bindings.nvrtc", reason="NVRTC (cuda-bindings) not installed")
    ptx = subprocess.run([sys.executable, "-c", _COMPILE, scalar], capture_output=True, text=True, timeout=120)
    assert ptx.returncode == 0, ptx.stderr
    for name in ("splat_max", "splat_forward", "splat_backward"):
        assert f"entry {name}(" in ptx.stdout


# --- argument checking ---


def test_invalid_arguments_raise_value_errors_naming_the_parameter():
    x, flow, z = torch.rand(1, 3, 4, 5), torch.zeros(1, 2, 4, 5), torch.zeros(1, 1, 4, 5)
    cases = [
        (dict(input=x, flow=flow, metric=z, mode="softmax"), "mode must be one of 'sum', 'avg', 'linear', 'soft'"),
        (dict(input=x, flow=flow, metric=None, mode="soft"), "needs a metric"),
        (dict(input=x, flow=flow, metric=z, mode="avg"), "metric is only used"),
        (dict(input=x, flow=torch.zeros(1, 3, 4, 5), metric=z, mode="soft"), "flow must have 2 channel"),
        (dict(input=x, flow=torch.zeros(1, 2, 4, 6), metric=z, mode="soft"), "flow must have the batch size"),
        (dict(input=x, flow=flow, metric=torch.zeros(2, 1, 4, 5), mode="soft"), "metric must have the batch size"),
        (dict(input=x, flow=flow, metric=torch.zeros(1, 2, 4, 5), mode="soft"), "metric must have 1 channel"),
        (dict(input=x[0], flow=flow, metric=z, mode="soft"), r"input must have shape \(N, C, H, W\)"),
        (dict(input=x.long(), flow=flow, metric=z, mode="soft"), "input must be a floating-point"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            softsplat(**kwargs)


def test_per_image_shift_only_where_it_is_exact(monkeypatch):
    """The PyTorch path shifts by the image's largest metric up to ~52 in float32, per target beyond."""
    calls = []
    per_target = splat_module._shift_per_target
    monkeypatch.setattr(splat_module, "_shift_per_target", lambda *a: calls.append(1) or per_target(*a))
    assert 52 < splat_module._image_shift_limit(torch.float32) < 53
    x, flow, z = sample(seed=9, metric_range=50.0, dtype=torch.float32)
    softsplat(x, flow, z, "soft")
    assert not calls
    softsplat(x, flow, z + 10, "soft")
    assert calls


# --- the compiled CPU path: threads, shared accumulators, fallbacks ---


@pytest.fixture
def four_threads():
    """torch (and so the compiled path) on four threads, whatever the machine has."""
    before = torch.get_num_threads()
    torch.set_num_threads(4)
    yield
    torch.set_num_threads(before)


def torch_path(monkeypatch, *args, **kwargs):
    """softsplat_with_holes through the PyTorch path."""
    with monkeypatch.context() as m:
        m.setattr(cpu_module, "usable", lambda *tensors: False)
        return softsplat_with_holes(*args, **kwargs)


@pytest.mark.parametrize("motion", ["local", "far"])
def test_compiled_bands_agree_with_torch_in_parallel_and_in_turn(monkeypatch, four_threads, motion):
    """Eight bands of rows: with small motion, bands of one phase reach disjoint rows and run at once; when every
    source lands in the top rows, they all reach the same rows and must run one after the other."""
    rng = np.random.default_rng(10)
    n, c, h, w = 2, 3, 24, 20
    x = torch.tensor(rng.standard_normal((n, c, h, w)), dtype=torch.float32)
    flow = torch.tensor(rng.uniform(-1.5, 1.5, (n, 2, h, w)), dtype=torch.float32)
    if motion == "far":
        flow[:, 1] -= torch.arange(h, dtype=torch.float32).view(h, 1) - 1.5  # every row lands on rows 0..3
    z = torch.tensor(rng.uniform(-3, 3, (n, 1, h, w)), dtype=torch.float32)
    decisions = []
    conflicting = cpu_module._conflicting
    monkeypatch.setattr(cpu_module, "_conflicting", lambda reach: decisions.append(conflicting(reach)) or decisions[-1])
    out, holes = softsplat_with_holes(x, flow, z)
    assert decisions == ([False, False] if motion == "local" else [True, True])
    expected, expected_holes = torch_path(monkeypatch, x, flow, z)
    assert (out - expected).abs().max() <= 1e-5
    assert torch.equal(holes, expected_holes)


def test_conflicting_reach():
    assert not cpu_module._conflicting([(0, 5), (6, 9), (0, -1)])  # the empty reach (0, -1) never conflicts
    assert cpu_module._conflicting([(6, 9), (0, 6)])
    assert cpu_module._conflicting([(0, 100), (40, 41)])


def test_compiled_accumulators_are_clean_when_reused(monkeypatch):
    """The accumulator kept from a call is zero again for the next call of the same size."""
    x, z = torch.rand(1, 3, 9, 11), torch.randn(1, 1, 9, 11)
    still = torch.zeros(1, 2, 9, 11)
    for mode, metric in (("sum", None), ("soft", z)):
        softsplat(x, torch.randn(1, 2, 9, 11) * 2, metric, mode)
        out, holes = softsplat_with_holes(x, still, metric, mode)
        expected, _ = torch_path(monkeypatch, x, still, metric, mode)
        torch.testing.assert_close(out, expected, rtol=1e-6, atol=1e-7)  # exp: NumPy's and torch's, an ulp apart
        assert not holes.any()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_compiled_takes_any_memory_layout(monkeypatch, four_threads, dtype):
    rng = np.random.default_rng(11)
    x = torch.tensor(rng.standard_normal((2, 5, 13, 17)), dtype=dtype).contiguous(memory_format=torch.channels_last)
    flow = torch.tensor(rng.normal(0, 3, (2, 17, 13, 2)), dtype=dtype).permute(0, 3, 2, 1)  # strided
    z = torch.tensor(rng.uniform(-5, 5, (2, 1, 13, 17)), dtype=dtype)
    for mode, metric in (("avg", None), ("linear", z.abs() + 0.1), ("soft", z)):
        out, holes = softsplat_with_holes(x, flow, metric, mode)
        expected, expected_holes = torch_path(monkeypatch, x, flow, metric, mode)
        assert out.is_contiguous() and out.dtype == dtype
        assert (out - expected).abs().max() <= TOLERANCE[dtype]
        assert torch.equal(holes, expected_holes)


@pytest.mark.parametrize("mode", MODES)
def test_compiled_splats_wide_inputs_in_channel_groups(monkeypatch, mode):
    """Inputs wider than one group go through in groups of channels (here 12 + 12 + 5 of 29, two images): each
    channel's result is the reference's, and bit for bit what one group of all channels gives."""
    rng = np.random.default_rng(13)
    x = torch.tensor(rng.standard_normal((2, 29, 11, 14)))
    flow = torch.tensor(rng.normal(0, 2.5, (2, 2, 11, 14)))
    metric = metric_for(mode, torch.tensor(rng.uniform(-4, 4, (2, 1, 11, 14))))
    groups = []
    kernels = cpu_module._kernels
    monkeypatch.setattr(cpu_module, "_kernels", lambda planes: groups.append(planes) or kernels(planes))
    monkeypatch.setattr(cpu_module, "_GROUP", 12)
    out, holes = softsplat_with_holes(x, flow, metric, mode)
    extra = 1 if mode != "avg" else 0  # the normaliser, or the coverage; `avg`'s normaliser is its coverage
    assert groups == [12 + (mode != "sum") + extra] * 2 + [5 + (mode != "sum") + extra]
    expected, coverage = reference_of(x, flow, metric, mode)
    assert np.abs(out.numpy() - expected).max() <= TOLERANCE[torch.float64]
    assert torch.equal(holes, torch.tensor(coverage < splat_module.HOLE_EPS))
    monkeypatch.setattr(cpu_module, "_GROUP", 29)
    whole, whole_holes = softsplat_with_holes(x, flow, metric, mode)
    assert torch.equal(out, whole) and torch.equal(holes, whole_holes)


def test_compiled_path_only_without_autograd(monkeypatch):
    calls = []
    splat = cpu_module.splat
    monkeypatch.setattr(cpu_module, "splat", lambda *a: calls.append(1) or splat(*a))
    x, flow, z = sample(seed=12, dtype=torch.float32)
    softsplat(x, flow, z)
    assert calls == [1]
    x.requires_grad_()
    softsplat(x, flow, z).sum().backward()
    assert calls == [1] and x.grad is not None
    with torch.no_grad():
        softsplat(x, flow, z)
    assert calls == [1, 1]
    softsplat(x, flow, z + 60)  # past the per-image shift: the PyTorch path's per-target shift
    assert calls == [1, 1]


@pytest.mark.slow
def test_import_and_cpu_use_without_numba():
    code = (
        "import sys; sys.modules['numba'] = None\n"
        "import importlib, torch\n"
        "from vsanimsplat.ops import softsplat\n"
        "k = importlib.import_module('vsanimsplat.ops._softsplat_cpu')\n"
        "x = torch.rand(1, 3, 4, 5)\n"
        "assert not k.usable(x)\n"
        "out = softsplat(x, torch.zeros(1, 2, 4, 5), torch.zeros(1, 1, 4, 5))\n"
        "assert torch.allclose(out, x, atol=1e-6)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
