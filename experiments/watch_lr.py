"""Experiment 2: a learning rate 10x too high — does the autopilot rescue the run (roll back,
lower the LR) and end close to a well-tuned run, where the plain run fails?

Task: `load_digits`, 900 training images, 300 validation, 597 test; a 64-256-256-10 MLP,
batch 32, 30 epochs. Two regimes, each with its well-tuned LR and 10x that LR:

* SGD with momentum 0.9: tuned 0.05, too high 0.5 (the loss explodes within the first epoch
  and the network dies at chance level);
* Adam: tuned 1e-3, too high 1e-2 (the loss bounces; the run ends worse).

Arms per seed (same data, initialisation and batch order): tuned; 10x plain; 10x with
``Watch(model, optimizer, autopilot=True)``; 10x with torch's ``ReduceLROnPlateau(factor=0.1,
patience=3)`` on the validation loss (Keras's ``ReduceLROnPlateau`` has the same rule); and
Lightning's ``EarlyStopping(patience=3)`` on the 10x plain run (its stop epoch and the model
there).

    .venv/bin/python experiments/watch_lr.py --seeds 5

prints the tables (markdown) and writes experiments/results/watch_lr.json.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from watch_digits import Config, lightning_es_stop, mean_sd, train

from lossdoctor.watch import Watch

REGIMES = {
    "SGD momentum (tuned 0.05, 10x = 0.5)": (Config(optimizer="sgd", lr=0.05), 0.5),
    "Adam (tuned 1e-3, 10x = 1e-2)": (Config(optimizer="adam", lr=1e-3), 1e-2),
}


def run_seed(cfg: Config, high: float, seed: int) -> dict[str, Any]:
    bad = replace(cfg, lr=high)
    tuned = train(cfg, seed)
    plain = train(bad, seed)
    auto = train(bad, seed, watch=lambda m, o: Watch(m, o, autopilot=True))
    rop = train(bad, seed, plateau={"mode": "min", "factor": 0.1, "patience": 3})
    es = lightning_es_stop(plain.val_loss, patience=3)
    rows = {
        "tuned LR, plain": (tuned.epochs_run, tuned.final_test_loss, tuned.final_test_acc,
                            tuned.lrs[-1]),
        "10x LR, plain": (plain.epochs_run, plain.final_test_loss, plain.final_test_acc,
                          plain.lrs[-1]),
        "10x LR, autopilot": (auto.epochs_run, auto.final_test_loss, auto.final_test_acc,
                              auto.lrs[-1] if auto.lrs else high),
        "10x LR, ReduceLROnPlateau": (rop.epochs_run, rop.final_test_loss, rop.final_test_acc,
                                      rop.lrs[-1]),
        "10x LR, Lightning ES(3) (model at stop)": (es, plain.test_loss[es - 1],
                                                    plain.test_acc[es - 1], plain.lrs[es - 1]),
    }
    return {
        "seed": seed,
        "rows": {k: {"epochs": e, "test_loss": tl, "test_acc": ta, "final_lr": lr}
                 for k, (e, tl, ta, lr) in rows.items()},
        "runs": {"tuned": asdict(tuned), "plain": asdict(plain), "autopilot": asdict(auto),
                 "reduce_on_plateau": asdict(rop)},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    logging.getLogger("lossdoctor").setLevel(logging.ERROR)
    out: dict[str, Any] = {}
    for regime, (cfg, high) in REGIMES.items():
        results = []
        for seed in range(args.seeds):
            r = run_seed(cfg, high, seed)
            results.append(r)
            acts = ", ".join(f"{a['name']}/{a['kind']}@{a['step']:g}"
                             for a in r["runs"]["autopilot"]["actions"]) or "-"
            print(f"{regime}, seed {seed}: autopilot {acts}; "
                  f"test acc tuned {r['rows']['tuned LR, plain']['test_acc']:.3f}, "
                  f"10x {r['rows']['10x LR, plain']['test_acc']:.3f}, "
                  f"autopilot {r['rows']['10x LR, autopilot']['test_acc']:.3f}, "
                  f"ReduceLROnPlateau {r['rows']['10x LR, ReduceLROnPlateau']['test_acc']:.3f}",
                  flush=True)
        print(f"\n{regime} ({args.seeds} seeds)\n")
        print("| arm | epochs | final LR | test loss | test accuracy |")
        print("| --- | --- | --- | --- | --- |")
        for k in results[0]["rows"]:
            col = [r["rows"][k] for r in results]
            lrs = sorted({f"{c['final_lr']:.2g}" for c in col})
            print(f"| {k} | {mean_sd([c['epochs'] for c in col])} | {', '.join(lrs)} | "
                  f"{mean_sd([c['test_loss'] for c in col])} | "
                  f"{mean_sd([c['test_acc'] for c in col])} |")
        print()
        out[regime] = {"config": asdict(cfg), "high_lr": high, "seeds": results}
    path = Path(__file__).parent / "results" / "watch_lr.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
