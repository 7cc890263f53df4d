"""Finding → ranked remedies, with parameters taken from the evidence and runnable snippets.

Every parameter is derived from the run itself: the best epoch to restore, an early-stopping
patience from how long the validation loss went without a new best while it was still
improving, a clip value from the logged gradient norms, a flood level from the training loss
where validation started to rise, an LR from the logged LR.
"""

from __future__ import annotations

import json
import keyword
import re
from collections.abc import Callable

import numpy as np

from lossdoctor.curve import Curve
from lossdoctor.findings import Finding, Point, Remedy
from lossdoctor.rules.context import Context

__all__ = ["prescribe"]


def _g(v: float | None, digits: int = 3) -> str:
    if v is None:
        return "None"
    return f"{v:.{digits}g}"


def _at(f: Finding) -> tuple[str, float | int | None]:
    """("epoch", 18) or ("step", 1800) of a finding's start: a whole epoch, else the step (a
    checkpoint is saved at a step: Hugging Face's checkpoint-<step>), else a fractional epoch,
    else the point's index."""
    e, st = f.start.epoch, f.start.step
    if e is not None and float(e).is_integer():
        return "epoch", int(e)
    if st is not None:
        return "step", int(st)
    if e is not None:
        return "epoch", round(e, 2)
    return "point", f.start.index


def _identifier(name: str) -> str:
    """A metric's name as a Python variable for a snippet ("Gen Loss" → gen_loss)."""
    ident = re.sub(r"\W+", "_", name).strip("_").lower() or "loss"
    return ident if ident.isidentifier() and not keyword.iskeyword(ident) else f"m_{ident}"


def _x_on(p: Point, c: Curve) -> float | None:
    """Where point `p` (of any curve of the run) lies on `c`'s axis: its step on a step axis,
    its epoch on an epoch axis; None when it has no such position."""
    axis = c.series.axis
    x = p.step if axis == "step" else p.epoch if axis == "epoch" else None
    return None if x is None else float(x)


def _lr_at(ctx: Context, c: Curve | None, x: float) -> float | None:
    if c is None:
        return None
    sched = ctx.schedule(c)
    if sched.lr is None:
        return None
    lx, lv = sched.lr
    return float(np.interp(x, lx, lv))


def _patience(c: Curve) -> int:
    """Evaluations to wait: 1 + the longest run without a new best (by more than half the
    noise) while the curve was still improving, so the run would not have stopped early."""
    y = c.y[: int(np.argmin(c.y)) + 1]
    if len(y) < 2:
        return 3
    tol = 0.5 * c.noise
    best, wait, longest = y[0], 0, 0
    for v in y[1:]:
        if v < best - tol:
            best, wait = v, 0
        else:
            wait += 1
            longest = max(longest, wait)
    return int(min(max(longest + 1, 2), 20))


def _min_delta(c: Curve) -> float:
    if c.log:
        return 0.0
    return float(f"{0.5 * c.noise:.2g}") if c.noise > 0 else 0.0


def _best_before(c: Curve, p: Point) -> Point:
    """The point of `c` at its lowest level up to `p` (`p` itself when `c` cannot place it): the
    last healthy state before a blow-up, whose LR and gradient norms are a reference."""
    x = _x_on(p, c)
    if x is None:
        return p
    return c.point(int(np.argmin(c.y[: c.at_x(x) + 1])))


def _clip_value(ctx: Context, start: Point, pct: float = 90.0) -> float | None:
    """The `pct`-th percentile of the gradient norms logged before `start` (the healthy
    stretch; all of them when fewer than 10 were), None without 10 logged norms."""
    g = ctx.grad_norm
    if g is None or len(g) < 10:
        return None
    values = g.v
    x = _x_on(start, g)
    if x is not None:
        before = g.v[g.x < x]
        if len(before) >= 10:
            values = before
    return float(f"{np.percentile(values, pct):.3g}")


def _restore(f: Finding) -> Remedy:
    unit, at = _at(f)
    return Remedy(
        "restore_best_checkpoint",
        {unit: at, "value": f.evidence.get("best_value")},
        "# reload the weights saved at the best evaluation\n"
        f"model.load_state_dict(torch.load(\"checkpoint_{unit}{at}.pt\"))\n"
        "# Hugging Face: TrainingArguments(load_best_model_at_end=True, "
        "metric_for_best_model=\"eval_loss\")",
    )


def _early_stopping(c: Curve | None) -> Remedy:
    """Early stopping on the curve `c` (the validation loss by default), in its direction."""
    patience = _patience(c) if c is not None else 3
    delta = _min_delta(c) if c is not None else 0.0
    monitor = c.name if c is not None else "val_loss"
    mode = c.direction if c is not None and c.direction in ("min", "max") else "min"
    return Remedy(
        "early_stopping",
        {"monitor": monitor, "mode": mode, "patience": patience, "min_delta": delta},
        "from lossdoctor.train import EarlyStopping\n"
        f"stopper = EarlyStopping(mode=\"{mode}\", patience={patience}, min_delta={delta}, "
        "restore_best=True)\n"
        "for epoch in range(max_epochs):\n"
        "    train_one_epoch(model)\n"
        f"    if stopper.step(evaluate(model)[{json.dumps(monitor)}], model):\n"
        "        stopper.restore(model)\n"
        "        break",
    )


def _regularise(ctx: Context) -> Remedy:
    return Remedy(
        "regularise",
        {"weight_decay": 0.05, "dropout": 0.1},
        "optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)\n"
        "# and/or nn.Dropout(p=0.1) before the classifier; augment the training data",
    )


def _flooding(ctx: Context, f: Finding) -> Remedy | None:
    t = ctx.train
    if t is None or t.direction != "min":
        return None
    x = _x_on(f.start, t)  # validation's best, placed on the training loss's own axis …
    src = ctx.curve(f.metric)
    if x is None and src is not None and (xs := _x_on(f.start, src)) is not None:
        mapped = ctx.map_range(src, xs, xs, t)  # … through an axis both share
        x = None if mapped is None else mapped[0]
    if x is None:
        return None
    i = t.at_x(x)
    k = max(1, len(t) // 50)
    level = float(np.median(t.v[max(0, i - k) : i + k + 1]))
    if not np.isfinite(level) or level <= 0:
        return None
    b = float(f"{level:.2g}")
    return Remedy(
        "flooding",
        {"b": b},
        "from lossdoctor.train import flood\n"
        "loss = criterion(model(x), y)\n"
        f"loss = flood(loss, b={b})  # |loss - b| + b: ascends once the loss is below b\n"
        "loss.backward()",
    )


def _lower_lr(ctx: Context, at: Point, factor: float, c: Curve | None) -> Remedy:
    """Multiply the LR by `factor`: the LR logged at `at` (where the finding starts, or the
    last healthy point before it)."""
    x = _x_on(at, c) if c is not None else None
    lr = _lr_at(ctx, c, x) if x is not None else None
    params: dict[str, object] = {"factor": factor}
    if lr is not None:
        params["lr"] = float(f"{lr * factor:.2g}")
        params["logged_lr"] = float(f"{lr:.3g}")
        line = f"for g in optimizer.param_groups:\n    g[\"lr\"] = {params['lr']}"
    else:
        line = f"for g in optimizer.param_groups:\n    g[\"lr\"] *= {factor}"
    return Remedy("lower_lr", params, line)


def _reduce_on_plateau(ctx: Context, c: Curve | None, factor: float = 0.5) -> Remedy:
    """ReduceLROnPlateau on the validation loss (the finding's curve without one), its
    patience counted in that curve's points and short enough to act within the run."""
    m = ctx.val if ctx.val is not None and ctx.val.direction == "min" else c
    patience = 3
    if m is not None:
        patience = max(1, min(_patience(m) - 1, len(m) // 4))
    watched = m.name if m is not None else "val_loss"
    return Remedy(
        "reduce_lr_on_plateau",
        {"factor": factor, "patience": patience, "monitor": watched},
        "scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(\n"
        f"    optimizer, mode=\"min\", factor={factor}, patience={patience})\n"
        f"scheduler.step({_identifier(watched)})  # once per logged {watched} (patience "
        "counts those)",
    )


def _clip(ctx: Context, before: Point) -> Remedy:
    value = _clip_value(ctx, before)
    params: dict[str, object] = {"max_norm": value if value is not None else 1.0}
    if value is not None:
        params["grad_norm_percentile"] = 90
    return Remedy(
        "clip_gradients",
        params,
        "loss.backward()\n"
        f"torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm={params['max_norm']})\n"
        "optimizer.step()",
    )


def _run_epochs(c: Curve) -> int | None:
    """The number of epochs a curve on an epoch axis covers (epochs 0-99 and 1-100 are both
    100), None when unknown."""
    if c.series.axis != "epoch" or not len(c.x):
        return None
    first, last = float(c.x[0]), float(c.x[-1])
    whole = bool(np.all(np.mod(c.x, 1) == 0))
    return int(last) + 1 if whole and first == 0 else int(np.ceil(last))


def _warmup(c: Curve | None) -> Remedy:
    """Warmup over 5% of the run: in steps when the log has steps, in epochs when it has whole
    epochs to spare, else as a fraction of the user's own step count."""
    total = int(c.x[-1]) if c is not None and c.series.axis == "step" and len(c.x) else 0
    warm = max(10, int(0.05 * total))
    if warm < total // 2:  # a run long enough for ten warmup steps and a decay after them
        return Remedy(
            "warmup",
            {"warmup_steps": warm, "total_steps": total},
            "from lossdoctor.train import warmup_cosine\n"
            f"scheduler = warmup_cosine(optimizer, warmup_steps={warm}, total_steps={total})\n"
            "# call scheduler.step() after every optimizer.step()",
        )
    epochs = _run_epochs(c) if c is not None else None
    if epochs is not None and epochs >= 2:
        warm_epochs = max(1, round(0.05 * epochs))
        return Remedy(
            "warmup",
            {"warmup_epochs": warm_epochs, "epochs": epochs},
            "from lossdoctor.train import warmup_cosine\n"
            "steps = len(train_loader)  # optimizer steps per epoch\n"
            f"scheduler = warmup_cosine(optimizer, warmup_steps={warm_epochs} * steps,\n"
            f"                          total_steps={epochs} * steps)\n"
            "# call scheduler.step() after every optimizer.step()",
        )
    return Remedy(
        "warmup",
        {"warmup_fraction": 0.05},
        "from lossdoctor.train import warmup_cosine\n"
        "total_steps = num_epochs * len(train_loader)  # optimizer steps of the whole run\n"
        "scheduler = warmup_cosine(optimizer, warmup_steps=max(1, total_steps // 20),\n"
        "                          total_steps=total_steps)\n"
        "# call scheduler.step() after every optimizer.step()",
    )


def _lr_find() -> Remedy:
    return Remedy(
        "lr_range_test",
        {},
        "from lossdoctor.train import lr_find\n"
        "result = lr_find(model, optimizer, criterion, train_loader)\n"
        "print(result.suggestions)  # then restart with the suggested LR",
    )


def _accumulate(factor: int = 4) -> Remedy:
    return Remedy(
        "larger_batch",
        {"accumulation_steps": factor},
        f"accum = {factor}  # effective batch = {factor} x batch_size\n"
        "for i, (x, y) in enumerate(loader):\n"
        "    loss = criterion(model(x), y) / accum\n"
        "    loss.backward()\n"
        "    if (i + 1) % accum == 0:\n"
        "        optimizer.step()\n"
        "        optimizer.zero_grad()",
    )


def _overfitting(f: Finding, ctx: Context) -> list[Remedy]:
    out = [_restore(f), _early_stopping(ctx.val)]
    fl = _flooding(ctx, f)
    if fl is not None:
        out.append(fl)
    out.append(_regularise(ctx))
    return out


def _loss_up_acc_up(f: Finding, ctx: Context) -> list[Remedy]:
    metric = str(f.evidence.get("metric", "val_acc"))
    a = ctx.val_metric
    mode = a.direction if a is not None else "max"
    unit = "epoch" if f.evidence.get("metric_best_epoch") is not None else "step"
    at = f.evidence.get(f"metric_best_{unit}")
    return [
        Remedy(
            "monitor_metric",
            {"monitor": metric, "mode": mode, "best_" + unit: at},
            "# select the checkpoint and stop on the task metric, not on the loss\n"
            "from lossdoctor.train import EarlyStopping\n"
            f"stopper = EarlyStopping(mode=\"{mode}\", patience={_patience(a) if a else 3})\n"
            f"# Hugging Face: metric_for_best_model=\"{metric}\", "
            f"greater_is_better={mode == 'max'}",
        ),
        Remedy(
            "label_smoothing",
            {"label_smoothing": 0.1},
            "criterion = torch.nn.CrossEntropyLoss(label_smoothing=0.1)",
        ),
        Remedy(
            "temperature_scaling",
            {},
            "# after training: fit one temperature T on the validation logits\n"
            "T = torch.ones(1, requires_grad=True)\n"
            "opt = torch.optim.LBFGS([T], lr=0.1, max_iter=50)\n"
            "def closure():\n"
            "    opt.zero_grad()\n"
            "    loss = torch.nn.functional.cross_entropy(val_logits / T, val_labels)\n"
            "    loss.backward()\n"
            "    return loss\n"
            "opt.step(closure)",
        ),
    ]


def _loss_rising(f: Finding, ctx: Context) -> list[Remedy]:
    c = ctx.curve(f.metric)
    return [_lower_lr(ctx, f.start, 0.3, c), _reduce_on_plateau(ctx, c), _restore(f),
            _clip(ctx, f.start)]


def _divergence(f: Finding, ctx: Context) -> list[Remedy]:
    c = ctx.curve(f.metric)
    return [_lower_lr(ctx, f.start, 0.1, c), _clip(ctx, f.start), _warmup(c), _restore(f),
            _lr_find()]


def _non_finite(f: Finding, ctx: Context) -> list[Remedy]:
    c = ctx.train
    healthy = _best_before(c, f.start) if c is not None else f.start
    return [
        Remedy(
            "find_the_first_nan",
            {"first": f.evidence.get("first")},
            "torch.autograd.set_detect_anomaly(True)  # names the op that made the NaN\n"
            "assert torch.isfinite(x).all(), \"NaN/inf in the inputs\"",
        ),
        # an LR and gradient norms that blew up with the loss are no reference
        _lower_lr(ctx, healthy, 0.1, c),
        _clip(ctx, healthy),
        Remedy(
            "safer_numerics",
            {},
            "# prefer bf16 autocast, or a GradScaler with fp16\n"
            "scaler = torch.amp.GradScaler()\n"
            "# use log_softmax/BCEWithLogitsLoss instead of log(softmax)/log(sigmoid); add eps "
            "to divisions and logs",
        ),
    ]


def _spike(f: Finding, ctx: Context) -> list[Remedy]:
    c = ctx.curve(f.metric)
    out = [_clip(ctx, f.start)]
    if c is not None and c.series.axis == "step" and ctx.schedule(c).warmup_end is None:
        out.append(_warmup(c))
    out.append(_lower_lr(ctx, f.start, 0.5, c))
    out.append(Remedy(
        "inspect_batches",
        {"at": f.evidence.get("at", [])[:5]},
        "# look at the batches logged at the spikes: corrupt samples, wrong labels, outliers;\n"
        "# or let the watcher skip a batch whose loss spikes (never 3 in a row):\n"
        "from lossdoctor.watch import Policy, Watch\n"
        "watch = Watch(model, optimizer, autopilot=Policy(actions={\"spike\": \"skip\"}))\n"
        "for step, (x, y) in enumerate(train_loader):\n"
        "    optimizer.zero_grad()\n"
        "    loss = criterion(model(x), y)\n"
        "    loss.backward()\n"
        "    if not watch.should_skip(loss, step=step):\n"
        "        optimizer.step()\n"
        "    watch.log(step, train_loss=loss)",
    ))
    return out


def _oscillation(f: Finding, ctx: Context) -> list[Remedy]:
    c = ctx.curve(f.metric)
    return [_lower_lr(ctx, f.start, 0.5, c), _accumulate(4), _reduce_on_plateau(ctx, c)]


def _plateau(f: Finding, ctx: Context) -> list[Remedy]:
    c = ctx.curve(f.metric)
    form = f.evidence.get("form")
    if form == "validation_stalled":
        return [_early_stopping(c), _regularise(ctx), _reduce_on_plateau(ctx, c)]
    if form == "frozen":
        return [_lr_find(), _reduce_on_plateau(ctx, c)]
    return [_lr_find(), _warmup(c), _reduce_on_plateau(ctx, c)]


def _underfitting(f: Finding, ctx: Context) -> list[Remedy]:
    c = ctx.curve(f.metric)
    if f.evidence.get("form") == "still_decreasing":
        longer = Remedy("train_longer", {"factor": 2},
                        "num_epochs *= 2  # the loss was still falling when the run ended")
        return [longer, _lr_find()]
    return [_lr_find(), Remedy(
        "more_capacity", {},
        "# check the data pipeline first (labels aligned with inputs?), then widen the model\n"
        "# or raise the LR; a loss stuck at log(num_classes) means the model predicts chance",
    ), _warmup(c)]


_BY_KIND: dict[str, Callable[[Finding, Context], list[Remedy]]] = {
    "overfitting": _overfitting,
    "loss_up_acc_up": _loss_up_acc_up,
    "loss_rising": _loss_rising,
    "divergence": _divergence,
    "non_finite": _non_finite,
    "spike": _spike,
    "oscillation": _oscillation,
    "plateau": _plateau,
    "underfitting": _underfitting,
}


def prescribe(finding: Finding, ctx: Context) -> list[Remedy]:
    """Ranked remedies for `finding` (empty for `converged`)."""
    make = _BY_KIND.get(finding.kind)
    return make(finding, ctx) if make is not None else []
