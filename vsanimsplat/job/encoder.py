"""The encoder process: a clip piped as y4m into ffmpeg, written beside the output and renamed when complete."""

from __future__ import annotations

import contextlib
import re
import secrets
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import vapoursynth as vs

from ..errors import EncodeError, Interrupted
from ..ffmpeg import FFmpeg, file_url
from ..portable import STOP_SIGNALS, create_held, own_process_group, remove_unless_held, replace_held
from .progress import Progress

__all__ = ["STOP_SIGNALS", "encode", "remove_stale_partials", "signals_interrupt"]


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    """While in the block, SIGTERM and SIGHUP (SIGBREAK on Windows) raise :class:`Interrupted` as Ctrl-C raises
    KeyboardInterrupt, so a killed job unwinds (and removes what it wrote) instead of dying at once. Outside the
    main thread the block runs unchanged."""
    def stop(signum: int, _frame: object) -> None:
        raise Interrupted(signum)

    with _handling(STOP_SIGNALS[1:], stop):
        yield


@contextlib.contextmanager
def _handling(signums: Sequence[int], handler: Callable[[int, object], None]) -> Iterator[None]:
    """``handler`` handles ``signums`` in the block, the previous handlers after it. A signal that is
    ignored stays ignored (``nohup`` ignores SIGHUP so that the job outlives its terminal); nothing
    changes outside the main thread, where signals cannot be handled."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, handler) for signum in signums
                if signal.getsignal(signum) != signal.SIG_IGN}
    try:
        yield
    finally:
        for signum, before in previous.items():
            signal.signal(signum, before)


def _partial_name(output: Path, token: str) -> Path:
    return output.with_name(f".{output.stem}.{token}.partial{output.suffix}")


def remove_stale_partials(output: Path) -> list[Path]:
    """Remove the temporary files of ``output`` left by runs that were killed; returns those removed.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `output` | Path | | the final file whose partials (``.NAME.XXXXXXXX.partial.EXT`` beside it) are looked for |

    A running :func:`encode` holds its partial for as long as it runs (:func:`~vsanimsplat.portable.create_held`:
    an exclusive ``flock`` on Unix, the open file on Windows), and the system lets go when its process ends however
    it ends, so a partial that is not held has no writer left; a held one (another job writing the same output) is
    left alone.
    """
    pattern = re.compile(re.escape(f".{output.stem}.") + r"[0-9a-f]{8}" + re.escape(f".partial{output.suffix}"))
    return [path for path in sorted(output.parent.iterdir())
            if pattern.fullmatch(path.name) and remove_unless_held(path)]


def encode(clip: vs.VideoNode | None, ffmpeg: FFmpeg, args: Sequence[str], output: Path, progress: Progress,
           verbose: bool = False, replace: bool = True) -> None:
    """Pipe ``clip`` as y4m into ffmpeg, writing a temporary file beside ``output``, renamed on success.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `clip` | vs.VideoNode or None | | constant-rate YUV or GRAY clip; None: ffmpeg reads its inputs itself (``args`` name no pipe) |
    | `ffmpeg` | FFmpeg | | the ffmpeg to run |
    | `args` | sequence of str | | its arguments (:func:`~vsanimsplat.ffmpeg.encode_command`); the last, the output file, is replaced by the temporary file |
    | `output` | Path | | the final file (replaced if it exists) |
    | `progress` | Progress | | told about every frame; the caller closes it (a chunked job encodes into one bar) |
    | `verbose` | bool | False | print ffmpeg's warnings too, not only its errors |
    | `replace` | bool | True | replace ``output`` if it exists when the encode is done; False: an ``output`` that appeared meanwhile (another program wrote it) is kept and the encode fails |

    No file is left under ``output``'s name unless the encode succeeded; the temporary file is
    removed on any failure and on each of :data:`STOP_SIGNALS`. ffmpeg runs in its own process group,
    so Ctrl-C reaches only this process, which stops ffmpeg and then raises KeyboardInterrupt
    (:class:`Interrupted` for the others). The temporary file is held while it is written
    (:func:`~vsanimsplat.portable.create_held`), so :func:`remove_stale_partials` tells a killed run's from a
    running one's. Raises :class:`EncodeError` with ffmpeg's messages when it fails, or with the error of a frame.
    """
    token = secrets.token_hex(4)
    temporary = _partial_name(output, token)
    command = [ffmpeg.path, "-hide_banner", "-nostats", "-loglevel", "warning" if verbose else "error",
               "-y", *args[:-1], file_url(temporary)]
    held = create_held(temporary)
    try:
        with tempfile.TemporaryFile() as messages:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL if clip is None else subprocess.PIPE,
                                       stdout=subprocess.DEVNULL, stderr=messages, **own_process_group())
            try:
                with _interrupt_stops(process) as interrupted:
                    failure = None if clip is None else _feed(clip, process, progress)
                    code = process.wait()
                if interrupted:
                    raise KeyboardInterrupt if interrupted[0] == signal.SIGINT else Interrupted(interrupted[0])
            except BaseException:
                process.kill()
                process.wait()
                raise
            messages.seek(0)
            text = messages.read().decode(errors="replace").strip()
        if failure is not None:
            raise EncodeError(f"making a frame failed: {failure}")
        if code != 0:
            raise EncodeError(f"ffmpeg failed (exit code {code}): {text or 'no message'}\ncommand: {shlex.join(command)}")
        if verbose and text:
            print(text, file=sys.stderr)
        if not replace and output.exists():
            raise EncodeError(f"{output} appeared while this run was encoding (another program wrote it); it is not "
                              "replaced without --overwrite")
        replace_held(held, temporary, output)
    finally:
        held.close()  # first: Windows removes no open file
        temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def _interrupt_stops(process: subprocess.Popen) -> Iterator[list[int]]:
    """While in the block, each of :data:`STOP_SIGNALS` kills ``process`` and is recorded in the yielded list
    instead of raising: VapourSynth's output loop runs Python callbacks and drops their exceptions, so a
    KeyboardInterrupt raised there would be lost. Killing ffmpeg ends the loop (its pipe breaks); the
    caller raises KeyboardInterrupt (or :class:`Interrupted`) after the block when the list is not empty.
    Ignored signals stay ignored (:func:`_handling`)."""
    interrupted: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        interrupted.append(signum)
        process.kill()

    with _handling(STOP_SIGNALS, stop):
        yield interrupted


def _feed(clip: vs.VideoNode, process: subprocess.Popen, progress: Progress) -> vs.Error | None:
    """Write ``clip`` into ffmpeg's stdin; returns the error of a frame that failed, if any (ffmpeg is
    then stopped, so it does not finish a file from part of the frames)."""
    assert process.stdin is not None  # started with stdin=PIPE
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
