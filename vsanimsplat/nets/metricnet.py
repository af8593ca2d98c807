"""Importance-metric network: the splatting weights Z of softmax splatting.

Given both frames and the flows between them, it predicts one metric per frame and pixel,
``Z ∈ (-10, 10)``; a larger Z wins where several source pixels land on the same target.
Its inputs are the two images, their photometric errors under backward warping, the
flows normalised to the image size, and forward–backward occlusion masks. Parameter
names match GMFSS_Fortuna's ``metric_*.pkl`` so those state dicts load with ``strict=True``.
"""

from __future__ import annotations

import torch
from torch import nn

from ..ops import backwarp

__all__ = ["MetricNet", "occlusion_masks"]


def occlusion_masks(
    flow01: torch.Tensor, flow10: torch.Tensor, alpha: float = 0.01, beta: float = 0.5
) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward–backward consistency check (as in UnFlow): 1.0 where a flow is inconsistent.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `flow01` | Tensor (N,2,H,W) | — | flow from frame 0 to frame 1, pixels |
    | `flow10` | Tensor (N,2,H,W) | — | flow from frame 1 to frame 0, pixels |
    | `alpha` | float | 0.01 | tolerance growing with the flow magnitude |
    | `beta` | float | 0.5 | constant tolerance, pixels |

    Returns two (N,1,H,W) masks of the flows' dtype, for frame 0 and frame 1.
    """
    threshold = alpha * (flow01.norm(dim=1, keepdim=True) + flow10.norm(dim=1, keepdim=True)) + beta
    masks = []
    for flow, other in ((flow01, flow10), (flow10, flow01)):
        round_trip = flow + backwarp(other, flow, padding="zeros")
        masks.append((round_trip.norm(dim=1, keepdim=True) > threshold).to(flow.dtype))
    return masks[0], masks[1]


def _normalised(flow: torch.Tensor) -> torch.Tensor:
    """Flow in units of half the image extent (what ``grid_sample`` with aligned corners uses)."""
    height, width = flow.shape[-2:]
    return torch.cat((flow[:, :1] / ((width - 1.0) / 2.0), flow[:, 1:] / ((height - 1.0) / 2.0)), 1)


class MetricNet(nn.Module):
    """Predicts the softmax-splatting metrics Z0 and Z1 of a pair of frames.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `width` | int | 64 | channels of the hidden layers |
    | `depth` | int | 3 | number of residual ``PReLU → conv`` layers |
    | `bound` | float | 10.0 | the metric is ``bound · tanh(·)`` |

    ``forward(img0, img1, flow01, flow10)`` takes (N,3,H,W) images in [0, 1] and (N,2,H,W)
    flows in pixels and returns ``(metric0, metric1)``, each (N,1,H,W).
    """

    def __init__(self, width: int = 64, depth: int = 3, bound: float = 10.0) -> None:
        super().__init__()
        self.bound = bound
        self.metric_in = nn.Conv2d(14, width, 3, 1, 1)
        for index in range(1, depth + 1):
            self.add_module(f"metric_net{index}", nn.Sequential(nn.PReLU(), nn.Conv2d(width, width, 3, 1, 1)))
        self.metric_out = nn.Sequential(nn.PReLU(), nn.Conv2d(width, 2, 3, 1, 1))
        self.depth = depth

    def forward(
        self, img0: torch.Tensor, img1: torch.Tensor, flow01: torch.Tensor, flow10: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        error0 = (img0 - backwarp(img1, flow01, padding="zeros")).abs().mean(1, keepdim=True)
        error1 = (img1 - backwarp(img0, flow10, padding="zeros")).abs().mean(1, keepdim=True)
        occ0, occ1 = occlusion_masks(flow01, flow10)
        x = torch.cat(
            (img0, img1, -error0, -error1, _normalised(flow01), _normalised(flow10), occ0, occ1), 1
        )
        feat = self.metric_in(x.to(self.metric_in.weight.dtype))  # flows may be more precise than the network
        for index in range(1, self.depth + 1):
            feat = getattr(self, f"metric_net{index}")(feat) + feat
        metric = self.bound * torch.tanh(self.metric_out(feat))
        return metric[:, :1], metric[:, 1:]
