"""A description of the machine, recorded next to every benchmark number."""

from __future__ import annotations

import os
import platform
from pathlib import Path

__all__ = ["machine", "describe"]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


_SIMD = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "asimd", "sve")


def _simd_flags() -> list[str]:
    """The CPU's vector-instruction flags that decide which kernels run fast (from /proc/cpuinfo)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                present = set(line.split(":", 1)[1].split())
                return [flag for flag in _SIMD if flag in present]
    except OSError:
        pass
    return []


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def machine() -> dict[str, object]:
    """CPU model and vector flags, cores, memory, load, and the versions of Python, torch and VapourSynth."""
    import torch
    import vapoursynth as vs

    return {
        "cpu": _cpu_model(),
        "simd": _simd_flags(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "load_average": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "vapoursynth": f"R{vs.core.core_version.release_major}",
        "vs_threads": vs.core.num_threads,
    }


def describe() -> str:
    """:func:`machine` as one line for a report."""
    m = machine()
    gpu = f", GPU {m['cuda']}" if m["cuda"] else ", no GPU"
    simd = " ".join(m["simd"]) or "none known"
    if "avx2" in m["simd"]:  # x86: say which of the fast paths' flags it lacks, so a record is read right
        simd += "".join(f"; no {flag}" for flag in ("avx512f", "avx512_bf16", "amx_bf16") if flag not in m["simd"])
    return (f"{m['cpu']} (lscpu flags: {simd}), {m['cores']} cores, {m['memory_gib']} GiB{gpu}; Python {m['python']}, torch {m['torch']} "
            f"({m['torch_threads']} threads), VapourSynth {m['vapoursynth']} ({m['vs_threads']} threads); "
            f"load average {m['load_average']} at start")
