"""Interpolation models composed from the networks, behind one interface, and how to load them.

Which models exist, their weights, capabilities and precision policy: :mod:`~vsanimsplat.models.registry`.
All share the interface of :class:`~vsanimsplat.models.base.Model`:
``prepare(image) -> FrameState``, ``pair(a, b) -> PairState``,
``synthesize(pair, t) -> Synthesis``, ``flows(pair)``.
"""

from __future__ import annotations

import torch

from .base import ChangedPair, FrameState, Model, PairState, Region, Synthesis
from .blend import Blend
from .changes import DEFAULT_STATIC_TOLERANCE, ChangePolicy
from .gmfss import GMFSS
from .ensemble import Ensemble, Run
from .registry import (DEFAULT_MODEL, DEFAULT_PRESET, FLOW_MODELS, FLOW_NAMES, FLOWS, MODEL_NAMES, PRESET_NAMES,
                       PRESETS, SPECS, Capability, ModelSpec, Preset, build, capability, check_weights, native_bf16,
                       parameter_count, preset, spec, use_cuda_policy)
from .rife import RIFE
from .softsplat import SoftSplat
from .splat import SplatOnly
from .weights import WeightsError, load_weights

__all__ = [
    "Blend",
    "Capability",
    "ChangePolicy",
    "ChangedPair",
    "DEFAULT_MODEL",
    "DEFAULT_PRESET",
    "Ensemble",
    "DEFAULT_STATIC_TOLERANCE",
    "FLOW_MODELS",
    "FLOW_NAMES",
    "MODEL_NAMES",
    "PRESETS",
    "PRESET_NAMES",
    "Preset",
    "SPECS",
    "FrameState",
    "GMFSS",
    "Model",
    "ModelSpec",
    "PairState",
    "Region",
    "RIFE",
    "Run",
    "SoftSplat",
    "SplatOnly",
    "Synthesis",
    "WeightsError",
    "capability",
    "check_weights",
    "load_model",
    "load_preset",
    "native_bf16",
    "parameter_count",
    "resolve_device",
]


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``device`` checked (``"cpu"``, ``"cuda"``, ``"cuda:N"``); None = CUDA when available, else the CPU.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `device` | str, torch.device or None | — | where a model should run |

    Raises ValueError for anything else or a CUDA index that does not exist, RuntimeError when
    CUDA is asked for but unavailable.
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        parsed = None
    if parsed is None or parsed.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"device={str(device)!r} was requested but CUDA is not available "
                f"(this torch {'has no CUDA support' if torch.version.cuda is None else 'finds no GPU'}); use device='cpu'"
            )
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise ValueError(f"device {str(device)!r} does not exist: {torch.cuda.device_count()} CUDA device(s)")
    return parsed


def _check_flow(name: str, flow: str | None) -> None:
    if flow is None:
        return
    if flow not in FLOWS:
        raise ValueError(f"flow must be None (the model's own) or one of {', '.join(map(repr, FLOW_NAMES))}, got {flow!r}")
    if name not in FLOW_MODELS:
        raise ValueError(f"flow applies to the models {', '.join(map(repr, FLOW_MODELS))}, not to {name!r}; use flow=None")


def load_model(
    name: str = DEFAULT_MODEL,
    device: str | torch.device | None = "cpu",
    fp16: bool | None = False,
    flow: str | None = None,
    bf16: bool | None = False,
    flow_scale: float = 1.0,
    static_tolerance: int | None = DEFAULT_STATIC_TOLERANCE,
    regions: bool = True,
) -> Model:
    """A model with its published weights, from the cache (see :mod:`vsanimsplat.models.weights`).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `name` | str | "union" | one of :data:`MODEL_NAMES` (:mod:`~vsanimsplat.models.registry`) |
    | `device` | str, torch.device or None | "cpu" | ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; None = CUDA when available, else the CPU |
    | `fp16` | bool or None | False | run the networks in float16 (CUDA only; the parts that need float32 keep it: see :mod:`~vsanimsplat.models.registry`); None = the registry's automatic choice (:meth:`ModelSpec.dtype`: float16 on CUDA for the models with ``cuda_half``), as ``interpolate`` and ``run`` use |
    | `flow` | str or None | None | the flow network of the models in :data:`FLOW_MODELS`: ``"gmflow"`` or ``"pwcnet"``; None = the model's own (GMFlow) |
    | `bf16` | bool or None | False | run the networks in bfloat16 (2–3× faster on CPUs with :func:`native_bf16`, PSNR ≥ 50 dB against float32, ``benchmarks/bench.md``; on CUDA only on a GPU that computes it, Ampere or newer); None = the registry's automatic choice (:meth:`ModelSpec.dtype`), as ``interpolate`` and ``run`` use |
    | `flow_scale` | float | 1.0 | one of the model's ``flow_scales`` (``union``/``base``: 1.0, 0.5, 0.25 = resolution of the flow relative to the half-size picture; faster, coarser flow) |
    | `static_tolerance` | int or None | 20 | pixels whose channels differ by at most this many 8-bit code values between the two frames are taken from the inputs (their cross-fade), not re-drawn by the networks; None = every pixel from the networks, as published (see :mod:`~vsanimsplat.models.changes`) |
    | `regions` | bool | True | with ``static_tolerance``: run the networks only on the regions that change (with context), not the whole frame |

    On CUDA it sets the registry's process-wide CUDA settings (TF32: :func:`~vsanimsplat.models.registry.use_cuda_policy`).

    Raises ValueError for an unknown ``model``, ``device`` or ``flow`` (or a ``flow`` for a model
    without a choice of flow), for ``fp16`` on the CPU, for ``fp16`` with ``bf16``, for ``bf16`` on a GPU
    without bfloat16 and for a ``flow_scale`` the model does not take, RuntimeError if CUDA is requested but unavailable, and
    :class:`~vsanimsplat.models.weights.WeightsError` (naming the command that installs them) if
    the weights are missing or corrupt.
    """
    chosen = spec(name)
    _check_flow(name, flow)
    if flow_scale not in chosen.flow_scales:
        allowed = [n for n, s in SPECS.items() if len(s.flow_scales) > 1]
        if any(flow_scale in SPECS[n].flow_scales for n in allowed):
            raise ValueError(f"flow_scale applies to the models {', '.join(map(repr, allowed))}, not {name!r}; "
                             "leave it at 1.0")
        scales = max((s.flow_scales for s in SPECS.values()), key=len)
        raise ValueError(f"flow_scale must be one of {scales}, got {flow_scale!r}")
    parsed = resolve_device(device)
    dtype = chosen.dtype(capability(parsed), fp16, bf16)
    if parsed.type == "cuda":
        use_cuda_policy()
    changes = None if static_tolerance is None else ChangePolicy(static_tolerance, bool(regions))
    model = build(name, flow, parsed, dtype, load_weights(name, flow=flow), flow_scale)
    model.changes = changes
    return model


def load_preset(
    name: str = DEFAULT_PRESET,
    device: str | torch.device | None = "cpu",
    fp16: bool | None = False,
    flow: str | None = None,
    bf16: bool | None = False,
    flow_scale: float = 1.0,
    static_tolerance: int | None = DEFAULT_STATIC_TOLERANCE,
    regions: bool = True,
) -> Model:
    """The models of preset ``name`` (:data:`PRESETS`) with their published weights, combined into one model.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `name` | str | "default" | one of :data:`PRESET_NAMES` |
    | `device`, `fp16`, `bf16`, `static_tolerance`, `regions` | | | as :func:`load_model`, for every model of the preset (the change policy applies to the combination) |
    | `flow`, `flow_scale` | | None, 1.0 | as :func:`load_model`, for the preset's models that take them (``union``, ``base``) |

    A preset of one run is that model itself; otherwise an
    :class:`~vsanimsplat.models.ensemble.Ensemble`. Raises as :func:`load_model`, and ValueError for
    an unknown ``name`` or a ``flow``/``flow_scale`` that none of its models takes.
    """
    chosen = preset(name)
    runs = chosen.parsed()
    if len(runs) == 1:
        return load_model(runs[0][0], device, fp16, flow, bf16, flow_scale, static_tolerance, regions)
    taking = [m for m in chosen.models if SPECS[m].flow_choice]
    if (flow is not None or flow_scale != 1.0) and not taking:
        raise ValueError(f"flow and flow_scale apply to presets with one of the models {', '.join(map(repr, FLOW_MODELS))}; "
                         f"preset {name!r} has none, so leave them at None and 1.0")
    models = {m: load_model(m, device, fp16, flow if m in taking else None, bf16, flow_scale if m in taking else 1.0,
                            static_tolerance=None) for m in chosen.models}
    ensemble = Ensemble([Run(models[m], mirrored, backwards) for m, mirrored, backwards in runs], name)
    ensemble.changes = None if static_tolerance is None else ChangePolicy(static_tolerance, bool(regions))
    return ensemble
