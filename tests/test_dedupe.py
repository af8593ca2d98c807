"""``dedupe``: the drawings the generator made are found, with exact timing, on every kind of clip."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
import vapoursynth as vs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vsanimsplat
from vsanimsplat.filters.dedupe import find_drawings
from vsanimsplat.filters.frames import frame_durations
from vsanimsplat.testing import cadence

from tests.helpers import synthetic_clip

core = vs.core


def props(clip: vs.VideoNode, name: str) -> list:
    return [f.props[name] for f in clip.frames(close=True)]


def durations(clip: vs.VideoNode) -> list[Fraction]:
    return [Fraction(f.props["_DurationNum"], f.props["_DurationDen"]) for f in clip.frames(close=True)]


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pattern=st.lists(st.integers(1, 5), min_size=1, max_size=4),
    drawings=st.integers(2, 12),
    size=st.sampled_from([(48, 32), (96, 64), (160, 90)]),
    noise=st.sampled_from([0.0, 0.75, 1.5]),
    fmt=st.sampled_from([vs.RGB24, vs.YUV420P8, vs.YUV444P16, vs.GRAY8]),
    seed=st.integers(0, 1000),
)
def test_finds_exactly_the_drawings_made(pattern, drawings, size, noise, fmt, seed):
    holds = cadence(pattern, drawings)
    clip, animation = synthetic_clip(holds, *size, noise=noise, seed=seed, fmt=fmt)
    out = vsanimsplat.dedupe(clip)
    assert props(out, "AnimSplat_SourceFrame") == animation.starts
    assert props(out, "AnimSplat_Hold") == holds
    assert sum(durations(out)) == Fraction(len(animation.frames) * 1001, 24000)
    starts = [Fraction(sum(holds[:k]) * 1001, 24000) for k in range(len(holds))]
    assert props(out, "_AbsoluteTime") == [float(s) for s in starts]


@pytest.mark.slow
@pytest.mark.parametrize(("noise", "seed", "size", "pattern"), [(5.0, 12, (128, 96), [3, 2, 1, 2]),
                                                                (8.0, 11, (160, 90), [2, 3])])
def test_grain_near_and_above_the_tolerance_still_gives_exactly_the_drawings(noise, seed, size, pattern):
    """Grain of 5 and 8 code values (σ, with block offsets), where the hypothesis test's is at most 1.5: many pixels
    of a held frame differ by more than the tolerance of 10. The defaults, chosen from the clip's own noise, find
    exactly the drawings; the fixed least ones (0.0005 of the frame, 10) find 21 and 25 where there are 10."""
    holds = cadence(pattern, 10)
    clip, animation = synthetic_clip(holds, *size, noise=noise, seed=seed, fmt=vs.YUV420P8)
    assert props(vsanimsplat.dedupe(clip), "AnimSplat_SourceFrame") == animation.starts
    assert len(props(vsanimsplat.dedupe(clip, threshold=0.0005, tolerance=10), "AnimSplat_Hold")) > 2 * len(holds)


def test_output_frames_are_the_first_frame_of_each_drawing():
    clip, animation = synthetic_clip(cadence([3, 1, 2], 6), noise=1.5)
    out = vsanimsplat.dedupe(clip)
    for frame, start in zip(out.frames(close=True), animation.starts):
        picture = np.stack([np.asarray(frame[p]) for p in range(3)], axis=-1)
        assert np.array_equal(picture, animation.frames[start])


def test_threshold_zero_keeps_every_frame_that_differs():
    clip, animation = synthetic_clip([2, 2, 2], noise=0.0)
    assert vsanimsplat.dedupe(clip, threshold=0, tolerance=0).num_frames == 3
    noisy, _ = synthetic_clip([2, 2, 2], noise=2.0)
    assert vsanimsplat.dedupe(noisy, threshold=0, tolerance=0).num_frames == 6  # grain makes every frame new


def test_fps_of_output():
    twos, _ = synthetic_clip(cadence([2], 5))
    assert twos.fps == Fraction(24000, 1001)
    assert vsanimsplat.dedupe(twos).fps == Fraction(12000, 1001)
    mixed, _ = synthetic_clip(cadence([2, 3], 5))
    assert vsanimsplat.dedupe(mixed).fps == 0


@pytest.mark.slow
def test_chained_twice_and_after_trim_stays_correct():
    holds = cadence([2, 3, 1, 4], 9)
    clip, animation = synthetic_clip(holds, noise=1.0)
    once = vsanimsplat.dedupe(clip)
    twice = vsanimsplat.dedupe(once)
    for name in ("AnimSplat_SourceFrame", "AnimSplat_Hold", "_DurationNum", "_DurationDen", "_AbsoluteTime"):
        assert props(twice, name) == props(once, name)
    trimmed = vsanimsplat.dedupe(clip[3:])  # starts inside the first 3-frame hold
    starts = [s - 3 for s in animation.starts if s >= 3]
    assert props(trimmed, "AnimSplat_SourceFrame") == [0] + starts
    assert sum(durations(trimmed)) == Fraction((len(animation.frames) - 3) * 1001, 24000)
    assert props(trimmed, "_AbsoluteTime")[0] == 0.0


def test_variable_rate_input_uses_frame_durations():
    clip, _ = synthetic_clip([1, 1, 1, 1])
    own = [Fraction(1, 24), Fraction(1, 12), Fraction(1, 8), Fraction(1, 30)]

    def stamp(n, f):
        f = f.copy()
        f.props.update(_DurationNum=own[n].numerator, _DurationDen=own[n].denominator)
        return f

    vfr = core.std.BlankClip(clip, fpsnum=0, fpsden=1).std.ModifyFrame(clip, stamp)
    assert durations(vsanimsplat.dedupe(vfr)) == own
    bare = vfr.std.RemoveFrameProps(["_DurationNum", "_DurationDen"])
    with pytest.raises(vs.Error, match="_DurationNum"):
        vsanimsplat.dedupe(bare)


def test_chroma_only_change_needs_chroma_option():
    luma = core.std.BlankClip(format=vs.YUV420P8, width=64, height=64, length=2, color=[128, 128, 128])
    shifted = core.std.BlankClip(luma, color=[128, 60, 200])
    clip = luma[0] + shifted[0]
    assert vsanimsplat.dedupe(clip).num_frames == 1
    assert vsanimsplat.dedupe(clip, chroma=True).num_frames == 2


def test_analysis_is_cached_per_clip_and_settings():
    clip, _ = synthetic_clip(cadence([2], 4))
    calls = []

    def count(n, f):
        calls.append(n)
        return f

    watched = clip.std.ModifyFrame(clip, count)
    watched.std.SetVideoCache(0)  # so that only our analysis cache can spare a second read
    vsanimsplat.dedupe(watched, threshold=0)
    first = len(calls)
    assert first >= watched.num_frames
    vsanimsplat.dedupe(watched, threshold=0.01)  # new threshold: same analysis
    assert len(calls) == first
    vsanimsplat.dedupe(watched, tolerance=3)  # new tolerance: new analysis
    assert len(calls) > first


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"threshold": -1}, "threshold"),
        ({"threshold": 10**9}, "threshold"),
        ({"threshold": 1.5}, "threshold"),
        ({"threshold": "a lot"}, "threshold"),
        ({"tolerance": -1}, "tolerance"),
        ({"tolerance": 256}, "tolerance"),
        ({"tolerance": 2.5}, "tolerance"),
    ],
)
def test_bad_parameters_name_themselves(kwargs, match):
    clip, _ = synthetic_clip([1, 1])
    with pytest.raises(vs.Error, match=match):
        vsanimsplat.dedupe(clip, **kwargs)


def test_bad_clips_are_refused():
    good, _ = synthetic_clip([1, 1])
    with pytest.raises(vs.Error, match="float"):
        vsanimsplat.dedupe(good.resize.Point(format=vs.RGBS))
    variable = core.std.Splice([good, good.resize.Point(width=32, height=32)], mismatch=True)
    with pytest.raises(vs.Error, match="constant format and size"):
        vsanimsplat.dedupe(variable)
    with pytest.raises(vs.Error, match="VideoNode"):
        vsanimsplat.dedupe("clip.mkv")


@pytest.mark.parametrize("name, call", [("dedupe", vsanimsplat.dedupe), ("fill_holes", vsanimsplat.fill_holes),
                                        ("interpolate", lambda clip: vsanimsplat.interpolate(clip, model="blend"))])
def test_variable_format_is_a_clear_error_of_every_filter(name, call):
    """A clip spliced from two formats (format id vs.NONE, not None) is named as such, not a shift error."""
    good, _ = synthetic_clip([1, 1])
    variable = core.std.Splice([good, good.resize.Point(format=vs.RGB48)], mismatch=True)
    with pytest.raises(vs.Error, match=f"vsanimsplat.{name}: clip must have a constant format and size, got a "
                                       "variable format;"):
        call(variable)


@pytest.mark.slow
def test_timecodes_match_vspipe(tmp_path):
    clip, _ = synthetic_clip(cadence([2, 3, 1], 5), noise=1.0)
    ours = tmp_path / "ours.txt"
    vsanimsplat.write_timecodes(vsanimsplat.dedupe(clip), ours)
    script = tmp_path / "script.vpy"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(__import__('pathlib').Path(__file__).parent.parent)!r})\n"
        "from fractions import Fraction\n"
        "import vsanimsplat\n"
        "from tests.helpers import synthetic_clip\n"
        "from vsanimsplat.testing import cadence\n"
        "clip, _ = synthetic_clip(cadence([2, 3, 1], 5), noise=1.0)\n"
        "vsanimsplat.dedupe(clip).set_output()\n"
    )
    theirs = tmp_path / "theirs.txt"
    vspipe = __import__("pathlib").Path(sys.executable).with_name("vspipe")
    subprocess.run([str(vspipe), "--timecodes", str(theirs), str(script), "--"], check=True, capture_output=True)
    assert ours.read_text() == theirs.read_text()
    assert ours.read_text().count("\n") == 1 + 5


def test_frame_durations_reads_props_or_fps():
    clip, _ = synthetic_clip([1, 1, 1], fps=Fraction(25))
    assert frame_durations(clip) == [Fraction(1, 25)] * 3
    assert [d.duration for d in find_drawings(clip)] == [Fraction(1, 25)] * 3
