"""Running a model for a filter: each drawing prepared once, each pair of drawings once, thread-safe.

The engine knows frames only by their index in the filter's input clip; it does not know
VapourSynth. Filters hand it a loader that turns an index into a picture tensor.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

import torch

from .models.base import FrameState, Model, PairState, Synthesis

__all__ = ["Engine", "LRU", "torch_threads"]

_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")


class LRU(Generic[_K, _V]):
    """A small least-recently-used map of at most ``size`` entries (not thread-safe by itself)."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        self.size = size
        self._items: OrderedDict[_K, _V] = OrderedDict()

    def get_or_make(self, key: _K, make: Callable[[], _V]) -> _V:
        """The value for ``key``, made (and the oldest entry dropped if full) when absent."""
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        value = make()
        self._items[key] = value
        if len(self._items) > self.size:
            self._items.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._items)


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run the block with ``count`` torch intra-op threads in this thread (``None``: leave them as they are)."""
    previous = torch.get_num_threads()
    if count is None or count == previous:
        yield
        return
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class Engine:
    """Caches a model's per-frame and per-pair work for a filter that asks for in-betweens by frame index.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `model` | Model | | the interpolation model |
    | `frames` | int | 6 | per-frame states kept (most recently used) |
    | `pairs` | int | 4 | per-pair states kept |
    | `threads` | int or None | None | torch threads of each ``synthesize`` call (``None``: torch's setting) |

    VapourSynth asks for output frames from several threads in roughly increasing order.
    ``prepare`` and ``pair`` run one at a time under a lock, with torch's threads, so no state
    is ever computed twice while it is cached; ``synthesize`` only reads a pair's state, so the
    callers' threads run it side by side, each with ``threads`` torch threads (the filter gives
    each VapourSynth thread its share of the cores: on a busy machine one multi-threaded call
    at a time waits for its slowest thread, several single-threaded calls do not).
    ``counts`` tells how often each stage ran.
    """

    def __init__(self, model: Model, frames: int = 6, pairs: int = 4, threads: int | None = None) -> None:
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be None or at least 1, got {threads}")
        self.model = model
        self.threads = threads
        self._frames: LRU[int, FrameState] = LRU(frames)
        self._pairs: LRU[tuple[int, int], PairState] = LRU(pairs)
        self._lock = threading.Lock()
        self.counts = {"prepare": 0, "pair": 0, "synthesize": 0}

    def _prepare(self, index: int, load: Callable[[int], torch.Tensor]) -> FrameState:
        def make() -> FrameState:
            self.counts["prepare"] += 1
            return self.model.prepare(load(index))

        return self._frames.get_or_make(index, make)

    def _pair(self, left: int, right: int, load: Callable[[int], torch.Tensor]) -> PairState:
        def make() -> PairState:
            self.counts["pair"] += 1
            return self.model.pair(self._prepare(left, load), self._prepare(right, load))

        return self._pairs.get_or_make((left, right), make)

    def synthesize(self, left: int, right: int, t: float, load: Callable[[int], torch.Tensor]) -> Synthesis:
        """The in-between at ``t`` of input frames ``left`` and ``right``; ``load(i)`` gives frame ``i`` (1, 3, H, W)."""
        with self._lock:
            pair = self._pair(left, right, load)
            self.counts["synthesize"] += 1
        with torch_threads(self.threads):
            return self.model.synthesize(pair, t)

    def flows(self, left: int, right: int, load: Callable[[int], torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Flows between input frames ``left`` and ``right`` (see :meth:`Model.flows`)."""
        with self._lock:
            return self.model.flows(self._pair(left, right, load))
