"""`Policy`: which action the autopilot takes for each finding kind, and its settings."""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from lossdoctor.findings import KINDS

__all__ = ["ACTIONS", "DEFAULT_ACTIONS", "Policy"]

#: What the autopilot can do about a finding.
#: ``stop``: stop training (and restore the best weights when `Policy.restore_best`);
#: ``lower_lr``: multiply the LR by `Policy.lr_factor`;
#: ``rollback``: load the last known-good model and optimizer state, multiply the LR by
#: `Policy.rollback_lr_factor`, and stop after `Policy.max_retries` rollbacks;
#: ``skip``: (spike only) `Watch.should_skip` says True for a spiking or non-finite batch loss;
#: ``report``: only report the finding.
ACTIONS = ("stop", "lower_lr", "rollback", "skip", "report")

DEFAULT_ACTIONS: dict[str, str] = {
    "non_finite": "rollback",
    "divergence": "rollback",
    # the training loss climbed after its minimum and stayed up: the same cure, earlier
    "loss_rising": "rollback",
    "overfitting": "stop",
    "loss_up_acc_up": "report",
    "spike": "report",
    "oscillation": "lower_lr",
    "plateau": "lower_lr",
    "underfitting": "report",
    "converged": "report",
}

#: Plateau forms an LR cut does not help: frozen values (the LR is already ~0 or units are
#: dead) and no progress from the very start (the LR may be too low, not too high).
NO_LR_CUT_FORMS = ("frozen", "no_progress")


def _positive_fraction(name: str, v: object, *, one: bool = False) -> float:
    if not isinstance(v, int | float) or isinstance(v, bool) or not (0 < v < 1 or (one and v == 1)):
        raise ValueError(f"{name} must be a number in (0, 1), got {v!r}")
    return float(v)


def check_count(name: str, v: object, low: int = 0) -> int:
    """`v` when it is an int ≥ `low` (not a bool); ValueError naming the setting otherwise."""
    if not isinstance(v, int) or isinstance(v, bool) or v < low:
        raise ValueError(f"{name} must be an int >= {low}, got {v!r}")
    return v


@dataclass
class Policy:
    """The autopilot's settings (every field is JSON-serialisable).

    Args:
        actions: overrides of `DEFAULT_ACTIONS`, kind → one of `ACTIONS` (None means
            ``"report"``). Defaults: overfitting → stop; divergence, non_finite, loss_rising →
            rollback; oscillation, plateau → lower_lr; the rest → report.
        lr_factor: multiply the LR by this on ``lower_lr`` (0 < f < 1, default 0.5).
        min_lr: never lower an LR below this (≥ 0, default 0).
        cooldown: at least this many logged training steps between two LR changes (default 0:
            a finding acts once anyway; it acts again only when a new stretch of the curve,
            starting after the change, shows it again).
        rollback_lr_factor: multiply the LR by this after a rollback (default 0.3: two
            rollbacks take an LR 10x too high to about right).
        max_retries: rollbacks allowed in a run; the next divergence stops it (default 3).
        snapshot_every: keep an in-memory snapshot of the model and optimizer every this many
            logged steps when the run is healthy (default 100).
        keep_snapshots: snapshots kept, spaced geometrically back in time, plus the state the
            watcher started from (default 3).
        restore_best: keep the weights of the best evaluation and restore them on ``stop``
            (default True).
        checkpoint_path: keep those weights in this file instead of in memory (default None).
        monitor: the evaluation metric that picks the best weights (canonical name; default:
            ``val_loss``, else ``val_acc``).
        dry_run: only log what the autopilot would do (default False).
    """

    actions: dict[str, str | None] = field(default_factory=dict)
    lr_factor: float = 0.5
    min_lr: float = 0.0
    cooldown: int = 0
    rollback_lr_factor: float = 0.3
    max_retries: int = 3
    snapshot_every: int = 100
    keep_snapshots: int = 3
    restore_best: bool = True
    checkpoint_path: str | None = None
    monitor: str | None = None
    dry_run: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.actions, dict):
            raise ValueError(f"actions must be a dict kind -> action, got {self.actions!r}")
        clean: dict[str, str | None] = {}
        for kind, action in self.actions.items():
            if kind not in KINDS:
                raise ValueError(f"actions: unknown kind {kind!r}; known: {', '.join(KINDS)}")
            if action is not None and action not in ACTIONS:
                raise ValueError(f"actions[{kind!r}]: unknown action {action!r}; choose one of "
                                 f"{', '.join(ACTIONS)} or None")
            if action == "skip" and kind != "spike":
                raise ValueError(f"actions[{kind!r}]: 'skip' applies to spikes only")
            clean[kind] = action
        self.actions = clean
        self.lr_factor = _positive_fraction("lr_factor", self.lr_factor)
        self.rollback_lr_factor = _positive_fraction("rollback_lr_factor",
                                                     self.rollback_lr_factor, one=True)
        if not isinstance(self.min_lr, int | float) or isinstance(self.min_lr, bool) \
                or not math.isfinite(self.min_lr) or self.min_lr < 0:
            raise ValueError(f"min_lr must be a finite number >= 0, got {self.min_lr!r}")
        self.min_lr = float(self.min_lr)
        self.cooldown = check_count("cooldown", self.cooldown)
        self.max_retries = check_count("max_retries", self.max_retries)
        self.snapshot_every = check_count("snapshot_every", self.snapshot_every, 1)
        self.keep_snapshots = check_count("keep_snapshots", self.keep_snapshots, 1)
        if self.checkpoint_path is not None:
            if not isinstance(self.checkpoint_path, str | os.PathLike):
                raise ValueError(f"checkpoint_path must be a path, got {self.checkpoint_path!r}")
            self.checkpoint_path = os.fspath(self.checkpoint_path)
            if not self.restore_best:
                raise ValueError("checkpoint_path is only used with restore_best=True")
        if self.monitor is not None and not isinstance(self.monitor, str):
            raise ValueError(f"monitor must be a metric name, got {self.monitor!r}")
        self.restore_best = bool(self.restore_best)
        self.dry_run = bool(self.dry_run)

    def action(self, kind: str) -> str:
        """The action for `kind` (``"report"`` when disabled)."""
        a = self.actions.get(kind, DEFAULT_ACTIONS.get(kind, "report"))
        return "report" if a is None else a

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain data (`Policy(**d)` rebuilds it)."""
        return asdict(self)
