#!/usr/bin/env python
"""Interpolation quality on real triplets: mean PSNR and SSIM per method, written to benchmarks/quality.md.

Triplets (frame 0, ground-truth middle, frame 1):

* the 12 Middlebury "other" sequences (``frame10``, ``frame10i11``, ``frame11``);
* ``synfig-eye-48fps.mkv``: even frames are the 24 fps input, odd frames the exact
  in-betweens (96 triplets; "motion" = middle frames 56–166).

Methods: the models ``union``, ``base``, ``rife`` (our implementation, published weights),
a 50/50 blend, and mvtools FlowFPS (VapourSynth ``mv``: Super pel 2, Analyse blksize 16
overlap 8 both ways, on YUV444P16 BT.709, converted back to RGB24). Every output is
rounded to 8 bits, as it would be delivered. PSNR is per triplet on RGB in [0, 1], then
averaged; SSIM is the Gaussian-window SSIM (σ = 1.5, 11×11, valid region) per RGB channel,
averaged over channels and triplets.

A second table compares the padding modes (replicate, reflect) on the union model, over the
whole picture and over the band next to the padded edges.

Usage: ``python scripts/eval_quality.py [--data ../shared/data] [--out benchmarks/quality.md] [--outputs DIR]``
(needs the weights: ``python -m vsanimsplat models fetch all``).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from vsanimsplat import evaluation
from vsanimsplat.evaluation import DATA, EYE_MOTION, MemoFlow, Triplet, eye_triplets, middlebury_triplets, quantise, ssim
from vsanimsplat.machine import describe
from vsanimsplat.metrics import psnr
from vsanimsplat.models import MODEL_NAMES, Model, load_model

REPO = Path(__file__).resolve().parents[1]


def blend(triplets: Sequence[Triplet]) -> list[torch.Tensor]:
    """50/50 blend of the two inputs."""
    return [quantise((t.frame0 + t.frame1) / 2) for t in triplets]


def flowfps(triplets: Sequence[Triplet]) -> list[torch.Tensor]:
    """mvtools FlowFPS middle frames."""
    return [evaluation.flowfps(t.frame0, t.frame1, (0.5,))[0] for t in triplets]


_SHARED_FLOW: dict[str, MemoFlow] = {}


def load_model_shared(name: str, padding: str | None = None) -> Model:
    """``load_model(name)`` on the CPU in float32 with the given padding, its flow network shared (memoised) with the
    other GMFSS models."""
    model = load_model(name, device="cpu", bf16=False)
    if padding is not None:
        model.padding = padding
    if model.has_flows:
        model.flownet = _SHARED_FLOW.setdefault("flownet", MemoFlow(model.flownet))
    return model


def model_outputs(
    names: Sequence[str], triplets: Sequence[Triplet], padding: str | None = None, outputs: Path | None = None
) -> dict[str, list[torch.Tensor]]:
    """Middle frames (t = 0.5, float32, not quantised) of the models ``names`` with the published weights.

    Triplet by triplet, so base and union share each triplet's flows. With ``outputs``, results
    are read from / written to ``outputs/<name>-<padding>/<set>-<triplet>.pt``.
    """
    models = {name: load_model_shared(name, padding) for name in names}
    results: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    for t in triplets:
        for name, model in models.items():
            # outputs with static pixels kept are not the networks' own
            kept = "" if model.changes is None else f"-static{model.changes.tolerance}"
            path = None if outputs is None else outputs / f"{name}-{model.padding}{kept}" / f"{t.set}-{t.name}.pt"
            if path is not None and path.is_file():
                results[name].append(torch.load(path))
                continue
            pair = model.pair(model.prepare(t.frame0), model.prepare(t.frame1))
            results[name].append(model.synthesize(pair, 0.5).image)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                torch.save(results[name][-1], path)
    return results


def _subsets(triplets: Sequence[Triplet]) -> dict[str, list[int]]:
    lo, hi = EYE_MOTION
    return {
        "Middlebury (12)": [i for i, t in enumerate(triplets) if t.set == "middlebury"],
        "eye, all (96)": [i for i, t in enumerate(triplets) if t.set == "eye"],
        f"eye, frames {lo}–{hi}": [i for i, t in enumerate(triplets) if t.set == "eye" and lo <= t.middle_index <= hi],
    }


def _band_psnr(output: torch.Tensor, truth: torch.Tensor, band: int) -> float:
    """PSNR over the pixels within ``band`` of the right or bottom edge (where the padding is)."""
    mask = torch.zeros(truth.shape[-2:], dtype=torch.bool)
    mask[-band:, :] = True
    mask[:, -band:] = True
    mse = ((output.double() - truth.double()) ** 2)[..., mask].mean().item()
    return 10 * np.log10(1.0 / mse)


def padding_study(triplets: Sequence[Triplet], outputs: Path | None, band: int = 32) -> list[str]:
    """Markdown table: the union model with each padding mode, whole picture and border band."""
    from vsanimsplat.models.base import PADDING_MODES

    lines = [
        f"| padding | mean PSNR, whole picture | mean PSNR, {band}-px band at the right and bottom edges | band PSNR, Middlebury | band PSNR, eye |",
        "|---|---|---|---|---|",
    ]
    for mode in PADDING_MODES:
        results = [quantise(o) for o in model_outputs(["union"], triplets, mode, outputs)["union"]]
        whole = [psnr(o, t.middle, 1.0) for o, t in zip(results, triplets)]
        edge = [_band_psnr(o, t.middle, band) for o, t in zip(results, triplets)]
        by_set = {name: np.mean([e for e, t in zip(edge, triplets) if t.set == name]) for name in ("middlebury", "eye")}
        lines.append(f"| {mode} | {np.mean(whole):.3f} | {np.mean(edge):.3f} | {by_set['middlebury']:.3f} | {by_set['eye']:.3f} |")
        print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "quality.md")
    parser.add_argument("--methods", nargs="+", default=["union", "base", "rife", "blend", "flowfps"])
    parser.add_argument("--outputs", type=Path, help="cache of model outputs")
    parser.add_argument("--eye-step", type=int, default=6, help="padding study: every N-th eye triplet")
    args = parser.parse_args()
    torch.set_grad_enabled(False)

    triplets = middlebury_triplets(args.data) + eye_triplets(args.data)
    subsets = _subsets(triplets)
    models = [m for m in args.methods if m in MODEL_NAMES]
    model_results = model_outputs(models, triplets, outputs=args.outputs)
    methods: dict[str, Callable[[Sequence[Triplet]], list[torch.Tensor]]] = {
        "blend": blend,
        "flowfps": flowfps,
        **{m: (lambda ts, m=m: [quantise(o) for o in model_results[m]]) for m in models},
    }
    labels = {"union": "union (default)", "base": "base", "rife": "rife (IFNet alone)", "blend": "50/50 blend", "flowfps": "mvtools FlowFPS"}
    rows = []
    for method in args.methods:
        start = time.perf_counter()
        outputs = methods[method](triplets)
        scores = [(psnr(o, t.middle, 1.0), ssim(o, t.middle)) for o, t in zip(outputs, triplets)]
        row = [labels[method]]
        for indices in subsets.values():
            row.append(f"{np.mean([scores[i][0] for i in indices]):.2f} / {np.mean([scores[i][1] for i in indices]):.4f}")
        rows.append(row)
        print(" | ".join(row), f"({time.perf_counter() - start:.0f} s)", flush=True)
    eye = [t for t in triplets if t.set == "eye"]
    study_set = [t for t in triplets if t.set == "middlebury"] + eye[:: args.eye_step]
    study = padding_study(study_set, args.outputs)

    header = ["method", *subsets]
    table = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]
    text = f"""# Interpolation quality (t = 0.5)

Made by `scripts/eval_quality.py` on {time.strftime('%Y-%m-%d')}: {describe()}.
Float32 on the CPU. Mean PSNR (dB) / mean SSIM over the triplets, outputs rounded to 8 bits.
Models are this project's implementation with the published GMFSS_Fortuna weights, inputs padded
(not resized) to the networks' multiple. Eye = `synfig-eye-48fps.mkv`, even frames in, odd frames as truth;
"frames 56–166" are the triplets whose middle frame lies there (the part with motion).

{chr(10).join(table)}

## Padding: replicate or reflect

The union model on the 12 Middlebury triplets and every {args.eye_step}th eye triplet ({len(study_set)} in all),
padded on the right and bottom to a multiple of 64 with each mode (the published plugin resizes instead).

{chr(10).join(study)}
"""
    args.out.write_text(text + _NOTES)
    print(f"wrote {args.out}")


_NOTES = """
Notes:

- On the flat vector cartoon the published networks score below a plain blend: the GridNet re-draws
  every pixel, static ones included, so flat areas and line art that do not move pick up small errors
  everywhere, while a blend is exact wherever nothing moves. This is the starting point for later
  quality work (e.g. keeping static pixels from the inputs).
- mvtools parameters: `Super(pel=2)`, `Analyse(blksize=16, overlap=8)` backward and forward, `FlowFPS`
  with defaults, on YUV444P16 (BT.709) converted from and back to RGB24.
"""


if __name__ == "__main__":
    main()
