"""``vsanimsplat preview``: the panels of a contact sheet of one short span of the job's graph.

The drawings on screen in the span, then every output frame in it with its ``t``, its two
drawings, its hole fraction, and the hole, changed-region and layer masks ``interpolate`` left
on it (read from :attr:`~vsanimsplat.job.graph.Graph.interpolated`, before ``fill_holes`` drops
the hole mask). Only the frames of the span are made.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import vapoursynth as vs

from ..errors import BadOption
from ..filters.analysis import timing_of
from ..filters.frames import ColourSpace, frame_to_array
from ..plots import Panel, format_time
from ..timeline import FrameClock, start_times
from .graph import Graph

__all__ = ["MAX_PREVIEW_FRAMES", "preview_panels", "source_clock"]

MAX_PREVIEW_FRAMES = 48
"""Most output frames one sheet shows: a preview takes seconds, not an encode."""


def source_clock(graph: Graph) -> FrameClock:
    """When each processed source frame starts, from the timing of the graph's drawings (no frame is read again)."""
    timing = timing_of(graph.drawings)
    return FrameClock(timing.sources, timing.holds, start_times(timing.durations), timing.durations)


def _rgb(clip: vs.VideoNode) -> vs.VideoNode:
    """``clip`` as RGB24, as the models see its colours (:class:`~vsanimsplat.filters.frames.ColourSpace`)."""
    return ColourSpace(clip, clip.get_frame(0).props).to_rgbs(clip).resize.Point(format=vs.RGB24)


def _mask(props: vs.FrameProps, name: str, level: int) -> np.ndarray | None:
    """The GRAY8 mask frame ``name`` of ``props`` as a bool array (above ``level``), or None when absent."""
    frame = props.get(name)
    return None if frame is None else np.asarray(frame[0]) > level


def preview_panels(graph: Graph, frames: range) -> list[Panel]:
    """The panels of the source frames ``frames``: each drawing on screen in them, then each output frame.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `graph` | Graph | | from :func:`~vsanimsplat.job.build_graph` |
    | `frames` | range | | processed source frames, within ``0 … graph.source_frames`` |

    Raises :class:`~vsanimsplat.errors.BadOption` naming ``frames`` when they lie outside the clip or hold more than
    :data:`MAX_PREVIEW_FRAMES` output frames.
    """
    clock = source_clock(graph)
    if not (0 <= frames.start < frames.stop <= clock.frames):
        raise BadOption("job.preview_panels", "frames", f"frames must be a non-empty span of source frames within "
                        f"0 … {clock.frames - 1}, got {frames.start} … {frames.stop - 1}")
    rate = Fraction(graph.clip.fps)
    outputs = range(math.ceil(clock.time(frames.start) * rate),
                    min(graph.clip.num_frames, math.ceil(clock.time(frames.stop) * rate)))
    if len(outputs) > MAX_PREVIEW_FRAMES:
        raise BadOption("job.preview_panels", "frames",
                        f"frames {frames.start} … {frames.stop - 1} hold {len(outputs)} "
                        f"output frames, more than one sheet shows ({MAX_PREVIEW_FRAMES}); choose a shorter span")
    timing = timing_of(graph.drawings)
    drawings = _rgb(graph.drawings)
    panels = []
    for k, (first, hold) in enumerate(zip(timing.sources, timing.holds)):
        if first < frames.stop and first + hold > frames.start:
            panels.append(Panel(frame_to_array(drawings.get_frame(k)), f"drawing {k}",
                                [f"source {first} x{hold}", f"at {format_time(clock.time(first))}"]))
    output = _rgb(graph.clip)
    for j in outputs:
        made = graph.interpolated.get_frame(j).props  # with the masks fill_holes drops
        shown = output.get_frame(j)
        props = shown.props  # the output's props, through the RGB conversion
        left, right, t = int(props["AnimSplat_Left"]), int(props["AnimSplat_Right"]), float(props["AnimSplat_T"])
        overlays = {name: mask for name, mask in (("holes", _mask(made, "AnimSplat_HoleMask", 127)),
                                                  ("changed", _mask(made, "AnimSplat_ChangeMask", 0)),
                                                  ("layers", _mask(made, "AnimSplat_LayerMask", 0)))
                    if mask is not None}
        lines = [f"t {t:.3f}  {left} -> {right}", f"holes {100 * float(made.get('AnimSplat_HoleFraction', 0.0)):.2f}%"]
        if "AnimSplat_LayerT" in made:  # one value per layer in motion: VapourSynth gives a lone one as a float
            lines.append("layers t " + " ".join(f"{layer_t:.2f}" for layer_t in np.atleast_1d(made["AnimSplat_LayerT"])))
        panels.append(Panel(frame_to_array(shown), f"out {j} at {format_time(j / rate)}", lines,
                            overlays))
    return panels
