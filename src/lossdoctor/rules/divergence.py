"""``divergence``: a loss explodes — it grows by a large factor over its best level and does not
come back (or runs off to non-finite values)."""

from __future__ import annotations

import numpy as np

from lossdoctor.analysis import ratio, rise
from lossdoctor.findings import Finding
from lossdoctor.rules.context import Context

KIND = "divergence"

#: A loss that ends this many times above its best level has exploded.
FACTOR = 5.0


def check(ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    for c in ctx.losses:
        if len(c) < 3:
            continue
        r = rise(c)
        sh = r.shape
        # How far the end level is above the best: a factor for positive losses, or the rise
        # in units of the progress made for losses that can be negative.
        factor = ratio(c, sh.low, sh.end)
        if factor is not None:
            exploded = factor >= FACTOR
        else:
            exploded = sh.rise >= FACTOR * max(sh.drop, c.noise)
        # Running off to NaN/inf right after the last finite points grew counts too.
        s = c.series
        tail_bad = len(s) > c.idx[-1] + 1 and not np.isfinite(s.values[c.idx[-1] + 1 :]).any()
        if not exploded and not tail_bad:
            continue
        if exploded and (r.z < 5 or r.stayed < 0.75 or r.post < 2):
            continue
        if not exploded:
            # ends in NaN/inf: did the finite points climb before it?
            k = max(3, len(c) // 10)
            last = c.y[-k:]
            if len(last) < 3 or last[-1] - np.min(c.y) < 5 * c.noise or last[-1] <= last[0]:
                continue
        best = c.point(sh.best_point)
        evidence = {
            "best_value": c.v[sh.best_point],
            "best_step": best.step,
            "best_epoch": best.epoch,
            "end_value": c.value(sh.end),
            "max_value": float(np.max(c.v[sh.best_point:])),
            "factor": factor,
            "rise_sigma": r.z,
            "ends_non_finite": bool(tail_bad),
        }
        out.append(Finding(
            kind=KIND, metric=c.name, severity="error", start=best, end=c.point(-1),
            evidence=evidence, confidence=min(1.0, 0.5 + r.stayed / 2),
        ))
    return out
