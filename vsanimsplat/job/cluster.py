"""The chunks of a job made on several workers with Ray (the optional ``cluster`` extra: ``pip install .[cluster]``).

Each chunk is one Ray task, self-contained: it gets the job's options, the driver's analysis of the source and its
span, builds the graph and loads the model itself (once per worker process and job), and writes its segment into the
work folder, so the input and the
work folder must be on storage every worker sees at the same path. The driver keeps the manifest: it records each
chunk as its result arrives (:func:`~vsanimsplat.job.run_chunks`), so a stopped job resumes as a single-process one.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from types import ModuleType

import torch
import vapoursynth as vs

from ..errors import BadOption, EncodeError, Interrupted, NotInstalled
from ..ffmpeg import CODECS, find_ffmpeg
from ..filters.dedupe import Passes
from .chunks import Chunk, make_segment
from .encoder import STOP_SIGNALS
from .graph import Graph, JobOptions, build_graph, load_job_model
from .progress import Progress

__all__ = ["DEFAULT_CHUNK_SECONDS", "GPU_SHARES", "INSTALL_HINT", "MAX_RETRIES", "RayMissing", "Workers", "is_gpu_share",
           "require_ray"]

DEFAULT_CHUNK_SECONDS = Fraction(60)
"""Output seconds per chunk when Ray makes them and no ``--chunk-seconds`` is given."""

INSTALL_HINT = "pip install 'vsanimsplat[cluster]' (or: pip install 'ray>=2.60')"
WORKER_NICENESS = "RAY_worker_niceness"
"""The environment variable that sets the niceness of the workers of a Ray instance started here (0 unless set: the
job's own priority); a cluster joined with ``--ray-address`` keeps its own (``ray start`` reads the same variable)."""
_TOKEN_NOTICE = "ray._private.authentication.authentication_token_setup"
"""Ray's logger that warns, on every ``ray.init`` of a local instance, that it uses tokens (its default)."""
MAX_RETRIES = 2
"""A failed chunk is tried again this many times by Ray (a crashed worker, a lost node, an error) before the job fails."""
GPU_SHARES = "a share of one GPU, 0 < X ≤ 1 (0.5: two workers on each GPU), or a whole number of GPUs"
"""What a worker's GPUs (``--gpus-per-worker``) may be: what Ray takes as a task's ``num_gpus``."""


def is_gpu_share(value: float) -> bool:
    """Whether ``value`` is one of :data:`GPU_SHARES`."""
    return math.isfinite(value) and 0 < value and (value <= 1 or value == int(value))


class RayMissing(NotInstalled, ImportError):
    """Several workers were asked for, but Ray is not installed; the message says how to install it."""


def require_ray() -> ModuleType:
    """The ``ray`` module, or :class:`RayMissing` naming the install command."""
    try:
        import ray
    except ImportError:
        raise RayMissing(f"--workers/--ray-address run the chunks with Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


_built: dict[JobOptions, Graph] = {}


def _graph(options: JobOptions, passes: Passes) -> Graph:
    """The job's graph with its model, built once per worker process for the chunks of one job, from the driver's
    analysis ``passes`` (so the source is not read again)."""
    if options not in _built:
        _built.clear()
        _built[options] = build_graph(options, load_job_model(options), progress=False, passes=passes)
    return _built[options]


def _make_chunk(options: JobOptions, passes: Passes, chunk: Chunk, segment: Sequence[str], threads: int,
                verbose: bool) -> str:
    """The Ray task: make one chunk's segment with the ffmpeg arguments ``segment`` and ``threads`` threads (torch
    and VapourSynth); returns its SHA-256."""
    torch.set_num_threads(threads)
    vs.core.num_threads = threads
    return make_segment(_graph(options, passes).clip, chunk.span, find_ffmpeg([CODECS[options.codec].encoder]), segment,
                        chunk.segment, Progress("chunk", enabled=False), verbose)


@contextlib.contextmanager
def _stop_signals_through_ray() -> Iterator[Callable[[], None]]:
    """Keep the job's handling of :data:`~vsanimsplat.job.STOP_SIGNALS` while Ray runs in this process.

    ``ray.init`` replaces the handler of SIGTERM by one that aborts the process, and Ray turns what a handler raises
    while it waits into a plain KeyboardInterrupt. Calling the yielded function after ``ray.init`` puts the Python
    handlers found before the block back (each noting its signal first); a KeyboardInterrupt leaving the block is
    raised again as :class:`~vsanimsplat.job.Interrupted` for SIGTERM or SIGHUP; the handlers are restored after it.
    """
    main = threading.current_thread() is threading.main_thread()
    before = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    received: list[int] = []

    def relay(signum: int, frame: object) -> None:
        received.append(signum)
        before[signum](signum, frame)

    def put_back() -> None:
        for signum, handler in before.items():
            if main and callable(handler):
                signal.signal(signum, relay)

    try:
        yield put_back
    except KeyboardInterrupt as stop:
        if received and received[-1] != signal.SIGINT and not isinstance(stop, Interrupted):
            raise Interrupted(received[-1]) from None
        raise
    finally:
        for signum, handler in before.items():
            if main and handler is not None:
                signal.signal(signum, handler)


def _uses_cuda(options: JobOptions) -> bool:
    return str(options.model_options.device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda")


def _failure(error: Exception) -> str:
    """What made a task fail: the task's own exception where Ray wraps one, else Ray's error."""
    cause = getattr(error, "cause", None) or error
    text = str(cause).strip().splitlines()
    kind = type(cause).__name__ if type(cause).__module__ == "builtins" else f"{type(cause).__module__}.{type(cause).__name__}"
    return f"{kind}: {text[-1] if text else 'no message'}"


@dataclass(frozen=True)
class Workers:
    """Where the chunks are made: on a local Ray instance started for the job, or on a running Ray cluster.

    | field | type | default | meaning |
    |---|---|---|---|
    | `count` | int or None | None | chunks made at once, ≥ 1; None: 1 locally, one per node of a cluster |
    | `address` | str or None | None | a Ray cluster to join (``ray start --head`` prints it); None: start Ray here |
    | `gpus` | float or None | None | GPUs each chunk's task asks Ray for, one of :data:`GPU_SHARES` (``--gpus-per-worker``: 0.5 lets two workers share a card); None: 1 when the job's device is CUDA, else 0 |

    Locally each task gets ``torch.get_num_threads() // count`` threads (at least 1) and Ray gets CPUs for
    ``count`` tasks; on a cluster each gets the cluster's CPUs ÷ ``count`` (at most the smallest node's). A task
    asks Ray for that many CPUs and for ``gpus`` GPUs (:meth:`task_options`).
    """

    count: int | None = None
    address: str | None = None
    gpus: float | None = None

    def __post_init__(self) -> None:
        if self.count is not None and self.count < 1:
            raise BadOption("run", "workers", f"--workers must be ≥ 1, got {self.count}")
        if self.gpus is not None and not is_gpu_share(self.gpus):
            raise BadOption("run", "gpus_per_worker", f"--gpus-per-worker must be {GPU_SHARES}, got {self.gpus!r}")

    @property
    def needed(self) -> bool:
        """Whether Ray runs the chunks: more than one worker, or a cluster."""
        return self.address is not None or (self.count or 1) > 1

    def make(self, options: JobOptions, chunks: Sequence[Chunk], segment: Sequence[str], progress: Progress, total: int,
             verbose: bool = False, passes: Passes | None = None) -> Iterator[tuple[int, str]]:
        """Make ``chunks`` with Ray, at most :attr:`count` at once; yields each chunk's index and SHA-256 as it is
        done, counting its frames in ``progress``.

        | parameter | type | default | meaning |
        |---|---|---|---|
        | `options` | JobOptions | | the job (its paths are sent absolute) |
        | `chunks` | sequence of Chunk | | the chunks to make |
        | `segment` | sequence of str | | the segments' ffmpeg arguments (:func:`~vsanimsplat.ffmpeg.segment_command`) |
        | `progress` | Progress | | counts each chunk's frames when it is done |
        | `total` | int | | frames of the whole job |
        | `verbose` | bool | False | ffmpeg's warnings, and the workers' output, on stderr |
        | `passes` | Passes or None | None | the driver's analysis (:attr:`~vsanimsplat.job.Graph.passes`), sent once to the object store: the workers do not read the source again for it |

        Raises :class:`RayMissing` without Ray, and :class:`~vsanimsplat.job.EncodeError` when the cluster cannot be
        joined, or naming the chunk and its last error when it failed :data:`MAX_RETRIES` + 1 times (the chunks
        still running then end with the driver's Ray session).
        """
        ray = require_ray()
        level = logging.INFO if verbose else logging.WARNING
        waiting, running = list(chunks), {}
        with _stop_signals_through_ray() as put_back:
            if self.address is None:
                count = self.count or 1
                threads = max(1, torch.get_num_threads() // count)
                # Ray runs its workers at nice 15 by default: on a busy machine they starve (benchmarks/workers.md)
                os.environ.setdefault(WORKER_NICENESS, "0")
                logging.getLogger(_TOKEN_NOTICE).setLevel(level if verbose else logging.ERROR)
                ray.init(num_cpus=count * threads, include_dashboard=False, log_to_driver=verbose, logging_level=level)
            else:
                try:
                    ray.init(address=self.address, log_to_driver=verbose, logging_level=level)
                except ConnectionError as error:
                    raise EncodeError(f"--ray-address {self.address}: cannot join the Ray cluster ({error}); a cluster "
                                      "started by `ray start` uses token authentication: run with RAY_AUTH_MODE=token "
                                      "and its token (~/.ray/auth_token or RAY_AUTH_TOKEN)") from None
            put_back()
            try:
                if self.address is not None:
                    count, threads = self._cluster_shape(ray)
                task = ray.remote(_make_chunk).options(**self.task_options(options, threads))
                options, shared = options.resolved(), ray.put(passes or {})
                while waiting or running:
                    while waiting and len(running) < count:
                        chunk = waiting.pop(0)
                        running[task.remote(options, shared, chunk, segment, threads, verbose)] = chunk
                    (ready, *_), _ = ray.wait(list(running), num_returns=1)
                    chunk = running.pop(ready)
                    try:
                        checksum = ray.get(ready)
                    except ray.exceptions.RayError as error:
                        raise EncodeError(f"chunk {chunk.index} (output frames {chunk.span[0]}–{chunk.span[1] - 1}) "
                                          f"failed {MAX_RETRIES + 1} times on the Ray workers: {_failure(error)}") from None
                    progress.part(total)
                    progress.update(chunk.span[1] - chunk.span[0], total)
                    yield chunk.index, checksum
            finally:
                # No ray.cancel of the chunks still running: in Ray 2.60 a task cancelled (forced or not) as its reply
                # arrives aborts the driver ("Tried to complete task that was not pending", exit 1 instead of a clean
                # stop). Ending the driver's session ends its job's tasks, on a local instance and on a cluster.
                ray.shutdown()

    def task_options(self, options: JobOptions, threads: int) -> dict[str, object]:
        """What each chunk's Ray task of the job ``options`` asks for: ``threads`` CPUs, :attr:`gpus` GPUs (None: 1
        when the job's device is CUDA, else 0), and its retries.

        | parameter | type | default | meaning |
        |---|---|---|---|
        | `options` | JobOptions | | the job (its ``device``) |
        | `threads` | int | | CPUs of each task |
        """
        gpus = self.gpus if self.gpus is not None else 1 if _uses_cuda(options) else 0
        return {"num_cpus": threads, "num_gpus": gpus, "max_retries": MAX_RETRIES, "retry_exceptions": True}

    def _cluster_shape(self, ray: ModuleType) -> tuple[int, int]:
        """Chunks at once and threads per chunk on the cluster joined, from its live nodes' CPUs."""
        cpus = [int(node["Resources"].get("CPU", 0)) for node in ray.nodes() if node["Alive"]]
        count = self.count or len(cpus)
        return count, max(1, min(sum(cpus) // count, min(cpus)))
