"""``loss_rising``: a loss climbs after its minimum and stays up — optimisation instability,
typically the LR too high late in training (not proof of overfitting)."""

from __future__ import annotations

import numpy as np

from lossdoctor.analysis import rise
from lossdoctor.curve import Curve
from lossdoctor.findings import Finding
from lossdoctor.rules._rise import persistent_rise, rise_pct
from lossdoctor.rules.context import Context
from lossdoctor.rules.overfitting import train_keeps_falling

KIND = "loss_rising"


def _candidates(ctx: Context) -> list[Curve]:
    out = []
    if ctx.train is not None:
        out.append(ctx.train)
    v = ctx.val
    if v is not None:
        # A rising validation loss is overfitting when the training loss keeps falling; it is
        # reported here when there is no training loss or it rose too.
        if ctx.train is None:
            out.append(v)
        else:
            r = rise(v)
            falling, _ = train_keeps_falling(ctx, float(v.x[r.shape.best_point]),
                                             float(v.x[-1]))
            if not falling:
                out.append(v)
    return out


def _recovering_transient(c: Curve) -> bool:
    """The rise is short (under 20% of the run) and already more than half undone."""
    sh = rise(c).shape
    lv = c.level[sh.best :]
    peak = float(np.max(lv))
    if peak <= sh.low:
        return False
    elevated = np.flatnonzero(lv > sh.low + 2 * c.level_noise)
    if not len(elevated):
        return False
    bx = c.bins[1]
    duration = (bx[-1] - bx[sh.best + elevated[0]]) / max(bx[-1] - bx[0], 1e-300)
    return bool(duration < 0.2 and (sh.end - sh.low) < 0.5 * (peak - sh.low))


def check(ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    for c in _candidates(ctx):
        if len(c) < 4:
            continue
        r = rise(c)
        annealed = ctx.schedule(c).annealed(float(c.x[r.shape.best_point]), float(c.x[-1]))
        if not persistent_rise(c, minibatch=ctx.minibatch(c), annealed=annealed):
            continue
        sh = r.shape
        if _recovering_transient(c):
            continue  # a late spike that is already coming down: not a lasting rise
        best = c.point(sh.best_point)
        sched = ctx.schedule(c)
        x_best = float(c.x[sh.best_point])
        if sched.near(x_best, float(c.x[-1]), "rise"):
            continue  # a warm restart raised the LR: the schedule, not a problem
        lr_ratio = sched.lr_ratio(x_best, float(c.x[-1]))
        top = int(c.bins[0][sh.best + int(np.argmax(c.level[sh.best :]))])
        peak = c.point(top)
        evidence = {
            "best_step": best.step,
            "best_epoch": best.epoch,
            "best_value": c.v[sh.best_point],
            "end_value": c.value(sh.end),
            "rise_pct": rise_pct(c),
            "rise_sigma": r.z,
            "given_back_pct": 100 * r.frac if r.frac != float("inf") else None,
            "peak": {**peak.to_dict(), "index": peak.index, "value": c.value(c.y[top])},
            "lr_change": lr_ratio,
        }
        out.append(Finding(
            kind=KIND, metric=c.name, severity="warning", start=best, end=c.point(-1),
            evidence=evidence, confidence=min(1.0, 0.4 + 0.1 * r.z),
        ))
    return out
