"""The quality benchmarks' footage and measures (vsanimsplat.evaluation)."""

import numpy as np
import pytest
import torch

from vsanimsplat.evaluation import DATA, EYE_MOTION, MemoFlow, eye_triplets, middlebury_triplets, quantise, ssim, to_tensor


def test_a_picture_becomes_the_same_tensor_from_either_layout():
    picture = np.random.default_rng(0).integers(0, 256, (3, 5, 7), dtype=np.uint8)
    channels_first = to_tensor(picture)
    assert channels_first.shape == (1, 3, 5, 7) and channels_first.dtype == torch.float32
    assert torch.equal(channels_first, to_tensor(picture.transpose(1, 2, 0)))
    assert channels_first.max() <= 1 and torch.equal(channels_first * 255, torch.from_numpy(picture)[None].float())


def test_quantise_rounds_to_8_bits_within_range():
    image = torch.tensor([-0.5, 0.0, 0.2, 1 / 255 * 0.49, 1.0, 2.0])
    assert torch.equal(quantise(image) * 255, torch.tensor([0.0, 0.0, 51.0, 0.0, 255.0, 255.0]))


def test_ssim_is_one_for_equal_pictures_and_falls_with_noise():
    picture = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    noisy = (picture + 0.2 * torch.randn(picture.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    assert ssim(picture, picture) == pytest.approx(1.0)
    assert ssim(picture, noisy) < 0.9


def test_memo_flow_runs_the_network_once_per_pair_of_pictures():
    calls = []

    class Flow(torch.nn.Module):
        def forward(self, img0, img1):
            calls.append(1)
            return img1 - img0

    flow = MemoFlow(Flow())
    a, b = torch.zeros(1, 3, 4, 4), torch.ones(1, 3, 4, 4)
    assert torch.equal(flow(a, b), flow(a.clone(), b.clone())) and len(calls) == 1
    flow(b, a)
    assert len(calls) == 2


@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "synfig-eye-48fps.mkv").is_file() or not (DATA / "middlebury").is_dir(),
                    reason=f"the shared footage is not in {DATA}")
def test_the_shared_footage_gives_its_triplets():
    middlebury = middlebury_triplets(DATA)
    assert len(middlebury) == 12 and all(t.middle.shape == t.frame0.shape == t.frame1.shape for t in middlebury)
    eye = eye_triplets(DATA)
    assert len(eye) == 96 and [t.middle_index for t in eye[:2]] == [1, 3]
    assert sum(EYE_MOTION[0] <= t.middle_index <= EYE_MOTION[1] for t in eye) == 55
