"""Figures for docs/watch.md from the JSON of experiments 1 and 2 (run those first).

    .venv/bin/python experiments/watch_plots.py [--seed 0]

writes docs/img/watch_overfitting.png (validation loss of the plain run, its best epoch, where
Lightning's ES(3) and the autopilot stop) and docs/img/watch_lr.png (validation loss of the
tuned, 10x-LR plain, 10x-LR autopilot and 10x-LR ReduceLROnPlateau runs, autopilot actions
marked).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

HERE = Path(__file__).parent
IMG = HERE.parent / "docs" / "img"


def overfitting(seed: int) -> None:
    data = json.loads((HERE / "results" / "watch_overfitting.json").read_text())
    s = data["seeds"][seed]
    plain = s["runs"]["plain"]["val_loss"]
    auto = s["runs"]["autopilot"]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.plot(range(1, len(plain) + 1), plain, color="0.6", label="plain run (validation loss)")
    ax.plot(range(1, len(auto["val_loss"]) + 1), auto["val_loss"], color="C0",
            label="with the autopilot")
    ax.axvline(s["best_epoch"], color="C2", ls=":", label=f"best epoch {s['best_epoch']}")
    ax.axvline(s["es_stop"], color="C1", ls="--", label=f"Lightning ES(3) stops: {s['es_stop']}")
    ax.axvline(auto["epochs_run"], color="C0", ls="--",
               label=f"autopilot stops: {auto['epochs_run']} (restores epoch {s['best_epoch']})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation loss")
    ax.set_title(f"Overfitting regime (load_digits, 150 training images), seed {seed}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(IMG / "watch_overfitting.png", dpi=110)
    plt.close(fig)


def lr(seed: int) -> None:
    data = json.loads((HERE / "results" / "watch_lr.json").read_text())
    regime = next(iter(data))
    runs = data[regime]["seeds"][seed]["runs"]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for key, label, color in (("tuned", "tuned LR", "C2"), ("plain", "10x LR, plain", "0.6"),
                              ("reduce_on_plateau", "10x LR, ReduceLROnPlateau", "C1"),
                              ("autopilot", "10x LR, autopilot", "C0")):
        v = runs[key]["val_loss"]
        ax.plot(range(1, len(v) + 1), v, label=label, color=color)
    steps_per_epoch = runs["autopilot"]["steps"] / max(1, runs["autopilot"]["epochs_run"])
    at: dict[float, list[str]] = {}
    for a in runs["autopilot"]["actions"]:
        if a["name"] in ("rollback", "lower_lr"):
            at.setdefault(a["step"], []).append(f"{a['name']} ({a['kind']})")
    for step, names in at.items():
        x = step / steps_per_epoch
        ax.axvline(x, color="C0", ls=":", lw=1)
        ax.text(x + 0.2, 0.62, " + ".join(dict.fromkeys(n.split(" (")[0] for n in names))
                + f"\n({names[0].split('(')[1][:-1]})", transform=ax.get_xaxis_transform(),
                fontsize=7, color="C0", va="top")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation loss")
    ax.set_title(f"{regime}, seed {seed}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(IMG / "watch_lr.png", dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    IMG.mkdir(parents=True, exist_ok=True)
    overfitting(args.seed)
    lr(args.seed)
    print(f"wrote {IMG / 'watch_overfitting.png'} and {IMG / 'watch_lr.png'}")


if __name__ == "__main__":
    main()
