"""GMFlow optical flow (Xu et al., "GMFlow: Learning Optical Flow via Global Matching", CVPR 2022).

An independent implementation of the configuration GMFSS_Fortuna uses: two scales
(1/8 then 1/4 of the input), six shifted-window transformer blocks, global matching
at 1/8, local matching (radius 4) at 1/4, flow propagation by self-attention and
convex upsampling by 4. Parameter names and shapes follow the published checkpoint
so that its weights load with ``strict=True``.

Data flow of :meth:`GMFlow.forward`::

    img0, img1 ──normalise──► CNN backbone ──► features at 1/8 and 1/4
    1/8: + position ─► transformer (2×2 windows) ─► global matching ─► global propagation
    1/4: upsample flow ─► warp features of img1 ─► + position ─► transformer (8×8 windows)
         ─► local matching (residual flow) ─► local propagation ─► convex upsampling ×4

Left out of the published module because this configuration never uses them: other attention
types and multi-head attention, one- or three-scale variants, bidirectional prediction, and the
training-time bilinear intermediate flows; ``detach`` of the flow between stages (it only changes
gradients) is not applied. Computed the same way where it matters numerically (ImageNet
normalisation, -100 shifted-window mask, position encoding per window, keys ``k_proj(q_proj(f0))``
in global propagation, zero-padded keys in local propagation, zero padding when warping).
Differences are rounding only: float64 runs agree with the published module to ~1e-12 px when the
position encoding is also rounded through float32 (here it is computed in float64 for float64 input).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vsanimsplat.errors import BadOption
from vsanimsplat.ops.backwarp import backwarp

__all__ = ["GMFlow"]

#: Input height and width must be multiples of this (1/4 features split into 8×8 windows).
SIZE_MULTIPLE = 32

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


# --------------------------------------------------------------------------- helpers


def _neighbours(x: Tensor, radius: int) -> Tensor:
    """(N, C, H, W) -> (N, C, (2r+1)², H, W): each pixel's zero-padded square neighbourhood, row-major."""
    n, c, h, w = x.shape
    k = 2 * radius + 1
    return F.unfold(x, k, padding=radius).view(n, c, k * k, h, w)


def _at_least_float32(x: Tensor) -> Tensor:
    """``x`` in float32 if it is a 16-bit float (flows and matching scores keep that precision), else as it is."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def _to_nhwc(x: Tensor) -> Tensor:
    return x.permute(0, 2, 3, 1)


def _to_nchw(x: Tensor) -> Tensor:
    return x.permute(0, 3, 1, 2)


def _pixel_coords(h: int, w: int, like: Tensor, centred: bool = False) -> Tensor:
    """(H*W, 2) pixel coordinates (x, y) in row-major order, in the dtype/device of ``like``; with ``centred``
    relative to the centre of the grid, ``((w - 1) / 2, (h - 1) / 2)``."""
    ys, xs = torch.meshgrid(
        torch.arange(h, device=like.device, dtype=like.dtype) - ((h - 1) / 2 if centred else 0),
        torch.arange(w, device=like.device, dtype=like.dtype) - ((w - 1) / 2 if centred else 0),
        indexing="ij",
    )
    return torch.stack((xs, ys), -1).view(h * w, 2)


def _sine_position(h: int, w: int, channels: int, like: Tensor) -> Tensor:
    """DETR-style 2-D sine position encoding of an (h, w) grid: (channels, h, w).

    Coordinates 1..n are normalised to (0, 2π] by ``/ (n + 1e-6) * 2π``; the first half of the
    channels encodes y, the second half x, each as interleaved sin/cos pairs with frequencies
    ``10000 ** (2i / (channels / 2))``. Computed in at least float32, returned in ``like.dtype``.
    """
    dtype = torch.promote_types(like.dtype, torch.float32)
    half = channels // 2
    freq = 10000.0 ** (torch.arange(0, half, 2, device=like.device, dtype=dtype) / half)  # (half/2,)

    def encode(n: int) -> Tensor:  # (n, half)
        pos = torch.arange(1, n + 1, device=like.device, dtype=dtype) / (n + 1e-6) * (2 * math.pi)
        phase = pos[:, None] / freq
        return torch.stack((phase.sin(), phase.cos()), -1).flatten(1)

    ey = encode(h)[:, None, :].expand(h, w, half)
    ex = encode(w)[None, :, :].expand(h, w, half)
    return torch.cat((ey, ex), -1).permute(2, 0, 1).to(like.dtype)


# --------------------------------------------------------------------------- backbone


class _ResidualBlock(nn.Module):
    """Two 3×3 convs with instance norm and ReLU, plus a (strided) 1×1 projection when the shape changes."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.downsample: nn.Module = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride), nn.InstanceNorm2d(cout))
            if stride != 1 or cin != cout
            else nn.Identity()
        )

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu(F.instance_norm(self.conv1(x)))
        y = F.relu(F.instance_norm(self.conv2(y)))
        return F.relu(self.downsample(x) + y)


class _Backbone(nn.Module):
    """ResNet-like encoder: 1/2 (64 ch) → 1/4 (96) → 1/4 (128) → 1×1 conv, then one shared 3×3
    conv applied with stride 1 and stride 2 (the "trident" conv) for the 1/4 and 1/8 outputs."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)

        def stage(cin: int, cout: int, stride: int) -> nn.Sequential:
            return nn.Sequential(_ResidualBlock(cin, cout, stride), _ResidualBlock(cout, cout, 1))

        self.layer1 = stage(64, 64, 1)
        self.layer2 = stage(64, 96, 2)
        self.layer3 = stage(96, 128, 1)
        self.conv2 = nn.Conv2d(128, channels, 1)
        self.trident_conv = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Returns features at (1/8, 1/4) of the input resolution."""
        x = F.relu(F.instance_norm(self.conv1(x)))
        x = self.conv2(self.layer3(self.layer2(self.layer1(x))))
        w = self.trident_conv.weight
        return F.conv2d(x, w, stride=2, padding=1), F.conv2d(x, w, stride=1, padding=1)


# --------------------------------------------------------------------------- transformer


class _Windows:
    """Swin-style partition of a (N, H, W, C) map into k×k windows, optionally cyclically shifted
    by half a window (towards the top-left) first; ``mask`` is the additive attention mask (0 or
    -100) that stops shifted windows from mixing pixels that were not adjacent before the roll."""

    def __init__(self, h: int, w: int, k: int, shifted: bool, like: Tensor) -> None:
        self.h, self.w, self.k = h, w, k
        wh, ww = h // k, w // k
        self.shift = (wh // 2, ww // 2) if shifted else (0, 0)
        self.mask: Tensor | None = None
        if shifted:
            # Label the regions the roll glues together: [0, n-win), [n-win, n-shift), [n-shift, n).
            def regions(n: int, win: int, s: int) -> Tensor:
                i = torch.arange(n, device=like.device)
                return (i >= n - win).long() + (i >= n - s).long()

            # The labels describe the rolled map, so they are partitioned without rolling.
            label = regions(h, wh, self.shift[0])[:, None] * 3 + regions(w, ww, self.shift[1])
            lw = self._partition(label[None, :, :, None]).squeeze(-1)[0]  # (k*k, L)
            # -100 as published, not -inf: a masked key still wins if it scores > 100 above the rest.
            zero = torch.zeros((), dtype=like.dtype, device=like.device)
            self.mask = torch.where(lw[:, :, None] == lw[:, None, :], zero, zero - 100)  # (k*k, L, L)

    def _partition(self, x: Tensor) -> Tensor:
        n, h, w, c = x.shape
        k = self.k
        return x.view(n, k, h // k, k, w // k, c).transpose(2, 3).reshape(n, k * k, -1, c)

    def split(self, x: Tensor) -> Tensor:
        """(N, H, W, C) -> (N, k*k, L, C) with L = (H/k)(W/k), rolled first if shifted."""
        if any(self.shift):
            x = torch.roll(x, (-self.shift[0], -self.shift[1]), (1, 2))
        return self._partition(x)

    def merge(self, x: Tensor) -> Tensor:
        """Inverse of :meth:`split`."""
        n, _, _, c = x.shape
        k, h, w = self.k, self.h, self.w
        x = x.view(n, k, k, h // k, w // k, c).transpose(2, 3).reshape(n, h, w, c)
        if any(self.shift):
            x = torch.roll(x, self.shift, (1, 2))
        return x


class _AttentionLayer(nn.Module):
    """Single-head window attention of ``x`` (queries) on ``y`` (keys/values), projected, layer-normed;
    with ``ffn``, followed by an MLP (hidden width 4 × 2C, GELU) on [x, message]. Residual on x.
    Works in window layout: every op but the attention is per token."""

    def __init__(self, channels: int, ffn: bool) -> None:
        super().__init__()
        c = channels
        self.ffn = ffn
        self.q_proj = nn.Linear(c, c, bias=False)
        self.k_proj = nn.Linear(c, c, bias=False)
        self.v_proj = nn.Linear(c, c, bias=False)
        self.merge = nn.Linear(c, c, bias=False)
        self.norm1 = nn.LayerNorm(c)
        if ffn:
            hidden = 4 * 2 * c
            self.mlp = nn.Sequential(nn.Linear(2 * c, hidden, bias=False), nn.GELU(), nn.Linear(hidden, c, bias=False))
            self.norm2 = nn.LayerNorm(c)

    def forward(self, x: Tensor, y: Tensor, mask: Tensor | None) -> Tensor:
        # x, y: (N, windows, L, C); softmax(q kᵀ / √C + mask) v per window
        msg = F.scaled_dot_product_attention(self.q_proj(x), self.k_proj(y), self.v_proj(y), attn_mask=mask)
        msg = self.norm1(self.merge(msg))
        if self.ffn:
            msg = self.norm2(self.mlp(torch.cat((x, msg), -1)))
        return x + msg


class _TransformerBlock(nn.Module):
    """Self-attention, then cross-attention + FFN, in the same (possibly shifted) windows."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.self_attn = _AttentionLayer(channels, ffn=False)
        self.cross_attn_ffn = _AttentionLayer(channels, ffn=True)

    def forward(self, x: Tensor, y: Tensor, win: _Windows) -> Tensor:
        xw = win.split(x)
        xw = self.self_attn(xw, xw, win.mask)
        return win.merge(self.cross_attn_ffn(xw, win.split(y), win.mask))


class _FeatureTransformer(nn.Module):
    """Six blocks; odd blocks use shifted windows. Both images are processed as one batch: each block
    updates [f0; f1] attending to [f1; f0] as they were *before* the block."""

    def __init__(self, channels: int, num_blocks: int = 6) -> None:
        super().__init__()
        self.layers = nn.ModuleList(_TransformerBlock(channels) for _ in range(num_blocks))

    def forward(self, f0: Tensor, f1: Tensor, splits: int) -> tuple[Tensor, Tensor]:
        """(N, H, W, C) features of both images -> transformed features, same layout."""
        _, h, w, _ = f0.shape
        windows = [_Windows(h, w, splits, shifted, f0) for shifted in (False, True)]
        x = torch.cat((f0, f1))
        for i, block in enumerate(self.layers):
            y = torch.cat(x.chunk(2)[::-1])
            x = block(x, y, windows[i % 2])
        f0, f1 = x.chunk(2)
        return f0, f1


# --------------------------------------------------------------------------- matching


def _global_matching(f0: Tensor, f1: Tensor) -> Tensor:
    """Flow (N, 2, H, W) as the softmax(f0·f1 / √C)-weighted mean position in f1 minus own position.

    f0, f1: (N, H, W, C); computed in at least float32."""
    f0, f1 = _at_least_float32(f0), _at_least_float32(f1)
    n, h, w, c = f0.shape
    # Positions relative to the image centre: same flow, but smaller numbers in the weighted mean,
    # which keeps float32 rounding (amplified by the later stages) at the published module's level.
    coords = _pixel_coords(h, w, f0, centred=True)  # (HW, 2)
    match = F.scaled_dot_product_attention(f0.reshape(n, h * w, c), f1.reshape(n, h * w, c), coords.expand(n, -1, -1))
    return _to_nchw((match - coords).view(n, h, w, 2))


def _local_matching(f0: Tensor, f1: Tensor, radius: int) -> Tensor:
    """Residual flow (N, 2, H, W) from a softmax over the (2r+1)² integer offsets around each pixel;
    offsets falling outside the image are excluded. f0, f1: (N, C, H, W); scores and flow in at least float32."""
    n, c, h, w = f0.shape
    k = 2 * radius + 1
    # Upcast before multiplying: a sum of C products of 16-bit features can pass float16's 65504.
    f0, padded = _at_least_float32(f0), _at_least_float32(F.pad(f1, (radius,) * 4))
    # One offset at a time: the unfolded (N, C·k², H, W) neighbourhood would take k² = 81 times the
    # memory of f1 and is slower on CPU than 81 small products.
    corr = torch.stack(
        [(f0 * padded[:, :, dy : dy + h, dx : dx + w]).sum(1) for dy in range(k) for dx in range(k)], 1
    ) / math.sqrt(c)  # (N, k², H, W)

    offsets = torch.arange(-radius, radius + 1, device=f0.device)
    ys = torch.arange(h, device=f0.device)[:, None] + offsets  # (H, k)
    xs = torch.arange(w, device=f0.device)[:, None] + offsets  # (W, k)
    inside = ((ys >= 0) & (ys < h)).T[:, None, :, None] & ((xs >= 0) & (xs < w)).T[None, :, None, :]
    corr = corr.masked_fill(~inside.reshape(k * k, h, w), float("-inf"))

    prob = corr.softmax(1)
    grid = offsets.to(corr.dtype)
    dx = (prob.view(n, k, k, h, w) * grid[None, None, :, None, None]).sum((1, 2))
    dy = (prob.view(n, k, k, h, w) * grid[None, :, None, None, None]).sum((1, 2))
    return torch.stack((dx, dy), 1)


# --------------------------------------------------------------------------- propagation


class _FlowPropagation(nn.Module):
    """Smooths the flow by self-attention on image-0 features: queries and keys from f0, values = flow."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.q_proj = nn.Linear(channels, channels)
        self.k_proj = nn.Linear(channels, channels)

    def global_attention(self, f0: Tensor, flow: Tensor) -> Tensor:
        """Attention over all pixels. As in the published weights, keys are ``k_proj(q_proj(f0))``.

        f0: (N, H, W, C); flow: (N, 2, H, W), whose dtype the attention is computed in."""
        n, h, w, c = f0.shape
        q = self.q_proj(f0.reshape(n, h * w, c))
        k = self.k_proj(q)
        out = F.scaled_dot_product_attention(q.to(flow.dtype), k.to(flow.dtype), _to_nhwc(flow).reshape(n, h * w, 2))
        return _to_nchw(out.view(n, h, w, 2))

    def local_attention(self, f0: Tensor, flow: Tensor, radius: int) -> Tensor:
        """Attention over the (2r+1)² neighbourhood; keys ``k_proj(f0)``. Outside the image keys and
        flow are zero (so those slots get score 0 and contribute zero flow, but still take weight).

        f0: (N, H, W, C); flow: (N, 2, H, W), whose dtype the scores and the softmax are computed in."""
        c = f0.shape[-1]
        q = _to_nchw(self.q_proj(f0)).to(flow.dtype)  # (N, C, H, W), upcast before multiplying (see _local_matching)
        keys = _neighbours(_to_nchw(self.k_proj(f0)).to(flow.dtype), radius)  # (N, C, k², H, W)
        scores = (q[:, :, None] * keys).sum(1, keepdim=True)
        prob = (scores / math.sqrt(c)).softmax(2)  # (N, 1, k², H, W)
        return (prob * _neighbours(flow, radius)).sum(2)


# --------------------------------------------------------------------------- model


class GMFlow(nn.Module):
    """GMFlow optical flow network with the architecture and parameter names of the published
    GMFSS_Fortuna ``flownet.pkl`` (feature channels 128, 6 transformer blocks, 1 head, FFN ×4,
    two scales with window splits (2, 8), matching (global, radius 4), propagation (global,
    radius 1), convex upsampling ×4). It has no constructor arguments.

    ``forward(img0, img1)`` returns the flow from ``img0`` to ``img1`` such that
    ``img0(p) ≈ img1(p + flow(p))``. For both directions of a pair of frames that recur (the
    frames of an animation are each in two pairs), :meth:`encode` does the per-image work
    (the CNN backbone) once per image and :meth:`bidirectional` both flows, sharing the 1/8
    transformer and global matching (the published module's ``pred_bidir_flow``): the same
    flows as two ``forward`` calls, up to rounding.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `img0` | Tensor (N, 3, H, W) | — | first image, RGB in [0, 1]; float32/64, or float16/bfloat16 |
    | `img1` | Tensor (N, 3, H, W) | — | second image, same shape, dtype and device |
    | returns | Tensor (N, 2, H, W) | — | flow (x, y) in pixels at the input resolution: float32 for 16-bit inputs (the matching, propagation and upsampling of flows run in float32 there; the networks' layers in 16 bits), else the input dtype |

    H and W must be positive multiples of 32 (:data:`SIZE_MULTIPLE`); the caller pads (GMFSS
    feeds half-resolution frames, so full frames pad to multiples of 64). Other sizes raise
    :class:`~vsanimsplat.errors.BadOption` (a ValueError). Accuracy needs some size: below ~192 rows or columns
    (1/4-resolution windows under 6 pixels) the published weights get unreliable along that axis.

    The published ``flownet.pkl`` holds CUDA tensors: load it with
    ``torch.load(path, map_location="cpu")`` on a machine without CUDA.
    """

    channels = 128
    upsample = 4
    size_multiple = SIZE_MULTIPLE

    def __init__(self) -> None:
        super().__init__()
        c = self.channels
        self.backbone = _Backbone(c)
        self.transformer = _FeatureTransformer(c)
        self.feature_flow_attn = _FlowPropagation(c)
        self.upsampler = nn.Sequential(
            nn.Conv2d(2 + c, 256, 3, 1, 1), nn.ReLU(inplace=True), nn.Conv2d(256, self.upsample**2 * 9, 1)
        )
        # ImageNet normalisation, kept on the network's device (no host-to-device copy per call), not in state dicts
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    @staticmethod
    def _check(function: str, *named: tuple[str, Tensor]) -> None:
        """Raise :class:`~vsanimsplat.errors.BadOption` naming ``function`` unless the ``(name, image)`` pairs are
        (N, 3, H, W) images of one shape, H and W multiples of :data:`SIZE_MULTIPLE`."""
        for name, img in named:
            if img.dim() != 4 or img.shape[1] != 3:
                raise BadOption(function, name, f"{name} must have shape (N, 3, H, W), got {tuple(img.shape)}")
            h, w = img.shape[-2:]
            if h == 0 or w == 0 or h % SIZE_MULTIPLE or w % SIZE_MULTIPLE:
                raise BadOption(
                    function, name,
                    f"{name} height and width must be positive multiples of {SIZE_MULTIPLE} "
                    f"(pad the input), got {h}x{w}"
                )
        shapes = {tuple(img.shape) for _, img in named}
        if len(shapes) > 1:
            raise BadOption(function, named[-1][0],
                            f"{' and '.join(name for name, _ in named)} must have the same shape, got {sorted(shapes)}")

    def _with_position(self, f: Tensor, splits: int) -> Tensor:
        """(N, C, H, W) -> (N, H, W, C) plus the sine encoding of the position *inside its window*."""
        _, c, h, w = f.shape
        pos = _sine_position(h // splits, w // splits, c, f).repeat(1, splits, splits)
        return _to_nhwc(f + pos)

    def _convex_upsample(self, flow: Tensor, f0: Tensor) -> Tensor:
        """×4 upsampling: each fine pixel is a softmax-weighted mix of the 3×3 coarse flow neighbours.

        flow: (N, 2, h, w); f0: (N, h, w, C) -> (N, 2, 4h, 4w) in the flow's dtype."""
        n, _, h, w = flow.shape
        s = self.upsample
        logits = self.upsampler(torch.cat((flow.to(f0.dtype), _to_nchw(f0)), 1)).view(n, 9, s, s, h, w)
        weights = logits.to(flow.dtype).softmax(1)
        up = torch.einsum("nkijhw,nckhw->nchiwj", weights, _neighbours(s * flow, 1))
        return up.reshape(n, 2, h * s, w * s)

    def encode(self, image: Tensor) -> tuple[Tensor, Tensor]:
        """Per-image work: backbone features of ``image`` (N, 3, H, W) at 1/8 and 1/4, for :meth:`bidirectional`."""
        self._check("nets.GMFlow.encode", ("image", image))
        return self.backbone((image - self.mean) / self.std)

    def forward(self, img0: Tensor, img1: Tensor) -> Tensor:
        self._check("nets.GMFlow", ("img0", img0), ("img1", img1))
        feats8, feats4 = self.encode(torch.cat((img0, img1)))
        return self._flow(*feats8.chunk(2), *feats4.chunk(2), both=False)

    def bidirectional(self, encoded0: tuple[Tensor, Tensor], encoded1: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        """Flows 0→1 and 1→0, each (N, 2, H, W), from the :meth:`encode` results of both images."""
        flows = self._flow(encoded0[0], encoded1[0], encoded0[1], encoded1[1], both=True)
        return flows[: len(flows) // 2], flows[len(flows) // 2 :]

    def _flow(self, f0_8: Tensor, f1_8: Tensor, f0_4: Tensor, f1_4: Tensor, both: bool) -> Tensor:
        """Flow 0→1 (N, 2, H, W) from backbone features, or with ``both`` flows 0→1 then 1→0 as one batch."""
        # 1/8: global matching and global propagation
        f0, f1 = self.transformer(self._with_position(f0_8, 2), self._with_position(f1_8, 2), splits=2)
        if both:  # the transformer is symmetric: its features serve the reverse direction as they are
            f0, f1 = torch.cat((f0, f1)), torch.cat((f1, f0))
            f0_4, f1_4 = torch.cat((f0_4, f1_4)), torch.cat((f1_4, f0_4))
        flow = _global_matching(f0, f1)
        flow = self.feature_flow_attn.global_attention(f0, flow)

        # 1/4: warp image-1 features by the upsampled flow, then local refinement
        flow = 2 * F.interpolate(flow, scale_factor=2, mode="bilinear", align_corners=True)
        f1_4 = backwarp(f1_4, flow, padding="zeros")
        f0, f1 = self.transformer(self._with_position(f0_4, 8), self._with_position(f1_4, 8), splits=8)
        flow = flow + _local_matching(_to_nchw(f0), _to_nchw(f1), radius=4)
        flow = self.feature_flow_attn.local_attention(f0, flow, radius=1)

        return self._convex_upsample(flow, f0)
