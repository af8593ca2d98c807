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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vsanimsplat.machine import describe
from vsanimsplat.models import MODEL_NAMES, Model, load_model

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
EYE_MOTION = (56, 166)


@dataclass(frozen=True)
class Triplet:
    """Two input frames and the true middle frame, each (1, 3, H, W) float32 in [0, 1]."""

    set: str
    name: str
    frame0: torch.Tensor
    middle: torch.Tensor
    frame1: torch.Tensor
    middle_index: int = -1  # frame number of the middle frame in its video, -1 for stills


def _to_tensor(array: np.ndarray) -> torch.Tensor:
    """(3, H, W) or (H, W, 3) uint8 → (1, 3, H, W) float32 in [0, 1]."""
    if array.shape[-1] == 3 and array.shape[0] != 3:
        array = array.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(array)).float().div(255).unsqueeze(0)


def middlebury_triplets(data: Path) -> list[Triplet]:
    """The Middlebury sequences with a ground-truth middle frame, sorted by name."""
    from PIL import Image

    triplets = []
    for folder in sorted(p for p in (data / "middlebury").iterdir() if (p / "frame10i11.png").is_file()):
        frames = [_to_tensor(np.asarray(Image.open(folder / f"{n}.png").convert("RGB"))) for n in ("frame10", "frame10i11", "frame11")]
        triplets.append(Triplet("middlebury", folder.name, *frames))
    return triplets


def video_frames(path: Path) -> list[np.ndarray]:
    """All frames of a video as (3, H, W) uint8 RGB arrays (VapourSynth ``bs.VideoSource``)."""
    import vapoursynth as vs

    clip = vs.core.bs.VideoSource(str(path))
    if clip.format.id != vs.RGB24:
        clip = clip.resize.Bicubic(format=vs.RGB24, matrix_in_s="709")
    return [np.stack([np.asarray(frame[p]) for p in range(3)]) for frame in clip.frames()]


def eye_triplets(data: Path) -> list[Triplet]:
    """Triplets (2k, 2k+1, 2k+2) of the 48 fps eye render."""
    frames = video_frames(data / "synfig-eye-48fps.mkv")
    return [
        Triplet("eye", f"eye{k + 1:03d}", _to_tensor(frames[k]), _to_tensor(frames[k + 1]), _to_tensor(frames[k + 2]), k + 1)
        for k in range(0, len(frames) - 2, 2)
    ]


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB of two pictures in [0, 1]."""
    mse = torch.mean((a.double() - b.double()) ** 2).item()
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean SSIM of two (1, C, H, W) pictures in [0, 1] (Gaussian σ = 1.5, 11×11 window, valid region)."""
    x = torch.arange(11, dtype=torch.float64) - 5
    g = torch.exp(-(x**2) / (2 * 1.5**2))
    window = (g[:, None] * g[None, :] / g.sum() ** 2).expand(a.shape[1], 1, 11, 11)

    def blur(v: torch.Tensor) -> torch.Tensor:
        return F.conv2d(v, window, groups=a.shape[1])

    a, b = a.double(), b.double()
    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    index = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return index.mean().item()


def quantise(image: torch.Tensor) -> torch.Tensor:
    """Round to 8 bits, as an RGB24 output would be."""
    return image.float().clamp(0, 1).mul(255).round().div(255)


def blend(triplets: Sequence[Triplet]) -> list[torch.Tensor]:
    """50/50 blend of the two inputs."""
    return [quantise((t.frame0 + t.frame1) / 2) for t in triplets]


def flowfps(triplets: Sequence[Triplet]) -> list[torch.Tensor]:
    """mvtools FlowFPS middle frames: each triplet's two inputs as a 2-frame clip, doubled in rate."""
    import vapoursynth as vs

    from vsanimsplat.filters.frames import clip_from_arrays

    outputs = []
    for t in triplets:
        pair = [(x[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8) for x in (t.frame0, t.frame1)]
        clip = clip_from_arrays(pair, 24).resize.Bicubic(format=vs.YUV444P16, matrix_s="709")
        super_clip = clip.mv.Super(pel=2)
        backward = super_clip.mv.Analyse(isb=True, blksize=16, overlap=8)
        forward = super_clip.mv.Analyse(isb=False, blksize=16, overlap=8)
        doubled = clip.mv.FlowFPS(super_clip, backward, forward, num=48, den=1)
        frame = doubled.resize.Bicubic(format=vs.RGB24, matrix_in_s="709").get_frame(1)
        outputs.append(_to_tensor(np.stack([np.asarray(frame[p]) for p in range(3)])))
    return outputs


class MemoFlow(torch.nn.Module):
    """Wraps a flow network and remembers its last results by input content, so models that
    share ``flownet.pkl`` (base, union) estimate each triplet's flows once."""

    def __init__(self, flownet: torch.nn.Module) -> None:
        super().__init__()
        self.flownet = flownet
        self.memo: dict[tuple, torch.Tensor] = {}

    def forward(self, img0: torch.Tensor, img1: torch.Tensor) -> torch.Tensor:
        key = (tuple(img0.shape), img0.double().sum().item(), img1.double().sum().item())
        if key not in self.memo:
            if len(self.memo) >= 4:
                self.memo.pop(next(iter(self.memo)))
            self.memo[key] = self.flownet(img0, img1)
        return self.memo[key]


_SHARED_FLOW: dict[str, MemoFlow] = {}


def load_model_shared(name: str, padding: str | None = None) -> Model:
    """``load_model(name)`` with the given padding, its flow network shared (memoised) with the other GMFSS models."""
    model = load_model(name)
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
            # outputs with static pixels kept are not the networks' own (check_faithfulness.py shares the cache)
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
        whole = [psnr(o, t.middle) for o, t in zip(results, triplets)]
        edge = [_band_psnr(o, t.middle, band) for o, t in zip(results, triplets)]
        by_set = {name: np.mean([e for e, t in zip(edge, triplets) if t.set == name]) for name in ("middlebury", "eye")}
        lines.append(f"| {mode} | {np.mean(whole):.3f} | {np.mean(edge):.3f} | {by_set['middlebury']:.3f} | {by_set['eye']:.3f} |")
        print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "quality.md")
    parser.add_argument("--methods", nargs="+", default=["union", "base", "rife", "blend", "flowfps"])
    parser.add_argument("--outputs", type=Path, help="cache of model outputs (shared with check_faithfulness.py --outputs)")
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
        scores = [(psnr(o, t.middle), ssim(o, t.middle)) for o, t in zip(outputs, triplets)]
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
