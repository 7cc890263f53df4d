"""Cheap checks run on every logged training loss, for the kinds that cannot wait for the next
full diagnosis: a spike (judged against a robust running baseline) and an explosion (the loss
many times above where it started or was best). O(1) per point: a sorted window of the last
`WINDOW` values kept with `bisect`, and a few counters.

Thresholds are the diagnosis rules' own (`lossdoctor.rules.spike`, `lossdoctor.rules.divergence`);
the robust scale is the window's interquartile range / 1.349 (a normal σ), which, unlike the MAD,
comes straight from the sorted window.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from lossdoctor.rules.divergence import FACTOR, ORDERS
from lossdoctor.rules.spike import (
    MIN_HEIGHT,
    MIN_RATIO,
    SINGLE_POINT,
    SINGLE_STEP_DOUBLE,
    SINGLE_STEP_RATIO,
    SINGLE_STEP_Z,
    THRESHOLD,
)

__all__ = ["WINDOW", "OnlineEvent", "OnlineLoss"]

#: The running baseline: the last WINDOW finite values.
WINDOW = 32
#: No judgement before this many finite values; the first MIN_POINTS give the starting level.
MIN_POINTS = 8
#: A value this many robust σ above the baseline (and MIN_RATIO times it) is a spike: the rule's
#: single-point threshold, since a value cannot yet be known to be part of a wider spike.
SPIKE_SIGMA = THRESHOLD * SINGLE_POINT
#: A spike has recovered once the loss is back within this many σ of the baseline …
RECOVER_SIGMA = 3.0
#: … within this many points; a jump that stays up longer is not a spike (see `EXPLODE_POINTS`).
#: A recovered spike is reported, as the spike rule does on a per-step curve, when it lasted two
#: points or more, peaked at SINGLE_STEP_RATIO times the baseline, or stood SINGLE_STEP_Z times
#: the threshold out of the noise at double the baseline: one noisy minibatch is not an event
#: (`Watch.should_skip` still skips it).
MAX_SPIKE_WIDTH = 8
#: This many consecutive values above the divergence threshold make an explosion.
EXPLODE_POINTS = 5


@dataclass
class OnlineEvent:
    """What an online check found: ``kind`` (``"spike"`` or ``"divergence"``), the indices of
    the points it spans in the loss series, and its evidence (steps and epochs are added by
    the watcher, which owns the axes)."""

    kind: str
    start: int
    end: int
    evidence: dict[str, Any] = field(default_factory=dict)


class OnlineLoss:
    """Running checks on one loss series (values must be fed in order, finite ones through
    `update`, non-finite ones through `note_non_finite`)."""

    def __init__(self) -> None:
        self._ring: deque[float] = deque()
        self._sorted: list[float] = []
        self._first: list[float] = []
        self.count = 0
        self.first_level: float | None = None
        self.best_level = math.inf
        self.best_index = -1
        self.last_alarm = -(10**9)
        self._spike: dict[str, Any] | None = None
        self._high = 0
        self._high_start = -1
        self._high_max = -math.inf
        self._exploded = False
        self._threshold = math.inf

    # -- the baseline ------------------------------------------------------------------------
    def baseline(self) -> tuple[float, float] | None:
        """(median, robust σ) of the window, or None before MIN_POINTS values."""
        s = self._sorted
        k = len(s)
        if k < MIN_POINTS:
            return None
        med = s[k >> 1] if k & 1 else 0.5 * (s[(k >> 1) - 1] + s[k >> 1])
        sigma = (s[(3 * k) >> 2] - s[k >> 2]) / 1.349
        # a curve without noise: any clear step up is measurable
        return med, max(sigma, 1e-3 * abs(med), 1e-12)

    def threshold(self) -> float:
        """The loss above which the run has exploded: FACTOR times its starting level, or
        ORDERS times its best level, whichever is lower (inf while unknown or not positive)."""
        first = self.first_level
        if first is None or first <= 0 or self.best_level <= 0:
            return math.inf
        return min(FACTOR * max(first, self.best_level), ORDERS * self.best_level)

    def _judge(self, value: float, med: float, sigma: float) -> tuple[bool, float, float]:
        z = (value - med) / sigma
        ratio = value / med if med > 0 else math.nan
        if z < SPIKE_SIGMA or (med > 0 and ratio < MIN_RATIO):
            return False, z, ratio
        first = self.first_level
        progress = first - self.best_level if first is not None and first > self.best_level \
            else 0.0
        return value - med >= MIN_HEIGHT * progress, z, ratio

    def is_spike(self, value: float) -> tuple[bool, float, float]:
        """Whether `value` would be a spike on the current baseline: (spike, σ above the
        median, ratio to the median (NaN when the median is not positive))."""
        base = self.baseline()
        if base is None:
            return False, 0.0, math.nan
        return self._judge(value, *base)

    @property
    def healthy(self) -> bool:
        """No alarm (spike candidate, value above the explosion threshold, non-finite value)
        within the last WINDOW points."""
        return self.count - self.last_alarm >= WINDOW

    # -- feeding -----------------------------------------------------------------------------
    def note_non_finite(self) -> None:
        """A NaN/inf was logged: an alarm; a pending spike is abandoned."""
        self.last_alarm = self.count
        self._spike = None

    def update(self, value: float, index: int) -> list[OnlineEvent] | tuple[()]:
        """Feed one finite value (at `index` in its series); returns what it completes.

        This runs on every logged step, so it is written for speed: the baseline is read off
        the sorted window inline, the robust σ is computed only for values above the median,
        and the full spike test only above the cheap bound.
        """
        events: list[OnlineEvent] | tuple[()] = ()
        s = self._sorted
        k = len(s)
        if k >= MIN_POINTS:
            h = k >> 1
            med = s[h] if k & 1 else 0.5 * (s[h - 1] + s[h])
            if med < self.best_level:  # the best level: the lowest running median so far
                self.best_level, self.best_index = med, index
                self._threshold = self.threshold()
            sp = self._spike
            if sp is not None:
                if value <= sp["median"] + RECOVER_SIGMA * sp["sigma"]:
                    med = sp["median"]
                    if sp["width"] >= 2 or (med > 0 and (
                            sp["value"] >= SINGLE_STEP_RATIO * med
                            or (sp["z"] >= SINGLE_STEP_Z * THRESHOLD
                                and sp["value"] >= SINGLE_STEP_DOUBLE * med))):
                        events = [self._spike_event(sp)]
                    self._spike = None
                elif index - sp["index"] >= MAX_SPIKE_WIDTH:
                    self._spike = None  # stayed up: not a transient
                else:
                    sp["width"] += 1
                    if value > sp["value"]:
                        sp.update(value=value, z=(value - sp["median"]) / sp["sigma"],
                                  peak_index=index)
            elif value > med:
                sigma = (s[(3 * k) >> 2] - s[k >> 2]) * 0.7412898443291327  # IQR / 1.349
                floor = 1e-3 * (med if med > 0 else -med)
                if sigma < floor:
                    sigma = floor if floor > 1e-12 else 1e-12
                if value > med + SPIKE_SIGMA * sigma:
                    spike, z, _ratio = self._judge(value, med, sigma)
                    if spike:
                        self.last_alarm = self.count
                        self._spike = {"index": index, "peak_index": index, "value": value,
                                       "median": med, "sigma": sigma, "z": z, "width": 1}
            if value >= self._threshold:
                self.last_alarm = self.count
                if self._high == 0:
                    self._high_start, self._high_max = index, value
                self._high += 1
                if value > self._high_max:
                    self._high_max = value
                if self._high >= EXPLODE_POINTS and not self._exploded:
                    self._exploded = True
                    events = [*events, self._explosion_event(value, index, self._threshold)]
            elif self._high:
                self._high = 0
            elif self._exploded and self.count - self.last_alarm >= WINDOW:
                self._exploded = False  # came back down and stayed: a new episode may follow
        elif self.first_level is None:
            self._first.append(value)
            if len(self._first) == MIN_POINTS:
                f = sorted(self._first)
                self.first_level = 0.5 * (f[MIN_POINTS // 2 - 1] + f[MIN_POINTS // 2])
        # the window
        ring = self._ring
        if len(ring) == WINDOW:
            del s[bisect_left(s, ring.popleft())]
        ring.append(value)
        insort(s, value)
        self.count += 1
        return events

    def _spike_event(self, sp: dict[str, Any]) -> OnlineEvent:
        med = sp["median"]
        return OnlineEvent("spike", sp["index"], sp["index"] + sp["width"] - 1, {
            "count": 1,
            "peak_index": sp["peak_index"],
            "value": sp["value"],
            "times_baseline": sp["value"] / med if med > 0 else None,
            "sigma": sp["z"],
            "baseline": med,
            "width": sp["width"],
        })

    def _explosion_event(self, value: float, index: int, threshold: float) -> OnlineEvent:
        first = self.first_level if self.first_level is not None else math.nan
        ref = max(first, self.best_level)
        return OnlineEvent("divergence", max(self.best_index, 0), index, {
            "best_value": self.best_level,
            "first_level": first,
            "end_value": value,
            "max_value": self._high_max,
            "factor": value / ref if ref > 0 else None,
            "threshold": threshold,
            "onset_index": self._high_start,
            "ends_non_finite": False,
        })

    # -- rollback and resume -----------------------------------------------------------------
    def reset_window(self, length: int) -> None:
        """Forget the running window and pending checks (the model was rolled back; the series
        now has `length` points). The starting and best levels are kept."""
        self._ring.clear()
        self._sorted.clear()
        self._spike = None
        self._high = 0
        self._exploded = False
        self.best_index = min(self.best_index, length - 1)
        self.last_alarm = self.count
        self._threshold = self.threshold()

    def state_dict(self) -> dict[str, Any]:
        return {
            "window": list(self._ring), "first": list(self._first), "count": self.count,
            "first_level": self.first_level, "best_level": self.best_level,
            "best_index": self.best_index, "last_alarm": self.last_alarm,
            "spike": None if self._spike is None else dict(self._spike),
            "high": self._high, "high_start": self._high_start, "high_max": self._high_max,
            "exploded": self._exploded,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._ring = deque(float(v) for v in state["window"])
        self._sorted = sorted(self._ring)
        self._first = [float(v) for v in state["first"]]
        self.count = int(state["count"])
        fl = state["first_level"]
        self.first_level = None if fl is None else float(fl)
        self.best_level = float(state["best_level"])
        self.best_index = int(state["best_index"])
        self.last_alarm = int(state["last_alarm"])
        self._spike = None if state["spike"] is None else dict(state["spike"])
        self._high = int(state["high"])
        self._high_start = int(state["high_start"])
        self._high_max = float(state["high_max"])
        self._exploded = bool(state["exploded"])
        self._threshold = self.threshold()
