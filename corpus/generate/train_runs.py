"""Train the tiny models of the generated corpus on the CPU and write their logs.

Every run of ``corpus/generated/`` is one entry of ``RUNS``: a regime function (what goes
wrong, or nothing), its parameters, a fixed seed and the log format it is written in. The
regime functions set up a real training (scikit-learn's ``load_digits``, ``mnist1d`` generated
offline, synthetic regression; small MLPs, CNNs and RNNs in torch; torch's own optimizers and
LR schedulers) and `fit` trains it, recording what a real logger would record.

    .venv/bin/python corpus/generate/train_runs.py               # every run (~20 min, 2 jobs)
    .venv/bin/python corpus/generate/train_runs.py --only g012,overfit --jobs 2
    .venv/bin/python corpus/generate/train_runs.py --list
    .venv/bin/python corpus/generate/train_runs.py --examples    # src/lossdoctor/examples/

Besides the logs, each run's series are cached as JSON in ``artifacts/corpus_cache/`` (not
committed) for ``plot_runs.py``. Needs: torch, scikit-learn, mnist1d, tensorboard.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import shutil
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import itertools

from logformats import EPOCH_ONLY, STEP_ONLY, WRITERS, WRITES

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "corpus" / "generated"
EXAMPLES = ROOT / "src" / "lossdoctor" / "examples"
CACHE = ROOT / "artifacts" / "corpus_cache"


# =============================================================== data
@dataclass
class Data:
    """Tensors of one task; ``classes`` is 0 for regression."""

    x: torch.Tensor
    y: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    classes: int
    desc: str


@cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return (x / 16.0 - 0.3) / 0.4, y


@cache
def _mnist1d() -> dict[str, np.ndarray]:
    from mnist1d.data import get_dataset_args, make_dataset

    # make_dataset builds the data procedurally from the package's templates (no download)
    return make_dataset(get_dataset_args())


def load_data(name: str, *, seed: int, n_train: int | None = None, label_noise: float = 0.0,
              n_val: int | None = None, **kw: Any) -> Data:
    """``digits`` (8x8 handwritten digits, 1,797 images), ``mnist1d`` (4,000 + 1,000
    sequences of 40), ``regression`` (a smooth nonlinear target of ``dim`` inputs with noise)
    or ``teacher`` (a low-rank linear teacher, for deep linear nets).

    ``n_train`` keeps a random subset of the training set; ``label_noise`` replaces that
    fraction of the training labels by random classes (validation stays clean)."""
    rng = np.random.default_rng(seed)
    if name == "digits":
        x, y = _digits()
        perm = np.random.default_rng(0).permutation(len(y))
        tr, va = perm[:1300], perm[1300:]
        xt, yt, xv, yv = x[tr], y[tr], x[va], y[va]
        classes, desc = 10, "sklearn digits"
    elif name == "mnist1d":
        d = _mnist1d()
        xt, yt, xv, yv = d["x"], d["y"], d["x_test"], d["y_test"]
        classes, desc = 10, "mnist1d"
    elif name in ("regression", "teacher"):
        dim = kw.get("dim", 8)
        n = (n_train or 1000) + (n_val or 500)
        xs = rng.standard_normal((n, dim))
        if name == "regression":
            if kw.get("target") == "sine":  # a 1-D curve: y = sin(2.5 x0) + 0.3 x0
                ys = np.sin(2.5 * xs[:, 0]) + 0.3 * xs[:, 0]
            else:
                w = rng.standard_normal(dim)
                ys = (np.sin(xs @ w / math.sqrt(dim) * 2) + 0.5 * xs[:, 0] * xs[:, 1]
                      + 0.3 * xs[:, 2])
            ys = ys + kw.get("noise", 0.1) * rng.standard_normal(n)
            ys = (ys * kw.get("yscale", 1.0))[:, None]
            desc = f"synthetic regression (dim {dim})"
        else:
            out_dim = kw.get("out_dim", 8)
            u, _ = np.linalg.qr(rng.standard_normal((out_dim, out_dim)))
            v, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
            sv = np.zeros((out_dim, dim))
            for i, s in enumerate(kw.get("singular_values", (5.0, 3.0, 1.5, 0.7))):
                sv[i, i] = s
            ys = xs @ (u @ sv @ v.T).T + kw.get("noise", 0.05) * rng.standard_normal((n, out_dim))
            desc = f"low-rank linear teacher ({dim}->{out_dim})"
        xs = xs * kw.get("xscale", 1.0)
        nt = n_train or 1000
        xt, yt, xv, yv = xs[:nt], ys[:nt], xs[nt:], ys[nt:]
        classes = 0
    else:
        raise ValueError(f"unknown data {name!r}")
    if n_train is not None and classes:
        keep = rng.choice(len(yt), size=n_train, replace=False)
        xt, yt = xt[keep], yt[keep]
    if n_val is not None and classes:
        xv, yv = xv[:n_val], yv[:n_val]
    if label_noise:
        yt = yt.copy()
        flip = rng.random(len(yt)) < label_noise
        yt[flip] = rng.integers(0, classes, flip.sum())
    if n_train is not None:
        desc += f", {len(xt)} training samples"
    if label_noise:
        desc += f", {label_noise:.0%} label noise"
    tensor_y = torch.long if classes else torch.float32
    return Data(torch.tensor(xt, dtype=torch.float32), torch.tensor(yt, dtype=tensor_y),
                torch.tensor(xv, dtype=torch.float32), torch.tensor(yv, dtype=tensor_y),
                classes, desc)


# =============================================================== models
class SeqNet(nn.Module):
    """A recurrent classifier over the input read as a sequence of ``width``-wide frames."""

    def __init__(self, cell: str, n_in: int, width: int, hidden: int, n_out: int) -> None:
        super().__init__()
        self.width = width
        rnn = {"gru": nn.GRU, "rnn": nn.RNN, "lstm": nn.LSTM}[cell]
        self.rnn = rnn(width, hidden, batch_first=True)
        self.head = nn.Linear(hidden, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x.view(len(x), -1, self.width))
        return self.head(out[:, -1])


class Unflatten(nn.Module):
    def __init__(self, *shape: int) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(len(x), *self.shape)


ACTS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU,
    "identity": nn.Identity,
}


def build_model(kind: str, n_in: int, n_out: int, *, hidden: tuple[int, ...] = (128,),
                act: str = "relu", dropout: float = 0.0, init_scale: float | None = None,
                bias_init: float | None = None, bias: bool = True) -> tuple[nn.Module, str]:
    """``mlp``, ``cnn`` (2-D for 64 inputs, 1-D for 40), ``gru``/``rnn``/``lstm``, ``linear``.

    ``init_scale`` multiplies every weight after torch's default initialisation (tiny or huge
    inits for plateau regimes); ``bias_init`` sets every bias."""
    if kind in ("mlp", "linear"):
        layers: list[nn.Module] = []
        widths = (n_in, *(hidden if kind == "mlp" else ()))
        for a, b in itertools.pairwise(widths):
            layers += [nn.Linear(a, b, bias=bias), ACTS[act]()]
            if dropout:
                layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(widths[-1], n_out, bias=bias))
        model: nn.Module = nn.Sequential(*layers)
        desc = f"MLP {'-'.join(map(str, (n_in, *widths[1:], n_out)))} {act}"
        if kind == "linear":
            desc = f"linear model {n_in}->{n_out}"
    elif kind == "cnn" and n_in == 64:
        c = hidden[0]
        model = nn.Sequential(
            Unflatten(1, 8, 8), nn.Conv2d(1, c, 3, padding=1), ACTS[act](),
            nn.Conv2d(c, 2 * c, 3, padding=1), ACTS[act](), nn.MaxPool2d(2), nn.Flatten(),
            *([nn.Dropout(dropout)] if dropout else []), nn.Linear(2 * c * 16, n_out))
        desc = f"CNN conv{c}-conv{2 * c}-pool-fc"
    elif kind == "cnn":
        c = hidden[0]
        model = nn.Sequential(
            Unflatten(1, n_in), nn.Conv1d(1, c, 5, stride=2, padding=2), ACTS[act](),
            nn.Conv1d(c, c, 3, stride=2, padding=1), ACTS[act](), nn.Flatten(),
            *([nn.Dropout(dropout)] if dropout else []), nn.Linear(c * (n_in // 4), n_out))
        desc = f"1-D CNN conv{c}-conv{c}-fc"
    elif kind in ("gru", "rnn", "lstm"):
        width = 8 if n_in == 64 else 1
        model = SeqNet(kind, n_in, width, hidden[0], n_out)
        desc = f"{kind.upper()}({hidden[0]}) over {n_in // width} frames"
    else:
        raise ValueError(f"unknown model {kind!r}")
    with torch.no_grad():
        for name, p in model.named_parameters():
            if init_scale is not None and "weight" in name:
                p.mul_(init_scale)
            if bias_init is not None and "bias" in name:
                p.fill_(bias_init)
    return model, desc


# =============================================================== optimisation
def build_optimizer(name: str, params: Any, lr: float, *, momentum: float = 0.0,
                    wd: float = 0.0, nesterov: bool = False) -> torch.optim.Optimizer:
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=wd,
                               nesterov=nesterov)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=momentum, weight_decay=wd)
    raise ValueError(f"unknown optimizer {name!r}")


def build_scheduler(name: str | None, opt: torch.optim.Optimizer, total: int,
                    **kw: Any) -> Any:
    """torch schedulers by name; ``total`` is the number of scheduler steps in the run.

    ``warmup_cosine``: LinearLR warmup then CosineAnnealingLR; ``cosine``: CosineAnnealingLR
    with ``t_max`` (a ``t_max`` shorter than the run makes the LR climb back up: a classic
    misconfiguration); ``late_rise``: constant, then LinearLR up by ``factor`` (LR rising
    late); ``warmup``: a LinearLR ramp of ``warmup`` steps then constant."""
    sch = torch.optim.lr_scheduler
    if name is None:
        return None
    if name == "warmup_cosine":
        w = kw["warmup"]
        return sch.SequentialLR(opt, [
            sch.LinearLR(opt, start_factor=kw.get("start_factor", 0.01), total_iters=w),
            sch.CosineAnnealingLR(opt, T_max=total - w, eta_min=kw.get("eta_min", 0.0)),
        ], milestones=[w])
    if name == "warmup":
        return sch.LinearLR(opt, start_factor=kw.get("start_factor", 0.01),
                            end_factor=kw.get("end_factor", 1.0), total_iters=kw["warmup"])
    if name == "cosine":
        return sch.CosineAnnealingLR(opt, T_max=kw.get("t_max", total),
                                     eta_min=kw.get("eta_min", 0.0))
    if name == "step":
        return sch.StepLR(opt, step_size=kw["step_size"], gamma=kw.get("gamma", 0.1))
    if name == "multistep":
        return sch.MultiStepLR(opt, milestones=kw["milestones"], gamma=kw.get("gamma", 0.1))
    if name == "exp":
        return sch.ExponentialLR(opt, gamma=kw["gamma"])
    if name == "plateau":
        return sch.ReduceLROnPlateau(opt, factor=kw.get("factor", 0.5),
                                     patience=kw.get("patience", 3))
    if name == "sgdr":
        return sch.CosineAnnealingWarmRestarts(opt, T_0=kw["t0"], T_mult=kw.get("t_mult", 1),
                                               eta_min=kw.get("eta_min", 0.0))
    if name == "onecycle":
        return sch.OneCycleLR(opt, max_lr=kw["max_lr"], total_steps=total,
                              pct_start=kw.get("pct_start", 0.3))
    if name == "cyclic":
        return sch.CyclicLR(opt, base_lr=kw["base_lr"], max_lr=kw["max_lr"],
                            step_size_up=kw["step_size_up"], mode=kw.get("mode", "triangular"),
                            cycle_momentum=False)
    if name == "late_rise":
        k, ramp, factor = kw["start"], kw.get("ramp", total - kw["start"]), kw["factor"]

        def late_rise(i: int) -> float:
            return 1.0 + (factor - 1.0) * min(1.0, max(0, i - k) / ramp)

        return sch.LambdaLR(opt, late_rise)
    raise ValueError(f"unknown scheduler {name!r}")


@dataclass
class Cfg:
    """One training run. Units: ``epochs`` passes over the training set; ``log_every`` and
    ``eval_every`` in optimizer steps (per-step logs only)."""

    data: str = "digits"
    data_kw: dict[str, Any] = field(default_factory=dict)
    n_train: int | None = None
    n_val: int | None = None
    label_noise: float = 0.0
    model: str = "mlp"
    model_kw: dict[str, Any] = field(default_factory=dict)
    opt: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.0
    nesterov: bool = False
    wd: float = 0.0
    sched: str | None = None
    sched_kw: dict[str, Any] = field(default_factory=dict)
    sched_unit: str = "epoch"          # "epoch" or "step"
    epochs: int = 30
    batch: int = 32
    granularity: str = "epoch"         # "epoch": one point per epoch; "step": per-step log
    log_every: int = 1                 # steps between train points (granularity "step")
    log_mode: str = "last"             # "last" (the logged batch) or "mean" (of the interval)
    eval_every: int | None = None      # steps between evaluations (granularity "step")
    val: bool = True                   # log validation metrics
    train_acc: bool = False
    log_lr: bool = True
    log_grad_norm: bool = False
    clip: float | None = None
    patience: int | None = None        # early stopping on val loss (evaluations)
    stop_above: float | None = None    # a script that aborts when the loss explodes
    nan_patience: int | None = None    # stop after this many non-finite logged train points
    corrupt_steps: dict[int, str] = field(default_factory=dict)  # step -> scale/labels/both/inf
    corrupt_epochs: dict[int, float] = field(default_factory=dict)  # epoch -> batch fraction
    naive_ce: bool = False             # log(softmax(z)) by hand: underflows to -inf
    seed: int = 0


def _loss(cfg: Cfg, data: Data, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if not data.classes:
        return F.mse_loss(out, y)
    if cfg.naive_ce:
        p = torch.exp(out) / torch.exp(out).sum(1, keepdim=True)
        return -torch.log(p[torch.arange(len(y)), y]).mean()
    return F.cross_entropy(out, y)


def _evaluate(cfg: Cfg, model: nn.Module, data: Data) -> tuple[float, float | None]:
    model.eval()
    with torch.no_grad():
        out = model(data.x_val)
        loss = _loss(cfg, data, out, data.y_val).item()
        acc = (out.argmax(1) == data.y_val).float().mean().item() if data.classes else None
    model.train()
    return loss, acc


def fit(cfg: Cfg) -> dict[str, Any]:
    """Train `cfg` and return its record (series + meta) as a logger would have seen it."""
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    data = load_data(cfg.data, seed=cfg.seed, n_train=cfg.n_train, n_val=cfg.n_val,
                     label_noise=cfg.label_noise, **cfg.data_kw)
    n_out = data.classes or data.y.shape[1]
    model, model_desc = build_model(cfg.model, data.x.shape[1], n_out, **cfg.model_kw)
    opt = build_optimizer(cfg.opt, model.parameters(), cfg.lr, momentum=cfg.momentum,
                          wd=cfg.wd, nesterov=cfg.nesterov)
    n = len(data.x)
    spe = math.ceil(n / cfg.batch)
    max_steps = spe * cfg.epochs
    total = max_steps if cfg.sched_unit == "step" else cfg.epochs
    sched = build_scheduler(cfg.sched, opt, total, **cfg.sched_kw)
    per_step = cfg.granularity == "step"
    series: dict[str, dict[str, list[float]]] = {}

    def log(name: str, step: int, epoch: float, value: float) -> None:
        s = series.setdefault(name, {"step": [], "epoch": [], "value": []})
        s["step"].append(step)
        s["epoch"].append(epoch)
        s["value"].append(float(value))

    gen = torch.Generator().manual_seed(cfg.seed)
    step, bad, best_val, since_best = 0, 0, math.inf, 0
    stopped = ""
    window: list[float] = []
    t0, cpu0 = time.time(), time.process_time()
    for epoch in range(1, cfg.epochs + 1):
        perm = torch.randperm(n, generator=gen)
        epoch_losses, correct = [], 0
        corrupt_frac = cfg.corrupt_epochs.get(epoch, 0.0)
        for b in range(spe):
            idx = perm[b * cfg.batch:(b + 1) * cfg.batch]
            x, y = data.x[idx], data.y[idx]
            kind = cfg.corrupt_steps.get(step + 1)
            if corrupt_frac and torch.rand(1, generator=gen).item() < corrupt_frac:
                kind = "scale"
            if kind in ("scale", "both"):
                x = x * 25.0
            if kind == "inf":
                x = x.clone()
                x[0, 0] = math.inf
            if kind in ("labels", "both"):
                y = y[torch.randperm(len(y), generator=gen)] if data.classes else -3 * y
            out = model(x)
            loss = _loss(cfg, data, out, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gnorm = None
            if cfg.clip is not None or cfg.log_grad_norm:
                gnorm = nn.utils.clip_grad_norm_(model.parameters(), cfg.clip or math.inf).item()
            opt.step()
            step += 1
            lv = loss.item()
            epoch_losses.append(lv)
            if data.classes:
                correct += (out.argmax(1) == y).sum().item()
            if sched is not None and cfg.sched_unit == "step" and cfg.sched != "plateau":
                sched.step()
            if per_step:
                window.append(lv)
                if step % cfg.log_every == 0:
                    value = float(np.mean(window)) if cfg.log_mode == "mean" else lv
                    window = []
                    ep = step / spe
                    log("train_loss", step, ep, value)
                    if cfg.log_lr:
                        log("lr", step, ep, opt.param_groups[0]["lr"])
                    if cfg.log_grad_norm and gnorm is not None:
                        log("grad_norm", step, ep, gnorm)
                    bad = bad + 1 if not math.isfinite(value) else bad
                if cfg.eval_every and step % cfg.eval_every == 0:
                    vl, va = _evaluate(cfg, model, data)
                    if cfg.val:
                        log("val_loss", step, step / spe, vl)
                        if va is not None:
                            log("val_acc", step, step / spe, va)
                    if sched is not None and cfg.sched == "plateau":
                        sched.step(vl)
                    if cfg.patience is not None:
                        best_val, since_best = ((vl, 0) if vl < best_val
                                                else (best_val, since_best + 1))
                        if since_best >= cfg.patience:
                            stopped = f"Early stopping at step {step}: no improvement in " \
                                      f"{cfg.patience} evaluations (best val_loss {best_val:.4f})"
                if cfg.stop_above is not None and lv > cfg.stop_above:
                    stopped = f"Loss exploded ({lv:.3g} > {cfg.stop_above:g}) at step " \
                              f"{step}; stopping."
                if cfg.nan_patience is not None and bad >= cfg.nan_patience:
                    stopped = f"Non-finite loss for {bad} logged steps; stopping at step {step}."
                if stopped:
                    break
        if not per_step:
            mean = float(np.mean(epoch_losses))
            log("train_loss", step, epoch, mean)
            if cfg.train_acc:
                log("train_acc", step, epoch, correct / n)
            if cfg.log_lr:
                log("lr", step, epoch, opt.param_groups[0]["lr"])
            if cfg.log_grad_norm and gnorm is not None:
                log("grad_norm", step, epoch, gnorm)
            vl, va = _evaluate(cfg, model, data)
            if cfg.val:
                log("val_loss", step, epoch, vl)
                if va is not None:
                    log("val_acc", step, epoch, va)
            bad = bad + 1 if not math.isfinite(mean) else bad
            if cfg.patience is not None:
                best_val, since_best = (vl, 0) if vl < best_val else (best_val, since_best + 1)
                if since_best >= cfg.patience:
                    stopped = f"Early stopping at epoch {epoch}: val_loss has not improved " \
                              f"for {cfg.patience} epochs (best {best_val:.4f})"
            if cfg.stop_above is not None and mean > cfg.stop_above:
                stopped = f"Loss exploded ({mean:.3g}) at epoch {epoch}; stopping."
            if cfg.nan_patience is not None and bad >= cfg.nan_patience:
                stopped = f"Loss is {mean} for {bad} epochs; stopping at epoch {epoch}."
        if sched is not None and cfg.sched_unit == "epoch":
            if cfg.sched == "plateau":
                if not per_step:
                    sched.step(vl)
            else:
                sched.step()
        if stopped:
            break
    meta = {
        "granularity": cfg.granularity, "epochs": cfg.epochs, "steps_per_epoch": spe,
        "max_steps": max_steps, "batch_size": cfg.batch, "lr": cfg.lr,
        "log_every": cfg.log_every if per_step else spe, "eval_every": cfg.eval_every,
        "seconds": time.time() - t0, "cpu_seconds": time.process_time() - cpu0,
        "stopped": stopped, "steps_trained": step,
        "model_desc": model_desc, "data_desc": data.desc, "n_train": n,
    }
    return {"series": series, "meta": meta}


# =============================================================== the runs
@dataclass
class RunSpec:
    """One generated run: ``corpus/generated/gNNN_<name>/`` written in ``fmt`` from ``cfg``;
    a shipped example (``example`` set: its one-line description) goes to
    ``src/lossdoctor/examples/<name>/`` instead, its log renamed to ``filename``."""

    id: str
    name: str
    regime: str
    fmt: str
    cfg: Cfg
    example: str = ""
    filename: str | None = None

    @property
    def out(self) -> Path:
        return EXAMPLES / self.name if self.example else OUT / f"{self.id}_{self.name}"


RUNS: list[RunSpec] = []


def run(id_: str, name: str, regime: str, fmt: str, *, example: str = "",
        filename: str | None = None, **cfg: Any) -> None:
    """Register run ``id_``; the seed defaults to the run's number."""
    cfg.setdefault("seed", int(id_[1:]))
    spec = RunSpec(id_, name, regime, fmt, Cfg(**cfg), example, filename)
    per_step = spec.cfg.granularity == "step"
    if (fmt in STEP_ONLY and not per_step) or (fmt in EPOCH_ONLY and per_step):
        raise ValueError(f"{id_}: format {fmt} does not fit {spec.cfg.granularity} logging")
    if any(r.id == id_ for r in RUNS):
        raise ValueError(f"duplicate run id {id_}")
    RUNS.append(spec)


# ---- regimes -------------------------------------------------------------------------
# Each regime function registers its runs; the parameters were chosen so that the curve
# shows the regime, but the labels (labels.json) say what each curve SHOWS, checked by eye.

def lr_far_too_high() -> None:
    """LR far too high: the loss grows by orders of magnitude, often to inf/NaN."""
    reg = {"data": "regression"}
    run("g001", "reg-linear-sgd-diverge", "lr_far_too_high", "text_bracket", **reg,
        data_kw={"xscale": 3.0}, model="linear", opt="sgd", lr=0.096, epochs=30)
    run("g002", "reg-mlp-lr-ramp-inf-nan", "lr_far_too_high", "text_step", **reg,
        model_kw={"hidden": (64, 64), "act": "tanh"}, data_kw={"xscale": 2.0}, opt="sgd",
        lr=0.001, momentum=0.9, epochs=100, granularity="step", log_every=10, eval_every=100,
        sched="exp", sched_unit="step", sched_kw={"gamma": 1.0025})
    run("g003", "mnist1d-mlp-lr-ramp-blowup", "lr_far_too_high", "keras_csv", data="mnist1d",
        model_kw={"hidden": (128, 128)}, opt="sgd", lr=1e-3, momentum=0.9, epochs=50, batch=64,
        sched="exp", sched_kw={"gamma": 1.3})
    run("g004", "digits-mlp-lr-x1000-late", "lr_far_too_high", "hf_trainer_state",
        model_kw={"hidden": (128, 128)}, opt="sgd", lr=0.01, momentum=0.9, epochs=80,
        granularity="step", log_every=10, log_mode="mean", eval_every=100, log_grad_norm=True,
        sched="late_rise", sched_unit="step", sched_kw={"start": 1800, "factor": 1000,
                                                         "ramp": 600})
    run("g005", "mnist1d-tanh-mlp-lr-ramp", "lr_far_too_high", "jsonl", data="mnist1d",
        model_kw={"hidden": (128, 128), "act": "tanh"}, opt="sgd", lr=1e-3, momentum=0.9,
        epochs=50, batch=64, sched="exp", sched_kw={"gamma": 1.3})
    run("g006", "digits-naive-ce-nan", "lr_far_too_high", "text_pipe", naive_ce=True,
        model_kw={"hidden": (256, 256)}, opt="adam", lr=0.02, epochs=30)
    run("g007", "digits-naive-ce-nan-steps", "lr_far_too_high", "tensorboard", naive_ce=True,
        model_kw={"hidden": (256, 256)}, opt="adam", lr=0.01, epochs=40, granularity="step",
        log_every=10, eval_every=82)
    run("g008", "reg-bigscale-sgd-diverge", "lr_far_too_high", "generic_csv", **reg,
        data_kw={"yscale": 300.0, "xscale": 2.5}, model="linear", opt="sgd", lr=0.12,
        epochs=40, batch=16)
    run("g009", "digits-cnn-sgd-lr-far-high", "lr_far_too_high", "keras_csv", model="cnn",
        model_kw={"hidden": (16,)}, opt="sgd", lr=0.8, momentum=0.9, epochs=25)
    run("g010", "reg-mlp-lr-ramp-stop-on-explode", "lr_far_too_high", "generic_csv", **reg,
        model_kw={"hidden": (64, 64)}, opt="sgd", lr=0.001, momentum=0.9, epochs=100,
        granularity="step", log_every=5, eval_every=100, sched="exp", sched_unit="step",
        sched_kw={"gamma": 1.003}, stop_above=1e6)
    run("g011", "digits-tanh-mlp-lr-ramp-steps", "lr_far_too_high", "text_step",
        model_kw={"hidden": (128, 128), "act": "tanh"}, opt="sgd", lr=0.001, epochs=60,
        granularity="step", log_every=10, eval_every=100, sched="exp", sched_unit="step",
        sched_kw={"gamma": 1.004})
    run("g012", "digits-inf-in-batch", "lr_far_too_high", "jsonl",
        model_kw={"hidden": (128,)}, opt="adam", lr=1e-3, epochs=60, granularity="step",
        log_every=5, eval_every=41, corrupt_steps={1230: "inf"}, nan_patience=40)
    run("g013", "reg-mlp-warmup-to-too-high", "lr_far_too_high", "tensorboard", **reg,
        model_kw={"hidden": (64, 64)}, opt="sgd", momentum=0.9, lr=0.3, epochs=40,
        sched="warmup", sched_kw={"warmup": 25, "start_factor": 0.01})
    run("g014", "mnist1d-mlp-sgd-lr-10-nan", "lr_far_too_high", "text_bracket",
        data="mnist1d", model_kw={"hidden": (128,)}, opt="sgd", lr=10.0, epochs=15, batch=64)
    run("g015", "mnist1d-mlp-adam-lr-ramp", "lr_far_too_high", "tensorboard", data="mnist1d",
        model_kw={"hidden": (128, 128), "act": "tanh"}, opt="adam", lr=3e-4, epochs=40,
        batch=64, sched="exp", sched_kw={"gamma": 1.25})
    run("g016", "mnist1d-gru-sgd-no-clip", "lr_far_too_high", "jsonl", data="mnist1d",
        model="gru", model_kw={"hidden": (32,)}, opt="sgd", lr=3.0, epochs=12, batch=64,
        granularity="step", log_every=5, eval_every=50, log_grad_norm=True)
    run("g017", "digits-rnn-sgd-lr-high", "lr_far_too_high", "text_pipe", model="rnn",
        model_kw={"hidden": (64,)}, opt="sgd", lr=0.3, momentum=0.9, epochs=30)
    run("g018", "reg-onecycle-maxlr-too-high", "lr_far_too_high", "hf_trainer_state", **reg,
        model_kw={"hidden": (128, 128)}, opt="adam", lr=0.001, epochs=40, granularity="step",
        log_every=10, log_mode="mean", eval_every=100, sched="onecycle", sched_unit="step",
        sched_kw={"max_lr": 1.0})


def lr_slightly_too_high() -> None:
    """LR slightly too high, small batches: bouncing around a floor, spikes."""
    r = "lr_slightly_too_high"
    run("g019", "digits-mlp-sgd-momentum-lr-0.5", r, "text_pipe", log_lr=False,
        model_kw={"hidden": (128,)}, opt="sgd", lr=0.5, momentum=0.9, epochs=30, seed=2)
    run("g020", "mnist1d-mlp-adam-lr-0.05", r, "keras_csv", data="mnist1d",
        model_kw={"hidden": (256, 256)}, opt="adam", lr=0.05, epochs=30, batch=64, seed=2)
    run("g021", "reg-linear-sgd-edge-of-stability", r, "jsonl", data="regression",
        data_kw={"xscale": 3.0}, model="linear", opt="sgd", lr=0.09, epochs=30, batch=64,
        seed=0)
    run("g022", "reg-bigscale-sgd-bounce", r, "generic_csv", data="regression",
        data_kw={"yscale": 300.0, "xscale": 2.5}, model="linear", opt="sgd", lr=0.1,
        epochs=40, batch=16, seed=3)
    run("g023", "digits-tanh-mlp-adam-lr-0.1", r, "text_bracket",
        model_kw={"hidden": (128, 128), "act": "tanh"}, opt="adam", lr=0.1, epochs=30, seed=7)
    run("g024", "mnist1d-mlp-adam-bs16-steps", r, "text_step", data="mnist1d",
        model_kw={"hidden": (256, 256)}, opt="adam", lr=0.02, epochs=10, batch=16,
        granularity="step", log_every=10, eval_every=250, seed=0)
    run("g025", "digits-deep-mlp-adam-no-warmup", r, "hf_trainer_state",
        model_kw={"hidden": (256,) * 8}, opt="adam", lr=3e-3, epochs=40, granularity="step",
        log_every=5, log_mode="mean", eval_every=41, log_grad_norm=True, seed=2)
    run("g026", "digits-mlp-rmsprop-bs16", r, "tensorboard", model_kw={"hidden": (128,)},
        opt="rmsprop", lr=0.01, epochs=30, batch=16, seed=7)
    run("g027", "digits-cnn-adam-lr-0.03", r, "keras_csv", model="cnn",
        model_kw={"hidden": (16,)}, opt="adam", lr=0.03, epochs=25, seed=0)
    run("g028", "reg-mlp-adam-lr-0.05-bs8", r, "text_pipe", data="regression",
        model_kw={"hidden": (64, 64)}, opt="adam", lr=0.05, epochs=30, batch=8, seed=2)
    run("g029", "mnist1d-deep-mlp-adam-no-warmup", r, "tensorboard", data="mnist1d",
        model_kw={"hidden": (256,) * 8}, opt="adam", lr=3e-3, epochs=15, batch=64,
        granularity="step", log_every=5, eval_every=63, seed=1)
    run("g030", "mnist1d-gru-adam-lr-0.02", r, "jsonl", data="mnist1d", model="gru",
        model_kw={"hidden": (64,)}, opt="adam", lr=0.02, epochs=8, batch=64,
        granularity="step", log_every=5, eval_every=63, seed=3)


def corrupted_batches() -> None:
    """A few corrupted batches (inputs scaled x25 or labels shuffled): transient spikes."""
    r = "corrupted_batches"
    run("g031", "mnist1d-mlp-bad-shards", r, "text_bracket", data="mnist1d",
        model_kw={"hidden": (128, 128)}, opt="adam", lr=1e-3, epochs=25, batch=64,
        corrupt_epochs={8: 0.4, 17: 0.4}, seed=5)
    run("g032", "digits-mlp-adam-bad-batches", r, "text_step", model_kw={"hidden": (128, 128)},
        opt="adam", lr=1e-3, epochs=50, granularity="step", log_every=1, eval_every=100,
        corrupt_steps={500: "both", 1100: "both", 1650: "both"})
    run("g033", "mnist1d-mlp-adam-bad-batches", r, "hf_trainer_state", data="mnist1d",
        model_kw={"hidden": (256, 256)}, opt="adam", lr=1e-3, epochs=30, batch=64,
        granularity="step", log_every=10, log_mode="mean", eval_every=126,
        corrupt_steps={401: "both", 402: "both", 951: "both", 952: "both", 1501: "both"})
    run("g034", "digits-cnn-bad-shards", r, "keras_csv", model="cnn",
        model_kw={"hidden": (16,)}, opt="adam", lr=1e-3, epochs=30,
        corrupt_epochs={10: 0.3, 22: 0.5})
    run("g035", "reg-mlp-sgd-flipped-targets", r, "generic_csv", data="regression",
        model_kw={"hidden": (64, 64)}, opt="sgd", lr=0.05, momentum=0.9, epochs=60,
        granularity="step", log_every=5, eval_every=100,
        corrupt_steps={700: "labels", 701: "labels", 1300: "labels", 1301: "labels",
                       1302: "labels"})
    run("g036", "mnist1d-gru-bad-batches", r, "tensorboard", data="mnist1d", model="gru",
        model_kw={"hidden": (64,)}, opt="adam", lr=3e-3, epochs=10, batch=64,
        granularity="step", log_every=5, eval_every=63,
        corrupt_steps={300: "both", 301: "both", 480: "both", 481: "both"})
    run("g037", "digits-mlp-bad-batches-jsonl", r, "jsonl", model_kw={"hidden": (256,)},
        opt="adam", lr=2e-3, epochs=40, granularity="step", log_every=5, eval_every=82,
        corrupt_steps={400: "both", 401: "both", 900: "both", 901: "both", 902: "both",
                       1400: "both"})
    run("g038", "reg-mlp-bad-shards", r, "text_pipe", data="regression",
        model_kw={"hidden": (64, 64)}, opt="adam", lr=1e-3, epochs=40,
        corrupt_epochs={12: 0.5, 25: 0.5, 33: 0.3})
    run("g039", "mnist1d-mlp-long-bad-batches", r, "text_step", data="mnist1d",
        model_kw={"hidden": (128, 128)}, opt="adam", lr=1e-3, epochs=160,
        granularity="step", log_every=10, eval_every=500,
        corrupt_steps={k: "both" for s0 in (3000, 7500, 12000, 16500) for k in (s0, s0 + 1)})
    run("g040", "digits-mlp-sgd-bad-shards", r, "generic_csv", model_kw={"hidden": (128,)},
        opt="sgd", lr=0.05, momentum=0.9, epochs=30, corrupt_epochs={9: 0.2, 20: 0.2})


def lr_rising_late() -> None:
    """An LR that climbs late (misconfigured schedules): the training loss climbs and stays."""
    r = "lr_rising_late"
    run("g041", "digits-mlp-adam-late-rise-noval", r, "text_bracket", val=False,
        model_kw={"hidden": (128, 128)}, opt="adam", lr=1e-3, epochs=40, sched="late_rise",
        sched_kw={"start": 20, "factor": 40, "ramp": 8})
    run("g042", "mnist1d-mlp-sgd-cosine-tmax-half", r, "keras_csv", data="mnist1d",
        model_kw={"hidden": (256, 256)}, opt="sgd", lr=0.3, momentum=0.9, epochs=40, batch=64,
        sched="cosine", sched_kw={"t_max": 20})
    run("g043", "mnist1d-mlp-adam-warmup-too-long", r, "hf_trainer_state", data="mnist1d",
        model_kw={"hidden": (256, 256)}, opt="adam", lr=0.03, epochs=30, batch=64,
        granularity="step", log_every=10, log_mode="mean", eval_every=189,
        sched="warmup", sched_unit="step", sched_kw={"warmup": 1890, "start_factor": 0.001})
    run("g044", "digits-cnn-multistep-gamma-10", r, "text_pipe", model="cnn", log_lr=False,
        model_kw={"hidden": (16,)}, opt="adam", lr=2e-3, epochs=30, sched="multistep",
        sched_kw={"milestones": [15], "gamma": 10.0})
    run("g045", "reg-mlp-adam-late-rise-noval", r, "generic_csv", data="regression",
        val=False, model_kw={"hidden": (64, 64)}, opt="adam", lr=1e-3, epochs=60,
        granularity="step", log_every=10, sched="late_rise", sched_unit="step",
        sched_kw={"start": 1000, "factor": 60, "ramp": 400})
    run("g046", "mnist1d-adam-cyclic-maxlr-too-high", r, "tensorboard", data="mnist1d",
        model_kw={"hidden": (256, 256)}, opt="adam", lr=1e-4, epochs=25, batch=64,
        granularity="step", log_every=10, eval_every=126, sched="cyclic", sched_unit="step",
        sched_kw={"base_lr": 1e-4, "max_lr": 0.05, "step_size_up": 1300})
    run("g047", "digits-mlp-sgd-late-rise-noval", r, "tensorboard", val=False,
        model_kw={"hidden": (128, 128)}, opt="sgd", lr=0.02, momentum=0.9, epochs=50,
        granularity="step", log_every=10, sched="late_rise", sched_unit="step",
        sched_kw={"start": 1000, "factor": 40, "ramp": 500})
    run("g048", "mnist1d-cnn-adam-late-rise", r, "jsonl", data="mnist1d", model="cnn",
        model_kw={"hidden": (32,)}, opt="adam", lr=2e-3, epochs=30, batch=64,
        sched="late_rise", sched_kw={"start": 12, "factor": 100, "ramp": 4})
    run("g049", "reg-mlp-sgd-exp-lr-up", r, "text_pipe", data="regression",
        model_kw={"hidden": (64, 64)}, opt="sgd", lr=0.01, momentum=0.9, epochs=40,
        sched="exp", sched_kw={"gamma": 1.08})
    run("g050", "mnist1d-gru-adam-late-rise", r, "text_step", data="mnist1d", model="gru",
        model_kw={"hidden": (48,)}, opt="adam", lr=3e-3, epochs=10, batch=64,
        granularity="step", log_every=5, eval_every=63, sched="late_rise", sched_unit="step",
        sched_kw={"start": 380, "factor": 15, "ramp": 100})


def lr_too_low() -> None:
    """LR too low or too few epochs: still clearly decreasing at the end."""
    r = "lr_too_low"
    run("g051", "digits-mlp-sgd-lr-1e-3", r, "text_bracket", model_kw={"hidden": (128,)},
        opt="sgd", lr=1e-3, epochs=20)
    run("g052", "mnist1d-mlp-adam-lr-1e-5", r, "keras_csv", data="mnist1d",
        model_kw={"hidden": (256, 256)}, opt="adam", lr=1e-5, epochs=30, batch=64)
    run("g053", "reg-mlp-sgd-lr-1e-3", r, "text_pipe", data="regression",
        model_kw={"hidden": (64, 64)}, opt="sgd", lr=1e-3, epochs=30)
    run("g054", "mnist1d-cnn-sgd-lr-1e-3", r, "hf_trainer_state", data="mnist1d", model="cnn",
        model_kw={"hidden": (32,)}, opt="sgd", lr=1e-3, momentum=0.9, epochs=12, batch=64,
        granularity="step", log_every=10, log_mode="mean", eval_every=63)
    run("g055", "digits-cnn-adam-lr-1e-5", r, "text_step", model="cnn",
        model_kw={"hidden": (16,)}, opt="adam", lr=1e-5, epochs=30, granularity="step",
        log_every=10, eval_every=123)
    run("g056", "mnist1d-gru-adam-lr-3e-4", r, "tensorboard", data="mnist1d", model="gru",
        model_kw={"hidden": (48,)}, opt="adam", lr=3e-4, epochs=6, batch=64,
        granularity="step", log_every=5, eval_every=63)
    run("g057", "digits-mlp-adam-too-few-epochs", r, "jsonl", model_kw={"hidden": (64,)},
        opt="adam", lr=1e-4, epochs=8, train_acc=True)
    run("g058", "reg-linear-sgd-lr-tiny", r, "generic_csv", data="regression",
        model="linear", opt="sgd", lr=2e-4, epochs=60, granularity="step", log_every=10,
        eval_every=100)
    run("g059", "mnist1d-mlp-sgd-lr-1e-2", r, "generic_csv", data="mnist1d",
        model_kw={"hidden": (128,)}, opt="sgd", lr=1e-2, epochs=20, batch=64)
    run("g060", "digits-mlp-sgd-lr-1e-4", r, "jsonl", model_kw={"hidden": (128,)}, opt="sgd",
        lr=1e-4, momentum=0.9, epochs=40, granularity="step", log_every=10, eval_every=82)


def bad_start() -> None:
    """Tiny or saturating initialisations, deep linear nets: a long plateau, then a drop."""
    r = "bad_start"
    deep_linear = {"act": "identity", "bias": False}
    teacher = {"data": "teacher", "data_kw": {"dim": 16, "out_dim": 8}}
    run("g061", "teacher-deep-linear-stagewise", r, "text_pipe", **teacher,
        model_kw={"hidden": (32, 32), "init_scale": 0.1, **deep_linear}, opt="sgd", lr=0.05,
        epochs=40, seed=0)
    run("g062", "teacher-deep-linear-3h-steps", r, "text_step", **teacher,
        model_kw={"hidden": (32, 32, 32), "init_scale": 0.2, **deep_linear}, opt="sgd",
        lr=0.03, epochs=55, granularity="step", log_every=10, eval_every=100, seed=1)
    run("g063", "digits-deep-tanh-small-init", r, "keras_csv",
        model_kw={"hidden": (64,) * 6, "act": "tanh", "init_scale": 0.45}, opt="sgd",
        lr=0.05, momentum=0.9, epochs=40, seed=2)
    run("g064", "mnist1d-gru-sgd-lr-1", r, "hf_trainer_state", data="mnist1d", model="gru",
        model_kw={"hidden": (32,)}, opt="sgd", lr=1.0, epochs=16, batch=64,
        granularity="step", log_every=10, log_mode="mean", eval_every=63, seed=0)
    run("g065", "reg-deep-tanh-small-init", r, "generic_csv", data="regression",
        model_kw={"hidden": (64,) * 4, "act": "tanh", "init_scale": 0.2}, opt="sgd", lr=0.05,
        momentum=0.9, epochs=70, granularity="step", log_every=10, eval_every=100, seed=0)
    run("g066", "teacher-deep-linear-tb", r, "tensorboard", **teacher,
        model_kw={"hidden": (32, 32), "init_scale": 0.07, **deep_linear}, opt="sgd", lr=0.05,
        epochs=50, seed=3)
    run("g067", "digits-deep-tanh-small-init-steps", r, "jsonl",
        model_kw={"hidden": (64,) * 6, "act": "tanh", "init_scale": 0.45}, opt="sgd",
        lr=0.05, momentum=0.9, epochs=45, granularity="step", log_every=10, eval_every=82,
        seed=4)
    run("g068", "mnist1d-deep-tanh-small-init", r, "text_bracket", data="mnist1d",
        model_kw={"hidden": (128,) * 5, "act": "tanh", "init_scale": 0.45}, opt="sgd",
        lr=0.05, momentum=0.9, epochs=40, batch=64, seed=5)
    run("g069", "reg-deep-tanh-small-init-epochs", r, "text_pipe", data="regression",
        model_kw={"hidden": (64,) * 4, "act": "tanh", "init_scale": 0.2}, opt="sgd", lr=0.05,
        momentum=0.9, epochs=60, seed=7)
    run("g070", "digits-gru-sgd-plateau", r, "tensorboard", model="gru",
        model_kw={"hidden": (32,)}, opt="sgd", lr=0.3, epochs=40, seed=8)


def small_data_overfit() -> None:
    """Tiny training sets, big models, long training without regularisation."""
    r = "small_data_overfit"
    big = {"hidden": (512, 512)}
    run("g071", "digits-300-big-mlp", r, "text_pipe", n_train=300, model_kw=big, opt="adam",
        lr=1e-3, epochs=150, seed=0)
    run("g072", "mnist1d-500-big-mlp-steps", r, "hf_trainer_state", data="mnist1d",
        n_train=500, model_kw=big, opt="adam", lr=1e-3, epochs=100, granularity="step",
        log_every=10, log_mode="mean", eval_every=48, seed=0)
    run("g073", "mnist1d-300-noisy-cnn", r, "jsonl", data="mnist1d", n_train=300,
        label_noise=0.2, model="cnn", model_kw={"hidden": (64,)}, opt="adam", lr=1e-3,
        epochs=80, seed=0)
    run("g074", "reg-30-sine-big-mlp", r, "generic_csv", data="regression", n_train=30,
        data_kw={"dim": 1, "target": "sine", "noise": 0.3}, model_kw={"hidden": (256, 256)},
        opt="adam", lr=2e-4, epochs=300, batch=10, seed=0)
    run("g075", "digits-150-cnn", r, "tensorboard", n_train=150, model="cnn",
        model_kw={"hidden": (32,)}, opt="adam", lr=1e-3, epochs=80, batch=16, seed=0)
    run("g076", "digits-100-noisy-sgd", r, "text_bracket", n_train=100, label_noise=0.2,
        model_kw=big, opt="sgd", lr=0.05, momentum=0.9, epochs=100, batch=16, seed=0)
    run("g077", "digits-200-noisy-mlp", r, "keras_csv", n_train=200, label_noise=0.3,
        model_kw={"hidden": (256, 256)}, opt="adam", lr=1e-3, epochs=60, seed=4,
        train_acc=True)
    run("g078", "mnist1d-1000-mlp-steps", r, "text_step", data="mnist1d", n_train=1000,
        model_kw={"hidden": (256, 256)}, opt="adam", lr=1e-3, epochs=60,
        granularity="step", log_every=10, eval_every=160, seed=1)
    run("g079", "mnist1d-400-gru", r, "keras_csv", data="mnist1d", n_train=400,
        model="gru", model_kw={"hidden": (64,)}, opt="adam", lr=3e-3, epochs=80, seed=2)
    run("g080", "reg-60-sine-mlp-steps", r, "jsonl", data="regression", n_train=60,
        data_kw={"dim": 1, "target": "sine", "noise": 0.4}, model_kw={"hidden": (256, 256)},
        opt="adam", lr=3e-4, epochs=300, batch=10, granularity="step", log_every=10,
        eval_every=60, seed=3)
    run("g081", "digits-250-adamw-no-wd-steps", r, "tensorboard", n_train=250,
        model_kw=big, opt="adamw", lr=1e-3, wd=0.0, epochs=120, granularity="step",
        log_every=8, eval_every=40, seed=4)
    run("g082", "mnist1d-200-noisy-mlp", r, "text_pipe", data="mnist1d", n_train=200,
        label_noise=0.1, model_kw=big, opt="adam", lr=1e-3, epochs=120, seed=5)
    run("g083", "digits-300-noisy40-steps", r, "generic_csv", n_train=300, label_noise=0.4,
        model_kw=big, opt="adam", lr=1e-3, epochs=80, granularity="step", log_every=10,
        eval_every=50, seed=6)
    run("g084", "mnist1d-800-cnn-steps", r, "hf_trainer_state", data="mnist1d",
        n_train=800, model="cnn", model_kw={"hidden": (64,)}, opt="adam", lr=2e-3,
        epochs=60, granularity="step", log_every=10, log_mode="mean", eval_every=100, seed=7)


def healthy() -> None:
    """Good LR with schedules (warmup+cosine, step decay, ReduceLROnPlateau, SGDR, warmup),
    constant LR that converges, weight decay, dropout, early stopping."""
    r = "healthy"
    mnist1d = {"data": "mnist1d", "batch": 64}
    steps = {"granularity": "step", "sched_unit": "step"}
    run("g085", "digits-mlp-adam-warmup-cosine", r, "keras_csv",
        model_kw={"hidden": (128, 128)}, opt="adam", lr=2e-3, epochs=30,
        sched="warmup_cosine", sched_kw={"warmup": 3})
    run("g086", "mnist1d-cnn-warmup-cosine-steps", r, "hf_trainer_state", **mnist1d,
        model="cnn", model_kw={"hidden": (32,)}, opt="adamw", lr=3e-3, wd=0.01, epochs=20,
        **steps, log_every=10, log_mode="mean", eval_every=126, log_grad_norm=True,
        sched="warmup_cosine", sched_kw={"warmup": 200})
    run("g087", "mnist1d-mlp-sgd-step-decay", r, "text_pipe", **mnist1d,
        model_kw={"hidden": (256,), "dropout": 0.2}, opt="sgd", lr=0.05, momentum=0.9,
        epochs=30, sched="step", sched_kw={"step_size": 10, "gamma": 0.1})
    run("g088", "digits-cnn-sgd-multistep-steps", r, "text_step", model="cnn",
        model_kw={"hidden": (16,)}, opt="sgd", lr=0.05, momentum=0.9, epochs=40, **steps,
        log_every=5, eval_every=82, sched="multistep", sched_kw={"milestones": [700, 1200]})
    run("g089", "mnist1d-mlp-adam-reduce-on-plateau", r, "text_bracket", **mnist1d,
        model_kw={"hidden": (256, 256), "dropout": 0.3}, opt="adam", lr=2e-3, epochs=40,
        sched="plateau", sched_kw={"factor": 0.3, "patience": 3})
    run("g090", "digits-mlp-sgd-sgdr", r, "jsonl", model_kw={"hidden": (128,)}, opt="sgd",
        log_lr=False, lr=0.1, momentum=0.9, epochs=40, sched="sgdr", sched_kw={"t0": 10})
    run("g091", "mnist1d-cnn-sgdr-steps", r, "tensorboard", **mnist1d, model="cnn",
        model_kw={"hidden": (32,)}, opt="sgd", lr=0.05, momentum=0.9, wd=5e-4, epochs=24,
        **steps, log_every=5, eval_every=63, sched="sgdr", sched_kw={"t0": 200, "t_mult": 2})
    run("g092", "reg-mlp-adam-constant", r, "generic_csv", data="regression",
        model_kw={"hidden": (64, 64)}, opt="adam", lr=1e-3, epochs=60)
    run("g093", "digits-mlp-adam-constant-noval", r, "text_bracket", val=False,
        model_kw={"hidden": (128,)}, opt="adam", lr=1e-3, epochs=25)
    run("g094", "mnist1d-mlp-adamw-dropout", r, "keras_csv", **mnist1d,
        model_kw={"hidden": (256, 256), "dropout": 0.3}, opt="adamw", lr=1e-3, wd=0.05,
        epochs=40)
    run("g095", "digits-300-regularised-early-stop", r, "text_pipe", n_train=300,
        model_kw={"hidden": (256, 256), "dropout": 0.5}, opt="adamw", lr=1e-3, wd=0.1,
        epochs=150, patience=8)
    run("g096", "mnist1d-gru-adam-clip-warmup", r, "jsonl", **mnist1d, model="gru",
        model_kw={"hidden": (64,)}, opt="adam", lr=5e-3, epochs=18, **steps, log_every=5,
        eval_every=63, clip=1.0, log_grad_norm=True, sched="warmup",
        sched_kw={"warmup": 100})
    run("g097", "reg-mlp-sgd-step-decay-steps", r, "generic_csv", data="regression", log_lr=False,
        model_kw={"hidden": (64, 64)}, opt="sgd", lr=0.05, momentum=0.9, epochs=60, **steps,
        log_every=10, eval_every=100, sched="step", sched_kw={"step_size": 700, "gamma": 0.2})
    run("g098", "digits-cnn-adam-onecycle-steps", r, "hf_trainer_state", model="cnn",
        model_kw={"hidden": (16,)}, opt="adam", lr=1e-3, epochs=25, **steps, log_every=10,
        log_mode="mean", eval_every=82, sched="onecycle", sched_kw={"max_lr": 5e-3})
    run("g099", "mnist1d-mlp-warmup-then-constant", r, "text_step", **mnist1d,
        model_kw={"hidden": (128, 128), "dropout": 0.2}, opt="adam", lr=1e-3, epochs=25,
        **steps, log_every=10, eval_every=126, sched="warmup", sched_kw={"warmup": 300})
    run("g100", "digits-mlp-sgd-warmup-epochs", r, "tensorboard",
        model_kw={"hidden": (128, 128)}, opt="sgd", lr=0.1, momentum=0.9, epochs=30,
        sched="warmup", sched_kw={"warmup": 5, "start_factor": 0.05})
    run("g101", "mnist1d-cnn-reduce-on-plateau-steps", r, "hf_trainer_state", **mnist1d,
        model="cnn", model_kw={"hidden": (32,), "dropout": 0.2}, opt="adam", lr=2e-3,
        epochs=45, granularity="step", log_every=10, log_mode="mean", eval_every=126,
        sched="plateau", sched_kw={"factor": 0.2, "patience": 2})
    run("g102", "reg-mlp-adam-cosine-steps", r, "tensorboard", data="regression",
        n_train=4000, model_kw={"hidden": (64, 64)}, opt="adam", lr=2e-3, epochs=20, **steps,
        log_every=10, eval_every=250, sched="cosine")
    run("g103", "digits-mlp-sgd-constant-lr-0.1", r, "keras_csv",
        model_kw={"hidden": (128,)}, opt="sgd", lr=0.1, epochs=30)
    run("g104", "mnist1d-mlp-adam-exp-decay", r, "jsonl", **mnist1d,
        model_kw={"hidden": (256,), "dropout": 0.2}, opt="adam", lr=2e-3, epochs=30,
        sched="exp", sched_kw={"gamma": 0.9})
    run("g105", "digits-cnn-early-stopping", r, "text_bracket", model="cnn",
        model_kw={"hidden": (16,)}, opt="adam", lr=1e-3, epochs=60, patience=4)
    run("g106", "reg-mlp-long-warmup-cosine", r, "text_step", data="regression",
        n_train=50000, n_val=2000, model_kw={"hidden": (64, 64)}, opt="adamw", lr=2e-3,
        wd=1e-4, epochs=64, **steps, log_every=50, eval_every=2000,
        sched="warmup_cosine", sched_kw={"warmup": 2000})
    run("g107", "digits-mlp-adamw-dropout-steps", r, "jsonl",
        model_kw={"hidden": (256,), "dropout": 0.3}, opt="adamw", lr=1e-3, wd=0.05,
        epochs=40, granularity="step", log_every=5, eval_every=41)
    run("g108", "mnist1d-cnn-sgd-nesterov-step", r, "tensorboard", **mnist1d, model="cnn",
        log_lr=False, model_kw={"hidden": (32,)}, opt="sgd", lr=0.05, momentum=0.9,
        nesterov=True, epochs=30, sched="step", sched_kw={"step_size": 12, "gamma": 0.1})
    run("g109", "digits-gru-adam-cosine", r, "keras_csv", model="gru",
        model_kw={"hidden": (48,)}, opt="adam", lr=3e-3, epochs=30, sched="cosine")
    run("g110", "reg-mlp-adam-constant-long-steps", r, "hf_trainer_state", data="regression",
        n_train=20000, model_kw={"hidden": (64, 64)}, opt="adam", lr=1e-3, epochs=10,
        granularity="step", log_every=10, log_mode="mean", eval_every=250)


def more_examples() -> None:
    """A second round for the kinds the first round produced fewest examples of (oscillation,
    non-finite values, loss up while accuracy up), in other formats and data."""
    r = "more_examples"
    run("g111", "digits-mlp-sgd-lr-0.5-steps", r, "text_step", model_kw={"hidden": (128,)},
        opt="sgd", lr=0.5, momentum=0.9, epochs=30, granularity="step", log_every=10,
        eval_every=82, seed=2)
    run("g112", "mnist1d-cnn-adam-lr-0.03", r, "text_bracket", data="mnist1d", model="cnn",
        model_kw={"hidden": (32,)}, opt="adam", lr=0.03, epochs=25, batch=64, seed=1)
    run("g113", "reg-linear-sgd-edge-steps", r, "hf_trainer_state", data="regression",
        data_kw={"xscale": 3.0}, model="linear", opt="sgd", lr=0.09, epochs=80, batch=64,
        granularity="step", log_every=5, log_mode="mean", eval_every=80, seed=4)
    run("g114", "digits-mlp-adam-lr-0.05", r, "keras_csv", model_kw={"hidden": (128, 128)},
        opt="adam", lr=0.05, epochs=30, seed=3)
    run("g115", "reg-bigscale-sgd-bounce-steps", r, "jsonl", data="regression",
        data_kw={"yscale": 300.0, "xscale": 2.5}, model="linear", opt="sgd", lr=0.1,
        epochs=40, batch=16, granularity="step", log_every=10, eval_every=125, seed=5)
    run("g116", "digits-naive-ce-nan-keras", r, "keras_csv", naive_ce=True,
        model_kw={"hidden": (256, 256)}, opt="adam", lr=0.03, epochs=30, seed=16)
    run("g117", "reg-tanh-mlp-lr-ramp-nan-steps", r, "hf_trainer_state", data="regression",
        model_kw={"hidden": (64, 64), "act": "tanh"}, data_kw={"xscale": 2.0}, opt="sgd",
        lr=0.001, momentum=0.9, epochs=90, granularity="step", log_every=10, eval_every=100,
        sched="exp", sched_unit="step", sched_kw={"gamma": 1.0025}, log_grad_norm=True,
        seed=2)
    run("g118", "digits-cnn-inf-in-batch", r, "text_pipe", model="cnn",
        model_kw={"hidden": (16,)}, opt="adam", lr=1e-3, epochs=25,
        corrupt_steps={41 * 11 + 7: "inf"})
    run("g119", "mnist1d-mlp-inf-in-batch-tb", r, "tensorboard", data="mnist1d",
        model_kw={"hidden": (128,)}, opt="sgd", lr=0.05, momentum=0.9, epochs=30,
        granularity="step", log_every=10, eval_every=125, corrupt_steps={2222: "inf"},
        nan_patience=60)
    run("g120", "digits-200-cnn-steps", r, "hf_trainer_state", n_train=200, model="cnn",
        model_kw={"hidden": (32,)}, opt="adam", lr=1e-3, epochs=100, granularity="step",
        log_every=7, log_mode="mean", eval_every=35, seed=1)
    run("g121", "mnist1d-mlp-rmsprop", r, "keras_csv", data="mnist1d",
        model_kw={"hidden": (128,)}, opt="rmsprop", lr=0.01, epochs=30, seed=2)
    run("g122", "mnist1d-600-mlp-epochs", r, "text_bracket", data="mnist1d", n_train=600,
        model_kw={"hidden": (256, 256)}, opt="adam", lr=1e-3, epochs=60, seed=3)


def shipped_examples() -> None:
    """The example runs shipped with the package for ``make demo`` (ids x1-x3)."""
    run("x1", "mnist1d_overfit", "small_data_overfit", "hf_trainer_state", data="mnist1d",
        n_train=500, model_kw={"hidden": (512, 512)}, opt="adam", lr=1e-3, epochs=100,
        granularity="step", log_every=10, log_mode="mean", eval_every=48, seed=11,
        example="A 512x512 MLP trained with Adam on 500 mnist1d samples for 100 epochs "
                "(Hugging Face trainer_state.json style): the validation loss bottoms out "
                "early and climbs while validation accuracy keeps rising.")
    run("x2", "mnist1d_lr_too_high", "lr_slightly_too_high", "text_pipe", data="mnist1d",
        model="cnn", model_kw={"hidden": (32,)}, opt="sgd", lr=0.1, momentum=0.9, epochs=30,
        seed=3, filename="mnist1d_lr_too_high.log",
        example="A 1-D CNN trained on mnist1d with SGD at a learning rate that is too high "
                "(0.1, momentum 0.9): the losses bounce and spike instead of settling.")
    run("x3", "mnist1d_warmup_cosine", "healthy", "keras_csv", data="mnist1d", model="cnn",
        model_kw={"hidden": (32,)}, opt="adamw", lr=3e-3, wd=0.01, epochs=40, batch=64,
        sched="warmup_cosine", sched_kw={"warmup": 3}, seed=3,
        example="A healthy run: a 1-D CNN on mnist1d with AdamW, a 3-epoch linear warmup "
                "and cosine decay (Keras CSVLogger style).")


REGIMES = [lr_far_too_high, lr_slightly_too_high, corrupted_batches, lr_rising_late,
           lr_too_low, bad_start, small_data_overfit, healthy, more_examples]


# =============================================================== driver
def generate(spec: RunSpec) -> tuple[str, float, list[str]]:
    """Train one run, write its log into its directory and cache its series."""
    torch.set_num_threads(1)
    t0 = time.time()
    rec = fit(spec.cfg)
    rec["meta"]["name"] = spec.id
    # keep only what the format writes, so the cache (and the plots) show what the log holds
    rec["series"] = {k: v for k, v in rec["series"].items() if k in WRITES[spec.fmt]}
    stale = [spec.out] if spec.example else list(OUT.glob(f"{spec.id}_*"))
    for old in stale:
        if old.exists():
            shutil.rmtree(old)
    spec.out.mkdir(parents=True)
    files = WRITERS[spec.fmt](rec, spec.out)
    if spec.filename:
        (spec.out / files[0]).rename(spec.out / spec.filename)
        files = [spec.filename]
    if spec.example:
        (spec.out / "README.md").write_text(
            f"{spec.example} Made by `corpus/generate/train_runs.py --examples` "
            f"(run {spec.id}).\n")
    CACHE.mkdir(parents=True, exist_ok=True)
    cached = {"id": spec.id, "dir": spec.out.name, "regime": spec.regime, "format": spec.fmt,
              "files": files, "cfg": dataclasses.asdict(spec.cfg), **rec}
    (CACHE / f"{spec.id}.json").write_text(json.dumps(cached))
    return spec.id, time.time() - t0, files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated run ids, name or regime substrings")
    parser.add_argument("--jobs", type=int, default=2, help="parallel training processes")
    parser.add_argument("--list", action="store_true", help="list the runs and exit")
    parser.add_argument("--examples", action="store_true",
                        help="write the shipped examples to src/lossdoctor/examples/ instead")
    args = parser.parse_args(argv)
    for regime in (shipped_examples,) if args.examples else REGIMES:
        regime()
    specs = RUNS
    if args.only:
        keys = [k.strip() for k in args.only.split(",") if k.strip()]
        specs = [s for s in RUNS if any(k == s.id or k in s.name or k in s.regime
                                        for k in keys)]
        if not specs:
            parser.error(f"--only {args.only!r} matches no run")
    if args.list:
        for s in specs:
            print(f"{s.id}  {s.regime:22s} {s.fmt:17s} {s.name}")
        return 0
    t0 = time.time()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for rid, secs, files in pool.map(generate, specs):
            print(f"{rid}  {secs:6.1f}s  {', '.join(files)}", flush=True)
    print(f"{len(specs)} runs in {time.time() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
