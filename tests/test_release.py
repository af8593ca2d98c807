"""What ships with the package: one version (``vsanimsplat.__version__``, read by ``pyproject.toml``, named by the
top entry of ``CHANGELOG.md``, said by the installed metadata), the MIT licence and ``py.typed``."""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

import vsanimsplat

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _changelog_version() -> str:
    """The version of the changelog's first release heading (``## [X.Y.Z] - DATE``)."""
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    found = re.search(r"^## \[?(\d+\.\d+\.\d+[^\]\s]*)\]? - \d{4}-\d{2}-\d{2}$", text, re.MULTILINE)
    assert found, "CHANGELOG.md has no release heading"
    return found.group(1)


def test_the_version_is_stated_once_and_agrees_everywhere():
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "vsanimsplat.__version__"}
    assert importlib.metadata.version("vsanimsplat") == vsanimsplat.__version__
    assert _changelog_version() == vsanimsplat.__version__


def test_the_licence_is_mit_and_py_typed_is_package_data():
    assert PYPROJECT["project"]["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License\n")
    assert (ROOT / "vsanimsplat" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["vsanimsplat"]


@pytest.mark.slow
def test_the_wheel_holds_the_version_the_licence_and_py_typed(tmp_path):
    pytest.importorskip("setuptools", minversion="77")
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "vsanimsplat", source / "vsanimsplat", ignore=shutil.ignore_patterns("__pycache__"))
    build = "from setuptools import build_meta; print(build_meta.build_wheel('dist'))"
    built = subprocess.run([sys.executable, "-c", build], cwd=source, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = source / "dist" / built.stdout.split()[-1]
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = f"vsanimsplat-{vsanimsplat.__version__}.dist-info"
        metadata = archive.read(f"{info}/METADATA").decode()
    assert "vsanimsplat/py.typed" in names
    assert f"{info}/licenses/LICENSE" in names
    assert f"\nVersion: {vsanimsplat.__version__}\n" in metadata
    assert "\nLicense-Expression: MIT\n" in metadata
