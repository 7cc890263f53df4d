"""``divergence``: the training loss explodes — it ends many times above its best level (or
its first value) and stays there, or runs off to NaN/inf after climbing."""

from __future__ import annotations

import numpy as np

from lossdoctor.findings import Finding
from lossdoctor.rules.context import Context

KIND = "divergence"

#: A loss whose late level is this many times its best (or first) level has exploded.
FACTOR = 5.0


def check(ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    # The training loss; a run without one (a GAN's two losses) has every loss checked.
    curves = [ctx.train] if ctx.train is not None and ctx.metric is None else ctx.losses
    for c in curves:
        n = len(c)
        if c is None or n < 3:
            continue
        low = min(float(np.min(c.level)), float(c.y[0]))
        k = max(2, n // 4)
        # the last quarter: its bins when the curve is binned (same median, less work)
        by = c.bins[2]
        late = by[-max(2, len(by) // 4) :] if c.binned else c.y[-k:]
        high = float(np.median(late))
        ibest = int(np.argmin(c.y[: n - k])) if n > k else 0
        factor: float | None = None
        if c.direction == "min" and c.value(low) > 0:
            factor = c.value(high) / c.value(low)
            exploded = factor >= FACTOR
        else:
            drop = max(float(c.y[0]) - low, c.noise, 1e-300)
            exploded = (high - low) >= FACTOR * drop
        # it stays up: a loss that merely swings that far is oscillating
        sustained = float(np.mean(late > low + 0.5 * (high - low))) >= 0.75
        s = c.series
        tail_bad = len(s) > c.idx[-1] + 1 and not np.isfinite(s.values[c.idx[-1] + 1 :]).any()
        climbed_to_nan = tail_bad and n >= 3 and c.y[-1] > c.y[max(0, n - 1 - k)] + 5 * c.noise
        if not ((exploded and sustained) or climbed_to_nan):
            continue
        best = c.point(ibest)
        evidence = {
            "best_value": float(c.v[ibest]),
            "best_step": best.step,
            "best_epoch": best.epoch,
            "end_value": c.value(high),
            "max_value": float(np.max(c.v[ibest:])),
            "factor": factor,
            "ends_non_finite": bool(tail_bad),
        }
        out.append(Finding(
            kind=KIND, metric=c.name, severity="error", start=best, end=c.point(-1),
            evidence=evidence, confidence=0.9 if exploded and sustained else 0.7,
        ))
    return out
