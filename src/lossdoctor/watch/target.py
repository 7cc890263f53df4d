"""What the autopilot acts on: the model and optimizer of a training loop (`Target`), and the
in-memory snapshots of their last known-good states (`Snapshots`)."""

from __future__ import annotations

import math
from typing import Any, Protocol

__all__ = ["Snapshots", "Target", "TorchTarget"]


class Target(Protocol):
    """A model and its optimizer, seen through what the autopilot needs.

    `module` is what `lossdoctor.train.EarlyStopping` keeps the best weights of (anything with
    ``state_dict()`` / ``load_state_dict()`` of tensors).
    """

    @property
    def module(self) -> Any: ...

    def snapshot(self) -> Any | None:
        """A copy of the model and optimizer state, or None when it holds a NaN/inf."""

    def restore(self, snapshot: Any) -> None:
        """Load a snapshot back (the snapshot stays usable)."""

    def lrs(self) -> list[float]:
        """The learning rate of every parameter group."""

    def set_lrs(self, lrs: list[float]) -> None:
        """Set the learning rate of every parameter group (and of the schedule, if any)."""


def _clone(obj: Any) -> Any:
    """A deep copy with every tensor copied to the CPU (optimizer states nest dicts/lists)."""
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _clone(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clone(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_clone(v) for v in obj)
    return obj


def _finite(obj: Any) -> bool:
    import torch

    if isinstance(obj, torch.Tensor):
        if obj.is_floating_point() or obj.is_complex():
            return bool(torch.isfinite(obj).all())
        return True
    if isinstance(obj, dict):
        return all(_finite(v) for v in obj.values())
    if isinstance(obj, list | tuple):
        return all(_finite(v) for v in obj)
    if isinstance(obj, float):
        return math.isfinite(obj)
    return True


class TorchTarget:
    """A `torch.nn.Module` with its optimizer and, optionally, its LR scheduler.

    Snapshots are CPU copies of ``model.state_dict()`` and ``optimizer.state_dict()``. An LR
    change is applied to every parameter group and, for schedulers that compute the LR from
    ``base_lrs`` (LambdaLR, cosine, step and warmup schedules), to those as well, so the next
    ``scheduler.step()`` keeps it.
    """

    def __init__(self, model: Any, optimizer: Any = None, scheduler: Any = None) -> None:
        if not (hasattr(model, "state_dict") and hasattr(model, "load_state_dict")):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if optimizer is not None and not hasattr(optimizer, "param_groups"):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got "
                            f"{type(optimizer).__name__}")
        if scheduler is not None and optimizer is None:
            raise ValueError("a scheduler needs its optimizer")
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler

    @property
    def module(self) -> Any:
        return self.model

    def snapshot(self) -> dict[str, Any] | None:
        snap = {"model": _clone(self.model.state_dict()),
                "optimizer": None if self.optimizer is None
                else _clone(self.optimizer.state_dict())}
        return snap if _finite(snap) else None

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Load the weights and optimizer state of `snapshot`, keeping the current learning
        rates: the schedule is not part of a snapshot, so an LR the scheduler moved since then
        stays (and a later `set_lrs` rescales ``base_lrs`` only by what its caller changes)."""
        self.model.load_state_dict(snapshot["model"])
        if self.optimizer is not None and snapshot["optimizer"] is not None:
            lrs = self.lrs()
            # the optimizer would alias CPU tensors of the snapshot: give it its own copy
            self.optimizer.load_state_dict(_clone(snapshot["optimizer"]))
            self._put_lrs(lrs)

    def _put_lrs(self, lrs: list[float]) -> None:
        for g, lr in zip(self.optimizer.param_groups, lrs, strict=True):
            if hasattr(g["lr"], "fill_"):  # an LR held in a tensor (capturable optimizers)
                g["lr"].fill_(lr)
            else:
                g["lr"] = lr

    def lrs(self) -> list[float]:
        if self.optimizer is None:
            return []
        return [float(g["lr"]) for g in self.optimizer.param_groups]

    def set_lrs(self, lrs: list[float]) -> None:
        if self.optimizer is None:
            return
        old = self.lrs()
        self._put_lrs(lrs)
        base = getattr(self.scheduler, "base_lrs", None)
        if isinstance(base, list) and len(base) == len(lrs):
            self.scheduler.base_lrs = [b * (new / o) if o > 0 else b
                                       for b, new, o in zip(base, lrs, old, strict=True)]


class Snapshots:
    """The last known-good states: the one the watcher started from, and up to `keep` later
    ones, thinned so that their ages stay roughly geometric (the newest is always kept, and
    of the others the one closest to its newer neighbour goes first)."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.initial: Any | None = None
        #: the step of the initial state: ``-inf`` for a run watched from its start, the step it
        #: was resumed at otherwise (a rollback there keeps the history logged before it)
        self.initial_step = -math.inf
        self._items: list[tuple[float, Any]] = []

    def steps(self) -> list[float]:
        """The steps of the snapshots held (`initial_step` for the initial state)."""
        return ([self.initial_step] if self.initial is not None else []) + [
            s for s, _ in self._items]

    def add(self, step: float, snap: Any) -> None:
        items = self._items
        while items and items[-1][0] >= step:  # a resumed or rolled-back run re-does steps
            items.pop()
        items.append((step, snap))
        while len(items) > self.keep:
            if len(items) <= 2:
                items.pop(0)
                continue
            # drop the inner snapshot whose removal leaves the smallest gap
            gaps = [items[i + 1][0] - items[i - 1][0] for i in range(1, len(items) - 1)]
            del items[1 + gaps.index(min(gaps))]

    def before(self, step: float | None) -> float | None:
        """The step of the newest snapshot taken strictly before `step` (any when None), else
        `initial_step` for the initial state (the oldest one there is), None when there is
        none."""
        for s, _ in reversed(self._items):
            if s > self.initial_step and (step is None or s < step):
                return s
        return self.initial_step if self.initial is not None else None

    def get(self, step: float) -> Any:
        if step == self.initial_step:
            return self.initial
        for s, snap in self._items:
            if s == step:
                return snap
        raise KeyError(step)

    def drop_after(self, step: float) -> None:
        """Forget snapshots newer than `step` (they belong to an abandoned branch)."""
        self._items = [(s, snap) for s, snap in self._items if s <= step]
