"""Synthetic animation with exact ground truth, for tests, benchmarks and the demo.

A scene is a few flat-coloured shapes with dark outlines that move over a textured
background. :meth:`Scene.render` draws it at any (fractional) time ``t``, measured in
source frames. :func:`animate` holds drawings for a cadence (ones, twos, threes or any
mix) the way animation is shot, so the drawings, their timing and the true in-between
pictures are all known. Pure numpy: no VapourSynth, no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Scene", "AnimatedClip", "animate", "cadence", "add_noise"]


@dataclass(frozen=True)
class _Shape:
    kind: str  # "ellipse" or "box"
    centre: tuple[float, float]  # x, y at t = 0
    velocity: tuple[float, float]  # pixels per source frame
    radii: tuple[float, float]
    fill: tuple[float, float, float]


def _bounce(p0: float, v: float, t: float, lo: float, hi: float) -> float:
    """Position at time t of a point moving at speed v that bounces between lo and hi."""
    span = hi - lo
    if span <= 0:
        return lo
    phase = (p0 - lo + v * t) % (2 * span)
    return lo + (phase if phase <= span else 2 * span - phase)


class Scene:
    """A small cartoon: outlined flat shapes bouncing over a textured background.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `width` | int | 160 | frame width in pixels (≥ 16) |
    | `height` | int | 96 | frame height in pixels (≥ 16) |
    | `seed` | int | 0 | chooses background, shapes, colours and velocities |
    | `shapes` | int | 3 | number of moving shapes |
    | `speed` | float | 2.0 | minimum speed of each shape, in pixels per source frame |
    """

    def __init__(self, width: int = 160, height: int = 96, seed: int = 0, shapes: int = 3, speed: float = 2.0):
        if width < 16 or height < 16:
            raise ValueError(f"width and height must be at least 16, got {width}×{height}")
        rng = np.random.default_rng(seed)
        self.width, self.height = width, height
        y, x = np.mgrid[0:height, 0:width].astype(np.float32)
        self._x, self._y = x, y
        base = rng.uniform(0.35, 0.75, size=3).astype(np.float32)
        fx, fy = rng.uniform(0.15, 0.45, size=2)
        waves = 0.08 * np.sin(x * fx + 1.3 * np.cos(y * fy))[..., None]
        grain = rng.uniform(-0.05, 0.05, size=(height, width, 1)).astype(np.float32)
        self.background = np.clip(base + waves * np.array([1.0, -0.6, 0.4], np.float32) + grain, 0, 1).astype(np.float32)
        self.outline = max(1.0, min(width, height) / 48)
        size = min(width, height)
        self.shapes = []
        for _ in range(shapes):
            rx, ry = rng.uniform(0.12, 0.22, size=2) * size
            angle = rng.uniform(0, 2 * np.pi)
            magnitude = speed * rng.uniform(1.0, 1.6)
            self.shapes.append(
                _Shape(
                    kind=str(rng.choice(["ellipse", "box"])),
                    centre=(rng.uniform(rx, width - rx), rng.uniform(ry, height - ry)),
                    velocity=(magnitude * np.cos(angle), magnitude * np.sin(angle)),
                    radii=(rx, ry),
                    fill=tuple(rng.uniform(0.1, 1.0, size=3)),
                )
            )

    def positions(self, t: float) -> list[tuple[float, float]]:
        """Centre of every shape at time ``t`` (source frames)."""
        return [
            (
                _bounce(s.centre[0], s.velocity[0], t, s.radii[0] / 2, self.width - s.radii[0] / 2),
                _bounce(s.centre[1], s.velocity[1], t, s.radii[1] / 2, self.height - s.radii[1] / 2),
            )
            for s in self.shapes
        ]

    def render(self, t: float) -> np.ndarray:
        """The picture at time ``t`` (source frames) as float32 RGB, shape (height, width, 3), values 0 … 1."""
        image = self.background.copy()
        for shape, (cx, cy) in zip(self.shapes, self.positions(t)):
            dx, dy = (self._x - cx) / shape.radii[0], (self._y - cy) / shape.radii[1]
            r = np.hypot(dx, dy) if shape.kind == "ellipse" else np.maximum(np.abs(dx), np.abs(dy))
            inner = 1.0 - self.outline / min(shape.radii)
            image[r <= 1.0] = (0.05, 0.04, 0.06)
            image[r <= inner] = shape.fill
        return image


def cadence(pattern: Sequence[int], drawings: int) -> list[int]:
    """Hold lengths for ``drawings`` drawings, repeating ``pattern`` (e.g. ``[2]`` on twos, ``[2, 3]`` mixed)."""
    if not pattern or any(h < 1 for h in pattern):
        raise ValueError(f"pattern must be a non-empty list of holds >= 1, got {list(pattern)}")
    return [pattern[i % len(pattern)] for i in range(drawings)]


def add_noise(frame: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Compression-like noise on a uint8 frame: per-pixel Gaussian grain plus 8×8 block offsets.

    ``sigma`` is the grain's standard deviation in 8-bit code values; block offsets are half of it.
    """
    h, w = frame.shape[:2]
    blocks = rng.normal(0, sigma / 2, size=((h + 7) // 8, (w + 7) // 8, 1))
    blocks = np.repeat(np.repeat(blocks, 8, axis=0), 8, axis=1)[:h, :w]
    noisy = frame + rng.normal(0, sigma, size=frame.shape) + blocks
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


@dataclass
class AnimatedClip:
    """Frames of an animation shot with holds, and the truth about them.

    | field | type | meaning |
    |---|---|---|
    | `scene` | Scene | renders the true picture at any time |
    | `holds` | list[int] | source frames each drawing is held |
    | `starts` | list[int] | first frame of each drawing |
    | `frames` | list[np.ndarray] | uint8 RGB frames (height, width, 3), noise included |
    """

    scene: Scene
    holds: list[int]
    starts: list[int]
    frames: list[np.ndarray]

    def truth(self, t: float) -> np.ndarray:
        """The ideal uint8 RGB picture at time ``t`` (source frames), e.g. an in-between."""
        return np.rint(self.scene.render(t) * 255).astype(np.uint8)


def animate(scene: Scene, holds: Sequence[int], noise: float = 0.0, seed: int = 0) -> AnimatedClip:
    """Shoot ``scene`` with the given holds: drawing k shows the scene at its first frame's time.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `scene` | Scene | | what to draw |
    | `holds` | sequence of int | | frames each drawing is held, e.g. ``cadence([2], 12)`` |
    | `noise` | float | 0.0 | grain sigma in 8-bit code values (0 = clean, every held frame identical) |
    | `seed` | int | 0 | noise seed |
    """
    rng = np.random.default_rng(seed)
    starts = np.concatenate([[0], np.cumsum(holds)[:-1]]).astype(int).tolist()
    frames = []
    for start, hold in zip(starts, holds):
        drawing = np.rint(scene.render(start) * 255).astype(np.uint8)
        frames += [add_noise(drawing, rng, noise) if noise > 0 else drawing for _ in range(hold)]
    return AnimatedClip(scene, list(holds), starts, frames)
