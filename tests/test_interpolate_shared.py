"""``interpolate`` on the shared real footage (skipped when ../shared/data is not beside the project)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import vsanimsplat
from vsanimsplat.filters.source import open_video

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MEGAMIND = DATA / "megamind-scenecuts.avi"


@pytest.mark.slow
@pytest.mark.skipif(not MEGAMIND.exists(), reason="shared evaluation footage (../shared/data) not present")
def test_no_output_frame_mixes_two_shots():
    source = open_video(MEGAMIND)
    drawings = vsanimsplat.dedupe(source)
    out = vsanimsplat.interpolate(drawings, factor=2, model="blend")
    luma = {}

    def y(n: int) -> np.ndarray:
        if n not in luma:
            luma[n] = np.asarray(source.get_frame(n)[0], dtype=np.float64)
        return luma[n]

    cuts_crossed, far_from_parents = [], []
    for n, frame in enumerate(out.frames(close=True)):
        left, right = frame.props["AnimSplat_Left"], frame.props["AnimSplat_Right"]
        if any(left <= cut < right for cut in (0, 97, 153, 199)):  # the 4 hard cuts: after frames 0, 97, 153, 199
            cuts_crossed.append(n)
        picture = np.asarray(frame[0], dtype=np.float64)
        nearest = min(np.abs(picture - y(left)).mean(), np.abs(picture - y(right)).mean())
        if nearest > 8:  # a mix of two shots is far from both (cuts differ by 30–40 code values on average)
            far_from_parents.append((n, round(nearest, 1)))
    assert cuts_crossed == [] and far_from_parents == []
    assert out.num_frames == 2 * source.num_frames
    crossed = vsanimsplat.interpolate(drawings, factor=2, model="blend", scene_detect=False)  # the same analysis
    near = (crossed.get_frame(n).props for n in range(190, 200))
    mixed = [p for p in near if p["AnimSplat_Left"] == 97 and p["AnimSplat_T"] == 0.5]
    assert mixed, "without detection the cut after frame 97 is interpolated (the test can fail)"
