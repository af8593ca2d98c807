"""Write the demo input: a synthetic cartoon animated on mixed twos and threes, x264-encoded.

Usage: python scripts/make_demo_clip.py OUT.mkv [--width 640 --height 360 --seconds 4]
"""

from __future__ import annotations

import argparse
from fractions import Fraction

from vsanimsplat.ffmpeg import write_rgb_video
from vsanimsplat.testing import Scene, animate, cadence


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    fps = Fraction(24000, 1001)
    holds = cadence([2, 2, 3, 2, 3, 1, 4], 200)
    total = round(args.seconds * fps)
    while sum(holds) > total:
        holds.pop()
    clip = animate(Scene(args.width, args.height, seed=7, shapes=4, speed=3.0), holds)
    audio = ["-f", "lavfi", "-i", f"sine=frequency=440:duration={args.seconds}"]
    codec = ["-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest"]
    write_rgb_video(clip.frames, args.output, fps, codec_args=codec, extra_inputs=audio)
    print(f"{args.output}: {len(clip.frames)} frames, {len(holds)} drawings at {fps} fps")


if __name__ == "__main__":
    main()
