"""``spike``: transient sharp jumps of a loss that recover (a bad batch, an LR too high for a
moment, an Adam update without warmup)."""

from __future__ import annotations

import numpy as np

from lossdoctor.analysis import spikes
from lossdoctor.findings import Finding
from lossdoctor.rules.context import Context

KIND = "spike"

#: Height of a spike above the local baseline, in local-noise units.
THRESHOLD = 8.0
#: For positive losses, the peak must also be this many times the baseline.
MIN_RATIO = 1.25
#: More spike events than this fraction of the points is heavy-tailed noise, not spikes.
MAX_FRACTION = 0.02


def check(ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    for c in ctx.losses:
        n = len(c)
        if n < 6:
            continue
        sp = spikes(c, threshold=THRESHOLD)
        if not len(sp.at):
            continue
        keep = sp.recovered & (sp.at >= 1)
        keep &= np.isnan(sp.ratio) | (sp.ratio >= MIN_RATIO)
        sched = ctx.schedule(c)
        if len(sched.rises):
            near_rise = np.array([
                sched.near(float(c.x[max(0, i - 2)]), float(c.x[min(n - 1, i + 1)]), "rise")
                for i in sp.at
            ])
            keep &= ~near_rise
        at = sp.at[keep]
        if not len(at) or len(at) > max(3, MAX_FRACTION * n):
            continue
        z = sp.z[keep]
        ratio = sp.ratio[keep]
        top = int(np.argmax(z))
        where = [c.point(int(i)).to_dict() for i in at[:20]]
        evidence = {
            "count": len(at),
            "at": where,
            "largest": {**c.point(int(at[top])).to_dict(), "value": float(c.v[at[top]]),
                        "times_baseline": None if np.isnan(ratio[top]) else float(ratio[top]),
                        "sigma": float(z[top])},
            "median_sigma": float(np.median(z)),
        }
        out.append(Finding(
            kind=KIND, metric=c.name, severity="warning", start=c.point(int(at[0])),
            end=c.point(int(at[-1])), evidence=evidence,
            confidence=float(min(1.0, 0.5 + np.median(z) / 40)),
        ))
    return out
