"""A description of the machine, recorded next to every benchmark number."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

__all__ = ["machine", "describe"]


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields in Linux's ``/proc/cpuinfo``; empty elsewhere (Windows, macOS)."""
    fields: dict[str, str] = {}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return fields
    for line in text.splitlines():
        key, colon, value = line.partition(":")
        if colon:
            fields.setdefault(key.strip(), value.strip())
    return fields


def _torch_cpu() -> dict[str, object]:
    """What torch's cpuinfo library tells of the CPU on any system (names, flags as booleans); empty where it cannot."""
    import torch

    return getattr(torch.cpu, "get_capabilities", dict)()


def _cpu_model() -> str:
    """The CPU's name: from ``/proc/cpuinfo`` on Linux, torch's cpuinfo elsewhere, else what :mod:`platform` says."""
    return (_cpuinfo().get("model name") or str(_torch_cpu().get("cpu_name") or "") or platform.processor()
            or platform.machine())


_SIMD = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "asimd", "sve")
"""The flags recorded, by their names in ``/proc/cpuinfo`` (and ``lscpu``)."""

_TORCH_NAMES = {"fma": "fma3", "avx512f": "avx512_f"}
"""The flags that :func:`_torch_cpu` names otherwise."""


def _simd_flags() -> list[str]:
    """The CPU's vector-instruction flags that decide which kernels run fast: from ``/proc/cpuinfo`` on Linux, from
    torch's cpuinfo elsewhere."""
    fields = _cpuinfo()
    if "flags" in fields or "Features" in fields:
        present = set((fields.get("flags") or fields["Features"]).split())
        return [flag for flag in _SIMD if flag in present]
    capabilities = _torch_cpu()
    return [flag for flag in _SIMD if capabilities.get(_TORCH_NAMES.get(flag, flag)) is True]


def _memory_gib() -> float | None:
    """The memory in GiB: ``/proc/meminfo`` on Linux, the physical pages elsewhere on Unix, None on Windows."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    try:
        return round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30, 1)
    except (AttributeError, ValueError, OSError):  # Windows has no sysconf
        return None


def machine() -> dict[str, Any]:
    """CPU model and vector flags, cores, memory, load (None where unknown), and the versions of Python, torch and
    VapourSynth."""
    import torch
    import vapoursynth as vs

    return {
        "cpu": _cpu_model(),
        "simd": _simd_flags(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "load_average": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,  # not on Windows
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
    memory = "memory unknown" if m["memory_gib"] is None else f"{m['memory_gib']} GiB"
    load = "" if m["load_average"] is None else f"; load average {m['load_average']} at start"
    return (f"{m['cpu']} (lscpu flags: {simd}), {m['cores']} cores, {memory}{gpu}; Python {m['python']}, "
            f"torch {m['torch']} ({m['torch_threads']} threads), VapourSynth {m['vapoursynth']} ({m['vs_threads']} threads){load}")
