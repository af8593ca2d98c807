"""CPU throughput of the operators of ``vsanimsplat.ops``, against a plain memory copy of the same tensors.

Run separately from the test suite::

    python scripts/bench_ops.py [--repeat 5] [--threads N] [--json benchmarks/ops.json] [--out benchmarks/ops.md]

For each operator, frame size (640×360, 1920×1080) and channel count (3, 64) it times the call and a copy of
the operator's input tensors into buffers allocated beforehand (``--repeat`` runs after one warm-up; the fastest
is reported, as the least disturbed by other load on the machine, and the median beside it), and reports
megapixels per second and the ratio of the two times: the copy is the practical lower bound of an operator that
reads its inputs and writes as much. The copy goes into kept buffers because a ``clone()`` also pays for fresh
memory, whose page faults made its time vary fivefold between processes (1.4–10.5 ms at 1920×1080, C=3); the
operator still allocates its output on every call. Without autograd, ``softsplat`` takes its compiled CPU path
(Numba); one row times the PyTorch path that training uses. Flows are smooth random fields up to ~30 px with
quarter-pixel jitter, so sources collide and leave holes as real motion does.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from vsanimsplat.machine import machine
from vsanimsplat.ops import backwarp, correlation, softsplat, softsplat_with_holes

SIZES = ((640, 360), (1920, 1080))
CHANNELS = (3, 64)


def inputs(width: int, height: int, channels: int, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(1, 2, height // 64 + 2, width // 64 + 2, generator=g) * 16
    flow = F.interpolate(coarse, size=(height, width), mode="bicubic") + torch.randn(1, 2, height, width, generator=g) * 0.25
    tensors = {
        "input": torch.rand(1, channels, height, width, generator=g),
        "other": torch.rand(1, channels, height, width, generator=g),
        "flow": flow,
        "metric": torch.randn(1, 1, height, width, generator=g) * 4,
    }
    tensors["weight"] = tensors["metric"].abs()  # `linear` mode's weights, made here: the timing is the operator's
    return tensors


def _with_autograd(t: dict[str, torch.Tensor]) -> torch.Tensor:
    """softsplat `soft` with an input that needs a gradient: the PyTorch path, as in training."""
    with torch.enable_grad():
        return softsplat(t["input"].detach().requires_grad_(), t["flow"], t["metric"], "soft")


OPERATORS: dict[str, tuple[tuple[str, ...], Callable[..., object]]] = {
    "softsplat sum": (("input", "flow"), lambda t: softsplat(t["input"], t["flow"], None, "sum")),
    "softsplat avg": (("input", "flow"), lambda t: softsplat(t["input"], t["flow"], None, "avg")),
    "softsplat linear": (("input", "flow", "weight"), lambda t: softsplat(t["input"], t["flow"], t["weight"], "linear")),
    "softsplat soft": (("input", "flow", "metric"), lambda t: softsplat(t["input"], t["flow"], t["metric"], "soft")),
    "softsplat soft, |Z| > 52 (per-target shift)": (
        ("input", "flow", "metric"),
        lambda t: softsplat(t["input"], t["flow"], t["metric"] * 20, "soft"),
    ),
    "softsplat_with_holes soft": (("input", "flow", "metric"), lambda t: softsplat_with_holes(t["input"], t["flow"], t["metric"])),
    "softsplat soft, PyTorch path (autograd on, as in training)": (
        ("input", "flow", "metric"),
        lambda t: _with_autograd(t),
    ),
    "backwarp border": (("input", "flow"), lambda t: backwarp(t["input"], t["flow"])),
    "correlation d=4": (("input", "other"), lambda t: correlation(t["input"], t["other"], 4)),
}


def timings(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(fastest, median) of ``repeat`` timed calls, in seconds, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def _copier(sources: list[torch.Tensor]) -> Callable[[], None]:
    """A call that copies ``sources`` into buffers of their shapes made once, here."""
    targets = [torch.empty_like(s) for s in sources]

    def copy() -> None:
        for target, source in zip(targets, sources):
            target.copy_(source)

    return copy


def run(repeat: int) -> dict[str, object]:
    torch.set_grad_enabled(False)
    info = machine()
    rows = []
    for width, height in SIZES:
        for channels in CHANNELS:
            tensors = inputs(width, height, channels)
            for name, (used, call) in OPERATORS.items():
                seconds, median = timings(lambda: call(tensors), repeat)
                copy, _ = timings(_copier([tensors[k] for k in used]), repeat)
                row = {
                    "operator": name,
                    "size": f"{width}x{height}",
                    "channels": channels,
                    "ms": round(seconds * 1e3, 2),
                    "ms_median": round(median * 1e3, 2),
                    "mpix_per_s": round(width * height / seconds / 1e6, 2),
                    "copy_ms": round(copy * 1e3, 2),
                    "times_copy": round(seconds / copy, 1),
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    info["load_average_at_end"] = round(os.getloadavg()[0], 2)
    return {"machine": info, "results": rows}


def markdown(report: dict[str, object]) -> str:
    m = report["machine"]
    lines = [
        "| operator | size | C | ms (best) | ms (median) | MP/s | copy ms | × copy |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["results"]:
        lines.append(
            f"| {r['operator']} | {r['size']} | {r['channels']} | {r['ms']} | {r['ms_median']} | {r['mpix_per_s']} | "
            f"{r['copy_ms']} | {r['times_copy']} |"
        )
    head = (
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; torch {m['torch']} with "
        f"{m['torch_threads']} threads, Python {m['python']}; load average {m['load_average']:.2f} at start, "
        f"{m['load_average_at_end']:.2f} at end."
    )
    caveat = (
        "The copy writes into buffers allocated before the timing (a `clone()` also pays for fresh pages: in "
        "earlier runs its time varied between processes from 1.4 to 10.5 ms at 1920×1080, C=3). Even so the copy "
        "follows the machine's memory bandwidth, which other tenants share: on the benchmark machine the "
        "kept-buffer copy of the 1920×1080 C=3 tensors of `soft` measured 1.1–2.6 ms over one evening (this "
        "table's rows and fifteen other processes), while `soft` itself took 15.5–19.8 ms in all but one of "
        "them, so the × copy column of a single row is uncertain by a factor of up to two."
    )
    return head + "\n\n" + "\n".join(lines) + "\n\n" + caveat + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per case (median reported)")
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    parser.add_argument("--out", type=Path, help="write the markdown table here (e.g. benchmarks/ops.md)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    report = run(args.repeat)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    text = markdown(report)
    print(text)
    if args.out:
        args.out.write_text(f"# Operator throughput\n\nMade by `scripts/bench_ops.py` on {time.strftime('%Y-%m-%d')}.\n{text}")


if __name__ == "__main__":
    main()
