"""Plot each generated run (train/val loss, accuracy, LR) for labelling by eye.

Reads the series cached by ``train_runs.py`` in ``artifacts/corpus_cache/`` and writes
``corpus/generated/plots/gNNN.png``. A loss that climbs more than 20x above its first value is
drawn on a log axis; NaN/inf points are marked along the top edge in red.

    .venv/bin/python corpus/generate/plot_runs.py               # every cached run
    .venv/bin/python corpus/generate/plot_runs.py --only g001,g002
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "artifacts" / "corpus_cache"
PLOTS = ROOT / "corpus" / "generated" / "plots"


def _xy(series: dict, x_key: str) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(series[x_key], float), np.asarray(series["value"], float)


def plot(rec: dict, path: Path) -> None:
    s = rec["series"]
    per_step = rec["meta"]["granularity"] == "step"
    x_key = "step" if per_step else "epoch"
    has_lr = "lr" in s and np.ptp(np.asarray(s["lr"]["value"], float)) > 0
    fig, axes = plt.subplots(2 if has_lr else 1, 1, figsize=(7.2, 4.6 if has_lr else 3.8),
                             sharex=True, squeeze=False,
                             gridspec_kw={"height_ratios": [3, 1]} if has_lr else None)
    ax = axes[0, 0]
    finite_all = []
    for name, style in (("train_loss", {"lw": 0.8, "color": "C0"}),
                        ("val_loss", {"lw": 1.2, "color": "C1", "marker": "o", "ms": 2.5})):
        if name not in s:
            continue
        x, y = _xy(s[name], x_key)
        ok = np.isfinite(y)
        finite_all.append(y[ok])
        ax.plot(x[ok], y[ok], label=f"{name} (n={len(y)})", **style)
        if (~ok).any():
            ax.plot(x[~ok], np.full((~ok).sum(), 1.0), "x", color="red",
                    transform=ax.get_xaxis_transform(), clip_on=False, ms=4,
                    label=f"{name} non-finite ({(~ok).sum()})")
    # log axis only when the loss climbs far above where it started (explosions, big spikes);
    # a loss that merely falls towards zero stays linear so a val U-shape remains visible
    starts = [v[0] for v in finite_all if len(v)]
    vals = np.concatenate(finite_all) if finite_all else np.array([])
    if len(vals) and vals.min() > 0 and vals.max() > 20 * max(starts):
        ax.set_yscale("log")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    ax2 = None
    for name, color in (("val_acc", "green"), ("train_acc", "olive")):
        if name in s:
            ax2 = ax.twinx() if ax2 is None else ax2
            x, y = _xy(s[name], x_key)
            ax2.plot(x, y, "--", color=color, lw=0.9, marker="s" if len(x) < 80 else None,
                     ms=2, label=name)
            ax2.set_ylabel("accuracy", color="green")
            h2, l2 = ax2.get_legend_handles_labels()
            handles, labels = handles + h2[-1:], labels + l2[-1:]
    ax.legend(handles, labels, fontsize=7, loc="upper right")
    cfg = rec["cfg"]
    ax.set_title(f"{rec['dir']}  [{rec['format']}]\n{rec['meta']['model_desc']}, "
                 f"{rec['meta']['data_desc']}, {cfg['opt']} lr={cfg['lr']:g}"
                 f"{', ' + cfg['sched'] if cfg['sched'] else ''}", fontsize=8)
    if has_lr:
        lx, ly = _xy(s["lr"], x_key)
        axes[1, 0].plot(lx, ly, color="purple", lw=0.9)
        axes[1, 0].set_ylabel("lr", fontsize=8)
        axes[1, 0].grid(alpha=0.3)
    axes[-1, 0].set_xlabel(x_key)
    fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated run ids (default: every gNNN run)")
    parser.add_argument("--out", type=Path, default=PLOTS, help=f"directory (default {PLOTS})")
    args = parser.parse_args(argv)
    files = sorted(CACHE.glob("*.json"))
    if args.only:
        keep = {k.strip() for k in args.only.split(",")}
        files = [f for f in files if f.stem in keep]
    else:
        files = [f for f in files if f.stem.startswith("g")]
    if not files:
        print(f"no cached runs in {CACHE}; run train_runs.py first", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    for f in files:
        plot(json.loads(f.read_text()), args.out / f"{f.stem}.png")
    print(f"{len(files)} plots in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
