"""``vsanimsplat run`` end to end on a small generated clip with audio, subtitles and chapters.

Files are checked with PyAV (the ``av`` wheel of the test extra): a fresh machine has no ffprobe.
The cheap ``blend`` model keeps each run to a second or two; tests of the flow models skip
when their weights are not installed.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import errno
import fcntl
import importlib
import io
import json
import math
import os
import pickle
import runpy
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
import vapoursynth as vs
from PIL import Image

from vsanimsplat.cli import main, parse_fps
from vsanimsplat.ffmpeg import Encoding, encode_command, find_ffmpeg, write_rgb_video
from vsanimsplat.flo import read_flo
from vsanimsplat.metrics import psnr
from vsanimsplat.job import graph as job_graph
from vsanimsplat.job import encoder as job_encoder
from vsanimsplat.job import (EncodeError, JobOptions, Progress, Target, build_graph, chunks, encode, make_segment,
                             script_text)
from vsanimsplat.models import DEFAULT_PRESET
from vsanimsplat.models.weights import WeightsError, load_weights
from vsanimsplat.scenes import DEFAULT_SCENE_THRESHOLD
from vsanimsplat.testing import Cut, Scene, animate, animate_layers, cadence
from vsanimsplat.timestamps import SourceTiming
from tests.helpers import synthetic_clip

ROOT = Path(__file__).resolve().parents[1]
VSPIPE = Path(sys.executable).with_name("vspipe")
RATE = Fraction(24000, 1001)
HOLDS = cadence([2, 3, 2, 1, 4], 20)[:19]  # 44 frames, 1.835 s
SIZE = (160, 96)


@dataclass
class Source:
    path: Path
    frames: int
    duration: Fraction


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Source:
    """A lossless x264 mkv at 24000/1001 fps on mixed holds (so the drawings are exact), with an AAC sine,
    SRT subtitles and two chapters."""
    folder = tmp_path_factory.mktemp("source")
    animation = animate(Scene(*SIZE, seed=3, speed=3.0), HOLDS)
    duration = sum(HOLDS) / RATE
    (folder / "subs.srt").write_text("1\n00:00:00,200 --> 00:00:00,900\nhello\n\n2\n00:00:01,100 --> 00:00:01,800\nworld\n")
    (folder / "chapters.txt").write_text(
        ";FFMETADATA1\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1000\ntitle=Part A\n"
        f"[CHAPTER]\nTIMEBASE=1/1000\nSTART=1000\nEND={math.floor(duration * 1000)}\ntitle=Part B\n"
    )
    inputs = ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={float(duration)}",
              "-i", str(folder / "subs.srt"), "-f", "ffmetadata", "-i", str(folder / "chapters.txt")]
    codecs = ["-map", "0:v", "-map", "1:a", "-map", "2:s", "-map_chapters", "3", "-c:v", "libx264", "-qp", "0",
              "-pix_fmt", "yuv420p", "-c:a", "aac", "-c:s", "srt"]
    path = folder / "cartoon.mkv"
    write_rgb_video(animation.frames, path, RATE, codec_args=codecs, extra_inputs=inputs)
    return Source(path, sum(HOLDS), duration)


@dataclass
class Track:
    kind: str
    codec: str
    packets: int
    end: float  # seconds: the latest packet's pts + duration
    rate: Fraction | None  # video only
    size: tuple[int, int] | None  # video only


def probe(path: Path) -> tuple[dict[str, Track], list[tuple[float, str]]]:
    """The first video, audio and subtitle track of a media file, and its chapters (start in seconds, title)."""
    with av.open(str(path)) as container:
        streams = {}
        for stream in container.streams:
            if stream.type in ("video", "audio", "subtitle") and stream.type not in streams:
                streams[stream.type] = stream
        packets = dict.fromkeys(streams, 0)
        ends = dict.fromkeys(streams, 0.0)
        kinds = {stream.index: kind for kind, stream in streams.items()}
        for packet in container.demux(list(streams.values())):
            if packet.pts is not None:
                kind = kinds[packet.stream.index]
                packets[kind] += 1
                ends[kind] = max(ends[kind], float((packet.pts + (packet.duration or 0)) * packet.time_base))
        tracks = {}
        for kind, stream in streams.items():
            video = kind == "video"
            tracks[kind] = Track(kind, stream.codec_context.name, packets[kind], ends[kind],
                                 Fraction(stream.average_rate) if video else None,
                                 (stream.codec_context.width, stream.codec_context.height) if video else None)
        chapters = [(float(c["start"] * c["time_base"]), c["metadata"].get("title", "")) for c in container.chapters()]
    return tracks, chapters


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["run", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial" in p.name)


def test_end_to_end_keeps_audio_subtitles_and_chapters_in_sync(source, tmp_path, capsys):
    output = tmp_path / "smooth.mkv"
    code, out, err = run(capsys, source.path, "-o", output, "--model", "blend", "--fps", "60000/1001")
    assert code == 0, err
    rate = Fraction(60000, 1001)
    frames = math.ceil(source.duration * rate)
    tracks, chapters = probe(output)
    before, chapters_before = probe(source.path)
    video, audio = tracks["video"], tracks["audio"]
    assert video.codec == "h264" and video.packets == frames and video.size == SIZE
    assert abs(video.rate / rate - 1) < 1e-4  # Matroska stores times in ms
    assert abs(video.end - float(source.duration)) < float(1 / rate)
    assert audio.codec == "aac" and audio.packets == before["audio"].packets
    assert audio.end == pytest.approx(before["audio"].end, abs=1e-3)
    assert tracks["subtitle"].codec == before["subtitle"].codec == "srt" and tracks["subtitle"].packets == 2
    assert tracks["subtitle"].end == pytest.approx(before["subtitle"].end, abs=1e-3)
    assert chapters == chapters_before == [(0.0, "Part A"), (1.0, "Part B")]
    assert f"drawings: {len(HOLDS)} in {source.frames} source frames" in out
    assert f"{frames} frames, 160x96 at 60000/1001 fps" in out and "x264" in out
    assert f"encoding: {frames}/{frames} frames (100%)" in err  # plain progress lines: stderr is no terminal
    assert leftovers(tmp_path) == []


@pytest.mark.slow
def test_video_that_starts_after_its_audio_keeps_its_delay(source, tmp_path, capsys):
    """A capture whose video starts 0.5 s after its audio: the new video starts as long after the audio."""
    late = tmp_path / "late.mkv"
    subprocess.run([find_ffmpeg().path, "-v", "error", "-itsoffset", "0.5", "-i", str(source.path), "-i",
                    str(source.path), "-map", "0:v", "-map", "1:a", "-c", "copy", str(late)], check=True)
    gap = _gap(late)
    assert gap == pytest.approx(0.5 + _gap(source.path), abs=1e-3)  # the AAC's priming starts it a bit early
    for name in ("smooth.mkv", "smooth.mp4"):
        output = tmp_path / name
        code, _, err = run(capsys, late, "-o", output, "--model", "blend", "--fps", "60000/1001")
        assert code == 0, err
        assert _gap(output) == pytest.approx(gap, abs=2e-3), name
        tracks, _ = probe(output)
        assert tracks["video"].packets == math.ceil(source.duration * Fraction(60000, 1001))


def _gap(path: Path) -> float:
    """Seconds from the first audio packet to the first video frame of a file, as a player sees them."""
    with av.open(str(path)) as container:
        streams = {"video": container.streams.video[0], "audio": container.streams.audio[0]}
        kinds = {stream.index: kind for kind, stream in streams.items()}
        firsts = dict.fromkeys(streams, math.inf)
        for packet in container.demux(list(streams.values())):
            if packet.pts is not None:
                kind = kinds[packet.stream.index]
                firsts[kind] = min(firsts[kind], float(packet.pts * packet.time_base))
    return firsts["video"] - firsts["audio"]


def test_mp4_x265_by_name_seed_spellings_and_resize(source, tmp_path, capsys):
    output = tmp_path / "short.hevc.mp4"
    code, out, err = run(capsys, source.path, "-o", output, "--model", "blend", "--fps", "2", "--second", "1",
                         "--width", "80", "--threshold", "40", "--preset", "ultrafast")
    assert code == 0, err
    kept = math.ceil(RATE)  # source frames starting within the first second
    frames = math.ceil(kept / RATE * 2 * RATE)
    tracks, _ = probe(output)
    video, audio = tracks["video"], tracks["audio"]
    assert video.codec == "hevc" and video.packets == frames == 48 and video.size == (80, 48)
    assert video.rate == 2 * RATE  # MP4 keeps exact times
    assert audio.codec == "aac" and abs(audio.end - float(kept / RATE)) < 0.03  # cut at AAC-frame granularity
    assert tracks["subtitle"].codec == "mov_text"
    assert "converted to mov_text" in err and "x265" in out


def test_mp4_output_keeps_the_track_titles(source, tmp_path, capsys):
    """An audio and a subtitle track's title become their handler names, the track names MP4 players show
    (ffmpeg's MP4 muxer kept neither as a name players read; issue 29, item 14)."""
    titled = tmp_path / "titled.mkv"
    subprocess.run([find_ffmpeg().path, "-v", "error", "-i", str(source.path), "-map", "0", "-c", "copy",
                    "-metadata:s:a:0", "title=Commentary", "-metadata:s:s:0", "title=Signs & songs", str(titled)],
                   check=True)
    output = tmp_path / "titled.mp4"
    code, _, err = run(capsys, titled, "-o", output, "--model", "blend", "--duration", "1")
    assert code == 0, err
    with av.open(str(output)) as container:
        names = {stream.type: stream.metadata.get("handler_name") for stream in container.streams}
    assert names == {"video": "VideoHandler", "audio": "Commentary", "subtitle": "Signs & songs",
                     "data": "SubtitleHandler"}  # the chapters' text track


def _hashes_of_command_and_script(output: Path, script: Path) -> tuple[list[str], list[str]]:
    """framemd5 of the video the command wrote, and of ``vspipe`` on the script it emitted."""
    ffmpeg = find_ffmpeg().path
    piped = subprocess.run(f"{VSPIPE} -c y4m {script} - | {ffmpeg} -hide_banner -f yuv4mpegpipe -i - -f framemd5 -",
                           shell=True, capture_output=True, text=True, check=True)
    encoded = subprocess.run([ffmpeg, "-hide_banner", "-i", str(output), "-map", "0:v", "-f", "framemd5", "-"],
                             capture_output=True, text=True, check=True)

    def hashes(text: str) -> list[str]:
        return [line.rsplit(",", 1)[1].strip() for line in text.splitlines() if line and not line.startswith("#")]

    return hashes(encoded.stdout), hashes(piped.stdout)


@pytest.mark.slow
def test_emit_vpy_through_vspipe_gives_the_frames_of_the_command(source, tmp_path, capsys):
    output, script = tmp_path / "lossless.mkv", tmp_path / "job.vpy"
    code, _, err = run(capsys, source.path, "-o", output, "--codec", "ffv1", "--model", "blend", "--factor", "5/2",
                       "--emit-vpy", script)
    assert code == 0, err
    text = script.read_text()
    assert "vsanimsplat.dedupe(clip" in text and "factor=Fraction(5, 2)" in text and "# Encode:  vspipe -c y4m" in text
    encoded, piped = _hashes_of_command_and_script(output, script)
    assert piped == encoded
    assert len(encoded) == math.ceil(source.duration * RATE * Fraction(5, 2))
    assert len(set(encoded)) > len(HOLDS)  # in-betweens, not only the drawings


@pytest.mark.slow
def test_the_scripts_header_command_runs_from_any_folder(source, tmp_path, capsys, monkeypatch):
    """--emit-vpy into another folder, -o relative to the current one: the header's encode command, run from a third
    folder, finds the script and writes the output where the run wrote it, with the same frames."""
    (tmp_path / "work").mkdir()
    (tmp_path / "scripts").mkdir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    code, _, err = run(capsys, source.path, "-o", "clip.mkv", "--codec", "ffv1", "--model", "blend", "--duration", "0.3",
                       "--emit-vpy", "../scripts/job.vpy", "-q")
    assert code == 0, err
    output = tmp_path / "work" / "clip.mkv"
    encoded = _frames(output)
    output.unlink()
    header = (tmp_path / "scripts" / "job.vpy").read_text().splitlines()
    command = next(line for line in header if line.startswith("# Encode:  ")).removeprefix("# Encode:  ")
    path = os.pathsep.join([str(VSPIPE.parent), os.environ["PATH"]])
    subprocess.run(command, shell=True, cwd=tmp_path / "elsewhere", env={**os.environ, "PATH": path}, check=True,
                   capture_output=True)
    assert _frames(output) == encoded and list((tmp_path / "elsewhere").iterdir()) == []
    look = next(line for line in header if line.startswith("# Look:    ")).removeprefix("# Look:    ")
    info = subprocess.run(look, shell=True, cwd=tmp_path / "elsewhere", env={**os.environ, "PATH": path}, check=True,
                          capture_output=True, text=True).stdout
    assert f"Frames: {len(encoded)}\n" in info and "FPS: 48000/1001" in info and "Width: 160" in info


@pytest.mark.slow
@pytest.mark.slow
def test_the_commands_in_the_fansub_examples_comments_run(source, tmp_path):
    """The example's two commands, as its comments give them, for the episode ``source`` (and ``-a model=blend``):
    ``vspipe --info`` says the output's frames and rate; the vspipe | ffmpeg encode writes them at 59.94 fps with the
    episode's audio, subtitles and chapters copied."""
    example = ROOT / "examples" / "fansub.vpy"
    comments = [line.removeprefix("#").strip() for line in example.read_text().splitlines() if line.startswith("#   ")]
    commands = " ".join(comments).replace("\\ ", "").split("vspipe ")[1:]
    assert len(commands) == 2
    bin_folder = tmp_path / "bin"  # ffmpeg by name, as the comment calls it
    bin_folder.mkdir()
    (bin_folder / "ffmpeg").symlink_to(find_ffmpeg().path)
    env = {**os.environ, "PATH": os.pathsep.join([str(bin_folder), str(VSPIPE.parent), os.environ["PATH"]])}
    frames = math.ceil(source.duration * Fraction(60000, 1001))
    for command in commands:
        command = f"vspipe -a model=blend {command}".replace("episode.mkv", str(source.path))
        done = subprocess.run(command.replace("fansub.vpy", str(example)), shell=True, cwd=tmp_path, env=env,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        if "--info" in command:
            assert f"Frames: {frames}\n" in done.stdout and "FPS: 60000/1001" in done.stdout
    tracks, chapters = probe(tmp_path / "episode-60fps.mkv")
    before, chapters_before = probe(source.path)
    assert tracks["video"].packets == frames and abs(tracks["video"].rate / Fraction(60000, 1001) - 1) < 1e-3
    assert tracks["video"].codec == "h264" and tracks["video"].size == SIZE
    assert tracks["audio"] == before["audio"] and tracks["subtitle"] == before["subtitle"]
    assert chapters == chapters_before


@pytest.mark.slow
def test_example_fansub_script_runs_through_vspipe(source):
    example = ROOT / "examples" / "fansub.vpy"
    command = [str(VSPIPE), "-a", f"src={source.path}", "-a", "model=blend", "-c", "y4m", str(example), "-"]
    done = subprocess.run(command, capture_output=True, check=True)
    header, _, body = done.stdout.partition(b"\n")
    fields = dict((f[:1], f[1:]) for f in header.decode().split()[1:])
    assert (fields["W"], fields["H"], fields["F"]) == ("160", "96", "60000:1001")
    frames = body.count(b"FRAME\n")
    assert frames == math.ceil(source.duration * Fraction(60000, 1001))
    assert len(body) == frames * (len(b"FRAME\n") + 160 * 96 * 3 // 2)


def _weights(name: str) -> None:
    try:
        load_weights(name)
    except WeightsError as missing:
        pytest.skip(f"needs the weights of model {name!r} ({missing})")


@pytest.mark.slow
def test_flow_is_the_motion_of_the_first_pair_of_drawings(tmp_path, capsys):
    """A smooth texture moving (16, -8) px per drawing, on twos: the .flo holds that motion (4-20 s on 2 shared cores).

    The splat and GMFSS models run GMFlow at half resolution, and GMFlow as published matches at
    1/4 of that: whole-cell shifts (multiples of 8 px here) at 192+ half-resolution rows come out
    within a fraction of a pixel (see tests/test_nets_gmflow.py), other shifts quantised."""
    _weights("splat")
    width, height, (dx, dy), margin = 384, 384, (16, -8), 64
    rng = np.random.default_rng(1)
    cells = rng.integers(0, 256, size=((height + 2 * margin) // 8, (width + 4 * margin) // 8, 3), dtype=np.uint8)
    big = np.asarray(Image.fromarray(cells).resize((width + 4 * margin, height + 2 * margin), Image.BICUBIC))
    drawings = [big[margin - k * dy:margin - k * dy + height, 2 * margin - k * dx:2 * margin - k * dx + width]
                for k in range(3)]  # drawing k shows the texture moved by k × (dx, dy)
    video = tmp_path / "texture.mkv"
    write_rgb_video([d for d in drawings for _ in range(2)], video, RATE,
                    codec_args=("-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv444p"))
    flow_path = tmp_path / "first.flo"
    code, out, err = run(capsys, video, "--model", "splat", "--flow", flow_path, "--emit-vpy", tmp_path / "job.vpy")
    assert code == 0, err
    assert "drawings: 3 in 6 source frames" in out
    flow = read_flo(flow_path)
    assert flow.shape == (height, width, 2)
    inner = flow[32:-32, 32:-32]
    assert np.abs(inner.mean(axis=(0, 1)) - (dx, dy)).max() < 0.5
    assert (np.hypot(*(inner - (dx, dy)).transpose(2, 0, 1)) < 1.0).mean() > 0.9


@pytest.mark.slow
def test_default_preset_end_to_end_computes_what_its_script_computes(source, tmp_path, capsys):
    """The default preset on half a second: the in-betweens, and the emitted script, run by vspipe, gives
    the same frames bit for bit (same precision, flow scale and device as the command; ~30 s on 2 cores)."""
    _weights("union")
    output, script = tmp_path / "union.mkv", tmp_path / "union.vpy"
    code, out, err = run(capsys, source.path, "-o", output, "--codec", "ffv1", "--duration", "0.5", "-q",
                         "--emit-vpy", script)
    assert code == 0, err
    kept = math.ceil(RATE / 2)
    tracks, _ = probe(output)
    assert tracks["video"].packets == 2 * kept and "audio" in tracks
    assert abs(tracks["video"].rate / (2 * RATE) - 1) < 1e-3  # Matroska's millisecond timestamps
    assert f"preset={DEFAULT_PRESET!r}" in script.read_text() and "model=" not in script.read_text()
    encoded, piped = _hashes_of_command_and_script(output, script)
    assert piped == encoded
    # the in-betweens are made, at their true times: nearer the scene at that time than the drawing on screen then
    animation = animate(Scene(*SIZE, seed=3, speed=3.0), HOLDS)
    with av.open(str(output)) as container:
        pictures = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    last = max(s for s in animation.starts if s < kept)  # held to the end of the half second: no next drawing
    gains = []
    for n, picture in enumerate(pictures):
        t = n / 2  # in source frames
        if t not in animation.starts and t < last:
            gains.append(psnr(picture, animation.truth(t)) - psnr(picture, animation.frames[int(t)]))
    assert len(gains) >= 10 and min(gains) > 0 and np.mean(gains) > 3, [round(g, 1) for g in gains]


@pytest.mark.slow
def test_precision_and_flow_scale_reach_the_model_and_the_script(source, tmp_path, capsys, monkeypatch):
    """--bf16/--no-bf16, --no-fp16 and --flow-scale: the command's model and the emitted script get the same settings;
    without them both leave the choice to the registry (bfloat16 for union on a CPU with native bfloat16); --cache-mb
    and --num-streams reach the script."""
    _weights("union")
    from vsanimsplat.job import JobOptions, load_job_model
    from vsanimsplat.models import ModelOptions, registry

    def union(**options: object):  # the default preset's union run
        return load_job_model(JobOptions(source.path, model_options=ModelOptions(**options))).runs[0].model

    monkeypatch.setattr(registry, "native_bf16", lambda: True)  # as on a CPU with AVX-512 BF16
    assert union(device="cpu").dtype == torch.bfloat16
    assert union(device="cpu", bf16=False).dtype == torch.float32
    model = union(device="cpu", flow_scale=0.5)
    assert model.flow_scale == 0.5 and model.dtype == torch.bfloat16
    monkeypatch.setattr(registry, "native_bf16", lambda: False)
    assert union(device="cpu").dtype == torch.float32
    script = tmp_path / "job.vpy"
    code, _, err = run(capsys, source.path, "--no-bf16", "--no-fp16", "--flow-scale", "0.5", "--emit-vpy", script)
    assert code == 0, err
    assert "bf16=False" in script.read_text() and "flow_scale=0.5" in script.read_text()
    assert "fp16=False" in script.read_text()
    code, _, err = run(capsys, source.path, "--bf16", "--cache-mb", "512", "--num-streams", "3", "--emit-vpy", script)
    assert code == 0 and "bf16=True" in script.read_text() and "flow_scale=" not in script.read_text()
    assert "cache_mb=512" in script.read_text() and "num_streams=3" in script.read_text()
    with pytest.raises(SystemExit):
        run(capsys, source.path, "--num-streams", "0", "--emit-vpy", script)
    assert "argument --num-streams: expected a number ≥ 1 (e.g. 2), got '0'" in capsys.readouterr().err
    code, _, err = run(capsys, source.path, "--model", "rife", "--flow-scale", "0.5", "--emit-vpy", script)
    assert code == 2 and "error: --flow-scale: flow_scale applies to the models 'union', 'base'" in err
    with pytest.raises(SystemExit):
        run(capsys, source.path, "--flow-scale", "0.3", "--emit-vpy", script)


@pytest.mark.slow
def test_seed_script_is_a_thin_wrapper(source, tmp_path):
    output = tmp_path / "seed.mkv"
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "run.py"), "--video", str(source.path),
                           "--fps", "3", "--second", "0.5", "--width", "80", "--height", "48", "--threshold", "40",
                           "--model", "blend", "-o", str(output), "-q"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    tracks, _ = probe(output)
    kept = math.ceil(RATE / 2)
    assert tracks["video"].packets == 3 * kept and tracks["video"].size == (80, 48)
    assert abs(tracks["video"].rate / (3 * RATE) - 1) < 1e-4


# --- failures: each a clear message, a documented exit code, and no output file ---


def test_missing_input(tmp_path, capsys):
    code, _, err = run(capsys, tmp_path / "nope.mkv", "-o", tmp_path / "out.mkv")
    assert code == 2 and "input file not found" in err and not (tmp_path / "out.mkv").exists()


def test_unreadable_input(tmp_path, capsys):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    code, _, err = run(capsys, junk, "-o", tmp_path / "out.mkv", "--model", "blend")
    assert code == 2 and "cannot read" in err and str(junk) in err
    assert not (tmp_path / "out.mkv").exists()


def test_missing_output_directory(source, tmp_path, capsys):
    code, _, err = run(capsys, source.path, "-o", tmp_path / "no" / "such" / "out.mkv", "--model", "blend")
    assert code == 2 and "output directory does not exist" in err
    for option in ("--emit-vpy", "--flow"):  # refused up front too, before any work
        code, _, err = run(capsys, source.path, "-o", tmp_path / "out.mkv", "--model", "blend", option,
                           tmp_path / "no" / "such.file")
        assert code == 2 and f"{option}: directory does not exist" in err and not (tmp_path / "out.mkv").exists()


def test_file_error_while_working_is_a_failure_not_bad_arguments(source, tmp_path, capsys, monkeypatch):
    output = tmp_path / "out.mkv"

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(output))

    monkeypatch.setattr("vsanimsplat.job.run.encode", disk_full)
    code, out, err = run(capsys, source.path, "-o", output, "--model", "blend", "--duration", "0.3", "-q")
    assert code == 1 and out == ""
    assert err == f"error: {os.strerror(errno.ENOSPC)}: {output}\n"  # one line, naming the cause and the file


@pytest.mark.slow
def test_duration_cuts_the_chapters_too(source, tmp_path, capsys):
    """--duration 1.2 of a clip with chapters at 0-1.0 s and 1.0-1.835 s: the second ends with the video."""
    output = tmp_path / "cut.mkv"
    code, _, err = run(capsys, source.path, "-o", output, "--model", "blend", "--duration", "1.2", "-q")
    assert code == 0, err
    with av.open(str(output)) as container:
        chapters = [(round(float(c["start"] * c["time_base"]), 3), round(float(c["end"] * c["time_base"]), 3),
                     c["metadata"]["title"]) for c in container.chapters()]
    video = probe(output)[0]["video"]  # 29 frames: 1.2096 s, to Matroska's milliseconds
    assert chapters == [(0.0, 1.0, "Part A"), (1.0, pytest.approx(video.end, abs=0.002), "Part B")]
    assert 1.2 <= video.end < 1.25


@pytest.mark.parametrize("make, says", [
    (lambda output, source: output.mkdir(), "-o/--output {output} is a directory; give the video file to write"),
    (lambda output, source: output.hardlink_to(source), "output {output} is the input file"),
    (lambda output, source: output.symlink_to(source), "output {output} is the input file"),
])
def test_an_output_that_is_a_folder_or_the_input_is_refused_before_any_work(source, tmp_path, capsys, monkeypatch,
                                                                            make, says):
    """Even with --overwrite: a folder named like a video (found after the encode before), the input under another
    name, by a hard link (not recognised before) or a symlink."""
    output = tmp_path / "out.mkv"
    make(output, source.path)
    monkeypatch.setattr(job_graph, "dedupe", None)  # refused before the analysis
    code, _, err = run(capsys, source.path, "-o", output, "--model", "blend", "--overwrite")
    assert code == 2 and f"error: {says.format(output=output)}" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mkv"] and probe(source.path)[0]["video"].packets


@pytest.mark.parametrize("option", ["--duration", "--chunk-seconds"])
def test_a_bad_number_of_seconds_is_explained_with_seconds(source, tmp_path, capsys, option):
    with pytest.raises(SystemExit) as stop:
        run(capsys, source.path, "-o", tmp_path / "out.mkv", option, "0")
    assert stop.value.code == 2
    assert ": expected a number > 0 (e.g. 90, 1.5 or 3/2), got '0'" in capsys.readouterr().err  # not a frame rate


def test_a_fifo_input_is_named_as_such(tmp_path, capsys):
    fifo = tmp_path / "in.mkv"
    os.mkfifo(fifo)
    code, _, err = run(capsys, fifo, "-o", tmp_path / "out.mkv", "--model", "blend")
    assert code == 2 and err == f"error: input is not a regular file (a pipe or a device: the source and ffmpeg must " \
                                f"seek in it): {fifo}\n"


def test_existing_output_needs_overwrite(source, tmp_path, capsys):
    output = tmp_path / "out.mkv"
    output.write_bytes(b"keep me")
    code, _, err = run(capsys, source.path, "-o", output, "--model", "blend")
    assert code == 2 and "--overwrite" in err and output.read_bytes() == b"keep me"
    code, _, err = run(capsys, source.path, "-o", output, "--model", "blend", "--overwrite", "--duration", "0.3")
    assert code == 0, err
    assert probe(output)[0]["video"].packets > 0


def test_bad_option_values(source, tmp_path, capsys):
    for argv in (["--fps", "0"], ["--factor", "1"], ["--crf", "60"], ["--preset", "fastest"], ["--width", "-4"]):
        with pytest.raises(SystemExit) as exit_:
            main(["run", str(source.path), "-o", str(tmp_path / "out.mkv"), *argv])
        assert exit_.value.code == 2
        assert argv[0] in capsys.readouterr().err
    code, _, err = run(capsys, source.path, "-o", tmp_path / "out.mp4", "--codec", "ffv1", "--model", "blend")
    assert code == 2 and "cannot hold ffv1" in err
    code, _, err = run(capsys, source.path, "-o", tmp_path / "out.avi", "--model", "blend")
    assert code == 2 and ".mkv, .mp4, .mov" in err
    code, _, err = run(capsys, source.path, "--model", "blend", "--flow", tmp_path / "f.flo", "--emit-vpy",
                       tmp_path / "job.vpy")
    assert code == 2 and "--flow needs a model that estimates optical flow" in err


@pytest.mark.parametrize("fps", ["12", "24000/1001"])
def test_fps_not_above_the_source_rate_is_refused_before_the_analysis(source, tmp_path, capsys, monkeypatch, fps):
    """--fps must raise the rate, as --factor > 1 does: said with the source's rate, before dedupe reads the file."""
    monkeypatch.setattr(job_graph, "dedupe", None)  # the check comes first: the analysis is never reached
    code, _, err = run(capsys, source.path, "-o", tmp_path / "out.mkv", "--model", "blend", "--fps", fps)
    assert code == 2
    assert f"error: --fps {Fraction(fps)} must be above the source's rate 24000/1001 fps" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fps, says", [
    ("1e12", "error: --fps 1000000000000 must be above the source's rate 24000/1001 fps (run raises the rate, "
             "as --factor > 1 does; it does not drop frames) and at most 16 × it (384000/1001 fps)"),
    ("400", "error: --fps 400 must be above the source's rate 24000/1001 fps"),
])
def test_a_rate_above_16_times_the_source_is_refused_before_the_analysis(source, tmp_path, capsys, monkeypatch,
                                                                          fps, says):
    """--fps is bounded by MAX_RATE_FACTOR: a clear error at once, never hours of "finding drawings"."""
    monkeypatch.setattr(job_graph, "dedupe", None)  # the check comes first: the analysis is never reached
    code, _, err = run(capsys, source.path, "-o", tmp_path / "out.mkv", "--model", "blend", "--fps", fps)
    assert code == 2 and says in err and "and at most 16 × it (384000/1001 fps)" in err
    assert list(tmp_path.iterdir()) == []


def test_a_factor_above_16_is_a_usage_error(source, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        run(capsys, source.path, "-o", tmp_path / "out.mkv", "--model", "blend", "--factor", "17")
    assert stop.value.code == 2
    assert "argument --factor: expected a number > 1 and ≤ 16 (e.g. 2, 2.5 or 5/2), got '17'" in capsys.readouterr().err


def test_a_rate_beyond_the_containers_timestamps_is_refused(tmp_path, capsys):
    """--factor 10 of a 120 fps clip (1200 fps, within MAX_RATE_FACTOR) in .mkv would give some frames one millisecond
    timestamp: refused, nothing written."""
    fast = tmp_path / "fast.mkv"
    write_rgb_video(animate(Scene(64, 48, seed=1), [1, 1, 1, 1]).frames, fast, Fraction(120))
    code, _, err = run(capsys, fast, "-o", tmp_path / "out.mkv", "--model", "blend", "--factor", "10")
    assert code == 2
    assert "error: a .mkv file stores timestamps in 1/1000 s, so it cannot hold 1200 (1200) frames" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fast.mkv"]


def test_paths_are_checked_before_any_work(source, tmp_path, capsys, monkeypatch):
    """A directory as input is named as one; an output or --timecodes where no file can be made (a missing
    folder, /proc, which even root cannot write) is exit 2 up front, not errno after the analysis."""
    monkeypatch.setattr(job_graph, "dedupe", None)  # nothing gets as far as the analysis
    code, _, err = run(capsys, tmp_path, "-o", tmp_path / "out.mkv")
    assert code == 2 and f"error: input is a directory, not a video file: {tmp_path}" in err
    code, _, err = run(capsys, source.path, "-o", "/proc/x.mkv", "--model", "blend")
    assert code == 2 and "error: output directory is not writable (" in err and err.rstrip().endswith(": /proc")
    code, _, err = run(capsys, source.path, "--emit-vpy", "/proc/job.vpy", "--model", "blend")
    assert code == 2 and "error: --emit-vpy: directory is not writable (" in err
    assert main(["report", str(tmp_path), "-q"]) == 2
    assert f"input is a directory, not a video file: {tmp_path}" in capsys.readouterr().err
    monkeypatch.setattr("vsanimsplat.cli.open_video", None)
    for folder, problem in ((tmp_path / "no", "does not exist"), (Path("/proc"), "is not writable (")):
        assert main(["report", str(source.path), "--timecodes", str(folder / "tc.txt"), "-q"]) == 2
        assert f"error: --timecodes: directory {problem}" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_summary_gives_the_size_written_after_the_encoder_args(source, tmp_path, capsys):
    output = tmp_path / "small.mkv"
    code, out, err = run(capsys, source.path, "-o", output, "--model", "blend", "--duration", "0.2", "-q",
                         "--encoder-args=-vf scale=80:48")
    assert code == 0, err
    assert f"written:  {output}: 10 frames, 80x48 at 48000/1001 fps" in out
    assert probe(output)[0]["video"].size == (80, 48)


@pytest.mark.slow
def test_summary_gives_the_frames_written_after_the_encoder_args(source, tmp_path, capsys):
    """--encoder-args "-t 1" cuts the output to 1 s: the summary says the 48 frames written, not the 88 made."""
    output = tmp_path / "cut.mkv"
    code, out, err = run(capsys, source.path, "-o", output, "--model", "blend", "-q", "--encoder-args=-t 1")
    assert code == 0, err
    frames = probe(output)[0]["video"].packets
    assert frames == 48 and f"written:  {output}: 48 frames, 160x96 at 48000/1001 fps (1.001 s)" in out


@pytest.mark.slow
@pytest.mark.parametrize("given, size, audio", [("-vf scale=80:48", (80, 48), True), ("-an", (160, 96), False)])
def test_encoder_args_that_begin_like_an_option_are_its_value(source, tmp_path, capsys, given, size, audio):
    """--encoder-args "-vf …" (the README's example) and "-an" as separate words: argparse took them for options
    (-v as --verbose); they are the value of --encoder-args, as with --encoder-args=…"""
    output = tmp_path / "out.mkv"
    code, out, err = run(capsys, source.path, "-o", output, "--model", "blend", "--duration", "0.2", "-q",
                         "--encoder-args", given)
    assert code == 0, err
    tracks, _ = probe(output)
    assert tracks["video"].size == size and ("audio" in tracks) == audio


def test_ffmpeg_missing(source, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no ffmpeg on PATH …
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", str(tmp_path / "no-ffmpeg"))  # … nor from imageio-ffmpeg
    code, _, err = run(capsys, source.path, "-o", tmp_path / "out.mkv", "--model", "blend")
    assert code == 3 and "no usable ffmpeg" in err and "pip install imageio-ffmpeg" in err
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert "no usable ffmpeg" in capsys.readouterr().out


def test_ffmpeg_failing_shows_its_messages(source, tmp_path, capsys):
    output = tmp_path / "out.mkv"
    code, _, err = run(capsys, source.path, "-o", output, "--model", "blend", "--encoder-args", "-pix_fmt nosuchformat")
    assert code == 1 and "ffmpeg failed" in err and "nosuchformat" in err
    assert not output.exists() and leftovers(tmp_path) == []


def test_missing_weights_name_the_fetch_command(source, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("VSANIMSPLAT_MODEL_DIR", str(tmp_path / "empty"))
    code, _, err = run(capsys, source.path, "-o", tmp_path / "out.mkv", "--model", "splat")
    assert code == 3 and "models fetch splat" in err and not (tmp_path / "out.mkv").exists()


@pytest.mark.parametrize(("kind", "args", "code", "says"), [
    ("WeightsError", ("fetch it",), 3, "error: fetch it"),
    ("DeviceOutOfMemory", ("out of memory on cuda:0",), 1, "error: out of memory on cuda:0"),
    ("DeviceError", ("CUDA is not available",), 2, "error: CUDA is not available"),
    ("BadOption", ("run", "static_tolerance", "static_tolerance must be …"), 2,
     "error: --static-tolerance: static_tolerance must be …"),
    ("BadOption", ("run", "regions", "regions need …"), 2, "error: --no-regions: regions need …"),
    ("BadOption", ("run", "preset", "preset must be …"), 2, "error: --quality: preset must be …"),
    ("BadOption", ("interpolate", "factor", "factor must be …"), 2, "error: vsanimsplat.interpolate: factor must be …"),
])
def test_each_kind_of_error_has_its_exit_code(source, tmp_path, capsys, monkeypatch, kind, args, code, says):
    """The kinds of vsanimsplat.errors map to the exit codes in one place, a bad model option by its flag."""
    from vsanimsplat import engine, errors
    from vsanimsplat.job import run as job_run

    def refuse(options: JobOptions):
        raise (getattr(errors, kind, None) or getattr(engine, kind))(*args)

    monkeypatch.setattr(job_run, "load_job_model", refuse)
    got, _, err = run(capsys, source.path, "-o", tmp_path / "out.mkv", "--model", "blend")
    assert (got, err.strip()) == (code, says) and not (tmp_path / "out.mkv").exists()


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc: psutil is not a dependency)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def _slow_ffmpeg(folder: Path) -> dict[str, str]:
    """An environment whose ffmpeg is the real one reading its input at the native frame rate (``-re``), so
    an encode of the source lasts about two seconds; each ffmpeg adds its niceness as a line to ``folder/niceness``.
    While ``folder/gate`` exists (:func:`_stop_after`), an ffmpeg started waits before it begins (a minute at most:
    one a killed job's worker left behind ends)."""
    wrapper = folder / "bin" / "ffmpeg"
    wrapper.parent.mkdir()
    gate = folder / "gate"
    wrapper.write_text(f"#!/bin/sh\nnice >> {folder / 'niceness'}\nn=0; while [ -e '{gate}' ] && [ $n -lt 1200 ]; do sleep 0.05; n=$((n+1)); done\n"
                       f"exec {find_ffmpeg().path} -re \"$@\"\n")
    wrapper.chmod(0o755)
    return {**os.environ, "PATH": f"{wrapper.parent}{os.pathsep}{os.environ['PATH']}"}


def _stop_after(chunks: int, process: subprocess.Popen, manifest: Path, folder: Path) -> None:
    """Wait until a job run with :func:`_slow_ffmpeg` (``folder``) has recorded ``chunks`` chunks in ``manifest``,
    then close the gate: the ffmpeg of any later chunk waits, so the job makes at most the chunks already begun
    whatever the machine's load. The job's start-up (Python, the analysis, Ray) is waited for without a deadline
    of its own beyond 10 minutes; the chunks then have 2 minutes."""
    done: dict = {}
    deadline = time.monotonic() + 600
    while not manifest.is_file() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    deadline = time.monotonic() + 120  # from the first chunk on
    while len(done) < chunks and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
        with contextlib.suppress(OSError, ValueError):
            done = json.loads(manifest.read_text())["done"]
    (folder / "gate").touch()
    assert len(done) >= chunks, f"the job recorded {len(done)} chunks, not {chunks} (exit {process.poll()})"


def _default_stop_signals() -> None:
    """In the child: SIGINT and SIGHUP as in a terminal, even where the tests run with them ignored (a background
    ``nohup`` job), whose children would keep ignoring them, as the job means to (:mod:`vsanimsplat.job.encoder`)."""
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


def _start_encoding(source: Source, output: Path, env: dict[str, str], **popen) -> subprocess.Popen:
    """``python -m vsanimsplat run`` in its own process group, returned once its partial file exists."""
    process = subprocess.Popen([sys.executable, "-m", "vsanimsplat", "run", str(source.path), "-o", str(output),
                                "--model", "blend", "-v"], env=env, stderr=subprocess.PIPE, text=True,
                               process_group=0, **{"preexec_fn": _default_stop_signals, **popen})
    deadline = time.monotonic() + 60
    while not leftovers(output.parent) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert leftovers(output.parent), "the encode never started"
    return process


@pytest.mark.slow
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_interrupt_leaves_no_file_and_no_ffmpeg(source, tmp_path, signum, code):
    """Ctrl-C, a kill or a closed terminal while encoding: exit 128 + the signal, ffmpeg ended, and neither
    the output nor its temporary file is left.

    The encode lasts about two seconds (:func:`_slow_ffmpeg`), so the signal lands in the middle. Ctrl-C
    reaches the terminal's foreground process group; SIGTERM and SIGHUP are sent to the process
    alone, as a job scheduler's kill does (ffmpeg, in its own process group, would not get them).
    """
    output = tmp_path / "out.mkv"
    process = _start_encoding(source, output, _slow_ffmpeg(tmp_path))
    encoders = _children(process.pid)
    assert encoders, "no ffmpeg process"
    if signum == signal.SIGINT:
        os.killpg(process.pid, signum)  # what Ctrl-C sends to the terminal's foreground process group
    else:
        os.kill(process.pid, signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert f"interrupted by {signal.Signals(signum).name}" in err and f"from PATH ({tmp_path / 'bin'}" in err
    assert not output.exists() and leftovers(tmp_path) == []
    assert not [pid for pid in encoders if Path(f"/proc/{pid}").exists()], "ffmpeg still runs"


@pytest.mark.slow
def test_an_ignored_hangup_stays_ignored(source, tmp_path):
    """Under ``nohup`` (SIGHUP ignored) a closed terminal does not end the job: it finishes its file."""
    output = tmp_path / "out.mkv"
    process = _start_encoding(source, output, _slow_ffmpeg(tmp_path),
                              preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    os.kill(process.pid, signal.SIGHUP)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert output.exists() and leftovers(tmp_path) == []


def test_stale_partials_of_a_killed_run_are_removed_and_a_running_ones_kept(source, tmp_path, capsys):
    """A partial nobody holds (its run was killed) is removed, with a note; one that a running job holds
    locked is kept, as are other outputs' partials."""
    output = tmp_path / "out.mkv"
    stale = tmp_path / ".out.0123abcd.partial.mkv"
    running = tmp_path / ".out.89abcdef.partial.mkv"
    other = tmp_path / ".other.0123abcd.partial.mkv"
    for path in (stale, running, other):
        path.write_bytes(b"half an episode")
    with open(running, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        code, out, err = run(capsys, source.path, "-o", output, "--model", "blend", "--duration", "0.2")
    assert code == 0, err
    assert f"removed 1 temporary file(s) that a killed run of {output} left: {stale.name}" in err
    assert leftovers(tmp_path) == sorted([running.name, other.name]) and output.exists()


# --- pieces: the --fps spelling, progress lines, turning steps off ---


@pytest.mark.parametrize("text, value, is_rate", [("3", 3, False), ("2.5", Fraction(5, 2), False), ("8", 8, False),
                                                  ("9", 9, True), ("60", 60, True), ("24/1", 24, True),
                                                  ("60000/1001", Fraction(60000, 1001), True)])
def test_fps_is_a_factor_when_small_and_without_a_slash(text, value, is_rate, capsys):
    assert parse_fps(text) == Target(Fraction(value), is_rate)
    warning = capsys.readouterr().err
    if is_rate:
        assert warning == ""
    else:  # the alias is said, with both unambiguous spellings
        assert f"--fps {text} is read as a factor" in warning
        assert f"--factor {text}" in warning and f"--fps {text}/1" in warning


@pytest.mark.parametrize("text", ["1", "0", "-3", "0/1", "fast", "1/0"])
def test_fps_refuses_what_cannot_raise_the_rate(text):
    with pytest.raises(argparse.ArgumentTypeError):
        parse_fps(text)


class _Log(io.StringIO):
    def isatty(self) -> bool:
        return False


def test_progress_prints_plain_lines_every_interval_and_at_the_end():
    log = _Log()
    progress = Progress("encoding", stream=log, interval=3600)
    for done in range(1, 11):
        progress.update(done, 10)
    lines = log.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("encoding: 10/10 frames (100%), ")
    every = _Log()
    progress = Progress("encoding", stream=every, interval=0)
    for done in range(1, 4):
        progress.update(done, 3)
    assert len(every.getvalue().splitlines()) == 3
    silent = _Log()
    Progress("encoding", stream=silent, enabled=False).update(3, 3)
    assert silent.getvalue() == ""


def test_progress_line_has_rate_and_eta():
    progress = Progress("encoding", stream=_Log())
    assert progress.line(30, 120, 10.0) == "encoding: 30/120 frames (25%), 3.00 fps, ETA 0:30"
    assert progress.line(1, 7202, 1.0) == "encoding: 1/7202 frames (0%), 1.00 fps, ETA 2:00:01"
    assert progress.line(0, 10, 0.0).endswith("0.00 fps, ETA ?")


def test_progress_of_chunks_counts_the_whole_job_and_the_rate_of_this_run():
    """A chunk's frames count after those counted before, whichever frames it holds; frames an earlier run made
    count as done, not in the rate."""
    log = _Log()
    progress = Progress("encoding", stream=log, interval=3600)
    progress.skip(60)  # say frames 0-39 and 80-99: an earlier run made chunks 0 and 2
    progress.part(120)
    progress.update(20, 20)  # chunk 3, frames 100-119
    assert log.getvalue() == ""
    progress.part(120)
    progress.update(40, 40)  # chunk 1, frames 40-79: the job's last frame
    assert log.getvalue().startswith("encoding: 120/120 frames (100%)")
    assert progress.line(100, 120, 10.0) == "encoding: 100/120 frames (83%), 4.00 fps, ETA 0:05"


@pytest.mark.slow
def test_cut_list_reaches_the_graph_and_the_script(source, tmp_path, capsys):
    """--cuts FILE: the emitted script passes the file to interpolate, and its clip holds the drawing before the cut."""
    starts = [sum(HOLDS[:k]) for k in range(len(HOLDS))]
    cuts, script = tmp_path / "cuts.txt", tmp_path / "job.vpy"
    cuts.write_text(f"# shot starts\n{starts[2]}\n")
    code, _, err = run(capsys, source.path, "--model", "blend", "--cuts", cuts, "--emit-vpy", script)
    assert code == 0, err
    assert f"cuts={str(cuts.resolve())!r}" in script.read_text()
    vs.clear_outputs()
    try:
        runpy.run_path(str(script))
        steps = [(f.props["AnimSplat_Left"], f.props["AnimSplat_Interpolated"])
                 for f in vs.get_output(0).clip.frames(close=True)]
    finally:
        vs.clear_outputs()
    moving = {left for left, interpolated in steps if interpolated}
    assert starts[1] not in moving and {starts[0], starts[2]} <= moving
    cuts.write_text("twelve\n")
    code, _, err = run(capsys, source.path, "--model", "blend", "--cuts", cuts, "--emit-vpy", script)
    assert code == 2 and "cuts:" in err and "line 1" in err


@pytest.mark.slow
def test_steps_turned_off_and_rgb_input(tmp_path, capsys):
    """--no-dedupe and --no-fill leave their lines out of the graph; RGB is interpolated as RGB, encoded as YUV 4:2:0
    for x264 (what players decode) with a warning saying so, as YUV 4:4:4 for the lossless FFV1."""
    animation = animate(Scene(*SIZE, seed=4), [2, 2, 2])
    video = tmp_path / "rgb.mkv"
    write_rgb_video(animation.frames, video, RATE, codec_args=("-c:v", "ffv1", "-pix_fmt", "gbrp"))
    script, output = tmp_path / "job.vpy", tmp_path / "out.mkv"
    code, out, err = run(capsys, video, "-o", output, "--no-dedupe", "--model", "blend", "--emit-vpy", script)
    assert code == 0, err
    lines = [line for line in script.read_text().splitlines() if line.startswith("clip = ")]
    assert [line.split("(")[0] for line in lines] == [
        "clip = vsanimsplat.open_video", "clip = vsanimsplat.interpolate", "clip = vsanimsplat.fill_holes",
        "clip = core.resize.Bicubic"]
    assert "format=vs.YUV420P8" in lines[-1]
    assert "not looked for (--no-dedupe): 6 source frames" in out
    assert err.count("warning: RGB video is encoded as YUV 4:2:0 (BT.709) for x264") == 1
    with av.open(str(output)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "yuv420p"
    lossless = tmp_path / "out.ffv1.mkv"
    code, _, err = run(capsys, video, "-o", lossless, "--model", "blend")
    assert code == 0, err
    assert "warning" not in err
    with av.open(str(lossless)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "yuv444p"
    code, out, err = run(capsys, video, "--no-fill", "--model", "blend", "--emit-vpy", script)
    assert code == 0, err
    assert "vsanimsplat.dedupe(clip" in script.read_text() and "fill_holes" not in script.read_text()


def _shape(path: Path) -> tuple[int, int, Fraction]:
    """Width and height of a file's video, and its pixel shape (sample aspect ratio; 1 where the file leaves it out)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        sar = stream.sample_aspect_ratio
        return stream.codec_context.width, stream.codec_context.height, Fraction(sar) if sar else Fraction(1)


@pytest.mark.slow
def test_anamorphic_source_keeps_its_display_shape(tmp_path, capsys):
    """72x48 with 32:27 pixels shows 16:9: the output keeps size and pixel shape; --width/--height give the display
    size in square pixels (--width 64 → 64x36), and the emitted script resizes as the command does."""
    source = tmp_path / "anamorphic.mkv"
    write_rgb_video(animate(Scene(72, 48, seed=5, speed=2.0), [2, 1, 2, 3]).frames, source, RATE,
                    codec_args=("-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv420p", "-vf", "setsar=32/27"))
    assert _shape(source) == (72, 48, Fraction(32, 27))
    for name, options, shape in (("same.mkv", [], (72, 48, Fraction(32, 27))),
                                 ("wide.mkv", ["--width", "64"], (64, 36, Fraction(1))),
                                 ("tall.mp4", ["--height", "36"], (64, 36, Fraction(1)))):
        code, _, err = run(capsys, source, "-o", tmp_path / name, "--model", "blend", *options)
        assert code == 0, err
        assert _shape(tmp_path / name) == shape, name
    script = tmp_path / "job.vpy"
    code, _, err = run(capsys, source, "--model", "blend", "--width", "64", "--emit-vpy", script)
    assert code == 0, err
    assert "clip = vsanimsplat.resize(clip, width=64, height=36)" in script.read_text()


@pytest.mark.slow
def test_odd_size_is_kept_as_444_with_a_warning(tmp_path, capsys):
    """65x37 4:2:0 is neither cropped (as BestSource alone does) nor padded: 4:4:4 at its size, and said so."""
    source = tmp_path / "odd.mkv"
    write_rgb_video(animate(Scene(65, 37, seed=6), [2, 2, 1]).frames, source, RATE,
                    codec_args=("-c:v", "ffv1", "-pix_fmt", "yuv420p"))
    output = tmp_path / "out.mkv"
    code, out, err = run(capsys, source, "-o", output, "--model", "blend")
    assert code == 0, err
    assert "warning: odd.mkv: 65x37 is an odd size for YUV420P8 chroma; decoded as YUV444P8" in err
    assert _shape(output) == (65, 37, Fraction(1)) and "65x37 at" in out
    with av.open(str(output)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "yuv444p"


def test_cover_art_attachment_is_named_in_a_warning(source, tmp_path, capsys):
    """A Matroska cover (an image attachment, which ffmpeg reads as an attached picture) cannot be copied: a warning
    names it."""
    cover, covered = tmp_path / "cover.png", tmp_path / "covered.mkv"
    Image.new("RGB", (16, 16), (200, 30, 30)).save(cover)
    subprocess.run([find_ffmpeg().path, "-v", "error", "-i", str(source.path), "-attach", str(cover),
                    "-metadata:s:t", "mimetype=image/png", "-map", "0", "-c", "copy", str(covered)], check=True)
    code, _, err = run(capsys, covered, "-o", tmp_path / "out.mkv", "--model", "blend", "--duration", "0.5")
    assert code == 0, err
    assert "warning: video stream 3 (png): cover art (attached picture) is not copied; dropped" in err


def _counted_source(monkeypatch, clip: vs.VideoNode) -> Counter:
    """Make the job's source ``clip``, counting the requests of each of its frames in the Counter returned."""
    requests = Counter()

    def count(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        requests[n] += 1
        return f

    monkeypatch.setattr(job_graph, "open_video", lambda *args, **kwargs: clip.std.ModifyFrame(clip, count))
    monkeypatch.setattr(job_graph, "source_timing", lambda path: SourceTiming(Fraction(clip.fps)))
    return requests


def test_the_graph_reads_each_source_frame_once_for_the_analysis(monkeypatch):
    """dedupe's pass serves interpolate too, across the resize: no frame is read twice before encoding."""
    clip, _ = synthetic_clip(cadence([2, 3], 80), 32, 18, fmt=vs.YUV420P8)  # 200 frames: more than VapourSynth caches
    requests = _counted_source(monkeypatch, clip)
    graph = build_graph(JobOptions(Path("source.mkv"), width=16, model="blend", fill=False), progress=False)
    assert (graph.drawings.width, graph.drawings.num_frames) == (16, 80)
    assert requests == Counter(range(clip.num_frames))


def test_a_graph_from_another_graphs_passes_reads_no_source_frame_for_its_analysis(monkeypatch):
    """What Ray's workers get: the driver's analysis passes, pickled. A graph of the same options built from them
    reads no source frame before its output is asked for, and makes the same frames; passes of another clip are refused."""
    clip, _ = synthetic_clip(cadence([2, 3], 12), 64, 36, fmt=vs.YUV420P8)
    requests = _counted_source(monkeypatch, clip)
    options = JobOptions(Path("source.mkv"), model="blend", fill=False)
    first = build_graph(options, progress=False)
    assert requests == Counter(range(clip.num_frames)) and first.passes
    requests.clear()
    second = build_graph(options, progress=False, passes=pickle.loads(pickle.dumps(first.passes)))
    assert requests == Counter()
    assert second.clip.num_frames == first.clip.num_frames == 2 * clip.num_frames
    for n in range(0, second.clip.num_frames, 7):
        mine, theirs = second.clip.get_frame(n), first.clip.get_frame(n)
        assert all(np.array_equal(mine[p], theirs[p]) for p in range(3))
    with pytest.raises(ValueError, match=f"the passes describe {clip.num_frames} frames, but the clip has 12"):
        build_graph(dataclasses.replace(options, seconds=Fraction(12) / Fraction(clip.fps)), passes=first.passes)


def test_resized_drawings_keep_the_cut_scores_of_the_source(monkeypatch):
    """The cuts are scored on the source's analysis pictures, so --width does not change them; a pass over the
    resized drawings would score at their smaller analysis size (in-shot pairs differ, the cut decisions agree)."""
    scene = Cut(Scene(192, 108, seed=5, speed=3.0), Scene(192, 108, seed=6, speed=3.0), at=7)
    clip, _ = synthetic_clip(cadence([2, 3], 6), scene=scene, fmt=vs.YUV420P8)  # the cut between drawings 2 and 3
    monkeypatch.setattr(job_graph, "open_video", lambda *args, **kwargs: clip)
    monkeypatch.setattr(job_graph, "source_timing", lambda path: SourceTiming(Fraction(clip.fps)))
    scene_scores = importlib.import_module("vsanimsplat.filters.interpolate").scene_scores
    graphs = [build_graph(JobOptions(Path("source.mkv"), width=width, model="blend", fill=False), progress=False)
              for width in (None, 96)]
    scores = [scene_scores(graph.drawings) for graph in graphs]
    assert scores[0] == scores[1]
    assert "clip = vsanimsplat.resize(clip, width=96, height=54)" in script_text(graphs[1], "job.vpy", ["ffmpeg"])
    small = graphs[1].drawings
    own = scene_scores(small.std.Trim(0, small.num_frames - 1))  # a clip the analysis was not shared with
    assert own != scores[1]
    assert [k for k, s in enumerate(own) if s > DEFAULT_SCENE_THRESHOLD] == [2]
    assert [k for k, s in enumerate(scores[1]) if s > DEFAULT_SCENE_THRESHOLD] == [2]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_bar_on_a_terminal():
    terminal = _Terminal()
    progress = Progress("encoding", stream=terminal)
    for done in range(1, 6):
        progress.update(done, 5)
    progress.close()
    assert "encoding" in terminal.getvalue() and "5/5" in terminal.getvalue() and "frame/s" in terminal.getvalue()


def test_a_frame_that_fails_stops_the_encode_and_leaves_no_file(tmp_path):
    blank = vs.core.std.BlankClip(width=64, height=48, format=vs.YUV420P8, length=24, fpsnum=24)

    def frame(n: int) -> vs.VideoNode:
        if n == 10:
            raise vs.Error("frame 10 is broken")
        return blank

    clip = blank.std.FrameEval(frame)
    source, output = tmp_path / "source.mkv", tmp_path / "out.mkv"
    write_rgb_video([np.zeros((48, 64, 3), np.uint8)] * 24, source, Fraction(24))
    args, _ = encode_command(output, Encoding(), source, [])
    with pytest.raises(EncodeError, match="frame 10 is broken"):
        encode(clip, find_ffmpeg(), args, output, Progress("encoding", enabled=False))
    assert not output.exists() and leftovers(tmp_path) == []
    encode(blank, find_ffmpeg(), args, output, Progress("encoding", enabled=False))
    assert probe(output)[0]["video"].packets == 24


@pytest.mark.slow
def test_static_tolerance_regions_and_layers_reach_the_model_and_the_script(source, tmp_path, capsys):
    """--static-tolerance off / N, --no-regions and --no-layers: the emitted script passes them, the script's frames
    follow them."""
    script = tmp_path / "job.vpy"
    code, _, err = run(capsys, source.path, "--model", "blend", "--static-tolerance", "off", "--no-regions",
                       "--no-layers", "--emit-vpy", script)
    assert code == 0, err
    text = script.read_text()
    assert "static_tolerance=None" in text and "regions=False" in text and "layers=False" in text
    vs.clear_outputs()
    try:
        runpy.run_path(str(script))
        masked = [("AnimSplat_ChangeMask" in f.props, f.props["AnimSplat_Interpolated"])
                  for f in vs.get_output(0).clip.frames(close=True)]
    finally:
        vs.clear_outputs()
    assert (False, 1) in masked and (True, 1) not in masked  # in-betweens, all drawn by the model everywhere
    code, _, err = run(capsys, source.path, "--model", "blend", "--static-tolerance", "4", "--emit-vpy", script)
    text = script.read_text()
    assert code == 0 and "static_tolerance=4" in text and "regions=" not in text and "layers=False" not in text
    with pytest.raises(SystemExit) as exit_:
        run(capsys, source.path, "--model", "blend", "--static-tolerance", "300", "--emit-vpy", script)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "--static-tolerance" in err and "≤ 255" in err


@pytest.mark.slow
def test_run_moves_a_shape_on_twos_over_a_pan_at_its_own_times(tmp_path, capsys):
    """Per-region timing through the command: a shape on twos over a pan on ones moves at source frames where
    whole-frame timing (--no-layers) shows its held drawing; far from it both are the same."""
    scene = Scene(256, 160, seed=4, shapes=1, speed=6.0, texture=0.5, pan=(1.5, 0.5))
    animation = animate_layers(scene, [cadence([2], 8)], 8)
    clip = tmp_path / "layered.mkv"
    write_rgb_video(animation.frames, clip, RATE, codec_args=["-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv444p"])
    pictures = {}
    for name, extra in (("layers", []), ("whole", ["--no-layers"])):
        output = tmp_path / f"{name}.mkv"
        code, _, err = run(capsys, clip, "-o", output, "--codec", "ffv1", "--model", "blend", *extra)
        assert code == 0, err
        with av.open(str(output)) as container:
            pictures[name] = [f.to_ndarray(format="rgb24").astype(int) for f in container.decode(video=0)]
    # output frame 2 is source frame 1: the shape's drawing from frame 0, held; with layers it is half-way to frame 2's
    near = animation.mask(0, 0.0) | animation.mask(0, 2.0)
    ys, xs = np.nonzero(near)
    box = np.zeros_like(near)
    box[max(0, ys.min() - 32):ys.max() + 33, max(0, xs.min() - 32):xs.max() + 33] = True
    layered, whole = pictures["layers"][2], pictures["whole"][2]
    assert np.abs(layered - whole)[near].mean() > 10
    assert np.abs(layered - whole)[~box].max() <= 1  # elsewhere both show source frame 1 (as coded)
    assert np.abs(whole - animation.frames[1]).mean() < 2


@pytest.mark.slow
def test_report_lists_the_cadence_of_a_layer_over_a_pan(tmp_path, capsys):
    # a pan of whole pixels: the grain estimate puts it back exactly. A pan of (1.5, 0.5) px over the waves' fine
    # grain reads as grain 5.6 (tolerance 30), under which the pan-only frames merge (issue 27: found, not fixed;
    # the panning texture's seam used to make them drawings)
    scene = Scene(512, 320, seed=4, shapes=1, speed=6.0, texture=0.5, pan=(2.0, 1.0))
    animation = animate_layers(scene, [cadence([2], 12)], 12)
    clip = tmp_path / "layered.mkv"
    write_rgb_video(animation.frames, clip, RATE, codec_args=["-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv444p"])
    code = main(["report", str(clip), "-q"])
    out = capsys.readouterr().out
    assert code == 0
    assert "drawings: 12" in out  # the pan is on ones: every frame is a drawing
    twos = next(line for line in out.splitlines() if "layer holds on twos" in line)
    assert int(twos.split()[4]) == 5 and "held parts cover" in twos  # 0-1, 2-3, … 8-9; 10-11 runs to the end
    assert "layer holds on threes      0" in out


# --- long jobs: --chunk-seconds, resuming ---


def _frames(path: Path) -> list[str]:
    """Every video frame of a file as ffmpeg's framemd5 lists it: timestamp, duration, size and checksum."""
    listing = subprocess.run([find_ffmpeg().path, "-hide_banner", "-i", str(path), "-map", "0:v", "-f", "framemd5", "-"],
                             capture_output=True, text=True, check=True).stdout
    return [line for line in listing.splitlines() if line and not line.startswith("#")]


CHUNKED = ("--model", "blend", "--fps", "60000/1001", "--codec", "ffv1")  # 110 output frames


@pytest.fixture(scope="module")
def one_encode(source, tmp_path_factory) -> Path:
    """The source encoded without chunks: what every chunked run must give."""
    output = tmp_path_factory.mktemp("one") / "one.mkv"
    assert main(["run", str(source.path), "-o", str(output), *CHUNKED, "-q"]) == 0
    return output


def _counting_chunks(monkeypatch, crash_after: int | None = None) -> list[tuple[int, int]]:
    """Record the span of every chunk the job makes; with ``crash_after``, stop the job (as Ctrl-C would) when
    that many are made."""
    made: list[tuple[int, int]] = []

    def counted(clip, span, *args, **kwargs):
        if crash_after is not None and len(made) == crash_after:
            raise KeyboardInterrupt
        made.append(span)
        return make_segment(clip, span, *args, **kwargs)

    monkeypatch.setattr(chunks, "make_segment", counted)
    return made


@pytest.mark.slow
def test_chunked_run_gives_the_frames_and_streams_of_one_encode(source, one_encode, tmp_path, capsys, monkeypatch):
    """Chunks of about 0.4 s (24 frames at 59.94 fps) begin where a drawing begins; the joined file has the same
    frames at the same times, and the same audio, subtitles and chapters, as one encode; the work folder goes."""
    made = _counting_chunks(monkeypatch)
    output = tmp_path / "chunked.mkv"
    code, out, err = run(capsys, source.path, "-o", output, *CHUNKED, "--chunk-seconds", "0.4")
    assert code == 0, err
    assert "5 chunks of about 0.4 s" in err and "5 to make" in err and "encoding: 110/110 frames (100%)" in err
    assert [first for first, _ in made] == [0, 20, 43, 65, 90] and made[-1][1] == 110
    drawing_starts = {math.ceil(start * Fraction(5, 2)) for start in np.cumsum([0, *HOLDS[:-1]])}
    assert {first for first, _ in made[1:]} <= drawing_starts  # 5/2 output frames per source frame
    assert _frames(output) == _frames(one_encode)
    assert probe(output) == probe(one_encode)
    assert "written:  " in out and not (tmp_path / "chunked.mkv.work").exists() and leftovers(tmp_path) == []


@pytest.mark.slow
def test_chunked_jobs_are_deterministic(source, tmp_path, capsys):
    """--deterministic reaches the script; --chunk-seconds sets it (chunks made apart must be one encode's frames)."""
    script = tmp_path / "job.vpy"
    for extra, expected in (((), False), (("--deterministic",), True), (("--chunk-seconds", "5"), True)):
        code, _, err = run(capsys, source.path, "--model", "blend", *extra, "--emit-vpy", script)
        assert code == 0, err
        assert ("deterministic=True" in script.read_text()) == expected, extra


@pytest.mark.slow
def test_rerun_makes_only_the_chunks_left_by_a_crash_or_corrupted(source, one_encode, tmp_path, capsys, monkeypatch):
    """A job stopped after two of five chunks leaves them recorded; the same command again makes the other three,
    counting the two as done; a segment changed on disk is made again; another option starts afresh."""
    output = tmp_path / "resumed.mkv"
    work = tmp_path / "resumed.mkv.work"
    command = (source.path, "-o", output, *CHUNKED, "--chunk-seconds", "0.4")
    _counting_chunks(monkeypatch, crash_after=2)
    code, _, err = run(capsys, *command)
    assert code == 130 and "interrupted by SIGINT" in err and not output.exists()
    assert sorted(p.name for p in work.glob("chunk-*")) == ["chunk-00000.nut", "chunk-00001.nut"]
    made = _counting_chunks(monkeypatch)
    code, _, err = run(capsys, *command, "--keep-work")
    assert code == 0, err
    assert "2 done by an earlier run, 3 to make" in err and "encoding: 110/110 frames (100%)" in err
    assert made == [(43, 65), (65, 90), (90, 110)]
    assert _frames(output) == _frames(one_encode) and probe(output) == probe(one_encode)

    segment = work / "chunk-00003.nut"
    data = bytearray(segment.read_bytes())
    data[len(data) // 2] ^= 0xFF
    segment.write_bytes(bytes(data))
    made.clear()
    (work / "chunk-00004.nut").unlink()
    code, _, err = run(capsys, *command, "--overwrite", "--no-clean")  # the name of --keep-work
    assert code == 0, err
    assert made == [(65, 90), (90, 110)] and _frames(output) == _frames(one_encode) and work.exists()
    assert ("chunk 3: chunk-00003.nut changed since it was made; it is made again\n"
            "chunk 4: chunk-00004.nut is missing; it is made again\n") in err  # said, not done silently

    made.clear()
    code, _, err = run(capsys, *command, "--overwrite", "--fill-mode", "nearest")
    assert code == 0, err
    assert "work of another job (other input or options); starting afresh" in err and len(made) == 5
    assert not work.exists()


@pytest.mark.slow
def test_one_chunk_is_said_in_the_singular(source, tmp_path, capsys):
    code, _, err = run(capsys, source.path, "-o", tmp_path / "out.mkv", *CHUNKED, "--chunk-seconds", "5")
    assert code == 0, err
    assert "1 chunk of about 5 s in " in err and "joining 1 chunk into " in err


@pytest.mark.slow
def test_a_crashed_chunked_jobs_work_is_removed_by_a_run_without_chunks(source, tmp_path, capsys, monkeypatch):
    """A chunked job stopped after one chunk, redone without --chunk-seconds: one encode, and its old work folder is
    removed, saying so (it was left forever, silently)."""
    output = tmp_path / "out.mkv"
    _counting_chunks(monkeypatch, crash_after=1)
    code, _, err = run(capsys, source.path, "-o", output, *CHUNKED, "--chunk-seconds", "0.4")
    assert code == 130 and (tmp_path / "out.mkv.work").is_dir()
    code, _, err = run(capsys, source.path, "-o", output, *CHUNKED)
    assert code == 0, err
    assert f"note: removed {tmp_path / 'out.mkv.work'}, the work of an earlier chunked run of {output}" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mkv"]


@pytest.mark.slow
def test_a_driver_killed_with_sigkill_is_finished_by_the_same_command(source, one_encode, tmp_path, capsys,
                                                                    monkeypatch):
    """SIGKILL leaves no chance to clean up: the chunks recorded before it stay done, the one being made (its locked
    partial file) is made again by the next run, which makes only the unrecorded chunks and gives one encode's file."""
    output = tmp_path / "killed.mkv"
    manifest = tmp_path / "killed.mkv.work" / "manifest.json"
    command = [source.path, "-o", output, *CHUNKED, "--chunk-seconds", "0.4"]
    process = subprocess.Popen([sys.executable, "-m", "vsanimsplat", "run", *map(str, command)],
                               env=_slow_ffmpeg(tmp_path), stderr=subprocess.DEVNULL, process_group=0)
    try:
        _stop_after(2, process, manifest, tmp_path)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    (tmp_path / "gate").unlink()
    recorded = sorted(int(index) for index in json.loads(manifest.read_text())["done"])
    assert not output.exists() and 2 <= len(recorded) < 5, recorded
    spans = [tuple(span) for span in json.loads(manifest.read_text())["spans"]]
    made = _counting_chunks(monkeypatch)
    code, _, err = run(capsys, *command)
    assert code == 0, err
    assert f"{len(recorded)} done by an earlier run, {5 - len(recorded)} to make" in err, err
    assert made == [span for index, span in enumerate(spans) if index not in recorded]
    assert _frames(output) == _frames(one_encode) and probe(output) == probe(one_encode)
    assert leftovers(tmp_path) == [] and not manifest.parent.exists()


def _video(path: Path) -> tuple[list[Fraction], tuple[int, int, int, int]]:
    """The times of a file's video frames (exact: pts × time base), and its first frame's colour tags (primaries,
    transfer, matrix, range as ffmpeg numbers them: 1 is BT.709 and limited range)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        times = sorted(frame.pts * stream.time_base for frame in frames)
        first = frames[0]
        return times, (first.color_primaries, first.color_trc, first.colorspace, first.color_range)


@pytest.mark.slow
def test_lossy_chunks_are_joined_by_copying_keeping_times_colours_shape_and_delay(source, tmp_path, capsys,
                                                                                   monkeypatch):
    """x264 (with B-frames) into MP4 from a capture whose video starts 0.5 s late, tagged BT.709 with 32:27 pixels:
    the joined file shows exactly the pictures of its segments (copied, not encoded again), each frame at the delay
    + n × 1001/60000 s exactly, with the colours, pixel shape, delay and audio of one encode; another --crf makes
    the segments again."""
    tagged = tmp_path / "tagged.mkv"
    subprocess.run([find_ffmpeg().path, "-v", "error", "-itsoffset", "0.5", "-i", str(source.path), "-i",
                    str(source.path), "-map", "0:v", "-map", "1:a", "-c:a", "copy", "-c:v", "libx264", "-qp", "0",
                    "-vf", "setparams=color_primaries=bt709:color_trc=bt709:colorspace=bt709:range=tv,setsar=32/27",
                    str(tagged)], check=True)
    one, chunked = tmp_path / "one.mp4", tmp_path / "chunked.mp4"
    options = ("--model", "blend", "--fps", "60000/1001", "--preset", "veryfast")
    code, _, err = run(capsys, tagged, "-o", one, *options)
    assert code == 0, err
    code, _, err = run(capsys, tagged, "-o", chunked, *options, "--chunk-seconds", "0.4", "--keep-work")
    assert code == 0, err
    count = math.ceil(source.duration * Fraction(60000, 1001))
    (times, colours), (one_times, one_colours) = _video(chunked), _video(one)
    assert times == one_times == [times[0] + Fraction(1001 * n, 60000) for n in range(count)]
    assert colours == one_colours == (1, 1, 1, 1)
    assert _shape(chunked) == _shape(one) == (*SIZE, Fraction(32, 27))
    assert _gap(chunked) == pytest.approx(_gap(one), abs=1e-3) and _gap(one) == pytest.approx(_gap(tagged), abs=2e-3)
    assert probe(chunked)[0]["audio"] == probe(one)[0]["audio"]
    segments = sorted((tmp_path / "chunked.mp4.work").glob("chunk-*.nut"))
    assert len(segments) == 5
    pictures = [line.split(",")[-1] for line in _frames(chunked)]
    assert pictures == [line.split(",")[-1] for segment in segments for line in _frames(segment)]
    assert pictures != [line.split(",")[-1] for line in _frames(one)]  # lossy: each chunk is its own encode

    made = _counting_chunks(monkeypatch)
    code, _, err = run(capsys, tagged, "-o", chunked, *options, "--crf", "30", "--chunk-seconds", "0.4", "--overwrite")
    assert code == 0, err
    assert "starting afresh" in err and len(made) == 5 and _video(chunked)[0] == times


def test_bad_chunk_options_are_refused(source, tmp_path, capsys):
    for value in ("0", "-2", "soon"):
        with pytest.raises(SystemExit) as exit_:
            main(["run", str(source.path), "-o", str(tmp_path / "out.mkv"), "--chunk-seconds", value])
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert "--chunk-seconds" in err and f"got {value!r}" in err
    for keep in ("--keep-work", "--no-clean"):
        code, _, err = run(capsys, source.path, "-o", tmp_path / "out.mkv", keep)
        assert code == 2 and "--no-clean/--keep-work keeps the work folder of --chunk-seconds S; give both" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.parametrize("chunked", [(), ("--chunk-seconds", "0.5")])
def test_names_with_a_colon_are_files_not_protocols(source, tmp_path, capsys, monkeypatch, chunked):
    """``ep01:v2.mkv`` in the current folder, as input and as output, in one encode and in chunks: ffmpeg is given
    each path as a file, never a URL (``ep01:`` would be a protocol)."""
    monkeypatch.chdir(tmp_path)
    Path("ep01:v1.mkv").symlink_to(source.path)
    code, out, err = run(capsys, "ep01:v1.mkv", "-o", "ep01:v2.mkv", "--model", "blend", "--duration", "0.5",
                         "-q", *chunked)
    assert code == 0, err
    assert "written:  ep01:v2.mkv: 24 frames" in out
    assert probe(tmp_path / "ep01:v2.mkv")[0]["video"].packets == 24
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ep01:v1.mkv", "ep01:v2.mkv"]


# --- one run per output ---

_HOLDER = """
import sys, time
from pathlib import Path
from vsanimsplat.job import output_lock
sys.argv = ["vsanimsplat", "run", "in.mkv", "-o", sys.argv[1], "--fps", "60"]
with output_lock(Path(sys.argv[4])):
    print("holding", flush=True)
    time.sleep(600)
"""


@pytest.mark.slow
@pytest.mark.parametrize("chunked", [(), ("--chunk-seconds", "0.5")])
def test_a_second_run_of_the_same_output_fails_naming_the_first(source, tmp_path, capsys, chunked):
    """A real second process holds the output's lock: this run fails at once (exit 2), naming it, and touches
    neither the output nor its work folder; once that process is killed (SIGKILL), its lock is taken over."""
    output = tmp_path / "out.mkv"
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(output)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline() == "holding\n"
        code, _, err = run(capsys, source.path, "-o", output, "--model", "blend", "--duration", "0.5", *chunked)
        assert code == 2
        assert (f"error: {output} is being written by another run (pid {holder.pid} on " in err
                and f": vsanimsplat run in.mkv -o {output} --fps 60); wait for it to end or write another "
                    f"-o/--output (if no run writes it, remove {tmp_path / '.out.mkv.lock'})" in err)
        assert sorted(p.name for p in tmp_path.iterdir()) == [".out.mkv.lock"]  # the first run's, kept
    finally:
        holder.kill()
        holder.wait()
    code, _, err = run(capsys, source.path, "-o", output, "--model", "blend", "--duration", "0.5", "-q", *chunked)
    assert code == 0, err
    assert f"note: {output}: taking over the lock of a run that is gone (pid {holder.pid}, " in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mkv"]


@pytest.mark.slow
@pytest.mark.parametrize("chunked", [(), ("--chunk-seconds", "0.5")])
def test_an_output_made_meanwhile_is_not_replaced_without_overwrite(source, tmp_path, capsys, monkeypatch, chunked):
    """The exists/--overwrite rule is checked again right before the rename: a file another program wrote at the
    output while this run encoded is kept (exit 1), and nothing of this run is left."""
    output = tmp_path / "out.mkv"
    real = job_encoder.encode

    def racing(clip, *args, **kwargs):
        if clip is None or not chunked:  # the encode that writes the output (the join, with chunks)
            output.write_bytes(b"another program's")
        return real(clip, *args, **kwargs)

    monkeypatch.setattr("vsanimsplat.job.run.encode", racing)
    monkeypatch.setattr(chunks, "encode", racing)
    code, _, err = run(capsys, source.path, "-o", output, "--model", "blend", "--duration", "0.5", "-q", *chunked)
    assert code == 1
    assert f"error: {output} appeared while this run was encoding (another program wrote it); it is not replaced " \
           "without --overwrite" in err
    assert output.read_bytes() == b"another program's" and leftovers(tmp_path) == []
    code, _, err = run(capsys, source.path, "-o", output, "--model", "blend", "--duration", "0.5", "-q", "--overwrite",
                       *chunked)
    assert code == 0, err
    assert output.read_bytes() != b"another program's"


def _decoded(path: Path) -> np.ndarray:
    """The first picture of a file as ffmpeg shows it (turned as its rotation metadata says), YUV 4:4:4 planes."""
    raw = subprocess.run([find_ffmpeg().path, "-v", "error", "-i", str(path), "-frames:v", "1", "-f", "rawvideo",
                          "-pix_fmt", "yuv444p", "-"], capture_output=True, check=True).stdout
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        size = (stream.codec_context.width, stream.codec_context.height)
    return np.frombuffer(raw, np.uint8), size


@pytest.mark.slow
@pytest.mark.parametrize("rotation, chroma", [(90, "yuv420p"), (270, "yuv444p")])
def test_a_rotated_video_is_processed_as_players_show_it(tmp_path, capsys, rotation, chroma):
    """An MP4 stored 96x64 with a display rotation: run writes the upright 64x96 picture players show, bit for bit
    at a drawing (lossless in and out), without the tag, saying so; report sees that size and no odd size."""
    stored = tmp_path / "stored.mp4"
    write_rgb_video(animate(Scene(96, 64, seed=5, speed=3.0), [2, 2, 2]).frames, stored, Fraction(24),
                    codec_args=("-c:v", "libx264", "-qp", "0", "-pix_fmt", chroma))
    rotated = tmp_path / "phone.mp4"
    subprocess.run([find_ffmpeg().path, "-v", "error", "-display_rotation", str(rotation), "-i", str(stored),
                    "-c", "copy", str(rotated)], check=True)
    output = tmp_path / "out.mkv"
    code, out, err = run(capsys, rotated, "-o", output, "--model", "blend", "--codec", "ffv1", "-q")
    assert code == 0, err
    assert (f"warning: phone.mp4: its 96x64 pictures are shown turned by {rotation}° (rotation metadata); processed "
            "as players show them, 64x96, and written upright, without the tag") in err
    assert "written:  " in out and ", 64x96 at 48 fps" in out
    shown, size = _decoded(rotated)
    written, written_size = _decoded(output)
    assert size == (96, 64) and written_size == (64, 96)  # stored sizes: the output has no rotation to apply
    assert np.array_equal(written, shown)
    assert main(["report", str(rotated), "-q"]) == 0
    captured = capsys.readouterr()
    assert f": 64x96 {chroma.upper()}8, 6 frames" in captured.out and "odd size" not in captured.err
    assert "rotation metadata" in captured.err


def _pictures(path: Path) -> list[np.ndarray]:
    """Every picture of a file as stored (no rotation applied), YUV 4:4:4 planes."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="yuv444p") for frame in container.decode(video=0)]


@pytest.mark.slow
@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_an_odd_size_rotated_video_keeps_every_pixel_turned(tmp_path, capsys, rotation):
    """A 97x65 4:2:0 file with a display rotation: its output is the unrotated file's output turned as players
    turn it, every pixel and plane of its drawings (the in-betweens' blocks lie on the picture turned, so they may
    round one code value apart). The 90° and 270° turns failed on L-SMASH's unturned size; the 180° one put
    L-SMASH's unturned chroma and last row and column under BestSource's turned luma."""
    stored = tmp_path / "stored.mkv"
    write_rgb_video(animate(Scene(97, 65, seed=5, speed=3.0), [2, 2]).frames, stored, Fraction(24),
                    codec_args=("-c:v", "ffv1", "-pix_fmt", "yuv420p"))
    rotated = tmp_path / "phone.mkv"
    subprocess.run([find_ffmpeg().path, "-v", "error", "-display_rotation", str(rotation), "-i", str(stored),
                    "-c", "copy", str(rotated)], check=True)
    outputs = {}
    for name, path in (("upright", stored), ("turned", rotated)):
        outputs[name] = tmp_path / f"{name}.mkv"
        code, out, err = run(capsys, path, "-o", outputs[name], "--model", "blend", "--codec", "ffv1", "-q")
        assert code == 0, err
        assert "is an odd size for YUV420P8 chroma; decoded as YUV444P8" in err
    shown = (65, 97) if rotation % 180 else (97, 65)
    assert f", {shown[0]}x{shown[1]} at 48 fps" in out
    upright, turned = _pictures(outputs["upright"]), _pictures(outputs["turned"])
    assert len(turned) == len(upright) == 8
    references = [np.rot90(picture, rotation // 90, axes=(1, 2)).astype(int) for picture in upright]
    assert [np.array_equal(turned[n], references[n]) for n in (0, 4)] == [True, True]  # the two drawings
    assert max(np.abs(picture - reference).max() for picture, reference in zip(turned, references)) <= 1  # blocks
