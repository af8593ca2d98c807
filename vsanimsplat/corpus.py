"""A varied, generated corpus of animated clips with exact timing truth, for tuning and measuring the timing analysis.

Each :class:`Case` is drawn from a fixed seed (:func:`corpus`): a size from 320×180 to 1920×1080; a background
(flat, gradient, painted waves, with or without texture) that holds, pans 0–8 px per frame in any direction or
shakes; flat outlined cel shapes of 0.3–20 % of the frame moving 0.5–40 px per frame at 1080p (scaled with the
width), independently of each other; a cadence (ones, twos, threes, mixed) for the whole frame, or one per shape
over a background on ones; small local changes (blinks, lip flaps), flashes, fades, hard cuts and cuts to a
similar shot; delivered lossless, or as x264/x265 at CRF 16–28, with grain, after a resize. Half of the cases
are for tuning and half for reporting (:attr:`Case.half`): tune on one, report on the other.

:func:`make` renders a case (pure numpy, through :mod:`vsanimsplat.testing`) and says what is true of it
(:class:`Truth`); :func:`deliver` writes it as a video file as the case says. The corpus is generated, never
stored: the same seed gives the same cases and pictures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from os import PathLike

import numpy as np

from .errors import BadOption
from .ffmpeg import write_rgb_video
from .testing import LayeredClip, Scene, _starts, add_noise, animate, animate_layers, cadence

__all__ = ["Case", "Truth", "corpus", "make", "deliver", "disc_over_pan", "RATE", "SIZES", "VISIBLE"]

RATE = Fraction(24000, 1001)
"""The source rate of every case."""
SIZES = ((320, 180), (640, 360), (854, 480), (1280, 720), (1920, 1080))
"""The sizes cases are drawn at (the delivered size; a resized case is drawn larger and scaled down to it)."""
VISIBLE = 0.0001
"""A new drawing changes more than this share of the frame (0.01 %) by more than 10 code values (the truth's rule)."""
_PATTERNS = {"ones": [1], "twos": [2], "threes": [3], "mixed": [2, 2, 3, 2, 3, 1, 4]}


@dataclass(frozen=True)
class Case:
    """One clip of the corpus: what it shows and how it is delivered.

    | field | type | meaning |
    |---|---|---|
    | `name` | str | unique, readable: the index and the main conditions |
    | `half` | str | ``"tune"`` or ``"report"`` |
    | `width`, `height` | int | the delivered size |
    | `seed` | int | the scene's seed |
    | `frames` | int | source frames |
    | `timing` | str | ``"whole"`` (every part on one cadence) or ``"layers"`` (the background on ones, each shape on its own) |
    | `cadence` | str | the whole frame's (or with ``layers``, the shapes') cadence: a key of ``ones``/``twos``/``threes``/``mixed`` |
    | `background` | str | as :class:`~vsanimsplat.testing.Scene`'s |
    | `texture` | float | as :class:`~vsanimsplat.testing.Scene`'s |
    | `pan` | (float, float) | px per source frame at the delivered size |
    | `shake` | float | px at the delivered size |
    | `shapes` | int | how many |
    | `area` | float | each shape's share of the frame, roughly |
    | `speed` | float | the shapes' least speed, px per source frame at the delivered size |
    | `event` | str | ``"none"``, ``"blink"`` (1.2 % of the frame), ``"lip"`` (0.3 %, on twos), ``"flash"``, ``"fade"``, ``"cut"`` or ``"similar-cut"`` |
    | `codec` | str | ``"lossless"`` (FFV1), ``"x264"`` or ``"x265"`` |
    | `crf` | int | the lossy codec's CRF |
    | `grain` | float | film grain sigma added to every frame before coding (8-bit code values) |
    | `resized` | bool | drawn at 1.5 × the size and scaled down before coding |
    """

    name: str
    half: str
    width: int
    height: int
    seed: int
    frames: int
    timing: str
    cadence: str
    background: str
    texture: float
    pan: tuple[float, float]
    shake: float
    shapes: int
    area: float
    speed: float
    event: str
    codec: str
    crf: int
    grain: float
    resized: bool

    @property
    def lossy(self) -> bool:
        """Whether the case is delivered through a lossy codec."""
        return self.codec != "lossless"


@dataclass
class Truth:
    """What is true of a rendered case.

    | field | type | meaning |
    |---|---|---|
    | `frames` | list[np.ndarray] | the pictures as drawn (uint8 RGB at the drawn size, grain included), before coding |
    | `starts` | list[int] | source frames that start a new whole-frame drawing (a visible change from the last frame, before grain: :data:`VISIBLE`) |
    | `cuts` | list[int] | source frames that start a new shot |
    | `layer_starts` | list[list[int]] or None | with ``layers`` timing, per shape, the first frames of its drawings |
    | `layered` | LayeredClip or None | with ``layers`` timing, the shot as :func:`~vsanimsplat.testing.animate_layers` made it (each shape's pixels in every frame) |
    | `scene` | Scene | the (first) shot's scene: it renders any time |
    """

    frames: list[np.ndarray]
    starts: list[int]
    cuts: list[int]
    layer_starts: list[list[int]] | None
    scene: Scene
    layered: LayeredClip | None = None


def corpus(count: int = 48, seed: int = 2026, events: Sequence[str] | None = None) -> list[Case]:
    """``count`` cases drawn from ``seed``: even positions are the tuning half, odd the reporting half.

    The conditions are drawn so that each half sees every size, codec, cadence and event. With ``events`` (e.g.
    ``("cut", "similar-cut")``), every case has whole-frame timing and one of these events, in turn: a corpus of
    cuts.
    """
    rng = np.random.default_rng(seed)
    cases = []
    chosen = list(events) if events else ["none", "none", "blink", "lip", "flash", "fade", "cut", "similar-cut"]
    for i in range(count):
        width, height = SIZES[(i // 2) % len(SIZES)]
        scale = width / 1920
        timing = "layers" if (i // 2) % 4 == 3 and not events else "whole"
        codec = ["lossless", "x264", "x264", "x265"][(i // 2 + i // 10) % 4]
        angle = rng.uniform(0, 2 * math.pi)
        pan_speed = float(rng.choice([0, 0, 1, 2, 4, 8])) if timing == "whole" else float(rng.choice([1, 2, 3, 5, 8]))
        area = float(rng.choice([0.003, 0.01, 0.03, 0.08, 0.2]))
        case = Case(
            name="",
            half="tune" if i % 2 == 0 else "report",
            width=width, height=height, seed=int(rng.integers(1 << 30)), frames=48, timing=timing,
            cadence=str(rng.choice(["twos", "threes", "mixed"])) if timing == "layers"
            else str(rng.choice(["ones", "twos", "twos", "threes", "mixed", "mixed"])),
            background=str(rng.choice(["flat", "gradient", "waves"])),
            texture=float(rng.choice([0.0, 0.3, 0.6])),
            pan=(round(pan_speed * math.cos(angle), 2), round(pan_speed * math.sin(angle), 2)),
            shake=float(rng.choice([0, 0, 0, 3])) * scale * 4 if timing == "whole" else 0.0,
            shapes=int(rng.integers(1, 5)),
            area=area,
            speed=float(rng.choice([0.5, 2, 6, 12, 25, 40])) * scale,
            event=chosen[(i // 2 + 3 * (i // 16)) % len(chosen)] if timing == "whole" else "none",
            codec=codec, crf=int(rng.choice([16, 18, 20, 23, 28])) if codec != "lossless" else 0,
            grain=float(rng.choice([0, 0, 2, 4])),
            resized=bool(rng.random() < 0.25),
        )
        parts = [f"{i:02d}", f"{width}x{height}", case.timing, case.cadence,
                 f"pan{math.hypot(*case.pan):.0f}", case.event, case.codec + (f"{case.crf}" if case.lossy else "")]
        parts += ["grain"] * (case.grain > 0) + ["resized"] * case.resized
        cases.append(_named(case, "-".join(parts)))
    return cases


def disc_over_pan(width: int, height: int, radius: float, pan: float, frames: int = 24, step: float = 8.0,
                  seed: int = 0) -> LayeredClip:
    """One flat outlined disc on twos over a painted background panning on ones: the layer case that the analysis
    once missed (a flat cel shape shows line art only at its outline).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `width`, `height` | int | | frame size |
    | `radius` | float | | the disc's radius in pixels |
    | `pan` | float | | the background's speed in pixels per frame; its direction is drawn from ``seed`` |
    | `frames` | int | 24 | source frames |
    | `step` | float | 8.0 | pixels the disc moves per drawing (half of it per frame) |
    | `seed` | int | 0 | the first seed tried: the scene is the first from it on whose disc stays inside the frame without turning over the clip |
    """
    angle = np.random.default_rng([seed, 3]).uniform(0, 2 * np.pi)
    for tried in range(seed, seed + 1000):
        scene = Scene(width, height, seed=tried, shapes=1, speed=step / 2, texture=0.5,
                      pan=(pan * math.cos(angle), pan * math.sin(angle)), size=(radius / min(width, height),) * 2)
        shape = scene.shapes[0]
        if shape.kind != "ellipse" or shape.velocity[0] ** 2 + shape.velocity[1] ** 2 > (step / 2 * 1.05) ** 2:
            continue
        path = np.array([scene.positions(t)[0] for t in range(frames)])
        if np.allclose(np.diff(path, 2, axis=0), 0, atol=1e-6):  # no bounce: an even path
            return animate_layers(scene, [cadence([2], frames)], frames)
    raise BadOption("corpus.disc_over_pan", "radius", f"no disc of radius {radius} fits {width}×{height} for {frames} frames")


def _named(case: Case, name: str) -> Case:
    return Case(**{**case.__dict__, "name": name})


def _scene(case: Case, width: int, height: int, seed: int, antialias: bool) -> Scene:
    """The case's scene at a drawn size (its motions scaled with it)."""
    scale = width / case.width
    radius = math.sqrt(case.area * width * height / math.pi) / min(width, height)
    events: dict = {}
    if case.event == "blink":
        events["blink"] = (case.frames * 0.4, case.frames * 0.55)
    elif case.event == "lip":
        events.update(blink=[(t, t + 2) for t in range(8, case.frames - 8, 4)], lid=1 / 32)
    elif case.event == "flash":
        events["flash"] = (case.frames * 0.5, case.frames * 0.5 + 1)
    elif case.event == "fade":
        events["fade"] = (case.frames * 0.6, case.frames * 0.9)
    return Scene(width, height, seed=seed, shapes=case.shapes, speed=case.speed * scale, texture=case.texture,
                 pan=(case.pan[0] * scale, case.pan[1] * scale), shake=case.shake * scale, background=case.background,
                 size=(radius * 0.8, radius * 1.2), antialias=antialias, **events)


def make(case: Case, antialias: bool = False) -> Truth:
    """Render ``case``: its pictures before coding and the truth about them.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `case` | Case | | what to render |
    | `antialias` | bool | False | the shapes' edges anti-aliased (:class:`~vsanimsplat.testing.Scene`'s ``antialias``) |
    """
    scale = 1.5 if case.resized else 1.0
    width, height = round(case.width * scale) // 2 * 2, round(case.height * scale) // 2 * 2
    scene = _scene(case, width, height, case.seed, antialias)
    rng = np.random.default_rng([case.seed, 3])
    pattern = _PATTERNS[case.cadence]
    if case.timing == "layers":
        holds = [cadence(pattern[int(rng.integers(len(pattern))):] + pattern, case.frames) for _ in scene.shapes]
        layered = animate_layers(scene, holds, case.frames)
        frames, layer_starts, cuts = layered.frames, layered.layer_starts, [0]
    else:
        holds = cadence(pattern, case.frames)
        frames = animate(scene, holds).frames[:case.frames]
        layered, layer_starts, cuts = None, None, [0]
        if case.event in ("cut", "similar-cut"):
            shown = [start for start in _starts(holds) if start < case.frames]
            at = shown[len(shown) // 3]
            second = (_scene(case, width, height, case.seed + 1, antialias) if case.event == "cut" else scene)
            offset = 0 if case.event == "cut" else 500  # the same scene much later: same background, shapes elsewhere
            frames = frames[:at] + [_shot(second, holds, k - at, offset) for k in range(at, case.frames)]
            cuts.append(at)
    starts = [k for k in range(case.frames) if k == 0 or _visible(frames[k - 1], frames[k])]
    if case.grain:
        frames = [add_noise(frame, rng, case.grain) for frame in frames]
    return Truth(frames, starts, cuts, layer_starts, scene, layered if case.timing == "layers" else None)


def _visible(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether picture ``b`` shows a new drawing after ``a``: more than :data:`VISIBLE` of its pixels differ by more
    than 10 code values in a channel (a fade's last steps into black, or a sub-pixel nudge of a blurry edge, do not)."""
    return int((np.abs(a.astype(np.int16) - b).max(axis=-1) > 10).sum()) > VISIBLE * a.shape[0] * a.shape[1]


def _shot(scene: Scene, holds: list[int], k: int, offset: float) -> np.ndarray:
    """Source frame ``k`` of a shot of ``scene`` held as ``holds``, starting at scene time ``offset``."""
    starts = _starts(holds)
    first = max(s for s in starts if s <= k)
    return np.rint(scene.render(offset + first) * 255).astype(np.uint8)


def deliver(case: Case, truth: Truth, path: str | PathLike[str]) -> None:
    """Write ``truth.frames`` as ``case`` says (codec, CRF, resize) to ``path`` (an ``.mkv``) at :data:`RATE`."""
    scaling = ["-vf", f"scale={case.width}:{case.height}:flags=bicubic"] if case.resized else []
    if case.codec == "lossless":
        codec = ["-c:v", "ffv1", "-pix_fmt", "yuv444p"]
    elif case.codec == "x264":
        codec = ["-c:v", "libx264", "-preset", "fast", "-crf", str(case.crf), "-pix_fmt", "yuv420p"]
    else:
        codec = ["-c:v", "libx265", "-preset", "fast", "-crf", str(case.crf), "-pix_fmt", "yuv420p",
                 "-x265-params", "log-level=error"]
    write_rgb_video(truth.frames, path, RATE, [*scaling, *codec])
