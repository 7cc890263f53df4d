"""The live watcher and its autopilot: the diagnosis run inside a training loop.

```python
from lossdoctor.watch import Watch

watch = Watch(model, optimizer, autopilot=True)
for step, (x, y) in enumerate(loader):
    loss = criterion(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    if watch.should_skip(loss):      # only with Policy(actions={"spike": "skip"})
        continue
    optimizer.step()
    watch.log(step, train_loss=loss, lr=optimizer.param_groups[0]["lr"])
    if step % 100 == 99:
        watch.log_eval(step, val_loss=evaluate(model))
    if watch.should_stop:
        break
```

Integrations (import them explicitly; each needs its framework):
`lossdoctor.watch.integrations.lightning.LossdoctorCallback`,
`lossdoctor.watch.integrations.transformers.LossdoctorTrainerCallback`,
`lossdoctor.watch.integrations.keras.LossdoctorKerasCallback`.
"""

from __future__ import annotations

from lossdoctor.watch.autopilot import Action
from lossdoctor.watch.core import Watch
from lossdoctor.watch.policy import ACTIONS, DEFAULT_ACTIONS, Policy

__all__ = ["ACTIONS", "DEFAULT_ACTIONS", "Action", "Policy", "Watch"]
