"""``converged`` (informational): the loss settled after a real decrease; nothing to fix."""

from __future__ import annotations

from lossdoctor.analysis import relative, shape, tail
from lossdoctor.findings import Finding
from lossdoctor.rules.context import Context

KIND = "converged"


def check(ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    for c in (ctx.train, ctx.val):
        if c is None or len(c) < 5:
            continue
        sh = shape(c)
        t = tail(c)
        improved = -relative(c, sh.start, sh.low)
        if improved < 0.1 or sh.drop < 5 * c.level_noise:
            continue
        if t.trend.decreasing and t.rate_ratio >= 0.25:
            continue
        first = int(c.bins[0][t.first])
        out.append(Finding(
            kind=KIND, metric=c.name, severity="info", start=c.point(first), end=c.point(-1),
            evidence={"improvement_pct": 100 * improved, "final_value": c.value(t.level),
                      "best_value": float(c.v[sh.best_point])},
            confidence=0.8,
        ))
    return out
