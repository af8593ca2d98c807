#!/usr/bin/env python
"""Work only where the picture changes: time per in-between on a small change vs a pan, and what cropping costs.

Pairs (all from the shared Synfig eye render, scaled up with bicubic to the sizes measured), drawings 4
frames apart as on twos:

* ``small``: 48 fps frames 100 and 104, the closed lids settling: two thin curves change, one near the
  top and one near the bottom of the picture (0.26 % of the pixels);
* ``blink``: frames 148 and 152, the eye closing, the largest change of the clip (17 % of the pixels,
  spread over the whole width);
* ``pan``: frame 148 and the same picture moved 16 pixels (of the 1080p size) right and 8 down,
  cut from a larger copy, so that every pixel changes.

Each is timed per in-between as ``vsanimsplat run`` pays it at ×2 on twos: ``prepare`` of the new
drawing, ``pair`` and one ``synthesize`` at t = ½, with the model ``union`` in up to three settings,
the settings interleaved and repeated (medians): ``default`` (static pixels kept, regions cropped),
``whole frame`` (``regions=False``: static pixels kept, networks on the whole frame), and
``everywhere`` (``static_tolerance=None``: the networks on every pixel, as published). Quality of
cropping: PSNR against the render's true middle frames of the triplets ``--crop-triplets`` (48 fps
frames a, a + 1, a + 2), cropped and whole frame, at the largest size.

Triplets: mean PSNR (8-bit outputs, float32 networks) of the default settings against the true
middle frames of the eye triplets whose middle lies in frames 56–166 and of the 12 Middlebury
triplets, for ``union``, ``rife`` and the default preset (``benchmarks/quality.md`` holds the same sets with every
pixel from the networks).

Usage: python scripts/bench_regions.py [--sizes 480x270 1920x1080] [--pairs small blink pan]
       [--settings default "whole frame" everywhere] [--repeats 3] [--crop-triplets 100 102 120 122] [--no-triplets]
       [--out benchmarks/regions.md]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vsanimsplat.evaluation import DATA, EYE_MOTION, eye_triplets, middlebury_triplets, quantise
from vsanimsplat.machine import describe
from vsanimsplat.metrics import psnr
from vsanimsplat.models import DEFAULT_PRESET, PRESET_NAMES, Model, load_model, load_preset

EYE = DATA / "synfig-eye-48fps.mkv"
SETTINGS: dict[str, dict] = {
    "default": {},
    "whole frame": {"regions": False},
    "everywhere": {"static_tolerance": None},
}
DRAWINGS = {"small": (100, 104), "blink": (148, 152)}
PAN = (8, 16)  # pixels (down, right) at 1920×1080, scaled with the size


def render_frames() -> list[torch.Tensor]:
    """The eye render as (1, 3, 270, 480) float32 RGB tensors in [0, 1]."""
    import vapoursynth as vs

    from vsanimsplat.filters.source import open_video

    clip = open_video(EYE).resize.Bicubic(format=vs.RGBS, matrix_in_s="709")
    return [torch.from_numpy(np.stack([np.asarray(f[p]) for p in range(3)])).unsqueeze(0).clamp(0, 1)
            for f in clip.frames(close=True)]


def scaled(picture: torch.Tensor, height: int, width: int) -> torch.Tensor:
    return F.interpolate(picture, size=(height, width), mode="bicubic", align_corners=False).clamp(0, 1)


def in_between_time(model: Model, a: torch.Tensor, b: torch.Tensor) -> tuple[float, object]:
    """Seconds for prepare(b) + pair + synthesize(½) (prepare(a) is the previous in-between's), and the pair."""
    first = model.prepare(a)
    began = time.perf_counter()
    pair = model.pair(first, model.prepare(b))
    model.synthesize(pair, 0.5)
    return time.perf_counter() - began, pair


def machinery_seconds(model: Model, a: torch.Tensor, b: torch.Tensor, repeats: int = 5) -> float:
    """Median seconds of the change machinery alone on one pair (what the default adds to the networks' work):
    the change mask and boxes, the full-size flows, and the composite (where changes are at t, weight, blend)."""
    from vsanimsplat.models.changes import changed_pixels, region_boxes

    first, second = model.prepare(a), model.prepare(b)
    pair = model.pair(first, second)
    drawn = [model._synthesize(region.inner, 0.5) for region in pair.regions]
    spent = []
    for _ in range(repeats):
        began = time.perf_counter()
        changed = changed_pixels(first.source, second.source, model.changes.threshold)
        region_boxes(changed, first.image.shape[-2:], model.multiple, model.min_region)
        [tuple(flow.float() for flow in model._flows(region.inner)) for region in pair.regions]
        crossfade = torch.lerp(first.source, second.source, 0.5).clamp(0.0, 1.0)
        model._compose(pair, 0.5, crossfade, drawn)
        spent.append(time.perf_counter() - began)
    return statistics.median(spent)


def crop_share(pair) -> tuple[float, int]:
    """The share of the padded frame the networks saw, and in how many regions."""
    boxes = [region.box for region in pair.regions]
    if boxes == [None]:
        return 1.0, 1
    return sum((bottom - top) * (right - left) for top, bottom, left, right in boxes) / (pair.a.image.shape[-2] * pair.a.image.shape[-1]), len(boxes)


def timings(models: dict[str, Model], pairs: dict[str, tuple[torch.Tensor, torch.Tensor]], repeats: int) -> dict:
    """Median seconds per (setting, pair), settings interleaved in every repeat; also the crop area share."""
    seconds: dict[tuple[str, str], list[float]] = {}
    share: dict[str, tuple[float, int]] = {}
    for _ in range(repeats):
        for pair_name, (a, b) in pairs.items():
            for setting, model in models.items():
                spent, pair = in_between_time(model, a, b)
                seconds.setdefault((setting, pair_name), []).append(spent)
                if setting == "default":
                    share[pair_name] = crop_share(pair)
    return {"seconds": {k: statistics.median(v) for k, v in seconds.items()}, "crop_share": share}


def quality(make: Callable[[dict], Model], frames: list[torch.Tensor], size: tuple[int, int],
            firsts: Sequence[int]) -> list[str]:
    """PSNR of the t = ½ in-between against the render, regions on and off, on the triplets starting at ``firsts``."""
    lines = ["| triplet (48 fps frames) | crop share (regions) | PSNR cropped (dB) | PSNR whole frame (dB) | "
             "cropped vs whole (dB) |", "|---|---|---|---|---|"]
    cropped, whole = make({}), make({"regions": False})
    for first in firsts:
        a, middle, b = (scaled(frames[first + i], *size) for i in (0, 1, 2))
        outs, pairs = [], []
        for model in (cropped, whole):
            pairs.append(model.pair(model.prepare(a), model.prepare(b)))
            outs.append(model.synthesize(pairs[-1], 0.5).image)
        share, regions = crop_share(pairs[0])
        truth = middle.numpy() * 255
        lines.append(f"| {first}–{first + 1}–{first + 2} | {share:.2f} ({regions}) "
                     f"| {psnr(np.rint(outs[0].numpy() * 255), truth):.2f} "
                     f"| {psnr(np.rint(outs[1].numpy() * 255), truth):.2f} | {psnr(outs[0].numpy(), outs[1].numpy(), 1.0):.2f} |")
        print(lines[-1], flush=True)
    return lines


def triplet_quality(models: Sequence[str]) -> list[str]:
    """Mean PSNR of the default settings on the eye triplets 56–166 and Middlebury, one row per model or preset."""
    sets = {f"eye {EYE_MOTION[0]}–{EYE_MOTION[1]}": [t for t in eye_triplets(DATA)
                                                     if EYE_MOTION[0] <= t.middle_index <= EYE_MOTION[1]],
            "Middlebury": middlebury_triplets(DATA)}
    lines = ["| model or preset (default settings, float32) | " + " | ".join(f"{name} ({len(ts)}), dB" for name, ts in sets.items())
             + " | mean share of pixels from the network |", "|---|" + "---|" * (len(sets) + 1)]
    for name in models:
        model = load_preset(name) if name in PRESET_NAMES else load_model(name)
        scores, shares = [], []
        for triplets in sets.values():
            values = []
            for t in triplets:
                out = model.synthesize(model.pair(model.prepare(t.frame0), model.prepare(t.frame1)), 0.5)
                values.append(psnr(quantise(out.image).numpy(), t.middle.numpy(), 1.0))
                shares.append(float((out.weight > 0).float().mean()))
            scores.append(statistics.mean(values))
        lines.append(f"| {name} | " + " | ".join(f"{v:.2f}" for v in scores) + f" | {statistics.mean(shares):.3f} |")
        print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["480x270", "1920x1080"])
    parser.add_argument("--pairs", nargs="+", choices=[*DRAWINGS, "pan"], default=[*DRAWINGS, "pan"])
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--crop-triplets", nargs="*", type=int, default=[100, 102, 120, 122])
    parser.add_argument("--no-triplets", dest="triplets", action="store_false")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if "default" not in args.settings or "pan" not in args.pairs:
        parser.error("--settings must include default and --pairs must include pan (the ratios are against them)")
    frames = render_frames()
    bf16 = load_model("union").dtype == torch.bfloat16
    settings = {name: SETTINGS[name] for name in args.settings}
    others = [s for s in settings if s != "default"]
    lines = [f"Machine: {describe()}", "",
             f"Time per in-between (prepare of the new drawing + pair + synthesize at t = ½), model `union` "
             f"({'bfloat16' if bf16 else 'float32'} as `interpolate` chooses on this CPU), median of {args.repeats}, "
             "settings interleaved in one run. Pairs: " + "; ".join(
                 f"`{name}` 48 fps frames {a} → {b}" for name, (a, b) in DRAWINGS.items() if name in args.pairs)
             + f"; `pan` frame 148 moved by {PAN[1]}×{PAN[0]} px at 1080p (scaled with the size).", "",
             "| size | pair | crop share (regions) | " + " | ".join(f"{s} (s)" for s in settings) + " | ÷ pan (default) | "
             + " | ".join(f"default ÷ {s}" for s in others) + " | change machinery alone (s) |",
             "|---|---|---|" + "---|" * (len(settings) + 1 + len(others)) + "---|"]

    def make(options: dict) -> Model:
        return load_model("union", bf16=bf16, **options)

    for size_text in args.sizes:
        width, height = (int(v) for v in size_text.split("x"))
        dy, dx = (max(1, round(v * width / 1920)) for v in PAN)
        big = scaled(frames[148], height + dy, width + dx)
        pairs = {name: (scaled(frames[a], height, width), scaled(frames[b], height, width))
                 for name, (a, b) in DRAWINGS.items() if name in args.pairs}
        pairs["pan"] = (big[..., dy:, dx:], big[..., :height, :width])
        models = {name: make(options) for name, options in settings.items()}
        result = timings(models, pairs, args.repeats)
        seconds = result["seconds"]
        for pair_name in pairs:
            share, regions = result["crop_share"][pair_name]
            lines.append(f"| {size_text} | {pair_name} | {share:.2f} ({regions}) | "
                         + " | ".join(f"{seconds[(s, pair_name)]:.2f}" for s in settings)
                         + f" | {seconds[('default', pair_name)] / seconds[('default', 'pan')]:.2f} | "
                         + " | ".join(f"{seconds[('default', pair_name)] / seconds[(s, pair_name)]:.3f}" for s in others)
                         + f" | {machinery_seconds(models['default'], *pairs[pair_name]):.3f} |")
            print(lines[-1], flush=True)
    width, height = (int(v) for v in args.sizes[-1].split("x"))
    if args.crop_triplets:
        lines += ["", f"Quality of cropping at {width}×{height} (PSNR against the render's true middle frame, 8-bit):", ""]
        lines += quality(make, frames, (height, width), args.crop_triplets)
    if args.triplets:
        lines += ["", "Triplets, t = ½ (default settings: static pixels kept, regions cropped):", ""]
        lines += triplet_quality(["union", "rife", DEFAULT_PRESET])
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
