"""`History`: the metrics a live run logged, in growable buffers, turned into a `Run` on demand."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lossdoctor.read._builder import Points, RunBuilder
from lossdoctor.run import Run

__all__ = ["History"]


class _Column(Points):
    """One metric's points, which a rollback can cut."""

    __slots__ = ()

    def cut_after(self, step: float) -> None:
        """Remove the trailing points logged after `step`."""
        steps = self.steps
        i = len(steps)
        while i > 0 and steps[i - 1] > step:
            i -= 1
        for a in (self.steps, self.epochs, self.values):
            del a[i:]


class History:
    """Every point logged so far, metric by metric, under the names the caller used.

    Memory: 24 bytes a point. `to_run` canonicalises names the way the readers do
    (`RunBuilder`), so ``loss`` becomes ``train_loss`` and ``eval_accuracy`` ``val_acc``.
    """

    def __init__(self) -> None:
        self._cols: dict[str, _Column] = {}
        self.rolled_back: list[tuple[float, float]] = []

    def column(self, name: str) -> _Column:
        """The buffers of `name` (created empty if new); appending to them directly is the
        fast path the watcher uses on every step."""
        col = self._cols.get(name)
        if col is None:
            col = self._cols[name] = _Column()
        return col

    def points(self, name: str) -> int:
        """Number of points of metric `name` (0 when never logged)."""
        col = self._cols.get(name)
        return 0 if col is None else len(col)

    def point(self, name: str, i: int) -> tuple[float | None, float | None]:
        """(step, epoch) of point `i` of `name`, None where unknown."""
        col = self._cols[name]
        s, e = col.steps[i], col.epochs[i]
        return (None if math.isnan(s) else s), (None if math.isnan(e) else e)

    def values(self, name: str) -> np.ndarray:
        """A copy of the values of `name`."""
        col = self._cols.get(name)
        return np.zeros(0) if col is None else np.array(col.values, dtype=np.float64)

    def roll_back(self, to_step: float, at_step: float) -> None:
        """Drop every point logged after `to_step`: the model was rolled back to its state
        there, so those points belong to a branch of the run that no longer exists. The span
        is remembered in `rolled_back`."""
        for col in self._cols.values():
            col.cut_after(to_step)
        self.rolled_back.append((to_step, at_step))

    def to_run(self, *, name: str, source: str = "<live>") -> Run:
        """The `Run` of everything logged so far (the buffers are copied)."""
        b = RunBuilder(name=name, source=source, format="live")
        for metric, col in self._cols.items():
            if len(col):
                b.add_series(metric, np.array(col.values, dtype=np.float64),
                             steps=np.array(col.steps, dtype=np.float64),
                             epochs=np.array(col.epochs, dtype=np.float64))
        if self.rolled_back:
            b.meta["rolled_back"] = [list(span) for span in self.rolled_back]
        return b.build()

    def state_dict(self) -> dict[str, Any]:
        """The points as plain lists (NaN kept): picklable, and JSON with ``allow_nan``."""
        return {
            "metrics": {k: {"steps": c.steps.tolist(), "epochs": c.epochs.tolist(),
                            "values": c.values.tolist()} for k, c in self._cols.items()},
            "rolled_back": [list(s) for s in self.rolled_back],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Replace the history with what `state_dict` returned."""
        cols: dict[str, _Column] = {}
        for k, d in state["metrics"].items():
            col = _Column()
            n = len(d["values"])
            if len(d["steps"]) != n or len(d["epochs"]) != n:
                raise ValueError(f"history of {k!r}: steps, epochs and values differ in length")
            col.steps.extend(_floats(d["steps"]))
            col.epochs.extend(_floats(d["epochs"]))
            col.values.extend(_floats(d["values"]))
            cols[str(k)] = col
        self._cols = cols
        self.rolled_back = [(float(a), float(b)) for a, b in state.get("rolled_back", [])]


def _floats(xs: list[Any]) -> list[float]:
    # JSON round trips turn NaN into None in some writers; keep it NaN.
    return [math.nan if x is None else float(x) for x in xs]
