"""Warmup + decay LR schedules as torch `LambdaLR` objects, and the batch-size scaling rules.

The multiplier functions are small top-level classes rather than lambdas, so the schedulers
pickle and their ``state_dict()`` carries the schedule's parameters (torch's `LambdaLR` saves
the ``__dict__`` of callable objects). Gradient clipping and accumulation are recipes around
torch's own `clip_grad_norm_` (see docs/treatments/schedules.md).
"""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

__all__ = ["WarmupDecay", "scale_lr", "warmup_cosine", "warmup_linear"]


def _check_steps(warmup_steps: int, total_steps: int) -> None:
    for name, v in (("warmup_steps", warmup_steps), ("total_steps", total_steps)):
        if not isinstance(v, int) or isinstance(v, bool):
            raise TypeError(f"{name} must be an int, got {type(v).__name__}")
    if warmup_steps < 0:
        raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps}")
    if total_steps <= warmup_steps:
        raise ValueError(
            f"total_steps ({total_steps}) must be larger than warmup_steps ({warmup_steps})"
        )


def _check_ratio(final_lr_ratio: float) -> float:
    if not (isinstance(final_lr_ratio, (int, float)) and 0 <= final_lr_ratio <= 1):
        raise ValueError(f"final_lr_ratio must be in [0, 1], got {final_lr_ratio!r}")
    return float(final_lr_ratio)


class WarmupDecay:
    """The lr multiplier of `warmup_cosine` and `warmup_linear`.

    Linear warmup to 1 over ``warmup_steps`` (factor (s+1)/warmup_steps at step s), then a decay
    from 1 to ``final_lr_ratio`` at ``total_steps`` (half a cosine period, or a straight line),
    constant after.
    """

    def __init__(
        self, warmup_steps: int, total_steps: int, final_lr_ratio: float, shape: str
    ) -> None:
        if shape not in ("cosine", "linear"):
            raise ValueError(f"shape must be 'cosine' or 'linear', got {shape!r}")
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps
        self.final_lr_ratio = final_lr_ratio
        self.shape = shape

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        progress = min(1.0, (step - self.warmup_steps) / (self.total_steps - self.warmup_steps))
        if self.shape == "cosine":
            decay = 0.5 * (1.0 + math.cos(math.pi * progress))
        else:
            decay = 1.0 - progress
        return self.final_lr_ratio + (1.0 - self.final_lr_ratio) * decay


def warmup_cosine(
    optimizer: Optimizer,
    *,
    warmup_steps: int,
    total_steps: int,
    final_lr_ratio: float = 0.0,
    last_epoch: int = -1,
) -> LambdaLR:
    """Linear warmup then cosine decay, as a `LambdaLR` to step once per optimizer step.

    Each group's lr goes from base_lr/warmup_steps at the first step up to base_lr at step
    ``warmup_steps − 1``, then follows a half cosine down to ``final_lr_ratio × base_lr`` at
    ``total_steps`` and stays there.

    Args:
        optimizer: the optimizer whose groups' ``lr`` are the peak learning rates.
        warmup_steps: number of warmup steps (≥ 0; 0 means no warmup).
        total_steps: total number of optimizer steps (> warmup_steps).
        final_lr_ratio: final lr as a fraction of the peak (default 0).
        last_epoch: as torch's schedulers (−1 to start fresh).
    """
    _check_steps(warmup_steps, total_steps)
    fn = WarmupDecay(warmup_steps, total_steps, _check_ratio(final_lr_ratio), "cosine")
    return LambdaLR(optimizer, fn, last_epoch=last_epoch)


def warmup_linear(
    optimizer: Optimizer,
    *,
    warmup_steps: int,
    total_steps: int,
    final_lr_ratio: float = 0.0,
    last_epoch: int = -1,
) -> LambdaLR:
    """Linear warmup then linear decay to ``final_lr_ratio × base_lr`` at ``total_steps``.

    Same arguments as `warmup_cosine`.
    """
    _check_steps(warmup_steps, total_steps)
    fn = WarmupDecay(warmup_steps, total_steps, _check_ratio(final_lr_ratio), "linear")
    return LambdaLR(optimizer, fn, last_epoch=last_epoch)


def scale_lr(base_lr: float, base_batch: int, batch: int, *, rule: str = "linear") -> float:
    """The learning rate for ``batch`` given one that works at ``base_batch``.

    ``rule="linear"`` (Goyal et al., 2017, for SGD): lr × batch/base_batch — pair it with a
    warmup when the factor is large. ``rule="sqrt"`` (for Adam-family optimizers, Malladi et
    al., 2022): lr × √(batch/base_batch).
    """
    if not (isinstance(base_lr, (int, float)) and math.isfinite(base_lr) and base_lr > 0):
        raise ValueError(f"base_lr must be finite and > 0, got {base_lr!r}")
    for name, v in (("base_batch", base_batch), ("batch", batch)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    ratio = batch / base_batch
    if rule == "linear":
        return base_lr * ratio
    if rule == "sqrt":
        return base_lr * math.sqrt(ratio)
    raise ValueError(f"rule must be 'linear' or 'sqrt', got {rule!r}")
