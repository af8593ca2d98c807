"""Moving pictures between VapourSynth and numpy/torch: clips, frames, formats, frame scans."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys
from collections.abc import Callable, Sequence
from fractions import Fraction

import numpy as np
import torch
import vapoursynth as vs
from tqdm import tqdm

from ..errors import BadOption

__all__ = [
    "check_constant",
    "clip_from_arrays",
    "frame_to_array",
    "duration_of",
    "frame_durations",
    "scan_frames",
    "ColourSpace",
    "frame_to_tensor",
    "array_into_frame",
    "keep_unchanged",
]

_PROGRESS_MIN_FRAMES = 500


def clip_from_arrays(frames: Sequence[np.ndarray], fps: Fraction = Fraction(24000, 1001)) -> vs.VideoNode:
    """A constant-rate RGB24 clip from uint8 RGB arrays of shape (height, width, 3).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `frames` | sequence of np.ndarray | | uint8 pictures, all the same shape |
    | `fps` | Fraction | 24000/1001 | frame rate; every frame gets the matching `_DurationNum`/`_DurationDen` |
    """
    if not frames:
        raise BadOption("filters.frames.clip_from_arrays", "frames", "frames must hold at least one picture")
    shape = frames[0].shape
    if any(f.shape != shape or f.dtype != np.uint8 for f in frames) or len(shape) != 3 or shape[2] != 3:
        raise BadOption("filters.frames.clip_from_arrays", "frames",
                        f"frames must all be uint8 arrays of shape (height, width, 3); the first is {shape}")
    fps = Fraction(fps)
    blank = vs.core.std.BlankClip(
        format=vs.RGB24, width=shape[1], height=shape[0], length=len(frames),
        fpsnum=fps.numerator, fpsden=fps.denominator, keep=True,
    )

    def fill(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        for plane in range(3):
            np.copyto(np.asarray(out[plane]), frames[n][:, :, plane])
        return out

    return blank.std.ModifyFrame(blank, fill)


def check_constant(clip: vs.VideoNode, caller: str, name: str = "clip") -> None:
    """Raise :class:`~vsanimsplat.errors.BadOption` (naming ``caller`` and ``name``) unless ``clip`` has a constant
    format and size.

    A clip spliced from different formats or sizes has a variable one: its format is ``vs.NONE``
    (id 0) and its width or height 0.
    """
    variable = [what for what, is_variable in (("format", clip.format is None or clip.format.id == vs.NONE),
                                               ("size", clip.width == 0 or clip.height == 0)) if is_variable]
    if variable:
        raise BadOption(caller, name, f"{name} must have a constant format and size, got a variable "
                        f"{' and '.join(variable)}; convert it to one first (e.g. resize.Bicubic(width=…, height=…, "
                        "format=vs.YUV420P8))")


def frame_to_array(frame: vs.VideoFrame) -> np.ndarray:
    """The planes of a frame stacked as (height, width, planes); planes must share one size (no subsampling)."""
    return np.stack([np.asarray(frame[p]) for p in range(frame.format.num_planes)], axis=-1)


def duration_of(props: vs.FrameProps, clip: vs.VideoNode, n: int, caller: str) -> Fraction:
    """Exact duration of frame ``n``: its `_DurationNum`/`_DurationDen` props, else ``1 / clip.fps``.

    Raises :class:`~vsanimsplat.errors.BadOption` (naming ``caller``) for a variable-rate clip whose frame has no
    duration.
    """
    num, den = props.get("_DurationNum", 0), props.get("_DurationDen", 0)
    if num > 0 and den > 0:
        return shared_duration(num, den)
    if clip.fps == 0:
        raise BadOption(caller, "clip", f"clip is variable-rate (fps 0) but frame {n} has no _DurationNum/_DurationDen "
                        "props; set them or give the clip a frame rate (std.AssumeFPS)")
    return shared_duration(clip.fps.denominator, clip.fps.numerator)


@functools.lru_cache(maxsize=256)
def shared_duration(num: int, den: int) -> Fraction:
    """``Fraction(num, den)``, one object per value: a clip's frames share their few durations (a list of a long
    clip's durations holds references, not a Fraction of a hundred bytes a frame)."""
    return Fraction(num, den)


def frame_durations(clip: vs.VideoNode) -> list[Fraction]:
    """Exact duration in seconds of every frame of ``clip`` (reads every frame's props once)."""
    if not isinstance(clip, vs.VideoNode):
        raise BadOption("filters.frames.frame_durations", "clip",
                        f"clip must be a vapoursynth.VideoNode, got {type(clip).__name__}")
    return [duration_of(f.props, clip, n, "frame_durations") for n, f in enumerate(clip.frames(close=True))]


def scan_frames(clip: vs.VideoNode, visit: Callable[[int, vs.VideoFrame], None], desc: str,
                progress: bool | None = None) -> None:
    """Call ``visit(n, frame)`` for every frame of ``clip`` in order, fetching frames in parallel.

    ``progress`` shows a bar on stderr; ``None`` shows it for clips of 500+ frames on a terminal. Every
    :data:`_RELEASE_EVERY` frames and at the end, freed memory goes back to the system (glibc's ``malloc_trim``).
    """
    show = progress if progress is not None else (clip.num_frames >= _PROGRESS_MIN_FRAMES and sys.stderr.isatty())
    frames = tqdm(clip.frames(close=True), total=clip.num_frames, desc=desc, unit="frame", disable=not show,
                  file=sys.stderr)
    for n, frame in enumerate(frames):
        visit(n, frame)
        if n % _RELEASE_EVERY == _RELEASE_EVERY - 1:
            _release_free_memory()
    _release_free_memory()


_RELEASE_EVERY = 256
"""Frames a pass reads between two returns of freed memory to the system (:func:`_release_free_memory`)."""


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none (macOS, Windows, musl)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def _release_free_memory() -> None:
    """Give the pages of freed memory back to the system (glibc keeps them: the frames a pass reads, megabytes
    each, are freed between small blocks that live on, and the process would grow by a frame's worth every few
    frames read)."""
    if (trim := _malloc_trim()) is not None:
        trim(0)


class ColourSpace:
    """How a clip's pictures become RGB for the models and back, chosen once from the clip and its first frame.

    | parameter | type | meaning |
    |---|---|---|
    | `clip` | vs.VideoNode | YUV, RGB or GRAY clip of constant format, integer 8–16 bit or float |
    | `props` | vs.FrameProps | props of its first frame: `_Matrix` and `_Range` are used when set |

    YUV without a usable `_Matrix` is taken as BT.709 when wider than 1024 or taller than 576
    pixels, else BT.601 (170m), as most players do. YUV and GRAY without `_Range` are limited
    range (zimg's and VapourSynth's convention), both ways. Nothing is clamped on the way: codes
    below black or above white become RGB values outside [0, 1] and come back unchanged (the
    models keep them, :class:`~vsanimsplat.models.base.Synthesis`); integer formats are clamped to
    their code range only when the RGB comes back. GRAY becomes RGB with three equal channels and
    returns as the green channel.
    """

    def __init__(self, clip: vs.VideoNode, props: vs.FrameProps) -> None:
        self.format = clip.format
        family = clip.format.color_family
        self.matrix = 0 if family == vs.RGB else None  # RGB: whatever a stray _Matrix prop says
        if family == vs.YUV:
            matrix = int(props.get("_Matrix", 2))
            hd = clip.width > 1024 or clip.height > 576
            self.matrix = matrix if matrix not in (0, 2, 3) else (1 if hd else 6)  # 1 = 709, 6 = 170m
        self.range = int(props.get("_Range", vs.RANGE_LIMITED)) if family in (vs.YUV, vs.GRAY) else None

    def to_rgbs(self, clip: vs.VideoNode) -> vs.VideoNode:
        """``clip`` (of this colour space) as RGBS."""
        if self.format.color_family == vs.GRAY:
            gray = clip.resize.Point(format=vs.GRAYS, range_in=self.range)
            return vs.core.std.ShufflePlanes([gray] * 3, [0, 0, 0], vs.RGB)
        return clip.resize.Bicubic(format=vs.RGBS, matrix_in=self.matrix, range_in=self.range)

    def from_rgbs(self, rgb: vs.VideoNode) -> vs.VideoNode:
        """An RGBS clip back in this colour space and format (dithered to integer formats)."""
        if self.format.color_family == vs.GRAY:
            rgb = rgb.std.ShufflePlanes(1, vs.GRAY)
            return rgb.resize.Point(format=self.format.id, range=self.range, dither_type="error_diffusion")
        return rgb.resize.Bicubic(format=self.format.id, matrix=self.matrix, range=self.range,
                                  dither_type="error_diffusion")


def frame_to_tensor(frame: vs.VideoFrame, device: torch.device | str = "cpu") -> torch.Tensor:
    """An RGBS frame as a (1, 3, H, W) float32 tensor on ``device`` (one copy of the planes).

    For a CUDA device the planes are copied into pinned host memory and sent with a non-blocking
    transfer, so the caller does not wait for it.
    """
    pinned = torch.device(device).type == "cuda"
    tensor = torch.empty((1, 3, frame.height, frame.width), dtype=torch.float32, device="cpu", pin_memory=pinned)
    planes = tensor.numpy()[0]
    for p in range(3):
        np.copyto(planes[p], np.asarray(frame[p]))
    return tensor.to(device, non_blocking=True) if pinned else tensor


def array_into_frame(array: np.ndarray, frame: vs.VideoFrame) -> vs.VideoFrame:
    """Write a (C, H, W) or (1, C, H, W) array into the planes of a writable frame of C planes; returns the frame."""
    planes = array.reshape(-1, *array.shape[-2:])
    for p in range(frame.format.num_planes):
        np.copyto(np.asarray(frame[p]), planes[p], casting="unsafe")
    return frame


def keep_unchanged(made: vs.VideoFrame, left: vs.VideoFrame, right: vs.VideoFrame, mask: vs.VideoFrame,
                   t: float) -> vs.VideoFrame:
    """``made`` with the unchanged part taken from the inputs in their own format: ``(1 − w)·S + w·made``.

    | parameter | type | meaning |
    |---|---|---|
    | `made` | vs.VideoFrame | the in-between in the clip's format (from the model's RGB picture) |
    | `left`, `right` | vs.VideoFrame | the two drawings, same format |
    | `mask` | vs.VideoFrame | GRAY8 at the luma size: ``w`` × 255, the share of the model's picture |
    | `t` | float | position of the in-between, 0 … 1 |

    ``S = left + t·(right − left)`` is the cross-fade computed in the clip's own format, so where
    ``w`` is 0 and the drawings agree to the bit the result is the input, bit for bit, whatever
    the colour conversion to and from RGB does. Subsampled planes use the mean of ``w`` over the
    pixels each chroma sample covers (0 only where all of them are 0).
    """
    out = made.copy()
    weight = np.asarray(mask[0]).astype(np.float32) / 255
    integer = made.format.sample_type == vs.INTEGER
    for p in range(made.format.num_planes):
        target = np.asarray(out[p])
        a, b = (np.asarray(f[p]).astype(np.float32) for f in (left, right))
        h, w = target.shape
        share = weight.reshape(h, weight.shape[0] // h, w, weight.shape[1] // w).mean(axis=(1, 3))
        static = a + np.float32(t) * (b - a)
        result = static + share * (target.astype(np.float32) - static)
        if integer:
            result = np.clip(np.rint(result), 0, (1 << made.format.bits_per_sample) - 1)
        np.copyto(target, result, casting="unsafe")
    return out
