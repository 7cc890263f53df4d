"""Measure the diagnosis on the labelled corpus: per-kind precision, recall and F1, false alarms
on healthy runs, and the localisation error of the best point for overfitting / loss_rising —
for lossdoctor and, side by side, for two published baselines.

    python evaluation/evaluate.py                 # every corpus, the summary tables
    python evaluation/evaluate.py --corpus real --details

A corpus is a folder of run folders (one log file or directory each) with a ``labels.json``
(``{"id": {"labels": [...], ...}}``, ids being the folder-name prefix before ``_``). A label
file ``labels_reviewed.json`` next to it, when present, overrides some labels after a closer look
(each with its reason); both readings are scored.

Baselines, on the canonical ``train_loss``/``val_loss`` series:
- ``early_stopping``: PyTorch Lightning's ``EarlyStopping(monitor="val_loss", patience=3,
  min_delta=0)`` — says ``overfitting`` when it would have stopped before the end; without a
  validation loss it monitors the training loss and says ``plateau``.
- ``sagemaker``: SageMaker Debugger's published rules with their default parameters:
  ``LossNotDecreasing(num_steps=10, diff_percent=0.1, increase_threshold_percent=5)`` on the
  training loss → ``plateau`` (not decreasing by 0.1% over 10 steps) or ``loss_rising``
  (increase above 5%); ``Overfit(start_step=0, patience=1, ratio_threshold=0.1)`` → ``overfitting``
  when (mean val − mean train)/mean train exceeds 0.1 for ``patience`` evaluations.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lossdoctor import read
from lossdoctor.diagnosis import diagnose_run
from lossdoctor.errors import LossdoctorError
from lossdoctor.findings import KINDS
from lossdoctor.run import Run

ROOT = Path(__file__).resolve().parent.parent
CORPORA = {"real": ROOT / "corpus" / "real", "generated": ROOT / "corpus" / "generated"}
PROBLEM_KINDS = [k for k in KINDS if k != "converged"]


def _log_file(run_dir: Path) -> Path:
    files = [p for p in sorted(run_dir.iterdir())
             if not p.name.startswith(".") and p.suffix.lower() != ".png"
             and p.name != "README.md"]
    return run_dir if len(files) != 1 else files[0]


def load_corpus(name: str) -> list[tuple[str, Path, set[str], set[str], dict]]:
    """[(id, path, original labels, reviewed labels, key_points)] of a corpus (the reviewed
    labels are the original ones where no review changed them)."""
    root = CORPORA[name]
    labels_path = root / "labels.json"
    if not labels_path.exists():
        return []
    labels = json.loads(labels_path.read_text())
    rev = root / "labels_reviewed.json"
    overrides = json.loads(rev.read_text()) if rev.exists() else {}
    out = []
    for d in sorted(p for p in root.iterdir() if p.is_dir() and p.name != "plots"):
        rid = d.name.split("_", 1)[0]
        if rid not in labels:
            continue
        original = set(labels[rid]["labels"])
        reviewed = set(overrides.get(rid, labels[rid])["labels"])
        out.append((f"{name}:{rid}", _log_file(d), original, reviewed,
                    labels[rid].get("key_points", {})))
    return out


# -- predictors ----------------------------------------------------------------------------
def predict_lossdoctor(runs: list[Run]) -> tuple[set[str], dict[str, list[dict]]]:
    kinds: set[str] = set()
    where: dict[str, list[dict]] = defaultdict(list)
    for run in runs:
        for f in diagnose_run(run).findings:
            if f.kind == "converged":
                continue
            kinds.add(f.kind)
            where[f.kind].append({"metric": f.metric, **f.start.to_dict()})
    return kinds, where


def _finite(run: Run, name: str) -> np.ndarray | None:
    s = run.series.get(name)
    if s is None:
        return None
    v = s.values[np.isfinite(s.values)]
    return v if len(v) else None


def _early_stop_triggers(v: np.ndarray, patience: int = 3) -> bool:
    best, wait = np.inf, 0
    for i, x in enumerate(v):
        if x < best:
            best, wait = x, 0
        else:
            wait += 1
            if wait >= patience and i < len(v) - 1:
                return True
    return False


def predict_early_stopping(runs: list[Run]) -> tuple[set[str], dict[str, list[dict]]]:
    kinds: set[str] = set()
    for run in runs:
        val = _finite(run, "val_loss")
        if val is not None:
            if _early_stop_triggers(val):
                kinds.add("overfitting")
            continue
        train = _finite(run, "train_loss")
        if train is not None and _early_stop_triggers(train):
            kinds.add("plateau")
    return kinds, {}


def predict_sagemaker(runs: list[Run]) -> tuple[set[str], dict[str, list[dict]]]:
    kinds: set[str] = set()
    for run in runs:
        train = _finite(run, "train_loss")
        if train is not None and len(train) > 10:
            for i in range(10, len(train), 10):
                prev, cur = train[i - 10], train[i]
                if prev == 0:
                    continue
                change = (prev - cur) / abs(prev) * 100
                if change < -5:
                    kinds.add("loss_rising")
                elif change < 0.1:
                    kinds.add("plateau")
        val = _finite(run, "val_loss")
        s_val, s_tr = run.series.get("val_loss"), run.series.get("train_loss")
        if val is not None and s_val is not None and s_tr is not None:
            # compare each validation point with the mean training loss logged up to it
            vx, tx = s_val.x, s_tr.x
            tv = s_tr.values
            ok = np.isfinite(tv)
            streak = 0
            for x, v in zip(vx, s_val.values, strict=True):
                m = ok & (tx <= x)
                if not np.isfinite(v) or not m.any():
                    continue
                mean_train = float(np.mean(tv[m]))
                if mean_train <= 0:
                    continue
                if (v - mean_train) / mean_train > 0.1:
                    streak += 1
                    if streak >= 1:
                        kinds.add("overfitting")
                        break
                else:
                    streak = 0
    return kinds, {}


PREDICTORS: dict[str, Callable[[list[Run]], tuple[set[str], dict[str, list[dict]]]]] = {
    "lossdoctor": predict_lossdoctor,
    "early_stopping": predict_early_stopping,
    "sagemaker": predict_sagemaker,
}
BASELINE_KINDS = {"early_stopping": {"overfitting", "plateau"},
                  "sagemaker": {"overfitting", "plateau", "loss_rising"}}


# -- scoring -------------------------------------------------------------------------------
def _loc_error(kind: str, key: dict, where: list[dict]) -> float | None:
    ref = key.get("val_min") if kind == "overfitting" else key.get("train_min") or key.get(
        "val_min")
    if not ref or not where:
        return None
    for unit in ("step", "epoch"):
        if ref.get(unit) is not None:
            got = [w[unit] for w in where if w.get(unit) is not None]
            if got:
                return float(min(abs(g - ref[unit]) for g in got))
    return None


def score(rows: list[tuple[str, set[str], set[str]]], kinds: list[str]) -> dict[str, dict]:
    out = {}
    for k in kinds:
        tp = sum(1 for _, lab, got in rows if k in lab and k in got)
        fp = sum(1 for _, lab, got in rows if k not in lab and k in got)
        fn = sum(1 for _, lab, got in rows if k in lab and k not in got)
        p = tp / (tp + fp) if tp + fp else math.nan
        r = tp / (tp + fn) if tp + fn else math.nan
        f1 = 2 * p * r / (p + r) if p + r and not math.isnan(p + r) else math.nan
        out[k] = {"support": tp + fn, "tp": tp, "fp": fp, "fn": fn, "precision": p,
                  "recall": r, "f1": f1}
    return out


def false_alarms(rows: list[tuple[str, set[str], set[str]]]) -> tuple[int, int]:
    """(healthy runs with a predicted problem not in their labels, healthy runs)."""
    healthy = [(lab, got) for _, lab, got in rows if "healthy" in lab]
    alarms = sum(1 for lab, got in healthy if got - lab)
    return alarms, len(healthy)


def _fmt(x: float) -> str:
    return "  -  " if isinstance(x, float) and math.isnan(x) else f"{x:.2f}"


def _table(title: str, rows: list[tuple[str, set[str], set[str]]],
           other: list[tuple[str, set[str], set[str]]] | None, other_name: str) -> dict:
    table = score(rows, PROBLEM_KINDS)
    second = score(other, PROBLEM_KINDS) if other is not None else None
    extra = f"  {other_name + ' n':>10s} {'F1':>5s}" if second else ""
    print(f"{title}\n{'kind':16s} {'n':>3s} {'tp':>3s} {'fp':>3s} {'fn':>3s} {'prec':>5s} "
          f"{'rec':>5s} {'F1':>5s}{extra}")
    for k, s in table.items():
        line = (f"{k:16s} {s['support']:3d} {s['tp']:3d} {s['fp']:3d} {s['fn']:3d} "
                f"{_fmt(s['precision']):>5s} {_fmt(s['recall']):>5s} {_fmt(s['f1']):>5s}")
        if second:
            line += f"  {second[k]['support']:10d} {_fmt(second[k]['f1']):>5s}"
        print(line)
    fa, nh = false_alarms(rows)
    line = f"false alarms on healthy runs: {fa}/{nh} = {fa / max(nh, 1):.1%}"
    if other is not None:
        ofa, onh = false_alarms(other)
        line += f"   ({other_name}: {ofa}/{onh} = {ofa / max(onh, 1):.1%})"
    print(line)
    return {"kinds": table, "false_alarms": [fa, nh]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", choices=[*CORPORA, "all"], default="all")
    ap.add_argument("--original-labels", action="store_true",
                    help="score against the original labels (default: the reviewed ones, with "
                    "the original scores alongside)")
    ap.add_argument("--details", action="store_true", help="print every run's labels and kinds")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = ap.parse_args(argv)
    names = list(CORPORA) if args.corpus == "all" else [args.corpus]
    items = [it for n in names for it in load_corpus(n)]
    if not items:
        print("no labelled corpus found", file=sys.stderr)
        return 2
    main_is = "original" if args.original_labels else "reviewed"
    other_is = "reviewed" if args.original_labels else "original"
    results: dict[str, dict[str, list[tuple[str, set[str], set[str]]]]] = {
        p: {"original": [], "reviewed": []} for p in PREDICTORS}
    loc: dict[str, list[float]] = defaultdict(list)
    for rid, path, original, reviewed, key in items:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                runs = read(path)
            except LossdoctorError as exc:
                print(f"{rid}: unreadable: {exc}", file=sys.stderr)
                continue
        labels = original if args.original_labels else reviewed
        for pname, predict in PREDICTORS.items():
            got, where = predict(runs)
            results[pname]["original"].append((rid, original, got))
            results[pname]["reviewed"].append((rid, reviewed, got))
            if pname == "lossdoctor":
                for k in ("overfitting", "loss_rising"):
                    if k in labels and k in got:
                        e = _loc_error(k, key, where[k])
                        if e is not None:
                            loc[k].append(e)
                if args.details:
                    mark = "" if (got - {"converged"}) == (labels - {"healthy"}) else "  <>"
                    print(f"{rid:14s} labels={','.join(sorted(labels)):45s} "
                          f"got={','.join(sorted(got)) or '-'}{mark}")
    ours = results["lossdoctor"]
    print(f"\nruns: {len(ours['reviewed'])} (corpus: {', '.join(names)})\n")
    summary: dict[str, object] = {"lossdoctor": _table(
        f"lossdoctor against the {main_is} labels (F1 against the {other_is} ones alongside):",
        ours[main_is], ours[other_is], other_is)}
    for k, errs in loc.items():
        print(f"best-point error for {k}: median {np.median(errs):g}, max {np.max(errs):g} "
              f"(x units of the log; {len(errs)} runs)")
    print(f"\nbaselines (same runs, {main_is} labels, the kinds they can say):")
    print(f"{'predictor':16s} {'kind':12s} {'prec':>5s} {'rec':>5s} {'F1':>5s}  false alarms")
    ltable = score(ours[main_is], PROBLEM_KINDS)
    for pname, kinds in BASELINE_KINDS.items():
        t = score(results[pname][main_is], sorted(kinds))
        bfa, bnh = false_alarms(results[pname][main_is])
        summary[pname] = {"kinds": t, "false_alarms": [bfa, bnh]}
        for k in sorted(kinds):
            print(f"{pname:16s} {k:12s} {_fmt(t[k]['precision']):>5s} {_fmt(t[k]['recall']):>5s} "
                  f"{_fmt(t[k]['f1']):>5s}  {bfa}/{bnh}   (lossdoctor F1 "
                  f"{_fmt(ltable[k]['f1'])})")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
