"""``plateau``: progress stalls for a long stretch well above where the loss later goes or
should go.

Forms (``evidence["form"]``):
- ``frozen``: the logged values do not change at all (LR decayed to ~0, dead units); not a
  validation loss once the training loss fell by an order of magnitude (that is convergence);
- ``no_progress``: no progress from the start to the end of the log;
- ``stalled_then_dropped``: flat for a long stretch, then falling well below it — unless the
  fall came from the schedule (a logged LR drop, or a sudden level shift) and the stretch did not
  begin the run (every stage of a healthy step schedule flattens before its drop);
- ``slow_phase_stalled``: after the initial fast descent the loss improved by under 15% over
  more than half of the run (fine-tuning that stopped making progress), the descent having
  removed less than an order of magnitude;
- ``validation_stalled``: the validation loss stopped improving, well above the training loss,
  while the training loss still falls (the generalisation gap widens without a rise), having
  come down less than half from where training started.
"""

from __future__ import annotations

import numpy as np

from lossdoctor.analysis import (
    flat_stretches,
    frozen,
    relative,
    shape,
    shifts,
    tail,
    window_trend,
)
from lossdoctor.curve import Curve
from lossdoctor.findings import Finding
from lossdoctor.rules.context import Context

KIND = "plateau"

#: A stretch must cover at least this fraction of the run to count as a plateau (a stall at the
#: very start, MIN_FRACTION_START: an eighth of the run).
MIN_FRACTION = 0.25
MIN_FRACTION_START = 0.12
#: The core of a stall at the start moves no more than this many level-noise σ, or this
#: fraction of the run's whole drop (a loss pinned at chance barely moves; a slow start that is
#: already accelerating does).
START_NOISE = 5.0
START_FLATNESS = 0.02
#: … and its trend falls at most this fraction as fast as the curve falls after it.
START_RATE = 0.25
#: A validation loss flat at the start lags (is not stalled) when the training loss fell over
#: that stretch by at least this fraction of the fraction validation fell by afterwards (in the
#: labelled stalls of the corpus, dead starts, it fell at most an eighth as much).
START_LAG = 1 / 3
#: The slow phase stalled when it improved by less than this (relative).
SLOW_PHASE_GAIN = 0.15
#: A validation loss that settled for at least this fraction of the run, this many times above a
#: training loss that still falls, stalled early: most of the training no longer helped it.
VAL_STALL_FRACTION = 0.6
VAL_GAP = 1.5
VAL_STALL_MAX_PROGRESS = 0.5
#: A run whose last tenth is less than this much better than its first tenth made no progress.
NO_PROGRESS = 0.1
#: A loss that came down by at least this fraction of its start (an order of magnitude) and then
#: goes flat has converged: neither its slow phase nor a validation loss freezing beside it
#: (the training set has little left to teach) is a stall.
CONVERGED = 0.9


def _finding(c: Curve, first: int, last: int, form: str, **evidence: object) -> Finding:
    return Finding(
        kind=KIND, metric=c.name, severity="warning", start=c.point(first), end=c.point(last),
        evidence={"form": form, "points": last - first + 1,
                  "level": float(np.median(c.v[first : last + 1])), **evidence},
        confidence=0.7,
    )


def _point_range(c: Curve, first_bin: int, last_bin: int) -> tuple[int, int]:
    starts = c.bins[0]
    p1 = int(starts[last_bin + 1] - 1) if last_bin + 1 < len(starts) else len(c) - 1
    return int(starts[first_bin]), p1


def _frozen(ctx: Context, c: Curve) -> Finding | None:
    fz = frozen(c)
    if fz is None:
        return None
    if c is ctx.val and ctx.train is not None:
        sh = shape(ctx.train)
        if -relative(ctx.train, sh.start, sh.end) >= CONVERGED:
            return None
    a, b = fz
    # half the run doing nothing; a shorter freeze at the end of an annealed run is convergence
    if b - a + 1 < max(5, 0.5 * len(c)):
        return None
    return _finding(c, a, b, "frozen", value=float(c.v[a]))


def _warming_up(ctx: Context, c: Curve, x0: float, x1: float) -> bool:
    """The logged LR over [x0, x1] stayed below half its later peak (a warmup ramp)."""
    sched = ctx.schedule(c)
    if sched.lr is None:
        return False
    lx, lv = sched.lr
    inside = lv[(lx >= x0) & (lx <= x1)]
    return bool(len(inside) and np.median(inside) < 0.5 * float(np.max(lv)))


def _train_lagged(ctx: Context, v: Curve, x0: float, x1: float, later_fall: float) -> bool:
    """Validation `v` stood still over [x0, x1] at the start while the training loss's level
    fell by at least START_LAG of the fraction validation fell by later: the model was learning
    and validation lagged it, not a stall."""
    t = ctx.train
    span = None if t is None else ctx.map_range(v, x0, x1, t)
    if t is None or span is None:
        return False
    _starts, tx, _ty = t.bins
    a, b = np.interp(span, tx, t.level)
    return -relative(t, float(a), float(b)) >= START_LAG * later_fall


def _stretch(ctx: Context, c: Curve) -> Finding | None:
    _starts, bx, _by = c.bins
    n = len(bx)
    if n < 8:
        return None
    sh = shape(c)
    band = max(3 * c.level_noise, 0.05 * max(sh.drop, 0.0))
    progress = -relative(c, sh.start, sh.low)
    for st in flat_stretches(c, band)[:3]:
        from_start = st.first <= max(1, n // 20)
        if st.bins < max(4, (MIN_FRACTION_START if from_start else MIN_FRACTION) * n):
            continue
        p_first, p_last = _point_range(c, st.first, st.last)
        if from_start and st.last >= n - 2 and progress < 0.1:
            return _finding(c, p_first, p_last, "no_progress", start_value=c.value(sh.start),
                            progress_pct=100 * progress)
        if st.last >= n - 1:
            continue
        later_low = float(np.min(c.level[st.last :]))
        gap = st.level - later_low
        if c.level[st.first] - c.level[st.last] > 0.25 * gap:
            continue  # still descending inside the band: slow progress, not a stall
        if gap <= max(6 * c.level_noise, 0.3 * max(sh.drop, 0.0)) or relative(
                c, later_low, st.level) <= 0.1:
            continue
        # Left by a schedule drop (logged LR drop, or a sudden level shift)?
        x0, x1 = float(bx[max(0, st.last - 1)]), float(bx[min(n - 1, st.last + 2)])
        by_schedule = ctx.schedule(c).near(x0, x1, "drop") or bool(
            np.any(np.abs(shifts(c).at - (st.last + 1)) <= 2))
        if by_schedule and not from_start:
            continue
        if from_start and _warming_up(ctx, c, float(bx[st.first]), float(bx[st.last])):
            continue  # a warmup ramp: the LR was still climbing through the flat start
        if from_start:
            # the core of a stall (its first 70%, before any way out) does not move beyond its
            # noise (or a sliver of the run's drop): a slow start that is already moving is not
            # one
            core = c.level[st.first : st.first + max(3, int(0.7 * st.bins))]
            if np.ptp(core) > max(START_NOISE * c.level_noise, START_FLATNESS * sh.drop):
                continue
            # … and falls much more slowly than the curve does on its way out of it (a
            # decay that is steepest at the start is not a stall, however noisy)
            inside = window_trend(c, float(bx[st.first]), float(bx[st.last]))
            low_at = st.last + int(np.argmin(c.level[st.last :]))
            out_rate = (float(c.level[st.last]) - later_low) / max(
                float(bx[low_at] - bx[st.last]), 1e-300)
            if inside is not None and -inside.slope > START_RATE * out_rate:
                continue
            if c is ctx.val and _train_lagged(ctx, c, float(bx[st.first]), float(bx[st.last]),
                                              -relative(c, st.level, later_low)):
                continue
        return _finding(c, p_first, p_last, "stalled_then_dropped",
                        later_low=c.value(later_low), by_schedule=by_schedule)
    return None


def _slow_phase(ctx: Context, c: Curve) -> Finding | None:
    """Train-side stall after the initial fast descent (no validation loss still improving)."""
    _starts, bx, _by = c.bins
    n = len(bx)
    sh = shape(c)
    if n < 12 or sh.knee == 0 or (n - sh.knee) < 0.5 * n:
        return None
    # measured to where the tail's robust line ends (a smoothed last bin follows the last few
    # points' noise)
    t = tail(c)
    gain = -relative(c, float(c.level[sh.knee]), t.end)
    if gain >= SLOW_PHASE_GAIN or sh.drop <= 0:
        return None  # (one that got worse and stayed up is a rise: loss_rising supersedes it)
    if -relative(c, sh.start, float(c.level[sh.knee])) >= CONVERGED:
        return None  # an order of magnitude down by the knee: converged, not stalled
    setback = float(np.max(c.level[sh.knee :])) > float(c.level[sh.knee]) + 3 * c.level_noise
    if setback and t.trend.decreasing:
        return None  # thrown back above the knee's level, falling again: recovering from it
    sched = ctx.schedule(c)
    lr_at_knee = sched.lr_ratio(float(bx[0]), float(bx[sh.knee]))
    if lr_at_knee is not None and lr_at_knee <= 0.5:
        return None  # the knee came with an LR decay: the schedule's doing, not a stall
    if sched.near(float(bx[sh.knee]), float(bx[-1]), "step_drop"):
        return None  # step decays or ReduceLROnPlateau cuts during it: the schedule's floors
    p_first, p_last = _point_range(c, sh.knee, n - 1)
    return _finding(c, p_first, p_last, "slow_phase_stalled", gain_pct=100 * gain)


def _no_progress(c: Curve) -> Finding | None:
    """The last tenth of the run is no better than its start (within NO_PROGRESS) and
    the run as a whole has no downward trend: however much it bounces, it went nowhere."""
    n = len(c)
    if n < 8:
        return None
    k = max(2, n // 10)
    # the first tenth, or the very start when the loss fell within that tenth (a fast drop
    # followed by a flat, noisy floor converged; it did not stand still)
    first = max(float(np.median(c.y[:k])), shape(c).start)
    last = float(np.median(c.y[-k:]))
    if -relative(c, first, last) >= NO_PROGRESS:
        return None
    _starts, bx, _by = c.bins
    whole = window_trend(c, float(bx[0]), float(bx[-1]))
    if whole is None or whole.decreasing:
        return None
    return _finding(c, 0, n - 1, "no_progress", start_value=c.value(first),
                    progress_pct=-100 * relative(c, first, last))


def _val_stalled(ctx: Context) -> Finding | None:
    """The validation loss settled early (for at least VAL_STALL_FRACTION of the run it stays
    within ±3% of its final level), having improved by less than half, well above a training
    loss that keeps falling. (One that came down a long way first has converged.)"""
    v, t = ctx.val, ctx.train
    if v is None or t is None or len(v) < 6:
        return None
    vsh = shape(v)
    progress = -relative(v, vsh.start, vsh.low)
    t_start, v_low = t.value(shape(t).start), v.value(vsh.low)
    if v.direction == t.direction == "min" and t_start > v.value(vsh.start) and v_low > 0:
        # first evaluated after much of the training loss's descent: count from where training
        # started (both losses start at the untrained model's)
        progress = max(progress, 1 - v_low / t_start)
    if progress >= VAL_STALL_MAX_PROGRESS:
        return None
    final = float(np.median(v.y[-2:]))
    dev = np.array([abs(relative(v, final, y)) for y in v.level])
    outside = np.flatnonzero(dev > 0.03)
    settle = int(outside[-1]) + 1 if len(outside) else 0
    if settle >= len(v.level) - 2:
        return None
    bx = v.bins[1]
    span_x = float(bx[-1] - bx[0])
    if span_x <= 0 or (float(bx[-1]) - float(bx[settle])) < VAL_STALL_FRACTION * span_x:
        return None
    x0, x1 = float(bx[settle]), float(bx[-1])
    span = ctx.map_range(v, x0, x1, t)
    if span is None:
        return None
    i0, i1 = t.at_x(span[0]), t.at_x(span[1])
    t_a = float(np.median(t.y[i0 : i0 + 3]))
    t_b = float(np.median(t.y[max(i0, i1 - 2) : i1 + 1]))
    t_change = relative(t, t_a, t_b)
    gap = None
    if v.direction == t.direction == "min":
        tv_end, vv_end = t.value(t_b), v.value(final)
        gap = vv_end / tv_end if tv_end > 0 and vv_end > 0 else None
    if t_change > -0.05 or gap is None or gap < VAL_GAP:
        return None
    first = int(v.bins[0][settle])
    return _finding(v, first, len(v) - 1, "validation_stalled",
                    train_change_pct=100 * t_change, val_over_train=gap,
                    stalled_fraction=(x1 - x0) / span_x)


def check(ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    for c in (ctx.train, ctx.val):
        if c is None or len(c) < 5:
            continue
        f = _frozen(ctx, c)
        if f is None:
            f = _stretch(ctx, c) or (
                (_no_progress(c) or _slow_phase(ctx, c)) if c is ctx.train else None)
        if f is not None and c is ctx.train and f.evidence["form"] != "frozen":
            # judged inside the stall (its last points may already be the way out of it)
            x0, x1 = float(c.series.x[f.start.index]), float(c.series.x[f.end.index])
            if ctx.val_improves(c, x0, x0 + 0.8 * (x1 - x0)):
                continue  # a training loss that stalls while validation improves is benign
        if f is not None:
            out.append(f)
    if ctx.val is not None and not any(f.metric == ctx.val.name for f in out):
        f = _val_stalled(ctx)
        if f is not None:
            out.append(f)
    return out
