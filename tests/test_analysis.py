"""Shape helpers of `lossdoctor.analysis` against plain reference implementations."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from lossdoctor.analysis import _median, flat_stretches


def _reference_stretches(lv: np.ndarray, band: float) -> list[tuple[int, int, float]]:
    """The greedy segmentation written point by point: extend while the range stays ≤ 2·band,
    then trim a descending end more than `band` below the stretch's median."""
    out, i, n = [], 0, len(lv)
    while i < n:
        j = i + 1
        while j < n and max(lv[i : j + 1]) - min(lv[i : j + 1]) <= 2 * band:
            j += 1
        last, level = j - 1, float(np.median(lv[i:j]))
        while last > i and lv[last] < level - band:
            last -= 1
        out.append((i, last, float(np.median(lv[i : last + 1]))))
        i = j
    return sorted(out, key=lambda s: -(s[1] - s[0] + 1))


@pytest.mark.parametrize("seed", range(40))
def test_flat_stretches_match_the_point_by_point_segmentation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    lv = [rng.standard_normal(n).cumsum(), np.round(rng.standard_normal(n), 1),
          np.exp(-np.arange(n) / 40) + 0.01 * rng.standard_normal(n)][seed % 3]
    band = 0.0 if seed % 5 == 0 else float(abs(rng.standard_normal())) * 0.3
    got = [(s.first, s.last, s.level) for s in flat_stretches(SimpleNamespace(level=lv), band)]
    assert got == _reference_stretches(lv, band)


def test_median_of_short_arrays_equals_numpy() -> None:
    rng = np.random.default_rng(1)
    for n in range(1, 60):
        a = rng.standard_normal(n)
        assert _median(a) == float(np.median(a))
