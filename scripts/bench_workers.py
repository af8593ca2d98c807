"""Measure ``vsanimsplat run --workers``: wall time of the whole command with 1 worker unchunked, 1 worker chunked
and N workers (Ray), run side by side on one synthetic cartoon, each command timed from start to exit.

Usage: python scripts/bench_workers.py [--model rife] [--width 320] [--height 180] [--drawings 60] [--workers 2]
                                       [--chunk-seconds 1] [--rounds 1]
Prints a markdown section; paste it into benchmarks/workers.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from vsanimsplat.ffmpeg import write_rgb_video
from vsanimsplat.machine import describe
from vsanimsplat.testing import Scene, animate, cadence

RATE = Fraction(24000, 1001)


def timed(command: list[str]) -> float:
    """Seconds ``command`` ran; it must succeed."""
    began = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="rife")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=180)
    parser.add_argument("--drawings", type=int, default=60, help="drawings of the clip, on twos and threes")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk-seconds", default="1")
    parser.add_argument("--rounds", type=int, default=1, help="the three commands this many times, interleaved")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"Machine: {describe()}")
    print(f"Load average at start (1, 5, 15 min): {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}")
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "cartoon.mkv"
        holds = cadence([2, 3], args.drawings)
        write_rgb_video(animate(Scene(args.width, args.height, seed=5, speed=4.0), holds).frames, source, RATE,
                        codec_args=["-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv420p"])
        base = [sys.executable, "-m", "vsanimsplat", "run", str(source), "-o", str(Path(folder) / "out.mkv"),
                "--model", args.model, "--factor", "2", "--overwrite", "-q"]
        chunked = ["--chunk-seconds", args.chunk_seconds]
        commands = {"1 worker, one encode": base, "1 worker, chunked": [*base, *chunked],
                    f"{args.workers} workers (Ray), chunked": [*base, *chunked, "--workers", str(args.workers)]}
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, command in commands.items():
                times[name].append(timed(command))
    frames = 2 * sum(holds)
    seconds = frames / (2 * RATE)
    print()
    print(f"{args.model} at {args.width}x{args.height}: {sum(holds)} source frames ({args.drawings} drawings on twos and "
          f"threes, {float(sum(holds) / RATE):.1f} s) → {frames} frames at 2× ({float(seconds):.1f} s); chunks of "
          f"{args.chunk_seconds} s ({round(float(seconds) / float(args.chunk_seconds))} chunks); "
          f"{args.rounds} round(s), the three commands one after another in each; best of the rounds")
    print()
    print("| command | wall time (s) | × one encode | × 1 worker chunked |")
    print("|---|---|---|---|")
    best = {name: min(values) for name, values in times.items()}
    one, chunk = best["1 worker, one encode"], best["1 worker, chunked"]
    for name, value in best.items():
        runs = ", ".join(f"{v:.1f}" for v in times[name])
        print(f"| {name} | {value:.1f} ({runs}) | {value / one:.2f} | {value / chunk:.2f} |")
    print(f"\nLoad average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
