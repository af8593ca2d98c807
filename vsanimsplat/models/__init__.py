"""Interpolation models composed from the networks, behind one interface, and how to load them.

Which models exist, their weights, capabilities and precision policy: :mod:`~vsanimsplat.models.registry`.
All share the interface of :class:`~vsanimsplat.models.base.Model`:
``prepare(image) -> FrameState``, ``pair(a, b) -> PairState``,
``synthesize(pair, t) -> Synthesis``, ``flows(pair)``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch

from ..errors import BadOption, DeviceError, given_to

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
    "ModelOptions",
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
    "load",
    "load_model",
    "load_preset",
    "native_bf16",
    "parameter_count",
    "resolve_device",
]


@dataclass(frozen=True)
class ModelOptions:
    """How a model, or each model of a preset, is made: the one place these settings and their defaults are declared.

    :func:`load_model`, :func:`load_preset` and ``interpolate`` build one from their keyword arguments of the same
    names (whose defaults are these), ``run``'s options hold one (:class:`~vsanimsplat.job.JobOptions`), and
    :func:`load` makes the model from it.

    | field | type | default | meaning |
    |---|---|---|---|
    | `device` | str, torch.device or None | None | ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; None = CUDA when available, else the CPU |
    | `fp16` | bool or None | None | run the networks in float16 (CUDA only; the parts that need float32 keep it: see :mod:`~vsanimsplat.models.registry`); None = the registry's automatic choice (:meth:`ModelSpec.dtype`: float16 on CUDA for the models with ``cuda_half``) |
    | `bf16` | bool or None | None | run the networks in bfloat16 (2–3× faster on CPUs with :func:`native_bf16`, PSNR ≥ 50 dB against float32, ``benchmarks/bench.md``; on CUDA only on a GPU that computes it, Ampere or newer); None = the registry's automatic choice (:meth:`ModelSpec.dtype`: for the models with ``cpu_bf16`` on a CPU that computes it natively); False for float32 on any CPU |
    | `flow` | str or None | None | the flow network of the models in :data:`FLOW_MODELS`: ``"gmflow"`` or ``"pwcnet"``; None = the model's own (GMFlow) |
    | `flow_scale` | float or None | None | one of the model's ``flow_scales`` (``union``/``base``: 1.0, 0.5, 0.25 = resolution of the flow relative to the half-size picture; faster, coarser flow); None = by the picture's size (:func:`~vsanimsplat.models.registry.auto_flow_scale`: 0.5 from 1920×1080, else 1.0) |
    | `static_tolerance` | int or None | 20 | pixels whose channels differ by at most this many 8-bit code values between the two frames are taken from the inputs (their cross-fade), not re-drawn by the networks; None = every pixel from the networks, as published (see :mod:`~vsanimsplat.models.changes`) |
    | `regions` | bool | True | with ``static_tolerance``: run the networks only on the regions that change (with context), not the whole frame |
    """

    device: str | torch.device | None = None
    fp16: bool | None = None
    bf16: bool | None = None
    flow: str | None = None
    flow_scale: float | None = None
    static_tolerance: int | None = DEFAULT_STATIC_TOLERANCE
    regions: bool = True

    def changed(self) -> dict[str, object]:
        """The fields that differ from their defaults, as keyword arguments of ``interpolate`` and the loaders."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) != f.default}


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``device`` checked (``"cpu"``, ``"cuda"``, ``"cuda:N"``); None = CUDA when available, else the CPU.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `device` | str, torch.device or None | — | where a model should run |

    Raises :class:`~vsanimsplat.errors.BadOption` for anything else or a CUDA index that does not exist,
    :class:`~vsanimsplat.errors.DeviceError` when CUDA is asked for but unavailable.
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        parsed = None
    if parsed is None or parsed.type not in ("cpu", "cuda"):
        raise BadOption("resolve_device", "device", f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(
                f"device={str(device)!r} was requested but CUDA is not available "
                f"(this torch {'has no CUDA support' if torch.version.cuda is None else 'finds no GPU'}); use device='cpu'"
            )
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise BadOption("resolve_device", "device",
                            f"device {str(device)!r} does not exist: {torch.cuda.device_count()} CUDA device(s)")
    return parsed


def load(options: ModelOptions, model: str | None = None, preset: str | None = None) -> Model:
    """Model ``model``, or else preset ``preset`` (default :data:`DEFAULT_PRESET`), made with ``options``: what
    :func:`load_model` and :func:`load_preset` return for the same settings.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `options` | ModelOptions | | how it is made |
    | `model` | str or None | None | one of :data:`MODEL_NAMES` |
    | `preset` | str or None | None | one of :data:`PRESET_NAMES`, used when ``model`` is None |

    Raises as :func:`load_model` and :func:`load_preset`, with :class:`~vsanimsplat.errors.BadOption` naming ``load``.
    """
    with given_to("load"):
        return _model(model, options) if model is not None else _preset(preset or DEFAULT_PRESET, options)


def load_model(
    name: str = DEFAULT_MODEL,
    device: str | torch.device | None = ModelOptions.device,
    fp16: bool | None = ModelOptions.fp16,
    flow: str | None = ModelOptions.flow,
    bf16: bool | None = ModelOptions.bf16,
    flow_scale: float | None = ModelOptions.flow_scale,
    static_tolerance: int | None = ModelOptions.static_tolerance,
    regions: bool = ModelOptions.regions,
) -> Model:
    """A model with its published weights, from the cache (see :mod:`vsanimsplat.models.weights`).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `name` | str | "union" | one of :data:`MODEL_NAMES` (:mod:`~vsanimsplat.models.registry`) |
    | `device`, `fp16`, `flow`, `bf16`, `flow_scale`, `static_tolerance`, `regions` | | :class:`ModelOptions`' | the fields of :class:`ModelOptions` (its defaults: the device and precision chosen automatically, as ``interpolate`` and ``run`` choose them) |

    On CUDA it sets the registry's process-wide CUDA settings (TF32: :func:`~vsanimsplat.models.registry.use_cuda_policy`).

    Raises :class:`~vsanimsplat.errors.BadOption` (a ValueError naming ``load_model`` and the parameter) for an
    unknown ``model``, ``device`` or ``flow`` (or a ``flow`` for a model without a choice of flow), for ``fp16`` on the
    CPU, for ``fp16`` with ``bf16``, for ``bf16`` on a GPU without bfloat16 and for a ``flow_scale`` the model does not
    take, :class:`~vsanimsplat.errors.DeviceError` (a RuntimeError) if CUDA is requested but unavailable, and
    :class:`~vsanimsplat.errors.WeightsError` (naming the command that installs them) if the weights are missing or
    corrupt.
    """
    with given_to("load_model"):
        return _model(name, ModelOptions(device, fp16, bf16, flow, flow_scale, static_tolerance, regions))


def load_preset(
    name: str = DEFAULT_PRESET,
    device: str | torch.device | None = ModelOptions.device,
    fp16: bool | None = ModelOptions.fp16,
    flow: str | None = ModelOptions.flow,
    bf16: bool | None = ModelOptions.bf16,
    flow_scale: float | None = ModelOptions.flow_scale,
    static_tolerance: int | None = ModelOptions.static_tolerance,
    regions: bool = ModelOptions.regions,
) -> Model:
    """The models of preset ``name`` (:data:`PRESETS`) with their published weights, combined into one model.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `name` | str | "default" | one of :data:`PRESET_NAMES` |
    | `device`, `fp16`, `bf16`, `static_tolerance`, `regions` | | :class:`ModelOptions`' | as :func:`load_model`, for every model of the preset (the change policy applies to the combination) |
    | `flow`, `flow_scale` | | :class:`ModelOptions`' | as :func:`load_model`, for the preset's models that take them (``union``, ``base``) |

    A preset of one run is that model itself; otherwise an
    :class:`~vsanimsplat.models.ensemble.Ensemble`. Raises as :func:`load_model` (naming ``load_preset``), and
    :class:`~vsanimsplat.errors.BadOption` for an unknown ``name`` or a ``flow``/``flow_scale`` that none of its models
    takes.
    """
    with given_to("load_preset"):
        return _preset(name, ModelOptions(device, fp16, bf16, flow, flow_scale, static_tolerance, regions))


def _check_flow(name: str, flow: str | None) -> None:
    if flow is None:
        return
    if flow not in FLOWS:
        raise BadOption("load_model", "flow",
                        f"flow must be None (the model's own) or one of {', '.join(map(repr, FLOW_NAMES))}, got {flow!r}")
    if name not in FLOW_MODELS:
        raise BadOption("load_model", "flow",
                        f"flow applies to the models {', '.join(map(repr, FLOW_MODELS))}, not to {name!r}; use flow=None")


def _model(name: str, options: ModelOptions) -> Model:
    """Model ``name`` made with ``options`` (:func:`load_model`)."""
    chosen = spec(name)
    _check_flow(name, options.flow)
    if options.flow_scale is not None and options.flow_scale not in chosen.flow_scales:
        allowed = [n for n, s in SPECS.items() if len(s.flow_scales) > 1]
        if any(options.flow_scale in SPECS[n].flow_scales for n in allowed):
            raise BadOption("load_model", "flow_scale", f"flow_scale applies to the models {', '.join(map(repr, allowed))}, "
                                                        f"not {name!r}; leave it at None")
        scales = max((s.flow_scales for s in SPECS.values()), key=len)
        raise BadOption("load_model", "flow_scale", f"flow_scale must be one of {scales}, got {options.flow_scale!r}")
    parsed = resolve_device(options.device)
    dtype = chosen.dtype(capability(parsed), options.fp16, options.bf16)
    if parsed.type == "cuda":
        use_cuda_policy()
    changes = _change_policy(options)
    model = build(name, options.flow, parsed, dtype, load_weights(name, flow=options.flow), options.flow_scale)
    model.changes = changes
    return model


def _preset(name: str, options: ModelOptions) -> Model:
    """The models of preset ``name`` made with ``options``, combined (:func:`load_preset`)."""
    chosen = preset(name)
    runs = chosen.parsed()
    if len(runs) == 1:
        return _model(runs[0][0], options)
    taking = [m for m in chosen.models if SPECS[m].flow_choice]
    if (options.flow is not None or options.flow_scale not in (None, 1.0)) and not taking:
        raise BadOption("load_preset", "flow" if options.flow is not None else "flow_scale",
                        f"flow and flow_scale apply to presets with one of the models {', '.join(map(repr, FLOW_MODELS))}; "
                        f"preset {name!r} has none, so leave them at None")
    changes = _change_policy(options)  # checked before any weights are read
    own = replace(options, static_tolerance=None)  # the change policy applies to the combination
    models = {m: _model(m, own if m in taking else replace(own, flow=None, flow_scale=1.0)) for m in chosen.models}
    ensemble = Ensemble([Run(models[m], mirrored, backwards) for m, mirrored, backwards in runs], name)
    ensemble.changes = changes
    return ensemble


def _change_policy(options: ModelOptions) -> ChangePolicy | None:
    """The change policy of ``options`` (None: every pixel from the networks)."""
    return None if options.static_tolerance is None else ChangePolicy(options.static_tolerance, bool(options.regions))
