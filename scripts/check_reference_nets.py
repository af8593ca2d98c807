#!/usr/bin/env python
"""Compare our PWC-Net and softsplat model with the authors' ``run.py`` files, on the same random weights.

The authors' weight files cannot be downloaded on every machine, so this checks the architecture and the
key mapping instead: it builds the authors' networks (from sniklaus/pytorch-pwc and
sniklaus/softmax-splatting ``run.py``, imported as they are, with our :func:`vsanimsplat.ops.correlation`
and :func:`vsanimsplat.ops.softsplat` standing in for their CuPy kernels, on the CPU), perturbs every
parameter randomly, renames their keys the way the published files name them (``module…``), loads that
state dict into ours with ``strict=True`` and compares the outputs on synthetic cartoon frames:

* PWC-Net: the bare network (flow at 1/4 resolution, sizes multiple of 64) on BGR pictures;
* softsplat: the whole released model (normalisation, flows, t = 0.3 and 0.5) against our
  :class:`~vsanimsplat.models.softsplat.SoftSplat` on RGB pictures.

Prints the largest absolute difference of each; exits with status 1 if one exceeds ``--tolerance``.
Nothing of the authors' code is copied. Get their files with e.g.
``git show HEAD:run.py > /tmp/pwc/run.py`` in a clone of each repository.

Usage: ``python scripts/check_reference_nets.py PWC_RUN_PY SOFTSPLAT_RUN_PY [--tolerance 1e-3]``
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import types
from pathlib import Path

import torch
import torch.nn.functional as F

from vsanimsplat.models.softsplat import SoftSplat
from vsanimsplat.nets.pwcnet import PWCNet
from vsanimsplat.ops import correlation, softsplat
from vsanimsplat.testing import Scene


def _stand_ins() -> None:
    """Modules ``correlation`` and ``softsplat`` with the authors' call signatures, on our operators."""
    corr = types.ModuleType("correlation")
    corr.FunctionCorrelation = lambda tenOne, tenTwo: correlation(tenOne, tenTwo, 4)  # noqa: N803
    sys.modules["correlation"] = corr
    splat = types.ModuleType("softsplat")
    splat.softsplat = lambda tenIn, tenFlow, tenMetric, strMode: softsplat(tenIn, tenFlow, tenMetric, mode=strMode)  # noqa: N803
    sys.modules["softsplat"] = splat
    torch.Tensor.cuda = lambda self, *args, **kwargs: self  # their grids are made with .cuda()


def _import(path: Path, name: str) -> types.ModuleType:
    argv, sys.argv = sys.argv, [str(path)]  # their module parses sys.argv on import
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.argv = argv
    return module


def _build_random(cls: type, seed: int, amplify: str = "") -> tuple[torch.nn.Module, dict[str, torch.Tensor]]:
    """An instance of their class (its loading of the published file skipped), every parameter perturbed
    (those whose names start with ``amplify`` also multiplied by 50), and its state dict under the
    published file's key names."""
    load, fetch = torch.nn.Module.load_state_dict, torch.hub.load_state_dict_from_url
    torch.nn.Module.load_state_dict = lambda self, *args, **kwargs: None
    torch.hub.load_state_dict_from_url = lambda *args, **kwargs: {}
    try:
        network = cls()
    finally:
        torch.nn.Module.load_state_dict, torch.hub.load_state_dict_from_url = load, fetch
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in network.named_parameters():
            parameter.add_(0.02 * torch.randn(parameter.shape, generator=generator))
            if amplify and name.startswith(amplify):
                parameter.mul_(50.0)
    state = {key.replace("net", "module"): value.clone() for key, value in network.state_dict().items()}
    return network.eval(), state


def _frames(width: int, height: int) -> tuple[torch.Tensor, torch.Tensor]:
    scene = Scene(width, height, seed=3, speed=3.0)
    return tuple(torch.from_numpy(scene.render(t)).permute(2, 0, 1)[None].float() for t in (0.0, 1.0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pwc", type=Path, help="run.py of sniklaus/pytorch-pwc")
    parser.add_argument("softsplat", type=Path, help="run.py of sniklaus/softmax-splatting")
    parser.add_argument("--tolerance", type=float, default=1e-3)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    _stand_ins()
    worst = 0.0

    theirs, state = _build_random(_import(args.pwc, "pwc_reference").Network, seed=1)
    ours = PWCNet().eval()
    ours.load_state_dict(state, strict=True)
    one, two = (x.flip(1) for x in _frames(192, 128))
    expected = theirs(one, two)
    difference = (ours.estimate(one, two) * 20.0 - expected).abs().max().item()
    print(f"pwcnet 192x128: flow up to {expected.abs().max().item():.3f} px, max |ours - theirs| = {difference:.2e}")
    worst = max(worst, difference)

    theirs, state = _build_random(_import(args.softsplat, "softsplat_reference").Network, seed=2,
                                  amplify="netFlow.netFirst.netMain.10.")  # flows of several pixels
    model = SoftSplat(states={"network": state})
    for width, height in ((160, 96), (133, 71)):
        one, two = _frames(width, height)
        pair = model.pair(model.prepare(one), model.prepare(two))
        # their estimate() pads to even sizes by replication, as our model does
        padded = [F.pad(x.flip(1), (0, width % 2, 0, height % 2), mode="replicate") for x in (one, two)]
        for t in (0.3, 0.5):
            expected = theirs(*padded, [t])[0][..., :height, :width].flip(1).clamp(0.0, 1.0)
            difference = (model.synthesize(pair, t).image - expected).abs().max().item()
            inside = ((expected > 0) & (expected < 1)).float().mean().item()
            print(f"softsplat {width}x{height} t={t}: flow up to {pair.flow01.abs().max().item():.2f} px, "
                  f"{inside:.0%} of the picture unclipped, max |ours - theirs| = {difference:.2e}")
            worst = max(worst, difference)
    print("OK" if worst <= args.tolerance else f"FAIL: {worst:.2e} > {args.tolerance}")
    return 0 if worst <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
