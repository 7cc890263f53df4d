"""Keras 3: `LossdoctorKerasCallback` runs a `Watch` (and its autopilot) inside ``model.fit``.

```python
import os
os.environ["KERAS_BACKEND"] = "torch"
import keras
from lossdoctor.watch.integrations.keras import LossdoctorKerasCallback

model.fit(x, y, validation_data=(xv, yv), callbacks=[LossdoctorKerasCallback(autopilot=True)])
```

- every training batch: the batch loss. Keras reports the running mean of the epoch so far;
  the callback recovers each batch's loss from it (exact when batches have the same size; the
  last, smaller batch of an epoch is approximate), and the optimizer's LR;
- every epoch end: the ``val_*`` metrics (``val_loss``, ``val_accuracy`` → ``val_acc``);
- the autopilot acts on the model's weights and the optimizer's variables; a stop sets
  ``model.stop_training``. An LR given as a ``LearningRateSchedule`` is left alone (the LR
  change is logged as not applied). Keeping the best weights needs torch (the torch backend).

Skipping spiking batches is not available: Keras applies the update before any callback runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:
    import keras
except ModuleNotFoundError as exc:  # keras itself, or the backend it was told to use
    raise ImportError(
        f"lossdoctor's Keras callback needs Keras 3 and its backend ({exc}); with PyTorch "
        "installed, set KERAS_BACKEND=torch before keras is first imported"
    ) from exc

from lossdoctor.watch.core import Watch
from lossdoctor.watch.integrations import check_watch_options

__all__ = ["KerasTarget", "LossdoctorKerasCallback"]


def _np(v: Any) -> np.ndarray:
    return np.array(keras.ops.convert_to_numpy(v), copy=True)


class _WeightsModule:
    """The model's weights as a torch-style ``state_dict`` (what `EarlyStopping` keeps)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def state_dict(self) -> dict[str, Any]:
        import torch

        return {str(i): torch.from_numpy(_np(w)) for i, w in enumerate(self.model.weights)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        ws = self.model.weights
        if len(state) != len(ws):
            raise ValueError(f"state has {len(state)} weights; the model has {len(ws)}")
        for i, w in enumerate(ws):
            w.assign(state[str(i)].numpy())


class KerasTarget:
    """A Keras model and its optimizer, as the autopilot sees them."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self._module = _WeightsModule(model)

    @property
    def module(self) -> Any:
        return self._module

    def _opt_vars(self) -> list[Any]:
        opt = getattr(self.model, "optimizer", None)
        return list(opt.variables) if opt is not None else []

    def snapshot(self) -> dict[str, list[np.ndarray]] | None:
        snap = {"weights": [_np(w) for w in self.model.weights],
                "optimizer": [_np(v) for v in self._opt_vars()]}
        for arrays in snap.values():
            for a in arrays:
                if a.dtype.kind in "fc" and not np.isfinite(a).all():
                    return None
        return snap

    def restore(self, snapshot: dict[str, list[np.ndarray]]) -> None:
        for w, a in zip(self.model.weights, snapshot["weights"], strict=True):
            w.assign(a)
        opt_vars = self._opt_vars()
        if len(opt_vars) == len(snapshot["optimizer"]):
            for v, a in zip(opt_vars, snapshot["optimizer"], strict=True):
                v.assign(a)

    def lrs(self) -> list[float]:
        opt = getattr(self.model, "optimizer", None)
        if opt is None or isinstance(getattr(opt, "_learning_rate", None),
                                     keras.optimizers.schedules.LearningRateSchedule):
            return []
        return [float(_np(opt.learning_rate))]

    def set_lrs(self, lrs: list[float]) -> None:
        if lrs and self.lrs():
            self.model.optimizer.learning_rate = lrs[0]


class LossdoctorKerasCallback(keras.callbacks.Callback):
    """Watch a ``model.fit`` run; keyword arguments are those of `lossdoctor.watch.Watch`
    (not ``model``/``optimizer``/``target``, which come from the model).

    Attributes:
        watch: the `Watch` (None until training starts). Further ``fit`` calls of the same model
            with the same callback continue it (one run, steps counted on); a stop decided in
            one ``fit`` is not carried into the next.
    """

    def __init__(self, **watch_options: Any) -> None:
        super().__init__()
        check_watch_options("LossdoctorKerasCallback", "model", watch_options,
                            ("model", "optimizer", "scheduler", "target"))
        self.options = watch_options
        self.watch: Watch | None = None
        self._target: KerasTarget | None = None
        self._step = 0
        self._epoch = 0
        self._since_reset = 0
        self._prev_mean: float | None = None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        if self.watch is not None and self._target is not None and (
                self._target.model is self.model):
            # another fit() of the same model (e.g. fit(initial_epoch=…) or one epoch per
            # call): the same run goes on, history and step counter included; a stop decided
            # in an earlier fit() is not carried into this one
            self.watch.should_stop, self.watch.stop_reason = False, None
            return
        self._target = KerasTarget(self.model)
        self.watch = Watch(target=self._target, **self.options)
        self._step = 0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch
        self._since_reset = 0
        self._prev_mean = None

    def _stop(self) -> None:
        if self.watch is not None and self.watch.should_stop:
            self.model.stop_training = True

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        w, target = self.watch, self._target
        if w is None or target is None or w.disabled or not logs or "loss" not in logs:
            return
        mean = float(_np(logs["loss"]))
        k = self._since_reset
        prev = self._prev_mean
        # the running mean of k+1 batches, minus that of the first k: this batch's loss
        loss = mean if k == 0 or prev is None else (k + 1) * mean - k * prev
        self._prev_mean, self._since_reset = mean, k + 1
        steps = (self.params or {}).get("steps")
        epoch = self._epoch + ((batch + 1) / steps if steps else 0.0)
        lrs = target.lrs()
        n_actions = len(w.actions)
        w.log(self._step, train_loss=loss, lr=lrs[0] if lrs else None, epoch=epoch)
        self._step += 1
        if any(a.name == "rollback" and a.applied for a in w.actions[n_actions:]):
            # the running mean still holds the abandoned batches (and their NaN): restart it
            self.model.reset_metrics()
            self._since_reset, self._prev_mean = 0, None
        self._stop()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        w = self.watch
        if w is None or w.disabled or not logs:
            return
        values: dict[str, float] = {}
        for k, v in logs.items():
            if k.startswith("val_"):
                value = float(_np(v))
                values[k] = value
        if values:
            w.log_eval(max(0, self._step - 1), epoch=epoch + 1, **values)
            self._stop()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        w = self.watch
        if w is not None and any(a.name == "restore_best" and a.applied for a in w.actions):
            w.restore_best()
