"""GMFSS: softmax splatting with GMFlow flows, a metric network, a feature pyramid and a GridNet.

The pipeline (weights of GMFSS_Fortuna, "base" and "union" variants):

| stage | resolution | work |
|---|---|---|
| ``prepare`` | full | feature pyramid of the frame (1/2, 1/4, 1/8), the half-resolution picture, GMFlow's backbone features of it |
| ``pair`` | 1/2 × ``flow_scale`` | GMFlow both ways (one bidirectional pass), importance metrics Z0 and Z1 at 1/2 |
| ``synthesize`` | 1/2 → full | softmax splatting of both pictures and pyramids to t (flows ``t·F01``, ``(1−t)·F10``, metrics ``t·Z0``, ``(1−t)·Z1``); union adds the IFNet estimate of the frame at t; the GridNet synthesises the full-resolution frame |

Frames are padded to a multiple of 64 (GMFlow's 8×8 windows at 1/4 of the half-size
picture), never resized. With ``flow_scale`` < 1 the flow runs on the half-size picture
shrunk by that factor (padded again to GMFlow's multiple) and is scaled back up, as the
published ``scale`` option does: a quarter (0.5) or a sixteenth (0.25) of GMFlow's work. With
``flow_scale=None`` each picture's scale is chosen by its size (``choose_flow_scale``: the
registry's :func:`~vsanimsplat.models.registry.auto_flow_scale`), and kept with the frame's state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import BadOption
from ..nets.feature_pyramid import FeaturePyramid
from ..nets.gmflow import GMFlow
from ..nets.gridnet import GridNet
from ..nets.ifnet import IFNet
from ..nets.metricnet import MetricNet
from ..ops import softsplat, softsplat_with_holes
from .base import FrameState, Model, PairState, pad_to_multiple

__all__ = ["GMFSS", "GMFSSFrame", "GMFSSPair", "VARIANTS", "FLOW_SCALES"]

VARIANTS = ("union", "base")
"""``union``: the GridNet also sees IFNet's estimate of the frame; ``base``: it sees both input frames."""

FLOW_SCALES = (1.0, 0.5, 0.25)
"""Accepted ``flow_scale`` values: the resolution of the flow estimation relative to the half-size picture."""

_IMAGE_CHANNELS = {"union": 9, "base": 12}


def _half(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=0.5, mode="bilinear")


def _double(flow: torch.Tensor) -> torch.Tensor:
    """A half-resolution flow at full resolution (bilinear, vectors scaled by 2)."""
    return F.interpolate(flow, scale_factor=2.0, mode="bilinear") * 2.0


@dataclass(frozen=True, eq=False)
class GMFSSFrame(FrameState):
    """Per-frame work of :class:`GMFSS`.

    | field | type | meaning |
    |---|---|---|
    | `half` | Tensor (1, 3, Hp/2, Wp/2) | the padded picture at half resolution |
    | `features` | tuple of 3 Tensors | feature pyramid at 1/2, 1/4, 1/8 of the padded size |
    | `flow_input` | object | what the flow network needs of this frame: GMFlow's backbone features, or the picture at the flow's resolution for a flow network without ``encode`` |
    | `flow_scale` | float | the scale ``flow_input`` was made at (one of :data:`FLOW_SCALES`) |
    """

    half: torch.Tensor
    features: tuple[torch.Tensor, ...]
    flow_input: object
    flow_scale: float = 1.0


@dataclass(frozen=True, eq=False)
class GMFSSPair(PairState):
    """Per-pair work of :class:`GMFSS` (everything at half resolution).

    | field | type | meaning |
    |---|---|---|
    | `flow01`, `flow10` | Tensor (1, 2, Hp/2, Wp/2) | flows a→b and b→a, half-resolution pixels |
    | `metric0`, `metric1` | Tensor (1, 1, Hp/2, Wp/2) | softmax-splatting metrics of a and b |
    """

    a: GMFSSFrame
    b: GMFSSFrame
    flow01: torch.Tensor
    flow10: torch.Tensor
    metric0: torch.Tensor
    metric1: torch.Tensor


class GMFSS(Model):
    """The GMFSS interpolation model (random weights unless ``states`` is given).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `variant` | str | "union" | ``"union"`` or ``"base"`` |
    | `device` | str or torch.device | "cpu" | where the networks run |
    | `dtype` | torch.dtype | torch.float32 | dtype of the networks |
    | `padding` | str | "replicate" | padding mode of the pictures (see :func:`~vsanimsplat.models.base.pad_to_multiple`) |
    | `states` | mapping or None | None | state dicts by role (``flownet``, ``metricnet``, ``features``, ``synthesis``, and ``ifnet`` for union), loaded strictly |
    | `flownet` | nn.Module or None | None | replaces GMFlow: ``forward(img0, img1) -> flow``, and optionally ``encode(image)`` + ``bidirectional(enc0, enc1) -> (flow01, flow10)`` to share per-frame work (tests use a small stand-in) |
    | `flow_scale` | float or None | 1.0 | resolution of the flow relative to the half-size picture, one of :data:`FLOW_SCALES` (1.0 as published; 0.5 and 0.25 are faster and coarser); None = chosen per picture by ``choose_flow_scale`` |
    | `choose_flow_scale` | callable or None | None | ``choose_flow_scale(height, width) -> flow_scale`` for a picture of that size, used when ``flow_scale`` is None |

    Use :func:`vsanimsplat.models.load_model` to get it with the published weights.
    """

    multiple = 64
    has_flows = True

    def __init__(
        self,
        variant: str = "union",
        *,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        padding: str = "replicate",
        states: Mapping[str, Mapping[str, torch.Tensor]] | None = None,
        flownet: nn.Module | None = None,
        flow_scale: float | None = 1.0,
        choose_flow_scale: Callable[[int, int], float] | None = None,
    ) -> None:
        if variant not in VARIANTS:
            raise BadOption("models.GMFSS", "variant", f"variant must be one of {VARIANTS}, got {variant!r}")
        if flow_scale is None and choose_flow_scale is None:
            raise BadOption("models.GMFSS", "choose_flow_scale",
                            "flow_scale=None needs choose_flow_scale (the choice by picture size)")
        if flow_scale is not None and flow_scale not in FLOW_SCALES:
            raise BadOption("models.GMFSS", "flow_scale", f"flow_scale must be one of {FLOW_SCALES}, got {flow_scale!r}")
        super().__init__(device, dtype, padding)
        self.name = variant
        self.flow_scale = None if flow_scale is None else float(flow_scale)
        self.choose_flow_scale = choose_flow_scale
        self.flownet = GMFlow() if flownet is None else flownet
        self.metricnet = MetricNet()
        self.features = FeaturePyramid()
        self.synthesis = GridNet(_IMAGE_CHANNELS[variant])
        self.ifnet = IFNet() if variant == "union" else None
        self._finish_init(states)

    @property
    def min_region(self) -> int:
        """GMFlow's smallest picture (see :attr:`Model.min_region`) at the full size, for this ``flow_scale`` (a picture
        that small gets 1.0 when it is chosen by size)."""
        return round(Model.min_region / (self.flow_scale or 1.0))

    def networks(self) -> dict[str, nn.Module]:
        networks = {
            "flownet": self.flownet,
            "metricnet": self.metricnet,
            "features": self.features,
            "synthesis": self.synthesis,
        }
        if self.ifnet is not None:
            networks["ifnet"] = self.ifnet
        return networks

    def scale_for(self, height: int, width: int) -> float:
        """The flow_scale of a picture of ``height``×``width``: the one given, else ``choose_flow_scale``'s."""
        if self.flow_scale is not None:
            return self.flow_scale
        assert self.choose_flow_scale is not None  # __init__ refuses neither
        scale = float(self.choose_flow_scale(height, width))
        if scale not in FLOW_SCALES:
            raise BadOption("models.GMFSS", "choose_flow_scale",
                            f"choose_flow_scale must return one of {FLOW_SCALES}, got {scale!r} for {height}x{width}")
        return scale

    def _prepare(self, image: torch.Tensor, size: tuple[int, int]) -> GMFSSFrame:
        half = _half(image)
        flow_input = half
        scale = self.scale_for(*size)
        if scale != 1:
            flow_input = F.interpolate(half, scale_factor=scale, mode="bilinear")
        flow_input = pad_to_multiple(flow_input, getattr(self.flownet, "size_multiple", 1), self.padding)
        if hasattr(self.flownet, "encode"):
            flow_input = self.flownet.encode(flow_input)
        return GMFSSFrame(image=image, size=size, half=half, features=self.features(image), flow_input=flow_input,
                          flow_scale=scale)

    def _pair(self, a: FrameState, b: FrameState) -> GMFSSPair:
        a, b = self._check(a, GMFSSFrame), self._check(b, GMFSSFrame)
        if a.flow_scale != b.flow_scale:
            raise BadOption("models.GMFSS.pair", "b",
                            f"frames of a pair must have the same flow_scale, got {a.flow_scale} and {b.flow_scale}")
        if hasattr(self.flownet, "bidirectional"):
            flow01, flow10 = self.flownet.bidirectional(a.flow_input, b.flow_input)
        else:
            flow01, flow10 = self.flownet(a.flow_input, b.flow_input), self.flownet(b.flow_input, a.flow_input)
        if a.flow_scale != 1:
            flow01, flow10 = (self._to_half(flow, a.half, a.flow_scale) for flow in (flow01, flow10))
        metric0, metric1 = self.metricnet(a.half, b.half, flow01, flow10)
        return GMFSSPair(a=a, b=b, flow01=flow01, flow10=flow10, metric0=metric0, metric1=metric1)

    @staticmethod
    def _to_half(flow: torch.Tensor, half: torch.Tensor, scale: float) -> torch.Tensor:
        """A flow estimated at ``scale`` of the half-size picture (maybe padded), at the half size."""
        height, width = (round(n * scale) for n in half.shape[-2:])
        flow = F.interpolate(flow[..., :height, :width], size=half.shape[-2:], mode="bilinear")
        return flow / scale

    def _synthesize(self, pair: PairState, t: float) -> tuple[torch.Tensor, ...]:
        pair = self._check(pair, GMFSSPair)
        a, b = pair.a, pair.b
        flow0, metric0 = t * pair.flow01, t * pair.metric0
        flow1, metric1 = (1 - t) * pair.flow10, (1 - t) * pair.metric1
        splat0, holes0 = softsplat_with_holes(a.half, flow0, metric0)
        splat1, holes1 = softsplat_with_holes(b.half, flow1, metric1)
        levels = []
        for level, (feat0, feat1) in enumerate(zip(a.features, b.features)):
            scale = 0.5**level
            levels.append(
                torch.cat(
                    (
                        softsplat(feat0, *self._scaled(flow0, metric0, scale)),
                        softsplat(feat1, *self._scaled(flow1, metric1, scale)),
                    ),
                    1,
                )
            )
        sampled = None  # union: the flows along which IFNet sampled the frames, at full size
        if self.ifnet is None:
            images = torch.cat((a.half, splat0, splat1, b.half), 1)
        else:
            estimate, sampled = self.ifnet(a.half, b.half, t)
            images = torch.cat((splat0, estimate, splat1), 1)
            sampled = _double(sampled)
        image = self.synthesis(images, *levels)
        holes = (holes0 & holes1).repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
        return image, holes, sampled

    @staticmethod
    def _scaled(flow: torch.Tensor, metric: torch.Tensor, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Flow (in pixels of the smaller grid) and metric resized by ``scale`` for a coarser pyramid level."""
        if scale == 1:
            return flow, metric
        flow = F.interpolate(flow, scale_factor=scale, mode="bilinear") * scale
        return flow, F.interpolate(metric, scale_factor=scale, mode="bilinear")

    def _flows(self, pair: PairState) -> tuple[torch.Tensor, torch.Tensor]:
        pair = self._check(pair, GMFSSPair)
        return _double(pair.flow01), _double(pair.flow10)
