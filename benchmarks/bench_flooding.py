"""Flooding adds no measurable cost to a training step.

A small MLP (784 → 256 → 256 → 10, batch 128, SGD with momentum, cross-entropy; ``--hidden`` and
``--batch`` change its width and batch) is stepped with
the plain loss (torch alone, the peer) and with ``flood(loss, b)`` (lossdoctor). Each repetition
times a block of steps of each variant, interleaved, cycling through all six orders of the three
variants so that drift in the machine's speed and the position in the repetition hit all alike;
the third variant, plain again, measures the noise of the measurement itself (A/A ratio).

    .venv/bin/python benchmarks/bench_flooding.py --reps 240 --steps 20
    .venv/bin/python benchmarks/bench_flooding.py --reps 60 --steps 10 --hidden 2048 --batch 256

prints the mean step times, the flood/plain ratio (geometric mean of the per-repetition ratios)
with its 95 % interval, the same for plain/plain (the noise floor), and the cost of the flood
term alone (forward and backward on a scalar), which bounds what flooding can add to any step.
"""

from __future__ import annotations

import argparse
import itertools
import math
import statistics
import time

import torch
from torch import nn

from lossdoctor.train import flood


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=240)
    parser.add_argument("--steps", type=int, default=20, help="steps per timed block")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--hidden", type=int, default=256, help="width of the two hidden layers")
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    h = args.hidden
    model = nn.Sequential(nn.Linear(784, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(),
                          nn.Linear(h, 10))
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    x, y = torch.randn(args.batch, 784), torch.randint(0, 10, (args.batch,))

    def plain() -> None:
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    def flooded() -> None:
        opt.zero_grad()
        flood(loss_fn(model(x), y), 0.05).backward()
        opt.step()

    def block(step) -> float:
        t = time.perf_counter()
        for _ in range(args.steps):
            step()
        return (time.perf_counter() - t) / args.steps

    for _ in range(50):  # warm up both paths
        plain()
        flooded()
    times: dict[str, list[float]] = {"plain": [], "flood": [], "plain_again": []}
    variants = [("plain", plain), ("flood", flooded), ("plain_again", plain)]
    orders = list(itertools.permutations(variants))  # every position equally often
    for rep in range(args.reps):
        for name, fn in orders[rep % len(orders)]:
            times[name].append(block(fn))

    log_ratio = [math.log(f / p) for f, p in zip(times["flood"], times["plain"], strict=True)]
    log_noise = [math.log(a / p) for a, p in zip(times["plain_again"], times["plain"],
                                                   strict=True)]

    def ci(values: list[float]) -> str:
        """Geometric mean of the per-repetition ratios with its 95 % interval."""
        m = statistics.fmean(values)
        half = 1.96 * statistics.stdev(values) / len(values) ** 0.5
        return f"{math.exp(m):.4f} (95% CI {math.exp(m - half):.4f} … {math.exp(m + half):.4f})"

    # the flood term alone: forward and backward of |L − b| + b on a scalar attached to a graph
    w = torch.ones((), requires_grad=True)
    n = 20_000
    t = time.perf_counter()
    for _ in range(n):
        (w * 1.0).backward()
    bare = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(n):
        flood(w * 1.0, 0.05).backward()
    op = (time.perf_counter() - t - bare) / n

    print(f"torch {torch.__version__}, {args.threads} thread(s), {args.reps} reps × "
          f"{args.steps} steps, MLP 784-{h}-{h}-10, batch {args.batch}, interleaved in all 6 "
          "orders")
    for name in times:
        print(f"  {name:12s} mean step {1e6 * statistics.fmean(times[name]):8.1f} µs "
              f"(median {1e6 * statistics.median(times[name]):.1f})")
    print(f"  flood / plain        {ci(log_ratio)}")
    print(f"  plain / plain (A/A)  {ci(log_noise)}   ← measurement noise")
    print(f"  the flood term alone (forward + backward on a scalar): {1e6 * op:.1f} µs = "
          f"{100 * op / statistics.median(times['plain']):.3f}% of the median plain step")


if __name__ == "__main__":
    main()
