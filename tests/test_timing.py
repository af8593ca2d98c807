"""``vsanimsplat run`` keeps time by default: sources with gaps, rate changes and late starts come out as long as
they went in, with a flash still on its beep; constant-rate sources take the constant path.

Sources are written with PyAV at chosen timestamps (x264 64×48, AAC with a beep at the flash), and read back
with PyAV: the flash is the first frame whose mean luma is near white, the beep the first loud sample.
"""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from vsanimsplat.cli import main

WIDTH, HEIGHT = 64, 48
DARK, WHITE = 40, 220
SAMPLE_RATE = 24000
MS = Fraction(1, 1000)
VSPIPE = Path(sys.executable).with_name("vspipe")


@dataclass
class Media:
    """What a file shows: its video's start and end, the flash and the beep (seconds), and the frame duration."""

    start: float
    end: float
    flash: float
    beep: float
    frame: float


def write_source(path: Path, times: list[Fraction], end: Fraction, flash: int) -> None:
    """A video whose frame ``i`` starts at ``times[i]`` (ms steps) and the last ends at ``end``; a small square
    moves on a dark ground that turns white from frame ``flash`` on. The audio (from 0 to ``end``) is silent,
    then beeps from the flash on."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=24, options={"crf": "18"})
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.codec_context.time_base = video.time_base = MS
        audio = container.add_stream("aac", rate=SAMPLE_RATE, layout="mono")
        for i, time in enumerate(times):
            picture = np.full((HEIGHT, WIDTH, 3), WHITE if i >= flash else DARK, np.uint8)
            x = (3 * i) % (WIDTH - 8)
            picture[20:28, x:x + 8] = DARK if i >= flash else WHITE
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts, frame.time_base = int(time / MS), MS
            container.mux(video.encode(frame))
        container.mux(video.encode())
        samples = np.arange(int(end * SAMPLE_RATE))
        sound = np.where(samples >= int(times[flash] * SAMPLE_RATE),
                         0.5 * np.sin(2 * np.pi * 1000 * samples / SAMPLE_RATE), 0).astype(np.float32)
        for first in range(0, len(sound), 1024):
            frame = av.AudioFrame.from_ndarray(sound[None, first:first + 1024], format="flt", layout="mono")
            frame.sample_rate, frame.pts = SAMPLE_RATE, first
            container.mux(audio.encode(frame))
        container.mux(audio.encode())


def read_media(path: Path) -> Media:
    """The video's start, end (last frame + its duration) and flash, the first loud sample, and the median frame duration."""
    with av.open(str(path)) as container:
        stamps, flash = [], math.inf
        for frame in container.decode(video=0):
            time = float(frame.pts * frame.time_base)
            stamps.append(time)
            if time < flash and frame.to_ndarray(format="gray").mean() > DARK + 0.9 * (WHITE - DARK):
                flash = time
    with av.open(str(path)) as container:
        beep = math.inf
        for frame in container.decode(audio=0):
            loud = np.flatnonzero(np.abs(frame.to_ndarray()[0]) > 0.25)
            if len(loud):
                beep = float(frame.pts * frame.time_base) + loud[0] / frame.sample_rate
                break
    stamps.sort()
    step = float(np.median(np.diff(stamps)))
    return Media(stamps[0], stamps[-1] + step, flash, beep, step)


def run(capsys, *argv: object) -> tuple[int, str, str]:
    code = main(["run", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


sections = st.lists(st.tuples(st.sampled_from([Fraction(24), Fraction(12), Fraction(30000, 1001)]),
                              st.integers(4, 14), st.integers(0, 12)), min_size=1, max_size=3)


@pytest.mark.slow
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])  # no shrinking: each example is a whole job
@given(parts=sections, start=st.integers(0, 400), flash=st.floats(0.3, 0.7), suffix=st.sampled_from([".mkv", ".mp4"]))
def test_timing_is_kept_without_vfr(parts, start, flash, suffix, tmp_path_factory, capsys):
    """Sections at 24, 12 or 29.97 fps, each followed by a gap of up to 12 missing frames, starting up to 0.4 s
    after the audio: the output is as long as the input and its flash on its beep, each within one output frame."""
    folder = tmp_path_factory.mktemp("fuzz")
    times, time = [], Fraction(start, 1000)
    for rate, frames, missing in parts:
        times += [time + i / rate for i in range(frames)]
        time += (frames + missing) / rate
    times = [round(t / MS) * MS for t in times]
    end = times[-1] + 1 / parts[-1][0]
    source, output = folder / f"source{suffix}", folder / f"out{suffix}"
    flash = min(len(times) - 2, max(1, round(flash * len(times))))
    write_source(source, times, end, flash=flash)
    (folder / "cuts.txt").write_text(f"{flash}\n")  # a shot change: not dissolved into, so it shows at its time
    code, _, err = run(capsys, source, "-o", output, "--model", "blend", "--preset", "ultrafast", "-q",
                       "--cuts", folder / "cuts.txt")
    assert code == 0, err
    before, after = read_media(source), read_media(output)
    assert before.start == float(times[0])
    assert abs((after.end - after.start) - float(end - times[0])) <= after.frame + 1e-3, (before, after)
    assert abs((after.flash - after.beep) - (before.flash - before.beep)) <= after.frame + 1e-3, (before, after)
    assert abs(after.start - before.start) <= after.frame + 1e-3, (before, after)  # the start lands on the output's time base


def script_source_line(script: Path) -> str:
    return next(line for line in script.read_text().splitlines() if line.startswith("clip = vsanimsplat.open_video("))


def vspipe_frames(script: Path) -> int:
    info = subprocess.run([str(VSPIPE), "--info", str(script)], capture_output=True, text=True, check=True).stdout
    return int(next(line.split(":")[1] for line in info.splitlines() if line.startswith("Frames:")))


@pytest.fixture(scope="module")
def gapped(tmp_path_factory) -> Path:
    """24 fps, 20 frames shown, 6 missing after the tenth (timestamps kept): 26/24 s."""
    path = tmp_path_factory.mktemp("gapped") / "gapped.mkv"
    times = [Fraction(i, 24) for i in range(26) if not 10 <= i < 16]
    write_source(path, [round(t / MS) * MS for t in times], Fraction(26, 24), flash=12)
    return path


@pytest.mark.slow
def test_gaps_keep_their_timing_with_a_notice_and_the_script_does_the_same(gapped, tmp_path, capsys):
    output, script = tmp_path / "out.mkv", tmp_path / "job.vpy"
    code, out, err = run(capsys, gapped, "-o", output, "--model", "blend", "--emit-vpy", script, "-q")
    assert code == 0, err
    assert "note: 6 frames missing at 0.417 s; timing kept (--cfr RATE or --vfr to choose)\n" in err
    assert script_source_line(script).endswith(", vfr=True)")
    # Matroska's 1 ms times end the last frame at 1.084 s, not 26/24: 52.03 frames at 2 × 24 fps, the rate of the
    # steady sections (not 2 / 42 ms, the rounded first frame)
    assert "53 frames, 64x48 at 48 fps (1.104 s)" in out
    assert vspipe_frames(script) == 53 and "fps_num=48, fps_den=1" in script.read_text()


@pytest.mark.slow
@pytest.mark.parametrize("option", ["--cfr", "--input-fps"])
def test_cfr_forces_a_constant_rate(gapped, tmp_path, capsys, option):
    """--cfr closes the gap of 6 frames (250 ms): the frames after it, and the audio against them, move as much;
    a note says so (issue 29, item 14)."""
    script = tmp_path / "job.vpy"
    code, out, err = run(capsys, gapped, "--model", "blend", "--emit-vpy", script, option, "24")
    assert code == 0, err
    assert ("note: at a constant 24 fps, frame 10 (at 0.667 s in the file) is shown 250 ms earlier: the audio and "
            "subtitles, which keep their timestamps, drift from the picture by as much") in err
    assert script_source_line(script).endswith(", fps=Fraction(24, 1))")
    assert vspipe_frames(script) == 40  # 20 frames at 24 fps, doubled: the gap is gone
    code, out, err = run(capsys, gapped, "--model", "blend", "--emit-vpy", script, option, "24", "--duration", "0.4")
    assert code == 0 and "note:" not in err  # the frames before the gap keep their timestamps


def test_cfr_and_vfr_exclude_each_other(gapped, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit:
        run(capsys, gapped, "--emit-vpy", tmp_path / "job.vpy", "--cfr", "24", "--vfr")
    assert exit.value.code == 2 and "--vfr: not allowed with argument --cfr/--input-fps" in capsys.readouterr().err


@pytest.mark.slow
def test_a_constant_rate_source_takes_the_constant_path(video, tmp_path, capsys):
    """The conftest's x264 mkv at 24000/1001 fps (Matroska's 1 ms timestamps): read at its rate, no notice;
    --vfr still reads the timestamps."""
    path, holds = video
    script = tmp_path / "job.vpy"
    code, out, err = run(capsys, path, "--model", "blend", "--emit-vpy", script)
    assert code == 0, err
    assert "note:" not in err and script_source_line(script) == f"clip = vsanimsplat.open_video({str(path)!r})"
    assert vspipe_frames(script) == 2 * sum(holds)
    code, out, err = run(capsys, path, "--model", "blend", "--emit-vpy", script, "--vfr")
    assert code == 0 and "note:" not in err and script_source_line(script).endswith(", vfr=True)")


@pytest.mark.slow
def test_a_wrong_rate_from_bestsource_gives_way_to_the_stated_one(tmp_path, capsys):
    """A four-frame file BestSource reads at 1000 fps (its time base): the file states 24 fps, which keeps its
    frames at their timestamps, so open_video reads it at 24 fps and nothing needs saying."""
    path, script = tmp_path / "short.mkv", tmp_path / "job.vpy"
    write_source(path, [Fraction(round(i * 1000 / 24), 1000) for i in range(4)], Fraction(1, 6), flash=2)
    code, out, err = run(capsys, path, "--model", "blend", "--emit-vpy", script)
    assert code == 0, err
    assert "note:" not in err and script_source_line(script) == f"clip = vsanimsplat.open_video({str(path)!r})"
    assert vspipe_frames(script) == 8


def test_report_chooses_the_timing_as_run_does(gapped, capsys):
    assert main(["report", str(gapped), "-q"]) == 0
    captured = capsys.readouterr()
    assert "note: 6 frames missing at 0.417 s; timing kept" in captured.err
    assert "duration: 1.084 s" in captured.out  # 26/24 s in Matroska's 1 ms; 20/24 s at a constant rate


@pytest.mark.slow
def test_report_reads_at_the_cfr_rate_or_keeps_the_timestamps_with_vfr(gapped, tmp_path, capsys):
    """report --cfr 24 of the gapped source: its 20 frames at 24 fps, 0.833 s, and no gap; a constant 24 fps source
    of 14 frames (timestamps in Matroska's ms): 14/24 = 0.583 s, with --vfr its last timestamp 0.542 s plus a 42 ms
    frame = 0.584 s, with --cfr 12 twice as long."""
    assert main(["report", str(gapped), "--cfr", "24", "-q"]) == 0
    captured = capsys.readouterr()
    assert "duration: 0.833 s" in captured.out and "20 frames at 24 fps" in captured.out and "note:" not in captured.err
    constant = tmp_path / "constant.mkv"
    write_source(constant, [round(Fraction(i, 24) / MS) * MS for i in range(14)], Fraction(14, 24), flash=13)
    for options, duration in (((), "0.583"), (("--vfr",), "0.584"), (("--cfr", "12"), "1.167")):
        assert main(["report", str(constant), "-q", *options]) == 0
        assert f"duration: {duration} s\n" in capsys.readouterr().out


def test_duration_counts_the_kept_timestamps(gapped, tmp_path, capsys):
    """--duration 0.5 of the gapped source: its first ten frames end at 0.417 s, the next starts at 0.667 s."""
    script = tmp_path / "job.vpy"
    code, out, err = run(capsys, gapped, "--model", "blend", "--emit-vpy", script, "--duration", "0.5")
    assert code == 0, err
    assert "clip = core.std.Trim(clip, length=10)" in script.read_text()  # 12 frames at a constant 24 fps
