"""Scene-cut detector on drawings: both stages on every pair of adjacent drawings of the shared and synthetic clips.

Stage 1 (colour-histogram distance) and stage 2 (share of the picture motion does not explain)
are computed for *every* pair here, not only for candidates, so that the margins of both stages
show; ``interpolate`` cuts where stage 1 exceeds the candidate threshold and stage 2 exceeds
``scene_threshold`` (checked against :func:`scene_scores`). Also times stage 2 and compares which
frames the default pipeline holds on the eye clip on twos with scene detection on and off.

Usage: python scripts/eval_scenes.py > benchmarks/scenes.md
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import vapoursynth as vs

import vsanimsplat
from vsanimsplat.evaluation import DATA, eye_on_twos
from vsanimsplat.filters.frames import clip_from_arrays
from vsanimsplat.filters.interpolate import analysis_clip, scene_scores
from vsanimsplat.machine import describe
from vsanimsplat.metrics import colour_histogram, histogram_distance
from vsanimsplat.scenes import CANDIDATE_THRESHOLD, DEFAULT_SCENE_THRESHOLD, analysis_size, unexplained_share
from vsanimsplat.testing import Cut, Scene, animate, cadence

MEGAMIND_SHOTS = {1, 98, 154, 200}  # source frames where a new shot begins (frame 0 is black)
SYNTHETIC_SIZE = (320, 180)
EYE = "eye on twos (every 4th frame held twice), drawings"
FORMER_THRESHOLD = 0.05  # the histogram-only rule this detector replaced


@dataclass
class Pair:
    label: str  # source frames of the two pictures
    stage1: float
    stage2: float
    cut: bool  # the truth
    milliseconds: float


def analysed(clip: vs.VideoNode) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Source frame, histogram and luma of every frame of ``clip`` at the detector's analysis size."""
    for n, frame in enumerate(analysis_clip(clip).frames(close=True)):
        picture = np.stack([np.asarray(frame[p]) for p in range(3)], axis=-1)
        yield int(frame.props.get("AnimSplat_SourceFrame", n)), colour_histogram(picture), picture[..., 0].copy()


def measure(clip: vs.VideoNode, step: int = 1, shots: set[int] = frozenset()) -> list[Pair]:
    """Both stages between frame n and n + step of ``clip``; a pair is a cut when a shot of ``shots`` starts within it."""
    frames = list(analysed(clip))
    pairs = []
    for (s0, h0, y0), (s1, h1, y1) in zip(frames, frames[step:]):
        began = time.perf_counter()
        share = unexplained_share(y0, y1)
        pairs.append(Pair(f"{s0}→{s1}", histogram_distance(h0, h1), share, any(s0 < s <= s1 for s in shots),
                          1000 * (time.perf_counter() - began)))
    return pairs


def synthetic() -> dict[str, tuple[vs.VideoNode, set[int]]]:
    """Drawings (dedupe outputs) of the synthetic cases, on twos, with their shot starts."""
    width, height = SYNTHETIC_SIZE
    scenes = {
        "pan, 15 % of the width per drawing": Scene(width, height, seed=1, texture=0.3, pan=(0.075 * width, 0.01 * height)),
        "flash (one drawing brightened)": Scene(width, height, seed=2, flash=(8, 10)),
        "colour change of the shapes": Scene(width, height, seed=3, recolour=8),
        "blink-like local change": Scene(width, height, seed=4, speed=0, blink=(8, 12)),
        "hard cut between two scenes": Cut(Scene(width, height, seed=5), Scene(width, height, seed=6), at=8),
    }
    return {name: (vsanimsplat.dedupe(clip_from_arrays(animate(scene, cadence([2], 10), noise=1.0, seed=1).frames)),
                   {8} if isinstance(scene, Cut) else set())
            for name, scene in scenes.items()}


def row(name: str, clip: vs.VideoNode, pairs: list[Pair], checked: bool) -> str:
    cuts = [p for p in pairs if p.cut]
    inside = [p for p in pairs if not p.cut]
    found = [p.label for p in pairs if p.stage1 > CANDIDATE_THRESHOLD and p.stage2 > DEFAULT_SCENE_THRESHOLD]
    candidates = [p for p in pairs if p.stage1 > CANDIDATE_THRESHOLD]

    def low(values: list[Pair], key: str) -> str:
        return f"{min(getattr(p, key) for p in values):.3f}" if values else "–"

    def high(values: list[Pair], key: str) -> str:
        if not values:
            return "–"
        top = max(values, key=lambda p: getattr(p, key))
        return f"{getattr(top, key):.3f} ({top.label})"

    timing = f"{np.mean([p.milliseconds for p in pairs]):.0f} / {max(p.milliseconds for p in pairs):.0f}"
    width, height = analysis_size(clip.width, clip.height)
    return (f"| {name} | {clip.width}×{clip.height} → {width}×{height} | {len(pairs)} | {len(candidates)} | "
            f"{', '.join(found) or 'none'}{'' if checked else ' (pairs, not a clip)'} | {low(cuts, 'stage1')} | "
            f"{high(inside, 'stage1')} | {low(cuts, 'stage2')} | {high(inside, 'stage2')} | {timing} |")


def held_frames(drawings: vs.VideoNode, scene_detect: bool) -> list[tuple[int, int]]:
    """(left, interpolated) of every output frame of the default pipeline at ×2 (the blend model: the steps do not
    depend on the model)."""
    out = vsanimsplat.interpolate(drawings, factor=2, model="blend", scene_detect=scene_detect)
    return [(f.props["AnimSplat_Left"], f.props["AnimSplat_Interpolated"]) for f in out.frames(close=True)]


def main() -> None:
    print("# Scene-cut detector\n")
    print(f"Machine: {describe()}\n")
    print(f"Pairs of adjacent drawings (dedupe outputs) unless noted. Stage 1: colour-histogram distance (8×8×8 bins "
          f"of YUV at the analysis size); a candidate above {CANDIDATE_THRESHOLD}. Stage 2: share of informative "
          f"8×8 luma blocks that motion does not explain (`vsanimsplat.scenes.unexplained_share`); a cut above "
          f"{DEFAULT_SCENE_THRESHOLD} (`scene_threshold`). Both stages are computed here for every pair; "
          "`interpolate` computes stage 2 only for candidates. \"found\": pairs `interpolate` cuts "
          "(source frames; for the eye on twos, frames of the 24 fps clip). ms: stage 2 per pair, mean / max, on this "
          "shared machine. Megamind's truth: new shots at source frames 1 (after a black frame), 98, 154, 200.\n")
    print("| clip | size → analysis | pairs | candidates | cuts found | stage 1 lowest cut | stage 1 highest in-shot | "
          "stage 2 lowest cut | stage 2 highest in-shot | stage 2 ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    everything: list[Pair] = []
    eye = vsanimsplat.open_video(DATA / "synfig-eye-48fps.mkv")
    twos = vsanimsplat.dedupe(eye_on_twos(eye))
    clips = {
        "megamind (CG, dark shots), drawings": (vsanimsplat.dedupe(vsanimsplat.open_video(DATA / "megamind-scenecuts.avi")),
                                                MEGAMIND_SHOTS),
        "tupi (lossy 2D), drawings": (vsanimsplat.dedupe(vsanimsplat.open_video(DATA / "tupi-butterfly-18fps.avi")), set()),
        EYE: (twos, set()),
        **{f"synthetic: {name}": value for name, value in synthetic().items()},
    }
    measured = {}
    for name, (clip, shots) in clips.items():
        pairs = measured[name] = measure(clip, shots=shots)
        detected = [k for k, score in enumerate(scene_scores(clip, progress=False)) if score > DEFAULT_SCENE_THRESHOLD]
        expected = [k for k, p in enumerate(pairs) if p.stage1 > CANDIDATE_THRESHOLD and p.stage2 > DEFAULT_SCENE_THRESHOLD]
        assert detected == expected, (name, detected, expected)
        everything += pairs
        print(row(name, clip, pairs, True))
    for step in (2, 4):
        pairs = measure(eye, step=step)
        everything += pairs
        print(row(f"eye 48 fps, frame n and n + {step}", eye, pairs, False))
    cuts = [p for p in everything if p.cut]
    inside = [p for p in everything if not p.cut]
    print()
    for stage in ("stage1", "stage2"):
        low, high = min(getattr(p, stage) for p in cuts), max(getattr(p, stage) for p in inside)
        print(f"- {stage.replace('stage', 'stage ')} over all clips: lowest cut {low:.3f}, highest in-shot {high:.3f}: "
              f"{'separated' if low > high else 'NOT separated'}, ratio {low / high:.2f}, gap {low - high:.3f}.")
    candidates = [p for p in everything if p.stage1 > CANDIDATE_THRESHOLD]
    print(f"- Candidates: {len(candidates)} of {len(everything)} pairs; stage 2 over all pairs "
          f"{np.mean([p.milliseconds for p in everything]):.0f} ms mean, "
          f"{np.percentile([p.milliseconds for p in everything], 95):.0f} ms 95th percentile.")
    on, off = held_frames(twos, True), held_frames(twos, False)
    cut_pairs = [k for k, score in enumerate(scene_scores(twos, progress=False)) if score > DEFAULT_SCENE_THRESHOLD]
    print(f"- Eye on twos, default pipeline ×2 ({len(on)} frames): scene detection on interpolates "
          f"{sum(i for _, i in on)} frames, off {sum(i for _, i in off)}; the steps are "
          f"{'identical' if on == off else 'different'}; drawing pairs cut: {cut_pairs or 'none'} "
          f"(the former rule, histogram distance > {FORMER_THRESHOLD}, cut "
          f"{[p.label for p in measured[EYE] if p.stage1 > FORMER_THRESHOLD] or 'none'}).")


if __name__ == "__main__":
    main()
