"""Device safety: the whole pipeline runs with a foreign default device in every thread that touches torch.

Every tensor a model works with must be made on the model's device (``device=`` of an input, ``*_like``, ``new_*``),
and every host buffer on the host: a tensor made without an explicit device lands on torch's default device, the
CPU, beside a model on CUDA. Here the models run on the CPU while the default device is "meta", in the main thread,
VapourSynth's worker threads and every other thread that runs the package (:mod:`tests.foreign_device`, in a
process of its own): ``dedupe`` → ``interpolate`` with every model and preset (regions, layers, crops) →
``fill_holes``, and ``vsanimsplat run``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.foreign_device import FOREIGN, SCENARIOS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def outcomes(request) -> dict[str, dict]:
    """The outcome (``name``, ``seconds``, ``error``, ``where``) of every scenario selected here, from one run."""
    names = [item.callspec.params["name"] for item in request.session.items
             if item.module is request.module and hasattr(item, "callspec")]
    done = subprocess.run([sys.executable, "-m", "tests.foreign_device", *names], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    found = {}
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            outcome = json.loads(line)
            found[outcome["name"]] = outcome
    missing = set(names) - set(found)
    assert not missing, f"no outcome for {sorted(missing)} (exit code {done.returncode}): {done.stderr[-3000:]}"
    return found


@pytest.mark.slow
@pytest.mark.parametrize("name", SCENARIOS)
def test_runs_with_a_foreign_default_device_in_every_thread(outcomes, name):
    outcome = outcomes[name]
    assert outcome["error"] is None, (f"{name} with torch's default device {FOREIGN!r} (a tensor made without "
                                      f"device=): {outcome['error']} at {outcome['where']}")
