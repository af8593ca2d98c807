"""Ensembles: several in-betweens of the same pair, by other models or on mirrored or reversed frames, combined.

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

The output combines the runs' pictures (each clamped as it would be alone) by the ensemble's
``combination`` (:func:`combine`): their mean, or (``"lines"``) the mean except near line art where
the runs disagree, where the picture of the run the others agree with most is taken, so that a line
two runs draw a pixel or two apart is not drawn twice at half contrast. Where a splatting run left a
hole only the runs without a hole count, and the ensemble reports a hole only where every run has
one. :meth:`Ensemble.variants` gives several sub-ensembles' pictures (runs, combination) from one set
of the runs' pictures, for measuring them against each other. Flows (``flows``, and what the change policy
carries along them) are the first run's. A change policy applies to the ensemble as a whole: all
runs work on the same crop.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import BadOption
from .base import ChangedPair, FrameState, Model, PairState, Synthesis, pad_to_multiple

__all__ = ["COMBINATIONS", "Ensemble", "EnsembleFrame", "EnsemblePair", "LINES", "LineRule", "Run", "combine"]


COMBINATIONS = ("mean", "lines")
"""How an :class:`Ensemble` combines its runs' pictures (:func:`combine`): ``"mean"`` the per-pixel mean (the
default, the presets'), ``"lines"`` the mean except near line art where the runs disagree (sharper lines where the
runs draw them apart, at some PSNR: ``benchmarks/presets.md``)."""


@dataclass(frozen=True)
class LineRule:
    """The settings of the ``"lines"`` combination (:func:`combine`). The defaults were chosen on the runs' pictures of
    3 eye, 6 Middlebury and 5 Tupi triplets at t = ½ (issue 31); measured in ``benchmarks/presets.md``, where they cost
    up to 0.16 dB on the Tupi cartoon, which is why no preset uses ``"lines"``.

    | field | type | default | meaning |
    |---|---|---|---|
    | `reach` | int | 2 | pixels (Chebyshev) around an edge of any picture (a run's or an input's) that count as near line art |
    | `edge` | tuple of float | (0.02, 0.08) | luma gradient (Sobel, per pixel) from which a pixel starts to be, and is fully, an edge |
    | `window` | int | 7 | side of the square over which each run's disagreement with the others is averaged |
    | `spread` | tuple of float | (0.02, 0.05) | the runs' largest disagreement from which they start to, and fully, count as disagreeing |
    | `sharpness` | float | 0.1 | how firmly the run the others agree with most is taken (the temperature of a softmax over the disagreements) |
    """

    reach: int = 2
    edge: tuple[float, float] = (0.02, 0.08)
    window: int = 7
    spread: tuple[float, float] = (0.02, 0.05)
    sharpness: float = 0.1


LINES = LineRule()
"""The ``"lines"`` combination's settings."""

_LUMA = (0.299, 0.587, 0.114)


def _box(x: torch.Tensor, size: int) -> torch.Tensor:
    """The mean of ``x`` (N, 1, H, W) over a ``size``×``size`` square around each pixel (edges replicated)."""
    half = size // 2
    padded = F.pad(x, (half, size - 1 - half) * 2, mode="replicate")
    return F.avg_pool2d(F.avg_pool2d(padded, (size, 1), 1), (1, size), 1)  # separable: rows, then columns


def _gradient(image: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W): the magnitude of the luma gradient of ``image`` (N, 3, H, W) (Sobel, normalised to a unit step)."""
    luma = (image * image.new_tensor(_LUMA).view(1, 3, 1, 1)).sum(1, keepdim=True)
    padded = F.pad(luma, (1, 1, 1, 1), mode="replicate")
    # the Sobel kernels as sums of slices (elementwise, much faster on the CPU than a one-channel convolution)
    down = padded[..., :-2, :] + 2 * padded[..., 1:-1, :] + padded[..., 2:, :]
    across = padded[..., :-2] + 2 * padded[..., 1:-1] + padded[..., 2:]
    return torch.hypot(down[..., 2:] - down[..., :-2], across[..., 2:, :] - across[..., :-2, :]) / 8


def _ramp(x: torch.Tensor, bounds: tuple[float, float]) -> torch.Tensor:
    """0 below ``bounds[0]``, 1 above ``bounds[1]``, linear between."""
    return ((x - bounds[0]) / (bounds[1] - bounds[0])).clamp(0, 1)


def _agreed(stack: torch.Tensor, valid: torch.Tensor, frames: Sequence[torch.Tensor],
            rule: LineRule) -> tuple[torch.Tensor, torch.Tensor]:
    """(1, 3, H, W) how much to take the agreed pick (not the mean) and (N, 1, 3, H, W) the pick's weights, each
    colour channel on its own."""
    count = stack.shape[0]
    pictures = torch.cat([stack[:, 0], *frames]) if frames else stack[:, 0]
    edges = _gradient(pictures).amax(0, keepdim=True)
    near = _ramp(F.max_pool2d(F.pad(edges, (rule.reach,) * 4, mode="replicate"), 2 * rule.reach + 1, 1), rule.edge)
    # each run's disagreement with the others (those without a hole there), averaged over a window
    total, weight = torch.zeros_like(stack), torch.zeros_like(valid)  # (N, 1, 3, H, W), (N, 1, 1, H, W)
    for i in range(count):
        for j in range(i + 1, count):
            difference = (stack[i] - stack[j]).abs()
            total[i] += valid[j] * difference
            total[j] += valid[i] * difference
            weight[i] += valid[j]
            weight[j] += valid[i]
    disagreement = total / weight.clamp(min=1e-6)
    disagreement = _box(disagreement[:, 0], rule.window)[:, None]
    disagreement = disagreement + (1 - valid) * 1e3  # a run with a hole there is never the pick
    spread = _ramp((disagreement * valid).amax(0), rule.spread)
    return near * spread, torch.softmax(-disagreement / rule.sharpness, 0)


def combine(images: Sequence[torch.Tensor], holes: Sequence[torch.Tensor | None], frames: Sequence[torch.Tensor] = (),
            rule: str = "mean", lines: LineRule = LINES) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Runs' pictures ``images`` combined into one: their mean (``rule="mean"``), or (``"lines"``) the mean except near
    line art where they disagree, where the picture of the run the others agree with most is taken.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `images` | sequence of Tensor (1, 3, H, W) | | the outputs to combine |
    | `holes` | sequence of Tensor (1, 1, H, W) bool or None | | each output's holes (None: it has none) |
    | `frames` | sequence of Tensor (1, 3, H, W) | () | the input pictures, whose edges also count as line art for ``"lines"`` |
    | `rule` | str | "mean" | one of :data:`COMBINATIONS` |
    | `lines` | LineRule | :data:`LINES` | the settings of ``"lines"`` |

    The mean is per pixel over the outputs without a hole there (all of them where every one has a hole).
    ``"lines"``: averaging two runs that draw a line a pixel or two apart draws it twice at half contrast (a
    soft double edge). So near an edge of any output or input (``lines.reach``), where the runs' pictures differ
    (``lines.spread``: the largest of each run's mean difference from the others over ``lines.window``), it
    takes the run whose picture differs least from the others' (softly: a softmax of the differences at
    ``lines.sharpness``; each colour channel on its own), which a run left a hole in is never; elsewhere (flat areas, texture, where the runs
    agree) it keeps the mean, which is closer to the truth than any one run. Symmetric: neither the order of
    the runs nor of the frames, nor mirroring the pictures, changes the result. With two runs the pick is
    their mean (neither is agreed with more), so ``"lines"`` equals ``"mean"``.

    Returns the combined picture and where every output has a hole (None when no output reports holes).
    """
    if len(images) != len(holes) or not images:
        raise BadOption("models.ensemble.combine", "holes" if images else "images",
                        f"images and holes must be non-empty and of the same length, got {len(images)} and {len(holes)}")
    if rule not in COMBINATIONS:
        raise BadOption("models.ensemble.combine", "rule", f"rule must be one of {COMBINATIONS}, got {rule!r}")
    stack = torch.stack(list(images))
    if all(h is None for h in holes):
        valid, everywhere = torch.ones_like(stack[:, :, :1]), None
    else:
        valid = torch.stack([torch.ones_like(images[0][:, :1]) if h is None else (~h).to(stack.dtype) for h in holes])
        everywhere = valid.sum(0) == 0
        valid[:, everywhere] = 1  # every output has a hole there: the plain mean
    image = (stack * valid).sum(0) / valid.sum(0)
    if rule == "lines" and len(images) > 2:
        amount, weights = _agreed(stack, valid, frames, lines)
        image = torch.lerp(image, (stack * weights).sum(0), amount)
    return image, everywhere


def _placed(image: torch.Tensor, size: tuple[int, int], shape: torch.Size, mirror: bool) -> torch.Tensor:
    """A member's padded output as the ensemble's: its picture (the top left ``size``), mirrored back if ``mirror``,
    in the top left of a zero tensor of the ensemble's padded ``shape``."""
    picture = image[..., :size[0], :size[1]]
    out = picture.new_zeros((*picture.shape[:-2], *shape[-2:]))
    out[..., :size[0], :size[1]] = picture.flip(-1) if mirror else picture
    return out


class _Pictures(NamedTuple):
    """Every run's padded picture at one ``t`` (:meth:`Ensemble._pictures`)."""

    images: list[torch.Tensor]
    holes: list[torch.Tensor | None]
    sampled: torch.Tensor | None
    frames: tuple[torch.Tensor, torch.Tensor]


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
    """In-betweens of several runs combined into one (see the module docstring).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `runs` | sequence of Run | | what is averaged, each run once; models on one device, without change policies; the first run's flows are the ensemble's |
    | `name` | str | | what the ensemble is called (a preset's name) |
    | `combination` | str | "mean" | how the runs' pictures are combined: one of :data:`COMBINATIONS` (:func:`combine`) |
    """

    def __init__(self, runs: Sequence[Run], name: str, combination: str = "mean") -> None:
        if combination not in COMBINATIONS:
            raise BadOption("models.Ensemble", "combination", f"combination must be one of {COMBINATIONS}, got {combination!r}")
        runs = tuple(Run(*run) for run in runs)
        if not runs or not all(isinstance(run.model, Model) for run in runs):
            raise BadOption("models.Ensemble", "runs", "runs must be one or more Run(model, mirrored, reversed) of vsanimsplat Models")
        if runs[0].mirrored or runs[0].reversed:
            raise BadOption("models.Ensemble", "runs", "the first run must be in order and not mirrored: its flows are the ensemble's")
        if len(set(runs)) != len(runs):
            raise BadOption("models.Ensemble", "runs", "runs must differ from each other: the same run twice only weighs it twice")
        models = list({id(run.model): run.model for run in runs}.values())
        if len({m.device for m in models}) != 1:
            raise BadOption("models.Ensemble", "runs",
                            f"the runs' models must run on one device, got {sorted(str(m.device) for m in models)}")
        if any(m.changes is not None for m in models):
            raise BadOption("models.Ensemble", "runs",
                            "the runs' models must have no change policy of their own (changes=None): the ensemble's applies")
        dtypes = {m.dtype for m in models}  # each model gets the picture in its own dtype
        super().__init__(models[0].device, dtypes.pop() if len(dtypes) == 1 else torch.float32, models[0].padding)
        self.runs, self.name, self.models, self.combination = runs, name, models, combination
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
        parts = self._pictures(pair, t)
        return self._combined(parts, range(len(self.runs)), self.combination)

    def _pictures(self, pair: PairState, t: float) -> _Pictures:
        """Every run's padded picture and holes at ``t``, the first run's sampled flows, and the frames."""
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
        return _Pictures(images, holes, sampled, (pair.a.image.float(), pair.b.image.float()))

    @staticmethod
    def _combined(parts: _Pictures, runs: Iterable[int], combination: str | LineRule) -> tuple[torch.Tensor, ...]:
        """What ``_synthesize`` returns for the runs numbered ``runs`` combined by ``combination`` (a LineRule:
        ``"lines"`` with those settings)."""
        runs = list(runs)
        rule, settings = ("lines", combination) if isinstance(combination, LineRule) else (combination, LINES)
        image, hole = combine([parts.images[i] for i in runs], [parts.holes[i] for i in runs], parts.frames, rule,
                              settings)
        return (image, hole) if parts.sampled is None else (image, hole, parts.sampled)

    @torch.inference_mode()
    def variants(self, pair: PairState, t: float,
                 chosen: Mapping[str, tuple[Sequence[int], str | LineRule]]) -> dict[str, Synthesis]:
        """The picture at ``t`` of several sub-ensembles, from one set of the runs' pictures (to measure runs and
        combinations against each other at the cost of one :meth:`synthesize`).

        | parameter | type | meaning |
        |---|---|---|
        | `pair` | PairState | from :meth:`pair` |
        | `t` | float | the time, 0 < t < 1 |
        | `chosen` | mapping of str to (sequence of int, str or LineRule) | each variant's runs (indices into ``runs``, the first one 0: its flows are the variant's) and combination (one of :data:`COMBINATIONS`, or a :class:`LineRule`: ``"lines"`` with those settings) |

        Each variant is what an ensemble of those runs with that combination and this ensemble's change policy
        would return; ``((0,), "mean")`` is the first run's model alone.
        """
        t = float(t)
        if not 0.0 < t < 1.0:
            raise BadOption("models.Ensemble.variants", "t", f"t must be strictly between 0 and 1, got {t}")
        for label, (runs, combination) in chosen.items():
            if not runs or runs[0] != 0 or not set(runs) <= set(range(len(self.runs))) or len(set(runs)) != len(runs):
                raise BadOption("models.Ensemble.variants", "chosen",
                                f"variant {label!r}: runs must be distinct indices of runs, the first 0, got {runs!r}")
            if not isinstance(combination, LineRule) and combination not in COMBINATIONS:
                raise BadOption("models.Ensemble.variants", "chosen",
                                f"variant {label!r}: combination must be one of {COMBINATIONS}, got {combination!r}")
        if isinstance(pair, ChangedPair):
            crossfade = torch.lerp(pair.a.source, pair.b.source, t).clamp(*self._bounds(pair))
            parts = [self._pictures(region.inner, t) for region in pair.regions]
            return {label: self._compose(pair, t, crossfade, [self._combined(p, runs, combination) for p in parts])
                    for label, (runs, combination) in chosen.items()}
        whole = self._pictures(pair, t)
        height, width = pair.a.size
        out = {}
        for label, (runs, combination) in chosen.items():
            image, holes, *_ = self._combined(whole, runs, combination)
            out[label] = Synthesis(image=image[..., :height, :width].float().clamp(*self._bounds(pair)),
                                   holes=None if holes is None else holes[..., :height, :width])
        return out

    def _flows(self, pair: PairState) -> tuple[torch.Tensor, torch.Tensor]:
        pair = self._check(pair, EnsemblePair)
        return self.runs[0].model._flows(pair.pairs[0])

    def __repr__(self) -> str:
        runs = ", ".join(run.model.name + " mirrored" * run.mirrored + " reversed" * run.reversed for run in self.runs)
        return f"Ensemble(name={self.name!r}, runs=[{runs}], combination={self.combination!r}, device={str(self.device)!r})"
