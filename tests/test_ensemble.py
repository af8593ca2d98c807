"""Presets and ensembles: resolved through the registry, combined by their rule, symmetric where they must be."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import vapoursynth as vs

import vsanimsplat
from vsanimsplat.models import (DEFAULT_PRESET, PRESETS, RIFE, Blend, Ensemble, Model, Preset, Run, SplatOnly, load_model,
                                load_preset, preset)
from vsanimsplat.models.ensemble import COMBINATIONS, LINES, combine
from vsanimsplat.models.weights import installed
from tests.helpers import synthetic_clip

_union_installed = pytest.mark.skipif(
    set(installed()["union"].values()) != {"ok"},
    reason="GMFSS union weights not installed: run python -m vsanimsplat models fetch union",
)


def needs_union(test):
    """The published union weights run on the CPU: skipped without them, and slow (``make test`` runs it, not
    ``make check``)."""
    return pytest.mark.slow(_union_installed(test))


def pictures(width: int = 96, height: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two pictures of a textured disc that moves 6 px right, on a textured background."""
    rng = np.random.default_rng(seed)
    background = rng.uniform(0.2, 0.8, (3, height, width)).astype(np.float32)
    yy, xx = np.mgrid[:height, :width]
    frames = []
    for cx in (width / 2 - 3, width / 2 + 3):
        disc = (xx - cx) ** 2 + (yy - height / 2) ** 2 < (height / 4) ** 2
        frame = background.copy()
        frame[:, disc] = 0.9
        frames.append(torch.from_numpy(frame)[None])
    return frames[0], frames[1]


@pytest.fixture(scope="module")
def members() -> list[Model]:
    """union and rife with their published weights, without change policies (loaded once for the module)."""
    return [load_model(name, device="cpu", static_tolerance=None) for name in ("union", "rife")]


def synthesized(model: Model, a: torch.Tensor, b: torch.Tensor, t: float):
    return model.synthesize(model.pair(model.prepare(a), model.prepare(b)), t)


def test_every_preset_names_runs_of_registered_models_and_the_default_is_one():
    assert DEFAULT_PRESET in PRESETS
    for name, chosen in PRESETS.items():
        assert preset(name) is chosen
        assert all(m in vsanimsplat.models.SPECS for m, _, _ in chosen.parsed())
    assert Preset("x", ("union", "rife mirrored reversed")).parsed() == [("union", False, False), ("rife", True, True)]
    with pytest.raises(ValueError, match="preset must be one of 'fast', 'default'"):
        preset("balanced")
    with pytest.raises(ValueError, match="a run is a model name"):
        Preset("x", ("union", "rife upside-down"))
    with pytest.raises(ValueError, match="first run must be a plain model"):
        Preset("x", ("rife mirrored", "rife"))


def test_combine_is_the_mean_of_the_outputs_without_a_hole():
    images = [torch.full((1, 3, 2, 2), v) for v in (0.2, 0.4, 0.9)]
    holes = [torch.tensor([[[[True, False], [True, False]]]]), None, torch.tensor([[[[True, True], [False, False]]]])]
    image, hole = combine(images, holes)
    assert torch.allclose(image[0, 0], torch.tensor([[0.4, 0.3], [0.65, 0.5]]))
    assert not hole.any()  # the middle output has no holes anywhere
    image, hole = combine([images[0], images[2]], [holes[0], holes[2]])
    assert hole.tolist() == [[[[True, False], [False, False]]]]
    assert torch.allclose(image[0, 0], torch.tensor([[0.55, 0.2], [0.9, 0.55]]))  # both holes: the plain mean


def edge_pictures(*positions: float, width: int = 48, height: int = 24) -> list[torch.Tensor]:
    """Pictures of a dark line art edge (0.1 left of ``position``, 0.9 from it on) on a faint texture, one per position;
    a fractional position is drawn anti-aliased."""
    texture = 0.02 * torch.sin(torch.arange(height * width, dtype=torch.float32).view(1, 1, height, width))
    xx = torch.arange(width, dtype=torch.float32).view(1, 1, 1, width)
    return [(0.1 + 0.8 * (xx - position + 1).clamp(0, 1) + texture).expand(1, 3, height, width).contiguous()
            for position in positions]


def test_lines_keeps_the_edge_the_runs_agree_on_sharp_where_the_mean_draws_it_twice():
    # two runs put the edge at x = 20, a third at x = 24: the mean draws two edges (2/3 and 1/3 of the step),
    # "lines" one sharp edge where the two agree, and the mean away from it
    runs = edge_pictures(20, 20, 24)
    frames = edge_pictures(16, 28)
    mean, _ = combine(runs, [None] * 3, frames, "mean")
    lines, _ = combine(runs, [None] * 3, frames, "lines")
    row = lines[0, 0, 12]
    steps = (row[1:] - row[:-1]).abs()
    assert steps.max() > 0.75 and (steps > 0.1).sum() == 1  # one edge, (nearly) the whole step
    assert torch.allclose(lines, runs[0], atol=0.05)
    mean_steps = (mean[0, 0, 12, 1:] - mean[0, 0, 12, :-1]).abs()
    assert (mean_steps > 0.1).sum() == 2 and mean_steps.max() < 0.6  # the mean: two half edges
    assert torch.equal(lines[..., :10], mean[..., :10]) and torch.equal(lines[..., 34:], mean[..., 34:])


def test_lines_is_the_mean_where_runs_agree_with_two_runs_and_in_holes():
    generator = torch.Generator().manual_seed(0)
    flat = [0.5 + 0.003 * torch.rand((1, 3, 24, 48), generator=generator) for _ in range(3)]  # agree within noise
    assert torch.equal(combine(flat, [None] * 3, (), "lines")[0], combine(flat, [None] * 3, (), "mean")[0])
    two = edge_pictures(20, 24)  # two runs: neither is agreed with more
    assert torch.allclose(combine(two, [None, None], (), "lines")[0], combine(two, [None, None], (), "mean")[0])
    runs = edge_pictures(20, 20, 24)
    hole = torch.zeros((1, 1, 24, 48), dtype=torch.bool)
    hole[..., 16:26] = True  # where the runs that agree both have a hole, only the third counts
    image, holes = combine(runs, [hole, hole.clone(), None], (), "lines")
    assert not holes.any() and torch.allclose(image[..., 16:26], runs[2][..., 16:26])
    with pytest.raises(ValueError, match="rule must be one of"):
        combine(runs, [None] * 3, (), "median")
    with pytest.raises(ValueError, match="combination must be one of"):
        Ensemble([Run(Blend())], "x", combination="median")
    assert COMBINATIONS == ("mean", "lines") and LINES.reach >= 1


def test_lines_is_symmetric_in_the_order_of_runs_and_frames_and_under_mirroring():
    runs = edge_pictures(19.5, 21, 24)
    frames = edge_pictures(16, 28)
    image, _ = combine(runs, [None] * 3, frames, "lines")
    assert torch.allclose(combine(runs[::-1], [None] * 3, frames[::-1], "lines")[0], image, atol=1e-6)
    mirrored, _ = combine([x.flip(-1) for x in runs], [None] * 3, [x.flip(-1) for x in frames], "lines")
    assert torch.allclose(mirrored.flip(-1), image, atol=1e-6)


class Leaning(Blend):
    """A cross-fade that leans: towards the right by ``lean`` and later in time by ``late`` (so its mirrored and
    reversed runs differ from it), with a sampled flow of zeros (what tells the change policy where pixels are)."""

    def __init__(self, lean: float, late: float) -> None:
        super().__init__()
        self.lean, self.late = lean, late

    def _synthesize(self, pair, t):
        ramp = torch.linspace(0, self.lean, pair.a.image.shape[-1])
        image = torch.lerp(pair.a.image, pair.b.image, min(1.0, t + self.late)) + ramp
        return image, None, torch.zeros((1, 4, *pair.a.image.shape[-2:]))


def test_variants_are_the_sub_ensembles_from_one_set_of_pictures():
    a, b = pictures(64, 32)
    first, second = Leaning(0.05, 0.1), Leaning(-0.03, 0.2)
    whole = Ensemble([Run(first), Run(second), Run(second, mirrored=True), Run(first, reversed=True)], "test",
                     combination="lines")
    part = Ensemble([Run(first), Run(second, mirrored=True)], "part", combination="mean")
    for policy in (None, vsanimsplat.models.ChangePolicy(20, True)):
        for model in (whole, part, first):
            model.changes = policy
        pair = whole.pair(whole.prepare(a), whole.prepare(b))
        chosen = {"all": ([0, 1, 2, 3], "lines"), "part": ([0, 2], "mean"), "alone": ([0], "mean")}
        got = whole.variants(pair, 0.3, chosen)
        for label, model in (("all", whole), ("part", part), ("alone", first)):
            expected = synthesized(model, a, b, 0.3)
            assert torch.allclose(got[label].image, expected.image, atol=1e-6), (label, policy)
        assert not torch.allclose(got["all"].image, got["part"].image, atol=1e-3)
        first.changes = None
    with pytest.raises(ValueError, match="the first 0"):
        whole.variants(pair, 0.5, {"x": ([1, 2], "mean")})


@needs_union
def test_presets_load_the_runs_they_name():
    for name, chosen in PRESETS.items():
        model = load_preset(name)
        if isinstance(model, Ensemble):
            assert [(run.model.name, run.mirrored, run.reversed) for run in model.runs] == chosen.parsed()
            assert len(model.models) == len(chosen.models)  # each model loaded once
        else:
            assert chosen.parsed() == [(model.name, False, False)]
        assert model.changes is not None and model.changes.tolerance == vsanimsplat.models.DEFAULT_STATIC_TOLERANCE


@needs_union
def test_an_ensemble_is_the_mean_of_its_runs_except_in_a_splatting_runs_holes(members):
    a, b = pictures()
    union, rife = members
    ensemble = Ensemble([Run(union), Run(rife), Run(rife, mirrored=True)], "test", combination="mean")
    for t in (0.25, 0.5):
        parts = [synthesized(union, a, b, t), synthesized(rife, a, b, t),
                 synthesized(rife, a.flip(-1), b.flip(-1), t)]
        combined = synthesized(ensemble, a, b, t)
        # the mean, but where union's splatting left a hole only the IFNet's pictures count: no hole is left
        rifes = (parts[1].image + parts[2].image.flip(-1)) / 2
        expected = torch.where(parts[0].holes, rifes, (parts[0].image + 2 * rifes) / 3)
        assert parts[0].holes.any() and torch.allclose(combined.image, expected, atol=1e-6)
        assert combined.image.shape == a.shape and not combined.holes.any()


@needs_union
def test_an_ensemble_of_every_mirrored_and_reversed_run_is_symmetric_in_space_and_time(members):
    a, b = pictures()
    both = Ensemble([Run(m, mirrored, backwards) for m in members for mirrored in (False, True)
                     for backwards in (False, True)], "test")
    forward = synthesized(both, a, b, 0.3).image
    assert torch.allclose(synthesized(both, b, a, 0.7).image, forward, atol=1e-5)  # time reversal
    assert torch.allclose(synthesized(both, a.flip(-1), b.flip(-1), 0.3).image, forward.flip(-1), atol=1e-5)  # mirror
    # a pair whose reverse is its mirror image (a disc moves from left of centre to right of it on a
    # mirror-symmetric background): its in-between at ½ is mirror-symmetric
    symmetric = (a + a.flip(-1)) / 2
    yy, xx = np.mgrid[:64, :96]
    a2 = symmetric.clone()
    a2[..., torch.from_numpy((xx - 40) ** 2 + (yy - 32) ** 2 < 100)] = 0.95
    b2 = a2.flip(-1)
    middle = synthesized(both, a2, b2, 0.5).image
    assert torch.allclose(middle, middle.flip(-1), atol=1e-5)
    plain = synthesized(members[0], a2, b2, 0.5).image  # union alone is not: the ensemble's symmetry is its own
    assert not torch.allclose(plain, plain.flip(-1), atol=1e-3)


def test_an_ensemble_needs_distinct_runs_of_plain_models_the_first_in_order():
    rife = RIFE()
    for runs, message in (([], "one or more"), ([Run(rife, mirrored=True), Run(rife)], "first run must be in order"),
                          ([Run(rife), Run(rife)], "must differ")):
        with pytest.raises(ValueError, match=message):
            Ensemble(runs, "x")
    rife.changes = vsanimsplat.models.ChangePolicy(20, True)
    with pytest.raises(ValueError, match="no change policy"):
        Ensemble([Run(rife)], "x")


@pytest.mark.slow
def test_an_ensemble_keeps_identical_pictures_exact_and_reports_the_first_runs_flows():
    a, b = pictures(64, 64)
    splat = SplatOnly()
    ensemble = Ensemble([Run(splat), Run(RIFE(), mirrored=True), Run(splat, reversed=True)], "test")
    ensemble.changes = vsanimsplat.models.ChangePolicy(20, True)
    assert torch.equal(synthesized(ensemble, a, a, 0.5).image, a)
    pair = ensemble.pair(ensemble.prepare(a), ensemble.prepare(b))
    alone = splat.pair(splat.prepare(a), splat.prepare(b))
    assert all(torch.allclose(x, y, atol=1e-5) for x, y in zip(ensemble.flows(pair), splat.flows(alone)))


@needs_union
def test_interpolate_takes_a_preset_or_a_model_and_names_both_when_given_both():
    clip, _ = synthetic_clip([2, 2], 64, 64)
    def middle(**chosen) -> np.ndarray:  # on the CPU: CUDA's splatting adds with atomics, in no fixed order
        return np.asarray(vsanimsplat.interpolate(clip, factor=2, device="cpu", **chosen).get_frame(1)[0])

    fast = middle(preset="fast")
    assert np.array_equal(fast, middle(model=load_preset("fast", device="cpu")))
    assert not np.array_equal(fast, middle(preset="default"))
    assert np.array_equal(middle(), middle(preset=DEFAULT_PRESET))
    with pytest.raises(vs.Error, match="give model or preset, not both"):
        vsanimsplat.interpolate(clip, factor=2, model="rife", preset="fast")
    with pytest.raises(vs.Error, match="preset must be one of"):
        vsanimsplat.interpolate(clip, factor=2, preset="quality")
