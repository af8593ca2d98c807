"""Picture metrics in plain numpy: colour histograms (stage 1 of the scene-cut detector), PSNR, and how evenly a
thing moves (:func:`steps_cv`)."""

from __future__ import annotations

import numpy as np

from .errors import BadOption

__all__ = ["colour_histogram", "histogram_distance", "psnr", "psnr_of_mse", "steps_cv"]


def colour_histogram(yuv: np.ndarray) -> np.ndarray:
    """Normalised 8×8×8-bin colour histogram (512 bins summing to 1) of an 8-bit picture.

    | parameter | type | meaning |
    |---|---|---|
    | `yuv` | np.ndarray (H, W, 3) uint8 | the picture, three full-size planes (e.g. YUV 4:4:4; a downscaled copy is enough) |
    """
    if yuv.ndim != 3 or yuv.shape[2] != 3 or yuv.dtype != np.uint8:
        raise BadOption("metrics.colour_histogram", "yuv",
                        f"yuv must be a uint8 array of shape (H, W, 3), got {yuv.dtype} {yuv.shape}")
    bins = (yuv[..., 0] >> 5).astype(np.intp) * 64 + (yuv[..., 1] >> 5) * 8 + (yuv[..., 2] >> 5)
    counts = np.bincount(bins.ravel(), minlength=512)
    return counts / counts.sum()


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Share of the picture whose colour moved to another bin: half the L1 distance, 0 … 1.

    Stage 1 of the scene-cut detector (:mod:`vsanimsplat.scenes`): every hard cut of the
    evaluation clips scores 0.134 or more, but so can change inside a shot (a blink between
    drawings 0.055, a flash 0.96), which stage 2 explains by motion (``benchmarks/scenes.md``). A
    cut between two shots of the same colours scores low: give it in ``interpolate``'s ``cuts``.
    """
    return float(0.5 * np.abs(np.asarray(a) - np.asarray(b)).sum())


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB between two pictures of the same shape (``inf`` when equal)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise BadOption("metrics.psnr", "b", f"a and b must have the same shape, got {a.shape} and {b.shape}")
    return psnr_of_mse(float(((a - b) ** 2).mean()), peak)


def psnr_of_mse(mse: float, peak: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB of a mean squared error (``inf`` for 0): for errors summed over many pictures."""
    return float("inf") if mse == 0 else float(10 * np.log10(peak * peak / mse))


def steps_cv(points: np.ndarray) -> float:
    """Coefficient of variation (std / mean) of the lengths of the steps between consecutive points: 0 for an even
    motion, about 1 for move–stop–move–stop. Steps from or to a point with a NaN coordinate are left out; NaN when no
    step moves.

    | parameter | type | meaning |
    |---|---|---|
    | `points` | np.ndarray (N, 2) float | positions (x, y) in order, e.g. a shape's centroid in each output frame |
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise BadOption("metrics.steps_cv", "points", f"points must have shape (N, 2), got {points.shape}")
    steps = np.hypot(*np.diff(points, axis=0).T)
    steps = steps[np.isfinite(steps)]
    return float(steps.std() / steps.mean()) if len(steps) and steps.mean() > 0 else float("nan")
