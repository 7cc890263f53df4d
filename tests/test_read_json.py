"""The JSON/JSONL reader on real files (the corpus, files written by transformers' Trainer and
Keras 3), on hand-written W&B/JSONL files, and on bad input (including a hypothesis fuzz)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lossdoctor.errors import ReadError
from lossdoctor.read import jsonlog
from lossdoctor.read import read as read_any
from lossdoctor.run import Run

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus" / "real"
FIX = ROOT / "tests" / "fixtures" / "json"


def corpus_file(run_id: str) -> Path:
    (d,) = CORPUS.glob(f"{run_id}_*")
    (f,) = d.glob("*.json")
    return f


def sniffs(path: Path) -> bool:
    with open(path, "rb") as f:
        return jsonlog.sniff(path, f.read(65536))


def read1(path: Path) -> Run:
    runs = jsonlog.read(path)
    assert len(runs) == 1, runs
    return runs[0]


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    return p


# ----------------------------------------------------------------- the corpus (MANIFEST.md)

# id → canonical series → points, as listed in corpus/real/MANIFEST.md ("points" column).
MANIFEST = {
    "001": {"train_loss": 55, "val_loss": 10},
    "002": {"train_loss": 892, "val_loss": 89, "val_acc": 89},
    "003": {"train_loss": 22, "val_loss": 11, "val_acc": 11},
    "004": {"train_loss": 60, "val_loss": 6, "eval_wer": 6},
    "005": {"train_loss": 200, "val_loss": 5, "eval_wer": 5},
    "006": {"train_loss": 291, "val_loss": 29},
    "007": {"train_loss": 100},
    "008": {"train_loss": 2000, "val_loss": 100},
    "009": {"train_loss": 186, "val_loss": 14, "eval_mean_token_accuracy": 14},
    "010": {"train_loss": 300},
    "011": {"train_loss": 430},
    "012": {"train_loss": 542, "val_loss": 10, "val_acc": 10},
    "013": {"train_loss": 150, "val_loss": 15, "eval_wer": 15},
    "014": {"train_loss": 20, "val_loss": 10, "val_acc": 10},
    "015": {"train_loss": 700, "val_loss": 70},
    "016": {"train_loss": 90, "val_loss": 18},
    "017": {"train_loss": 642},
    "018": {"train_loss": 63, "val_loss": 6, "eval_f1": 6},
}


@pytest.mark.parametrize("run_id", sorted(MANIFEST))
def test_corpus_trainer_state(run_id: str) -> None:
    path = corpus_file(run_id)
    assert sniffs(path)
    run = read1(path)
    assert run.format == "hf_trainer_state"
    assert run.name == path.parent.name
    assert run.warnings == []
    raw = json.loads(path.read_text())
    for name, points in MANIFEST[run_id].items():
        assert len(run[name]) == points, name
    # Series hold exactly the logged entries, in order, with their steps and epochs.
    for name, key in (("train_loss", "loss"), ("val_loss", "eval_loss")):
        if name not in MANIFEST[run_id]:
            assert name not in run
            continue
        rows = [e for e in raw["log_history"] if key in e]
        s = run[name]
        assert s.original == key
        np.testing.assert_array_equal(s.values, [e[key] for e in rows])
        np.testing.assert_array_equal(s.steps, [e["step"] for e in rows])
        np.testing.assert_array_equal(s.epochs, [e["epoch"] for e in rows])
    # Throughput, runtime and the final summary entry are not series; the summary is meta.
    assert not any(n.endswith(("_runtime", "_per_second")) for n in run.series)
    assert "total_flos" not in run.series
    summary = [e for e in raw["log_history"] if "train_runtime" in e]
    if summary:
        assert run.meta["train_runtime"] == summary[-1]["train_runtime"]
        assert run.meta["train_loss"] == summary[-1]["train_loss"]
    for key in ("best_metric", "max_steps", "num_train_epochs"):
        assert run.meta[key] == raw[key]


def test_corpus_values_exact() -> None:
    run = read1(corpus_file("001"))
    s = run["train_loss"]
    assert (s.steps[0], s.epochs[0], s.values[0]) == (500, 0.1786033220217896, 0.8146)
    assert (s.steps[-1], s.values[-1]) == (27500, 0.0361)
    assert run["grad_norm"].values[0] == 3.0125367641448975
    assert run["lr"].values[0] == 4.9112182922472315e-05
    assert run["val_loss"].values[-1] == 1.2323447465896606
    assert run.meta["best_model_checkpoint"] is None and run.meta["logging_steps"] == 500
    run = read1(corpus_file("008"))
    assert run["eval_wer"].direction == "min"
    assert (run["eval_wer"].steps[0], run["eval_wer"].values[0]) == (1000, 61.96711327649208)
    # TRL's cumulative token counter is not a metric.
    assert "num_tokens" not in read1(corpus_file("009")).series


def test_corpus_custom_json_negative_loss() -> None:
    path = corpus_file("058")
    assert sniffs(path)
    run = read1(path)
    assert run.format == "json"
    assert set(run.series) == {"train_loss", "val_rho"}
    raw = json.loads(path.read_text())["epochs"]
    assert len(run["train_loss"]) == len(run["val_rho"]) == 35
    np.testing.assert_array_equal(run["train_loss"].values, [e["loss"] for e in raw])
    assert run["train_loss"].values[0] == -0.5228120668280509
    np.testing.assert_array_equal(run["val_rho"].epochs, np.arange(1, 36))
    assert run["val_rho"].axis == "epoch" and run["val_rho"].direction == "max"


# ----------------------------------------------------------------- files from the real tools


def test_hf_trainer_fixture() -> None:
    path = FIX / "hf_bert" / "trainer_state.json"
    raw = json.loads(path.read_text())
    run = read1(path)
    assert run.format == "hf_trainer_state" and run.name == "hf_bert"
    assert set(run.series) == {"train_loss", "grad_norm", "lr", "val_loss", "val_acc"}
    train = [e for e in raw["log_history"] if "loss" in e]
    evals = [e for e in raw["log_history"] if "eval_loss" in e]
    assert len(train) == 6 and len(evals) == 3  # logging_steps=2, eval_steps=4, 12 steps
    np.testing.assert_array_equal(run["train_loss"].steps, [2, 4, 6, 8, 10, 12])
    np.testing.assert_array_equal(run["grad_norm"].values, [e["grad_norm"] for e in train])
    np.testing.assert_array_equal(run["val_loss"].steps, [4, 8, 12])
    np.testing.assert_array_equal(run["val_acc"].values, [e["eval_accuracy"] for e in evals])
    assert run.meta["eval_steps"] == 4 and run.meta["logging_steps"] == 2
    assert run.meta["max_steps"] == 12 and run.meta["train_batch_size"] == 8
    assert "train_runtime" in run.meta and "train_runtime" not in run.series


def test_hf_nan_hidden_by_logging_filter() -> None:
    run = read1(FIX / "hf_nan" / "trainer_state.json")
    loss, grad = run["train_loss"], run["grad_norm"]
    assert np.isfinite(loss.values).all()  # the Trainer logged finite losses ...
    assert np.isnan(grad.values[4:]).all() and np.isfinite(grad.values[:4]).all()  # ... not these
    (warning,) = run.warnings
    assert "grad_norm is non-finite at 6 logged steps" in warning and "step 5" in warning


def test_hf_nan_tokens_unfiltered() -> None:
    path = FIX / "hf_nan_unfiltered" / "trainer_state.json"
    assert b": NaN" in path.read_bytes()
    run = read1(path)
    assert np.isnan(run["train_loss"].values[4:]).all()
    assert np.isfinite(run["train_loss"].values[:4]).all()
    assert math.isnan(run.meta["train_loss"])
    assert run.warnings == []


@pytest.mark.slow
def test_hf_trainer_live(tmp_path: Path) -> None:
    """Trainer of the installed transformers version → trainer_state.json → the reader."""
    pytest.importorskip("transformers")
    script = f"""
import sys
sys.path.insert(0, {str(FIX)!r})
import make_fixtures
from pathlib import Path
make_fixtures._hf_bert(Path({str(tmp_path)!r}) / "run" / "trainer_state.json")
"""
    env = {**os.environ, "KERAS_BACKEND": "torch", "TRANSFORMERS_OFFLINE": "1",
           "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, capture_output=True,
                   timeout=300)
    run = read1(tmp_path / "run" / "trainer_state.json")
    assert run.format == "hf_trainer_state" and run.name == "run"
    assert len(run["train_loss"]) == 6 and len(run["val_loss"]) == 3
    assert len(run["val_acc"]) == 3 and len(run["grad_norm"]) == 6
    assert "train_runtime" in run.meta


def test_keras_history() -> None:
    path = FIX / "keras_history.json"
    raw = json.loads(path.read_text())
    assert sniffs(path)
    run = read1(path)
    assert run.format == "keras_history"
    assert set(run.series) == {"train_loss", "val_loss", "train_acc", "val_acc"}
    for name, key in (("train_loss", "loss"), ("val_loss", "val_loss"),
                      ("train_acc", "accuracy"), ("val_acc", "val_accuracy")):
        np.testing.assert_array_equal(run[name].values, raw[key])
        np.testing.assert_array_equal(run[name].epochs, np.arange(6))  # 0-based, as Keras
        assert run[name].axis == "epoch" and not run[name].has_steps


def test_keras_history_validation_freq() -> None:
    run = read1(FIX / "keras_history_valfreq.json")
    assert len(run["train_loss"]) == 6 and len(run["val_loss"]) == 3
    assert run["val_loss"].axis == "index"  # which epochs were validated is not in the dump
    assert any("'val_loss' has 3 values for 6 epochs" in w for w in run.warnings)


def test_keras_history_pandas_to_json(tmp_path: Path) -> None:
    p = write(tmp_path, "hist.json", json.dumps(
        {"loss": {"0": 0.9, "1": 0.5, "2": 0.4}, "val_loss": {"0": 1.0, "1": 0.7, "2": None}}))
    run = read1(p)
    assert run.format == "keras_history"
    np.testing.assert_array_equal(run["val_loss"].epochs, [0, 1, 2])
    assert math.isnan(run["val_loss"].values[2])  # pandas writes NaN as null


def test_tensorboard_json_download() -> None:
    path = FIX / "run-run1-tag-train_loss.json"
    raw = json.loads(path.read_text())
    assert sniffs(path)
    run = read1(path)
    assert (run.name, run.format) == ("run1", "tensorboard_json")
    s = run["train_loss"]
    assert s.original == "train_loss"  # the tag, from the file name
    np.testing.assert_array_equal(s.steps, [r[1] for r in raw])
    assert raw[2][2] == "NaN" and math.isnan(s.values[2])  # TensorBoard writes NaN as a string
    np.testing.assert_array_equal(np.delete(s.values, 2), [r[2] for i, r in enumerate(raw)
                                                          if i != 2])


def test_tensorboard_json_needs_wall_times(tmp_path: Path) -> None:
    assert not sniffs(write(tmp_path, "m.json", "[[1, 2, 3], [4, 5, 6]]"))
    p = write(tmp_path, "scalars.json", "[[1700000000.5, 3, 0.5], [1700000001.5, 4, NaN]]")
    assert sniffs(p)
    run = read1(p)
    assert list(run.series) == ["scalars"] and run["scalars"].steps.tolist() == [3, 4]


@pytest.mark.parametrize(("name", "fmt"), [
    ("hf_bert/trainer_state.json", "hf_trainer_state"),
    ("keras_history.json", "keras_history"),
    ("wandb-history.jsonl", "wandb_history"),
    ("run-run1-tag-train_loss.json", "tensorboard_json"),
])
def test_auto_detected_by_read(name: str, fmt: str) -> None:
    assert [r.format for r in read_any(FIX / name)] == [fmt]


def test_wandb_history() -> None:
    path = FIX / "wandb-history.jsonl"
    assert sniffs(path)
    run = read1(path)
    assert run.format == "wandb_history"
    assert set(run.series) == {"train_loss", "grad_norm", "lr", "val_loss", "val_acc",
                               "test.loss", "test.accuracy"}
    loss = run["train_loss"]
    assert loss.original == "train/loss"
    # train/global_step (logged by the HF callback) is the step, not W&B's own _step.
    np.testing.assert_array_equal(loss.steps, np.arange(5, 45, 5))
    np.testing.assert_array_equal(loss.epochs, np.arange(1, 9) / 4)
    assert math.isnan(loss.values[5]) and np.isfinite(np.delete(loss.values, 5)).all()
    np.testing.assert_array_equal(run["val_loss"].steps, [20, 40])
    assert run["test.loss"].values.tolist() == [0.35]
    for bookkeeping in ("_runtime", "_timestamp", "eval/runtime", "eval/samples_per_second"):
        assert all(s.original != bookkeeping for s in run)
    assert not any("examples" in n or "gradients" in n for n in run.series)  # media


def test_wandb_uses_step_when_nothing_else(tmp_path: Path) -> None:
    rows = [{"loss": 1.0 / (i + 1), "_step": i, "_runtime": i * 2.5, "_timestamp": 1e9 + i}
            for i in range(4)]
    p = write(tmp_path, "wandb-history.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    run = read1(p)
    assert run.format == "wandb_history"
    assert list(run.series) == ["train_loss"]
    np.testing.assert_array_equal(run["train_loss"].steps, [0, 1, 2, 3])


def test_wandb_run_dir_name(tmp_path: Path) -> None:
    d = tmp_path / "wandb" / "run-20240101_120000-abc123" / "files"
    d.mkdir(parents=True)
    (d / "wandb-history.jsonl").write_text('{"_step": 0, "loss": 1.5}\n{"_step": 1, "loss": 1.2}\n')
    assert read1(d / "wandb-history.jsonl").name == "run-20240101_120000-abc123"


# ----------------------------------------------------------------------- generic JSON/JSONL


def test_generic_jsonl(tmp_path: Path) -> None:
    lines = [
        {"epoch": 0, "step": 10, "train_loss": 1.2, "lr": 0.1, "time": 3.2},
        {"epoch": 0, "step": 20, "train_loss": 1.0, "lr": 0.1, "time": 6.1},
        {"epoch": 1, "step": 20, "val_loss": 1.1, "val_acc": 0.6},
        {"epoch": 1, "step": 30, "train_loss": "NaN", "lr": 0.05, "note": "x"},
    ]
    p = write(tmp_path, "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in lines))
    assert sniffs(p)
    run = read1(p)
    assert run.format == "jsonl" and run.name == "metrics"
    assert set(run.series) == {"train_loss", "lr", "val_loss", "val_acc"}
    np.testing.assert_array_equal(run["train_loss"].steps, [10, 20, 30])
    np.testing.assert_array_equal(run["train_loss"].epochs, [0, 0, 1])
    assert math.isnan(run["train_loss"].values[2])
    assert run["val_acc"].values.tolist() == [0.6]


def test_jsonl_bare_nan_and_infinity(tmp_path: Path) -> None:
    p = write(tmp_path, "m.jsonl", '{"step": 1, "loss": NaN}\n{"step": 2, "loss": Infinity}\n'
                                    '{"step": 3, "loss": -Infinity}\n{"step": 4, "loss": 1e999}\n')
    v = read1(p)["train_loss"].values
    assert math.isnan(v[0]) and v[1] == math.inf and v[2] == -math.inf and v[3] == math.inf


def test_jsonl_appended_runs_are_split(tmp_path: Path) -> None:
    rows = [{"step": s, "loss": 1.0 / s} for s in (1, 2, 3)] + [
        {"step": s, "loss": 2.0 / s} for s in (1, 2)]
    p = write(tmp_path, "log.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    runs = jsonlog.read(p)
    assert [r.name for r in runs] == ["log", "log#2"]
    assert [len(r["train_loss"]) for r in runs] == [3, 2]
    np.testing.assert_array_equal(runs[1]["train_loss"].values, [2.0, 1.0])


def test_jsonl_resumed_run_is_not_split(tmp_path: Path) -> None:
    # Resumed from a checkpoint at step 20 after reaching 30: the same run, not a new one.
    steps = [10, 20, 30, 20, 30, 40]
    p = write(tmp_path, "log.jsonl", "".join(json.dumps({"step": s, "loss": 1.0}) + "\n"
                                             for s in steps))
    (run,) = jsonlog.read(p)
    np.testing.assert_array_equal(run["train_loss"].steps, steps)


def test_mmengine_scalars() -> None:
    # written by MMEngine's Runner (make_fixture.py): training rows carry epoch, iter and step
    # (the global iteration); validation rows only "step", which is then the epoch
    (run,) = jsonlog.read(FIX / "mmengine" / "scalars.json")
    assert not run.warnings
    assert sorted(run.series) == ["lr", "train_loss", "val_acc", "val_loss"]
    train, val = run["train_loss"], run["val_loss"]
    assert len(train) == 160 and len(val) == len(run["val_acc"]) == 40
    np.testing.assert_array_equal(train.steps[:3], [10, 20, 30])
    np.testing.assert_array_equal(train.epochs[:5], [1, 1, 1, 1, 2])
    np.testing.assert_array_equal(val.epochs, np.arange(1, 41))
    assert np.isnan(val.steps).all()
    last = (FIX / "mmengine" / "scalars.json").read_text().splitlines()[-1]
    assert val.values[-1] == json.loads(last)["val_loss"]


def _mmcv_rows() -> list[dict[str, object]]:
    """The MMEngine fixture's run in MMCV 1.x's JSON log layout: a header record, training
    rows whose "iter" counts the batches of the epoch (45 a epoch), validation rows with
    "mode": "val" (MMCV's `TextLoggerHook`)."""
    rows: list[dict[str, object]] = [{"env_info": "sys.platform: linux", "seed": 0}]
    for line in (FIX / "mmengine" / "scalars.json").read_text().splitlines():
        r = json.loads(line)
        if "epoch" in r:
            rows.append({"mode": "train", "epoch": r["epoch"],
                         "iter": int(r["iter"]) - 45 * (int(r["epoch"]) - 1), "lr": r["lr"],
                         "memory": 812, "data_time": r["data_time"], "loss": r["loss"],
                         "time": r["time"]})
        else:
            rows.append({"mode": "val", "epoch": r["step"], "iter": 3, "lr": 0.1,
                         "loss": r["val_loss"], "accuracy": r["accuracy"]})
    return rows


def test_mmcv_json_log_epoch_local_iterations(tmp_path: Path) -> None:
    # the batch counter restarts every epoch: one run, not 40; the points keep their epoch
    p = write(tmp_path, "20230101_120000.log.json",
              "".join(json.dumps(r) + "\n" for r in _mmcv_rows()))
    (run,) = jsonlog.read(p)
    assert [m.code for m in run.warnings] == ["read.no_epoch_length"]
    assert sorted(run.series) == ["lr", "train_loss", "val_acc", "val_loss"]
    (ref,) = jsonlog.read(FIX / "mmengine" / "scalars.json")
    for name in ("train_loss", "val_loss", "val_acc"):
        np.testing.assert_array_equal(run[name].values, ref[name].values)
        np.testing.assert_array_equal(run[name].epochs, ref[name].epochs)
    assert run["train_loss"].axis == "index"  # positioned by order within each epoch


def test_jsonl_restart_of_epoch_and_step_is_a_new_run(tmp_path: Path) -> None:
    rows = [{"epoch": e, "iter": i, "loss": 1.0} for e in (1, 2) for i in (10, 20)] * 2
    p = write(tmp_path, "log.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    assert [len(r["train_loss"]) for r in jsonlog.read(p)] == [4, 4]


def test_jsonl_numbers_written_as_strings(tmp_path: Path) -> None:
    # fairseq's --log-format json writes its statistics as strings
    rows = [{"epoch": e, "train_loss": f"{3.0 / e:.3f}", "train_num_updates": str(100 * e),
             "train_lr": "2.79871e-07", "id": "17"} for e in (1, 2, 3)]
    p = write(tmp_path, "log.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    (run,) = jsonlog.read(p)
    assert sorted(run.series) == ["lr", "train_loss"]
    np.testing.assert_array_equal(run["train_loss"].values, [3.0, 1.5, 1.0])


def test_jsonl_malformed_lines_are_skipped(tmp_path: Path) -> None:
    text = ('{"step": 1, "loss": 1.0}\n{"step": 2, "loss": \n{"step": 3, "loss": 0.8}\n'
            "not json at all\n[1, 2]\n\n{\"step\": 4, \"loss\": 0.7}\n")
    run = read1(write(tmp_path, "m.jsonl", text))
    np.testing.assert_array_equal(run["train_loss"].steps, [1, 3, 4])
    assert "skipped 2 malformed JSON lines (first at line 2)" in run.warnings
    assert "skipped 1 lines that are JSON but not objects" in run.warnings


def test_jsonl_truncated_last_line(tmp_path: Path) -> None:
    text = '{"step": 1, "loss": 1.0}\n{"step": 2, "loss": 0.9}\n{"step": 3, "lo'
    run = read1(write(tmp_path, "m.jsonl", text))
    assert len(run["train_loss"]) == 2
    assert run.warnings == ["last line (3) is incomplete: the file is still being written or "
                            "was cut off"]


def test_jsonl_streams_large_file(tmp_path: Path) -> None:
    n = 30_000  # ~1 MB: bigger than the sniffing head, read line by line
    p = tmp_path / "big.jsonl"
    with open(p, "w") as f:
        for i in range(n):
            f.write(json.dumps({"global_step": i, "loss": 1.0 / (i + 1), "_step": i}) + "\n")
    assert p.stat().st_size > 65536 and sniffs(p)
    run = read1(p)
    assert len(run["train_loss"]) == n and run["train_loss"].steps[-1] == n - 1


def test_two_line_jsonl(tmp_path: Path) -> None:
    p = write(tmp_path, "m.jsonl", '{"epoch": 1, "loss": 0.5, "val_loss": 0.6}\n'
                                   '{"epoch": 2, "loss": 0.4, "val_loss": 0.5}\n')
    assert sniffs(p)
    run = read1(p)
    assert run["val_loss"].epochs.tolist() == [1.0, 2.0]


@pytest.mark.parametrize("text", [
    '{"epoch": 1, "loss": 0.5, "val_loss": 0.6}\n',  # a one-line JSONL
    json.dumps({"epoch": 3.0, "eval_loss": 0.41, "eval_accuracy": 0.86}, indent=4),
])
def test_a_single_record_is_a_summary(tmp_path: Path, text: str) -> None:
    p = write(tmp_path, "m.json", text)
    assert sniffs(p)  # claimed, to say what it is
    with pytest.raises(ReadError, match=r"m\.json: no training curve found \(one record of "
                                        r"numbers: a summary of final values, not a curve\)$"):
        read_any(p)


def test_json_document_with_prefixed_tables(tmp_path: Path) -> None:
    doc = {"model": "resnet", "best_epoch": 2,
           "train": [{"epoch": 1, "loss": 0.9}, {"epoch": 2, "loss": 0.5}],
           "val": [{"epoch": 1, "loss": 1.0, "acc": 0.5}, {"epoch": 2, "loss": 0.8, "acc": 0.7}]}
    p = write(tmp_path, "results.json", json.dumps(doc, indent=2))
    assert sniffs(p)
    run = read1(p)
    assert run.format == "json"
    assert set(run.series) == {"train_loss", "val_loss", "val_acc"}
    assert run["val_loss"].original == "val/loss"
    assert run.meta == {"model": "resnet", "best_epoch": 2}


def test_json_document_with_runs_in_a_list(tmp_path: Path) -> None:
    doc = {"runs": [{"name": "a", "history": [{"step": 1, "loss": 1.0}, {"step": 2, "loss": 0.5}]},
                    {"name": "b", "history": [{"step": 1, "loss": 2.0}]}]}
    p = write(tmp_path, "sweep.json", json.dumps(doc))
    runs = jsonlog.read(p)
    assert [r.name for r in runs] == ["sweep[0]", "sweep[1]"]
    assert [len(r["train_loss"]) for r in runs] == [2, 1]


def test_capitalised_axis_keys(tmp_path: Path) -> None:
    rows = [{"Epoch": e, "Train Loss": 1.0 / e, "Valid Loss": 1.2 / e} for e in (1, 2, 3)]
    p = write(tmp_path, "history.json", json.dumps({"history": rows}))
    run = read1(p)
    assert set(run.series) == {"train_loss", "val_loss"}
    assert run["val_loss"].epochs.tolist() == [1, 2, 3]


def test_json_root_list_of_records(tmp_path: Path) -> None:
    p = write(tmp_path, "log.json", json.dumps([{"iteration": i, "loss": 1 / i, "acc": i / 10}
                                                 for i in range(1, 6)]))
    run = read1(p)
    assert run["train_loss"].steps.tolist() == [1, 2, 3, 4, 5]
    assert run["train_acc"].values.tolist() == [0.1, 0.2, 0.3, 0.4, 0.5]


def test_large_trainer_state_is_sniffed(tmp_path: Path) -> None:
    log = [{"epoch": i / 100, "learning_rate": 1e-4, "loss": 2.0 - i / 1000, "step": i}
           for i in range(1, 2001)]
    state = {"best_metric": None, "epoch": 20.0, "global_step": 2000, "log_history": log,
             "max_steps": 2000}
    p = write(tmp_path, "trainer_state.json", json.dumps(state, indent=2))
    assert p.stat().st_size > 65536 and sniffs(p)
    assert len(read1(p)["train_loss"]) == 2000


def test_document_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = write(tmp_path, "h.json", json.dumps({"loss": [1.0] * 1000}))
    monkeypatch.setattr(jsonlog, "MAX_DOCUMENT_BYTES", 1000)
    with pytest.raises(ReadError, match=r"over the 0 MiB limit; write it as JSONL"):
        jsonlog.read(p)


# ------------------------------------------------------------------------------ not claimed


@pytest.mark.parametrize("text", [
    # a model config, a tokenizer-like file, a dataset JSONL, a CSV, a text log, HF's
    # console output (Python dicts, not JSON)
    json.dumps({"hidden_size": 768, "num_hidden_layers": 12, "epochs": 10, "lr": 0.1,
                "id2label": {"0": "NEG", "1": "POS"}, "image_mean": [0.5, 0.5, 0.5]}),
    json.dumps({"version": "1.0", "added_tokens": [{"id": 0, "content": "[PAD]"}],
                "model": {"vocab": {"loss": 17, "step": 18}}}),
    '{"text": "hello", "label": 1}\n{"text": "bye", "label": 0}\n',
    "epoch,loss,val_loss\n0,1.0,1.1\n1,0.8,0.9\n",
    "Epoch 1/10 - loss: 0.5 - val_loss: 0.6\n",
    "{'loss': 0.6945, 'grad_norm': 0.11, 'learning_rate': 0.00025, 'epoch': 1.25}\n",
    "[]",
    "{}",
])
def test_not_claimed(tmp_path: Path, text: str) -> None:
    assert not sniffs(write(tmp_path, "x.json", text))


@pytest.mark.parametrize(("doc", "problem"), [
    # notes on runs: short lists of numbers under metric names, and spans
    ({"g019": {"labels": ["spike"], "key_points": {"spikes": {"train_loss": [120, 480],
                                                              "val_loss": [12]}}},
      "g061": {"key_points": {"plateaus": [{"range": [1, 8], "val_loss": 4.52},
                                           {"range": [14, 24], "val_loss": 0.347}]}}},
     "no training curve found (metric-like numbers only here and there in the document"),
    # a Keras history whose training columns differ in length is not a history
    ({"loss": [0.9, 0.5, 0.4], "accuracy": [0.7]}, "no training curve found (metric-like"),
    # one record in a list
    ({"results": [{"epoch": 3, "eval_loss": 0.41}]},
     "no training curve found (one record of numbers: a summary"),
    # records each at its own step, but no metric twice
    ({"log": [{"step": 1, "loss": 0.9}, {"step": 2, "val_loss": 0.8}]},
     "no training curve found (no metric is recorded more than once)"),
])
def test_documents_without_a_curve(tmp_path: Path, doc: object, problem: str) -> None:
    p = write(tmp_path, "notes.json", json.dumps(doc, indent=1))
    with pytest.raises(ReadError) as info:
        jsonlog.read(p)
    assert problem in info.value.problem


def test_a_history_under_a_key_is_not_read_but_records_are(tmp_path: Path) -> None:
    nested = {"history": {"loss": [0.9, 0.5], "val_loss": [1.0, 0.7]}}
    assert not sniffs(write(tmp_path, "a.json", json.dumps(nested)))
    records = {"history": [{"loss": 0.9, "val_loss": 1.0}, {"loss": 0.5, "val_loss": 0.7}]}
    run = read1(write(tmp_path, "b.json", json.dumps(records)))
    assert run["val_loss"].values.tolist() == [1.0, 0.7]


def test_large_tokenizer_like_json_not_claimed(tmp_path: Path) -> None:
    vocab = {f"tok{i}": i for i in range(20000)} | {"loss": 20001, "epoch": 20002}
    p = write(tmp_path, "tokenizer.json", json.dumps(
        {"version": "1.0", "added_tokens": [{"id": 0, "special": True}],
         "model": {"type": "BPE", "vocab": vocab, "merges": ["a b"] * 100}}))
    assert p.stat().st_size > 65536
    assert not sniffs(p)


# --------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(("content", "problem"), [
    (b"", "empty file"),
    (b"  \n\n", "empty file"),
    (b'{"loss": [1.0, 2.0', "truncated JSON"),
    (b'{"log_history": [{"loss": 1.0, "step": 1}], "x": tru}', "invalid JSON at line 1"),
    (b'{"hidden_size": 768, "vocab_size": 100}', "unknown format: the JSON holds no metric"),
    (b'{"log_history": []}', "no logged metrics (empty log_history)"),
    (b'{"log_history": [{"train_runtime": 1.0, "total_flos": 2}]}', "no logged metrics"),
    (b'{"loss": [1.0, \xff]}', "not UTF-8 text"),
    (b"[" * 100000 + b"]" * 100000, "invalid JSON"),
    (b"epoch,loss\n1,2\n", "not JSON (starts with 'epoch,loss"),
    (b"\x00\x01\x02\xff\xfe", "not JSON (binary data)"),
    (b'{"text": "a"}\n{"text": "b"}\n', "unknown format: no metric values in any JSON line"),
])
def test_bad_input_one_line_error(tmp_path: Path, content: bytes, problem: str) -> None:
    p = write(tmp_path, "bad.json", content)
    with pytest.raises(ReadError) as info:
        jsonlog.read(p)
    message = str(info.value)
    assert message.startswith(str(p) + ": ") and "\n" not in message
    assert problem in message


def test_truncated_trainer_state_is_claimed_and_explained(tmp_path: Path) -> None:
    text = (FIX / "hf_bert" / "trainer_state.json").read_text()
    p = tmp_path / "trainer_state.json"
    # Cut anywhere after "log_history" (what tells it from other JSON): in a key, a string,
    # a number, a keyword …
    for cut in range(text.index('"log_history": [') + 16, len(text) - 3, 7):
        p.write_text(text[:cut])
        assert sniffs(p)
        with pytest.raises(ReadError, match="truncated JSON: the document ends before it is "
                                            "complete"):
            read_any(p)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match="cannot open"):
        jsonlog.read(tmp_path / "nope.json")


def test_dispatcher_forced_format(tmp_path: Path) -> None:
    runs = read_any(FIX / "hf_bert" / "trainer_state.json", format="json")
    assert runs[0].format == "hf_trainer_state"


# ------------------------------------------------------------------------------------- fuzz

_SEEDS = [p.read_bytes() for p in sorted(CORPUS.glob("0[01]*/trainer_state.json"))[:6]] + [
    (FIX / "keras_history.json").read_bytes(), (FIX / "wandb-history.jsonl").read_bytes(),
    corpus_file("058").read_bytes(),
]


def _check(tmp_path: Path, data: bytes) -> None:
    p = tmp_path / "fuzz.json"
    p.write_bytes(data)
    head = data[:65536]
    try:
        jsonlog.sniff(p, head)
        runs = jsonlog.read(p)
    except ReadError as exc:
        assert "\n" not in str(exc)
        return
    assert runs and all(len(s) for r in runs for s in r)


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300))
def test_fuzz_random_bytes(tmp_path: Path, data: bytes) -> None:
    _check(tmp_path, data)


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.sampled_from(range(len(_SEEDS))),
       edits=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 40),
                                st.sampled_from([b"", b"NaN", b"{", b"]", b",", b'"', b"1e999",
                                                 b"-", b"\n", b"\xff", b"null", b'"x":'])),
                      min_size=1, max_size=4))
def test_fuzz_mutated_real_files(tmp_path: Path, seed: int,
                                 edits: list[tuple[float, int, bytes]]) -> None:
    data = bytearray(_SEEDS[seed])
    for where, cut, insert in edits:
        i = int(where * len(data))
        data[i:i + cut] = insert
    _check(tmp_path, bytes(data))


_KEYS = st.sampled_from(["loss", "val_loss", "step", "epoch", "global_step", "_step",
                         "accuracy", "log_history", "train_runtime", "total_flos", "0", "1",
                         "12", "history", "train", "lr", "_type", "x"])
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**400, 10**400),
                     st.floats(allow_nan=True, allow_infinity=True),
                     st.sampled_from(["nan", "Infinity", "-inf", "x", ""]))
_JSON = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=6), st.dictionaries(_KEYS, inner, max_size=6)), max_leaves=40)


@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=_JSON, lines=st.booleans())
def test_fuzz_structured_json(tmp_path: Path, doc: object, lines: bool) -> None:
    if lines and isinstance(doc, list):
        text = "".join(json.dumps(d) + "\n" for d in doc)
    else:
        text = json.dumps(doc)
    _check(tmp_path, text.encode())
