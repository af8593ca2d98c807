"""Shared test helpers: synthetic animated clips as VapourSynth clips, and the scripts in ``scripts/`` as modules."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from types import ModuleType

import vapoursynth as vs

from vsanimsplat.filters.frames import clip_from_arrays
from vsanimsplat.testing import AnimatedClip, Cut, Scene, animate


def synthetic_clip(
    holds: Sequence[int],
    width: int = 96,
    height: int = 64,
    noise: float = 0.0,
    seed: int = 0,
    fmt: int = vs.RGB24,
    fps: Fraction = Fraction(24000, 1001),
    scene: Scene | Cut | None = None,
) -> tuple[vs.VideoNode, AnimatedClip]:
    """A clip animated with ``holds`` (of ``scene``, else ``Scene(width, height, seed=seed)``), converted to
    ``fmt``, and the truth about it."""
    animation = animate(scene or Scene(width, height, seed=seed), holds, noise=noise, seed=seed)
    return as_clip(animation, fmt, fps), animation


def as_clip(animation: AnimatedClip, fmt: int = vs.RGB24, fps: Fraction = Fraction(24000, 1001)) -> vs.VideoNode:
    """The frames of ``animation`` (e.g. a :class:`~vsanimsplat.testing.LayeredClip`) as a clip of ``fmt``."""
    clip = clip_from_arrays(animation.frames, fps)
    if fmt != vs.RGB24:
        rgb = vs.core.get_video_format(fmt).color_family == vs.RGB
        clip = clip.resize.Bicubic(format=fmt, **({} if rgb else {"matrix_s": "709"}))
    return clip


SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
"""The repository's scripts folder."""


def load_script(name: str) -> ModuleType:
    """``scripts/NAME.py`` as a module (its ``main`` not run), registered under ``name`` only while it loads (so its
    dataclasses find their module)."""
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module
