"""Running a model for a filter: each drawing prepared once, each pair of drawings once, thread-safe.

The engine knows frames only by their index in the filter's input clip; it does not know
VapourSynth. Filters hand it a loader that turns an index into a picture tensor.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import torch

from .errors import BadOption, DeviceError
from .models.base import FrameState, Model, PairState, Synthesis
from .models.changes import Box
from .models.registry import use_cuda_policy
from .ops import deterministic as fixed_order

__all__ = ["DEFAULT_CACHE_MB", "DEFAULT_STREAMS", "DeviceOutOfMemory", "Engine", "check_num_streams", "state_storages"]

DEFAULT_CACHE_MB = 2048
"""Default budget (MiB) of the engine's cache of states; on a CUDA device at most a quarter of its memory.

A GMFSS (``union``) frame state in float32 holds 35 MB at 640×360 (padding included), so about 300 MB at
1920×1080, and a pair state adds about 4 % of that: 2048 MiB keep about six 1080p drawings, the three or four
that 16 VapourSynth threads work on at once (16 output frames at 60 fps of animation on twos) and the next."""

DEFAULT_STREAMS = 2
"""Model calls at once on a CUDA device by default (``num_streams``), each on a CUDA stream of its own, whatever the
number of VapourSynth threads: the memory of their activations is bounded by this many calls (vs-rife's default is
3). Two keep the GPU busy while one call waits for its inputs or returns its picture."""

_Key = tuple[Any, ...]  # ("prepare", index, box) or ("pair", left, right, box): box = the part of the frames the model sees


def check_num_streams(num_streams: object) -> None:
    """Raise :class:`~vsanimsplat.errors.BadOption` unless ``num_streams`` is None or an int ≥ 1 (:class:`Engine`'s
    ``num_streams``)."""
    if num_streams is not None and (isinstance(num_streams, bool) or not isinstance(num_streams, int)
                                    or num_streams < 1):
        raise BadOption("engine.Engine", "num_streams",
                        f"num_streams must be None ({DEFAULT_STREAMS} on CUDA, no limit on the CPU) or an int ≥ 1, "
                        f"got {num_streams!r}")


def state_storages(state: object) -> dict[tuple[str, int], int]:
    """The distinct tensor storages that ``state`` holds: (device, address) → bytes.

    ``state`` is a tensor, a dataclass (such as :class:`~vsanimsplat.models.base.FrameState` or
    :class:`~vsanimsplat.models.base.PairState`), a tuple, list or dict of them, nested in any way;
    anything else holds nothing. A view counts its whole storage once, however many views share it.
    """
    found: dict[tuple[str, int], int] = {}

    def walk(value: object) -> None:
        if isinstance(value, torch.Tensor):
            storage = value.untyped_storage()
            found[(str(value.device), storage.data_ptr())] = storage.nbytes()
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            for field in dataclasses.fields(value):
                walk(getattr(value, field.name))
        elif isinstance(value, (tuple, list)):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    walk(state)
    return found


def _pinned_copy(tensor: torch.Tensor | None) -> torch.Tensor | None:
    """A CUDA ``tensor`` copied into pinned host memory without waiting (wait for the stream before reading it)."""
    if tensor is None:
        return None
    return torch.empty(tensor.shape, dtype=tensor.dtype, device="cpu", pin_memory=True).copy_(tensor, non_blocking=True)


class DeviceOutOfMemory(DeviceError):
    """The device ran out of memory in a model call; the message names the settings that need less of it."""


@dataclasses.dataclass(eq=False)
class _Entry:
    """A cached state: its future, the requests using it, and its storages once computed."""

    future: Future = dataclasses.field(default_factory=Future)
    users: int = 0
    storages: dict[tuple[str, int], int] = dataclasses.field(default_factory=dict)


class Engine:
    """Caches a model's per-frame and per-pair work for a filter that asks for in-betweens by frame index.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `model` | Model | | the interpolation model |
    | `cache_bytes` | int or None | None | bytes of tensors kept in cached states (None: :data:`DEFAULT_CACHE_MB` MiB, on CUDA at most a quarter of the device's memory) |
    | `threads` | int or None | None | CPU device: torch threads of each calling thread (``None``: torch's setting) |
    | `num_streams` | int or None | None | model calls that run at once, ≥ 1 (``None``: :data:`DEFAULT_STREAMS` on CUDA, no limit on the CPU) |
    | `deterministic` | bool | False | the same bits on every run: model calls splat in a fixed order (:func:`vsanimsplat.ops.deterministic`) and, on CUDA, with the registry's deterministic settings (:func:`~vsanimsplat.models.registry.use_cuda_policy`) |

    VapourSynth asks for output frames from several threads in roughly increasing order. Each
    state is computed once while it is cached, by the first thread that needs it; a thread
    waits only for the states it needs (the lock guards the cache's bookkeeping, never a model
    call), and ``synthesize`` runs side by side in the callers' threads. Least recently used states are dropped while the cache holds more than
    ``cache_bytes``, but never one that a request is computing or using, so the requests in
    flight keep what they need even beyond the budget. A failed computation raises in every
    request waiting for it and is not cached.

    At most ``num_streams`` model calls (``prepare``, ``pair``, ``synthesize``, ``flows``) run at once, on any device:
    a calling thread takes one of ``num_streams`` slots for each call, and never holds one while it waits for a state
    that another thread computes, so no number of threads can deadlock on them. On a CUDA device each slot is a
    CUDA stream that the call runs on, and the calling thread waits for that stream only: a state is complete when
    its future is, and :meth:`synthesize` returns its pictures in pinned host memory. An out-of-memory error in a
    model call is raised as :class:`DeviceOutOfMemory`, whose message names the settings that need less memory.

    On a CPU device each calling thread sets its torch thread count to ``threads`` where it differs
    and never sets it back: torch's OpenMP thread count belongs to the calling thread (a thread
    that has not used torch yet starts with the count last set anywhere), so every thread that
    runs the model has ``threads``, whatever the order they start in. ``counts`` tells how often
    each stage ran.
    """

    def __init__(self, model: Model, cache_bytes: int | None = None, threads: int | None = None,
                 num_streams: int | None = None, deterministic: bool = False) -> None:
        if threads is not None and threads < 1:
            raise BadOption("engine.Engine", "threads", f"threads must be None or at least 1, got {threads}")
        if cache_bytes is not None and cache_bytes < 0:
            raise BadOption("engine.Engine", "cache_bytes",
                            f"cache_bytes must be None or at least 0, got {cache_bytes}")
        check_num_streams(num_streams)
        self.model = model
        self.threads = threads
        self.deterministic = deterministic
        self.cuda = model.device.type == "cuda"
        if self.cuda and deterministic:
            use_cuda_policy(deterministic=True)
        if cache_bytes is None:
            cache_bytes = DEFAULT_CACHE_MB << 20
            if self.cuda:
                cache_bytes = min(cache_bytes, torch.cuda.get_device_properties(model.device).total_memory // 4)
        self.cache_bytes = cache_bytes
        self.num_streams = DEFAULT_STREAMS if num_streams is None and self.cuda else num_streams
        self.counts = {"prepare": 0, "pair": 0, "synthesize": 0}
        self._lock = threading.Lock()
        self._entries: OrderedDict[_Key, _Entry] = OrderedDict()  # least recently used first
        self._held: dict[tuple[str, int], list[int]] = {}  # storage → [entries holding it, bytes]
        self._bytes = 0
        self._slots: queue.SimpleQueue[torch.cuda.Stream | None] | None = None  # free slots; None: no limit
        if self.num_streams is not None:
            self._slots = queue.SimpleQueue()
            for _ in range(self.num_streams):
                self._slots.put(torch.cuda.Stream(model.device) if self.cuda else None)

    @property
    def cached_bytes(self) -> int:
        """Bytes of the distinct tensor storages of the cached states."""
        with self._lock:
            return self._bytes

    def synthesize(self, left: int, right: int, t: float, load: Callable[[int], torch.Tensor],
                   box: Box | None = None) -> Synthesis:
        """The in-between at ``t`` of input frames ``left`` and ``right``; ``load(i)`` gives frame ``i`` (1, 3, H, W).

        With ``box``, of that part of the frames only (``[top:bottom, left:right]``, cached apart from the whole
        frames). The result's tensors are on the host (CPU).
        """
        with self._lock:
            self.counts["synthesize"] += 1
        with self._state(("pair", left, right, box), lambda: self._pair(left, right, load, box)) as pair, self._work():
            result = self.model.synthesize(pair, t)
            if not self.cuda:
                return result
            return Synthesis(*(_pinned_copy(x) for x in (result.image, result.holes, result.weight)))

    def flows(self, left: int, right: int, load: Callable[[int], torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Flows between input frames ``left`` and ``right`` (:meth:`~vsanimsplat.models.base.Model.flows`), on the
        host, from the same cached pair state as :meth:`synthesize`."""
        with self._state(("pair", left, right, None), lambda: self._pair(left, right, load, None)) as pair, self._work():
            forward, backward = self.model.flows(pair)
            return (forward, backward) if not self.cuda else (_pinned_copy(forward), _pinned_copy(backward))

    def _prepare(self, index: int, load: Callable[[int], torch.Tensor], box: Box | None) -> AbstractContextManager[FrameState]:
        def make() -> FrameState:
            with self._work():
                image = load(index)
                if box is not None:
                    image = image[..., box[0]:box[1], box[2]:box[3]]
                return self.model.prepare(image)

        return self._state(("prepare", index, box), make)

    def _pair(self, left: int, right: int, load: Callable[[int], torch.Tensor], box: Box | None) -> PairState:
        with self._prepare(left, load, box) as a, self._prepare(right, load, box) as b, self._work():
            return self.model.pair(a, b)

    @contextmanager
    def _state(self, key: _Key, make: Callable[[], Any]) -> Iterator[Any]:
        """The state of ``key``, made by ``make`` in this thread unless cached or being made; in use within the block.
        ``make`` takes a slot (:meth:`_work`) for its model call only, not while it waits for other states."""
        with self._lock:
            entry = self._entries.get(key)
            owner = entry is None
            if owner:
                entry = self._entries[key] = _Entry()
                self.counts[key[0]] += 1
            self._entries.move_to_end(key)
            entry.users += 1
        try:
            if owner:
                try:
                    state = make()
                except BaseException as error:
                    with self._lock:
                        del self._entries[key]  # in use, so still there; a later request computes it again
                    entry.future.set_exception(error)
                    raise
                with self._lock:
                    entry.storages = state_storages(state)
                    for storage, size in entry.storages.items():
                        held = self._held.setdefault(storage, [0, size])
                        held[0] += 1
                        if held[0] == 1:
                            self._bytes += size
                entry.future.set_result(state)
            yield entry.future.result()
        finally:
            with self._lock:
                entry.users -= 1
                self._trim()

    def _trim(self) -> None:
        """Drop unused states, least recently used first, while the cache holds more than its budget (under the lock)."""
        for key in [key for key, entry in self._entries.items() if entry.users == 0]:
            if self._bytes <= self.cache_bytes:
                return
            for storage in self._entries.pop(key).storages:
                held = self._held[storage]
                held[0] -= 1
                if held[0] == 0:
                    self._bytes -= held[1]
                    del self._held[storage]

    @contextmanager
    def _work(self) -> Iterator[None]:
        """Run a model call in this thread in one of the slots: with ``threads`` torch threads on a CPU device, on the
        slot's stream on CUDA, splatting in a fixed order if ``deterministic``; an out-of-memory error becomes
        :class:`DeviceOutOfMemory`."""
        stream = self._slots.get() if self._slots is not None else None
        try:
            with fixed_order(self.deterministic):
                if not self.cuda:
                    if self.threads is not None and torch.get_num_threads() != self.threads:
                        torch.set_num_threads(self.threads)
                    yield
                else:
                    try:
                        with torch.cuda.stream(stream):
                            yield
                    finally:
                        stream.synchronize()
        except torch.OutOfMemoryError as error:
            raise DeviceOutOfMemory(self._out_of_memory(error)) from error
        finally:
            if self._slots is not None:
                self._slots.put(stream)

    def _out_of_memory(self, error: torch.OutOfMemoryError) -> str:
        """What to say when a model call ran out of memory: torch's first line and the settings that need less."""
        said = str(error).strip().splitlines()
        streams = "no limit" if self.num_streams is None else self.num_streams
        return (f"{self.model.device} ran out of memory in a model call ({said[0] if said else 'no message'}); to need "
                f"less: fewer model calls at once (num_streams, --num-streams; now {streams}), the networks only where "
                "the picture changes (regions=True, the default; --no-regions turns it off), a coarser flow "
                "(flow_scale, --flow-scale 0.5 or 0.25; union and base), 16-bit networks (fp16=True, --fp16), a "
                f"smaller cache (cache_mb, --cache-mb; now {self.cache_bytes >> 20} MiB) or smaller frames")
