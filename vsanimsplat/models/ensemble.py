"""Ensembles: several in-betweens of the same pair, by other models or on mirrored or reversed frames, averaged.

Different interpolators make different mistakes: GMFSS's softmax splatting and the IFNet it
carries disagree most where either is wrong, and a network is not exactly symmetric under
mirroring the picture or reversing time, so the mean of such runs is closer to the truth than
any one of them (``benchmarks/presets.md``). An :class:`Ensemble` is a list of runs (:class:`Run`)
behind the one :class:`~vsanimsplat.models.base.Model` interface; every model's per-frame and
per-pair work is done once and reused for every ``t``, like a single model's:

| run | per frame | per pair | per in-between |
|---|---|---|---|
| plain | the model's ``prepare`` | its ``pair(a, b)`` | the model at ``t`` |
| ``mirrored`` | … of the horizontally mirrored picture | … of the mirrored frames | … mirrored back |
| ``reversed`` | (shared with the run in order) | its ``pair(b, a)`` | the model at ``1 − t`` |

The output is the mean of the runs' pictures (each clamped as it would be alone) (:func:`combine`),
except where a splatting run left a hole: there only the runs without a hole count, and the
ensemble reports a hole only where every run has one. Flows (``flows``, and what the change policy
carries along them) are the first run's. A change policy applies to the ensemble as a whole: all
runs work on the same crop.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from .base import FrameState, Model, PairState, pad_to_multiple

__all__ = ["Ensemble", "EnsembleFrame", "EnsemblePair", "Run", "combine"]


def combine(images: Sequence[torch.Tensor], holes: Sequence[torch.Tensor | None]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The mean of ``images``, per pixel over those without a hole there (all of them where every one has a hole).

    | parameter | type | meaning |
    |---|---|---|
    | `images` | sequence of Tensor (1, 3, H, W) | the outputs to combine |
    | `holes` | sequence of Tensor (1, 1, H, W) bool or None | each output's holes (None: it has none) |

    Returns the combined picture and where every output has a hole (None when no output reports holes).
    """
    if len(images) != len(holes) or not images:
        raise ValueError(f"images and holes must be non-empty and of the same length, got {len(images)} and {len(holes)}")
    if all(h is None for h in holes):
        return torch.stack(list(images)).mean(0), None
    valid = torch.stack([torch.ones_like(images[0][:, :1]) if h is None else (~h).to(images[0].dtype) for h in holes])
    everywhere = valid.sum(0) == 0
    valid[:, everywhere] = 1  # every output has a hole there: the plain mean
    image = (torch.stack(list(images)) * valid).sum(0) / valid.sum(0)
    return image, everywhere


def _placed(image: torch.Tensor, size: tuple[int, int], shape: torch.Size, mirror: bool) -> torch.Tensor:
    """A member's padded output as the ensemble's: its picture (the top left ``size``), mirrored back if ``mirror``,
    in the top left of a zero tensor of the ensemble's padded ``shape``."""
    picture = image[..., :size[0], :size[1]]
    out = picture.new_zeros((*picture.shape[:-2], *shape[-2:]))
    out[..., :size[0], :size[1]] = picture.flip(-1) if mirror else picture
    return out


class Run(NamedTuple):
    """One in-between an :class:`Ensemble` averages.

    | field | type | default | meaning |
    |---|---|---|---|
    | `model` | Model | | the model that makes it (without a change policy of its own) |
    | `mirrored` | bool | False | made from the horizontally mirrored frames, mirrored back |
    | `reversed` | bool | False | made from the pair in reverse order at ``1 − t`` |
    """

    model: Model
    mirrored: bool = False
    reversed: bool = False


@dataclass(frozen=True, eq=False)
class EnsembleFrame(FrameState):
    """Per-frame work of an :class:`Ensemble`.

    | field | type | meaning |
    |---|---|---|
    | `views` | tuple of FrameState | ``views[i]``: the work of the ensemble's ``i``-th (model, mirrored) view |
    """

    views: tuple[FrameState, ...]


@dataclass(frozen=True, eq=False)
class EnsemblePair(PairState):
    """Per-pair work of an :class:`Ensemble`.

    | field | type | meaning |
    |---|---|---|
    | `pairs` | tuple of PairState | ``pairs[i]``: the pair of the ensemble's ``i``-th run |
    """

    pairs: tuple[PairState, ...]


class Ensemble(Model):
    """In-betweens of several runs averaged into one (see the module docstring).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `runs` | sequence of Run | | what is averaged, each run once; models on one device, without change policies; the first run's flows are the ensemble's |
    | `name` | str | | what the ensemble is called (a preset's name) |
    """

    def __init__(self, runs: Sequence[Run], name: str) -> None:
        runs = tuple(Run(*run) for run in runs)
        if not runs or not all(isinstance(run.model, Model) for run in runs):
            raise ValueError("runs must be one or more Run(model, mirrored, reversed) of vsanimsplat Models")
        if runs[0].mirrored or runs[0].reversed:
            raise ValueError("the first run must be in order and not mirrored: its flows are the ensemble's")
        if len(set(runs)) != len(runs):
            raise ValueError("runs must differ from each other: the same run twice only weighs it twice")
        models = list({id(run.model): run.model for run in runs}.values())
        if len({m.device for m in models}) != 1:
            raise ValueError(f"the runs' models must run on one device, got {sorted(str(m.device) for m in models)}")
        if any(m.changes is not None for m in models):
            raise ValueError("the runs' models must have no change policy of their own (changes=None): the ensemble's applies")
        dtypes = {m.dtype for m in models}  # each model gets the picture in its own dtype
        super().__init__(models[0].device, dtypes.pop() if len(dtypes) == 1 else torch.float32, models[0].padding)
        self.runs, self.name, self.models = runs, name, models
        self._views = list({(id(run.model), run.mirrored): (run.model, run.mirrored) for run in runs}.values())
        self.multiple = math.lcm(*(m.multiple for m in models))
        self.has_flows = runs[0].model.has_flows
        self.min_region = max(m.min_region for m in models)

    def networks(self) -> dict[str, nn.Module]:
        """Every model's networks by role (models sharing a role share its weight file)."""
        return {role: network for m in self.models for role, network in m.networks().items()}

    def _view(self, run: Run) -> int:
        return self._views.index((run.model, run.mirrored))

    def _prepare(self, image: torch.Tensor, size: tuple[int, int]) -> EnsembleFrame:
        # each model sees the picture as it would alone: padded (on the right and bottom, mirrored or not) to its own
        # multiple, in its own dtype; so mirroring the frames mirrors a mirrored run's output
        picture = image[..., :size[0], :size[1]]
        views = tuple(model._prepare(pad_to_multiple(picture.flip(-1) if mirrored else picture, model.multiple,
                                                     self.padding).to(model.dtype), size)
                      for model, mirrored in self._views)
        return EnsembleFrame(image=image, size=size, views=views)

    def _pair(self, a: FrameState, b: FrameState) -> EnsemblePair:
        a, b = self._check(a, EnsembleFrame), self._check(b, EnsembleFrame)
        pairs = []
        for run in self.runs:
            first, second = a.views[self._view(run)], b.views[self._view(run)]
            pairs.append(run.model._pair(second, first) if run.reversed else run.model._pair(first, second))
        return EnsemblePair(a=a, b=b, pairs=tuple(pairs))

    def _synthesize(self, pair: PairState, t: float) -> tuple[torch.Tensor, ...]:
        pair = self._check(pair, EnsemblePair)
        size, shape = pair.a.size, pair.a.image.shape
        # each run's picture clamped as it would be alone: to [0, 1] or the inputs' own extremes beyond it
        low = torch.minimum(pair.a.image.min(), pair.b.image.min()).float().clamp(max=0.0)
        high = torch.maximum(pair.a.image.max(), pair.b.image.max()).float().clamp(min=1.0)
        images, holes, sampled = [], [], None
        for index, (run, inner) in enumerate(zip(self.runs, pair.pairs)):
            image, hole, *flows = run.model._synthesize(inner, 1 - t if run.reversed else t)
            images.append(_placed(image.float().clamp(low, high), size, shape, run.mirrored))
            holes.append(None if hole is None else _placed(hole, size, shape, run.mirrored))
            if index == 0 and flows:
                sampled = _placed(flows[0], size, shape, False)
        image, hole = combine(images, holes)
        return (image, hole) if sampled is None else (image, hole, sampled)

    def _flows(self, pair: PairState) -> tuple[torch.Tensor, torch.Tensor]:
        pair = self._check(pair, EnsemblePair)
        return self.runs[0].model._flows(pair.pairs[0])

    def __repr__(self) -> str:
        runs = ", ".join(run.model.name + " mirrored" * run.mirrored + " reversed" * run.reversed for run in self.runs)
        return f"Ensemble(name={self.name!r}, runs=[{runs}], device={str(self.device)!r})"
