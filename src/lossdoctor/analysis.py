"""Shape analyses shared by the rules, computed once per curve and cached on it.

All work on a `Curve`'s bins (at most `MAX_BINS`), so their cost does not depend on how many
points were logged; only `spikes` looks at every point (vectorised, O(n)).
Values are in the curve's analysis units (`Curve.y`: lower is better, log10 when `Curve.log`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from lossdoctor.curve import Curve
from lossdoctor.stats import Trend, trend

__all__ = ["Rise", "Shape", "Shifts", "Spikes", "Tail", "rise", "shape", "shifts", "spikes",
           "tail", "window_trend"]


T = TypeVar("T")


def _cached(curve: Curve, key: str, make: Callable[[], T]) -> T:
    if key not in curve._cache:
        curve._cache[key] = make()
    return curve._cache[key]  # type: ignore[return-value]


def _edge(n: int) -> int:
    """How many bins make the robust start/end level of a curve of n bins."""
    return max(1, min(10, n // 20))


@dataclass(frozen=True)
class Shape:
    """Where a curve starts, how low it gets and where it ends.

    Attributes:
        best: bin index of the smoothed minimum; best_point: index (in the curve) of the
            best raw point within that bin's neighbourhood.
        start, low, end: robust levels (first bins, smoothed minimum, last bins).
        drop: start − low (progress made); rise: end − low (given back since the best).
        scale: the curve's own scale for relative statements: max(drop, |low|, noise).
    """

    best: int
    best_point: int
    start: float
    low: float
    end: float
    drop: float
    rise: float
    scale: float


def shape(c: Curve) -> Shape:
    """The `Shape` of curve `c`."""

    def make() -> Shape:
        starts, _bx, by = c.bins
        sm = c.smooth
        n = len(by)
        k = _edge(n)
        best = int(np.argmin(sm))
        start = float(np.median(by[:k]))
        end = float(np.median(by[-k:]))
        low = float(sm[best])
        # The best raw point near the smoothed minimum (what one would restore).
        lo_b, hi_b = max(0, best - 1), min(n, best + 2)
        p0 = int(starts[lo_b])
        p1 = int(starts[hi_b]) if hi_b < n else len(c.y)
        best_point = p0 + int(np.argmin(c.y[p0:p1]))
        drop = start - low
        scale = max(drop, abs(low) if not c.log else 0.0, c.noise, 1e-12)
        return Shape(best, best_point, start, low, end, drop, end - low, scale)

    return _cached(c, "shape", make)


@dataclass(frozen=True)
class Rise:
    """How a curve behaves after its best point.

    Attributes:
        shape: the curve's `Shape`.
        post: number of bins after the best.
        z: (end level − best level) / bin noise: the rise in noise units.
        above: fraction of the bins after the best that lie above best + 2 noise.
        frac: rise / drop (how much of the progress was given back; inf when no drop).
        trend: trend of the bins after the best (None when fewer than 3).
    """

    shape: Shape
    post: int
    z: float
    above: float
    frac: float
    trend: Trend | None


def rise(c: Curve) -> Rise:
    """The `Rise` of curve `c` after its smoothed minimum."""

    def make() -> Rise:
        sh = shape(c)
        _starts, bx, by = c.bins
        post_y = by[sh.best + 1 :]
        sigma = max(c.bin_noise, 1e-12 * max(1.0, abs(sh.low)))
        z = sh.rise / sigma
        above = float(np.mean(post_y > sh.low + 2 * sigma)) if len(post_y) else 0.0
        frac = sh.rise / sh.drop if sh.drop > 0 else np.inf
        tr = trend(bx[sh.best :], by[sh.best :]) if len(post_y) >= 3 else None
        return Rise(sh, len(post_y), float(z), above, float(frac), tr)

    return _cached(c, "rise", make)


@dataclass(frozen=True)
class Tail:
    """The last stretch of a curve, where plateau / oscillation / underfitting / converged are
    decided.

    Attributes:
        first: bin index where the tail starts.
        trend: trend of the tail bins (slope per axis unit with its 95% interval).
        change: slope × tail span: the expected change across the tail (negative = improving).
        change_low, change_high: its 95% interval.
        avg_rate: the average rate of progress over the whole curve up to the tail start
            ((start − tail level)/span; positive = improving), for diminishing-returns tests.
        rate_ratio: tail improvement rate / avg_rate (≈0 when flattened, ≈1 when the curve
            is still falling as fast as on average).
        spread: robust spread (IQR) of the tail's raw points around the tail trend.
        level: median of the tail bins.
    """

    first: int
    trend: Trend
    change: float
    change_low: float
    change_high: float
    avg_rate: float
    rate_ratio: float
    spread: float
    level: float


def tail(c: Curve, first: int | None = None) -> Tail:
    """The `Tail` of `c`: by default its last third (at least 5 bins)."""
    starts, bx, by = c.bins
    n = len(by)
    if first is None:
        first = max(0, min(n - 5, n - max(5, n // 3)))
    key = f"tail:{first}"

    def make() -> Tail:
        tx, ty = bx[first:], by[first:]
        tr = trend(tx, ty)
        span = float(tx[-1] - tx[0]) if len(tx) > 1 else 0.0
        change = tr.slope * span
        level = float(np.median(ty))
        sh = shape(c)
        x0 = float(bx[0])
        avg_rate = (sh.start - level) / max(float(tx[0] + tx[-1]) / 2 - x0, 1e-12)
        tail_rate = -tr.slope
        rate_ratio = tail_rate / avg_rate if avg_rate > 0 else np.inf
        p0 = int(starts[first])
        py, px = c.y[p0:], c.x[p0:]
        resid = py - (level + tr.slope * (px - np.median(tx)))
        q75, q25 = np.percentile(resid, [75, 25]) if len(resid) else (0.0, 0.0)
        return Tail(
            first=first,
            trend=tr,
            change=float(change),
            change_low=float(tr.low * span) if np.isfinite(tr.low) else -np.inf,
            change_high=float(tr.high * span) if np.isfinite(tr.high) else np.inf,
            avg_rate=float(avg_rate),
            rate_ratio=float(rate_ratio),
            spread=float(q75 - q25),
            level=level,
        )

    return _cached(c, key, make)


def window_trend(c: Curve, x0: float, x1: float) -> Trend | None:
    """Trend of `c`'s bins with x in [x0, x1] (None when fewer than 3 bins fall there)."""
    _starts, bx, by = c.bins
    m = (bx >= x0) & (bx <= x1)
    if np.count_nonzero(m) < 3:
        return None
    return trend(bx[m], by[m])


@dataclass(frozen=True)
class Shifts:
    """Sudden level drops of a curve (what a step decay, ReduceLROnPlateau or an epoch
    boundary in fine-tuning looks like): bin indices where the level falls by far more than
    the noise within one or two bins and stays down."""

    at: np.ndarray
    size: np.ndarray


def shifts(c: Curve) -> Shifts:
    """Sudden downward level shifts of `c`."""

    def make() -> Shifts:
        _starts, _bx, by = c.bins
        n = len(by)
        w = max(2, min(10, n // 15))
        if n < 2 * w + 2:
            return Shifts(np.zeros(0, dtype=int), np.zeros(0))
        sigma = max(c.bin_noise, 1e-12)
        # left/right medians of w bins around each boundary j (between j-1 and j)
        from numpy.lib.stride_tricks import sliding_window_view

        win = np.median(sliding_window_view(by, w), axis=1)  # win[i] = median(by[i:i+w])
        j = np.arange(w, n - w + 1)
        left, right = win[j - w], win[j]
        jump = left - right
        step = by[j - 1] - by[np.minimum(j + 1, n - 1)]
        ok = (jump > 6 * sigma) & (step > 0.6 * jump)
        at, size = j[ok], jump[ok]
        # keep local maxima of the jump (one boundary per shift)
        keep: list[int] = []
        for i in range(len(at)):
            if i and at[i] - at[i - 1] <= w and keep and size[i] <= size[keep[-1]]:
                continue
            if keep and at[i] - at[keep[-1]] <= w:
                keep[-1] = i
            else:
                keep.append(i)
        return Shifts(at[keep], size[keep])

    return _cached(c, "shifts", make)


@dataclass(frozen=True)
class Spikes:
    """Transient jumps: points far above the local baseline (in local-noise units) that
    recover within a few points.

    Attributes:
        at: curve indices of each spike's peak.
        z: height of each peak in local-noise units.
        ratio: peak / baseline in the metric's own units (for positive losses), else NaN.
        recovered: whether the curve came back to the baseline after each spike.
        width: number of consecutive points above threshold.
    """

    at: np.ndarray
    z: np.ndarray
    ratio: np.ndarray
    recovered: np.ndarray
    width: np.ndarray


def spikes(c: Curve, *, threshold: float = 8.0) -> Spikes:
    """Upward transient spikes of `c` (vectorised over all points)."""
    key = f"spikes:{threshold}"

    def make() -> Spikes:
        n = len(c.y)
        empty = Spikes(*(np.zeros(0, dtype=int),) * 1, np.zeros(0), np.zeros(0),
                       np.zeros(0, dtype=bool), np.zeros(0, dtype=int))
        if n < 5:
            return empty
        base = c.baseline()
        sig = c.local_noise() if c.binned else np.full(n, max(c.noise, 1e-12))
        z = (c.y - base) / np.maximum(sig, 1e-12)
        hot = z > threshold
        if not hot.any():
            return empty
        # group consecutive hot points into events
        idx = np.flatnonzero(hot)
        breaks = np.flatnonzero(np.diff(idx) > 1)
        starts = np.concatenate([[idx[0]], idx[breaks + 1]])
        ends = np.concatenate([idx[breaks], [idx[-1]]])
        peaks = np.array([s + int(np.argmax(z[s : e + 1])) for s, e in zip(starts, ends,
                                                                           strict=True)])
        width = ends - starts + 1
        look = max(3, int(0.01 * n))
        recovered = np.array([
            e + 1 < n and bool(np.any(z[e + 1 : e + 1 + look] < 3.0)) for e in ends
        ])
        if c.direction == "min" and not c.log and np.all(c.v > 0):
            ratio = c.v[peaks] / np.maximum(base[peaks], 1e-300)
        elif c.log:
            ratio = 10.0 ** (c.y[peaks] - base[peaks])
        else:
            ratio = np.full(len(peaks), np.nan)
        return Spikes(peaks, z[peaks], ratio, recovered, width)

    return _cached(c, key, make)


def ratio(c: Curve, a: float, b: float) -> float | None:
    """b / a in the metric's own units, for a positive lower-is-better metric; else None.

    `a` and `b` are analysis levels (`Curve.y` units)."""
    if c.direction != "min":
        return None
    va, vb = c.value(a), c.value(b)
    if va <= 0 or vb <= 0:
        return None
    return vb / va


def relative(c: Curve, a: float, b: float) -> float:
    """(b − a) relative to the curve's size: the fraction b/a − 1 for a positive loss, else
    the change in units of the curve's own scale (its drop or |level|)."""
    r = ratio(c, a, b)
    if r is not None:
        return r - 1.0
    return (b - a) / shape(c).scale


@dataclass(frozen=True)
class Stretch:
    """A stretch of bins [first, last] over which the smoothed curve stays inside ±band of its
    level (no progress)."""

    first: int
    last: int
    level: float
    band: float

    @property
    def bins(self) -> int:
        return self.last - self.first + 1


def flat_stretches(c: Curve, band: float) -> list[Stretch]:
    """Maximal stretches where the smoothed curve stays within ±`band` of the stretch's
    running median, longest first (greedy left-to-right segmentation)."""
    sm = c.smooth
    n = len(sm)
    out: list[Stretch] = []
    i = 0
    while i < n:
        j = i + 1
        lo = hi = sm[i]
        while j < n:
            lo2, hi2 = min(lo, sm[j]), max(hi, sm[j])
            if hi2 - lo2 > 2 * band:
                break
            lo, hi = lo2, hi2
            j += 1
        out.append(Stretch(i, j - 1, float(np.median(sm[i:j])), band))
        i = j if j - i > 1 else i + 1
    out.sort(key=lambda s: -s.bins)
    return out


def frozen(c: Curve) -> tuple[int, int] | None:
    """The longest run of consecutive points whose values do not change at all (learning has
    stopped: LR decayed to ~0, dead units), as (first, last) curve indices, or None."""
    v = c.v
    if len(v) < 5:
        return None
    same = np.isclose(np.diff(v), 0.0, rtol=1e-7, atol=0.0)
    if not same.any():
        return None
    idx = np.flatnonzero(np.diff(np.concatenate([[0], same.astype(np.int8), [0]])))
    starts, ends = idx[::2], idx[1::2]
    k = int(np.argmax(ends - starts))
    return int(starts[k]), int(ends[k])
