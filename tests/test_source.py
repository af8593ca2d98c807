"""Opening video files: constant rate by default, the file's timestamps on request."""

import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import vapoursynth as vs

from vsanimsplat.cli import main
from vsanimsplat.ffmpeg import find_ffmpeg, write_rgb_video
from vsanimsplat.filters.frames import frame_durations
from vsanimsplat.filters.source import _lsmash, frame_times, open_video, source_timing, standard_rate
from vsanimsplat.timeline import start_times
from vsanimsplat.timestamps import SourceTiming

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def test_standard_rate_snaps_rounded_container_rates():
    assert standard_rate(Fraction(2997, 125)) == Fraction(24000, 1001)
    assert standard_rate(Fraction(5994, 100)) == Fraction(60000, 1001)
    assert standard_rate(Fraction(24)) == 24
    assert standard_rate(Fraction(260739, 33125)) == Fraction(260739, 33125)  # nothing standard nearby


def test_constant_rate_by_default_and_timestamps_with_vfr(video):
    path, holds = video
    clip = open_video(path)
    assert clip.fps == Fraction(24000, 1001) and clip.num_frames == sum(holds)
    assert set(frame_durations(clip)) == {Fraction(1001, 24000)}
    stamped = frame_durations(open_video(path, vfr=True))
    assert set(stamped[:-1]) == {Fraction(41, 1000), Fraction(42, 1000)}  # Matroska rounds to 1 ms
    forced = open_video(path, fps=Fraction(25))
    assert forced.fps == 25 and set(frame_durations(forced)) == {Fraction(1, 25)}


def test_bad_fps_is_refused(video):
    with pytest.raises(ValueError, match="fps"):
        open_video(video[0], fps=Fraction(0))


def test_odd_size_with_subsampled_chroma_keeps_every_pixel_as_444(tmp_path):
    """BestSource alone crops 321x181 4:2:0 to 320x180; the clip keeps the file's size and BestSource's props."""
    path = tmp_path / "odd.mkv"
    ramp = np.add.outer(np.arange(181), np.arange(321)).astype(np.uint8)
    write_rgb_video([np.repeat(ramp[..., None] // k, 3, axis=2) for k in (1, 2, 3)], path, Fraction(24),
                    codec_args=("-c:v", "ffv1", "-pix_fmt", "yuv420p"))
    with pytest.warns(UserWarning, match=r"odd\.mkv: 321x181 is an odd size for YUV420P8 chroma; decoded as YUV444P8"):
        clip = open_video(path)
    assert (clip.width, clip.height, clip.format.name, clip.num_frames, clip.fps) == (321, 181, "YUV444P8", 3, 24)
    cropped = vs.core.bs.VideoSource(str(path))
    assert (cropped.width, cropped.height) == (320, 180)
    for n in range(3):
        luma = np.asarray(clip.get_frame(n)[0])
        assert np.array_equal(luma[:180, :320], np.asarray(cropped.get_frame(n)[0]))  # the same pictures
        assert luma[180].std() > 10 and luma[:, 320].std() > 10  # the last row and column are picture too
    assert clip.get_frame(0).props["_DurationDen"] == 24


@pytest.mark.skipif(not (SHARED / "megamind-scenecuts.avi").exists(), reason="shared evaluation data not present")
def test_avi_with_a_misleading_header_gets_its_real_rate():
    clip = open_video(SHARED / "megamind-scenecuts.avi")
    assert clip.fps == Fraction(24000, 1001) and clip.num_frames == 270
    assert vs.core.bs.VideoSource(str(SHARED / "megamind-scenecuts.avi")).fps != clip.fps


def test_frame_times_come_from_the_index_and_vfr_keeps_them(video):
    path, holds = video
    times = frame_times(path)
    assert len(times) == sum(holds) and times[0] == 0
    assert {b - a for a, b in zip(times, times[1:])} == {Fraction(41, 1000), Fraction(42, 1000)}
    durations = frame_durations(open_video(path, vfr=True))
    assert start_times(durations) == times
    assert durations[-1] == times[-1] - times[-2]  # the index has no end for the last frame: it lasts as the one before


def test_a_constant_source_keeps_its_stated_rate(video):
    assert source_timing(video[0]) == SourceTiming(Fraction(24000, 1001))


@pytest.mark.skipif(not (SHARED / "megamind-scenecuts.avi").exists(), reason="shared evaluation data not present")
def test_a_file_without_timestamps_keeps_the_rate_open_video_finds():
    assert frame_times(SHARED / "megamind-scenecuts.avi") is None
    assert source_timing(SHARED / "megamind-scenecuts.avi") == SourceTiming(Fraction(24000, 1001))


def test_a_two_frame_file_keeps_its_stated_rate(tmp_path, capsys):
    """BestSource reads a 2-frame Matroska file at 24000/1001 fps as 500/21 (its frames are 42 ms apart); the rate
    the file states keeps both frames at their timestamps, so open_video and report take it (issue 29, item 11)."""
    path = tmp_path / "two.mkv"
    write_rgb_video([np.full((36, 64, 3), value, np.uint8) for value in (40, 200)], path, Fraction(24000, 1001))
    assert vs.core.bs.VideoSource(str(path)).fps == Fraction(500, 21)
    assert open_video(path).fps == Fraction(24000, 1001)
    assert source_timing(path) == SourceTiming(Fraction(24000, 1001))
    assert main(["report", str(path), "-q"]) == 0
    assert "2 frames at 24000/1001 fps" in capsys.readouterr().out


def _generated(path: Path, *args: str) -> Path:
    """A file ffmpeg makes of its test pattern: ``args`` are its inputs and output options."""
    subprocess.run([find_ffmpeg().path, "-v", "error", *args, str(path)], check=True)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("rate", [Fraction(24000, 1001), Fraction(47, 2)])
def test_an_odd_size_file_without_timestamps_gets_its_rate(tmp_path, capsys, rate):
    """An XVID AVI at 97x65 with B-frames has no timestamps BestSource can use (BestSource says 24000 or 47 fps):
    ffmpeg's stated standard rate, else L-SMASH's, asked for the 4:4:4 pictures that hold the odd size (its own
    4:2:0 ends the process). The odd-size clip carried L-SMASH's durations, so BestSource's rate was taken."""
    path = _generated(tmp_path / "odd.avi", "-f", "lavfi", "-i", f"testsrc=size=97x65:rate={rate}", "-frames:v", "12",
                      "-c:v", "mpeg4", "-bf", "2", "-vtag", "XVID")
    assert "_DurationNum" not in vs.core.bs.VideoSource(str(path)).get_frame(0).props
    with pytest.warns(UserWarning, match="odd size"):
        clip = open_video(path)
    assert (clip.width, clip.height, clip.fps, clip.num_frames) == (97, 65, rate, 12)
    assert main(["run", str(path), "-o", str(tmp_path / "out.mkv"), "--model", "blend", "-q"]) == 0
    assert f"24 frames, 97x65 at {2 * rate} fps" in capsys.readouterr().out


def test_l_smash_reads_the_video_track_bestsource_reads(tmp_path):
    """A 97x65 4:2:0 track and a larger second one: L-SMASH chose the larger, so the 4:4:4 copy of the first
    failed ("L-SMASH gives 6 frames of 161x97"); it is asked for the first track."""
    path = _generated(tmp_path / "two.mkv", "-f", "lavfi", "-i", "testsrc=size=97x65:rate=24", "-f", "lavfi", "-i",
                      "testsrc=size=161x97:rate=24", "-map", "0:v", "-map", "1:v", "-t", "0.25", "-c:v", "ffv1",
                      "-pix_fmt:v:0", "yuv420p", "-pix_fmt:v:1", "bgra")
    with pytest.warns(UserWarning, match="odd size"):
        clip = open_video(path)
    assert (clip.width, clip.height, clip.format.name, clip.num_frames) == (97, 65, "YUV444P8", 6)
    luma = np.asarray(clip.get_frame(0)[0])
    assert np.array_equal(luma[:64, :96], np.asarray(vs.core.bs.VideoSource(str(path)).get_frame(0)[0]))


def test_l_smash_ending_the_process_is_an_error(tmp_path):
    """L-SMASH's own 4:2:0 pictures at 97x65 end the process (a C++ terminate: SIGABRT, no exception); it is tried
    in a child process first, so this one gets vs.Error with L-SMASH's message."""
    path = _generated(tmp_path / "odd.mkv", "-f", "lavfi", "-i", "testsrc=size=97x65:rate=24", "-frames:v", "3",
                      "-c:v", "ffv1", "-pix_fmt", "yuv420p")
    with pytest.raises(vs.Error, match=r"L-SMASH cannot read it: .* \(ended by signal 6\)"):
        _lsmash(path, None)
    assert _lsmash(path, None, format="YUV444P8").width == 97
