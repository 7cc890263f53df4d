"""The shared test of the rising kinds (overfitting, loss_rising, loss_up_acc_up): did a curve
climb after its best point, by more than its noise, and stay up (not a jump it recovers from)?"""

from __future__ import annotations

import numpy as np

from lossdoctor.analysis import relative, rise, window_trend
from lossdoctor.curve import Curve

#: The rise must exceed this many level-noise σ …
MIN_SIGMA = 3.0
#: … be at least this fraction worse than the best level …
MIN_RELATIVE = 0.05
#: … and this fraction of the second half after the best must stay above best + 2σ.
MIN_STAYED = 0.75


#: A peak at most this many bins after the best is a jump, not a climb.
JUMP_BINS = 2

#: With this many bins after the best, the climb must also exceed twice the spread of the points
#: after the best around their baseline: the minimum of a long noisy level is biased low, and a
#: noisy band that merely drifts is not a rise.
LONG_POST = 10


def persistent_rise(c: Curve, *, minibatch: bool = False, annealed: bool = False) -> bool:
    """True when `c` rose after its best level and stayed up to the end.

    ``minibatch``: `c` is a per-step curve of minibatch losses (`Context.minibatch`); with
    fewer than LONG_POST bins after the best its smoothed level must then climb by more than
    twice the spread of the single losses around it (a level drawn through a handful of
    scattered minibatch losses wanders by itself). ``annealed``: the logged LR only decayed,
    towards zero, after the best (`Schedule.annealed`); on a curve of epoch means or
    evaluations the long-curve test then applies at any length (an LR near zero barely moves
    the weights: what lifts a level drawn through a few noisy points is their noise).
    """
    r = rise(c)
    if r.post < 2 or r.raised < 2 or r.z < MIN_SIGMA or r.stayed < MIN_STAYED:
        return False
    if (r.post >= LONG_POST or (annealed and not minibatch)) and r.robust_rise < 2 * r.spread:
        return False
    if minibatch and r.post < LONG_POST and r.shape.rise < 2 * r.spread:
        return False
    return relative(c, r.shape.low, r.shape.end) >= MIN_RELATIVE


def rise_pct(c: Curve) -> float:
    """How far the end level sits above the best point, in % (of the best raw value for a
    positive loss; of the curve's scale otherwise) — the figure a reader checks on the plot."""
    sh = rise(c).shape
    return 100.0 * relative(c, float(c.y[sh.best_point]), sh.end)


def validation_rise(v: Curve) -> bool:
    """The rise overfitting and loss_up_acc_up read on validation loss `v`: a persistent rise
    that is not a jump being recovered from."""
    return persistent_rise(v) and not _recovering_from_jump(v)


def _recovering_from_jump(c: Curve) -> bool:
    """True when `c` jumped rather than climbed after its best (its level peaks at most
    JUMP_BINS bins later) and has fallen significantly since (at least 4 bins after the peak):
    a shock being recovered from, not a gap that widens."""
    sh = rise(c).shape
    _starts, bx, _by = c.bins
    peak = sh.best + int(np.argmax(c.level[sh.best :]))
    if peak - sh.best > JUMP_BINS or len(bx) - peak - 1 < 4:
        return False
    tr = window_trend(c, float(bx[peak + 1]), float(bx[-1]))
    return bool(tr is not None and tr.decreasing)
