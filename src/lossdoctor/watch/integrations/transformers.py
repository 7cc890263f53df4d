"""Hugging Face Transformers: `LossdoctorTrainerCallback` runs a `Watch` (and its autopilot)
inside ``Trainer.train``.

```python
from lossdoctor.watch.integrations.transformers import LossdoctorTrainerCallback

trainer = Trainer(..., callbacks=[LossdoctorTrainerCallback(autopilot=True)])
```

- every ``on_log`` of the training loop: ``loss`` (the mean over the last ``logging_steps``, as
  the Trainer logs it), ``learning_rate``, ``grad_norm``, ``epoch``, at ``state.global_step``;
  since a point stands for ``logging_steps`` batches, ``min_points`` and ``settle`` default to
  100 and 1,000 batches' worth of points (at least 5 and 10);
- every ``on_evaluate``: the ``eval_*`` metrics (``eval_loss`` → ``val_loss``);
- the autopilot acts on the model, the optimizer and the LR scheduler the Trainer passes to
  callbacks; a stop sets ``control.should_training_stop``;
- its state is exported with the checkpoint (``ExportableState``: ``trainer_state.json``);
  being JSON it holds no weights: keep the best weights in a file
  (``autopilot={"checkpoint_path": ...}``) for them to survive a resume.

The Trainer already averages the logged loss over processes; under ``torch.distributed`` the
watcher's own reduction then leaves it unchanged, and decisions are shared by every rank.
"""

from __future__ import annotations

import math
from typing import Any

from transformers import TrainerCallback
from transformers.trainer_callback import ExportableState

from lossdoctor.names import canonical_name
from lossdoctor.watch.core import Watch
from lossdoctor.watch.integrations import check_watch_options
from lossdoctor.watch.policy import Policy
from lossdoctor.watch.target import TorchTarget

__all__ = ["LossdoctorTrainerCallback"]

_NOT_METRICS = ("runtime", "samples_per_second", "steps_per_second", "epoch")


def _scalar(v: Any) -> float | None:
    if isinstance(v, int | float) and not isinstance(v, bool):
        return float(v)
    return None


class LossdoctorTrainerCallback(TrainerCallback, ExportableState):
    """Watch a Trainer run; keyword arguments are those of `lossdoctor.watch.Watch`
    (``autopilot``, ``growth``, ``on_event`` …; not ``model``/``optimizer``/``target``, which
    come from the Trainer).

    Attributes:
        watch: the `Watch` (None until training starts).
        watch_state: a state to resume from (set by the Trainer when it restores callbacks).
    """

    def __init__(self, **watch_options: Any) -> None:
        check_watch_options("LossdoctorTrainerCallback", "Trainer", watch_options,
                            ("model", "optimizer", "scheduler", "target"))
        self.options = watch_options
        self.watch: Watch | None = None
        self.watch_state: dict[str, Any] | None = None

    def state(self) -> dict[str, Any]:
        """Settings and watcher state as JSON-ready data (callables are not exported)."""
        args = {k: v for k, v in self.options.items() if not callable(v)}
        if isinstance(args.get("autopilot"), Policy):
            args["autopilot"] = args["autopilot"].to_dict()
        attrs = self.watch.state_dict(weights=False) if self.watch is not None \
            else self.watch_state
        return {"args": args, "attributes": {"watch_state": attrs}}

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None,
                       optimizer: Any = None, lr_scheduler: Any = None, **kwargs: Any) -> None:
        scheduler = getattr(lr_scheduler, "scheduler", lr_scheduler)  # accelerate's wrapper
        target = TorchTarget(model, optimizer, scheduler if optimizer is not None else None) \
            if model is not None else None
        # each logged loss is a mean over `logging_steps` batches: the watcher's thresholds in
        # logged points (made for one batch a point) scale down accordingly
        k = max(1, int(getattr(args, "logging_steps", 1) or 1))
        options = {"min_points": max(5, math.ceil(100 / k)),
                   "settle": max(10, math.ceil(1000 / k)), **self.options}
        self.watch = Watch(target=target, **options)
        if self.watch_state:
            self.watch.load_state_dict(self.watch_state)

    def _stop(self, control: Any) -> None:
        if self.watch is not None and self.watch.should_stop:
            control.should_training_stop = True

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
               **kwargs: Any) -> None:
        w = self.watch
        if w is None or w.disabled or not logs or "train_runtime" in logs:
            return
        loss = _scalar(logs.get("loss"))
        if loss is None:  # evaluation logs come through on_evaluate
            return
        w.log(state.global_step, train_loss=loss, lr=_scalar(logs.get("learning_rate")),
              grad_norm=_scalar(logs.get("grad_norm")), epoch=_scalar(logs.get("epoch")))
        self._stop(control)

    def on_evaluate(self, args: Any, state: Any, control: Any,
                    metrics: dict[str, Any] | None = None, **kwargs: Any) -> None:
        w = self.watch
        if w is None or w.disabled or not metrics:
            return
        values: dict[str, float] = {}
        for k, v in metrics.items():
            value = _scalar(v)
            if value is None or not k.startswith("eval_") or k.endswith(_NOT_METRICS):
                continue
            values[canonical_name(k) if canonical_name(k).startswith("val_") else k] = value
        if values:
            w.log_eval(state.global_step, epoch=_scalar(metrics.get("epoch", state.epoch)),
                       **values)
            self._stop(control)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        w = self.watch
        if w is not None and any(a.name == "restore_best" and a.applied for a in w.actions):
            w.restore_best()
