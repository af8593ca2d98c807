"""Peak memory of ``interpolate(dedupe(clip), factor=2, model="blend")`` against clip length.

Usage: python scripts/bench_memory.py [FRAMES ...]   (default: 2000 20000)

Each length runs in a fresh Python process on a generated 64×36 RGB24 clip (a square moving on
twos over a background that changes every 500 frames: a scene cut). The clip is drawn frame by
frame, never held in memory. The child reports its peak resident set size
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) twice: after the analysis (``dedupe`` and
``interpolate`` return) and after every output frame has been rendered. Prints a markdown
section with the ratio of the longest to the shortest clip; paste it into ``benchmarks/memory.md``.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

WIDTH, HEIGHT, SHOT = 64, 36, 500


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _child(frames: int) -> None:
    """Run one case in this process and print its numbers as JSON."""
    import numpy as np
    import vapoursynth as vs

    import vsanimsplat

    blank = vs.core.std.BlankClip(format=vs.RGB24, width=WIDTH, height=HEIGHT, length=frames, fpsnum=24000,
                                  fpsden=1001)

    def draw(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        drawing, shot = n // 2, n // SHOT
        out = f.copy()
        x, y = 4 + drawing * 3 % (WIDTH - 20), 4 + drawing % (HEIGHT - 20)
        for plane in range(3):
            picture = np.asarray(out[plane])
            picture[:] = (shot * 97 + plane * 60) % 256
            picture[y:y + 12, x:x + 12] = 255 - picture[0, 0]
        return out

    clip = blank.std.ModifyFrame(blank, draw)
    began = time.perf_counter()
    out = vsanimsplat.interpolate(vsanimsplat.dedupe(clip, progress=False), factor=2, model="blend", progress=False)
    analysed, analysed_at = _peak_mib(), time.perf_counter() - began
    for _ in out.frames(close=True):
        pass
    print(json.dumps({"frames": frames, "outputs": out.num_frames, "analysed_mib": analysed,
                      "rendered_mib": _peak_mib(), "analysis_s": analysed_at,
                      "total_s": time.perf_counter() - began}))


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        _child(int(sys.argv[2]))
        return
    from vsanimsplat.machine import describe

    lengths = sorted(int(a) for a in sys.argv[1:]) or [2000, 20000]
    results = []
    for frames in lengths:
        done = subprocess.run([sys.executable, __file__, "--child", str(frames)], check=True, capture_output=True,
                              text=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"Machine: {describe()}")
    print()
    print("| source frames | output frames | peak RSS after analysis (MiB) | peak RSS after rendering (MiB) "
          "| analysis (s) | total (s) |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['frames']} | {r['outputs']} | {r['analysed_mib']:.1f} | {r['rendered_mib']:.1f} "
              f"| {r['analysis_s']:.1f} | {r['total_s']:.1f} |")
    first, last = results[0], results[-1]
    print()
    print(f"Ratio {last['frames']} / {first['frames']} frames: after analysis "
          f"{last['analysed_mib'] / first['analysed_mib']:.3f}, after rendering "
          f"{last['rendered_mib'] / first['rendered_mib']:.3f} (target ≤ 1.2).")


if __name__ == "__main__":
    main()
