"""Shared by the watcher experiments: scikit-learn's `load_digits` (1,797 8×8 images, 10
classes), an MLP, and one training loop that can run plain, with the lossdoctor watcher and
autopilot, or with torch's ReduceLROnPlateau — the same seeds, the same data order.

Split per seed (stratified): `n_train` training images, 300 validation, the rest test.
Every epoch: validation loss/accuracy (what the watcher and the baselines see) and test
loss/accuracy (recorded for the hindsight comparison only; it never steers training).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from lossdoctor.watch import Watch


@dataclass
class Split:
    xtr: torch.Tensor
    ytr: torch.Tensor
    xva: torch.Tensor
    yva: torch.Tensor
    xte: torch.Tensor
    yte: torch.Tensor


def split(seed: int, n_train: int | None) -> Split:
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    xtr, xrest, ytr, yrest = train_test_split(x, y, train_size=n_train or 900,
                                              random_state=seed, stratify=y)
    xva, xte, yva, yte = train_test_split(xrest, yrest, train_size=300, random_state=seed,
                                          stratify=yrest)
    t = torch.tensor
    return Split(t(xtr), t(ytr), t(xva), t(yva), t(xte), t(yte))


def mlp(hidden: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, 10))


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    out = model(x)
    return (float(nn.functional.cross_entropy(out, y)),
            float((out.argmax(1) == y).float().mean()))


@dataclass
class Config:
    n_train: int | None = None
    hidden: int = 256
    optimizer: str = "sgd"  # "sgd" (momentum 0.9) or "adam"
    lr: float = 0.05
    batch: int = 32
    epochs: int = 30


@dataclass
class Result:
    epochs_run: int
    steps: int
    val_loss: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    final_test_loss: float = math.nan
    final_test_acc: float = math.nan
    stopped: bool = False
    actions: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    lrs: list[float] = field(default_factory=list)
    seconds: float = 0.0


def train(cfg: Config, seed: int, *, watch: Callable[[nn.Module, Any], Watch] | None = None,
          plateau: dict[str, Any] | None = None) -> Result:
    """One run. `watch(model, optimizer)` builds the watcher; `plateau` are the keyword
    arguments of a ``ReduceLROnPlateau`` stepped on the validation loss every epoch."""
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    d = split(seed, cfg.n_train)
    model = mlp(cfg.hidden, seed)
    opt: torch.optim.Optimizer
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **plateau) if plateau else None
    w = watch(model, opt) if watch is not None else None
    gen = torch.Generator().manual_seed(seed)
    n = len(d.xtr)
    res = Result(epochs_run=0, steps=0)
    step = 0
    for epoch in range(cfg.epochs):
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, cfg.batch):
            idx = perm[i : i + cfg.batch]
            loss = nn.functional.cross_entropy(model(d.xtr[idx]), d.ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if w is not None:
                w.log(step, train_loss=loss.item(), lr=opt.param_groups[0]["lr"],
                      epoch=epoch + (i + len(idx)) / n)
            step += 1
            if w is not None and w.should_stop:
                break
        res.epochs_run = epoch + 1
        if w is not None and w.should_stop:
            break
        vl, va = evaluate(model, d.xva, d.yva)
        tl, ta = evaluate(model, d.xte, d.yte)
        res.val_loss.append(vl)
        res.test_loss.append(tl)
        res.test_acc.append(ta)
        res.lrs.append(opt.param_groups[0]["lr"])
        if w is not None:
            w.log_eval(step - 1, val_loss=vl, val_acc=va, epoch=epoch + 1)
            if w.should_stop:
                break
        if sched is not None:
            sched.step(vl)
    res.steps = step
    res.final_test_loss, res.final_test_acc = evaluate(model, d.xte, d.yte)
    if w is not None:
        res.stopped = w.should_stop
        res.actions = [a.to_dict() for a in w.actions]
        res.events = [{"kind": f.kind, "metric": f.metric,
                       "start": f.start.to_dict(), "detected_at": f.detected_at.to_dict()
                       if f.detected_at else None} for f in w.events]
    res.seconds = time.perf_counter() - t0
    return res


def lightning_es_stop(val_loss: list[float], patience: int = 3) -> int:
    """The epoch (1-based) at which Lightning's ``EarlyStopping(monitor="val_loss",
    patience=patience)`` stops a run with these validation losses (its own stopping rule, fed
    epoch by epoch), or the last epoch when it never does."""
    from lightning.pytorch.callbacks import EarlyStopping

    es = EarlyStopping(monitor="val_loss", patience=patience, mode="min")
    for i, v in enumerate(val_loss):
        stop, _ = es._evaluate_stopping_criteria(torch.tensor(v))
        if stop:
            return i + 1
    return len(val_loss)


def mean_sd(xs: list[float]) -> str:
    a = np.asarray(xs, dtype=float)
    return f"{a.mean():.3f} ± {a.std(ddof=1) if len(a) > 1 else 0.0:.3f}"
