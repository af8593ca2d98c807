"""Draw the README's pictures of the demo cartoon: the cadence plot and a preview sheet (``make docs-images``).

Usage: python scripts/make_docs_images.py [--out docs]

Makes the demo clip (``scripts/make_demo_clip.py``) in a temporary folder, then runs the two commands the
README shows, at the demo's settings (default preset, ``--width 320``):

    vsanimsplat report demo.mkv --plot docs/cadence.png
    vsanimsplat preview demo.mkv --at 0:01 --width 320 -o docs/preview.jpg

The preview is a JPEG to keep it small; both pictures stay under 300 KB.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from vsanimsplat.cli import main as vsanimsplat

HERE = Path(__file__).resolve().parent
LIMIT = 300 << 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE.parent / "docs", help="folder of the pictures (default docs/)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    cadence, sheet = args.out / "cadence.png", args.out / "preview.jpg"
    with tempfile.TemporaryDirectory() as folder:
        demo = Path(folder) / "demo.mkv"
        subprocess.run([sys.executable, str(HERE / "make_demo_clip.py"), str(demo)], check=True)
        for argv in (["report", str(demo), "--plot", str(cadence), "-q"],
                     ["preview", str(demo), "--at", "0:01", "--width", "320", "-o", str(sheet), "-q"]):
            if code := vsanimsplat(argv):
                sys.exit(f"vsanimsplat {' '.join(argv)} failed ({code})")
    for picture in (cadence, sheet):
        size = picture.stat().st_size
        print(f"{picture}: {size >> 10} KiB")
        if size > LIMIT:
            sys.exit(f"{picture} is {size >> 10} KiB, more than {LIMIT >> 10} KiB: make it smaller")


if __name__ == "__main__":
    main()
