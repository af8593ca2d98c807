"""The timing analysis on the generated corpus (:mod:`vsanimsplat.corpus`): drawings, cuts and layers per case and
condition, with the fixed detection settings of before (tolerance 10, threshold 0.05 %) and the chosen ones side by
side, through the public API (the delivered file read by BestSource, ``dedupe``, ``scene_scores``, ``layer_report``).

Usage: python scripts/eval_analysis.py [--half report|tune|all] [--seed N] [--antialias] [--cache DIR] [--only SUBSTRING] [--sections corpus,cuts] > benchmarks/analysis.md
Tune on ``--half tune``; report on ``--half report`` (the default), never on the clips you tuned on.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import vapoursynth as vs

import numpy as np
from PIL import Image

from vsanimsplat import dedupe, interpolate
from vsanimsplat.corpus import RATE, Case, Truth, corpus, deliver, disc_over_pan, make
from vsanimsplat.ffmpeg import write_rgb_video
from vsanimsplat.filters.frames import clip_from_arrays
from vsanimsplat.filters.analysis import Timing, timing_of
from vsanimsplat.filters.dedupe import DEFAULT_THRESHOLD, DEFAULT_TOLERANCE, detection
from vsanimsplat.layers import layer_report
from vsanimsplat.machine import describe
from vsanimsplat.metrics import psnr_of_mse, steps_cv
from vsanimsplat.scenes import DEFAULT_SCENE_THRESHOLD
from vsanimsplat.testing import Scene, animate, cadence

MIN_SHAPE = 0.005
"""Shapes of at least this share of the frame are the issue's layers (0.5 %)."""
MIN_STEP = 1.0
"""A shape held on a layer *moves* when its next drawing is at least this many delivered pixels away: a smaller step
shows no judder when it is timed with the whole frame."""
SETTINGS = {"fixed": {"threshold": DEFAULT_THRESHOLD, "tolerance": DEFAULT_TOLERANCE},
            "chosen": {"threshold": None, "tolerance": None}}


@dataclass
class Result:
    """One case under one setting."""

    drawings: int  # true drawings
    found: int  # drawings found with exact timing
    extra: int
    missed: int
    cuts: int  # true cuts
    cuts_found: int
    false_cuts: int
    layer_drawings: int  # drawings with a layer hold on screen
    held: int  # with layers timing: (shape, drawing) pairs where a shape of at least MIN_SHAPE holds its drawing
    held_found: int  # … and a layer hold on screen then holds at least half of its pixels
    moving: int  # of the held pairs, those whose shape's next drawing is at least MIN_STEP away
    moving_found: int
    seconds: float
    note: str


def measure(case: Case, truth: Truth, clip: vs.VideoNode, settings: dict) -> Result:
    """Drawings, cuts and layers of ``clip`` under ``settings`` against ``truth``."""
    began = time.perf_counter()
    drawings = dedupe(clip, **settings)
    timing = timing_of(drawings)
    sources = timing.sources
    separated = timing.marked_cuts | {k for k, score in enumerate(timing.scene_scores) if score > DEFAULT_SCENE_THRESHOLD}
    found_cuts = {sources[k + 1] for k in separated}
    true_cuts = set(truth.cuts) - {0}
    layers = layer_report(timing.changes, separated, timing.holds)
    used = detection(clip, **settings)
    seconds = time.perf_counter() - began
    held, held_found, moving, moving_found = layer_recall(case, truth, timing, separated)
    starts, true = set(sources), set(truth.starts)
    return Result(len(true), len(starts & true), len(starts - true), len(true - starts), len(true_cuts),
                  len(found_cuts & true_cuts), len(found_cuts - true_cuts), layers.with_layers, held, held_found,
                  moving, moving_found, seconds, f"tol {used.tolerance} thr {used.threshold} grain {used.grain:.1f} noise {used.noise}")


def layer_recall(case: Case, truth: Truth, timing: Timing, cuts: set[int]) -> tuple[int, int, int, int]:
    """With ``layers`` timing: the (shape, drawing) pairs where a shape of at least :data:`MIN_SHAPE` of the frame
    repeats its own drawing, and how many of them a layer hold on screen at that drawing covers: its held blocks
    touch the shape and its reach holds at least half of the shape's pixels (a flat fill never holds a block
    itself); then the same for the pairs whose shape moves (:data:`MIN_STEP`). Zeros for other cases."""
    if truth.layered is None or truth.layer_starts is None:
        return 0, 0, 0, 0
    clip, maps = truth.layered, timing.changes
    height, width = clip.frames[0].shape[:2]
    steps = {}  # (shape, source frame): delivered pixels from its drawing to its next
    for shape, starts in enumerate(truth.layer_starts):
        for start, end in zip(starts, starts[1:]):
            (x0, y0), (x1, y1) = truth.scene.positions(start)[shape], truth.scene.positions(end)[shape]
            steps.update({(shape, frame): float(np.hypot(x1 - x0, y1 - y0)) * case.width / width
                          for frame in range(start, end)})
    held = found = moving = moving_found = 0
    for drawing, frame in enumerate(timing.sources):
        holds = maps.layers(drawing, cuts, timing.holds)
        covered = [(maps.pixels(hold.held, height, width), maps.pixels(hold.reach, height, width)) for hold in holds]
        for shape, repeats in enumerate(clip.holding(frame)):
            mask = clip.source_mask(shape, frame)
            if not repeats or mask.mean() < MIN_SHAPE:
                continue
            hit = any(blocks[mask].any() and reach[mask].mean() >= 0.5 for blocks, reach in covered)
            held, found = held + 1, found + hit
            if steps.get((shape, frame), 0.0) >= MIN_STEP:
                moving, moving_found = moving + 1, moving_found + hit
    return held, found, moving, moving_found


def conditions(case: Case) -> list[str]:
    """The conditions a case counts under."""
    return [f"size {case.width}×{case.height}", "lossless" if not case.lossy else
            f"{case.codec} CRF {'≤ 23' if case.crf <= 23 else '28'}", f"timing {case.timing}", f"event {case.event}",
            "grain" if case.grain else "no grain", "resized" if case.resized else "drawn at size"]


def fast_shapes(cache: Path) -> None:
    """The issue's in-shot clips: four shapes moving fast each their own way (``Scene(w, h, shapes=4,
    speed=3·w/320)``, holds 2,2,3,2,3,1,4, 4 s, no cut), x264 CRF 18 and 23: pairs of drawings that score as cuts."""
    print("\n## Several shapes moving fast on their own, no cut (the issue's clips)\n")
    print("`Scene(w, h, seed, shapes=4, speed=3·w/320)` held 2,2,3,2,3,1,4 for 96 frames, x264; every pair of "
          f"drawings is in-shot. Pairs above `scene_threshold` ({DEFAULT_SCENE_THRESHOLD}) and the highest score.\n")
    print("| size | seed | CRF | pairs | cut (false) | highest |")
    print("|---|---|---|---|---|---|")
    for width, height in ((640, 360), (1280, 720), (1920, 1080)):
        for seed in (0, 1):
            clip = animate(Scene(width, height, seed=seed, shapes=4, speed=3 * width / 320),
                           cadence([2, 2, 3, 2, 3, 1, 4], 40))
            for crf in (18, 23):
                path = cache / f"shapes-{width}-{seed}-{crf}.mkv"
                if not path.exists():
                    write_rgb_video(clip.frames[:96], path, RATE,
                                    ("-c:v", "libx264", "-crf", str(crf), "-pix_fmt", "yuv420p"))
                scores = timing_of(dedupe(vs.core.bs.VideoSource(str(path), cachemode=0))).scene_scores
                above = sum(score > DEFAULT_SCENE_THRESHOLD for score in scores)
                print(f"| {width}×{height} | {seed} | {crf} | {len(scores)} | {above} | {max(scores):.3f} |")


CUT_EVENTS = ("cut", "cut", "similar-cut")


def cut_corpus(half: str, cache: Path) -> None:
    """Cuts on their own corpus (:func:`~vsanimsplat.corpus.corpus` with ``events``: 64 cases from seed 2027, this
    half of them), with the chosen settings: recall per kind of cut, false cuts, and the score of every cut missed."""
    cases = [case for case in corpus(64, 2027, CUT_EVENTS) if half in ("all", case.half)]
    print("\n## Cuts (a corpus of their own)\n")
    print(f"{'All' if half == 'all' else f'The {half} half'} of `corpus(64, 2027, events={CUT_EVENTS})`: {len(cases)} cases of 48 frames, each with one "
          "cut a third of the way in, to a new scene (`cut`) or to the same scene 500 frames later: the same "
          "background, the shapes elsewhere (`similar-cut`); sizes, cadences, pans, codecs and grain as the main "
          "corpus draws them. `dedupe`'s defaults; a cut is found when the pair of drawings that crosses it scores "
          f"above `scene_threshold` ({DEFAULT_SCENE_THRESHOLD}).\n")
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    missed = []
    for case in cases:
        truth = make(case)
        path = cache / f"cuts-{case.name}.mkv"
        if not path.exists():
            deliver(case, truth, path)
        result = measure(case, truth, vs.core.bs.VideoSource(str(path), cachemode=0), SETTINGS["chosen"])
        for key in (case.event, f"{case.codec} CRF {case.crf}" if case.lossy else "lossless", "all"):
            found[key][0] += result.cuts
            found[key][1] += result.cuts_found
            found[key][2] += result.false_cuts
        if result.cuts_found < result.cuts:
            missed.append(case.name)
    print("| cuts | found | false cuts (in-shot pairs cut) |")
    print("|---|---|---|")
    for key in sorted(found, key=lambda k: (k != "all", k)):
        cuts, hits, false = found[key]
        print(f"| {key} | {hits}/{cuts} | {false} |")
    print(f"\nMissed: {', '.join(missed) if missed else 'none'}.")


FLAT_SHAPES = ((256, 144, 16), (512, 288, 32), (512, 288, 16), (1280, 720, 40))
"""(width, height, radius) of the issue's flat disc: 2.2 %, 2.2 %, 0.55 % and 0.55 % of the frame."""
PANS = (0, 1, 2, 3, 5, 8)


def flat_shapes() -> None:
    """The issue's layer clips: a flat outlined disc on twos (8 px per drawing) over a painted background panning on
    ones (:func:`~vsanimsplat.corpus.disc_over_pan`), ``interpolate(dedupe(clip), factor=2, model="rife")`` with
    layers off and on: how evenly the disc moves, by the timing and in the pictures, and the frames with a layer."""
    print("\n## A flat disc on twos over a pan (the issue's layer clips)\n")
    print("`disc_over_pan(w, h, r, pan)`: 24 frames, the disc on twos moving 8 px per drawing (2 px per output frame) "
          "in a straight line, the painted background on ones; `interpolate(dedupe(clip), factor=2, model=\"rife\")`, "
          "`layers=False` → `layers=True`. CV: coefficient of variation of the disc's steps over the output frames up "
          "to its last drawing (0: even motion; move–stop ≈ 1). *Timing*: where the output's timing puts the disc "
          "(its two drawings and `t`, from the layer where `AnimSplat_LayerMask` touches the disc, else from "
          "the frame), as a perfect in-between would draw it: what the analysis decides. *Pictures*: the centroid of "
          "the disc's fill colour in the output frames, which adds the network's errors (about ±0.5 px of a 2 px step "
          "from `rife` at these sizes). Frames with a layer: output frames carrying `AnimSplat_LayerT`.\n")
    print("| size | disc (share) | pan px/frame | timing CV off | timing CV on | pictures CV off | pictures CV on "
          "| frames with a layer |")
    print("|---|---|---|---|---|---|---|---|")
    for width, height, radius in FLAT_SHAPES:
        for pan in PANS:
            clip = disc_over_pan(width, height, radius, pan)
            source = clip_from_arrays(clip.frames, RATE)
            last = clip.layer_starts[0][-1]
            timed, drawn, layered = {}, {}, 0
            for layers in (False, True):
                out = interpolate(dedupe(source), factor=2, model="rife", layers=layers)
                timing, pictures = [], []
                for n in range(2 * last + 1):
                    props = out.get_frame(n).props
                    left, right, t = props["AnimSplat_Left"], props["AnimSplat_Right"], props["AnimSplat_T"]
                    if "AnimSplat_LayerT" in props:
                        layered += 1
                        if np.asarray(props["AnimSplat_LayerMask"][0])[clip.mask(0, n / 2)].any():
                            left, right, t = (np.ravel(props[f"AnimSplat_Layer{key}"])[0]  # one layer: a scalar
                                              for key in ("Left", "Right", "T"))
                    a, b = np.asarray(clip.source_centre(0, left)), np.asarray(clip.source_centre(0, right))
                    timing.append(a + t * (b - a))
                    frame = out.get_frame(n)
                    pictures.append(clip.found_centre(0, np.stack([np.asarray(frame[p]) for p in range(3)], axis=-1), n / 2))
                timed[layers], drawn[layers] = steps_cv(np.asarray(timing)), steps_cv(np.asarray(pictures))
            share = 100 * clip.source_mask(0, 0).mean()
            print(f"| {width}×{height} | r {radius} ({share:.2f} %) | {pan} | {timed[False]:.2f} | **{timed[True]:.2f}** "
                  f"| {drawn[False]:.2f} | **{drawn[True]:.2f}** | {layered}/{2 * last + 1} |", flush=True)


SECTIONS = ("corpus", "shapes", "cuts", "flat", "pipeline")
"""The sections of the record: the main corpus, fast shapes with no cut, the cut corpus, the flat disc over pans, the
whole pipeline against the truth."""

PIPELINE_MODEL = "rife"
"""The network of the pipeline section: the fastest, so that every case of a half runs on a CPU in minutes (the
timing, not the network, is what the section measures)."""


def truth_at(case: Case, truth: Truth, t: float) -> np.ndarray:
    """The ideal picture at time ``t`` (source frames) at the delivered size, as float RGB: every part of the picture
    on its path (:meth:`~vsanimsplat.testing.Scene.render`), scaled down as :func:`~vsanimsplat.corpus.deliver`
    scales a resized case."""
    picture = np.rint(truth.scene.render(t) * 255).astype(np.uint8)
    if case.resized:
        picture = np.asarray(Image.fromarray(picture).resize((case.width, case.height), Image.Resampling.BICUBIC))
    return picture.astype(np.float64)


def pipeline_psnr(case: Case, truth: Truth, out: vs.VideoNode, last: float) -> float:
    """PSNR of ``out``'s frames up to time ``last`` (source frames) against :func:`truth_at`, over all their pixels
    (the file carries no matrix: ffmpeg wrote it with BT.601's, read back as such)."""
    rgb = out.resize.Bicubic(format=vs.RGB24, matrix_in_s="470bg")
    rate = Fraction(RATE) / Fraction(out.fps)
    squared, samples = 0.0, 0
    for n, frame in enumerate(rgb.frames(close=True)):
        t = float(n * rate)
        if t > last:
            break
        found = np.stack([np.asarray(frame[p]) for p in range(3)], axis=-1).astype(np.float64)
        squared += float(((found - truth_at(case, truth, t)) ** 2).sum())
        samples += found.size
    return psnr_of_mse(squared / samples)


def pipeline(half: str, seed: int, cache: Path, only: str, antialias: bool) -> None:
    """The whole pipeline against the truth: ``interpolate(clip, factor=2, layers=False)`` as a live-action
    interpolator would run it (every frame a whole drawing) and ``interpolate(dedupe(clip), factor=2)`` (drawings at their true times), PSNR over the
    output frames against the truth render at each output time, per case and condition."""
    cases = [case for case in corpus(seed=seed) if half in ("all", case.half) and only in case.name
             and case.event not in CUT_EVENTS]
    print("\n## The whole pipeline against the truth\n")
    print(f"{'All' if half == 'all' else f'The {half} half'} of `corpus(seed={seed})` but its cuts ({len(cases)} cases; the truth "
          "renders one shot). Each delivered file at ×2 through `interpolate(clip, factor=2, layers=False)` (every "
          "frame taken for a whole drawing, as a live-action interpolator does) and `interpolate(dedupe(clip), factor=2)` (the drawings at their "
          f"true times, the default timing with layers), both with `model=\"{PIPELINE_MODEL}\"`; PSNR (dB) of every output "
          "frame up to the last drawing against the truth render at its time (each part of the picture on its path, no "
          "grain, as a perfect in-betweener would draw it).\n")
    print("| case | every frame | drawings at their times | gain |")
    print("|---|---|---|---|")
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    for case in cases:
        truth = make(case, antialias)
        path = cache / f"{case.name}.mkv"
        if not path.exists():
            deliver(case, truth, path)
        clip = vs.core.bs.VideoSource(str(path), cachemode=0)
        last = float(min(starts[-1] for starts in truth.layer_starts) if truth.layer_starts else truth.starts[-1])
        naive = pipeline_psnr(case, truth, interpolate(clip, factor=2, model=PIPELINE_MODEL, layers=False), last)
        timed = pipeline_psnr(case, truth, interpolate(dedupe(clip), factor=2, model=PIPELINE_MODEL), last)
        print(f"| {case.name} | {naive:.2f} | {timed:.2f} | {timed - naive:+.2f} |", flush=True)
        for condition in ["all"] + conditions(case):
            totals[condition][0] += naive
            totals[condition][1] += timed
            totals[condition][2] += 1
        del clip
    print("\n| condition | cases | every frame (mean dB) | drawings at their times | gain |")
    print("|---|---|---|---|---|")
    for condition in sorted(totals, key=lambda c: (c != "all", c)):
        naive, timed, count = totals[condition]
        print(f"| {condition} | {count} | {naive / count:.2f} | {timed / count:.2f} | {(timed - naive) / count:+.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--half", choices=["report", "tune", "all"], default="report")
    parser.add_argument("--seed", type=int, default=2026,
                        help="the corpus' seed (2026: the corpus the detectors were tuned on, on its tuning half; "
                             "another seed draws a new corpus, never seen)")
    parser.add_argument("--antialias", action="store_true",
                        help="render the shapes with anti-aliased edges (Scene's antialias; cached apart)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/vsanimsplat-corpus"))
    parser.add_argument("--only", default="")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help=f"comma-separated sections to measure, of {', '.join(SECTIONS)} (default all)")
    args = parser.parse_args()
    sections = set(args.sections.split(","))
    if not sections <= set(SECTIONS):
        parser.error(f"--sections must name some of {', '.join(SECTIONS)}, got {args.sections!r}")
    if args.antialias:
        args.cache = args.cache / "antialias"
    args.cache.mkdir(parents=True, exist_ok=True)
    cases = [c for c in corpus(seed=args.seed) if args.half in ("all", c.half) and args.only in c.name
             and "corpus" in sections]
    rows: list[tuple[Case, dict[str, Result]]] = []
    for case in cases:
        truth = make(case, args.antialias)
        path = args.cache / f"{case.name}.mkv"
        if not path.exists():
            deliver(case, truth, path)
        clip = vs.core.bs.VideoSource(str(path), cachemode=0)
        rows.append((case, {name: measure(case, truth, clip, settings) for name, settings in SETTINGS.items()}))
        del clip

    print("# Timing analysis on the generated corpus\n")
    print(f"Machine: {describe()}\n")
    if "corpus" in sections:
        what = "all" if args.half == "all" else f"the {args.half} half"
        edges = " --antialias" if args.antialias else ""
        print(f"{what.capitalize()} of `vsanimsplat.corpus.corpus(seed={args.seed})` ({len(cases)} cases of 48 frames; "
              f"`python scripts/eval_analysis.py --half {args.half} --seed {args.seed}{edges}`; shapes with "
              f"{'anti-aliased' if args.antialias else 'hard'} edges). *fixed*: tolerance {DEFAULT_TOLERANCE}, threshold "
              f"{DEFAULT_THRESHOLD} (the defaults before); *chosen*: `dedupe`'s defaults now (`vsanimsplat.noise`). "
              "Drawings: found with exact timing / true, extra (found, not true); cuts: found / true, false (in-shot "
              "pairs cut); layers: drawings with a layer hold on screen (on `whole` timing every one is false); shapes held on "
              f"a layer (chosen settings, `layers` timing): the (shape, drawing) pairs where a shape of ≥ {100 * MIN_SHAPE:g} % of "
              "the frame repeats its own drawing, found by a layer hold on screen (held blocks on the shape, reach over half of "
              f"it) / all (in brackets: of the pairs whose shape's next drawing is ≥ {MIN_STEP:g} px away, the steps "
              "that would judder).\n")
        totals: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0] * 6))
        print("| case | fixed: drawings | extra | cuts | false cuts | layers | chosen: drawings | extra | cuts | false cuts "
              "| layers | shapes held on a layer | chosen settings |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for case, results in rows:
            cells = []
            for name, r in results.items():
                cells += [f"{r.found}/{r.drawings}", str(r.extra), f"{r.cuts_found}/{r.cuts}", str(r.false_cuts),
                          str(r.layer_drawings)]
                for condition in ["all"] + conditions(case):
                    total = totals[condition][name]
                    for i, value in enumerate((r.drawings, r.found, r.extra, r.cuts, r.cuts_found, r.false_cuts)):
                        total[i] += value
            chosen = results["chosen"]
            recall = f"{chosen.held_found}/{chosen.held} ({chosen.moving_found}/{chosen.moving})" if chosen.held else "–"
            print(f"| {case.name} | " + " | ".join(cells) + f" | {recall} | {chosen.note} |")
        print("\n## By condition\n")
        print("| condition | fixed: found | extra | cut recall | false cuts | chosen: found | extra | cut recall | false cuts |")
        print("|---|---|---|---|---|---|---|---|---|")
        for condition in sorted(totals, key=lambda c: (c != "all", c)):
            cells = []
            for name in SETTINGS:
                drawings, found, extra, cuts, cuts_found, false_cuts = totals[condition][name]
                cells += [f"{100 * found / drawings:.1f} %", f"{100 * extra / drawings:.1f} %",
                          f"{cuts_found}/{cuts}" if cuts else "–", str(false_cuts)]
            print(f"| {condition} | " + " | ".join(cells) + " |")
        for what, field in (("Shapes held on a layer", "held"),
                            (f"Of them, shapes that move at least {MIN_STEP:g} px to their next drawing", "moving")):
            held = sum(getattr(results["chosen"], field) for _, results in rows)
            found = sum(getattr(results["chosen"], f"{field}_found") for _, results in rows)
            print(f"\n{what}, all `layers` cases (chosen settings): {found}/{held}"
                  + (f" ({100 * found / held:.1f} %)" if held else ""))
    if "shapes" in sections:
        fast_shapes(args.cache)
    if "cuts" in sections:
        cut_corpus(args.half, args.cache)
    if "flat" in sections:
        flat_shapes()
    if "pipeline" in sections:
        pipeline(args.half, args.seed, args.cache, args.only, args.antialias)


if __name__ == "__main__":
    main()
