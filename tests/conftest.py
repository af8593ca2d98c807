"""Fixtures shared by the test modules, and the run's isolation from the machine it runs on.

Before any test module is imported, the run gets folders of its own under a new temporary folder, so that it
reads and writes nothing of the user's and passes the same on a long-used machine and a new one:

| what | where it went | now |
|---|---|---|
| ``HOME`` (BestSource's indexes in ``~/bsindex``, Ray's ``~/.ray``, platformdirs' caches, matplotlib's) | the user's | ``home/``, with ``vapoursynth config`` run in it (``vspipe`` finds this Python through it) |
| ``XDG_CACHE_HOME``, ``XDG_CONFIG_HOME``, ``XDG_DATA_HOME``, ``XDG_STATE_HOME`` | the user's, where set | unset (so below ``home/``) |
| the weight cache (``VSANIMSPLAT_MODEL_DIR``) | the user's cache | ``models/``: a copy of the files of the user's cache (or of ``$VSANIMSPLAT_MODEL_DIR``) as the run starts, where ``make weights`` put them; tests that need weights skip without them |
| Numba's compiled code (``NUMBA_CACHE_DIR``) | ``__pycache__`` in the package | ``numba/`` (the first splat of the run compiles, ~7 s) |
| Ray's session folders (``RAY_TMPDIR``) and the address of a running Ray | ``/tmp/ray`` | a short folder of its own (Ray's socket paths must stay under 107 characters), so no cluster of the user's is joined |
| Hypothesis' example database and storage (``HYPOTHESIS_STORAGE_DIRECTORY``) | ``.hypothesis/`` in the checkout | no database (profile ``isolated``), storage in ``hypothesis/`` |

Child processes (the command line, Ray's workers) inherit all of it. The folders are removed when the run ends.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import platformdirs
import pytest
from hypothesis import settings

from vsanimsplat.ffmpeg import write_rgb_video
from vsanimsplat.testing import Scene, animate, cadence


@pytest.fixture(scope="session")
def video(tmp_path_factory):
    """An x264 mkv at 24000/1001 fps animated on mixed twos and threes (lossy, like real footage)."""
    holds = cadence([2, 3, 2, 1, 4], 12)
    clip = animate(Scene(192, 108, seed=5, speed=3.0), holds)
    path = tmp_path_factory.mktemp("video") / "cartoon.mkv"
    write_rgb_video(clip.frames, path, Fraction(24000, 1001))
    return path, holds


_ISOLATED_ENV = ("HOME", "VSANIMSPLAT_MODEL_DIR", "NUMBA_CACHE_DIR", "RAY_TMPDIR", "HYPOTHESIS_STORAGE_DIRECTORY",
                 "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME")
_WEIGHT_SUFFIXES = (".pkl", ".pytorch", ".sha256")


def _user_weights() -> Path:
    """Where the user's weights are (``make weights`` puts them there): read before ``HOME`` changes."""
    override = os.environ.get("VSANIMSPLAT_MODEL_DIR")
    return Path(override).expanduser() if override else platformdirs.user_cache_path("vsanimsplat") / "models"


def pytest_generate_tests(metafunc):
    """A test that takes ``torch_device`` runs once per torch device this machine has: the CPU, and CUDA where present
    (the same assertions on both; CPU-only machines run the CPU case, a CUDA host both)."""
    if "torch_device" in metafunc.fixturenames:
        import torch

        metafunc.parametrize("torch_device", ["cpu"] + (["cuda"] if torch.cuda.is_available() else []))


def pytest_configure(config):
    """Give the run its own HOME, weight cache, Numba cache, Ray folder and Hypothesis storage (the module's
    docstring); the environment is restored by :func:`pytest_unconfigure`."""
    weights = _user_weights()
    root = Path(tempfile.mkdtemp(prefix="vsanimsplat-tests-"))
    ray = Path(tempfile.mkdtemp(prefix="vsray-"))  # short: Ray's socket paths below it must fit in 107 characters
    config._vsanimsplat_isolation = (root, ray, {name: os.environ.get(name) for name in _ISOLATED_ENV})
    models = root / "models"
    models.mkdir()
    if weights.is_dir():
        for file in weights.iterdir():
            if file.suffix in _WEIGHT_SUFFIXES and file.is_file():
                shutil.copyfile(file, models / file.name)
    for name in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        os.environ.pop(name, None)
    os.environ.update({
        "HOME": str(root / "home"), "VSANIMSPLAT_MODEL_DIR": str(models), "NUMBA_CACHE_DIR": str(root / "numba"),
        "RAY_TMPDIR": str(ray), "HYPOTHESIS_STORAGE_DIRECTORY": str(root / "hypothesis"),
    })
    (root / "home").mkdir()
    vapoursynth = Path(sys.executable).with_name("vapoursynth")  # vspipe finds this Python through its config
    if vapoursynth.is_file():
        subprocess.run([str(vapoursynth), "config"], check=True, capture_output=True)
    settings.register_profile("isolated", database=None)
    settings.load_profile("isolated")


def pytest_unconfigure(config):
    root, ray, saved = getattr(config, "_vsanimsplat_isolation", (None, None, {}))
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    for folder in (root, ray):
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
