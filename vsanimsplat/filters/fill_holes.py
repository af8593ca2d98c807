"""``fill_holes``: fill the pixels that splatting left empty, from the two parent drawings."""

from __future__ import annotations

import numpy as np
import vapoursynth as vs

from ..errors import BadOption
from .frames import check_constant

__all__ = ["fill_holes", "FILL_MODES"]

FILL_MODES = ("blend", "nearest")

_PARENT_PROPS = ("AnimSplat_LeftFrame", "AnimSplat_RightFrame", "AnimSplat_T")


def _plane_mask(mask: np.ndarray, sub_w: int, sub_h: int) -> np.ndarray:
    """A luma-size mask for a plane subsampled by 2^sub_w × 2^sub_h: a sample is a hole if any pixel it covers is."""
    if sub_w == 0 and sub_h == 0:
        return mask
    sw, sh = 1 << sub_w, 1 << sub_h
    h, w = mask.shape
    padded = np.pad(mask, ((0, -h % sh), (0, -w % sw)), mode="edge")
    return padded.reshape(padded.shape[0] // sh, sh, padded.shape[1] // sw, sw).any(axis=(1, 3))


def fill_holes(clip: vs.VideoNode, mode: str = "blend") -> vs.VideoNode:
    """Fill the holes of in-betweens from their parent drawings; other frames pass through untouched.

    Reads, per frame, ``AnimSplat_HoleMask`` (GRAY8 frame of the clip's size, > 127 = hole),
    ``AnimSplat_T`` and the parents ``AnimSplat_LeftFrame``/``AnimSplat_RightFrame`` (frames of the
    clip's format), as :func:`~vsanimsplat.interpolate` sets them; any filter that sets these
    props can come before it. Frames without a hole mask are returned as they are.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `clip` | vs.VideoNode | | the interpolated clip, constant format |
    | `mode` | str | "blend" | ``"blend"``: ``(1 - t)·left + t·right`` (the parents weighted by time); ``"nearest"``: the temporally nearer parent (left when ``t < 0.5``) |

    Filled frames get ``AnimSplat_HolesFilled = 1``; the mask and parent props are dropped from them.
    """
    if not isinstance(clip, vs.VideoNode):
        raise BadOption("fill_holes", "clip", f"clip must be a vapoursynth.VideoNode, got {type(clip).__name__}")
    check_constant(clip, "fill_holes")
    if mode not in FILL_MODES:
        raise BadOption("fill_holes", "mode", f"mode must be one of {', '.join(map(repr, FILL_MODES))}, got {mode!r}")
    fmt = clip.format

    def fill(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        props = f.props
        if "AnimSplat_HoleMask" not in props:
            return f
        if missing := [key for key in _PARENT_PROPS if key not in props]:
            raise BadOption("fill_holes", "clip", f"frame {n} has AnimSplat_HoleMask but no {', '.join(missing)} "
                            f"prop{'s' if len(missing) > 1 else ''}")
        left, right, t = props["AnimSplat_LeftFrame"], props["AnimSplat_RightFrame"], float(props["AnimSplat_T"])
        mask = np.asarray(props["AnimSplat_HoleMask"][0]) > 127
        if mask.shape != (clip.height, clip.width) or left.format.id != fmt.id or right.format.id != fmt.id:
            raise BadOption("fill_holes", "clip", f"frame {n}: the hole mask or parent frames do not match the clip")
        out = f.copy()
        for p in range(fmt.num_planes):
            sub = (0, 0) if p == 0 or fmt.color_family == vs.RGB else (fmt.subsampling_w, fmt.subsampling_h)
            where = _plane_mask(mask, *sub)
            if mode == "nearest":
                source = np.asarray((left if t < 0.5 else right)[p])
            else:
                source = (1 - t) * np.asarray(left[p], np.float32) + t * np.asarray(right[p], np.float32)
                if fmt.sample_type == vs.INTEGER:
                    source = np.rint(source)
            np.copyto(np.asarray(out[p]), source, where=where, casting="unsafe")
        for name in ("AnimSplat_HoleMask", "AnimSplat_LeftFrame", "AnimSplat_RightFrame"):
            del out.props[name]
        out.props["AnimSplat_HolesFilled"] = 1
        return out

    return clip.std.ModifyFrame(clip, fill)
