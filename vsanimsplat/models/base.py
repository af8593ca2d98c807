"""The interface shared by every interpolation model.

Work is split by how often it has to be done, so a caller that wants several in-betweens
of the same pair pays the expensive parts once:

| call | runs | returns |
|---|---|---|
| ``prepare(image)`` | once per frame | :class:`FrameState` (padded picture and per-frame features) |
| ``pair(a, b)`` | once per pair of drawings | :class:`PairState` (flows both ways, metrics) |
| ``synthesize(pair, t)`` | once per in-between | :class:`Synthesis` (picture at time ``t``, and its holes) |

Pictures are (1, 3, H, W) RGB in [0, 1] (values beyond it, such as limited-range video's codes
below black, are kept), of any size: the model pads them (never resizes) to the multiple its
networks need and crops its outputs back. All three calls run under
``torch.inference_mode()``.

With a :class:`~vsanimsplat.models.changes.ChangePolicy` in ``model.changes`` (what
:func:`~vsanimsplat.models.load_model` sets), pixels that do not change between the two frames
are taken from the inputs, and ``pair`` runs the networks only on the regions that change (the
networks' own per-pair and per-frame work on a crop of the frames): see
:mod:`~vsanimsplat.models.changes`. Without one (``None``), the networks compute every pixel,
as published.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import BadOption
from ..ops import backwarp, softsplat
from .changes import Box, ChangePolicy, changed_pixels, network_weight, paste, region_boxes

__all__ = ["FrameState", "PairState", "Region", "ChangedPair", "Synthesis", "Model", "PADDING_MODES",
           "pad_to_multiple"]

_State = TypeVar("_State")

PADDING_MODES = ("replicate", "reflect")


def pad_to_multiple(image: torch.Tensor, multiple: int, mode: str) -> torch.Tensor:
    """Pad ``image`` on the right and bottom so that its height and width are multiples of ``multiple``.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `image` | Tensor (N, C, H, W) | — | picture to pad |
    | `multiple` | int | — | the padded height and width are the next multiples of this |
    | `mode` | str | — | ``"replicate"`` (repeat the last row/column) or ``"reflect"`` (mirror without repeating the edge) |

    Reflection of a picture narrower than the padding is repeated (mirror, then mirror the
    result), so any size works.
    """
    if mode not in PADDING_MODES:
        raise BadOption("models.base.pad_to_multiple", "mode", f"padding must be one of {PADDING_MODES}, got {mode!r}")
    height, width = image.shape[-2:]
    pad_h, pad_w = -height % multiple, -width % multiple
    while pad_h or pad_w:
        # reflection can add at most size - 1 per step
        step_h = min(pad_h, height - 1) if mode == "reflect" else pad_h
        step_w = min(pad_w, width - 1) if mode == "reflect" else pad_w
        if mode == "reflect" and (step_h, step_w) == (0, 0):
            mode = "replicate"  # a 1-pixel picture has nothing to mirror
            continue
        image = F.pad(image, (0, step_w, 0, step_h), mode=mode)
        height, width = height + step_h, width + step_w
        pad_h, pad_w = pad_h - step_h, pad_w - step_w
    return image


@dataclass(frozen=True, eq=False)
class FrameState:
    """Per-frame work of a model. Models subclass it to add their per-frame features.

    | field | type | meaning |
    |---|---|---|
    | `image` | Tensor (1, 3, Hp, Wp) | the padded picture, on the model's device and dtype |
    | `size` | tuple[int, int] | (H, W) of the picture before padding |
    | `source` | Tensor (1, 3, H, W) or None | the picture as given, float32 on the model's device (set by :meth:`Model.prepare`) |
    """

    image: torch.Tensor
    size: tuple[int, int]
    source: torch.Tensor | None = field(default=None, kw_only=True)


@dataclass(frozen=True, eq=False)
class PairState:
    """Per-pair work of a model. Models subclass it to add flows, metrics …

    | field | type | meaning |
    |---|---|---|
    | `a` | FrameState | the earlier frame (t = 0) |
    | `b` | FrameState | the later frame (t = 1) |
    """

    a: FrameState
    b: FrameState


@dataclass(frozen=True, eq=False)
class Region:
    """The networks' work on one part of a pair (:func:`~vsanimsplat.models.changes.region_boxes`).

    | field | type | meaning |
    |---|---|---|
    | `box` | tuple or None | (top, bottom, left, right) of the padded frames that ``inner`` covers; None = all of them |
    | `inner` | PairState | the model's per-pair work on ``box`` |
    | `flows` | tuple of 2 Tensors or None | full-resolution flows 0→1 and 1→0 of ``inner``, float32 (models with flows) |
    """

    box: Box | None
    inner: PairState
    flows: tuple[torch.Tensor, torch.Tensor] | None


@dataclass(frozen=True, eq=False)
class ChangedPair(PairState):
    """A pair under a :class:`~vsanimsplat.models.changes.ChangePolicy`: what changes, and the networks' work on it.

    | field | type | meaning |
    |---|---|---|
    | `changed` | Tensor (1, 1, H, W) bool | pixels that differ by more than the tolerance |
    | `regions` | tuple of Region | where the networks ran, boxes apart from each other (empty: nothing changed, no network ran) |
    """

    changed: torch.Tensor
    regions: tuple[Region, ...]


@dataclass(frozen=True, eq=False)
class Synthesis:
    """An in-between picture.

    | field | type | meaning |
    |---|---|---|
    | `image` | Tensor (1, 3, H, W) float32 | the picture at time t, on the model's device, cropped to the input size, clamped to [0, 1], widened to the two inputs' own extremes where they lie beyond it |
    | `holes` | Tensor (1, 1, H, W) bool or None | True where neither frame's splat landed; None for models that do not splat |
    | `weight` | Tensor (1, 1, H, W) float32 or None | with a change policy: the share of the network's picture in ``image`` (0 = the inputs' cross-fade ``(1 − t)·A + t·B``); None without one |
    """

    image: torch.Tensor
    holes: torch.Tensor | None
    weight: torch.Tensor | None = None


class Model(ABC):
    """Base class of the interpolation models (see the module docstring for the call sequence).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `device` | str or torch.device | "cpu" | where the networks run |
    | `dtype` | torch.dtype | torch.float32 | dtype of the networks and of the states (float16 only makes sense on CUDA) |
    | `padding` | str | "replicate" | how pictures are padded to the networks' multiple, one of :data:`PADDING_MODES` |

    The attribute ``changes`` (a :class:`~vsanimsplat.models.changes.ChangePolicy`, or None: every
    pixel from the networks, as published) says how unchanged pixels are treated; a model made
    directly has None, :func:`~vsanimsplat.models.load_model` sets the default policy.

    Subclasses set the class attributes ``name`` (model name), ``multiple`` (the padded size
    is a multiple of it) and ``has_flows`` (whether :meth:`flows` works), implement
    :meth:`networks` and :meth:`_synthesize` (and :meth:`_prepare` / :meth:`_pair` when they
    have per-frame or per-pair work), and call
    :meth:`_finish_init` at the end of their ``__init__``.
    """

    name: str
    multiple: int
    has_flows: bool
    min_region = 320
    """Smallest side (pixels) of a crop the networks still work on (:mod:`~vsanimsplat.models.changes`): GMFlow
    gives wrong flows on pictures under 320 pixels a side (160 at the half size it works on), the smallest
    measured to work; models without GMFlow keep it too until measured smaller."""

    def __init__(
        self, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32, padding: str = "replicate"
    ) -> None:
        if padding not in PADDING_MODES:
            raise BadOption(f"models.{type(self).__name__}", "padding",
                            f"padding must be one of {PADDING_MODES}, got {padding!r}")
        if not dtype.is_floating_point:
            raise BadOption(f"models.{type(self).__name__}", "dtype", f"dtype must be a floating-point dtype, got {dtype}")
        self.device = torch.device(device)
        self.dtype = dtype
        self.padding = padding
        self.changes: ChangePolicy | None = None

    @abstractmethod
    def networks(self) -> dict[str, nn.Module]:
        """The model's networks by role (the keys of its entry in the weight registry)."""

    def _finish_init(self, states: Mapping[str, Mapping[str, torch.Tensor]] | None) -> None:
        """Load ``states`` (role → state dict, strictly) if given, then move the networks to device/dtype, eval mode."""
        networks = self.networks()
        if states is not None:
            if set(states) != set(networks):
                raise BadOption(f"models.{type(self).__name__}", "states",
                                f"model {self.name!r} needs state dicts for {sorted(networks)}, got {sorted(states)}")
            for role, network in networks.items():
                network.load_state_dict(states[role], strict=True)
        for network in networks.values():
            # channels-last convolutions: 10–20 % faster in float32 on the CPU (benchmarks/profile.md), the layout
            # cuDNN's tensor cores want; results differ only by rounding
            network.to(device=self.device, dtype=self.dtype, memory_format=torch.channels_last)
            network.eval().requires_grad_(False)

    @torch.inference_mode()
    def prepare(self, image: torch.Tensor) -> FrameState:
        """Per-frame work: pad ``image`` (1, 3, H, W) RGB in [0, 1], any float dtype and device."""
        if image.dim() != 4 or image.shape[:2] != (1, 3):
            raise BadOption(f"models.{type(self).__name__}.prepare", "image",
                            f"image must have shape (1, 3, H, W), got {tuple(image.shape)}")
        if not image.dtype.is_floating_point:
            raise BadOption(f"models.{type(self).__name__}.prepare", "image",
                            f"image must be a floating-point tensor in [0, 1], got dtype {image.dtype}")
        size = (image.shape[2], image.shape[3])
        source = image.to(device=self.device, dtype=torch.float32)
        padded = pad_to_multiple(source.to(self.dtype), self.multiple, self.padding)
        return replace(self._prepare(padded, size), source=source)

    @torch.inference_mode()
    def pair(self, a: FrameState, b: FrameState) -> PairState:
        """Per-pair work between frame ``a`` (t = 0) and frame ``b`` (t = 1), both from :meth:`prepare`.

        With a change policy: a :class:`ChangedPair`, whose networks' work covers only the regions
        that change (none at all when nothing does).
        """
        if a.size != b.size:
            raise BadOption(f"models.{type(self).__name__}.pair", "b",
                            f"frames of a pair must have the same size, got {a.size} and {b.size}")
        if self.changes is None:
            return self._pair(a, b)
        changed = changed_pixels(a.source, b.source, self.changes.threshold)
        if not changed.any():
            return ChangedPair(a=a, b=b, changed=changed, regions=())
        boxes = None
        if self.changes.regions:
            boxes = region_boxes(changed, a.image.shape[-2:], self.multiple, self.min_region)
        return ChangedPair(a=a, b=b, changed=changed, regions=tuple(self._region(a, b, box) for box in boxes or [None]))

    def _region(self, a: FrameState, b: FrameState, box: Box | None) -> Region:
        """The networks' per-pair work on ``box`` of the padded frames (None: all of them)."""
        if box is None:
            inner = self._pair(a, b)
        else:
            top, bottom, left, right = box
            inner = self._pair(*(self._prepare(x.image[..., top:bottom, left:right], (bottom - top, right - left))
                                 for x in (a, b)))
        flows = tuple(flow.float() for flow in self._flows(inner)) if self.has_flows else None
        return Region(box=box, inner=inner, flows=flows)

    @torch.inference_mode()
    def synthesize(self, pair: PairState, t: float) -> Synthesis:
        """The picture at time ``t`` (0 < t < 1) between the frames of ``pair``."""
        t = float(t)
        if not 0.0 < t < 1.0:
            raise BadOption(f"models.{type(self).__name__}.synthesize", "t", f"t must be strictly between 0 and 1, got {t}")
        if isinstance(pair, ChangedPair):
            return self._synthesize_changes(pair, t)
        image, holes, *_ = self._synthesize(pair, t)
        height, width = pair.a.size
        image = image[..., :height, :width].float().clamp(*self._bounds(pair))
        if holes is not None:
            holes = holes[..., :height, :width]
        return Synthesis(image=image, holes=holes)

    def _synthesize_changes(self, pair: ChangedPair, t: float) -> Synthesis:
        """The network's picture where the frames change and where changed pixels are at ``t``, the cross-fade elsewhere."""
        # exactly a where a and b agree to the bit
        crossfade = torch.lerp(pair.a.source, pair.b.source, t).clamp(*self._bounds(pair))
        return self._compose(pair, t, crossfade, [self._synthesize(region.inner, t) for region in pair.regions])

    def _compose(self, pair: ChangedPair, t: float, crossfade: torch.Tensor,
                 outputs: list[tuple[torch.Tensor, ...]]) -> Synthesis:
        """The networks' padded outputs of each region (picture, holes, flows sampled along if any) put into
        ``crossfade``."""
        image, holes, active, bounds = crossfade, None, pair.changed, self._bounds(pair)
        for region, (drawn, hole, *sampled) in zip(pair.regions, outputs):
            image = paste(drawn.float().clamp(*bounds), image, region.box)
            if hole is not None:
                holes = paste(hole, torch.zeros_like(pair.changed) if holes is None else holes, region.box)
            active = active | self._changes_at(pair, region, t, sampled[0] if sampled else None)
        weight = network_weight(active)
        if holes is not None:
            holes = holes & (weight > 0)
        return Synthesis(image=torch.lerp(crossfade, image, weight), holes=holes, weight=weight)

    @staticmethod
    def _bounds(pair: PairState) -> tuple[torch.Tensor, torch.Tensor]:
        """Lowest and highest value of a picture synthesised from ``pair``: 0 and 1, or the inputs' own extremes
        beyond them, so that the networks' overshoot is cut but input values outside [0, 1] (limited-range
        video's codes below black and above white) survive. Scalar tensors on the model's device (no wait)."""
        low = torch.minimum(pair.a.source.min(), pair.b.source.min()).clamp(max=0.0)
        high = torch.maximum(pair.a.source.max(), pair.b.source.max()).clamp(min=1.0)
        return low, high

    def _changes_at(self, pair: ChangedPair, region: Region, t: float, sampled: torch.Tensor | None) -> torch.Tensor:
        """(1, 1, H, W) bool: where changed pixels of either frame in ``region`` are at time ``t``, by the model's flows.

        Per-pair flows carry the changed pixels forward (``t·F01``, ``(1 − t)·F10``); flows along
        which the model sampled the frames backwards from ``t`` (``sampled``, (1, 4, h, w), e.g.
        IFNet's) read the changed pixels where they sampled; a model with neither moves nothing,
        and only the changed pixels count.
        """
        none = torch.zeros_like(pair.changed)
        if region.flows is None and sampled is None:
            return none
        size = region.inner.a.image.shape[-2:]
        top, left = (0, 0) if region.box is None else (region.box[0], region.box[2])
        mask = torch.zeros((1, 1, *size), device=self.device)  # the changed pixels in the networks' frame
        inside = pair.changed[..., top:top + size[0], left:left + size[1]]
        mask[..., :inside.shape[-2], :inside.shape[-1]] = inside
        at_t = torch.zeros_like(mask)
        if region.flows is not None:
            flow01, flow10 = region.flows
            at_t += softsplat(mask, t * flow01, mode="sum") + softsplat(mask, (1 - t) * flow10, mode="sum")
        if sampled is not None:
            sampled = sampled.float()
            at_t += backwarp(mask, sampled[:, :2], padding="zeros") + backwarp(mask, sampled[:, 2:], padding="zeros")
        return paste(at_t > 1e-3, none, region.box)

    @torch.inference_mode()
    def flows(self, pair: PairState) -> tuple[torch.Tensor, torch.Tensor]:
        """Full-resolution flows 0→1 and 1→0 of ``pair``, each (1, 2, H, W) float32 in pixels (x, y)."""
        if not self.has_flows:
            raise NotImplementedError(f"model {self.name!r} estimates no flows between the frames")
        height, width = pair.a.size
        if isinstance(pair, ChangedPair):
            flows = [torch.zeros((1, 2, height, width), device=self.device)] * 2
            for region in pair.regions:
                flows = [paste(flow, whole, region.box) for flow, whole in zip(region.flows, flows)]
            return flows[0], flows[1]
        flow01, flow10 = self._flows(pair)
        return flow01[..., :height, :width].float(), flow10[..., :height, :width].float()

    def _prepare(self, image: torch.Tensor, size: tuple[int, int]) -> FrameState:
        """Per-frame work on the padded picture (by default none: the picture itself)."""
        return FrameState(image=image, size=size)

    def _pair(self, a: FrameState, b: FrameState) -> PairState:
        """Per-pair work (by default none: the two frames)."""
        return PairState(a=a, b=b)

    @abstractmethod
    def _synthesize(self, pair: PairState, t: float) -> tuple[torch.Tensor, ...]:
        """Padded picture at time t and padded holes (or None), before cropping and clamping; a model that
        samples the frames backwards along flows from t adds those flows (1, 4, Hp, Wp: to frame a, to frame b)."""

    def _flows(self, pair: PairState) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded full-resolution flows 0→1 and 1→0 (models with ``has_flows`` override it)."""
        raise NotImplementedError

    def _check(self, state: object, kind: type[_State]) -> _State:
        """``state`` if it is a ``kind`` (i.e. made by this kind of model), else TypeError."""
        if not isinstance(state, kind):
            raise TypeError(f"model {self.name!r} needs a {kind.__name__}, got {type(state).__name__}")
        return state

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, device={str(self.device)!r}, dtype={self.dtype})"
