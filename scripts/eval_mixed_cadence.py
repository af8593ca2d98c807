#!/usr/bin/env python3
"""Mixed cadence inside one frame (issue 17): shapes on twos/threes over a background panning on ones.

For each case, a layered synthetic clip (:func:`vsanimsplat.testing.animate_layers`: exact truth at
every output time) goes through ``interpolate(dedupe(clip), …)`` at ×2 and to 60000/1001, with per-region timing off
(``layers=False``) and on (the default), and the script measures, per shape, how evenly it moves in the output and how close the output is to the
truth:

* **CV of centroid steps**: the shape's centroid in each output frame (pixels within ``--colour``
  of its fill colour, near its true place), the length of each step between output frames, and
  the coefficient of variation (std / mean) of those steps; a shape that moves evenly gives ≈ 0,
  move–stop–move–stop ≈ 1.
* **PSNR (shape)**: over the shape's neighbourhood (its true mask grown by ``--margin`` px) against
  the truth; **PSNR (background)**: over the rest.

A third part measures the design choice (compositing against one time map over the layer's pair). A second
part checks that clips whose holds are whole frames are untouched: the eye cartoon on twos
(``../shared/data``, skipped with a note when absent) and the demo clip, through the default pipeline with
``layers`` off and on: PSNR against the truth (the eye's 48 fps render) or between the two outputs (the demo),
frames with layers, seconds.

Writes ``benchmarks/mixed_cadence.md`` (``--out``), one section per part with its machine; ``--part`` runs one
part and keeps the other's section of the file. Usage::

    .venv/bin/python scripts/eval_mixed_cadence.py [--part all|layered|whole|choice] [--model union] [--size 512x320] [--frames 24]
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
import vapoursynth as vs

import vsanimsplat
from vsanimsplat.evaluation import DATA, eye_on_twos
from vsanimsplat.filters.frames import clip_from_arrays
from vsanimsplat.machine import describe
from vsanimsplat.metrics import psnr, steps_cv
from vsanimsplat.testing import LayeredClip, Scene, animate_layers, cadence

ROOT = Path(__file__).resolve().parents[1]

SOURCE = Fraction(24000, 1001)
CASES = {
    "shape on twos": [[2]],
    "shape on threes": [[3]],
    "twos and threes": [[2], [3]],
}
TARGETS = {"x2": {"factor": 2}, "60000/1001": {"fps_num": 60000, "fps_den": 1001}}
SPEED = 6.0
"""Pixels per source frame the shapes move: 2–3 px per output frame, well above the centroid's measuring noise
(about 0.3 px), which at 2 px per source frame alone gave a CV of 0.3 to a perfectly even motion."""


def layered(case: list[list[int]], size: tuple[int, int], frames: int, seed: int) -> LayeredClip:
    """The case's clip: a textured background panning on ones, one shape per hold pattern."""
    scene = Scene(*size, seed=seed, shapes=len(case), speed=SPEED, texture=0.5, pan=(1.5, 0.5))
    holds = [cadence(pattern, frames) for pattern in case]
    return animate_layers(scene, holds, frames)


def measure(animation: LayeredClip, out: vs.VideoNode, rate: Fraction, colour: float, margin: int) -> dict:
    """CV of centroid steps and PSNR per shape, PSNR of the background, over the output frames.

    A shape is measured up to its last drawing: after it the frames show nothing of where it goes next (its
    last hold runs to the clip's end), so no interpolator can know. The background is measured everywhere.
    """
    layers = len(animation.scene.shapes)
    centroids: list[list[tuple[float, float]]] = [[] for _ in range(layers)]
    shape_pixels: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(layers)]
    background_pixels: list[tuple[np.ndarray, np.ndarray]] = []
    last_time = len(animation.frames) - 1
    for n, frame in enumerate(out.frames(close=True)):
        t = float(n * SOURCE / rate)
        if t > last_time:
            break
        picture = np.stack([np.asarray(frame[p]) for p in range(3)], axis=-1).astype(np.float64)
        truth = animation.truth(t).astype(np.float64)
        near_any = np.zeros(picture.shape[:2], bool)
        for layer in range(layers):
            near = animation.near(layer, t, margin)
            near_any |= near
            if t > animation.layer_starts[layer][-1]:
                continue
            shape_pixels[layer].append((picture[near], truth[near]))
            centroids[layer].append(animation.found_centre(layer, picture, t, colour, margin))
        background_pixels.append((picture[~near_any], truth[~near_any]))
    result = {"frames": len(background_pixels), "shapes": []}
    for layer in range(layers):
        path = np.asarray(centroids[layer])
        result["shapes"].append({"cv": steps_cv(path),
                                 "psnr": psnr(*map(np.concatenate, zip(*shape_pixels[layer]))),
                                 "frames": len(path)})
    result["background"] = psnr(*map(np.concatenate, zip(*background_pixels)))
    return result


LAYERED = "## Shapes on their own cadence over a pan"
WHOLE = "## Whole-frame holds: unchanged"
CHOICE = "## Why compositing two in-betweens, not one time map"
EYE = DATA / "synfig-eye-48fps.mkv"


def layered_section(args: argparse.Namespace, model: dict) -> list[str]:
    """The table of the layered cases, layers off → on."""
    size = tuple(int(v) for v in args.size.split("x"))
    rows = []
    for name, case in CASES.items():
        animation = layered(case, size, args.frames, args.seed)
        clip = clip_from_arrays(animation.frames, SOURCE)
        for target, rate_kwargs in TARGETS.items():
            found, seconds = {}, {}
            for layers in (False, True):
                began = time.perf_counter()
                out = vsanimsplat.interpolate(vsanimsplat.dedupe(clip), **rate_kwargs, **model, layers=layers)
                found[layers] = measure(animation, out, Fraction(out.fps), args.colour, args.margin)
                seconds[layers] = time.perf_counter() - began
            off, on = found[False], found[True]
            for layer, (before, after) in enumerate(zip(off["shapes"], on["shapes"])):
                rows.append(f"| {name} | {target} | {layer} ({''.join(map(str, case[layer]))}s) "
                            f"| {before['cv']:.2f} → **{after['cv']:.2f}** "
                            f"| {before['psnr']:.2f} → **{after['psnr']:.2f}** ({after['psnr'] - before['psnr']:+.2f}) "
                            f"| {off['background']:.2f} → **{on['background']:.2f}** ({on['background'] - off['background']:+.2f}) "
                            f"| {on['frames']} ({after['frames']}) | {seconds[False]:.0f} → {seconds[True]:.0f} |")
            print("\n".join(rows[-len(on["shapes"]):]), flush=True)
    return [
        LAYERED,
        "",
        f"Clips: {size[0]}×{size[1]}, {args.frames} source frames at 24000/1001, seed {args.seed}: a textured "
        f"background panning (1.5, 0.5) px per frame on ones, shapes moving {SPEED:g} px per frame on their own holds "
        "(`animate_layers`). "
        f"Pipeline: `interpolate(dedupe(clip), …)`, model {args.model or 'default'}, each cell `layers=False` → "
        "**`layers=True`** (per-region timing, the default) in the same run. CV: coefficient of variation "
        "of the shape's centroid steps between output frames (0 = even motion; move–stop ≈ 1). PSNR of the shape "
        f"over its true mask grown by {args.margin} px, of the background over the rest, against the exact truth. "
        "A shape is measured up to its last drawing (after it, its last hold runs to the clip's end and nothing "
        "shows where it would go); output frames: all (those up to the shape's last drawing).",
        "",
        "| case | target | shape (holds) | CV of centroid steps | PSNR shape (dB) | PSNR background (dB) | output frames | seconds |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
    ]


def _planes(frame: vs.VideoFrame) -> np.ndarray:
    return np.concatenate([np.asarray(frame[p]).ravel() for p in range(frame.format.num_planes)]).astype(np.float64)


def _off_and_on(drawings: vs.VideoNode, frames: range, model: dict, **rate) -> dict[bool, tuple[list, float, int]]:
    """Frames ``frames`` of the default pipeline with layers off and on: (pictures, seconds, frames with layers)."""
    found = {}
    for layers in (False, True):
        began = time.perf_counter()
        out = vsanimsplat.interpolate(drawings, **rate, **model, layers=layers)
        pictures, with_layers = [], 0
        for n in frames:
            frame = out.get_frame(n)
            with_layers += "AnimSplat_LayerMask" in frame.props
            pictures.append(_planes(frame))
        found[layers] = (pictures, time.perf_counter() - began, with_layers)
    return found


def whole_section(args: argparse.Namespace, model: dict) -> list[str]:
    """The eye on twos and the demo clip, layers off and on."""
    rows = []
    if EYE.exists():
        eye = vs.core.bs.VideoSource(str(EYE))
        frames = range(56, 167)
        found = _off_and_on(vsanimsplat.dedupe(eye_on_twos(eye)), frames, model, factor=2)
        truth = [_planes(eye.get_frame(n)) for n in frames]
        scores = {layers: psnr(np.concatenate(pictures), np.concatenate(truth))
                  for layers, (pictures, _, _) in found.items()}
        rows.append(f"| eye on twos ×2, frames 56–166 against the 48 fps render | {scores[False]:.2f} | {scores[True]:.2f} "
                    f"| {found[True][2]} | {found[False][1]:.0f} → {found[True][1]:.0f} |")
    else:
        rows.append(f"| eye on twos | not measured: {EYE} is absent | | | |")
    folder = tempfile.mkdtemp()
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_demo_clip.py"), f"{folder}/demo.mkv"], check=True)
    demo = vs.core.bs.VideoSource(f"{folder}/demo.mkv")
    drawings = vsanimsplat.resize(vsanimsplat.dedupe(demo), 320, 180)  # as `make demo` runs it
    length = vsanimsplat.interpolate(drawings, fps_num=60000, fps_den=1001, model="blend").num_frames
    found = _off_and_on(drawings, range(length), model, fps_num=60000, fps_den=1001)
    same = psnr(np.concatenate(found[True][0]), np.concatenate(found[False][0]))
    rows.append(f"| demo clip (`make demo`: 320×180 → 60000/1001), all {length} frames, on against off | | {same:.2f} "
                f"| {found[True][2]} | {found[False][1]:.0f} → {found[True][1]:.0f} |")
    for row in rows:
        print(row, flush=True)
    return [
        WHOLE,
        "",
        f"Default pipeline, model {args.model or 'default'}, `layers=False` then `layers=True` in the same run "
        "(seconds: the whole output, analysis included).",
        "",
        "| clip | PSNR off (dB) | PSNR on (dB) | frames with layers | seconds off → on |",
        "|---|---|---|---|---|",
        *rows,
    ]


def choice_section(args: argparse.Namespace) -> list[str]:
    """Compositing (the layer's in-between only where it differs, within its reach) against the whole frame from the
    layer's own pair, which is what a per-pixel time map over a single pair of drawings gives the background."""
    interpolate_module = importlib.import_module("vsanimsplat.filters.interpolate")
    size = tuple(int(v) for v in args.size.split("x"))
    animation = layered(CASES["shape on twos"], size, 12, args.seed)
    clip = clip_from_arrays(animation.frames, SOURCE)
    rows = []
    composite = interpolate_module.layer_weight
    for name, weight in (("composite (the default)", composite),
                         ("whole frame from the layer's pair", lambda layer, base, reach: torch.ones_like(reach, dtype=torch.float32))):
        interpolate_module.layer_weight = weight
        try:
            out = vsanimsplat.interpolate(vsanimsplat.dedupe(clip), factor=2, model="rife")
            found = measure(animation, out, Fraction(out.fps), args.colour, args.margin)
        finally:
            interpolate_module.layer_weight = composite
        rows.append(f"| {name} | {found['shapes'][0]['cv']:.2f} | {found['shapes'][0]['psnr']:.2f} | {found['background']:.2f} |")
        print(rows[-1], flush=True)
    return [
        CHOICE,
        "",
        "A per-pixel time map needs one pair of drawings for the whole frame: the layer's (its hold's first drawing "
        "and the next), so the background too would be interpolated across the layer's whole hold, and frames at "
        "source times would no longer be the source. Shape on twos, 12 source frames, ×2, model `rife` (fast; "
        "the comparison is about the pairs, not the network):",
        "",
        "| layer in-between used | CV | PSNR shape (dB) | PSNR background (dB) |",
        "|---|---|---|---|",
        *rows,
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("all", "layered", "whole", "choice"), default="all")
    parser.add_argument("--model", default=None, help="interpolate's model (default: its default)")
    parser.add_argument("--size", default="512x320", help="picture size WxH (default 512x320: GMFlow needs ≥ 320 px a side)")
    parser.add_argument("--frames", type=int, default=24, help="source frames per layered case (default 24)")
    parser.add_argument("--seed", type=int, default=5,
                        help="scene seed (default 5: at 512x320 every shape stays inside the frame and never bounces "
                             "within 24 frames; a bounce inside a hold is a turn no in-between of two drawings can show)")
    parser.add_argument("--colour", type=float, default=0.1, help="fill-colour tolerance for centroids (0 … 1)")
    parser.add_argument("--margin", type=int, default=8, help="px around a shape counted as its neighbourhood")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "mixed_cadence.md")
    args = parser.parse_args()
    model = {"model": args.model} if args.model else {}
    warm = clip_from_arrays(layered(CASES["shape on twos"], (512, 320), 3, args.seed).frames, SOURCE)
    vsanimsplat.interpolate(warm, factor=2, **model).get_frame(1)  # load the weights before anything is timed
    old = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
    sections = {heading: old[old.index(heading):].split("\n## ")[0].rstrip().splitlines()
                for heading in (LAYERED, WHOLE, CHOICE) if heading in old}
    stamp = [f"Made by `scripts/eval_mixed_cadence.py {' '.join(sys.argv[1:])}` on {time.strftime('%Y-%m-%d %H:%M')}.",
             f"Machine: {describe()}.", ""]
    if args.part in ("all", "layered"):
        section = layered_section(args, model)
        sections[LAYERED] = section[:2] + stamp + section[2:]
    if args.part in ("all", "whole"):
        section = whole_section(args, model)
        sections[WHOLE] = section[:2] + stamp + section[2:]
    if args.part in ("all", "choice"):
        section = choice_section(args)
        sections[CHOICE] = section[:2] + stamp + section[2:]
    text = ["# Mixed cadence inside one frame (`interpolate(layers=…)`, issue 17)", ""]
    for heading in (LAYERED, WHOLE, CHOICE):
        text += [*sections.get(heading, [heading, "", "Not measured yet."]), ""]
    args.out.write_text("\n".join(text), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
