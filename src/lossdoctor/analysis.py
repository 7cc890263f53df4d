"""Shape analyses shared by the rules, computed once per curve and cached on it.

All work on a `Curve`'s bins (at most `MAX_BINS`) and its smoothed `level`, so their cost does
not depend on how many points were logged; only `spikes` looks at every point (vectorised).
Values are in the curve's analysis units (`Curve.y`: lower is better, log10 when `Curve.log`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from lossdoctor.curve import Curve
from lossdoctor.stats import Trend, mad_sigma, noise_sigma, rolling_median, strided, trend

__all__ = [
    "Rise", "Shape", "Shifts", "Spikes", "Stretch", "Tail", "blocked_trend", "flat_stretches",
    "frozen", "ratio", "relative", "rise", "shape", "shifts", "spikes", "tail", "window_trend",
]

T = TypeVar("T")

#: Trend tests run on at most this many block medians (guards against autocorrelated noise
#: making a trend look significant).
MAX_BLOCKS = 30


def _cached(curve: Curve, key: str, make: Callable[[], T]) -> T:
    if key not in curve._cache:
        curve._cache[key] = make()
    return curve._cache[key]  # type: ignore[return-value]


def blocked_trend(x: np.ndarray, y: np.ndarray, max_blocks: int = MAX_BLOCKS) -> Trend:
    """Theil–Sen/Mann–Kendall trend of y(x) on at most `max_blocks` equal-count block
    medians (every point its own block when there are fewer)."""
    n = len(y)
    if n > max_blocks:
        edges = np.linspace(0, n, max_blocks + 1).astype(np.int64)
        size = int(np.min(np.diff(edges)))
        idx = edges[:-1, None] + np.arange(size)[None, :]
        return trend(np.median(x[idx], axis=1), np.median(y[idx], axis=1))
    return trend(x, y)


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
class Shape:
    """Where a curve starts, how low its level gets, where it ends, and where its initial fast
    descent turns into the slow phase.

    Attributes:
        best: bin index of the level's minimum; best_point: index (in the curve) of the best
            raw point near it.
        start, low, end: robust levels (first bins, the level's minimum, last bins).
        drop: start − low (progress made); rise: end − low (given back since the best).
        knee: bin index where the fast initial descent ends (max distance below the chord
            from the first to the last level, axes normalised); 0 when the curve never falls.
        scale: the curve's own scale for relative statements: max(drop, |low|, noise).
    """

    best: int
    best_point: int
    start: float
    low: float
    end: float
    drop: float
    rise: float
    knee: int
    scale: float


def _knee(x: np.ndarray, lv: np.ndarray) -> int:
    n = len(lv)
    if n < 5 or lv[0] <= lv[-1]:
        return 0
    xs = (x - x[0]) / max(x[-1] - x[0], 1e-300)
    ys = (lv - lv[-1]) / max(lv[0] - lv[-1], 1e-300)
    gap = (1.0 - xs) - ys  # chord from (0, 1) to (1, 0) minus the curve: > 0 below the chord
    return int(np.argmax(gap))


def shape(c: Curve) -> Shape:
    """The `Shape` of curve `c`."""

    def make() -> Shape:
        starts, bx, by = c.bins
        lv = c.level
        n = len(by)
        k = max(1, min(3, n // 20))
        best = int(np.argmin(lv))
        start = float(np.median(by[:k]))
        end = float(np.median(by[-max(1, min(10, n // 20)) :]))
        low = float(lv[best])
        half = c.level_window // 2 + 1
        lo_b, hi_b = max(0, best - half), min(n, best + half + 1)
        p0 = int(starts[lo_b])
        p1 = int(starts[hi_b]) if hi_b < n else len(c.y)
        best_point = p0 + int(np.argmin(c.y[p0:p1]))
        drop = start - low
        scale = max(drop, 0.0 if c.log else abs(low), c.noise, 1e-12)
        return Shape(best, best_point, start, low, end, drop, end - low, _knee(bx, lv), scale)

    return _cached(c, "shape", make)


@dataclass(frozen=True)
class Rise:
    """How a curve behaves after its best point.

    Attributes:
        shape: the curve's `Shape`.
        post: number of bins after the best.
        z: (end level − best level) / level noise: the rise in noise units.
        stayed: fraction of the second half of the bins after the best whose level is above
            best + 2 level-noise (1.0 = it stayed up).
        frac: rise / drop (how much of the progress was given back; inf when no drop).
        trend: trend of the bins after the best (None when fewer than 3).
        spread: robust σ of the points after the best around their local baseline (the band a
            noisy curve wanders in).
        robust_rise: median of the last 10% of the points minus the median of the points
            around the best (±2.5% of the curve): the rise without the bias of a minimum.
        raised: number of points after the best point above best + 2 level-noise (a rise
            carried by one last point is not a rise that stayed).
    """

    shape: Shape
    post: int
    z: float
    stayed: float
    frac: float
    trend: Trend | None
    spread: float
    robust_rise: float
    raised: int


def rise(c: Curve) -> Rise:
    """The `Rise` of curve `c` after its level's minimum."""

    def make() -> Rise:
        sh = shape(c)
        _starts, bx, by = c.bins
        sigma = max(c.level_noise, 1e-12 * max(1.0, abs(sh.low)))
        post_lv = c.level[sh.best + 1 :]
        late = post_lv[len(post_lv) // 2 :]
        stayed = float(np.mean(late > sh.low + 2 * sigma)) if len(late) else 0.0
        frac = sh.rise / sh.drop if sh.drop > 0 else np.inf
        tr = blocked_trend(bx[sh.best :], by[sh.best :]) if len(post_lv) >= 3 else None
        # the band the points wander in around their own level (not the level's own travel)
        spread = mad_sigma(strided(c.y[sh.best_point :] - c.baseline()[sh.best_point :]))
        n = len(c.y)
        h = max(2, n // 40)
        around = c.y[max(0, sh.best_point - h) : sh.best_point + h + 1]
        late = c.y[-max(1, n // 10) :]
        robust = float(np.median(late) - np.median(around))
        raised = int(np.count_nonzero(c.y[sh.best_point + 1 :] > sh.low + 2 * sigma))
        return Rise(sh, len(post_lv), float(sh.rise / sigma), stayed, float(frac), tr, spread,
                    robust, raised)

    return _cached(c, "rise", make)


@dataclass(frozen=True)
class Tail:
    """The last stretch of a curve, where plateau / oscillation / underfitting / converged are
    decided.

    Attributes:
        first: bin index where the tail starts.
        trend: trend of the tail (block medians; slope per axis unit with its 95% interval).
        change: slope × tail span: the change across the tail (negative = improving).
        rate_ratio: the tail's rate of improvement / the average rate before it (≈0 when the
            curve has flattened, ≈1 when it still falls as fast as it did on average).
        spread: robust σ of the tail's raw points around the tail trend.
        level: median of the tail bins.
        end: the tail's trend line (through `level` at the bins' median x) at its last bin:
            where the curve ends, robust to its last few points.
    """

    first: int
    trend: Trend
    change: float
    rate_ratio: float
    spread: float
    level: float
    end: float


def tail(c: Curve, first: int | None = None) -> Tail:
    """The `Tail` of `c`: by default its last third (at least 5 bins)."""
    starts, bx, by = c.bins
    n = len(by)
    if first is None:
        first = max(0, min(n - 5, n - max(5, n // 3)))

    def make() -> Tail:
        tx, ty = bx[first:], by[first:]
        tr = blocked_trend(tx, ty)
        span = float(tx[-1] - tx[0]) if len(tx) > 1 else 0.0
        level = float(np.median(ty))
        sh = shape(c)
        before = max(float(tx[0] - bx[0]), 1e-300)
        avg_rate = (sh.start - float(c.level[first])) / before
        rate_ratio = -tr.slope / avg_rate if avg_rate > 0 else np.inf
        p0 = int(starts[first])
        x_mid = float(np.median(tx))
        resid = c.y[p0:] - (level + tr.slope * (c.x[p0:] - x_mid))
        q75, q25 = np.percentile(resid, [75, 25])
        return Tail(first, tr, float(tr.slope * span), float(rate_ratio),
                    float((q75 - q25) / 1.349), level,
                    float(level + tr.slope * (float(tx[-1]) - x_mid)))

    return _cached(c, f"tail:{first}", make)


def window_trend(c: Curve, x0: float, x1: float) -> Trend | None:
    """Trend of `c`'s bins with x in [x0, x1] (None when fewer than 3 bins fall there)."""
    _starts, bx, by = c.bins
    m = (bx >= x0) & (bx <= x1)
    if np.count_nonzero(m) < 3:
        return None
    return blocked_trend(bx[m], by[m])


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
        by = c.bins[2]
        n = len(by)
        w = max(2, min(10, n // 15))
        if n < 2 * w + 2:
            return Shifts(np.zeros(0, dtype=np.int64), np.zeros(0))
        sigma = max(c.bin_noise, 1e-300)
        win = np.median(sliding_window_view(by, w), axis=1)  # win[i] = median(by[i:i+w])
        j = np.arange(w, n - w + 1)
        jump = win[j - w] - win[j]
        step = by[j - 1] - by[np.minimum(j + 1, n - 1)]
        ok = (jump > 6 * sigma) & (step > 0.6 * jump)
        at, size = j[ok], jump[ok]
        # one boundary per shift: the largest jump among neighbours closer than w
        keep: list[int] = []
        for i in range(len(at)):
            if keep and at[i] - at[keep[-1]] <= w:
                if size[i] > size[keep[-1]]:
                    keep[-1] = i
            else:
                keep.append(i)
        return Shifts(at[keep], size[keep])

    return _cached(c, "shifts", make)


@dataclass(frozen=True)
class Spikes:
    """Transient upward jumps, measured in the metric's own (linear) units — the view in which
    a practitioner sees a jump — against a local baseline and the local noise.

    Attributes:
        at: curve indices of each spike's peak.
        z: height of each peak above the baseline, in local-noise units.
        ratio: peak / baseline (NaN where the baseline is not positive).
        height: peak − baseline as a fraction of the curve's progress (its drop from the start
            to its best level, or |best level| when it made none).
        recovered: whether the curve came back near the baseline after each spike.
        core: number of consecutive points above the detection threshold.
        width: number of consecutive points around the peak still above half the threshold.
        tail: the 90th percentile of every point's height in noise units — about 1.3 for
            Gaussian noise, well above 2 when the noise itself is heavy-tailed (per-batch
            losses of a memorising model).
        heights: every point's height above the baseline in noise units (the z of all points,
            not only the peaks).
    """

    at: np.ndarray
    z: np.ndarray
    ratio: np.ndarray
    height: np.ndarray
    recovered: np.ndarray
    core: np.ndarray
    width: np.ndarray
    tail: float
    heights: np.ndarray


def _linear_baseline(c: Curve, vals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(baseline, local noise σ) of `vals` (the curve's oriented values) at every point."""
    n = len(vals)
    if not c.binned:
        base = rolling_median(vals, 11 if n >= 30 else 5 if n >= 7 else 3)
        dev = np.abs(vals - base)
        sig = 1.4826 * rolling_median(dev, 21 if n >= 42 else max(3, (n // 2) | 1))
    else:
        # bin medians in linear units: a median commutes with the monotone log transform
        starts, _bx, by = c.bins
        by_lin = 10.0**by if c.log else by
        edges = np.append(starts, n)
        counts = np.diff(edges)
        centre = (starts + edges[1:] - 1) / 2.0
        base = np.interp(np.arange(n), centre, rolling_median(by_lin, 3))
        dev = np.abs(vals - base)
        # local noise from at most 256 evenly spaced points of each bin
        size = int(np.min(counts))
        cols = np.unique(np.linspace(0, size - 1, min(size, 256)).astype(np.int64))
        block = dev[starts[:, None] + cols[None, :]]
        # … and the median of five neighbouring bins: a spike filling most of a short bin must
        # not count as that bin's noise
        bin_sig = 1.4826 * np.median(block, axis=1)
        if len(bin_sig) >= 5:
            bin_sig = rolling_median(bin_sig, 5)
        sig = np.repeat(bin_sig, counts)
    floor = 0.5 * noise_sigma(vals) + 1e-12 * float(np.median(np.abs(vals)) or 1.0)
    return base, np.maximum(sig, floor)


def spikes(c: Curve, *, threshold: float) -> Spikes:
    """Upward transient spikes of `c` in its own units (vectorised over all points)."""

    def make() -> Spikes:
        n = len(c.y)
        def empty(tail: float = 0.0, heights: np.ndarray | None = None) -> Spikes:
            return Spikes(np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0), np.zeros(0),
                          np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int64),
                          np.zeros(0, dtype=np.int64), tail,
                          np.zeros(n) if heights is None else heights)

        if n < 5:
            return empty()
        vals = c.v if c.direction == "min" else -c.v
        base, sig = _linear_baseline(c, vals)
        z = (vals - base) / sig
        tail = float(np.percentile(strided(z), 90))
        hot = z > threshold
        if not hot.any():
            return empty(tail, z)
        idx = np.flatnonzero(hot)
        # one event: runs of hot points joined by points still clearly elevated (above half the
        # threshold), so that a burst dipping once below the threshold is not two spikes, the
        # first "not recovered" because the second follows it
        elevated = z > threshold / 2
        gap = np.diff(idx) > 1
        if gap.any():
            outside = np.concatenate([[0], np.cumsum(~elevated)])  # non-elevated before i
            gap &= outside[idx[1:]] - outside[idx[:-1] + 1] > 0
        breaks = np.flatnonzero(gap)
        first = np.concatenate([[idx[0]], idx[breaks + 1]])
        last = np.concatenate([idx[breaks], [idx[-1]]])
        peaks = np.array([a + int(np.argmax(z[a : b + 1])) for a, b in zip(first, last,
                                                                           strict=True)])
        # a spike's width: the points around its peak still clearly elevated (above half the
        # detection threshold), not only the ones above the threshold itself
        width = np.empty(len(peaks), dtype=np.int64)
        ends = np.empty(len(peaks), dtype=np.int64)
        for k, p in enumerate(peaks):
            a = p
            while a > 0 and elevated[a - 1]:
                a -= 1
            b = p
            while b + 1 < n and elevated[b + 1]:
                b += 1
            width[k], ends[k] = b - a + 1, b
        # recovered: back within the noise shortly after the event's elevated stretch ends
        look = max(3, n // 100)
        recovered = np.array([b + 1 < n and bool(np.any(z[b + 1 : b + 1 + look] < 3.0))
                              for b in ends])
        with np.errstate(divide="ignore", invalid="ignore"):
            peak_ratio = np.where(base[peaks] > 0, vals[peaks] / base[peaks], np.nan)
        sh = shape(c)
        drop = abs(c.value(sh.start) - c.value(sh.low))
        scale = drop if drop > 0 else max(abs(c.value(sh.low)), 1e-300)
        height = (vals[peaks] - base[peaks]) / scale
        return Spikes(peaks, z[peaks], peak_ratio, height, recovered, last - first + 1, width,
                      tail, z)

    return _cached(c, f"spikes:{threshold}", make)


@dataclass(frozen=True)
class Stretch:
    """A stretch of bins [first, last] over which the level stays inside ±band of its median."""

    first: int
    last: int
    level: float

    @property
    def bins(self) -> int:
        return self.last - self.first + 1


def _median(a: np.ndarray) -> float:
    """``np.median`` of a short 1-D array without its per-call overhead (~5x faster under a few
    hundred values; the same number)."""
    s = np.sort(a)
    k = len(s) // 2
    return float(s[k]) if len(s) % 2 else float((s[k - 1] + s[k]) / 2)


def flat_stretches(c: Curve, band: float) -> list[Stretch]:
    """Maximal stretches where the level stays within a 2·`band` range, longest first (greedy
    left-to-right segmentation: each stretch ends at the first bin whose running range from the
    stretch's start exceeds 2·`band`)."""
    lv = c.level
    n = len(lv)
    out: list[Stretch] = []
    i = 0
    while i < n:
        seg = lv[i:]
        over = np.flatnonzero(np.maximum.accumulate(seg) - np.minimum.accumulate(seg) > 2 * band)
        j = i + (int(over[0]) if len(over) else len(seg))
        # the way out of a stall is not part of it: trim a descending end
        last = j - 1
        level = _median(lv[i:j])
        while last > i and lv[last] < level - band:
            last -= 1
        out.append(Stretch(i, last, _median(lv[i : last + 1])))
        i = j
    out.sort(key=lambda s: -s.bins)
    return out


def print_decimals(v: np.ndarray) -> int | None:
    """How many decimals the values were printed with (the smallest d ≤ 10 for which every
    value is a multiple of 10^-d), or None when they look like full-precision floats."""
    sample = strided(v[np.isfinite(v)], 2000)
    for d in range(11):
        scaled = sample * 10.0**d
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-6 * np.maximum(1.0, np.abs(scaled))):
            return d
    return None


def frozen(c: Curve) -> tuple[int, int] | None:
    """The longest run of consecutive points whose values do not change at all (learning has
    stopped: LR decayed to ~0, dead units), as (first, last) curve indices, or None.

    Values printed with fewer than 3 significant digits (``0.0001`` after memorisation) are
    not frozen, only rounded."""
    v = c.v
    if len(v) < 5:
        return None
    # equal to 5 significant digits: float32 round-off is not movement
    same = np.isclose(v[1:], v[:-1], rtol=1e-5, atol=0.0)
    if not same.any():
        return None
    edges = np.flatnonzero(np.diff(np.concatenate([[0], same.astype(np.int8), [0]])))
    first, last = edges[::2], edges[1::2]
    k = int(np.argmax(last - first))
    value = abs(float(v[first[k]]))
    d = print_decimals(v)
    if d is not None and (value == 0 or np.floor(np.log10(value)) + d + 1 < 3):
        return None
    return int(first[k]), int(last[k])
