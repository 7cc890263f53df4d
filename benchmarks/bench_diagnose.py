"""Diagnosis speed: one long per-step series at 10^4, 10^5 and 10^6 points (time and growth
ratio), and a directory-sized batch of 1,000 runs on one core vs every core.

    python benchmarks/bench_diagnose.py [--repeat 5]

The series are realistic minibatch-loss curves (exponential decay, multiplicative noise,
a few spikes and an LR step), so every rule does its full work.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from lossdoctor.diagnosis import diagnose_all, diagnose_run
from lossdoctor.run import Run, Series


def make_run(n: int, seed: int = 0) -> Run:
    rng = np.random.default_rng(seed)
    x = np.arange(n, dtype=np.float64)
    level = 2.0 * np.exp(-x / (0.15 * n)) + 0.3
    level[x > 0.7 * n] *= 0.7  # an LR step decay
    values = level * np.exp(0.15 * rng.standard_normal(n))
    spikes = rng.choice(n, size=5, replace=False)
    values[spikes] *= 6.0
    nan = np.full(n, np.nan)
    series = {"train_loss": Series(name="train_loss", original="loss", steps=x, epochs=nan,
                                   values=values)}
    return Run(name=f"synthetic-{n}", source="-", format="synthetic", series=series)


def best_of(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    print(f"one series (best of {args.repeat}):")
    prev = None
    for n in (10**4, 10**5, 10**6):
        run = make_run(n)
        # a fresh Run each call: nothing is cached between calls
        t = best_of(lambda run=run: diagnose_run(Run(run.name, run.source, run.format,
                                                     dict(run.series))), args.repeat)
        growth = f"  x{t / prev:.1f} for x10 points" if prev else ""
        print(f"  {n:>9,d} points: {t * 1000:8.1f} ms{growth}")
        prev = t

    runs = [make_run(2000, seed=i) for i in range(1000)]
    cores = os.cpu_count() or 1
    t1 = best_of(lambda: diagnose_all(runs, jobs=1), 1)
    tn = best_of(lambda: diagnose_all(runs, jobs=cores), 1)
    print(f"1,000 runs of 2,000 points: 1 core {t1:.2f} s, {cores} cores {tn:.2f} s "
          f"(speed-up x{t1 / tn:.2f})")


if __name__ == "__main__":
    main()
