"""Synthetic animation with exact ground truth, for tests, benchmarks and the demo.

A scene is a few flat-coloured shapes with dark outlines that move over a textured
background. :meth:`Scene.render` draws it at any (fractional) time ``t``, measured in
source frames. :func:`animate` holds drawings for a cadence (ones, twos, threes or any
mix) the way animation is shot, so the drawings, their timing and the true in-between
pictures are all known. Pure numpy: no VapourSynth, no torch.

The changes a scene-cut detector must tell apart are options of :class:`Scene` (a pan of
the background, a flash, a colour change of the shapes, a blink-like local change), and
:class:`Cut` joins two scenes with a hard cut. :func:`animate_layers` gives every shape its own cadence
over a background that moves on ones (a pan on ones with characters on twos or threes), and its
:class:`LayeredClip` knows each shape's true path, drawings and pixels.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .errors import BadOption

__all__ = ["Scene", "Cut", "AnimatedClip", "LayeredClip", "animate", "animate_layers", "cadence", "add_noise"]


@dataclass(frozen=True)
class _Shape:
    kind: str  # "ellipse" or "box"
    centre: tuple[float, float]  # x, y at t = 0
    velocity: tuple[float, float]  # pixels per source frame
    radii: tuple[float, float]
    fill: tuple[float, float, float]


_BACKGROUNDS = ("waves", "gradient", "flat")


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
    | `pan` | (float, float) | (0, 0) | the background moves this many pixels (x, y) per source frame (it wraps around; a gradient and the texture repeat with the frame, so they show no seam) |
    | `flash` | (float, float) or None | None | times ``[start, end)`` when the whole picture is brightened (``0.45 + 0.55 × value``) |
    | `recolour` | float or None | None | from this time on every shape is filled with the complement of its colour |
    | `blink` | (float, float), a sequence of them, or None | None | times ``[start, end)`` when a small outlined lid covers a fixed spot (a blink; several short spans make a lip flap) |
    | `lid` | float | 1/16 | the lid's radii as a share of the width and height (1/16: 1.2 % of the frame, 1/32: 0.3 %) |
    | `background` | str | ``"waves"`` | ``"waves"`` (a coloured ripple with fine grain), ``"gradient"`` (a smooth ramp between two colours and back) or ``"flat"`` (one colour); ``texture`` adds to any |
    | `size` | (float, float) | (0.12, 0.22) | the shapes' radii are drawn from this range, as shares of ``min(width, height)`` |
    | `shake` | float | 0.0 | the camera jumps by up to this many pixels each way on every source frame, on top of ``pan`` |
    | `fade` | (float, float) or None | None | times ``[start, end)`` over which the picture fades to black (then stays black) |
    | `antialias` | bool | False | shapes' edges cover their pixels in part (over about one pixel), as digital compositing draws a cel at a sub-pixel position, so a slow shape changes on every frame; False: hard edges, so a shape moves in whole pixels (one moving 0.3 px per frame holds each position for about three frames) |
    """

    def __init__(self, width: int = 160, height: int = 96, seed: int = 0, shapes: int = 3, speed: float = 2.0, *,
                 texture: float = 0.0, pan: tuple[float, float] = (0.0, 0.0), flash: tuple[float, float] | None = None,
                 recolour: float | None = None,
                 blink: tuple[float, float] | Sequence[tuple[float, float]] | None = None, lid: float = 1 / 16,
                 background: str = "waves", size: tuple[float, float] = (0.12, 0.22), shake: float = 0.0,
                 fade: tuple[float, float] | None = None, antialias: bool = False):
        if width < 16 or height < 16:
            raise BadOption("testing.Scene", "width" if width < 16 else "height",
                            f"width and height must be at least 16, got {width}×{height}")
        if background not in _BACKGROUNDS:
            raise BadOption("testing.Scene", "background",
                            f"background must be one of {', '.join(map(repr, _BACKGROUNDS))}, got {background!r}")
        self.pan, self.flash, self.recolour, self.fade, self.shake, self.lid = pan, flash, recolour, fade, shake, lid
        self.antialias = antialias
        self.blinks = [] if blink is None else [blink] if np.ndim(blink) == 1 else [tuple(b) for b in blink]
        self.seed = seed
        rng = np.random.default_rng(seed)
        self.width, self.height = width, height
        y, x = np.mgrid[0:height, 0:width].astype(np.float32)
        self._x, self._y = x, y
        base = rng.uniform(0.35, 0.75, size=3).astype(np.float32)
        fx, fy = rng.uniform(0.15, 0.45, size=2)
        waves = 0.08 * np.sin(x * fx + 1.3 * np.cos(y * fy))[..., None]
        grain = rng.uniform(-0.05, 0.05, size=(height, width, 1)).astype(np.float32)
        painted = texture * self._blotches(np.random.default_rng([seed, 1]), max(2.0, height / 8))[..., None]
        if background == "waves":
            plain = base + waves * np.array([1.0, -0.6, 0.4], np.float32) + grain
        elif background == "gradient":
            # a ramp there and back, and blotches whose last cell blends into the first: a pan (which wraps round)
            # shows no seam, as a pan over a painted background shows none (the waves' fine grain hides theirs)
            ramp = ((fx * (1 - np.cos(2 * np.pi * x / width)) + fy * (1 - np.cos(2 * np.pi * y / height)))
                    / (2 * (fx + fy)))[..., None]
            plain = base + (ramp - 0.5) * np.array([0.3, 0.1, -0.25], np.float32)
        else:
            plain = np.broadcast_to(base, (height, width, 3))
        self.background = np.clip(plain + painted, 0, 1).astype(np.float32)
        self.outline = max(1.0, min(width, height) / 48)
        extent = min(width, height)
        self.shapes = []
        for _ in range(shapes):
            rx, ry = rng.uniform(*size, size=2) * extent
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
        """Random values in -1 … 1 on a grid about ``size`` pixels apart (a whole number of cells across the frame,
        the last cell blending into the first), bilinearly interpolated over the frame."""
        rows, columns = max(1, round(self.height / size)), max(1, round(self.width / size))
        gy, gx = self._y * rows / self.height, self._x * columns / self.width
        grid = rng.uniform(-1, 1, size=(rows, columns)).astype(np.float32)
        y0, x0 = gy.astype(int), gx.astype(int)
        y1, x1 = (y0 + 1) % rows, (x0 + 1) % columns
        fy, fx = gy - y0, gx - x0
        return ((1 - fy) * ((1 - fx) * grid[y0, x0] + fx * grid[y0, x1])
                + fy * ((1 - fx) * grid[y1, x0] + fx * grid[y1, x1]))

    def _centre(self, s: _Shape, t: float) -> tuple[float, float]:
        """Centre of shape ``s`` at time ``t`` (source frames)."""
        return (_bounce(s.centre[0], s.velocity[0], t, s.radii[0] / 2, self.width - s.radii[0] / 2),
                _bounce(s.centre[1], s.velocity[1], t, s.radii[1] / 2, self.height - s.radii[1] / 2))

    def positions(self, t: float) -> list[tuple[float, float]]:
        """Centre of every shape at time ``t`` (source frames)."""
        return [self._centre(s, t) for s in self.shapes]

    def camera(self, t: float) -> tuple[float, float]:
        """How far (x, y) the background has moved at time ``t``: ``pan × t``, plus the shake of source frame ``⌊t⌋``."""
        x, y = self.pan[0] * t, self.pan[1] * t
        if self.shake:
            jump = np.random.default_rng([self.seed, 2, int(np.floor(t)) & 0xFFFFFFFF]).uniform(-1, 1, size=2)
            x, y = x + self.shake * jump[0], y + self.shake * jump[1]
        return x, y

    def _background_at(self, t: float) -> np.ndarray:
        """The background moved by :meth:`camera` (wrapping around; fractional shifts blend the two nearest)."""
        x, y = self.camera(t)
        if (x, y) == (0.0, 0.0):
            return self.background.copy()
        x0, y0 = np.floor(x), np.floor(y)
        fx, fy = np.float32(x - x0), np.float32(y - y0)

        def rolled(dx: int, dy: int) -> np.ndarray:
            return np.roll(self.background, (int(y0) + dy, int(x0) + dx), axis=(0, 1))

        return ((1 - fy) * ((1 - fx) * rolled(0, 0) + fx * rolled(1, 0))
                + fy * ((1 - fx) * rolled(0, 1) + fx * rolled(1, 1)))

    def _outlined(self, image: np.ndarray, labels: np.ndarray, label: int, kind: str, centre: tuple[float, float],
                  radii: tuple[float, float], fill: Sequence[float]) -> None:
        """Draw an outlined flat ``kind`` (``"ellipse"`` or ``"box"``) into ``image`` and ``label`` into ``labels``.

        ``r`` is 1 on the shape's edge; with :attr:`antialias` a pixel is covered by the share ``0.5 + d`` (clipped to
        0 … 1) of its edge, ``d`` the distance to the edge in pixels: ``(1 − r) / |∇r|``."""
        dx, dy = (self._x - centre[0]) / radii[0], (self._y - centre[1]) / radii[1]
        if kind == "ellipse":
            r = np.hypot(dx, dy)
            slope = np.hypot(dx / radii[0], dy / radii[1]) / np.maximum(r, 1e-6)
        else:
            r = np.maximum(np.abs(dx), np.abs(dy))
            slope = np.where(np.abs(dx) >= np.abs(dy), 1 / radii[0], 1 / radii[1])
        inner = 1.0 - self.outline / min(radii)
        for edge, colour in ((1.0, (0.05, 0.04, 0.06)), (inner, fill)):
            if self.antialias:
                cover = np.clip(0.5 + (edge - r) / slope, 0, 1)[..., None].astype(np.float32)
                image[...] = image * (1 - cover) + np.asarray(colour, np.float32) * cover
            else:
                image[r <= edge] = colour
        labels[r <= 1.0] = label

    @staticmethod
    def _within(t: float, span: tuple[float, float] | None) -> bool:
        return span is not None and span[0] <= t < span[1]

    def _brightness(self, t: float) -> float:
        """The fade's factor at time ``t``: 1 before it, falling linearly to 0 at its end."""
        if self.fade is None or t < self.fade[0]:
            return 1.0
        return max(0.0, 1.0 - (t - self.fade[0]) / max(self.fade[1] - self.fade[0], 1e-9))

    def _draw(self, t: float, shape_times: Sequence[float] | None) -> tuple[np.ndarray, np.ndarray]:
        """The picture of :meth:`render` and which layer each pixel shows (int16, shape (height, width)):
        0 the background, i + 1 shape i (fill or outline), -1 the blink lid."""
        times = [t] * len(self.shapes) if shape_times is None else list(shape_times)
        if len(times) != len(self.shapes):
            raise BadOption("testing.Scene.render", "shape_times",
                            f"shape_times must give one time per shape ({len(self.shapes)}), got {len(times)}")
        image = self._background_at(t)
        labels = np.zeros((self.height, self.width), np.int16)
        recoloured = self.recolour is not None and t >= self.recolour
        for label, (shape, time) in enumerate(zip(self.shapes, times), start=1):
            fill = tuple(1.0 - c for c in shape.fill) if recoloured else shape.fill
            self._outlined(image, labels, label, shape.kind, self._centre(shape, time), shape.radii, fill)
        if any(self._within(t, span) for span in self.blinks):
            self._outlined(image, labels, -1, "ellipse", (0.6 * self.width, 0.4 * self.height),
                           (self.width * self.lid, self.height * self.lid), (0.9, 0.75, 0.6))
        if self._within(t, self.flash):
            image = 0.45 + 0.55 * image
        if self._brightness(t) < 1.0:
            image = image * np.float32(self._brightness(t))
        return image.astype(np.float32), labels

    def render(self, t: float, shape_times: Sequence[float] | None = None) -> np.ndarray:
        """The picture at time ``t`` (source frames) as float32 RGB, shape (height, width, 3), values 0 … 1.

        | parameter | type | default | meaning |
        |---|---|---|---|
        | `t` | float | | time of the background, flash, recolour and blink |
        | `shape_times` | sequence of float or None | None | time at which each shape is drawn (one per shape); None: all at ``t`` |
        """
        return self._draw(t, shape_times)[0]


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
            raise BadOption("testing.Cut", "second", f"the scenes must have the same size, got {first.width}×{first.height} "
                            f"and {second.width}×{second.height}")
        self.first, self.second, self.at = first, second, at
        self.width, self.height = first.width, first.height

    def render(self, t: float) -> np.ndarray:
        """The picture at time ``t`` (source frames), as :meth:`Scene.render`."""
        return self.first.render(t) if t < self.at else self.second.render(t - self.at)


def cadence(pattern: Sequence[int], drawings: int) -> list[int]:
    """Hold lengths for ``drawings`` drawings, repeating ``pattern`` (e.g. ``[2]`` on twos, ``[2, 3]`` mixed)."""
    if not pattern or any(h < 1 for h in pattern):
        raise BadOption("testing.cadence", "pattern", f"pattern must be a non-empty list of holds >= 1, got {list(pattern)}")
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


@dataclass
class LayeredClip(AnimatedClip):
    """Frames of a scene whose shapes each keep their own cadence over a background that moves on ones.

    Source frame k shows the background (with any flash, recolour or blink) at time k and each shape as drawn
    at the first frame of *its* hold that contains k. A shape's drawings are samples of its continuous path
    (:meth:`Scene.positions`), and the truth is every part of the picture on its path: :meth:`truth` (``t``) is
    ``scene.render(t)``, the shapes moving smoothly between their drawings as a perfect per-region
    interpolator would show them. ``truth(k)`` equals the noise-free ``frames[k]`` exactly where no shape holds.

    | field | type | meaning |
    |---|---|---|
    | `scene` | Scene | renders the true picture at any time |
    | `holds`, `starts` | list[int] | runs of identical (noise-free) whole frames and their first frames: what whole-frame drawing detection should find (every frame a new one while the background pans) |
    | `frames` | list[np.ndarray] | uint8 RGB frames (height, width, 3), noise included |
    | `layer_holds` | list[list[int]] | for each shape, source frames each of its drawings is held (the last one cut to the clip's end) |
    | `layer_starts` | list[list[int]] | for each shape, the first frame of each of its drawings |
    """

    layer_holds: list[list[int]]
    layer_starts: list[list[int]]

    def drawings(self, frame: int) -> list[int]:
        """For each shape, the time (first frame) of its drawing that source frame ``frame`` shows."""
        if not 0 <= frame < len(self.frames):
            raise BadOption("testing.LayeredClip.drawings", "frame", f"frame must be in 0 … {len(self.frames) - 1}, got {frame}")
        return _drawings(self.layer_starts, frame)

    def holding(self, frame: int) -> list[bool]:
        """For each shape, whether source frame ``frame`` is inside one of its holds (repeats its drawing)."""
        return [drawn != frame for drawn in self.drawings(frame)]

    def centre(self, layer: int, t: float) -> tuple[float, float]:
        """True centre (x, y) of shape ``layer`` at time ``t`` (source frames): its continuous path."""
        return self.scene.positions(t)[self._layer(layer)]

    def source_centre(self, layer: int, frame: int) -> tuple[float, float]:
        """Centre (x, y) of shape ``layer`` in source frame ``frame``: its path at the time of the drawing shown."""
        return self.centre(layer, self.drawings(frame)[self._layer(layer)])

    def mask(self, layer: int, t: float) -> np.ndarray:
        """Pixels (bool, shape (height, width)) showing shape ``layer`` in ``truth(t)``: its fill and outline,
        less what later shapes (or a blink lid) cover."""
        return self.scene._draw(t, None)[1] == self._layer(layer) + 1

    def source_mask(self, layer: int, frame: int) -> np.ndarray:
        """Pixels (bool, shape (height, width)) showing shape ``layer`` in source frame ``frame``, as :meth:`mask`."""
        return self.scene._draw(frame, self.drawings(frame))[1] == self._layer(layer) + 1

    def near(self, layer: int, t: float, margin: int) -> np.ndarray:
        """:meth:`mask` grown by ``margin`` pixels each way (a square): where shape ``layer`` or its edge can be."""
        near = self.mask(layer, t)
        for axis in (0, 1):
            grown = near.copy()
            for shift in range(1, margin + 1):
                grown |= np.roll(near, shift, axis) | np.roll(near, -shift, axis)
            near = grown
        return near

    def found_centre(self, layer: int, picture: np.ndarray, t: float, colour: float = 0.1,
                     margin: int = 8) -> tuple[float, float]:
        """Where shape ``layer`` is in ``picture``, an interpolated frame at time ``t`` (source frames): the centroid
        (x, y) of its pixels within ``colour`` (0 … 1, per channel) of its fill colour and ``margin`` pixels of its true
        place (:meth:`mask` at ``t``); (nan, nan) where there are none.

        | parameter | type | default | meaning |
        |---|---|---|---|
        | `layer` | int | | shape index |
        | `picture` | np.ndarray (height, width, 3) | | RGB, 0 … 255 |
        | `t` | float | | the picture's time |
        | `colour` | float | 0.1 | fill-colour tolerance |
        | `margin` | int | 8 | pixels around the true mask searched |
        """
        near = self.near(layer, t, margin)
        fill = np.asarray(self.scene.shapes[self._layer(layer)].fill) * 255
        ys, xs = np.nonzero(near & (np.abs(np.asarray(picture, np.float64) - fill).max(axis=-1) <= colour * 255))
        return (float(xs.mean()), float(ys.mean())) if len(xs) else (float("nan"), float("nan"))

    def _layer(self, layer: int) -> int:
        if not 0 <= layer < len(self.layer_starts):
            raise BadOption("testing.LayeredClip", "layer",
                            f"layer must be a shape index in 0 … {len(self.layer_starts) - 1}, got {layer}")
        return layer


def _drawings(layer_starts: list[list[int]], frame: int) -> list[int]:
    """For each layer, the first frame of its drawing that frame ``frame`` shows."""
    return [starts[bisect_right(starts, frame) - 1] for starts in layer_starts]


def _starts(holds: Sequence[int]) -> list[int]:
    """First frame of each drawing held ``holds`` frames."""
    return np.concatenate([[0], np.cumsum(holds)[:-1]]).astype(int).tolist()


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.rint(image * 255).astype(np.uint8)


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
    starts = _starts(holds)
    frames = []
    for start, hold in zip(starts, holds):
        drawing = _to_uint8(scene.render(start))
        frames += [add_noise(drawing, rng, noise) if noise > 0 else drawing for _ in range(hold)]
    return AnimatedClip(scene, list(holds), starts, frames)


def animate_layers(scene: Scene, holds: Sequence[Sequence[int]], frames: int, noise: float = 0.0,
                   seed: int = 0) -> LayeredClip:
    """Shoot ``frames`` source frames of ``scene`` with the background on ones and each shape on its own holds.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `scene` | Scene | | what to draw; give it ``texture`` and ``pan`` for a textured background panning on ones |
    | `holds` | sequence of sequences of int | | one list of holds per shape, e.g. ``[cadence([2], 6), cadence([3], 4), cadence([2], 3) + cadence([3], 2)]`` (twos, threes, twos then threes from frame 6); each must cover ``frames`` (its last hold is cut at the end) |
    | `frames` | int | | number of source frames (≥ 1) |
    | `noise` | float | 0.0 | grain sigma in 8-bit code values, as :func:`animate` |
    | `seed` | int | 0 | noise seed |
    """
    if frames < 1:
        raise BadOption("testing.animate_layers", "frames", f"frames must be at least 1, got {frames}")
    if len(holds) != len(scene.shapes):
        raise BadOption("testing.animate_layers", "holds",
                        f"holds must give one list of holds per shape ({len(scene.shapes)}), got {len(holds)}")
    layer_holds = []
    for layer in holds:
        if any(h < 1 for h in layer) or sum(layer) < frames:
            raise BadOption("testing.animate_layers", "holds",
                            f"holds of each shape must be >= 1 and cover frames={frames}, got {list(layer)}")
        cut = np.minimum(np.cumsum(layer), frames)
        layer_holds.append([int(h) for h in np.diff(cut, prepend=0) if h > 0])
    layer_starts = [_starts(h) for h in layer_holds]
    clean = [_to_uint8(scene.render(k, _drawings(layer_starts, k))) for k in range(frames)]
    starts = [k for k in range(frames) if k == 0 or not np.array_equal(clean[k], clean[k - 1])]
    rng = np.random.default_rng(seed)
    noisy = [add_noise(frame, rng, noise) if noise > 0 else frame for frame in clean]
    return LayeredClip(scene, np.diff(starts + [frames]).tolist(), starts, noisy, layer_holds, layer_starts)
