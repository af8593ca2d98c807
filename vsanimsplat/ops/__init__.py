"""Differentiable image operators (torch): softmax splatting, backward warping, correlation.

| name | what it does |
|---|---|
| :func:`softsplat` | forward warping by bilinear splatting, modes `sum`, `avg`, `linear`, `soft` (Niklaus & Liu 2020) |
| :func:`softsplat_with_holes` | the same, and the mask of pixels no source reached |
| :func:`deterministic` | within it, splatting adds in a fixed order on every device (the same bits on every run) |
| :func:`backwarp` | backward warping by bilinear sampling (``grid_sample``, ``align_corners=True``) |
| :func:`backwarp_valid` | where :func:`backwarp` samples inside the frame |
| :func:`correlation` | local cost volume of two feature maps, PWC-Net channel order |
"""

from .backwarp import backwarp, backwarp_valid
from .correlation import correlation
from .softsplat import deterministic, softsplat, softsplat_with_holes

__all__ = ["softsplat", "softsplat_with_holes", "deterministic", "backwarp", "backwarp_valid", "correlation"]
