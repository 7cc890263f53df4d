"""The plain-text log reader, on the real public logs of the corpus, on output captured from
the real tools (Keras 3, tqdm, logging) and on hand-written fixtures of the forms people print."""

from __future__ import annotations

import math
import os
import random
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lossdoctor.errors import ReadError
from lossdoctor.read import jsonlog, textlog
from lossdoctor.read import read as read_any
from lossdoctor.run import Run

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus" / "real"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "text"


def corpus(name: str) -> Path:
    (path,) = (CORPUS / name).iterdir()
    return path


def one_run(path: Path) -> Run:
    runs = textlog.read(path)
    assert len(runs) == 1, [r.name for r in runs]
    return runs[0]


def write(tmp_path: Path, data: str | bytes, name: str = "train.log") -> Path:
    path = tmp_path / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8", newline="")
    else:
        path.write_bytes(data)
    return path


def nan_equal(a: np.ndarray, b: list[float]) -> bool:
    return bool(np.array_equal(a, np.asarray(b, dtype=float), equal_nan=True))


# --------------------------------------------------------------------------------------------
# The real logs of the corpus (counts as in corpus/real/MANIFEST.md unless said otherwise)
# --------------------------------------------------------------------------------------------


def test_043_cgcnn_epoch_lines_with_train_valid_and_lr() -> None:
    path = corpus("043_cgcnn-aws")
    assert textlog.sniff(path, path.read_bytes()[:65536])
    run = one_run(path)
    assert run.format == "text" and run.name == "readme_output_aws"
    train, val, lr = run["train_loss"], run["val_loss"], run["lr"]
    assert (train.original, val.original, lr.original) == ("Train Loss", "Valid Loss", "LR")
    assert len(train) == len(val) == len(lr) == 300  # MANIFEST: train 300, val 300
    assert train.values[1] == 71.42647 and val.values[1] == 58.69089
    assert train.values[-1] == 3.85249 and val.values[-1] == 21.12266
    assert nan_equal(train.epochs, list(range(1, 301))) and not train.has_steps
    assert lr.values[0] == 0.001  # "LR: [0.001]"
    assert run.meta["total_epochs"] == 300
    # The pretty-printed argument dict ('learning_rate': 0.001, 'epoch': 300.0) is not a metric.
    assert "learning_rate" not in run and "epoch" not in run
    # The final test scores (not in the MANIFEST, which lists the curves) are kept as the log
    # prints them: "MSE: 14.2267, R2 Score: 0.9384", then again in a "PyCharm:" section.
    assert list(run["MSE"].values) == [14.2267, 14.2267] and run["R2 Score"].values[0] == 0.9384


def test_044_wordlm_nan_from_the_start_with_derived_steps() -> None:
    run = one_run(corpus("044_wordlm-rnnrelu-nan"))
    train, val = run["train_loss"], run["val_loss"]
    assert (train.original, val.original) == ("loss", "valid loss")
    assert len(train) == 70 and len(val) == 5  # MANIFEST: train 70, val 5
    assert np.isnan(train.values).all() and np.isnan(val.values).all()
    # "| epoch 2 | 400/ 2983 batches |": the batch counter restarts every epoch, so the
    # global step is (epoch - 1) * 2983 + batch.
    assert train.steps[0] == 200 and train.steps[15] == 2983 + 400
    assert train.steps[-1] == 4 * 2983 + 2800 and train.epochs[-1] == 5
    assert nan_equal(val.epochs, [1, 2, 3, 4, 5])
    assert run["lr"].values[0] == 20 and run["lr"].values[-1] == 0.3125
    assert "ms/batch" not in run and not any("batch" in name for name in run.series)
    assert any("NaN at all 70 points" in w for w in run.warnings)
    assert run["test loss"].epochs[0] == 5  # "| End of training | test loss nan |"
    # The Namespace(...) line is configuration: run.meta["args"], not an "lr" point.
    assert run.meta["args"]["lr"] == "20" and run.meta["args"]["model"] == "'RNN_RELU'"


@pytest.mark.parametrize("name, train_last, val_third", [
    ("045_wordlm-rnntanh-2l", 7.05, 17.68),
    ("046_wordlm-gru-2l", 5.05, None),
])
def test_045_046_wordlm_twelve_epochs(name: str, train_last: float, val_third: float | None,
                                      ) -> None:
    run = one_run(corpus(name))
    train, val = run["train_loss"], run["val_loss"]
    assert len(train) == 168 and len(val) == 12  # MANIFEST: train 168, val 12
    assert train.values[-1] == train_last and train.steps[-1] == 11 * 2983 + 2800
    assert np.all(np.diff(train.steps) > 0)
    if val_third is not None:
        assert val.values[2] == val_third
        assert run["valid ppl"].values[0] == 174484659237355936.00
    assert run.meta["args"]["epochs"] == "12"  # from the Namespace(...) line


@pytest.mark.parametrize("name, epochs, total", [
    ("047_painn-dynamofix", 622, 1000),
    ("048_painn-cafa-param2", 170, 500),
    ("049_painn-workingsetup0", 650, 650),
])
def test_047_048_049_painn_train_and_validation_lines(name: str, epochs: int, total: int) -> None:
    run = one_run(corpus(name))
    train, val = run["train_loss"], run["val_loss"]
    assert (train.original, val.original) == ("Train Loss", "Validation Loss")
    assert len(train) == len(val) == epochs  # MANIFEST: train = val = 622 / 170 / 650
    assert nan_equal(train.epochs, list(range(1, epochs + 1)))
    assert {"Train L1 Loss", "Validation L1", "Smoothed Validation Loss"} <= set(run.series)
    assert run.meta["total_epochs"] == total
    # wandb summaries ("wandb: train_loss 0.01356"), LSF job reports ("Max Processes : 10",
    # "CPU time : 55162.00 sec.") and the Markdown parameter table are not metrics.
    assert set(run.series) == {"train_loss", "val_loss", "Train L1 Loss", "Validation L1",
                               "Smoothed Validation Loss"}
    if name.startswith("047"):
        assert train.values[0] == 5396073623079684061681189650432.0
        assert val.values[-1] == 27356275215797835613266012798976.0
    if name.startswith("048"):
        assert train.values[99] == 0.0025 and run["Validation L1"].values[99] == 0.2955
    if name.startswith("049"):
        assert train.values[-1] == 0.0136 and val.values[-1] == 0.0221


def test_050_repeated_keys_take_the_phase_before_them() -> None:
    run = one_run(corpus("050_mt-en2zh-transformer"))
    # "Epoch N | Train Loss | Token Acc | Seq Acc | Val Loss | Token Acc | Seq Acc": the second
    # "Token Acc" is the validation one (MANIFEST: "val token acc 52").
    assert len(run["train_loss"]) == len(run["val_loss"]) == 52
    assert len(run["Val Token Acc"]) == len(run["Token Acc"]) == 52
    assert run["train_loss"].values[-1] == 8.6550 and run["val_loss"].values[-1] == 8.6542
    assert run["Val Token Acc"].values[-1] == 0.0683 and run["Token Acc"].values[-1] == 0.0682
    assert run["train_loss"].epochs[0] == 0 and run["train_loss"].epochs[-1] == 51
    # The command line (--lr=5e-4) and profiler lines (STAGE:2025-04-07 ...) are not metrics.
    assert set(run.series) == {"train_loss", "Token Acc", "Seq Acc", "val_loss",
                               "Val Token Acc", "Val Seq Acc"}


def test_051_keras1_four_phases_split_into_runs() -> None:
    runs = textlog.read(corpus("051_kanji-cnn-keras-verbose"))
    # Every phase restarts at "Epoch 1/..": four runs (MANIFEST: train 66, val 33 in all).
    assert [r.name for r in runs] == [f"model_training_log#{i}" for i in range(1, 5)]
    assert all(r.format == "keras_console" for r in runs)
    assert [len(r["train_loss"]) for r in runs] == [19, 14, 19, 14]
    assert sum(len(r["train_loss"]) for r in runs) == 66
    assert sum(len(r["val_loss"]) for r in runs if "val_loss" in r) == 33
    assert sum(len(r["val_acc"]) for r in runs if "val_acc" in r) == 33
    assert "val_loss" not in runs[2] and "val_loss" not in runs[3]
    first, third = runs[0], runs[2]
    assert first["train_loss"].values[0] == 3.5508 and first["val_loss"].values[0] == 1.4529
    # "Epoch 19/50", then "Epoch 00018: early stopping", then epoch 19's line: still epoch 19.
    assert first["val_acc"].values[-1] == 0.9164 and first["val_acc"].epochs[-1] == 19
    assert third["train_loss"].values[0] == 3.7610 and third.meta["total_epochs"] == 19
    assert runs[3]["train_loss"].values[-1] == 0.0455


def test_052_tqdm_bars_between_epoch_summaries() -> None:
    run = one_run(corpus("052_slm-classic-tqdm"))
    train, val = run["train_loss"], run["val_loss"]
    assert (train.original, val.original) == ("Train Loss", "Valid Loss")
    assert len(train) == len(val) == 20  # MANIFEST: train 20, val 20
    assert train.values[1] == 6.4938 and val.values[1] == 6.2336 and train.epochs[1] == 2
    assert run["lr"].values[0] == 9.94e-05  # "Time: 122.57s - LR: 9.94e-05": Time is noise
    # Not in the MANIFEST: the tqdm bars' postfix (the last batch's loss=, val_loss=) for
    # epochs 2-20 (epoch 1's bars are not in the file). They keep their own names.
    assert len(run["loss"]) == 19 and run["loss"].values[0] == 6.3381
    assert run["loss"].steps[0] == 2 * 935  # "Epoch 2/20: 100%| 935/935": (2 - 1) * 935 + 935
    assert run["val_loss_2"].original == "val_loss" and len(run["val_loss_2"]) == 19


def test_053_batch_losses_and_nested_bleu() -> None:
    run = one_run(corpus("053_t5-batchloss"))
    train = run["train_loss"]
    assert train.original == "Batch loss" and len(train) == 7760  # MANIFEST: train 7760
    assert train.values[2] == 12.9075 and train.values[-1] == 0.0004
    assert train.epochs[0] == 1 and train.epochs[-1] == 20 and not train.has_steps
    bleu4 = run["Validation BLEU-4"]
    assert len(bleu4) == 10 and bleu4.values[-1] == 33.42  # MANIFEST: val BLEU-4 10
    assert nan_equal(bleu4.epochs, list(range(2, 21, 2)))
    assert run["Dev BLEU-4"].values[-1] == 33.87
    assert run["Average Train Loss"].values[-1] == 0.0038
    # "New best model saved with BLEU-2: 65.76" is prose, not a fourth BLEU-2 series.
    assert len(run.series) == 10


def test_054_iter_lines_with_warning_text_after_them() -> None:
    run = one_run(corpus("054_ssd-voc"))
    assert list(run.series) == ["train_loss"]  # Namespace(lr=0.0001, ...) is not a metric
    train = run["train_loss"]
    assert len(train) == 1400 and train.values[0] == 19.4798  # MANIFEST: train 1400
    assert train.steps[0] == 0 and train.steps[-1] == 13990 and train.values[-1] == 0.0290
    assert run.meta["args"]["lr"] == "0.0001"


def test_055_step_lines_and_an_unterminated_last_line() -> None:
    path = corpus("055_moddedgpt-diffusion")
    # The first metric line is 900 KB into the file (after compiler warnings).
    assert textlog.sniff(path, path.read_bytes()[:65536])
    run = one_run(path)
    train, val = run["train_loss"], run["val_loss"]
    # MANIFEST says train 7151: the file ends without a newline after "step:7151/20000 ...",
    # and an unterminated last line is ignored (a log still being written may end mid-number).
    assert len(train) == 7150 and len(val) == 8
    assert any("last line has no line end" in w for w in run.warnings)
    assert train.values[0] == 10.82584 and train.steps[0] == 1
    assert train.values[-1] == 0.06032575 and train.steps[-1] == 7150
    assert nan_equal(val.steps, list(range(0, 8000, 1000))) and val.values[0] == 10.826
    assert set(run.series) == {"train_loss", "val_loss"}  # train_time, step_avg are noise
    assert run.meta["total_steps"] == 20000


def test_056_metric_lines_without_steps() -> None:
    run = one_run(corpus("056_graphnovo"))
    assert len(run["train_loss"]) == len(run["train_acc"]) == 1184  # MANIFEST: 1184 each
    assert run["train_loss"].axis == "index"
    assert run["train_loss"].values[-1] == 0.006363357249019827
    assert run["precision"].values[-1] == 0.9902012348175049


def test_057_logging_prefix_steps_within_epochs_and_eval_blocks() -> None:
    run = one_run(corpus("057_gpt2-lora-alpaca"))
    train = run["train_loss"]
    assert train.original == "Loss" and len(train) == 1302  # MANIFEST: train 1302
    # "Epoch 1 | Step 0/6501": the step restarts every epoch of 6501 steps.
    assert train.steps[651] == 6501 and train.epochs[651] == 1
    assert train.steps[-1] == 6501 + 6500 and train.values[-1] == 0.4631
    assert train.values[650] == 0.5133 and train.steps[650] == 6500
    assert len(run["grad_norm"]) == len(run["lr"]) == 1302
    # "Evaluation Results:" then indented "   Loss: 0.5301": evaluation losses (not in the
    # MANIFEST, which lists the training curve).
    assert run["val_loss"].original == "Evaluation Loss"
    assert list(run["val_loss"].values) == [0.5301, 0.4887, 0.4886]
    # The "Configuration:" block is configuration, not metrics.
    assert run.meta["config"]["learning_rate"] == "0.0003"
    assert "max_grad_norm" not in run and "min_lr" not in run
    # "Final Results: Loss=0.4886, PPL=1.63" is a summary, kept apart from the curves.
    assert run["Final Results PPL"].values[0] == 1.63 and len(run["PPL"]) == 1302


# --------------------------------------------------------------------------------------------
# Output of the real tools (regenerate with the scripts next to the fixtures)
# --------------------------------------------------------------------------------------------


def test_keras3_verbose1_progress_bars() -> None:
    run = one_run(FIXTURES / "keras3_verbose1.log")
    assert run.format == "keras_console" and run.meta["total_epochs"] == 4
    assert set(run.series) == {"train_loss", "train_acc", "val_loss", "val_acc"}
    # The "1/8" updates are running averages: only the epoch's final line counts.
    assert list(run["train_loss"].values) == [0.6211, 0.5083, 0.4353, 0.3723]
    assert list(run["val_acc"].values) == [0.6133, 0.6641, 0.6641, 0.6484]
    assert nan_equal(run["val_loss"].epochs, [1, 2, 3, 4])


def test_keras3_verbose2_lines() -> None:
    run = one_run(FIXTURES / "keras3_verbose2.log")
    assert run.format == "keras_console"
    assert list(run["train_loss"].values) == [0.6177, 0.5333, 0.4648, 0.4125, 0.3660]
    assert run["val_loss"].values[-1] == 0.3756 and run["train_acc"].original == "accuracy"


def test_keras3_second_fit_is_a_second_run_and_evaluate_goes_to_meta() -> None:
    runs = textlog.read(FIXTURES / "keras3_two_fits.log")
    assert [r.name for r in runs] == ["keras3_two_fits#1", "keras3_two_fits#2"]
    assert len(runs[0]["train_loss"]) == 3 and "val_loss" not in runs[0]
    assert list(runs[1]["val_loss"].values) == [0.6352, 0.6355]
    assert runs[1].meta["evaluate"] == {"accuracy": 0.6602, "loss": 0.6355}


def test_keras2_console_with_callbacks_and_evaluate(tmp_path: Path) -> None:
    run = one_run(FIXTURES / "keras2_console.log")
    assert run.format == "keras_console"
    assert list(run["train_loss"].values) == [0.6931, 0.5810, 0.5012]
    assert nan_equal(run["val_loss"].values, [0.6523, math.nan, 0.5921])
    assert list(run["lr"].values) == [0.0010, 0.0005] and list(run["lr"].epochs) == [2, 3]
    assert run.meta["evaluate"] == {"loss": 0.5921, "accuracy": 0.7031}
    # The same bytes with Windows line ends read the same.
    crlf = write(tmp_path, (FIXTURES / "keras2_console.log").read_bytes().replace(b"\n", b"\r\n"))
    again = one_run(crlf)
    assert list(again["train_loss"].values) == [0.6931, 0.5810, 0.5012]


def test_keras2_bars_written_to_a_file(tmp_path: Path) -> None:
    """Without a terminal Keras 2 writes each bar update on its own line; with a dataset of
    unknown length the total is "Unknown" until the second epoch."""
    text = ("Epoch 1/2\n"
            "      1/Unknown - 1s 1s/step - loss: 2.3000\n"
            "     50/Unknown - 3s 50ms/step - loss: 1.2000\n"
            "    100/Unknown - 5s 50ms/step - loss: 0.9000 - val_loss: 1.0000\n"
            "Epoch 2/2\n"
            " 32/100 [=======>......................] - ETA: 3s - loss: 0.8000\n"
            "100/100 [==============================] - 5s 50ms/step - loss: 0.7000 - "
            "val_loss: 0.8000\n")
    run = one_run(write(tmp_path, text))
    assert list(run["train_loss"].values) == [0.9, 0.7]
    assert list(run["val_loss"].values) == [1.0, 0.8] and list(run["val_loss"].epochs) == [1, 2]
    assert run.warnings == []
    cut = one_run(write(tmp_path, text.rsplit("100/100", 1)[0], "cut.log"))
    assert list(cut["train_loss"].values) == [0.9]  # epoch 2 never finished
    assert any("stopped before the end of its epoch" in w for w in cut.warnings)


def test_keras2_verbose2() -> None:
    run = one_run(FIXTURES / "keras2_verbose2.log")
    assert list(run["val_acc"].values) == [0.81, 0.83] and run.format == "keras_console"


def test_tqdm_postfix_updates() -> None:
    run = one_run(FIXTURES / "tqdm_postfix.log")
    loss, val = run["train_loss"], run["val_loss"]
    # 2 epochs x 30 steps; tqdm draws each value twice (set_postfix, then the counter moves):
    # one point per step, at the counter's later value.
    assert len(loss) == 60 and nan_equal(loss.steps, list(range(1, 61)))
    assert loss.values[0] == 2.02 and loss.epochs[-1] == 2
    assert len(val) == 2 and not val.has_steps and nan_equal(val.epochs, [1, 2])
    assert run.meta["total_epochs"] == 2


def test_python_logging() -> None:
    run = one_run(FIXTURES / "python_logging.log")
    loss = run["train_loss"]
    assert len(loss) == 12 and loss.steps[4] == 40 + 10 and loss.steps[-1] == 120
    assert run["val_loss"].original == "Evaluation Loss" and len(run["val_loss"]) == 3
    assert run["val_acc"].values[-1] == 0.8
    assert run.meta["config"] == {"learning_rate": "0.001", "epochs": "3", "batch_size": "32",
                                  "max_grad_norm": "1.0"}
    assert "Time" not in run and run["Final test loss"].values[0] == 0.35


# --------------------------------------------------------------------------------------------
# Hand-written fixtures of the forms of the brief
# --------------------------------------------------------------------------------------------


def test_starting_epoch_then_average_loss() -> None:
    run = one_run(FIXTURES / "starting_epoch.log")
    assert run["train_loss"].original == "Average Loss"
    assert list(run["train_loss"].values) == [0.9214, 0.7112, 0.5709]
    assert list(run["train_loss"].epochs) == [1, 2, 3] and run.meta["total_epochs"] == 50


def test_pipe_fields_with_non_finite_values() -> None:
    run = one_run(FIXTURES / "pipe_fields.log")
    assert set(run.series) == {"train_loss", "val_loss", "val_acc", "lr"}
    assert nan_equal(run["train_loss"].values, [0.91, 0.63, 0.41, math.nan])
    assert run["val_loss"].values[-1] == math.inf and run["val_acc"].values[-1] == -math.inf
    assert list(run["lr"].values) == [1e-3, 1e-3, 1e-3, 7.52e31]


def test_key_value_styles() -> None:
    run = one_run(FIXTURES / "key_value_styles.log")
    loss = run["train_loss"]  # "loss" has the most points
    assert loss.original == "loss" and list(loss.values) == [0.85, 0.80, 0.70]
    assert nan_equal(loss.steps, [100, 200, math.nan]) and list(loss.epochs) == [1, 1, 3]
    assert list(run["val_loss"].values) == [1.3, 1.1] and run["val_loss"].original == "Valid Loss"
    assert run["train_loss_2"].original == "train_loss" and run["train_loss_2"].steps[0] == 300
    assert run["grad_norm"].values[0] == 1.5 and run["lr"].values[0] == 3e-4
    for noise in ("it/s", "eta", "Time", "ETA", "train_time", "step_avg", "batches", "samples"):
        assert noise not in run and all(s.original != noise for s in run)


def test_restarted_epoch_counter_splits_runs() -> None:
    runs = textlog.read(FIXTURES / "two_runs.log")
    assert [r.name for r in runs] == ["two_runs#1", "two_runs#2"]
    assert list(runs[0]["val_loss"].values) == [1.10, 0.95, 0.90]
    assert list(runs[1]["train_loss"].values) == [1.2, 1.1]
    assert runs[1].meta["total_epochs"] == 2 and runs[0].meta["total_epochs"] == 3


def test_noise_only_has_no_metrics() -> None:
    path = FIXTURES / "noise_only.log"
    assert not textlog.sniff(path, path.read_bytes())
    assert textlog.read(path) == []


@pytest.mark.parametrize("text, expected", [
    ("Train Epoch: 1 [0/60000 (0%)]\tLoss: 2.305400\nTrain Epoch: 2 [640/60000 (1%)]\tLoss: 1.3\n"
     "\nTest set: Average loss: 0.1016, Accuracy: 9687/10000 (97%)\n",
     {"train_loss": [2.3054, 1.3], "Test Average loss": [0.1016]}),
    ("{'loss': 2.3012, 'grad_norm': 3.52, 'learning_rate': 4.9e-05, 'epoch': 0.1}\n"
     "{'eval_loss': 1.8, 'eval_runtime': 1.23, 'eval_samples_per_second': 100.2, 'epoch': 0.2}\n"
     "{'loss': nan, 'grad_norm': inf, 'learning_rate': 4.7e-05, 'epoch': 0.3}\n"
     "{'train_runtime': 100.5, 'train_loss': 1.5, 'epoch': 0.3}\n",
     {"train_loss": [2.3012, math.nan], "grad_norm": [3.52, math.inf], "val_loss": [1.8],
      "lr": [4.9e-05, 4.7e-05]}),
    ("Epoch 0:  50%|#####     | 5/10 [00:01<00:01,  4.20it/s, v_num=3, train_loss_step=0.812]\n"
     "Epoch 0: 100%|##########| 10/10 [00:02<00:00,  4.31it/s, v_num=3, train_loss_step=0.701]\n"
     "Epoch 0: 100%|##########| 10/10 [00:02<00:00, v_num=3, train_loss_step=0.701, "
     "val_loss=0.650, train_loss_epoch=0.750]\n"
     "Epoch 1: 100%|##########| 10/10 [00:02<00:00, v_num=3, train_loss_step=0.501, "
     "val_loss=0.650, train_loss_epoch=0.750]\n"
     "Epoch 1: 100%|##########| 10/10 [00:02<00:00, v_num=3, train_loss_step=0.501, "
     "val_loss=0.550, train_loss_epoch=0.560]\n",
     {"train_loss": [0.812, 0.701, 0.501], "val_loss": [0.65, 0.55],
      "train_loss_epoch": [0.75, 0.56]}),
    ("epoch=5 loss=0.3 acc=0.9 time=1.2s eta=00:01:00\n"
     "Epoch 6: loss: 0.25, acc: 0.91, lr: [0.001]\n"
     "Epoch 00006: val_loss improved from 0.52000 to 0.40000, saving model to best.h5\n"
     "Epoch 6: ReduceLROnPlateau reducing learning rate to 0.0005.\n",
     {"train_loss": [0.3, 0.25], "train_acc": [0.9, 0.91], "lr": [0.001]}),
    ("epoch 1 | top1 acc 0.51 | BLEU-1 20.5\nepoch 2 | top5 acc 0.82 | BLEU-4 10.5\n"
     "epoch 3 | top1 acc 0.61 | BLEU-1 22.5\n",  # one shape once digits are masked
     {"top1 acc": [0.51, 0.61], "top5 acc": [0.82], "BLEU-1": [20.5, 22.5], "BLEU-4": [10.5]}),
    ("100%|███| 50/50 [00:01<00:00, loss=0.41, acc=0.9]\n", {"train_loss": [0.41],
                                                            "train_acc": [0.9]}),
    # nanoGPT
    ("step 0: train loss 10.8756, val loss 10.8803\n"
     "iter 0: loss 10.8822, time 12345.67ms, mfu -100.00%\n"
     "iter 10: loss 9.1234, time 123.45ms, mfu 12.34%\n"
     "step 250: train loss 2.1234, val loss 2.2345\n",
     {"loss": [10.8822, 9.1234], "train_loss": [10.8756, 2.1234],  # a tie: "train loss" wins
      "val_loss": [10.8803, 2.2345]}),
    # fairseq
    ("2023-01-01 12:00:00 | INFO | train_inner | epoch 001:    100 / 1000 loss=5.123, "
     "nll_loss=4.2, ppl=18.4, wps=12345, ups=2.5, wpb=4096, bsz=128, num_updates=100, "
     "lr=0.0005, gnorm=1.2, train_wall=40, gb_free=10, wall=50\n"
     "2023-01-01 12:01:00 | INFO | train_inner | epoch 001:    200 / 1000 loss=4.9, "
     "nll_loss=4.1, ppl=17.1, wps=12345, ups=2.5, wpb=4096, bsz=128, num_updates=200, "
     "lr=0.001, gnorm=1.1, train_wall=80, gb_free=10, wall=100\n"
     "2023-01-01 12:02:00 | INFO | valid | epoch 001 | valid on 'valid' subset | loss 4.8 | "
     "nll_loss 3.9 | ppl 15.1 | wps 30000 | wpb 4000 | bsz 120 | num_updates 200\n",
     {"train_loss": [5.123, 4.9], "nll_loss": [4.2, 4.1], "ppl": [18.4, 17.1],
      "lr": [0.0005, 0.001], "gnorm": [1.2, 1.1], "val_loss": [4.8], "valid nll_loss": [3.9],
      "valid ppl": [15.1]}),
    # Megatron-LM (a validation line names its phase and iteration in prose)
    (" [2024-01-15 10:30:00] iteration       10/    3000 | consumed samples:          320 | "
     "elapsed time per iteration (ms): 1234.5 | learning rate: 3.000000E-04 | global batch "
     "size:    32 | lm loss: 9.678787E+00 | loss scale: 1.0 | grad norm: 1.234 | number of "
     "skipped iterations:   0 | number of nan iterations:   0 |\n"
     " [2024-01-15 10:31:00] iteration       20/    3000 | consumed samples:          640 | "
     "elapsed time per iteration (ms): 1234.5 | learning rate: 3.000000E-04 | global batch "
     "size:    32 | lm loss: 9.426648E+00 | loss scale: 1.0 | grad norm: 1.1 | number of "
     "skipped iterations:   0 | number of nan iterations:   0 |\n"
     "-----------------------------------------------------------------------------\n"
     " validation loss at iteration 20 | lm loss value: 9.588409E+00 | lm loss PPL: "
     "1.458519E+04 | \n",
     {"lr": [3e-4, 3e-4], "lm loss": [9.678787, 9.426648], "grad_norm": [1.234, 1.1],
      "validation lm loss value": [9.588409], "validation lm loss PPL": [14585.19]}),
    # DeepSpeed's engine and throughput lines
    ("[2024-01-15 10:30:00,123] [INFO] [logging.py:96:log_dist] [Rank 0] step=10, skipped=0, "
     "lr=[0.0001], mom=[(0.9, 0.999)]\n"
     "steps: 10 loss: 9.7194 iter time (s): 0.512 samples/sec: 62.5\n"
     "[2024-01-15 10:30:05,123] [INFO] [logging.py:96:log_dist] [Rank 0] step=20, skipped=0, "
     "lr=[0.0001], mom=[(0.9, 0.999)]\n"
     "steps: 20 loss: 9.4158 iter time (s): 0.512 samples/sec: 62.5\n",
     {"lr": [1e-4, 1e-4], "train_loss": [9.7194, 9.4158]}),
    # YOLOX (loguru's "name:line -" prefix)
    ("2024-01-15 10:30:00 | INFO     | yolox.core.trainer:261 - epoch: 1/20, iter: 10/100, "
     "mem: 5000Mb, iter_time: 0.512s, data_time: 0.001s, total_loss: 7.5, iou_loss: 2.1, "
     "lr: 1.000e-02, size: 640, ETA: 1:23:45\n"
     "2024-01-15 10:30:05 | INFO     | yolox.core.trainer:261 - epoch: 1/20, iter: 20/100, "
     "mem: 5000Mb, iter_time: 0.512s, data_time: 0.001s, total_loss: 7.4, iou_loss: 2.0, "
     "lr: 1.000e-02, size: 640, ETA: 1:23:40\n",
     {"train_loss": [7.5, 7.4], "iou_loss": [2.1, 2.0], "lr": [0.01, 0.01]}),
    # detectron2 (fields separated by two spaces)
    ("[03/01 12:00:00 d2.utils.events]:  eta: 1:23:45  iter: 19  total_loss: 2.345  loss_cls: "
     "0.6  time: 0.3456  data_time: 0.0123  lr: 0.00039962  max_mem: 2345M\n"
     "[03/01 12:00:10 d2.utils.events]:  eta: 1:23:35  iter: 39  total_loss: 2.145  loss_cls: "
     "0.5  time: 0.3456  data_time: 0.0123  lr: 0.00079922  max_mem: 2345M\n",
     {"train_loss": [2.345, 2.145], "loss_cls": [0.6, 0.5], "lr": [0.00039962, 0.00079922]}),
    # "key value" with nothing else in the field, every key a metric
    ("[Epoch 8/10] loss 0.1 (took 3.2 sec)\nloss 0.2 is the best so far\nUsing lr 0.5\n",
     {"train_loss": [0.1]}),
    ("top7: 0.9\ntop5: 0.8\nf2: 0.3\nf1: 0.4\n"  # not a metric, then one of the same shape
     "top7: 0.8\ntop5: 0.7\nf2: 0.2\nf1: 0.5\n",
     {"top5": [0.8, 0.7], "f1": [0.4, 0.5]}),
    ("[Epoch 3/10] loss: tensor(0.5123, device='cuda:0', grad_fn=<NllLossBackward0>)\n"
     "[Epoch 4/10] loss: tensor(0.4123, device='cuda:0')\n",
     {"train_loss": [0.5123, 0.4123]}),
])
def test_more_forms(tmp_path: Path, text: str, expected: dict[str, list[float]]) -> None:
    run = one_run(write(tmp_path, text))
    assert set(run.series) == set(expected)
    for name, values in expected.items():
        assert nan_equal(run[name].values, values), name


def test_fairseq_epoch_summary_is_its_own_series(tmp_path: Path) -> None:
    """fairseq's end-of-epoch line ("train | epoch 001 | loss 8.139 | … | num_updates 1000")
    averages the epoch at the step of its last update: it is a series of its own, not a
    re-logging of the per-update loss at that step (which replaced 6.852 by 8.139)."""
    lines = []
    for e in (1, 2):
        for b in (500, 1000):
            n = 1000 * (e - 1) + b
            lines.append(f"2023-01-01 12:00:00 | INFO | train_inner | epoch {e:03d}:    {b} / "
                         f"1000 loss={9 - n / 1000:.3f}, ppl=18.4, num_updates={n}, lr=0.0005")
        lines.append(f"2023-01-01 12:00:00 | INFO | train | epoch {e:03d} | loss "
                     f"{10 - e:.3f} | ppl 20.1 | num_updates {1000 * e} | lr 0.0005")
    run = one_run(write(tmp_path, "\n".join(lines) + "\n"))
    assert nan_equal(run["train_loss"].values, [8.5, 8.0, 7.5, 7.0])
    assert list(run["train_loss"].steps) == [500, 1000, 1500, 2000]
    assert nan_equal(run["train loss"].values, [9.0, 8.0])
    assert list(run["train loss"].steps) == [1000, 2000]
    assert not run.warnings


def test_fairseq_json_log_format(tmp_path: Path) -> None:
    # fairseq's --log-format json: logger name, then a JSON object whose numbers are strings
    lines = []
    for e in (1, 2):
        for u in (1, 2):
            n = 100 * (2 * (e - 1) + u)
            lines.append(
                f"2020-04-22 07:4{e}:0{u} | INFO | train_inner | {{\"epoch\": {e}, \"update\": "
                f"{e - 1 + u / 2.5:.3f}, \"loss\": \"{5 - n / 100:.3f}\", \"ppl\": \"18.4\", "
                f"\"wps\": \"7204.7\", \"num_updates\": \"{n}\", \"lr\": \"0.0005\", "
                f"\"gnorm\": \"2.274\", \"train_wall\": \"25\", \"wall\": \"64\"}}")
        lines.append(
            f"2020-04-22 07:4{e}:23 | INFO | valid | {{\"epoch\": {e}, \"valid_loss\": "
            f"\"{4.5 - e / 10:.3f}\", \"valid_ppl\": \"1.03\", \"valid_num_updates\": "
            f"\"{200 * e}\", \"valid_best_loss\": \"4.4\"}}")
    run = one_run(write(tmp_path, "\n".join(lines) + "\n"))
    assert set(run.series) == {"train_loss", "ppl", "lr", "gnorm", "val_loss", "valid_ppl",
                               "valid_best_loss"}
    assert nan_equal(run["train_loss"].values, [4.0, 3.0, 2.0, 1.0])
    assert list(run["train_loss"].steps) == [100, 200, 300, 400]
    assert list(run["val_loss"].steps) == [200, 400]
    assert list(run["val_loss"].epochs) == [1, 2]


def test_mmengine_runner_log() -> None:
    # MMEngine's text log of the run whose scalars.json the JSON tests read (the same values,
    # printed to 4 digits): "Epoch(train) [2][10/45]" is step 45 + 10, a validation line's
    # "[2][3/3]" counts the validation batches, and its values keep the epoch only
    fixture = FIXTURES.parent / "json" / "mmengine"
    run = one_run(fixture / "train.log")
    assert not run.warnings
    assert set(run.series) == {"lr", "train_loss", "val_loss", "val_acc"}
    (ref,) = jsonlog.read(fixture / "scalars.json")
    for name in run.series:
        np.testing.assert_allclose(run[name].values, ref[name].values, rtol=1e-3, atol=1e-4)
        np.testing.assert_array_equal(run[name].epochs, ref[name].epochs)
        np.testing.assert_array_equal(run[name].steps, ref[name].steps)


def test_steps_of_megatron_deepspeed_and_yolox_lines(tmp_path: Path) -> None:
    megatron = "".join(
        f" [2024-01-15 10:30:00] iteration {i:7d}/    3000 | learning rate: 3.0E-04 | "
        f"lm loss: {9 - i / 100:.6E} | loss scale: 1.0 |\n" for i in (10, 20)) + (
        " validation loss at iteration 20 | lm loss value: 9.5E+00 | \n")
    run = one_run(write(tmp_path, megatron))
    assert list(run["lm loss"].steps) == [10, 20]
    assert list(run["validation lm loss value"].steps) == [20]
    deepspeed = "".join(f"steps: {s} loss: {9 - s / 100:.4f} iter time (s): 0.512\n"
                        for s in (10, 20))
    assert list(one_run(write(tmp_path, deepspeed))["train_loss"].steps) == [10, 20]
    yolox = "".join(
        f"2024-01-15 10:30:00 | INFO     | yolox.core.trainer:261 - epoch: {e}/20, iter: "
        f"{i}/100, mem: 5000Mb, total_loss: {7 - e - i / 100:.2f}, lr: 1.000e-02\n"
        for e in (1, 2) for i in (50, 100))
    run = one_run(write(tmp_path, yolox))
    assert list(run["train_loss"].steps) == [50, 100, 150, 200]
    assert list(run["train_loss"].epochs) == [1, 1, 2, 2]


def test_timm_train_script_lines(tmp_path: Path) -> None:
    # timm's train.py (format strings of its train_one_epoch and validate): training lines
    # every log_interval updates; validation lines every few batches with running means in
    # brackets, the last one ([T/T]) holding the means over the whole validation set
    lines = []
    for e in (0, 1):
        for b in (0, 50, 99):
            lines.append(
                f"Train: {e} [{b:>4d}/100 ({100.0 * (b + 1) / 100:>3.0f}%)]  Loss: "
                f"{6 - e - b / 100:#.3g} ({6.5 - e:#.3g})  Time: 0.345s,  742.00/s  "
                f"(0.350s,  731.43/s)  LR: 1.000e-04  Data: 0.010 (0.015)")
        for b in (0, 48):
            lines.append(
                f"Test: [{b:>4d}/48]  Time: 1.200 (0.900)  Loss:  {5.5 - e:>7.3f} "
                f"({5.25 - e:>6.3f})  Acc@1: {40 + e:>7.3f} ({41 + e:>7.3f})  Acc@5:  95.000 "
                f"( 94.500)")
    run = one_run(write(tmp_path, "\n".join(lines) + "\n"))
    assert set(run.series) == {"train_loss", "lr", "val_loss", "eval Acc@1", "eval Acc@5"}
    assert nan_equal(run["train_loss"].values, [6.0, 5.5, 5.01, 5.0, 4.5, 4.01])
    assert list(run["train_loss"].steps) == [0, 50, 99, 100, 150, 199]
    assert nan_equal(run["val_loss"].values, [5.25, 4.25])
    assert list(run["val_loss"].epochs) == [0, 1]
    assert nan_equal(run["eval Acc@1"].values, [41.0, 42.0])


def test_paddledetection_lines(tmp_path: Path) -> None:
    # PaddleDetection: "[MM/DD hh:mm:ss] logger LEVEL:" prefix, "Epoch: [e] [  b/T]" with
    # the batch counter padded inside its brackets (two spaces are not a field break there)
    text = "".join(
        f"[07/28 22:26:37] ppdet.engine INFO: Epoch: [{e}] [{b:>3d}/791] learning_rate: "
        f"0.000010 loss_xy: 2.176380 loss: {4.5 - e - b / 1000:.6f} eta: 0:54:58 "
        f"batch_cost: 2.0509 data_cost: 1.7642 ips: 3.9007 images/s\n"
        for e in (0, 1) for b in (0, 20))
    run = one_run(write(tmp_path, text))
    assert set(run.series) == {"lr", "loss_xy", "train_loss"}
    assert nan_equal(run["train_loss"].values, [4.5, 4.48, 3.5, 3.48])
    assert list(run["train_loss"].steps) == [0, 20, 791, 811]
    assert list(run["train_loss"].epochs) == [0, 0, 1, 1]


def test_spacy_training_table(tmp_path: Path) -> None:
    # `spacy train`: a header, a rule of dashes, one row per evaluation (E = epoch, # = step)
    rows = [(0, 0, 0.00, 44.28, 0.00), (0, 200, 53.51, 2262.98, 69.75),
            (1, 400, 44.03, 1604.78, 77.72), (1, 600, 47.70, 1364.43, 81.40)]
    text = ("ℹ Pipeline: ['tok2vec', 'ner']\nℹ Initial learn rate: 0.001\n"
            "E    #       LOSS TOK2VEC  LOSS NER  ENTS_F  ENTS_P  ENTS_R  SCORE \n"
            "---  ------  ------------  --------  ------  ------  ------  ------\n"
            + "".join(f"{e:>3d}  {st:>6d}  {t2v:>12.2f}  {ner:>8.2f}  {f:>6.2f}  {f:>6.2f}  "
                      f"{f:>6.2f}  {f / 100:>6.2f}\n" for e, st, t2v, ner, f in rows)
            + "✔ Saved pipeline to output directory\n")
    run = one_run(write(tmp_path, text))
    assert set(run.series) == {"LOSS TOK2VEC", "LOSS NER", "ENTS_F", "ENTS_P", "ENTS_R", "SCORE"}
    assert nan_equal(run["LOSS NER"].values, [44.28, 2262.98, 1604.78, 1364.43])
    assert list(run["LOSS NER"].steps) == [0, 200, 400, 600]
    assert list(run["SCORE"].epochs) == [0, 0, 1, 1]


def test_plain_table_under_a_rule(tmp_path: Path) -> None:
    # tabulate's "simple" format: a training table is read, a table of results is not
    table = ("  epoch    loss    val_loss\n-------  ------  ----------\n"
             "      1    0.9         1.0\n      2    0.7         0.8\n"
             "      3    0.6         0.75\n")
    run = one_run(write(tmp_path, table))
    assert nan_equal(run["train_loss"].values, [0.9, 0.7, 0.6])
    assert list(run["val_loss"].epochs) == [1, 2, 3]
    each_epoch = "".join(f"  epoch    loss\n-------  ------\n      {e}    {1 / e:.4f}\n\n"
                         for e in (1, 2))  # a one-row table printed every epoch
    assert nan_equal(one_run(write(tmp_path, each_epoch, "e.log"))["train_loss"].values,
                     [1.0, 0.5])
    results = ("model        params    acc\n-----------  --------  -----\n"
               "resnet18     11.7      69.8\nresnet50     25.6      76.1\n")
    with pytest.raises(ReadError, match="unknown format"):
        read_any(write(tmp_path, results, "results.txt"))


def test_paddleocr_evaluation_lines(tmp_path: Path) -> None:
    # PaddleOCR: training lines, then "cur metric, …" (an evaluation) and "best metric, …" (the
    # best so far); before, all three fed one "acc" series
    lines = []
    for e in (1, 2, 3):
        lines.append(f"[2022/07/14 10:10:10] ppocr INFO: epoch: [{e}/3], global_step: {10 * e}, "
                     f"lr: 0.001000, acc: {0.3 + e / 20:.6f}, loss: {4 - e:.5f}, ips: 80.0 "
                     "samples/s, eta: 0:10:00")
        lines.append(f"[2022/07/14 10:11:00] ppocr INFO: cur metric, acc: {0.9 - e / 10:.4f}, "
                     "norm_edit_dis: 0.9458, fps: 1025.3")
        lines.append("[2022/07/14 10:11:00] ppocr INFO: best metric, acc: 0.8000, is_float16: "
                     "False, norm_edit_dis: 0.95, fps: 1025.3, best_epoch: 1")
    run = one_run(write(tmp_path, "\n".join(lines) + "\n"))
    assert nan_equal(run["train_acc"].values, [0.35, 0.4, 0.45])
    assert nan_equal(run["val_acc"].values, [0.8, 0.7, 0.6])
    assert list(run["val_acc"].epochs) == [1, 2, 3]
    assert nan_equal(run["best acc"].values, [0.8, 0.8, 0.8])


def test_step_of_epoch_with_total(tmp_path: Path) -> None:
    text = "".join(f"Epoch [{e}/2], Step [{s}/600], Loss: {e + s / 1000:.4f}\n"
                   for e in (1, 2) for s in (100, 200, 600))
    run = one_run(write(tmp_path, text))
    assert list(run["train_loss"].steps) == [100, 200, 600, 700, 800, 1200]
    assert list(run["train_loss"].epochs) == [1, 1, 1, 2, 2, 2]


def test_torchvision_reference_lines(tmp_path: Path) -> None:
    """The ImageNet example's tab-separated "key value (average)" lines and its test lines."""
    text = ("Epoch: [0][   0/5005]\tTime  3.512 ( 3.512)\tData  2.001 ( 2.001)\t"
            "Loss 6.9078e+00 (6.9078e+00)\tAcc@1   0.00 (  0.00)\tAcc@5   0.39 (  0.39)\n"
            "Epoch: [0][  10/5005]\tTime  0.512 ( 0.600)\tData  0.001 ( 0.050)\t"
            "Loss 6.8078e+00 (6.9000e+00)\tAcc@1   0.10 (  0.05)\tAcc@5   0.49 (  0.45)\n"
            "Test: [  0/196]\tTime  1.000 ( 1.000)\tLoss 6.5000e+00 (6.5000e+00)\t"
            "Acc@1   1.00 (  1.00)\tAcc@5   5.00 (  5.00)\n"
            "Epoch: [1][   0/5005]\tTime  0.512 ( 0.512)\tData  0.001 ( 0.001)\t"
            "Loss 5.9078e+00 (5.9078e+00)\tAcc@1   2.00 (  2.00)\tAcc@5   8.39 (  8.39)\n")
    run = one_run(write(tmp_path, text))
    loss = run["train_loss"]
    assert list(loss.values) == [6.9078, 6.8078, 5.9078]  # the batch value, not the average
    assert list(loss.steps) == [0, 10, 5005] and list(loss.epochs) == [0, 0, 1]
    assert list(run["Test Loss"].values) == [6.5] and list(run["Test Acc@5"].values) == [5.0]
    assert "Time" not in run and "Data" not in run


def test_tqdm_postfix_gets_the_bar_counter_as_step(tmp_path: Path) -> None:
    run = one_run(write(tmp_path, "100%|███| 50/50 [00:01<00:00, loss=0.41, acc=0.9]\n"))
    assert list(run["train_loss"].steps) == [50] and list(run["train_acc"].steps) == [50]


def test_lightning_bar_steps_and_epochs(tmp_path: Path) -> None:
    text = "".join(
        f"Epoch {e}: {p}%|#| {n}/10 [00:01<00:00, 4.2it/s, v_num=0, train_loss_step={v}]\n"
        for e, p, n, v in ((0, 50, 5, 0.9), (0, 100, 10, 0.8), (1, 50, 5, 0.7), (1, 100, 10, 0.6)))
    run = one_run(write(tmp_path, text))
    assert list(run["train_loss"].steps) == [5, 10, 15, 20]
    assert list(run["train_loss"].epochs) == [0, 0, 1, 1]


def test_epoch_counter_going_back_without_reaching_the_start_warns(tmp_path: Path) -> None:
    text = "".join(f"Epoch {e} | loss: {1 / e:.3f}\n" for e in (1, 2, 3, 4, 2, 3))
    run = one_run(write(tmp_path, text))
    assert len(run["train_loss"]) == 6
    assert any("went back from 4 to 2" in w for w in run.warnings)


def test_steps_restarting_without_epochs_split_runs(tmp_path: Path) -> None:
    text = "".join(f"step:{s}/3 loss:{s / 10}\n" for s in (1, 2, 3, 1, 2))
    runs = textlog.read(write(tmp_path, text))
    assert [len(r["train_loss"]) for r in runs] == [3, 2]
    assert list(runs[1]["train_loss"].steps) == [1, 2]


def test_within_epoch_counter_without_total_gives_no_step(tmp_path: Path) -> None:
    text = "".join(f"Epoch {e} | Step {s} | loss: 0.{e}{s}\n" for e in (1, 2) for s in (0, 10))
    run = one_run(write(tmp_path, text))
    # Epoch 1's steps are already global; from epoch 2 the counter restarts with no total.
    assert nan_equal(run["train_loss"].steps, [0, 10, math.nan, math.nan])
    assert list(run["train_loss"].epochs) == [1, 1, 2, 2]
    assert any("no epoch length" in w for w in run.warnings)


def test_config_lines_are_not_metrics(tmp_path: Path) -> None:
    path = write(tmp_path, "lr: 0.001\nweight_decay: 0.01\n", "config.yaml")
    assert not textlog.sniff(path, path.read_bytes())


# --------------------------------------------------------------------------------------------
# Logs, not documents: a training curve or a ReadError
# --------------------------------------------------------------------------------------------

_NO_CURVE = r"no training curve found \(metric-like numbers only on "


@pytest.mark.parametrize(("text", "lines"), [
    ("epoch 1 | loss 0.5\n", "one line"),  # a single point is not a curve
    ("Final: train_loss=0.21, val_loss=0.35\nbest lr=0.001 after 12 epochs\n", "2 lines"),
    # the same setting in two sections of a README
    ("### Small\n- lr: 0.001\n- epochs: 20\n### Large\n- lr: 0.002\n- epochs: 40\n", "2 lines"),
    # the same key under two names of a YAML mapping
    ("optimizer:\n  name: adamw\n  lr: 0.001\nscheduler:\n  lr: 0.0001\n", "2 lines"),
    ("cat:\n  precision: 0.91\n  recall: 0.88\ndog:\n  precision: 0.86\n  recall: 0.9\n",
     "4 lines"),
])
def test_one_off_lines_are_no_curve(tmp_path: Path, text: str, lines: str) -> None:
    with pytest.raises(ReadError, match=_NO_CURVE + lines + " of a kind printed once"):
        textlog.read(write(tmp_path, text))


def test_markdown_table_rows_are_never_read(tmp_path: Path) -> None:
    table = ("| run | config | result |\n|---|:---:|---|\n"
             + "".join(f"| r{i} | lr={10.0 ** -i:g} | loss {1 / i:.2f} |\n" for i in range(1, 6)))
    with pytest.raises(ReadError, match=r"found \(numbers only in 5 Markdown table rows, which "
                                        r"are skipped\)$"):
        textlog.read(write(tmp_path, table))
    log = "".join(f"| epoch {e} | lr 0.1 | loss {1 / e:.2f}\n" for e in (1, 2, 3))
    run = one_run(write(tmp_path, table + "\n" + log, "b.log"))  # a log after the table
    assert list(run["train_loss"].values) == [1.0, 0.5, 0.33]
    assert list(run["lr"].values) == [0.1] * 3


@pytest.mark.parametrize(("text", "metric", "values"), [
    # the same kind of line again (in the same section, under the same mapping name)
    ("## Training\nloss: 0.5\nloss: 0.4\n", "train_loss", [0.5, 0.4]),
    ("Metrics:\n  loss: 0.5\nMetrics:\n  loss: 0.4\n", "train_loss", [0.5, 0.4]),
    # lines of different kinds, but the same metric at a later epoch that the line gives
    ("epoch=5 loss=0.3\nEpoch 6: loss: 0.25 (best)\n", "train_loss", [0.3, 0.25]),
    # forms only training prints, once: a Keras epoch, a tqdm postfix, a counter and its total
    ("Epoch 1/1\n10/10 [====] - 1s 5ms/step - loss: 0.41\n", "train_loss", [0.41]),
    ("100%|██████████| 50/50 [00:01<00:00, loss=0.41]\n", "train_loss", [0.41]),
    ("Epoch [3/50] Average Loss: 0.5709\n", "train_loss", [0.5709]),
])
def test_what_makes_a_curve(tmp_path: Path, text: str, metric: str,
                            values: list[float]) -> None:
    run = one_run(write(tmp_path, text))
    assert list(run[metric].values) == values


def test_one_off_lines_of_a_log_are_read(tmp_path: Path) -> None:
    text = ("Epoch 1 | loss: 0.9\nEpoch 2 | loss: 0.7\n"
            "Test set: Average loss: 0.61, Accuracy: 9687/10000 (97%)\n")
    run = one_run(write(tmp_path, text))
    assert list(run["Test Average loss"].values) == [0.61]


def test_the_repo_manifests_forced_as_text() -> None:
    for part, rows in (("generated", 122), ("real", 58)):
        with pytest.raises(ReadError, match=rf"; {rows} Markdown table rows skipped\)$"):
            textlog.read(ROOT / "corpus" / part / "MANIFEST.md")


# --------------------------------------------------------------------------------------------
# Bytes: encodings, line ends, partial lines, streaming
# --------------------------------------------------------------------------------------------


def test_non_utf8_bytes_are_replaced_with_one_warning(tmp_path: Path) -> None:
    data = b"epoch 1 | loss 0.5 | caf\xe9\nepoch 2 | loss 0.4 | \xff\xfe\nepoch 3 | loss 0.3\n"
    run = one_run(write(tmp_path, data))
    assert list(run["train_loss"].values) == [0.5, 0.4, 0.3]
    utf8 = [w for w in run.warnings if "UTF-8" in w]
    assert len(utf8) == 1 and utf8[0].startswith("line 1:")


def test_utf16_with_bom(tmp_path: Path) -> None:
    text = "Epoch 1/2\nloss: 0.5 - val_loss: 0.6\nEpoch 2/2\nloss: 0.4 - val_loss: 0.5\n"
    path = write(tmp_path, text.encode("utf-16"))
    assert textlog.sniff(path, path.read_bytes())
    assert list(one_run(path)["val_loss"].values) == [0.6, 0.5]


def test_unterminated_last_line_is_ignored_with_a_warning(tmp_path: Path) -> None:
    run = one_run(write(tmp_path, "epoch 1 | loss 0.5\nepoch 2 | loss 0.4"))
    assert list(run["train_loss"].values) == [0.5]
    assert any("line 2: the last line has no line end" in w for w in run.warnings)
    quiet = one_run(write(tmp_path, "epoch 1 | loss 0.5\nepoch 2 | loss 0.4\nall done", "b.log"))
    assert quiet.warnings == []  # nothing was lost, nothing to say


def test_carriage_return_only_progress_log(tmp_path: Path) -> None:
    updates = "".join(f"\rtrain: {20 * n}%|{'#' * n}| {n}/5 [00:0{n}<00:00, loss={1 / n:.3f}]"
                      for n in range(1, 6))
    run = one_run(write(tmp_path, updates))  # no line end at all: the last update is partial
    assert list(run["train_loss"].steps) == [1, 2, 3, 4]
    assert list(run["train_loss"].values) == [1.0, 0.5, 0.333, 0.25]


def test_a_line_longer_than_a_mebibyte_is_skipped(tmp_path: Path) -> None:
    data = "epoch 1 | loss 0.5\n" + "x" * (2 * textlog._MAX_LINE) + "\nepoch 2 | loss 0.4\n"
    run = one_run(write(tmp_path, data))
    assert list(run["train_loss"].values) == [0.5, 0.4]
    assert any("line 2: longer than" in w for w in run.warnings)


def test_binary_data_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, bytes(range(256)) * 64, "model.bin")
    assert not textlog.sniff(path, path.read_bytes()[:65536])
    with pytest.raises(ReadError, match=r"model\.bin: binary data"):
        textlog.read(path)


def test_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    """40,000 noise lines (3 MB) and 20 metric lines: the reader holds O(1) besides points
    (benchmarks/bench_text_read.py shows the same for 250,000 and 1,000,000 lines)."""
    path = tmp_path / "big.log"
    noise = "2024-01-01 00:00:00 INFO worker 3 fetched shard 0017 in 12.5ms (ETA 00:01:02)\n"
    with open(path, "w") as f:
        for i in range(20):
            f.write(noise * 2_000)
            f.write(f"epoch {i + 1} | loss {1 / (i + 1):.4f}\n")
    assert path.stat().st_size > 3_000_000
    tracemalloc.start()
    try:
        run = one_run(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(run["train_loss"]) == 20
    assert peak < 2_500_000, peak  # one 256 KiB block, decoded and split: under 2 MB


# --------------------------------------------------------------------------------------------
# Fuzzing: any bytes give runs or a ReadError, never another exception
# --------------------------------------------------------------------------------------------


def _corpus_lines() -> list[bytes]:
    lines: list[bytes] = []
    for name in ("043_cgcnn-aws", "044_wordlm-rnnrelu-nan", "047_painn-dynamofix",
                 "050_mt-en2zh-transformer", "051_kanji-cnn-keras-verbose", "052_slm-classic-tqdm",
                 "053_t5-batchloss", "055_moddedgpt-diffusion", "057_gpt2-lora-alpaca"):
        with open(corpus(name), "rb") as f:
            lines.extend(f.read(40_000).splitlines(keepends=True)[:120])
    for path in sorted(FIXTURES.glob("*.log")):
        lines.extend(path.read_bytes().splitlines(keepends=True)[:40])
    return lines


_LINES = _corpus_lines()
_JUNK = [b"\r", b"\n", b"\x00", b"\x1b[1m", b"\x08", b"\xff", b"\xe9", b"|", b":", b"=", b" - ",
         b"nan", b"-inf", b"1e309", b"Epoch 1/3", b"step:0/9", b"%|", b"[", b"]", b"{'", b"\t"]


@st.composite
def _mutated_logs(draw: st.DrawFn) -> bytes:
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    out = bytearray()
    for _ in range(draw(st.integers(1, 30))):
        line = bytearray(rng.choice(_LINES))
        for _ in range(rng.randrange(4)):
            at = rng.randrange(len(line) + 1)
            how = rng.randrange(4)
            if how == 0:
                line[at:at] = rng.choice(_JUNK)
            elif how == 1:
                del line[at: at + rng.randrange(1, 12)]
            elif how == 2:
                line[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 6)))
            else:
                line[at: at + 1] = str(rng.choice([0, 9, 1e300, -1])).encode()
        out += line
    if draw(st.booleans()):
        out = out.rstrip(b"\n")
    return bytes(out)


def _read_bytes(data: bytes) -> list[Run]:
    fd, name = tempfile.mkstemp(suffix=".log")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        path = Path(name)
        textlog.sniff(path, data[:65536])
        try:
            return textlog.read(path)
        except ReadError as exc:
            assert "\n" not in str(exc) and name in str(exc)
            return []
    finally:
        os.unlink(name)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000))
def test_fuzz_random_bytes(data: bytes) -> None:
    for run in _read_bytes(data):
        assert run.series and all(len(s) for s in run)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated_logs())
def test_fuzz_mutated_corpus_lines(data: bytes) -> None:
    for run in _read_bytes(data):
        assert run.format in ("text", "keras_console") and run.series
        for series in run:
            assert series.name and series.original and len(series) > 0
            assert all("\n" not in w for w in run.warnings)


TEXT_LOGS = ["043_cgcnn-aws", "044_wordlm-rnnrelu-nan", "045_wordlm-rnntanh-2l",
             "046_wordlm-gru-2l", "047_painn-dynamofix", "048_painn-cafa-param2",
             "049_painn-workingsetup0", "050_mt-en2zh-transformer",
             "051_kanji-cnn-keras-verbose", "052_slm-classic-tqdm", "053_t5-batchloss",
             "054_ssd-voc", "055_moddedgpt-diffusion", "056_graphnovo", "057_gpt2-lora-alpaca"]


def test_the_line_shape_cache_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every line parsed from scratch gives the same runs as the cached line shapes."""
    paths = [corpus(n) for n in TEXT_LOGS] + sorted(FIXTURES.glob("*.log"))
    cached = {p: textlog.read(p) for p in paths}
    monkeypatch.setattr(textlog._Parser, "_remember", lambda self, shape, plan: None)
    for path in paths:
        fresh = textlog.read(path)
        assert [r.name for r in fresh] == [r.name for r in cached[path]]
        for a, b in zip(fresh, cached[path], strict=True):
            assert list(a.series) == list(b.series) and a.warnings == b.warnings, path
            for name in a.series:
                for axis in ("steps", "epochs", "values"):
                    assert nan_equal(getattr(a[name], axis), list(getattr(b[name], axis))), \
                        (path, name, axis)


def test_lightning_tqdm_bar_one_point_per_batch() -> None:
    """A real Lightning 2.6 TQDMProgressBar (3 epochs of 8 batches, stdout captured): the bar
    counts a batch, then shows its loss, so each value belongs to the count where it first
    appears (it was put one batch later, and an epoch's last two values on the same step)."""
    run = one_run(FIXTURES / "lightning_tqdm.log")
    loss = run["train_loss"]
    assert loss.original == "train_loss_step" and not run.warnings
    assert list(loss.steps) == list(range(1, 25))
    assert list(loss.epochs) == [0] * 8 + [1] * 8 + [2] * 8
    # the losses training_step returned, as the bar rounds them
    assert list(loss.values[:9]) == [1.22, 0.85, 0.286, 0.246, 0.193, 0.0716, 0.0896, 0.0819,
                                     0.205]
    assert list(run["train_loss_epoch"].steps) == [8, 16, 24]
