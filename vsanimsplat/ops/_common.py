"""Checks and helpers shared by the operators: argument validation, compute precision, pixel grids."""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import BadOption


def check_choice(op: str, name: str, value: str, allowed: tuple[str, ...]) -> None:
    """Raise :class:`~vsanimsplat.errors.BadOption` (naming ``ops.OP`` and the parameter ``name``) unless ``value`` is
    one of ``allowed``."""
    if value not in allowed:
        raise BadOption(f"ops.{op}", name, f"{name} must be one of {', '.join(repr(a) for a in allowed)}, got {value!r}")


def check_image(op: str, name: str, tensor: object, channels: int | None = None) -> Tensor:
    """Raise :class:`~vsanimsplat.errors.BadOption` unless ``tensor`` is a floating-point (N, C, H, W) tensor (with
    ``channels`` channels)."""
    if not isinstance(tensor, Tensor):
        raise BadOption(f"ops.{op}", name, f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    if tensor.dim() != 4:
        raise BadOption(f"ops.{op}", name, f"{name} must have shape (N, C, H, W), got {tuple(tensor.shape)}")
    if not tensor.is_floating_point():
        raise BadOption(f"ops.{op}", name, f"{name} must be a floating-point tensor, got {tensor.dtype}")
    if channels is not None and tensor.shape[1] != channels:
        raise BadOption(f"ops.{op}", name, f"{name} must have {channels} channel(s), got shape {tuple(tensor.shape)}")
    return tensor


def check_same_grid(op: str, reference: tuple[str, Tensor], *others: tuple[str, Tensor]) -> None:
    """Raise :class:`~vsanimsplat.errors.BadOption` unless all tensors share batch size, height, width and device
    with ``reference``."""
    ref_name, ref = reference
    for name, other in others:
        if other.shape[0] != ref.shape[0] or other.shape[2:] != ref.shape[2:]:
            raise BadOption(
                f"ops.{op}", name,
                f"{name} must have the batch size and size (N, ·, H, W) of {ref_name} "
                f"{tuple(ref.shape)}, got {tuple(other.shape)}"
            )
        if other.device != ref.device:
            raise BadOption(f"ops.{op}", name, f"{name} is on {other.device} but {ref_name} is on {ref.device}")


def compute_dtype(*tensors: Tensor) -> torch.dtype:
    """The dtype to compute in: the promoted dtype of ``tensors``, but float32 for 16-bit floats."""
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def pixel_targets(flow: Tensor) -> tuple[Tensor, Tensor]:
    """The pixel coordinates ``(x + flow_x, y + flow_y)`` each pixel's flow points to, each (N, H, W).

    Pixel centres are at integer coordinates, x to the right and y down.
    """
    _, _, h, w = flow.shape
    xs = torch.arange(w, dtype=flow.dtype, device=flow.device)
    ys = torch.arange(h, dtype=flow.dtype, device=flow.device).unsqueeze(1)
    return flow[:, 0] + xs, flow[:, 1] + ys
