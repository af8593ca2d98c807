#!/usr/bin/env python
"""Where the default model spends its time: seconds per stage and per network, and the top operators.

For each size, two synthetic cartoon frames go through ``prepare`` (both), ``pair`` and
``synthesize`` (t = 0.4) once untimed (warm-up), then once timed. Inside each stage the
networks of the model and the sub-blocks of GMFlow are timed with forward hooks, and the
splatting calls by wrapping the model module's ``softsplat`` functions (CPU work is
synchronous, so wall time is the work's time). A ``torch.profiler`` run of the same calls
gives the operators that take most of the time.

Usage: ``python scripts/profile_model.py [--sizes 640x360 1280x720] [--flow-scale 1] [--bf16] [--threads N]
[--title "…"] [--append benchmarks/profile.md]`` (prints markdown; ``--append`` adds it to a file).
"""

from __future__ import annotations

import argparse
import functools
import os
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile

from vsanimsplat.machine import describe
from vsanimsplat.models import gmfss, load_model
from vsanimsplat.testing import Scene


class _Clock:
    """Wall time per (stage, part), collected from hooks."""

    def __init__(self) -> None:
        self.stage = "-"
        self.seconds: dict[tuple[str, str], float] = defaultdict(float)
        self._starts: dict[int, float] = {}

    def watch(self, name: str, module: nn.Module) -> None:
        def before(mod: nn.Module, args: object) -> None:
            self._starts[id(mod)] = time.perf_counter()

        def after(mod: nn.Module, args: object, out: object) -> None:
            self.seconds[(self.stage, name)] += time.perf_counter() - self._starts.pop(id(mod))

        module.register_forward_pre_hook(before)
        module.register_forward_hook(after)

    def wrap(self, name: str, function: Callable) -> Callable:
        @functools.wraps(function)
        def timed(*args: object, **kwargs: object) -> object:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[(self.stage, name)] += time.perf_counter() - start

        return timed


def _frame(scene: Scene, t: float) -> torch.Tensor:
    return torch.from_numpy(scene.render(t)).permute(2, 0, 1).unsqueeze(0).contiguous()


def profile_size(width: int, height: int, flow_scale: float, bf16: bool, top: int) -> str:
    model = load_model("union", bf16=bf16, flow_scale=flow_scale)
    clock = _Clock()
    for role, network in model.networks().items():
        clock.watch(role, network)
        if role == "flownet":
            for child_name, child in network.named_children():
                clock.watch(f"flownet.{child_name}", child)
    for name in ("softsplat", "softsplat_with_holes"):
        setattr(gmfss, name, clock.wrap("softsplat", getattr(gmfss, name)))

    scene = Scene(width, height, seed=3, speed=6.0)
    img0, img1 = _frame(scene, 0.0), _frame(scene, 1.0)

    def run(timed: dict[str, float] | None) -> None:
        stages: list[tuple[str, Callable[[], object]]] = []
        state: dict[str, object] = {}
        stages.append(("prepare", lambda: state.update(a=model.prepare(img0), b=model.prepare(img1))))
        stages.append(("pair", lambda: state.update(p=model.pair(state["a"], state["b"]))))
        stages.append(("synthesize", lambda: model.synthesize(state["p"], 0.4)))
        for stage, call in stages:
            clock.stage = stage
            start = time.perf_counter()
            call()
            if timed is not None:
                timed[stage] = time.perf_counter() - start

    run(None)
    clock.seconds.clear()
    totals: dict[str, float] = {}
    run(totals)
    seconds = dict(clock.seconds)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run(None)

    lines = [f"### {width}×{height}, flow_scale {flow_scale}, {'bfloat16' if bf16 else 'float32'}, "
             f"{torch.get_num_threads()} torch thread(s)", "",
             "| stage | seconds | part | seconds | share of stage |", "|---|---:|---|---:|---:|"]
    for stage in ("prepare", "pair", "synthesize"):
        parts = sorted(((p, s) for (st, p), s in seconds.items() if st == stage), key=lambda x: -x[1])
        note = " (both frames)" if stage == "prepare" else ""
        lines.append(f"| {stage}{note} | {totals[stage]:.3f} | | | |")
        for part, part_seconds in parts:
            lines.append(f"| | | {part} | {part_seconds:.3f} | {100 * part_seconds / totals[stage]:.0f} % |")
    lines += ["", f"Top {top} operators (self CPU time, all three stages):", "",
              "| operator | calls | self seconds | share |", "|---|---:|---:|---:|"]
    events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in events)
    for event in events[:top]:
        lines.append(f"| `{event.key}` | {event.count} | {event.self_cpu_time_total / 1e6:.3f} | "
                     f"{100 * event.self_cpu_time_total / total:.0f} % |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["640x360", "1280x720"])
    parser.add_argument("--flow-scale", type=float, default=1.0)
    parser.add_argument("--bf16", action="store_true", help="bfloat16 networks")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--title", default="Profile")
    parser.add_argument("--append", type=Path, help="append the markdown to this file")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    if args.threads:
        torch.set_num_threads(args.threads)
    load = os.getloadavg()[0]
    parts = [f"## {args.title}", "", f"{time.strftime('%Y-%m-%d %H:%M')}, {describe()}", ""]
    for size in args.sizes:
        width, height = map(int, size.split("x"))
        parts.append(profile_size(width, height, args.flow_scale, args.bf16, args.top))
    parts.append(f"Load average {load:.2f} at start, {os.getloadavg()[0]:.2f} at end.\n")
    text = "\n".join(parts)
    print(text)
    if args.append:
        with args.append.open("a") as out:
            out.write(text + "\n")


if __name__ == "__main__":
    main()
