"""Finding ffmpeg, reading what a file holds, and the encode command (no VapourSynth, no torch).

ffmpeg comes from ``PATH``, else from the ``imageio-ffmpeg`` package (a static build with
libx264, libx265, FFV1 and AAC, but no ffprobe). :func:`find_ffmpeg` takes the first of the
two that runs and has the encoders a job needs. :func:`encode_command` is the one place that
decides the ffmpeg arguments of an encode: video from a y4m pipe, tagged with its colours
(:func:`colour_args`) and pixel shape (:func:`aspect_filters`); audio, subtitles, attachments and
chapters copied from the source file, converted or dropped (with a warning) where an MP4/MOV file
cannot hold them as they are.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from os import PathLike
from pathlib import PurePath

import numpy as np

from .errors import BadOption, EncodeError, NotInstalled
from .timestamps import standard_rate

__all__ = [
    "CODECS",
    "CONTAINERS",
    "Codec",
    "Encoding",
    "FFmpeg",
    "FFmpegNotFound",
    "PIPED_Y4M",
    "Stream",
    "aspect_filters",
    "check_rate",
    "codec_for",
    "colour_args",
    "count_frames",
    "encode_command",
    "file_url",
    "find_ffmpeg",
    "parse_streams",
    "probe_streams",
    "segment_command",
    "write_rgb_video",
]

_INSTALL_HINT = "install it (apt-get install ffmpeg) or pip install imageio-ffmpeg"


class FFmpegNotFound(NotInstalled):
    """No usable ffmpeg (or none with the encoders asked for); the message says what to install."""


@dataclass(frozen=True)
class FFmpeg:
    """An ffmpeg binary and what it can do.

    | field | type | meaning |
    |---|---|---|
    | `path` | str | the executable |
    | `origin` | str | where it was found: ``"PATH"`` or ``"imageio-ffmpeg"`` |
    | `version` | str | its version string (``"6.1.1-3ubuntu5"``, ``"n9.0.2-…"``) |
    | `encoders` | frozenset[str] | names of its encoders (``"libx264"``, ``"aac"`` …) |
    """

    path: str
    origin: str
    version: str
    encoders: frozenset[str]

    def describe(self) -> str:
        """One line for ``--version`` and verbose output: version, origin and path."""
        return f"ffmpeg {self.version} from {self.origin} ({self.path})"


def _candidates() -> list[tuple[str, str]]:
    """(path, origin) of the ffmpeg binaries to try, in order: PATH, then imageio-ffmpeg."""
    found = []
    on_path = shutil.which("ffmpeg")
    if on_path:
        found.append((on_path, "PATH"))
    try:
        import imageio_ffmpeg

        found.append((imageio_ffmpeg.get_ffmpeg_exe(), "imageio-ffmpeg"))
    except (ImportError, RuntimeError):
        pass
    return found


@functools.lru_cache(maxsize=8)
def _inspect(path: str, origin: str) -> FFmpeg | None:
    """The version and encoders of the ffmpeg at ``path``, or None when it does not run."""
    try:
        version = subprocess.run([path, "-hide_banner", "-version"], capture_output=True, text=True, timeout=30)
        listing = subprocess.run([path, "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    if version.returncode != 0 or listing.returncode != 0:
        return None
    match = re.match(r"ffmpeg version (\S+)", version.stdout)
    # encoder lines: " V....D libx264   libx264 H.264 …" (six flag characters, then the name)
    encoders = frozenset(m.group(1) for m in re.finditer(r"^ [VAS][A-Z.]{5} (\S+)", listing.stdout, re.M))
    return FFmpeg(path, origin, match.group(1) if match else "unknown", encoders)


def find_ffmpeg(encoders: Iterable[str] = ()) -> FFmpeg:
    """The first ffmpeg (PATH, then imageio-ffmpeg) that runs and has all of ``encoders``.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `encoders` | iterable of str | () | encoder names the job needs, e.g. ``("libx264",)`` |

    Raises :class:`FFmpegNotFound` naming what was tried and what each one lacks.
    """
    wanted = set(encoders)
    tried = []
    for path, origin in _candidates():
        found = _inspect(path, origin)
        if found is None:
            tried.append(f"{path} ({origin}) does not run")
        elif wanted <= found.encoders:
            return found
        else:
            tried.append(f"{found.describe()} lacks {', '.join(sorted(wanted - found.encoders))}")
    if not tried:
        raise FFmpegNotFound(f"ffmpeg not found on PATH nor in the imageio-ffmpeg package: {_INSTALL_HINT}")
    raise FFmpegNotFound(f"no usable ffmpeg with {', '.join(sorted(wanted)) or 'any encoder'}: "
                         f"{'; '.join(tried)}; {_INSTALL_HINT}")


@dataclass(frozen=True)
class Stream:
    """One stream of a media file, as ``ffmpeg -i`` lists it.

    | field | type | meaning |
    |---|---|---|
    | `index` | int | stream index in the file (``-map 1:INDEX``) |
    | `kind` | str | ``"video"``, ``"audio"``, ``"subtitle"``, ``"attachment"`` or ``"data"`` |
    | `codec` | str | ffmpeg's codec name (``"aac"``, ``"subrip"``, ``"hdmv_pgs_subtitle"`` …) |
    | `start` | float | seconds of its first timestamp (ffmpeg lists it where it is not 0) |
    | `size` | tuple[int, int] or None | video: (width, height) of its pictures; None for other kinds |
    | `picture` | bool | video: an attached picture (cover art), not a moving video track |
    | `rotation` | int | video: degrees its display matrix turns the pictures by (0, 90, 180 or 270; rotation metadata) |
    | `title` | str | the track's name (its ``title`` tag), empty when it has none |
    | `rate` | Fraction or None | video: the frame rate the file states (ffmpeg's "fps", printed to 0.01) as a standard rate (:func:`~vsanimsplat.timestamps.standard_rate`), a whole number, or None when neither fits what is printed |
    """

    index: int
    kind: str
    codec: str
    start: float = 0.0
    size: tuple[int, int] | None = None
    picture: bool = False
    rotation: int = 0
    title: str = ""
    rate: Fraction | None = None

    @property
    def shown_size(self) -> tuple[int, int] | None:
        """video: (width, height) as players show the pictures, turned by :attr:`rotation`; None for other kinds."""
        if self.size is None or self.rotation % 180 == 0:
            return self.size
        return self.size[1], self.size[0]


# "  Stream #0:1[0x2](eng): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz, …" — the [id] and (language) are optional
_STREAM_LINE = re.compile(
    r"^\s*Stream #0:(\d+)(?:\[[^\]]*\])?(?:\([^)]*\))?: (Video|Audio|Subtitle|Attachment|Data): ([^\s,]+)(.*)$", re.M
)
_STREAM_START = re.compile(r", start (-?\d+(?:\.\d+)?)")
_STREAM_SIZE = re.compile(r", (\d+)x(\d+)\b")  # "…, yuv420p(tv, progressive), 1920x1080 [SAR 1:1 DAR 16:9], …"
_RATE = re.compile(r", (\d+(?:\.\d+)?)(k?) fps\b")  # "…, 23.98 fps, 23.98 tbr, 1k tbn": ffmpeg's print_fps
_TITLE = re.compile(r"^\s+title\s*: (.*)$", re.M)  # in the stream's "Metadata:" lines
_ROTATION = re.compile(r"display ?matrix: rotation of (-?\d+(?:\.\d+)?) degrees", re.I)  # in the stream's side data


def parse_streams(listing: str) -> list[Stream]:
    """The streams of the first input in the text ``ffmpeg -i FILE`` prints on stderr.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `listing` | str | | ffmpeg's stderr |

    Raises :class:`~vsanimsplat.errors.BadOption` (with ffmpeg's last line) when the text shows no input: ffmpeg
    could not open the file.
    """
    if "Input #0" not in listing:
        last = listing.strip().splitlines()[-1] if listing.strip() else "no message"
        raise BadOption("ffmpeg.parse_streams", "listing", f"ffmpeg cannot read it: {last}")
    streams = []
    found = list(_STREAM_LINE.finditer(listing))
    for m, after in itertools.zip_longest(found, found[1:]):
        kind, rest = m.group(2).lower(), m.group(4)
        start = _STREAM_START.search(rest)
        size = _STREAM_SIZE.search(rest) if kind == "video" else None
        rate = _RATE.search(rest) if kind == "video" else None
        # the stream's own lines (metadata, side data) run to the next stream's
        end = after.start() if after else len(listing)
        rotation = _ROTATION.search(listing, m.end(), end)
        title = _TITLE.search(listing, m.end(), end)
        streams.append(Stream(int(m.group(1)), kind, m.group(3), float(start.group(1)) if start else 0.0,
                              (int(size.group(1)), int(size.group(2))) if size else None,
                              kind == "video" and "(attached pic)" in rest,
                              round(float(rotation.group(1))) % 360 if rotation and kind == "video" else 0,
                              title.group(1).strip() if title else "", _stated_rate(rate.group(1), rate.group(2)) if rate else None))
    return streams


def _stated_rate(printed: str, thousands: str) -> Fraction | None:
    """The rate ffmpeg printed (``"23.98"``, ``"25"``, ``"1"`` with ``"k"``): the standard rate or whole number it
    rounds from, else None (ffmpeg prints two decimals, too few to know any other rate)."""
    rate = Fraction(printed) * (1000 if thousands else 1)
    if rate <= 0:
        return None
    standard = standard_rate(rate, float(Fraction(1, 200) / rate))
    return standard if standard != rate or rate.denominator == 1 else None


def file_url(path: str | PathLike[str]) -> str:
    """``path`` as ffmpeg must be given a file: with ``file:`` before it, so that a name with a colon
    (``ep01:v2.mkv``) is read as a file, not as a protocol (``ep01:``) ffmpeg does not know."""
    return f"file:{os.fspath(path)}"


def count_frames(ffmpeg: str, path: str | PathLike[str]) -> int:
    """The frames of the first video stream of ``path``, counted by copying its packets to nowhere (no decoding: a
    second or two for a film). Raises :class:`~vsanimsplat.errors.BadOption` naming the file when ffmpeg cannot read
    it."""
    result = subprocess.run([ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-stats", "-i", file_url(path),
                             "-map", "0:v:0", "-c", "copy", "-f", "null", "-"], capture_output=True, text=True,
                            errors="replace")
    counts = re.findall(r"frame=\s*(\d+)", result.stderr)
    if result.returncode != 0 or not counts:
        raise BadOption("ffmpeg.count_frames", "path",
                        f"{path}: ffmpeg cannot count its frames: {result.stderr.strip() or 'no message'}")
    return int(counts[-1])


def probe_streams(ffmpeg: str, path: str | PathLike[str]) -> list[Stream]:
    """The streams of ``path`` (no ffprobe needed: :func:`parse_streams` of ``ffmpeg -i``).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `ffmpeg` | str | | the ffmpeg executable |
    | `path` | str or PathLike | | a media file |

    Raises :class:`~vsanimsplat.errors.BadOption` naming the file when ffmpeg cannot open it.
    """
    listing = subprocess.run([ffmpeg, "-hide_banner", "-i", file_url(path)], capture_output=True, text=True,
                             errors="replace", timeout=120).stderr
    try:
        return parse_streams(listing)
    except BadOption as error:
        raise BadOption("ffmpeg.probe_streams", "path", f"{path}: {error.reason}") from None


@dataclass(frozen=True)
class Codec:
    """A video codec of the command line.

    | field | type | meaning |
    |---|---|---|
    | `encoder` | str | ffmpeg encoder name |
    | `crf` | float or None | default constant rate factor (None: lossless, no CRF and no preset) |
    | `fixed` | tuple[str, ...] | further arguments always given |
    """

    encoder: str
    crf: float | None
    fixed: tuple[str, ...] = ()


PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")
"""The ``-preset`` values of x264 and x265 (default ``medium``)."""

CODECS: dict[str, Codec] = {
    "x264": Codec("libx264", 18),
    "x265": Codec("libx265", 20),
    "ffv1": Codec("ffv1", None, ("-level", "3", "-g", "1", "-slicecrc", "1")),
}
"""Video codecs by command-line name. CRF 18 (x264) / 20 (x265) keep line art clean at a moderate size."""

_CODEC_TAGS = {"x264": "x264", "avc": "x264", "h264": "x264", "x265": "x265", "hevc": "x265", "h265": "x265",
               "ffv1": "ffv1"}

CONTAINERS = (".mkv", ".mp4", ".mov")
"""Output file extensions. Matroska holds every stream as it is; MP4 and MOV have limits (see :func:`encode_command`)."""

TIMESTAMP_RATES = {".mkv": 1000}
"""Timestamps per second of the containers whose resolution ffmpeg fixes: Matroska's are milliseconds (its
muxer has no option for a finer TimestampScale). MP4 and MOV take a timescale from the video's rate."""


def check_rate(output: str | PathLike[str], rate: Fraction) -> None:
    """Raise :class:`~vsanimsplat.errors.BadOption` when ``output``'s container cannot give each frame at ``rate`` a
    timestamp of its own.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `output` | str or PathLike | | the file to write; its extension picks the container |
    | `rate` | Fraction | | frames per second of the video |
    """
    suffix = PurePath(output).suffix.lower()
    ticks = TIMESTAMP_RATES.get(suffix)
    if ticks is not None and rate > ticks:
        raise BadOption("ffmpeg.check_rate", "rate",
                        f"a {suffix} file stores timestamps in 1/{ticks} s, so it cannot hold {rate} "
                        f"({float(rate):.6g}) frames per second (frames would share timestamps); the most is {ticks}: "
                        f"lower --factor/--fps, or write .mp4 or .mov")


PIPED_Y4M = ("-f", "yuv4mpegpipe", "-i", "-")
"""The video input of an encode: y4m on ffmpeg's stdin."""

_MP4_AUDIO = frozenset({"aac", "mp3", "ac3", "eac3", "opus", "flac", "alac"})
_TEXT_SUBTITLES = frozenset({"ass", "ssa", "subrip", "srt", "webvtt", "mov_text", "text", "microdvd", "subviewer",
                             "sami", "realtext", "mpl2", "vplayer", "pjs", "jacosub", "stl"})


def codec_for(output: str | PathLike[str]) -> str:
    """The codec an output name asks for: ``NAME.x265.mkv``/``NAME.hevc.mp4`` → x265, ``NAME.ffv1.mkv`` → ffv1, else x264.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `output` | str or PathLike | | the output file name; the tag is the suffix before the extension (any case) |

    Tags: ``x264``, ``avc``, ``h264``, ``x265``, ``hevc``, ``h265``, ``ffv1``.
    """
    inner = PurePath(PurePath(output).stem).suffix.lower().lstrip(".")
    return _CODEC_TAGS.get(inner, "x264")


@dataclass(frozen=True)
class Encoding:
    """How to encode: codec, quality, speed, anything else.

    | field | type | default | meaning |
    |---|---|---|---|
    | `codec` | str | "x264" | a key of :data:`CODECS` |
    | `crf` | float or None | None | constant rate factor; None = the codec's default |
    | `preset` | str or None | None | one of :data:`PRESETS`; None = ``medium`` |
    | `extra` | tuple[str, ...] | () | more ffmpeg output arguments, placed last (they win) |
    """

    codec: str = "x264"
    crf: float | None = None
    preset: str | None = None
    extra: tuple[str, ...] = ()

    def video_args(self) -> list[str]:
        """The ``-c:v …`` arguments. Raises :class:`~vsanimsplat.errors.BadOption` for an unknown codec or
        preset, or a CRF/preset with FFV1."""
        if self.codec not in CODECS:
            raise BadOption("ffmpeg.Encoding", "codec", f"codec must be one of {', '.join(CODECS)}, got {self.codec!r}")
        codec = CODECS[self.codec]
        if codec.crf is None:
            if self.crf is not None or self.preset is not None:
                raise BadOption("ffmpeg.Encoding", "crf",
                                f"--crf and --preset do not apply to the lossless {self.codec} codec")
            return ["-c:v", codec.encoder, *codec.fixed]
        preset = self.preset or "medium"
        if preset not in PRESETS:
            raise BadOption("ffmpeg.Encoding", "preset", f"preset must be one of {', '.join(PRESETS)}, got {preset!r}")
        crf = codec.crf if self.crf is None else self.crf
        return ["-c:v", codec.encoder, *codec.fixed, "-crf", f"{crf:g}", "-preset", preset]


# VapourSynth frame-prop values (_Matrix, _Primaries, _Transfer, _Range) → ffmpeg option values
_COLOUR_OPTIONS: dict[str, tuple[str, dict[int, str]]] = {
    "_Matrix": ("-colorspace", {0: "rgb", 1: "bt709", 4: "fcc", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m",
                                8: "ycgco", 9: "bt2020nc", 10: "bt2020c"}),
    "_Primaries": ("-color_primaries", {1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m",
                                        8: "film", 9: "bt2020", 10: "smpte428", 11: "smpte431", 12: "smpte432"}),
    "_Transfer": ("-color_trc", {1: "bt709", 4: "gamma22", 5: "gamma28", 6: "smpte170m", 7: "smpte240m",
                                 8: "linear", 13: "iec61966-2-1", 14: "bt2020-10", 15: "bt2020-12",
                                 16: "smpte2084", 18: "arib-std-b67"}),
    "_Range": ("-color_range", {0: "tv", 1: "pc"}),  # vs.RANGE_LIMITED = 0, vs.RANGE_FULL = 1
}


def colour_args(props: Mapping[str, object]) -> list[str]:
    """ffmpeg output options tagging the video with the colour properties of ``props`` (frame props).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `props` | mapping | | ``_Matrix``, ``_Primaries``, ``_Transfer``, ``_Range`` as VapourSynth sets them |

    Unspecified or unknown values are left out (players then guess from the size, as the
    filters do).
    """
    args = []
    for prop, (option, names) in _COLOUR_OPTIONS.items():
        value = props.get(prop)
        if isinstance(value, int) and value in names:
            args += [option, names[value]]
    return args


def aspect_filters(props: Mapping[str, object]) -> list[str]:
    """ffmpeg video filters giving the video the pixel shape (sample aspect ratio) of ``props`` (frame props).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `props` | mapping | | ``_SARNum``/``_SARDen`` as VapourSynth sources set them |

    y4m from VapourSynth carries no pixel shape (``A0:0``), so a non-square one is set with
    ffmpeg's ``setsar`` filter on the output video (exactly, not rounded to ffmpeg's default
    limit of 100). Square, unknown (``_SARNum`` 0) or missing shapes give no filter.
    """
    num, den = props.get("_SARNum"), props.get("_SARDen")
    if not (isinstance(num, int) and isinstance(den, int) and num > 0 and den > 0) or num == den:
        return []
    sar = Fraction(num, den)
    return [f"setsar=sar={sar.numerator}/{sar.denominator}:max={max(sar.numerator, sar.denominator)}"]


_SETPARAMS = {"-colorspace": "colorspace", "-color_primaries": "color_primaries", "-color_trc": "color_trc",
              "-color_range": "range"}


def _video_encode(encoding: Encoding, colour: Sequence[str], aspect: Sequence[str], units: int | None,
                  delay_ms: int = 0) -> list[str]:
    """The video encoder and its filter chain: time base ``1/units`` with ``delay_ms`` added (``units`` None: the
    pipe's, as it is), the colour tags and the pixel shape. The colours go through the ``setparams`` filter: the
    encoder options alone lose the primaries and transfer in ffmpeg 9."""
    tags = [f"{_SETPARAMS[option]}={value}" for option, value in zip(colour[::2], colour[1::2])]
    timing = [] if units is None else [f"settb=1/{units}", *([f"setpts=PTS+{delay_ms}/1000/TB"] if delay_ms else [])]
    filters = [*timing, *([f"setparams={':'.join(tags)}"] if tags else []), *aspect]
    return [*encoding.video_args(), *([] if units is None else ["-enc_time_base:v", f"1/{units}"]),
            *(["-filter:v:0", ",".join(filters)] if filters else [])]


def _time_units(rate: Fraction) -> int:
    """Units per second that hold both the frames at ``rate`` and milliseconds exactly."""
    return math.lcm(Fraction(rate).numerator, 1000)


def segment_command(encoding: Encoding, rate: Fraction, colour: Sequence[str] = (),
                    aspect: Sequence[str] = ()) -> list[str]:
    """ffmpeg arguments (without the executable and the output file) that encode y4m from stdin into a segment of a
    chunked job: the video alone, encoded as :func:`encode_command` encodes it, in NUT, counted in units that hold
    the frames and milliseconds exactly, so that :func:`encode_command` with ``segments`` joins segments by copying.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `encoding` | Encoding | | video codec and options (``encoding.extra`` applies here, not to the join) |
    | `rate` | Fraction | | the video's frame rate |
    | `colour` | sequence of str | () | colour tags (:func:`colour_args`) |
    | `aspect` | sequence of str | () | pixel shape filters (:func:`aspect_filters`) |
    """
    return [*PIPED_Y4M, *_video_encode(encoding, colour, aspect, _time_units(rate)), *encoding.extra, "-f", "nut"]


def encode_command(
    output: str | PathLike[str],
    encoding: Encoding,
    source: str | PathLike[str],
    streams: Sequence[Stream],
    seconds: Fraction | None = None,
    colour: Sequence[str] = (),
    aspect: Sequence[str] = (),
    rate: Fraction | None = None,
    segments: Sequence[str] | None = None,
) -> tuple[list[str], list[str]]:
    """ffmpeg arguments (without the executable) that encode y4m from stdin into ``output`` (or copy the video of
    ``segments``), and warnings.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `output` | str or PathLike | | the file to write; its extension (one of :data:`CONTAINERS`) picks the container |
    | `encoding` | Encoding | | video codec and options |
    | `source` | str or PathLike | | the original file: its audio, subtitles, attachments and chapters are copied |
    | `streams` | sequence of Stream | | the streams of ``source`` (:func:`probe_streams`) |
    | `seconds` | Fraction or None | None | the video's duration when it is cut: the source's streams are copied to its end; None = all |
    | `colour` | sequence of str | () | colour tags (:func:`colour_args`) |
    | `aspect` | sequence of str | () | video filters that set the pixel shape (:func:`aspect_filters`); a ``-vf`` in ``encoding.extra`` replaces them |
    | `rate` | Fraction or None | None | the video's frame rate: its time is counted in units that hold both its frames and the delay (to 1 ms) exactly; None = the pipe's 1/rate, which moves the delay onto the frame grid |
    | `segments` | sequence of str or None | None | the input options (ending in ``-i URL``) of video already encoded by :func:`segment_command` and joined (a chunked job's segments, through the concat demuxer), copied as it is; None = encode y4m from stdin |

    The video keeps its place against the other streams: when the source's video starts later than its
    earliest stream (audio that begins first, a capture's leading audio), the new video is delayed as much.
    Matroska takes every stream as it is. In MP4/MOV, audio other than AAC, MP3, AC-3, E-AC-3,
    Opus, FLAC, ALAC is re-encoded to AAC 256 kb/s, text subtitles become ``mov_text``, a track's title is
    also its handler name (what players show as the track's name in an MP4/MOV file), bitmap
    subtitles and attachments are dropped, each with a warning, and x265 video gets the
    ``hvc1`` tag Apple players need. Cover art (an attached picture: a Matroska image attachment or
    an MP4 cover) is dropped with a warning in every container, as are video tracks after the first
    (the one interpolated); data streams (timecode tracks …) are dropped silently.
    Raises :class:`~vsanimsplat.errors.BadOption` for an unknown extension or FFV1 in MP4/MOV.
    """
    suffix = PurePath(output).suffix.lower()
    if suffix not in CONTAINERS:
        raise BadOption("ffmpeg.encode_command", "output",
                        f"output extension must be one of {', '.join(CONTAINERS)}, got {suffix or 'none'!r}")
    mp4 = suffix != ".mkv"
    if mp4 and encoding.codec == "ffv1":
        raise BadOption("ffmpeg.encode_command", "codec",
                        f"a {suffix} file cannot hold ffv1 video; write .mkv, or use x264 or x265")
    # ffmpeg moves the source's earliest timestamp to 0; the piped video starts at 0 unless delayed here
    videos = [s.start for s in streams if s.kind == "video"]
    delay = videos[0] - min(s.start for s in streams) if videos else 0.0
    units = _time_units(rate) if rate is not None else None
    # -itsoffset is exact on the segments' units, but lands on the pipe's time base, the frame grid: with the rate
    # known, the piped video is delayed in units that hold the delay (ms) by its filters instead
    offset = delay > 0 and (segments is not None or units is None)
    inputs = [*(["-itsoffset", f"{delay:.6f}"] if offset else []), *(PIPED_Y4M if segments is None else segments)]
    if segments is None:
        video, extra = _video_encode(encoding, colour, aspect, units, round(delay * 1000)), encoding.extra
    else:  # the colours as container tags (FFV1 and NUT do not carry them); encoder options: the segments had them
        video, extra = ["-c:v", "copy", *colour], ()
    if seconds is not None:
        inputs += ["-t", f"{float(seconds) + delay:.6f}"]
    inputs += ["-i", file_url(source)]
    maps, codecs, warnings = ["-map", "0:v:0"], ["-c:a", "copy", "-c:s", "copy"], []
    audio = subtitles = 0
    for stream in streams:
        name = f"{stream.kind} stream {stream.index} ({stream.codec})"
        if stream.kind == "audio":
            if mp4 and stream.codec not in _MP4_AUDIO:
                codecs += [f"-c:a:{audio}", "aac", f"-b:a:{audio}", "256k"]
                warnings.append(f"{name}: a {suffix} file cannot hold it; re-encoded to AAC 256 kb/s")
            codecs += [f"-metadata:s:a:{audio}", f"handler_name={stream.title}"] if mp4 and stream.title else []
            audio += 1
        elif stream.kind == "subtitle":
            if mp4 and stream.codec not in _TEXT_SUBTITLES:
                warnings.append(f"{name}: a {suffix} file cannot hold bitmap subtitles; dropped (write .mkv to keep them)")
                continue
            if mp4:
                codecs += [f"-c:s:{subtitles}", "mov_text"]
                warnings.append(f"{name}: converted to mov_text for {suffix} (styling is lost; write .mkv to keep it)")
                codecs += [f"-metadata:s:s:{subtitles}", f"handler_name={stream.title}"] if stream.title else []
            subtitles += 1
        elif stream.kind == "attachment":
            if mp4:
                warnings.append(f"{name}: a {suffix} file cannot hold attachments; dropped")
                continue
        else:
            if stream.picture:
                warnings.append(f"{name}: cover art (attached picture) is not copied; dropped")
            elif stream.kind == "video" and stream is not next(s for s in streams if s.kind == "video" and not s.picture):
                warnings.append(f"{name}: a second video track (only the first is interpolated); dropped")
            continue
        maps += ["-map", f"1:{stream.index}"]
    tag = ["-tag:v", "hvc1"] if mp4 and encoding.codec == "x265" else []
    timescale = ["-video_track_timescale", str(units)] if mp4 and units is not None else []
    # the input's -t cuts the copied streams; an output -t also ends the chapters there (ffmpeg trims them to it)
    cut = ["-t", f"{float(seconds) + delay:.6f}"] if seconds is not None else []
    args = [*inputs, *maps, "-map_metadata", "1", "-map_chapters", "1", *video, *tag, *timescale, *codecs, *cut,
            *extra, file_url(output)]
    return args, warnings


def write_rgb_video(
    frames: Iterable[np.ndarray],
    path: str | PathLike[str],
    fps: Fraction,
    codec_args: Sequence[str] = ("-c:v", "libx264", "-crf", "16", "-pix_fmt", "yuv420p"),
    extra_inputs: Sequence[str] = (),
) -> None:
    """Encode uint8 RGB frames (height, width, 3) to ``path`` through an ffmpeg pipe.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `frames` | iterable of np.ndarray | | pictures, all the same size |
    | `path` | str or PathLike | | output file; its extension picks the container |
    | `fps` | Fraction | | constant frame rate |
    | `codec_args` | sequence of str | x264 CRF 16, yuv420p | ffmpeg output options |
    | `extra_inputs` | sequence of str | () | more ffmpeg input options placed after the video pipe (e.g. an audio source) |
    """
    iterator = iter(frames)
    first = next(iterator)
    height, width = first.shape[:2]
    fps = Fraction(fps)
    command = [
        find_ffmpeg().path, "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
        "-framerate", f"{fps.numerator}/{fps.denominator}", "-i", "-",
        *extra_inputs, *codec_args, file_url(path),
    ]
    with subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdin is not None  # a pipe, as asked
        try:
            for frame in itertools.chain([first], iterator):
                process.stdin.write(np.ascontiguousarray(frame, dtype=np.uint8).tobytes())
        except BrokenPipeError:
            pass
        _, errors = process.communicate()
    if process.returncode != 0:
        raise EncodeError(f"ffmpeg failed writing {path}: {errors.decode(errors='replace').strip()}")
