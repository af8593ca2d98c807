"""Frames ⇄ tensors: one copy in, views out on the CPU, planes written back exactly."""

import numpy as np
import pytest
import torch
import vapoursynth as vs

from vsanimsplat.filters.frames import ColourSpace, array_into_frame, frame_to_tensor


def _rgbs_frame(seed: int = 0, width: int = 7, height: int = 5) -> vs.VideoFrame:
    clip = vs.core.std.BlankClip(format=vs.RGBS, width=width, height=height, length=1)
    values = np.random.default_rng(seed).random((3, height, width), dtype=np.float32)

    def fill(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        for p in range(3):
            np.copyto(np.asarray(out[p]), values[p])
        return out

    return clip.std.ModifyFrame(clip, fill).get_frame(0)


def test_frame_to_tensor_copies_the_planes_into_a_float32_cpu_tensor():
    frame = _rgbs_frame()
    tensor = frame_to_tensor(frame)
    assert tensor.shape == (1, 3, 5, 7) and tensor.dtype == torch.float32 and tensor.device.type == "cpu"
    for p in range(3):
        np.testing.assert_array_equal(tensor[0, p].numpy(), np.asarray(frame[p]))
        assert not np.shares_memory(tensor.numpy(), np.asarray(frame[p]))  # a copy: frames are read-only


def test_array_into_frame_round_trips_and_converts_to_the_frame_format():
    frame = _rgbs_frame(1)
    array = frame_to_tensor(frame).numpy()
    out = array_into_frame(array, _rgbs_frame(2).copy())
    for p in range(3):
        np.testing.assert_array_equal(np.asarray(out[p]), np.asarray(frame[p]))
    gray = vs.core.std.BlankClip(format=vs.GRAY8, width=7, height=5, length=1).get_frame(0).copy()
    mask = np.zeros((1, 1, 5, 7), dtype=np.bool_)
    mask[..., 2, 3] = True
    array_into_frame(mask.view(np.uint8) * np.uint8(255), gray)
    assert np.asarray(gray[0])[2, 3] == 255 and np.asarray(gray[0]).sum() == 255


@pytest.mark.parametrize(("tags", "black", "white"), [({}, 16, 235), ({"_Range": vs.RANGE_FULL}, 0, 255)])
@pytest.mark.parametrize("fmt", [vs.YUV444P8, vs.GRAY8])
def test_colour_space_takes_untagged_yuv_and_gray_as_limited_range_and_clamps_nothing(fmt, tags, black, white):
    clip = vs.core.std.BlankClip(format=fmt, width=4, height=2, length=1, color=[5] + [128] * (fmt == vs.YUV444P8) * 2)
    clip = clip.std.SetFrameProps(**tags)
    space = ColourSpace(clip, clip.get_frame(0).props)
    rgb = space.to_rgbs(clip)
    assert np.allclose(np.asarray(rgb.get_frame(0)[1]), (5 - black) / (white - black), atol=1e-6)
    back = space.from_rgbs(rgb).get_frame(0)
    assert np.all(np.asarray(back[0]) == 5) and back.props["_Range"] == tags.get("_Range", vs.RANGE_LIMITED)


def test_star_import_gives_every_public_name():
    import vsanimsplat.filters.frames as frames

    names: dict = {}
    exec("from vsanimsplat.filters.frames import *", names)  # raises AttributeError for a name that does not exist
    assert set(frames.__all__) <= set(names) and "ColourSpace" in names
