"""Options of ``run``, ``report`` and ``preview`` through the command line, each on a tiny lossless clip whose answer
is known by hand (issue 33, item 8): --max-hold, --scene-threshold, --chroma, --fill-mode, --quality, .mov output,
--encoder-args with chunks, and preview's --fps, --width, --cuts, --quality and JPEG/WebP sheets.

The clips are 64×48 at 24 fps, x264 lossless 4:4:4; outputs are read with PyAV. ``blend`` is the model wherever the
option does not need another: its in-between at t is (1 - t)·A + t·B.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import pytest
from PIL import Image

from vsanimsplat import cli
from vsanimsplat.ffmpeg import write_rgb_video
from vsanimsplat.job import graph as job_graph
from vsanimsplat.models.weights import installed
from vsanimsplat.testing import Cut, Scene, animate

pytestmark = pytest.mark.slow  # each runs the command end to end (~0.5 s on a quiet machine)

LOSSLESS = ("-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv444p")
HOLD = [2, 2, 6, 2, 2]  # drawing 2 (source frames 4-9) is held 6 frames among twos: a pause by default (limit 2 × 2)
CUT = [2, 2, 2, 2, 2, 2]  # a hard cut before drawing 3 (source frame 6)
PATCH = (152, 126, 75)  # the luma of grey 128 in BT.601 and in BT.709 (to a code value), other chroma


@dataclass
class Clips:
    hold: Path
    cut: Path
    chroma: Path


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Clips:
    folder = tmp_path_factory.mktemp("features")
    hold = animate(Scene(64, 48, seed=3, speed=3.0), HOLD).frames
    write_rgb_video(hold, folder / "hold.mkv", Fraction(24), codec_args=LOSSLESS)
    cut = animate(Cut(Scene(64, 48, seed=1, speed=3.0), Scene(64, 48, seed=2, speed=3.0), at=6), CUT).frames
    write_rgb_video(cut, folder / "cut.mkv", Fraction(24), codec_args=LOSSLESS)
    chroma = [frame.copy() for frame in hold]
    for n, frame in enumerate(chroma):  # a grey patch turns brown in the middle of drawing 2's hold (frame 6)
        frame[4:20, 4:20] = PATCH if n >= 6 else (128, 128, 128)
    write_rgb_video(chroma, folder / "chroma.mkv", Fraction(24), codec_args=LOSSLESS)
    return Clips(folder / "hold.mkv", folder / "cut.mkv", folder / "chroma.mkv")


def run(capsys, *argv: object) -> tuple[int, str, str]:
    code = cli.main(["run", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def hashes(path: Path) -> list[str]:
    """The decoded pictures of a video, each as a hash."""
    with av.open(str(path)) as container:
        return [hashlib.sha256(frame.to_ndarray(format="rgb24").tobytes()).hexdigest()
                for frame in container.decode(video=0)]


def _needs(model: str) -> None:
    if set(installed()[model].values()) != {"ok"}:
        pytest.skip(f"the weights of {model!r} are not installed: python -m vsanimsplat models fetch {model}")


# --- run ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("given", "moving"), [((), 3), (("--max-hold", "5"), 3), (("--max-hold", "6"), 11),
                                                (("--max-hold", "0"), 11)])
def test_max_hold_decides_whether_a_long_hold_pauses(clips, tmp_path, capsys, given, moving):
    """At 48 fps the 6-frame hold is output frames 8-19. As a pause (longer than the limit: 2 × the local cadence 2
    by default, or --max-hold) it stays still for 9 frames and moves in the last 3 (a twos' move); as a slow move it
    changes in every frame after its first: 1 + 3 or 12 different pictures."""
    output = tmp_path / "out.mkv"
    code, _, err = run(capsys, clips.hold, "-o", output, "--model", "blend", "--codec", "ffv1", "-q", *given)
    assert code == 0, err
    pictures = hashes(output)
    assert len(pictures) == 2 * sum(HOLD)
    assert len(set(pictures[8:20])) == 1 + moving
    if moving == 3:
        assert len(set(pictures[8:17])) == 1


@pytest.mark.parametrize(("given", "crossed"), [((), False), (("--scene-threshold", "0.5"), False),
                                                 (("--scene-threshold", "1"), True)])
def test_scene_threshold_decides_whether_the_cut_is_crossed(clips, tmp_path, capsys, given, crossed):
    """The cut lies between drawing 2 (source frames 4-5, output 8-11) and 3 (frame 6, output 12): a hard cut scores
    near 1, over the default 0.4 and 0.5; 1 never cuts. Held, output frames 9-11 are frame 8's picture; crossed, each
    is an in-between of the two shots, unlike either."""
    output = tmp_path / "out.mkv"
    code, _, err = run(capsys, clips.cut, "-o", output, "--model", "blend", "--codec", "ffv1", "-q", *given)
    assert code == 0, err
    pictures = hashes(output)
    if crossed:
        assert len({pictures[8], *pictures[9:12], pictures[12]}) == 5
    else:
        assert set(pictures[9:12]) == {pictures[8]} != {pictures[12]}
    assert len(set(pictures[0:4])) == 4  # in the first shot, in-betweens either way


def test_chroma_counts_a_change_of_colour_alone(clips, tmp_path, capsys):
    """The patch changes colour, not luma, 2 frames into drawing 2's hold: a sixth drawing with --chroma only; the
    option reaches the emitted script's dedupe."""
    assert cli.main(["report", str(clips.chroma), "-q"]) == 0
    assert "drawings: 5\n" in capsys.readouterr().out
    assert cli.main(["report", str(clips.chroma), "--chroma", "-q"]) == 0
    assert "drawings: 6\n" in capsys.readouterr().out
    script = tmp_path / "job.vpy"
    code, out, err = run(capsys, clips.chroma, "--model", "blend", "--chroma", "--emit-vpy", script)
    assert code == 0, err
    assert "drawings: 6 in 14 source frames" in out and "chroma=True" in script.read_text()


def test_fill_mode_nearest_reaches_fill_holes_in_the_command_and_the_script(clips, tmp_path, capsys, monkeypatch):
    modes = []
    fill_holes = job_graph.fill_holes

    def spy(clip, **kwargs):
        modes.append(kwargs.get("mode"))
        return fill_holes(clip, **kwargs)

    monkeypatch.setattr(job_graph, "fill_holes", spy)
    script = tmp_path / "job.vpy"
    for given, mode in (((), "blend"), (("--fill-mode", "nearest"), "nearest")):
        code, _, err = run(capsys, clips.hold, "-o", tmp_path / f"{mode}.mkv", "--model", "blend", "--emit-vpy", script,
                           "-q", *given)
        assert code == 0, err
        assert modes[-1] == mode and f"vsanimsplat.fill_holes(clip, mode={mode!r})" in script.read_text()


def test_a_mov_output_is_quicktime_at_the_output_rate(clips, tmp_path, capsys):
    output = tmp_path / "smooth.mov"
    code, _, err = run(capsys, clips.hold, "-o", output, "--model", "blend", "--fps", "60", "-q")
    assert code == 0, err
    with av.open(str(output)) as container:
        assert "mov" in container.format.name.split(",")
        video = container.streams.video[0]
        assert video.codec_context.name == "h264" and Fraction(video.average_rate) == 60
        assert sum(1 for _ in container.decode(video=0)) == 35  # 14 frames at 24 fps = 35 at 60 fps


def test_encoder_args_reach_each_chunks_encode(clips, tmp_path, capsys):
    """In chunks of about 0.25 s x264 starts each chunk with a keyframe, and no other in so few frames; --encoder-args
    "-g 1" reaches every chunk's encode: every frame a keyframe."""
    keyframes = []
    for given in ((), ("--encoder-args=-g 1",)):
        output = tmp_path / f"out{len(given)}.mkv"
        code, _, err = run(capsys, clips.hold, "-o", output, "--model", "blend", "--chunk-seconds", "0.25", *given)
        assert code == 0, err
        assert "2 chunks of about 0.25 s" in err  # 28 output frames, split where a chunk can begin cleanly
        with av.open(str(output)) as container:
            keyframes.append([packet.is_keyframe for packet in container.demux(video=0) if packet.size])
    assert len(keyframes[0]) == len(keyframes[1]) == 28
    assert sum(keyframes[0]) == 2 and keyframes[0][0]
    assert all(keyframes[1])


def test_quality_fast_runs_the_fast_preset(clips, tmp_path, capsys):
    """--quality fast: rife and its mirrored run (its weights needed), in the command and the emitted script; its
    in-betweens are pictures of their own, not either drawing."""
    _needs("rife")
    output, script = tmp_path / "fast.mkv", tmp_path / "job.vpy"
    code, _, err = run(capsys, clips.cut, "-o", output, "--quality", "fast", "--codec", "ffv1", "--emit-vpy", script,
                       "-q")
    assert code == 0, err
    assert "preset='fast'" in script.read_text() and "model=" not in script.read_text()
    pictures = hashes(output)
    assert pictures[1] not in (pictures[0], pictures[2])


# --- report ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("given", "says"), [((), "1 pause"), (("--max-hold", "5"), "1 pause"),
                                              (("--max-hold", "6"), "0 pauses"), (("--max-hold", "0"), "0 pauses")])
def test_report_max_hold_counts_the_pauses(clips, tmp_path, capsys, given, says):
    assert cli.main(["report", str(clips.hold), "--plot", str(tmp_path / "plot.png"), "-q", *given]) == 0
    assert f"5 drawings, 0 cuts, {says}, 0 layer holds" in capsys.readouterr().out


# --- preview -----------------------------------------------------------------------------------------------------

def _spy_sheet(monkeypatch) -> list:
    drawn = []
    real = cli.contact_sheet

    def spy(panels, path, *args, **kwargs):
        drawn.append(panels)
        return real(panels, path, *args, **kwargs)

    monkeypatch.setattr(cli, "contact_sheet", spy)
    return drawn


def _preview(clip: Path, sheet: Path, *argv: str) -> None:
    assert cli.main(["preview", str(clip), "--frames", "0-3", "-o", str(sheet), "-q", *argv]) == 0


def test_preview_fps_makes_the_output_frames_of_that_rate(clips, tmp_path, monkeypatch):
    """At 36 fps output frame j shows source time 2j/3: j = 0 … 5 over source frames 0-3, t = 0, 1/3, 2/3 between
    drawings 0 (frames 0-1) and 1 (2-3), then between 1 and 2 (frame 4)."""
    drawn = _spy_sheet(monkeypatch)
    _preview(clips.hold, tmp_path / "s.png", "--model", "blend", "--fps", "36")
    lines = [panel.lines[0] for panel in drawn[0] if panel.title.startswith("out")]
    assert lines == ["t 0.000  0 -> 0", "t 0.333  0 -> 2", "t 0.667  0 -> 2",
                     "t 0.000  2 -> 2", "t 0.333  2 -> 4", "t 0.667  2 -> 4"]


def test_preview_width_scales_the_pictures(clips, tmp_path, monkeypatch):
    drawn = _spy_sheet(monkeypatch)
    _preview(clips.hold, tmp_path / "s.png", "--model", "blend", "--width", "32")
    assert {panel.image.shape for panel in drawn[0]} == {(24, 32, 3)}  # 64×48 at half the width


def test_preview_cuts_hold_the_drawing_before_a_listed_cut(clips, tmp_path, monkeypatch):
    drawn = _spy_sheet(monkeypatch)
    cuts = tmp_path / "cuts.txt"
    cuts.write_text("2\n")  # a new shot begins at source frame 2 (drawing 1)
    _preview(clips.hold, tmp_path / "s.png", "--model", "blend", "--cuts", str(cuts))
    lines = [panel.lines[0] for panel in drawn[0] if panel.title.startswith("out")]
    assert lines[:4] == ["t 0.000  0 -> 0"] * 4 and lines[4:] == ["t 0.000  2 -> 2", "t 0.250  2 -> 4",
                                                                  "t 0.500  2 -> 4", "t 0.750  2 -> 4"]


@pytest.mark.parametrize(("name", "kind"), [("s.jpg", "JPEG"), ("s.jpeg", "JPEG"), ("s.webp", "WEBP")])
def test_preview_writes_jpeg_and_webp_sheets(clips, tmp_path, name, kind):
    sheet = tmp_path / name
    _preview(clips.hold, sheet, "--model", "blend", "--columns", "5")
    with Image.open(sheet) as image:
        assert image.format == kind and image.width == 4 + 5 * (240 + 4)  # 2 drawings, 8 output frames


def test_preview_quality_fast_loads_the_fast_preset(clips, tmp_path, monkeypatch):
    _needs("rife")
    asked = []
    load_job_model = cli.load_job_model

    def spy(options):
        asked.append((options.preset, options.model))
        return load_job_model(options)

    monkeypatch.setattr(cli, "load_job_model", spy)
    drawn = _spy_sheet(monkeypatch)
    _preview(clips.hold, tmp_path / "s.png", "--quality", "fast")
    assert asked == [("fast", None)] and len(drawn[0]) == 2 + 8
