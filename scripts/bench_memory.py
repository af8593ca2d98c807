"""Memory that ``interpolate(dedupe(clip), factor=2, model="blend")`` keeps per source frame.

Usage: python scripts/bench_memory.py [FRAMES ...] [--size WxH] [--render] [--tree DIR ...]
(default: 1500 4500 frames at 1920x1080, analysis only, this checkout)

Each length runs in a fresh Python process on a generated YUV 4:2:0 clip at 24000/1001 fps: a square of a ninth of
the height moving on twos (every pair of frames a new drawing), a new background (a scene cut) every 500 frames. The
clip is drawn frame by frame, never held in memory. After ``dedupe`` and ``interpolate`` return (the analysis pass is
done, the retiming plan made) and a garbage collection, one child reports the resident set size now and its peak
(``/proc/self/statm``, ``getrusage``), and another, run the same way under ``tracemalloc`` (started before the
analysis), the Python and numpy memory still allocated: what the analysis keeps.

VapourSynth's frame cache, and the pool of freed frame buffers it keeps for reuse, are bounded at 256 MiB
(``core.max_cache_size``): at its default (half the memory) the pool keeps up to 0.5–1 MB per 1080p source frame
read until that bound, which is not the analysis and would hide it; the shortest length should fill the bound. ``--render`` also renders every output frame and
reports the peak RSS after it.

Per source frame is the difference between the longest and the shortest length, divided by their difference in
frames. ``--tree DIR`` measures the package of another checkout (a ``git worktree`` of an older commit) in the same
run, one section per tree. Prints markdown for ``benchmarks/memory.md``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

SHOT = 500
CACHE_MIB = 256


def _resident_mib() -> float:
    """The resident set size now, MiB (Linux)."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _child(frames: int, width: int, height: int, render: bool, traced: bool) -> None:
    """Run one case in this process and print its numbers as JSON: under ``tracemalloc`` when ``traced``."""
    import numpy as np
    import vapoursynth as vs

    import vsanimsplat

    vs.core.max_cache_size = CACHE_MIB
    side = max(12, height // 9)
    blank = vs.core.std.BlankClip(format=vs.YUV420P8, width=width, height=height, length=frames, fpsnum=24000,
                                  fpsden=1001)

    def draw(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        drawing, shot = n // 2, n // SHOT
        out = f.copy()
        x = 2 * (drawing * 7 % ((width - side) // 2))
        y = 2 * (drawing * 3 % ((height - side) // 2))
        for plane in range(3):
            picture, step = np.asarray(out[plane]), 1 if plane == 0 else 2
            picture[:] = (shot * 97 + plane * 60) % 256
            picture[y // step:(y + side) // step, x // step:(x + side) // step] = 255 - picture[0, 0]
        return out

    clip = blank.std.ModifyFrame(blank, draw)
    if traced:
        tracemalloc.start()
    began = time.perf_counter()
    out = vsanimsplat.interpolate(vsanimsplat.dedupe(clip, progress=False), factor=2, model="blend", progress=False)
    analysis_s = time.perf_counter() - began
    gc.collect()
    if traced:
        print(json.dumps({"traced_mib": tracemalloc.get_traced_memory()[0] / 2**20}))
        return
    result = {"frames": frames, "outputs": out.num_frames, "analysed_mib": _resident_mib(),
              "analysed_peak_mib": _peak_mib(), "analysis_s": analysis_s}
    if render:
        for _ in out.frames(close=True):
            pass
        result.update(rendered_peak_mib=_peak_mib(), total_s=time.perf_counter() - began)
    print(json.dumps(result))


def _measure(tree: Path, lengths: list[int], size: tuple[int, int], render: bool) -> list[dict]:
    """Every length in a child process that imports ``vsanimsplat`` from ``tree``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), os.environ.get("PYTHONPATH", "")])}
    results = []
    for frames in lengths:
        result = {}
        for traced in (0, 1):
            done = subprocess.run([sys.executable, __file__, "--child", str(frames), str(size[0]), str(size[1]),
                                   str(int(render)), str(traced)], capture_output=True, text=True, env=env, cwd=tree)
            if done.returncode != 0:
                raise SystemExit(f"{tree}, {frames} frames: the child failed:\n{done.stderr[-3000:]}")
            result.update(json.loads(done.stdout.strip().splitlines()[-1]))
        results.append(result)
    return results


def _section(tree: Path, results: list[dict], render: bool) -> list[str]:
    commit = subprocess.run(["git", "-C", str(tree), "log", "-1", "--format=%h %s"], capture_output=True,
                            text=True).stdout.strip()
    lines = [f"### `{tree}` ({commit[:90]})", "",
             "| source frames | output frames | kept by Python and numpy (MiB) | RSS after analysis (MiB) "
             "| peak RSS after analysis (MiB) |" + (" peak RSS after rendering (MiB) |" if render else "")
             + " analysis (s) |",
             "|---|---|---|---|---|" + ("---|" if render else "") + "---|"]
    for r in results:
        lines.append(f"| {r['frames']} | {r['outputs']} | {r['traced_mib']:.2f} | {r['analysed_mib']:.1f} "
                     f"| {r['analysed_peak_mib']:.1f} |" + (f" {r['rendered_peak_mib']:.1f} |" if render else "")
                     + f" {r['analysis_s']:.1f} |")
    first, last = results[0], results[-1]
    more = last["frames"] - first["frames"]
    if more > 0:
        traced = (last["traced_mib"] - first["traced_mib"]) * 2**20 / more
        resident = (last["analysed_mib"] - first["analysed_mib"]) * 2**20 / more
        lines += ["", f"**Per source frame ({first['frames']} → {last['frames']}): {traced:.0f} bytes kept by "
                      f"Python and numpy, {resident:.0f} bytes of RSS after the analysis.**"]
    return lines + [""]


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        frames, width, height, render, traced = map(int, sys.argv[2:7])
        _child(frames, width, height, bool(render), bool(traced))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("frames", nargs="*", type=int, default=[1500, 4500])
    parser.add_argument("--size", default="1920x1080", help="WIDTHxHEIGHT of the generated clip")
    parser.add_argument("--render", action="store_true", help="also render every output frame")
    parser.add_argument("--tree", type=Path, action="append", default=None,
                        help="a checkout whose vsanimsplat to measure (repeatable; default: this one)")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.lower().split("x"))
    from vsanimsplat.machine import describe

    print(f"Machine: {describe()}")
    print()
    print(f"Clip: {size[0]}x{size[1]} YUV420P8, {' and '.join(map(str, sorted(args.frames)))} source frames; "
          f"VapourSynth's cache bounded at {CACHE_MIB} MiB.")
    print()
    for tree in args.tree or [Path(__file__).resolve().parents[1]]:
        for line in _section(tree.resolve(), _measure(tree.resolve(), sorted(args.frames), size, args.render),
                             args.render):
            print(line)


if __name__ == "__main__":
    main()
