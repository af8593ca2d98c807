"""``interpolate``: timing, frame counts, props, formats, cuts, caching and errors (no weights needed).

The plumbing is checked with the ``blend`` model, whose output is known exactly: (1 - t)·A + t·B.
"""

from __future__ import annotations

import importlib
import math
import threading
from fractions import Fraction

import numpy as np
import pytest
import torch
import vapoursynth as vs

import vsanimsplat
from vsanimsplat.models.blend import Blend
from vsanimsplat.testing import cadence
from tests.helpers import synthetic_clip

interpolate_module = importlib.import_module("vsanimsplat.filters.interpolate")  # the module, not the function
core = vs.core
NTSC = Fraction(24000, 1001)


def props(clip: vs.VideoNode, name: str) -> list:
    return [f.props[name] for f in clip.frames(close=True)]


def picture(frame: vs.VideoFrame) -> np.ndarray:
    """All planes of a frame, flattened into one array (planes may differ in size)."""
    return np.concatenate([np.asarray(frame[p]).ravel() for p in range(frame.format.num_planes)])


@pytest.mark.parametrize(
    ("kwargs", "rate"),
    [
        ({"factor": 2}, 2 * NTSC),
        ({"factor": Fraction(5, 2)}, Fraction(5, 2) * NTSC),
        ({"factor": 3}, 3 * NTSC),
        ({"fps_num": 60000, "fps_den": 1001}, Fraction(60000, 1001)),
    ],
)
@pytest.mark.parametrize("deduped", [False, True])
def test_frame_count_and_durations_are_exact(kwargs, rate, deduped):
    holds = cadence([2, 3, 2, 1], 7)  # 17 frames at 24000/1001
    clip, _ = synthetic_clip(holds, noise=1.0)
    if deduped:
        clip = vsanimsplat.dedupe(clip)
    out = vsanimsplat.interpolate(clip, model=Blend(), **kwargs)
    duration = Fraction(sum(holds) * 1001, 24000)
    assert out.fps == rate
    assert out.num_frames == math.ceil(duration * rate)
    assert (out.num_frames - 1) / rate < duration <= out.num_frames / rate
    found = [(f.props["_DurationNum"], f.props["_DurationDen"], f.props["_AbsoluteTime"]) for f in out.frames(close=True)]
    assert {(num, den) for num, den, _ in found} == {(rate.denominator, rate.numerator)}
    assert [time for _, _, time in found] == [float(n / rate) for n in range(out.num_frames)]


@pytest.mark.parametrize("fmt", [vs.RGB24, vs.YUV420P8, vs.YUV420P10, vs.RGBS, vs.GRAY8])
def test_held_frames_are_bit_exact_and_format_is_kept(fmt):
    holds = cadence([2, 3], 4)
    clip, _ = synthetic_clip(holds, fmt=fmt)
    drawings = vsanimsplat.dedupe(clip) if fmt != vs.RGBS else clip
    out = vsanimsplat.interpolate(drawings, factor=2, model=Blend())
    assert out.format.id == clip.format.id and (out.width, out.height) == (clip.width, clip.height)
    originals = {n: picture(clip.get_frame(n)) for n in range(clip.num_frames)}
    for frame in out.frames(close=True):
        if frame.props["AnimSplat_Interpolated"] == 0:
            assert frame.props["AnimSplat_T"] == 0
            assert np.array_equal(picture(frame), originals[frame.props["AnimSplat_Left"]])


@pytest.mark.parametrize("fmt", [vs.YUV420P8, vs.RGB24])
def test_pixel_shape_survives_on_drawings_and_in_betweens(fmt):
    """An anamorphic clip's _SARNum/_SARDen reach every output frame, held or made by the model (the encoder
    reads them)."""
    clip, _ = synthetic_clip(cadence([2, 3], 3), fmt=fmt)
    clip = clip.std.SetFrameProps(_SARNum=32, _SARDen=27)
    out = vsanimsplat.fill_holes(vsanimsplat.interpolate(vsanimsplat.dedupe(clip), factor=2, model=Blend()))
    shapes = {(f.props["AnimSplat_Interpolated"], f.props["_SARNum"], f.props["_SARDen"])
              for f in out.frames(close=True)}
    assert shapes == {(0, 32, 27), (1, 32, 27)}


def test_in_betweens_are_at_their_true_times_between_drawings():
    """Holds 2, 3, 1, 2 (drawings at source frames 0, 2, 5, 6) at factor 2: output frame n shows source time n / 2,
    so the drawing on screen then and how far it is towards the next one are known by hand (not from retime.plan)."""
    holds = [2, 3, 1, 2]
    clip, animation = synthetic_clip(holds)
    out = vsanimsplat.interpolate(vsanimsplat.dedupe(clip), factor=2, model=Blend(), max_hold=0)
    sixth = [Fraction(k, 6) for k in range(6)]
    left = [0] * 4 + [2] * 6 + [5] * 2 + [6] * 4
    right = [0, 2, 2, 2] + [2, 5, 5, 5, 5, 5] + [5, 6] + [6] * 4  # a drawing shown as it is names itself
    ts = [0, Fraction(1, 4), Fraction(1, 2), Fraction(3, 4)] + sixth + [0, Fraction(1, 2)] + [0] * 4  # the last: held
    frames = [(dict(f.props), np.stack([np.asarray(f[p]) for p in range(3)], axis=-1)) for f in out.frames(close=True)]
    assert [p["AnimSplat_Left"] for p, _ in frames] == left
    assert [p["AnimSplat_Right"] for p, _ in frames] == right
    assert [p["AnimSplat_T"] for p, _ in frames] == [float(t) for t in ts]
    assert [p["AnimSplat_Interpolated"] for p, _ in frames] == [int(t > 0) for t in ts]
    for (_, got), t, first, second in zip(frames, ts, left, right, strict=True):
        a, b = (animation.frames[s].astype(np.float64) for s in (first, second))
        assert np.abs(got - ((1 - float(t)) * a + float(t) * b)).max() <= 1.0


def test_cuts_are_never_crossed():
    first, _ = synthetic_clip([2, 2], 192, 108, seed=1)
    second, _ = synthetic_clip([2, 2], 192, 108, seed=2)
    clip = vsanimsplat.dedupe(first + second)
    out = vsanimsplat.interpolate(clip, factor=2, model=Blend())
    interpolated = props(out, "AnimSplat_Interpolated")
    lefts = props(out, "AnimSplat_Left")
    assert [i for i, left in zip(interpolated, lefts) if left == 2] == [0] * 4  # the last drawing of scene 1 is held
    assert sum(interpolated) == 6  # 3 in each scene
    across = vsanimsplat.interpolate(clip, factor=2, model=Blend(), scene_detect=False)
    assert [i for i, left in zip(props(across, "AnimSplat_Interpolated"), lefts) if left == 2] == [0, 1, 1, 1]


def test_marked_scene_changes_are_respected_without_detection():
    clip, _ = synthetic_clip([1, 1, 1, 1])
    marked = clip.std.SetFrameProps(_SceneChangeNext=0)
    marked = core.std.Splice([marked[:1], marked[1].std.SetFrameProps(_SceneChangeNext=1), marked[2:]])
    out = vsanimsplat.interpolate(marked, factor=2, model=Blend(), scene_detect=False)
    assert props(out, "AnimSplat_Interpolated") == [0, 1, 0, 0, 0, 1, 0, 0]


def test_each_drawing_and_pair_is_computed_once_under_parallel_requests(monkeypatch):
    engines = []
    real = interpolate_module.Engine

    def spy(*args, **kwargs):
        engines.append(real(*args, **kwargs))
        return engines[-1]

    monkeypatch.setattr(interpolate_module, "Engine", spy)
    holds = cadence([2, 3, 1, 4], 9)
    clip, _ = synthetic_clip(holds)
    out = vsanimsplat.interpolate(vsanimsplat.dedupe(clip), factor=4, model=Blend())
    steps = [(f.props["AnimSplat_Left"], f.props["AnimSplat_Right"]) for f in out.frames(close=True)]
    engine = engines[0]
    pairs = {s for s in steps if s[0] != s[1]}
    assert engine.counts["pair"] == len(pairs)
    assert engine.counts["prepare"] == len({i for p in pairs for i in p})
    assert engine.counts["synthesize"] == sum(1 for s in steps if s[0] != s[1])
    # the same clip asked for again from several threads in a scrambled order gives the same pictures
    wanted = list(range(out.num_frames))
    np.random.default_rng(0).shuffle(wanted)
    results = {}

    def worker(ns):
        for n in ns:
            results[n] = picture(out.get_frame(n))

    threads = [threading.Thread(target=worker, args=(wanted[i::3],)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    again = vsanimsplat.interpolate(vsanimsplat.dedupe(clip), factor=4, model=Blend())
    for n in range(out.num_frames):
        assert np.array_equal(results[n], picture(again.get_frame(n)))


def test_factor_uses_the_rate_before_dedupe():
    clip, _ = synthetic_clip(cadence([2], 4))
    drawings = vsanimsplat.dedupe(clip)
    assert drawings.fps == NTSC / 2
    assert vsanimsplat.interpolate(drawings, factor=2, model=Blend()).fps == 2 * NTSC


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"factor": 1}, "factor"),
        ({"factor": 0.5}, "factor"),
        ({"factor": Fraction(1, 2)}, "factor"),
        ({}, "factor"),
        ({"factor": 2, "fps_num": 48}, "factor"),
        ({"fps_num": -48}, "fps_num"),
        ({"fps_num": 48, "fps_den": 0}, "fps_den"),
        ({"factor": 2, "max_hold": -1}, "max_hold"),
        ({"factor": 2, "cache_mb": -1}, "cache_mb"),
        ({"factor": 2, "cache_mb": 1.5}, "cache_mb"),
        ({"factor": 2, "num_streams": 0}, r"num_streams must be None \(2 on CUDA, no limit on the CPU\) or an int ≥ 1"),
        ({"factor": 2, "deterministic": 1}, r"deterministic must be True \(the same bits on every run\) or False"),
        ({"factor": 2, "fp16": False}, "fp16 apply to models loaded by name"),
        ({"factor": 2, "scene_threshold": 2.0}, "scene_threshold"),
        ({"factor": 2, "model": "no-such-model"}, "model"),
        ({"factor": 2, "model": "blend", "device": "tpu"}, "device"),
        ({"factor": 2, "model": "blend", "fp16": True, "device": "cpu"}, "fp16"),
        ({"factor": 2, "model": "blend", "flow_scale": 0.5, "device": "cpu"}, "flow_scale applies to the models"),
        ({"factor": 2, "model": "union", "flow_scale": 0.3, "device": "cpu"}, r"flow_scale must be one of"),
        ({"factor": 2, "model": "union", "fp16": True, "bf16": True}, "fp16 and bf16 exclude each other"),
        ({"factor": 2, "flow_scale": 0.5}, "flow_scale apply to models loaded by name"),
        ({"factor": 2, "bf16": True, "fp16": True}, "fp16, bf16 apply to models loaded by name"),
        ({"factor": 2, "bf16": False}, "bf16 apply to models loaded by name"),
    ],
)
def test_bad_parameters_name_themselves(kwargs, match):
    clip, _ = synthetic_clip([1, 1, 1])
    kwargs.setdefault("model", Blend())
    with pytest.raises(vs.Error, match=match):
        vsanimsplat.interpolate(clip, **kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given when CUDA is absent")
def test_cuda_requested_but_absent():
    clip, _ = synthetic_clip([1, 1])
    with pytest.raises(vs.Error, match="CUDA"):
        vsanimsplat.interpolate(clip, factor=2, model="blend", device="cuda")


def test_bad_clips_are_refused():
    clip, _ = synthetic_clip([1, 1])
    variable = core.std.Splice([clip, clip.resize.Point(width=32, height=32)], mismatch=True)
    with pytest.raises(vs.Error, match="constant format and size"):
        vsanimsplat.interpolate(variable, factor=2, model=Blend())
    vfr = core.std.BlankClip(clip, fpsnum=0, fpsden=1).std.ModifyFrame(clip, lambda n, f: f)
    bare = vfr.std.RemoveFrameProps(["_DurationNum", "_DurationDen"])
    with pytest.raises(vs.Error, match="_DurationNum"):
        vsanimsplat.interpolate(bare, fps_num=48, model=Blend())
    with pytest.raises(vs.Error, match="variable-rate"):
        vsanimsplat.interpolate(vfr, factor=2, model=Blend())  # durations, but no nominal rate
    assert vsanimsplat.interpolate(vfr, fps_num=48, model=Blend()).fps == 48


def test_a_factor_multiplies_the_clip_rate_of_per_frame_timing_with_or_without_dedupe():
    """A clip with Matroska's per-frame durations (42, 41, 42 … ms) at its nominal 24 fps (open_video(vfr=True)):
    factor 2 is 48 fps for interpolate alone and after dedupe; after dedupe it was 2 / 42 ms = 1000/21 fps, from the
    first drawing's rounded duration (issue 29)."""
    clip, _ = synthetic_clip([2, 2, 2, 2])
    rounded = [Fraction(round(Fraction(n + 1, 24) * 1000) - round(Fraction(n, 24) * 1000), 1000)
               for n in range(clip.num_frames)]
    stamped = clip.std.AssumeFPS(fpsnum=24, fpsden=1).std.ModifyFrame(
        clip, lambda n, f: _with_duration(f, rounded[n]))
    assert rounded[0] == Fraction(21, 500) and stamped.fps == 24
    assert vsanimsplat.interpolate(stamped, factor=2, model=Blend()).fps == 48
    assert vsanimsplat.interpolate(vsanimsplat.dedupe(stamped), factor=2, model=Blend()).fps == 48


def _with_duration(frame: vs.VideoFrame, duration: Fraction) -> vs.VideoFrame:
    out = frame.copy()
    out.props.update(_DurationNum=duration.numerator, _DurationDen=duration.denominator)
    return out


@pytest.mark.parametrize("fps", [(24000, 1001), (12, 1)])
def test_a_rate_not_above_the_nominal_rate_is_refused(fps):
    """fps_num/fps_den must raise the rate, as factor > 1 does, for a constant-rate clip and a dedupe output
    (whose nominal rate is the source's); a variable-rate clip without dedupe's props has none to compare."""
    clip, _ = synthetic_clip([2, 2, 2])
    for given in (clip, vsanimsplat.dedupe(clip)):
        with pytest.raises(vs.Error, match=rf"fps_num/fps_den must be above the clip's nominal rate 24000/1001 fps.*"
                                           rf"got {fps[0]}/{fps[1]}"):
            vsanimsplat.interpolate(given, fps_num=fps[0], fps_den=fps[1], model=Blend())
    vfr = core.std.BlankClip(clip, fpsnum=0, fpsden=1).std.ModifyFrame(clip, lambda n, f: f)
    assert vsanimsplat.interpolate(vfr, fps_num=fps[0], fps_den=fps[1], model=Blend()).fps == Fraction(*fps)


@pytest.mark.parametrize("rate, says", [({"factor": 17}, "factor must be an int or Fraction greater than 1 and at most 16"),
                                         ({"factor": 10**6}, "at most 16 .*got 1000000"),
                                         ({"fps_num": 385}, r"at most 16 × it \(384 fps\), got 385/1")])
def test_a_rate_above_16_times_the_nominal_rate_is_refused_before_any_frame_is_read(monkeypatch, rate, says):
    """The output rate is bounded (MAX_RATE_FACTOR): checked from the first frame, before the timing pass."""
    clip, _ = synthetic_clip([2, 2, 2], fps=Fraction(24))
    drawings = vsanimsplat.dedupe(clip)  # its nominal rate is the source's, 24 fps, not the drawings' 12

    def no_pass(*args, **kwargs):
        raise AssertionError("the timing was read before the rate was checked")

    monkeypatch.setattr(interpolate_module, "timing_of", no_pass)
    for given in (clip, drawings):
        with pytest.raises(vs.Error, match=says):
            vsanimsplat.interpolate(given, **rate, model=Blend())
    assert interpolate_module.MAX_RATE_FACTOR == 16


def test_scene_scores_are_public_and_separate_shots():
    first, _ = synthetic_clip([1, 1], 192, 108, seed=1)
    second, _ = synthetic_clip([1], 192, 108, seed=2)
    scores = interpolate_module.scene_scores(first + second)
    assert len(scores) == 2 and scores[0] < interpolate_module.DEFAULT_SCENE_THRESHOLD < scores[1]


def _two_drawings(fmt: int, edges: tuple[int, int], props: dict | None = None) -> vs.VideoNode:
    """Two drawings of a 64×64 clip in ``fmt`` (neutral chroma): a still left column of code value
    ``edges[0]``, a still right column of ``edges[1]``, and a block that changes in the middle."""
    still = np.full((64, 64), 1 << (vs.core.get_video_format(fmt).bits_per_sample - 1))
    still[:, :8], still[:, -8:] = edges
    moved = still.copy()
    moved[24:40, 24:40] = 3 * still[0, 32] // 2
    blank = core.std.BlankClip(format=fmt, width=64, height=64, length=2, fpsnum=12, fpsden=1, keep=True)

    def fill(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        np.copyto(np.asarray(out[0]), (still, moved)[n], casting="unsafe")
        for p in range(1, out.format.num_planes):
            np.asarray(out[p])[:] = still[0, 32]
        out.props.update(props or {})
        return out

    return blank.std.ModifyFrame(blank, fill)


@pytest.mark.parametrize(
    ("fmt", "edges", "tags"),
    [
        (vs.YUV420P8, (5, 250), {}),  # untagged: limited range, codes below black and above white
        (vs.GRAY16, (1000, 65000), {}),
        (vs.YUV420P8, (5, 250), {"_Range": vs.RANGE_FULL, "_Matrix": 1}),
    ],
)
def test_still_pixels_outside_the_nominal_range_survive_the_model(fmt, edges, tags):
    """A pixel held across two drawings is the same in the in-between as in them (no flicker), whatever its
    code value: the RGB the model sees is not clamped, and the range is the same both ways."""
    clip = _two_drawings(fmt, edges, tags)
    out = vsanimsplat.interpolate(clip, factor=2, model="blend", static_tolerance=None, scene_detect=False)
    drawing = np.asarray(clip.get_frame(0)[0]).astype(np.float64)
    later = np.asarray(clip.get_frame(1)[0]).astype(np.float64)
    between = out.get_frame(1)
    assert between.props["AnimSplat_Interpolated"] == 1 and between.props["AnimSplat_T"] == 0.5
    luma = np.asarray(between[0])
    np.testing.assert_array_equal(luma[:, :8], drawing[:, :8])
    np.testing.assert_array_equal(luma[:, -8:], drawing[:, -8:])
    assert np.abs(luma - (drawing + later) / 2).max() <= 1  # the cross-fade, in the clip's own codes
    for p in range(1, clip.format.num_planes):
        np.testing.assert_array_equal(np.asarray(between[p]), np.asarray(clip.get_frame(0)[p]))
