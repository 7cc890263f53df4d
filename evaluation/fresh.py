"""Fresh check: healthy training recipes that are not in the corpus, trained and diagnosed.

`holdout.py` retrains the corpus's own recipes with other seeds; the rules have still seen
those recipes' shapes. The recipes here were written after the rules were tuned and differ from
every corpus run in at least one of data, model, optimizer, schedule, batch size, loss scale,
logging interval or log format. Each is a recipe an engineer would call sound (a tuned LR,
enough data or regularisation for its length), so any finding is printed with its summary to be
read against the curve: a real event of that seed, or a false alarm.

    .venv/bin/python evaluation/fresh.py --jobs 2             # every recipe, seeds 0 and 1
    .venv/bin/python evaluation/fresh.py --seeds 5 --only f03 f11

Needs the corpus extra (torch, scikit-learn, mnist1d, tensorboard).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "corpus" / "generate"))
sys.path.insert(0, str(ROOT / "evaluation"))

import train_runs as T  # noqa: E402
from holdout import _train_and_diagnose  # noqa: E402

MNIST1D = {"data": "mnist1d"}
STEPS = {"granularity": "step", "sched_unit": "step"}
REG = {"data": "regression"}

#: id -> (name, log format, generator config). Seeds are added to ``seed`` (default 50,000).
RECIPES: dict[str, tuple[str, str, dict]] = {
    "f01": ("mnist1d-lstm-adam-cosine", "keras_csv",
            {**MNIST1D, "model": "lstm", "model_kw": {"hidden": (64,)}, "opt": "adam",
             "lr": 3e-3, "batch": 128, "epochs": 25, "sched": "cosine", "clip": 1.0}),
    "f02": ("digits-cnn-rmsprop-exp", "jsonl",
            {"model": "cnn", "model_kw": {"hidden": (8,), "dropout": 0.3}, "opt": "rmsprop",
             "lr": 5e-4, "batch": 32, "epochs": 25, "sched": "exp", "sched_kw": {"gamma": 0.92}}),
    "f03": ("teacher-deep-linear-sgd", "generic_csv",
            {"data": "teacher", "data_kw": {"dim": 16, "out_dim": 8}, "model": "mlp",
             "model_kw": {"hidden": (32, 32), "act": "identity"}, "opt": "sgd", "lr": 0.02,
             "momentum": 0.9, "batch": 64, "epochs": 40}),
    "f04": ("reg-yscale100-adam-plateau", "keras_csv",
            {**REG, "data_kw": {"yscale": 100.0, "dim": 6}, "n_train": 3000,
             "model_kw": {"hidden": (128, 64)}, "opt": "adam", "lr": 3e-3, "batch": 64,
             "epochs": 50, "sched": "plateau", "sched_kw": {"factor": 0.5, "patience": 4}}),
    "f05": ("mnist1d-mlp-sgd-cyclic-steps", "tensorboard",
            {**MNIST1D, "model_kw": {"hidden": (200, 200), "dropout": 0.2}, "opt": "sgd",
             "lr": 0.02, "momentum": 0.9, "batch": 100, "epochs": 30, **STEPS, "log_every": 10,
             "eval_every": 200, "sched": "cyclic",
             "sched_kw": {"base_lr": 0.005, "max_lr": 0.05, "step_size_up": 600}}),
    "f06": ("digits-mlp-big-batch-warmup-cosine", "text_pipe",
            {"model_kw": {"hidden": (256, 128), "dropout": 0.2}, "opt": "adamw", "lr": 4e-3,
             "wd": 0.05, "batch": 256, "epochs": 60, "sched": "warmup_cosine",
             "sched_kw": {"warmup": 5}}),
    "f07": ("mnist1d-gru-rmsprop-steps", "text_step",
            {**MNIST1D, "model": "gru", "model_kw": {"hidden": (48,)}, "opt": "rmsprop",
             "lr": 2e-3, "batch": 64, "epochs": 15, **STEPS, "log_every": 20,
             "eval_every": 250, "clip": 1.0, "log_grad_norm": True}),
    "f08": ("reg-dim16-mlp-tanh-sgd-multistep", "jsonl",
            {**REG, "data_kw": {"dim": 16, "noise": 0.3}, "n_train": 4000,
             "model_kw": {"hidden": (128, 128), "act": "tanh"}, "opt": "sgd", "lr": 0.03,
             "momentum": 0.9, "batch": 32, "epochs": 40, "sched": "multistep",
             "sched_kw": {"milestones": [20, 32], "gamma": 0.2}}),
    "f09": ("digits-mlp-gelu-adam-small-batch", "text_bracket",
            {"model_kw": {"hidden": (96,), "act": "gelu", "dropout": 0.3}, "opt": "adam",
             "lr": 5e-4, "wd": 1e-4, "batch": 16, "epochs": 20}),
    "f10": ("mnist1d-cnn-adamw-onecycle-epochs", "keras_csv",
            {**MNIST1D, "model": "cnn", "model_kw": {"hidden": (48,), "dropout": 0.1},
             "opt": "adamw", "lr": 2e-3, "wd": 0.02, "batch": 128, "epochs": 30,
             "sched": "onecycle", "sched_unit": "step", "sched_kw": {"max_lr": 6e-3}}),
    "f11": ("reg-mlp-huge-n-sgd-steps", "hf_trainer_state",
            {**REG, "data_kw": {"dim": 10, "noise": 0.2}, "n_train": 30000, "n_val": 3000,
             "model_kw": {"hidden": (128, 64)}, "opt": "sgd", "lr": 0.02, "momentum": 0.9,
             "batch": 128, "epochs": 8, **STEPS, "log_every": 20, "log_mode": "mean",
             "eval_every": 235, "sched": "warmup_cosine", "sched_kw": {"warmup": 100}}),
    "f12": ("digits-rnn-adam-clip", "generic_csv",
            {"model": "rnn", "model_kw": {"hidden": (64,), "act": "tanh"}, "opt": "adam",
             "lr": 2e-3, "batch": 32, "epochs": 30, "clip": 1.0, "sched": "step",
             "sched_kw": {"step_size": 15, "gamma": 0.3}}),
    "f13": ("mnist1d-mlp-label-noise-early-stop", "text_pipe",
            {**MNIST1D, "label_noise": 0.2, "model_kw": {"hidden": (256, 256), "dropout": 0.4},
             "opt": "adam", "lr": 1e-3, "wd": 1e-4, "batch": 64, "epochs": 80,
             "patience": 6}),
    "f14": ("teacher-linear-adam-steps", "tensorboard",
            {"data": "teacher", "data_kw": {"dim": 24, "out_dim": 6, "noise": 0.2},
             "n_train": 6000, "model": "linear", "opt": "adam", "lr": 5e-3, "batch": 50,
             "epochs": 12, **STEPS, "log_every": 10, "eval_every": 120}),
    "f15": ("digits-cnn-sgd-nesterov-cosine-steps", "jsonl",
            {"model": "cnn", "model_kw": {"hidden": (12,)}, "opt": "sgd", "lr": 0.03,
             "momentum": 0.9, "nesterov": True, "wd": 5e-4, "batch": 64, "epochs": 25,
             **STEPS, "log_every": 4, "eval_every": 42, "sched": "cosine"}),
    "f16": ("mnist1d-mlp-adam-train-acc", "keras_csv",
            {**MNIST1D, "model_kw": {"hidden": (512,), "dropout": 0.5}, "opt": "adam",
             "lr": 1e-3, "batch": 256, "epochs": 40, "train_acc": True}),
    "f17": ("reg-sine-1d-adam-big-data-steps", "text_step",
            {**REG, "data_kw": {"dim": 1, "target": "sine", "noise": 0.1}, "n_train": 8000,
             "model_kw": {"hidden": (64, 64), "act": "tanh"}, "opt": "adam", "lr": 3e-3,
             "batch": 64, "epochs": 15, **STEPS, "log_every": 10, "eval_every": 125,
             "sched": "warmup_cosine", "sched_kw": {"warmup": 150}}),
    "f18": ("digits-mlp-sgd-plateau-scheduler", "text_bracket",
            {"model_kw": {"hidden": (128,), "dropout": 0.2}, "opt": "sgd", "lr": 0.05,
             "momentum": 0.9, "batch": 32, "epochs": 40, "sched": "plateau",
             "sched_kw": {"factor": 0.3, "patience": 2}}),
    "f19": ("mnist1d-cnn-adam-sgdr-mult2", "jsonl",
            {**MNIST1D, "model": "cnn", "model_kw": {"hidden": (24,)}, "opt": "adam",
             "lr": 2e-3, "batch": 64, "epochs": 31, "sched": "sgdr",
             "sched_kw": {"t0": 1, "t_mult": 2}}),
    "f20": ("reg-mlp-adamw-no-val-steps", "hf_trainer_state",
            {**REG, "data_kw": {"dim": 8}, "n_train": 5000, "val": False,
             "model_kw": {"hidden": (64, 64)}, "opt": "adamw", "lr": 2e-3, "wd": 0.01,
             "batch": 32, "epochs": 10, **STEPS, "log_every": 10, "log_mode": "mean"}),
}


def specs(seeds: int, base: int) -> list[tuple[T.RunSpec, int]]:
    """(spec, seed) for every recipe and seed; ids ``fNN.s``."""
    out = []
    for rid, (name, fmt, cfg) in RECIPES.items():
        spec = T.RunSpec(rid, name, "fresh", fmt, T.Cfg(**{**cfg, "seed": 0}))
        for s in range(seeds):
            out.append((dataclasses.replace(spec, id=f"{rid}.{s}"), base + s))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=2, help="seeds per recipe (default 2)")
    parser.add_argument("--base", type=int, default=50_000, help="first seed (default 50000)")
    parser.add_argument("--only", nargs="*", default=None, help="recipe ids, e.g. f03 f11")
    parser.add_argument("--jobs", type=int, default=2, help="parallel training processes")
    args = parser.parse_args(argv)
    todo = [(s, seed) for s, seed in specs(args.seeds, args.base)
            if args.only is None or s.id.split(".")[0] in args.only]
    if not todo:
        parser.error("no recipe selected")
    t0 = time.time()
    alarms = 0
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        jobs = [pool.submit(_train_and_diagnose, s, seed) for s, seed in todo]
        for (spec, _seed), job in zip(todo, jobs, strict=True):
            rid, found = job.result()
            kinds = sorted({k for k, _m, _s in found})
            alarms += bool(kinds)
            print(f"{rid:6s} {spec.name:40s} {spec.fmt:17s} {','.join(kinds) or '-'}", flush=True)
            for kind, metric, summary in found:
                print(f"    {kind} {metric}: {summary}")
    print(f"{len(todo)} runs trained in {time.time() - t0:.0f} s; "
          f"with a finding: {alarms}/{len(todo)} (read each against its curve)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
