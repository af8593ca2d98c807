"""The engine: each state computed once, requests wait only for the states they need, a byte-bounded cache."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
import vapoursynth as vs

import vsanimsplat
from vsanimsplat.engine import DeviceOutOfMemory, Engine, state_storages
from vsanimsplat.models.base import FrameState, Model, PairState
from vsanimsplat.models.weights import installed
from vsanimsplat.ops.softsplat import deterministic_enabled
from tests.helpers import synthetic_clip

FRAME_BYTES = 3 * 4 * 4 * 4  # a (1, 3, 4, 4) float32 picture; a frame state holds nothing else, a pair state adds nothing
WAIT = 30  # seconds before a test gives up on a request that should not block


def picture(i: int) -> torch.Tensor:
    """Frame ``i``: a flat picture of ``i / 16`` (exact in float32, so its index can be read back)."""
    return torch.full((1, 3, 4, 4), i / 16)


PICTURES = {i: picture(i) for i in range(8)}
load = PICTURES.__getitem__


def index(state: FrameState) -> int:
    return int(state.image.flatten()[0] * 16)


class Fake(Model):
    """A cross-fade that records its calls; the pair ``hold`` waits for ``release``, pairs in ``fail`` raise."""

    name = "fake"
    multiple = 1
    has_flows = False
    min_region = 1

    def __init__(self, hold: tuple[int, int] | None = None, fail: set[tuple[int, int]] = frozenset(),
                 delay: float = 0.0) -> None:
        super().__init__()
        self.hold, self.fail, self.delay = hold, set(fail), delay
        self.entered, self.release = threading.Event(), threading.Event()
        self.calls: list[tuple[int, ...]] = []
        self.threads: list[int] = []
        self._finish_init(None)

    def networks(self) -> dict[str, torch.nn.Module]:
        return {}

    def _prepare(self, image: torch.Tensor, size: tuple[int, int]) -> FrameState:
        state = super()._prepare(image, size)
        self.calls.append(("prepare", index(state)))
        time.sleep(self.delay)
        return state

    def _pair(self, a: FrameState, b: FrameState) -> PairState:
        key = (index(a), index(b))
        self.calls.append(("pair", *key))
        time.sleep(self.delay)
        if key == self.hold:
            self.entered.set()
            assert self.release.wait(WAIT)
        if key in self.fail:
            raise RuntimeError(f"no pair {key}")
        return super()._pair(a, b)

    def _synthesize(self, pair: PairState, t: float) -> tuple[torch.Tensor, None]:
        self.threads.append(torch.get_num_threads())
        return torch.lerp(pair.a.image, pair.b.image, t), None


def expected(left: int, right: int, t: float) -> torch.Tensor:
    return torch.lerp(picture(left), picture(right), t)


def test_a_pair_being_computed_holds_back_no_other_request():
    model = Fake(hold=(2, 3))
    engine = Engine(model)
    engine.synthesize(0, 1, 0.5, load)
    with ThreadPoolExecutor(2) as pool:
        blocked = pool.submit(engine.synthesize, 2, 3, 0.5, load)
        try:
            assert model.entered.wait(WAIT)
            # a cached pair, a pair nobody computes, and one whose frame 3 the blocked request prepared
            others = pool.submit(lambda: [engine.synthesize(0, 1, 0.25, load), engine.synthesize(4, 5, 0.5, load),
                                          engine.synthesize(3, 4, 0.5, load)])
            results = others.result(timeout=WAIT)  # TimeoutError if they waited for the blocked pair
            assert not blocked.done()
        finally:
            model.release.set()
        assert torch.equal(blocked.result(timeout=WAIT).image, expected(2, 3, 0.5))
    for result, (left, right, t) in zip(results, [(0, 1, 0.25), (4, 5, 0.5), (3, 4, 0.5)]):
        assert torch.equal(result.image, expected(left, right, t))
    assert sorted(model.calls) == sorted([("prepare", i) for i in range(6)] + [("pair", 0, 1), ("pair", 2, 3),
                                                                            ("pair", 4, 5), ("pair", 3, 4)])


def test_each_state_is_computed_once_under_concurrent_requests():
    model = Fake(delay=0.005)
    engine = Engine(model)
    pairs = [(0, 1), (1, 2), (2, 3), (3, 4)]
    start = threading.Barrier(8)

    def ask(worker: int) -> list[torch.Tensor]:
        start.wait()
        order = pairs[worker % 4:] + pairs[:worker % 4]
        return [engine.synthesize(left, right, (worker + 1) / 10, load).image for left, right in order]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(ask, range(8)))
    for worker, images in enumerate(results):
        order = pairs[worker % 4:] + pairs[:worker % 4]
        for image, (left, right) in zip(images, order):
            assert torch.equal(image, expected(left, right, (worker + 1) / 10))
    assert sorted(model.calls) == sorted([("prepare", i) for i in range(5)] + [("pair", *p) for p in pairs])
    assert engine.counts == {"prepare": 5, "pair": 4, "synthesize": 32}


def test_the_cache_keeps_its_byte_budget_dropping_the_least_recently_used():
    assert sum(state_storages(Fake().prepare(picture(1))).values()) == FRAME_BYTES
    engine = Engine(Fake(), cache_bytes=3 * FRAME_BYTES)
    for left in range(4):
        engine.synthesize(left, left + 1, 0.5, load)
        assert engine.cached_bytes <= 3 * FRAME_BYTES
    assert engine.cached_bytes == 3 * FRAME_BYTES  # frames 3 and 4 and one more were kept
    engine.synthesize(3, 4, 0.5, load)
    assert engine.counts == {"prepare": 5, "pair": 4, "synthesize": 5}  # the latest pair was still cached
    result = engine.synthesize(0, 1, 0.5, load)
    assert engine.counts == {"prepare": 7, "pair": 5, "synthesize": 6}  # the oldest was dropped, frames and all
    assert torch.equal(result.image, expected(0, 1, 0.5))


def test_states_in_use_are_kept_beyond_the_budget():
    model = Fake(hold=(1, 2))
    engine = Engine(model, cache_bytes=0)
    with ThreadPoolExecutor(1) as pool:
        blocked = pool.submit(engine.synthesize, 1, 2, 0.5, load)
        try:
            assert model.entered.wait(WAIT)
            assert engine.cached_bytes == 2 * FRAME_BYTES  # frames 1 and 2, in use by the blocked pair
            assert torch.equal(engine.synthesize(2, 3, 0.5, load).image, expected(2, 3, 0.5))
        finally:
            model.release.set()
        assert torch.equal(blocked.result(timeout=WAIT).image, expected(1, 2, 0.5))
    assert model.calls.count(("prepare", 2)) == 1  # frame 2 was reused while in use, though over the budget
    assert engine.cached_bytes == 0
    engine.synthesize(2, 3, 0.5, load)
    assert engine.counts["pair"] == 3  # nothing is kept once unused


def test_a_failed_pair_raises_in_every_waiting_request_and_is_computed_again_later():
    model = Fake(hold=(0, 1), fail={(0, 1)})
    engine = Engine(model)
    with ThreadPoolExecutor(4) as pool:
        try:
            requests = [pool.submit(engine.synthesize, 0, 1, t, load) for t in (0.2, 0.4, 0.6, 0.8)]
            assert model.entered.wait(WAIT)
            deadline = time.monotonic() + WAIT
            while engine._entries[("pair", 0, 1, None)].users < 4:  # all four requests wait for the same computation
                assert time.monotonic() < deadline
                time.sleep(0.001)
        finally:
            model.release.set()
        for request in requests:
            with pytest.raises(RuntimeError, match=r"no pair \(0, 1\)"):
                request.result(timeout=WAIT)
    assert model.calls.count(("pair", 0, 1)) == 1
    model.fail.clear()
    assert torch.equal(engine.synthesize(0, 1, 0.5, load).image, expected(0, 1, 0.5))
    assert engine.counts == {"prepare": 2, "pair": 2, "synthesize": 5}  # the frames stayed cached


def test_syntheses_run_side_by_side_each_with_its_threads():
    barrier = threading.Barrier(2, timeout=WAIT)

    class Meeting(Fake):
        """Its syntheses wait until two run at once."""

        def _synthesize(self, pair, t):
            barrier.wait()  # BrokenBarrierError if the engine ran the calls one at a time
            return super()._synthesize(pair, t)

    before = torch.get_num_threads()
    model = Meeting()
    engine = Engine(model, threads=1)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda t: engine.synthesize(0, 1, t, load), (0.25, 0.75)))
    assert [r.image.flatten()[0].item() for r in results] == [0.25 / 16, 0.75 / 16]
    assert model.threads == [1, 1]
    assert torch.get_num_threads() == before  # the calling threads' setting only
    with pytest.raises(ValueError, match="threads"):
        Engine(model, threads=0)
    with pytest.raises(ValueError, match="cache_bytes"):
        Engine(model, cache_bytes=-1)


def test_interpolate_makes_in_betweens_side_by_side_on_the_cpu():
    """``std.ModifyFrame`` runs its function in one thread at a time: ``interpolate`` holds a copy of the filter that
    runs the model per VapourSynth thread, so on two threads its first two in-betweens are made at once (with one
    copy the first waited for the second forever: 2 cores ran at one core's speed)."""
    meeting = threading.Barrier(2, timeout=WAIT)
    first = iter(range(2))

    class Meeting(Fake):
        def _synthesize(self, pair, t):
            if next(first, None) is not None:
                meeting.wait()  # BrokenBarrierError (a vs.Error) if the calls ran one at a time
            return super()._synthesize(pair, t)

    clip, _ = synthetic_clip([2, 2, 2, 2], 64, 48)
    threads = vs.core.num_threads
    try:
        vs.core.num_threads = 2
        out = vsanimsplat.interpolate(clip, factor=2, model=Meeting(), layers=False)  # one graph: whole frames
        made = [f.props["AnimSplat_Interpolated"] for f in out.frames(close=True)]
    finally:
        vs.core.num_threads = threads
    assert len(made) == 16 and sum(made) >= 2


@pytest.mark.parametrize(("model", "holds"), [("rife", [2, 1, 3, 2, 2]),
                                              pytest.param("union", [2, 1, 2, 1], marks=pytest.mark.slow)])
def test_interpolate_gives_the_same_pictures_on_eight_threads_as_on_one(model, holds):
    if set(installed()[model].values()) != {"ok"}:
        pytest.skip(f"weights of {model!r} not installed: run python -m vsanimsplat models fetch {model}")
    clip, _ = synthetic_clip(holds, 64, 48)
    threads, torch_threads = vs.core.num_threads, torch.get_num_threads()
    # one torch thread per call in both runs: a different intra-op thread count alone changes the order of
    # floating-point sums in union's convolutions (by up to one code value), whatever the engine does
    torch.set_num_threads(1)
    outputs = []
    try:
        for count in (1, 8):
            vs.core.num_threads = count
            # on eight threads with no cache beyond the states in use: evicted and computed again while others run
            out = vsanimsplat.interpolate(clip, factor=2, model=model, cache_mb=None if count == 1 else 0)
            outputs.append([[np.asarray(f[p]).copy() for p in range(3)] for f in out.frames(close=True)])
    finally:
        vs.core.num_threads = threads
        torch.set_num_threads(torch_threads)
    one, eight = outputs
    assert len(one) == len(eight) == 2 * sum(holds)
    for a, b in zip(one, eight):
        for plane_a, plane_b in zip(a, b):
            assert np.array_equal(plane_a, plane_b)


def test_a_box_is_its_own_state_of_that_part_of_the_frames():
    model = Fake()
    engine = Engine(model)
    pictures = {i: torch.rand(1, 3, 40, 48) for i in range(2)}
    part = engine.synthesize(0, 1, 0.5, pictures.get, box=(8, 40, 16, 48))
    whole = engine.synthesize(0, 1, 0.5, pictures.get)
    assert part.image.shape[-2:] == (32, 32) and whole.image.shape[-2:] == (40, 48)
    assert engine.counts == {"prepare": 4, "pair": 2, "synthesize": 2}
    assert torch.equal(part.image, Fake().synthesize(Fake().pair(*(Fake().prepare(pictures[i][..., 8:40, 16:48])
                                                                        for i in range(2))), 0.5).image)


class Counting(Fake):
    """Counts its model calls running at once (``most``: the highest count seen)."""

    def __init__(self, delay: float) -> None:
        super().__init__(delay=delay)
        self.running = self.most = 0
        self._count = threading.Lock()

    @contextlib.contextmanager
    def _running(self):
        with self._count:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            yield
        finally:
            with self._count:
                self.running -= 1

    def prepare(self, image):
        with self._running():
            return super().prepare(image)

    def pair(self, a, b):
        with self._running():
            return super().pair(a, b)

    def synthesize(self, pair, t):
        with self._running():
            time.sleep(self.delay)
            return super().synthesize(pair, t)


def _ask_from_eight_threads(engine: Engine) -> None:
    """Eight threads asking for overlapping pairs (each frame is in two), every result checked; daemon threads, so
    that requests deadlocked on the slots fail the test instead of hanging it."""
    start = threading.Barrier(8, timeout=WAIT)
    errors: list[BaseException] = []

    def ask(worker: int) -> None:
        try:
            start.wait()
            for left in range(worker % 4, 7):
                t = (worker + 1) / 10
                assert torch.equal(engine.synthesize(left, left + 1, t, load).image, expected(left, left + 1, t))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=ask, args=(worker,), daemon=True) for worker in range(8)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + WAIT
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads), "requests deadlocked"
    assert not errors, errors


@pytest.mark.parametrize("num_streams", [1, 2, None])
def test_at_most_num_streams_model_calls_run_at_once_whatever_the_threads(num_streams):
    """Eight threads: with num_streams (any device, here the CPU) at most that many calls run at once, and one slot
    is enough (a thread never holds one while it waits for a state another computes); without a limit on the CPU
    more run at once."""
    model = Counting(delay=0.01)
    engine = Engine(model, num_streams=num_streams)
    assert engine.num_streams == num_streams
    _ask_from_eight_threads(engine)
    if num_streams is None:
        assert model.most > 2
    else:
        assert model.most == num_streams
    assert engine.counts["prepare"] == 8 and engine.counts["pair"] == 7


@pytest.mark.parametrize("num_streams", [0, -1, 1.5, True, "2"])
def test_a_bad_num_streams_names_itself(num_streams):
    with pytest.raises(ValueError, match=rf"num_streams must be None \(2 on CUDA, no limit on the CPU\) or an int ≥ 1, "
                                         rf"got {re.escape(repr(num_streams))}"):
        Engine(Fake(), num_streams=num_streams)


class OutOfMemory(Fake):
    """Its syntheses at t = 0.5 run out of device memory, as a GPU's would."""

    def _synthesize(self, pair, t):
        if t == 0.5:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB.\nMore details")
        return super()._synthesize(pair, t)


def test_out_of_memory_names_the_settings_that_need_less_and_frees_its_slot():
    engine = Engine(OutOfMemory(), cache_bytes=512 << 20, num_streams=1)
    with pytest.raises(DeviceOutOfMemory) as raised:
        engine.synthesize(0, 1, 0.5, load)
    message = str(raised.value)
    assert message.startswith("cpu ran out of memory in a model call (CUDA out of memory. Tried to allocate 2.00 GiB.)")
    for setting in ("num_streams, --num-streams; now 1", "--no-regions", "flow_scale, --flow-scale 0.5 or 0.25",
                    "fp16=True, --fp16", "cache_mb, --cache-mb; now 512 MiB"):
        assert setting in message
    assert isinstance(raised.value.__cause__, torch.OutOfMemoryError)
    with ThreadPoolExecutor(1) as pool:  # the one slot is free again: the next call does not hang
        assert torch.equal(pool.submit(engine.synthesize, 0, 1, 0.25, load).result(timeout=WAIT).image,
                           expected(0, 1, 0.25))


def test_interpolate_says_what_to_lower_when_the_device_runs_out_of_memory():
    clip, _ = synthetic_clip([2, 2], 32, 16)
    out = vsanimsplat.interpolate(clip, factor=4, model=OutOfMemory(), num_streams=1, scene_detect=False, layers=False)
    assert out.get_frame(1).props["AnimSplat_T"] == 0.25
    with pytest.raises(vs.Error, match=r"ran out of memory in a model call .*--num-streams; now 1"):
        out.get_frame(2)  # t = 0.5


@pytest.mark.parametrize("deterministic", [False, True])
def test_deterministic_model_calls_splat_in_a_fixed_order(deterministic):
    """deterministic=True: every model call splats in a fixed order, in whichever thread it runs."""
    seen = []

    class Seeing(Fake):
        def _pair(self, a, b):
            seen.append(deterministic_enabled())
            return super()._pair(a, b)

        def _synthesize(self, pair, t):
            seen.append(deterministic_enabled())
            return super()._synthesize(pair, t)

    engine = Engine(Seeing(), deterministic=deterministic)
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda t: engine.synthesize(0, 1, t, load), (0.25, 0.75)))
    assert seen == [deterministic] * 3 and not deterministic_enabled()
