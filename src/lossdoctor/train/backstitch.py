"""Backstitch (Wang et al., 2017): a small ascent step, then a larger descent step, on one batch.

With learning rate η and backstitch scale α, one update on a minibatch is

    θ₁ = θ + α·η·g(θ)            (ascent, through the optimizer with lr −α·η)
    θ₂ = θ₁ − (1+α)·η·g(θ₁)      (descent, through the optimizer with lr (1+α)·η)

A Taylor expansion of g(θ₁) gives θ₂ = θ − η·g − α(1+α)·η²·H·g + O(η³), which is one gradient
step on ``L + λ‖∇L‖²`` with ``λ = α(1+α)·η/2`` (because ∇‖∇L‖² = 2·H·g). The difference between
the two updates is O(η³), i.e. O(η²) relative to the update. `grad_norm_penalty` is that
explicit alternative, computed with double backward.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

__all__ = ["Backstitch", "grad_norm_penalty"]


class Backstitch:
    """Wrap any `torch.optim.Optimizer` to take backstitch steps.

    Each `step` needs a closure (like `torch.optim.LBFGS`) because the gradient is evaluated
    twice on the same minibatch: the closure must zero the gradients, compute the loss on the
    batch, call ``backward()`` and return the loss. The ascent step goes through the wrapped
    optimizer with every group's lr multiplied by −α; the optimizer's state (momentum buffers,
    Adam moments, step counts) is then put back as it was, so the state only ever sees the
    descent step, taken with lr × (1+α). With plain SGD this is exactly the update above; with
    stateful optimizers the ascent follows the optimizer's own direction.

    LR schedulers drive the wrapped optimizer (``scheduler = LambdaLR(bs.optimizer, ...)``);
    the backstitch factors are applied around the scheduled lr.

    Args:
        optimizer: the optimizer to wrap.
        alpha: the backstitch scale α ≥ 0 (default 0.3; Wang et al. use 0.2–0.3). ``alpha=0``
            is the plain optimizer (one gradient evaluation per step).
    """

    def __init__(self, optimizer: Optimizer, *, alpha: float = 0.3) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"Backstitch wraps a torch.optim.Optimizer, got {type(optimizer).__name__}"
            )
        if not (isinstance(alpha, (int, float)) and math.isfinite(alpha) and alpha >= 0):
            raise ValueError(f"alpha must be finite and >= 0, got {alpha!r}")
        self.optimizer = optimizer
        self.alpha = float(alpha)

    def __repr__(self) -> str:
        return f"Backstitch(alpha={self.alpha}, optimizer={type(self.optimizer).__name__})"

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        """The wrapped optimizer's parameter groups."""
        return self.optimizer.param_groups

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Zero the wrapped optimizer's gradients."""
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def _snapshot(self) -> dict[Any, dict[str, Any]]:
        return {
            p: {k: v.clone() if isinstance(v, Tensor) else v for k, v in s.items()}
            for p, s in self.optimizer.state.items()
        }

    def _restore(self, saved: dict[Any, dict[str, Any]]) -> None:
        state = self.optimizer.state
        for p in list(state):
            if p not in saved:
                del state[p]
        for p, s in saved.items():
            current = state[p]
            for k, v in s.items():
                if isinstance(v, Tensor) and isinstance(current.get(k), Tensor):
                    current[k].copy_(v)
                else:
                    current[k] = v
            for k in [k for k in current if k not in s]:
                del current[k]

    def _scaled_step(self, factor: float) -> None:
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        try:
            for group, lr in zip(self.optimizer.param_groups, lrs, strict=True):
                group["lr"] = lr * factor
            self.optimizer.step()
        finally:
            for group, lr in zip(self.optimizer.param_groups, lrs, strict=True):
                group["lr"] = lr

    def step(self, closure: Callable[[], Tensor]) -> Tensor:
        """One backstitch update on the batch the closure evaluates.

        Returns:
            The loss returned by the first closure call (at the parameters before the step).
        """
        if closure is None or not callable(closure):
            raise TypeError(
                "Backstitch.step needs a closure that zeroes the gradients, computes the loss "
                "on the batch, calls backward() and returns the loss"
            )
        with torch.enable_grad():
            loss = closure()
        if self.alpha == 0:
            self.optimizer.step()
            return loss
        saved = self._snapshot()
        self._scaled_step(-self.alpha)
        self._restore(saved)
        with torch.enable_grad():
            closure()
        self._scaled_step(1.0 + self.alpha)
        return loss

    def state_dict(self) -> dict[str, Any]:
        """The wrapped optimizer's state dict plus ``alpha``."""
        return {"alpha": self.alpha, "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load what `state_dict` returned."""
        self.alpha = float(state_dict["alpha"])
        self.optimizer.load_state_dict(state_dict["optimizer"])


def grad_norm_penalty(loss: Tensor, params: Iterable[Tensor], weight: float) -> Tensor:
    """``weight · ‖∇_params loss‖²`` as a differentiable term (double backward).

    Add it to the loss before ``backward()``; the gradient graph is kept (``create_graph=True``),
    so a step costs about two backward passes. With ``weight = α(1+α)·η/2`` one SGD step on
    ``loss + penalty`` matches a backstitch step to first order (see the module docstring).

    Args:
        loss: a scalar loss still attached to the graph.
        params: the parameters to differentiate with respect to (those with
            ``requires_grad``; others are skipped).
        weight: the penalty weight (≥ 0, finite), in loss units per squared gradient norm.
    """
    if not (isinstance(weight, (int, float)) and math.isfinite(weight) and weight >= 0):
        raise ValueError(f"weight must be finite and >= 0, got {weight!r}")
    if loss.dim() != 0:
        raise ValueError(f"loss must be a scalar, got shape {tuple(loss.shape)}")
    wrt = [p for p in params if p.requires_grad]
    if not wrt:
        raise ValueError("params has no tensor that requires grad")
    grads = torch.autograd.grad(loss, wrt, create_graph=True, allow_unused=True)
    squares = [g.pow(2).sum() for g in grads if g is not None]
    if not squares:
        return loss.new_zeros(())
    return weight * torch.stack(squares).sum()
