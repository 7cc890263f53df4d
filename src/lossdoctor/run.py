"""The data model every reader produces and every rule reads: a `Run` of named `Series`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lossdoctor.names import direction

__all__ = ["Run", "Series"]


@dataclass(frozen=True, eq=False)
class Series:
    """One metric over time.

    Attributes:
        name: canonical name (``train_loss``, ``val_loss``, ``val_acc``, ``lr`` …) or, for
            metrics without a canonical form, the original name.
        original: the metric name exactly as the log wrote it.
        steps: float64 array of optimizer steps; NaN where the log gave none.
        epochs: float64 array of (possibly fractional) epochs; NaN where the log gave none.
        values: float64 array of values; NaN and ±inf are kept as logged.
    """

    name: str
    original: str
    steps: np.ndarray
    epochs: np.ndarray
    values: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.values)
        for label in ("steps", "epochs", "values"):
            arr = np.asarray(getattr(self, label), dtype=np.float64)
            if arr.ndim != 1 or len(arr) != n:
                raise ValueError(
                    f"series {self.name!r}: {label} has shape {arr.shape}, expected ({n},)"
                )
            arr.setflags(write=False)
            object.__setattr__(self, label, arr)

    def __len__(self) -> int:
        return len(self.values)

    def __repr__(self) -> str:
        return (
            f"Series(name={self.name!r}, original={self.original!r}, points={len(self)}, "
            f"axis={self.axis!r})"
        )

    @property
    def has_steps(self) -> bool:
        """True when at least one point carries a step number."""
        return bool(np.isfinite(self.steps).any())

    @property
    def has_epochs(self) -> bool:
        """True when at least one point carries an epoch number."""
        return bool(np.isfinite(self.epochs).any())

    @property
    def axis(self) -> str:
        """The x-axis the series is best plotted and analysed against.

        ``"step"`` when every point has a step, else ``"epoch"`` when every point has an epoch
        and epochs are not shared by many points (a per-batch loss logged with its epoch only
        is positioned by its order), else ``"index"`` (the position of the point in the log).
        """
        if len(self) and np.isfinite(self.steps).all():
            return "step"
        if len(self) and np.isfinite(self.epochs).all():
            repeats = np.count_nonzero(np.diff(self.epochs) == 0)
            if repeats <= 0.1 * len(self):
                return "epoch"
        return "index"

    @property
    def x(self) -> np.ndarray:
        """The values of `axis` for every point (float64)."""
        axis = self.axis
        if axis == "step":
            return self.steps
        if axis == "epoch":
            return self.epochs
        return np.arange(len(self), dtype=np.float64)

    @property
    def direction(self) -> str | None:
        """``"min"`` when lower is better (losses, error rates), ``"max"`` when higher is better
        (accuracy-like), ``None`` when unknown (e.g. the learning rate)."""
        return direction(self.name) or direction(self.original)

    @property
    def finite(self) -> np.ndarray:
        """Boolean mask of the finite values."""
        return np.isfinite(self.values)

    def summary(self) -> dict[str, Any]:
        """Counts and ranges: points, first/last step and epoch, non-finite count, min and max
        of the finite values (None where there is nothing to report)."""

        def num(a: np.ndarray, pick: int | None = None, how: str = "") -> float | int | None:
            a = a[np.isfinite(a)]
            if not len(a):
                return None
            v = float(a[pick]) if pick is not None else float(getattr(a, how)())
            return int(v) if v.is_integer() and abs(v) < 2**53 else v

        return {
            "points": len(self),
            "original": self.original,
            "first_step": num(self.steps, 0),
            "last_step": num(self.steps, -1),
            "first_epoch": num(self.epochs, 0),
            "last_epoch": num(self.epochs, -1),
            "non_finite": int(len(self) - np.count_nonzero(self.finite)),
            "min": num(self.values, how="min"),
            "max": num(self.values, how="max"),
        }


@dataclass(eq=False)
class Run:
    """A training run: named metric series read from one source.

    Attributes:
        name: a human-readable run name (file stem, directory, MLflow run name …).
        source: the path the run was read from.
        format: the reader that produced it (``"hf_trainer_state"``, ``"tensorboard"`` …).
        series: canonical metric name → `Series`, in the order first seen.
        warnings: one-line problems the reader recovered from (truncated record, NaN cells …).
        meta: anything else the log said about the run (hyper-parameters, tags …).
    """

    name: str
    source: str
    format: str
    series: dict[str, Series] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Series:
        return self.series[name]

    def __contains__(self, name: object) -> bool:
        return name in self.series

    def __iter__(self) -> Iterator[Series]:
        return iter(self.series.values())

    def __repr__(self) -> str:
        metrics = ", ".join(f"{k}[{len(s)}]" for k, s in self.series.items())
        return f"Run(name={self.name!r}, format={self.format!r}, series=[{metrics}])"

    @property
    def metrics(self) -> Mapping[str, Series]:
        """Alias of `series`."""
        return self.series

    def get(self, name: str) -> Series | None:
        """The series called `name`, or None."""
        return self.series.get(name)
