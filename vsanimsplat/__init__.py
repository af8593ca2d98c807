"""vsanimsplat: frame interpolation for animation, as VapourSynth filters.

Public API:

| name | what it does |
|---|---|
| :func:`dedupe` | find the drawings of an animated clip; one frame per drawing, with its true timing |
| :func:`write_timecodes` | Matroska timecode v2 file of a (variable-rate) clip |
"""

from .filters import dedupe, write_timecodes

__all__ = ["dedupe", "write_timecodes"]
__version__ = "0.1.0"
