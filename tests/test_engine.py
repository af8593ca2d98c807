"""The engine: each state computed once, requests wait only for the states they need, a byte-bounded cache."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
import vapoursynth as vs

import vsanimsplat
from vsanimsplat.engine import Engine, state_storages
from vsanimsplat.models.base import FrameState, Model, PairState
from vsanimsplat.models.weights import installed
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


@pytest.mark.parametrize(("model", "holds"), [("rife", [2, 1, 3, 2, 2]), ("union", [2, 1, 2, 1])])
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
