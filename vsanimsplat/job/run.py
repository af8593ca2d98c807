"""``vsanimsplat run`` as one call, :func:`run`: the paths checked, the output's lock held, stale files of killed runs
removed, the Ray workers checked, the job's model and graph made, the ``.flo`` and ``.vpy`` written, and the clip
encoded in one go or in chunks. The command line parses its options into a :class:`RunOptions` and prints what
:func:`run` tells and returns."""

from __future__ import annotations

import contextlib
import dataclasses
import shlex
import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..errors import AnimSplatError, given_to
from ..ffmpeg import (CODECS, CONTAINERS, Encoding, aspect_filters, check_rate, codec_for, colour_args, count_frames,
                      encode_command, find_ffmpeg, probe_streams, segment_command)
from ..filters.source import input_problem
from ..flo import write_flo
from ..models.registry import SPECS
from .address import check_ray_address
from .chunks import concat_input, run_chunks, work_dir
from .cluster import DEFAULT_CHUNK_SECONDS, Workers, require_ray
from .encoder import encode, remove_stale_partials
from .graph import JobOptions, build_graph, first_pair_flow, load_job_model, script_text
from .lock import output_lock
from .progress import Progress

__all__ = ["FLOW_ESTIMATORS", "RunOptions", "RunRefused", "RunResult", "run", "timing_note", "unwritable", "warned"]

FLOW_ESTIMATORS = tuple(name for name, s in SPECS.items() if s.has_flows)
"""The models that estimate optical flow (``--flow``)."""


class RunRefused(AnimSplatError, ValueError):
    """The run's paths or options cannot be used together, found before any work; the message says why."""


@dataclass(frozen=True)
class RunOptions:
    """What ``vsanimsplat run`` was asked, beyond the graph's :class:`~vsanimsplat.job.JobOptions`.

    | field | type | default | meaning (option) |
    |---|---|---|---|
    | `job` | JobOptions | | the graph (its ``codec`` and ``deterministic`` are set by :func:`run`) |
    | `output` | Path or None | None | the video to write (``-o``); None: only the other outputs |
    | `overwrite` | bool | False | replace ``output`` (``--overwrite``) |
    | `codec`, `crf`, `preset`, `encoder_args` | | None, None, None, () | the encode (``--codec``, ``--crf``, ``--preset``, ``--encoder-args``); the codec by default from the output's name |
    | `chunk_seconds` | Fraction or None | None | chunks of about this much output (``--chunk-seconds``); None: one encode, or chunks of the default length with workers |
    | `clean` | bool | True | remove the chunks' work folder after success (``--no-clean``/``--keep-work`` turn it off) |
    | `workers`, `ray_address`, `gpus_per_worker` | | None | Ray workers (``--workers``, ``--ray-address``, ``--gpus-per-worker``) |
    | `flow` | Path or None | None | also write the first pair's flow as a ``.flo`` (``--flow``) |
    | `emit_vpy` | Path or None | None | also write the graph as a ``.vpy`` script (``--emit-vpy``) |
    | `quiet`, `verbose` | bool | False | no progress; say which ffmpeg and command are used (``-q``, ``-v``) |
    """

    job: JobOptions
    output: Path | None = None
    overwrite: bool = False
    codec: str | None = None
    crf: float | None = None
    preset: str | None = None
    encoder_args: tuple[str, ...] = ()
    chunk_seconds: Fraction | None = None
    clean: bool = True
    workers: int | None = None
    ray_address: str | None = None
    gpus_per_worker: float | None = None
    flow: Path | None = None
    emit_vpy: Path | None = None
    quiet: bool = False
    verbose: bool = False


@dataclass(frozen=True)
class RunResult:
    """What a run made: its drawings, and with an output what was written (as ffmpeg reads the file back)."""

    drawings: int | None  # None: not looked for (--no-dedupe)
    source_frames: int
    written: int | None = None  # frames in the output file; None without an output
    size: tuple[int, int] = (0, 0)
    rate: Fraction = Fraction(0)
    codec: str = ""
    frames: int = 0  # frames of the clip encoded
    encoding_seconds: float = 0.0


def unwritable(folder: Path) -> str | None:
    """Why no file can be made in ``folder`` ("does not exist", "is not writable: …"), or None. Tried by making
    one: permission bits do not tell (root passes os.access everywhere, and /proc refuses new files anyway)."""
    if not folder.is_dir():
        return "does not exist"
    try:
        with tempfile.TemporaryFile(dir=folder):
            return None
    except OSError as error:
        return f"is not writable ({error.strerror or error})"


def _path_problem(options: RunOptions) -> str | None:
    """Why the input cannot be read or the output cannot be written, or None."""
    if problem := input_problem(options.job.input):
        return problem
    for option, extra in (("--emit-vpy", options.emit_vpy), ("--flow", options.flow)):
        if extra is not None and (problem := unwritable(extra.parent)):
            return f"{option}: directory {problem}: {extra.parent}"
    output = options.output
    if output is None:
        return None if options.emit_vpy is not None else "give -o/--output (the video to write), --emit-vpy, or both"
    if output.suffix.lower() not in CONTAINERS:
        return f"-o/--output must end in {', '.join(CONTAINERS)}, got {output.name!r}"
    if problem := unwritable(output.parent):
        return f"output directory {problem}: {output.parent}"
    if output.is_dir():
        return f"-o/--output {output} is a directory; give the video file to write"
    if output.exists() and output.samefile(options.job.input):  # by a symlink or a hard link too
        return f"output {output} is the input file"
    if output.exists() and not options.overwrite:
        return f"output {output} exists; use --overwrite to replace it"
    return None


def timing_note(notice: str) -> str | None:
    """The note on how the input's timestamps were read, when that is not at its stated rate, or None."""
    return f"note: {notice} (--cfr RATE or --vfr to choose)" if notice else None


def warned[T](make: Callable[[], T], tell: Callable[[str], None]) -> T:
    """``make()``, telling each warning it raises (what the source or graph changed to keep the picture) as one
    ``warning:`` line."""
    with warnings.catch_warnings(record=True) as raised:
        warnings.simplefilter("always")
        made = make()
    for warning in raised:
        tell(f"warning: {warning.message}")
    return made


def run(options: RunOptions, tell: Callable[[str], None], say: Callable[[str], None]) -> RunResult:
    """Make what ``options`` ask: the paths checked, then the job, holding the output's lock
    (:func:`~vsanimsplat.job.output_lock`). ``tell`` gets the notes and warnings, ``say`` what is being done (both
    lines for stderr). Raises :class:`RunRefused` for paths or options that cannot be used, before any work."""
    if problem := _path_problem(options):
        raise RunRefused(problem)
    # one run per output: a second one would overwrite it, or share its chunks' work folder
    with (contextlib.nullcontext() if options.output is None
          else output_lock(options.output, lambda message: tell(f"note: {message}"))):
        return _run_job(options, tell, say)


def _run_job(options: RunOptions, tell: Callable[[str], None], say: Callable[[str], None]) -> RunResult:
    """:func:`run` once its paths are checked and its output is this run's alone."""
    workers = Workers(options.workers, options.ray_address, options.gpus_per_worker)
    chunk_seconds = options.chunk_seconds or (DEFAULT_CHUNK_SECONDS if workers.needed else None)
    if not options.clean and chunk_seconds is None:
        raise RunRefused("--no-clean/--keep-work keeps the work folder of --chunk-seconds S; give both")
    if options.gpus_per_worker is not None and (not workers.needed or options.job.model_options.device == "cpu"):
        raise RunRefused("--gpus-per-worker is the GPU share of each Ray worker: give --workers N or --ray-address, "
                         "and a CUDA device (not --device cpu)")
    if workers.needed:
        require_ray()
    if options.ray_address is not None:
        check_ray_address(options.ray_address)  # in seconds, before any work: ray.init retries an address for minutes
    if options.output is not None and (stale := remove_stale_partials(options.output)):
        tell(f"removed {len(stale)} temporary file(s) that a killed run of {options.output} left: "
             f"{', '.join(p.name for p in stale)}")
    output = options.output or Path("output.mkv")  # without -o, the name only appears in the script's header
    encoding = Encoding(options.codec or codec_for(output), options.crf, options.preset, options.encoder_args)
    with given_to("run"):  # the encode's options, as run was given them
        encoding.video_args()
    ffmpeg = find_ffmpeg([CODECS[encoding.codec].encoder])
    streams = probe_streams(ffmpeg.path, options.job.input)
    if options.verbose:
        say(f"using {ffmpeg.describe()}")
    # chunks made apart must be the frames one encode makes: in a fixed order on a GPU too
    job = dataclasses.replace(options.job, codec=encoding.codec,
                              deterministic=options.job.deterministic or chunk_seconds is not None)
    model = load_job_model(job)
    if options.flow is not None and not model.has_flows:
        raise RunRefused(f"--flow needs a model that estimates optical flow ({', '.join(FLOW_ESTIMATORS)}); "
                         f"{'--model ' + job.model if job.model else '--quality ' + str(job.preset)} does not")
    say(f"{job.input}: finding drawings and timing …")
    graph = warned(lambda: build_graph(job, model, progress=False if options.quiet else None), tell)
    if note := timing_note(graph.timing):
        tell(note)
    clip, made = graph.clip, graph.drawings
    assert clip is not None and made is not None  # build_graph makes both
    if options.output is not None:
        with given_to("run"):
            check_rate(options.output, Fraction(clip.fps))
    props = clip.get_frame(0).props
    muxing: dict[str, Any] = {"encoding": encoding, "source": job.input.resolve(), "streams": streams, "seconds": graph.seconds,
              "colour": colour_args(props), "aspect": aspect_filters(props), "rate": Fraction(clip.fps)}
    with given_to("run"):
        command, dropped = encode_command(output.absolute(), **muxing)  # absolute: the script's header runs anywhere
    for warning in dropped:
        tell(f"warning: {warning}")
    if options.flow is not None:
        write_flo(options.flow, first_pair_flow(graph, model))
        say(f"flow of the first two drawings: {options.flow}")
    if options.emit_vpy is not None:
        options.emit_vpy.write_text(script_text(graph, str(options.emit_vpy.absolute()), [ffmpeg.path, *command]),
                                    encoding="utf-8")
        say(f"script: {options.emit_vpy}")
    drawings = made.num_frames if job.dedupe else None
    if options.output is None:
        return RunResult(drawings, graph.source_frames)
    if options.verbose:
        say(f"ffmpeg {shlex.join(command)}")
    progress = Progress("encoding", enabled=not options.quiet)
    if chunk_seconds is None:
        try:
            encode(clip, ffmpeg, command, options.output, progress, verbose=options.verbose, replace=options.overwrite)
        finally:
            progress.close()
    else:
        segment = segment_command(encoding, rate=muxing["rate"], colour=muxing["colour"], aspect=muxing["aspect"])
        joining, _ = encode_command(options.output, **muxing, segments=concat_input(options.output))
        run_chunks(graph, job, chunk_seconds, ffmpeg, segment, joining, options.output, progress, not options.clean,
                   options.verbose, say, workers if workers.needed else None, replace=options.overwrite)
    if chunk_seconds is None and (old_work := work_dir(options.output)).is_dir():  # this run holds the output's lock
        shutil.rmtree(old_work)
        tell(f"note: removed {old_work}, the work of an earlier chunked run of {options.output} (made in one encode "
             "now)")
    rate = Fraction(clip.fps)
    # the size and frames as written: --encoder-args may scale, crop or cut ("-t 1")
    size = next((s.size for s in probe_streams(ffmpeg.path, options.output) if s.size), (clip.width, clip.height))
    return RunResult(drawings, graph.source_frames, count_frames(ffmpeg.path, options.output), size, rate,
                     encoding.codec, clip.num_frames, progress.elapsed)
