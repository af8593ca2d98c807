"""Picture and motion metrics (vsanimsplat.metrics)."""

import numpy as np
import pytest


def test_steps_cv_is_zero_for_even_motion_and_one_for_move_stop():
    from vsanimsplat.metrics import steps_cv

    even = np.array([[2.0 * k, 1.0 * k] for k in range(9)])
    move_stop = np.array([[4.0 * (k // 2), 0.0] for k in range(9)])
    assert steps_cv(even) == pytest.approx(0.0, abs=1e-12)
    assert steps_cv(move_stop) == pytest.approx(1.0, abs=0.15)
    assert steps_cv(np.vstack([even[:4], [[np.nan, np.nan]], even[5:]])) == pytest.approx(0.0, abs=1e-12)
    assert np.isnan(steps_cv(np.zeros((3, 2))))
    with pytest.raises(ValueError, match="points"):
        steps_cv(np.zeros(4))


def test_psnr_of_pooled_errors_equals_psnr_of_the_pictures_together():
    from vsanimsplat.metrics import psnr, psnr_of_mse

    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 256, (2, 3, 8, 8)).astype(np.float64)
    pooled = sum(float(((x - y) ** 2).sum()) for x, y in zip(a, b)) / a.size
    assert psnr_of_mse(pooled) == pytest.approx(psnr(a, b), abs=1e-9)
    assert psnr(a[0], a[0]) == psnr_of_mse(0.0) == float("inf")
    assert psnr_of_mse(255.0 ** 2) == pytest.approx(0.0) and psnr_of_mse(1.0, peak=10.0) == pytest.approx(20.0)
