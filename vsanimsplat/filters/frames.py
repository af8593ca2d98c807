"""Moving pictures between numpy arrays and VapourSynth clips."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import numpy as np
import vapoursynth as vs

__all__ = ["clip_from_arrays", "frame_to_array", "duration_of", "frame_durations"]


def clip_from_arrays(frames: Sequence[np.ndarray], fps: Fraction = Fraction(24000, 1001)) -> vs.VideoNode:
    """A constant-rate RGB24 clip from uint8 RGB arrays of shape (height, width, 3).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `frames` | sequence of np.ndarray | | uint8 pictures, all the same shape |
    | `fps` | Fraction | 24000/1001 | frame rate; every frame gets the matching `_DurationNum`/`_DurationDen` |
    """
    if not frames:
        raise ValueError("frames must hold at least one picture")
    shape = frames[0].shape
    if any(f.shape != shape or f.dtype != np.uint8 for f in frames) or len(shape) != 3 or shape[2] != 3:
        raise ValueError(f"frames must all be uint8 arrays of shape (height, width, 3); the first is {shape}")
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


def frame_to_array(frame: vs.VideoFrame) -> np.ndarray:
    """The planes of a frame stacked as (height, width, planes); planes must share one size (no subsampling)."""
    return np.stack([np.asarray(frame[p]) for p in range(frame.format.num_planes)], axis=-1)


def duration_of(props: vs.FrameProps, clip: vs.VideoNode, n: int, caller: str) -> Fraction:
    """Exact duration of frame ``n``: its `_DurationNum`/`_DurationDen` props, else ``1 / clip.fps``.

    Raises ``vs.Error`` (prefixed with ``caller``) for a variable-rate clip whose frame has no duration.
    """
    num, den = props.get("_DurationNum", 0), props.get("_DurationDen", 0)
    if num > 0 and den > 0:
        return Fraction(num, den)
    if clip.fps == 0:
        raise vs.Error(
            f"vsanimsplat.{caller}: clip is variable-rate (fps 0) but frame {n} has no "
            "_DurationNum/_DurationDen props; set them or give the clip a frame rate (std.AssumeFPS)"
        )
    return 1 / Fraction(clip.fps)


def frame_durations(clip: vs.VideoNode) -> list[Fraction]:
    """Exact duration in seconds of every frame of ``clip`` (reads every frame's props once)."""
    if not isinstance(clip, vs.VideoNode):
        raise vs.Error(f"vsanimsplat: clip must be a vapoursynth.VideoNode, got {type(clip).__name__}")
    return [duration_of(f.props, clip, n, "frame_durations") for n, f in enumerate(clip.frames(close=True))]
