"""Experiment 3: detection delay — how many steps after its onset is each kind reported?

Synthetic runs where the onset is known by construction (6,000 logged steps of a minibatch-like
training loss — exponential decay, 10% multiplicative noise — and a validation loss every 50
steps), one regime per kind, several seeds. Each regime also runs without its event (the
control): a report of that kind there is a false alarm. The watcher runs with its defaults
(report only) and, for comparison, with ``growth=eval_growth=0.05, confirm=1`` (more frequent
full diagnoses, no confirmation).

Onset (step t0 = 3,000 unless said):
* non_finite: the loss is NaN at t0;
* divergence: the loss grows ×e every 20 steps from t0;
* spike: three batches from t0 are 8x the loss (one lone bad batch is noise to the rule);
* overfitting: the validation loss bottoms at t0 and climbs (+30% by the end) while the
  training loss keeps falling;
* loss_rising: the training loss climbs from t0 (to 2.5x by the end) and stays up;
* oscillation: from t0 both losses stop falling and the validation loss bounces ±35% from
  one evaluation to the next (the rule wants bouncing wide against the run's progress);
* plateau: from t0 = 1,500 both losses stop falling (flat) — they should have kept going.

    .venv/bin/python experiments/watch_delay.py --seeds 10

prints the table (markdown) and writes experiments/results/watch_delay.json. With ``--digits``
it also reads the real runs of experiments 1 and 2 (their JSON) for the delays seen there.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from lossdoctor.watch import Watch

N, T0, EVERY = 6000, 3000, 50
KINDS = ("non_finite", "divergence", "spike", "overfitting", "loss_rising", "oscillation",
         "plateau")
SETTINGS = {"default": {}, "growth 0.05, confirm 1": {"growth": 0.05, "eval_growth": 0.05,
                                                      "confirm": 1}}


def regime(kind: str, seed: int, event: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """(training loss per step, validation loss per evaluation, onset step)."""
    rng = np.random.default_rng(seed)
    x = np.arange(N, dtype=float)
    level = 2.0 * np.exp(-x / 1500) + 0.2
    t0 = 1500 if kind == "plateau" else T0
    val_x = np.arange(EVERY - 1, N, EVERY, dtype=float)
    val = 1.1 * (2.0 * np.exp(-val_x / 1500) + 0.3)
    if event:
        after = x >= t0
        if kind == "divergence":
            level = np.where(after, level * np.exp(np.minimum((x - t0) / 20, 50)), level)
        elif kind == "overfitting":
            at = val[int(np.searchsorted(val_x, t0))]
            val = np.where(val_x >= t0, at * (1 + 0.3 * (val_x - t0) / (N - t0)), val)
        elif kind == "loss_rising":
            level = np.where(after, level[t0] * (1 + 1.5 * (x - t0) / (N - t0)), level)
        elif kind in ("oscillation", "plateau"):
            level = np.where(after, level[t0], level)
            at = val[int(np.searchsorted(val_x, t0))]
            val = np.where(val_x >= t0, at, val)  # validation stops improving too
            if kind == "oscillation":  # the validation loss bounces ±35%, eval to eval
                val = val * np.where(val_x >= t0, 1 + 0.35 * (-1.0) ** np.arange(len(val)),
                                     1.0)
    loss = level * np.exp(0.1 * rng.standard_normal(N))
    if event and kind == "spike":
        loss[T0 : T0 + 3] *= 8
    if event and kind == "non_finite":
        loss[T0] = math.nan
    val = val * (1 + 0.01 * rng.standard_normal(len(val)))
    return loss, val, t0


def detect(kind: str, loss: np.ndarray, val: np.ndarray, **kw: Any) -> float | None:
    """The step at which `kind` was first reported (None if never)."""
    w = Watch(**kw)
    for i, v in enumerate(loss):
        w.log(i, train_loss=float(v), lr=0.1)
        if i % EVERY == EVERY - 1:
            w.log_eval(i, val_loss=float(val[i // EVERY]))
    hits = [f for f in w.events if f.kind == kind]
    return hits[0].detected_at.step if hits and hits[0].detected_at else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--digits", action="store_true",
                    help="also the delays in the digits runs of experiments 1 and 2")
    args = ap.parse_args()
    logging.getLogger("lossdoctor").setLevel(logging.ERROR)
    out: dict[str, Any] = {}
    print("| kind | onset step | setting | detected | delay (steps): median [min, max] | "
          "false alarms (controls, or before the onset) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for kind in KINDS:
        for label, kw in SETTINGS.items():
            delays, missed, false = [], 0, 0
            t0 = T0
            for seed in range(args.seeds):
                loss, val, t0 = regime(kind, seed, True)
                at = detect(kind, loss, val, **kw)
                if at is None or at < t0:
                    missed += at is None
                    false += at is not None
                else:
                    delays.append(at - t0)
                c_loss, c_val, _ = regime(kind, seed, False)
                false += detect(kind, c_loss, c_val, **kw) is not None
            d = np.array(delays)
            span = (f"{np.median(d):.0f} [{d.min():.0f}, {d.max():.0f}]" if len(d) else "-")
            print(f"| {kind} | {t0} | {label} | {len(delays)}/{args.seeds} | {span} | "
                  f"{false}/{args.seeds} |", flush=True)
            out.setdefault(kind, {})[label] = {"onset": t0, "delays": delays, "missed": missed,
                                               "false_alarms": false}
    if args.digits:
        out["digits"] = digits_delays()
    path = Path(__file__).parent / "results" / "watch_delay.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=1))


def digits_delays() -> dict[str, Any]:
    """Delays in the real runs: overfitting (onset: the epoch of the lowest validation loss)
    and the first autopilot intervention of the 10x-LR runs (onset: the first step whose loss
    is 5x the first step's)."""
    res = Path(__file__).parent / "results"
    out: dict[str, Any] = {}
    over = json.loads((res / "watch_overfitting.json").read_text())
    rows = []
    for s in over["seeds"]:
        run = s["runs"]["stop_only"]
        hit = next((e for e in run["events"] if e["kind"] == "overfitting"), None)
        if hit is not None:
            rows.append(hit["detected_at"]["epoch"] - s["best_epoch"])
    out["overfitting_epochs_after_best"] = rows
    print(f"\ndigits, overfitting: reported {rows} epochs after the best epoch "
          f"(median {np.median(rows) if rows else float('nan'):.0f})")
    return out


if __name__ == "__main__":
    main()
