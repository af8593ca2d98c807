"""Finding ffmpeg and writing simple videos with it (no VapourSynth, no torch)."""

from __future__ import annotations

import itertools
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from fractions import Fraction
from os import PathLike

import numpy as np

__all__ = ["ffmpeg_path", "write_rgb_video"]


def ffmpeg_path() -> str:
    """The ffmpeg to use: ``ffmpeg`` on PATH, else the binary shipped by the ``imageio-ffmpeg`` package.

    Raises ``FileNotFoundError`` naming both places when neither exists.
    """
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        raise FileNotFoundError(
            "ffmpeg not found: install it (apt-get install ffmpeg) or pip install imageio-ffmpeg"
        ) from None


def write_rgb_video(
    frames: Iterable[np.ndarray],
    path: str | PathLike[str],
    fps: Fraction,
    codec_args: Sequence[str] = ("-c:v", "libx264", "-crf", "16", "-pix_fmt", "yuv420p"),
    extra_inputs: Sequence[str] = (),
) -> None:
    """Encode uint8 RGB frames (height, width, 3) to ``path`` through an ffmpeg pipe.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `frames` | iterable of np.ndarray | | pictures, all the same size |
    | `path` | str or PathLike | | output file; its extension picks the container |
    | `fps` | Fraction | | constant frame rate |
    | `codec_args` | sequence of str | x264 CRF 16, yuv420p | ffmpeg output options |
    | `extra_inputs` | sequence of str | () | more ffmpeg input options placed after the video pipe (e.g. an audio source) |
    """
    iterator = iter(frames)
    first = next(iterator)
    height, width = first.shape[:2]
    fps = Fraction(fps)
    command = [
        ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
        "-framerate", f"{fps.numerator}/{fps.denominator}", "-i", "-",
        *extra_inputs, *codec_args, str(path),
    ]
    with subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        try:
            for frame in itertools.chain([first], iterator):
                process.stdin.write(np.ascontiguousarray(frame, dtype=np.uint8).tobytes())
        except BrokenPipeError:
            pass
        _, errors = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"ffmpeg failed writing {path}: {errors.decode(errors='replace').strip()}")
