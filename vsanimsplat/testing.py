"""Synthetic animation with exact ground truth, for tests, benchmarks and the demo.

A scene is a few flat-coloured shapes with dark outlines that move over a textured
background. :meth:`Scene.render` draws it at any (fractional) time ``t``, measured in
source frames. :func:`animate` holds drawings for a cadence (ones, twos, threes or any
mix) the way animation is shot, so the drawings, their timing and the true in-between
pictures are all known. Pure numpy: no VapourSynth, no torch.

The changes a scene-cut detector must tell apart are options of :class:`Scene` (a pan of
the background, a flash, a colour change of the shapes, a blink-like local change), and
:class:`Cut` joins two scenes with a hard cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Scene", "Cut", "AnimatedClip", "animate", "cadence", "add_noise"]


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
    | `speed` | float | 2.0 | minimum speed of each shape, in pixels per source frame (0: still shapes) |
    | `texture` | float | 0.0 | contrast of a coarse painted texture (grey blotches about 1/8 of the height) on the background |
    | `pan` | (float, float) | (0, 0) | the background moves this many pixels (x, y) per source frame (it wraps around) |
    | `flash` | (float, float) or None | None | times ``[start, end)`` when the whole picture is brightened (``0.45 + 0.55 × value``) |
    | `recolour` | float or None | None | from this time on every shape is filled with the complement of its colour |
    | `blink` | (float, float) or None | None | times ``[start, end)`` when a small outlined lid (1/8 of the width and height) covers a fixed spot |
    """

    def __init__(self, width: int = 160, height: int = 96, seed: int = 0, shapes: int = 3, speed: float = 2.0, *,
                 texture: float = 0.0, pan: tuple[float, float] = (0.0, 0.0), flash: tuple[float, float] | None = None,
                 recolour: float | None = None, blink: tuple[float, float] | None = None):
        if width < 16 or height < 16:
            raise ValueError(f"width and height must be at least 16, got {width}×{height}")
        self.pan, self.flash, self.recolour, self.blink = pan, flash, recolour, blink
        rng = np.random.default_rng(seed)
        self.width, self.height = width, height
        y, x = np.mgrid[0:height, 0:width].astype(np.float32)
        self._x, self._y = x, y
        base = rng.uniform(0.35, 0.75, size=3).astype(np.float32)
        fx, fy = rng.uniform(0.15, 0.45, size=2)
        waves = 0.08 * np.sin(x * fx + 1.3 * np.cos(y * fy))[..., None]
        grain = rng.uniform(-0.05, 0.05, size=(height, width, 1)).astype(np.float32)
        painted = texture * self._blotches(np.random.default_rng([seed, 1]), max(2.0, height / 8))[..., None]
        self.background = np.clip(base + waves * np.array([1.0, -0.6, 0.4], np.float32) + grain + painted,
                                  0, 1).astype(np.float32)
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

    def _blotches(self, rng: np.random.Generator, size: float) -> np.ndarray:
        """Random values in -1 … 1 on a grid ``size`` pixels apart, bilinearly interpolated over the frame."""
        gy, gx = self._y / size, self._x / size
        grid = rng.uniform(-1, 1, size=(int(gy.max()) + 2, int(gx.max()) + 2)).astype(np.float32)
        y0, x0 = gy.astype(int), gx.astype(int)
        fy, fx = gy - y0, gx - x0
        return ((1 - fy) * ((1 - fx) * grid[y0, x0] + fx * grid[y0, x0 + 1])
                + fy * ((1 - fx) * grid[y0 + 1, x0] + fx * grid[y0 + 1, x0 + 1]))

    def positions(self, t: float) -> list[tuple[float, float]]:
        """Centre of every shape at time ``t`` (source frames)."""
        return [
            (
                _bounce(s.centre[0], s.velocity[0], t, s.radii[0] / 2, self.width - s.radii[0] / 2),
                _bounce(s.centre[1], s.velocity[1], t, s.radii[1] / 2, self.height - s.radii[1] / 2),
            )
            for s in self.shapes
        ]

    def _background_at(self, t: float) -> np.ndarray:
        """The background moved by ``pan × t`` (wrapping around; fractional shifts blend the two nearest)."""
        if self.pan == (0.0, 0.0):
            return self.background.copy()
        x, y = self.pan[0] * t, self.pan[1] * t
        x0, y0 = np.floor(x), np.floor(y)
        fx, fy = np.float32(x - x0), np.float32(y - y0)

        def rolled(dx: int, dy: int) -> np.ndarray:
            return np.roll(self.background, (int(y0) + dy, int(x0) + dx), axis=(0, 1))

        return ((1 - fy) * ((1 - fx) * rolled(0, 0) + fx * rolled(1, 0))
                + fy * ((1 - fx) * rolled(0, 1) + fx * rolled(1, 1)))

    def _outlined(self, image: np.ndarray, kind: str, centre: tuple[float, float], radii: tuple[float, float],
                  fill: Sequence[float]) -> None:
        """Draw an outlined flat ``kind`` (``"ellipse"`` or ``"box"``) into ``image``."""
        dx, dy = (self._x - centre[0]) / radii[0], (self._y - centre[1]) / radii[1]
        r = np.hypot(dx, dy) if kind == "ellipse" else np.maximum(np.abs(dx), np.abs(dy))
        image[r <= 1.0] = (0.05, 0.04, 0.06)
        image[r <= 1.0 - self.outline / min(radii)] = fill

    @staticmethod
    def _within(t: float, span: tuple[float, float] | None) -> bool:
        return span is not None and span[0] <= t < span[1]

    def render(self, t: float) -> np.ndarray:
        """The picture at time ``t`` (source frames) as float32 RGB, shape (height, width, 3), values 0 … 1."""
        image = self._background_at(t)
        recoloured = self.recolour is not None and t >= self.recolour
        for shape, centre in zip(self.shapes, self.positions(t)):
            fill = tuple(1.0 - c for c in shape.fill) if recoloured else shape.fill
            self._outlined(image, shape.kind, centre, shape.radii, fill)
        if self._within(t, self.blink):
            self._outlined(image, "ellipse", (0.6 * self.width, 0.4 * self.height),
                           (self.width / 16, self.height / 16), (0.9, 0.75, 0.6))
        if self._within(t, self.flash):
            image = 0.45 + 0.55 * image
        return image.astype(np.float32)


class Cut:
    """Two scenes joined by a hard cut: ``first`` before time ``at``, ``second`` (from its time 0) from ``at`` on.

    | parameter | type | meaning |
    |---|---|---|
    | `first`, `second` | Scene | the two shots, of the same size |
    | `at` | float | time of the cut in source frames |

    Renders like a :class:`Scene`, so :func:`animate` shoots it.
    """

    def __init__(self, first: Scene, second: Scene, at: float):
        if (first.width, first.height) != (second.width, second.height):
            raise ValueError(f"the scenes must have the same size, got {first.width}×{first.height} "
                             f"and {second.width}×{second.height}")
        self.first, self.second, self.at = first, second, at
        self.width, self.height = first.width, first.height

    def render(self, t: float) -> np.ndarray:
        """The picture at time ``t`` (source frames), as :meth:`Scene.render`."""
        return self.first.render(t) if t < self.at else self.second.render(t - self.at)


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
    | `scene` | Scene or Cut | renders the true picture at any time |
    | `holds` | list[int] | source frames each drawing is held |
    | `starts` | list[int] | first frame of each drawing |
    | `frames` | list[np.ndarray] | uint8 RGB frames (height, width, 3), noise included |
    """

    scene: Scene | Cut
    holds: list[int]
    starts: list[int]
    frames: list[np.ndarray]

    def truth(self, t: float) -> np.ndarray:
        """The ideal uint8 RGB picture at time ``t`` (source frames), e.g. an in-between."""
        return np.rint(self.scene.render(t) * 255).astype(np.uint8)


def animate(scene: Scene | Cut, holds: Sequence[int], noise: float = 0.0, seed: int = 0) -> AnimatedClip:
    """Shoot ``scene`` with the given holds: drawing k shows the scene at its first frame's time.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `scene` | Scene or Cut | | what to draw |
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
