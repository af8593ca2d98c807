"""``interpolate``: a constant-rate clip whose in-betweens sit at their true times between drawings."""

from __future__ import annotations

import os
from array import array
from collections import Counter
from collections.abc import Sequence
from fractions import Fraction

import numpy as np
import torch
import vapoursynth as vs

from ..engine import Engine, check_num_streams
from ..layers import LayerStep, LayerTiming
from ..errors import BadOption, given_to
from ..models import Model, ModelOptions, load
from ..models.changes import layer_weight, paste, region_box
from ..retime import Step, plan
from ..scenes import DEFAULT_SCENE_THRESHOLD, cuts_between_drawings, read_cut_list
from .analysis import Timing, analysis_clip, first_props, recorded_rate, timing_of
from .frames import ColourSpace, check_constant, array_into_frame, duration_of, frame_to_tensor, keep_unchanged

__all__ = ["interpolate", "output_steps", "pair_flow", "scene_scores", "analysis_clip", "DEFAULT_SCENE_THRESHOLD",
           "MAX_RATE_FACTOR"]


def scene_scores(clip: vs.VideoNode, progress: bool | None = None) -> list[float]:
    """Scene-cut score between every frame of ``clip`` and the next (``num_frames - 1`` values, 0 … 1).

    The score ``interpolate`` compares with ``scene_threshold``: for a *candidate* pair (colour-histogram
    distance above :data:`~vsanimsplat.scenes.CANDIDATE_THRESHOLD`) the share of the picture that
    motion does not explain (:func:`vsanimsplat.scenes.unexplained_share`), else 0.0 (not computed), taken
    against what the shot's own motion leaves unexplained (:func:`vsanimsplat.scenes.relative_scores`).
    Read from small copies (:func:`analysis_clip`) once per clip and cached; for a
    :func:`~vsanimsplat.dedupe` output, the scores ``dedupe`` computed in its own pass over the source.
    """
    if not isinstance(clip, vs.VideoNode):
        raise BadOption("scene_scores", "clip", f"clip must be a vapoursynth.VideoNode, got {type(clip).__name__}")
    return list(timing_of(clip, progress).scene_scores)


def _listed_cuts(cuts: str | os.PathLike[str] | Sequence[int] | None, timing: Timing) -> set[int]:
    """The drawing pairs a user's cut list separates."""
    if cuts is None:
        return set()
    try:
        frames = read_cut_list(cuts)
    except BadOption as error:
        raise BadOption("interpolate", "cuts", f"cuts: {error.reason}") from None
    return cuts_between_drawings(frames, timing.sources)


MAX_RATE_FACTOR = 16
"""Highest output rate, as a multiple of the input's nominal rate (``factor`` ≤ 16, ``fps_num/fps_den`` ≤ 16 × the
rate; ``run``'s ``--factor`` and ``--fps``): 384 fps from 24, past any display, and a bound on the frames one
drawing can make, checked before any frame is read."""


def _target_rate(clip: vs.VideoNode, factor: int | Fraction | None, fps_num: int | None,
                 fps_den: int | None) -> Fraction:
    """The output rate, checked against the nominal rate from ``clip``'s first frame alone (no pass over it)."""
    if (factor is None) == (fps_num is None):
        raise BadOption("interpolate", "factor",
                        "give either factor (e.g. 2 or Fraction(5, 2)) or fps_num/fps_den (e.g. 60000/1001), not both "
                        "or neither")
    first = first_props(clip)
    if "AnimSplat_Hold" in first:  # a dedupe output: the rate before dedupe, as recorded (its input's fps), else
        # from its first drawing (exact at a constant rate; a per-frame source rounds its first frame's duration)
        nominal: Fraction | None = recorded_rate(clip) or first["AnimSplat_Hold"] / duration_of(first, clip, 0,
                                                                                                 "interpolate")
    else:
        nominal = Fraction(clip.fps) if clip.fps > 0 else None
    if fps_num is not None:
        den = 1 if fps_den is None else fps_den
        for name, value in (("fps_num", fps_num), ("fps_den", den)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise BadOption("interpolate", name,
                                f"fps_num and fps_den must be positive integers, got {fps_num!r}/{fps_den!r}")
        if nominal is not None and not nominal < Fraction(fps_num, den) <= MAX_RATE_FACTOR * nominal:
            raise BadOption("interpolate", "fps_num",
                            f"fps_num/fps_den must be above the clip's nominal rate {nominal} fps (interpolate raises "
                            f"the rate; it does not drop frames) and at most {MAX_RATE_FACTOR} × it "
                            f"({MAX_RATE_FACTOR * nominal} fps), got {fps_num}/{den}")
        return Fraction(fps_num, den)
    if (isinstance(factor, bool) or not isinstance(factor, (int, Fraction))
            or not 1 < factor <= MAX_RATE_FACTOR):
        raise BadOption("interpolate", "factor",
                        f"factor must be an int or Fraction greater than 1 and at most {MAX_RATE_FACTOR} "
                        f"(e.g. 2, 3, Fraction(5, 2)), got {factor!r}")
    if nominal is None:
        raise BadOption("interpolate", "factor",
                        "factor needs the clip's nominal rate, but clip is variable-rate (fps 0) without "
                        "AnimSplat_Hold props; give fps_num/fps_den instead")
    return nominal * Fraction(factor)


def _remap(clip: vs.VideoNode, indices: Sequence[int]) -> vs.VideoNode:
    """Frame ``i`` of the result is frame ``indices[i]`` of ``clip`` (``indices`` must not decrease)."""
    if any(b < a for a, b in zip(indices, indices[1:])):
        raise BadOption("interpolate", "indices", "indices must not decrease")
    counts = Counter(indices)
    absent = [i for i in range(clip.num_frames) if i not in counts]
    kept = clip.std.DeleteFrames(absent) if absent else clip
    repeats = [new for new, old in enumerate(sorted(counts)) for _ in range(counts[old] - 1)]
    return kept.std.DuplicateFrames(repeats) if repeats else kept


def _resolve_model(model: str | Model | None, preset: str | None, options: ModelOptions) -> Model:
    """The model ``interpolate`` runs: ``model`` itself when it is a model object, else the model or preset
    made with ``options``."""
    if model is not None and preset is not None:
        raise BadOption("interpolate", "preset",
                        f"give model or preset, not both (got model={model!r}, preset={preset!r})")
    if isinstance(model, Model):
        if chosen := [name for name in options.changed() if name != "device"]:
            raise BadOption("interpolate", chosen[0],
                            f"{', '.join(chosen)} apply to models loaded by name; set them when you make a model object")
        return model
    if model is not None and not isinstance(model, str):
        raise BadOption("interpolate", "model",
                        f"model must be a model name or a vsanimsplat Model, got {type(model).__name__}")
    if preset is not None and not isinstance(preset, str):
        raise BadOption("interpolate", "preset", f"preset must be a preset name, got {type(preset).__name__}")
    with given_to("interpolate"):
        return load(options, model, preset)


def interpolate(
    clip: vs.VideoNode,
    factor: int | Fraction | None = None,
    fps_num: int | None = None,
    fps_den: int | None = None,
    model: str | Model | None = None,
    preset: str | None = None,
    device: str | None = ModelOptions.device,
    fp16: bool | None = ModelOptions.fp16,
    bf16: bool | None = ModelOptions.bf16,
    flow_scale: float | None = ModelOptions.flow_scale,
    max_hold: int | None = None,
    scene_detect: bool = True,
    scene_threshold: float = DEFAULT_SCENE_THRESHOLD,
    cuts: str | os.PathLike[str] | Sequence[int] | None = None,
    progress: bool | None = None,
    flow: str | None = ModelOptions.flow,
    static_tolerance: int | None = ModelOptions.static_tolerance,
    regions: bool = ModelOptions.regions,
    layers: bool = True,
    cache_mb: int | None = None,
    num_streams: int | None = None,
    deterministic: bool = False,
) -> vs.VideoNode:
    """Raise the frame rate, placing every in-between at its true time between two drawings.

    Typically chained after :func:`~vsanimsplat.dedupe`: each input frame is a drawing whose
    start time comes from the durations (``_DurationNum``/``_DurationDen``, else ``clip.fps``).
    Output frame ``j`` at ``T = j / rate`` shows drawing ``A`` (on screen at ``T``) moved towards
    the next drawing ``B`` by ``t = (T - start(A)) / (start(B) - start(A))``; at ``t = 0`` it is
    ``A`` itself, bit for bit. See :mod:`vsanimsplat.retime` for long holds and cuts.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `clip` | vs.VideoNode | | YUV, RGB or GRAY of constant format and size, integer or float |
    | `factor` | int or Fraction | None | output rate = factor × the source's nominal rate (for a ``dedupe`` output: the rate before dedupe), > 1 and ≤ :data:`MAX_RATE_FACTOR` |
    | `fps_num`, `fps_den` | int | None, 1 | output rate as a fraction (e.g. 60000/1001), instead of ``factor``; above the nominal rate where the clip has one and at most :data:`MAX_RATE_FACTOR` × it (as ``factor``); a variable-rate clip without ``dedupe``'s props has none, so any rate is taken (a frame shorter than an output frame may then be skipped) |
    | `model` | str or Model | None | a model name (``"union"``, ``"base"``, ``"rife"``, ``"splat"``, ``"blend"``, ``"softsplat"`` …; see ``vsanimsplat models list``) or a model object, instead of a preset |
    | `preset` | str | None | a named configuration of models (``"fast"``, ``"default"``: :data:`~vsanimsplat.models.registry.PRESETS`, ``benchmarks/presets.md``); with neither ``model`` nor ``preset``: ``"default"`` |
    | `device` | str or None | None | ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; ``None`` = CUDA when available, else CPU |
    | `fp16` | bool or None | None | float16 networks (CUDA only); ``None`` = the registry's choice (:meth:`~vsanimsplat.models.ModelSpec.dtype`: on CUDA for the models with ``cuda_half``, as vs-rife and vs-gmfss_fortuna run) |
    | `bf16` | bool or None | None | bfloat16 networks (on CUDA only on GPUs that compute it); ``None`` = the registry's choice (:meth:`~vsanimsplat.models.ModelSpec.dtype`: for the models with ``cpu_bf16`` on a CPU device whose CPU computes bfloat16 natively, 2–3× faster, PSNR ≥ 50 dB against float32) |
    | `flow_scale` | float or None | None | ``union``/``base``: resolution of the flow relative to the half-size picture, 1.0, 0.5 or 0.25 (faster, coarser flow); None = by picture size (0.5 from 1920×1080, else 1.0: :func:`~vsanimsplat.models.registry.auto_flow_scale`) |
    | `max_hold` | int or None | None | holds longer than this many source frames are pauses, and the move to the next drawing takes only the local cadence; ``None`` = twice the local cadence; ``0`` = never pause |
    | `scene_detect` | bool | True | detect scene cuts (nothing is interpolated across one); cuts marked with ``_SceneChangeNext``/``_SceneChangePrev`` and ``cuts`` are always respected |
    | `scene_threshold` | float | 0.5 | a cut where more than this share (0 … 1) of a candidate pair of drawings is not explained by motion, beyond the shot's own (:func:`scene_scores`, :mod:`vsanimsplat.scenes`); 1 never cuts |
    | `cuts` | str, PathLike or sequence of int | None | the user's cut list: source frame numbers (before ``dedupe``) where a new shot begins, or a text file of them (one a line or comma/space separated, ``#`` comments); nothing is interpolated between the drawings on screen at ``s − 1`` and ``s`` |
    | `progress` | bool or None | None | progress bar while reading the timing; ``None`` = for 500+ frames on a terminal |
    | `flow` | str or None | None | flow network of ``"union"``, ``"base"`` or ``"splat"``: ``"gmflow"`` or ``"pwcnet"``; None = the model's own |
    | `static_tolerance` | int or None | 20 | pixels that differ by at most this many 8-bit code values between the two drawings (and that no flow carries anything to) are the drawings' cross-fade, bit-exact where they agree; the model's picture is used only around what changes, feathered; None = the model's picture everywhere |
    | `regions` | bool | True | run the model only on the regions of the frame that change (with context), not the whole frame; needs ``static_tolerance`` |
    | `layers` | bool | True | per-region timing: a part of the picture that holds its drawing for 2–4 drawings while the rest moves (a character on twos over a pan on ones) moves between *its own* drawings at its own time (:mod:`vsanimsplat.layers`); costs one more in-between per such layer, nothing where there is none |
    | `cache_mb` | int or None | None | MiB of the model's per-drawing and per-pair states kept for reuse, least recently used dropped first (those in use are always kept); ``None`` = :data:`~vsanimsplat.engine.DEFAULT_CACHE_MB` |
    | `num_streams` | int or None | None | model calls that run at once whatever the number of VapourSynth threads, each on a CUDA stream of its own on a GPU (fewer need less GPU memory); ``None`` = :data:`~vsanimsplat.engine.DEFAULT_STREAMS` on CUDA, no limit on the CPU |
    | `deterministic` | bool | False | the same output, bit for bit, on every run on the same device and software: splatting adds in a fixed order (slower on CUDA, where it otherwise adds with atomics; the CPU gives the same bits either way) and CUDA runs with cuDNN's and cuBLAS's deterministic settings for the rest of the process (:func:`~vsanimsplat.models.registry.use_cuda_policy`); ``run`` sets it for chunked jobs |

    Output: same format and size as ``clip``, constant rate, ``ceil(duration × rate)`` frames
    (every output frame whose start lies within the input). Props on every frame:
    ``_DurationNum``/``_DurationDen`` (``1/rate``), ``_AbsoluteTime``, ``AnimSplat_Left`` and
    ``AnimSplat_Right`` (source frame numbers of the two drawings; equal when not interpolated),
    ``AnimSplat_T``, ``AnimSplat_Interpolated`` (0/1); where the model left holes,
    ``AnimSplat_HoleMask`` (a GRAY8 frame, 255 = hole), ``AnimSplat_HoleFraction`` and the parent
    frames ``AnimSplat_LeftFrame``/``AnimSplat_RightFrame`` for :func:`~vsanimsplat.fill_holes`;
    with ``static_tolerance``, ``AnimSplat_ChangeMask`` (GRAY8: 255 = the model's picture, 0 = the
    drawings' cross-fade) and ``AnimSplat_ChangeFraction`` (share of pixels with any of the model's picture);
    where layers moved, also on a frame that shows a drawing, ``AnimSplat_LayerMask`` (GRAY8: 255 = a layer's own
    in-between), ``AnimSplat_LayerFraction``, and per layer ``AnimSplat_LayerLeft``/``AnimSplat_LayerRight``
    (its drawings' source frames) and ``AnimSplat_LayerT``.

    Errors (:mod:`vsanimsplat.errors`, each a ``vs.Error``): :class:`~vsanimsplat.errors.BadOption` (also a ValueError)
    naming ``interpolate`` and the parameter for an option that cannot be used, the model's settings included;
    :class:`~vsanimsplat.errors.WeightsError` naming the fetch command when the model's weights are not installed;
    :class:`~vsanimsplat.errors.DeviceError` when CUDA is asked for but not available.
    """
    if not isinstance(clip, vs.VideoNode):
        raise BadOption("interpolate", "clip", f"clip must be a vapoursynth.VideoNode, got {type(clip).__name__}")
    check_constant(clip, "interpolate")
    if clip.format.color_family not in (vs.YUV, vs.RGB, vs.GRAY):
        raise BadOption("interpolate", "clip", f"clip must be YUV, RGB or GRAY, got {clip.format.name}")
    if max_hold is not None and (isinstance(max_hold, bool) or not isinstance(max_hold, int) or max_hold < 0):
        raise BadOption("interpolate", "max_hold",
                        f"max_hold must be None (automatic), 0 (never pause) or a positive int, got {max_hold!r}")
    if cache_mb is not None and (isinstance(cache_mb, bool) or not isinstance(cache_mb, int) or cache_mb < 0):
        raise BadOption("interpolate", "cache_mb",
                        f"cache_mb must be None (the default budget) or an int of MiB ≥ 0, got {cache_mb!r}")
    with given_to("interpolate"):
        check_num_streams(num_streams)
    if not 0.0 <= scene_threshold <= 1.0:
        raise BadOption("interpolate", "scene_threshold",
                        f"scene_threshold must be within 0.0 … 1.0, got {scene_threshold!r}")
    if not isinstance(deterministic, bool):
        raise BadOption("interpolate", "deterministic",
                        f"deterministic must be True (the same bits on every run) or False, got {deterministic!r}")
    if not isinstance(layers, bool):
        raise BadOption("interpolate", "layers",
                        f"layers must be True (per-region timing) or False (whole frames only), got {layers!r}")
    rate, steps, separated = output_steps(clip, factor, fps_num, fps_den, max_hold, scene_detect, scene_threshold, cuts,
                                          progress)
    timing = timing_of(clip, progress)  # read by output_steps, after the rate was checked
    network = _resolve_model(model, preset, ModelOptions(device=device, fp16=fp16, bf16=bf16, flow=flow,
                                                         flow_scale=flow_scale, static_tolerance=static_tolerance,
                                                         regions=regions))
    calls = _parallel_calls(network.device.type == "cuda", num_streams)
    engine = Engine(network, cache_bytes=None if cache_mb is None else cache_mb << 20, threads=_call_threads(calls),
                    num_streams=num_streams, deterministic=deterministic)
    moving = LayerTiming(timing.changes, timing.durations, separated, timing.holds) if layers else None
    return _build(clip, steps, rate, timing, engine, moving, calls)


def output_steps(
    clip: vs.VideoNode,
    factor: int | Fraction | None = None,
    fps_num: int | None = None,
    fps_den: int | None = None,
    max_hold: int | None = None,
    scene_detect: bool = True,
    scene_threshold: float = DEFAULT_SCENE_THRESHOLD,
    cuts: str | os.PathLike[str] | Sequence[int] | None = None,
    progress: bool | None = None,
) -> tuple[Fraction, list[Step], set[int]]:
    """What :func:`interpolate` makes of ``clip`` with these settings, without making any frame: the output rate,
    the :class:`~vsanimsplat.retime.Step` of every output frame (indices into ``clip``), and the drawing pairs
    (``k`` for ``k``, ``k + 1``) that a cut separates.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `clip` … `progress` | | | as :func:`interpolate` (its timing settings; the model's do not change the steps) |

    Reads the timing of ``clip`` (:func:`~vsanimsplat.filters.analysis.timing_of`), which ``interpolate`` of the same
    clip has read already: no frame is read twice.
    """
    rate = _target_rate(clip, factor, fps_num, fps_den)
    timing = timing_of(clip, progress)
    separated = timing.marked_cuts | _listed_cuts(cuts, timing)
    if scene_detect:
        separated |= {k for k, score in enumerate(timing.scene_scores) if score > scene_threshold}
    return rate, plan(timing.durations, rate, timing.holds, separated, max_hold), separated


def pair_flow(clip: vs.VideoNode, model: Model, left: int = 0, right: int = 1) -> np.ndarray:
    """The optical flow from frame ``left`` of ``clip`` to frame ``right``, (H, W, 2) float32 (u, v) in pixels,
    computed as ``interpolate`` computes the pair (same colour conversion, engine and pair state).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `clip` | vs.VideoNode | | what ``interpolate`` reads (e.g. ``dedupe``'s drawings) |
    | `model` | Model | | a model that estimates flows (``model.has_flows``) |
    | `left`, `right` | int | 0, 1 | the two frames |
    """
    if not model.has_flows:
        raise BadOption("pair_flow", "model", f"{type(model).__name__} estimates no optical flow")
    if not (0 <= left < clip.num_frames and 0 <= right < clip.num_frames):
        raise BadOption("pair_flow", "left",
                        f"left and right must be frames of clip (0 … {clip.num_frames - 1}), got {left} and {right}")
    rgb = ColourSpace(clip, timing_of(clip, None).first_props).to_rgbs(clip)
    forward, _ = Engine(model).flows(left, right, lambda i: frame_to_tensor(rgb.get_frame(i), model.device))
    return forward[0].permute(1, 2, 0).float().numpy()


def _parallel_calls(cuda: bool, num_streams: int | None) -> int:
    """How many in-betweens ``interpolate`` makes at once: one per VapourSynth thread on a CPU (at most
    ``num_streams``), one on CUDA (model calls side by side on CUDA streams are not measured yet).

    ``std.ModifyFrame`` runs its function in one thread at a time (VapourSynth calls a filter of its kind with all its
    frames ready from one thread only), so the output graph holds this many copies of the filter that runs the model,
    the in-betweens made by each copy in turn (with one copy, 2 cores ran at one core's speed:
    ``benchmarks/threads.md``).
    """
    if cuda:
        return 1
    return max(1, min(vs.core.num_threads, num_streams or vs.core.num_threads))


def _call_threads(calls: int) -> int:
    """torch threads of each model call on a CPU: twice the ``calls``' fair share of torch's threads, at least 1 and at
    most all of them.

    A call that waits for a pair of drawings another call computes leaves its share idle; at twice the share the
    calls that run still fill the cores (2 cores, the default preset: 1.9× one thread's speed, against 1.6× at the
    fair share: ``benchmarks/threads.md``).
    """
    threads = torch.get_num_threads()
    return max(1, min(threads, 2 * threads // calls))


def _build(clip: vs.VideoNode, steps: list[Step], rate: Fraction, timing: Timing, engine: Engine,
           layers: LayerTiming | None, calls: int) -> vs.VideoNode:
    """The output graph: held frames straight from the input, in-betweens through the engine, and frames with layers
    in motion (:mod:`vsanimsplat.layers`) through one graph per set of layer drawings (relative to the frame's), each
    in ``calls`` copies (:func:`_parallel_calls`).

    A layer's own in-between is made on the part of the frames around its reach only (as the model crops a pair to
    what changes: :func:`~vsanimsplat.models.changes.region_box`), or the whole frame when that part covers most of it."""
    space = ColourSpace(clip, timing.first_props)
    # kept by graph() for as long as the output lives: machine numbers, not a Python int per output frame
    lefts = array("i", (s.left for s in steps))
    rights = array("i", (s.right if s.right is not None else s.left for s in steps))
    shell = vs.core.std.BlankClip(clip, length=len(steps), fpsnum=rate.numerator, fpsden=rate.denominator,
                                  keep=True)
    left_clip, right_clip = _remap(clip, lefts), _remap(clip, rights)
    rgb = space.to_rgbs(clip)
    rgb_shell = vs.core.std.BlankClip(rgb, length=len(steps), fpsnum=rate.numerator, fpsden=rate.denominator)
    mask_shell = vs.core.std.BlankClip(shell, format=vs.GRAY8, color=0, keep=True)
    device = engine.model.device
    multiple = engine.model.multiple
    padded = (-(-clip.height // multiple) * multiple, -(-clip.width // multiple) * multiple)

    def layer_steps(n: int) -> list[LayerStep]:
        return [] if layers is None else layers.at(steps[n].left, n / rate)

    def synthesise(n: int, f: list[vs.VideoFrame]) -> vs.VideoFrame:
        step = steps[n]
        pictures = {step.left: f[0], step.right: f[1]}
        moving = layer_steps(n)
        for i, layer in enumerate(moving):
            pictures.update({layer.left: f[3 + 2 * i], layer.right: f[4 + 2 * i]})

        def load(i: int) -> torch.Tensor:
            return frame_to_tensor(pictures[i], device)

        if step.interpolated:
            result = engine.synthesize(step.left, step.right, float(step.t), load)
            image, holes, weight = result.image, result.holes, result.weight
        else:  # a drawing on screen, with layers in motion over it
            image = load(step.left).float().cpu()
            holes, weight = None, torch.zeros_like(image[:, :1])
        over = torch.zeros_like(image[:, :1])
        for layer in moving:
            reach = torch.from_numpy(layers.maps.pixels(layer.reach, clip.height, clip.width))[None, None]
            box = region_box(reach, padded, engine.model.multiple, engine.model.min_region)
            made = engine.synthesize(layer.left, layer.right, float(layer.t), load, box)
            layer_image = paste(made.image, image, box)
            share = layer_weight(layer_image, image, reach)
            image = torch.lerp(image, layer_image, share)
            if made.holes is not None or holes is not None:
                none = torch.zeros_like(reach)
                holes = ((holes if holes is not None else none) & (share < 1)) | (
                    (paste(made.holes, none, box) if made.holes is not None else none) & (share > 0))
            over = torch.maximum(over, share)
        out = array_into_frame(image.numpy(), f[0].copy())
        if holes is not None and holes.any():
            mask = array_into_frame(holes.numpy().view(np.uint8) * np.uint8(255), f[2].copy())
            out.props.update(AnimSplat_HoleMask=mask, AnimSplat_HoleFraction=float(holes.float().mean()))
        if weight is not None:
            weight = np.rint(torch.maximum(weight, over).numpy() * 255)
            out.props.update(AnimSplat_ChangeMask=array_into_frame(weight, f[2].copy()),
                             AnimSplat_ChangeFraction=float((weight > 0).mean()))
        if moving:
            out.props.update(AnimSplat_LayerMask=array_into_frame(np.rint(over.numpy() * 255), f[2].copy()),
                             AnimSplat_LayerFraction=float((over > 0).float().mean()),
                             AnimSplat_LayerLeft=[timing.sources[layer.left] for layer in moving],
                             AnimSplat_LayerRight=[timing.sources[layer.right] for layer in moving],
                             AnimSplat_LayerT=[float(layer.t) for layer in moving])
        return out

    def exact(n: int, f: list[vs.VideoFrame]) -> vs.VideoFrame:
        mask = f[0].props.get("AnimSplat_ChangeMask")
        return f[0] if mask is None else keep_unchanged(f[0], f[1], f[2], mask, float(steps[n].t))

    def stamp(n: int, f: vs.VideoFrame | list[vs.VideoFrame]) -> vs.VideoFrame:
        step = steps[n]
        f = f if isinstance(f, list) else [f]
        out = f[0].copy()
        out.props.update(
            _DurationNum=rate.denominator,
            _DurationDen=rate.numerator,
            _AbsoluteTime=float(n / rate),
            AnimSplat_Left=timing.sources[step.left],
            AnimSplat_Right=timing.sources[step.right if step.right is not None else step.left],
            AnimSplat_T=float(step.t),
            AnimSplat_Interpolated=int(step.interpolated),
        )
        if "AnimSplat_HoleMask" in out.props:  # on a drawing with layers in motion, both parents are the drawing
            out.props.update(AnimSplat_LeftFrame=f[1], AnimSplat_RightFrame=f[2])
        for name in ("_SceneChangeNext", "_SceneChangePrev", "AnimSplat_SourceFrame", "AnimSplat_Hold"):
            out.props.pop(name, None)
        return out

    def graph(offsets: tuple[tuple[int, int], ...]) -> list[vs.VideoNode]:
        """Frames made by the model, with layers whose drawings lie at ``offsets`` from the frame's left drawing: one
        copy of the graph per model call that may run at once, on the same inputs."""
        last = clip.num_frames - 1
        drawings = [_remap(rgb, [min(max(k + offset, 0), last) for k in lefts]) for pair in offsets for offset in pair]
        inputs = [_remap(rgb, lefts), _remap(rgb, rights), mask_shell, *drawings]
        copies = []
        for _ in range(calls):
            made = space.from_rgbs(rgb_shell.std.ModifyFrame(inputs, synthesise))
            made = made.std.ModifyFrame([made, left_clip, right_clip], exact)
            copies.append(shell.std.ModifyFrame([made, left_clip, right_clip], stamp))
        return copies

    held = shell.std.ModifyFrame(left_clip, stamp)
    graphs = {(): graph(())}
    # in-betweens in turn, whatever the cadence puts between them (output frame n modulo the copies would send every
    # in-between of ×2 on twos to one copy)
    copy, made = array("i"), 0
    for step in steps:
        copy.append(made % calls)
        made += step.interpolated

    def choose(n: int) -> vs.VideoNode:
        moving = layer_steps(n)
        if not moving and not steps[n].interpolated:
            return held
        offsets = tuple((layer.left - steps[n].left, layer.right - steps[n].left) for layer in moving)
        if offsets not in graphs:
            graphs[offsets] = graph(offsets)
        return graphs[offsets][copy[n]]

    return shell.std.FrameEval(choose)
