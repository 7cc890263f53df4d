"""``plateau``: progress stalls for a long stretch well above where the loss later goes or
should go (stuck from the start, stuck then breaking out, frozen, or a validation loss that
stopped improving while the training loss still falls)."""

from __future__ import annotations

import numpy as np

from lossdoctor.analysis import flat_stretches, frozen, relative, shape, shifts, window_trend
from lossdoctor.curve import Curve
from lossdoctor.findings import Finding
from lossdoctor.rules.context import Context

KIND = "plateau"

#: A stretch must cover at least this fraction of the run to count as a plateau.
MIN_FRACTION = 0.25


def _finding(c: Curve, first: int, last: int, form: str, **evidence: object) -> Finding:
    return Finding(
        kind=KIND, metric=c.name, severity="warning", start=c.point(first), end=c.point(last),
        evidence={"form": form, "points": last - first + 1,
                  "level": float(np.median(c.v[first : last + 1])), **evidence},
        confidence=0.7,
    )


def _frozen(c: Curve) -> Finding | None:
    fz = frozen(c)
    if fz is None:
        return None
    a, b = fz
    if b - a + 1 < max(5, MIN_FRACTION * len(c)):
        return None
    return _finding(c, a, b, "frozen", value=float(c.v[a]))


def _stalled(ctx: Context, c: Curve) -> Finding | None:
    starts, bx, by = c.bins
    n = len(by)
    if n < 8:
        return None
    sh = shape(c)
    band = max(3 * c.bin_noise, 0.05 * max(sh.drop, 0.0))
    for st in flat_stretches(c, band)[:3]:
        if st.bins < max(4, MIN_FRACTION * n):
            break
        later_low = float(np.min(c.smooth[st.last :])) if st.last < n - 1 else st.level
        from_start = st.first <= max(1, n // 20)
        gap = st.level - later_low
        well_above = gap > max(6 * c.bin_noise, 0.3 * max(sh.drop, 0.0)) and relative(
            c, later_low, st.level) > 0.1
        p_first, p_last = int(starts[st.first]), int(
            starts[st.last + 1] - 1 if st.last + 1 < n else len(c) - 1)
        if well_above:
            # Left by a schedule drop (LR step, sudden level shift)? Then only a stall from the
            # very start counts (a healthy staircase descends in every stage).
            x_exit0 = float(bx[st.last])
            x_exit1 = float(bx[min(n - 1, st.last + 2)])
            sched = ctx.schedule(c)
            by_schedule = sched.near(x_exit0, x_exit1, "drop") or bool(
                np.any(np.abs(shifts(c).at - (st.last + 1)) <= 1))
            if not by_schedule or from_start:
                return _finding(c, p_first, p_last, "stalled_then_dropped",
                                later_low=c.value(later_low))
        elif from_start and st.last >= n - 2:
            # never made progress at all
            return _finding(c, p_first, p_last, "no_progress", start_value=c.value(sh.start))
    return None


def _val_stalled(ctx: Context) -> Finding | None:
    v, t = ctx.val, ctx.train
    if v is None or t is None or len(v) < 6 or v.series.axis != t.series.axis:
        return None
    n = len(v)
    first = max(0, n - max(4, int(0.4 * n)))
    x0, x1 = float(v.x[first]), float(v.x[-1])
    tv = window_trend(v, x0, x1)
    tt = window_trend(t, x0, x1)
    if tv is None or tt is None or tv.decreasing or tv.increasing or not tt.decreasing:
        return None
    # the training loss improves substantially over the same window
    i0, i1 = t.at_x(x0), t.at_x(x1)
    t_change = relative(t, float(np.median(t.y[i0 : i0 + 3])),
                        float(np.median(t.y[i1 - 2 : i1 + 1])))
    v_change = relative(v, float(np.median(v.y[first : first + 2])), float(np.median(v.y[-2:])))
    if t_change > -0.15 or abs(v_change) > 0.05:
        return None
    return _finding(v, first, n - 1, "validation_stalled", train_change_pct=100 * t_change,
                    val_change_pct=100 * v_change)


def check(ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    for c in (ctx.train, ctx.val):
        if c is None or len(c) < 5:
            continue
        f = _frozen(c) or _stalled(ctx, c)
        if f is not None:
            out.append(f)
    if not any(f.metric == getattr(ctx.val, "name", None) for f in out):
        f = _val_stalled(ctx)
        if f is not None:
            out.append(f)
    return out
