"""``loss_up_acc_up``: the validation loss rises while the validation accuracy (or the task
metric: F1, WER …) improves or holds — over-confidence on a few samples, not a worse model."""

from __future__ import annotations

import numpy as np

from lossdoctor.analysis import rise
from lossdoctor.findings import Finding
from lossdoctor.rules._rise import rise_pct, validation_rise
from lossdoctor.rules.context import Context

KIND = "loss_up_acc_up"


def check(ctx: Context) -> list[Finding]:
    v, a = ctx.val, ctx.val_metric
    if v is None or a is None or len(v) < 4 or len(a) < 3 or not validation_rise(v):
        return []
    sh = rise(v).shape
    span = ctx.map_range(v, float(v.x[sh.best_point]), float(v.x[-1]), a)
    if span is None:
        return []
    x_best, x_end = span
    ia = a.at_x(x_best)
    if x_end <= x_best or abs(a.x[ia] - x_best) > 0.5 * (x_end - x_best):
        return []  # no metric evaluation near the loss minimum
    k = max(1, min(3, (len(a) - ia) // 3))
    at_best = float(np.median(a.y[max(0, ia - 1) : ia + 2]))
    at_end = float(np.median(a.y[-k:]))
    # "holds": within its own noise, or one step of its granularity (an accuracy over n samples
    # moves in steps of 1/n)
    d = np.abs(np.diff(a.y))
    step = float(np.min(d[d > 0])) if np.any(d > 0) else 0.0
    tolerance = max(2 * a.noise, step, 1e-12)
    if at_end - at_best > tolerance:
        return []  # the metric got worse too: a worse model (overfitting), not calibration
    best = v.point(sh.best_point)
    evidence = {
        "metric": a.name,
        "best_step": best.step,
        "best_epoch": best.epoch,
        "loss_at_best": v.v[sh.best_point],
        "loss_end": v.value(sh.end),
        "loss_rise_pct": rise_pct(v),
        "metric_at_loss_best": a.value(at_best),
        "metric_end": a.value(at_end),
        "metric_best": float(a.v[int(np.argmin(a.y))]),
        "metric_best_step": a.point(int(np.argmin(a.y))).step,
        "metric_best_epoch": a.point(int(np.argmin(a.y))).epoch,
        "metric_direction": a.direction,
        # "held": within the tolerance above (possibly a little worse); "improved": beyond it
        "metric_trend": "improved" if at_best - at_end > tolerance else "held",
    }
    return [Finding(
        kind=KIND, metric=v.name, severity="warning", start=best, end=v.point(-1),
        evidence=evidence, confidence=0.8 if at_end < at_best else 0.6,
    )]
