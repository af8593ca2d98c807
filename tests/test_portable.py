"""The package without what Windows lacks (:mod:`tests.windows_like`), and :mod:`vsanimsplat.portable` on this system.

No Windows machine runs the suite, so the pieces that exist on Unix only (``fcntl``, ``signal.SIGHUP``,
``os.getloadavg``, ``/proc``, …) are hidden in a process of its own: every module must import and a short ``run``
must work there, in one encode and in chunks.
"""

from __future__ import annotations

import json
import platform
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from vsanimsplat import machine
from vsanimsplat.portable import STOP_SIGNALS, create_held, remove_unless_held, replace_held

ROOT = Path(__file__).resolve().parents[1]


def _modules() -> set[str]:
    """Every module of the package, from its files."""
    names = set()
    for path in (ROOT / "vsanimsplat").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names - {"vsanimsplat"}


@pytest.fixture(scope="module")
def windows_like(tmp_path_factory) -> dict:
    """What :mod:`tests.windows_like` reports."""
    done = subprocess.run([sys.executable, "-m", "tests.windows_like", str(tmp_path_factory.mktemp("windows_like"))],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.slow
def test_every_module_imports_without_what_windows_lacks(windows_like):
    assert windows_like["failed"] == {}
    assert set(windows_like["imported"]) == _modules()


@pytest.mark.slow
@pytest.mark.parametrize("run", ["single", "chunked"])
def test_a_short_run_works_without_what_windows_lacks(windows_like, run):
    outcome = windows_like[run]
    assert "error" not in outcome, outcome.get("error")
    result = outcome["value"]
    assert result["code"] == 0, result["stderr"]
    assert result["frames"] == 50  # 25 source frames at 24000/1001 fps to 48000/1001
    assert result["killed_removed"], result["stderr"]
    assert "removed 1 temporary file(s)" in result["stderr"]


@pytest.mark.slow
def test_the_machine_is_described_without_proc_and_load_average(windows_like):
    assert "error" not in windows_like["machine"], windows_like["machine"].get("error")
    described = windows_like["machine"]["value"]
    assert described["load_average"] is None
    assert described["cpu"]
    assert "load average" not in windows_like["describe"]["value"]
    if platform.machine() in ("x86_64", "AMD64") and Path("/proc/cpuinfo").exists():
        assert described["simd"] == machine._simd_flags()  # torch's names mapped to /proc's


def test_stop_signals_are_those_of_this_system():
    assert STOP_SIGNALS[:2] == (signal.SIGINT, signal.SIGTERM)
    for name in ("SIGHUP", "SIGBREAK"):  # Unix, Windows
        assert (getattr(signal, name, None) in STOP_SIGNALS) == hasattr(signal, name)


def test_a_held_file_is_not_removed_until_let_go(tmp_path):
    path, moved = tmp_path / "partial.mkv", tmp_path / "final.mkv"
    held = create_held(path)
    assert [p.name for p in tmp_path.iterdir()] == ["partial.mkv"]  # no staging name left
    assert not remove_unless_held(path)
    replace_held(held, path, moved)
    if sys.platform != "win32":
        assert not remove_unless_held(moved)  # the lock follows the file
    held.close()
    assert remove_unless_held(moved)
    assert not moved.exists()
    assert not remove_unless_held(moved)  # gone already
