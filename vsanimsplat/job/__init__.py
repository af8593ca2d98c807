"""The ``vsanimsplat run`` job.

| module | holds |
|---|---|
| :mod:`~vsanimsplat.job.run` | the job as one call, :func:`~vsanimsplat.job.run.run`: paths checked, the output's lock, stale files, Ray checked, the model and graph, the ``.flo`` and ``.vpy``, the encode |
| :mod:`~vsanimsplat.job.graph` | the options, the filter graph and the ``.vpy`` script that builds the same graph, the job's model |
| :mod:`~vsanimsplat.job.encoder` | the ffmpeg process the graph is piped into, stopped cleanly by SIGINT, SIGTERM or SIGHUP, leaving no partial file; stale partials of killed runs removed |
| :mod:`~vsanimsplat.job.preview` | the panels of ``vsanimsplat preview``'s contact sheet: a short span of the graph, with its props and masks |
| :mod:`~vsanimsplat.job.lock` | one run per output: a lock file beside it, naming the run that holds it |
| :mod:`~vsanimsplat.job.progress` | frames done, rate and ETA |
| :mod:`~vsanimsplat.job.chunks` | long jobs in chunks: spans at drawing starts, segments in the output's codec, a manifest to resume from, the join by copying |
| :mod:`~vsanimsplat.job.address` | ``--ray-address`` tried before any work: its form, and a Ray cluster answering there within seconds |
| :mod:`~vsanimsplat.job.cluster` | the chunks made on several workers with Ray (optional extra ``cluster``; Ray is imported only when used) |
"""

from ..errors import EncodeError, Interrupted
from .chunks import Chunk, boundaries, choose_spans, concat_input, make_segment, run_chunks, work_dir
from .cluster import DEFAULT_CHUNK_SECONDS, RayMissing, Workers, require_ray
from .encoder import STOP_SIGNALS, encode, remove_stale_partials, signals_interrupt
from .lock import OutputBusy, lock_path, output_lock
from .graph import SCRIPT_OUTPUTS, Graph, JobOptions, ScriptLine, Target, build_graph, first_pair_flow, load_job_model, script_text
from .progress import Progress, counted

__all__ = [
    "DEFAULT_CHUNK_SECONDS",
    "SCRIPT_OUTPUTS",
    "STOP_SIGNALS",
    "Chunk",
    "EncodeError",
    "Graph",
    "Interrupted",
    "JobOptions",
    "OutputBusy",
    "Progress",
    "RayMissing",
    "ScriptLine",
    "Target",
    "Workers",
    "boundaries",
    "build_graph",
    "choose_spans",
    "concat_input",
    "counted",
    "encode",
    "first_pair_flow",
    "load_job_model",
    "lock_path",
    "make_segment",
    "output_lock",
    "remove_stale_partials",
    "require_ray",
    "run_chunks",
    "script_text",
    "signals_interrupt",
    "work_dir",
]
