"""Flooding adds no measurable cost to a training step.

A small MLP (784 → 256 → 256 → 10, batch 128, SGD with momentum, cross-entropy) is stepped with
the plain loss (torch alone, the peer) and with ``flood(loss, b)`` (lossdoctor). Each repetition
times a block of steps of each variant, interleaved and in alternating order (ABBA) so that drift
in the machine's speed hits both alike; a third variant, plain again, measures the noise of the
measurement itself (A/A ratio).

    .venv/bin/python benchmarks/bench_flooding.py --reps 200 --steps 20

prints the mean step times, the flood/plain ratio with its 95 % interval, and the A/A ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from lossdoctor.train import flood


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--steps", type=int, default=20, help="steps per timed block")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                          nn.Linear(256, 10))
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    x, y = torch.randn(128, 784), torch.randint(0, 10, (128,))

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
    for rep in range(args.reps):
        order = [("plain", plain), ("flood", flooded), ("plain_again", plain)]
        if rep % 2:
            order.reverse()
        for name, fn in order:
            times[name].append(block(fn))

    ratios = [f / p for f, p in zip(times["flood"], times["plain"], strict=True)]
    noise = [a / p for a, p in zip(times["plain_again"], times["plain"], strict=True)]

    def ci(values: list[float]) -> str:
        m = statistics.fmean(values)
        half = 1.96 * statistics.stdev(values) / len(values) ** 0.5
        return f"{m:.4f} (95% CI {m - half:.4f} … {m + half:.4f})"

    print(f"torch {torch.__version__}, {args.threads} thread(s), {args.reps} reps × "
          f"{args.steps} steps, MLP 784-256-256-10, batch 128")
    for name in times:
        print(f"  {name:12s} mean step {1e6 * statistics.fmean(times[name]):8.1f} µs "
              f"(median {1e6 * statistics.median(times[name]):.1f})")
    print(f"  flood / plain        {ci(ratios)}")
    print(f"  plain / plain (A/A)  {ci(noise)}   ← measurement noise")
    extra = 1e6 * (statistics.fmean(times["flood"]) - statistics.fmean(times["plain"]))
    print(f"  flood costs {extra:+.1f} µs per step")


if __name__ == "__main__":
    main()
