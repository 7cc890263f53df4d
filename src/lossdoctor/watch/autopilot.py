"""The autopilot: findings → a `Plan` (stop, restore the best weights, roll back, change the LR)
→ applied to a `Target`, every step of it logged as an `Action` with its reason."""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lossdoctor.findings import KINDS, Finding, jsonable
from lossdoctor.names import direction
from lossdoctor.watch.policy import NO_LR_CUT_FORMS, Policy
from lossdoctor.watch.target import Snapshots, Target

__all__ = ["Action", "Autopilot", "Plan"]

#: EarlyStopping keeps the best weights; its own patience counter is not used here (the
#: overfitting rule decides when to stop), so it is given one that never fires.
_NEVER = 2**62


@dataclass
class Action:
    """One thing the autopilot did (or, when `applied` is False, would have done or could not
    do: dry run, nothing to act on, LR already at its minimum).

    Attributes:
        step, epoch: where it happened (epoch None when unknown).
        name: ``stop``, ``restore_best``, ``rollback``, ``lower_lr`` or ``skip``.
        kind: the finding kind that caused it.
        reason: one line saying why.
        params: the numbers (``lr_from``/``lr_to``, ``to_step``, ``retry`` …).
        applied: False in a dry run or when it could not be applied.
    """

    step: float
    epoch: float | None
    name: str
    kind: str
    reason: str
    params: dict[str, Any] = field(default_factory=dict)
    applied: bool = True

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["params"] = jsonable(self.params)
        out: dict[str, Any] = jsonable(d)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Action:
        return cls(step=float(d["step"]), epoch=None if d["epoch"] is None else float(d["epoch"]),
                   name=str(d["name"]), kind=str(d["kind"]), reason=str(d["reason"]),
                   params=dict(d["params"]), applied=bool(d["applied"]))


@dataclass
class Plan:
    """What to do after one logged step (the same on every rank: see `encode`)."""

    stop: bool = False
    restore_best: bool = False
    rollback_to: float = math.nan  # step of the snapshot to load; -inf: the state at the start
    lr_factor: float = 1.0
    #: (action, kind, reason, params) for the action log; local to the rank.
    why: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list, compare=False)

    @property
    def empty(self) -> bool:
        return not (self.stop or self.restore_best or not math.isnan(self.rollback_to)
                    or self.lr_factor != 1.0)

    def encode(self) -> list[float]:
        return [float(self.stop), float(self.restore_best), self.rollback_to, self.lr_factor]

    @classmethod
    def decode(cls, v: list[float]) -> Plan:
        return cls(stop=v[0] > 0.5, restore_best=v[1] > 0.5, rollback_to=v[2], lr_factor=v[3])

    def same(self, other: Plan) -> bool:
        a, b = self.encode(), other.encode()
        return all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a, b, strict=True))


def _onset(f: Finding) -> float | None:
    """The step before which the model was still good."""
    e = f.evidence
    for key in ("onset_step", "best_step"):
        v = e.get(key)
        if isinstance(v, int | float) and math.isfinite(v):
            return float(v)
    return f.start.step


class Autopilot:
    """Applies a `Policy` to a `Target` (without a target it can only say stop).

    Args:
        policy: the settings.
        target: the model/optimizer to act on, or None.
        rank: this process's rank (a checkpoint file gets a ``.rank<r>`` suffix on ranks > 0,
            so ranks never write the same file).
    """

    def __init__(self, policy: Policy, target: Target | None, *, rank: int = 0) -> None:
        self.policy = policy
        self.target = target
        self.rank = rank
        self.snapshots = Snapshots(policy.keep_snapshots)
        self.retries = 0
        self.last_lr_change: float = -math.inf
        self.last_snapshot_count = 0
        self.actions: list[Action] = []
        self._keeper: Any = None
        self._monitor: str | None = None
        if target is not None:
            self.snapshots.initial = target.snapshot()

    # -- best weights ------------------------------------------------------------------------
    def _make_keeper(self, monitor: str) -> Any:
        from lossdoctor.train.early_stopping import EarlyStopping

        path = self.policy.checkpoint_path
        if path is not None and self.rank > 0:
            p = Path(path)
            path = os.fspath(p.with_name(f"{p.stem}.rank{self.rank}{p.suffix}"))
        return EarlyStopping(mode="max" if direction(monitor) == "max" else "min",
                             patience=_NEVER, restore_best=True, checkpoint_path=path)

    def observe_eval(self, metrics: dict[str, float]) -> None:
        """Keep the weights of the best evaluation (`metrics`: canonical name → value)."""
        if self.target is None or not self.policy.restore_best:
            return
        if self._monitor is None:
            wanted = [self.policy.monitor] if self.policy.monitor else ["val_loss", "val_acc"]
            self._monitor = next((m for m in wanted if m in metrics), None)
            if self._monitor is None:
                return
            self._keeper = self._make_keeper(self._monitor)
        value = metrics.get(self._monitor)
        if value is not None:
            self._keeper.step(value, self.target.module)

    @property
    def best(self) -> tuple[str, float, int | None] | None:
        """(monitored metric, best value, evaluation number) once a best weight is kept."""
        k = self._keeper
        if k is None or not k.has_best:
            return None
        return self._monitor or "", float(k.best), k.best_step

    def restore_best(self) -> bool:
        """Load the best weights kept so far; False when there are none."""
        if self.target is None or self._keeper is None or not self._keeper.has_best:
            return False
        self._keeper.restore(self.target.module)
        return True

    # -- snapshots ---------------------------------------------------------------------------
    def maybe_snapshot(self, step: float, count: int, healthy: bool) -> None:
        """Take a snapshot every `snapshot_every` logged steps while the run is healthy."""
        if self.target is None or not healthy:
            return
        if count - self.last_snapshot_count < self.policy.snapshot_every:
            return
        self.last_snapshot_count = count
        snap = self.target.snapshot()
        if snap is not None:  # never keep a non-finite state
            self.snapshots.add(step, snap)

    # -- deciding ----------------------------------------------------------------------------
    def plan(self, events: list[Finding], step: float) -> Plan:
        """What the new findings call for (most urgent first; a stop outranks the rest)."""
        p = self.policy
        plan = Plan()
        order = {k: i for i, k in enumerate(KINDS)}
        for f in sorted(events, key=lambda f: order.get(f.kind, len(order))):
            action = p.action(f.kind)
            summary = f.summary()
            if action == "stop" and not plan.stop:
                plan.stop, plan.restore_best = True, p.restore_best
                plan.why.append(("stop", f.kind, summary, {}))
            elif action == "rollback" and not plan.stop and math.isnan(plan.rollback_to):
                onset = _onset(f)
                to = self.snapshots.before(onset)
                if self.retries >= p.max_retries:
                    plan.stop, plan.restore_best = True, p.restore_best
                    plan.why.append(("stop", f.kind, f"still unstable after {self.retries} "
                                     f"rollback(s) (max_retries={p.max_retries}): {summary}", {}))
                    if to is not None:
                        plan.rollback_to = to
                elif to is None:
                    plan.why.append(("rollback", f.kind, "no known-good state to roll back to: "
                                     + summary, {}))
                else:
                    plan.rollback_to, plan.lr_factor = to, p.rollback_lr_factor
                    plan.why.append(("rollback", f.kind, summary,
                                     {"onset_step": onset, "retry": self.retries + 1}))
            elif action == "lower_lr" and plan.lr_factor == 1.0 and not plan.stop:
                if f.kind == "plateau" and f.evidence.get("form") in NO_LR_CUT_FORMS:
                    continue
                if step - self.last_lr_change < p.cooldown:
                    continue
                plan.lr_factor = p.lr_factor
                plan.why.append(("lower_lr", f.kind, summary, {}))
        if plan.stop:  # a stop supersedes an LR change
            plan.lr_factor = 1.0
        return plan

    # -- acting ------------------------------------------------------------------------------
    def _log(self, step: float, epoch: float | None, name: str, kind: str, reason: str,
             params: dict[str, Any], applied: bool) -> Action:
        a = Action(step=step, epoch=epoch, name=name, kind=kind, reason=reason, params=params,
                   applied=applied)
        self.actions.append(a)
        return a

    def apply(self, plan: Plan, step: float, epoch: float | None) -> list[Action]:
        """Carry out `plan` (log only, in a dry run); returns the actions logged."""
        dry = self.policy.dry_run
        t = self.target
        out: list[Action] = []
        why = {name: (kind, reason, params) for name, kind, reason, params in plan.why}
        default: tuple[str, str, dict[str, Any]] = ("", "decided on rank 0", {})
        lrs_before = t.lrs() if t is not None else []
        if not math.isnan(plan.rollback_to):
            kind, reason, params = why.get("rollback", why.get("stop", default))
            to = plan.rollback_to
            params = {**params, "to_step": None if to == -math.inf else to}
            applied = t is not None and not dry
            if applied:
                assert t is not None
                t.restore(self.snapshots.get(to))
                t.set_lrs(lrs_before)  # the snapshot's LR is older; the new one is set below
                self.snapshots.drop_after(to)
                if not plan.stop:
                    self.retries += 1
            out.append(self._log(step, epoch, "rollback", kind, reason, params, applied))
        if plan.lr_factor != 1.0:
            kind, reason, params = why.get("lower_lr", why.get("rollback", default))
            new = [max(self.policy.min_lr, lr * plan.lr_factor) for lr in lrs_before]
            can = t is not None and bool(lrs_before) and new != lrs_before
            if t is None or not lrs_before:
                reason = f"no optimizer to change the LR of: {reason}"
            elif new == lrs_before:
                reason = f"LR already at min_lr={self.policy.min_lr:g}: {reason}"
            params = {**params, "factor": plan.lr_factor,
                      "lr_from": lrs_before[0] if lrs_before else None,
                      "lr_to": new[0] if new else None}
            if can and not dry:
                assert t is not None
                t.set_lrs(new)
                self.last_lr_change = step
            out.append(self._log(step, epoch, "lower_lr", kind, reason, params, can and not dry))
        if "rollback" in why and math.isnan(plan.rollback_to) and not plan.stop:
            kind, reason, params = why["rollback"]  # nothing to roll back to
            out.append(self._log(step, epoch, "rollback", kind, reason, params, False))
        if plan.stop:
            kind, reason, params = why.get("stop", default)
            out.append(self._log(step, epoch, "stop", kind, reason, params, not dry))
            if plan.restore_best:
                best = self.best
                ok = best is not None and not dry and self.restore_best()
                detail = (f"{best[0]} {best[1]:.4g} at evaluation {best[2]}" if best
                          else "no best weights kept")
                out.append(self._log(step, epoch, "restore_best", kind,
                                     f"restored the best weights ({detail})" if ok
                                     else f"best weights: {detail}",
                                     {"monitor": best[0] if best else None,
                                      "value": best[1] if best else None}, ok))
        return out

    def record_skip(self, step: float, epoch: float | None, loss: float, reason: str) -> None:
        self._log(step, epoch, "skip", "spike", reason, {"loss": loss}, not self.policy.dry_run)

    # -- state -------------------------------------------------------------------------------
    def state_dict(self, *, weights: bool = True) -> dict[str, Any]:
        keeper = None
        if self._keeper is not None:
            keeper = self._keeper.state_dict()
            if not weights:
                keeper["best_weights"] = None
        return {
            "retries": self.retries,
            "last_lr_change": self.last_lr_change,
            "last_snapshot_count": self.last_snapshot_count,
            "actions": [a.to_dict() for a in self.actions],
            "monitor": self._monitor,
            "keeper": keeper,
        }

    def load_state_dict(self, state: dict[str, Any], *, step: float = -math.inf) -> None:
        """Load what `state_dict` returned; `step` is the step the run resumes at."""
        self.retries = int(state["retries"])
        self.last_lr_change = float(state["last_lr_change"])
        self.last_snapshot_count = int(state["last_snapshot_count"])
        self.actions = [Action.from_dict(a) for a in state["actions"]]
        self._monitor = state["monitor"]
        if state["keeper"] is not None and self._monitor is not None:
            self._keeper = self._make_keeper(self._monitor)
            self._keeper.load_state_dict(state["keeper"])
        # the state being resumed is the new starting point for rollbacks
        if self.target is not None:
            self.snapshots = Snapshots(self.policy.keep_snapshots)
            self.snapshots.initial = self.target.snapshot()
            self.snapshots.initial_step = step
