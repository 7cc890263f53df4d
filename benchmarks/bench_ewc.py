"""EWC performance: the penalty's cost in a training step, and the exact Fisher via vmap.

1. Penalty. A 3-layer MLP 784-H-H-10 (H = 1024 by default, --hidden; float32), batch 128
   (--batch), SGD with momentum, cross-entropy: the time of a training step (zero_grad,
   forward, backward, step) alone, with ``loss + ewc.penalty()``, and with the naive
   per-parameter loop written the common way,
   ``sum((F[n] * (p - p0[n]) ** 2).sum() for n, p in model.named_parameters())``; and the
   penalty plus its backward on its own, both ways. Claims: ewc.penalty() adds <= 10 % to the
   step and is >= 5x faster than the naive loop.
2. Fisher. The exact diagonal Fisher (mean of per-sample squared gradients) of MLPs of several
   sizes and of two small CNNs over 256 samples, by the library's three paths: the per-sample
   backward loop (the fallback), ``torch.func`` ``vmap(grad)``, and the Linear shortcut
   (Σ (δ a)² = (δ²)ᵀ(a²), the default for plain Sequential MLPs), with the largest difference
   relative to the largest Fisher entry, and the floor every exact path shares (one batched
   forward and backward). Claim: vmap >= 5x faster than the loop, same numbers to 1e-6.

Timings are the minimum over interleaved rounds (robust to other processes on the machine).

    python benchmarks/bench_ewc.py [--threads N] [--rounds R]
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor, nn

from lossdoctor.train import EWC
from lossdoctor.train.ewc import _fisher


def mlp(*sizes: int) -> nn.Module:
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def best_of(fns: dict[str, Callable[[], object]], rounds: int, reps: int) -> dict[str, float]:
    """Seconds per call: min over interleaved rounds of the mean over ``reps`` calls."""
    best = dict.fromkeys(fns, float("inf"))
    for fn in fns.values():  # warm-up
        fn()
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(reps):
                fn()
            best[name] = min(best[name], (time.perf_counter() - start) / reps)
    return best


def bench_penalty(rounds: int, batch: int, hidden: int) -> None:
    torch.manual_seed(0)
    model = mlp(784, hidden, hidden, 10)
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    x, y = torch.randn(batch, 784), torch.randint(0, 10, (batch,))
    lam = 100.0
    ewc = EWC(model, ewc_lambda=lam)
    ewc.consolidate([(x, y)], loss_fn, max_samples=32)
    state = ewc.state_dict()
    names = state["names"]
    fisher = dict(zip(names, state["tasks"][0]["fisher"], strict=True))
    anchor = dict(zip(names, state["tasks"][0]["anchor"], strict=True))

    def naive() -> Tensor:
        return (
            lam
            / 2
            * sum((fisher[n] * (p - anchor[n]) ** 2).sum() for n, p in model.named_parameters())
        )

    def step(penalty: Callable[[], Tensor] | None) -> Callable[[], None]:
        def run() -> None:
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            if penalty is not None:
                loss = loss + penalty()
            loss.backward()
            opt.step()

        return run

    def step_fast() -> None:
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        ewc.add_penalty_grad_()
        opt.step()

    def alone(penalty: Callable[[], Tensor]) -> Callable[[], None]:
        def run() -> None:
            model.zero_grad(set_to_none=True)
            penalty().backward()

        return run

    for _ in range(5):  # move away from the anchor
        step(None)()
    ours_value, naive_value = ewc.penalty().item(), naive().item()
    alone(ewc.penalty)()
    ours_grad = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    alone(naive)()
    naive_grad = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    model.zero_grad(set_to_none=True)
    ewc.add_penalty_grad_()
    fast_grad = [p.grad.clone() for p in model.parameters() if p.grad is not None]

    def rel_diff(grads: list[Tensor]) -> float:
        return max(
            float((a - b).abs().max() / b.abs().max())
            for a, b in zip(grads, naive_grad, strict=True)
        )

    grad_diff, fast_diff = rel_diff(ours_grad), rel_diff(fast_grad)
    t = best_of(
        {
            "step": step(None),
            "step + ewc.penalty()": step(ewc.penalty),
            "step + add_penalty_grad_()": step_fast,
            "step + naive loop": step(naive),
            "ewc.penalty() + backward": alone(ewc.penalty),
            "add_penalty_grad_()": ewc.add_penalty_grad_,
            "naive loop + backward": alone(naive),
        },
        rounds,
        reps=30,
    )
    print(f"## Penalty: MLP 784-{hidden}-{hidden}-10 ({n_params / 1e6:.2f} M params), "
          f"batch {batch}, SGD m=0.9")
    print(
        f"values: ewc {ours_value:.6g}, naive {naive_value:.6g}; max rel. grad diff "
        f"{grad_diff:.1e} (penalty), {fast_diff:.1e} (add_penalty_grad_)"
    )
    for name, sec in t.items():
        print(f"  {name:28s} {sec * 1e3:8.3f} ms")
    ours = t["step + ewc.penalty()"] - t["step"]
    slow = t["step + naive loop"] - t["step"]
    alone_ours, alone_naive = t["ewc.penalty() + backward"], t["naive loop + backward"]
    print(
        f"ewc.penalty() + backward: {100 * ours / t['step']:.1f} % of the step measured inside "
        f"it, {100 * alone_ours / t['step']:.1f} % measured alone (claim <= 10 %)"
    )
    print(
        f"naive loop + backward:    {100 * slow / t['step']:.1f} % of the step measured inside "
        f"it, {100 * alone_naive / t['step']:.1f} % measured alone"
    )
    fast, alone_fast = t["step + add_penalty_grad_()"] - t["step"], t["add_penalty_grad_()"]
    print(
        f"add_penalty_grad_():      {100 * fast / t['step']:.1f} % of the step measured inside "
        f"it, {100 * alone_fast / t['step']:.1f} % measured alone"
    )
    ratio = alone_naive / alone_ours
    print(f"ewc.penalty() is {ratio:.1f}x faster than the naive loop (claim >= 5x)")
    print(f"add_penalty_grad_() is {alone_naive / alone_fast:.1f}x faster than the naive loop\n")


def bench_penalty_many_tensors(rounds: int) -> None:
    """Penalty + backward alone on a model with many parameter tensors (Python overhead regime)."""
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(256, 4, 1024, batch_first=True)
    model = nn.TransformerEncoder(layer, num_layers=6, enable_nested_tensor=False)
    named = list(model.named_parameters())
    names = [n for n, _ in named]
    fisher = {n: torch.rand_like(p) for n, p in named}
    anchor = {n: p.detach() + 1e-3 * torch.randn_like(p) for n, p in named}
    lam = 100.0
    ewc = EWC(model, ewc_lambda=lam)
    ewc.load_state_dict(
        {
            "version": 1,
            "kind": "separate",
            "ewc_lambda": lam,
            "gamma": 1.0,
            "num_tasks": 1,
            "all_names": names,
            "names": names,
            "tasks": [{"fisher": [fisher[n] for n in names], "anchor": [anchor[n] for n in names]}],
        }
    )

    def naive() -> Tensor:
        return (
            lam
            / 2
            * sum((fisher[n] * (p - anchor[n]) ** 2).sum() for n, p in model.named_parameters())
        )

    def alone(penalty: Callable[[], Tensor]) -> Callable[[], None]:
        def run() -> None:
            model.zero_grad(set_to_none=True)
            penalty().backward()

        return run

    model.zero_grad(set_to_none=True)
    ewc.add_penalty_grad_()  # gradients to add into
    t = best_of(
        {"ewc": alone(ewc.penalty), "fast": ewc.add_penalty_grad_, "naive": alone(naive)},
        rounds,
        reps=30,
    )
    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"## Penalty on a 6-layer Transformer encoder (d=256): {len(names)} tensors, "
        f"{n_params / 1e6:.2f} M params"
    )
    print(f"  ewc.penalty() + backward     {t['ewc'] * 1e3:8.3f} ms")
    print(f"  add_penalty_grad_()          {t['fast'] * 1e3:8.3f} ms")
    print(f"  naive loop + backward        {t['naive'] * 1e3:8.3f} ms")
    print(
        f"ewc.penalty() is {t['naive'] / t['ewc']:.1f}x, add_penalty_grad_() "
        f"{t['naive'] / t['fast']:.1f}x faster than the naive loop\n"
    )


def fisher_paths(
    model: nn.Module, batches: list[tuple[Tensor, Tensor]]
) -> dict[str, Callable[[], list[Tensor]]]:
    """The library's three exact paths, forced: the Linear shortcut (the default for a plain
    Sequential MLP), vmap(grad), and the per-sample backward loop (the fallback)."""
    names = [n for n, _ in model.named_parameters()]
    loss_fn = nn.CrossEntropyLoss()
    return {
        path: partial(_fisher, model, names, batches, loss_fn, "empirical", None, {"path": path})
        for path in ("linear", "vmap", "loop")
    }


def max_rel_diff(a: list[Tensor], b: list[Tensor]) -> float:
    """Largest |a − b| over the largest |b|, per parameter, the worst parameter."""
    return max(float((x - y).abs().max() / y.abs().max()) for x, y in zip(a, b, strict=True))


def cnn(channels: tuple[int, int], side: int) -> nn.Module:
    """Two 3x3 conv + ReLU + 2x2 max-pool blocks and a Linear head, on 1 x side x side images."""
    c1, c2 = channels
    return nn.Sequential(
        nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(c2 * (side // 4) ** 2, 10),
    )  # fmt: skip


def batched_pass(model: nn.Module, batches: list[tuple[Tensor, Tensor]]) -> None:
    """One batched forward and backward per batch: the least any exact Fisher path must do."""
    for x, y in batches:
        model.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x), y).backward()


def bench_fisher(rounds: int) -> None:
    print("## Exact Fisher over 256 samples (batches of 128): three paths of the same definition")
    print("Timed in float32; the equality check (against the loop) repeats them in float64.")
    print(
        "'floor': one batched forward + backward per batch and nothing per sample, the least an "
        "exact path must do;\n'loop / floor' bounds the speed-up any exact path can reach.\n"
    )
    print(
        "| model | params | loop ms/sample | floor ms/sample | loop / floor | vmap ms/sample | "
        "vmap speed-up | Linear shortcut ms/sample | shortcut speed-up | max rel. diff vmap, "
        "shortcut (float64) | same, float32 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    models: list[tuple[str, Callable[[], nn.Module], tuple[int, ...]]] = [
        ("-".join(map(str, sizes)), partial(mlp, *sizes), (sizes[0],))
        for sizes in [(64, 32, 10), (784, 100, 10), (784, 256, 256, 10), (784, 1024, 1024, 10)]
    ]
    models += [
        (f"CNN {c1}-{c2}, {side}x{side}", partial(cnn, (c1, c2), side), (1, side, side))
        for c1, c2, side in [(8, 16, 8), (16, 32, 28)]
    ]
    for label, make, shape in models:
        torch.manual_seed(0)
        model = make()
        x, y = torch.randn(256, *shape), torch.randint(0, 10, (256,))
        batches = [(x[:128], y[:128]), (x[128:], y[128:])]
        paths = fisher_paths(model, batches)
        shortcut = isinstance(model[0], nn.Linear)  # the MLPs; a CNN goes to vmap
        if not shortcut:
            del paths["linear"]
        t = best_of({**paths, "floor": partial(batched_pass, model, batches)}, rounds, reps=1)
        model.zero_grad(set_to_none=True)
        f32 = {k: f() for k, f in paths.items()}
        paths64 = fisher_paths(model.double(), [(xb.double(), yb) for xb, yb in batches])
        f64 = {k: paths64[k]() for k in paths}
        kinds = ("vmap", "linear") if shortcut else ("vmap",)
        d64 = ", ".join(f"{max_rel_diff(f64[k], f64['loop']):.0e}" for k in kinds)
        d32 = ", ".join(f"{max_rel_diff(f32[k], f32['loop']):.0e}" for k in kinds)
        n_params = sum(p.numel() for p in model.parameters())
        ms = {k: v / 256 * 1e3 for k, v in t.items()}
        cut = f"{ms['linear']:.4f} | {t['loop'] / t['linear']:.0f}x" if shortcut else "– | –"
        print(
            f"| {label} | {n_params:,} | {ms['loop']:.3f} | {ms['floor']:.3f} | "
            f"{t['loop'] / t['floor']:.1f}x | {ms['vmap']:.3f} | {t['loop'] / t['vmap']:.1f}x | "
            f"{cut} | {d64} | {d32} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved timing rounds")
    parser.add_argument("--batch", type=int, default=128,
                        help="batch size of the penalty benchmark's step (default 128)")
    parser.add_argument("--hidden", type=int, nargs="+", default=[1024],
                        help="widths of the penalty benchmark's two hidden layers, one MLP "
                             "each (default 1024)")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--penalty-only", action="store_true", help="skip the Fisher benchmark")
    only.add_argument("--fisher-only", action="store_true", help="skip the penalty benchmarks")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)\n")
    if not args.fisher_only:
        for hidden in args.hidden:
            bench_penalty(args.rounds, args.batch, hidden)
    if not args.penalty_only:
        if not args.fisher_only:
            bench_penalty_many_tensors(args.rounds)
        bench_fisher(args.rounds)


if __name__ == "__main__":
    main()
