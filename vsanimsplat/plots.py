"""Pictures to look at before an encode: the cadence plot of ``vsanimsplat report --plot`` and the contact sheet
of ``vsanimsplat preview``.

Drawing only: the data comes from what ``report`` already computed (:class:`Cadence`) and from the job's graph
(:class:`Panel` s, made by :mod:`vsanimsplat.job.preview`). The cadence plot needs matplotlib (the optional extra
``plot``: ``pip install 'vsanimsplat[plot]'``), imported only when a plot is drawn and always headless (Agg);
the contact sheet needs Pillow (in the same extra).
"""

from __future__ import annotations

import importlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from .errors import BadOption, NotInstalled
from .retime import is_pause
from .timeline import HOLD_NAMES, Drawing, FrameClock, hold_name

__all__ = ["Cadence", "CadencePlot", "Panel", "PlotExtraMissing", "cadence_plot", "contact_sheet", "format_time",
           "plot_cadence", "require"]

HOLD_COLOURS = dict(zip(HOLD_NAMES, ("#4c72b0", "#55a868", "#dd8452", "#8172b3")))
"""The colour of each hold group in the cadence plot."""

OVERLAY_COLOURS = {"changed": ((0, 200, 255), 0.35), "layers": ((255, 200, 0), 0.5), "holes": ((255, 0, 255), 0.9)}
"""The tint and its strength of each overlay of a contact sheet's panels (the region the model drew, layers in
motion, the hole mask), drawn in this order."""


class PlotExtraMissing(NotInstalled, ImportError):
    """A package of the ``plot`` extra (matplotlib for the cadence plot, Pillow for the contact sheet) is not
    installed; the message says how to install it."""


def format_time(seconds: Fraction | float) -> str:
    """``seconds`` as ``M:SS.ss`` (``H:MM:SS.ss`` from an hour on), as ``--range`` and ``--at`` accept it."""
    hours, rest = divmod(float(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{int(hours)}:{int(minutes):02d}:{secs:05.2f}" if hours else f"{int(minutes)}:{secs:05.2f}"


UNSURE = 2.0
"""A difference score within this factor of the threshold (either way, counts plus one) is an unsure decision."""


@dataclass(frozen=True)
class Cadence:
    """What ``report`` learnt about a clip, as the cadence plot shows it.

    | field | type | default | meaning |
    |---|---|---|---|
    | `drawings` | list[Drawing] | | the drawings (:func:`~vsanimsplat.find_drawings`) |
    | `differences` | list[int] | | ``[i]``: pixels that differ between input frame ``i`` and ``i + 1`` (:func:`~vsanimsplat.filters.dedupe.frame_differences`) |
    | `threshold` | int | | the most differing pixels that are still the same drawing |
    | `cuts` | set[int] | | scene cuts: ``k`` between drawings ``k`` and ``k + 1`` |
    | `layers` | dict[tuple[int, int], float] | | layer holds ``(first, end)`` in drawings and their share of the frame (:attr:`~vsanimsplat.layers.LayerReport.holds`) |
    | `max_hold` | int or None | None | the pause rule (:func:`~vsanimsplat.retime.is_pause`) |
    """

    drawings: list[Drawing]
    differences: list[int]
    threshold: int
    cuts: Collection[int]
    layers: Mapping[tuple[int, int], float]
    max_hold: int | None = None

    @property
    def clock(self) -> FrameClock:
        """When each input frame starts."""
        return FrameClock.of(self.drawings)

    @property
    def unsure(self) -> list[int]:
        """Input frames whose difference to the frame before lies within :data:`UNSURE` × the threshold either way:
        where a little more or less coding noise, grain or change would have decided otherwise."""
        low, high = (self.threshold + 1) / UNSURE, (self.threshold + 1) * UNSURE
        return [i + 1 for i, count in enumerate(self.differences) if low < count + 1 <= high]


@dataclass(frozen=True)
class CadencePlot:
    """What a cadence plot shows, in input frames of the clip.

    | field | type | meaning |
    |---|---|---|
    | `frames` | range | the input frames shown |
    | `bars` | list[tuple[int, int, str]] | each drawing on screen within ``frames``: its first frame, its frames, its hold group (:data:`~vsanimsplat.timeline.HOLD_NAMES`) |
    | `pauses` | list[int] | the first frame of each drawing shown that is a pause |
    | `cuts` | list[int] | the first frame of each new shot within ``frames`` |
    | `layers` | list[tuple[int, int]] | each layer hold shown: the frames where it begins and where its next drawing appears |
    | `threshold` | int | the threshold line under the difference scores |
    | `unsure` | list[int] | the frames within ``frames`` whose score is near the threshold (:attr:`Cadence.unsure`) |
    """

    frames: range
    bars: list[tuple[int, int, str]] = field(default_factory=list)
    pauses: list[int] = field(default_factory=list)
    cuts: list[int] = field(default_factory=list)
    layers: list[tuple[int, int]] = field(default_factory=list)
    threshold: int = 0
    unsure: list[int] = field(default_factory=list)


_DRAWN_WITH = {"matplotlib": "the cadence plot (report --plot)", "PIL": "the contact sheet (preview)"}


def require(module: str) -> None:
    """Raise :class:`PlotExtraMissing`, saying how to install it, unless ``module`` (``"matplotlib"`` or ``"PIL"``)
    can be imported."""
    try:
        importlib.import_module(module)
    except ImportError:
        package = {"PIL": "pillow"}.get(module, module)
        raise PlotExtraMissing(f"{_DRAWN_WITH[module]} needs {package}: pip install 'vsanimsplat[plot]' "
                               f"(or pip install {package})") from None


def _pyplot():
    """matplotlib's pyplot on the headless Agg backend, or :class:`PlotExtraMissing`."""
    require("matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def cadence_plot(cadence: Cadence, frames: range | None = None) -> CadencePlot:
    """What :func:`plot_cadence` draws for ``frames`` (default: the whole clip), without drawing it.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `cadence` | Cadence | | the clip's drawings, scores, cuts and layer holds |
    | `frames` | range or None | None | input frames to show, within ``0 … clip frames`` |
    """
    drawings = cadence.drawings
    total = cadence.clock.frames
    frames = range(total) if frames is None else frames
    if not (0 <= frames.start < frames.stop <= total):
        raise BadOption("plots.cadence_plot", "frames",
                        f"frames must be a non-empty range within 0 … {total}, got {frames.start} … {frames.stop}")
    shown = [k for k, d in enumerate(drawings) if d.first < frames.stop and d.first + d.frames > frames.start]
    holds = [d.hold for d in drawings]
    starts = [d.first for d in drawings] + [total]
    return CadencePlot(
        frames,
        bars=[(drawings[k].first, drawings[k].frames, hold_name(drawings[k].hold)) for k in shown],
        pauses=[drawings[k].first for k in shown if is_pause(holds, k, cadence.max_hold)],
        cuts=[starts[k + 1] for k in sorted(cadence.cuts) if starts[k + 1] in frames],
        layers=[(starts[first], starts[end]) for first, end in cadence.layers
                if starts[first] < frames.stop and starts[end] > frames.start],
        threshold=cadence.threshold,
        unsure=[i for i in cadence.unsure if i in frames],
    )


def plot_cadence(cadence: Cadence, path: str | Path, frames: range | None = None, title: str = "") -> CadencePlot:
    """Draw the cadence plot of a clip into the image file ``path`` (PNG, SVG, PDF …, by its extension).

    Top: every drawing as a bar as long as its hold, coloured by hold group (ones, twos, threes,
    longer), pauses hatched; middle: the layer holds (parts of the picture on their own cadence),
    one lane each; bottom: the difference score of every frame to the one before it (log scale)
    against the threshold: a frame above the line starts a drawing, and a circle marks a frame whose score lies near
    the line (:attr:`Cadence.unsure`), where the analysis was unsure. Scene cuts are red lines across
    all three. The x axis is input frames, labelled with their times.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `cadence` | Cadence | | the clip's drawings, scores, cuts and layer holds |
    | `path` | str or Path | | the image to write |
    | `frames` | range or None | None | input frames to show (``--range``); None = the whole clip |
    | `title` | str | "" | the title above the plot |

    Returns what the plot shows (:class:`CadencePlot`); raises :class:`PlotExtraMissing` without matplotlib.
    """
    shown = cadence_plot(cadence, frames)
    plt = _pyplot()
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    clock = cadence.clock
    figure, (bars, layers, scores) = plt.subplots(3, 1, sharex=True, figsize=(12, 5), dpi=100,
                                                  gridspec_kw={"height_ratios": (2, 1, 2)})
    pauses = set(shown.pauses)
    for first, length, group in shown.bars:
        bars.broken_barh([(first, length)], (0, 1), facecolors=HOLD_COLOURS[group], edgecolors="white",
                         linewidth=0.5, hatch="///" if first in pauses else None)
    bars.set_yticks([])
    bars.set_ylabel("drawings")
    legend = [Patch(facecolor=HOLD_COLOURS[name], label=name) for name in HOLD_NAMES]
    legend += [Patch(facecolor="white", edgecolor="black", hatch="///", label="pause"),
               Patch(facecolor="red", label="scene cut")]
    bars.legend(handles=legend, loc="upper center", bbox_to_anchor=(0.5, 1.35), ncol=len(legend), frameon=False)
    lanes: list[int] = []  # where each lane's last hold ends
    for begin, end in shown.layers:
        lane = next((i for i, busy in enumerate(lanes) if busy <= begin), len(lanes))
        lanes[lane:lane + 1] = [end]
        layers.broken_barh([(begin, end - begin)], (lane, 0.8), facecolors="#c44e52", edgecolors="white", linewidth=0.5)
    layers.set_ylim(0, max(1, len(lanes)))
    layers.set_yticks([])
    layers.set_ylabel("layers")
    window = range(max(1, shown.frames.start), shown.frames.stop)
    scores.step(list(window), [cadence.differences[i - 1] + 1 for i in window], where="post", color="black",
                linewidth=0.8)
    scores.axhline(shown.threshold + 1, color="#dd8452", linestyle="--", label=f"threshold {shown.threshold} px")
    if shown.unsure:
        scores.scatter(shown.unsure, [cadence.differences[i - 1] + 1 for i in shown.unsure], marker="o", s=18,
                       facecolors="none", edgecolors="#8172b3", label=f"unsure (within {UNSURE:g}× of it)", zorder=3)
    scores.set_yscale("log")
    scores.set_ylabel("changed px + 1")
    scores.legend(loc="upper right", frameon=False, fontsize="small")
    for axes in (bars, layers, scores):
        for cut in shown.cuts:
            axes.axvline(cut, color="red", linewidth=1.2)
    scores.set_xlim(shown.frames.start, shown.frames.stop)
    scores.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=12))
    scores.xaxis.set_major_formatter(FuncFormatter(
        lambda x, _: f"{int(x)}\n{format_time(clock.time(int(x)))}" if 0 <= x <= clock.frames else ""))
    scores.set_xlabel("input frame / time")
    if title:
        figure.suptitle(title, fontsize="medium", y=0.995)
    figure.subplots_adjust(left=0.06, right=0.99, top=0.86, bottom=0.14, hspace=0.15)
    figure.savefig(path)
    plt.close(figure)
    return shown


@dataclass(frozen=True)
class Panel:
    """One picture of a contact sheet.

    | field | type | default | meaning |
    |---|---|---|---|
    | `image` | np.ndarray | | (height, width, 3) uint8 RGB |
    | `title` | str | | the first label line, e.g. ``drawing 12`` or ``out 25`` |
    | `lines` | list[str] | [] | more label lines (``t 0.50``, ``12 → 14``, ``holes 0.3%``) |
    | `overlays` | dict[str, np.ndarray] | {} | masks (height, width) bool drawn tinted over the image, by name (:data:`OVERLAY_COLOURS`) |
    """

    image: np.ndarray
    title: str
    lines: list[str] = field(default_factory=list)
    overlays: dict[str, np.ndarray] = field(default_factory=dict)


def _tinted(panel: Panel) -> np.ndarray:
    """The panel's image with its overlays blended in (:data:`OVERLAY_COLOURS`)."""
    image = panel.image.astype(np.float32)
    for name, (colour, strength) in OVERLAY_COLOURS.items():
        if name in panel.overlays:
            mask = panel.overlays[name]
            image[mask] = (1 - strength) * image[mask] + strength * np.asarray(colour, np.float32)
    return np.rint(image).astype(np.uint8)


def contact_sheet(panels: Sequence[Panel], path: str | Path, columns: int = 6, width: int = 240) -> tuple[int, int]:
    """Draw ``panels`` in rows of ``columns`` into the image file ``path``, each scaled to ``width`` pixels with its
    label below it and a legend of the overlays at the bottom. Returns the grid (rows, columns) drawn.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `panels` | sequence of Panel | | the pictures, in order; at least one, all of one size |
    | `path` | str or Path | | the image to write (PNG, JPEG …, by its extension) |
    | `columns` | int | 6 | panels in a row (fewer when there are fewer panels) |
    | `width` | int | 240 | width of each panel in pixels |
    """
    require("PIL")
    from PIL import Image, ImageDraw, ImageFont

    if not panels:
        raise BadOption("plots.contact_sheet", "panels", "panels must hold at least one panel")
    if columns < 1 or width < 16:
        raise BadOption("plots.contact_sheet", "columns",
                        f"columns must be ≥ 1 and width ≥ 16, got {columns} and {width}")
    height, original = panels[0].image.shape[:2]
    scaled = max(1, round(height * width / original))
    font = ImageFont.load_default()
    line_height = 12
    labels = max(1 + len(p.lines) for p in panels) * line_height + 4
    columns = min(columns, len(panels))
    rows = -(-len(panels) // columns)
    legend = line_height + 8
    sheet = Image.new("RGB", (columns * (width + 4) + 4, rows * (scaled + labels + 4) + 4 + legend), "white")
    draw = ImageDraw.Draw(sheet)
    for i, panel in enumerate(panels):
        x, y = 4 + (i % columns) * (width + 4), 4 + (i // columns) * (scaled + labels + 4)
        sheet.paste(Image.fromarray(_tinted(panel)).resize((width, scaled), Image.Resampling.BILINEAR), (x, y))
        for j, text in enumerate([panel.title, *panel.lines]):
            draw.text((x + 2, y + scaled + 2 + j * line_height), text, fill="black", font=font)
    x, y = 4, sheet.height - legend + 4
    for name, (colour, _) in OVERLAY_COLOURS.items():
        draw.rectangle((x, y, x + 10, y + 10), fill=colour)
        draw.text((x + 14, y), name, fill="black", font=font)
        x += 14 + int(draw.textlength(name, font=font)) + 16
    sheet.save(path)
    return rows, columns
