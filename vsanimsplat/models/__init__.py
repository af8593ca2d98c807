"""Interpolation models composed from the networks, and the weight registry.

| model | what it is | per-pair work reused across t |
|---|---|---|
| ``"union"`` (default) | GMFSS: GMFlow + metric net + feature pyramid + softmax splatting + GridNet, which also sees RIFE's estimate | yes (only the splatting, IFNet and GridNet run per t) |
| ``"base"`` | the same without RIFE (the GridNet sees both input frames) | yes |
| ``"rife"`` | the union model's IFNet alone: fast, no splatting, no flows | no (every t runs the whole network) |
| ``"splat"`` | GMFlow + softmax splatting of both frames, Z from brightness constancy, no synthesis network: fast, leaves holes for ``fill_holes`` | yes (only the two splats run per t) |
| ``"blend"`` | the cross-fade (1 − t)·A + t·B: no network, no weights; the floor of the benchmarks | — |

All share the interface of :class:`~vsanimsplat.models.base.Model`:
``prepare(image) -> FrameState``, ``pair(a, b) -> PairState``,
``synthesize(pair, t) -> Synthesis``, ``flows(pair)``.
"""

from __future__ import annotations

import torch

from .base import FrameState, Model, PairState, Synthesis
from .blend import Blend
from .gmfss import FLOW_SCALES, GMFSS, VARIANTS
from .rife import RIFE
from .splat import SplatOnly
from .weights import DEFAULT_MODEL, MODELS, WeightsError, load_weights

__all__ = [
    "Blend",
    "DEFAULT_MODEL",
    "FLOW_SCALES",
    "MODEL_NAMES",
    "FrameState",
    "GMFSS",
    "Model",
    "PairState",
    "RIFE",
    "SplatOnly",
    "Synthesis",
    "VARIANTS",
    "WeightsError",
    "load_model",
    "native_bf16",
]

MODEL_NAMES: tuple[str, ...] = tuple(MODELS)
"""Names accepted by :func:`load_model`."""


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


def native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX-512 BF16 or AMX-BF16), so that ``bf16=True`` pays on it."""
    capabilities = getattr(torch.cpu, "get_capabilities", dict)()
    return bool(capabilities.get("avx512_bf16") or capabilities.get("amx_bf16"))


def load_model(
    name: str = DEFAULT_MODEL,
    device: str | torch.device = "cpu",
    fp16: bool = False,
    bf16: bool = False,
    flow_scale: float = 1.0,
) -> Model:
    """A model with its published weights, from the cache (see :mod:`vsanimsplat.models.weights`).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `name` | str | "union" | one of :data:`MODEL_NAMES`: ``"union"``, ``"base"``, ``"rife"``, ``"splat"``, ``"blend"`` |
    | `device` | str or torch.device | "cpu" | ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` |
    | `fp16` | bool | False | run the networks in float16 (CUDA only; the splatting itself accumulates in float32) |
    | `bf16` | bool | False | run the networks in bfloat16: 2–3× faster on CPUs with :func:`native_bf16` support, PSNR ≥ 50 dB against float32 (``benchmarks/bench.md``); on CUDA it needs a GPU with bfloat16 (Ampere or newer) |
    | `flow_scale` | float | 1.0 | ``union``/``base`` only: resolution of the flow relative to the half-size picture, 1.0, 0.5 or 0.25 (faster, coarser flow) |

    Raises ValueError for an unknown ``model`` or ``device``, for ``fp16`` on the CPU, for
    ``fp16`` with ``bf16`` and for a ``flow_scale`` other than 1.0 on a model without it,
    RuntimeError if CUDA is requested but unavailable, and
    :class:`~vsanimsplat.models.weights.WeightsError` (naming the command
    ``python -m vsanimsplat models fetch NAME``) if the weights are missing or corrupt.
    """
    if name not in MODELS:
        raise ValueError(f"model must be one of {', '.join(map(repr, MODEL_NAMES))}, got {name!r}")
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
    dtype = torch.float16 if fp16 else torch.bfloat16 if bf16 else torch.float32
    states = load_weights(name)
    if name == "rife":
        return RIFE(device=parsed, dtype=dtype, states=states)
    if name == "blend":
        return Blend(device=parsed, dtype=dtype)
    if name == "splat":
        return SplatOnly(device=parsed, dtype=dtype, states=states)
    return GMFSS(name, device=parsed, dtype=dtype, states=states, flow_scale=flow_scale)
