"""The LR range test (Smith, 2017; fastai's ``lr_find``): sweep the learning rate exponentially
over a few batches, watch the smoothed loss, and read a starting LR off the curve.

The model and optimizer are put back exactly as they were (parameters, buffers, gradients,
optimizer state, train/eval mode), from copies kept on the CPU during the sweep; only the random
number generators and the data loader's iterator have moved on.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.optim import Optimizer

__all__ = ["LRFindResult", "lr_find", "suggest_lrs"]

MIN_POINTS = 5  # fewer recorded points give no suggestion


@dataclass(frozen=True)
class LRFindResult:
    """What the range test recorded and suggests.

    Attributes:
        lrs: the learning rate of every recorded step.
        losses: the bias-corrected exponentially smoothed loss at each step.
        raw_losses: the batch losses as computed.
        suggestions: ``{"steepest": lr, "valley": lr, "minimum/10": lr}`` (empty when fewer than
            5 points were recorded).
        suggestion: the median of the suggestions in log space, the LR to start from (None when
            there are no suggestions).
        spread_decades: max − min of log10 of the suggestions: how far they disagree.
        confidence: ``"high"`` (spread ≤ 0.5 decade), ``"medium"`` (≤ 1), ``"low"``, or
            ``"none"`` without suggestions.
        stopped_early: True when the loss diverged before ``num_steps``.
        notes: one-line remarks (why the sweep stopped, why there is no suggestion …).
    """

    lrs: np.ndarray
    losses: np.ndarray
    raw_losses: np.ndarray
    suggestions: dict[str, float]
    suggestion: float | None
    spread_decades: float | None
    confidence: str
    stopped_early: bool
    notes: list[str] = field(default_factory=list)

    def plot(self, ax: Any = None, *, path: str | None = None) -> Any:
        """Plot the smoothed loss against the LR (log x axis) with the suggestions marked.

        Args:
            ax: a matplotlib Axes to draw on; a new figure when None.
            path: save the figure there (PNG, 120 dpi) when given.

        Returns:
            The Axes.
        """
        import matplotlib

        if ax is None and path is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        ax.plot(self.lrs, self.losses, color="C0", label="smoothed loss")
        for i, (name, lr) in enumerate(self.suggestions.items()):
            ax.axvline(lr, color=f"C{i + 1}", linestyle="--", label=f"{name}: {lr:.2e}")
        ax.set_xscale("log")
        if len(self.losses):  # keep the diverging tail from flattening the interesting part
            i_min = int(np.argmin(self.losses))
            low, high = float(self.losses[i_min]), float(self.losses[: i_min + 1].max())
            margin = 0.1 * (high - low) or 0.1 * abs(high) or 1.0
            ax.set_ylim(low - margin, high + 3 * margin)
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        ax.set_title(f"LR range test (confidence: {self.confidence})")
        ax.legend(fontsize="small")
        if path is not None:
            ax.figure.savefig(path, dpi=120, bbox_inches="tight")
        return ax


def _valley(losses: np.ndarray) -> int:
    """fastai's "valley": the index a third plus a sixth of the way along the longest strictly
    descending subsequence of the losses (O(n²) over the recorded points, n ≤ num_steps)."""
    n = len(losses)
    lds = np.ones(n, dtype=np.int64)
    for i in range(1, n):
        higher = losses[:i] > losses[i]
        if higher.any():
            lds[i] = lds[:i][higher].max() + 1
    end = int(np.argmax(lds))  # the first index where the longest descent ends
    start = end - int(lds[end]) + 1
    sections = (end - start) / 3
    return start + int(sections) + int(sections / 2)


def suggest_lrs(lrs: np.ndarray, losses: np.ndarray) -> dict[str, float]:
    """The three suggestions from a smoothed loss curve, computed against log10(lr).

    * ``steepest``: where the smoothed loss falls fastest per decade of LR (most negative
      ``np.gradient`` of the loss w.r.t. log10 lr), before the minimum;
    * ``valley``: fastai's valley point on the longest descending stretch;
    * ``minimum/10``: a tenth of the LR at the lowest smoothed loss.
    """
    lrs = np.asarray(lrs, dtype=np.float64)
    losses = np.asarray(losses, dtype=np.float64)
    if len(lrs) != len(losses) or len(lrs) < MIN_POINTS:
        raise ValueError(f"need at least {MIN_POINTS} points of equal length, got "
                         f"{len(lrs)} lrs and {len(losses)} losses")
    x = np.log10(lrs)
    i_min = int(np.argmin(losses))
    slope = np.gradient(losses, x)
    upto = max(i_min, 1) + 1
    i_steep = int(np.argmin(slope[:upto]))
    return {
        "steepest": float(lrs[i_steep]),
        "valley": float(lrs[_valley(losses)]),
        "minimum/10": float(lrs[i_min] / 10),
    }


def _cpu_copy(obj: Any) -> Any:
    """A deep copy of a (nested) state dict with every tensor copied to the CPU."""
    if isinstance(obj, Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _cpu_copy(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_cpu_copy(v) for v in obj)
    return copy.deepcopy(obj)


def _batches(loader: Iterable[Any]) -> Iterator[Any]:
    """Cycle over the loader (restarting it when exhausted); a one-shot iterator ends the
    generator when it runs out."""
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise ValueError("lr_find: the loader yielded no batch")
        if iter(loader) is loader:  # an iterator, not a restartable iterable
            return


def _default_step(
    model: nn.Module, loss_fn: Callable[..., Tensor], batch: Any
) -> Tensor:
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise TypeError(
            "lr_find: each batch must be an (inputs, targets) pair; pass batch_loss= for "
            "other batch structures"
        )
    inputs, targets = batch
    return loss_fn(model(inputs), targets)


def lr_find(
    model: nn.Module,
    optimizer: Optimizer,
    loss_fn: Callable[..., Tensor],
    loader: Iterable[Any],
    *,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_steps: int = 100,
    smooth: float = 0.98,
    diverge_factor: float = 4.0,
    batch_loss: Callable[[nn.Module, Any], Tensor] | None = None,
) -> LRFindResult:
    """Run the LR range test and restore the model and optimizer afterwards.

    At step i (of ``num_steps``) every parameter group gets lr = start_lr·(end_lr/start_lr)^(i/(
    num_steps−1)); one optimizer step is taken on the next batch (the loader is restarted when
    exhausted). The loss is smoothed as ``avg = smooth·avg + (1−smooth)·loss`` with the bias
    correction ``avg / (1 − smooth^(i+1))``. The sweep stops when a loss is not finite or the
    smoothed loss exceeds ``diverge_factor`` × its minimum so far (for a minimum ≤ 0: rises
    above it by more than ``(diverge_factor − 1)`` × its magnitude), or when a one-shot
    iterator runs out.

    Args:
        model: the model, in the mode it should train in (the mode is restored afterwards).
        optimizer: an optimizer over the model's parameters.
        loss_fn: called as ``loss_fn(model(inputs), targets)`` for batches ``(inputs, targets)``.
        loader: any iterable of batches (e.g. a `DataLoader`), already on the model's device;
            restarted when exhausted (a one-shot iterator ends the sweep instead).
        start_lr: first LR (> 0; default 1e-7).
        end_lr: last LR (> start_lr; default 10).
        num_steps: number of LRs tried (≥ 2; default 100).
        smooth: exponential smoothing factor in [0, 1) (default 0.98; 0 is no smoothing).
        diverge_factor: stop when the smoothed loss exceeds this multiple of its best
            (> 1; default 4; see above for losses below zero).
        batch_loss: ``batch_loss(model, batch) -> loss`` for batches that are not pairs.
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got "
                        f"{type(optimizer).__name__}")
    for name, v in (("start_lr", start_lr), ("end_lr", end_lr)):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be finite and > 0, got {v!r}")
    if end_lr <= start_lr:
        raise ValueError(f"end_lr ({end_lr}) must be larger than start_lr ({start_lr})")
    if not isinstance(num_steps, int) or isinstance(num_steps, bool) or num_steps < 2:
        raise ValueError(f"num_steps must be an int >= 2, got {num_steps!r}")
    if not (isinstance(smooth, (int, float)) and 0 <= smooth < 1):
        raise ValueError(f"smooth must be in [0, 1), got {smooth!r}")
    if not (isinstance(diverge_factor, (int, float)) and diverge_factor > 1):
        raise ValueError(f"diverge_factor must be > 1, got {diverge_factor!r}")
    compute = batch_loss or (lambda m, b: _default_step(m, loss_fn, b))
    own = {id(p) for p in model.parameters()}
    swept = [p for group in optimizer.param_groups for p in group["params"]]
    if any(id(p) not in own for p in swept):
        raise ValueError("lr_find: the optimizer holds parameters that are not the model's")
    if not any(p.requires_grad for p in swept):
        raise ValueError("lr_find: no parameter of the optimizer requires grad")

    model_state = _cpu_copy(model.state_dict())  # CPU copies: GPU memory is not doubled
    optim_state = _cpu_copy(optimizer.state_dict())
    grads = [None if p.grad is None else p.grad.detach().clone() for p in model.parameters()]
    was_training = model.training

    lrs: list[float] = []
    smoothed: list[float] = []
    raw: list[float] = []
    notes: list[str] = []
    stopped_early = False
    avg, best = 0.0, math.inf
    ratio = end_lr / start_lr
    try:
        batches = _batches(loader)
        for i in range(num_steps):
            lr = start_lr * ratio ** (i / (num_steps - 1))
            for group in optimizer.param_groups:
                group["lr"] = lr
            batch = next(batches, None)
            if batch is None:
                notes.append(f"the loader, a one-shot iterator, ran out after {i} batches; "
                             "sweep stopped (pass a restartable iterable such as a DataLoader)")
                break
            optimizer.zero_grad(set_to_none=True)
            loss = compute(model, batch)
            if not isinstance(loss, Tensor) or loss.numel() != 1:
                shape = tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__
                raise ValueError(f"lr_find: the loss must be a scalar tensor, got {shape}")
            value = float(loss.detach())
            if not math.isfinite(value):
                stopped_early = True
                notes.append(f"loss became {value} at lr {lr:.3g}; sweep stopped")
                break
            loss.backward()
            optimizer.step()
            avg = smooth * avg + (1 - smooth) * value
            s = avg / (1 - smooth ** (i + 1))
            lrs.append(lr)
            raw.append(value)
            smoothed.append(s)
            best = min(best, s)
            # above k × best for positive losses; the same rise, (k − 1)·|best|, for losses
            # that go below zero (e.g. Gaussian negative log-likelihoods)
            if s > best + (diverge_factor - 1) * abs(best) and i > 0:
                stopped_early = True
                rule = (
                    f"exceeded {diverge_factor:g} × its best {best:.4g}" if best > 0 else
                    f"rose more than {diverge_factor - 1:g} × |best| above its best {best:.4g}"
                )
                notes.append(f"smoothed loss {s:.4g} {rule} at lr {lr:.3g}; sweep stopped")
                break
    finally:
        model.load_state_dict(model_state)
        optimizer.load_state_dict(optim_state)
        with torch.no_grad():
            for p, g in zip(model.parameters(), grads, strict=True):
                p.grad = g
        model.train(was_training)

    lr_arr, loss_arr = np.asarray(lrs), np.asarray(smoothed)
    suggestions: dict[str, float] = {}
    suggestion = spread = None
    confidence = "none"
    if len(lrs) >= MIN_POINTS:
        suggestions = suggest_lrs(lr_arr, loss_arr)
        logs = np.log10(list(suggestions.values()))
        spread = float(logs.max() - logs.min())
        suggestion = float(10 ** np.median(logs))
        confidence = "high" if spread <= 0.5 else "medium" if spread <= 1.0 else "low"
    else:
        notes.append(f"only {len(lrs)} points recorded (need {MIN_POINTS}): no suggestion; "
                     "lower start_lr or raise diverge_factor")
    return LRFindResult(lr_arr, loss_arr, np.asarray(raw), suggestions, suggestion, spread,
                        confidence, stopped_early, notes)
