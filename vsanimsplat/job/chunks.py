"""Long jobs in chunks: the output split into spans of frames, each encoded in the final codec to a segment of its
own in a work folder beside the output, then joined by copying (no second encode); a rerun skips the segments that
are done.

A chunk is a self-contained unit of work: given the job's options (:class:`~vsanimsplat.job.JobOptions`) and its span
``[first, end)`` of output frames, :func:`make_segment` of ``build_graph(options).clip`` writes the same segment in
any process, since VapourSynth makes only the frames asked for, each as the whole job would make it. With a lossless
codec the joined video is the one encode's, frame for frame; a lossy one starts a new group of pictures (an IDR
frame) at every segment.

The work folder ``OUTPUT.work/`` holds ``manifest.json``: the job (the input's and cut list's path, size,
modification time and SHA-256, every option, the segments' encode, the package version, the chunk length), the spans, and for
each finished chunk the SHA-256 of its segment, rewritten atomically (temporary file, fsync, rename) after each chunk.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import hashlib
import inspect
import json
import os
import shutil
from collections.abc import Callable, Collection, Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple, Protocol

import vapoursynth as vs

from .. import __version__
from ..errors import BadOption
from ..ffmpeg import FFmpeg, file_url
from ..filters import interpolate
from ..filters.dedupe import Passes
from ..filters.interpolate import output_steps
from ..portable import fsync_folder
from ..retime import Step
from .encoder import encode, remove_stale_partials
from .graph import Graph, JobOptions
from .progress import Progress, counted

__all__ = ["Chunk", "ChunkMaker", "boundaries", "choose_spans", "concat_input", "job_record", "make_segment", "run_chunks",
           "work_dir"]

MANIFEST = "manifest.json"
SEGMENTS = "segments.ffconcat"


def boundaries(steps: Sequence[Step]) -> tuple[list[int], list[int]]:
    """Where a chunk can begin: the output frames that show a new drawing, and among them the *clean* ones, after a
    frame that is no in-between (a scene cut, a held drawing), so that no pair of drawings is made in both chunks.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `steps` | sequence of Step | | every output frame's :class:`~vsanimsplat.retime.Step` (:func:`~vsanimsplat.filters.interpolate.output_steps`) |
    """
    starts = [n for n in range(1, len(steps)) if steps[n].left != steps[n - 1].left]
    return starts, [n for n in starts if not steps[n - 1].interpolated]


def choose_spans(total: int, target: int, starts: Collection[int] = (), clean: Collection[int] = ()) -> list[tuple[int, int]]:
    """Split ``total`` output frames into spans ``(first, end)`` of about ``target`` frames each.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `total` | int | | frames of the output, ≥ 1 |
    | `target` | int | | frames a chunk should have, ≥ 1 |
    | `starts` | collection of int | () | frames where a new drawing begins (:func:`boundaries`) |
    | `clean` | collection of int | () | those after which nothing is shared (:func:`boundaries`), preferred |

    ``round(total / target)`` chunks (at least one) of equal length, each boundary moved to the nearest clean frame
    within a quarter of a chunk, else to the nearest drawing start there, else kept; ties go to the earlier frame.
    """
    if total < 1 or target < 1:
        raise BadOption("job.choose_spans", "target",
                        f"total and target must be ≥ 1 frame, got total={total}, target={target}")
    count = max(1, round(total / target))
    size = Fraction(total, count)
    slack = int(size / 4)
    ordered = [sorted(set(clean)), sorted(set(starts))]

    def nearest(aim: int) -> int:
        for frames in ordered:
            near = frames[bisect.bisect_left(frames, aim - slack):bisect.bisect_right(frames, aim + slack)]
            if near:
                return min(near, key=lambda n: (abs(n - aim), n))
        return aim

    ends = [nearest(round(k * size)) for k in range(1, count)]
    return list(zip([0, *ends], [*ends, total]))


def work_dir(output: Path) -> Path:
    """The work folder of a chunked job writing ``output``: ``OUTPUT.work`` beside it."""
    return output.with_name(f"{output.name}.work")


def concat_input(output: Path) -> list[str]:
    """The ffmpeg input options that read the joined segments of ``output``'s job (the video its join copies)."""
    return ["-f", "concat", "-i", file_url(work_dir(output) / SEGMENTS)]


def job_record(options: JobOptions, chunk_seconds: Fraction, segment: Sequence[str]) -> dict[str, object]:
    """What makes the segments, as JSON values: a rerun whose record differs starts afresh.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `options` | JobOptions | | every field (the input and the cut list also by size, modification time and SHA-256) |
    | `chunk_seconds` | Fraction | | the chunk length asked for |
    | `segment` | sequence of str | | the segments' ffmpeg arguments (:func:`~vsanimsplat.ffmpeg.segment_command`) |
    """
    files = {name: {"size": path.stat().st_size, "mtime_ns": path.stat().st_mtime_ns, "sha256": _sha256(path)}
             for name, path in options.paths().items()}
    record = {"version": __version__, "chunk_seconds": str(chunk_seconds), "files": files,
              "options": dataclasses.asdict(options.resolved()), "segment": list(segment)}
    return json.loads(json.dumps(record, default=str))


def _sha256(path: Path) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, fsync it, rename it over ``path``, fsync the folder."""
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "w", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    fsync_folder(path.parent)


def _segment(work: Path, index: int) -> Path:
    return work / f"chunk-{index:05d}.nut"


def make_segment(clip: vs.VideoNode, span: tuple[int, int], ffmpeg: FFmpeg, args: Sequence[str], path: Path,
                 progress: Progress, verbose: bool = False) -> str:
    """Encode the frames ``span`` of ``clip`` (video only) to ``path``; returns its SHA-256.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `clip` | vs.VideoNode | | the job's output clip (:attr:`~vsanimsplat.job.Graph.clip`) |
    | `span` | (int, int) | | its frames ``first`` … ``end - 1`` |
    | `ffmpeg` | FFmpeg | | the ffmpeg to run |
    | `args` | sequence of str | | its arguments but the output (:func:`~vsanimsplat.ffmpeg.segment_command`) |
    | `path` | Path | | the segment |
    | `progress` | Progress | | told about every frame |
    | `verbose` | bool | False | ffmpeg's warnings too |

    The segment is written as :func:`~vsanimsplat.job.encode` writes (a locked temporary file, renamed), removing
    what a killed run of it left, and synced to disk before its checksum is taken.
    """
    remove_stale_partials(path)
    first, end = span
    encode(clip[first:end], ffmpeg, [*args, file_url(path)], path, progress, verbose)
    with open(path, "rb") as file:
        os.fsync(file.fileno())
    return _sha256(path)


def _listing(work: Path, spans: Sequence[tuple[int, int]], rate: Fraction) -> str:
    """The concat demuxer's list of the segments, each with its duration: a segment does not say how long its last
    frame lasts, so ffmpeg would start the next one a frame early. The durations are in microseconds (ffmpeg's unit
    there), rounded so that each segment starts at its first frame's time rounded, with no error adding up."""
    def microseconds(frame: int) -> int:
        return round(frame / rate * 1_000_000)

    lines = ["ffconcat version 1.0"]
    for index, (first, end) in enumerate(spans):
        lines += [f"file '{_segment(work, index).name}'", f"duration {microseconds(end) - microseconds(first)}us"]
    return "\n".join(lines) + "\n"


def _read_manifest(work: Path) -> dict | None:
    try:
        return json.loads((work / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


class Chunk(NamedTuple):
    """A chunk to make: its number, its output frames ``span = (first, end)`` and the segment to write."""

    index: int
    span: tuple[int, int]
    segment: Path


class ChunkMaker(Protocol):
    """Makes chunks elsewhere than in this process (:class:`~vsanimsplat.job.cluster.Workers`)."""

    def make(self, options: JobOptions, chunks: Sequence[Chunk], segment: Sequence[str], progress: Progress, total: int,
             verbose: bool = False, passes: Passes | None = None) -> Iterator[tuple[int, str]]:
        """Make ``chunks`` of the job ``options`` (of ``total`` frames) with the ffmpeg arguments ``segment``
        (:func:`make_segment`), telling ``progress``, from the analysis ``passes`` made here
        (:attr:`~vsanimsplat.job.Graph.passes`); yields each chunk's index and its segment's SHA-256 as it is done."""


def _make_here(clip: vs.VideoNode, chunks: Sequence[Chunk], ffmpeg: FFmpeg, segment: Sequence[str], progress: Progress,
               verbose: bool) -> Iterator[tuple[int, str]]:
    """Make ``chunks`` one after another in this process, counting every frame."""
    for chunk in chunks:
        progress.part(clip.num_frames)
        yield chunk.index, make_segment(clip, chunk.span, ffmpeg, segment, chunk.segment, progress, verbose)


def run_chunks(graph: Graph, options: JobOptions, chunk_seconds: Fraction, ffmpeg: FFmpeg, segment: Sequence[str],
               command: Sequence[str], output: Path, progress: Progress, keep_work: bool = False, verbose: bool = False,
               say: Callable[[str], None] = print, workers: ChunkMaker | None = None, replace: bool = True) -> None:
    """Encode the job in chunks of about ``chunk_seconds`` of output, resuming an earlier run's work, then join them.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `graph` | Graph | | the job's graph (:func:`~vsanimsplat.job.build_graph` of ``options``) |
    | `options` | JobOptions | | the job's options: with the input, they say whether earlier work fits |
    | `chunk_seconds` | Fraction | | output seconds per chunk, > 0 |
    | `ffmpeg` | FFmpeg | | the ffmpeg to run |
    | `segment` | sequence of str | | the segments' encode (:func:`~vsanimsplat.ffmpeg.segment_command`) |
    | `command` | sequence of str | | the join's arguments (:func:`~vsanimsplat.ffmpeg.encode_command` with ``segments=concat_input(output)``) |
    | `output` | Path | | the file to write |
    | `progress` | Progress | | one count over all chunks; those done before count as done |
    | `keep_work` | bool | False | keep the work folder after success |
    | `verbose` | bool | False | ffmpeg's warnings too |
    | `say` | callable | print | where the lines about the chunks go |
    | `workers` | ChunkMaker or None | None | who makes the chunks (:class:`~vsanimsplat.job.cluster.Workers`); None: this process, one after another |
    | `replace` | bool | True | replace ``output`` if it exists when the join is done (:func:`~vsanimsplat.job.encode`) |

    Chunks whose segment is recorded with a checksum that still matches are skipped; the others are made, and each
    is recorded in the manifest as soon as it is done. Work of another job (other options, another or changed
    input, another encode of the segments, another version) is removed first. Raises
    :class:`~vsanimsplat.errors.BadOption` unless
    ``options.deterministic``: chunks made in other processes, or on a GPU, must be the frames one encode makes.
    """
    if not options.deterministic:
        raise BadOption("job.run_chunks", "options",
                        "a chunked job needs JobOptions(deterministic=True): its chunks, made "
                        "apart, must hold the frames of one encode (run sets it for --chunk-seconds, --workers and --ray-address)")
    work = work_dir(output)
    job = job_record(options, chunk_seconds, segment)
    manifest = _read_manifest(work)
    total = graph.clip.num_frames
    if manifest is None or manifest.get("job") != job:
        if work.exists():
            say(f"{work}: work of another job (other input or options); starting afresh")
            shutil.rmtree(work)
        work.mkdir()
        settings = next(line.kwargs for line in graph.lines if line.function is interpolate)
        timing = inspect.signature(output_steps).parameters  # the settings that place the frames
        rate, steps, _ = output_steps(graph.drawings, **{k: v for k, v in settings.items() if k in timing})
        target = max(1, round(chunk_seconds * rate))
        manifest = {"job": job, "spans": choose_spans(total, target, *boundaries(steps)), "done": {}}
        _write_atomically(work / MANIFEST, json.dumps(manifest, indent=1))
    spans = [tuple(span) for span in manifest["spans"]]
    done = manifest["done"]
    for index in range(len(spans)):
        segment_file = _segment(work, index)
        if done.get(str(index)) is not None and not (segment_file.is_file()
                                                      and _sha256(segment_file) == done[str(index)]):
            say(f"chunk {index}: {segment_file.name} " + ("changed since it was made" if segment_file.is_file()
                                                         else "is missing") + "; it is made again")
            del done[str(index)]
    todo = [index for index in range(len(spans)) if str(index) not in done]
    say(f"{counted(len(spans), 'chunk')} of about {float(chunk_seconds):g} s in {work}: "
        + (f"{len(spans) - len(todo)} done by an earlier run, " if len(todo) < len(spans) else "") + f"{len(todo)} to make")
    progress.skip(sum(end - first for index, (first, end) in enumerate(spans) if index not in todo))
    chunks = [Chunk(index, spans[index], _segment(work, index).resolve()) for index in todo]
    made = (_make_here(graph.clip, chunks, ffmpeg, segment, progress, verbose) if workers is None
            else workers.make(options, chunks, segment, progress, total, verbose, graph.passes))
    try:
        with contextlib.closing(made):
            for index, checksum in made:  # as each chunk is done, in any order
                done[str(index)] = checksum
                _write_atomically(work / MANIFEST, json.dumps(manifest, indent=1))
    finally:
        progress.close()
    _write_atomically(work / SEGMENTS, _listing(work, spans, Fraction(graph.clip.fps)))
    say(f"joining {counted(len(spans), 'chunk')} into {output} …")
    encode(None, ffmpeg, command, output, progress, verbose, replace)
    if not keep_work:
        shutil.rmtree(work)
