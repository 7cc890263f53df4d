"""Write a trained run's series in the log formats people really produce.

A run's record is a dict ``{"series": {name: {"step": [...], "epoch": [...], "value": [...]}},
"meta": {...}}`` with canonical names ``train_loss``, ``val_loss``, ``val_acc``, ``train_acc``,
``lr``, ``grad_norm``. ``meta`` holds ``granularity`` ("epoch" or "step"), ``epochs`` (planned),
``steps_per_epoch``, ``max_steps`` (planned), ``batch_size`` and the run's ``name``.

Each writer renders the record the way its tool would (metric names, number formatting, NaN and
inf spelt as that tool spells them) into a run directory. Used only by ``train_runs.py``.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

Record = dict[str, Any]


def _rows(rec: Record) -> list[dict[str, float]]:
    """The logged points grouped by step: one dict per step with ``_step``, ``_epoch`` and the
    metric values measured at that step, in step order."""
    rows: dict[int, dict[str, float]] = {}
    for name, s in rec["series"].items():
        for step, epoch, value in zip(s["step"], s["epoch"], s["value"], strict=True):
            row = rows.setdefault(int(step), {"_step": int(step), "_epoch": epoch})
            row[name] = value
    return [rows[k] for k in sorted(rows)]


def _f4(v: float) -> str:
    """Four decimals the way ``f"{loss:.4f}"`` prints them (nan, inf kept)."""
    return f"{v:.4f}"


def _lr(v: float) -> str:
    return f"{v:.2e}"


# ---------------------------------------------------------------- plain-text logs
def text_bracket(rec: Record, out: Path) -> list[str]:
    """Per-epoch console log: ``Starting Epoch 3/50`` / ``Epoch [3/50] Average Loss: 0.5709``."""
    meta = rec["meta"]
    total = meta["epochs"]
    lines = [f"Training {meta['model_desc']} on {meta['data_desc']} for {total} epochs"]
    for row in _rows(rec):
        e = int(row["_epoch"])
        lines.append(f"Starting Epoch {e}/{total}")
        if "train_loss" in row:
            lines.append(f"Epoch [{e}/{total}] Average Loss: {_f4(row['train_loss'])}")
        if "val_loss" in row:
            tail = f", Val Accuracy: {_f4(row['val_acc'])}" if "val_acc" in row else ""
            lines.append(f"Epoch [{e}/{total}] Val Loss: {_f4(row['val_loss'])}{tail}")
    if meta.get("stopped"):
        lines.append(meta["stopped"])
    lines.append("Training finished.")
    (out / "train.log").write_text("\n".join(lines) + "\n")
    return ["train.log"]


def text_pipe(rec: Record, out: Path) -> list[str]:
    """Per-epoch key/value log: ``epoch 3 | train_loss 0.4100 | val_loss 0.5200 | lr 1.00e-03``."""
    order = ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "grad_norm")
    lines = []
    for row in _rows(rec):
        parts = [f"epoch {int(row['_epoch'])}"]
        for name in order:
            if name in row:
                fmt = _lr if name == "lr" else _f4
                parts.append(f"{name} {fmt(row[name])}")
        lines.append(" | ".join(parts))
    if rec["meta"].get("stopped"):
        lines.append(rec["meta"]["stopped"])
    (out / "log.txt").write_text("\n".join(lines) + "\n")
    return ["log.txt"]


def text_step(rec: Record, out: Path) -> list[str]:
    """Per-step log: ``step 120 loss=0.4100 lr=1.00e-03`` and ``step 500 val_loss=... ``."""
    meta = rec["meta"]
    lines = [f"config: model={meta['model_desc']} data={meta['data_desc']} "
             f"batch_size={meta['batch_size']} max_steps={meta['max_steps']}"]
    for row in _rows(rec):
        step = row["_step"]
        if "train_loss" in row:
            parts = [f"step {step} loss={_f4(row['train_loss'])}"]
            if "lr" in row:
                parts.append(f"lr={_lr(row['lr'])}")
            if "grad_norm" in row:
                parts.append(f"grad_norm={row['grad_norm']:.3f}")
            lines.append(" ".join(parts))
        if "val_loss" in row:
            tail = f" val_acc={_f4(row['val_acc'])}" if "val_acc" in row else ""
            lines.append(f"step {step} val_loss={_f4(row['val_loss'])}{tail}")
    if meta.get("stopped"):
        lines.append(meta["stopped"])
    (out / "train.log").write_text("\n".join(lines) + "\n")
    return ["train.log"]


# ---------------------------------------------------------------- CSV
def keras_csv(rec: Record, out: Path) -> list[str]:
    """Keras ``CSVLogger``: 0-based ``epoch`` then the metric keys sorted, floats as ``repr``."""
    keras = {"train_loss": "loss", "train_acc": "accuracy", "val_loss": "val_loss",
             "val_acc": "val_accuracy", "lr": "learning_rate"}
    rows = _rows(rec)
    keys = sorted({keras[n] for row in rows for n in row if n in keras})
    with open(out / "training_log.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["epoch", *keys])
        for row in rows:
            named = {keras[n]: v for n, v in row.items() if n in keras}
            w.writerow([int(row["_epoch"]) - 1,
                        *(repr(named[k]) if k in named else "NA" for k in keys)])
    return ["training_log.csv"]


def generic_csv(rec: Record, out: Path) -> list[str]:
    """A hand-written CSV: ``step,train_loss,val_loss`` (per step) or ``epoch,...`` (per epoch);
    empty cells where a metric was not measured."""
    key = "step" if rec["meta"]["granularity"] == "step" else "epoch"
    names = [n for n in ("train_loss", "val_loss", "val_acc", "lr") if n in rec["series"]]
    with open(out / "losses.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow([key, *names])
        for row in _rows(rec):
            w.writerow([int(row["_" + key]),
                        *(f"{row[n]:.6g}" if n in row else "" for n in names)])
    return ["losses.csv"]


# ---------------------------------------------------------------- JSON
def hf_trainer_state(rec: Record, out: Path) -> list[str]:
    """Hugging Face ``trainer_state.json``: ``log_history`` of train/eval entries + summary."""
    meta = rec["meta"]
    spe = meta["steps_per_epoch"]
    history: list[dict[str, Any]] = []
    train_losses = []
    rows = _rows(rec)
    for row in rows:
        step = row["_step"]
        epoch = round(step / spe, 4)
        if "train_loss" in row:
            entry: dict[str, Any] = {"epoch": epoch}
            if "grad_norm" in row:
                entry["grad_norm"] = row["grad_norm"]
            entry["learning_rate"] = row.get("lr", meta["lr"])
            entry["loss"] = round(row["train_loss"], 4)
            entry["step"] = step
            history.append(entry)
            train_losses.append(row["train_loss"])
        if "val_loss" in row:
            ev: dict[str, Any] = {"epoch": epoch}
            if "val_acc" in row:
                ev["eval_accuracy"] = row["val_acc"]
            ev["eval_loss"] = row["val_loss"]
            ev["eval_runtime"] = 0.0412
            ev["eval_samples_per_second"] = 14521.3
            ev["eval_steps_per_second"] = 465.2
            ev["step"] = step
            history.append(ev)
    last = rows[-1]["_step"]
    secs = 0.01 * last  # synthetic, as the TensorBoard wall times: reruns give the same file
    finite = [v for v in train_losses if math.isfinite(v)]
    history.append({
        "epoch": round(last / spe, 4), "step": last, "total_flos": 0.0,
        "train_loss": sum(finite) / len(finite) if finite else float("nan"),
        "train_runtime": round(secs, 2),
        "train_samples_per_second": round(last * meta["batch_size"] / secs, 3),
        "train_steps_per_second": round(last / secs, 3),
    })
    evals = [e for e in history if "eval_loss" in e and math.isfinite(e["eval_loss"])]
    best = min(evals, key=lambda e: e["eval_loss"]) if evals else None
    state = {
        "best_metric": best["eval_loss"] if best else None,
        "best_model_checkpoint": f"out/checkpoint-{best['step']}" if best else None,
        "epoch": round(last / spe, 4),
        "eval_steps": meta.get("eval_every"),
        "global_step": last,
        "is_hyper_param_search": False,
        "is_local_process_zero": True,
        "is_world_process_zero": True,
        "log_history": history,
        "logging_steps": meta["log_every"],
        "max_steps": meta["max_steps"],
        "num_input_tokens_seen": 0,
        "num_train_epochs": meta["epochs"],
        "save_steps": meta.get("eval_every") or 500,
        "total_flos": 0.0,
        "train_batch_size": meta["batch_size"],
        "trial_name": None,
        "trial_params": None,
    }
    # json.dumps writes NaN/Infinity tokens, as transformers does (logging_nan_inf_filter=False)
    (out / "trainer_state.json").write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    return ["trainer_state.json"]


def jsonl(rec: Record, out: Path) -> list[str]:
    """One JSON dict per logged event: train events and eval events on separate lines."""
    per_step = rec["meta"]["granularity"] == "step"
    lines = []
    for row in _rows(rec):
        if per_step:
            head: dict[str, Any] = {"step": row["_step"], "epoch": round(row["_epoch"], 3)}
        else:
            head = {"epoch": int(row["_epoch"])}
        train = {k: row[k] for k in ("train_loss", "train_acc", "lr", "grad_norm") if k in row}
        val = {k: row[k] for k in ("val_loss", "val_acc") if k in row}
        if train:
            lines.append(json.dumps({**head, **train}))
        if val:
            lines.append(json.dumps({**head, **val}))
    (out / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    return ["metrics.jsonl"]


# ---------------------------------------------------------------- TensorBoard
def tensorboard(rec: Record, out: Path) -> list[str]:
    """Event file written by ``torch.utils.tensorboard.SummaryWriter`` (tags as people name them).

    Wall times are synthetic (0.01 s per step from a fixed origin) so reruns give the same
    scalars; the file is renamed to drop the host name SummaryWriter puts into it."""
    from torch.utils.tensorboard import SummaryWriter

    tags = {"train_loss": "Loss/train", "val_loss": "Loss/val", "val_acc": "Accuracy/val",
            "train_acc": "Accuracy/train", "lr": "LearningRate", "grad_norm": "GradNorm"}
    per_step = rec["meta"]["granularity"] == "step"
    tmp = out / "_tb"
    writer = SummaryWriter(log_dir=str(tmp))
    t0 = 1_700_000_000.0
    for name, s in rec["series"].items():
        for step, epoch, value in zip(s["step"], s["epoch"], s["value"], strict=True):
            x = int(step) if per_step else int(epoch)
            writer.add_scalar(tags[name], value, global_step=x, walltime=t0 + 0.01 * step)
    writer.close()
    (src,) = tmp.iterdir()
    name = f"events.out.tfevents.{int(t0)}.corpus.{rec['meta']['name']}"
    os.replace(src, out / name)
    tmp.rmdir()
    return [name]


WRITERS: dict[str, Callable[[Record, Path], list[str]]] = {
    "text_bracket": text_bracket,
    "text_pipe": text_pipe,
    "text_step": text_step,
    "keras_csv": keras_csv,
    "generic_csv": generic_csv,
    "hf_trainer_state": hf_trainer_state,
    "jsonl": jsonl,
    "tensorboard": tensorboard,
}

#: The series each format renders (the others a run recorded are not in its log).
ALL_SERIES = frozenset({"train_loss", "val_loss", "val_acc", "train_acc", "lr", "grad_norm"})
WRITES: dict[str, frozenset[str]] = {
    "text_bracket": frozenset({"train_loss", "val_loss", "val_acc"}),
    "text_pipe": ALL_SERIES,
    "text_step": ALL_SERIES - {"train_acc"},
    "keras_csv": ALL_SERIES - {"grad_norm"},
    "generic_csv": frozenset({"train_loss", "val_loss", "val_acc", "lr"}),
    "hf_trainer_state": ALL_SERIES - {"train_acc"},
    "jsonl": ALL_SERIES,
    "tensorboard": ALL_SERIES,
}

#: Formats that need the step axis (per-step logging) or the epoch axis (per-epoch logging).
STEP_ONLY = {"text_step", "hf_trainer_state"}
EPOCH_ONLY = {"text_bracket", "text_pipe", "keras_csv"}
