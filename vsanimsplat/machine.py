"""A description of the machine, recorded next to every benchmark number."""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import BadOption

__all__ = ["AMX_BF16_FLOPS_PER_CYCLE", "HALF_WIDTH_AVX512", "Peak", "cpu_flags", "cpu_peak", "describe", "machine"]


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
    """The CPU's vector-instruction flags that decide which kernels run fast (of :func:`cpu_flags`)."""
    present = cpu_flags()
    return [flag for flag in _SIMD if flag in present]


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


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as ``lscpu`` and ``/proc/cpuinfo`` name them (``avx2``, ``avx512f``, ``avx512_bf16``,
    ``amx_bf16`` …): every flag on Linux; elsewhere those torch's cpuinfo reports, under the same names where they
    differ (:data:`_TORCH_NAMES`). What the precision policy decides by (:func:`~vsanimsplat.models.registry.native_bf16`)."""
    fields = _cpuinfo()
    if "flags" in fields or "Features" in fields:
        return frozenset((fields.get("flags") or fields["Features"]).split())
    renamed = {torch_name: flag for flag, torch_name in _TORCH_NAMES.items()}
    return frozenset(renamed.get(name, name) for name, present in _torch_cpu().items() if present is True)


AMX_BF16_FLOPS_PER_CYCLE = 1024
"""bfloat16 FLOP per cycle of one core's AMX tile unit (Intel's figure for Sapphire Rapids: 512 multiply-adds)."""
HALF_WIDTH_AVX512 = frozenset({("AuthenticAMD", 25)})
"""CPUs, as ``/proc/cpuinfo``'s (vendor_id, cpu family), that run a 512-bit instruction as two 256-bit halves: AMD
family 25 (Zen 4; Zen 3 has no AVX-512). AVX-512 there has AVX2's FLOP per cycle (on a 2-core Zen 4 EPYC a 3×3
convolution runs as fast with torch held to AVX2, and a float32 matrix product reaches 35 FLOP per nominal cycle:
``benchmarks/cost_zen4.md``)."""


@dataclass(frozen=True)
class Peak:
    """A CPU's arithmetic peak: cores × FLOP per cycle × clock (:func:`cpu_peak`).

    | field | type | meaning |
    |---|---|---|
    | `cores` | int | cores counted |
    | `mhz` | float | the clock assumed |
    | `clock_source` | str | where the clock came from |
    | `fp32_per_cycle` | int | float32 FLOP per cycle of one core |
    | `bf16_per_cycle` | int | bfloat16 FLOP per cycle of one core (float32's where the CPU has no bfloat16 unit) |
    | `bf16_unit` | str | which unit :attr:`bf16_per_cycle` counts: ``"AMX"``, ``"AVX-512 BF16"`` or ``"none"`` |
    | `assumption` | str | the counting, in words, for a report |
    """

    cores: int
    mhz: float
    clock_source: str
    fp32_per_cycle: int
    bf16_per_cycle: int
    bf16_unit: str
    assumption: str

    def gflops(self, dtype: str, cores: int | None = None) -> float:
        """GFLOP/s of ``cores`` cores (default all) in ``dtype`` (``"float32"`` or ``"bfloat16"``)."""
        if dtype not in ("float32", "bfloat16"):
            raise BadOption("machine.Peak.gflops", "dtype", f"dtype must be 'float32' or 'bfloat16', got {dtype!r}")
        per_cycle = self.fp32_per_cycle if dtype == "float32" else self.bf16_per_cycle
        return (self.cores if cores is None else cores) * per_cycle * self.mhz / 1e3


def _clock_mhz() -> tuple[float, str]:
    """The clock: ``lscpu``'s "CPU max MHz" where it has one, else ``/proc/cpuinfo``'s "cpu MHz" (under a hypervisor
    the nominal clock), else 0 with the reason."""
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        lscpu = ""
    for line in lscpu.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "CPU max MHz" and value.strip():
            return float(value), "lscpu CPU max MHz"
    mhz = _cpuinfo().get("cpu MHz")
    return (float(mhz), "/proc/cpuinfo cpu MHz") if mhz else (0.0, "unknown (no lscpu, no /proc/cpuinfo)")


def _family() -> tuple[str, int] | None:
    """The CPU's (vendor_id, cpu family) from ``/proc/cpuinfo``; None where it does not say."""
    fields = _cpuinfo()
    family = fields.get("cpu family", "")
    return (fields.get("vendor_id", ""), int(family)) if family.isdigit() else None


def cpu_peak(flags: frozenset[str] | None = None, mhz: float | None = None, cores: int | None = None,
             family: tuple[str, int] | None = None) -> Peak:
    """The CPU's peak FLOP/s from its flags, clock and cores (each read from this machine unless given).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `flags` | frozenset of str or None | None | ``lscpu`` flags (None: :func:`cpu_flags`) |
    | `mhz` | float or None | None | the clock (None: ``lscpu``'s maximum, else ``/proc/cpuinfo``'s) |
    | `cores` | int or None | None | cores (None: :func:`os.cpu_count`) |
    | `family` | tuple of (str, int) or None | None | ``/proc/cpuinfo``'s (vendor_id, cpu family) (None: this machine's, where it says) |

    Counted per core and cycle: float32, two FMA pipes × vector lanes (16 with ``avx512f``, 8 with ``avx2`` or
    on a CPU of :data:`HALF_WIDTH_AVX512`, 4 otherwise) × 2 (multiply and add), one pipe's worth without
    ``fma``/``avx512f``; bfloat16, :data:`AMX_BF16_FLOPS_PER_CYCLE` with ``amx_bf16``, twice float32 with
    ``avx512_bf16`` (``vdpbf16ps``: two products per float32 lane), float32's otherwise. Two FMA pipes hold for Xeon
    Scalable (Gold, Platinum and later) and Zen 3/4/5 (Zen 4's 256 bits wide); a CPU with one AVX-512 pipe has half
    the float32 peak (a matrix product above half the figure shows two).
    """
    flags = cpu_flags() if flags is None else flags
    source = "given"
    if mhz is None:
        mhz, source = _clock_mhz()
    family = _family() if family is None else family
    halves = family in HALF_WIDTH_AVX512
    lanes = 16 if "avx512f" in flags and not halves else 8 if {"avx2", "avx512f"} & flags else 4
    pipes = 2 if {"fma", "avx512f"} & flags else 1
    fp32 = pipes * lanes * 2
    if "amx_bf16" in flags:
        bf16, unit = AMX_BF16_FLOPS_PER_CYCLE, "AMX"
    elif "avx512_bf16" in flags:
        bf16, unit = 2 * fp32, "AVX-512 BF16"
    else:
        bf16, unit = fp32, "none"
    split = " (512-bit as two halves)" if halves and "avx512f" in flags else ""
    assumption = (f"float32 {pipes} FMA pipe(s) × {lanes} lanes{split} × 2 = {fp32} FLOP/cycle/core; bfloat16 "
                  + (f"{bf16} FLOP/cycle/core ({unit})" if unit != "none" else "as float32 (no bfloat16 unit)"))
    return Peak(cores or os.cpu_count() or 1, float(mhz), source, fp32, bf16, unit, assumption)
