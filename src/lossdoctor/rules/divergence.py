"""``divergence``: the training loss explodes — it ends many times above both its best level
and where it started, and stays there, or runs off to NaN/inf after climbing. (A loss that climbs
back but stays below its starting level has regressed: that is ``loss_rising``.)"""

from __future__ import annotations

import numpy as np

from lossdoctor.curve import Curve
from lossdoctor.findings import Finding
from lossdoctor.rules.context import Context

KIND = "divergence"

#: A loss whose late level is this many times the higher of its best level and its first value
#: has exploded …
FACTOR = 5.0
#: … and so has one that ends two orders of magnitude above its best level.
ORDERS = 100.0


def _exploded(c: Curve, ref: float, best: float, late: np.ndarray,
              ) -> tuple[bool, float | None, float]:
    """(exploded and stayed up, factor over `ref` for positive losses, late level)."""
    high = float(np.median(late))
    factor: float | None = None
    if c.direction == "min" and c.value(ref) > 0 and c.value(best) > 0:
        ratio = c.value(high) / c.value(ref)
        exploded = ratio >= FACTOR or c.value(high) / c.value(best) >= ORDERS
        factor = ratio
    else:
        drop = max(float(c.y[0]) - float(np.min(c.level)), c.noise, 1e-300)
        exploded = (high - ref) >= FACTOR * drop
    # it stays up: a loss that merely swings that far is oscillating
    sustained = float(np.mean(late > ref + 0.5 * (high - ref))) >= 0.75
    return exploded and sustained, factor, high


def check(ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    # The training loss; a run without one (a GAN's two losses) has every loss checked.
    curves = [ctx.train] if ctx.train is not None and ctx.metric is None else ctx.losses
    for c in curves:
        if c is None or len(c) < 3:
            continue
        n = len(c)
        lowest = float(np.min(c.level))
        ref = max(float(c.y[0]), float(np.min(c.y[: max(1, n - n // 4)])))
        # the last quarter (its bins when binned: same medians, less work), or the last three
        # points for a run that blew up at its very end
        by = c.bins[2]
        quarter = by[-max(2, len(by) // 4) :] if c.binned else c.y[-max(2, n // 4) :]
        hit, factor, high = _exploded(c, ref, lowest, quarter)
        if not hit and n >= 6:
            hit, factor, high = _exploded(c, ref, lowest, c.y[-3:])
        s = c.series
        tail_bad = len(s) > c.idx[-1] + 1 and not np.isfinite(s.values[c.idx[-1] + 1 :]).any()
        k = max(2, n // 4)
        climbed_to_nan = tail_bad and c.y[-1] > c.y[max(0, n - 1 - k)] + 5 * c.noise
        if not (hit or climbed_to_nan):
            continue
        # the best before the blow-up: the last three points (fewer on a short curve) are left
        # out, so a dip in the unstable end is not offered as the checkpoint to restore
        ibest = int(np.argmin(c.y[: max(1, n - min(3, n // 4 + 1))]))
        best = c.point(ibest)
        out.append(Finding(
            kind=KIND, metric=c.name, severity="error", start=best, end=c.point(-1),
            evidence={
                "best_value": float(c.v[ibest]),
                "best_step": best.step,
                "best_epoch": best.epoch,
                "end_value": c.value(high),
                "max_value": float(np.max(c.v[ibest:])),
                "factor": factor,
                "ends_non_finite": bool(tail_bad),
            },
            confidence=0.9 if hit else 0.7,
        ))
    return out
