"""Fresh check: training recipes that are not in the corpus, trained and diagnosed.

`holdout.py` retrains the corpus's own recipes with other seeds; the rules have still seen
those recipes' shapes. The recipes here were written after the rules were tuned and differ from
every corpus run in at least one of data, model, optimizer, schedule, batch size, loss scale,
logging interval or log format. Each is a recipe an engineer would call sound (a tuned LR,
enough data or regularisation for its length), so any finding is printed with its summary to be
read against the curve: a real event of that seed, or a false alarm. The faulty recipes
(``pNN``: an LR far too high, too little data for the model, bad batches, …) print the kinds
their fault is meant to produce beside the kinds found.

    .venv/bin/python evaluation/fresh.py --jobs 2             # every recipe, seeds 0 and 1
    .venv/bin/python evaluation/fresh.py --seeds 5 --only f03 p11
    .venv/bin/python evaluation/fresh.py --base 90000 --keep runs/   # logs in runs/fresh+90000/

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
from logformats import EPOCH_ONLY, STEP_ONLY  # noqa: E402

MNIST1D = {"data": "mnist1d"}
STEPS = {"granularity": "step", "sched_unit": "step"}
REG = {"data": "regression"}

#: Healthy recipes: id -> (name, log format, generator config).
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
    # second round, written after the first fresh passes
    "f21": ("teacher-mlp-adamw-warmup-cosine-many-evals", "hf_trainer_state",
            {"data": "teacher", "data_kw": {"dim": 12, "out_dim": 4, "noise": 0.1},
             "n_train": 4000, "model_kw": {"hidden": (64,)}, "opt": "adamw", "lr": 3e-3,
             "wd": 0.01, "batch": 64, "epochs": 15, **STEPS, "log_every": 10,
             "log_mode": "mean", "eval_every": 50, "sched": "warmup_cosine",
             "sched_kw": {"warmup": 60}}),
    "f22": ("mnist1d-cnn-sgd-nesterov-halving", "text_pipe",
            {**MNIST1D, "model": "cnn", "model_kw": {"hidden": (32,), "dropout": 0.1},
             "opt": "sgd", "lr": 0.03, "momentum": 0.95, "nesterov": True, "batch": 64,
             "epochs": 32, "sched": "step", "sched_kw": {"step_size": 8, "gamma": 0.5}}),
    "f23": ("digits-lstm-rmsprop-plateau-sched", "keras_csv",
            {"model": "lstm", "model_kw": {"hidden": (64,)}, "opt": "rmsprop", "lr": 2e-3,
             "batch": 32, "epochs": 30, "clip": 1.0, "sched": "plateau",
             "sched_kw": {"factor": 0.5, "patience": 3}}),
    "f24": ("mnist1d-mlp-adam-batch-512", "jsonl",
            {**MNIST1D, "model_kw": {"hidden": (256, 256), "dropout": 0.2}, "opt": "adam",
             "lr": 3e-3, "batch": 512, "epochs": 60}),
    "f25": ("reg-dim4-sgd-exp-decay-epochs", "tensorboard",
            {**REG, "data_kw": {"dim": 4, "noise": 0.1}, "n_train": 5000,
             "model_kw": {"hidden": (64, 64)}, "opt": "sgd", "lr": 0.05, "momentum": 0.9,
             "batch": 32, "epochs": 40, "sched": "exp", "sched_kw": {"gamma": 0.95}}),
    "f26": ("digits-cnn-adamw-onecycle-every-step", "text_step",
            {"model": "cnn", "model_kw": {"hidden": (12,)}, "opt": "adamw", "lr": 1e-3,
             "wd": 0.01, "batch": 32, "epochs": 12, **STEPS, "log_every": 1,
             "eval_every": 41, "sched": "onecycle", "sched_kw": {"max_lr": 4e-3}}),
    "f27": ("mnist1d-gru-adamw-warmup-cosine-steps", "hf_trainer_state",
            {**MNIST1D, "model": "gru", "model_kw": {"hidden": (96,)}, "opt": "adamw",
             "lr": 4e-3, "wd": 0.01, "batch": 64, "epochs": 25, **STEPS, "log_every": 10,
             "log_mode": "mean", "eval_every": 126, "clip": 1.0, "sched": "warmup_cosine",
             "sched_kw": {"warmup": 150}}),
    "f28": ("digits-mlp-adam-batch-4-small-lr", "text_bracket",
            {"model_kw": {"hidden": (64,)}, "opt": "adam", "lr": 1e-4, "batch": 4,
             "epochs": 15}),
    "f29": ("reg-tiny-scale-mlp-adam", "generic_csv",
            {**REG, "data_kw": {"dim": 6, "yscale": 0.01}, "n_train": 3000,
             "model_kw": {"hidden": (64, 64)}, "opt": "adam", "lr": 1e-3, "batch": 32,
             "epochs": 40, "sched": "cosine"}),
}

#: Faulty recipes: id -> (name, log format, generator config, the kinds the fault is meant to
#: produce). What a curve of a given seed shows can differ: read each disagreement on its curve.
PROBLEMS: dict[str, tuple[str, str, dict, tuple[str, ...]]] = {
    "p01": ("mnist1d-cnn-sgd-lr-2-blowup", "keras_csv",
            {**MNIST1D, "model": "cnn", "model_kw": {"hidden": (32,)}, "opt": "sgd", "lr": 2.0,
             "momentum": 0.9, "batch": 64, "epochs": 20}, ("divergence",)),
    "p02": ("teacher-deep-linear-lr-ramp-steps", "text_step",
            {"data": "teacher", "model_kw": {"hidden": (32, 32), "act": "identity"},
             "opt": "sgd", "lr": 1e-3, "momentum": 0.9, "batch": 32, "epochs": 30, **STEPS,
             "log_every": 10, "eval_every": 160, "sched": "exp", "sched_kw": {"gamma": 1.006}},
            ("divergence",)),
    "p03": ("digits-150-wide-mlp-adam-long", "jsonl",
            {"n_train": 150, "model_kw": {"hidden": (512, 512)}, "opt": "adam", "lr": 1e-3,
             "batch": 16, "epochs": 120}, ("overfitting",)),
    "p04": ("reg-200-noisy-mlp-adam-long", "generic_csv",
            {**REG, "data_kw": {"dim": 16, "noise": 0.5}, "n_train": 200,
             "model_kw": {"hidden": (256, 256)}, "opt": "adam", "lr": 3e-3, "batch": 32,
             "epochs": 300}, ("overfitting",)),
    "p05": ("mnist1d-gru-500-label-noise-steps", "tensorboard",
            {**MNIST1D, "n_train": 500, "label_noise": 0.3, "model": "gru",
             "model_kw": {"hidden": (128,)}, "opt": "adam", "lr": 3e-3, "batch": 32,
             "epochs": 80, **STEPS, "log_every": 16, "eval_every": 80}, ("overfitting",)),
    "p06": ("mnist1d-mlp-sgd-lr-0.3-bs16", "text_pipe",
            {**MNIST1D, "model_kw": {"hidden": (128,)}, "opt": "sgd", "lr": 0.3,
             "momentum": 0.9, "batch": 16, "epochs": 25}, ("oscillation",)),
    "p07": ("reg-rmsprop-lr-0.03-bs8", "keras_csv",
            {**REG, "model_kw": {"hidden": (64, 64)}, "opt": "rmsprop", "lr": 0.03,
             "batch": 8, "epochs": 30}, ("oscillation",)),
    "p08": ("mnist1d-cnn-adam-bad-batches-steps", "hf_trainer_state",
            {**MNIST1D, "model": "cnn", "model_kw": {"hidden": (32,)}, "opt": "adam",
             "lr": 2e-3, "batch": 64, "epochs": 20, **STEPS, "log_every": 5, "eval_every": 126,
             "corrupt_steps": {600: "both", 601: "both", 1500: "both", 1501: "both"}},
            ("spike",)),
    "p09": ("digits-gru-adam-bad-shards", "text_bracket",
            {"model": "gru", "model_kw": {"hidden": (64,)}, "opt": "adam", "lr": 3e-3,
             "batch": 32, "epochs": 30, "corrupt_epochs": {9: 0.5, 21: 0.5}}, ("spike",)),
    "p10": ("mnist1d-mlp-sgd-lr-1e-4", "jsonl",
            {**MNIST1D, "model_kw": {"hidden": (128, 128)}, "opt": "sgd", "lr": 1e-4,
             "batch": 64, "epochs": 30}, ("underfitting",)),
    "p11": ("digits-deep-tanh-tiny-init-sgd", "tensorboard",
            {"model_kw": {"hidden": (64, 64, 64, 64), "act": "tanh", "init_scale": 0.05},
             "opt": "sgd", "lr": 0.05, "momentum": 0.9, "batch": 32, "epochs": 60},
            ("plateau",)),
    "p12": ("reg-yscale1000-sgd-nan", "text_bracket",
            {**REG, "data_kw": {"yscale": 1000.0}, "model_kw": {"hidden": (64,)},
             "opt": "sgd", "lr": 0.05, "momentum": 0.9, "batch": 32, "epochs": 20},
            ("non_finite",)),
    "p13": ("teacher-linear-adam-late-lr-rise-noval", "jsonl",
            {"data": "teacher", "val": False, "model": "linear", "opt": "adam", "lr": 2e-3,
             "batch": 32, "epochs": 50, "sched": "late_rise",
             "sched_kw": {"start": 25, "factor": 80, "ramp": 10}}, ("loss_rising",)),
    "p14": ("digits-300-cnn-adam-long", "keras_csv",
            {"n_train": 300, "model": "cnn", "model_kw": {"hidden": (16,)}, "opt": "adam",
             "lr": 2e-3, "batch": 32, "epochs": 100}, ("overfitting", "loss_up_acc_up")),
}


def recipes() -> dict[str, tuple[str, str, dict, tuple[str, ...]]]:
    """Every recipe, healthy ones expecting no finding."""
    return {**{k: (*v, ()) for k, v in RECIPES.items()}, **PROBLEMS}


def specs(seeds: int, base: int) -> list[tuple[T.RunSpec, int, tuple[str, ...]]]:
    """(spec, seed, expected kinds) for every recipe and seed; ids ``fNN.s`` / ``pNN.s``."""
    out = []
    for rid, (name, fmt, cfg, expect) in recipes().items():
        spec = T.RunSpec(rid, name, "fresh", fmt, T.Cfg(**{**cfg, "seed": 0}))
        per_step = spec.cfg.granularity == "step"
        if (fmt in STEP_ONLY and not per_step) or (fmt in EPOCH_ONLY and per_step):
            raise ValueError(f"{rid}: format {fmt} does not fit {spec.cfg.granularity} logging")
        for s in range(seeds):
            out.append((dataclasses.replace(spec, id=f"{rid}.{s}"), base + s, expect))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=2, help="seeds per recipe (default 2)")
    parser.add_argument("--base", type=int, default=50_000, help="first seed (default 50000)")
    parser.add_argument("--only", nargs="*", default=None, help="recipe ids, e.g. f03 p11")
    parser.add_argument("--jobs", type=int, default=2, help="parallel training processes")
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR",
                        help="also keep the logs, in DIR/fresh+BASE/RUN_ID/")
    args = parser.parse_args(argv)
    keep = None if args.keep is None else args.keep / f"fresh{args.base:+d}"
    todo = [t for t in specs(args.seeds, args.base)
            if args.only is None or t[0].id.split(".")[0] in args.only]
    if not todo:
        parser.error("no recipe selected")
    t0 = time.time()
    healthy = alarms = faulty = matched = 0
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        jobs = [pool.submit(_train_and_diagnose, s, seed, keep) for s, seed, _ in todo]
        for (spec, _seed, expect), job in zip(todo, jobs, strict=True):
            rid, found = job.result()
            kinds = sorted({k for k, _m, _s in found})
            if expect:
                faulty += 1
                matched += set(expect) <= set(kinds)
            else:
                healthy += 1
                alarms += bool(kinds)
            print(f"{rid:6s} {spec.name:40s} {spec.fmt:17s} expect={','.join(expect) or '-':26s} "
                  f"got={','.join(kinds) or '-'}", flush=True)
            for kind, metric, summary in found:
                if kind not in expect:
                    print(f"    {kind} {metric}: {summary}")
    print(f"{len(todo)} runs trained in {time.time() - t0:.0f} s")
    if healthy:
        print(f"healthy recipes with a finding: {alarms}/{healthy} (read each on its curve)")
    if faulty:
        print(f"faulty recipes showing every expected kind: {matched}/{faulty}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
