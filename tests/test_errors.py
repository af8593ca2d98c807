"""One exception root: every kind of error is an AnimSplatError (and a vs.Error), bad options name their function
and parameter whoever passed them on, and a script catches a missing-weights error by its kind."""

from __future__ import annotations

import pytest
import torch
import vapoursynth as vs

import vsanimsplat
from vsanimsplat.engine import DeviceOutOfMemory
from vsanimsplat.errors import AnimSplatError, BadOption, DeviceError, EncodeError, Interrupted, NotInstalled, WeightsError
from vsanimsplat.ffmpeg import FFmpegNotFound
from vsanimsplat.job import OutputBusy, RayMissing
from vsanimsplat.job.address import ClusterUnreachable
from vsanimsplat.models import load_model, load_preset
from vsanimsplat.plots import PlotExtraMissing
from tests.helpers import synthetic_clip


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """An empty weights cache: no model's weights are installed."""
    monkeypatch.setenv("VSANIMSPLAT_MODEL_DIR", str(tmp_path))


@pytest.mark.parametrize("kind, also", [
    (BadOption, ValueError), (WeightsError, NotInstalled), (DeviceError, RuntimeError), (DeviceOutOfMemory, DeviceError),
    (EncodeError, RuntimeError), (FFmpegNotFound, NotInstalled), (PlotExtraMissing, NotInstalled),
    (RayMissing, NotInstalled), (OutputBusy, AnimSplatError), (ClusterUnreachable, AnimSplatError),
])
def test_every_kind_is_under_the_one_root(kind, also):
    assert issubclass(kind, AnimSplatError) and issubclass(kind, vs.Error) and issubclass(kind, also)


def test_a_stop_signal_is_not_an_exception_that_except_exception_swallows():
    assert issubclass(Interrupted, KeyboardInterrupt) and not issubclass(Interrupted, Exception)


def test_missing_weights_reach_a_script_as_the_weights_error(empty_cache):
    clip, _ = synthetic_clip([1, 1, 1])
    with pytest.raises(WeightsError, match="python -m vsanimsplat models fetch rife") as raised:
        vsanimsplat.interpolate(clip, factor=2, model="rife")  # as a .vpy calls it
    assert isinstance(raised.value, vsanimsplat.errors.AnimSplatError) and isinstance(raised.value, vs.Error)


@pytest.mark.parametrize("kwargs, parameter", [
    ({"factor": 0, "model": "blend"}, "factor"),
    ({"fps_num": 48, "fps_den": 0, "model": "blend"}, "fps_den"),
    ({"factor": 2, "model": "blend", "max_hold": -1}, "max_hold"),
    ({"factor": 2, "model": "no-such-model"}, "model"),
    ({"factor": 2, "preset": "no-such-preset"}, "preset"),
    ({"factor": 2, "model": "blend", "device": "tpu"}, "device"),
    ({"factor": 2, "model": "blend", "device": "cpu", "fp16": True}, "fp16"),
    ({"factor": 2, "model": "union", "device": "cpu", "flow_scale": 0.3}, "flow_scale"),
    ({"factor": 2, "model": "rife", "flow": "pwcnet"}, "flow"),
    ({"factor": 2, "preset": "fast", "flow": "pwcnet"}, "flow"),
    ({"factor": 2, "model": "blend", "static_tolerance": 300}, "static_tolerance"),
])
def test_a_bad_option_of_interpolate_names_interpolate_and_the_parameter(empty_cache, kwargs, parameter):
    clip, _ = synthetic_clip([1, 1, 1])
    with pytest.raises(BadOption) as raised:
        vsanimsplat.interpolate(clip, **kwargs)
    error = raised.value
    assert (error.function, error.parameter) == ("interpolate", parameter)
    assert str(error) == f"vsanimsplat.interpolate: {error.reason}" and parameter in error.reason
    assert isinstance(error, vs.Error) and isinstance(error, ValueError)


@pytest.mark.parametrize("load, kwargs, parameter", [
    (load_model, {"name": "gmfss"}, "model"),
    (load_model, {"device": "tpu"}, "device"),
    (load_model, {"device": "cpu", "fp16": True, "bf16": True}, "bf16"),
    (load_model, {"name": "blend", "flow_scale": 0.5}, "flow_scale"),
    (load_preset, {"name": "best"}, "preset"),
    (load_preset, {"name": "fast", "flow_scale": 0.5}, "flow_scale"),
    (load_preset, {"device": "cpu", "static_tolerance": -1}, "static_tolerance"),
])
def test_a_bad_option_of_a_loader_names_the_loader_called(empty_cache, load, kwargs, parameter):
    with pytest.raises(BadOption) as raised:
        load(**kwargs)
    assert (raised.value.function, raised.value.parameter) == (load.__name__, parameter)
    assert str(raised.value).startswith(f"vsanimsplat.{load.__name__}: ")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error given when CUDA is absent")
def test_cuda_without_cuda_is_a_device_error():
    clip, _ = synthetic_clip([1, 1])
    with pytest.raises(DeviceError, match="CUDA is not available"):
        vsanimsplat.interpolate(clip, factor=2, model="blend", device="cuda")
