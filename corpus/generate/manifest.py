"""Write ``corpus/generated/MANIFEST.md`` from the cached runs and ``labels.json``.

One table row per run (regime, model, data, optimizer/LR/schedule, format, series and points,
labels) and the counts per label and per format. Run after ``train_runs.py``:

    .venv/bin/python corpus/generate/manifest.py
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "artifacts" / "corpus_cache"
GENERATED = ROOT / "corpus" / "generated"

FORMAT_NAMES = {
    "text_bracket": "text log, `Epoch [n/N] Average Loss: x`",
    "text_pipe": "text log, `epoch n | train_loss x | ...`",
    "text_step": "text log, `step n loss=x`",
    "keras_csv": "Keras CSVLogger CSV",
    "generic_csv": "generic CSV (`step`/`epoch`,`train_loss`,`val_loss`)",
    "hf_trainer_state": "Hugging Face trainer_state.json",
    "jsonl": "JSONL of metric dicts",
    "tensorboard": "TensorBoard event file (torch SummaryWriter)",
}
OPTIMIZERS = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop"}

HEADER = """\
# Generated corpus: real training runs trained here, labelled by eye

{n} training runs of tiny models trained for real on the CPU by
`corpus/generate/train_runs.py` (scikit-learn's `load_digits`, `mnist1d` generated offline with
`make_dataset(get_dataset_args())`, which builds the data from the package's templates without
any download (checked with sockets blocked), synthetic regression; MLPs, CNNs and GRU/RNNs in torch;
torch's own optimizers and LR schedulers; fixed seeds). Each directory `gNNN_<name>/` holds the
log exactly as the chosen logger format writes it (NaN/inf kept as `nan`/`inf`/`NaN`).
`labels.json` holds the labels (vocabulary: the finding kinds of DESIGN.md, plus `healthy` for
nothing to fix; `converged` is informational and not labelled), a confidence, notes and the key
points; `plots/gNNN.png` shows each run (train/val loss, accuracy, LR) as it was checked.

Regenerate: `.venv/bin/python corpus/generate/train_runs.py` (all runs, 2 processes; `--only
g012,overfit` for some), then `plot_runs.py` and `manifest.py` in the same folder. Training all
runs took {cpu} s of CPU time here (one thread per run; about half that in wall time with
2 processes on 2 idle cores). Not part of the test suite.

## How the labels were given
- Every label is what the curve **shows**, checked on its plot, not what the regime intended:
  a "too high LR" run that converged is `healthy`, an LR ramp that only bumped the loss is not
  `loss_rising`. The `regime` column says what was intended.
- `divergence`: the loss grows by orders of magnitude above its minimum (often to inf/nan);
  a rise of a few times that stays bounded (e.g. back to chance level) is `loss_rising`.
- `overfitting`: the validation loss rises after its minimum for the rest of the run (a
  sustained rise of about 10% of the minimum or more) while the training loss keeps falling;
  a smaller drift (g071: +5%) is labelled `healthy`. `loss_up_acc_up` is added when the
  validation accuracy rises or holds (within ~1 point) over the same span.
- `underfitting`: the loss is still clearly falling at the end (roughly: more than ~5% over the
  last fifth of the run with no flattening) or stays high; a slow, flattening creep is
  `healthy`.
- `plateau`: a stretch of at least ~10% of the run where the loss sits still, far above where
  it later goes. A loss stuck at chance level for the whole run (a dead network) is labelled
  `plateau` and `underfitting` (g009, g016, g056). A flat start *during an LR warmup* is not a
  plateau (g096, g099).
- `spike`: transient sharp jumps that recover; single noisy minibatch points in a per-step log
  are not spikes (g102). Jumps caused by a warm restart of the schedule are not spikes (g091).
- `oscillation`: the loss bounces around a floor with no downward trend and an amplitude large
  against its recent progress; peaks inside that bouncing are not labelled `spike` unless they
  stand well clear of the band.
- Confidence is `low` where a label is a judgement call; the notes say which way and why.

## Runs

"""
TABLE_HEAD = ("| id | file | regime | data | model | optimizer, LR, schedule | format "
              "| series (points) | labels (confidence) |\n|---|---|---|---|---|---|---|---|---|")


def _opt(cfg: dict[str, Any]) -> str:
    parts = [OPTIMIZERS[cfg["opt"]]]
    if cfg["momentum"]:
        parts[0] += f"+momentum {cfg['momentum']:g}" + (" (Nesterov)" if cfg["nesterov"] else "")
    parts.append(f"lr={cfg['lr']:g}")
    if cfg["wd"]:
        parts.append(f"wd={cfg['wd']:g}")
    if cfg["sched"]:
        kw = ", ".join(f"{k}={v}" for k, v in cfg["sched_kw"].items())
        parts.append(f"{cfg['sched']}({kw}) per {cfg['sched_unit']}")
    parts.append(f"batch {cfg['batch']}")
    extras = []
    if cfg["clip"]:
        extras.append(f"clip {cfg['clip']:g}")
    if cfg["patience"]:
        extras.append(f"early stopping (patience {cfg['patience']})")
    if cfg["stop_above"]:
        extras.append(f"stops when loss > {cfg['stop_above']:g}")
    if cfg["nan_patience"]:
        extras.append("stops after repeated NaN")
    if cfg["corrupt_steps"]:
        kinds = sorted(set(cfg["corrupt_steps"].values()))
        extras.append(f"corrupted batches ({'/'.join(kinds)}) at steps "
                      f"{', '.join(str(k) for k in sorted(map(int, cfg['corrupt_steps'])))}")
    if cfg["corrupt_epochs"]:
        extras.append("corrupted shards in epochs "
                      f"{', '.join(str(k) for k in sorted(map(int, cfg['corrupt_epochs'])))}")
    if cfg["naive_ce"]:
        extras.append("hand-written -log(softmax)")
    return ", ".join(parts + extras)


def _model(rec: dict[str, Any]) -> str:
    desc = rec["meta"]["model_desc"]
    mk = rec["cfg"]["model_kw"]
    if mk.get("dropout"):
        desc += f", dropout {mk['dropout']:g}"
    if mk.get("init_scale") is not None:
        desc += f", init x{mk['init_scale']:g}"
    return desc


def _cell(text: str) -> str:
    """`text` safe inside a Markdown table cell (a ``|`` would end the cell)."""
    return text.replace("|", "\\|")


def _series(rec: dict[str, Any]) -> str:
    return ", ".join(f"{k} {len(v['value'])}" for k, v in rec["series"].items())


def main() -> int:
    labels = json.loads((GENERATED / "labels.json").read_text())
    recs = [json.loads(p.read_text()) for p in sorted(CACHE.glob("g*.json"))]
    if not recs:
        print(f"no cached runs in {CACHE}; run train_runs.py first", file=sys.stderr)
        return 1
    missing = sorted({r["id"] for r in recs} ^ set(labels))
    if missing:
        print(f"runs and labels differ: {missing}", file=sys.stderr)
        return 1
    cpu = sum(r["meta"]["cpu_seconds"] for r in recs)
    rows = []
    for r in recs:
        lab = labels[r["id"]]
        unit = "per step" if r["meta"]["granularity"] == "step" else "per epoch"
        rows.append(
            f"| {r['id']} | `{r['dir']}/{r['files'][0]}` | {r['regime']} | {r['meta']['data_desc']}"
            f" | {_model(r)} | {_opt(r['cfg'])} | {_cell(FORMAT_NAMES[r['format']])}, {unit}"
            f" | {_series(r)} | {', '.join(lab['labels'])} ({lab['confidence']}) |")
    by_label = Counter(k for v in labels.values() for k in v["labels"])
    by_format = Counter(FORMAT_NAMES[r["format"]] for r in recs)
    by_unit = Counter(r["meta"]["granularity"] for r in recs)
    by_data = Counter(r["cfg"]["data"] for r in recs)
    by_conf = Counter(v["confidence"] for v in labels.values())
    sizes = sum(f.stat().st_size for d in GENERATED.glob("g*_*") for f in d.iterdir())
    step_points = [len(r["series"]["train_loss"]["value"]) for r in recs
                   if r["meta"]["granularity"] == "step"]
    epoch_points = [len(r["series"]["train_loss"]["value"]) for r in recs
                    if r["meta"]["granularity"] == "epoch"]
    steps_trained = [r["meta"]["steps_trained"] for r in recs
                     if r["meta"]["granularity"] == "step"]

    def counts(c: Counter[str]) -> str:
        return "; ".join(f"{k}: {n}" for k, n in c.most_common())

    out = [HEADER.format(n=len(recs), cpu=round(cpu)) + TABLE_HEAD, *rows, "", "## Counts", "",
           f"By label (a run can carry several): {counts(by_label)}.", "",
           f"By format: {counts(by_format)}.", "",
           f"By granularity: per-epoch logs {by_unit['epoch']} (train points "
           f"{min(epoch_points)}-{max(epoch_points)}), per-step logs {by_unit['step']} "
           f"({min(steps_trained)}-{max(steps_trained)} minibatch steps, "
           f"{min(step_points)}-{max(step_points)} logged train points).", "",
           f"By data: {counts(by_data)}. By confidence: {counts(by_conf)}.", "",
           f"Log files: {sizes / 1e6:.1f} MB in total.", ""]
    (GENERATED / "MANIFEST.md").write_text("\n".join(out))
    print(f"MANIFEST.md: {len(recs)} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
