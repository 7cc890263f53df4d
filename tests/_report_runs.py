"""Synthetic runs for the report tests (deterministic, no file needed)."""

from __future__ import annotations

import numpy as np

from lossdoctor.diagnosis import diagnose_run
from lossdoctor.findings import Diagnosis
from lossdoctor.read._builder import RunBuilder
from lossdoctor.run import Run

#: Strings that would run script if a renderer pasted them into HTML unescaped.
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"


def overfitting_run(name: str = "overfit-demo") -> Run:
    """40 epochs: the training loss falls, the validation loss bottoms at epoch 15 and climbs;
    one training-loss spike (x30) at epoch 33; accuracy and a step-decay LR logged."""
    rng = np.random.default_rng(0)
    e = np.arange(1, 41, dtype=np.float64)
    train = 1.2 * np.exp(-e / 8) + 0.05 + rng.normal(0, 0.004, len(e))
    train[32] *= 30
    val = 0.35 + 0.0025 * (e - 15) ** 2 / (1 + 0.02 * (e - 15) ** 2) + 0.5 * np.exp(-e / 4)
    val += rng.normal(0, 0.003, len(e))
    acc = 0.9 - 0.4 * np.exp(-e / 6)
    b = RunBuilder(name=name, source=f"{name}.csv", format="csv")
    b.add_series("loss", train, epochs=e)
    b.add_series("val_loss", val, epochs=e)
    b.add_series("val_accuracy", acc, epochs=e)
    b.add_series("lr", np.where(e < 25, 1e-3, 1e-5), epochs=e)
    return b.build()


def spiky_run() -> Run:
    """500 steps of a falling loss with one point 100 times too high (step 2500)."""
    rng = np.random.default_rng(2)
    steps = np.arange(0, 5000, 10, dtype=np.float64)
    loss = 1.5 * np.exp(-steps / 1500) + 0.2 + rng.normal(0, 0.01, len(steps))
    loss[250] *= 100
    b = RunBuilder(name="spiky", source="spiky.log", format="text")
    b.add_series("loss", loss, steps=steps)
    return b.build()


def xss_run() -> Run:
    """A run whose name, source and a metric are HTML/script payloads."""
    rng = np.random.default_rng(1)
    steps = np.arange(0, 3000, 10, dtype=np.float64)
    loss = 2.0 * np.exp(-steps / 600) + 0.1 + rng.normal(0, 0.01, len(steps))
    b = RunBuilder(name=IMG, source=f"runs/{IMG}/{SCRIPT}.log", format="text")
    b.add_series(SCRIPT, loss, steps=steps)
    b.add_series("loss", loss * 1.1, steps=steps)
    return b.build()


def diagnosed(run: Run, **kw: object) -> Diagnosis:
    return diagnose_run(run, **kw)  # type: ignore[arg-type]
