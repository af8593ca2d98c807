"""The ``vsanimsplat run`` graph: the filters the job applies, and the ``.vpy`` script that applies the same.

The graph is a list of :class:`ScriptLine` s, each one line of a ``.vpy`` script
(``clip = function(clip, key=value, …)``). :func:`build_graph` applies the lines to make the
clip the command encodes, and :func:`script_text` prints the same lines as the script
``--emit-vpy`` writes, so the two cannot differ. The model the command loads
(:func:`load_job_model`) is made from the settings the script passes to ``interpolate``.
"""

from __future__ import annotations

import inspect
import math
import shlex
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import vapoursynth as vs

from .. import __version__
from ..ffmpeg import CODECS
from ..filters import dedupe, fill_holes, interpolate, resize
from ..filters.analysis import timing_of
from ..filters.dedupe import Passes, passes_of, reuse_passes
from ..filters.fill_holes import FILL_MODES
from ..filters.frames import duration_of
from ..filters.interpolate import DEFAULT_SCENE_THRESHOLD, MAX_RATE_FACTOR, pair_flow
from ..filters.source import frame_times, open_video, source_timing
from ..errors import BadOption, given_to
from ..models import DEFAULT_PRESET, Model, ModelOptions, load
from ..scenes import analysis_size
from ..timestamps import constant_rate_drift

__all__ = [
    "Graph",
    "JobOptions",
    "SCRIPT_OUTPUTS",
    "ScriptLine",
    "Target",
    "build_graph",
    "first_pair_flow",
    "load_job_model",
    "script_text",
]


@dataclass(frozen=True)
class Target:
    """The output rate: a factor of the source's rate, or a rate in frames per second.

    | field | type | meaning |
    |---|---|---|
    | `value` | Fraction | the factor (> 1) or the rate (> 0) |
    | `is_rate` | bool | True: ``value`` is a rate; False: a factor |
    """

    value: Fraction
    is_rate: bool

    def interpolate_kwargs(self) -> dict[str, object]:
        """The keyword arguments of :func:`vsanimsplat.interpolate` that ask for this rate."""
        if self.is_rate:
            return {"fps_num": self.value.numerator, "fps_den": self.value.denominator}
        return {"factor": self.value.numerator if self.value.denominator == 1 else self.value}


@dataclass(frozen=True)
class JobOptions:
    """What to make of the input, one field per command-line option of ``vsanimsplat run``.

    | field | type | default | meaning (option) |
    |---|---|---|---|
    | `input` | Path | | the video file (INPUT) |
    | `input_fps` | Fraction or None | None | read the input at this constant rate (``--cfr``, alias ``--input-fps``) |
    | `vfr` | bool | False | keep the file's timestamps (``--vfr``); with neither, the job chooses from the timestamps |
    | `seconds` | Fraction or None | None | process only the first seconds (``--duration``) |
    | `width`, `height` | int or None | None | output display size, square pixels (``--width``, ``--height``); one alone keeps the display aspect ratio |
    | `dedupe` | bool | True | find the drawings first (``--no-dedupe`` turns it off) |
    | `threshold`, `tolerance`, `chroma` | | dedupe's defaults | drawing detection (``--threshold``, ``--tolerance``, ``--chroma``) |
    | `target` | Target | factor 2 | output rate (``--factor``, ``--fps``) |
    | `model` | str or None | None | one model (``--model``), instead of ``preset`` |
    | `preset` | str or None | "default" | a preset of models (``--quality``); None when ``model`` is given |
    | `model_options` | ModelOptions | its defaults | how the model is made: ``device`` (``--device``), ``fp16``, ``bf16`` (``--fp16``/``--no-fp16``, ``--bf16``/``--no-bf16``), ``flow_scale`` (``--flow-scale``), ``static_tolerance`` (``--static-tolerance``; None: ``off``), ``regions`` (``--no-regions`` turns it off) |
    | `max_hold` | int or None | None | ``interpolate``'s pause rule (``--max-hold``) |
    | `cache_mb` | int or None | None | ``interpolate``'s budget of cached model states in MiB (``--cache-mb``); None = its default |
    | `num_streams` | int or None | None | ``interpolate``'s model calls at once (``--num-streams``); None = its default |
    | `deterministic` | bool | False | ``interpolate``'s bit-identical output on every run (``--deterministic``; always for chunked jobs) |
    | `scene_threshold` | float | 0.5 | scene-cut threshold (``--scene-threshold``) |
    | `cuts` | Path or None | None | a cut list: source frames where a new shot begins (``--cuts``) |
    | `layers` | bool | True | per-region timing: parts held while the rest moves keep their own cadence (``--no-layers`` turns it off) |
    | `fill` | bool | True | fill the holes (``--no-fill`` turns it off) |
    | `fill_mode` | str | "blend" | how (``--fill-mode``) |
    | `codec` | str | "x264" | the codec the clip is encoded with, a key of :data:`~vsanimsplat.ffmpeg.CODECS` (``--codec`` or the output's name): RGB becomes 4:2:0 for the lossy ones |
    """

    input: Path
    input_fps: Fraction | None = None
    vfr: bool = False
    seconds: Fraction | None = None
    width: int | None = None
    height: int | None = None
    dedupe: bool = True
    threshold: int | float | None = None
    tolerance: int | None = None
    chroma: bool = False
    target: Target = Target(Fraction(2), is_rate=False)
    model: str | None = None
    preset: str | None = DEFAULT_PRESET
    model_options: ModelOptions = ModelOptions()
    max_hold: int | None = None
    cache_mb: int | None = None
    num_streams: int | None = None
    deterministic: bool = False
    scene_threshold: float = DEFAULT_SCENE_THRESHOLD
    cuts: Path | None = None
    layers: bool = True
    fill: bool = True
    fill_mode: str = FILL_MODES[0]
    codec: str = "x264"

    def paths(self) -> dict[str, Path]:
        """The fields that are files (``input``, ``cuts`` when given), made absolute."""
        return {f.name: getattr(self, f.name).resolve() for f in fields(self)
                if isinstance(getattr(self, f.name), Path)}

    def resolved(self) -> JobOptions:
        """The same options with every file as an absolute path: they mean the same in any working folder."""
        return replace(self, **self.paths())


@dataclass(frozen=True)
class Code:
    """A value written in the script as Python source: ``Code("vs.YUV444P16", vs.YUV444P16)``."""

    text: str
    value: object

    def __repr__(self) -> str:
        return self.text


@dataclass(frozen=True)
class ScriptLine:
    """One line of the graph: ``clip = name(clip, *args, **kwargs)``, with a comment above it.

    | field | type | meaning |
    |---|---|---|
    | `name` | str | the function as the script calls it (``core.std.Trim``, ``vsanimsplat.dedupe``) |
    | `function` | callable | that function |
    | `kwargs` | dict | keyword arguments (values print with ``repr``; :class:`Code` prints as its text) |
    | `comment` | str | what the line does and which option made it |
    | `args` | tuple | positional arguments |
    | `takes_clip` | bool | whether the clip so far is the first argument |
    """

    name: str
    function: Callable[..., vs.VideoNode]
    kwargs: dict[str, object]
    comment: str
    args: tuple = ()
    takes_clip: bool = True

    def line(self) -> str:
        """The line as Python source."""
        args = (["clip"] if self.takes_clip else []) + [repr(a) for a in self.args]
        args += [f"{key}={value!r}" for key, value in self.kwargs.items()]
        return f"clip = {self.name}({', '.join(args)})"

    def apply(self, clip: vs.VideoNode | None, runtime: Mapping[str, object] | None = None) -> vs.VideoNode:
        """Run the line's call on ``clip``; ``runtime`` adds keyword arguments the script leaves out (progress bars,
        the model object loaded from the model name the script names)."""
        kwargs = {k: v.value if isinstance(v, Code) else v for k, v in self.kwargs.items()}
        return self.function(*([clip] if self.takes_clip else []), *self.args, **{**kwargs, **(runtime or {})})


_IMPORTS = """\
import vapoursynth as vs
from vapoursynth import core

import vsanimsplat
"""


@dataclass
class Graph:
    """The job's clips and the script lines that made them.

    | field | type | meaning |
    |---|---|---|
    | `lines` | list[ScriptLine] | the graph as script lines |
    | `clip` | vs.VideoNode | the output: what ffmpeg encodes |
    | `source_frames` | int | frames of the input that are processed |
    | `seconds` | Fraction or None | their duration when ``--duration`` cut the input, else None |
    | `source` | vs.VideoNode | the source as processed (after ``--duration``'s trim) |
    | `drawings` | vs.VideoNode | what ``interpolate`` reads: the drawings, or every frame with ``--no-dedupe`` |
    | `interpolated` | vs.VideoNode | ``interpolate``'s output, before the holes are filled: its frames carry the hole, change and layer masks |
    | `timing` | str | what the source's timestamps showed when the job chose how to read it from them (see :class:`~vsanimsplat.timestamps.SourceTiming`), or how far ``input_fps`` moves its frames from them (:func:`~vsanimsplat.timestamps.constant_rate_drift`), else empty |
    | `kept` | dict[str, int] | the stages the script keeps in a variable of that name (``source``, ``drawings``, ``interpolated``): how many lines made each |
    | `passes` | Passes | what ``dedupe``'s pass over ``source`` learnt (empty with ``--no-dedupe``): :func:`build_graph` of the same options in another process can reuse it |
    """

    lines: list[ScriptLine] = field(default_factory=list)
    clip: vs.VideoNode | None = None
    source_frames: int = 0
    seconds: Fraction | None = None
    source: vs.VideoNode | None = None
    drawings: vs.VideoNode | None = None
    interpolated: vs.VideoNode | None = None
    timing: str = ""
    kept: dict[str, int] = field(default_factory=dict)
    passes: Passes = field(default_factory=dict)

    def add(self, line: ScriptLine, runtime: Mapping[str, object] | None = None) -> vs.VideoNode:
        """Apply ``line`` to the clip so far and remember it."""
        self.clip = line.apply(self.clip, runtime)
        self.lines.append(line)
        return self.clip

    def keep(self, stage: str) -> vs.VideoNode:
        """The clip so far is ``stage`` (``source``, ``drawings`` or ``interpolated``): set that field, and the
        script keeps it in a variable of that name."""
        if stage not in _STAGES:
            raise BadOption("job.Graph.keep", "stage", f"stage must be one of {', '.join(_STAGES)}, got {stage!r}")
        setattr(self, stage, self.clip)
        self.kept[stage] = len(self.lines)
        return self.clip


_STAGES = ("source", "drawings", "interpolated")

SCRIPT_OUTPUTS = ("clip", "source", "drawings")
"""The emitted script's outputs, by index: 0 the output (what ``vspipe`` encodes), 1 the source, 2 the drawings."""


def _frames_within(clip: vs.VideoNode, seconds: Fraction, per_frame: bool) -> tuple[int, Fraction]:
    """How many leading frames start before ``seconds``, and their total duration (from each frame's duration when
    ``per_frame``, else from the clip's rate)."""
    if clip.fps > 0 and not per_frame:
        count = min(clip.num_frames, math.ceil(seconds * clip.fps))
        return count, count / Fraction(clip.fps)
    total = Fraction(0)
    for n in range(clip.num_frames):
        if total >= seconds:
            return n, total
        total += duration_of(clip.get_frame(n).props, clip, n, "run")
    return clip.num_frames, total


def _display_aspect(clip: vs.VideoNode, progress: bool | None) -> Fraction:
    """Width ÷ height of ``clip`` on screen: its size and pixel shape (``_SARNum``/``_SARDen``), read from the props of
    its first analysis picture (:func:`~vsanimsplat.filters.analysis.timing_of`: no frame is read again), whose
    resize kept the display shape in its pixel shape."""
    props = timing_of(clip, progress).first_props
    num, den = props.get("_SARNum", 0), props.get("_SARDen", 0)
    if not (num > 0 and den > 0):
        return Fraction(clip.width, clip.height)
    return Fraction(num, den) * Fraction(*analysis_size(clip.width, clip.height))


def _output_size(clip: vs.VideoNode, width: int | None, height: int | None, aspect: Fraction) -> tuple[int, int]:
    """The display size asked for (square pixels); one side alone keeps the display aspect ratio ``aspect``
    (rounded to what the format allows)."""
    fmt = clip.format
    step_w, step_h = (1, 1) if fmt.color_family == vs.RGB else (1 << fmt.subsampling_w, 1 << fmt.subsampling_h)
    if width is None:
        width = max(step_w, round(height * aspect / step_w) * step_w)
    if height is None:
        height = max(step_h, round(width / aspect / step_h) * step_h)
    if width % step_w or height % step_h:
        raise BadOption("run", "width", f"--width must be a multiple of {step_w} and --height of {step_h} for "
                        f"{fmt.name} video, got {width}x{height}")
    return width, height


def _y4m_format(clip: vs.VideoNode, codec: str) -> str | None:
    """The format name to convert to for y4m (YUV or GRAY, integer), or None when ``clip`` can go as it is.

    RGB becomes YUV 4:2:0 for a lossy ``codec`` (x264, x265: few players decode 4:4:4 H.264/HEVC) where the
    size is even, else YUV 4:4:4, with a warning either way; float becomes 16-bit 4:4:4."""
    fmt = clip.format
    if fmt.color_family in (vs.YUV, vs.GRAY) and fmt.sample_type == vs.INTEGER:
        return None
    bits = 16 if fmt.sample_type == vs.FLOAT else fmt.bits_per_sample
    if fmt.color_family != vs.RGB or CODECS[codec].crf is None:
        return f"YUV444P{bits}"
    if clip.width % 2 or clip.height % 2:
        warnings.warn(f"RGB video of odd size {clip.width}x{clip.height} is encoded as YUV 4:4:4 for {codec} (4:2:0 "
                      "needs even sizes); many players cannot decode it", stacklevel=3)
        return f"YUV444P{bits}"
    warnings.warn(f"RGB video is encoded as YUV 4:2:0 (BT.709) for {codec}, as players expect; --codec ffv1 keeps "
                  "4:4:4", stacklevel=3)
    return f"YUV420P{bits}"


def build_graph(options: JobOptions, model: Model | None = None, progress: bool | None = None,
                passes: Passes | None = None) -> Graph:
    """Build the job's graph: source → trim → dedupe → resize → interpolate → fill_holes (→ YUV for y4m).

    Without ``input_fps`` or ``vfr`` the source's timestamps choose how it is read
    (:func:`~vsanimsplat.filters.source.source_timing`): at a constant rate when one keeps every frame at its
    timestamp, else with per-frame durations; :attr:`Graph.timing` says what was found when that is not the
    file's stated rate, and the script opens the source the same way.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `options` | JobOptions | | what to make |
    | `model` | Model or None | None | the model loaded for ``options.model`` (:func:`load_job_model`); None: ``interpolate`` loads it by name |
    | `progress` | bool or None | None | progress bars of the analysis passes (dedupe, interpolate) on stderr; None = the filters' default |
    | `passes` | Passes or None | None | :attr:`Graph.passes` of a graph of the same ``options`` (made in another process): dedupe reads no frame again |

    Reads every source frame once for the analysis: dedupe's pass also scores the scene cuts, and
    :func:`~vsanimsplat.resize` hands them on (so they are scored at the source's analysis size,
    :func:`~vsanimsplat.scenes.analysis_size`); with ``--no-dedupe`` ``interpolate`` makes the one pass.
    Raises :class:`~vsanimsplat.errors.BadOption` (naming the option) when the input or the options do not fit.
    """
    graph = Graph()
    if options.input_fps is not None:
        source_kwargs, about = {"fps": options.input_fps}, f"at {options.input_fps} fps (--cfr)"
    elif options.vfr:
        source_kwargs, about = {"vfr": True}, "with the file's own timestamps (--vfr)"
    else:
        timing = source_timing(options.input)
        graph.timing = timing.notice
        source_kwargs = {"vfr": True} if not timing.constant else {"fps": timing.rate} if timing.notice else {}
        about = f"as its timestamps say: {timing.notice}" if timing.notice else "at the file's constant rate"
        about += " (--cfr RATE, --vfr choose)"
    source = graph.add(ScriptLine("vsanimsplat.open_video", open_video, source_kwargs, f"the source (BestSource), {about}",
                                  args=(str(options.input.resolve()),), takes_clip=False))
    graph.source_frames = source.num_frames
    if options.target.is_rate and source.fps > 0 and not (
            source.fps < options.target.value <= MAX_RATE_FACTOR * source.fps):
        raise BadOption("run", "target", f"--fps {options.target.value} must be above the source's rate "
                        f"{Fraction(source.fps)} fps (run raises the rate, as --factor > 1 does; it does not drop "
                        f"frames) and at most {MAX_RATE_FACTOR} × it ({MAX_RATE_FACTOR * Fraction(source.fps)} fps)")
    if options.seconds is not None:
        graph.source_frames, graph.seconds = _frames_within(source, options.seconds, "vfr" in source_kwargs)
        if graph.source_frames < source.num_frames:
            graph.add(ScriptLine("core.std.Trim", vs.core.std.Trim, {"length": graph.source_frames},
                           f"only the first {float(options.seconds):g} s (--duration)"))
    if options.input_fps is not None and (times := frame_times(options.input)):
        graph.timing = constant_rate_drift(times[:graph.source_frames], options.input_fps)
    graph.keep("source")
    if options.dedupe:
        analysed = graph.clip
        reuse_passes(analysed, passes or {})
        graph.add(ScriptLine("vsanimsplat.dedupe", dedupe,
                       {"threshold": options.threshold, "tolerance": options.tolerance, "chroma": options.chroma},
                       "one frame per drawing, with its exact duration (--threshold, --tolerance, --chroma)"),
                  {"progress": progress})
        graph.passes = passes_of(analysed)
    if options.width is not None or options.height is not None:
        aspect = _display_aspect(graph.clip, progress)
        width, height = _output_size(graph.clip, options.width, options.height, aspect)
        if (width, height) != (graph.clip.width, graph.clip.height) or aspect != Fraction(width, height):
            graph.add(ScriptLine("vsanimsplat.resize", resize, {"width": width, "height": height},
                           "resize to the display size, square pixels (--width/--height, Spline36); after dedupe, "
                           "which then sees the source's pictures and scores the cuts"))
    graph.keep("drawings")
    chosen = _model_settings(options)
    target = options.target
    if source_kwargs.get("vfr") and not target.is_rate and source.fps > 0:
        # per-frame timing: the factor multiplies the source's nominal rate (open_video's), not the rounded
        # duration of its first frame that interpolate would read from the drawings
        target = Target(target.value * Fraction(source.fps), is_rate=True)
    settings = {**target.interpolate_kwargs(), **chosen}
    settings.update({"max_hold": options.max_hold} if options.max_hold is not None else {})
    settings.update({"cache_mb": options.cache_mb} if options.cache_mb is not None else {})
    settings.update({"num_streams": options.num_streams} if options.num_streams is not None else {})
    settings.update({"deterministic": True} if options.deterministic else {})
    settings.update({"layers": False} if not options.layers else {})
    settings["scene_threshold"] = options.scene_threshold
    settings.update({"cuts": str(options.cuts.resolve())} if options.cuts is not None else {})
    runtime: dict[str, object] = {"progress": progress}
    if model is not None:  # the loaded model replaces the settings that made it (interpolate's defaults for them)
        defaults = inspect.signature(interpolate).parameters
        runtime.update({key: defaults[key].default for key in chosen}, model=model)
    graph.add(ScriptLine("vsanimsplat.interpolate", interpolate, settings,
                   "in-betweens at their true times (--factor/--fps, --quality/--model, --bf16, --flow-scale, --scene-threshold, "
                   "--cuts, --static-tolerance, --no-layers …)"), runtime)
    graph.keep("interpolated")
    if options.fill:
        graph.add(ScriptLine("vsanimsplat.fill_holes", fill_holes, {"mode": options.fill_mode},
                       "fill what splatting left empty from the two parent drawings (--fill-mode; --no-fill)"))
    convert = _y4m_format(graph.clip, options.codec)
    if convert is not None:
        graph.add(ScriptLine("core.resize.Bicubic", vs.core.resize.Bicubic,
                       {"format": Code(f"vs.{convert}", getattr(vs, convert)), "matrix_s": "709"},
                       f"y4m carries YUV only: {graph.clip.format.name} becomes {convert} (BT.709) for "
                       f"{options.codec}"))
    return graph


def script_text(graph: Graph, script_name: str, encode_command: Sequence[str]) -> str:
    """The ``.vpy`` script of ``graph``, with the command that encodes it in its header.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `graph` | Graph | | from :func:`build_graph` |
    | `script_name` | str | | the script's path, for the command lines in the header (absolute: they run from any folder) |
    | `encode_command` | sequence of str | | the ffmpeg command (executable first) that reads y4m on stdin |
    """
    lines = [
        f"# Written by `vsanimsplat run --emit-vpy` (vsanimsplat {__version__}): the graph the command encodes.",
        "# Edit the values below; every line is an ordinary VapourSynth call.",
        "#",
        f"# Look:    vspipe --info {shlex.quote(script_name)}",
        f"# Encode:  vspipe -c y4m {shlex.quote(script_name)} - | {shlex.join(encode_command)}",
        f"# Preview: vspreview {shlex.quote(script_name)}",
    ]
    if any(isinstance(v, Fraction) for line in graph.lines for v in line.kwargs.values()):
        lines += ["", "from fractions import Fraction"]
    lines += ["", _IMPORTS]
    for count, line in enumerate(graph.lines, 1):
        lines += [f"# {line.comment}", line.line()]
        if kept := [stage for stage, made_by in graph.kept.items() if made_by == count]:
            lines.append(f"{' = '.join(kept)} = clip")
    names = {"clip": "the output, what vspipe encodes", "source": "the source", "drawings": "the drawings (one frame each)"}
    lines += ["", f"# Outputs (vspipe -o N, vs-preview's tabs): "
                  f"{', '.join(f'{index} {names[name]}' for index, name in enumerate(SCRIPT_OUTPUTS))}"]
    lines += [f"{name}.set_output({index})" for index, name in enumerate(SCRIPT_OUTPUTS)]
    return "\n".join(lines + [""])


def _model_settings(options: JobOptions) -> dict[str, object]:
    """The keyword arguments of ``interpolate`` that choose and make the model: written into the script (the
    model options that differ from their defaults, and ``static_tolerance`` always), and made by
    :func:`load_job_model` for the command from the same :class:`~vsanimsplat.models.ModelOptions`."""
    settings: dict[str, object] = {"model": options.model} if options.model is not None else {"preset": options.preset}
    settings.update(options.model_options.changed())
    settings["static_tolerance"] = options.model_options.static_tolerance
    return settings


def load_job_model(options: JobOptions) -> Model:
    """The model of ``options``, made as ``interpolate`` makes it from the emitted script's settings.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `options` | JobOptions | | ``model`` or ``preset`` and ``model_options`` are used |

    Raises :class:`~vsanimsplat.errors.WeightsError` naming the fetch command when its weights are missing,
    :class:`~vsanimsplat.errors.BadOption` naming ``run`` and the field for a device, precision or flow scale that
    cannot be used, :class:`~vsanimsplat.errors.DeviceError` when CUDA is asked for but unavailable.
    """
    with given_to("run"):
        return load(options.model_options, options.model, options.preset)


def first_pair_flow(graph: Graph, model: Model) -> np.ndarray:
    """The optical flow from the job's first drawing to its second, (H, W, 2) float32 (u, v) in pixels, as
    ``interpolate`` computes that pair (:func:`~vsanimsplat.filters.interpolate.pair_flow`).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `graph` | Graph | | from :func:`build_graph`: its :attr:`Graph.drawings` are read |
    | `model` | Model | | the job's model; it must estimate flows (``model.has_flows``) |
    """
    if graph.drawings.num_frames < 2:
        raise BadOption("run", "flow", "--flow needs two drawings, but the input holds only one")
    return pair_flow(graph.drawings, model)
