"""Middlebury ``.flo`` optical-flow files (pure numpy).

Layout, little-endian: the float32 magic ``202021.25`` (the bytes ``PIEH``), int32 width,
int32 height, then ``height × width`` pairs of float32 ``(u, v)`` in row-major order; ``u``
is the horizontal displacement in pixels (positive to the right), ``v`` the vertical one
(positive downwards). Readers such as the Middlebury tools, OpenCV's ``readOpticalFlow`` and
flowiz read it.
"""

from __future__ import annotations

from os import PathLike

import numpy as np

from .errors import BadOption

__all__ = ["FLO_MAGIC", "read_flo", "write_flo"]

FLO_MAGIC = 202021.25
"""The float32 that opens every ``.flo`` file."""

_HEADER = np.dtype([("magic", "<f4"), ("width", "<i4"), ("height", "<i4")])


def write_flo(path: str | PathLike[str], flow: np.ndarray) -> None:
    """Write a flow field as a Middlebury ``.flo`` file.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `path` | str or PathLike | | the file to write (replaced if it exists) |
    | `flow` | np.ndarray (H, W, 2) | | ``(u, v)`` displacement per pixel, any real dtype (stored as float32) |

    Raises :class:`~vsanimsplat.errors.BadOption` for an array of another shape or a non-real dtype.
    """
    flow = np.asarray(flow)
    if flow.ndim != 3 or flow.shape[2] != 2 or 0 in flow.shape or not np.isrealobj(flow) or flow.dtype.kind not in "fiu":
        raise BadOption("flo.write_flo", "flow",
                        f"flow must be a real array of shape (height, width, 2), got {flow.dtype} {flow.shape}")
    header = np.array([(FLO_MAGIC, flow.shape[1], flow.shape[0])], dtype=_HEADER)
    with open(path, "wb") as out:
        out.write(header.tobytes())
        out.write(np.ascontiguousarray(flow, dtype="<f4").tobytes())


def read_flo(path: str | PathLike[str]) -> np.ndarray:
    """Read a Middlebury ``.flo`` file as a float32 array of shape (H, W, 2).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `path` | str or PathLike | | the file to read |

    Raises :class:`~vsanimsplat.errors.BadOption` naming ``path`` when the magic number or the size does not match
    the format.
    """
    data = np.fromfile(path, dtype=np.uint8)
    if data.size < _HEADER.itemsize:
        raise BadOption("flo.read_flo", "path",
                        f"{path} is not a .flo file: {data.size} bytes, shorter than the header")
    header = data[: _HEADER.itemsize].view(_HEADER)[0]
    if header["magic"] != np.float32(FLO_MAGIC):
        raise BadOption("flo.read_flo", "path",
                        f"{path} is not a .flo file: magic {header['magic']}, expected {FLO_MAGIC}")
    width, height = int(header["width"]), int(header["height"])
    body = data[_HEADER.itemsize:]
    if width <= 0 or height <= 0 or body.size != width * height * 8:
        raise BadOption("flo.read_flo", "path",
                        f"{path}: header says {width}x{height}, but {body.size} bytes of flow follow")
    return body.view("<f4").reshape(height, width, 2).astype(np.float32)
