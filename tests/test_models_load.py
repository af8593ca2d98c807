"""load_model: argument checks and the error for missing weights (no real weights needed); the precision policy."""

import os
from pathlib import Path

import pytest
import torch

from vsanimsplat.models import MODEL_NAMES, SPECS, Capability, WeightsError, load_model, native_bf16, registry
from vsanimsplat.models.registry import build


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VSANIMSPLAT_MODEL_DIR", str(tmp_path))


def test_names():
    assert MODEL_NAMES == ("union", "base", "rife", "rife4", "splat", "blend", "softsplat", "softsplat-l1")


def test_unknown_model_is_refused_with_the_allowed_names():
    with pytest.raises(ValueError, match=r"model must be one of 'union', 'base', 'rife', 'rife4', 'splat', 'blend', "
                                         r"'softsplat', 'softsplat-l1', got 'gmfss'"):
        load_model("gmfss")


@pytest.mark.parametrize("device", ["tpu", "meta", "not a device", 3.5])
def test_unknown_device_is_refused(device):
    with pytest.raises(ValueError, match="device must be 'cpu', 'cuda' or 'cuda:N'"):
        load_model("union", device=device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_a_clear_error():
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        load_model("union", device="cuda")


def test_fp16_on_cpu_is_refused():
    with pytest.raises(ValueError, match="fp16=True needs a CUDA device"):
        load_model("base", device="cpu", fp16=True)


@pytest.mark.parametrize("name", [n for n in MODEL_NAMES if n != "blend"])  # blend needs no weights
def test_missing_weights_name_the_fetch_command(empty_cache, name):
    with pytest.raises(WeightsError, match=f"python -m vsanimsplat models fetch {name}"):
        load_model(name)


def test_blend_needs_no_weights(empty_cache):
    model = load_model("blend")
    a, b = model.prepare(torch.zeros(1, 3, 4, 6)), model.prepare(torch.ones(1, 3, 4, 6))
    assert torch.allclose(model.synthesize(model.pair(a, b), 0.25).image, torch.full((1, 3, 4, 6), 0.25))


@pytest.mark.parametrize("name", ["union", "base", "splat"])
@pytest.mark.parametrize("flow", ["pwcnet", "gmflow"])
def test_missing_flow_weights_name_the_flow(empty_cache, name, flow):
    with pytest.raises(WeightsError, match=f"python -m vsanimsplat models fetch ({flow}|{name})"):
        load_model(name, flow=flow)


@pytest.mark.parametrize(("name", "flow", "match"), [
    ("union", "raft", "flow must be None .* or one of 'gmflow', 'pwcnet', got 'raft'"),
    ("rife", "pwcnet", "flow applies to the models 'union', 'base', 'splat', not to 'rife'"),
    ("softsplat", "gmflow", "flow applies to the models"),
])
def test_bad_flows_are_refused(name, flow, match):
    with pytest.raises(ValueError, match=match):
        load_model(name, flow=flow)


def test_fp16_with_bf16_is_refused():
    with pytest.raises(ValueError, match="fp16 and bf16 exclude each other"):
        load_model("union", device="cpu", bf16=True, fp16=True)


@pytest.mark.parametrize(
    "name,flow_scale,match",
    [
        ("union", 0.3, r"flow_scale must be one of \(1.0, 0.5, 0.25\), got 0.3"),
        ("base", 2.0, r"flow_scale must be one of"),
        ("rife", 0.5, r"flow_scale applies to the models 'union', 'base', not 'rife'"),
        ("blend", 0.25, r"flow_scale applies to the models"),
    ],
)
def test_bad_flow_scales_are_refused_before_loading_weights(empty_cache, name, flow_scale, match):
    with pytest.raises(ValueError, match=match):
        load_model(name, flow_scale=flow_scale)


def test_native_bf16_follows_the_cpu_flags():
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        pytest.skip("no /proc/cpuinfo to compare with")
    flags = set(cpuinfo.read_text().split())
    assert native_bf16() == bool({"avx512_bf16", "amx_bf16"} & flags)


def test_bf16_blend_on_cpu_keeps_its_dtype_and_returns_float32(empty_cache):
    model = load_model("blend", bf16=True)
    assert model.dtype == torch.bfloat16
    a = model.prepare(torch.zeros(1, 3, 4, 6, dtype=torch.float64))
    assert a.image.dtype == torch.bfloat16
    out = model.synthesize(model.pair(a, model.prepare(torch.ones(1, 3, 4, 6))), 0.25).image
    assert out.dtype == torch.float32 and torch.equal(out, torch.full((1, 3, 4, 6), 0.25))


def test_registry_roles_are_each_models_networks():
    for name, spec in SPECS.items():
        with torch.device("meta"):
            model = build(name, None, torch.device("meta"), torch.float32, None)
        assert isinstance(model, spec.model_class) and set(model.networks()) == set(spec.roles)


# one model of each class: the others differ only in weights
@pytest.mark.slow
@pytest.mark.parametrize("name", list({SPECS[n].model_class: n for n in reversed(MODEL_NAMES)}.values()))
def test_registry_capabilities_match_what_the_model_does(name):
    """Each spec's capabilities are what its model (random weights) really does on a small pair."""
    spec = SPECS[name]
    model = build(name, None, torch.device("cpu"), torch.float32, None)
    assert isinstance(model, spec.model_class) and model.has_flows == spec.has_flows
    assert set(model.networks()) == set(spec.roles)
    rng = torch.Generator().manual_seed(0)
    a, b = (model.prepare(torch.rand(1, 3, 64, 96, generator=rng)) for _ in range(2))
    pair = model.pair(a, b)
    out = model.synthesize(pair, 0.5)
    assert out.image.shape == (1, 3, 64, 96)
    assert (out.holes is not None) == spec.leaves_holes
    if spec.has_flows:
        forward, backward = model.flows(pair)
        assert forward.shape == backward.shape == (1, 2, 64, 96)
    else:
        with pytest.raises(NotImplementedError):
            model.flows(pair)


def test_automatic_precision_follows_the_registry(monkeypatch):
    monkeypatch.setattr(registry, "native_bf16", lambda: True)
    cpu = registry.capability(torch.device("cpu"))
    assert cpu == Capability("cpu", bf16=True, name="this CPU")
    assert [n for n in MODEL_NAMES if SPECS[n].dtype(cpu) == torch.bfloat16] == ["union", "base", "rife"]
    assert SPECS["union"].dtype(cpu, bf16=False) == torch.float32
    assert SPECS["union"].dtype(cpu, fp16=None, bf16=None) == torch.bfloat16  # no float16 on a CPU
    assert SPECS["rife"].dtype(cpu, bf16=True) == torch.bfloat16
    monkeypatch.setattr(registry, "native_bf16", lambda: False)
    assert all(SPECS[n].dtype(registry.capability(torch.device("cpu"))) == torch.float32 for n in MODEL_NAMES)
    with pytest.raises(ValueError, match="fp16=True needs a CUDA device"):
        SPECS["union"].dtype(cpu, fp16=True)


AMPERE = Capability("cuda", bf16=True, name="NVIDIA A100")
TURING = Capability("cuda", bf16=False, name="Tesla T4")


@pytest.mark.parametrize("gpu", [AMPERE, TURING])
def test_cuda_policy_half_for_the_models_that_take_it_float32_when_told(gpu):
    """On any GPU: automatic precision is float16 for union, base and rife (the default preset's models) and rife4
    (RIFE 4.25, which vs-rife runs in float16 too) and float32 for the others; fp16=False or bf16=True (where the GPU
    has it) overrule it."""
    assert [n for n in MODEL_NAMES if SPECS[n].dtype(gpu) == torch.float16] == ["union", "base", "rife", "rife4"]
    assert all(SPECS[n].dtype(gpu) == torch.float32 for n in MODEL_NAMES if not SPECS[n].cuda_half)
    assert SPECS["union"].dtype(gpu, fp16=False) == torch.float32
    assert SPECS["union"].dtype(gpu, fp16=False, bf16=None) == torch.float32  # no automatic bfloat16 on a GPU
    assert SPECS["union"].dtype(gpu, fp16=None, bf16=False) == torch.float16
    assert SPECS["splat"].dtype(gpu, fp16=True) == torch.float16
    if gpu.bf16:
        assert SPECS["union"].dtype(gpu, bf16=True) == SPECS["rife"].dtype(gpu, fp16=None, bf16=True) == torch.bfloat16
    else:
        with pytest.raises(ValueError, match=r"bf16=True needs a GPU that computes bfloat16 \(compute capability 8.0, "
                                             r"Ampere, or newer\); Tesla T4 does not: use fp16=True"):
            SPECS["union"].dtype(gpu, bf16=True)
    with pytest.raises(ValueError, match="fp16 and bf16 exclude each other"):
        SPECS["union"].dtype(gpu, fp16=True, bf16=True)


def test_the_cuda_settings_are_set_without_a_gpu(monkeypatch):
    """TF32 always; cuDNN's deterministic algorithms, no benchmarking and cuBLAS's workspace only when asked for, the
    environment's own workspace setting kept."""
    flags = [(torch.backends.cuda.matmul, "allow_tf32"), (torch.backends.cudnn, "allow_tf32"),
             (torch.backends.cudnn, "deterministic"), (torch.backends.cudnn, "benchmark")]
    before = [getattr(module, name) for module, name in flags]
    for module, name in flags:
        setattr(module, name, name == "benchmark")
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    try:
        _check_cuda_settings(monkeypatch)
    finally:
        for (module, name), value in zip(flags, before):
            setattr(module, name, value)


def _check_cuda_settings(monkeypatch) -> None:
    registry.use_cuda_policy()
    assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    assert not torch.backends.cudnn.deterministic and torch.backends.cudnn.benchmark
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    registry.use_cuda_policy(deterministic=True)
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
    registry.use_cuda_policy(deterministic=True)
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"


def test_a_capability_names_its_kind():
    with pytest.raises(ValueError, match="kind must be 'cpu' or 'cuda', got 'tpu'"):
        Capability("tpu", bf16=True)
