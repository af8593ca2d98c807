"""The VapourSynth glue: the filters users call. The only place that knows about frames and props."""

from .dedupe import dedupe, write_timecodes

__all__ = ["dedupe", "write_timecodes"]
