"""``softsplat``: the softmax-splatting interpolation model as released by Niklaus & Liu (CVPR 2020).

| stage | work |
|---|---|
| ``prepare`` | pad the picture to even size (replicated edge, as the release does), and sides under 64 pixels to 64 (the release fails on them) |
| ``pair`` | normalise both pictures by their joint mean and standard deviation, swap to BGR; flows both ways (:class:`~vsanimsplat.nets.softsplat_flow.SoftsplatFlow`); features of both pictures at three levels; importance metrics both ways |
| ``synthesize`` | scale flows and metrics for time t, softmax-splat features and metrics at three scales, GridNet; undo the normalisation, back to RGB |

The weights (``network-lf.pytorch``: trained with a feature loss, sharper; ``network-l1.pytorch``: trained
with a colour loss, higher PSNR) are the authors', for academic use only; see the README. The per-pair
normalisation makes the features depend on both pictures, so they are computed per pair, not per frame.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import BadOption
from ..nets._keys import rename_hook
from ..nets.softsplat_flow import SoftsplatFlow
from ..nets.softsplat_synthesis import SoftsplatSynthesis
from .base import FrameState, Model, PairState, pad_to_multiple

__all__ = ["Released", "SoftSplat", "SoftSplatPair", "VARIANTS"]

VARIANTS = {"softsplat": "lf", "softsplat-l1": "l1"}
"""Model names and the released weights they load (``network-lf.pytorch``, ``network-l1.pytorch``)."""

_STD_EPS = 1e-7
_MIN_SIZE = 64


@dataclass(frozen=True, eq=False)
class SoftSplatPair(PairState):
    """Per-pair work of :class:`SoftSplat` (normalised BGR space, padded size).

    | field | type | meaning |
    |---|---|---|
    | `mean`, `std` | Tensor (1, 1, 1, 1) | the joint statistics the pictures were normalised with |
    | `flow01`, `flow10` | Tensor (1, 2, Hp, Wp) | flows a → b and b → a, pixels |
    | `features0`, `features1` | list of 3 Tensors | encoder features of a and b |
    | `metric0`, `metric1` | Tensor (1, 1, Hp, Wp) | importance metrics of a and b, before scaling by time |
    """

    mean: torch.Tensor
    std: torch.Tensor
    flow01: torch.Tensor
    flow10: torch.Tensor
    features0: list[torch.Tensor]
    features1: list[torch.Tensor]
    metric0: torch.Tensor
    metric1: torch.Tensor


class Released(nn.Module):
    """The released file's two networks, ``flow`` and ``synthesis`` (``netFlow.…``, ``netSynthesis.…`` there)."""

    def __init__(self) -> None:
        super().__init__()
        self.flow = SoftsplatFlow()
        self.synthesis = SoftsplatSynthesis()
        self.register_load_state_dict_pre_hook(rename_hook([(r"net(Flow|Synthesis)\.", lambda m: f"{m[1].lower()}.")]))


def _joint_statistics(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation of the two pictures taken together (per batch item)."""
    means = [x.mean((1, 2, 3), keepdim=True) for x in (a, b)]
    mean = (means[0] + means[1]) / 2
    variance = sum(x.var((1, 2, 3), unbiased=False, keepdim=True) + (mean - m).square() for x, m in zip((a, b), means))
    return mean, (variance / 2).sqrt()


class SoftSplat(Model):
    """The released softmax-splatting model (random weights unless ``states`` is given).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `variant` | str | "softsplat" | a key of :data:`VARIANTS` (the name; the architecture is the same) |
    | `device` | str or torch.device | "cpu" | where the networks run |
    | `dtype` | torch.dtype | torch.float32 | dtype of the networks |
    | `padding` | str | "replicate" | padding mode of the pictures |
    | `states` | mapping or None | None | ``{"network": state_dict}``: the released file's state dict (its keys, ``netFlow.…`` / ``netSynthesis.…``, or ``module…``), loaded strictly |

    Use :func:`vsanimsplat.models.load_model` to get it with the weights.
    """

    multiple = 2
    has_flows = True

    def __init__(
        self,
        variant: str = "softsplat",
        *,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        padding: str = "replicate",
        states: Mapping[str, Mapping[str, torch.Tensor]] | None = None,
    ) -> None:
        if variant not in VARIANTS:
            raise BadOption("models.SoftSplat", "variant", f"variant must be one of {sorted(VARIANTS)}, got {variant!r}")
        super().__init__(device, dtype, padding)
        self.name = variant
        self.network = Released()
        self._finish_init(states)

    def networks(self) -> dict[str, nn.Module]:
        return {"network": self.network}

    def _prepare(self, image: torch.Tensor, size: tuple[int, int]) -> FrameState:
        """Sides under 64 pixels are padded to 64: the flow network's sixth level needs a few pixels."""
        height, width = image.shape[2:]
        if min(height, width) < _MIN_SIZE:
            image = pad_to_multiple(image, _MIN_SIZE, self.padding)[..., : max(height, _MIN_SIZE), : max(width, _MIN_SIZE)]
        return FrameState(image=image, size=size)

    def _pair(self, a: FrameState, b: FrameState) -> SoftSplatPair:
        mean, std = _joint_statistics(a.image, b.image)
        one, two = (((x.image - mean) / (std + _STD_EPS)).flip(1) for x in (a, b))  # RGB → BGR
        flow01, flow10 = self.network.flow(one, two)
        synthesis = self.network.synthesis
        features0, features1 = synthesis.encode(one), synthesis.encode(two)
        return SoftSplatPair(
            a=a, b=b, mean=mean, std=std, flow01=flow01, flow10=flow10, features0=features0, features1=features1,
            metric0=synthesis.metric(features0, features1, flow01), metric1=synthesis.metric(features1, features0, flow10),
        )

    def _synthesize(self, pair: PairState, t: float) -> tuple[torch.Tensor, torch.Tensor]:
        pair = self._check(pair, SoftSplatPair)
        image, holes = self.network.synthesis(
            pair.features0, pair.features1, pair.metric0 * (2.0 * t), pair.metric1 * (2.0 * (1.0 - t)),
            pair.flow01 * t, pair.flow10 * (1.0 - t),
        )
        return (image * pair.std + pair.mean).flip(1), holes

    def _flows(self, pair: PairState) -> tuple[torch.Tensor, torch.Tensor]:
        pair = self._check(pair, SoftSplatPair)
        return pair.flow01, pair.flow10
