#!/usr/bin/env python
"""The cost model: GFLOP and CPU seconds per in-between for every model and preset, per stage and network, per size
and precision, against this CPU's peak; bfloat16's agreement with float32; ``flow_scale``'s quality. Writes
``benchmarks/cost.json`` and ``benchmarks/cost.md`` (issue 30).

Sections, each run on its own and merged into the json (a row replaces the row of the same key), the markdown
written again from the whole json after every run:

* ``--cost``: each model of ``--models`` at each of ``--sizes`` in each of ``--dtypes``, on **one torch thread**
  (CPU seconds of the process: the work itself, little changed by other processes on a shared machine), the whole
  picture (no change policy, no crops), two synthetic cartoon frames. ``prepare`` (one frame), ``pair`` and
  ``synthesize`` (t = 0.4) are timed ``--reps`` times after a warm-up, the dtypes alternated call by call, and the
  median kept. Inside each stage the networks (GMFlow, metric, feature pyramid, GridNet, IFNet) and the splatting
  calls are timed and counted by wrapping them; ``other`` is the rest of the stage (padding, resizing, copies).
  GFLOP are what ``torch.utils.flop_counter.FlopCounterMode`` counts: convolutions, matrix products, attention
  (splatting and element-wise work count 0). Per in-between = (prepare + pair) / 4 + synthesize: one drawing and
  one pair per four in-betweens, 23.976 → 59.94 fps on twos; a preset's is the sum of its runs' (the ensemble's
  mirroring and averaging are element-wise).
* ``--precision``: each model in float32 and bfloat16 at t = ½ of real triplets (the eye render and Middlebury,
  ``../shared/data``), outputs rounded to 8 bits: PSNR of bfloat16 against float32, and each against the true
  middle frame; ``--pictures whole`` (every pixel from the networks) or ``changes`` (as users run them by default).
* ``--flow-scale``: the default preset and union alone, flow_scale 1 against 0.5 (and 0.25), at 1280×720 and
  1920×1080 on the eye render and Middlebury enlarged to the size (bicubic) and on synthetic cartoons drawn at it:
  PSNR against the truth.

Usage: ``python scripts/bench_cost.py --cost [--models rife union] [--sizes 640x360] [--dtypes float32 bfloat16]
[--flow-scales 1 0.5] [--reps 3]``, ``… --precision [--eye 8 --middlebury 6]``, ``… --flow-scale [--triplets 3]``,
``… --markdown`` (only rewrite the markdown); ``--cost`` when no section is named; ``--out benchmarks/cost``
(default).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from vsanimsplat import machine
from vsanimsplat.evaluation import DATA, EYE_MOTION, eye_triplets, middlebury_triplets, one_thread, quantise
from vsanimsplat.metrics import psnr
from vsanimsplat.models import Model, gmfss, load_model, native_bf16, splat
from vsanimsplat.models.ensemble import Ensemble, combine
from vsanimsplat.models import registry
from vsanimsplat.models.registry import PRESETS, SPECS
from vsanimsplat.testing import Scene

REPO = Path(__file__).resolve().parents[1]
BETWEENS = 4
"""In-betweens per drawing and per pair: 23.976 → 59.94 fps on twos."""
PARTS = {"flownet": "GMFlow", "metricnet": "metric", "features": "feature pyramid", "synthesis": "GridNet",
         "ifnet": "IFNet", "network": "softsplat net"}
"""Report names of the networks' roles (``Model.networks``)."""
PART_ORDER = ("GMFlow", "metric", "feature pyramid", "splatting", "GridNet", "IFNet", "softsplat net", "other")
STAGES = ("prepare", "pair", "synthesize")
DTYPES = {"float32": False, "bfloat16": True}


# --------------------------------------------------------------------------- measuring parts of a model


class Meter:
    """CPU seconds and counted FLOP per (stage, part), from wrappers around a model's networks and splatting calls.

    Only the outermost wrapped call counts (IFNet inside GMFSS's synthesis is IFNet's, not also another part's).
    """

    def __init__(self) -> None:
        self.stage = "-"
        self.seconds: dict[tuple[str, str], float] = defaultdict(float)
        self.flops: dict[tuple[str, str], int] = defaultdict(int)
        self.counter: FlopCounterMode | None = None
        self._depth = 0

    def wrap(self, part: str, function: Callable) -> Callable:
        """``function``, its time and FLOP added to ``part`` of the current stage."""
        @functools.wraps(function)
        def measured(*args: object, **kwargs: object) -> object:
            if self._depth:
                return function(*args, **kwargs)
            self._depth += 1
            flops = self.counter.get_total_flops() if self.counter is not None else 0
            start = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[(self.stage, part)] += time.process_time() - start
                if self.counter is not None:
                    self.flops[(self.stage, part)] += self.counter.get_total_flops() - flops
                self._depth -= 1
        return measured

    def attach(self, model: Model) -> None:
        """Wrap the networks of ``model`` (or of an ensemble's models) by their part names."""
        members = [run.model for run in model.runs] if isinstance(model, Ensemble) else [model]
        for member in dict.fromkeys(members):
            for role, network in member.networks().items():
                for method in ("forward", "encode", "bidirectional"):
                    if hasattr(network, method):
                        setattr(network, method, self.wrap(PARTS.get(role, role), getattr(network, method)))


@contextmanager
def splatting_measured(meter: Meter) -> Iterator[None]:
    """The splatting functions the models call, wrapped into ``meter``'s part ``splatting`` for the block."""
    names = [(module, name) for module in (gmfss, splat) for name in ("softsplat", "softsplat_with_holes")
             if hasattr(module, name)]
    saved = [getattr(module, name) for module, name in names]
    for module, name in names:
        setattr(module, name, meter.wrap("splatting", getattr(module, name)))
    try:
        yield
    finally:
        for (module, name), function in zip(names, saved):
            setattr(module, name, function)




def frame(scene: Scene, t: float) -> torch.Tensor:
    return torch.from_numpy(scene.render(t)).permute(2, 0, 1).unsqueeze(0).contiguous()


def stage_calls(model: Model, img0: torch.Tensor, img1: torch.Tensor) -> dict[str, Callable[[], object]]:
    """The three calls of one in-between's work, states made once so each call can repeat alone."""
    a, b = model.prepare(img0), model.prepare(img1)
    pair = model.pair(a, b)
    return {"prepare": lambda: model.prepare(img1), "pair": lambda: model.pair(a, b),
            "synthesize": lambda: model.synthesize(pair, 0.4)}


def cost_rows(name: str, size: str, dtypes: Sequence[str], flow_scale: float, reps: int) -> list[dict]:
    """One row per dtype: CPU seconds (median of ``reps``, dtypes alternated) and GFLOP per stage and part."""
    width, height = map(int, size.split("x"))
    scene = Scene(width, height, seed=3, speed=width / 80)
    img0, img1 = frame(scene, 0.0), frame(scene, 2.0)
    meters, calls, models = {}, {}, {}
    with one_thread():
        for dtype in dtypes:
            models[dtype] = load_model(name, device="cpu", bf16=DTYPES[dtype], static_tolerance=None,
                                       flow_scale=flow_scale)
            meters[dtype] = meter = Meter()
            meter.attach(models[dtype])
            with splatting_measured(meter):
                calls[dtype] = stage_calls(models[dtype], img0, img1)
                for stage, call in calls[dtype].items():  # counted, and the warm-up
                    meter.stage = stage
                    with FlopCounterMode(display=False) as counter:
                        meter.counter = counter
                        call()
                    meter.counter = None
                    meter.flops[(stage, "total")] = counter.get_total_flops()
            meter.seconds.clear()
        samples: dict[tuple[str, str, str], list[float]] = defaultdict(list)
        load = os.getloadavg()[0]
        for rep in range(reps):
            order = list(dtypes) if rep % 2 == 0 else list(reversed(dtypes))
            for stage in STAGES:
                for dtype in order:
                    meter = meters[dtype]
                    with splatting_measured(meter):
                        before = dict(meter.seconds)
                        meter.stage = stage
                        start = time.process_time()
                        calls[dtype][stage]()
                        samples[(dtype, stage, "total")].append(time.process_time() - start)
                        for key, value in meter.seconds.items():
                            if key[0] == stage:
                                samples[(dtype, stage, key[1])].append(value - before.get(key, 0.0))
    rows = []
    for dtype in dtypes:
        meter = meters[dtype]
        seconds = {(stage, part): statistics.median(values) for (d, stage, part), values in samples.items() if d == dtype}
        flops = dict(meter.flops)
        stages = {}
        for stage in STAGES:
            parts = {part: {"cpu_s": round(s, 4), "gflop": round(flops.get((stage, part), 0) / 1e9, 2)}
                     for (st, part), s in seconds.items() if st == stage and part != "total"}
            total = seconds[(stage, "total")]
            rest = total - sum(p["cpu_s"] for p in parts.values())
            rest_flops = flops[(stage, "total")] - sum(flops.get((stage, p), 0) for p in parts)
            parts["other"] = {"cpu_s": round(max(rest, 0.0), 4), "gflop": round(rest_flops / 1e9, 2)}
            stages[stage] = {"cpu_s": round(total, 4), "gflop": round(flops[(stage, "total")] / 1e9, 2), "parts": parts}
        rows.append({"model": name, "size": size, "dtype": dtype, "flow_scale": flow_scale,
                     "real_dtype": str(models[dtype].dtype).removeprefix("torch."), "reps": reps,
                     "load_before": round(load, 2), "stages": stages, **per_inbetween(stages)})
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "stages"}), flush=True)
    return rows


def per_inbetween(stages: dict) -> dict:
    """CPU seconds and GFLOP per in-between (reused per-drawing and per-pair work) and from scratch (two prepares,
    a pair and a synthesis), and each part's per in-between share."""
    def amortised(stage_values: dict[str, float]) -> float:
        return (stage_values["prepare"] + stage_values["pair"]) / BETWEENS + stage_values["synthesize"]

    cpu = {s: stages[s]["cpu_s"] for s in STAGES}
    gflop = {s: stages[s]["gflop"] for s in STAGES}
    parts: dict[str, dict[str, float]] = {}
    for part in PART_ORDER:
        per = {s: stages[s]["parts"].get(part, {"cpu_s": 0.0, "gflop": 0.0}) for s in STAGES}
        values = {k: amortised({s: per[s][k] for s in STAGES}) for k in ("cpu_s", "gflop")}
        if values["cpu_s"] or values["gflop"]:
            parts[part] = {k: round(v, 4) for k, v in values.items()}
    return {"cpu_s_per_inbetween": round(amortised(cpu), 4), "gflop_per_inbetween": round(amortised(gflop), 2),
            "cpu_s_scratch": round(2 * cpu["prepare"] + cpu["pair"] + cpu["synthesize"], 4),
            "gflop_scratch": round(2 * gflop["prepare"] + gflop["pair"] + gflop["synthesize"], 2),
            "parts_per_inbetween": parts}


# --------------------------------------------------------------------------- quality


def real_triplets(data: Path, eye: int, middlebury: int) -> dict[str, list]:
    """Eye-render triplets spread over its motion and the first Middlebury ones; empty where the data is absent."""
    sets: dict[str, list] = {}
    if (data / "synfig-eye-48fps.mkv").is_file() and eye:
        motion = [t for t in eye_triplets(data) if EYE_MOTION[0] <= t.middle_index <= EYE_MOTION[1]]
        sets["eye"] = motion[::max(1, len(motion) // eye)][:eye]
    if (data / "middlebury").is_dir() and middlebury:
        sets["middlebury"] = middlebury_triplets(data)[:middlebury]
    return sets


def middle(model: Model, frame0: torch.Tensor, frame1: torch.Tensor) -> torch.Tensor:
    return quantise(model.synthesize(model.pair(model.prepare(frame0), model.prepare(frame1)), 0.5).image)


PICTURES = {"whole": {"static_tolerance": None}, "changes": {}}
"""What the networks draw in ``--precision``: the whole picture, or (``changes``) what users get by default: the
changed regions, unchanged pixels from the inputs (:class:`~vsanimsplat.models.ModelOptions`' change policy)."""


def precision_rows(models: Sequence[str], data: Path, eye: int, middlebury: int, pictures: str) -> list[dict]:
    """PSNR of bfloat16 against float32 and of both against the truth, per model and set."""
    sets = real_triplets(data, eye, middlebury)
    rows = []
    with one_thread():
        for name in models:
            made = {dtype: load_model(name, device="cpu", bf16=bf16, **PICTURES[pictures])
                    for dtype, bf16 in DTYPES.items()}
            for set_name, triplets in sets.items():
                agree, truth32, truth16 = [], [], []
                for t in triplets:
                    out = {dtype: middle(model, t.frame0, t.frame1) for dtype, model in made.items()}
                    agree.append(psnr(out["bfloat16"], out["float32"], 1.0))
                    truth32.append(psnr(out["float32"], quantise(t.middle), 1.0))
                    truth16.append(psnr(out["bfloat16"], quantise(t.middle), 1.0))
                rows.append({"model": name, "set": set_name, "pictures": pictures, "triplets": len(triplets),
                             "size": "x".join(map(str, triplets[0].frame0.shape[-1:-3:-1])),
                             "bf16_vs_fp32_mean": round(statistics.mean(agree), 2),
                             "bf16_vs_fp32_min": round(min(agree), 2),
                             "truth_fp32": round(statistics.mean(truth32), 3),
                             "truth_bf16": round(statistics.mean(truth16), 3)})
                print(json.dumps(rows[-1]), flush=True)
    return rows


def enlarged(image: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """``image`` resized to ``width``×``height`` (bicubic with antialiasing; a picture drawn at a lower resolution and
    delivered larger, as TV anime is)."""
    return F.interpolate(image, size=(height, width), mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)


def flow_scale_rows(size: str, scales: Sequence[float], data: Path, count: int) -> list[dict]:
    """PSNR against the truth of union alone and of the default preset at each flow_scale, on ``size``. The preset's
    picture is :func:`~vsanimsplat.models.ensemble.combine` of its runs' (what its ensemble computes without a change
    policy), the rife runs made once for every flow_scale."""
    width, height = map(int, size.split("x"))
    sets = {name: [(enlarged(t.frame0, width, height), enlarged(t.middle, width, height),
                    enlarged(t.frame1, width, height)) for t in triplets]
            for name, triplets in real_triplets(data, count, count).items()}
    sets["synthetic"] = [(frame(scene, 0.0), frame(scene, 1.0), frame(scene, 2.0))
                         for scene in (Scene(width, height, seed=10 + s, speed=width / 80) for s in range(count))]
    if PRESETS["default"].runs != ("union", "rife", "rife mirrored"):
        raise SystemExit(f"--flow-scale combines union, rife and rife mirrored; the default is {PRESETS['default'].runs}")
    rows = []
    with one_thread():
        rife = load_model("rife", device="cpu", static_tolerance=None)
        others = {name: [[rife_middle(rife, f0, f1, mirrored) for mirrored in (False, True)] for f0, _, f1 in triplets]
                  for name, triplets in sets.items()}
        for scale in scales:
            union = load_model("union", device="cpu", static_tolerance=None, flow_scale=scale)
            for set_name, triplets in sets.items():
                alone, preset, seconds = [], [], []
                for (frame0, truth, frame1), rifes in zip(triplets, others[set_name]):
                    start = time.process_time()
                    out = union.synthesize(union.pair(union.prepare(frame0), union.prepare(frame1)), 0.5)
                    seconds.append(time.process_time() - start)
                    alone.append(psnr(quantise(out.image), quantise(truth), 1.0))
                    image, _ = combine([out.image, *rifes], [out.holes, None, None])
                    preset.append(psnr(quantise(image), quantise(truth), 1.0))
                rows.append({"size": size, "flow_scale": scale, "set": set_name, "triplets": len(triplets),
                             "union_truth": round(statistics.mean(alone), 3),
                             "default_truth": round(statistics.mean(preset), 3),
                             "union_cpu_s_scratch": round(statistics.median(seconds), 2),
                             "dtype": str(union.dtype).removeprefix("torch.")})
                print(json.dumps(rows[-1]), flush=True)
    return rows


def rife_middle(rife: Model, frame0: torch.Tensor, frame1: torch.Tensor, mirrored: bool) -> torch.Tensor:
    """rife's picture at t = ½, from the mirrored frames and mirrored back if ``mirrored`` (float, not rounded)."""
    flip = (lambda x: x.flip(-1)) if mirrored else (lambda x: x)
    return flip(rife.synthesize(rife.pair(rife.prepare(flip(frame0)), rife.prepare(flip(frame1))), 0.5).image)


# --------------------------------------------------------------------------- the report


def merge(rows: list[dict], new: list[dict], key: Callable[[dict], tuple]) -> list[dict]:
    """``rows`` with ``new`` in place of the rows of the same key."""
    keys = {key(r) for r in new}
    return [r for r in rows if key(r) not in keys] + new


COST_KEY = lambda r: (r["model"], r["size"], r["dtype"], r["flow_scale"])  # noqa: E731
PRECISION_KEY = lambda r: (r["model"], r["set"], r.get("pictures", "whole"))  # noqa: E731
FLOW_KEY = lambda r: (r["size"], r["flow_scale"], r["set"])  # noqa: E731


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def share(row: dict, peak: dict, field: str = "cpu_s_per_inbetween") -> str:
    """GFLOP/s on one core and its share of one core's peak in the row's precision."""
    per_cycle = peak["fp32_per_cycle"] if row["real_dtype"] == "float32" else peak["bf16_per_cycle"]
    gflops = row["gflop_per_inbetween"] / row[field] if row[field] else 0.0
    return f"{gflops:.0f} ({100 * gflops / (per_cycle * peak['mhz'] / 1e3):.0f} %)"


def preset_rows(cost: list[dict]) -> list[dict]:
    """Each preset's cost per size, dtype and flow_scale from its runs' model rows (where all were measured)."""
    by = {COST_KEY(r): r for r in cost}
    out = []
    for name, chosen in PRESETS.items():
        for size, dtype, scale in sorted({(r["size"], r["dtype"], r["flow_scale"]) for r in cost}):
            runs = [by.get((m, size, dtype, scale if SPECS[m].flow_choice else 1.0)) for m, _, _ in chosen.parsed()]
            if None in runs or (scale != 1.0 and not any(SPECS[m].flow_choice for m in chosen.models)):
                continue
            out.append({"preset": name, "size": size, "dtype": dtype, "flow_scale": scale,
                        "cpu_s_per_inbetween": round(sum(r["cpu_s_per_inbetween"] for r in runs), 3),
                        "gflop_per_inbetween": round(sum(r["gflop_per_inbetween"] for r in runs), 1)})
    return out


EPISODE_INBETWEENS = round(24 * 60 * 24000 / 1001 / 2) * BETWEENS
"""In-betweens of a 24-minute episode at 23.976 fps on twos made 59.94 fps: four per drawing."""


def automatic_dtype(name: str) -> str:
    """The precision the registry chooses for model ``name`` on this CPU."""
    chosen = SPECS[name].dtype(registry.capability(torch.device("cpu")))
    return str(chosen).removeprefix("torch.")


BEFORE_BF16 = ("union", "base")
"""The models 0.1.0 ran in bfloat16 on a CPU with native bfloat16 (with flow_scale 1.0 at every size): the speed
table's ``0.1.0`` rows, what issue 30 started from."""


def speed_rows(cost: list[dict], cores: int) -> list[dict]:
    """``fast`` and ``default`` per size, with each model in its automatic precision and all in float32, and the
    automatic flow_scale (:func:`~vsanimsplat.models.registry.auto_flow_scale`), from the model rows."""
    by = {COST_KEY(r): r for r in cost}
    out = []
    for name in ("fast", "default"):
        models = [m for m, _, _ in PRESETS[name].parsed()]
        for size in sorted({r["size"] for r in cost}, key=lambda s: s.zfill(12)):
            for precision in ("automatic", "float32", "0.1.0"):
                dtypes = [automatic_dtype(m) if precision == "automatic" else
                          "bfloat16" if precision == "0.1.0" and m in BEFORE_BF16 else "float32" for m in models]
                height, width = map(int, reversed(size.split("x")))
                scales = [registry.auto_flow_scale(height, width) if len(SPECS[m].flow_scales) > 1
                          and precision != "0.1.0" else 1.0 for m in models]
                runs = [by.get((m, size, d, f)) for m, d, f in zip(models, dtypes, scales)]
                if None in runs:
                    continue
                cpu = sum(r["cpu_s_per_inbetween"] for r in runs)
                out.append({"preset": name, "size": size, "precision": precision, "cpu_s": cpu, "seconds": cpu / cores,
                            "dtypes": ", ".join(dict.fromkeys(f"{m} {d}" + (f" flow_scale {f}" if f != 1.0 else "")
                                                              for m, d, f in zip(models, dtypes, scales)))})
    return out


AGREEMENT_DB = 45.0
"""bfloat16 keeps quality where it agrees with float32 at least this well on every real set (8-bit outputs)…"""
TRUTH_DB = 0.05
"""… or where its mean PSNR against the truth is within this of float32's on every set."""


def bf16_decisions(report: dict) -> list[dict]:
    """Per model measured in both precisions: the speed-ups, the worst agreement and truth loss, what the rule says and
    what the registry does."""
    cost = {COST_KEY(r): r for r in report.get("cost", [])}
    out = []
    for name in SPECS:
        speeds = {size: cost[(name, size, "float32", 1.0)]["cpu_s_per_inbetween"]
                  / cost[(name, size, "bfloat16", 1.0)]["cpu_s_per_inbetween"]
                  for (m, size, dtype, scale) in cost if m == name and dtype == "bfloat16" and scale == 1.0
                  and (name, size, "float32", 1.0) in cost}
        quality = [q for q in report.get("precision", []) if q["model"] == name]
        if not speeds or not quality:
            continue
        agreement = min(q["bf16_vs_fp32_min"] for q in quality)
        loss = max(q["truth_fp32"] - q["truth_bf16"] for q in quality)
        faster = min(speeds.values()) > 1
        keeps = agreement >= AGREEMENT_DB or loss <= TRUTH_DB
        out.append({"model": name, "agreement": agreement, "truth_loss": f"{loss:+.3f}",
                    "speed": ", ".join(f"{v:.2f}× ({k})" for k, v in sorted(speeds.items(), key=lambda kv: kv[0].zfill(12))),
                    "rule": "bfloat16" if faster and keeps else "float32",
                    "registry": "bfloat16" if SPECS[name].cpu_bf16 else "float32"})
    return out


def gemm_line(peak: dict) -> str:
    """The matrix products' GFLOP/s against the counted peak, in words (above 100 %: the core ran above the clock
    read, as under a hypervisor that reports the nominal clock)."""
    parts = []
    for dtype, key in (("float32", "fp32"), ("bfloat16", "bf16")):
        gflops = peak.get(f"{key}_gemm")
        if gflops is None:
            continue
        per_cycle = gflops * 1e3 / peak["mhz"] if peak["mhz"] else float("nan")
        parts.append(f"{gflops} GFLOP/s in {dtype} ({per_cycle:.0f} FLOP per cycle at the clock above, "
                     f"{100 * per_cycle / peak[f'{key}_per_cycle']:.0f} % of the counted peak)")
    return " and ".join(parts) or "not measured"


def markdown(report: dict) -> str:
    peak = report["peak"]
    cost = sorted(report.get("cost", []), key=lambda r: (list(SPECS).index(r["model"]), r["size"].zfill(12),
                                                         -r["flow_scale"], r["dtype"]))
    lines = [
        "# Cost per in-between on the CPU (issue 30)",
        "",
        "Made by `scripts/bench_cost.py` (sections run separately, merged). Machine of the last run: "
        f"{report['machine_line']}; `nproc` {report['nproc']}. **Loaded machine**: two cores shared with other "
        "jobs (load averages in the table and the json), so every time here is **CPU seconds of one torch thread** "
        "(the process's CPU time, which other processes change little), and comparisons are ratios measured side by "
        "side in one process, the variants alternated call by call, medians kept.",
        "",
        "## This CPU's peak",
        "",
        f"{peak['cores']} cores × {peak['mhz']:.0f} MHz ({peak['clock_source']}) × FLOP per cycle: {peak['assumption']}. "
        f"**{peak['fp32_per_cycle'] * peak['mhz'] / 1e3:.0f} GFLOP/s float32 and "
        f"{peak['bf16_per_cycle'] * peak['mhz'] / 1e3:.0f} GFLOP/s bfloat16 per core**, "
        f"{peak['cores'] * peak['fp32_per_cycle'] * peak['mhz'] / 1e3:.0f} and "
        f"{peak['cores'] * peak['bf16_per_cycle'] * peak['mhz'] / 1e3:.0f} for the machine. "
        f"A 2048² matrix product on one thread reaches {gemm_line(peak)}.",
        "",
        "## Per model: GFLOP and CPU seconds per in-between",
        "",
        "Whole pictures (no change policy), one torch thread. Per in-between = (prepare + pair) / 4 + synthesize "
        "(23.976 → 59.94 fps on twos); from scratch = 2 prepare + pair + synthesize (what a plugin without reuse "
        "pays). GFLOP/s = GFLOP per in-between ÷ CPU s; the share is of one core's peak in the row's precision "
        "(bfloat16 against the AMX figure where the CPU has AMX). `dtype` is what the networks ran in.",
        "",
        table(["model", "size", "flow_scale", "dtype", "GFLOP per in-between (scratch)", "CPU s per in-between",
               "CPU s from scratch", "GFLOP/s per core (of peak)", "prepare / pair / synth CPU s", "load"],
              [[r["model"], r["size"], r["flow_scale"], r["real_dtype"],
                f"{r['gflop_per_inbetween']:.1f} ({r['gflop_scratch']:.1f})", f"{r['cpu_s_per_inbetween']:.3f}",
                f"{r['cpu_s_scratch']:.3f}", share(r, peak),
                " / ".join(f"{r['stages'][s]['cpu_s']:.3f}" for s in STAGES), r["load_before"]] for r in cost]),
        "",
        "## Per stage and network, per in-between",
        "",
        "CPU s (GFLOP) per in-between of each part, amortised as above. Splatting and `other` (padding, resizing, "
        "warping, copies) are element-wise: FlopCounterMode counts them as 0.",
        "",
    ]
    used = [p for p in PART_ORDER if any(p in r["parts_per_inbetween"] for r in cost)]
    lines.append(table(["model", "size", "flow_scale", "dtype", *used],
                       [[r["model"], r["size"], r["flow_scale"], r["real_dtype"],
                         *[(f"{r['parts_per_inbetween'][p]['cpu_s']:.3f} ({r['parts_per_inbetween'][p]['gflop']:.1f})"
                            if p in r["parts_per_inbetween"] else "") for p in used]] for r in cost]))
    ratios = []
    by = {COST_KEY(r): r for r in cost}
    for r in cost:
        other = by.get((r["model"], r["size"], "float32", r["flow_scale"]))
        if r["dtype"] == "bfloat16" and other:
            parts = {p: other["parts_per_inbetween"][p]["cpu_s"] / r["parts_per_inbetween"][p]["cpu_s"]
                     for p in ("GMFlow", "metric", "feature pyramid", "splatting", "GridNet", "IFNet")
                     if p in r["parts_per_inbetween"] and r["parts_per_inbetween"][p]["cpu_s"] > 0}
            ratios.append([r["model"], r["size"], r["flow_scale"],
                           f"**{other['cpu_s_per_inbetween'] / r['cpu_s_per_inbetween']:.2f}×**",
                           ", ".join(f"{p} {v:.1f}×" for p, v in parts.items())])
    if ratios:
        lines += ["", "## bfloat16 against float32: speed (float32 CPU s ÷ bfloat16 CPU s, same process)", "",
                  table(["model", "size", "flow_scale", "per in-between", "per part"], ratios)]
    presets = preset_rows(cost)
    if presets:
        lines += ["", "## Presets (sum of their runs' rows)", "",
                  table(["preset", "size", "flow_scale", "dtype", "GFLOP per in-between", "CPU s per in-between",
                         "≈ s per in-between on all cores"],
                        [[p["preset"], p["size"], p["flow_scale"], p["dtype"], p["gflop_per_inbetween"],
                          p["cpu_s_per_inbetween"], round(p["cpu_s_per_inbetween"] / peak["cores"], 3)]
                         for p in sorted(presets, key=lambda p: (p["preset"], p["size"].zfill(12), -p["flow_scale"],
                                                                 p["dtype"]))])]
    speed = speed_rows(cost, report["peak"]["cores"])
    if speed:
        lines += ["", "## Speed table: presets as users run them on this CPU", "",
                  f"CPU flags: {', '.join(f for f in ('avx2', 'fma', 'avx512f', 'avx512_bf16', 'amx_bf16') if f in report['flags'])}"
                  f" ({'native bfloat16' if report['bf16_native'] else 'no native bfloat16'}). `automatic` = each "
                  "model in the precision the registry chooses here (`ModelSpec.dtype`); `float32` = `bf16=False` on this "
                  "CPU (an AVX2-only CPU of the same clock and FMA pipes has "
                  f"{'about half its' if report['peak']['fp32_per_cycle'] > 32 else 'the same'} float32 peak); `0.1.0` = the defaults before issue 30 "
                  "(bfloat16 for union and base only, flow_scale 1.0). Seconds per in-between = CPU s of one "
                  f"thread ÷ {report['peak']['cores']} cores (the engine runs one in-between per core side by side); "
                  f"episode = {EPISODE_INBETWEENS:,} in-betweens (24 min at 23.976 fps on twos → 59.94 fps: "
                  "17,263 drawings, 4 in-betweens each) at that rate. Whole pictures: the change policy makes "
                  "held backgrounds cheaper.", "",
                  table(["preset", "size", "precision", "models' dtypes", "CPU s per in-between",
                         f"s per in-between on {report['peak']['cores']} cores", "in-betweens/s", "episode (h)"],
                        [[r["preset"], r["size"], r["precision"], r["dtypes"], f"{r['cpu_s']:.3f}",
                          f"**{r['seconds']:.3f}**", f"{1 / r['seconds']:.2f}",
                          f"{EPISODE_INBETWEENS * r['seconds'] / 3600:.1f}"] for r in speed])]
    if report.get("precision"):
        lines += ["", "## bfloat16 against float32: quality on real frames", "",
                  "t = ½, outputs rounded to 8 bits, one torch thread. Pictures: `whole` = the networks draw every "
                  "pixel (no change policy); `changes` = as users run them by default (unchanged pixels from the "
                  "inputs, networks on the changed regions).", "",
                  table(["model", "set", "pictures", "size", "triplets", "bf16 vs fp32 dB (mean / min)", "truth fp32 dB",
                         "truth bf16 dB", "Δ truth dB"],
                        [[q["model"], q["set"], q.get("pictures", "whole"), q["size"], q["triplets"],
                          f"{q['bf16_vs_fp32_mean']} / {q['bf16_vs_fp32_min']}", q["truth_fp32"], q["truth_bf16"],
                          f"{q['truth_bf16'] - q['truth_fp32']:+.3f}"] for q in report["precision"]])]
    decisions = bf16_decisions(report)
    if decisions:
        lines += ["", "## bfloat16 by default: the rule against the registry", "",
                  f"A model runs in bfloat16 by default on a CPU with native bfloat16 (`cpu_bf16` in the registry) only "
                  f"where it is faster there (every size measured) and keeps quality: agreement with float32 ≥ "
                  f"{AGREEMENT_DB} dB on every real set, or PSNR against the truth within {TRUTH_DB} dB of float32's. "
                  "Never on a CPU without `avx512_bf16`/`amx_bf16` (`native_bf16`, by the flags).", "",
                  table(["model", "speed-up (sizes)", "lowest agreement dB", "largest truth loss dB", "rule says",
                         "registry (`cpu_bf16`)"],
                        [[d["model"], d["speed"], d["agreement"], d["truth_loss"], d["rule"], d["registry"]]
                         for d in decisions])]
    if report.get("flow_scale"):
        lines += ["", "## flow_scale: PSNR against the truth", "",
                  "Eye render and Middlebury enlarged to the size (bicubic), synthetic cartoons drawn at it (moving "
                  "width/80 px per frame, drawings 2 frames apart); t = ½, whole pictures, 8-bit outputs; `union` in "
                  "the dtype shown, the default preset = union + rife + rife mirrored averaged.", "",
                  table(["size", "set", "triplets", "flow_scale", "union dB", "default dB", "union CPU s from scratch"],
                        [[f["size"], f["set"], f["triplets"], f["flow_scale"], f["union_truth"], f["default_truth"],
                          f["union_cpu_s_scratch"]]
                         for f in sorted(report["flow_scale"], key=lambda f: (f["size"].zfill(12), f["set"],
                                                                              -f["flow_scale"]))])]
    lines += ["", *report.get("notes", []), ""]
    return "\n".join(lines)


def gemm_gflops() -> dict[str, float]:
    """GFLOP/s of a 2048² matrix product on one thread, float32 and bfloat16 (best of 4)."""
    out = {}
    with one_thread():
        for dtype, key in ((torch.float32, "fp32_gemm"), (torch.bfloat16, "bf16_gemm")):
            a, b = torch.rand(2048, 2048, dtype=dtype), torch.rand(2048, 2048, dtype=dtype)
            torch.mm(a, b)
            best = float("inf")
            for _ in range(4):
                start = time.process_time()
                torch.mm(a, b)
                best = min(best, time.process_time() - start)
            out[key] = round(2 * 2048**3 / best / 1e9, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cost", action="store_true", help="time and count models")
    parser.add_argument("--precision", action="store_true", help="bfloat16 against float32 on real frames")
    parser.add_argument("--flow-scale", action="store_true", help="flow_scale's quality on large pictures")
    parser.add_argument("--markdown", action="store_true", help="only write the markdown again from the json")
    parser.add_argument("--models", nargs="+", default=["rife", "union", "base", "splat"])
    parser.add_argument("--sizes", nargs="+", default=["640x360"])
    parser.add_argument("--dtypes", nargs="+", default=list(DTYPES), choices=list(DTYPES))
    parser.add_argument("--flow-scales", nargs="+", type=float, default=[1.0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--eye", type=int, default=8, help="eye triplets for --precision")
    parser.add_argument("--middlebury", type=int, default=6, help="Middlebury triplets for --precision")
    parser.add_argument("--triplets", type=int, default=3, help="triplets per set for --flow-scale")
    parser.add_argument("--pictures", choices=list(PICTURES), default="whole", help="for --precision: the networks "
                        "on whole pictures, or on the changed regions as by default")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "cost")
    args = parser.parse_args()
    if not (args.cost or args.precision or args.flow_scale or args.markdown):
        args.cost = True  # no section named: the cost rows at the defaults
    torch.set_grad_enabled(False)
    path = args.out.with_suffix(".json")
    report = json.loads(path.read_text()) if path.is_file() else {}
    if args.cost or args.precision or args.flow_scale:  # measured here: the record is this machine's
        report.update(machine_line=machine.describe(), nproc=os.cpu_count(), bf16_native=native_bf16(),
                      flags=sorted(machine.cpu_flags()))
        peak = machine.cpu_peak()
        report["peak"] = {**{k: getattr(peak, k) for k in ("cores", "mhz", "clock_source", "fp32_per_cycle",
                                                           "bf16_per_cycle", "bf16_unit", "assumption")},
                          **gemm_gflops()}
    if args.cost:
        for size in args.sizes:
            for name in args.models:
                for scale in [s for s in args.flow_scales if s in SPECS[name].flow_scales] or [1.0]:
                    report["cost"] = merge(report.get("cost", []),
                                           cost_rows(name, size, args.dtypes, scale, args.reps), COST_KEY)
                    path.write_text(json.dumps(report, indent=1) + "\n")
    if args.precision:
        report["precision"] = merge(report.get("precision", []),
                                    precision_rows(args.models, args.data, args.eye, args.middlebury, args.pictures),
                                    PRECISION_KEY)
    if args.flow_scale:
        for size in args.sizes:
            report["flow_scale"] = merge(report.get("flow_scale", []),
                                         flow_scale_rows(size, args.flow_scales, args.data, args.triplets), FLOW_KEY)
            path.write_text(json.dumps(report, indent=1) + "\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(markdown(report))


if __name__ == "__main__":
    main()
