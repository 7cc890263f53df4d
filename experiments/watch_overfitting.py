"""Experiment 1: an overfitting regime — does the autopilot stop near the best epoch and give
back a model as good as the best checkpoint chosen in hindsight, in fewer epochs?

Task: `load_digits` with only 150 training images, a 64-512-512-10 MLP without regularisation,
Adam (lr 1e-3), batch 16, 150 epochs: the validation loss bottoms out after ~20 epochs and
climbs while the training loss keeps falling. Per seed, the same data, initialisation and batch
order in every arm:

* ``plain``: 150 epochs, the final model;
* ``hindsight best``: the plain run's model at its lowest validation loss (known only after);
* ``Lightning ES(3)``: Lightning's ``EarlyStopping(monitor="val_loss", patience=3)`` (its own
  stopping rule, fed the plain run's validation losses; the run is the plain run until it
  stops): the model at the stop, and with the best checkpoint reloaded (``ModelCheckpoint``);
* ``autopilot``: ``Watch(model, optimizer, autopilot=True)`` (default policy: the plateau of
  the validation loss lowers the LR, overfitting stops and restores the best weights);
* ``autopilot, stop only``: overfitting → stop + restore; every other kind only reported.

    .venv/bin/python experiments/watch_overfitting.py --seeds 5

prints the table (markdown) and writes experiments/results/watch_overfitting.json.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from watch_digits import Config, lightning_es_stop, mean_sd, train

from lossdoctor.watch import DEFAULT_ACTIONS, Policy, Watch

CFG = Config(n_train=150, hidden=512, optimizer="adam", lr=1e-3, batch=16, epochs=150)
STOP_ONLY = Policy(actions={k: ("stop" if k == "overfitting" else None)
                            for k in DEFAULT_ACTIONS})


def run_seed(seed: int) -> dict[str, Any]:
    plain = train(CFG, seed)
    best = int(np.argmin(plain.val_loss))
    es = lightning_es_stop(plain.val_loss, patience=3)
    es_best = int(np.argmin(plain.val_loss[:es]))
    auto = train(CFG, seed, watch=lambda m, o: Watch(m, o, autopilot=True))
    stop_only = train(CFG, seed, watch=lambda m, o: Watch(m, o, autopilot=STOP_ONLY))
    rows = {
        "plain": (CFG.epochs, plain.final_test_loss, plain.final_test_acc),
        "hindsight best": (CFG.epochs, plain.test_loss[best], plain.test_acc[best]),
        "Lightning ES(3), model at stop": (es, plain.test_loss[es - 1], plain.test_acc[es - 1]),
        "Lightning ES(3) + best checkpoint": (es, plain.test_loss[es_best],
                                              plain.test_acc[es_best]),
        "autopilot (default policy)": (auto.epochs_run, auto.final_test_loss,
                                       auto.final_test_acc),
        "autopilot, stop only": (stop_only.epochs_run, stop_only.final_test_loss,
                                 stop_only.final_test_acc),
    }
    return {
        "seed": seed, "best_epoch": best + 1, "es_stop": es,
        "rows": {k: {"epochs": e, "test_loss": tl, "test_acc": ta} for k, (e, tl, ta)
                 in rows.items()},
        "runs": {"plain": asdict(plain), "autopilot": asdict(auto),
                 "stop_only": asdict(stop_only)},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    logging.getLogger("lossdoctor").setLevel(logging.ERROR)
    results = []
    for seed in range(args.seeds):
        r = run_seed(seed)
        results.append(r)
        auto = r["runs"]["autopilot"]
        print(f"seed {seed}: best epoch {r['best_epoch']}, ES(3) stops at {r['es_stop']}, "
              f"autopilot stops at {auto['epochs_run']} "
              f"({', '.join(a['name'] + '/' + a['kind'] for a in auto['actions'])}); "
              f"stop-only at {r['runs']['stop_only']['epochs_run']}", flush=True)
    names = list(results[0]["rows"])
    ref = "hindsight best"
    print("\n| arm | epochs | test loss | test accuracy | Δ test loss vs hindsight | "
          "Δ accuracy vs hindsight |")
    print("| --- | --- | --- | --- | --- | --- |")
    for k in names:
        col = [r["rows"][k] for r in results]
        d_loss = [r["rows"][k]["test_loss"] - r["rows"][ref]["test_loss"] for r in results]
        d_acc = [r["rows"][k]["test_acc"] - r["rows"][ref]["test_acc"] for r in results]
        print(f"| {k} | {mean_sd([c['epochs'] for c in col])} | "
              f"{mean_sd([c['test_loss'] for c in col])} | "
              f"{mean_sd([c['test_acc'] for c in col])} | {mean_sd(d_loss)} | {mean_sd(d_acc)} |")
    n = len(results)
    es_early = sum(r["es_stop"] < r["best_epoch"] for r in results)
    auto = [r["runs"]["autopilot"] for r in results]
    auto_early = sum(a["epochs_run"] < r["best_epoch"] for a, r in zip(auto, results,
                                                                         strict=True))
    exact = sum(r["rows"]["autopilot (default policy)"]["test_loss"]
                == r["rows"][ref]["test_loss"] for r in results)
    print(f"\nstopped before the best epoch: Lightning ES(3) {es_early}/{n} seeds, autopilot "
          f"{auto_early}/{n}; autopilot never stopped: {sum(not a['stopped'] for a in auto)}/{n};"
          f" autopilot's model is the hindsight best: {exact}/{n}")
    out = Path(__file__).parent / "results" / "watch_overfitting.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"config": asdict(CFG), "seeds": results}, indent=1))


if __name__ == "__main__":
    main()
