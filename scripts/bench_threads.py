#!/usr/bin/env python
"""Whether the cores are kept busy: wall seconds, CPU seconds and utilisation per in-between through the public API,
with VapourSynth's and torch's thread counts varied, against one thread (issue 30, item 5).

Each run is a child process (thread settings are taken at start): a synthetic cartoon on twos at 24000/1001
(YUV420P8 BT.709, as a decoder gives it) through ``dedupe`` → ``interpolate(preset=…, fps 60000/1001)``, every
output frame requested as ``vspipe`` does (``VideoNode.frames``, VapourSynth's threads ahead). Timed from the first
request to the last frame (the analysis pass and the model's loading are before). Utilisation = the process's CPU
seconds ÷ (wall seconds × cores); speed-up = one thread's wall seconds ÷ the run's. The cost model
(``benchmarks/cost.md``) assumes the cores' share of one thread's time: speed-up = cores.

Usage: ``python scripts/bench_threads.py [--presets fast default] [--sizes 640x360] [--drawings 16]
[--configs 1x1 2x2 1x2 2x4] [--out benchmarks/threads]`` (a config is VapourSynth threads × torch threads).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET = Fraction(60000, 1001)
SOURCE = Fraction(24000, 1001)


def child(preset: str, size: str, drawings: int, vs_threads: int, torch_threads: int) -> dict:
    """One run in this process: seconds, CPU seconds and in-betweens of rendering every output frame."""
    import torch
    import vapoursynth as vs

    from vsanimsplat import dedupe, interpolate
    from vsanimsplat.filters.frames import clip_from_arrays
    from vsanimsplat.filters.interpolate import _call_threads, _parallel_calls
    from vsanimsplat.testing import Scene, animate

    torch.set_num_threads(torch_threads)
    vs.core.num_threads = vs_threads
    width, height = (int(v) for v in size.split("x"))
    frames = animate(Scene(width, height, seed=3), [2] * drawings).frames
    clip = clip_from_arrays(frames, SOURCE).resize.Bicubic(format=vs.YUV420P8, matrix_s="709")
    out = interpolate(dedupe(clip), preset=preset, fps_num=TARGET.numerator, fps_den=TARGET.denominator)
    before, began = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    inbetweens = sum(int(frame.props.get("AnimSplat_Interpolated", 0)) for frame in out.frames(close=True))
    seconds = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"preset": preset, "size": size, "vs_threads": vs_threads, "torch_threads": torch_threads,
            "calls": (calls := _parallel_calls(False, None)), "engine_threads": _call_threads(calls),
            "frames": out.num_frames,
            "inbetweens": inbetweens, "seconds": round(seconds, 2), "cpu_s": round(cpu, 2),
            "load_before": round(os.getloadavg()[0], 2)}


def run(preset: str, size: str, drawings: int, config: str) -> dict:
    """:func:`child` in a fresh process."""
    vs_threads, torch_threads = (int(v) for v in config.split("x"))
    done = subprocess.run([sys.executable, __file__, "--child", preset, size, str(drawings), str(vs_threads),
                           str(torch_threads)], capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"run {preset} {size} {config} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def markdown(rows: list[dict], machine_line: str, cores: int, notes: list[str]) -> str:
    """The record: the rows as a table, then the notes written by hand in the json (kept from run to run)."""
    lines = ["# Threads: are the cores kept busy? (issue 30, item 5)", "",
             f"Made by `scripts/bench_threads.py`. Machine: {machine_line}; `nproc` {cores}.", "",
             "A synthetic cartoon on twos (YUV420P8) through `dedupe` → `interpolate(preset=…)` to 60000/1001, every "
             "output frame requested as vspipe does; timed from the first request to the last frame. `config` = "
             "VapourSynth threads × torch threads; `calls` = in-betweens made at once, each on `threads per call` "
             "torch threads (as `interpolate` chooses them from the two). "
             f"Utilisation = CPU s ÷ (wall s × {cores} cores); speed-up = the 1×1 run's wall s ÷ this run's.", "",
             "| preset | size | config | calls | threads per call | in-betweens | wall s per in-between | CPU s per "
             "in-between | utilisation | speed-up over 1×1 | load before |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        serial = next((r for r in rows if (r["preset"], r["size"], r["vs_threads"], r["torch_threads"])
                       == (row["preset"], row["size"], 1, 1)), None)
        per = row["seconds"] / max(1, row["inbetweens"])
        speed = f"{serial['seconds'] / row['seconds']:.2f}×" if serial else "—"
        lines.append(f"| {row['preset']} | {row['size']} | {row['vs_threads']}×{row['torch_threads']} | "
                     f"{row.get('calls', 1)} | {row['engine_threads']} | {row['inbetweens']} | {per:.3f} | "
                     f"{row['cpu_s'] / max(1, row['inbetweens']):.3f} | "
                     f"{100 * row['cpu_s'] / (row['seconds'] * cores):.0f} % | {speed} | {row['load_before']} |")
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        preset, size, drawings, vs_threads, torch_threads = sys.argv[2:7]
        print(json.dumps(child(preset, size, int(drawings), int(vs_threads), int(torch_threads))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", nargs="+", default=["fast", "default"])
    parser.add_argument("--sizes", nargs="+", default=["640x360"])
    parser.add_argument("--drawings", type=int, default=16, help="drawings of the cartoon (on twos)")
    parser.add_argument("--configs", nargs="+", default=["1x1", "2x2", "1x2", "2x4"])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "threads")
    args = parser.parse_args()
    from vsanimsplat import machine

    rows = []
    for size in args.sizes:
        for preset in args.presets:
            for config in args.configs:
                rows.append(run(preset, size, args.drawings, config))
                print(json.dumps(rows[-1]), flush=True)
    path = args.out.with_suffix(".json")
    notes = json.loads(path.read_text()).get("notes", []) if path.is_file() else []  # written by hand, kept
    path.write_text(json.dumps({"machine": machine.describe(), "rows": rows, "notes": notes}, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(markdown(rows, machine.describe(), os.cpu_count() or 1, notes))


if __name__ == "__main__":
    main()
