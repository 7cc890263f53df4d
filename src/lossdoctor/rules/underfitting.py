"""``underfitting``: the loss is still clearly decreasing when the run ends (train longer, raise
the LR), or it never came down at all (raise the LR or the capacity)."""

from __future__ import annotations

from lossdoctor.analysis import relative, shape, tail
from lossdoctor.findings import Finding
from lossdoctor.rules.context import Context

KIND = "underfitting"

#: "Still clearly decreasing": the tail improves at least this fraction as fast as the run did
#: on average (no diminishing returns) …
MIN_RATE_RATIO = 0.4
#: … and would gain at least this much (relative) over another tail-length of training.
MIN_TAIL_GAIN = 0.05
#: "Never came down": the whole run improved less than this (relative).
MAX_PROGRESS = 0.1


def check(ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    for c in (ctx.train if ctx.train is not None else ctx.val,):
        if c is None or len(c) < 6:
            continue
        t = tail(c)
        sh = shape(c)
        gain = -relative(c, t.level, t.level + t.change)
        first = int(c.bins[0][t.first])
        if t.trend.decreasing and t.rate_ratio >= MIN_RATE_RATIO and gain >= MIN_TAIL_GAIN:
            out.append(Finding(
                kind=KIND, metric=c.name, severity="warning", start=c.point(first),
                end=c.point(-1),
                evidence={"form": "still_decreasing", "tail_gain_pct": 100 * gain,
                          "rate_vs_average": t.rate_ratio, "trend_p": t.trend.p,
                          "end_value": float(c.v[-1])},
                confidence=min(1.0, 0.5 + t.rate_ratio / 2),
            ))
            continue
        progress = -relative(c, sh.start, sh.low)
        if progress < MAX_PROGRESS and len(c) >= 8:
            out.append(Finding(
                kind=KIND, metric=c.name, severity="warning", start=c.point(0), end=c.point(-1),
                evidence={"form": "no_progress", "progress_pct": 100 * progress,
                          "start_value": c.value(sh.start), "end_value": c.value(sh.end)},
                confidence=0.6,
            ))
    return out
