"""``underfitting``: the loss is still clearly falling when the run ends while still high
(train longer, raise the LR), or the model never learned at all (raise the LR or capacity,
check the data)."""

from __future__ import annotations

import numpy as np

from lossdoctor.analysis import Tail, relative, shape, tail
from lossdoctor.curve import Curve
from lossdoctor.findings import Finding
from lossdoctor.rules.context import Context

KIND = "underfitting"

#: "Still clearly decreasing": the tail improves at least this fraction as fast as the run did
#: on average (no diminishing returns) …
MIN_RATE_RATIO = 0.4
#: … would gain at least this much (relative) over another tail-length of training
#: (MIN_SLOW_GAIN for a run that has hardly started) …
MIN_TAIL_GAIN = 0.05
MIN_SLOW_GAIN = 0.02
#: "Clearly": the tail's downward trend is significant and strong (Kendall's tau at most this:
#: most pairs of points in the tail are in decreasing order).
MAX_TAU = -0.5
#: … and the run so far improved the loss by less than this (it is still high).
MAX_PROGRESS_STILL_HIGH = 0.5
#: A run that improved the loss by less than this and is still improving has hardly started,
#: however much its progress slowed down.
MAX_PROGRESS_SLOW = 0.3
#: "Still": the last half of the tail falls at least this fraction as fast as the whole tail
#: (a curve levelling off within its own tail is converging, not waiting for more epochs) …
MIN_LATE_RATE = 0.5
#: … and at least this fraction of the tail's fall is new ground, below the best level before
#: the tail (a fall that mostly wins back a bump or a spike is a recovery).
MIN_NEW_GROUND = 0.5
#: "Never learned": the whole run improved the loss by less than this.
MAX_PROGRESS_NONE = 0.15
#: Cross-entropy of a uniform guess over k classes, log(k): a loss that sits within this
#: fraction of it, after removing less than half of its start, learned nothing.
_CHANCE = np.log(np.arange(2, 11))
CHANCE_TOLERANCE = 0.03


def _metric_saturated(ctx: Context) -> bool:
    a = ctx.val_metric
    if a is None or len(a) < 6:
        return False
    return not tail(a).trend.decreasing


def _from_start(c: Curve) -> bool:
    s = c.series
    if s.has_steps:
        first, last = np.nanmin(s.steps), np.nanmax(s.steps)
        return bool(first <= 0.02 * last or first <= 100)
    if s.has_epochs:
        return bool(np.nanmin(s.epochs) <= 1)
    return False


def _at_chance(c: Curve) -> bool:
    """The second half sits at log(k) for some k in 2..10, a classifier guessing uniformly: its
    median within CHANCE_TOLERANCE of log(k) and half its interquartile range within it too
    (log(k) for consecutive k are only 5-10% apart, so a median alone would match almost any
    loss between 1.5 and 2.4)."""
    if c.direction != "min":
        return False
    q25, level, q75 = np.percentile(c.v[len(c.v) // 2 :], [25, 50, 75])
    band = CHANCE_TOLERANCE * _CHANCE
    return bool(np.any((np.abs(level - _CHANCE) <= band) & ((q75 - q25) / 2 <= band)))


def _still_falling(c: Curve, t: Tail) -> bool:
    """The tail's fall is not levelling off and is mostly new ground (see MIN_LATE_RATE and
    MIN_NEW_GROUND)."""
    n = len(c.bins[2])
    late = tail(c, min(t.first + (n - t.first) // 2, n - 5))
    if t.trend.slope >= 0 or late.trend.slope > MIN_LATE_RATE * t.trend.slope:
        return False
    lv = c.level
    fall = float(lv[t.first] - lv[-1])
    before = float(np.min(lv[: t.first])) if t.first > 0 else float(lv[0])
    return fall > 0 and before - float(lv[-1]) >= MIN_NEW_GROUND * fall


def _progress(ctx: Context, c: Curve, *, with_val: bool) -> float:
    """How much of its starting value the training loss has lost; `with_val`: the smaller of
    that and the validation loss's, when validation was logged from the start (often it is
    first logged late)."""
    train = ctx.train or c
    progress = -relative(train, shape(train).start, shape(train).low)
    v = ctx.val
    if with_val and v is not None and v is not train and len(v) >= 6:
        span = float(train.x[-1] - train.x[0])
        start = ctx.map_range(v, float(v.x[0]), float(v.x[0]), train)
        if start is not None and span > 0 and start[0] - float(train.x[0]) <= 0.05 * span:
            progress = min(progress, -relative(v, shape(v).start, shape(v).low))
    return progress


def _metric_dead(ctx: Context) -> bool:
    """The validation metric never changed or only got worse (a constant prediction)."""
    a = ctx.val_metric
    if a is None or len(a) < 4:
        return False
    return bool(np.ptp(a.v) == 0 or np.min(a.y[1:]) >= a.y[0])


def check(ctx: Context) -> list[Finding]:
    c = ctx.val if ctx.val is not None and len(ctx.val) >= 6 else ctx.train
    if c is None or len(c) < 6:
        return []
    train = ctx.train or c
    still_high = _progress(ctx, c, with_val=True)
    progress = _progress(ctx, c, with_val=False)
    t = tail(c)
    gain = -relative(c, t.level, t.level + t.change)
    first = int(c.bins[0][t.first])
    fast = t.rate_ratio >= MIN_RATE_RATIO and gain >= MIN_TAIL_GAIN
    slow = still_high < MAX_PROGRESS_SLOW and gain >= MIN_SLOW_GAIN
    if (t.trend.decreasing and t.trend.tau <= MAX_TAU and still_high < MAX_PROGRESS_STILL_HIGH
            and (fast or slow) and _still_falling(c, t) and not _metric_saturated(ctx)):
        return [Finding(
            kind=KIND, metric=c.name, severity="warning", start=c.point(first),
            end=c.point(-1),
            evidence={"form": "still_decreasing", "tail_gain_pct": 100 * gain,
                      "progress_pct": 100 * still_high, "rate_vs_average": t.rate_ratio,
                      "trend_p": t.trend.p, "end_value": float(c.v[-1])},
            confidence=min(1.0, 0.5 + t.rate_ratio / 2),
        )]
    at_chance = _at_chance(train)
    stuck_at_chance = progress < MAX_PROGRESS_STILL_HIGH and not t.trend.decreasing and at_chance
    if (progress < MAX_PROGRESS_NONE or stuck_at_chance) and len(train) >= 8:
        why = [w for w, ok in (("from_start", _from_start(train)),
                               ("at_chance", at_chance),
                               ("metric_not_improving", _metric_dead(ctx))) if ok]
        if why:
            tsh = shape(train)
            return [Finding(
                kind=KIND, metric=train.name, severity="warning", start=train.point(0),
                end=train.point(-1),
                evidence={"form": "no_progress", "progress_pct": 100 * progress,
                          "start_value": train.value(tsh.start),
                          "end_value": train.value(tsh.end), "because": why},
                confidence=0.6 + 0.1 * len(why),
            )]
    return []
