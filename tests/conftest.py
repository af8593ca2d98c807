"""Fixtures shared by the test modules."""

from fractions import Fraction

import pytest

from vsanimsplat.ffmpeg import write_rgb_video
from vsanimsplat.testing import Scene, animate, cadence


@pytest.fixture(scope="session")
def video(tmp_path_factory):
    """An x264 mkv at 24000/1001 fps animated on mixed twos and threes (lossy, like real footage)."""
    holds = cadence([2, 3, 2, 1, 4], 12)
    clip = animate(Scene(192, 108, seed=5, speed=3.0), holds)
    path = tmp_path_factory.mktemp("video") / "cartoon.mkv"
    write_rgb_video(clip.frames, path, Fraction(24000, 1001))
    return path, holds
