"""The package run with what Windows lacks hidden, for ``test_portable``.

Before anything of the package is imported, the Unix-only pieces are taken away as Windows lacks them: the
modules :data:`HIDDEN_MODULES` (``fcntl`` …) cannot be imported, the signals of :data:`HIDDEN_SIGNALS` (``SIGHUP`` …)
and the functions of :data:`HIDDEN_OS` (``os.getloadavg`` …) are gone, and ``/proc`` cannot be read through
:mod:`pathlib`.
Then every module of the package is imported, :func:`~vsanimsplat.machine.machine` describes the machine, and
``vsanimsplat run`` makes a short clip twice, in one encode and in chunks, each beside a temporary file that a
killed run left. The hiding lasts for the process, so this runs in a process of its own::

    python -m tests.windows_like FOLDER

prints one JSON line: the modules imported, those that failed (with their error), the machine's description, and
for each run its exit code, what it printed, the frames written and whether the killed run's file was removed.
"""

from __future__ import annotations

import os
import pathlib
import signal
import sys
from collections.abc import Callable

HIDDEN_MODULES = ("fcntl", "termios", "resource", "pwd", "grp")
"""Modules of the standard library that exist on Unix only."""

HIDDEN_SIGNALS = ("SIGHUP", "SIGQUIT", "SIGALRM", "SIGUSR1", "SIGUSR2", "SIGPIPE", "SIGCHLD", "SIGCONT", "SIGSTOP",
                  "SIGTSTP", "SIGWINCH")
"""Signals that Windows lacks. ``SIGKILL`` stays: :meth:`subprocess.Popen.kill` sends it on POSIX (on Windows it
calls ``TerminateProcess``)."""

HIDDEN_OS = ("getloadavg", "setsid", "setpgid", "getpgid", "killpg")
"""Functions of :mod:`os` that Windows lacks. ``os.sysconf`` stays: the standard library's Unix code calls it
(:mod:`asyncio` on import)."""


def _hide() -> None:
    """Take away what the module docstring says, for the rest of the process."""
    for name in HIDDEN_MODULES:
        sys.modules[name] = None  # import raises ModuleNotFoundError
    for name in HIDDEN_SIGNALS:
        delattr(signal, name)
    for name in HIDDEN_OS:
        delattr(os, name)

    def unreadable(method: Callable[..., object]) -> Callable[..., object]:
        def guarded(self: pathlib.Path, *args: object, **kwargs: object) -> object:
            if self.parts[:2] == ("/", "proc"):
                raise FileNotFoundError(2, "No such file or directory", str(self))
            return method(self, *args, **kwargs)
        return guarded

    for method in ("open", "read_text", "read_bytes"):
        setattr(pathlib.Path, method, unreadable(getattr(pathlib.Path, method)))


_hide()

import contextlib  # noqa: E402
import importlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import pkgutil  # noqa: E402
import traceback  # noqa: E402
from fractions import Fraction  # noqa: E402
from pathlib import Path  # noqa: E402


def _import_all() -> tuple[list[str], dict[str, str]]:
    """Import every module of the package (``__main__`` as ``python -m vsanimsplat --help`` runs it); the names
    imported and, for each that failed, its error."""
    import vsanimsplat

    imported, failed = [], {}
    for module in pkgutil.walk_packages(vsanimsplat.__path__, "vsanimsplat.", onerror=lambda name: None):
        argv = sys.argv
        sys.argv = ["vsanimsplat", "--help"]
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                importlib.import_module(module.name)
        except SystemExit as stop:
            if stop.code:
                failed[module.name] = f"exit {stop.code}"
        except Exception:
            failed[module.name] = traceback.format_exc(limit=-3)
        finally:
            sys.argv = argv
        imported.append(module.name)
    return imported, failed


def _run(folder: Path, source: Path, name: str, *options: str) -> dict[str, object]:
    """``vsanimsplat run`` of ``source`` into ``folder/name`` beside the temporary file of a killed run."""
    from vsanimsplat.cli import main
    from vsanimsplat.ffmpeg import count_frames, find_ffmpeg

    output = folder / name
    killed = folder / f".{output.stem}.0123abcd.partial{output.suffix}"
    killed.write_bytes(b"left by a killed run")
    said, errors = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(said), contextlib.redirect_stderr(errors):
        code = main(["run", str(source), "-o", str(output), "--model", "blend", "--fps", "48000/1001", *options])
    frames = count_frames(find_ffmpeg().path, output) if output.exists() else None
    return {"code": code, "stdout": said.getvalue(), "stderr": errors.getvalue(), "frames": frames,
            "killed_removed": not killed.exists()}


def _outcome(step: Callable[[], object]) -> dict[str, object]:
    """``{"value": step()}``, or ``{"error": its traceback}``."""
    try:
        return {"value": step()}
    except Exception:
        return {"error": traceback.format_exc(limit=-4)}


def main(folder: Path) -> dict[str, object]:
    """Everything of the module docstring, as the JSON object it prints (each step's ``value`` or ``error``)."""
    imported, failed = _import_all()
    from vsanimsplat.ffmpeg import write_rgb_video
    from vsanimsplat.machine import describe, machine
    from vsanimsplat.testing import Scene, animate, cadence

    source = folder / "source.mkv"
    write_rgb_video(animate(Scene(96, 64, seed=1, speed=3.0), cadence([2, 3], 10)).frames, source,
                    Fraction(24000, 1001))
    return {"imported": imported, "failed": failed, "machine": _outcome(machine), "describe": _outcome(describe),
            "single": _outcome(lambda: _run(folder, source, "single.mkv")),
            "chunked": _outcome(lambda: _run(folder, source, "chunked.mkv", "--chunk-seconds", "0.5"))}


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1])), default=str))
