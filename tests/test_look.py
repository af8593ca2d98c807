"""Looking before an encode: ``report --plot`` (the cadence plot), ``preview`` (the contact sheet) and the emitted
``.vpy`` as vs-preview loads it, on a tiny clip with known drawings and a scene cut (model ``blend``)."""

from __future__ import annotations

import argparse
import runpy
import sys
from collections import Counter
from fractions import Fraction
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import vapoursynth as vs
from PIL import Image

from vsanimsplat import cli
from vsanimsplat.ffmpeg import write_rgb_video
from vsanimsplat.job import SCRIPT_OUTPUTS
from vsanimsplat.plots import HOLD_COLOURS, OVERLAY_COLOURS, UNSURE, Cadence, cadence_plot
from vsanimsplat.testing import Cut, Scene, animate, animate_layers, cadence
from vsanimsplat.timeline import group_drawings

HOLDS = [2, 2, 3, 1, 6, 2, 2, 2, 3]  # drawing 4 (held 6 between twos) is a pause; a cut before drawing 5
STARTS = [sum(HOLDS[:k]) for k in range(len(HOLDS))]
CUT = STARTS[5]
FRAMES = sum(HOLDS)
GROUPS = {1: "ones", 2: "twos", 3: "threes"}

NO_PLOT = "matplotlib, the optional [plot] extra, is not installed: pip install 'vsanimsplat[plot]'"


@pytest.fixture(scope="module")
def cartoon(tmp_path_factory) -> Path:
    """A lossless 96×64 clip at 24 fps: the drawings of HOLDS, two shots joined at frame CUT."""
    first, second = Scene(96, 64, seed=1, speed=3.0), Scene(96, 64, seed=2, speed=3.0)
    path = tmp_path_factory.mktemp("look") / "cut.mkv"
    write_rgb_video(animate(Cut(first, second, at=CUT), HOLDS).frames, path, Fraction(24),
                    codec_args=("-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv444p"))
    return path


def _spy(monkeypatch, name: str) -> list:
    """Record what the CLI's ``name`` (a drawing function) returns, and the arguments it was called with."""
    calls = []
    real = getattr(cli, name)

    def spy(*args, **kwargs):
        result = real(*args, **kwargs)
        calls.append((args, kwargs, result))
        return result

    monkeypatch.setattr(cli, name, spy)
    return calls


def test_cadence_plot_shows_each_drawing_its_hold_the_pause_and_the_cut(cartoon, tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib", reason=NO_PLOT)
    drawn = _spy(monkeypatch, "plot_cadence")
    png = tmp_path / "cadence.png"
    assert cli.main(["report", str(cartoon), "--plot", str(png), "-q"]) == 0
    shown = drawn[0][2]
    assert shown.frames == range(FRAMES)
    assert shown.bars == [(start, hold, GROUPS.get(hold, "longer")) for start, hold in zip(STARTS, HOLDS)]
    assert shown.cuts == [CUT] and shown.pauses == [STARTS[4]]
    assert shown.layers == []  # the whole picture moves: no part keeps its own cadence
    assert shown.threshold == int(0.0005 * 96 * 64)
    assert f"plot: {png}: frames 0 … {FRAMES - 1}, {len(HOLDS)} drawings, 1 cut, 1 pause, 0 layer holds" in capsys.readouterr().out
    with Image.open(png) as image:
        assert image.format == "PNG" and image.size == (1200, 500)
        picture = np.asarray(image.convert("RGB")).astype(int)
    _check_cadence_picture(picture, HOLDS, CUT, pause=4)


def _runs(profile: np.ndarray, least: float) -> list[tuple[int, int]]:
    """The [begin, end) runs of indices where ``profile`` is at least ``least``."""
    runs, begin = [], None
    for i, value in enumerate([*profile, -np.inf]):
        if value >= least and begin is None:
            begin = i
        elif value < least and begin is not None:
            runs.append((begin, i))
            begin = None
    return runs


def _check_cadence_picture(picture: np.ndarray, holds: list[int], cut: int, pause: int) -> None:
    """What the cadence plot's picture shows, read from its pixels: the band of drawing bars (the rows mostly in the
    hold colours) spans the axes between its black frame lines, frame f at its share f / frames of that width; each
    frame's column is the colour of its drawing's hold group; a bar's edge (a light line through the whole band)
    stands exactly where a drawing starts; the pause's bar alone is hatched; a red line crosses the plot at the cut
    and nowhere else."""
    names = [GROUPS.get(hold, "longer") for hold in holds]
    colours = {name: np.array([int(code[i:i + 2], 16) for i in (1, 3, 5)]) for name, code in HOLD_COLOURS.items()}
    group = np.full(picture.shape[:2], "", dtype=object)
    for name, colour in colours.items():
        group[np.abs(picture - colour).sum(axis=-1) <= 6] = name
    top, bottom = max(_runs((group != "").mean(axis=1), 0.5), key=lambda run: run[1] - run[0])
    assert bottom - top > 50  # the drawings' band, not the dashed threshold line in the same orange as threes
    band = group[top:bottom]
    middle = (top + bottom) // 2
    bars = np.flatnonzero(group[middle] != "")
    dark = np.flatnonzero(picture[middle].sum(axis=-1) < 60)  # the axes' frame (and the label's letters further out)
    left, right = dark[dark < bars[0]].max(), dark[dark > bars[-1]].min()
    frames = sum(holds)

    def x(position: float) -> int:
        return round(left + position * (right - left) / frames)

    shown = [Counter(band[:, x(f + 0.5)]).most_common(1)[0][0] for f in range(frames)]
    assert shown == [name for name, hold in zip(names, holds) for _ in range(hold)]
    starts = {sum(holds[:k]) for k in range(len(holds))}
    edges = {f for f in range(1, frames)
             if max((band[:, x(f) + d] == "").mean() for d in (-1, 0, 1)) > 0.9}  # hatching crosses a column aslant
    assert edges == starts - {0}
    hatched = [(band[:, x(f) + 3:x(f + 1) - 3] == "").mean() for f in range(frames)]
    pause_frames = range(sum(holds[:pause]), sum(holds[:pause + 1]))
    assert min(hatched[f] for f in pause_frames) > 0.05
    assert max(h for f, h in enumerate(hatched) if f not in pause_frames) < 0.01
    red = ((picture[..., 0] > 200) & (picture[..., 1] < 80) & (picture[..., 2] < 80)).sum(axis=0)
    assert {i for i in np.flatnonzero(red > 100)} <= {x(cut) - 1, x(cut), x(cut) + 1} and red[x(cut) - 1:x(cut) + 2].max() > 100


@pytest.mark.parametrize("name", ["plotnoext", "plot.gif"])
def test_a_plot_name_without_a_plot_format_is_refused_before_the_analysis(cartoon, tmp_path, capsys, monkeypatch,
                                                                           name):
    """matplotlib wrote ``plotnoext.png`` while report said it wrote ``plotnoext``."""
    monkeypatch.setattr(cli, "open_video", None)  # refused first
    assert cli.main(["report", str(cartoon), "--plot", str(tmp_path / name), "-q"]) == 2
    assert f"error: --plot must end in .png, .svg, .pdf, got {name!r}" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_cadence_plot_range_in_time_or_frames_shows_only_that_span(cartoon, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib", reason=NO_PLOT)
    drawn = _spy(monkeypatch, "plot_cadence")
    png = tmp_path / "part.png"
    for span in ("0:00.5-20", "12-0:00.84", "0.5s-20"):  # 0.5 s = frame 12, 0.84 s = frame 20 at 24 fps
        assert cli.main(["report", str(cartoon), "--plot", str(png), "--range", span, "-q"]) == 0
        shown = drawn[-1][2]
        assert shown.frames == range(12, 21)
        assert [first for first, _, _ in shown.bars] == STARTS[4:]  # drawing 4 (8 … 13) reaches into the span
        assert shown.cuts == [CUT]


@pytest.mark.parametrize("span, says", [("5-2", "the span ends (frame 2) before it begins (frame 5)"),
                                        ("0:05-0:06", "0:05.00 is past the end of the clip (0:00.96)"),
                                        ("3-23", "frame 23 is past the end of the clip (23 frames")])
def test_bad_range_is_a_clear_error(cartoon, tmp_path, capsys, span, says):
    pytest.importorskip("matplotlib", reason=NO_PLOT)
    assert cli.main(["report", str(cartoon), "--plot", str(tmp_path / "p.png"), "--range", span, "-q"]) == 2
    assert f"error: --range: {says}" in capsys.readouterr().err


def test_range_needs_a_plot_and_a_span(cartoon, capsys):
    assert cli.main(["report", str(cartoon), "--range", "1-5", "-q"]) == 2
    assert "--range chooses what --plot shows" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        cli.main(["report", str(cartoon), "--range", "1:75-2:00"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "argument --range: expected a frame number (480) or a time" in err and "'1:75'" in err


@pytest.mark.parametrize("text, value, is_time", [("480", 480, False), ("1:20", 80, True),
                                                  ("0:01:20.5", Fraction(161, 2), True), ("80.5s", Fraction(161, 2), True)])
def test_positions_are_frames_or_times(text, value, is_time):
    assert cli.parse_position(text) == cli.Position(value, is_time)


@pytest.mark.parametrize("text", ["-3", "abc", "1:60", "1::2", "s", "2.5"])
def test_bad_positions_are_refused(text):
    with pytest.raises(argparse.ArgumentTypeError, match="a frame number"):
        cli.parse_position(text)


def test_preview_sheet_shows_the_drawings_then_each_output_frame(cartoon, tmp_path, capsys, monkeypatch):
    drawn = _spy(monkeypatch, "contact_sheet")
    sheet = tmp_path / "sheet.png"
    assert cli.main(["preview", str(cartoon), "--model", "blend", "--frames", "0-3", "-o", str(sheet),
                     "--columns", "4", "-q"]) == 0
    (panels, _), _, grid = drawn[0]
    # drawings 0 (frames 0-1) and 1 (2-3), then the 8 output frames at 48 fps of those 4 source frames
    assert [p.title.split(" at ")[0] for p in panels] == ["drawing 0", "drawing 1", *(f"out {j}" for j in range(8))]
    assert panels[0].lines[0] == "source 0 x2" and panels[1].lines[0] == "source 2 x2"
    ts = [p.lines[0] for p in panels[2:]]
    assert ts == ["t 0.000  0 -> 0", "t 0.250  0 -> 2", "t 0.500  0 -> 2", "t 0.750  0 -> 2",
                  "t 0.000  2 -> 2", "t 0.250  2 -> 4", "t 0.500  2 -> 4", "t 0.750  2 -> 4"]
    assert all(p.lines[1] == "holes 0.00%" for p in panels[2:])  # blend leaves no holes
    made = [p for p in panels[2:] if not p.lines[0].startswith("t 0.000")]
    assert all(p.overlays["changed"].any() and not p.overlays["changed"].all() for p in made)  # where it moved
    assert all(not p.overlays for p in panels[2:] if p.lines[0].startswith("t 0.000"))
    assert grid == (3, 4) and "2 drawings and 8 output frames in 3 × 4 panels" in capsys.readouterr().out
    with Image.open(sheet) as image:
        assert image.width == 4 + 4 * (240 + 4) and image.height > 3 * 160
        picture = np.asarray(image.convert("RGB")).astype(np.float64)
    # each panel shows its frame: found on the sheet as the blocks of picture between white gaps, 240 px wide (the
    # panels' width) in rows of 4, each compared with the truth of the clip scaled as the sheet scales it: drawings
    # 0-2 at source frames 0, 2, 4; the in-betweens blended by hand, tinted where the panel marks the change
    truth = animate(Cut(Scene(96, 64, seed=1, speed=3.0), Scene(96, 64, seed=2, speed=3.0), at=CUT), HOLDS).frames
    a, b, c = (truth[n].astype(np.float64) for n in (0, 2, 4))
    colour, strength = OVERLAY_COLOURS["changed"]
    expected = [a, b]
    for k, (left, right, t) in enumerate([(a, b, t) for t in (0, 0.25, 0.5, 0.75)] + [(b, c, t) for t in (0, 0.25, 0.5, 0.75)]):
        blend = (1 - t) * left + t * right
        changed = panels[2 + k].overlays.get("changed", np.zeros(blend.shape[:2], bool))
        blend[changed] = (1 - strength) * blend[changed] + strength * np.asarray(colour, np.float64)
        expected.append(blend)
    ink = (picture < 235).any(axis=-1)
    columns = _runs(ink.mean(axis=0), 0.5)
    rows = _runs(ink[:, columns[0][0]:columns[0][1]].mean(axis=1), 0.9)
    assert [end - begin for begin, end in columns] == [240] * 4 and [end - begin for begin, end in rows] == [160] * 3

    def scaled(image: np.ndarray) -> np.ndarray:
        small = Image.fromarray(np.rint(image).astype(np.uint8))
        return np.asarray(small.resize((240, 160), Image.Resampling.BILINEAR)).astype(np.float64)

    distances = np.array([[np.abs(picture[slice(*rows[i // 4]), slice(*columns[i % 4])] - scaled(e)).mean()
                           for e in expected] for i in range(len(panels))])
    assert distances.diagonal().max() < 0.8, distances.diagonal().round(2)  # 0.3 here
    for i, j in np.argwhere(distances > 0):  # another panel's frame (not the same picture) is far
        if np.abs(expected[i] - expected[j]).mean() > 1:
            assert distances[i, j] > 1.5, (i, j, distances[i, j])  # 1.9 or more here


def test_preview_at_a_cut_makes_no_in_between_across_it(cartoon, tmp_path, monkeypatch):
    drawn = _spy(monkeypatch, "contact_sheet")
    assert cli.main(["preview", str(cartoon), "--model", "blend", "--at", "13", "-o", str(tmp_path / "s.png"),
                     "-q"]) == 0
    panels = drawn[0][0][0]
    drawings = [p.lines[0] for p in panels if p.title.startswith("drawing")]
    assert drawings == ["source 8 x6", "source 14 x2", "source 16 x2", "source 18 x2"]  # frames 13 … 18
    pairs = [tuple(map(int, p.lines[0].split()[2::2])) for p in panels if p.title.startswith("out")]
    assert len(pairs) == 12 and all(not (left < CUT <= right) for left, right in pairs)
    assert pairs[:2] == [(8, 8), (8, 8)]  # the held drawing before the cut stays still


@pytest.mark.parametrize("argv, says", [
    (["--at", "5s"], "--at: 0:05.00 is past the end of the clip"),
    (["--at", "23"], "--at: frame 23 is past the end of the clip"),
    (["--frames", "6-4"], "--frames: the span ends (frame 4) before it begins (frame 6)"),
    (["--frames", "0-22", "--factor", "5"], "--frames: frames 0 … 22 hold 115 output frames, more than one sheet"),
])
def test_preview_outside_the_clip_is_a_clear_error(cartoon, tmp_path, capsys, argv, says):
    assert cli.main(["preview", str(cartoon), "--model", "blend", *argv, "-o", str(tmp_path / "s.png"), "-q"]) == 2
    assert f"error: {says}" in capsys.readouterr().err


def test_preview_needs_a_span_and_an_image(cartoon, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["preview", str(cartoon), "-o", str(tmp_path / "s.png")])
    assert stop.value.code == 2 and "one of the arguments --at --frames is required" in capsys.readouterr().err
    assert cli.main(["preview", str(cartoon), "--at", "0", "-o", str(tmp_path / "s.gif")]) == 2
    assert "-o/--output must end in .png" in capsys.readouterr().err


def _emitted(cartoon: Path, folder: Path, capsys) -> Path:
    script = folder / "job.vpy"
    assert cli.main(["run", str(cartoon), "--model", "blend", "--emit-vpy", str(script), "-q"]) == 0
    capsys.readouterr()
    return script


def _check_outputs() -> None:
    """The outputs the script set: the encoded output at 0 with the props of each frame, the source, the drawings."""
    outputs = vs.get_outputs()
    assert sorted(outputs) == [0, 1, 2] and SCRIPT_OUTPUTS == ("clip", "source", "drawings")
    output, source, drawings = (outputs[i].clip for i in range(3))
    assert (output.num_frames, source.num_frames, drawings.num_frames) == (2 * FRAMES, FRAMES, len(HOLDS))
    props = output.get_frame(3).props
    assert (props["AnimSplat_Left"], props["AnimSplat_Right"], props["AnimSplat_T"]) == (0, 2, 0.75)
    assert props["AnimSplat_Interpolated"] == 1 and 0 < props["AnimSplat_ChangeFraction"] < 1
    assert [drawings.get_frame(k).props["AnimSplat_SourceFrame"] for k in range(len(HOLDS))] == STARTS


def test_emitted_script_loads_as_vs_preview_loads_it(cartoon, tmp_path, capsys, monkeypatch):
    """vs-preview runs a script as the module ``__vspreview__`` with ``sys.argv`` = [its name] and its folder on
    ``sys.path``, then shows ``vs.get_outputs()``, one tab each."""
    script = _emitted(cartoon, tmp_path, capsys)
    assert f"# Preview: vspreview {script}" in script.read_text()  # absolute: it runs from any folder
    monkeypatch.setattr(sys, "argv", [script.name])
    monkeypatch.syspath_prepend(str(script.parent))
    vs.clear_outputs()
    try:
        runpy.run_path(str(script), run_name="__vspreview__")
        _check_outputs()
    finally:
        vs.clear_outputs()


def test_emitted_script_loads_with_vs_previews_own_loader(cartoon, tmp_path, capsys):
    """vs-preview's loader itself, headless: vsengine's ``vpy.load_script`` into a ``__vspreview__`` module (the
    ``vsjetengine`` package; skipped without it)."""
    vpy = pytest.importorskip("vsengine.vpy", reason="vs-preview's script loader (vsjetengine, in the test extra) is not installed")
    script = _emitted(cartoon, tmp_path, capsys)
    vs.clear_outputs()
    try:
        vpy.load_script(script, vs.get_current_environment(), module=ModuleType("__vspreview__")).result()
        _check_outputs()
    finally:
        vs.clear_outputs()


@pytest.mark.parametrize("module, argv, says", [
    ("matplotlib", ["report", "{clip}", "--plot", "{folder}/p.png"], "the cadence plot (report --plot) needs matplotlib"),
    ("PIL", ["preview", "{clip}", "--at", "0", "-o", "{folder}/s.png"], "the contact sheet (preview) needs pillow"),
])
def test_a_missing_plot_extra_says_how_to_install_it(cartoon, tmp_path, capsys, monkeypatch, module, argv, says):
    monkeypatch.setitem(sys.modules, module, None)  # import fails, as where it is not installed
    assert cli.main([a.format(clip=cartoon, folder=tmp_path) for a in argv]) == 3
    assert f"error: {says}: pip install 'vsanimsplat[plot]'" in capsys.readouterr().err


def test_preview_of_a_frame_with_one_moving_layer_lists_its_t(tmp_path, monkeypatch):
    """One shape on twos over a pan on ones: a frame between its drawings has exactly one layer in motion, whose
    ``AnimSplat_LayerT`` VapourSynth gives back as a float, not a list."""
    scene = Scene(256, 160, seed=4, shapes=1, speed=6.0, texture=0.5, pan=(1.5, 0.5))
    path = tmp_path / "layer.mkv"
    write_rgb_video(animate_layers(scene, [cadence([2], 8)], 8).frames, path, Fraction(24),
                    codec_args=("-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv444p"))
    drawn = _spy(monkeypatch, "contact_sheet")
    assert cli.main(["preview", str(path), "--model", "blend", "--frames", "0-1", "-o", str(tmp_path / "s.png"),
                     "-q"]) == 0
    layers = [p.lines[2] for p in drawn[0][0][0] if p.title.startswith("out") and len(p.lines) > 2]
    assert layers == ["layers t 0.25", "layers t 0.50", "layers t 0.75"]


def test_frames_scored_near_the_threshold_are_marked_unsure(cartoon, tmp_path, capsys, monkeypatch):
    """A score within UNSURE × the threshold either way (counts plus one) is an unsure decision: a circle on the
    plot's score line and a count in report's text."""
    assert UNSURE == 2.0
    differences = [0, 100, 30, 60, 5, 20, 13, 15]  # threshold 28: unsure from 15 to 57 changed pixels
    holds = [1, 2, 1, 2, 2, 1]
    drawings = group_drawings([0, 1, 3, 4, 6, 8], [Fraction(1, 24)] * 9, [1] * 9, list(range(9)))
    assert [d.frames for d in drawings] == holds
    cadence = Cadence(drawings, differences, 28, set(), {})
    assert cadence.unsure == [3, 6, 8]  # 30, 20 and 15 changed pixels; 13 (frame 7) and 60 (frame 4) are sure
    assert cadence_plot(cadence, range(4, 9)).unsure == [6, 8]
    pytest.importorskip("matplotlib", reason=NO_PLOT)
    drawn = _spy(monkeypatch, "plot_cadence")
    assert cli.main(["report", str(cartoon), "--plot", str(tmp_path / "cadence.png"), "-q"]) == 0
    shown = drawn[0][2]
    assert f"unsure: {len(shown.unsure)} frames score within 2× of the threshold" in capsys.readouterr().out
