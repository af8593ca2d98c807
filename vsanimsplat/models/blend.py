"""``blend``: the cross-fade ``(1 - t)·A + t·B``. No network, no weights: a baseline and a fast preview."""

from __future__ import annotations

import torch

from .base import Model, PairState

__all__ = ["Blend"]


class Blend(Model):
    """Linear cross-fade between the two drawings (see :class:`~vsanimsplat.models.base.Model` for parameters).

    It moves nothing, so it is what a plain frame blender does; benchmarks use it as the floor.
    """

    name = "blend"
    multiple = 1
    has_flows = False
    min_region = 1

    def __init__(self, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> None:
        super().__init__(device=device, dtype=dtype)
        self._finish_init(None)

    def networks(self) -> dict[str, torch.nn.Module]:
        """No networks."""
        return {}

    def _synthesize(self, pair: PairState, t: float) -> tuple[torch.Tensor, None]:
        return torch.lerp(pair.a.image, pair.b.image, t), None
