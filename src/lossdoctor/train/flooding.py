"""Flooding (Ishida et al., ICML 2020) and its per-sample variant iFlood (Xie et al., ICLR 2022).

Flooding keeps the training loss around a *flood level* ``b``: the objective ``|L − b| + b`` has
the gradient of ``L`` while ``L > b`` (descent) and its negative while ``L < b`` (ascent), so the
parameters random-walk near the level instead of memorising the training set. iFlood applies the
same fold to every sample's loss before averaging, so samples that are already fitted are pushed
back up individually while the others keep descending.

To choose ``b`` from a logged run see `lossdoctor.train.flood_level`.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["Flooding", "flood", "iflood"]


def _check_level(b: float) -> float:
    if not isinstance(b, numbers.Real) or isinstance(b, bool):
        raise TypeError(f"flood level b must be a number, got {type(b).__name__}")
    level = float(b)
    if not math.isfinite(level) or level < 0:
        raise ValueError(f"flood level b must be finite and >= 0, got {b!r}")
    return level


def flood(loss: Tensor, b: float) -> Tensor:
    """Flooded objective ``|loss − b| + b`` of a scalar (batch-mean) loss.

    Args:
        loss: a 0-dim tensor, the mean loss of the batch (``reduction='mean'``).
        b: the flood level, in the units of the loss (≥ 0, finite). ``b = 0`` is the plain loss
            for non-negative losses.

    Returns:
        A 0-dim tensor with the value of ``loss`` when ``loss ≥ b`` and ``2b − loss`` below it.
    """
    level = _check_level(b)
    if loss.dim() != 0:
        raise ValueError(
            f"flood() needs the batch-mean loss (a 0-dim tensor), got shape {tuple(loss.shape)}; "
            "for per-sample losses (reduction='none') use iflood()"
        )
    return (loss - level).abs() + level


def iflood(losses: Tensor, b: float) -> Tensor:
    """iFlood: the mean over samples of ``|ℓᵢ − b| + b``.

    Args:
        losses: per-sample losses, as returned by a torch loss with ``reduction='none'``
            (any shape; every element counts as one sample).
        b: the flood level (≥ 0, finite), in the units of the loss.

    Returns:
        A 0-dim tensor.
    """
    level = _check_level(b)
    if losses.dim() == 0:
        raise ValueError(
            "iflood() needs per-sample losses (reduction='none'), got a 0-dim tensor; "
            "for a batch-mean loss use flood()"
        )
    if losses.numel() == 0:
        raise ValueError("iflood() got an empty tensor of losses")
    return ((losses - level).abs() + level).mean()


class Flooding(nn.Module):
    """Wrap any torch loss so that its output is flooded at level ``b``.

    ``Flooding(nn.CrossEntropyLoss(), b=0.05)`` floods the batch-mean loss (`flood`);
    ``per_sample=True`` floods each sample's loss before averaging (`iflood`). The wrapped loss
    must have ``reduction='mean'`` (the default) or ``'none'``. The per-sample form (and the
    batch form around a ``'none'`` loss) takes the per-sample values torch returns (already
    class-weighted when the loss has a ``weight``), drops ignored targets, and divides by the
    denominator of torch's own 'mean' (Σ of the targets' class weights, or their count), so
    ``b = 0`` gives the inner loss's 'mean' (to float rounding). A ``'sum'`` reduction is
    refused: a flood level is defined on the mean.

    Args:
        loss: the torch loss module to wrap.
        b: the flood level (≥ 0, finite), in the units of the mean loss.
        per_sample: use iFlood instead of flooding.
    """

    def __init__(self, loss: nn.Module, b: float, *, per_sample: bool = False) -> None:
        super().__init__()
        if not isinstance(loss, nn.Module):
            raise TypeError(f"Flooding wraps a torch loss module, got {type(loss).__name__}")
        reduction = getattr(loss, "reduction", None)
        if reduction not in ("mean", "none"):
            raise ValueError(
                f"Flooding needs the wrapped loss to have reduction='mean' or 'none', "
                f"{type(loss).__name__} has reduction={reduction!r}"
            )
        self.loss = loss
        self.b = _check_level(b)
        self.per_sample = bool(per_sample)

    def extra_repr(self) -> str:
        return f"b={self.b}, per_sample={self.per_sample}"

    def forward(self, *args: Any, **kwargs: Any) -> Tensor:
        if not self.per_sample and self.loss.reduction == "mean":
            return flood(self.loss(*args, **kwargs), self.b)
        saved = self.loss.reduction
        setattr(self.loss, "reduction", "none")  # noqa: B010 (an nn.Module attribute)
        try:
            per = self.loss(*args, **kwargs)
        finally:
            setattr(self.loss, "reduction", saved)  # noqa: B010
        if self.per_sample:
            per = (per - self.b).abs() + self.b
        target = args[1] if len(args) >= 2 else kwargs.get("target")
        valid, denominator = self._torch_mean_terms(per, target)
        mean = per.mean() if valid is None else (per * valid).sum() / denominator
        return mean if self.per_sample else flood(mean, self.b)

    def _torch_mean_terms(self, per: Tensor, target: Any) -> tuple[Tensor | None, Tensor]:
        """For losses with ``ignore_index`` (cross-entropy, NLL) on class-index targets: the
        mask of non-ignored samples and the denominator torch's 'mean' divides by (Σ of the
        targets' class weights, or their count). Otherwise (None, count)."""
        ignore_index = getattr(self.loss, "ignore_index", None)
        if (ignore_index is None or not isinstance(target, Tensor)
                or target.dtype.is_floating_point):
            return None, per.new_tensor(float(per.numel()))
        valid = target != ignore_index
        weight = getattr(self.loss, "weight", None)
        if weight is None:
            return valid.to(per.dtype), valid.sum().to(per.dtype)
        safe = torch.where(valid, target, torch.zeros_like(target))
        return valid.to(per.dtype), (weight.to(per.dtype)[safe] * valid).sum()
