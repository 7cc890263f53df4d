"""Choosing the flood level ``b`` of `lossdoctor.train.flooding` (no torch needed).

Two ways, as in Ishida et al. (2020):

* `propose_flood_level` reads a logged `Run`: the smoothed training loss at the point where the
  validation loss started to rise is the level below which training memorises, so it is the
  natural first guess for ``b``.
* `search_flood_level` tries a grid of levels with the user's own train-and-validate function and
  keeps the best on validation (the paper's protocol).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lossdoctor.run import Run

__all__ = [
    "DEFAULT_LEVELS",
    "FloodLevelProposal",
    "FloodLevelSearch",
    "propose_flood_level",
    "search_flood_level",
]

#: The grid 0, 0.01, …, 0.50.
DEFAULT_LEVELS: tuple[float, ...] = tuple(round(0.01 * i, 2) for i in range(51))


@dataclass(frozen=True)
class FloodLevelProposal:
    """A flood level read from a run's curves.

    Attributes:
        level: the proposed ``b`` (the smoothed training loss where validation loss started to
            rise), or None when the validation loss never rose.
        reason: one line saying where the level comes from, or why there is none.
        evidence: the numbers behind it (axis, x and value of the validation minimum, the rise
            after it in percent, the raw and smoothed training loss there).
    """

    level: float | None
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FloodLevelSearch:
    """The result of `search_flood_level`.

    Attributes:
        best_level: the level with the best validation score.
        best_score: its score.
        mode: ``"min"`` (scores are losses) or ``"max"`` (scores are accuracies).
        table: ``(level, score)`` for every level tried, in the order tried.
    """

    best_level: float
    best_score: float
    mode: str
    table: list[tuple[float, float]]


def _centred_mean(y: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average with a window shrinking at the edges (no padding invented)."""
    if window <= 1 or len(y) < 3:
        return y.copy()
    half = window // 2
    csum = np.concatenate([[0.0], np.cumsum(y)])
    idx = np.arange(len(y))
    lo = np.maximum(idx - half, 0)
    hi = np.minimum(idx + half + 1, len(y))
    return (csum[hi] - csum[lo]) / (hi - lo)


def propose_flood_level(
    run: Run, *, smooth_fraction: float = 0.05, min_rise: float = 0.01
) -> FloodLevelProposal:
    """Propose a flood level from a run's ``train_loss`` and ``val_loss`` curves.

    The validation loss is smoothed (centred moving average over ``smooth_fraction`` of its
    points) and its minimum located; if the smoothed validation loss ends more than ``min_rise``
    (relative) above that minimum, the proposal is the training loss at the minimum's position,
    smoothed the same way (over ``smooth_fraction`` of the training points) and interpolated on
    the shared axis (steps when both series have them, else epochs).

    Args:
        run: a `lossdoctor.Run` with ``train_loss`` and ``val_loss`` series.
        smooth_fraction: width of the moving averages as a fraction of each series' points
            (0 < f ≤ 1; default 0.05).
        min_rise: relative rise of the smoothed validation loss after its minimum below which
            the run is not considered overfitting (default 0.01 = 1 %).

    Raises:
        ValueError: a series is missing, has fewer than 3 finite points, or the two series share
            no axis.
    """
    if not 0 < smooth_fraction <= 1:
        raise ValueError(f"smooth_fraction must be in (0, 1], got {smooth_fraction!r}")
    if not (math.isfinite(min_rise) and min_rise >= 0):
        raise ValueError(f"min_rise must be finite and >= 0, got {min_rise!r}")
    for name in ("train_loss", "val_loss"):
        if name not in run:
            raise ValueError(
                f"run {run.name!r} has no {name} series (it has: {', '.join(run.series) or 'none'})"
            )
    train, val = run["train_loss"], run["val_loss"]
    if train.has_steps and val.has_steps and np.isfinite(val.steps).all():
        axis = "step"
        tx, vx = train.steps, val.steps
    elif train.has_epochs and val.has_epochs and np.isfinite(val.epochs).all():
        axis = "epoch"
        tx, vx = train.epochs, val.epochs
    else:
        raise ValueError(
            f"run {run.name!r}: train_loss and val_loss share no step or epoch axis"
        )
    tkeep = np.isfinite(tx) & np.isfinite(train.values)
    vkeep = np.isfinite(vx) & np.isfinite(val.values)
    tx, ty = tx[tkeep], train.values[tkeep]
    vx, vy = vx[vkeep], val.values[vkeep]
    for name, n in (("train_loss", len(ty)), ("val_loss", len(vy))):
        if n < 3:
            raise ValueError(f"run {run.name!r}: {name} has {n} finite points, need at least 3")
    order_t, order_v = np.argsort(tx, kind="stable"), np.argsort(vx, kind="stable")
    tx, ty, vx, vy = tx[order_t], ty[order_t], vx[order_v], vy[order_v]

    vs = _centred_mean(vy, max(1, round(smooth_fraction * len(vy))))
    i = int(np.argmin(vs))
    best, last = float(vs[i]), float(vs[-1])
    rise = (last - best) / abs(best) if best != 0 else math.inf * (last > best)
    evidence: dict[str, Any] = {
        "axis": axis,
        "val_min_at": float(vx[i]),
        "val_min": best,
        "val_last": last,
        "val_rise_pct": round(100 * rise, 2) if math.isfinite(rise) else None,
    }
    if i == len(vs) - 1 or rise <= min_rise:
        return FloodLevelProposal(
            None,
            f"validation loss did not rise after its minimum at {axis} {vx[i]:g} "
            f"(rise {100 * max(rise, 0):.2f}% ≤ {100 * min_rise:g}%): no flood level needed",
            evidence,
        )
    ts = _centred_mean(ty, max(1, round(smooth_fraction * len(ty))))
    level = float(np.interp(vx[i], tx, ts))
    raw = float(np.interp(vx[i], tx, ty))
    evidence.update(train_loss_at_min=raw, train_loss_smoothed_at_min=level)
    if level < 0:
        return FloodLevelProposal(
            None,
            f"validation loss started to rise at {axis} {vx[i]:g}, where the smoothed training "
            f"loss is {level:.4g} < 0: a flood level must be >= 0 (flooding is defined for "
            "non-negative losses; add a constant to the loss first)",
            evidence,
        )
    return FloodLevelProposal(
        level,
        f"validation loss started to rise at {axis} {vx[i]:g} ({best:.4g} → {last:.4g}, "
        f"+{100 * rise:.1f}%); the smoothed training loss there is {level:.4g}",
        evidence,
    )


def search_flood_level(
    fit_and_score: Callable[[float], float],
    levels: Iterable[float] = DEFAULT_LEVELS,
    *,
    mode: str = "max",
) -> FloodLevelSearch:
    """Train once per flood level with the user's function and keep the best on validation.

    Args:
        fit_and_score: called as ``fit_and_score(b)``; trains a fresh model with flood level
            ``b`` and returns its validation score (a float).
        levels: the levels to try (each ≥ 0 and finite); default 0, 0.01, …, 0.50.
        mode: ``"max"`` when the score is an accuracy-like metric (default, as in the paper),
            ``"min"`` when it is a loss.

    Returns:
        The best level (the first one on ties; NaN scores never win) and the whole table.
    """
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    grid: Sequence[float] = [float(b) for b in levels]
    if not grid:
        raise ValueError("levels is empty")
    for b in grid:
        if not math.isfinite(b) or b < 0:
            raise ValueError(f"flood level b must be finite and >= 0, got {b!r}")
    table: list[tuple[float, float]] = []
    for b in grid:
        score = float(fit_and_score(b))
        table.append((b, score))
    finite = [(b, s) for b, s in table if math.isfinite(s)]
    if not finite:
        raise ValueError("fit_and_score returned no finite score for any level")
    sign = 1.0 if mode == "min" else -1.0
    best_level, best_score = min(finite, key=lambda t: sign * t[1])
    return FloodLevelSearch(best_level, best_score, mode, table)
