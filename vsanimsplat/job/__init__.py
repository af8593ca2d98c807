"""The ``vsanimsplat run`` job.

| module | holds |
|---|---|
| :mod:`~vsanimsplat.job.graph` | the options, the filter graph and the ``.vpy`` script that builds the same graph, the job's model |
| :mod:`~vsanimsplat.job.encoder` | the ffmpeg process the graph is piped into, interruptible, leaving no partial file |
| :mod:`~vsanimsplat.job.progress` | frames done, rate and ETA |
"""

from .encoder import EncodeError, encode
from .graph import Graph, JobOptions, ScriptLine, Target, build_graph, first_pair_flow, load_job_model, script_text
from .progress import Progress

__all__ = [
    "EncodeError",
    "Graph",
    "JobOptions",
    "Progress",
    "ScriptLine",
    "Target",
    "build_graph",
    "encode",
    "first_pair_flow",
    "load_job_model",
    "script_text",
]
