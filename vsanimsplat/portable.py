"""What Unix and Windows do differently, in one place: files held against removal by a running job, a child process
in its own group, the signals that stop a job, and making a folder's entries durable.

Each function keeps the Unix behaviour where Unix has it (``fcntl.flock``, a process group, ``SIGHUP``, a folder's
``fsync``) and does the nearest thing Windows offers otherwise, so that no module of the package imports or reads
what exists on Unix only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, BinaryIO

try:
    import fcntl
except ModuleNotFoundError:  # Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["STOP_SIGNALS", "create_held", "fsync_folder", "own_process_group", "remove_unless_held", "replace_held"]

STOP_SIGNALS: tuple[int, ...] = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK")
                                      if hasattr(signal, name))
"""The signals that end a job cleanly, SIGINT first: Ctrl-C, a kill (job schedulers, ``kill``), and where they exist
a closed terminal (SIGHUP, Unix) and Ctrl-Break (SIGBREAK, Windows)."""


def create_held(path: Path) -> BinaryIO:
    """Create ``path`` (which must not exist) and hold it until the returned file is closed or this process ends,
    however it ends: :func:`remove_unless_held` leaves a held file alone.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `path` | Path | | the file to create |

    On Unix the file is created under a name no cleanup looks for (``path`` + ``.holding``), locked with an exclusive
    ``flock`` and renamed to ``path``, so it is never seen unheld; the lock follows it through later renames. On
    Windows the open file is the hold: Windows removes no file that a process has open.
    """
    if fcntl is None:
        return open(path, "xb")
    staging = path.with_name(f"{path.name}.holding")
    file = open(staging, "xb")
    try:
        fcntl.flock(file, fcntl.LOCK_EX)
        os.rename(staging, path)
    except BaseException:
        file.close()
        staging.unlink(missing_ok=True)
        raise
    return file


def replace_held(file: BinaryIO, source: Path, target: Path) -> None:
    """``os.replace(source, target)`` of a file that :func:`create_held` made and ``file`` holds. On Windows, where a
    file that is open cannot be renamed, ``file`` is closed first, and the file is held no more."""
    if fcntl is None:
        file.close()
    os.replace(source, target)


def remove_unless_held(path: Path) -> bool:
    """Remove ``path`` unless a running process holds it (:func:`create_held`); whether it was removed (False too
    when it is gone already)."""
    if fcntl is None:
        try:
            path.unlink()
        except (PermissionError, FileNotFoundError):  # Windows removes no file that a process has open
            return False
        return True
    try:
        with open(path, "rb") as file:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            path.unlink()
    except (BlockingIOError, FileNotFoundError):  # held by a running process, or removed by another meanwhile
        return False
    return True


def own_process_group() -> dict[str, Any]:
    """The :class:`subprocess.Popen` arguments that start a child in a process group of its own, so that Ctrl-C in
    the terminal reaches this process only (which then stops the child itself): ``process_group=0`` on Unix,
    ``CREATE_NEW_PROCESS_GROUP`` on Windows."""
    if sys.platform == "win32":  # the platform test a type checker reads: the flag exists on Windows only
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"process_group": 0}


def fsync_folder(path: Path) -> None:
    """Make the entries of folder ``path`` durable (a file renamed into it) with ``fsync`` of the folder. Windows
    opens no folder as a file and journals the entries of NTFS itself: nothing is done there."""
    if os.name == "nt":
        return
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
