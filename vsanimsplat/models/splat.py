"""``splat``: softmax splatting alone, no synthesis network — fast, and it leaves holes for ``fill_holes``.

The simple variant of Niklaus & Liu (CVPR 2020): flows both ways from a flow network, the
importance metric from brightness constancy, ``Z = 20 - 20 · mean_c |I0 - backwarp(I1, F01)|``
(clamped to [0, 20]), each frame softmax-splatted to ``t``, and the two splats mixed by time
where both landed: ``((1 - t)·S0 + t·S1)``, the one that landed elsewhere, holes where neither did.
(Softmax splatting ignores a constant added to Z; the +20 keeps ``e^Z >= 1``, far above the
1e-7 the splatting adds to its normaliser, so a single source is reproduced exactly.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..nets.gmflow import GMFlow
from ..ops import backwarp, softsplat_with_holes
from .base import FrameState, Model, PairState

__all__ = ["SplatOnly", "brightness_metric"]

_ALPHA = 20.0


def brightness_metric(image0: torch.Tensor, image1: torch.Tensor, flow01: torch.Tensor) -> torch.Tensor:
    """Importance metric Z of ``image0`` from brightness constancy (high where the flow explains the picture)."""
    error = (image0 - backwarp(image1, flow01)).abs().mean(1, keepdim=True)
    return (_ALPHA * (1.0 - error)).clamp(0.0, _ALPHA)


@dataclass(frozen=True, eq=False)
class SplatPair(PairState):
    """Per-pair work of :class:`SplatOnly`: full-resolution flows and metrics both ways."""

    flow01: torch.Tensor
    flow10: torch.Tensor
    metric0: torch.Tensor
    metric1: torch.Tensor


class SplatOnly(Model):
    """Softmax splatting of both frames with GMFlow flows, no synthesis network.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `device` | str or torch.device | "cpu" | where the flow network runs |
    | `dtype` | torch.dtype | torch.float32 | dtype of the flow network |
    | `padding` | str | "replicate" | padding mode of the pictures |
    | `states` | mapping or None | None | ``{"flownet": state_dict}`` (GMFSS's GMFlow weights), loaded strictly |
    | `flownet` | nn.Module or None | None | replaces GMFlow (``forward(img0, img1) -> flow``) |

    The flow runs on half-resolution pictures, as in GMFSS, and is upsampled to full size.
    """

    name = "splat"
    multiple = 64
    has_flows = True

    def __init__(
        self,
        *,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        padding: str = "replicate",
        states: Mapping[str, Mapping[str, torch.Tensor]] | None = None,
        flownet: nn.Module | None = None,
    ) -> None:
        super().__init__(device, dtype, padding)
        self.flownet = GMFlow() if flownet is None else flownet
        self._finish_init(states)

    def networks(self) -> dict[str, nn.Module]:
        return {"flownet": self.flownet}

    def _pair(self, a: FrameState, b: FrameState) -> SplatPair:
        half_a, half_b = (F.interpolate(x.image, scale_factor=0.5, mode="bilinear") for x in (a, b))
        flow01, flow10 = (F.interpolate(self.flownet(x, y), scale_factor=2.0, mode="bilinear") * 2.0
                          for x, y in ((half_a, half_b), (half_b, half_a)))
        return SplatPair(a=a, b=b, flow01=flow01, flow10=flow10,
                         metric0=brightness_metric(a.image, b.image, flow01),
                         metric1=brightness_metric(b.image, a.image, flow10))

    def _synthesize(self, pair: PairState, t: float) -> tuple[torch.Tensor, torch.Tensor]:
        pair = self._check(pair, SplatPair)
        splat0, holes0 = softsplat_with_holes(pair.a.image, t * pair.flow01, pair.metric0)
        splat1, holes1 = softsplat_with_holes(pair.b.image, (1 - t) * pair.flow10, pair.metric1)
        weight0 = (1 - t) * (~holes0).to(splat0.dtype)
        weight1 = t * (~holes1).to(splat1.dtype)
        total = (weight0 + weight1).clamp_min(1e-6)
        return (weight0 * splat0 + weight1 * splat1) / total, holes0 & holes1

    def _flows(self, pair: PairState) -> tuple[torch.Tensor, torch.Tensor]:
        pair = self._check(pair, SplatPair)
        return pair.flow01, pair.flow10
