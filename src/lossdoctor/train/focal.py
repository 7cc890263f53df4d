"""Focal loss (Lin et al., ICCV 2017): FL = −α·(1 − p)^γ · log p.

The multi-class form works on logits of shape (N, C) or (N, C, d₁, …) like
`torch.nn.functional.cross_entropy`: the modulating factor (1 − p)^γ multiplies the log-softmax
and torch's own `nll_loss` does the gathering, class weights, ``ignore_index`` and reduction,
so at γ = 0 it is exactly ``cross_entropy(weight=alpha)``. The binary form works on logits of
any shape with (soft) targets in [0, 1], built on `logsigmoid`, and at γ = 0 equals
`binary_cross_entropy_with_logits`. Both are stable for logits of any magnitude.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["BinaryFocalLoss", "FocalLoss", "binary_focal_loss_with_logits", "focal_loss"]

_REDUCTIONS = ("none", "mean", "sum")


def _real(name: str, value: object) -> float:
    """A real number (Python or NumPy scalar, not a bool or a tensor) as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    return float(value)


def _check_gamma(gamma: float) -> float:
    value = _real("gamma", gamma)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"gamma must be finite and >= 0, got {value!r}")
    return value


def _check_binary_alpha(alpha: float | None) -> float | None:
    if alpha is None:
        return None
    value = _real("alpha", alpha)
    if not (math.isfinite(value) and 0 <= value <= 1):
        raise ValueError(f"alpha must be in [0, 1] or None, got {value!r}")
    return value


def _check_class_alpha(a: Tensor) -> None:
    if not (torch.isfinite(a).all() and (a >= 0).all()):
        raise ValueError("alpha must be finite and >= 0")


def _check_reduction(reduction: str) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    return reduction


def _modulate(log_p: Tensor, gamma: float) -> Tensor:
    """(1 − p)^γ with 1 − p = −expm1(log p), floored at the smallest normal number so that the
    gradient of x^γ stays finite (γ < 1) when p rounds to 1."""
    one_minus_p = (-torch.expm1(log_p)).clamp_min(torch.finfo(log_p.dtype).tiny)
    return one_minus_p.pow(gamma)


def _class_alpha(alpha: Tensor | Sequence[float] | None, logits: Tensor) -> Tensor | None:
    if alpha is None:
        return None
    a = torch.as_tensor(alpha, dtype=logits.dtype, device=logits.device)
    n_classes = logits.shape[1]
    if a.dim() != 1 or a.numel() != n_classes:
        raise ValueError(
            f"alpha must have one weight per class, shape ({n_classes},), "
            f"got shape {tuple(a.shape)}"
        )
    _check_class_alpha(a)
    return a


def focal_loss(
    logits: Tensor,
    target: Tensor,
    *,
    alpha: Tensor | Sequence[float] | None = None,
    gamma: float = 2.0,
    reduction: str = "mean",
    ignore_index: int = -100,
) -> Tensor:
    """Multi-class focal loss on logits.

    Args:
        logits: unnormalised scores, shape (N, C) or (N, C, d₁, …).
        target: class indices, shape (N,) or (N, d₁, …), integer dtype.
        alpha: per-class weights αᶜ, shape (C,), or None (all 1).
        gamma: focusing parameter γ ≥ 0 (default 2; γ = 0 is cross-entropy).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. ``'mean'`` follows torch's
            `cross_entropy`: Σ αₜ·flᵢ / Σ αₜ over the non-ignored targets.
        ignore_index: target value that contributes nothing (default −100, as torch).
    """
    gamma = _check_gamma(gamma)
    reduction = _check_reduction(reduction)
    if logits.dim() < 2:
        raise ValueError(f"logits must have shape (N, C, ...), got {tuple(logits.shape)}")
    if target.dtype.is_floating_point or target.dtype.is_complex or target.dtype == torch.bool:
        raise ValueError(f"target must hold class indices (an integer tensor), got {target.dtype}")
    if target.dtype != torch.long:
        target = target.long()  # nll_loss takes int64 indices only
    weight = _class_alpha(alpha, logits)
    log_p = F.log_softmax(logits, dim=1)
    modulated = log_p if gamma == 0 else _modulate(log_p, gamma) * log_p
    return F.nll_loss(
        modulated, target, weight=weight, ignore_index=ignore_index, reduction=reduction
    )


def binary_focal_loss_with_logits(
    logits: Tensor,
    target: Tensor,
    *,
    alpha: float | None = 0.25,
    gamma: float = 2.0,
    reduction: str = "mean",
) -> Tensor:
    """Binary focal loss on logits (one independent sigmoid per element).

    FL = −α·t·(1 − p)^γ·log p − (1 − α)·(1 − t)·p^γ·log(1 − p), with p = σ(logits) and
    log p = logsigmoid(logits), log(1 − p) = logsigmoid(−logits).

    Args:
        logits: any shape.
        target: same shape, values in [0, 1] (soft targets allowed).
        alpha: weight α ∈ [0, 1] of the positive class (negatives get 1 − α), default 0.25 as
            in the paper; None weighs both classes 1.
        gamma: focusing parameter γ ≥ 0 (default 2; γ = 0 is binary cross-entropy).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'`` over all elements, as torch.
    """
    gamma = _check_gamma(gamma)
    reduction = _check_reduction(reduction)
    alpha = _check_binary_alpha(alpha)
    if target.shape != logits.shape:
        raise ValueError(
            f"target shape {tuple(target.shape)} differs from logits shape {tuple(logits.shape)}"
        )
    target = target.to(logits.dtype)
    if target.numel() and not torch.compiler.is_compiling():
        low, high = torch.aminmax(target)
        if not (low >= 0 and high <= 1):  # also catches NaN
            raise ValueError(
                f"target values must be in [0, 1], got values from {float(low):g} to "
                f"{float(high):g}"
            )
    log_p = F.logsigmoid(logits)
    log_q = F.logsigmoid(-logits)
    if gamma == 0:
        pos, neg = log_p, log_q
    else:
        pos, neg = _modulate(log_p, gamma) * log_p, _modulate(log_q, gamma) * log_q
    a_pos, a_neg = (1.0, 1.0) if alpha is None else (alpha, 1.0 - alpha)
    loss = -(a_pos * target * pos + a_neg * (1 - target) * neg)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


class FocalLoss(nn.Module):
    """Module form of `focal_loss`; ``alpha`` is kept as a buffer (moves with ``.to()``)."""

    alpha: Tensor | None

    def __init__(
        self,
        *,
        alpha: Tensor | Sequence[float] | None = None,
        gamma: float = 2.0,
        reduction: str = "mean",
        ignore_index: int = -100,
    ) -> None:
        super().__init__()
        self.gamma = _check_gamma(gamma)
        self.reduction = _check_reduction(reduction)
        self.ignore_index = int(ignore_index)
        a = None if alpha is None else torch.as_tensor(alpha, dtype=torch.get_default_dtype())
        if a is not None:
            if a.dim() != 1:
                raise ValueError(f"alpha must be a 1-D tensor of per-class weights, got shape "
                                 f"{tuple(a.shape)}")
            _check_class_alpha(a)
        self.register_buffer("alpha", a)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, reduction={self.reduction!r}"

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return focal_loss(
            logits,
            target,
            alpha=self.alpha,
            gamma=self.gamma,
            reduction=self.reduction,
            ignore_index=self.ignore_index,
        )


class BinaryFocalLoss(nn.Module):
    """Module form of `binary_focal_loss_with_logits`."""

    def __init__(
        self, *, alpha: float | None = 0.25, gamma: float = 2.0, reduction: str = "mean"
    ) -> None:
        super().__init__()
        self.alpha = _check_binary_alpha(alpha)
        self.gamma = _check_gamma(gamma)
        self.reduction = _check_reduction(reduction)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, gamma={self.gamma}, reduction={self.reduction!r}"

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return binary_focal_loss_with_logits(
            logits, target, alpha=self.alpha, gamma=self.gamma, reduction=self.reduction
        )
