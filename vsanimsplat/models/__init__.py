"""Interpolation models composed from the networks, and the weight registry.

| model | what it is | per-pair work reused across t |
|---|---|---|
| ``"union"`` (default) | GMFSS: GMFlow + metric net + feature pyramid + softmax splatting + GridNet, which also sees RIFE's estimate | yes (only the splatting, IFNet and GridNet run per t) |
| ``"base"`` | the same without RIFE (the GridNet sees both input frames) | yes |
| ``"rife"`` | the union model's IFNet alone: fast, no splatting, no flows | no (every t runs the whole network) |
| ``"splat"`` | GMFlow + softmax splatting of both frames, Z from brightness constancy, no synthesis network: fast, leaves holes for ``fill_holes`` | yes (only the two splats run per t) |
| ``"blend"`` | the cross-fade (1 − t)·A + t·B: no network, no weights; the floor of the benchmarks | — |
| ``"softsplat"``, ``"softsplat-l1"`` | the model released by Niklaus & Liu (CVPR 2020): its PWC-style flow, encoder, learned metric, three-scale softmax splatting, GridNet; weights ``network-lf`` / ``network-l1`` (academic use only) | yes (flows, features and metrics per pair; splatting and GridNet per t) |

``union``, ``base`` and ``splat`` take their flows from GMFlow, or from PWC-Net with ``flow="pwcnet"``.

All share the interface of :class:`~vsanimsplat.models.base.Model`:
``prepare(image) -> FrameState``, ``pair(a, b) -> PairState``,
``synthesize(pair, t) -> Synthesis``, ``flows(pair)``.
"""

from __future__ import annotations

import torch

from .base import ChangedPair, FrameState, Model, PairState, Synthesis
from .blend import Blend
from .changes import DEFAULT_STATIC_TOLERANCE, ChangePolicy
from .gmfss import FLOW_SCALES, GMFSS, VARIANTS
from .rife import RIFE
from ..nets.pwcnet import PWCNet
from .softsplat import VARIANTS as SOFTSPLAT_VARIANTS
from .softsplat import SoftSplat
from .splat import SplatOnly
from .weights import DEFAULT_MODEL, FLOWS, MODELS, WEIGHT_SETS, WeightsError, load_weights

__all__ = [
    "Blend",
    "ChangePolicy",
    "ChangedPair",
    "DEFAULT_MODEL",
    "DEFAULT_STATIC_TOLERANCE",
    "FLOW_MODELS",
    "FLOW_NAMES",
    "FLOW_SCALES",
    "MODEL_NAMES",
    "FrameState",
    "GMFSS",
    "Model",
    "PairState",
    "RIFE",
    "SoftSplat",
    "SplatOnly",
    "Synthesis",
    "VARIANTS",
    "WeightsError",
    "check_weights",
    "load_model",
    "native_bf16",
    "parameter_count",
]

MODEL_NAMES: tuple[str, ...] = tuple(MODELS)
"""Names accepted by :func:`load_model`."""
FLOW_NAMES: tuple[str, ...] = tuple(FLOWS)
"""Flow networks accepted by :func:`load_model`'s ``flow``: ``"gmflow"``, ``"pwcnet"``."""
FLOW_MODELS: tuple[str, ...] = ("union", "base", "splat")
"""Models whose flow network ``flow`` chooses (GMFlow by default)."""


def _parse_device(device: str | torch.device) -> torch.device:
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


def native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX-512 BF16 or AMX-BF16), so that ``bf16=True`` pays on it."""
    capabilities = getattr(torch.cpu, "get_capabilities", dict)()
    return bool(capabilities.get("avx512_bf16") or capabilities.get("amx_bf16"))


def _construct(name: str, flow: str | None, device: torch.device, dtype: torch.dtype,
               states: dict[str, dict[str, torch.Tensor]] | None, flow_scale: float = 1.0) -> Model:
    """Model ``name`` (its flow network chosen by ``flow``), with ``states`` loaded strictly if given."""
    flownet = PWCNet() if flow == "pwcnet" else None
    if name == "rife":
        return RIFE(device=device, dtype=dtype, states=states)
    if name == "blend":
        return Blend(device=device, dtype=dtype)
    if name == "splat":
        return SplatOnly(device=device, dtype=dtype, states=states, flownet=flownet)
    if name in SOFTSPLAT_VARIANTS:
        return SoftSplat(name, device=device, dtype=dtype, states=states)
    return GMFSS(name, device=device, dtype=dtype, states=states, flownet=flownet, flow_scale=flow_scale)


def load_model(
    name: str = DEFAULT_MODEL,
    device: str | torch.device = "cpu",
    fp16: bool = False,
    flow: str | None = None,
    bf16: bool = False,
    flow_scale: float = 1.0,
    static_tolerance: int | None = DEFAULT_STATIC_TOLERANCE,
    regions: bool = True,
) -> Model:
    """A model with its published weights, from the cache (see :mod:`vsanimsplat.models.weights`).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `name` | str | "union" | one of :data:`MODEL_NAMES`: ``"union"``, ``"base"``, ``"rife"``, ``"splat"``, ``"blend"``, ``"softsplat"``, ``"softsplat-l1"`` |
    | `device` | str or torch.device | "cpu" | ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` |
    | `fp16` | bool | False | run the networks in float16 (CUDA only; the splatting itself accumulates in float32) |
    | `flow` | str or None | None | the flow network of ``union``, ``base`` or ``splat``: ``"gmflow"`` or ``"pwcnet"``; None = the model's own (GMFlow) |
    | `bf16` | bool | False | run the networks in bfloat16: 2–3× faster on CPUs with :func:`native_bf16` support, PSNR ≥ 50 dB against float32 (``benchmarks/bench.md``); on CUDA it needs a GPU with bfloat16 (Ampere or newer) |
    | `flow_scale` | float | 1.0 | ``union``/``base`` only: resolution of the flow relative to the half-size picture, 1.0, 0.5 or 0.25 (faster, coarser flow) |
    | `static_tolerance` | int or None | 20 | pixels whose channels differ by at most this many 8-bit code values between the two frames are taken from the inputs (their cross-fade), not re-drawn by the networks; None = every pixel from the networks, as published (see :mod:`~vsanimsplat.models.changes`) |
    | `regions` | bool | True | with ``static_tolerance``: run the networks only on the region that changes (with context), not the whole frame |

    Raises ValueError for an unknown ``model``, ``device`` or ``flow`` (or a ``flow`` for a model
    without a choice of flow), for ``fp16`` on the CPU, for ``fp16`` with ``bf16`` and for a
    ``flow_scale`` other than 1.0 on a model without it, RuntimeError if CUDA is requested but
    unavailable, and :class:`~vsanimsplat.models.weights.WeightsError` (naming the command that
    installs them) if the weights are missing or corrupt.
    """
    if name not in MODELS:
        raise ValueError(f"model must be one of {', '.join(map(repr, MODEL_NAMES))}, got {name!r}")
    _check_flow(name, flow)
    if fp16 and bf16:
        raise ValueError("fp16 and bf16 exclude each other; set at most one")
    parsed = _parse_device(device)
    if fp16 and parsed.type != "cuda":
        raise ValueError("fp16=True needs a CUDA device (float16 convolutions on the CPU are slow and inexact); "
                         "use fp16=False, or bf16=True on a CPU with native bfloat16")
    if flow_scale not in FLOW_SCALES:
        raise ValueError(f"flow_scale must be one of {FLOW_SCALES}, got {flow_scale!r}")
    if flow_scale != 1.0 and name not in VARIANTS:
        raise ValueError(f"flow_scale applies to the models {', '.join(map(repr, VARIANTS))}, not {name!r}; "
                         "leave it at 1.0")
    changes = None if static_tolerance is None else ChangePolicy(static_tolerance, bool(regions))
    dtype = torch.float16 if fp16 else torch.bfloat16 if bf16 else torch.float32
    model = _construct(name, flow, parsed, dtype, load_weights(name, flow=flow), flow_scale)
    model.changes = changes
    return model


def _networks(name: str, device: torch.device) -> dict[str, torch.nn.Module]:
    """The networks of weight set ``name`` (a model or a flow network) by role, randomly initialised."""
    if name in FLOWS:
        return {"flownet": _construct("splat", name, device, torch.float32, None).flownet}
    return _construct(name, None, device, torch.float32, None).networks()


def parameter_count(name: str) -> int:
    """Number of parameters of the networks of ``name``, a key of :data:`~vsanimsplat.models.weights.WEIGHT_SETS`
    (a model, or a flow network: ``"gmflow"``, ``"pwcnet"``). Counted without allocating them.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `name` | str | — | a model or flow network name |
    """
    if name not in WEIGHT_SETS:
        raise ValueError(f"name must be one of {sorted(WEIGHT_SETS)}, got {name!r}")
    meta = torch.device("meta")
    with meta:
        networks = _networks(name, meta)
    return sum(p.numel() for network in networks.values() for p in network.parameters())


def check_weights(name: str, states: dict[str, dict[str, torch.Tensor]]) -> None:
    """Raise (RuntimeError from ``load_state_dict``, or ValueError) unless ``states`` (role → state dict) load
    strictly into the networks of weight set ``name``.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `name` | str | — | a key of :data:`~vsanimsplat.models.weights.WEIGHT_SETS` |
    | `states` | dict | — | state dicts by role, as :func:`~vsanimsplat.models.weights.load_weights` returns them |
    """
    networks = _networks(name, torch.device("cpu"))
    if set(states) != set(networks):
        raise ValueError(f"{name!r} needs state dicts for {sorted(networks)}, got {sorted(states)}")
    for role, network in networks.items():
        network.load_state_dict(states[role], strict=True)
