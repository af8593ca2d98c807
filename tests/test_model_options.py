"""ModelOptions: the model's settings and their defaults declared once; the loaders, ``interpolate``, the job and the
command line take it or build it."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest

import vsanimsplat
from vsanimsplat.cli import build_parser
from vsanimsplat.errors import BadOption
from vsanimsplat.job import JobOptions, load_job_model
from vsanimsplat.models import Blend, ModelOptions, load, load_model, load_preset

DEFAULTS = {f.name: f.default for f in dataclasses.fields(ModelOptions)}


@pytest.mark.parametrize("function", [load_model, load_preset, vsanimsplat.interpolate])
def test_the_keywords_of_the_loaders_and_interpolate_default_to_the_options_defaults(function):
    parameters = inspect.signature(function).parameters
    assert {name: parameters[name].default for name in DEFAULTS} == DEFAULTS


def test_the_defaults_choose_the_device_and_precision_automatically():
    assert ModelOptions() == ModelOptions(device=None, fp16=None, bf16=None, flow=None, flow_scale=None,
                                          static_tolerance=20, regions=True)


def test_the_command_lines_defaults_are_the_options_defaults():
    args = build_parser().parse_args(["run", "in.mkv", "-o", "out.mkv"])
    own = {name: default for name, default in DEFAULTS.items() if name != "flow"}  # run's --flow writes a .flo file
    assert {name: getattr(args, name) for name in own} == own


def test_options_are_frozen_and_say_what_they_change():
    options = ModelOptions(device="cpu", regions=False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.device = "cuda"  # type: ignore[misc]
    assert options.changed() == {"device": "cpu", "regions": False}
    assert ModelOptions().changed() == {}
    assert hash(options) == hash(ModelOptions(device="cpu", regions=False))


def test_load_makes_the_model_the_loaders_make():
    made = load(ModelOptions(device="cpu", static_tolerance=None), model="blend")
    assert isinstance(made, Blend) and made.changes is None and made.device.type == "cpu"
    assert load_model("blend", device="cpu", static_tolerance=None).changes is None
    assert load(ModelOptions(device="cpu", static_tolerance=5), model="blend").changes.tolerance == 5
    assert isinstance(load(ModelOptions(device="cpu"), model="blend", preset="fast"), Blend)  # a model comes first


def test_the_jobs_model_is_made_from_its_one_options_object():
    options = JobOptions(Path("in.mkv"), model="blend", model_options=ModelOptions(device="cpu", regions=False))
    model = load_job_model(options)
    assert isinstance(model, Blend) and model.changes.regions is False
    with pytest.raises(BadOption) as raised:
        load_job_model(dataclasses.replace(options, model_options=ModelOptions(device="cpu", flow_scale=0.5)))
    assert (raised.value.function, raised.value.parameter) == ("run", "flow_scale")
