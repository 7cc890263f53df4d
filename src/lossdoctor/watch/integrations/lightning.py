"""PyTorch Lightning: `LossdoctorCallback` runs a `Watch` (and its autopilot) inside
``Trainer.fit``.

```python
from lossdoctor.watch.integrations.lightning import LossdoctorCallback

trainer = lightning.pytorch.Trainer(callbacks=[LossdoctorCallback(autopilot=True)])
```

- every optimizer step: the loss (``training_step``'s returned loss; with
  ``accumulate_grad_batches=k``, the mean of the k batches' losses, undivided), the LR of the
  first optimizer, at ``trainer.global_step``;
- every validation run (not the sanity check): the validation-phase metrics the module logged
  (``val_loss``, ``val_acc``, ``val/f1`` …, from ``trainer.callback_metrics``);
- the autopilot acts on the LightningModule and the first optimizer (and its scheduler); a stop
  sets ``trainer.should_stop`` through ``trainer.strategy.reduce_boolean_decision``, metrics
  and decisions are reduced with ``trainer.strategy.reduce`` (one decision for every rank);
- the watcher's state goes into the checkpoint (``state_dict`` / ``load_state_dict``).

Skipping spiking batches (``should_skip``) needs the loss before ``optimizer.step()``: use
``watch.should_skip`` in a manual-optimisation ``training_step`` (``callback.watch``).
"""

from __future__ import annotations

import math
from typing import Any

import lightning.pytorch as pl
import torch

from lossdoctor.names import normalise, split_phase
from lossdoctor.watch.core import Watch
from lossdoctor.watch.integrations import check_watch_options
from lossdoctor.watch.target import TorchTarget

__all__ = ["LossdoctorCallback"]


class _StrategyComm:
    """Sum across ranks with the Lightning strategy's own collective."""

    def __init__(self, strategy: Any) -> None:
        self._strategy = strategy
        self.world = int(strategy.world_size)
        self.rank = int(strategy.global_rank)

    def sum(self, values: list[float]) -> list[float]:
        t = torch.tensor(values, dtype=torch.float64, device=self._strategy.root_device)
        out = self._strategy.reduce(t, reduce_op="sum")
        return [float(v) for v in out.tolist()]


def _scalar(v: Any) -> float | None:
    if isinstance(v, torch.Tensor):
        return float(v.detach().float().item()) if v.numel() == 1 else None
    if isinstance(v, int | float) and not isinstance(v, bool):
        return float(v)
    return None


class LossdoctorCallback(pl.Callback):
    """Watch a Lightning run; keyword arguments are those of `lossdoctor.watch.Watch`
    (``autopilot``, ``growth``, ``on_event`` …; not ``model``/``optimizer``/``target``/``comm``,
    which come from the trainer).

    Attributes:
        watch: the `Watch` (None until ``fit`` starts).
    """

    def __init__(self, **watch_options: Any) -> None:
        check_watch_options("LossdoctorCallback", "trainer", watch_options,
                            ("model", "optimizer", "scheduler", "target", "comm"))
        self.options = watch_options
        self.watch: Watch | None = None
        self._pending_state: dict[str, Any] | None = None
        self._stop_seen = False
        # the batch losses of the optimizer step being accumulated, and its global step
        self._window: list[float] = []
        self._step_before = -1

    @property
    def state_key(self) -> str:
        return "LossdoctorCallback"

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        optimizer = trainer.optimizers[0] if trainer.optimizers else None
        configs = getattr(trainer, "lr_scheduler_configs", None) or []
        scheduler = configs[0].scheduler if configs and optimizer is not None else None
        comm = _StrategyComm(trainer.strategy) if trainer.world_size > 1 else None
        target = TorchTarget(pl_module, optimizer, scheduler)
        self.watch = Watch(target=target, comm=comm, **self.options)
        if self._pending_state is not None:
            self.watch.load_state_dict(self._pending_state)
            self._pending_state = None

    def _sync_stop(self, trainer: pl.Trainer) -> None:
        w = self.watch
        if w is not None and w.should_stop and not self._stop_seen:
            # every rank reaches this at the same step (the watcher's decisions are shared)
            self._stop_seen = True
            trainer.should_stop = trainer.strategy.reduce_boolean_decision(True, all=False)

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                             batch: Any, batch_idx: int) -> None:
        self._step_before = trainer.global_step

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           outputs: Any, batch: Any, batch_idx: int) -> None:
        w = self.watch
        if w is None or w.disabled:
            return
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        value = _scalar(loss)
        if value is None:
            return
        if pl_module.automatic_optimization:  # Lightning divides it for gradient accumulation
            value *= trainer.accumulate_grad_batches
        self._window.append(value)
        if trainer.global_step == self._step_before:
            return  # no optimizer step yet: accumulating gradients over several batches
        # one point per optimizer step: the mean loss of the batches it was taken on
        value = math.fsum(self._window) / len(self._window)
        self._window.clear()
        lr = None
        if trainer.optimizers:
            lr = _scalar(trainer.optimizers[0].param_groups[0]["lr"])
        n = trainer.num_training_batches
        epoch = trainer.current_epoch + ((batch_idx + 1) / n if isinstance(n, int) and n > 0
                                         and math.isfinite(n) else 0.0)
        w.log(trainer.global_step, train_loss=value, lr=lr, epoch=epoch)
        self._sync_stop(trainer)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        w = self.watch
        if w is None or w.disabled or trainer.sanity_checking:
            return
        metrics: dict[str, float] = {}
        for k, v in sorted(trainer.callback_metrics.items()):
            value = _scalar(v)
            if value is not None and split_phase(normalise(k))[0] == "val":
                metrics[k] = value
        if metrics:
            w.log_eval(trainer.global_step, epoch=trainer.current_epoch + 1, **metrics)
            self._sync_stop(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        w = self.watch
        if w is not None and any(a.name == "restore_best" and a.applied for a in w.actions):
            w.restore_best()  # again: batches may have run between the decision and the stop

    def state_dict(self) -> dict[str, Any]:
        if self.watch is not None:
            return self.watch.state_dict()
        return dict(self._pending_state or {})

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if not state_dict:
            return
        if self.watch is not None:
            self.watch.load_state_dict(state_dict)
        else:
            self._pending_state = state_dict
