"""Public features run through the public API (issue 33, item 8): ``--device``/``--fp16`` beyond their errors,
``--workers`` with the default chunks, progress bars on a terminal and their absence when not asked for, and
``interpolate``'s ``flow_scale`` 0.5 and 0.25 with the published weights.

The runs use the small lossless clip of ``tests/test_run.py`` (44 frames at 24000/1001 fps with audio, subtitles and
chapters) and the cheap ``blend`` model, except ``flow_scale``, which needs GMFSS ``base``'s weights (skipped without).
"""

from __future__ import annotations

import io
import math
import os
import subprocess
import sys
from fractions import Fraction

import av
import numpy as np
import pytest
import torch
import vapoursynth as vs

import vsanimsplat
from vsanimsplat.cli import main
from vsanimsplat.filters.frames import clip_from_arrays
from vsanimsplat.job import run as job_run
from vsanimsplat.metrics import psnr
from vsanimsplat.models.weights import installed
from vsanimsplat.testing import Scene, animate
from tests.helpers import synthetic_clip
from tests.test_run import _frames, leftovers, probe, run, source  # noqa: F401  (source: a fixture)

RATE = Fraction(60000, 1001)  # the output rate of the runs below: 5/2 × the source's


def _decoded(path) -> tuple[list[np.ndarray], list[Fraction]]:
    """Every video frame of a file as an RGB array, and its presentation time in seconds."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames, times = [], []
        for frame in container.decode(stream):
            assert frame.pts is not None and stream.time_base is not None
            frames.append(frame.to_ndarray(format="rgb24"))
            times.append(Fraction(frame.pts) * stream.time_base)
    return frames, times


# --- --device and --fp16 ---


def test_device_cpu_is_taken_reaches_the_model_and_the_script_and_gives_the_frames(source, tmp_path, capsys,
                                                                                 monkeypatch):
    """``--device cpu --no-fp16``: the job's model is made on the CPU in float32, the emitted script says both, and the
    command encodes every output frame."""
    made = []

    def recording(options):
        model = load_job_model(options)
        made.append(model)
        return model

    load_job_model = job_run.load_job_model
    monkeypatch.setattr(job_run, "load_job_model", recording)
    output, script = tmp_path / "cpu.mkv", tmp_path / "job.vpy"
    code, out, err = run(capsys, source.path, "-o", output, "--model", "blend", "--device", "cpu", "--no-fp16",
                         "--fps", "60000/1001", "--emit-vpy", script)
    assert code == 0, err
    (model,) = made
    assert model.device == torch.device("cpu") and model.dtype == torch.float32
    text = script.read_text()
    assert "device='cpu'" in text and "fp16=False" in text
    frames = math.ceil(source.duration * RATE)
    assert probe(output)[0]["video"].packets == frames and f"written:  {output}: {frames} frames" in out


def test_fp16_on_the_cpu_is_a_usage_error_before_any_work(source, tmp_path, capsys):
    """``--fp16`` is CUDA only (the option's help, ``ModelOptions.fp16``): with ``--device cpu`` the command stops with
    exit code 2 and the reason, naming the flag, before it writes anything."""
    output = tmp_path / "half.mkv"
    code, out, err = run(capsys, source.path, "-o", output, "--model", "blend", "--device", "cpu", "--fp16")
    assert code == 2
    assert err.strip().splitlines()[-1] == ("error: --fp16: fp16=True needs a CUDA device (float16 convolutions on the "
                                            "CPU are slow and inexact); use fp16=False, or bf16=True on a CPU with "
                                            "native bfloat16")
    assert "finding drawings" not in err and out == ""
    assert not output.exists() and leftovers(tmp_path) == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: --device cuda is taken")
def test_device_cuda_without_cuda_says_so_and_names_the_cpu(source, tmp_path, capsys):
    output = tmp_path / "gpu.mkv"
    code, _, err = run(capsys, source.path, "-o", output, "--model", "blend", "--device", "cuda")
    assert code == 2 and not output.exists()
    assert "error: device='cuda' was requested but CUDA is not available" in err and "use device='cpu'" in err


# --- --workers with the default chunks ---


@pytest.mark.slow
def test_two_workers_with_the_default_chunk_length_make_the_frames_of_one_encode(source, tmp_path):
    """``--workers 2`` without ``--chunk-seconds`` (pip's Ray, started for the job in a child process): chunks of the
    default 60 s, so one chunk for this short clip; the output has ceil(duration × rate) frames at n / rate, the
    frames the same command makes without workers, and each in-between differs from the frames before and after it."""
    pytest.importorskip("ray", reason="Ray, the optional [cluster] extra, is not installed (pip install '.[cluster]')")
    common = [str(source.path), "--model", "blend", "--fps", "60000/1001", "--codec", "ffv1", "-o"]
    env = {name: value for name, value in os.environ.items() if name != "RAY_AUTH_MODE"}  # Ray's default
    workers = tmp_path / "workers.mkv"
    done = subprocess.run([sys.executable, "-m", "vsanimsplat", "run", *common, str(workers), "--workers", "2"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    frames = math.ceil(source.duration * RATE)
    assert f"1 chunk of about 60 s in {workers}.work: 1 to make" in done.stderr
    assert f"encoding: {frames}/{frames} frames (100%)" in done.stderr
    assert f"written:  {workers}: {frames} frames" in done.stdout
    assert not (tmp_path / "workers.mkv.work").exists() and leftovers(tmp_path) == []

    one = tmp_path / "one.mkv"
    assert main(["run", *common, str(one), "-q"]) == 0
    assert _frames(workers) == _frames(one)
    assert probe(workers) == probe(one)  # audio, subtitles and chapters too

    pictures, times = _decoded(workers)
    assert len(pictures) == frames
    assert all(abs(time - n / RATE) <= Fraction(1, 1000) for n, time in enumerate(times))  # Matroska keeps ms
    graph = vsanimsplat.interpolate(vsanimsplat.dedupe(vsanimsplat.open_video(source.path)), fps_num=60000,
                                    fps_den=1001, model="blend")
    flags = [f.props["AnimSplat_Interpolated"] for f in graph.frames(close=True)]
    inbetweens = [n for n, flag in enumerate(flags) if flag]
    assert len(flags) == frames and len(inbetweens) > frames // 2
    for n in inbetweens:
        for other in (n - 1, n + 1):
            if 0 <= other < frames:
                assert np.abs(pictures[n].astype(int) - pictures[other]).mean() > 0.2, (n, other)


# --- progress bars ---


class _Terminal(io.StringIO):
    """stderr as a terminal shows it (tqdm draws its bar only there)."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("quiet", [False, True])
def test_run_draws_a_progress_bar_on_a_terminal_and_none_with_quiet(source, tmp_path, monkeypatch, quiet):
    """On a terminal ``run`` draws tqdm's bar of the encode (``encoding: 100%|…| N/N``); ``-q`` draws nothing, and
    says nothing but errors (the summary is on stdout)."""
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    output = tmp_path / "bar.mkv"
    code = main(["run", str(source.path), "-o", str(output), "--model", "blend", "--fps", "60000/1001",
                 *(["-q"] if quiet else [])])
    shown = terminal.getvalue()
    assert code == 0, shown
    frames = math.ceil(source.duration * RATE)
    if quiet:
        assert shown == ""
    else:
        assert "encoding: 100%|" in shown and f"| {frames}/{frames} [" in shown and "frame/s]" in shown
        assert "\r" in shown  # a bar redrawn in place
        assert f"encoding: {frames}/{frames} frames (100%)" not in shown  # not the plain lines of a log


@pytest.mark.parametrize("progress", [True, False, None])
def test_the_filters_progress_bars_appear_on_stderr_only_when_asked(capsys, progress):
    """``dedupe(progress=True)`` shows tqdm's bar of its pass (``finding drawings``) on stderr, ``interpolate``
    that of its timing pass (``reading timing``) on a clip no ``dedupe`` read; ``progress=False`` shows none, and
    ``None`` (the default) none for a short clip off a terminal."""
    clip, _ = synthetic_clip([2, 3, 2, 1], seed=11)
    vsanimsplat.dedupe(clip, progress=progress)
    dedupe_err = capsys.readouterr().err
    other, _ = synthetic_clip([1] * 5, seed=12)
    out = vsanimsplat.interpolate(other, factor=2, model="blend", progress=progress)
    interpolate_err = capsys.readouterr().err
    assert out.num_frames == 10
    if progress:
        assert "finding drawings: 100%|" in dedupe_err and "| 8/8 [" in dedupe_err
        assert "reading timing: 100%|" in interpolate_err and "| 5/5 [" in interpolate_err
    else:
        assert dedupe_err == "" and interpolate_err == ""


# --- flow_scale with the published weights ---


def _rgb(frame: vs.VideoFrame) -> np.ndarray:
    return np.stack([np.asarray(frame[p]) for p in range(3)], axis=-1)


@pytest.mark.slow
@pytest.mark.skipif(set(installed()["base"].values()) != {"ok"},
                    reason="weights of 'base' not installed: run python -m vsanimsplat models fetch base")
def test_flow_scale_half_and_quarter_change_the_in_between_and_keep_it_close_to_the_truth():
    """GMFSS ``base`` (no IFNet: its picture follows the flow) on two drawings of a pan of 128 px per frame at
    1280×1280: GMFlow, on the half-size picture × flow_scale (160×160 at 0.25), finds the pan at every scale (its
    flow comes in steps of 8 of its pixels; at 640×640 with a pan of 64, 0.25 found none on any of 4 seeds, 26–28 dB,
    once the panning texture had no seam to match). The in-between at t = ½ against the true picture there, measured
    (bfloat16 on an AVX-512 BF16 CPU): flow_scale 1.0 47.0 dB, 0.5 47.0, 0.25 47.2; the cross-fade 24.4 dB."""
    scene = Scene(1280, 1280, seed=21, shapes=0, texture=0.5, pan=(128.0, 0.0), background="gradient")
    animation = animate(scene, [1, 1])
    clip = clip_from_arrays(animation.frames, Fraction(24000, 1001))
    truth = animation.truth(0.5)
    blend = psnr(_rgb(vsanimsplat.interpolate(clip, factor=2, model="blend").get_frame(1)), truth)
    pictures, scores = {}, {}
    for flow_scale in (1.0, 0.5, 0.25):
        out = vsanimsplat.interpolate(clip, factor=2, model="base", flow_scale=flow_scale, device="cpu")
        frame = out.get_frame(1)
        assert frame.props["AnimSplat_T"] == 0.5 and frame.props["AnimSplat_Interpolated"] == 1
        pictures[flow_scale] = _rgb(frame).astype(np.float64)
        scores[flow_scale] = psnr(_rgb(frame), truth)
    assert scores[1.0] > blend + 10, (scores, blend)
    for flow_scale in (0.5, 0.25):
        assert np.abs(pictures[flow_scale] - pictures[1.0]).mean() > 0.2, flow_scale  # measured 0.39 and 0.39
        assert scores[flow_scale] > scores[1.0] - 3.5 and scores[flow_scale] > blend + 9, (scores, blend)
