"""The live watcher's cost per logged step, against the step of a small MLP, in the same run.

    python benchmarks/bench_watch.py [--steps 200000] [--repeat 5]

- MLP step: a 784-256-256-10 MLP, batch 128, cross-entropy, Adam: forward, backward and
  ``optimizer.step()`` on CPU (torch's default threads), median of 300 steps after 30 warm-up
  steps.
- Watcher: ``Watch.log(step, train_loss=..., lr=..., grad_norm=...)`` for `--steps` steps of a
  realistic minibatch loss (decay, 15% multiplicative noise, a few spikes), including every
  online check and the periodic full diagnoses the schedule runs (``growth=0.25``): total time /
  steps. Also with an evaluation (``log_eval``) every 500 steps, and the logging alone (full
  diagnoses switched off) to show the split.

Each figure is the best of `--repeat` runs (the machine may be shared). The ratio is the
watcher's amortised cost over the MLP step.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from lossdoctor.watch import Watch


def losses(n: int, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    x = np.arange(n)
    v = (2.0 * np.exp(-x / (0.15 * n)) + 0.3) * np.exp(0.15 * rng.standard_normal(n))
    v[rng.choice(n, size=5, replace=False)] *= 6.0
    return [float(a) for a in v]


def mlp_step_seconds(repeat: int) -> float:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                          nn.Linear(256, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(128, 784)
    y = torch.randint(0, 10, (128,))
    loss_fn = nn.CrossEntropyLoss()

    def step() -> None:
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(30):
        step()
    best = float("inf")
    for _ in range(repeat):
        times = []
        for _ in range(300):
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
        best = min(best, float(np.median(times)))
    return best


def watch_seconds_per_step(values: list[float], repeat: int, *, evals: int = 0,
                           diagnose: bool = True) -> tuple[float, int]:
    """Best-of-`repeat` amortised seconds per `log` call, and the number of full diagnoses."""
    best, diagnoses = float("inf"), 0
    for _ in range(repeat):
        w = Watch() if diagnose else Watch(growth=10, eval_growth=10, min_points=10**9)
        count = [0]
        real: Callable[..., object] = w._diagnose  # count the full diagnoses

        def counted(real: Callable[..., object] = real, count: list[int] = count) -> object:
            count[0] += 1
            return real()

        w._diagnose = counted  # type: ignore[method-assign]
        t0 = time.perf_counter()
        for i, v in enumerate(values):
            w.log(i, train_loss=v, lr=1e-3, grad_norm=1.5)
            if evals and i % evals == evals - 1:
                w.log_eval(i, val_loss=1.1 * v)
        t = (time.perf_counter() - t0) / len(values)
        if t < best:
            best, diagnoses = t, count[0]
    return best, diagnoses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    logging.getLogger("lossdoctor").setLevel(logging.ERROR)  # findings are not the point here

    print(f"CPU threads: torch {torch.get_num_threads()}, os {os.cpu_count()}; "
          f"load average {os.getloadavg()[0]:.1f}")
    mlp = mlp_step_seconds(args.repeat)
    print(f"MLP 784-256-256-10, batch 128, Adam: {mlp * 1e3:.3f} ms per step (median)")
    values = losses(args.steps)
    rows = [
        ("log() with its full diagnoses", dict(diagnose=True)),
        ("log() + log_eval() every 500 steps", dict(diagnose=True, evals=500)),
        ("log() alone (no full diagnosis)", dict(diagnose=False)),
    ]
    for label, kw in rows:
        t, n = watch_seconds_per_step(values, args.repeat, **kw)  # type: ignore[arg-type]
        print(f"{label:38s} {t * 1e6:6.2f} µs per step amortised over {args.steps:,} steps "
              f"({n} full diagnoses)  = {100 * t / mlp:.2f}% of the MLP step")


if __name__ == "__main__":
    main()
