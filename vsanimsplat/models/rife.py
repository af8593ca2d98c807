"""RIFE: the union model's IFNet on its own, a fast model without splatting.

IFNet estimates the frame at t directly, at the full resolution of the (padded) frames.
Every one of its blocks takes t as an input, so nothing is shared across timesteps:
``pair`` only groups the two frames and each ``synthesize`` runs the whole network
(×4 costs three full runs per pair, unlike GMFSS). It estimates no flows between the two
frames and does not splat, so ``flows`` raises and ``Synthesis.holes`` is None; the flows it
samples the frames along tell the change policy where changed pixels are at t.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from ..nets.ifnet import IFNet
from .base import Model, PairState

__all__ = ["RIFE"]


class RIFE(Model):
    """The IFNet model (random weights unless ``states`` is given).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `device` | str or torch.device | "cpu" | where the network runs |
    | `dtype` | torch.dtype | torch.float32 | dtype of the network |
    | `padding` | str | "replicate" | padding mode of the pictures |
    | `states` | mapping or None | None | ``{"ifnet": state dict}``, loaded strictly |
    """

    name = "rife"
    multiple = 32
    has_flows = False
    network: type[nn.Module] = IFNet
    """The network class (``forward(img0, img1, t)`` → picture, flows it sampled along); subclasses that load
    another IFNet layout set it, with ``name`` and ``multiple``."""

    def __init__(
        self,
        *,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        padding: str = "replicate",
        states: Mapping[str, Mapping[str, torch.Tensor]] | None = None,
    ) -> None:
        super().__init__(device, dtype, padding)
        self.ifnet = self.network()
        self._finish_init(states)

    def networks(self) -> dict[str, nn.Module]:
        return {"ifnet": self.ifnet}

    def _synthesize(self, pair: PairState, t: float) -> tuple[torch.Tensor, None, torch.Tensor]:
        image, flow = self.ifnet(pair.a.image, pair.b.image, t)
        return image, None, flow
