"""Every module raises the one error tree: a bad argument of any function is a BadOption (also a ValueError and a
vs.Error) naming the function as a user finds it and the parameter; what a public function passes on is re-raised
under its name; the command line prints a reason that names its flag as it is."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
import vapoursynth as vs

import vsanimsplat
from vsanimsplat import (cli, errors, ffmpeg, flo, layers, metrics, open_video, retime, scenes, testing, timeline,
                         timestamps)
from vsanimsplat.errors import BadOption
from vsanimsplat.job.address import ray_endpoint
from vsanimsplat.job.chunks import choose_spans
from vsanimsplat.models import GMFSS, Blend, Capability, SoftSplat, parameter_count, weights
from vsanimsplat.models.base import pad_to_multiple
from vsanimsplat.models.ensemble import combine
from vsanimsplat.nets.ifnet import IFNet
from vsanimsplat.ops import softsplat


@pytest.mark.parametrize("call, function, parameter", [
    (lambda: timeline.resolve_threshold(-1, 100), "timeline.resolve_threshold", "threshold"),
    (lambda: timeline.group_drawings([1], [Fraction(1, 24)] * 3), "timeline.group_drawings", "starts"),
    (lambda: timestamps.judge_timing([], Fraction(24)), "timestamps.judge_timing", "times"),
    (lambda: retime.plan([Fraction(1, 24)], 0), "retime.plan", "rate"),
    (lambda: flo.write_flo("unused.flo", np.zeros((2, 2, 3))), "flo.write_flo", "flow"),
    (lambda: ffmpeg.Encoding("vp9").video_args(), "ffmpeg.Encoding", "codec"),
    (lambda: ffmpeg.check_rate("out.mkv", Fraction(1200)), "ffmpeg.check_rate", "rate"),
    (lambda: choose_spans(0, 10), "job.choose_spans", "target"),
    (lambda: ray_endpoint("nonsense"), "run", "ray_address"),
    (lambda: softsplat(torch.zeros(1, 3, 4, 4), torch.zeros(1, 2, 4, 4), None, "softmax"), "ops.softsplat", "mode"),
    (lambda: GMFSS("nope"), "models.GMFSS", "variant"),
    (lambda: SoftSplat("nope"), "models.SoftSplat", "variant"),
    (lambda: Blend(dtype=torch.int32), "models.Blend", "dtype"),
    (lambda: Blend().synthesize(None, 1.5), "models.Blend.synthesize", "t"),
    (lambda: pad_to_multiple(torch.zeros(1, 3, 4, 4), 8, "zeros"), "models.base.pad_to_multiple", "mode"),
    (lambda: combine([torch.zeros(1, 3, 4, 4)], [None], rule="median"), "models.ensemble.combine", "rule"),
    (lambda: Capability("tpu", bf16=False), "models.Capability", "kind"),
    (lambda: parameter_count("nope"), "models.parameter_count", "name"),
    (lambda: weights.load_weights("nope"), "models.weights.load_weights", "name"),
    (lambda: IFNet(widths=(8,), scales=(2, 1)), "nets.IFNet", "scales"),
    (lambda: scenes.read_cut_list([3, -1]), "scenes.read_cut_list", "cuts"),
    (lambda: scenes.unexplained_share(np.zeros((8, 8)), np.zeros((8, 9))), "scenes.unexplained_share", "b"),
    (lambda: scenes.unexplained_share(np.zeros((8, 8)), np.zeros((8, 8)), np.zeros((8, 8, 2)), np.zeros((8, 8))),
     "scenes.unexplained_share", "colour_a"),
    (lambda: layers.change_map(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9, 3), np.uint8)), "layers.change_map", "b"),
    (lambda: metrics.steps_cv(np.zeros(3)), "metrics.steps_cv", "points"),
    (lambda: testing.Scene(8, 96), "testing.Scene", "width"),
    (lambda: testing.Scene(background="plaid"), "testing.Scene", "background"),
    (lambda: testing.cadence([], 4), "testing.cadence", "pattern"),
    (lambda: testing.animate_layers(testing.Scene(shapes=1), [[2]], 0), "testing.animate_layers", "frames"),
])
def test_a_bad_argument_names_its_function_and_parameter(call, function, parameter):
    with pytest.raises(BadOption) as raised:
        call()
    error = raised.value
    assert (error.function, error.parameter) == (function, parameter)
    assert str(error) == f"vsanimsplat.{function}: {error.reason}"
    assert isinstance(error, ValueError) and isinstance(error, vs.Error) and isinstance(error, errors.AnimSplatError)


def test_an_unreadable_file_names_open_video_and_its_path(tmp_path):
    missing = tmp_path / "missing.mkv"
    with pytest.raises(BadOption, match=r"^vsanimsplat\.open_video: input file not found") as raised:
        open_video(missing)
    assert raised.value.parameter == "path"
    noise = tmp_path / "noise.mkv"
    noise.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(BadOption, match=r"^vsanimsplat\.open_video: cannot decode"):
        open_video(noise)


@pytest.mark.parametrize("error, says", [
    (BadOption("run", "target", "--fps 20 must be above the source's rate"), "--fps 20 must be above the source's rate"),
    (BadOption("run", "device", "device must be 'cpu' or 'cuda'"), "--device: device must be 'cpu' or 'cuda'"),
    (BadOption("run", "codec", "a .mp4 file cannot hold ffv1 video"), "--codec: a .mp4 file cannot hold ffv1 video"),
    (BadOption("ffmpeg.check_rate", "rate", "… lower --factor/--fps"), "… lower --factor/--fps"),
    (BadOption("interpolate", "factor", "factor must be …"), "vsanimsplat.interpolate: factor must be …"),
])
def test_the_command_line_says_a_bad_option_by_its_flag_once(error, says):
    assert cli._message(error) == says


def test_a_bad_cut_list_given_to_interpolate_names_interpolate_once():
    clip = vs.core.std.BlankClip(width=64, height=48, format=vs.RGBS, length=3)
    with pytest.raises(BadOption) as raised:
        vsanimsplat.interpolate(clip, factor=2, model="blend", cuts=7)
    assert str(raised.value) == ("vsanimsplat.interpolate: cuts: expected a file path or a sequence of frame numbers, "
                                 "got int")
