"""Issue 30's cost model and precision policy: the CPU's peak from its flags, bfloat16 chosen by flags (faked here, so
an AVX2-only CPU is tested on any machine), and the arithmetic of ``scripts/bench_cost.py``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from vsanimsplat import machine
from vsanimsplat.models import MODEL_NAMES, SPECS, registry
from tests.helpers import load_script


AVX2 = frozenset({"sse4_2", "avx", "avx2", "fma", "f16c"})
"""A Zen 2 or Haswell-class CPU: no AVX-512, no native bfloat16."""
AVX512 = AVX2 | {"avx512f", "avx512bw", "avx512vl"}
"""Skylake-SP / Cascade Lake: AVX-512 without bfloat16."""
ZEN4 = AVX512 | {"avx512_bf16"}
SAPPHIRE_RAPIDS = ZEN4 | {"amx_tile", "amx_bf16", "amx_int8"}


@pytest.fixture(scope="module")
def bench_cost():
    return load_script("bench_cost")


INTEL, AMD_ZEN4 = ("GenuineIntel", 6), ("AuthenticAMD", 25)


@pytest.mark.parametrize("flags,family,fp32,bf16,unit", [
    (frozenset(), INTEL, 8, 8, "none"),
    (AVX2, AMD_ZEN4, 32, 32, "none"),
    (AVX512, INTEL, 64, 64, "none"),
    (ZEN4, INTEL, 64, 128, "AVX-512 BF16"),  # Cooper Lake: bfloat16 on full-width AVX-512
    (ZEN4, AMD_ZEN4, 32, 64, "AVX-512 BF16"),  # Zen 4: 512-bit instructions as two 256-bit halves
    (SAPPHIRE_RAPIDS, INTEL, 64, machine.AMX_BF16_FLOPS_PER_CYCLE, "AMX"),
])
def test_peak_counts_flop_per_cycle_from_the_flags(flags, family, fp32, bf16, unit):
    peak = machine.cpu_peak(flags, mhz=2500.0, cores=2, family=family)
    assert (peak.fp32_per_cycle, peak.bf16_per_cycle, peak.bf16_unit) == (fp32, bf16, unit)
    assert peak.gflops("float32") == pytest.approx(2 * fp32 * 2.5)
    assert peak.gflops("bfloat16", cores=1) == pytest.approx(bf16 * 2.5)
    assert str(fp32) in peak.assumption and peak.clock_source == "given"
    with pytest.raises(ValueError, match="dtype must be"):
        peak.gflops("float16")


def test_this_machines_peak_and_flags_come_from_lscpu_s_sources():
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        pytest.skip("no /proc/cpuinfo to compare with")
    first = cpuinfo.read_text().split("\n\n")[0]
    flags = next(line.split(":", 1)[1].split() for line in first.splitlines() if line.startswith(("flags", "Features")))
    assert machine.cpu_flags() == frozenset(flags)
    peak = machine.cpu_peak()
    assert peak.mhz > 0 and peak.cores >= 1


@pytest.mark.parametrize("flags,native", [(frozenset(), False), (AVX2, False), (AVX512, False), (ZEN4, True),
                                          (SAPPHIRE_RAPIDS, True), (AVX2 | {"amx_bf16"}, True)])
def test_native_bfloat16_is_decided_by_the_flags(flags, native):
    assert registry.native_bf16(flags) is native


@pytest.mark.parametrize("flags", [AVX2, AVX512])
def test_a_cpu_without_bfloat16_flags_runs_every_model_in_float32(monkeypatch, flags):
    monkeypatch.setattr(registry, "cpu_flags", lambda: flags)
    cpu = registry.capability(torch.device("cpu"))
    assert not cpu.bf16
    assert all(SPECS[name].dtype(cpu) == torch.float32 for name in MODEL_NAMES)


@pytest.mark.parametrize("flags", [ZEN4, SAPPHIRE_RAPIDS])
def test_a_cpu_with_bfloat16_flags_runs_the_measured_models_in_bfloat16(monkeypatch, flags):
    monkeypatch.setattr(registry, "cpu_flags", lambda: flags)
    cpu = registry.capability(torch.device("cpu"))
    assert cpu.bf16
    chosen = [name for name in MODEL_NAMES if SPECS[name].dtype(cpu) == torch.bfloat16]
    assert chosen == [name for name in MODEL_NAMES if SPECS[name].cpu_bf16]
    assert {"union", "base"} <= set(chosen)
    assert all(SPECS[name].dtype(cpu, bf16=False) == torch.float32 for name in MODEL_NAMES)


def _stages(prepare: float, pair: float, synthesize: float) -> dict:
    """Stage records as ``cost_rows`` makes them: half of each stage's time and work in GMFlow, the rest 'other'."""
    def stage(value: float) -> dict:
        return {"cpu_s": value, "gflop": 10 * value,
                "parts": {"GMFlow": {"cpu_s": value / 2, "gflop": 10 * value}, "other": {"cpu_s": value / 2, "gflop": 0}}}
    return {"prepare": stage(prepare), "pair": stage(pair), "synthesize": stage(synthesize)}


def test_per_inbetween_amortises_drawing_and_pair_work_over_four_inbetweens(bench_cost):
    out = bench_cost.per_inbetween(_stages(0.4, 2.0, 1.0))
    assert out["cpu_s_per_inbetween"] == pytest.approx((0.4 + 2.0) / 4 + 1.0)
    assert out["cpu_s_scratch"] == pytest.approx(2 * 0.4 + 2.0 + 1.0)
    assert out["gflop_per_inbetween"] == pytest.approx(10 * 1.6)
    assert out["parts_per_inbetween"]["GMFlow"] == {"cpu_s": pytest.approx(0.8), "gflop": pytest.approx(16.0)}
    assert "IFNet" not in out["parts_per_inbetween"]


def test_a_presets_cost_is_the_sum_of_its_runs(bench_cost):
    rows = [{"model": m, "size": "640x360", "dtype": "float32", "flow_scale": 1.0, "cpu_s_per_inbetween": s,
             "gflop_per_inbetween": g} for m, s, g in (("rife", 0.5, 20.0), ("union", 3.0, 200.0))]
    presets = {p["preset"]: p for p in bench_cost.preset_rows(rows)}
    runs = {name: [m for m, _, _ in registry.PRESETS[name].parsed()] for name in presets}
    cost = {"rife": (0.5, 20.0), "union": (3.0, 200.0)}
    for name, preset in presets.items():
        assert preset["cpu_s_per_inbetween"] == pytest.approx(sum(cost[m][0] for m in runs[name]))
        assert preset["gflop_per_inbetween"] == pytest.approx(sum(cost[m][1] for m in runs[name]))
    assert {"fast", "default"} <= set(presets)
    assert not bench_cost.preset_rows(rows[:1]) or all(p["preset"] != "default" for p in bench_cost.preset_rows(rows[:1]))


class _Counter:
    """What :class:`Meter` reads of a FlopCounterMode: the total so far (FlopCounterMode itself takes seconds to start)."""

    def __init__(self) -> None:
        self.total = 0

    def get_total_flops(self) -> int:
        return self.total


def test_the_meter_counts_only_the_outermost_wrapped_call(bench_cost):
    meter, counter = bench_cost.Meter(), _Counter()

    def work(flops: int) -> None:
        counter.total += flops

    inner = meter.wrap("IFNet", lambda: work(100))
    outer = meter.wrap("GridNet", lambda: (inner(), work(7)))
    meter.stage, meter.counter = "synthesize", counter
    outer()
    assert meter.flops[("synthesize", "GridNet")] == 107
    assert ("synthesize", "IFNet") not in meter.flops
    inner()
    assert meter.flops[("synthesize", "IFNet")] == 100
    assert meter.seconds.keys() == {("synthesize", "GridNet"), ("synthesize", "IFNet")}
    meter.counter = None
    outer()  # timed without counting
    assert meter.flops[("synthesize", "GridNet")] == 107


def test_merge_replaces_rows_of_the_same_key(bench_cost):
    old = [{"model": "rife", "size": "640x360", "dtype": "float32", "flow_scale": 1.0, "v": 1},
           {"model": "union", "size": "640x360", "dtype": "float32", "flow_scale": 1.0, "v": 2}]
    new = [{"model": "rife", "size": "640x360", "dtype": "float32", "flow_scale": 1.0, "v": 3}]
    merged = bench_cost.merge(old, new, bench_cost.COST_KEY)
    assert sorted(r["v"] for r in merged) == [2, 3]


def _report(speed: float, agreement: float, loss: float) -> dict:
    """A report of rife measured at one size: float32 ``speed`` times slower than bfloat16, one real set."""
    cost = [{"model": "rife", "size": "640x360", "dtype": dtype, "flow_scale": 1.0, "cpu_s_per_inbetween": seconds}
            for dtype, seconds in (("float32", speed), ("bfloat16", 1.0))]
    precision = [{"model": "rife", "set": "eye", "bf16_vs_fp32_min": agreement, "truth_fp32": 40.0,
                  "truth_bf16": 40.0 - loss}]
    return {"cost": cost, "precision": precision}


@pytest.mark.parametrize("speed,agreement,loss,rule", [
    (1.6, 50.0, 1.0, "bfloat16"),     # faster, agrees
    (1.6, 40.0, 0.01, "bfloat16"),    # faster, keeps the truth
    (1.6, 40.0, 0.2, "float32"),      # faster but loses quality
    (0.9, 60.0, 0.0, "float32"),      # slower
])
def test_the_bfloat16_rule_needs_speed_and_quality(bench_cost, speed, agreement, loss, rule):
    (decision,) = bench_cost.bf16_decisions(_report(speed, agreement, loss))
    assert decision["rule"] == rule
    assert decision["registry"] == ("bfloat16" if SPECS["rife"].cpu_bf16 else "float32")


@pytest.mark.parametrize("height,width,scale", [(1080, 1920, 0.5), (1920, 1080, 0.5), (2160, 3840, 0.5),
                                                (1079, 1920, 1.0), (720, 1280, 1.0), (360, 640, 1.0)])
def test_the_automatic_flow_scale_follows_the_picture_size(height, width, scale):
    assert registry.auto_flow_scale(height, width) == scale
    if scale != 1.0:  # GMFlow's input keeps the registry's smallest side
        assert min(height, width) / 2 * scale >= registry.FLOW_MIN_SIDE


class _Flow(torch.nn.Module):
    """A flow network stand-in that records the sizes it is given and returns a flow of 1 px to the right."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))
        self.sizes: list[tuple[int, ...]] = []

    def forward(self, img0: torch.Tensor, img1: torch.Tensor) -> torch.Tensor:
        self.sizes.append(tuple(img0.shape[-2:]))
        flow = torch.zeros_like(img0[:, :2])
        flow[:, 0] = self.scale
        return flow


@pytest.fixture(scope="module")
def auto():
    """GMFSS base (random weights, the flow stand-in) with its flow_scale chosen per picture (by the test)."""
    from vsanimsplat.models.gmfss import GMFSS

    torch.manual_seed(0)
    return GMFSS("base", flownet=_Flow(), flow_scale=None, choose_flow_scale=lambda height, width: 1.0)


def test_gmfss_chooses_the_flow_scale_per_picture_when_none_is_given(auto):
    chosen: list[tuple[int, int]] = []

    def choose(height: int, width: int) -> float:
        chosen.append((height, width))
        return 0.5 if width >= 128 else 1.0

    auto.choose_flow_scale, auto.flownet.sizes = choose, []
    g = torch.Generator().manual_seed(1)
    states = [auto.prepare(torch.rand(1, 3, 64, 128, generator=g)) for _ in range(2)]
    assert chosen == [(64, 128)] * 2 and [s.flow_scale for s in states] == [0.5, 0.5]
    pair = auto.pair(*states)
    assert auto.flownet.sizes == [(16, 32)] * 2  # the half-size picture (32×64) at 0.5
    assert pair.flow01.shape == (1, 2, 32, 64)  # at the half size again, the vectors doubled: 1 px at 0.5 = 2 px
    torch.testing.assert_close(pair.flow01[:, 0], torch.full_like(pair.flow01[:, 0], 2.0))
    assert auto.prepare(torch.rand(1, 3, 64, 64, generator=g)).flow_scale == 1.0
    assert chosen[-1] == (64, 64)
    with pytest.raises(ValueError, match="same flow_scale"):
        auto.pair(states[0], dataclasses.replace(states[1], flow_scale=1.0))


def test_gmfss_refuses_an_automatic_flow_scale_without_a_choice_or_a_bad_choice(auto):
    from vsanimsplat.models.gmfss import GMFSS

    with torch.device("meta"), pytest.raises(ValueError, match="choose_flow_scale"):
        GMFSS("base", flow_scale=None)
    auto.choose_flow_scale = lambda height, width: 0.3
    with pytest.raises(ValueError, match=r"must return one of \(1.0, 0.5, 0.25\)"):
        auto.prepare(torch.rand(1, 3, 64, 64))


def test_the_registry_builds_gmfss_with_its_automatic_flow_scale():
    with torch.device("meta"):
        model = registry.build("union", None, torch.device("meta"), torch.float32, None, flow_scale=None)
    assert model.flow_scale is None and model.choose_flow_scale is registry.auto_flow_scale
    assert model.min_region == 320
