"""`Episodes`: report each finding once, when it first appears.

A finding is identified by its kind and metric. Findings of the full diagnosis:
- a finding present in consecutive diagnoses is one episode, however its span moves (the
  oscillation of "the last third of the run" moves with the run);
- it is reported when it has been present in `confirm` consecutive diagnoses (default 2: the
  diagnosis of a partial run can see a pattern the next stretch of data dispels);
- after it disappears, it is new again only when its span starts after the end of the last
  reported one (a second episode, not the first one flickering).

Findings of the online checks (spikes, explosions, NaN/inf) are new when their span starts after
the end of the last reported one of the same kind and metric.

An intervention (LR change, rollback) closes the episodes it answers: they are reported, and
acted on, again only once a diagnosis shows them over data that starts after it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from lossdoctor.findings import Finding, Point
from lossdoctor.watch.policy import check_count

__all__ = ["Episodes", "position"]


def position(p: Point) -> float:
    """A point's place on the run's axis: its step, else its epoch, else its index."""
    if p.step is not None:
        return float(p.step)
    if p.epoch is not None:
        return float(p.epoch)
    return float(p.index)


def _key(f: Finding) -> tuple[str, str]:
    return f.kind, f.metric


class Episodes:
    """The findings reported so far, by kind and metric.

    Args:
        confirm: consecutive full diagnoses a finding must appear in before it is reported
            (≥ 1).
    """

    def __init__(self, confirm: int = 2) -> None:
        self.confirm = check_count("confirm", confirm, 1)
        self._end: dict[tuple[str, str], float] = {}
        self._detected: dict[tuple[str, str], Point] = {}
        self._active: set[tuple[str, str]] = set()
        self._closed: dict[tuple[str, str], float] = {}
        self._streak: dict[tuple[str, str], int] = {}
        self._last = math.nan

    def online(self, f: Finding, here: Point) -> bool:
        """Record a finding of the online checks; True when it is new."""
        key = _key(f)
        start, end = position(f.start), position(f.end)
        closed = self._closed.get(key)
        if closed is not None:
            new = start > closed
            if new:
                del self._closed[key]
        else:
            last = self._end.get(key)
            new = last is None or start > last
        self._end[key] = max(self._end.get(key, -math.inf), end)
        if new:
            self._detected[key] = here
        return new

    def full(self, findings: Iterable[Finding], here: Point) -> list[Finding]:
        """Record the findings of one full diagnosis; returns the new ones."""
        out: list[Finding] = []
        streak: dict[tuple[str, str], int] = {}
        # a second diagnosis at the same place (an evaluation right after a step) confirms
        # nothing: streaks only grow with new training data
        again = position(here) == self._last
        self._last = position(here)
        for f in findings:
            key = _key(f)
            if key in streak:  # the same kind on the same metric twice: count it once
                continue
            old = self._streak.get(key, 0)
            streak[key] = n = max(old, 1) if again else old + 1
            confirmed = n >= self.confirm
            start, end = position(f.start), position(f.end)
            if key in self._closed:
                new = confirmed and start > self._closed[key]
                if new:
                    del self._closed[key]
            elif key in self._active:
                new = False
            else:
                last = self._end.get(key)
                new = confirmed and (last is None or start > last)
            if new:
                self._active.add(key)
                self._detected[key] = here
                out.append(f)
            if key in self._active:
                self._end[key] = max(self._end.get(key, -math.inf), end)
        self._active &= set(streak)
        self._streak = streak
        return out

    def detected_at(self, f: Finding) -> Point | None:
        """Where the episode `f` belongs to was first reported (None if never)."""
        key = _key(f)
        last = self._end.get(key)
        if key in self._active or (last is not None and position(f.start) <= last):
            return self._detected.get(key)
        return None

    def close(self, at: float, kinds: Iterable[str] | None = None) -> None:
        """End the episodes (of `kinds`, or all) reported so far, at `at`."""
        wanted = None if kinds is None else set(kinds)
        for key in list(self._end):
            if wanted is None or key[0] in wanted:
                self._closed[key] = max(self._closed.get(key, -math.inf), at)
                self._active.discard(key)

    def state_dict(self) -> dict[str, Any]:
        return {
            "confirm": self.confirm,
            "end": [[k, m, e] for (k, m), e in self._end.items()],
            "detected": [[k, m, p.step, p.epoch, p.index]
                         for (k, m), p in self._detected.items()],
            "active": [[k, m] for k, m in self._active],
            "closed": [[k, m, e] for (k, m), e in self._closed.items()],
            "streak": [[k, m, n] for (k, m), n in self._streak.items()],
            "last": self._last,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.confirm = int(state["confirm"])
        self._end = {(str(k), str(m)): float(e) for k, m, e in state["end"]}
        self._detected = {(str(k), str(m)): Point(step, epoch, int(i))
                          for k, m, step, epoch, i in state["detected"]}
        self._active = {(str(k), str(m)) for k, m in state["active"]}
        self._closed = {(str(k), str(m)): float(e) for k, m, e in state["closed"]}
        self._streak = {(str(k), str(m)): int(n) for k, m, n in state["streak"]}
        self._last = float(state["last"])
