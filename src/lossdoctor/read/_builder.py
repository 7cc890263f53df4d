"""`RunBuilder`: the one place where readers turn points into a `Run`."""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable
from os import PathLike, fspath

import numpy as np

from lossdoctor.messages_lines import Message
from lossdoctor.names import canonical_name, normalise
from lossdoctor.run import Run, Series

__all__ = ["RunBuilder"]

_NAN = math.nan


class Points:
    """One metric's points as they come: step, epoch and value (float64 each, NaN when
    unknown). `array.array` grows in amortised O(1) and appends about twice as fast as item
    assignment into a preallocated numpy buffer (0.31 µs against 0.56 µs for three stores,
    measured when the live watcher's history was written); a `Run` copies them into numpy
    once."""

    __slots__ = ("epochs", "steps", "values")

    def __init__(self) -> None:
        self.steps = array("d")
        self.epochs = array("d")
        self.values = array("d")

    def __len__(self) -> int:
        return len(self.values)


class RunBuilder:
    """Collects points metric by metric (memory: 24 bytes a point) and builds a `Run`.

    Metric names are canonicalised in `build`: when several original names map to the same
    canonical name (``train_loss_step`` and ``train_loss_epoch``), the one with the most points
    takes it and the others keep their original names.
    """

    def __init__(self, *, name: str, source: str | PathLike[str], format: str) -> None:
        self.name = name
        self.source = fspath(source)
        self.format = format
        self.meta: dict[str, object] = {}
        self.warnings: list[Message] = []
        self._points: dict[str, Points] = {}
        self._bulk: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        """Total number of points collected so far."""
        return sum(len(p.values) for p in self._points.values()) + sum(
            len(v[2]) for v in self._bulk.values()
        )

    def add(
        self,
        metric: str,
        value: float,
        *,
        step: float | None = None,
        epoch: float | None = None,
    ) -> None:
        """Add one point of `metric` (its original name); missing step/epoch are NaN."""
        pts = self._points.get(metric)
        if pts is None:
            if metric in self._bulk:
                raise ValueError(f"metric {metric!r} was already added in bulk")
            pts = self._points[metric] = Points()
        pts.steps.append(_NAN if step is None else step)
        pts.epochs.append(_NAN if epoch is None else epoch)
        pts.values.append(value)

    def add_series(
        self,
        metric: str,
        values: Iterable[float] | np.ndarray,
        *,
        steps: Iterable[float] | np.ndarray | None = None,
        epochs: Iterable[float] | np.ndarray | None = None,
    ) -> None:
        """Add a whole series of `metric` at once (vectorised readers)."""
        v = np.asarray(values, dtype=np.float64)
        nan = np.full(len(v), np.nan)
        s = nan if steps is None else np.asarray(steps, dtype=np.float64)
        e = nan if epochs is None else np.asarray(epochs, dtype=np.float64)
        if metric in self._points or metric in self._bulk:
            old = self._take(metric)
            s, e, v = (np.concatenate([a, b]) for a, b in zip(old, (s, e, v), strict=True))
        self._bulk[metric] = (s, e, v)

    def warn(self, message: str, /, **params: object) -> None:
        """Record a one-line problem the reader recovered from (shown with the run): a
        `Message`, or the code of one with its parameters (``warn("json.not_objects",
        count=3)``); an unknown code is a ValueError. A line already recorded is not repeated."""
        if not isinstance(message, Message):
            message = Message(message, **params)
        if message not in self.warnings:
            self.warnings.append(message)

    def metrics(self) -> list[str]:
        """The original metric names seen so far, in order."""
        return list(self._points) + [m for m in self._bulk if m not in self._points]

    def _take(self, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if metric in self._bulk:
            return self._bulk.pop(metric)
        pts = self._points.pop(metric)
        return (
            np.frombuffer(pts.steps, dtype=np.float64).copy(),
            np.frombuffer(pts.epochs, dtype=np.float64).copy(),
            np.frombuffer(pts.values, dtype=np.float64).copy(),
        )

    def build(self) -> Run:
        """The `Run` with canonical names; warns about metrics that are entirely non-finite."""
        originals = self.metrics()
        arrays = {m: self._take(m) for m in originals}
        by_canon: dict[str, list[str]] = {}
        for m in originals:
            by_canon.setdefault(canonical_name(m), []).append(m)
        names: dict[str, str] = {}
        for canon, members in by_canon.items():
            # Most points wins; on a tie prefer the name that already is canonical, then order.
            winner = max(
                members,
                key=lambda m: (len(arrays[m][2]), normalise(m) == canon, -members.index(m)),
            )
            names[winner] = canon
        taken = set(names.values())
        for m in originals:
            if m in names:
                continue
            name = m
            k = 2
            while name in taken:
                name = f"{m}_{k}"
                k += 1
            names[m] = name
            taken.add(name)
        series: dict[str, Series] = {}
        for m in originals:
            s, e, v = arrays[m]
            if len(v) == 0:
                continue
            if not np.isfinite(v).any():
                code = "build.all_nan" if np.isnan(v).all() else "build.all_non_finite"
                self.warn(code, metric=m, count=len(v))
            series[names[m]] = Series(name=names[m], original=m, steps=s, epochs=e, values=v)
        return Run(
            name=self.name,
            source=self.source,
            format=self.format,
            series=series,
            warnings=list(self.warnings),
            meta=dict(self.meta),
        )
