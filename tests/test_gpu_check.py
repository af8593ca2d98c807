"""scripts/gpu_check.py: refuses to run without CUDA, and renders the records a GPU run writes.

The GPU run itself cannot run here; its dry run (``--device cpu --tiny``) takes minutes on a small
CPU, so it is run by hand (see the script's docstring), not here.
"""

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "gpu_check.py"


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_without_cuda_exits_non_zero_with_one_line(tmp_path):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # no GPU, even on a machine that has one
    done = subprocess.run([sys.executable, str(SCRIPT), "--out-dir", str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"gpu_check: no CUDA device: torch {torch.__version__} "
                                        + ("has no CUDA support" if torch.version.cuda is None
                                           else f"(CUDA {torch.version.cuda}) finds no GPU")
                                        + "; this check needs one (--device cpu --tiny is a dry run of its logic)"]
    assert done.stdout == "" and not any(tmp_path.iterdir())  # nothing measured, nothing written


@pytest.mark.parametrize("option", [["--device", "gpu"], ["--budget", "0"], ["--threads", "0"], ["--frames", "0"]])
def test_bad_options_are_named(gpu_check, monkeypatch, capsys, option):
    monkeypatch.setattr(sys, "argv", ["gpu_check.py", *option])
    with pytest.raises(SystemExit) as exit_:
        gpu_check._arguments()
    assert exit_.value.code == 2 and f"{option[0]} must" in capsys.readouterr().err


def gpu_report() -> dict:
    """A report as a CUDA run leaves it, one row of each kind."""
    return {
        "date": "2026-12-01 10:00 UTC", "command": ".venv/bin/python scripts/gpu_check.py", "cwd": "/repo",
        "device": "cuda", "size": "1920x1080", "threads": 8, "budget_s": 420.0, "status": "complete",
        "gpu": {"torch": "2.14.1+cu130", "torch_cuda": "13.0", "name": "NVIDIA H200", "capability": "9.0",
                "memory_gib": 139.8, "cudnn": 92400, "driver": "580.65", "cupy": "13.6.0 (CUDA runtime 13000)"},
        "machine_line": "Some CPU (avx2 fma), 16 cores", "notes": ["speed naive union float32 x2: skipped by the time guard"],
        "kernels": {"fast_path": "CuPy kernels", "shape": [2, 3, 540, 960],
                    "rows": [{"dtype": "float32", "mode": "soft", "tolerance": 1e-4, "forward": 3e-7,
                              "holes_differing": 0.0, "grad_input": 2e-7, "grad_flow": 5e-3, "grad_metric": 1e-7,
                              "pass": False}],
                    "speed": [{"mode": "soft", "fast_ms": 0.412, "torch_ms": 3.1}]},
        "precision": {"half": "float16", "size": "1920x1080", "floor_db": 45.0, "pass": True,
                      "rows": [{"t": 0.5, "psnr_half_vs_float32": 52.31, "psnr_float32_vs_truth": 30.1,
                                "psnr_half_vs_truth": 30.09}]},
        "speed": [{"case": "dedupe + union", "model": "union", "precision": "float16", "dedupe": True, "target": "x2",
                   "setup_s": 2.5, "warm_up_frames": 8, "warm_up_s": 1.5, "frames": 33, "seconds": 2.2, "fps": 15.0,
                   "cut_short": True, "vram_at_start_gib": 0.0, "peak_vram_gib": 3.21, "peak_reserved_gib": 4.0}],
    }


def test_records_of_a_gpu_run_replace_the_placeholder(gpu_check, tmp_path):
    (tmp_path / "gpu.md").write_text("# GPU check\n\nThe GPU path has not run yet.\n")
    gpu_check.write(gpu_report(), tmp_path)
    text = (tmp_path / "gpu.md").read_text()
    assert "has not run yet" not in text and "DRY RUN" not in text
    assert "NVIDIA H200 (compute capability 9.0, 139.8 GiB), driver 580.65" in text
    assert "`.venv/bin/python scripts/gpu_check.py`" in text
    assert "| float32 | soft | 3.00e-07 | 0.00e+00 | 2.00e-07 | 5.00e-03 | 1.00e-07 | 0.0001 | FAIL |" in text
    assert "| soft | 0.412 | 3.100 |" in text
    assert "| 0.5 | 52.31 | 30.1 | 30.09 |" in text
    assert "| dedupe + union | x2 | float16 | 2.50 | 8 (1.50) | 33 (cut short) | 2.20 | 15.00 | 3.21 (4.0) |" in text
    assert "(allocated at its start: 0.0 GiB)" in text
    assert "- speed naive union float32 x2: skipped by the time guard" in text
    assert (tmp_path / "gpu.json").read_text().startswith("{")


def test_a_failed_row_fails_the_run_and_an_uncompared_one_does_not(gpu_check):
    kernels = gpu_report()["kernels"]
    assert gpu_check._failed(kernels)
    kernels["rows"][0]["pass"] = None
    assert not gpu_check._failed(kernels)
    assert not gpu_check._failed(gpu_report()["precision"])


@pytest.mark.parametrize("late", [False, True])
def test_a_speed_case_times_its_frames_and_stops_at_the_deadline(gpu_check, late):
    clip = gpu_check.source_clip((64, 48), 2 + 4)
    case = ("dedupe + blend", "blend", "float32", True)  # the case machinery; blend needs no weights
    deadline = time.perf_counter() + (0 if late else 600)
    row = gpu_check.speed_case(clip, "cpu", case, "bfloat16", "60000/1001", warm=2, frames=4, deadline=deadline)
    assert (row["frames"], row["cut_short"]) == ((1, True) if late else (4, False))
    assert row["fps"] == pytest.approx(row["frames"] / row["seconds"], rel=0.2)  # seconds are rounded
    assert row["peak_vram_gib"] is None
