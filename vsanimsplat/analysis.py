"""One streamed pass over a clip, shared by ``dedupe``, ``interpolate`` and the scene-cut detector (plain numpy).

The frames arrive in order, once. What a pass keeps grows with the clip only by a few numbers per
frame or drawing (a score, a marked cut) and a change map of a few hundred bytes per drawing
(:mod:`vsanimsplat.layers`); pictures are kept for two drawings at a time: the colour histogram and
picture of the previous drawing, which the next one is compared with, and the picture before it, which a transient
drawing is skipped to (:mod:`vsanimsplat.scenes`).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable

import numpy as np

from .layers import ChangeMaps
from .metrics import colour_histogram, histogram_distance
from .scenes import CANDIDATE_THRESHOLD, TRANSIENT, TRANSIENT_RUN, unexplained_share
from .timeline import is_new_drawing

__all__ = ["CutScores", "DrawingCuts"]


class CutScores:
    """Scene-cut scores and change maps between consecutive drawings, fed one drawing at a time.

    After ``k`` drawings, ``scores`` (an array of float64) holds ``k - 1`` values: between drawing ``i`` and
    ``i + 1``, the share of a *candidate* pair (colour-histogram distance above
    :data:`~vsanimsplat.scenes.CANDIDATE_THRESHOLD`) that motion does not explain
    (:func:`~vsanimsplat.scenes.unexplained_share`), else 0.0 (not computed). ``marked`` holds the
    pairs ``i`` the drawings' own marks separate (``_SceneChangeNext`` on drawing ``i``,
    ``_SceneChangePrev`` on drawing ``i + 1``). ``changes`` holds the ``k - 1`` change maps
    (:func:`~vsanimsplat.layers.change_map`) that per-region timing reads.

    A run of one or :data:`~vsanimsplat.scenes.TRANSIENT_RUN` drawings whose pair into it or out of it scores above
    :data:`~vsanimsplat.scenes.TRANSIENT` is compared with the drawings either side of it; where those match better
    than the run matches either (a flash, an impact frame: the shot goes on after it), both pairs take that score, so
    no cut is found on either side of it. A run of two is looked at where its own pair scores at most as much: grain
    parts a flash held on twos into two drawings at the least threshold, and the pair into a flash may score low
    where the pair out of it does not.
    """

    def __init__(self) -> None:
        self.scores = array("d")
        self.marked: set[int] = set()
        self.changes = ChangeMaps()
        self.drawings = 0
        self._last: tuple[np.ndarray, np.ndarray] | None = None  # the previous drawing's histogram and picture
        self._earlier: list[np.ndarray] = []  # the pictures of the TRANSIENT_RUN drawings before that

    def add(self, picture: np.ndarray, cut_after: bool = False, cut_before: bool = False) -> None:
        """The next drawing.

        | parameter | type | default | meaning |
        |---|---|---|---|
        | `picture` | np.ndarray (H, W, 3) uint8 | | the drawing at the analysis size, YUV 4:4:4 (luma first) |
        | `cut_after` | bool | False | a shot ends with this drawing (``_SceneChangeNext``) |
        | `cut_before` | bool | False | a shot begins with this drawing (``_SceneChangePrev``; ignored for the first) |
        """
        if cut_after:
            self.marked.add(self.drawings)
        if cut_before and self.drawings > 0:
            self.marked.add(self.drawings - 1)
        histogram = colour_histogram(picture)
        if self._last is not None:
            last_histogram, last_picture = self._last
            candidate = histogram_distance(last_histogram, histogram) > CANDIDATE_THRESHOLD
            self.scores.append(_share(last_picture, picture) if candidate else 0.0)
            self.changes.add(last_picture, picture)
            self._skip_transient(picture)
        if self._last is not None:
            self._earlier = (self._earlier + [self._last[1]])[-TRANSIENT_RUN:]
        self._last = (histogram, picture)
        self.drawings += 1

    def _skip_transient(self, picture: np.ndarray) -> None:
        """Where the last one or two drawings are a transient between the one before them and ``picture``, the pairs
        into and out of it take the score of the pair that skips it (the class docstring)."""
        for run in range(1, TRANSIENT_RUN + 1):
            if len(self._earlier) < run:
                return
            outer = min(self.scores[-run - 1], self.scores[-1])
            if max(self.scores[-run - 1], self.scores[-1]) <= TRANSIENT or any(
                    score > outer for score in self.scores[-run:-1]):
                continue  # nothing to explain, or the transient's own drawings differ more than it differs around
            skipped = _share(self._earlier[-run], picture)
            if skipped < outer:
                for j in range(-run - 1, 0):  # the outer pairs score more than ``skipped``: they take it
                    self.scores[j] = min(self.scores[j], skipped)
                return


def _share(a: np.ndarray, b: np.ndarray) -> float:
    """:func:`~vsanimsplat.scenes.unexplained_share` of two analysis pictures, colours included."""
    return unexplained_share(np.ascontiguousarray(a[..., 0]), np.ascontiguousarray(b[..., 0]), a[..., 1:], b[..., 1:])


class DrawingCuts:
    """The cut scores of the drawings that ``threshold`` finds, fed every frame of a clip in order.

    | parameter | type | meaning |
    |---|---|---|
    | `threshold` | int | most differing pixels between frames of one drawing (as :func:`~vsanimsplat.timeline.drawing_starts`) |

    A frame starts a drawing when it is the first, or when the frame before it differed from it
    by more than ``threshold`` pixels; only such frames are looked at. ``cuts`` is the
    :class:`CutScores` of those drawings, ``starts`` their first frames.
    """

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.cuts = CutScores()
        self.starts = array("q")  # the first frame of every drawing
        self._frames = 0
        self._count: int | None = None  # differing pixels from the last frame to the next

    def add(self, diff_count: int, picture: Callable[[], np.ndarray], cut_after: bool = False,
            cut_before: bool = False) -> None:
        """The next frame.

        | parameter | type | default | meaning |
        |---|---|---|---|
        | `diff_count` | int | | pixels that differ between this frame and the next (any value for the last frame) |
        | `picture` | callable | | returns the frame's analysis picture (:meth:`CutScores.add`); called only when it starts a drawing |
        | `cut_after`, `cut_before` | bool | False | the frame's scene-change marks, used when it starts a drawing |
        """
        if self._count is None or is_new_drawing(self._count, self.threshold):
            self.cuts.add(picture(), cut_after, cut_before)
            self.starts.append(self._frames)
        self._count = diff_count
        self._frames += 1
