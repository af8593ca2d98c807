"""The pipeline run with a foreign default device in every thread that touches torch, for ``test_device_safety``.

The models run on the CPU while torch's default device is ``"meta"``: a tensor made without an explicit
``device=`` lands on "meta", and mixing it with the model's tensors (or reading it on the host) raises, as a tensor
left on the CPU does beside a model on CUDA. ``torch.set_default_device`` holds for the calling thread only (a
torch-function mode on the thread's own stack), and VapourSynth calls the filters from its own worker threads,
which no hook of ``threading`` sees: :func:`install` pushes the mode from a ``sys.monitoring`` callback, which the
interpreter runs in every thread, the first time a thread enters the package's code (or this module's). The mode
then stays on that thread's stack for good, so this runs in a process of its own::

    python -m tests.foreign_device [SCENARIO …]

prints one JSON line per scenario (all of :data:`SCENARIOS` by default): its name, seconds, the error it raised
(None if none) and the package's line it came from (from the traceback's text: VapourSynth passes a filter's
error on as text).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import sys
import tempfile
import threading
import time
import traceback
import types
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import torch
import vapoursynth as vs
from torch.overrides import _get_current_function_mode_stack
from torch.utils._device import DeviceContext

import vsanimsplat
from vsanimsplat.cli import main as cli_main
from vsanimsplat.ffmpeg import write_rgb_video
from vsanimsplat.models import (DEFAULT_MODEL, FLOWS, MODEL_NAMES, PRESET_NAMES, ChangePolicy, Model, build,
                                load_preset, spec)
from vsanimsplat.models.changes import changed_pixels, region_boxes
from vsanimsplat.models.weights import model_dir
from vsanimsplat.testing import AnimatedClip, Scene, animate, animate_layers, cadence
from tests.helpers import as_clip

__all__ = ["FOREIGN", "SCENARIOS", "install"]

FOREIGN = "meta"
"""The default device in force in every thread; the models run on the CPU."""

_OURS = (str(Path(vsanimsplat.__file__).parent), __file__)


def install(device: str = FOREIGN) -> Callable[[], None]:
    """Make ``device`` torch's default device in this thread and in every thread that runs the package's code (or
    this module's) from now on; returns the function that stops reaching new threads (those reached keep it).

    A thread is reached once: a device the code itself chooses later (``with torch.device(…)``) is kept."""
    tool, disable = sys.monitoring.PROFILER_ID, sys.monitoring.DISABLE

    def enter(code: types.CodeType, _offset: int) -> object:
        if not code.co_filename.startswith(_OURS):
            return disable  # never called again for this code
        if not any(isinstance(mode, DeviceContext) for mode in _get_current_function_mode_stack()):
            DeviceContext(device).__enter__()  # what torch.set_default_device does, in this thread
        return None

    torch.set_default_device(device)
    sys.monitoring.use_tool_id(tool, "foreign default device")
    sys.monitoring.register_callback(tool, sys.monitoring.events.PY_START, enter)
    sys.monitoring.set_events(tool, sys.monitoring.events.PY_START)

    def stop() -> None:
        sys.monitoring.set_events(tool, 0)
        sys.monitoring.register_callback(tool, sys.monitoring.events.PY_START, None)
        sys.monitoring.free_tool_id(tool)

    return stop


def _read(clip: vs.VideoNode) -> list[vs.VideoFrame]:
    """Every frame of ``clip``, requested as a player does (several at once, made on VapourSynth's threads)."""
    return list(clip.frames(close=False))


def _installed(name: str, flow: str | None) -> bool:
    """Whether the weight files of model ``name`` (with flow network ``flow``) are in the cache."""
    files = dict(spec(name).roles, **({"flownet": FLOWS[flow].file} if flow else {}))
    return all((model_dir() / file).is_file() for file in files.values())


def _interpolate(drawings: vs.VideoNode, model: str | Model | None = None, flow: str | None = None,
                 static_tolerance: int | None = 20, **options: object) -> list[vs.VideoFrame]:
    """Every frame of ``fill_holes(interpolate(drawings))`` at twice the rate, the model on the CPU: by name, or with
    random weights where its published ones are not installed (the same code runs)."""
    if isinstance(model, str) and not _installed(model, flow):
        model = build(model, flow, torch.device("cpu"), torch.float32, None)
        model.changes = None if static_tolerance is None else ChangePolicy(static_tolerance)
    if not isinstance(model, Model):
        options.update(device="cpu", flow=flow, static_tolerance=static_tolerance)
    return _read(vsanimsplat.fill_holes(vsanimsplat.interpolate(drawings, factor=2, model=model, **options)))


def threads() -> None:
    """The foreign default device holds in the main thread, a Python thread and VapourSynth's worker threads."""
    seen: list[tuple[str, bool, str]] = []

    def note(where: str) -> None:
        seen.append((where, threading.current_thread() is threading.main_thread(), torch.empty(()).device.type))

    def callback(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        note("vapoursynth")
        return f

    blank = vs.core.std.BlankClip(width=16, height=16, length=8 * vs.core.num_threads)
    _read(blank.std.ModifyFrame(blank, callback))
    thread = threading.Thread(target=note, args=("thread",))
    thread.start()
    thread.join()
    note("main")
    assert {device for *_, device in seen} == {FOREIGN}, seen
    assert any(where == "vapoursynth" and not main for where, main, _ in seen), "no VapourSynth worker thread ran"


def _cartoon(width: int, height: int, holds: list[int], shapes: int = 3) -> AnimatedClip:
    """Outlined shapes bouncing over a still background, animated with ``holds``."""
    return animate(Scene(width, height, seed=3, shapes=shapes, speed=3.0), holds)


def model_scenario(name: str, flow: str | None = None) -> Callable[[], None]:
    """``interpolate(model=name)`` with the default change policy (regions) and without one, then ``fill_holes``."""
    def scenario() -> None:
        drawings = vsanimsplat.dedupe(as_clip(_cartoon(160, 96, [3, 3])))
        for tolerance in (20, None):
            _interpolate(drawings, name, flow, tolerance)
    return scenario


def preset_scenario(name: str) -> Callable[[], None]:
    """``dedupe`` → ``interpolate(preset=name)`` (regions, layers) → ``fill_holes`` on a shape on twos over a pan
    on ones, so that the shape moves as a layer of its own."""
    def scenario() -> None:
        scene = Scene(256, 160, seed=4, shapes=1, speed=6.0, texture=0.5, pan=(1.5, 0.5))
        drawings = vsanimsplat.dedupe(as_clip(animate_layers(scene, [cadence([2], 6)], 6)))
        frames = _interpolate(drawings, preset=name)
        assert any("AnimSplat_LayerFraction" in f.props for f in frames), "no layer moved: the layer path did not run"
    return scenario


def regions() -> None:
    """The default preset on a small change in a wide static frame: its networks run on a crop of the frames."""
    animation = _cartoon(576, 256, [2, 2], shapes=1)
    model = load_preset(device="cpu")
    first, second = (torch.from_numpy(animation.frames[k]).permute(2, 0, 1)[None].float().div(255) for k in (0, 2))
    changed = changed_pixels(first, second, model.changes.threshold)
    padded = tuple(-(-size // model.multiple) * model.multiple for size in changed.shape[-2:])
    assert region_boxes(changed, padded, model.multiple, model.min_region) is not None, "the change covers most of the frame: no crop"
    _interpolate(vsanimsplat.dedupe(as_clip(animation)), model)


def run() -> None:
    """``vsanimsplat run`` with its defaults (the default preset, regions, layers, fill) on the CPU, writing the first
    pair's flow too."""
    with tempfile.TemporaryDirectory() as folder:
        source, output, flow = (Path(folder) / name for name in ("cartoon.mkv", "out.mkv", "first.flo"))
        write_rgb_video(_cartoon(160, 96, [2, 3, 2, 1]).frames, source, Fraction(24000, 1001))
        messages = io.StringIO()
        with contextlib.redirect_stderr(messages):
            code = cli_main(["run", str(source), "-o", str(output), "--flow", str(flow), "--device", "cpu",
                             "--codec", "ffv1", "-q"])
        assert code == 0 and output.is_file() and flow.is_file(), f"exit code {code}: {messages.getvalue()[-3000:]}"


SCENARIOS: dict[str, Callable[[], None]] = {
    "threads": threads,
    **{f"model:{name}": model_scenario(name) for name in MODEL_NAMES},
    **{f"model:{DEFAULT_MODEL}+{flow}": model_scenario(DEFAULT_MODEL, flow)
       for flow, network in FLOWS.items() if network.make is not None},  # a flow network other than its own
    **{f"preset:{name}": preset_scenario(name) for name in PRESET_NAMES},
    "regions": regions,
    "run": run,
}
"""Everything that runs with the foreign default device, by name."""


def main(names: list[str]) -> None:
    """Run the scenarios ``names`` (all if empty) with the foreign default device; one JSON line each."""
    unknown = sorted(set(names) - set(SCENARIOS))
    if unknown:
        raise SystemExit(f"unknown scenarios {unknown}; known: {list(SCENARIOS)}")
    stop = install()
    try:
        for name in names or SCENARIOS:
            start, error, where = time.perf_counter(), None, None
            try:
                SCENARIOS[name]()
            except Exception as failure:  # reported, then the next scenario runs
                text = "".join(traceback.format_exception(failure))
                error = text.strip().splitlines()[-1]
                where = ([f"{path}:{line}" for path, line in re.findall(r'File "([^"]+)", line (\d+)', text)
                          if path.startswith(_OURS[0])] or [None])[-1]
            print(json.dumps({"name": name, "seconds": round(time.perf_counter() - start, 2), "error": error,
                              "where": where}), flush=True)
    finally:
        stop()


if __name__ == "__main__":
    main(sys.argv[1:])
