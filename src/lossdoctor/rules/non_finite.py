"""``non_finite``: NaN or ±inf values appear in a loss, a metric or the gradient norm."""

from __future__ import annotations

import numpy as np

from lossdoctor.findings import Finding, Point
from lossdoctor.rules.context import Context
from lossdoctor.run import Series

KIND = "non_finite"


def _point(s: Series, i: int) -> Point:
    step, epoch = s.steps[i], s.epochs[i]
    return Point(float(step) if np.isfinite(step) else None,
                 float(epoch) if np.isfinite(epoch) else None, int(i))


def check(ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    names = [ctx.metric] if ctx.metric else list(ctx.run.series)
    for name in names:
        s = ctx.run.series.get(name)
        if s is None or name == "lr" or (s.direction is None and name != "grad_norm"):
            continue
        bad = ~np.isfinite(s.values)
        if not bad.any():
            continue
        where = np.flatnonzero(bad)
        first, last = int(where[0]), int(where[-1])
        finite_before = np.flatnonzero(~bad[:first])
        after = ~bad[last + 1 :]
        vals = s.values[bad]
        evidence = {
            "count": len(where),
            "points": len(s),
            "nan": int(np.count_nonzero(np.isnan(vals))),
            "posinf": int(np.count_nonzero(vals == np.inf)),
            "neginf": int(np.count_nonzero(vals == -np.inf)),
            "first": _point(s, first).to_dict(),
            "last_finite_value": float(s.values[finite_before[-1]]) if len(finite_before)
            else None,
            "from_start": first == 0,
            "recovered": bool(after.any()),
        }
        is_loss = s.direction == "min" or name == "grad_norm"
        out.append(Finding(
            kind=KIND, metric=name, severity="error" if is_loss else "warning",
            start=_point(s, first), end=_point(s, last), evidence=evidence,
            confidence=1.0,
        ))
    return out
