"""Flooding on the 2-D Sinusoid task of Ishida et al. (ICML 2020), with and without early stopping.

Data: points uniform in the disc of radius 2, y = sign(1.5·x₁ + sin(1.5·x₂)); 100 training points
(10 % of their labels flipped), 100 clean validation points, 20,000 clean test points, drawn
afresh for every seed. Model: MLP 2 → 4×(500, BatchNorm, ReLU) → 1, logistic loss, SGD lr 0.01
momentum 0.9, full batch, 200 epochs. For every seed the model is trained once per flood level b
in the grid (b = 0 is no flooding); the level is chosen on validation accuracy (ties: lower
validation loss). "Early stopping" keeps the weights of the epoch with the best validation
accuracy (lossdoctor's EarlyStopping, mode="max", patience = the whole budget) and restores them.

    .venv/bin/python experiments/flooding_sinusoid.py --seeds 5

prints the results table (markdown) and writes docs/treatments/img/flooding_sinusoid.png and
experiments/results/flooding_sinusoid.json.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lossdoctor.train import EarlyStopping, flood

ROOT = Path(__file__).resolve().parent.parent
GRID = (0.0, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)


def make_data(seed: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    rng = np.random.default_rng(seed)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        r = 2.0 * np.sqrt(rng.random(n))
        theta = 2 * np.pi * rng.random(n)
        x = np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)
        y = (1.5 * x[:, 0] + np.sin(1.5 * x[:, 1]) > 0).astype(np.float32)
        return x.astype(np.float32), y

    xtr, ytr = draw(100)
    flip = rng.choice(100, size=10, replace=False)
    ytr[flip] = 1 - ytr[flip]
    out = {}
    for name, (x, y) in {"train": (xtr, ytr), "val": draw(100), "test": draw(20_000)}.items():
        out[name] = (torch.from_numpy(x), torch.from_numpy(y).unsqueeze(1))
    return out


def make_model() -> nn.Module:
    layers: list[nn.Module] = []
    width_in = 2
    for _ in range(4):
        layers += [nn.Linear(width_in, 500), nn.BatchNorm1d(500), nn.ReLU()]
        width_in = 500
    layers.append(nn.Linear(width_in, 1))
    return nn.Sequential(*layers)


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    model.eval()
    logits = model(x)
    loss = nn.functional.binary_cross_entropy_with_logits(logits, y).item()
    acc = ((logits > 0).float() == y).float().mean().item()
    return loss, acc


def train(data: dict, b: float, seed: int, epochs: int) -> dict:
    torch.manual_seed(seed)
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    es = EarlyStopping(mode="max", patience=epochs)
    loss_fn = nn.BCEWithLogitsLoss()
    xtr, ytr = data["train"]
    curves: dict[str, list[float]] = {"train_loss": [], "val_loss": [], "val_acc": []}
    for _ in range(epochs):
        model.train()
        opt.zero_grad()
        loss = loss_fn(model(xtr), ytr)
        flood(loss, b).backward()
        opt.step()
        curves["train_loss"].append(loss.item())
        vl, va = evaluate(model, *data["val"])
        curves["val_loss"].append(vl)
        curves["val_acc"].append(va)
        es.step(va, model)
    final = {"val": evaluate(model, *data["val"]), "test": evaluate(model, *data["test"])}
    es.restore(model)
    best = {"val": evaluate(model, *data["val"]), "test": evaluate(model, *data["test"]),
            "epoch": es.best_step}
    return {"b": b, "final": final, "early_stopped": best, "curves": curves}


def choose(runs: list[dict], key: str) -> dict:
    """The run with the best validation accuracy (ties: lower validation loss)."""
    return max(runs, key=lambda r: (r[key]["val"][1], -r[key]["val"][0]))


def smooth(y: np.ndarray, window: int = 5) -> np.ndarray:
    """Centred moving average (window shrinks at the ends)."""
    half = window // 2
    return np.array([y[max(0, i - half): i + half + 1].mean() for i in range(len(y))])


def plot(curves: dict[float, dict[str, np.ndarray]], seeds: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
    wide, zoom = (0.0, 0.05, 0.1, 0.2, 0.3), (0.0, 0.15, 0.2, 0.25, 0.3)
    for ax, levels in ((axes[0], wide), (axes[1], zoom)):
        for i, b in enumerate(levels):
            val = curves[b]["val_loss"]
            label = "no flooding" if b == 0 else f"b = {b:g}"
            color = f"C{i}" if ax is axes[0] else f"C{i + 5}" if b else "C0"
            ax.plot(np.arange(1, len(val) + 1), smooth(val), color=color, label=label)
            j = int(np.argmin(smooth(val)))
            ax.plot(j + 1, smooth(val)[j], "o", color=color, markersize=4)
    axes[1].set_ylim(0.15, 0.32)
    axes[0].set_title(f"validation loss (mean of {seeds} seeds, 5-epoch average)")
    axes[1].set_title("zoom: the second descent (dots: minima)")
    for i, b in enumerate(wide):
        tr = curves[b]["train_loss"]
        axes[2].plot(np.arange(1, len(tr) + 1), tr, color=f"C{i}",
                     label="no flooding" if b == 0 else f"b = {b:g}")
    axes[2].set_title("training loss (before flooding)")
    axes[2].set_yscale("log")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.legend(fontsize="small")
    fig.suptitle("Flooding on 2-D Sinusoid (10% flipped training labels)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.time()
    results: dict[int, list[dict]] = {}
    for seed in range(args.seeds):
        data = make_data(seed)
        results[seed] = [train(data, b, seed, args.epochs) for b in GRID]
        print(f"seed {seed} done ({time.time() - t0:.0f} s)", flush=True)

    rows = []
    for es_key, es_name in (("final", "no"), ("early_stopped", "yes")):
        for flooding in (False, True):
            picked = [choose(runs, es_key) if flooding else runs[0] for runs in results.values()]
            acc = np.array([100 * r[es_key]["test"][1] for r in picked])
            rows.append({
                "flooding": flooding, "early_stopping": es_name == "yes",
                "test_acc_mean": float(acc.mean()), "test_acc_std": float(acc.std(ddof=1)),
                "per_seed": acc.round(2).tolist(), "b": [r["b"] for r in picked],
            })
    print(f"\n{args.seeds} seeds, {args.epochs} epochs, grid {list(GRID)}, "
          f"{time.time() - t0:.0f} s\n")
    print("| flooding | early stopping | test accuracy % (mean ± std) | chosen b per seed |")
    print("| --- | --- | --- | --- |")
    for r in rows:
        bs = ", ".join(f"{b:g}" for b in r["b"]) if r["flooding"] else "–"
        print(f"| {'yes' if r['flooding'] else 'no'} | "
              f"{'yes' if r['early_stopping'] else 'no'} | "
              f"{r['test_acc_mean']:.2f} ± {r['test_acc_std']:.2f} | {bs} |")
    print("\nper flood level (no early stopping): test accuracy %, mean ± std over seeds; "
          "validation loss of the seed-mean curve (5-epoch average)")
    print("| b | test acc % | val loss min, epochs 1–50 (epoch) | val loss min, epochs 51–200 "
          "(epoch) | final val loss |")
    print("| --- | --- | --- | --- | --- |")
    per_level = []
    curves: dict[float, dict[str, np.ndarray]] = {}
    for j, b in enumerate(GRID):
        runs = [results[s][j] for s in results]
        acc = np.array([100 * r["final"]["test"][1] for r in runs])
        curves[b] = {k: np.mean([r["curves"][k] for r in runs], axis=0)
                     for k in ("train_loss", "val_loss", "val_acc")}
        val = smooth(curves[b]["val_loss"])
        first, later = int(val[:50].argmin()), 50 + int(val[50:].argmin())
        per_level.append({"b": b, "test_acc": acc.round(2).tolist(),
                          **{k: v.round(5).tolist() for k, v in curves[b].items()}})
        print(f"| {b:g} | {acc.mean():.2f} ± {acc.std(ddof=1):.2f} | "
              f"{val[first]:.3f} ({first + 1}) | {val[later]:.3f} ({later + 1}) | "
              f"{val[-1]:.3f} |")
    img = ROOT / "docs" / "treatments" / "img" / "flooding_sinusoid.png"
    plot(curves, args.seeds, img)
    out = ROOT / "experiments" / "results" / "flooding_sinusoid.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"grid": GRID, "seeds": args.seeds, "epochs": args.epochs,
                               "table": rows, "per_level": per_level}, indent=1))
    print(f"\nwrote {img.relative_to(ROOT)} and {out.relative_to(ROOT)}")
    assert math.isfinite(rows[0]["test_acc_mean"])


if __name__ == "__main__":
    main()
