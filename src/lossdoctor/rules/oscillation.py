"""``oscillation``: a loss bounces around a floor with no downward trend, its amplitude large
against the progress it makes (LR too high for the batch size, noisy data, tiny batches)."""

from __future__ import annotations

import numpy as np

from lossdoctor.analysis import Tail, shape, tail
from lossdoctor.curve import Curve
from lossdoctor.findings import Finding
from lossdoctor.rules.context import Context

KIND = "oscillation"

#: The bouncing must be at least this large relative to the level (2%) …
MIN_RELATIVE_AMPLITUDE = 0.02
#: … and this large against the progress made over the run.
MIN_AMPLITUDE_VS_PROGRESS = 0.15


def relative_amplitude(c: Curve, a: float, level: float) -> float:
    if c.log:
        return float(10.0**a - 1.0)
    lv = abs(c.value(level))
    return a / lv if lv > 0 else np.inf


def tail_of(c: Curve) -> Tail:
    n = len(c.bins[2])
    return tail(c, first=min(2, max(0, n - 5)) if n <= 12 else None)


def check(ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    for c in (ctx.train, ctx.val):
        if c is None or len(c) < 6:
            continue
        t = tail_of(c)
        p0 = int(c.bins[0][t.first])
        if c is ctx.train and ctx.val_improves(c, float(c.x[p0]), float(c.x[-1])):
            continue  # minibatch noise of the training loss while validation improves
        a = t.spread
        if a <= 0:
            continue
        sh = shape(c)
        progress = max(sh.drop, 0.0)
        trending = t.trend.decreasing
        rel = relative_amplitude(c, a, t.level)
        if trending or rel < MIN_RELATIVE_AMPLITUDE or a < MIN_AMPLITUDE_VS_PROGRESS * progress:
            continue
        d = np.diff(c.y[p0:])
        flips = float(np.mean(np.sign(d[1:]) != np.sign(d[:-1]))) if len(d) > 2 else 0.0
        if flips < 0.4:
            continue  # a slow wave or drift, not bouncing
        evidence = {
            "amplitude": a if not c.log else None,
            "relative_amplitude_pct": 100 * rel,
            "amplitude_vs_progress": a / progress if progress > 0 else None,
            "level": c.value(t.level),
            "tail_change_pct": None,
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
