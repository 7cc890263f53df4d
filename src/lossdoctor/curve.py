"""`Curve`: a `Series` prepared once for every rule.

Preparation keeps the finite points in step order (a resumed run that steps back supersedes the
points it re-does), orients the values so that lower is better, chooses a log scale when a
positive metric spans orders of magnitude, and summarises long curves into at most
`MAX_BINS` equal-count bins (medians), so that rule cost does not grow with the log length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from scipy import ndimage

from lossdoctor.findings import Point, SeriesView
from lossdoctor.run import Series
from lossdoctor.stats import bin_reduce, mad_sigma, noise_sigma, rolling_median, strided

__all__ = ["MAX_BINS", "Curve", "pow10"]

#: Long curves are summarised into at most this many bins for trend and shape analysis.
MAX_BINS = 400


def pow10(y: float) -> float:
    """10**y for an analysis value on a log10 scale, inf where that overflows a float."""
    return 10.0**y if y < 308.25 else math.inf


def _suffix_keep(x: np.ndarray) -> np.ndarray:
    """Keep point i iff every later point has a larger x (later points supersede earlier ones
    at the same or a later position: duplicates and resumed runs)."""
    n = len(x)
    if n == 0:
        return np.zeros(0, dtype=bool)
    nxt = np.empty(n)
    nxt[:-1] = np.minimum.accumulate(x[::-1])[::-1][1:]
    nxt[-1] = np.inf
    return x < nxt


@dataclass
class Curve:
    """A metric series ready for analysis.

    Attributes:
        series: the source series.
        direction: ``"min"`` (lower is better) or ``"max"``.
        idx: indices in `series` of the points kept (finite, in order).
        x: their axis values (``series.axis``), strictly increasing.
        v: their values, as logged.
        y: analysis values: oriented so that lower is better, log10 when `log`.
        log: True when `y` is on a log10 scale.
        superseded: number of points dropped because a later point re-did their step.
    """

    series: Series
    direction: str
    idx: np.ndarray
    x: np.ndarray
    v: np.ndarray
    y: np.ndarray
    log: bool
    superseded: int = 0
    _cache: dict[str, object] = field(default_factory=dict, repr=False)

    @classmethod
    def from_series(cls, series: Series, direction: str | None = None) -> Curve:
        """Prepare `series`; `direction` defaults to the series' own (``"min"`` if unknown)."""
        d = direction or series.direction or "min"
        x_all = series.x
        finite = np.isfinite(series.values) & np.isfinite(x_all)
        idx = np.flatnonzero(finite)
        keep = _suffix_keep(x_all[idx])
        superseded = int(len(idx) - np.count_nonzero(keep))
        idx = idx[keep]
        x = x_all[idx]
        v = series.values[idx]
        oriented = v if d == "min" else -v
        log = False
        if len(v) >= 3 and np.all(oriented > 0):
            lo, hi = np.percentile(oriented, [1, 99])
            log = bool(lo > 0 and hi / lo >= 30.0)
        y = np.log10(oriented) if log else oriented.astype(np.float64)
        return cls(series=series, direction=d, idx=idx, x=x, v=v, y=y, log=log,
                   superseded=superseded)

    # -- basic properties -------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.series.name

    def __len__(self) -> int:
        return len(self.y)

    def point(self, i: int) -> Point:
        """The `Point` of the i-th kept point (negative indices count from the end)."""
        j = int(self.idx[i])
        s, e = self.series.steps[j], self.series.epochs[j]
        return Point(
            step=float(s) if np.isfinite(s) else None,
            epoch=float(e) if np.isfinite(e) else None,
            index=j,
        )

    def on_axis(self, axis: str) -> np.ndarray | None:
        """The kept points' positions on `axis` (``"step"`` or ``"epoch"``), or None when some
        point has none."""
        if axis not in ("step", "epoch"):
            return None
        a = (self.series.steps if axis == "step" else self.series.epochs)[self.idx]
        return a if len(a) and np.isfinite(a).all() else None

    def value(self, y: float) -> float:
        """Convert an analysis value back to the metric's own units (±inf beyond float range)."""
        o = pow10(y) if self.log else y
        return float(o if self.direction == "min" else -o)

    def at_x(self, x: float) -> int:
        """Index of the kept point nearest to axis position `x`."""
        i = int(np.searchsorted(self.x, x))
        if i <= 0:
            return 0
        if i >= len(self.x):
            return len(self.x) - 1
        return i if self.x[i] - x < x - self.x[i - 1] else i - 1

    def view(self) -> SeriesView:
        """The renderer's view of this curve: points, smoothed level and a robust y-range."""
        _starts, bx, _by = self.bins
        smooth = 10.0**self.level if self.log else (
            self.level if self.direction == "min" else -self.level)
        v = strided(self.v)
        if self.log:
            pos = v[v > 0]
            lo, hi = (float(np.min(pos)), float(np.max(pos))) if len(pos) else (1e-12, 1.0)
            q1, q99 = np.percentile(np.log10(pos), [1, 99]) if len(pos) else (0.0, 0.0)
            span = q99 - q1
            lo, hi = max(lo, pow10(q1 - 0.5 * span)), min(hi, pow10(q99 + 0.5 * span))
        else:
            q1, q50, q99 = np.percentile(v, [1, 50, 99])
            span = max(q99 - q1, 1e-12 * max(abs(q50), 1.0))
            lo = max(float(np.min(v)), q1 - 0.5 * span)
            hi = min(float(np.max(v)), q99 + 0.5 * span)
        best = int(np.argmin(self.y)) if self.series.direction is not None else None
        return SeriesView(
            name=self.name, axis=self.series.axis, x=self.x, values=self.v, smooth_x=bx,
            smooth=np.asarray(smooth, dtype=np.float64), log=self.log, low=float(lo),
            high=float(hi), best=best,
        )

    # -- noise and smoothing ----------------------------------------------------------------
    @cached_property
    def noise(self) -> float:
        """Point-to-point noise σ of `y` (robust to trend and outliers)."""
        return noise_sigma(self.y)

    @cached_property
    def bins(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(first point index of each bin, bin x, bin median y); one bin per point when the
        curve has at most `MAX_BINS` points."""
        starts, by = bin_reduce(self.y, MAX_BINS)
        if len(starts) == len(self.y):
            return starts, self.x.copy(), by
        ends = np.append(starts[1:], len(self.y))
        bx = self.x[(starts + ends - 1) // 2]
        return starts, bx, by

    @property
    def binned(self) -> bool:
        """True when bins summarise several points each."""
        return len(self.bins[0]) < len(self.y)

    @cached_property
    def points_per_bin(self) -> float:
        return len(self.y) / max(1, len(self.bins[0]))

    @cached_property
    def bin_noise(self) -> float:
        """Noise σ of a bin median (≈ 1.25 σ/√k for k points a bin, or measured on the bins
        when that is larger: slow wiggles the points' noise does not show)."""
        k = self.points_per_bin
        if k <= 1:
            return self.noise
        return float(max(1.2533 * self.noise / np.sqrt(k), noise_sigma(self.bins[2])))

    @cached_property
    def level_window(self) -> int:
        """Width (in bins) of the `level` smoother: about 5% of the curve, odd, at least 3
        once the curve has 12 bins (no smoothing below)."""
        n = len(self.bins[2])
        if n < 12:
            return 1
        return int(max(3, min(41, n // 20)) | 1)

    @cached_property
    def level(self) -> np.ndarray:
        """The curve's level at each bin: a running median (robust to spikes) followed by a
        running mean of the same width (removes the median's steps)."""
        by = self.bins[2]
        w = self.level_window
        if w == 1:
            return by.copy()
        med = rolling_median(by, w)
        return ndimage.uniform_filter1d(med, size=w, mode="nearest")

    @cached_property
    def level_noise(self) -> float:
        """Uncertainty σ of a `level` value (bin noise averaged over the smoother's width)."""
        return float(max(1.2533 * self.bin_noise / np.sqrt(self.level_window), 1e-300))

    def baseline(self) -> np.ndarray:
        """A lightly smoothed curve at every kept point, for point-level residuals (spikes): a
        running median of 11 points (5 below 30 points; wide enough that a spike of a few
        points does not drag it up), or the bin medians interpolated for binned curves."""
        _starts, bx, by = self.bins
        if not self.binned:
            n = len(self.y)
            return rolling_median(self.y, 11 if n >= 30 else 5 if n >= 7 else 3)
        return np.interp(self.x, bx, rolling_median(by, 3))

    def local_noise(self) -> np.ndarray:
        """Noise σ at every kept point, measured per bin (noise shrinks as a loss falls)."""
        if not self.binned:
            return np.full(len(self.y), self.noise)
        starts, _, _ = self.bins
        resid = self.y - self.baseline()
        edges = np.append(starts, len(self.y))
        size = int(np.min(np.diff(edges)))
        block = resid[starts[:, None] + np.arange(size)[None, :]]
        med = np.median(block, axis=1, keepdims=True)
        sig = 1.4826 * np.median(np.abs(block - med), axis=1)
        floor = max(0.25 * mad_sigma(resid), 1e-12)
        sig = np.maximum(sig, floor)
        return np.repeat(sig, np.diff(edges))
