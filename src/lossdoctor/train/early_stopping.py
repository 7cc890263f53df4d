"""Early stopping with best-weight restore, modelled on Lightning's ``EarlyStopping`` callback but
usable in any loop: ``if es.step(val_loss, model): break`` then ``es.restore(model)``."""

from __future__ import annotations

import math
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["EarlyStopping"]


class EarlyStopping:
    """Stop when a monitored metric has not improved for ``patience`` evaluations.

    Args:
        mode: ``"min"`` (loss-like, default) or ``"max"`` (accuracy-like).
        patience: number of evaluations without improvement after which `step` says stop
            (≥ 0, default 10). With patience 3 it stops at the 3rd evaluation in a row that does
            not improve; with 0, at the first one. An improving evaluation never stops.
        min_delta: an improvement must beat the best by more than this (≥ 0, in the metric's
            units, default 0).
        restore_best: keep a copy of the weights at the best evaluation (default True).
        checkpoint_path: where to keep that copy; None (default) keeps a CPU copy of the
            ``state_dict`` in memory, a path writes it with `torch.save` (atomically replaced).

    A NaN or infinite metric counts as no improvement. A checkpoint with a non-finite weight is
    never stored: such an evaluation counts as no improvement and a warning says so.
    """

    def __init__(
        self,
        *,
        mode: str = "min",
        patience: int = 10,
        min_delta: float = 0.0,
        restore_best: bool = True,
        checkpoint_path: str | os.PathLike[str] | None = None,
    ) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if not isinstance(patience, int) or isinstance(patience, bool) or patience < 0:
            raise ValueError(f"patience must be an int >= 0, got {patience!r}")
        if not (isinstance(min_delta, (int, float)) and math.isfinite(min_delta)
                and min_delta >= 0):
            raise ValueError(f"min_delta must be finite and >= 0, got {min_delta!r}")
        if checkpoint_path is not None and not restore_best:
            raise ValueError("checkpoint_path is only used with restore_best=True")
        self.mode = mode
        self.patience = patience
        self.min_delta = float(min_delta)
        self.restore_best = bool(restore_best)
        self.checkpoint_path = None if checkpoint_path is None else Path(checkpoint_path)
        self.best: float = math.inf if mode == "min" else -math.inf
        self.best_step: int | None = None
        self.wait = 0
        self.steps = 0
        self.stopped = False
        self._weights: dict[str, Tensor] | None = None

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(mode={self.mode!r}, patience={self.patience}, "
            f"min_delta={self.min_delta}, best={self.best}, best_step={self.best_step}, "
            f"wait={self.wait})"
        )

    @property
    def has_best(self) -> bool:
        """True once weights of a best evaluation are stored."""
        if self.checkpoint_path is not None:
            return self.best_step is not None and self.checkpoint_path.exists()
        return self._weights is not None

    def _improves(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def step(self, value: float | Tensor, model: nn.Module | None = None) -> bool:
        """Record one evaluation of the metric; True means stop now.

        Args:
            value: the monitored metric (a float or a one-element tensor).
            model: the model whose weights to keep when this is the best evaluation (required
                when ``restore_best``).
        """
        if isinstance(value, Tensor):
            if value.numel() != 1:
                raise ValueError(f"value must be a scalar, got shape {tuple(value.shape)}")
            value = value.item()
        value = float(value)
        if self.restore_best and model is None:
            raise ValueError("step() needs the model when restore_best=True")
        self.steps += 1
        improved = self._improves(value)
        if improved and self.restore_best:
            assert model is not None
            improved = self._save(model)
        if improved:
            self.best, self.best_step, self.wait = value, self.steps, 0
            self.stopped = False
        else:
            self.wait += 1
            self.stopped = self.wait >= self.patience
        return self.stopped

    def _save(self, model: nn.Module) -> bool:
        state = model.state_dict()
        for name, t in state.items():
            if (t.is_floating_point() or t.is_complex()) and not bool(torch.isfinite(t).all()):
                warnings.warn(
                    f"EarlyStopping: weight {name!r} is not finite at evaluation "
                    f"{self.steps}; not stored as the best",
                    RuntimeWarning,
                    stacklevel=3,
                )
                return False
        cpu = {k: v.detach().to("cpu", copy=True) for k, v in state.items()}
        if self.checkpoint_path is None:
            self._weights = cpu
            return True
        path = self.checkpoint_path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            torch.save(cpu, tmp)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return True

    def best_weights(self) -> dict[str, Tensor]:
        """The stored best ``state_dict`` (on CPU)."""
        if not self.restore_best:
            raise RuntimeError("EarlyStopping was created with restore_best=False")
        if not self.has_best:
            raise RuntimeError("EarlyStopping has no best weights yet: call step() first")
        if self.checkpoint_path is not None:
            return torch.load(self.checkpoint_path, map_location="cpu", weights_only=True)
        assert self._weights is not None
        return self._weights

    def restore(self, model: nn.Module) -> None:
        """Load the best weights into ``model`` (strictly: same keys and shapes)."""
        model.load_state_dict(self.best_weights())

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: settings, counters, and the in-memory best weights."""
        return {
            "mode": self.mode,
            "patience": self.patience,
            "min_delta": self.min_delta,
            "restore_best": self.restore_best,
            "checkpoint_path": None if self.checkpoint_path is None else str(self.checkpoint_path),
            "best": self.best,
            "best_step": self.best_step,
            "wait": self.wait,
            "steps": self.steps,
            "stopped": self.stopped,
            "best_weights": self._weights,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load what `state_dict` returned."""
        mode = state_dict["mode"]
        if mode not in ("min", "max"):
            raise ValueError(f"state_dict has mode {mode!r}; expected 'min' or 'max'")
        self.mode = mode
        self.patience = int(state_dict["patience"])
        self.min_delta = float(state_dict["min_delta"])
        self.restore_best = bool(state_dict["restore_best"])
        path = state_dict["checkpoint_path"]
        self.checkpoint_path = None if path is None else Path(path)
        self.best = float(state_dict["best"])
        self.best_step = state_dict["best_step"]
        self.wait = int(state_dict["wait"])
        self.steps = int(state_dict["steps"])
        self.stopped = bool(state_dict["stopped"])
        self._weights = state_dict["best_weights"]
