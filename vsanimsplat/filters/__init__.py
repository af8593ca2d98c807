"""The VapourSynth glue: the filters users call. The only place that knows about frames and props."""

from .analysis import resize
from .dedupe import dedupe, write_timecodes
from .fill_holes import fill_holes
from .interpolate import interpolate

__all__ = ["dedupe", "fill_holes", "interpolate", "resize", "write_timecodes"]
