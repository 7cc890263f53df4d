"""The robust statistics the rules rest on: the hand-written trend test against scipy's, and
the noise scale on trending and frozen curves."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from lossdoctor.stats import mad_sigma, noise_sigma, trend


@pytest.mark.parametrize("seed", range(6))
def test_trend_matches_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(150):
        n = int(rng.integers(3, 70))
        x = np.sort(rng.choice(np.arange(200.0), size=n, replace=rng.random() < 0.3))
        if np.ptp(x) == 0:
            continue
        # ties in y half the time (quantised metrics), a trend of random strength otherwise
        y = (rng.integers(0, 5, n).astype(float) if rng.random() < 0.5
             else rng.normal(size=n) + rng.normal() * x / 50)
        t = trend(x, y)
        ts = scipy_stats.theilslopes(y, x, alpha=0.95)
        assert t.slope == pytest.approx(ts.slope, abs=1e-12)
        assert (t.low, t.high) == pytest.approx((ts.low_slope, ts.high_slope), abs=1e-12)
        if np.ptp(y) > 0:
            k = scipy_stats.kendalltau(x, y)
            assert t.tau == pytest.approx(k.statistic, abs=1e-12)
            assert t.p == pytest.approx(k.pvalue, abs=1e-12)


def test_trend_flags() -> None:
    x = np.arange(20.0)
    assert trend(x, -x).decreasing and not trend(x, -x).increasing
    assert trend(x, x).increasing
    flat = trend(x, np.zeros(20))
    assert flat.p == 1.0 and not flat.decreasing and not flat.increasing
    assert trend(np.ones(5), np.arange(5.0)).p == 1.0  # no spread in x: no trend


def test_noise_sigma_ignores_a_linear_trend_and_outliers() -> None:
    rng = np.random.default_rng(0)
    noise = rng.normal(scale=0.1, size=5000)
    y = 3.0 - 0.001 * np.arange(5000) + noise
    y[::500] += 50.0  # outliers
    assert noise_sigma(y) == pytest.approx(0.1, rel=0.05)
    assert mad_sigma(noise) == pytest.approx(0.1, rel=0.05)


def test_noise_sigma_of_mostly_frozen_values_is_not_zero() -> None:
    y = np.full(100, 0.25)
    y[50] = 0.26
    assert noise_sigma(y) > 0
    assert noise_sigma(np.full(10, 1.0)) == 0.0
