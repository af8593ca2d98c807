"""Where two drawings differ: static pixels taken from the inputs, networks run only where the picture changes.

In animation most of the picture does not move between two drawings (backgrounds, held cels,
line art). A network re-draws those pixels a little worse every time, and spends most of its
time on them. :class:`ChangePolicy` says how a model treats them (see
:meth:`~vsanimsplat.models.base.Model.pair` and ``synthesize``):

1. **changed** pixels: any channel differs by more than ``tolerance`` 8-bit code values between
   the two drawings (:func:`changed_pixels`);
2. the networks run on the **regions**: changed pixels less than :data:`LINK` pixels apart
   are one group, and each group's bounding box, grown by :data:`CONTEXT` pixels of context and
   aligned to the model's multiple, is one region (:func:`region_boxes`); regions that overlap
   are merged, and the whole frame is used when they cover most of it anyway
   (:data:`FULL_FRAME_SHARE`). Each model says how small a picture its networks still work on
   (``Model.min_region``). The path of anything that moves less than ``LINK`` pixels between two
   drawings lies inside one region; what moves farther between two far-apart changes is seen by
   the networks as leaving one region and arriving in another (approximated: a fade, not motion);
3. the output is the network's picture where the picture changes or where something that
   changes is at time ``t`` (e.g. an object in the middle of its path), and the inputs' cross-fade ``(1 − t)·A + t·B`` elsewhere, with a
   feathered transition (:func:`network_weight`): no seam, and pixels farther than
   ``GROW + FEATHER`` pixels (Chebyshev) from any such pixel are exactly the cross-fade, i.e.
   exactly the input where the two drawings agree to the bit. Models with flows say where
   things are at ``t`` by carrying the changed pixels along their flows; the others by where
   their picture differs from the cross-fade.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import BadOption

__all__ = [
    "ChangePolicy",
    "DEFAULT_STATIC_TOLERANCE",
    "CONTEXT",
    "GROW",
    "FEATHER",
    "FULL_FRAME_SHARE",
    "changed_pixels",
    "LINK",
    "region_box",
    "region_boxes",
    "paste",
    "network_weight",
    "LAYER_TOLERANCE",
    "LAYER_GROW",
    "layer_weight",
]

DEFAULT_STATIC_TOLERANCE = 20
"""8-bit code values two drawings may differ by at a pixel that counts as unchanged: above lossy noise, and the
cross-fade's error there is at most half of it (best of 4, 10, 15, 20, 30 on the eye and Middlebury triplets)."""
CONTEXT = 64
"""Pixels of context around the changed pixels' bounding box that the networks see (receptive field, flow)."""
GROW = 0
"""The network's picture is used in full up to this many pixels from a changed or drawn pixel …"""
FEATHER = 4
"""… and fades to the cross-fade over this many more, an even number (nothing changes farther than GROW + FEATHER)."""
LAYER_TOLERANCE = 40
"""8-bit code values by which a layer's own in-between must differ from the frame's picture to be used
(:func:`layer_weight`): two in-betweens of the same panning background differ by more than the static tolerance
in places (rife, 512×320 pan on ones with a shape on twos: background −0.17 dB at 20, −0.05 at 40, −0.01 at 70
against whole-frame timing; the shape's PSNR the same at all three)."""
LAYER_GROW = 2
"""A layer's own in-between (:func:`layer_weight`) is used in full this many pixels around where it differs (anti-aliased edges)."""
FULL_FRAME_SHARE = 0.6
"""Regions covering more than this share of the (padded) frame are not worth cropping: the whole frame is used."""
LINK = 256
"""Changed pixels less than this many pixels apart are one region (:func:`region_boxes`): the networks see the whole
path of anything that moves less than this between two drawings. Counted in blocks of CONTEXT pixels, so changes
between LINK and LINK + 2·CONTEXT apart may be linked too; farther apart, never."""


@dataclass(frozen=True)
class ChangePolicy:
    """How a model treats the parts of the picture that do not change between two drawings.

    | field | type | default | meaning |
    |---|---|---|---|
    | `tolerance` | int | 20 | a pixel is unchanged when no channel differs by more than this many 8-bit code values (0 … 255) |
    | `regions` | bool | True | run the networks only on the regions that change (with context), not the whole frame |
    """

    tolerance: int = DEFAULT_STATIC_TOLERANCE
    regions: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.tolerance, bool) or not isinstance(self.tolerance, int) or not 0 <= self.tolerance <= 255:
            raise BadOption("ChangePolicy", "static_tolerance", f"static_tolerance must be an int within 0 … 255 "
                                                                f"(8-bit code values) or None (off), got {self.tolerance!r}")

    @property
    def threshold(self) -> float:
        """The tolerance on pictures in [0, 1] (half a code value above it, so rounding never decides)."""
        return (self.tolerance + 0.5) / 255


def changed_pixels(a: torch.Tensor, b: torch.Tensor, threshold: float) -> torch.Tensor:
    """(1, 1, H, W) bool: where any channel of ``a`` and ``b`` ((1, C, H, W), same size) differs by more than ``threshold``."""
    return ((a.float() - b.float()).abs().amax(1, keepdim=True) > threshold)


Box = tuple[int, int, int, int]
"""(top, bottom, left, right) of the part of the (padded) frames that a model's networks see."""


def _span(first: int, last: int, length: int, align: int, minimum: int) -> tuple[int, int]:
    """[start, end) holding ``first … last`` with :data:`CONTEXT` around, at least ``minimum`` long, aligned, within ``length``."""
    start, end = max(0, first - CONTEXT), min(length, last + 1 + CONTEXT)
    missing = minimum - (end - start)
    if missing > 0:  # grow both ways, then shift inside the picture
        start, end = start - missing // 2, end + missing - missing // 2
        start, end = (0, end - start) if start < 0 else (start, end)
        start, end = (start - (end - length), length) if end > length else (start, end)
    start = max(0, start) // align * align
    return start, min(length, -(-end // align) * align)


def region_box(changed: torch.Tensor, padded: tuple[int, int], align: int,
               minimum: int = 0, share: float = FULL_FRAME_SHARE) -> Box | None:
    """The part of the padded picture the networks should see, ``(top, bottom, left, right)``, or None for all of it.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `changed` | Tensor (1, 1, H, W) bool | | changed pixels (at least one), in the unpadded picture |
    | `padded` | tuple[int, int] | | (height, width) of the padded picture, multiples of ``align`` |
    | `align` | int | | the box's edges are multiples of this (the networks' multiple, so the crop needs no padding) |
    | `minimum` | int | 0 | the smallest side the networks work on (e.g. GMFlow's windows need 320 pixels) |
    | `share` | float | :data:`FULL_FRAME_SHARE` | the largest share of the picture worth cropping to |

    The bounding box of ``changed`` grown by :data:`CONTEXT` on every side and to at least
    ``minimum`` a side, its edges moved out to multiples of ``align``; None when it covers more
    than ``share`` of the picture.
    """
    rows = torch.nonzero(changed[0, 0].any(1)).flatten()
    cols = torch.nonzero(changed[0, 0].any(0)).flatten()
    height, width = padded
    top, bottom = _span(int(rows[0]), int(rows[-1]), height, align, minimum)
    left, right = _span(int(cols[0]), int(cols[-1]), width, align, minimum)
    if (bottom - top) * (right - left) > share * height * width:
        return None
    return top, bottom, left, right


def region_boxes(changed: torch.Tensor, padded: tuple[int, int], align: int, minimum: int = 0) -> list[Box] | None:
    """The parts of the padded picture the networks should see, each ``(top, bottom, left, right)``, or None for all.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `changed`, `padded`, `align`, `minimum` | | | as :func:`region_box`'s, for every box |

    The changed pixels are grouped: blocks of :data:`CONTEXT` pixels holding changes are linked (through
    each other, too) when at most ``LINK // CONTEXT`` blocks lie between them (:data:`LINK`). Each group's
    box is made as :func:`region_box` makes one, boxes that overlap are replaced by the box around both
    until none do, and the boxes are returned top to bottom, left to right; None when together they cover
    more than :data:`FULL_FRAME_SHARE` of the picture.
    """
    blocks = F.max_pool2d(changed.float(), CONTEXT, ceil_mode=True)  # (1, 1, h, w): blocks holding changes
    reach = LINK // CONTEXT // 2  # two blocks link when their reaches touch
    linked = _grow(blocks, reach) > 0
    # label each linked group with its highest block number: spread maxima within the group until nothing changes
    labels = torch.arange(1, linked.numel() + 1, dtype=torch.float32, device=linked.device).view(linked.shape) * linked
    while True:
        spread = _grow(labels, 1) * linked
        if torch.equal(spread, labels):
            break
        labels = spread
    labels = F.interpolate(labels * (blocks > 0), scale_factor=CONTEXT, mode="nearest")
    labels = labels[..., :changed.shape[-2], :changed.shape[-1]]
    boxes = [region_box(changed & (labels == label), padded, align, minimum, share=1.0)
             for label in labels[labels > 0].unique().tolist()]
    merged = True
    while merged:
        merged = False
        for i, j in ((i, j) for i in range(len(boxes)) for j in range(i + 1, len(boxes))):
            first, second = boxes[i], boxes[j]
            if first[0] < second[1] and second[0] < first[1] and first[2] < second[3] and second[2] < first[3]:
                boxes[i] = (min(first[0], second[0]), max(first[1], second[1]),
                            min(first[2], second[2]), max(first[3], second[3]))
                del boxes[j]
                merged = True
                break
    if sum((bottom - top) * (right - left) for top, bottom, left, right in boxes) > FULL_FRAME_SHARE * padded[0] * padded[1]:
        return None
    return sorted(boxes)


def paste(part: torch.Tensor, whole: torch.Tensor, box: Box | None) -> torch.Tensor:
    """``whole`` (unpadded) with ``part``, the (possibly padded) picture of ``box`` (:func:`region_box`; None: of the
    whole frame), put in; what lies beyond ``whole`` is dropped."""
    height, width = whole.shape[-2:]
    if box is None:
        return part[..., :height, :width]
    top, bottom, left, right = box
    whole = whole.clone()
    inside = whole[..., top:min(bottom, height), left:min(right, width)]
    inside.copy_(part[..., :inside.shape[-2], :inside.shape[-1]])
    return whole


def _grow(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Dilation of a (1, 1, H, W) float mask by a square of half-width ``radius`` (two 1-D passes)."""
    size = 2 * radius + 1
    mask = F.max_pool2d(mask, (1, size), stride=1, padding=(0, radius))
    return F.max_pool2d(mask, (size, 1), stride=1, padding=(radius, 0))


def _blur(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Box blur of a (1, 1, H, W) mask (two 1-D passes; zeros outside): a linear ramp across every edge."""
    size = 2 * radius + 1
    mask = F.avg_pool2d(mask, (1, size), stride=1, padding=(0, radius), count_include_pad=True)
    return F.avg_pool2d(mask, (size, 1), stride=1, padding=(radius, 0), count_include_pad=True)


def network_weight(active: torch.Tensor, grow: int = GROW) -> torch.Tensor:
    """(1, 1, H, W) float32 in [0, 1]: how much of the network's picture to use, from the ``active`` pixels (bool).

    1 up to ``grow`` pixels (Chebyshev distance) from an active pixel, falling linearly to exactly 0
    beyond ``grow + FEATHER`` pixels.
    """
    half = FEATHER // 2
    weight = _blur(_grow(active.float(), grow + half), half)
    # the blur's sums are not exact: snap what is meant to be 0 or 1
    return torch.where(weight < 1e-6, 0.0, torch.where(weight > 1 - 1e-6, 1.0, weight))


def layer_weight(layer: torch.Tensor, base: torch.Tensor, reach: torch.Tensor) -> torch.Tensor:
    """(1, 1, H, W) float32 in [0, 1]: how much of a layer's own in-between to put over the frame's picture.

    | parameter | type | meaning |
    |---|---|---|
    | `layer` | Tensor (1, 3, H, W) | the in-between of the layer's two drawings at its own time (:mod:`vsanimsplat.layers`) |
    | `base` | Tensor (1, 3, H, W) | the frame's picture: the in-between of the frame's two drawings, or its drawing |
    | `reach` | Tensor (1, 1, H, W) bool | where the layer can be |

    The layer's picture is used where it differs from ``base`` by more than :data:`LAYER_TOLERANCE` (as
    :func:`changed_pixels`) within ``reach``: where the layer is now and where ``base`` shows it at the wrong
    place; fully up to :data:`LAYER_GROW` pixels around, feathered over :data:`FEATHER` more. Elsewhere both
    pictures show the rest of the frame, and ``base`` (made from the closer drawings) is kept.
    """
    differs = changed_pixels(layer, base, (LAYER_TOLERANCE + 0.5) / 255) & reach
    return network_weight(differs, LAYER_GROW)
