"""The encoder process: a clip piped as y4m into ffmpeg, written beside the output and renamed when complete."""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import vapoursynth as vs

from ..ffmpeg import FFmpeg
from .progress import Progress

__all__ = ["EncodeError", "encode"]


class EncodeError(RuntimeError):
    """ffmpeg failed, or a frame could not be made, while encoding; the message holds ffmpeg's stderr."""


def encode(clip: vs.VideoNode, ffmpeg: FFmpeg, args: Sequence[str], output: Path, progress: Progress,
           verbose: bool = False) -> None:
    """Pipe ``clip`` as y4m into ffmpeg, writing a temporary file beside ``output``, renamed on success.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `clip` | vs.VideoNode | | constant-rate YUV or GRAY clip |
    | `ffmpeg` | FFmpeg | | the ffmpeg to run |
    | `args` | sequence of str | | its arguments (:func:`~vsanimsplat.ffmpeg.encode_command`); the last, the output file, is replaced by the temporary file |
    | `output` | Path | | the final file (replaced if it exists) |
    | `progress` | Progress | | told about every frame |
    | `verbose` | bool | False | print ffmpeg's warnings too, not only its errors |

    No file is left under ``output``'s name unless the encode succeeded; the temporary file is
    removed on any failure and on Ctrl-C. ffmpeg runs in its own process group, so Ctrl-C reaches
    only this process, which stops ffmpeg and then raises KeyboardInterrupt. Raises
    :class:`EncodeError` with ffmpeg's messages when it fails, or with the error of a frame.
    """
    temporary = output.with_name(f".{output.stem}.{secrets.token_hex(4)}.partial{output.suffix}")
    command = [ffmpeg.path, "-hide_banner", "-nostats", "-loglevel", "warning" if verbose else "error",
               "-y", *args[:-1], str(temporary)]
    try:
        with tempfile.TemporaryFile() as messages:
            process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=messages,
                                       process_group=0)
            try:
                with _interrupt_stops(process) as interrupted:
                    failure = _feed(clip, process, progress)
                    code = process.wait()
                if interrupted:
                    raise KeyboardInterrupt
            except BaseException:
                process.kill()
                process.wait()
                raise
            finally:
                progress.close()
            messages.seek(0)
            text = messages.read().decode(errors="replace").strip()
        if failure is not None:
            raise EncodeError(f"making a frame failed: {failure}")
        if code != 0:
            raise EncodeError(f"ffmpeg failed (exit code {code}): {text or 'no message'}\ncommand: {shlex.join(command)}")
        if verbose and text:
            print(text, file=sys.stderr)
        os.replace(temporary, output)
    finally:
        temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def _interrupt_stops(process: subprocess.Popen) -> Iterator[list[int]]:
    """While in the block, Ctrl-C (SIGINT) kills ``process`` and is recorded in the yielded list instead of
    raising: VapourSynth's output loop runs Python callbacks and drops their exceptions, so a
    KeyboardInterrupt raised there would be lost. Killing ffmpeg ends the loop (its pipe breaks); the
    caller raises KeyboardInterrupt after the block when the list is not empty. Outside the main thread
    (where signals cannot be handled) the block runs unchanged."""
    interrupted: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield interrupted
        return

    def stop(signum: int, _frame: object) -> None:
        interrupted.append(signum)
        process.kill()

    previous = signal.signal(signal.SIGINT, stop)
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)


def _feed(clip: vs.VideoNode, process: subprocess.Popen, progress: Progress) -> vs.Error | None:
    """Write ``clip`` into ffmpeg's stdin; returns the error of a frame that failed, if any (ffmpeg is
    then stopped, so it does not finish a file from part of the frames)."""
    failure = None
    try:
        clip.output(process.stdin, y4m=True, progress_update=progress.update)
    except BrokenPipeError:
        pass  # ffmpeg stopped reading: its exit code and messages tell why
    except vs.Error as error:
        failure = error
        process.kill()
    try:
        process.stdin.close()
    except BrokenPipeError:
        pass
    return failure
