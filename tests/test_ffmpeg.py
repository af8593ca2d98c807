"""vsanimsplat.ffmpeg: reading ffmpeg's stream listing, the encode command, finding a usable ffmpeg."""

from fractions import Fraction

import pytest

from vsanimsplat.ffmpeg import (Encoding, FFmpegNotFound, Stream, aspect_filters, check_rate, codec_for, colour_args,
                                encode_command, find_ffmpeg, parse_streams)

MKV_LISTING = """\
Input #0, matroska,webm, from 'episode.mkv':
  Metadata:
    title           : Episode 1
  Duration: 00:23:40.02, start: 0.000000, bitrate: 3004 kb/s
  Chapters:
    Chapter #0:0: start 0.000000, end 90.000000
      Metadata:
        title           : Opening
  Stream #0:0: Video: h264 (High 10), yuv420p10le(tv, bt709, progressive), 1920x1080, SAR 1:1 DAR 16:9, 23.98 fps, 23.98 tbr, 1k tbn (default)
  Stream #0:1(jpn): Audio: flac, 48000 Hz, stereo, s16 (default)
  Stream #0:2(jpn): Audio: pcm_s16le, 48000 Hz, stereo, s16, 1536 kb/s
  Stream #0:3(eng): Subtitle: hdmv_pgs_subtitle, 1920x1080
  Stream #0:4(eng): Subtitle: ass (ssa) (default)
  Stream #0:5: Attachment: ttf
    Metadata:
      filename        : font.ttf
At least one output file must be specified
"""

MP4_LISTING = """\
Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'clip.mp4':
  Duration: 00:00:10.01, start: 0.000000, bitrate: 1200 kb/s
  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(progressive), 1280x720, 1000 kb/s, 23.98 fps, 23.98 tbr, 24k tbn (default)
  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, stereo, fltp, 128 kb/s (default)
  Stream #0:2[0x3](eng): Data: bin_data (text / 0x74786574)
"""


def test_a_second_video_track_is_dropped_with_a_warning():
    listing = MP4_LISTING.replace("  Stream #0:2[0x3](eng): Data", "  Stream #0:2[0x3](und): Video: h264 (High), "
                                  "yuv420p(progressive), 640x360, 23.98 fps (default)\n  Stream #0:3[0x4](eng): Data")
    args, warnings = encode_command("out.mkv", Encoding(), "clip.mp4", parse_streams(listing))
    assert [value for option, value in _pairs(args[:-1]) if option == "-map"] == ["0:v:0", "1:1"]
    assert warnings == ["video stream 2 (h264): a second video track (only the first is interpolated); dropped"]


def test_parse_streams_reads_kinds_codecs_and_indices():
    assert parse_streams(MKV_LISTING) == [
        Stream(0, "video", "h264", size=(1920, 1080), rate=Fraction(24000, 1001)), Stream(1, "audio", "flac"), Stream(2, "audio", "pcm_s16le"),
        Stream(3, "subtitle", "hdmv_pgs_subtitle"), Stream(4, "subtitle", "ass"), Stream(5, "attachment", "ttf"),
    ]
    assert parse_streams(MP4_LISTING) == [Stream(0, "video", "h264", size=(1280, 720), rate=Fraction(24000, 1001)),
                                          Stream(1, "audio", "aac"), Stream(2, "data", "bin_data")]


def test_parse_streams_reads_the_stated_rate_where_two_decimals_name_it():
    """ffmpeg prints rates to 0.01: 23.98 is 24000/1001, 25 is 25, 23.81 is unknown (no standard rate rounds to it)."""
    line = "  Stream #0:0: Video: h264 (High), yuv420p(tv, progressive), 64x36, {} fps, 1k tbn\n"
    rates = [parse_streams("Input #0, matroska,webm, from 'a.mkv':\n" + line.format(printed))[0].rate
             for printed in ("23.98", "59.94", "25", "23", "1k", "23.81")]
    assert rates == [Fraction(24000, 1001), Fraction(60000, 1001), 25, 23, 1000, None]


def test_parse_streams_refuses_a_file_ffmpeg_cannot_open():
    with pytest.raises(ValueError, match="Invalid data found"):
        parse_streams("[in#0 @ 0x5581] Error opening input: Invalid data found when processing input\n"
                      "junk.mp4: Invalid data found when processing input\n")
    with pytest.raises(ValueError, match="no message"):
        parse_streams("")


def _pairs(args: list[str]) -> list[tuple[str, str]]:
    return list(zip(args[::2], args[1::2]))


def test_matroska_copies_every_stream_but_data():
    args, warnings = encode_command("out.mkv", Encoding(), "in.mkv", parse_streams(MKV_LISTING))
    assert args[:6] == ["-f", "yuv4mpegpipe", "-i", "-", "-i", "file:in.mkv"]  # a file whatever its name
    maps = [value for option, value in _pairs(args[:-1]) if option == "-map"]
    assert maps == ["0:v:0", "1:1", "1:2", "1:3", "1:4", "1:5"]
    assert ("-map_chapters", "1") in _pairs(args[6:]) and ("-map_metadata", "1") in _pairs(args[6:])
    assert ("-c:a", "copy") in _pairs(args[6:]) and ("-c:s", "copy") in _pairs(args[6:])
    assert args[-1] == "file:out.mkv" and warnings == []
    args, _ = encode_command("out.mkv", Encoding(), "in.mp4", parse_streams(MP4_LISTING))
    assert "1:2" not in args  # the data stream


def test_mp4_converts_or_drops_what_it_cannot_hold():
    args, warnings = encode_command("out.mp4", Encoding(), "in.mkv", parse_streams(MKV_LISTING))
    maps = [value for option, value in _pairs(args[:-1]) if option == "-map"]
    assert maps == ["0:v:0", "1:1", "1:2", "1:4"]  # PGS and the font dropped
    pairs = _pairs(args[6:-1])
    assert ("-c:a:1", "aac") in pairs and ("-c:a:0", "aac") not in pairs  # PCM re-encoded, FLAC kept
    assert ("-c:s:0", "mov_text") in pairs  # the ASS track is the first subtitle of the output
    assert len(warnings) == 4
    assert any("pcm_s16le" in w and "AAC" in w for w in warnings)
    assert any("hdmv_pgs_subtitle" in w and "dropped" in w for w in warnings)
    assert any("attachment" in w and "dropped" in w for w in warnings)


def test_duration_cut_codec_tags_and_colour():
    args, _ = encode_command("out.mov", Encoding("x265"), "in.mkv", [], seconds=Fraction(1001, 1000),
                             colour=colour_args({"_Matrix": 1, "_Range": 0}))
    assert args[:8] == ["-f", "yuv4mpegpipe", "-i", "-", "-t", "1.001000", "-i", "file:in.mkv"]
    pairs = _pairs(args[8:-1])
    assert ("-c:v", "libx265") in pairs and ("-tag:v", "hvc1") in pairs
    # through setparams: ffmpeg 9 drops the primaries and transfer given as encoder options
    assert ("-filter:v:0", "setparams=colorspace=bt709:range=tv") in pairs and "-colorspace" not in args
    args, _ = encode_command("out.mkv", Encoding("x265", extra=("-x265-params", "aq-mode=3")), "in.mkv", [])
    assert "-tag:v" not in args and args[-3:] == ["-x265-params", "aq-mode=3", "file:out.mkv"]
    with pytest.raises(ValueError, match="cannot hold ffv1"):
        encode_command("out.mp4", Encoding("ffv1"), "in.mkv", [])
    with pytest.raises(ValueError, match=r"\.mkv, \.mp4, \.mov"):
        encode_command("out.avi", Encoding(), "in.mkv", [])


LATE_VIDEO_LISTING = """\
Input #0, matroska,webm, from 'capture.mkv':
  Duration: 00:00:04.02, start: -0.021000, bitrate: 92 kb/s
  Stream #0:0: Video: h264 (High), yuv420p(tv, progressive), 160x96 [SAR 1:1 DAR 5:3], 23.98 fps, 1k tbn, start 0.500000
  Stream #0:1(jpn): Audio: aac (LC), 44100 Hz, mono, fltp, start -0.021000 (default)
  Stream #0:2: Subtitle: ass
"""


def test_video_that_starts_late_stays_late():
    """The source's video starts 0.521 s after its earliest stream (the audio): ffmpeg moves the audio to 0, so
    the piped video is delayed by 0.521 s, and a cut at 1.001 s of video copies 1.522 s of the source."""
    streams = parse_streams(LATE_VIDEO_LISTING)
    assert [(s.kind, s.start) for s in streams] == [("video", 0.5), ("audio", -0.021), ("subtitle", 0.0)]
    args, _ = encode_command("out.mkv", Encoding(), "capture.mkv", streams, seconds=Fraction(1001, 1000))
    assert args[:10] == ["-itsoffset", "0.521000", "-f", "yuv4mpegpipe", "-i", "-", "-t", "1.522000", "-i",
                         "file:capture.mkv"]
    # with the rate known, the delay is added in units that hold it (ms) and the frames (1001/48000 s) exactly,
    # not on the pipe's time base (the frame grid); MP4 counts in those units too
    args, _ = encode_command("out.mp4", Encoding(), "capture.mkv", streams, rate=Fraction(48000, 1001))
    assert "-itsoffset" not in args and args[:4] == ["-f", "yuv4mpegpipe", "-i", "-"]
    assert {("-filter:v:0", "settb=1/48000,setpts=PTS+521/1000/TB"), ("-enc_time_base:v", "1/48000"),
            ("-video_track_timescale", "48000")} <= set(_pairs(args[8:]))
    args, _ = encode_command("out.mkv", Encoding(), "capture.mkv", streams, rate=Fraction(48000, 1001))
    assert ("-enc_time_base:v", "1/48000") in _pairs(args) and "-video_track_timescale" not in args
    assert ("-video_track_timescale", "3000") in _pairs(encode_command("out.mov", Encoding(), "capture.mkv", streams,
                                                                       rate=Fraction(24))[0])
    on_time = [Stream(0, "video", "h264", 1.0), Stream(1, "audio", "aac", 1.0)]  # both late: nothing to keep
    args, _ = encode_command("out.mkv", Encoding(), "capture.mkv", on_time)
    assert args[:6] == ["-f", "yuv4mpegpipe", "-i", "-", "-i", "file:capture.mkv"]


COVER_LISTING = """\
Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'cover.mp4':
  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(progressive), 321x181 [SAR 32:27 DAR 1712:1086], 25 fps, 12800 tbn (default)
  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, mono, fltp, 72 kb/s (default)
  Stream #0:2[0x0]: Video: png, rgb24(pc, gbr/unknown/unknown), 64x64 [SAR 1:1 DAR 1:1], 90k tbr, 90k tbn (attached pic)
"""


@pytest.mark.parametrize("output", ["out.mkv", "out.mp4"])
def test_cover_art_is_dropped_with_a_warning_naming_it(output):
    streams = parse_streams(COVER_LISTING)
    assert streams[0] == Stream(0, "video", "h264", size=(321, 181), rate=Fraction(25))
    assert streams[2] == Stream(2, "video", "png", size=(64, 64), picture=True)
    args, warnings = encode_command(output, Encoding(), "cover.mp4", streams)
    assert [value for option, value in _pairs(args[:-1]) if option == "-map"] == ["0:v:0", "1:1"]
    assert warnings == ["video stream 2 (png): cover art (attached picture) is not copied; dropped"]


def test_aspect_filters_set_the_exact_pixel_shape_of_the_props():
    assert aspect_filters({"_SARNum": 32, "_SARDen": 27}) == ["setsar=sar=32/27:max=32"]
    assert aspect_filters({"_SARNum": 8640, "_SARDen": 9478}) == ["setsar=sar=4320/4739:max=4739"]
    for square_or_unknown in ({"_SARNum": 1, "_SARDen": 1}, {"_SARNum": 0, "_SARDen": 1}, {}):
        assert aspect_filters(square_or_unknown) == []
    args, _ = encode_command("out.mkv", Encoding(), "in.mkv", [], aspect=aspect_filters({"_SARNum": 32, "_SARDen": 27}))
    assert ("-filter:v:0", "setsar=sar=32/27:max=32") in _pairs(args[6:-1])


def test_a_late_video_and_its_pixel_shape_share_one_filter_chain():
    """ffmpeg keeps only the last -filter option of a stream: the delay and the pixel shape go in one chain."""
    streams = [Stream(0, "video", "h264", 0.5), Stream(1, "audio", "aac", 0.0)]
    args, _ = encode_command("out.mkv", Encoding(), "in.mkv", streams, aspect=aspect_filters({"_SARNum": 32, "_SARDen": 27}),
                             rate=Fraction(48000, 1001))
    chains = [args[i + 1] for i, a in enumerate(args) if a in ("-vf", "-filter:v", "-filter:v:0")]
    assert len(chains) == 1
    assert chains[0].split(",") == ["settb=1/48000", "setpts=PTS+500/1000/TB", "setsar=sar=32/27:max=32"]


def test_video_args_defaults_and_errors():
    assert Encoding().video_args() == ["-c:v", "libx264", "-crf", "18", "-preset", "medium"]
    assert Encoding("x265", crf=22.5, preset="slow").video_args() == ["-c:v", "libx265", "-crf", "22.5", "-preset", "slow"]
    assert Encoding("ffv1").video_args()[:2] == ["-c:v", "ffv1"] and "-crf" not in Encoding("ffv1").video_args()
    with pytest.raises(ValueError, match="lossless"):
        Encoding("ffv1", crf=10).video_args()
    with pytest.raises(ValueError, match="preset must be one of"):
        Encoding(preset="fastest").video_args()
    with pytest.raises(ValueError, match="codec must be one of x264, x265, ffv1"):
        Encoding("vp9").video_args()


@pytest.mark.parametrize("name, codec", [("ep.x265.mkv", "x265"), ("ep.HEVC.mp4", "x265"), ("ep.h265.mov", "x265"),
                                         ("ep.ffv1.mkv", "ffv1"), ("ep.x264.mp4", "x264"), ("ep.mkv", "x264"),
                                         ("my.show.01.mkv", "x264"), ("/a.x265/b.mkv", "x264")])
def test_codec_from_the_output_name(name, codec):
    assert codec_for(name) == codec


def test_colour_args_leave_out_unspecified_values():
    assert colour_args({"_Matrix": 1, "_Primaries": 1, "_Transfer": 1, "_Range": 1}) == [
        "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "pc"]
    assert colour_args({"_Matrix": 2, "_Primaries": 2, "_Transfer": 2}) == []


def test_find_ffmpeg_has_the_default_encoders_and_names_what_is_missing():
    found = find_ffmpeg(["libx264", "libx265", "ffv1", "aac"])
    assert found.origin in ("PATH", "imageio-ffmpeg") and found.path in found.describe()
    with pytest.raises(FFmpegNotFound, match="lacks no_such_encoder"):
        find_ffmpeg(["no_such_encoder"])


@pytest.mark.parametrize("output, rate, fits", [("a.mkv", Fraction(1000), True), ("a.MKV", Fraction(1001), False),
                                                ("a.mkv", Fraction(24000000, 1001), False),
                                                ("a.mp4", Fraction(24000000, 1001), True),
                                                ("a.mov", Fraction(10 ** 6), True)])
def test_rates_beyond_matroskas_milliseconds_are_refused(output, rate, fits):
    if fits:
        check_rate(output, rate)
    else:
        with pytest.raises(ValueError, match=r"stores timestamps in 1/1000 s, so it cannot hold .* the most is 1000"):
            check_rate(output, rate)
