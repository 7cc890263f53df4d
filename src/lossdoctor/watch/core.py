"""`Watch`: the diagnosis, run live inside a training loop, with an optional autopilot.

Per logged step the watcher appends to growable buffers and runs the online checks (non-finite
values at once, spikes and explosions against a robust running baseline: O(1)). The full
diagnosis (`lossdoctor.diagnosis.diagnose_run`, O(n) for n points) runs when the number of
logged steps, or of evaluations, has grown by `growth` since the last one, so its total cost
over a run of n steps is O(n / growth): O(1) amortised per step. A finding is reported once,
when it first appears, with the step where it was detected (`Finding.detected_at`).
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from lossdoctor.diagnosis import diagnose_run
from lossdoctor.findings import Diagnosis, Finding, Point, Remedy, jsonable
from lossdoctor.messages_lines import Message
from lossdoctor.names import canonical_name, direction, normalise, split_phase
from lossdoctor.run import Run
from lossdoctor.watch.autopilot import Action, Autopilot, Plan
from lossdoctor.watch.dist import Comm, default_comm
from lossdoctor.watch.episodes import Episodes, position
from lossdoctor.watch.history import History
from lossdoctor.watch.online import WINDOW, OnlineEvent, OnlineLoss
from lossdoctor.watch.policy import Policy, check_count
from lossdoctor.watch.target import Target, TorchTarget

__all__ = ["END_OF_RUN_KINDS", "Watch"]

logger = logging.getLogger("lossdoctor.watch")

#: Kinds that judge how a run ended: in the full diagnosis, never reported live.
END_OF_RUN_KINDS = frozenset({"underfitting"})
#: Kinds that judge bouncing or stalling: on a training-phase series they wait for `settle`
#: points (on a short per-step curve the rules read minibatch noise as either).
SLOW_KINDS = frozenset({"oscillation", "plateau", "converged"})
#: `should_skip` never says skip more than this many batches in a row (a level shift is not a
#: spike; the explosion check takes over).
MAX_CONSECUTIVE_SKIPS = 3
_STATE_VERSION = 1
#: ints beyond this are converted (and range-checked) the slow way
_BIG = 2**63


def _number(v: Any, what: str) -> float:
    """`v` as a float: a Python/NumPy number or a one-element tensor/array."""
    if isinstance(v, bool | str | bytes):
        raise TypeError(f"{what} must be a number or a one-element tensor, got "
                        f"{type(v).__name__}")
    if hasattr(v, "detach"):  # a tensor still attached to the graph: no autograd warning
        v = v.detach()
    if getattr(v, "size", None) == 1 and hasattr(v, "item"):  # a one-element array or tensor
        v = v.item()  # (NumPy 2 no longer converts arrays of ndim > 0 with float())
    try:
        return float(v)
    except OverflowError:  # an int beyond float's range
        raise ValueError(f"{what} is too large for a float: {v!r:.40}") from None
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{what} must be a number or a one-element tensor, got "
                        f"{type(v).__name__}{tuple(getattr(v, 'shape', ())) or ''}") from None


def _step(step: Any) -> float:
    s = _number(step, "step")
    if not math.isfinite(s):
        raise ValueError(f"step must be finite, got {step!r}")
    return s


def _epoch(epoch: Any) -> float:
    if epoch is None:
        return math.nan
    e = _number(epoch, "epoch")
    if not math.isfinite(e):
        raise ValueError(f"epoch must be finite or None, got {epoch!r}")
    return e


def _policy(autopilot: Policy | dict[str, Any] | bool) -> Policy | None:
    if autopilot is False or autopilot is None:
        return None
    if autopilot is True:
        return Policy()
    if isinstance(autopilot, dict):
        return Policy(**autopilot)
    if isinstance(autopilot, Policy):
        return autopilot
    raise TypeError(f"autopilot must be a Policy, a dict of its settings or a bool, got "
                    f"{type(autopilot).__name__}")


def _point(step: float | None, epoch: float | None, index: int) -> Point:
    return Point(step, epoch, index)


def _finding_state(f: Finding) -> dict[str, Any]:
    def pt(p: Point | None) -> list[Any] | None:
        return None if p is None else [p.step, p.epoch, p.index]

    return jsonable({
        "kind": f.kind, "metric": f.metric, "severity": f.severity, "start": pt(f.start),
        "end": pt(f.end), "evidence": f.evidence, "confidence": f.confidence,
        "detected_at": pt(f.detected_at),
        "remedies": [{"name": r.name, "params": r.params, "code": r.code} for r in f.remedies],
    })


def _finding_from_state(d: dict[str, Any]) -> Finding:
    def pt(v: list[Any] | None) -> Point | None:
        return None if v is None else Point(v[0], v[1], int(v[2]))

    start, end = pt(d["start"]), pt(d["end"])
    assert start is not None and end is not None
    return Finding(kind=d["kind"], metric=d["metric"], severity=d["severity"], start=start,
                   end=end, evidence=dict(d["evidence"]), confidence=float(d["confidence"]),
                   detected_at=pt(d["detected_at"]),
                   remedies=[Remedy(r["name"], dict(r["params"]), r["code"])
                             for r in d["remedies"]])


class Watch:
    """Diagnose a training run while it runs, and optionally act on what is found.

    Args:
        model, optimizer: the PyTorch model and optimizer the autopilot acts on (optional:
            without them the watcher only reports, and ``stop`` only sets `should_stop`).
        scheduler: an LR scheduler whose ``base_lrs`` follow the autopilot's LR changes.
        target: instead of model/optimizer, any `lossdoctor.watch.target.Target` (the Keras
            integration passes one).
        autopilot: False (default: report only), True (the default `Policy`), a `Policy` or
            a dict of its settings.
        growth: run the full diagnosis when the logged steps grew by this fraction since the
            last one (default 0.25: over a run the diagnoses cost (1 + growth) / growth = 5
            diagnoses of the final run, O(1) per step; a training-side finding is seen at most
            25% of the elapsed run late).
        eval_growth: also run it at an evaluation when the evaluations grew by this fraction
            (default 0.05: every evaluation up to the 20th, then every 5%).
        min_points: at least this many logged steps between two diagnoses triggered by
            training steps, and before any finding on a training-phase series is reported
            (default 100: a diagnosis triggered by an early evaluation judges the training loss
            on too few noisy points).
        settle: oscillation, plateau and converged on a training-phase series are reported
            once the training loss has this many points (default 1000: the rules summarise
            long curves into bins; a shorter per-step curve is judged point by point, and its
            minibatch noise reads as bouncing). Validation series are not affected.
        confirm: a finding of the full diagnosis is reported once it has appeared in this many
            consecutive diagnoses (default 2; online findings are reported at once).
        name: the run's name in reports.
        on_event: called with each new `Finding` (default: none; events are also logged to
            the ``lossdoctor.watch`` logger).
        on_action: called with each `Action` of the autopilot.
        comm: how ranks talk (default: `torch.distributed` when initialised with more than one
            rank, else none); see `lossdoctor.watch.dist`.

    Call `log` after each optimizer step and `log_eval` after each evaluation; every rank of a
    distributed run must call them with the same metric names at the same steps. Errors in
    the arguments raise at once (`TypeError`/`ValueError`); any other error inside the watcher
    is reported once (a `RuntimeWarning`) and the watcher steps aside: training goes on.
    """

    def __init__(
        self,
        model: Any = None,
        optimizer: Any = None,
        *,
        scheduler: Any = None,
        target: Target | None = None,
        autopilot: Policy | dict[str, Any] | bool = False,
        growth: float = 0.25,
        eval_growth: float = 0.05,
        min_points: int = 100,
        settle: int = 1000,
        confirm: int = 2,
        name: str = "live",
        on_event: Callable[[Finding], object] | None = None,
        on_action: Callable[[Action], object] | None = None,
        comm: Comm | None = None,
    ) -> None:
        for label, g in (("growth", growth), ("eval_growth", eval_growth)):
            if not isinstance(g, int | float) or isinstance(g, bool) or not (0 < g <= 10):
                raise ValueError(f"{label} must be a number in (0, 10], got {g!r}")
        for label, k in (("min_points", min_points), ("settle", settle)):
            check_count(label, k, 1)
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        for label, fn in (("on_event", on_event), ("on_action", on_action)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{label} must be callable, got {type(fn).__name__}")
        if comm is not None and not (hasattr(comm, "sum") and hasattr(comm, "world")):
            raise TypeError("comm must have .world, .rank and .sum(values)")
        if target is not None and model is not None:
            raise ValueError("give either model/optimizer or target, not both")
        if target is None and model is not None:
            target = TorchTarget(model, optimizer, scheduler)
        elif target is None and (optimizer is not None or scheduler is not None):
            raise ValueError("an optimizer or scheduler needs its model")
        self.policy = _policy(autopilot)
        self.growth = float(growth)
        self.eval_growth = float(eval_growth)
        self.min_points = min_points
        self.settle = settle
        self.name = name
        self.on_event = on_event
        self.on_action = on_action
        self.history = History()
        #: Every finding reported so far, in the order reported (`detected_at` set).
        self.events: list[Finding] = []
        #: True once the autopilot decided to stop; `stop_reason` says why.
        self.should_stop = False
        self._warned_step_back = False
        self.stop_reason: str | None = None
        #: True once the watcher stepped aside after an internal error.
        self.disabled = False
        self._failed = False
        self._comm = comm
        self._comm_checked = False
        self._autopilot = (Autopilot(self.policy, target, rank=getattr(comm, "rank", 0))
                           if self.policy is not None else None)
        self._online = OnlineLoss()
        self._episodes = Episodes(confirm)
        self._loss_name: str | None = None
        self._sinks: dict[str, tuple[Any, ...]] = {}
        self._finite_since_bad: dict[str, int] = {}
        self._remedies: dict[tuple[str, str], list[Remedy]] = {}
        self._n_train = 0
        self._n_eval = 0
        self._diag_train = 0
        self._diag_eval = 0
        self._step = math.nan
        self._epoch = math.nan
        self._cached: tuple[tuple[int, int, int], Diagnosis] | None = None
        self._schedule()
        self._skips = 0
        self._stale: set[int] = set()

    def __repr__(self) -> str:
        state = "disabled" if self.disabled else "stopping" if self.should_stop else "watching"
        return (f"Watch(name={self.name!r}, steps={self._n_train}, evaluations={self._n_eval}, "
                f"events={len(self.events)}, actions={len(self.actions)}, {state})")

    # -- public API --------------------------------------------------------------------------
    @property
    def actions(self) -> list[Action]:
        """The autopilot's action log (empty without an autopilot)."""
        return self._autopilot.actions if self._autopilot is not None else []

    def log(self, step: float, *, train_loss: Any = None, lr: Any = None, grad_norm: Any = None,
            epoch: Any = None, **others: Any) -> None:
        """Record one training step (after ``optimizer.step()``).

        Args:
            step: the optimizer step (any finite number; resumed runs may repeat steps).
            train_loss, lr, grad_norm: the usual metrics (floats or one-element tensors; NaN
                and inf are data, not errors). None means not logged at this step.
            epoch: the (possibly fractional) epoch, or None.
            **others: any other training-phase metric, under the name it should carry.
        """
        if self.disabled:
            return
        # validated inline: this runs on every step
        s = float(step) if type(step) is int and -_BIG < step < _BIG else step if (
            type(step) is float and step - step == 0.0) else _step(step)
        e = math.nan if epoch is None else epoch if (
            type(epoch) is float and epoch - epoch == 0.0) else _epoch(epoch)
        if train_loss is not None and type(train_loss) is not float:
            train_loss = _number(train_loss, "train_loss")
        if lr is not None and type(lr) is not float:
            lr = _number(lr, "lr")
        if grad_norm is not None and type(grad_norm) is not float:
            grad_norm = _number(grad_norm, "grad_norm")
        if not others and self._comm_checked and self._comm is None and not self._failed:
            # the common case, without building a dict: one process, the usual metrics
            try:
                events = self._ingest("train", s, e, (("train_loss", train_loss), ("lr", lr),
                                                      ("grad_norm", grad_norm)))
            except Exception as exc:
                self._fail(exc)
                return
            if events is not None or self._autopilot is not None:
                self._after("train", s, e, events, None)
            return
        values: dict[str, float] = {}
        for k, v in (("train_loss", train_loss), ("lr", lr), ("grad_norm", grad_norm),
                     *others.items()):
            if v is not None:
                values[k] = v if type(v) is float else _number(v, k)
        self._record("train", s, e, values)

    def log_eval(self, step: float, *, val_loss: Any = None, val_acc: Any = None,
                 epoch: Any = None, **others: Any) -> None:
        """Record one evaluation.

        Args:
            step: the optimizer step it was run at.
            val_loss, val_acc: the validation loss and accuracy (None: not evaluated).
            epoch: the epoch (default: the last one given to `log`).
            **others: other evaluation metrics; a name without a validation prefix gets
                ``val_`` (``f1`` → ``val_f1``; ``eval_bleu`` stays).
        """
        if self.disabled:
            return
        s = _step(step)
        e = self._epoch if epoch is None else _epoch(epoch)
        values: dict[str, float] = {}
        if val_loss is not None:
            values["val_loss"] = _number(val_loss, "val_loss")
        if val_acc is not None:
            values["val_acc"] = _number(val_acc, "val_acc")
        for k, v in others.items():
            if v is None:
                continue
            name = k if split_phase(normalise(k))[0] == "val" else f"val_{k}"
            values[name] = _number(v, k)
        self._record("eval", s, e, values)

    def should_skip(self, loss: Any, *, step: Any = None) -> bool:
        """Whether to skip the update of the batch whose loss this is (call it before
        ``optimizer.step()``): True for a spike or a non-finite loss when the policy maps
        ``spike`` to ``"skip"``, never more than 3 batches in a row. Under
        `torch.distributed` the loss is averaged over ranks and every rank gets the same
        answer. Always False in a dry run (the skip is only logged). A skip is logged at
        `step` when given, else at the last step logged (this batch's is usually not logged
        yet)."""
        if self.disabled or self._autopilot is None or self._autopilot.policy.action(
                "spike") != "skip":
            return False
        v = _number(loss, "loss")
        at = self._step if step is None else _step(step)
        comm = self._resolve_comm()
        if comm is not None:
            out = comm.sum([v, 0.0 if self._failed else 1.0])
            if out[1] < comm.world - 0.5:
                self._step_aside_everywhere()
                return False
            v = out[0] / comm.world
        skip, reason = False, ""
        try:
            if not self._failed:
                if not math.isfinite(v):
                    skip, reason = True, f"the batch loss is {v}"
                else:
                    spike, z, ratio = self._online.is_spike(v)
                    if spike:
                        skip = True
                        times = f", {ratio:.3g}x" if math.isfinite(ratio) else ""
                        reason = (f"the batch loss {v:.4g} is {z:.3g} σ above the running "
                                  f"median{times}")
                if skip and self._skips >= MAX_CONSECUTIVE_SKIPS:
                    skip = False
        except Exception as exc:
            self._fail(exc)
            skip = False
        if comm is not None:
            skip = comm.sum([float(skip) if comm.rank == 0 else 0.0])[0] > 0.5
            reason = reason or "decided on rank 0"
        self._skips = self._skips + 1 if skip else 0
        if skip:
            self._autopilot.record_skip(at, self._epoch_or_none(), v, reason)
            if self.on_action is not None:
                self._guarded(self.on_action, self._autopilot.actions[-1])
        return skip and not self._autopilot.policy.dry_run

    def run(self) -> Run:
        """The `Run` logged so far (a copy)."""
        return self.history.to_run(name=self.name)

    def diagnosis(self) -> Diagnosis:
        """The full diagnosis of everything logged so far (cached until the next point);
        findings already reported carry `detected_at`."""
        return self._diagnose()

    def restore_best(self) -> bool:
        """Load the weights of the best evaluation into the model (needs an autopilot with
        ``restore_best``); False when none was kept."""
        return self._autopilot is not None and self._autopilot.restore_best()

    # -- recording ---------------------------------------------------------------------------
    def _resolve_comm(self) -> Comm | None:
        if not self._comm_checked:
            self._comm_checked = True
            if self._comm is None:
                self._comm = default_comm()
            if self._comm is not None and self._comm.world <= 1:
                self._comm = None
            if self._comm is not None and self._autopilot is not None:
                self._autopilot.rank = self._comm.rank
        return self._comm

    def _record(self, phase: str, s: float, e: float, values: dict[str, float]) -> None:
        comm = self._comm if self._comm_checked else self._resolve_comm()
        if comm is not None:
            names = sorted(values)
            out = comm.sum([values[k] for k in names] + [0.0 if self._failed else 1.0])
            if out[-1] < comm.world - 0.5:
                self._step_aside_everywhere()
                return
            values = {k: out[i] / comm.world for i, k in enumerate(names)}
        events: list[Finding] | None = None
        try:
            if not self._failed:
                events = self._ingest(phase, s, e, values.items())
        except Exception as exc:
            self._fail(exc)
        self._after(phase, s, e, events, comm)

    def _after(self, phase: str, s: float, e: float, events: list[Finding] | None,
               comm: Comm | None) -> None:
        """Report new findings, plan, agree across ranks, act, and take snapshots."""
        plan: Plan | None = None
        if events:
            try:
                self._report(events)
                # once stopping, the autopilot is done: findings are still reported, but the
                # batches until the loop ends bring no more rollbacks or LR changes
                if self._autopilot is not None and not self.should_stop:
                    plan = self._autopilot.plan(
                        [f for f in events if id(f) not in self._stale], s)
                self._stale.clear()
            except Exception as exc:
                self._fail(exc)
        ap = self._autopilot
        if ap is None:
            return
        if comm is not None:
            plan = self._agree(comm, plan)
        try:
            if plan is not None and (not plan.empty or plan.why):
                self._act(plan, s, e)
            if (phase == "train" and not self._failed
                    and self._n_train - ap.last_snapshot_count >= ap.policy.snapshot_every):
                ap.maybe_snapshot(s, self._n_train, self._online.healthy and not events)
        except Exception as exc:
            self._fail(exc)

    def _sink(self, name: str, phase: str) -> tuple[Any, ...]:
        """(steps.append, epochs.append, values.append, values, role) of metric `name`; role
        2 for the training loss (online checks), 1 for metrics checked for NaN/inf (losses,
        scores, gradient norm), 0 for the rest (LR, unknown direction)."""
        canon = canonical_name(name)
        if canon == "train_loss" and phase == "train" and self._loss_name in (None, name):
            self._loss_name = name
            role = 2
        elif canon == "grad_norm" or (canon != "lr" and (direction(canon) or direction(name))):
            role = 1
        else:
            role = 0
        col = self.history.column(name)
        sink = (col.steps.append, col.epochs.append, col.values.append, col.values, role)
        self._sinks[name] = sink
        return sink

    def _ingest(self, phase: str, s: float, e: float,
                values: Iterable[tuple[str, float | None]]) -> list[Finding] | None:
        # the hot path: locals, one tuple unpack per metric, one comparison for the schedule
        train = phase == "train"
        if train:
            self._n_train += 1
        else:
            self._n_eval += 1
        if s < self._step and not self._warned_step_back:
            self._warned_step_back = True
            warnings.warn(
                f"lossdoctor.watch: the step went back from {self._step:g} to {s:g}; log one "
                "counter for the whole run (not the batch index within an epoch): points at a "
                "step seen before replace the earlier ones, as for a resumed run",
                RuntimeWarning, stacklevel=4)
        self._step, self._epoch = s, e
        found: list[Finding] | None = None
        sinks = self._sinks
        bad = self._finite_since_bad
        for name, v in values:
            if v is None:
                continue
            sk = sinks.get(name)
            if sk is None:
                sk = self._sink(name, phase)
            add_step, add_epoch, add_value, col, role = sk
            add_step(s)
            add_epoch(e)
            add_value(v)
            if not role:
                continue
            if v - v == 0.0:  # finite
                if role == 2:
                    evs = self._online.update(v, len(col) - 1)
                    if evs:
                        found = (found or []) + [self._online_finding(ev, name) for ev in evs]
                if bad and name in bad:
                    bad[name] += 1
            else:
                if role == 2:
                    self._online.note_non_finite()
                f = self._non_finite(name, v, len(col) - 1, s, e)
                if f is not None:
                    found = (found or []) + [f]
        due = self._n_train >= self._due_train
        if not train:
            if self._autopilot is not None:
                self._autopilot.observe_eval({canonical_name(k): v for k, v in values
                                              if v is not None})
            due = due or self._n_eval >= self._due_eval
        if found is None and not due:
            return None
        here = self._here()
        new = [f for f in found or () if self._episodes.online(f, here)]
        if due:
            new.extend(self._full(here))
        for f in new:
            f.detected_at = here
        return new

    def _here(self) -> Point:
        return _point(None if math.isnan(self._step) else self._step, self._epoch_or_none(),
                      max(0, self._n_train - 1))

    def _epoch_or_none(self) -> float | None:
        return None if math.isnan(self._epoch) else self._epoch

    def _non_finite(self, name: str, v: float, i: int, s: float, e: float) -> Finding | None:
        # one report per burst: again only after WINDOW finite values
        if self._finite_since_bad.get(name, WINDOW) < WINDOW:
            self._finite_since_bad[name] = 0
            return None
        self._finite_since_bad[name] = 0
        canon = canonical_name(name)
        p = _point(s, None if math.isnan(e) else e, i)
        is_loss = direction(canon) == "min" or canon == "grad_norm"
        return Finding(
            kind="non_finite", metric=canon, severity="error" if is_loss else "warning",
            start=p, end=p, confidence=1.0,
            evidence={"count": 1, "points": i + 1, "nan": int(math.isnan(v)),
                      "posinf": int(v == math.inf), "neginf": int(v == -math.inf),
                      "first": p.to_dict(), "from_start": i == 0, "recovered": False,
                      "online": True},
        )

    def _online_finding(self, ev: OnlineEvent, name: str) -> Finding:
        hist = self.history
        canon = canonical_name(name)
        start = _point(*hist.point(name, ev.start), ev.start)
        end = _point(*hist.point(name, ev.end), ev.end)
        e = dict(ev.evidence)
        if ev.kind == "spike":
            peak_i = e.pop("peak_index")
            peak = _point(*hist.point(name, peak_i), peak_i)
            evidence = {"count": 1, "at": [start.to_dict()],
                        "largest": {**peak.to_dict(), "value": e["value"],
                                    "times_baseline": e["times_baseline"], "sigma": e["sigma"]},
                        "median_sigma": e["sigma"], "baseline": e["baseline"],
                        "width": e["width"], "online": True}
            return Finding(kind="spike", metric=canon, severity="warning", start=start, end=end,
                           evidence=evidence, confidence=0.8)
        onset_i = e.pop("onset_index")
        onset = hist.point(name, onset_i)[0] if onset_i >= 0 else None
        evidence = {**e, "best_step": start.step, "best_epoch": start.epoch, "onset_step": onset,
                    "online": True}
        return Finding(kind="divergence", metric=canon, severity="error", start=start, end=end,
                       evidence=evidence, confidence=0.9)

    def _diagnose(self) -> Diagnosis:
        version = (self._n_train, self._n_eval, len(self.history.rolled_back))
        if self._cached is not None and self._cached[0] == version:
            return self._cached[1]
        d = diagnose_run(self.run())
        for f in d.findings:
            f.detected_at = self._episodes.detected_at(f)
        for to, at in self.history.rolled_back:
            d.notes.append(Message("watch.rolled_back_to_start", at=at) if to == -math.inf
                           else Message("watch.rolled_back", to=to, at=at))
        self._cached = (version, d)
        return d

    def _schedule(self) -> None:
        """The counts at which the next full diagnosis is due."""
        self._due_train = self._diag_train + max(self.min_points,
                                                 math.ceil(self.growth * self._diag_train))
        self._due_eval = self._diag_eval + max(1, math.ceil(self.eval_growth * self._diag_eval))

    def _full(self, here: Point) -> list[Finding]:
        d = self._diagnose()
        self._diag_train, self._diag_eval = self._n_train, self._n_eval
        self._schedule()
        # training-side findings need a stretch of noisy per-step points to mean anything
        n_loss = self.history.points(self._loss_name) if self._loss_name else 0
        new = self._episodes.full(
            [f for f in d.findings if f.kind not in END_OF_RUN_KINDS and (
                split_phase(normalise(f.metric))[0] == "val" or n_loss >= (
                    self.settle if f.kind in SLOW_KINDS else self.min_points))],
            here)
        for f in new:  # the autopilot acts only on what is still going on
            s = d.run.series.get(f.metric)
            if s is not None and len(s) and position(f.end) < float(np.nanmax(s.x)):
                self._stale.add(id(f))
        return new

    # -- reporting and acting ----------------------------------------------------------------
    def _report(self, events: list[Finding]) -> None:
        for f in events:
            if not f.remedies:
                f.remedies = self._online_remedies(f)
            self.events.append(f)
            level = logging.INFO if f.severity == "info" else logging.WARNING
            where = f.detected_at.label() if f.detected_at is not None else "?"
            logger.log(level, "lossdoctor: %s %s on %s (detected at %s): %s", f.severity,
                       f.kind, f.metric, where, f.summary())
            if self.on_event is not None:
                self.on_event(f)

    def _online_remedies(self, f: Finding) -> list[Remedy]:
        """Remedies of an online finding: prescribed once per kind and metric (it needs the
        whole run), reused for later episodes."""
        key = (f.kind, f.metric)
        if key not in self._remedies:
            from lossdoctor.prescribe import prescribe
            from lossdoctor.rules.context import Context

            self._remedies[key] = prescribe(f, Context(self.run()))
        return list(self._remedies[key])

    def _agree(self, comm: Comm, plan: Plan | None) -> Plan | None:
        local = plan if plan is not None else Plan()
        out = comm.sum(local.encode() if comm.rank == 0 else [0.0] * len(local.encode()))
        if comm.rank == 0:
            return plan
        agreed = Plan.decode(out)
        if plan is not None and agreed.same(plan):
            agreed.why = plan.why
        return agreed

    def _act(self, plan: Plan, s: float, e: float) -> None:
        assert self._autopilot is not None
        acts = self._autopilot.apply(plan, s, None if math.isnan(e) else e)
        for a in acts:
            logger.warning("lossdoctor autopilot: %s%s at step %g: %s", a.name,
                           "" if a.applied else " (not applied)", s, a.reason)
            if self.on_action is not None:
                self.on_action(a)
        names = {a.name for a in acts if a.applied}
        if "rollback" in names:
            self.history.roll_back(plan.rollback_to, s)
            length = self.history.points(self._loss_name) if self._loss_name else 0
            self._online.reset_window(length)
            self._episodes.close(s)
            self._finite_since_bad.clear()
        if "lower_lr" in names:
            self._episodes.close(s, ("oscillation", "plateau"))
        stop = next((a for a in acts if a.name == "stop"), None)
        if stop is not None and stop.applied:
            self.should_stop = True
            self.stop_reason = f"{stop.kind}: {stop.reason}"

    # -- failures ----------------------------------------------------------------------------
    def _fail(self, exc: BaseException) -> None:
        if not self._failed:
            warnings.warn(f"lossdoctor.watch: {type(exc).__name__}: {exc}; the watcher steps "
                          "aside for the rest of the run (training goes on)", RuntimeWarning,
                          stacklevel=4)
            logger.debug("lossdoctor.watch failed", exc_info=exc)
        self._failed = True
        if self._comm is None:
            self.disabled = True

    def _step_aside_everywhere(self) -> None:
        if not self._failed:
            warnings.warn("lossdoctor.watch: the watcher failed on another rank; it steps aside "
                          "on every rank (training goes on)", RuntimeWarning, stacklevel=4)
        self._failed = True
        self.disabled = True

    def _guarded(self, fn: Callable[..., object], *args: Any) -> None:
        try:
            fn(*args)
        except Exception as exc:
            self._fail(exc)

    # -- state -------------------------------------------------------------------------------
    def state_dict(self, *, weights: bool = True) -> dict[str, Any]:
        """Everything needed to resume: history, online state, reported findings, counters,
        the action log and the best weights (unless ``weights=False``: then the state is plain
        data, JSON-serialisable with NaN allowed). Snapshots for rollbacks are not saved: the
        resumed state becomes the first one."""
        return {
            "version": _STATE_VERSION,
            "name": self.name,
            "counts": [self._n_train, self._n_eval, self._diag_train, self._diag_eval],
            "step": self._step,
            "epoch": self._epoch,
            "history": self.history.state_dict(),
            "online": self._online.state_dict(),
            "loss_name": self._loss_name,
            "finite_since_bad": dict(self._finite_since_bad),
            "episodes": self._episodes.state_dict(),
            "events": [_finding_state(f) for f in self.events],
            "should_stop": self.should_stop,
            "stop_reason": self.stop_reason,
            "autopilot": None if self._autopilot is None
            else self._autopilot.state_dict(weights=weights),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Load what `state_dict` returned (the watcher must have the same kind of autopilot:
        with or without)."""
        version = state.get("version")
        if version != _STATE_VERSION:
            raise ValueError(f"unsupported Watch state version {version!r} "
                             f"(expected {_STATE_VERSION})")
        if (state["autopilot"] is None) != (self._autopilot is None):
            raise ValueError("the state was saved by a watcher "
                             + ("without" if state["autopilot"] is None else "with")
                             + " an autopilot; this one is configured differently")
        self.name = str(state["name"])
        self._n_train, self._n_eval, self._diag_train, self._diag_eval = (
            int(v) for v in state["counts"])
        self._step, self._epoch = float(state["step"]), float(state["epoch"])
        self.history.load_state_dict(state["history"])
        self._online.load_state_dict(state["online"])
        self._loss_name = state["loss_name"]
        self._sinks.clear()
        self._finite_since_bad = {str(k): int(v) for k, v in state["finite_since_bad"].items()}
        self._episodes.load_state_dict(state["episodes"])
        self.events = [_finding_from_state(d) for d in state["events"]]
        self.should_stop = bool(state["should_stop"])
        self.stop_reason = state["stop_reason"]
        if self._autopilot is not None:  # the resumed state is where rollbacks can go back to
            self._autopilot.load_state_dict(
                state["autopilot"], step=-math.inf if math.isnan(self._step) else self._step)
        self._schedule()
        self._cached = None
