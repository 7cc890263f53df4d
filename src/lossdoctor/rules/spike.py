"""``spike``: transient sharp jumps of a loss that recover (a bad batch, an LR too high for a
moment, an Adam update without warmup)."""

from __future__ import annotations

import numpy as np

from lossdoctor.analysis import Shape, Spikes, shape, spikes
from lossdoctor.curve import Curve
from lossdoctor.findings import Finding
from lossdoctor.rules.context import Context

KIND = "spike"

#: Height of a spike above the local baseline, in local-noise units, on a curve of 100 points;
#: longer curves need more (the largest of n noise points grows with n): +2 per decade. A
#: single-point spike needs 1.5 times as much …
THRESHOLD = 8.0
SINGLE_POINT = 1.5
#: … and on a per-step minibatch curve (`Context.minibatch`) a single point is one noisy
#: minibatch, not an event: a spike there must span two logged points or more, or be extreme
#: (SINGLE_STEP_RATIO times its baseline).
SINGLE_STEP_RATIO = 20.0
#: … or far out of the noise (SINGLE_STEP_Z times the threshold, in noise units) and at least
#: double its baseline.
SINGLE_STEP_Z = 4.0
SINGLE_STEP_DOUBLE = 2.0
#: Either way a single point must also stand apart from the curve's other outliers, unless it
#: jumps above where the curve started: going down from it, the heights must drop CLEAR-fold
#: somewhere above the threshold (the top of a continuous heavy tail of minibatch losses is
#: noise — a memorising model's misclassified examples at hundreds of times its near-zero
#: baseline; a few extreme batches stand apart).
CLEAR = 2.5
#: On a per-step curve the threshold grows with the tail of the minibatch noise beyond
#: TAIL_SCALE (the 90th percentile of the points' heights in noise units: ~1.3 for Gaussian
#: noise); when that tail is heavy (above HEAVY_TAIL) an event must also last 3 points.
TAIL_SCALE = 1.5
HEAVY_TAIL = 2.5
#: For positive losses, the peak must also be this many times the baseline …
MIN_RATIO = 1.5
#: … and rise by at least this fraction of the progress the curve made (its drop).
MIN_HEIGHT = 0.1
#: A jump that gives back at least this fraction of the drop is a spike whatever its ratio (a
#: language model at 5 nats jumping to 7.6 is 1.5x its baseline but loses half its progress) —
#: when there is progress to give back: the curve fell by at least MIN_PROGRESS of its start
#: and the jump starts below that start.
BIG_HEIGHT = 0.5
MIN_PROGRESS = 0.1
#: On a minibatch curve, more spike events than this fraction of its points is noise.
MAX_FRACTION = 0.05


def _gives_back(c: Curve, sp: Spikes, sh: Shape) -> np.ndarray:
    """Per spike: it gives back at least BIG_HEIGHT of a real fall (see BIG_HEIGHT)."""
    start, low = c.value(sh.start), c.value(sh.low)
    if abs(start - low) < MIN_PROGRESS * abs(start):
        return np.zeros(len(sp.at), dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        base = c.v[sp.at] / sp.ratio
    return (sp.height >= BIG_HEIGHT) & (base < start)


def _stands_apart(sp: Spikes, thr: float) -> np.ndarray:
    """Per spike: walking down every point's height from the spike's, the heights drop by a
    factor CLEAR before they fall below the detection threshold `thr` (a few extreme batches
    stand apart from the minibatch noise; the top of a continuous heavy tail does not)."""
    h = np.sort(sp.heights[sp.heights >= thr / CLEAR])[::-1]
    gap = h[:-1] >= CLEAR * h[1:]
    gap = np.append(gap, len(h) > 0 and h[-1] >= thr)  # everything below is under thr / CLEAR
    ok = gap & (h >= thr)
    # the spike at height z is clear when some gap lies at or below it (index ≥ its rank)
    last_gap = np.flatnonzero(ok)
    if not len(last_gap):
        return np.zeros(len(sp.at), dtype=bool)
    rank = len(h) - np.searchsorted(h[::-1], sp.z, side="right")  # points strictly above
    return rank <= last_gap[-1]


def check(ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    for c in ctx.losses:
        n = len(c)
        if n < 6:
            continue
        thr = THRESHOLD + 2.0 * max(0.0, float(np.log10(n / 100)))
        sp = spikes(c, threshold=thr)
        if not len(sp.at):
            continue
        per_step = ctx.minibatch(c)
        sh = shape(c)
        above_start = c.y[sp.at] > sh.start  # worse than where the curve started
        if per_step:
            # in heavy-tailed minibatch noise an event must stand out of the tail (and last)
            keep_z = sp.z >= thr * max(1.0, sp.tail / TAIL_SCALE)
            if sp.tail > HEAVY_TAIL:
                keep_z &= sp.width >= 3
            # an event lasts (the loss stays elevated over several logged points) or is
            # extreme; a lone outlier minibatch is noise
            lasting = sp.width > 1
            single_ok = (((sp.z >= SINGLE_POINT * thr) & (sp.ratio >= SINGLE_STEP_RATIO))
                         | ((sp.z >= SINGLE_STEP_Z * thr) & (sp.ratio >= SINGLE_STEP_DOUBLE)))
            if single_ok.any():
                # … and, unless it jumps above where the curve started, stand apart from the
                # curve's other outliers
                single_ok &= above_start | _stands_apart(sp, thr)
        else:
            keep_z = np.ones(len(sp.at), bool)
            lasting = sp.core > 1
            single_ok = sp.z >= SINGLE_POINT * thr
        keep = sp.recovered & (sp.at >= 1) & (lasting | single_ok) & keep_z
        keep &= np.isnan(sp.ratio) | (sp.ratio >= MIN_RATIO) | _gives_back(c, sp, sh)
        keep &= sp.height >= MIN_HEIGHT
        if per_step:
            # during the initial fast descent of minibatch losses a jump that stays below where
            # the curve started is part of the descent (an early blow-up above it is not)
            keep &= (sp.at >= int(c.bins[0][sh.knee])) | above_start
        else:
            # during the initial descent of epoch averages or evaluations a point no higher
            # than one of the two before it is the descent stepping back, not a jump
            before = np.maximum(c.y[np.maximum(sp.at - 1, 0)], c.y[np.maximum(sp.at - 2, 0)])
            keep &= (sp.at >= int(c.bins[0][sh.knee])) | (c.y[sp.at] > before)
        sched = ctx.schedule(c)
        if len(sched.rises):
            near_rise = np.array([
                sched.near(float(c.x[max(0, i - 2)]), float(c.x[min(n - 1, i + 1)]), "rise")
                for i in sp.at
            ])
            keep &= ~near_rise
        at = sp.at[keep]
        if not len(at) or (per_step and len(at) > MAX_FRACTION * n):
            continue
        z = sp.z[keep]
        peak_ratio = sp.ratio[keep]
        top = int(np.argmax(z))
        where = [{**c.point(int(i)).to_dict(), "index": c.point(int(i)).index} for i in at[:20]]
        evidence = {
            "count": len(at),
            "at": where,
            "largest": {**c.point(int(at[top])).to_dict(), "index": c.point(int(at[top])).index,
                        "value": float(c.v[at[top]]),
                        "times_baseline": None if np.isnan(peak_ratio[top])
                        else float(peak_ratio[top]),
                        "sigma": float(z[top])},
            "median_sigma": float(np.median(z)),
        }
        out.append(Finding(
            kind=KIND, metric=c.name, severity="warning", start=c.point(int(at[0])),
            end=c.point(int(at[-1])), evidence=evidence,
            confidence=float(min(1.0, 0.5 + np.median(z) / 40)),
        ))
    return out
