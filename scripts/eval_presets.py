#!/usr/bin/env python
"""The presets: PSNR and line chamfer per set and per time t, old (mean) against new (lines) combination, written
to benchmarks/presets.md.

Methods (every one with the defaults users get: static pixels kept, networks on the changed region):
``union`` alone (the default before presets), every preset (``vsanimsplat.models.registry.PRESETS``) with its runs
combined by their mean (``combination="mean"``, the presets' rule) and by the ``"lines"`` rule (issue 31), the
candidates of :data:`CANDIDATES` and of ``--candidate`` (run lists of any models, e.g. ``rife4``
beside ``fast``'s runs, by their mean and by ``"lines"``), and a 50/50 blend. Each case's pair is made once by an
:class:`~vsanimsplat.models.ensemble.Ensemble` of every run any method needs (one per first run: its flows are a
variant's), and every method is one of its ``variants`` (``Ensemble.variants``), so all methods of a table score the
same runs' pictures. Sets, every output rounded to 8 bits:

* **eye, t = ½**: ``synfig-eye-48fps.mkv`` triplets (48 fps frames 2k, 2k+1, 2k+2) whose middle lies in frames 56–166;
* **eye on twos, t = ¼ ½ ¾**: 48 fps frames k and k+4 (a clip on twos), truth the three frames between;
* **eye on threes, t = ⅓ ⅔**: frames k and k+3;
* **Middlebury, t = ½**: the "other" sequences with a ground-truth middle frame;
* **Tupi, t = ½ / ¼ ½ ¾ / ⅓ ⅔**: the Tupi cartoon's drawings (``tupi-butterfly-18fps.avi``, drawn on ones from frame
  15 to 72): drawings k−1, k+1 (truth k); k, k+4; k, k+3;
* **synthetic cartoons, t = ¼ ⅓ ½ ⅔ ¾**: ``vsanimsplat.testing.Scene`` (outlined flat shapes over a textured panning
  background) at 512×288, rendered exactly at each t.

Line chamfer (pixels, lower is better): Canny edges (OpenCV, thresholds 100/200 on 8-bit luma) of the output and
of the truth; the mean distance from each edge pixel of one to the nearest edge pixel of the other, both ways,
averaged (the EISAI paper's measure of line art). Cost: the combination's own time per 1280×720 picture, as a
ratio to the mean's (the networks' time is the same for both).

Usage: ``python scripts/eval_presets.py [--data ../shared/data] [--out benchmarks/presets.md] [--cases N] [--off-cases N]
[--bf16 auto]
[--candidate LABEL=RUN+RUN… …]``
(needs the weights, ``python -m vsanimsplat models fetch union``, and OpenCV: ``pip install .[bench]``).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from vsanimsplat.evaluation import DATA, EYE_MOTION, middlebury_triplets, quantise, to_tensor, video_frames
from vsanimsplat.machine import describe
from vsanimsplat.metrics import psnr
from vsanimsplat.models import DEFAULT_STATIC_TOLERANCE, ChangePolicy, Ensemble, Model, Run, load_model
from vsanimsplat.models.ensemble import LineRule, combine
from vsanimsplat.models.registry import DEFAULT_PRESET, PRESETS, SPECS, Preset
from vsanimsplat.testing import Scene

REPO = Path(__file__).resolve().parents[1]
TUPI_DRAWINGS = (15, 72)
"""The Tupi cartoon's frames drawn on ones (each a new drawing; frame 14 repeats 13, the motion stops after 72)."""

CANDIDATES: dict[str, tuple[str, ...]] = {
    "default + reversed": ("union", "rife", "rife mirrored", "union reversed", "rife reversed", "rife mirrored reversed"),
    "default + rife reversed": ("union", "rife", "rife mirrored", "rife reversed", "rife mirrored reversed"),
    "fast + reversed": ("rife", "rife mirrored", "rife reversed", "rife mirrored reversed"),
}
"""Run lists measured beside the presets (combined by ``"lines"``): the presets with their time-reversed runs
(``union reversed``, a second flow estimation, only on the sets with off-centre times)."""

FIRMER = LineRule(spread=(0.03, 0.08), sharpness=0.03)
"""Other settings of ``"lines"`` measured on the default preset's runs: a firmer pick where the runs disagree more."""


@dataclass(frozen=True)
class Case:
    """Two input frames and the truth at times ``ts`` between them, (1, 3, H, W) float32 in [0, 1]."""

    set: str
    frame0: torch.Tensor
    frame1: torch.Tensor
    ts: tuple[float, ...]
    truths: tuple[torch.Tensor, ...]


def spaced(cases: list[Case], count: int) -> list[Case]:
    """``count`` of ``cases`` evenly spaced from the first to the last (all of them when ``count`` is 0)."""
    if not count or count >= len(cases):
        return cases
    return [cases[round(i * (len(cases) - 1) / max(count - 1, 1))] for i in range(count)]


def eye_cases(data: Path) -> dict[str, list[Case]]:
    """The eye's triplets at t = ½, its pairs on twos at t = ¼, ½, ¾ and on threes at ⅓, ⅔ (frames 56–166)."""
    frames = [to_tensor(f) for f in video_frames(data / "synfig-eye-48fps.mkv")]
    lo, hi = EYE_MOTION
    halves = [Case("eye ½", frames[k - 1], frames[k + 1], (0.5,), (frames[k],)) for k in range(lo, hi + 1) if k % 2]
    twos = [Case("eye on twos", frames[k], frames[k + 4], (0.25, 0.5, 0.75), tuple(frames[k + 1:k + 4]))
            for k in range(lo, hi - 3, 4)]
    threes = [Case("eye on threes", frames[k], frames[k + 3], (1 / 3, 2 / 3), tuple(frames[k + 1:k + 3]))
              for k in range(lo + 2, hi - 2, 6)]
    return {"eye ½": halves, "eye on twos": twos, "eye on threes": threes}


def tupi_cases(data: Path) -> dict[str, list[Case]]:
    """The Tupi cartoon's drawings: triplets at t = ½, pairs 4 drawings apart at ¼ ½ ¾ and 3 apart at ⅓ ⅔."""
    frames = [to_tensor(f) for f in video_frames(data / "tupi-butterfly-18fps.avi")]
    lo, hi = TUPI_DRAWINGS
    halves = [Case("Tupi ½", frames[k - 1], frames[k + 1], (0.5,), (frames[k],)) for k in range(lo + 2, hi, 3)]
    fours = [Case("Tupi on fours", frames[k], frames[k + 4], (0.25, 0.5, 0.75), tuple(frames[k + 1:k + 4]))
             for k in range(lo + 1, hi - 3, 6)]
    threes = [Case("Tupi on threes", frames[k], frames[k + 3], (1 / 3, 2 / 3), tuple(frames[k + 1:k + 3]))
              for k in range(lo + 5, hi - 2, 6)]
    return {"Tupi ½": halves, "Tupi on fours": fours, "Tupi on threes": threes}


def synthetic_cases(count: int = 4) -> list[Case]:
    """Cartoons at 512×288: shapes at 6–12 px per frame over a textured background panning 3 px per frame, rendered
    at t = 0, ¼, ⅓, ½, ⅔, ¾, 1."""
    ts = (0.25, 1 / 3, 0.5, 2 / 3, 0.75)
    cases = []
    for seed in range(count):
        scene = Scene(512, 288, seed=seed, shapes=3, speed=6.0, texture=0.3, pan=(3.0, 1.0))
        picture = {t: quantise(torch.from_numpy(scene.render(t)).permute(2, 0, 1)[None]) for t in (0.0, *ts, 1.0)}
        cases.append(Case("synthetic", picture[0.0], picture[1.0], ts, tuple(picture[t] for t in ts)))
    return cases


def line_chamfer(output: torch.Tensor, truth: torch.Tensor) -> float:
    """Symmetric chamfer distance in pixels between the Canny edges of two pictures (NaN when either has none)."""
    def edges(x: torch.Tensor) -> np.ndarray:
        rgb = (x[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        return cv2.Canny(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), 100, 200) > 0

    one, two = edges(output), edges(truth)
    if not one.any() or not two.any():
        return float("nan")

    def distance_to(mask: np.ndarray) -> np.ndarray:
        return cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5)

    return 0.5 * (float(distance_to(two)[one].mean()) + float(distance_to(one)[two].mean()))


Method = tuple[tuple[str, ...], str | LineRule]  # the runs, the combination


def methods(off_centre: bool = True, extra: dict[str, tuple[str, ...]] | None = None) -> dict[str, Method]:
    """Every method measured (without ``union reversed`` unless ``off_centre``): its runs (a preset's run strings)
    and combination; ``extra`` (``--candidate``): more run lists by label, each measured by its mean and, with three
    runs or more, by ``"lines"``."""
    chosen: dict[str, Method] = {"union": (("union",), "mean")}
    for name, preset in PRESETS.items():
        chosen[f"{name} (mean)"] = (preset.runs, "mean")
        chosen[f"{name} (lines)"] = (preset.runs, "lines")
    chosen[f"{DEFAULT_PRESET} (lines, firmer)"] = (PRESETS[DEFAULT_PRESET].runs, FIRMER)
    chosen.update({name: (runs, "lines") for name, runs in CANDIDATES.items()
                   if off_centre or "union reversed" not in runs})
    for label, runs in (extra or {}).items():
        chosen[f"{label} (mean)"] = (runs, "mean")
        if len(runs) > 2:
            chosen[f"{label} (lines)"] = (runs, "lines")
    return chosen


def candidate(text: str) -> tuple[str, tuple[str, ...]]:
    """``--candidate LABEL=RUN+RUN…`` (runs as in a preset, e.g. ``fast + rife4=rife+rife mirrored+rife4``) as
    (label, runs), each run checked as :class:`~vsanimsplat.models.registry.Preset` checks it."""
    label, _, runs = text.partition("=")
    parsed = tuple(run.strip() for run in runs.split("+"))
    try:
        Preset(label, parsed)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if not label.strip():
        raise argparse.ArgumentTypeError(f"a candidate is LABEL=RUN+RUN…, got {text!r}")
    return label.strip(), parsed


class Measured:
    """Every method of :func:`methods` on one pair: one ensemble per first run, each method one of its variants."""

    def __init__(self, chosen: dict[str, Method], models: dict[str, Model]) -> None:
        groups: dict[str, list[str]] = {}
        for runs, _ in chosen.values():
            group = groups.setdefault(runs[0], [])
            group.extend(run for run in runs if run not in group)
        self.ensembles: dict[str, Ensemble] = {}
        for first, runs in groups.items():
            words = [run.split() for run in runs]
            ensemble = Ensemble([Run(models[w[0]], "mirrored" in w, "reversed" in w) for w in words], first)
            ensemble.changes = ChangePolicy(DEFAULT_STATIC_TOLERANCE, regions=True)  # as load_preset sets it
            self.ensembles[first] = ensemble
        self.variants = {first: {label: ([groups[first].index(run) for run in runs], combination)
                                 for label, (runs, combination) in chosen.items() if runs[0] == first}
                         for first in groups}

    def __call__(self, frame0: torch.Tensor, frame1: torch.Tensor, ts: Sequence[float]) -> list[dict[str, torch.Tensor]]:
        out: list[dict[str, torch.Tensor]] = [{} for _ in ts]
        for first, ensemble in self.ensembles.items():
            pair = ensemble.pair(ensemble.prepare(frame0), ensemble.prepare(frame1))
            for row, t in zip(out, ts):
                row.update({label: s.image for label, s in ensemble.variants(pair, t, self.variants[first]).items()})
        return out


def combination_cost(repeats: int = 3) -> dict[str, float]:
    """Seconds of :func:`combine` on three 1280×720 pictures, by rule (best of ``repeats``)."""
    generator = torch.Generator().manual_seed(0)
    images = [torch.rand((1, 3, 720, 1280), generator=generator) for _ in range(3)]
    frames = [torch.rand((1, 3, 720, 1280), generator=generator) for _ in range(2)]
    seconds = {}
    for rule in ("mean", "lines"):
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            combine(images, [None] * 3, frames, rule)
            best = min(best, time.perf_counter() - start)
        seconds[rule] = best
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "presets.md")
    parser.add_argument("--cases", type=int, default=4, help="cases per set at t = ½ only, evenly spaced (0: all)")
    parser.add_argument("--off-cases", type=int, default=3, help="cases per set with off-centre times (0: all)")
    parser.add_argument("--bf16", choices=("auto", "off"), default="off",
                        help="off: float32 (the records' default); auto: the precision users get on this CPU")
    parser.add_argument("--candidate", type=candidate, action="append", default=[], metavar="LABEL=RUN+RUN…",
                        help="another run list measured beside the presets, e.g. 'fast + rife4=rife+rife mirrored+rife4' "
                             "(repeatable)")
    args = parser.parse_args()
    torch.set_grad_enabled(False)

    extra = dict(args.candidate)
    chosen = methods(extra=extra)
    named = sorted({run.split()[0] for runs, _ in chosen.values() for run in runs})
    models = {name: load_model(name, device="cpu", bf16=None if args.bf16 == "auto" else False, static_tolerance=None)
              for name in named}
    measured = {True: Measured(chosen, models), False: Measured(methods(off_centre=False, extra=extra), models)}
    sets = {**eye_cases(args.data),
            "Middlebury": [Case("Middlebury", t.frame0, t.frame1, (0.5,), (t.middle,)) for t in middlebury_triplets(args.data)],
            **tupi_cases(args.data), "synthetic": synthetic_cases()}
    sets = {name: spaced(cases, args.cases if cases[0].ts == (0.5,) else args.off_cases) for name, cases in sets.items()}
    everything = [*chosen, "blend"]  # methods of off-centre sets only have no rows on the others
    # scores[method][set][t] = [(PSNR, chamfer), …]
    scores: dict[str, dict[str, dict[float, list[tuple[float, float]]]]] = {m: {s: {} for s in sets} for m in everything}
    load = describe()
    for set_name, cases in sets.items():
        start = time.perf_counter()
        for case in cases:
            rows = measured[case.ts != (0.5,)](case.frame0, case.frame1, case.ts)
            for t, row, truth in zip(case.ts, rows, case.truths):
                row["blend"] = torch.lerp(case.frame0, case.frame1, t)
                for method, output in row.items():
                    output = quantise(output)
                    scores[method][set_name].setdefault(t, []).append((psnr(output, truth, 1.0), line_chamfer(output, truth)))
        print(f"{set_name} ({len(cases)} cases): {time.perf_counter() - start:.0f} s", flush=True)
    cost = combination_cost()
    args.out.write_text(_report(scores, {s: len(c) for s, c in sets.items()}, chosen, cost, load, args))
    print(f"wrote {args.out}")


def _flat(cells: dict[float, list[tuple[float, float]]], index: int, ts: Callable[[float], bool] = lambda t: True) -> float:
    values = [row[index] for t, rows in cells.items() if ts(t) for row in rows]
    return float(np.nanmean(values)) if values else float("nan")


def _report(scores, counts: dict[str, int], chosen: dict[str, Method], cost: dict[str, float], load: str,
            args: argparse.Namespace) -> str:
    set_names = [s for s in counts if counts[s]]
    headers = [f"{s} ({sum(len(v) for v in scores['union'][s].values())})" for s in set_names]
    quality = ["| method | " + " | ".join(headers) + " |", "|---|" + "---|" * len(set_names)]
    for m in scores:
        quality.append(f"| {_label(m)} | " + " | ".join(
            f"{_flat(scores[m][s], 0):.2f} / {_flat(scores[m][s], 1):.3f}" if scores[m][s] else "—" for s in set_names) + " |")
    off = [s for s in set_names if any(abs(t - 0.5) > 1e-6 for t in scores["union"][s])]
    columns = [(s, t) for s in off for t in sorted(scores["union"][s])]
    by_t = ["| method | " + " | ".join(f"{s} {_fraction(t)}" for s, t in columns) + " |", "|---|" + "---|" * len(columns)]
    for m in scores:
        by_t.append(f"| {_label(m)} | " + " | ".join(f"{np.mean([r[0] for r in scores[m][s][t]]):.2f}"
                                                     if t in scores[m][s] else "—" for s, t in columns) + " |")
    runs = "\n".join(f"- {_label(m)}: {' + '.join(r)}" for m, (r, _) in chosen.items() if m != "union")
    bf16 = ", ".join(name for name, s in SPECS.items() if s.cpu_bf16)
    precision = "float32" if args.bf16 == "off" else (f"the precision users get on this CPU (bfloat16 for {bf16} where "
                                                      "the CPU computes it natively, float32 for the others)")
    return f"""# Presets: quality and cost

Made by `scripts/eval_presets.py --cases {args.cases} --off-cases {args.off_cases} --bf16 {args.bf16}{_candidates(args)}` on {time.strftime('%Y-%m-%d')}: {load}.
{precision[0].upper() + precision[1:]} on the CPU, every method with the defaults users get (static pixels from the
drawings, networks on the changed region); outputs rounded to 8 bits. Every method of a case scores the same
runs' pictures (`Ensemble.variants`). The presets (`vsanimsplat.models.registry.PRESETS`, default
`{DEFAULT_PRESET}`) and candidates:

{runs}

`(mean)`: the runs' per-pixel mean (the presets' rule); `(lines)`: the mean except near line art where
the runs disagree, where the run the others agree with most is taken (`vsanimsplat.models.ensemble.combine`); with
two runs it is the mean. `union` alone was the default before presets.

## Quality: PSNR (dB) / line chamfer (px, lower is better), every t of a set

{chr(10).join(quality)}

## PSNR (dB) by t, on the sets with off-centre times

{chr(10).join(by_t)}

## Cost of the combination

`combine` on three 1280×720 pictures: mean {1000 * cost['mean']:.0f} ms, lines {1000 * cost['lines']:.0f} ms
({cost['lines'] / cost['mean']:.1f}× the mean's; the networks' time per picture is the same for both).
"""


def _candidates(args: argparse.Namespace) -> str:
    """The ``--candidate`` options of the command line, as typed."""
    return "".join(f" --candidate '{label}={'+'.join(runs)}'" for label, runs in args.candidate)


def _fraction(t: float) -> str:
    return {0.25: "¼", 1 / 3: "⅓", 0.5: "½", 2 / 3: "⅔", 0.75: "¾"}.get(t, f"{t:.2f}")


def _label(method: str) -> str:
    if method == "union":
        return "`union` alone"
    if method == "blend":
        return "50/50 blend"
    name, _, rule = method.partition(" (")
    if name in PRESETS:
        return f"preset `{name}`" + (" (default)" if name == DEFAULT_PRESET else "") + f" {rule[:-1]}"
    return f"`{method}`"


if __name__ == "__main__":
    main()
