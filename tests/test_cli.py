"""The ``vsanimsplat`` command line on real encoded video files."""

import subprocess
import sys

import numpy as np
import pytest
import vapoursynth as vs

from vsanimsplat.cli import main


def test_report_counts_drawings_and_holds(video, capsys, tmp_path):
    path, holds = video
    timecodes = tmp_path / "tc.txt"
    assert main(["report", str(path), "--timecodes", str(timecodes), "-q"]) == 0
    out = capsys.readouterr().out
    assert f"drawings: {len(holds)}" in out
    assert f"frames:   {sum(holds)}" in out
    assert f"ones   {holds.count(1):6d}" in out
    assert f"twos   {holds.count(2):6d}" in out
    assert f"threes {holds.count(3):6d}" in out
    lines = timecodes.read_text().splitlines()
    assert lines[0] == "# timecode format v2" and len(lines) == 1 + len(holds)
    assert float(lines[2]) == pytest.approx(holds[0] * 1001 / 24)


def test_report_threshold_as_pixels(video, capsys):
    """``--threshold 0 --tolerance 0``: a frame that differs from the one before in any pixel at all is a new
    drawing, so the count is one more than the frames not bit-identical to their predecessor (x264's held frames
    differ by its noise: here every frame, 29, against 12 drawings with the defaults)."""
    path, holds = video
    assert main(["report", str(path), "--threshold", "0", "--tolerance", "0", "-q"]) == 0
    drawings = int(capsys.readouterr().out.split("drawings:")[1].split()[0])
    clip = vs.core.bs.VideoSource(str(path), cachemode=0)
    planes = [[np.asarray(frame[p]).copy() for p in range(clip.format.num_planes)] for frame in clip.frames()]
    changes = sum(any(not np.array_equal(x, y) for x, y in zip(a, b)) for a, b in zip(planes, planes[1:]))
    assert len(planes) == sum(holds) and changes > len(holds)
    assert drawings == 1 + changes


def test_missing_input_is_a_clear_error(capsys, tmp_path):
    assert main(["report", str(tmp_path / "nope.mkv")]) == 2
    assert "input file not found" in capsys.readouterr().err


def test_undecodable_input_is_a_clear_error(capsys, tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    assert main(["report", str(junk)]) == 2
    assert "cannot decode" in capsys.readouterr().err


def test_bad_threshold_is_refused(video, capsys):
    path, _ = video
    with pytest.raises(SystemExit) as exit_:
        main(["report", str(path), "--threshold", "lots"])
    assert exit_.value.code == 2
    assert "threshold" in capsys.readouterr().err
    assert main(["report", str(path), "--threshold", "2.0"]) == 2
    assert "threshold" in capsys.readouterr().err


@pytest.mark.slow
def test_module_entry_point_runs():
    done = subprocess.run([sys.executable, "-m", "vsanimsplat", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("vsanimsplat ")


def test_models_list_names_every_model_and_the_cache(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("VSANIMSPLAT_MODEL_DIR", str(tmp_path))
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert f"cache: {tmp_path}" in out
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "installed" in lines["blend"] and "flownet.pkl missing" in lines["union"]
    assert "9.37 M parameters" in lines["pwcnet"] and "network-lf.pytorch missing" in lines["softsplat"]
