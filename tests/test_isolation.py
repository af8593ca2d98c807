"""The run's isolation from the machine (tests/conftest.py): its own HOME, weight cache, Numba cache, Ray folder and
Hypothesis storage, inherited by child processes."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import vapoursynth as vs
from hypothesis import settings

from vsanimsplat.ffmpeg import write_rgb_video
from vsanimsplat.filters.source import open_video
from vsanimsplat.models.weights import model_dir
from vsanimsplat.testing import Scene, animate


def test_the_run_has_its_own_home_and_caches(pytestconfig):
    root, ray, saved = pytestconfig._vsanimsplat_isolation
    temporary = Path(tempfile.gettempdir()).resolve()
    assert Path.home() == root / "home" and root.resolve().parent == temporary
    assert model_dir() == root / "models" and os.environ["NUMBA_CACHE_DIR"] == str(root / "numba")
    assert os.environ["RAY_TMPDIR"] == str(ray) and len(str(ray)) < 40
    assert saved["HOME"] != os.environ["HOME"]
    assert settings.default.database is None
    assert (Path.home() / ".config" / "vapoursynth" / "vapoursynth.toml").is_file()


def test_a_child_process_sees_the_same(pytestconfig):
    root, _, _ = pytestconfig._vsanimsplat_isolation
    code = "import pathlib, os; print(pathlib.Path.home(), os.environ['VSANIMSPLAT_MODEL_DIR'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(root / "home"), str(root / "models")]


def test_bestsource_indexes_go_under_the_runs_home(tmp_path):
    """BestSource keeps the index of a file it opens in ``~/bsindex`` (large files only): the run's HOME."""
    path = tmp_path / "clip.mkv"
    write_rgb_video(animate(Scene(64, 48, seed=1), [2] * 40).frames, path, 24)
    clip = vs.core.bs.VideoSource(str(path), cachemode=2)  # 2: always write the index, whatever the size
    assert clip.num_frames == 80
    assert list((Path.home() / "bsindex").rglob("clip.mkv*.bsindex"))
    assert open_video(path).num_frames == 80


def test_numba_compiles_into_the_runs_cache():
    numba = pytest.importorskip("numba")
    assert Path(numba.config.CACHE_DIR) == Path(os.environ["NUMBA_CACHE_DIR"])
