"""``fill_holes`` on its own: any filter that sets the hole props can come before it."""

import numpy as np
import pytest
import vapoursynth as vs

import vsanimsplat

core = vs.core


def flat(fmt: int, value: float, width: int = 16, height: int = 8) -> vs.VideoNode:
    planes = core.get_video_format(fmt).num_planes
    return core.std.BlankClip(format=fmt, width=width, height=height, length=1, color=[value] * planes)


def with_holes(fmt: int, t: float, holes: np.ndarray) -> vs.VideoNode:
    """An 'in-between' of value 100 with a hole mask and parents of values 20 and 220."""
    left, right = flat(fmt, 20).get_frame(0), flat(fmt, 220).get_frame(0)
    mask = flat(vs.GRAY8, 0).get_frame(0).copy()
    np.copyto(np.asarray(mask[0]), holes.astype(np.uint8) * 255)
    clip = flat(fmt, 100)

    def put(n, f):
        out = f.copy()
        out.props.update(AnimSplat_HoleMask=mask, AnimSplat_LeftFrame=left, AnimSplat_RightFrame=right, AnimSplat_T=t)
        return out

    return clip.std.ModifyFrame(clip, put)


HOLES = np.zeros((8, 16), bool)
HOLES[2:4, 5:9] = True


@pytest.mark.parametrize("fmt", [vs.RGB24, vs.YUV444P16, vs.RGBS])
def test_blend_fills_only_the_holes(fmt):
    out = vsanimsplat.fill_holes(with_holes(fmt, 0.25, HOLES)).get_frame(0)
    for p in range(3):
        plane = np.asarray(out[p])
        assert np.all(plane[HOLES] == pytest.approx(0.75 * 20 + 0.25 * 220))
        assert np.all(plane[~HOLES] == 100)
    assert out.props["AnimSplat_HolesFilled"] == 1
    assert "AnimSplat_HoleMask" not in out.props and "AnimSplat_LeftFrame" not in out.props


@pytest.mark.parametrize(("t", "value"), [(0.3, 20), (0.7, 220)])
def test_nearest_takes_the_nearer_parent(t, value):
    out = vsanimsplat.fill_holes(with_holes(vs.RGB24, t, HOLES), mode="nearest").get_frame(0)
    assert np.all(np.asarray(out[0])[HOLES] == value)
    assert np.all(np.asarray(out[0])[~HOLES] == 100)


def test_subsampled_chroma_covers_every_hole_pixel():
    out = vsanimsplat.fill_holes(with_holes(vs.YUV420P8, 0.5, HOLES)).get_frame(0)
    assert np.all(np.asarray(out[0])[HOLES] == 120)
    chroma = np.asarray(out[1])
    assert chroma.shape == (4, 8)
    assert np.all(chroma[1:2, 2:5] == 120) and chroma[0, 0] == 100


def test_frames_without_holes_pass_untouched():
    clip = flat(vs.YUV420P8, 77)
    out = vsanimsplat.fill_holes(clip).get_frame(0)
    assert np.all(np.asarray(out[0]) == 77) and "AnimSplat_HolesFilled" not in out.props


def test_mask_without_parents_is_a_clear_error():
    mask = flat(vs.GRAY8, 255).get_frame(0)
    clip = flat(vs.RGB24, 1).std.ModifyFrame(flat(vs.RGB24, 1), lambda n, f: _with(f, AnimSplat_HoleMask=mask))
    with pytest.raises(vs.Error) as error:
        vsanimsplat.fill_holes(clip).get_frame(0)
    assert ("frame 0 has AnimSplat_HoleMask but no AnimSplat_LeftFrame, AnimSplat_RightFrame, AnimSplat_T props"
            in str(error.value))  # the keys named as they are, not KeyError's text
    parents = flat(vs.RGB24, 1).get_frame(0)
    no_t = clip.std.ModifyFrame(clip, lambda n, f: _with(f, AnimSplat_LeftFrame=parents, AnimSplat_RightFrame=parents))
    with pytest.raises(vs.Error, match=r"has AnimSplat_HoleMask but no AnimSplat_T prop$"):
        vsanimsplat.fill_holes(no_t).get_frame(0)


def _with(frame, **values):
    out = frame.copy()
    out.props.update(values)
    return out


def test_bad_mode_is_refused():
    with pytest.raises(vs.Error, match="mode"):
        vsanimsplat.fill_holes(flat(vs.RGB24, 1), mode="inpaint")
