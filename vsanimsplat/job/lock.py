"""One run per output: a lock file beside the output, made with ``O_CREAT | O_EXCL`` (portable, no ``fcntl``).

``.NAME.lock`` beside ``NAME`` holds who writes it: the process id, the host, when it began, the command. A
second run of the same output fails at once, naming the first, instead of overwriting its file or sharing its
chunks' work folder (``NAME.work/``). The lock of a run that is gone (killed with SIGKILL, a power loss) is
taken over when its process no longer runs on this host; a lock of another host, or one that cannot be read,
is left for the user to remove (the message names the file).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import AnimSplatError

__all__ = ["OutputBusy", "lock_path", "output_lock"]


class OutputBusy(AnimSplatError, RuntimeError):
    """Another run is writing the same output; the message names it and the lock file."""


def lock_path(output: Path) -> Path:
    """The lock file of ``output``: ``.NAME.lock`` beside it."""
    return output.with_name(f".{output.name}.lock")


def _running(pid: int) -> bool:
    """Whether process ``pid`` of this host still runs (True where that cannot be told without killing it:
    ``os.kill(pid, 0)`` ends the process on Windows)."""
    if os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _holder(lock: Path) -> dict | None:
    """What the lock file says about its run, or None when it cannot be read (being written, or not ours)."""
    try:
        record = json.loads(lock.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("pid"), int) else None


def _describe(holder: dict | None, lock: Path) -> str:
    if holder is None:
        return f"a run whose lock {lock} cannot be read"
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.get("started", 0)))
    return f"another run (pid {holder['pid']} on {holder.get('host', '?')}, since {since}: {holder.get('command', '?')})"


@contextlib.contextmanager
def output_lock(output: Path, say: Callable[[str], None] = print) -> Iterator[None]:
    """Hold ``output``'s lock for the block; raises :class:`OutputBusy` when another run holds it.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `output` | Path | | the file the run writes |
    | `say` | callable | print | told when the lock of a run that is gone is taken over |

    The lock is removed when the block ends however it ends (an exception, Ctrl-C, SIGTERM through
    :func:`~vsanimsplat.job.signals_interrupt`), and only while it is still this run's.
    """
    lock = lock_path(output)
    record = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
              "command": shlex.join(["vsanimsplat", *sys.argv[1:]]), "token": secrets.token_hex(8)}
    for attempt in range(2):
        try:
            descriptor = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            break
        except FileExistsError:
            holder = _holder(lock)
            gone = (holder is not None and holder.get("host") == record["host"] and not _running(holder["pid"]))
            if attempt or not gone:
                raise OutputBusy(f"{output} is being written by {_describe(holder, lock)}; wait for it to end or "
                                 f"write another -o/--output (if no run writes it, remove {lock})") from None
            say(f"{output}: taking over the lock of a run that is gone (pid {holder['pid']}, {holder.get('command', '?')})")
            lock.unlink(missing_ok=True)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump(record, file)
    try:
        yield
    finally:
        if (_holder(lock) or {}).get("token") == record["token"]:
            lock.unlink(missing_ok=True)
