"""scripts/gpu_check.py: refuses to run without CUDA, checks its options, renders the records a GPU run writes, and
runs each step's logic on the CPU with the ``blend`` model (no weights) on a tiny clip.

The GPU run itself cannot run here; its whole dry run (``--device cpu --tiny``) takes minutes on a small
CPU, so it is run by hand (see the script's docstring), not here.
"""

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
import vapoursynth as vs
from tests.helpers import load_script

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "gpu_check.py"


@pytest.fixture(scope="module")
def gpu_check():
    return load_script("gpu_check")


@pytest.mark.slow
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
def test_bad_options_are_named(gpu_check, capsys, option):
    with pytest.raises(SystemExit) as exit_:
        gpu_check.arguments(option)
    assert exit_.value.code == 2 and f"{option[0]} must" in capsys.readouterr().err


def test_options_and_their_defaults(gpu_check):
    args = gpu_check.arguments([])
    assert (args.device, args.tiny, args.out_dir, args.budget, args.frames) == ("cuda", False, None, 420.0, None)
    args = gpu_check.arguments(["--device", "cuda:1", "--tiny", "--budget", "60", "--threads", "2", "--frames", "3"])
    assert (args.device, args.tiny, args.budget, args.threads, args.frames) == ("cuda:1", True, 60.0, 2, 3)


def gpu_report() -> dict:
    """A report as a CUDA run leaves it, one row of each kind."""
    return {
        "date": "2026-12-01 10:00 UTC", "command": ".venv/bin/python scripts/gpu_check.py", "cwd": "/repo",
        "device": "cuda", "threads": 8, "budget_s": 420.0, "status": "complete",
        "gpu": {"torch": "2.14.1+cu130", "torch_cuda": "13.0", "name": "NVIDIA H200", "capability": "9.0",
                "memory_gib": 139.8, "bf16": True, "cudnn": 92400, "driver": "580.65", "cupy": "13.6.0 (CUDA runtime 13000)"},
        "machine_line": "Some CPU (avx2 fma), 16 cores",
        "notes": ["speed 1920x1080 naive: interpolate every frame x2: skipped by the time guard"],
        "kernels": {"fast_path": "CuPy kernels", "fast_skipped": None, "shape": [2, 3, 540, 960],
                    "rows": [{"dtype": "float32", "mode": "soft", "tolerance": 1e-4, "forward": 3e-7,
                              "holes_differing": 0.0, "grad_input": 2e-7, "grad_flow": 5e-3, "grad_metric": 1e-7,
                              "fixed_forward": 4e-8, "fixed_repeats": True, "pass": False}],
                    "speed": [{"mode": "soft", "fast_ms": 0.412, "torch_ms": 3.1, "fixed_ms": 5.25}]},
        "precision": {"size": "1920x1080", "floor_db": 45.0,
                      "rows": [{"half": "float16", "in_betweens": 20, "psnr_db": 52.31, "worst_db": 49.5, "pass": True},
                               {"half": "bfloat16", "in_betweens": 20, "psnr_db": "inf", "worst_db": "inf",
                                "pass": True}]},
        "determinism": {"size": "1280x720", "rows": [
            {"what": "interpolate, deterministic=True", "frames": 48, "differing": 0, "pass": True},
            {"what": "interpolate, deterministic=False", "frames": 48, "differing": 7, "pass": None},
            {"what": "run, chunks of 0.5 s", "frames": 44, "seconds": 21.5, "differing": 1, "pass": False}]},
        "speed": [{"name": "dedupe + interpolate", "deduped": True, "precision": "auto", "deterministic": False,
                   "target": "x2", "size": "1920x1080", "setup_s": 2.5, "warm_up_frames": 8, "warm_up_s": 1.5,
                   "frames": 33, "seconds": 2.2, "fps": 15.0, "cut_short": True, "memory_at_start_gib": 0.0,
                   "peak_memory_gib": 3.21, "peak_reserved_gib": 4.0}],
    }


def test_records_of_a_gpu_run_replace_the_placeholder(gpu_check, tmp_path):
    (tmp_path / "gpu.md").write_text("# GPU check\n\nThe GPU path has not run yet.\n")
    gpu_check.write(gpu_report(), tmp_path)
    text = (tmp_path / "gpu.md").read_text()
    assert "has not run yet" not in text and "DRY RUN" not in text
    assert "NVIDIA H200 (compute capability 9.0, 139.8 GiB, with bfloat16), driver 580.65" in text
    assert "`.venv/bin/python scripts/gpu_check.py`" in text
    assert ("| float32 | soft | 3.00e-07 | 0.00e+00 | 2.00e-07 | 5.00e-03 | 1.00e-07 | 4.00e-08 | same bits | 0.0001 "
            "| FAIL |") in text
    assert "| mode | fast path ms | PyTorch ms | fixed order ms |" in text and "| soft | 0.412 | 3.100 | 5.250 |" in text
    assert "| float16 | 20 | 52.31 | 49.5 | pass |" in text and "| bfloat16 | 20 | inf | inf | pass |" in text
    assert "| interpolate, deterministic=True | 48 | — | 0 | pass |" in text
    assert "| interpolate, deterministic=False | 48 | — | 7 | — |" in text
    assert "| run, chunks of 0.5 s | 44 | 21.5 | 1 | FAIL |" in text
    assert ("| 1920x1080 | dedupe + interpolate | x2 | auto | 2.50 | 8 (1.50) | 33 (cut short) | 2.20 | 15.00 "
            "| 3.21 (4.0) |") in text
    assert "(allocated at its start: 0.0 GiB)" in text
    assert "- speed 1920x1080 naive: interpolate every frame x2: skipped by the time guard" in text
    assert (tmp_path / "gpu.json").read_text().startswith("{")


def test_a_dry_run_says_so_and_a_skipped_fast_path_says_why(gpu_check):
    report = {**gpu_report(), "device": "cpu", "gpu": {"torch": "2.14.1", "torch_cuda": None}}
    report["kernels"] = {**report["kernels"], "fast_path": "CuPy kernels", "fast_skipped": "CuPy is not installed",
                         "speed": [{"mode": "soft", "torch_ms": 3.1, "fixed_ms": 5.25}]}
    text = gpu_check.markdown(report)
    assert text.startswith("# GPU check — DRY RUN on the CPU, not GPU results")
    assert "CuPy kernels: skipped (CuPy is not installed)." in text and "| soft | 3.100 | 5.250 |" in text


def test_a_failed_row_fails_the_run_and_an_uncompared_one_does_not(gpu_check):
    report = gpu_report()
    assert gpu_check._failed(report["kernels"]) and gpu_check._failed(report["determinism"])
    report["kernels"]["rows"][0]["pass"] = None
    assert not gpu_check._failed(report["kernels"])
    assert not gpu_check._failed(report["precision"])


@pytest.fixture(scope="module")
def tiny_clip(gpu_check):
    return gpu_check.source_clip((64, 48), 2 + 4)


class _Clock:
    """A clock for ``time.perf_counter`` that stands still unless told: the set-up takes 100 s and every frame
    VapourSynth makes 0.5 s, so a speed case's seconds and rate are known by hand."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._lock = threading.Lock()

    def perf_counter(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:  # frames are made on VapourSynth's threads
            self.now += seconds


@pytest.mark.parametrize("late", [False, True])
def test_a_speed_case_times_its_frames_and_stops_at_the_deadline(gpu_check, tiny_clip, late, monkeypatch):
    clock, interpolated = _Clock(), gpu_check._interpolated

    def timed(*args, **kwargs):
        clock.advance(100.0)  # the set-up
        out = interpolated(*args, **kwargs)

        def made(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
            clock.advance(0.5)
            return f

        return out.std.ModifyFrame(out, made)

    monkeypatch.setattr(gpu_check, "time", clock)
    monkeypatch.setattr(gpu_check, "_interpolated", timed)
    case = gpu_check.Case("dedupe + blend", target="60000/1001")  # the case machinery; blend needs no weights
    row = gpu_check.speed_case(tiny_clip, "cpu", case, warm=2, frames=4, deadline=0 if late else 10**9, model="blend")
    assert (row["setup_s"], row["warm_up_frames"], row["warm_up_s"]) == (100.0, 2, 1.0)
    if late:  # the deadline passed with the first timed frame: the rate of what was made before the stop
        assert (row["frames"], row["cut_short"]) == (1, True)
    else:  # 4 frames in 2 s, the set-up and warm-up not counted
        assert (row["frames"], row["seconds"], row["fps"], row["cut_short"]) == (4, 2.0, 2.0, False)
    assert row["peak_memory_gib"] is None
    assert (row["name"], row["target"], row["size"], row["precision"]) == ("dedupe + blend", "60000/1001", "64x48", "auto")


@pytest.mark.slow
def test_the_precision_and_determinism_steps_compare_the_in_betweens(gpu_check, tiny_clip):
    precision = gpu_check.check_precision(tiny_clip, "cpu", ["bfloat16", "float32"], 6, model="blend")
    reduced, same = precision["rows"]
    assert (reduced["half"], same["half"]) == ("bfloat16", "float32") and reduced["in_betweens"] == same["in_betweens"] >= 2
    assert 20 < reduced["worst_db"] <= reduced["psnr_db"] < 99 and reduced["pass"] == (reduced["worst_db"] >= 45)
    assert (same["psnr_db"], same["worst_db"], same["pass"]) == ("inf", "inf", True)
    rows = gpu_check.interpolate_determinism(tiny_clip, "cpu", 6, model="blend")
    assert [(r["what"], r["frames"], r["differing"], r["pass"]) for r in rows] == [
        ("interpolate, deterministic=True", 6, 0, True), ("interpolate, deterministic=False", 6, 0, None)]


@pytest.mark.slow
def test_the_run_step_compares_one_encode_with_chunks(gpu_check, tiny_clip, tmp_path):
    rows = gpu_check.run_determinism(tiny_clip, "cpu", tmp_path, model="blend")
    assert [r["what"] for r in rows] == ["run, one encode, --deterministic", "run, chunks of 0.5 s"]
    assert rows[0]["frames"] == rows[1]["frames"] > 6 and rows[1]["differing"] == 0 and rows[1]["pass"] is True
