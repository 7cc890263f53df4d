"""``overfitting``: the validation loss rises after its minimum while the training loss keeps
falling — the generalisation gap widens."""

from __future__ import annotations

from lossdoctor.analysis import relative, rise, window_trend
from lossdoctor.findings import Finding
from lossdoctor.rules._rise import rise_pct, validation_rise
from lossdoctor.rules.context import Context

KIND = "overfitting"


def train_keeps_falling(ctx: Context, x0: float, x1: float) -> tuple[bool, float | None]:
    """Whether the training loss did not rise while the validation loss went from x0 to x1
    (validation axis), and the training loss's relative change over that stretch."""
    t, v = ctx.train, ctx.val
    if t is None or v is None:
        return False, None
    span = ctx.map_range(v, x0, x1, t)
    if span is None:
        return False, None
    x0, x1 = span
    i0, i1 = t.at_x(x0), t.at_x(x1)
    if i1 - i0 < 1:
        return False, None
    tr = window_trend(t, x0, x1)
    a = float(t.y[max(0, i0 - 1) : i0 + 2].mean())
    b = float(t.y[max(i0, i1 - 2) : i1 + 1].mean())
    change = relative(t, a, b)
    if tr is not None:
        return not tr.increasing and change < 0.05, change
    return change < 0.0, change


def check(ctx: Context) -> list[Finding]:
    v = ctx.val
    if v is None or len(v) < 4 or not validation_rise(v):
        return []
    r = rise(v)
    sh = r.shape
    best = v.point(sh.best_point)
    falling, train_change = train_keeps_falling(ctx, float(v.x[sh.best_point]), float(v.x[-1]))
    if not falling:
        return []
    evidence = {
        "best_step": best.step,
        "best_epoch": best.epoch,
        "best_value": v.v[sh.best_point],
        "end_value": v.value(sh.end),
        "last_value": float(v.v[-1]),
        "rise_pct": rise_pct(v),
        "rise_sigma": r.z,
        "train_change_pct": None if train_change is None else 100 * train_change,
        "evals_after_best": int(len(v) - 1 - sh.best_point),
    }
    return [Finding(
        kind=KIND, metric=v.name, severity="warning", start=best, end=v.point(-1),
        evidence=evidence, confidence=min(1.0, 0.4 + 0.1 * r.z),
    )]
