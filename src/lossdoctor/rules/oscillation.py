"""``oscillation``: a loss bounces around a floor with no downward trend, its amplitude large
against the progress it still makes (LR too high for the batch size, noisy data, tiny batches).
"""

from __future__ import annotations

import numpy as np

from lossdoctor.analysis import Tail, shape, tail
from lossdoctor.curve import Curve, pow10
from lossdoctor.findings import Finding
from lossdoctor.rules.context import Context
from lossdoctor.stats import noise_sigma

KIND = "oscillation"

#: The bouncing (robust σ around the tail's trend) must be at least this large relative to the
#: level …
MIN_RELATIVE_AMPLITUDE = 0.03
#: The bouncing must also be wide against the progress the whole run made: a small wobble at
#: the floor of a curve that came down a long way is convergence, not oscillation …
MIN_AMPLITUDE_VS_PROGRESS = 0.05
#: … and much wider for a per-step minibatch curve (`Context.minibatch`: a converged minibatch
#: loss is noisy by nature).
STEP_AMPLITUDE_VS_PROGRESS = 0.25
#: Bouncing by at least this fraction of the level is oscillation even across a climb bigger
#: than the bouncing (below it, such a climb is a rise that the rising kinds judge).
WILD_AMPLITUDE = 0.2
#: … provided the bouncing is from point to point: across a climb, the points' own noise
#: (second differences) must be at least this fraction of the spread around the trend (about 1
#: for white noise; a smooth climb's spread is its curvature, with little point noise).
POINT_NOISE = 0.5
#: A tail of fewer points has little power (Kendall's exact two-sided p for 5 points is at
#: least 0.017, and 0.083 with a single reversal): there a fall is judged at the 10% level.
SHORT_TAIL = 8
SHORT_TAIL_P = 0.1
#: Consecutive moves must change direction this often (bouncing, not a slow wave or a drift) …
MIN_DIRECTION_CHANGES = 0.3
#: … and the curve must go up at least this many times: one jump followed by a recovery is a
#: spike (or a step), not bouncing.
MIN_RISES = 2


def relative_amplitude(c: Curve, a: float, level: float) -> float:
    """Amplitude `a` (analysis units) relative to the level."""
    if c.log:
        return pow10(a) - 1.0
    lv = abs(c.value(level))
    return a / lv if lv > 0 else np.inf


def tail_of(c: Curve) -> Tail:
    """The stretch judged: the last third, or all but the first two points of a short curve."""
    n = len(c.bins[2])
    return tail(c, first=min(2, max(0, n - 5)) if n <= 12 else None)


def check(ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    for c in (ctx.train, ctx.val):
        if c is None or len(c) < 6:
            continue
        t = tail_of(c)
        p0 = int(c.bins[0][t.first])
        if c is ctx.train and (ctx.val_generalises
                               or ctx.val_improves(c, float(c.x[p0]), float(c.x[-1]))):
            continue  # minibatch noise of the training loss while the model generalises
        a = t.spread
        if a <= 0:
            continue
        # a downward trend that is small against the bouncing is not progress …
        falling = t.trend.decreasing or (
            len(c.y) - p0 < SHORT_TAIL and t.trend.p < SHORT_TAIL_P and t.trend.slope < 0)
        if falling and -t.change > a:
            continue
        # … but a curve still setting new lows late in the stretch, by more than it bounces,
        # is still progressing
        n_bins = len(c.bins[2])
        lv = c.level
        sh = shape(c)
        if (sh.best >= t.first + (n_bins - t.first) // 2
                and lv[t.first] - float(np.min(lv[t.first:])) > 2 * a):
            continue
        rel = relative_amplitude(c, a, t.level)
        # a climb across the stretch bigger than the bouncing is a rise (left to the rising
        # kinds), unless the bouncing is wild enough to be the story whatever the drift
        if t.change > a and (rel < WILD_AMPLITUDE or noise_sigma(c.y[p0:]) < POINT_NOISE * a):
            continue
        per_step = ctx.minibatch(c)
        if rel < MIN_RELATIVE_AMPLITUDE:
            continue
        progress = STEP_AMPLITUDE_VS_PROGRESS if per_step else MIN_AMPLITUDE_VS_PROGRESS
        if a < progress * sh.drop:
            continue
        # a curve that never came down by more than it bounces has no descent to leave out:
        # its bouncing is counted over all of it, not only over the tail
        pb = p0 if sh.drop > a else int(c.bins[0][min(2, n_bins - 1)])
        d = np.diff(c.y[pb:])
        flips = float(np.mean(np.sign(d[1:]) != np.sign(d[:-1]))) if len(d) > 2 else 0.0
        if flips < MIN_DIRECTION_CHANGES or int(np.count_nonzero(d > 0)) < MIN_RISES:
            continue
        evidence = {
            "amplitude": None if c.log else a,
            "relative_amplitude_pct": 100 * rel,
            "level": c.value(t.level),
            "tail_change_pct": 100 * (c.value(t.level + t.change) / c.value(t.level) - 1)
            if c.value(t.level) > 0 and c.direction == "min" else None,
            "trend_p": t.trend.p,
            "direction_changes_pct": 100 * flips,
            "low": float(np.min(c.v[p0:])),
            "high": float(np.max(c.v[p0:])),
        }
        out.append(Finding(
            kind=KIND, metric=c.name, severity="warning", start=c.point(p0), end=c.point(-1),
            evidence=evidence, confidence=float(min(1.0, 0.4 + rel)),
        ))
    return out
