"""Measure ``vsanimsplat run --workers``: wall time of the whole command with 1 worker unchunked, 1 worker chunked
and N workers (Ray), run side by side on one synthetic cartoon (two shots joined by a hard cut half-way, with a
sine as its audio), each command timed from start to exit; then compare what the three wrote: the video frame by
frame (ffmpeg's framemd5: times, sizes, checksums) and the audio packets.

Usage: python scripts/bench_workers.py [--model rife] [--width 320] [--height 180] [--drawings 60] [--workers 2]
                                       [--chunk-seconds 1] [--rounds 1] [--codec x264]
Prints a markdown section; paste it into benchmarks/workers.md. With a lossless ``--codec ffv1`` the three videos
must be identical; with x264/x265 each chunk is its own encode, so only their frame times are compared.
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

import av

from vsanimsplat.ffmpeg import CODECS, find_ffmpeg, write_rgb_video
from vsanimsplat.machine import describe
from vsanimsplat.testing import Cut, Scene, animate, cadence

RATE = Fraction(24000, 1001)


def timed(command: list[str]) -> float:
    """Seconds ``command`` ran; it must succeed."""
    began = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - began


def framemd5(path: Path) -> list[list[str]]:
    """Every video frame of ``path`` as ffmpeg's framemd5 lists it (stream, dts, pts, duration, size, checksum)."""
    listing = subprocess.run([find_ffmpeg().path, "-hide_banner", "-i", str(path), "-map", "0:v", "-f", "framemd5", "-"],
                             capture_output=True, text=True, check=True).stdout
    return [[field.strip() for field in line.split(",")] for line in listing.splitlines() if line and line[0] != "#"]


def audio_packets(path: Path) -> list[tuple[int | None, bytes]]:
    """The audio packets of ``path``: time (in its time base) and bytes."""
    with av.open(str(path)) as container:
        return [(packet.pts, bytes(packet)) for packet in container.demux(audio=0) if packet.size]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="rife")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=180)
    parser.add_argument("--drawings", type=int, default=60, help="drawings of the clip, on twos and threes")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk-seconds", default="1")
    parser.add_argument("--rounds", type=int, default=1, help="the three commands this many times, interleaved")
    parser.add_argument("--codec", default="x264", choices=CODECS)
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"Machine: {describe()}")
    print(f"Load average at start (1, 5, 15 min): {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}")
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "cartoon.mkv"
        holds = cadence([2, 3], args.drawings)
        shots = Cut(Scene(args.width, args.height, seed=5, speed=4.0), Scene(args.width, args.height, seed=6, speed=4.0),
                    at=sum(holds[:len(holds) // 2]))
        sine = ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={float(sum(holds) / RATE)}"]
        write_rgb_video(animate(shots, holds).frames, source, RATE, extra_inputs=sine,
                        codec_args=["-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv420p",
                                    "-c:a", "aac"])
        chunked = ["--chunk-seconds", args.chunk_seconds]
        options = {"1 worker, one encode": [], "1 worker, chunked": chunked,
                   f"{args.workers} workers (Ray), chunked": [*chunked, "--workers", str(args.workers)]}
        outputs = {name: Path(folder) / f"out{index}.mkv" for index, name in enumerate(options)}
        commands = {name: [sys.executable, "-m", "vsanimsplat", "run", str(source), "-o", str(outputs[name]),
                           "--model", args.model, "--factor", "2", "--codec", args.codec, "--overwrite", "-q", *extra]
                    for name, extra in options.items()}
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, command in commands.items():
                times[name].append(timed(command))
        videos = {name: framemd5(path) for name, path in outputs.items()}
        audios = {name: audio_packets(path) for name, path in outputs.items()}
    frames = 2 * sum(holds)
    seconds = frames / (2 * RATE)
    print()
    print(f"{args.model} at {args.width}x{args.height}: {sum(holds)} source frames ({args.drawings} drawings on twos and "
          f"threes, {float(sum(holds) / RATE):.1f} s, a hard cut half-way, AAC audio) → {frames} frames at 2× "
          f"({float(seconds):.1f} s, {args.codec}); chunks of "
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
    first, *others = commands
    lossless = CODECS[args.codec].crf is None
    compared = "frame times, sizes and checksums" if lossless else "frame times (pts, duration)"
    for name in others:
        same_video = (videos[name] == videos[first] if lossless
                      else [row[2:4] for row in videos[name]] == [row[2:4] for row in videos[first]])
        print(f"- {name} against {first} ({args.codec}): {len(videos[name])} and {len(videos[first])} frames, "
              f"{compared} {'identical' if same_video else 'DIFFERENT'}; audio packets "
              f"{'identical' if audios[name] == audios[first] else 'DIFFERENT'} ({len(audios[name])})")


if __name__ == "__main__":
    main()
