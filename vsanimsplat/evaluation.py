"""Real footage with a known in-between, and the measures the quality benchmarks take of it (``scripts/eval_*.py``,
``scripts/bench*.py``, ``tests/test_reference.py``).

The footage lies in the data folder beside the checkout (``../shared/data``):

* the 12 Middlebury "other" sequences with a true middle frame (``middlebury/*/frame10``, ``frame10i11``,
  ``frame11``);
* ``synfig-eye-48fps.mkv``: even frames are the 24 fps input, odd frames the exact in-betweens; frames
  56–166 (:data:`EYE_MOTION`) are the part with motion.

Pictures are (1, 3, H, W) float32 tensors in [0, 1]. PSNR is :func:`vsanimsplat.metrics.psnr` with ``peak=1.0``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import vapoursynth as vs

__all__ = ["DATA", "EYE_MOTION", "MemoFlow", "Triplet", "eye_on_twos", "eye_triplets", "flowfps", "middlebury_triplets",
           "one_thread",
           "quantise", "ssim", "to_tensor", "video_frames"]

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
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


def to_tensor(array: np.ndarray) -> torch.Tensor:
    """(3, H, W) or (H, W, 3) uint8 → (1, 3, H, W) float32 in [0, 1]."""
    if array.shape[-1] == 3 and array.shape[0] != 3:
        array = array.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(array)).float().div(255).unsqueeze(0)


def middlebury_triplets(data: Path) -> list[Triplet]:
    """The Middlebury sequences with a ground-truth middle frame, sorted by name."""
    from PIL import Image

    triplets = []
    for folder in sorted(p for p in (data / "middlebury").iterdir() if (p / "frame10i11.png").is_file()):
        frame0, middle, frame1 = (to_tensor(np.asarray(Image.open(folder / f"{n}.png").convert("RGB")))
                                  for n in ("frame10", "frame10i11", "frame11"))
        triplets.append(Triplet("middlebury", folder.name, frame0, middle, frame1))
    return triplets


def video_frames(path: Path) -> list[np.ndarray]:
    """All frames of a video as (3, H, W) uint8 RGB arrays (VapourSynth ``bs.VideoSource``)."""
    clip = vs.core.bs.VideoSource(str(path))
    if clip.format.id != vs.RGB24:
        clip = clip.resize.Bicubic(format=vs.RGB24, matrix_in_s="709")
    return [np.stack([np.asarray(frame[p]) for p in range(3)]) for frame in clip.frames()]


def eye_triplets(data: Path) -> list[Triplet]:
    """Triplets (2k, 2k+1, 2k+2) of the 48 fps eye render."""
    frames = [to_tensor(frame) for frame in video_frames(data / "synfig-eye-48fps.mkv")]
    return [Triplet("eye", f"eye{k + 1:03d}", frames[k], frames[k + 1], frames[k + 2], k + 1)
            for k in range(0, len(frames) - 2, 2)]


def eye_on_twos(eye: vs.VideoNode) -> vs.VideoNode:
    """Every 4th frame of the 48 fps eye render, each held twice: a 24 fps clip on twos."""
    quarter = eye[::4]
    return vs.core.std.Interleave([quarter, quarter]).std.AssumeFPS(fpsnum=24)


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


def flowfps(frame0: torch.Tensor, frame1: torch.Tensor, ts: Sequence[float]) -> list[torch.Tensor]:
    """mvtools FlowFPS, the classic motion-compensated interpolation, at times ``ts`` (multiples of ¼) between two
    pictures: Super pel 2, Analyse blksize 16 overlap 8 both ways, on YUV444P16 (BT.709) converted from and back to
    RGB24."""
    from .filters.frames import clip_from_arrays

    pair = [(x[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8) for x in (frame0, frame1)]
    clip = clip_from_arrays(pair, Fraction(24)).resize.Bicubic(format=vs.YUV444P16, matrix_s="709")
    super_clip = clip.mv.Super(pel=2)
    backward = super_clip.mv.Analyse(isb=True, blksize=16, overlap=8)
    forward = super_clip.mv.Analyse(isb=False, blksize=16, overlap=8)
    quarters = clip.mv.FlowFPS(super_clip, backward, forward, num=96, den=1)
    quarters = quarters.resize.Bicubic(format=vs.RGB24, matrix_in_s="709")
    return [to_tensor(np.stack([np.asarray(quarters.get_frame(round(4 * t))[p]) for p in range(3)])) for t in ts]


class MemoFlow(torch.nn.Module):
    """Wraps a flow network and remembers its last results by input content, so models that share ``flownet.pkl``
    (base, union) estimate each triplet's flows once."""

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


@contextmanager
def one_thread() -> Iterator[None]:
    """The block on one torch thread (CPU seconds that do not depend on the machine's load), torch's setting after."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
