"""vsanimsplat: frame interpolation for animation, as VapourSynth filters.

Public API:

| name | what it does |
|---|---|
| :func:`dedupe` | find the drawings of an animated clip; one frame per drawing, with its true timing |
| :func:`interpolate` | a higher constant frame rate, in-betweens at their true times between drawings |
| :func:`resize` | resize (Spline36) keeping ``dedupe``'s analysis, so ``interpolate`` reads nothing again |
| :func:`fill_holes` | fill the pixels splatting left empty, from the two parent drawings |
| :func:`write_timecodes` | Matroska timecode v2 file of a (variable-rate) clip |
| :func:`open_video` | open a video file as a constant-rate clip (BestSource), the source the ``run`` command uses |
| :mod:`errors` | the exceptions: one root, ``AnimSplatError`` (a ``vs.Error``), and its kinds (``BadOption``, ``WeightsError`` …) |
"""

from . import errors
from .filters import dedupe, fill_holes, interpolate, resize, write_timecodes
from .filters.source import open_video

__all__ = ["dedupe", "errors", "fill_holes", "interpolate", "open_video", "resize", "write_timecodes"]
__version__ = "0.1.0"
"""The version, stated here only: ``pyproject.toml`` reads it (a dynamic version), the top entry of
``CHANGELOG.md`` names it, and the installed metadata says it (``tests/test_release.py``)."""
