"""The CSV/TSV reader (lossdoctor.read.table) on real public logs, on files written by the real
tools (Keras 3 and Lightning CSVLoggers, TensorBoard's CSV download), on hand-written W&B
exports, on the layouts people write by hand, and on bad input (including a bounded fuzz)."""

from __future__ import annotations

import importlib.util
import math
import os
import random
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lossdoctor.errors import ReadError
from lossdoctor.read import read, table
from lossdoctor.run import Run

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus" / "real"
FIXTURES = ROOT / "tests" / "fixtures" / "csv"


def corpus_file(num: int) -> Path:
    (d,) = CORPUS.glob(f"{num:03d}_*")
    (f,) = d.iterdir()
    return f


def read_csv(path: Path) -> list[Run]:
    """Read through the public dispatcher with the format forced (the sniffing is tested on
    its own below)."""
    assert table.sniff(path, path.read_bytes()[:65536]), f"{path} not recognised as CSV"
    return read(path, format="csv")


def write(tmp_path: Path, text: str | bytes, name: str = "log.csv") -> Path:
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, newline="")
    return p


def shape(run: Run) -> dict[str, tuple[str, int]]:
    return {k: (s.original, len(s)) for k, s in run.series.items()}


def point(run: Run, metric: str, i: int) -> tuple[float, float, float]:
    s = run[metric]
    return float(s.steps[i]), float(s.epochs[i]), float(s.values[i])


def same(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return all((math.isnan(x) and math.isnan(y)) or x == y for x, y in zip(a, b, strict=True))


NAN = math.nan

# --------------------------------------------------------------------------- the public corpus
# For each file: the runs (canonical name -> (original name, points)) and a few points
# (run index, metric, point index, (step, epoch, value)) copied from the file's text.

LIGHTNING_SLM = {
    "train_epoch_perplexity": ("train_epoch_perplexity", 10),
    "train_loss_epoch": ("train_loss_epoch", 10),
    "train_loss": ("train_loss_step", 2814),
    "train_perplexity_epoch": ("train_perplexity_epoch", 10),
    "train_perplexity_step": ("train_perplexity_step", 2814),
    "val_epoch_perplexity": ("val_epoch_perplexity", 10),
    "val_loss": ("val_loss", 10),
    "val_perplexity": ("val_perplexity", 10),
}
AES = ["train_acc", "auc", "lr", "train_loss", "precision", "recall", "val_acc", "val_auc",
       "val_loss", "val_precision", "val_recall"]
AES_ORIGINAL = ["accuracy", "auc", "learning_rate", "loss", "precision", "recall",
                "val_accuracy", "val_auc", "val_loss", "val_precision", "val_recall"]


def aes(n: int) -> dict[str, tuple[str, int]]:
    return {k: (o, n) for k, o in zip(AES, AES_ORIGINAL, strict=True)}


def keras(n: int, lr: str | None = None) -> dict[str, tuple[str, int]]:
    out = {"train_acc": ("accuracy", n)}
    if lr:
        out["lr"] = (lr, n)
    out |= {"train_loss": ("loss", n), "val_acc": ("val_accuracy", n), "val_loss": ("val_loss", n)}
    return out


CORPUS_CASES = {
    19: ([LIGHTNING_SLM], [
        (0, "train_loss", 0, (49, 0, 7.628580570220947)),
        (0, "val_loss", 0, (14073, 0, 4.132571697235107)),
        (0, "val_loss", -1, (140739, 9, 3.570486068725586)),
        (0, "train_loss_epoch", -1, (140739, 9, 3.687237024307251)),
    ]),
    # MANIFEST: 1126 train / 4 val points; the resumed run continues the step count of 019.
    20: ([{k: (o, 1126 if n == 2814 else 4) for k, (o, n) in LIGHTNING_SLM.items()}], [
        (0, "train_loss", 0, (140749, 10, 3.708270311355591)),
        (0, "val_loss", -1, (197035, 13, 3.604208469390869)),
    ]),
    21: ([{"train_loss": ("train_loss", 25), "val_loss": ("val_loss", 25)}], [
        (0, "val_loss", 0, (749, 0, 0.14995048940181732)),
        (0, "train_loss", 0, (749, 0, 0.4899386465549469)),
        (0, "train_loss", -1, (18749, 24, 0.015547605231404305)),
    ]),
    # MANIFEST names train_loss_epoch (10) as the training series; the run builder gives the
    # canonical train_loss to the name with the most points, here train_loss_step (217), and
    # train_loss_epoch keeps its own name.
    22: ([{"train_acc": ("train_acc", 10), "train_loss_epoch": ("train_loss_epoch", 10),
           "train_loss": ("train_loss_step", 217), "val_acc": ("val_acc", 10),
           "val_f1": ("val_f1", 10), "val_loss": ("val_loss", 10)}], [
        (0, "train_loss", 0, (49, 0, 2.8698573112487793)),
        (0, "val_loss", -1, (10879, 9, 0.011143533512949944)),
        (0, "train_loss_epoch", -1, (10879, 9, 0.029998263344168663)),
    ]),
    # The LearningRateMonitor rows (no epoch) appear twice per step in this file, so lr has
    # 776 points for 388 train points: kept as logged (the MANIFEST does not list lr).
    23: ([{"lr": ("lr-AdamW", 776), "train_loss": ("train_loss", 388),
           "val_acc": ("val_acc", 10), "val_loss": ("val_loss", 10)}], [
        (0, "lr", 0, (9, NAN, 0.0001)),
        (0, "lr", -1, (3879, NAN, 2.447174185242323e-06)),
        (0, "train_loss", 0, (9, 0, 1.894312858581543)),
        (0, "val_loss", -1, (3879, 9, 1.228519320487976)),
    ]),
    # test_loss row and an extra validation row (epoch 5) at the end.
    24: ([{"test_loss": ("test_loss", 1), "train_loss": ("train_loss", 171),
           "val_acc": ("val_accuracy", 6), "val_loss": ("val_loss", 6)}], [
        (0, "test_loss", 0, (8595, 5, 0.0322248712182045)),
        (0, "val_acc", -1, (8595, 5, 0.996399998664856)),
        (0, "val_acc", -2, (8594, 4, 0.9868000149726868)),
        (0, "train_loss", 0, (49, 0, 0.634955883026123)),
    ]),
    25: ([{"dynamics_loss_epoch": ("dynamics_loss_epoch", 2000),
           "dynamics_loss_step": ("dynamics_loss_step", 1280),
           "initial_omega_loss_epoch": ("initial_omega_loss_epoch", 2000),
           "initial_omega_loss_step": ("initial_omega_loss_step", 1280),
           "initial_theta_loss_epoch": ("initial_theta_loss_epoch", 2000),
           "initial_theta_loss_step": ("initial_theta_loss_step", 1280),
           "train_loss": ("train_loss_epoch", 2000),
           "train_loss_step": ("train_loss_step", 1280)}], [
        (0, "train_loss", 0, (31, 0, 139.9249725341797)),
        (0, "train_loss", -1, (63999, 1999, 0.007565576117485762)),
        (0, "train_loss_step", 0, (49, 1, 191.8877716064453)),
    ]),
    26: ([{"train_loss": ("train_loss", 28), "train_acc": ("train_acc", 28)}], [
        (0, "train_loss", 0, (49, 0, 2.347229480743408)),
        (0, "train_acc", -1, (1399, 19, 0.125)),
    ]),
    27: ([aes(100)], [
        (0, "train_loss", 0, (NAN, 0, 0.7207663655281067)),
        (0, "lr", -1, (NAN, 99, 1.546469320601318e-06)),
        (0, "val_loss", -1, (NAN, 99, 0.4341067373752594)),
    ]),
    # MANIFEST: "x = row index", 17 points in 3 appended runs; the file has an epoch column
    # (0 | 0..7 | 0..7) and each restart starts a run: 1 + 8 + 8 = 17.
    28: ([aes(1), aes(8), aes(8)], [
        (0, "train_loss", 0, (NAN, 0, 0.7117399573326111)),
        (1, "train_loss", 0, (NAN, 0, 0.7173225283622742)),
        (1, "train_loss", -1, (NAN, 7, 0.6931691765785217)),
        (2, "train_loss", 0, (NAN, 0, 0.7113180160522461)),
        (2, "val_loss", -1, (NAN, 7, 2.6728880405426025)),
    ]),
    # MANIFEST: 56 points in 2 appended runs (epoch 0..27 twice).
    29: ([aes(28), aes(28)], [
        (0, "train_loss", 0, (NAN, 0, 0.7185252904891968)),
        (1, "train_loss", 0, (NAN, 0, 0.7173048853874207)),
        (1, "train_loss", -1, (NAN, 27, 0.6931928992271423)),
    ]),
    30: ([keras(7)], [(0, "val_loss", -1, (NAN, 6, 0.5339007377624512))]),
    31: ([keras(63, "learning_rate")], [(0, "lr", -1, (NAN, 62, 7.812499825377017e-05))]),
    32: ([keras(10, "learning_rate")], [(0, "val_acc", 0, (NAN, 0, 0.5930232405662537))]),
    33: ([keras(29)], [(0, "train_loss", 27, (NAN, 27, 0.048188884))]),
    # No step/epoch column: the row order is the axis.
    34: ([{"train_loss": ("loss", 20), "val_loss": ("val_loss", 20)}], [
        (0, "train_loss", 0, (NAN, NAN, 0.00874660536646843)),
        (0, "val_loss", -1, (NAN, NAN, 0.00048672218690626323)),
    ]),
    35: ([{m: (m, 3000) for m in ("train_mse", "train_rmse", "train_mae", "train_r2",
                                  "val_mse", "val_rmse", "val_mae", "val_r2")}], [
        (0, "train_mse", 0, (NAN, 1, 0.8304453437978571)),
        (0, "val_r2", -1, (NAN, 3000, 0.9999498724937439)),
    ]),
    36: ([{"train_loss": ("avg_loss", 50), "min_loss": ("min_loss", 50),
           "max_loss": ("max_loss", 50)}], [
        (0, "train_loss", 0, (NAN, 1, 0.5357)),
        (0, "max_loss", 0, (NAN, 1, 12.5798)),
    ]),
    37: ([{"train_loss": ("avg_loss", 100), "min_loss": ("min_loss", 100),
           "max_loss": ("max_loss", 100)}], [(0, "train_loss", -1, (NAN, 100, 0.1259))]),
    # Spaces after the commas; val_acc is constant (1.0) but it is a metric, so it stays.
    38: ([{"train_loss": ("training_loss", 54), "train_acc": ("training_acc", 54),
           "val_loss": ("val_loss", 54), "val_acc": ("val_acc", 54)}], [
        (0, "train_loss", 2, (NAN, NAN, 4.51952)),
        (0, "val_acc", -1, (NAN, NAN, 1.0)),
    ]),
    # The per-epoch "time" column (seconds) is wall-clock bookkeeping, not a metric.
    39: ([{"train_loss": ("training_loss", 31), "train_acc": ("training_acc", 31),
           "val_loss": ("val_loss", 31), "val_acc": ("val_acc", 31)}], [
        (0, "train_loss", 0, (NAN, NAN, 0.6431)),
        (0, "val_acc", 0, (NAN, NAN, 0.72414)),
    ]),
    # Alpha and the four Lambda weights are constant hyper-parameters: meta, not metrics.
    40: ([{"train_loss": ("Training Loss", 100), "val_loss": ("Validation Loss", 100)}], [
        (0, "train_loss", 0, (NAN, 1, 6.451135490879868)),
        (0, "val_loss", -1, (NAN, 100, 0.8434625999494032)),
    ]),
    41: ([{"train_loss": ("loss", 58), "lr": ("lr", 58), "val_loss": ("val_loss", 58)}], [
        (0, "lr", -1, (NAN, 57, 6.25e-05)),
        (0, "val_loss", -1, (NAN, 57, 0.5444813966751099)),
    ]),
    # MANIFEST: "x = row index", train `Gen Loss`, second series `Disc Loss`. Both keep their
    # names (a GAN's generator/discriminator are not train/val); the Epoch column gives the
    # epoch of each point and Batch (the index within the epoch) is not a metric.
    42: ([{"Gen Loss": ("Gen Loss", 420), "Disc Loss": ("Disc Loss", 420)}], [
        (0, "Gen Loss", 0, (NAN, 0, 0.7203195095062256)),
        (0, "Disc Loss", 2, (NAN, 0, 1.3493235111236572)),
        (0, "Disc Loss", -1, (NAN, 19, 0.3175643980503082)),
    ]),
}
KERAS_IDS = {27, 28, 29, 30, 31, 32, 33, 41}
LIGHTNING_IDS = set(range(19, 27))


@pytest.mark.parametrize("num", sorted(CORPUS_CASES), ids=lambda n: f"{n:03d}")
def test_corpus_csv(num: int) -> None:
    path = corpus_file(num)
    runs = read_csv(path)
    expected_runs, points = CORPUS_CASES[num]
    assert [shape(r) for r in runs] == expected_runs
    fmt = "keras_csv" if num in KERAS_IDS else "lightning_csv" if num in LIGHTNING_IDS else "csv"
    for r in runs:
        assert r.format == fmt
        assert r.source == str(path)
        assert r.warnings == []
    for run_index, metric, i, expected in points:
        assert same(point(runs[run_index], metric, i), expected), (metric, i)


def test_corpus_csv_autodetected() -> None:
    """Through the dispatcher without --format: every corpus CSV reaches this reader."""
    for num in CORPUS_CASES:
        runs = read(corpus_file(num))
        assert [shape(r) for r in runs] == CORPUS_CASES[num][0]
        assert all(r.format.endswith("csv") for r in runs)


def test_corpus_column_rules() -> None:
    (r40,) = read_csv(corpus_file(40))
    assert r40.meta["constants"] == {"Alpha": 0.0, "Lambda Weight Lvl 1": 1.0,
                                     "Lambda Weight Lvl 2": 1.0, "Lambda Weight Lvl 3": 1.0,
                                     "Lambda Weight Lvl 4": 1.0}
    (r39,) = read_csv(corpus_file(39))
    assert r39.meta["ignored_columns"] == ["time"]
    (r19,) = read_csv(corpus_file(19))
    assert r19.meta["ignored_columns"] == ["epoch_time"]
    (r42,) = read_csv(corpus_file(42))
    assert "Batch" not in r42 and "Epoch" not in r42
    assert np.isnan(r42["Gen Loss"].steps).all()
    assert r42["Gen Loss"].epochs[20:22].tolist() == [0.0, 1.0]  # 21 batches per epoch
    (r28a, r28b, r28c) = read_csv(corpus_file(28))
    assert (r28a.name, r28b.name, r28c.name) == ("training_log_transformer#1",
                                                 "training_log_transformer#2",
                                                 "training_log_transformer#3")
    assert r28b.meta["first_line"] == 3
    # Lightning's metrics.csv is named for its version directory.
    assert read_csv(corpus_file(21))[0].name == "021_lstm-lightning-v16"
    assert r40.meta.get("epoch_base") is None and read_csv(corpus_file(30))[0].meta[
        "epoch_base"] == 0


def test_corpus_sniffing() -> None:
    """Every CSV of the corpus is recognised; no text log or JSON file is."""
    for d in sorted(CORPUS.iterdir()):
        if not d.is_dir():
            continue
        (f,) = d.iterdir()
        num = int(d.name[:3])
        assert table.sniff(f, f.read_bytes()[:65536]) == (19 <= num <= 42), f


# --------------------------------------------------------------------------- real tools


def test_keras_csvlogger_validation_and_reduce_lr() -> None:
    (run,) = read_csv(FIXTURES / "keras_val_plateau.csv")
    assert run.format == "keras_csv"
    assert shape(run) == {"lr": ("learning_rate", 8), "train_loss": ("loss", 8),
                          "mae": ("mae", 8), "val_loss": ("val_loss", 8),
                          "val_mae": ("val_mae", 8)}
    assert run["lr"].epochs.tolist() == list(range(8))
    assert np.isnan(run["lr"].steps).all()
    assert run["lr"].values[0] == 0.05000000074505806
    assert run["lr"].values[-1] == 0.0062500000931322575  # halved three times
    assert run["val_loss"].values[0] == 3.066678047180176


def test_keras_csvlogger_appended_runs_and_na() -> None:
    """append=True writes no second header: the epoch column restarts; without validation
    data Keras writes NA in the val_* columns, which are missing values, not points."""
    runs = read_csv(FIXTURES / "keras_appended.csv")
    assert [shape(r) for r in runs] == [
        {"train_loss": ("loss", 3), "mae": ("mae", 3)},
        {"train_loss": ("loss", 4), "mae": ("mae", 4)},
    ]
    assert runs[1]["train_loss"].epochs.tolist() == [0, 1, 2, 3]
    assert runs[1]["train_loss"].values[0] == 4.220088958740234


def test_keras_csvlogger_nan_is_a_point() -> None:
    (run,) = read_csv(FIXTURES / "keras_nan.csv")
    loss = run["train_loss"]
    assert len(loss) == 6
    assert loss.values[2] == 3.516857385635376
    assert np.isnan(loss.values[3:]).all()
    assert run["lr"].values[3] == 1.0000000150474662e30
    assert "val_learning_rate" not in run and "val_loss" not in run  # all NA


def test_lightning_csvlogger() -> None:
    (run,) = read_csv(FIXTURES / "lightning" / "metrics.csv")
    assert run.format == "lightning_csv"
    assert run.name == "lightning"
    assert shape(run) == {
        "lr": ("lr-SGD", 12), "test_acc": ("test_acc", 1), "test_loss": ("test_loss", 1),
        "train_loss_epoch": ("train_loss_epoch", 4), "train_loss": ("train_loss_step", 12),
        "val_acc": ("val_acc", 5), "val_loss": ("val_loss", 5),
    }
    lr = run["lr"]
    assert np.isnan(lr.epochs).all()  # LearningRateMonitor rows carry no epoch
    assert lr.steps[:3].tolist() == [1, 3, 5]
    assert lr.values.tolist() == [0.5] * 6 + [0.05] * 6  # StepLR(step_size=2, gamma=0.1)
    assert same(point(run, "train_loss", 0), (1, 0, 0.8824940323829651))
    assert same(point(run, "train_loss_epoch", 0), (5, 0, 0.5656525492668152))
    assert same(point(run, "val_loss", 0), (5, 0, 0.36299172043800354))
    # trainer.validate after fit: an extra val row; trainer.test: the test rows.
    assert same(point(run, "val_acc", -1), (24, 4, 0.9375))
    assert same(point(run, "test_loss", 0), (24, 4, 0.2915504574775696))


def test_tensorboard_csv_download() -> None:
    (run,) = read_csv(FIXTURES / "tensorboard_export" / "run-version_0-tag-train_loss.csv")
    assert run.format == "tensorboard_csv"
    assert shape(run) == {"train_loss": ("train_loss", 10)}
    assert run["train_loss"].steps.tolist() == list(range(0, 50, 5))
    assert run["train_loss"].values[1] == 0.3333333432674408
    assert run.meta["ignored_columns"] == ["Wall time"]


def _load_fixture_script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("make_csv_fixtures",
                                                  FIXTURES / "make_fixtures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_keras_written_now(tmp_path: Path) -> None:
    """The installed Keras (torch backend) still writes what the committed fixtures hold."""
    if "keras" not in sys.modules:
        os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("keras is loaded with another backend")
    plateau, appended, nan = _load_fixture_script().write_keras(tmp_path)
    committed = {p.name: [shape(r) for r in read_csv(FIXTURES / p.name)]
                 for p in (plateau, appended, nan)}
    for p in (plateau, appended, nan):
        assert [shape(r) for r in read_csv(p)] == committed[p.name]
    assert np.isnan(read_csv(nan)[0]["train_loss"].values[-1])


@pytest.mark.slow
def test_lightning_written_now(tmp_path: Path) -> None:
    pytest.importorskip("lightning")
    path = _load_fixture_script().write_lightning(tmp_path)
    (run,) = read_csv(path)
    (committed,) = read_csv(FIXTURES / "lightning" / "metrics.csv")
    assert shape(run) == shape(committed)
    assert run["lr"].steps.tolist() == committed["lr"].steps.tolist()


def test_tbparse_long_table() -> None:
    """tbparse's scalars DataFrame saved with to_csv: one point per row, the tag naming the
    metric and dir_name the run."""
    runs = read_csv(FIXTURES / "tbparse_scalars.csv")
    both = {"train_loss": ("train/loss", 5), "val_loss": ("val/loss", 3)}
    assert [(r.name, r.format, shape(r)) for r in runs] == [
        ("run_a", "tensorboard_csv", both), ("run_b", "tensorboard_csv", both)]
    assert runs[1]["val_loss"].steps.tolist() == [0, 2, 4]
    assert runs[1]["val_loss"].values[1] == 0.9166666865348816
    assert runs[0].meta["ignored_columns"] == [""]


def test_tbparse_add_scalars_directories_join_their_run(tmp_path: Path) -> None:
    """add_scalars writes one sub-directory per key holding the main tag only; in tbparse's
    dir_name they are the run's metrics Loss/train and Loss/valid, as when the logdir itself
    is read (each was a run of its own whose 'Loss' read as the training loss)."""
    rows = ["step,tag,value,dir_name"]
    for i in range(4):
        rows += [f"{i},Loss,{1 / (1 + i)},runA/Loss_train",  # torch
                 f"{i},Loss,{1.2 / (1 + i)},runA/Loss_valid",
                 f"{i},Acc,{0.5 + i / 10},runB/Acc/train",  # tensorboardX
                 f"{i},Acc,{0.4 + i / 10},runB/Acc/val",
                 f"{i},loss,{2 / (1 + i)},runC"]
    runs = read_csv(write(tmp_path, "\n".join(rows) + "\n"))
    assert [(r.name, shape(r)) for r in runs] == [
        ("runA", {"train_loss": ("Loss/train", 4), "val_loss": ("Loss/valid", 4)}),
        ("runB", {"train_acc": ("Acc/train", 4), "val_acc": ("Acc/val", 4)}),
        ("runC", {"train_loss": ("loss", 4)})]


def test_wandb_history_trainer_epoch_is_the_epoch_axis(tmp_path: Path) -> None:
    """A W&B history export logged by Lightning's WandbLogger names the epoch trainer/epoch,
    as the JSON reader already knows (it was read as a metric, the points had no epoch)."""
    text = "_step,train/loss,val/loss,trainer/epoch\n0,1.0,,0\n1,0.8,1.1,0\n2,0.6,,1\n3,0.5,0.9,1\n"
    (run,) = read_csv(write(tmp_path, text))
    assert set(run.series) == {"train_loss", "val_loss"}
    assert run["train_loss"].epochs.tolist() == [0, 0, 1, 1]
    assert run["val_loss"].epochs.tolist() == [0, 1]


def test_a_resumed_keras_csv_stays_one_run(tmp_path: Path) -> None:
    """CSVLogger(append=True) with fit(initial_epoch=5) after 8 epochs: the epoch goes back
    from 7 to 5, not to the start: one resumed run with a warning (it was split in two), as
    the text and JSON readers read it; a counter back at the start is still a new run."""
    resumed = "epoch,loss\n" + "".join(f"{e},{1 - e / 20}\n" for e in (*range(8), *range(5, 12)))
    (run,) = read_csv(write(tmp_path, resumed))
    assert run["train_loss"].epochs.tolist() == [*range(8), *range(5, 12)]
    assert run.warnings == ["line 10: epoch went back from 7 to 5 (a resumed run?); kept in the "
                            "same run"]
    again = "epoch,loss\n" + "".join(f"{e},{1 - e / 20}\n" for e in (*range(4), *range(3)))
    assert [len(r["train_loss"]) for r in read_csv(write(tmp_path, again, "b.csv"))] == [4, 3]


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be"])
def test_utf16_with_a_byte_order_mark(tmp_path: Path, codec: str) -> None:
    """Excel's "Unicode text" export: UTF-16 with a BOM, tab-separated, CRLF (it was
    "binary data"); a last row cut in the middle is still noticed."""
    text = "epoch\tloss\tval_loss\r\n" + "".join(
        f"{e}\t{1 / (e + 1):.4f}\t{1.2 / (e + 1):.4f}\r\n" for e in range(10))
    data = ("\ufeff" if codec == "utf-16-be" else "") + text
    (run,) = read_csv(write(tmp_path, data.encode(codec), "log.tsv"))
    assert run["train_loss"].values.tolist() == [round(1 / (e + 1), 4) for e in range(10)]
    assert run["val_loss"].epochs.tolist() == list(range(10))
    cut = (data + "10\t0.09").encode(codec)
    (run,) = read_csv(write(tmp_path, cut, "cut.tsv"))
    assert len(run["train_loss"]) == 10
    assert any("cut short" in w for w in run.warnings)


def test_mlflow_metric_history_long_table() -> None:
    (run,) = read_csv(FIXTURES / "mlflow_history.csv")
    assert shape(run) == {"train_loss": ("train_loss", 4), "val_loss": ("val_loss", 4)}
    assert run["val_loss"].steps.tolist() == [0, 1, 2, 3]
    assert run["val_loss"].values[-1] == 0.3
    assert "timestamp" in run.meta["ignored_columns"]


def test_long_table_with_runs_and_bad_values(tmp_path: Path) -> None:
    text = ("run,epoch,metric,value\n"
            "a,0,loss,0.9\na,0,val_loss,1.0\na,1,loss,0.8\na,1,val_loss,oops\n"
            "b,0,loss,0.7\nb,1,loss,nan\n")
    runs = read_csv(write(tmp_path, text))
    assert [(r.name, shape(r)) for r in runs] == [
        ("a", {"train_loss": ("loss", 2), "val_loss": ("val_loss", 1)}),
        ("b", {"train_loss": ("loss", 2)}),
    ]
    assert np.isnan(runs[1]["train_loss"].values[1])
    assert runs[0].warnings == [
        "line 5: column 'value' has 1 non-numeric cell(s) read as missing (first 'oops')"]


# --------------------------------------------------------------------------- W&B exports


def test_wandb_history_export() -> None:
    (run,) = read_csv(FIXTURES / "wandb_history.csv")
    assert run.format == "wandb_csv"
    assert shape(run) == {
        "train_loss": ("train/loss", 8), "grad_norm": ("train/grad_norm", 8),
        "lr": ("train/learning_rate", 8), "val_loss": ("eval/loss", 4),
        "val_acc": ("eval/accuracy", 4),
        "eval/samples_per_second": ("eval/samples_per_second", 4),
    }
    # train/global_step is the step axis (W&B's own _step counts log calls), train/epoch the
    # epoch axis; the bookkeeping columns are not metrics.
    assert same(point(run, "train_loss", 1), (20, 0.5, 1.0))
    assert same(point(run, "val_loss", 0), (20, 0.5, 1.2000000000000002))
    assert run.meta["ignored_columns"] == ["", "_runtime", "_timestamp", "eval/runtime",
                                           "_step"]


def test_wandb_panel_export() -> None:
    runs = read_csv(FIXTURES / "wandb_panel.csv")
    assert [(r.name, r.format, shape(r)) for r in runs] == [
        ("glowing-sun-3", "wandb_csv", {"train_loss": ("train/loss", 6)}),
        ("dry-fire-2", "wandb_csv", {"train_loss": ("train/loss", 3)}),
    ]
    assert runs[0]["train_loss"].steps.tolist() == [0, 100, 200, 300, 400, 500]
    assert runs[1]["train_loss"].values.tolist() == [2.29, 2.01, 1.87]


def test_wandb_panel_export_epoch_axis() -> None:
    runs = read_csv(FIXTURES / "wandb_panel_epoch.csv")
    assert [(r.name, shape(r)) for r in runs] == [
        ("playful-sun-17", {"val_loss": ("val/loss", 4)}),
        ("true-pond-16", {"val_loss": ("val/loss", 4)}),
    ]
    # Each run's own "<run> - _step" column gives its steps; the x column gives the epochs.
    assert same(point(runs[1], "val_loss", 2), (249, 2, 0.7))
    assert same(point(runs[0], "val_loss", 3), (399, 3, 0.25))


def test_wandb_grouped_panel(tmp_path: Path) -> None:
    p = write(tmp_path, '"Step","Group: lr=0.1 - loss","Group: lr=0.1 - loss__MIN",'
              '"Group: lr=0.1 - loss__MAX"\n"1","0.9","0.8","1.0"\n"2","0.7","0.6","0.8"\n')
    (run,) = read_csv(p)
    assert run.name == "Group: lr=0.1"
    assert shape(run) == {"train_loss": ("loss", 2)}


# --------------------------------------------------------------------------- generic layouts


def test_generic_step_loss(tmp_path: Path) -> None:
    (run,) = read_csv(write(tmp_path, "step,loss,val_loss\n10,0.9,1.0\n20,0.8,0.95\n"))
    assert run.format == "csv"
    assert shape(run) == {"train_loss": ("loss", 2), "val_loss": ("val_loss", 2)}
    assert same(point(run, "val_loss", 1), (20, NAN, 0.95))


def test_tsv_quoted_cells_and_spaces(tmp_path: Path) -> None:
    p = write(tmp_path, 'epoch\t"train loss"\t val acc \n1\t"0.5"\t 0.7\n2\t"0.4"\t 0.75\n',
              "log.tsv")
    (run,) = read_csv(p)
    assert shape(run) == {"train_loss": ("train loss", 2), "val_acc": ("val acc", 2)}
    assert same(point(run, "train_loss", 1), (NAN, 2, 0.4))


def test_semicolon_and_decimal_comma(tmp_path: Path) -> None:
    (run,) = read_csv(write(tmp_path, "epoch;loss;val_loss\n1;0,5;0,6\n2;0,25;1e-1\n"))
    assert run["train_loss"].values.tolist() == [0.5, 0.25]
    assert run["val_loss"].values.tolist() == [0.6, 0.1]


def test_no_axis_column_leaves_steps_and_epochs_nan(tmp_path: Path) -> None:
    (run,) = read_csv(write(tmp_path, "loss, acc\n0.9, 0.5\n0.7, 0.6\n0.6, 0.7\n"))
    s = run["train_loss"]
    assert s.axis == "index"
    assert np.isnan(s.steps).all() and np.isnan(s.epochs).all()


def test_repeated_header_starts_a_run(tmp_path: Path) -> None:
    text = "loss,val_loss\n0.9,1.0\n0.8,0.9\nloss,val_loss\n0.7,0.8\n"
    runs = read_csv(write(tmp_path, text, "appended.csv"))
    assert [shape(r) for r in runs] == [
        {"train_loss": ("loss", 2), "val_loss": ("val_loss", 2)},
        {"train_loss": ("loss", 1), "val_loss": ("val_loss", 1)},
    ]
    assert [r.name for r in runs] == ["appended#1", "appended#2"]
    assert runs[1].meta["first_line"] == 4


def test_a_new_header_starts_a_run(tmp_path: Path) -> None:
    text = "epoch,loss\n0,0.9\n1,0.8\nepoch,loss,val_loss\n0,0.7,0.8\n"
    runs = read_csv(write(tmp_path, text))
    assert [shape(r) for r in runs] == [
        {"train_loss": ("loss", 2)},
        {"train_loss": ("loss", 1), "val_loss": ("val_loss", 1)},
    ]


def test_step_restart_starts_a_run(tmp_path: Path) -> None:
    text = "step,loss\n0,1.0\n100,0.8\n200,0.7\n0,1.1\n100,0.9\n"
    runs = read_csv(write(tmp_path, text))
    assert [len(r["train_loss"]) for r in runs] == [3, 2]


def test_sparse_rows_at_the_same_step_are_one_run(tmp_path: Path) -> None:
    """Train and val rows sharing a step (sparse, like Lightning's) do not restart."""
    text = "step,loss,val_loss\n100,0.8,\n100,,0.9\n200,0.7,\n200,,0.85\n"
    (run,) = read_csv(write(tmp_path, text))
    assert shape(run) == {"train_loss": ("loss", 2), "val_loss": ("val_loss", 2)}


def test_lightning_empty_cell_is_missing_nan_cell_is_a_point(tmp_path: Path) -> None:
    text = ("epoch,step,train_loss_step,val_loss\n"
            "0,9,0.9,\n0,19,nan,\n0,19,,NaN\n1,29,inf,\n")
    (run,) = read_csv(write(tmp_path, text, "metrics.csv"))
    assert run.format == "lightning_csv"
    loss = run["train_loss"]
    assert len(loss) == 3
    assert loss.values[0] == 0.9 and np.isnan(loss.values[1]) and loss.values[2] == np.inf
    assert len(run["val_loss"]) == 1 and np.isnan(run["val_loss"].values[0])


def test_missing_markers(tmp_path: Path) -> None:
    (run,) = read_csv(write(tmp_path, "epoch,loss,val_loss\n0,0.9,NA\n1,0.8,N/A\n2,0.7,null\n"
                                      "3,0.6,None\n4,0.5,0.4\n"))
    assert len(run["train_loss"]) == 5 and len(run["val_loss"]) == 1


def test_tensor_reprs_are_numbers(tmp_path: Path) -> None:
    text = "epoch,loss\n0,tensor(0.5000)\n1,\"tensor(0.2500, device='cuda:0')\"\n"
    (run,) = read_csv(write(tmp_path, text))
    assert run["train_loss"].values.tolist() == [0.5, 0.25]


def test_bom_crlf_comment_and_trailing_delimiter(tmp_path: Path) -> None:
    text = "\ufeff# written by my script\r\nepoch,loss,\r\n0,0.9,\r\n1,0.8,\r\n"
    (run,) = read_csv(write(tmp_path, text.encode("utf-8")))
    assert shape(run) == {"train_loss": ("loss", 2)}


def test_single_column(tmp_path: Path) -> None:
    (run,) = read_csv(write(tmp_path, "loss\n0.9\n0.8\n0.75\n"))
    assert run["train_loss"].values.tolist() == [0.9, 0.8, 0.75]


def test_duplicate_column_names_are_kept_apart(tmp_path: Path) -> None:
    (run,) = read_csv(write(tmp_path, "epoch,loss,loss\n0,0.9,1.9\n1,0.8,1.8\n"))
    assert shape(run) == {"train_loss": ("loss", 2), "loss.1": ("loss.1", 2)}


def test_bookkeeping_columns_are_not_metrics(tmp_path: Path) -> None:
    text = (",Unnamed: 0,run_id,timestamp,seed,phase,epoch,loss,weird\n"
            "0,0,a1,1716200000.5,42,train,0,0.9,3\n"
            "1,1,a1,1716200060.5,42,train,1,0.8,4\n"
            "2,2,a1,1716200120.5,42,train,2,0.7,5\n")
    (run,) = read_csv(write(tmp_path, text))
    # Unknown numeric columns stay metrics ("weird"); constants and text columns go to meta.
    assert shape(run) == {"train_loss": ("loss", 3), "weird": ("weird", 3)}
    assert run.meta["ignored_columns"] == ["", "Unnamed: 0", "run_id", "timestamp"]
    assert run.meta["constants"] == {"seed": 42.0}
    assert run.meta["text_columns"] == ["phase"]


def test_constant_metric_like_columns_stay(tmp_path: Path) -> None:
    (run,) = read_csv(write(tmp_path, "epoch,loss,lr,val_acc\n0,0.9,0.1,1\n1,0.8,0.1,1\n"
                                      "2,0.7,0.1,1\n"))
    assert set(run.series) == {"train_loss", "lr", "val_acc"}


def test_large_file_is_streamed(tmp_path: Path) -> None:
    """Memory follows the points (the Run alone takes 24 bytes a point), not the text: holding
    the rows as lists of strings would take about 220 bytes a row here."""
    p = tmp_path / "big.csv"
    with open(p, "w") as f:
        f.write("step,loss\n")
        f.writelines(f"{i},{1 / (i + 1)!r}\n" for i in range(10_000))
    tracemalloc.start()
    try:
        (run,) = read(p, format="csv")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(run["train_loss"]) == 10_000
    assert run["train_loss"].steps[-1] == 9_999
    assert peak < 100 * 10_000


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(("content", "problem"), [
    ("epoch,loss,val_loss\n", "header only"),
    ("epoch,loss,val_loss\n\n\n", "header only"),
    ("1,0.5\n2,0.4\n", "not a CSV"),
    ("", "empty file"),
    ("epoch,loss\n0,0.5,1,2,3\n1,0.4,1,2,3\n2,0.3,4,5,6\n",
     "no readable rows: 3 row(s) malformed, first at line 2 (5 cells where the header has 2)"),
    ("epoch,loss\n0,0.5\n1,0.4,1\n2,0.3,4\n3,0.2,5\n", "ragged table: 3 of 4 rows"),
    ("epoch,loss\n0,abc\n1,def\n2,0.5\n", "column 'loss' is mostly non-numeric"),
    ("epoch,loss\n0,abc\n1,def\n2,ghi\n", "no numeric metric columns"),
    ("epoch,phase\n0,abc\n1,def\n2,ghi\n", "no numeric metric columns"),
    ("The loss went down, then it went up.\n", "not a CSV"),
    ("epoch,_runtime\n0,1.5\n1,3.0\n", "no metric values"),
])
def test_unreadable_files_give_one_read_error(tmp_path: Path, content: str,
                                              problem: str) -> None:
    p = write(tmp_path, content)
    with pytest.raises(ReadError) as info:
        read(p, format="csv")
    message = str(info.value)
    assert message.startswith(f"{p}: ") and problem in message and "\n" not in message


def test_malformed_row_is_skipped_with_one_warning(tmp_path: Path) -> None:
    text = "epoch,loss\n0,0.9\n1,0.8,7,7\n2,0.7\n3,0.6\n"
    (run,) = read_csv(write(tmp_path, text))
    assert run["train_loss"].epochs.tolist() == [0, 2, 3]
    assert run.warnings == ["line 3: skipped 1 malformed row(s) (4 cells where the header has 2)"]


def test_short_and_non_numeric_cells_warn(tmp_path: Path) -> None:
    text = "epoch,loss,val_loss\n0,0.9,1.0\n1,0.8\n2,oops,0.9\n3,0.6,0.8\n"
    (run,) = read_csv(write(tmp_path, text))
    assert shape(run) == {"train_loss": ("loss", 3), "val_loss": ("val_loss", 3)}
    assert run.warnings == [
        "line 3: 1 row(s) shorter than the header; their missing cells read as empty",
        "line 4: column 'loss' has 1 non-numeric cell(s) read as missing (first 'oops')",
    ]


def test_non_utf8_bytes_warn(tmp_path: Path) -> None:
    p = write(tmp_path, b"epoch,loss,note\n0,0.9,caf\xe9\n1,0.8,ok\n2,0.7,\xff\xfe\n")
    (run,) = read_csv(p)
    assert shape(run) == {"train_loss": ("loss", 3)}
    assert run.warnings == ["line 2: non-UTF-8 bytes on 2 row(s) replaced"]


@pytest.mark.parametrize("text", [
    "Hello, this is a README.\nIt has sentences, commas, and words.\n",
    "epoch 1, loss 0.52, acc 0.81\nepoch 2, loss 0.41, acc 0.85\n",
    "{'loss': 0.5, 'learning_rate': 5e-05, 'epoch': 0.1}\n{'loss': 0.4, 'epoch': 0.2}\n",
    "Epoch 1/10\n100/100 [======] - 1s 5ms/step - loss: 0.5 - accuracy: 0.8\n",
    "2024-05-01 10:00:00,123 - INFO - step 10 loss 0.5\n"
    "2024-05-01 10:00:01,456 - INFO - step 20 loss 0.4\n",
    "Epoch 1: 100%|#####| 10/10 [00:01<00:00, 9.5it/s, loss=0.5]\n",
    "name,value\nlr,0.001\nbatch_size,32\n",
    '{"loss": 0.5, "step": 1}\n{"loss": 0.4, "step": 2}\n',
])
def test_sniff_rejects_prose_and_text_logs(tmp_path: Path, text: str) -> None:
    assert not table.sniff(tmp_path / "x", text.encode())


def test_sniff_sees_only_the_head(tmp_path: Path) -> None:
    lines = ["step,loss"] + [f"{i},{0.5 + i * 1e-6:.6f}" for i in range(10_000)]
    data = ("\n".join(lines) + "\n").encode()
    assert table.sniff(tmp_path / "x", data[:65536])  # cut mid-row


def test_sniff_rejects_binary(tmp_path: Path) -> None:
    assert not table.sniff(tmp_path / "x", bytes(range(256)) * 4)


# --------------------------------------------------------------------------- fuzz

_SEEDS = [corpus_file(n).read_bytes()[:6000] for n in (21, 23, 24, 28, 38, 40, 42)] + [
    (FIXTURES / name).read_bytes() for name in ("wandb_panel.csv", "wandb_history.csv",
                                                "keras_nan.csv")
]
_JUNK = [b",", b"\t", b";", b'"', b"\n", b"\r", b"\x00", b"\xff", b"nan", b"NA", b"-", b"1e999",
         b"epoch", b"step", b"loss", b",,,,", b"__MIN", b" - "]


def _read_or_error(tmp_dir: Path, data: bytes) -> None:
    p = tmp_dir / "fuzz.csv"
    p.write_bytes(data)
    table.sniff(p, data[:65536])
    try:
        runs = read(p, format="csv")
    except ReadError as exc:
        assert "\n" not in str(exc)
        return
    assert runs and all(isinstance(r, Run) and r.series for r in runs)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.binary(max_size=2000))
def test_fuzz_random_bytes(fuzz_dir: Path, data: bytes) -> None:
    _read_or_error(fuzz_dir, data)


@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.sampled_from(range(len(_SEEDS))), rnd=st.randoms(use_true_random=False),
       edits=st.integers(min_value=1, max_value=8))
def test_fuzz_mutated_corpus_csvs(fuzz_dir: Path, seed: int, rnd: random.Random,
                                  edits: int) -> None:
    data = bytearray(_SEEDS[seed])
    for _ in range(edits):
        i = rnd.randrange(len(data) + 1)
        op = rnd.randrange(4)
        if op == 0:
            del data[i:i + rnd.randrange(1, 40)]
        elif op == 1:
            data[i:i] = rnd.choice(_JUNK)
        elif op == 2:
            data[i:i + 1] = bytes([rnd.randrange(256)])
        else:
            del data[i:]  # truncated (a file still being written)
    _read_or_error(fuzz_dir, bytes(data))


def test_cut_last_row_of_a_growing_file_is_skipped(tmp_path: Path) -> None:
    text = "epoch,step,train_loss_step,val_loss\n0,9,0.9,\n0,19,0.8,\n0,29,0.7"
    (run,) = read_csv(write(tmp_path, text, "metrics.csv"))
    assert run["train_loss"].values.tolist() == [0.9, 0.8]
    assert run.warnings == ["line 4: the last row is cut short (a file still being written?); "
                            "skipped"]
    # A complete last row without a line end (as in corpus file 039) is kept.
    (run,) = read_csv(write(tmp_path, "epoch,loss\n0,0.9\n1,0.8", "done.csv"))
    assert len(run["train_loss"]) == 2 and run.warnings == []


def test_latin1_header_is_read_with_a_warning(tmp_path: Path) -> None:
    (run,) = read_csv(write(tmp_path, b"\xe9poque,loss\n0,0.9\n1,0.8\n"))
    assert shape(run) == {"train_loss": ("loss", 2), "\ufffdpoque": ("\ufffdpoque", 2)}
    assert run.warnings == ["line 1: non-UTF-8 bytes on 1 row(s) replaced"]


def test_wandb_run_name_with_a_dash(tmp_path: Path) -> None:
    p = write(tmp_path, '"Step","resnet - lr 0.1 - train/loss","resnet - lr 0.1 - train/loss__MIN",'
              '"resnet - lr 0.1 - train/loss__MAX"\n"0","1.0","1.0","1.0"\n'
              '"1","0.5","0.5","0.5"\n')
    (run,) = read_csv(p)
    assert run.name == "resnet - lr 0.1" and shape(run) == {"train_loss": ("train/loss", 2)}


@pytest.mark.parametrize(("text", "problem"), [
    ("model,top1_acc,val_loss\nresnet18,69.8,1.25\nresnet50,76.1,0.96\n",
     "no training curve found (each row is named in the first column 'model' (resnet18, "
     "resnet50): a table of results to compare, not a curve along steps or epochs)"),
    (",precision,recall\n0,0.9,0.8\n1,0.8,0.9\naccuracy,0.85,0.85\nmacro avg,0.85,0.85\n",
     "no training curve found (each row is named in the first column (0, 1, accuracy, …): a "
     "table of results to compare, not a curve along steps or epochs)"),
    ("epoch,loss,val_loss\n20,0.031,0.045\n",
     "no training curve found (one row of numbers: a summary of final values, not a curve)"),
])
def test_tables_that_are_no_curve(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(ReadError) as info:
        read_csv(write(tmp_path, text))
    assert info.value.problem == problem


@pytest.mark.parametrize("text", [
    "phase,loss\ntrain,0.9\nval,1.0\ntrain,0.7\nval,0.8\n",  # labels repeat: a log
    "run,epoch,loss\na,1,0.9\nb,2,0.7\n",  # an epoch column: points along it
    "loss,val_loss\n0.9,1.0\n0.7,0.8\n",  # no axis: the row order is the axis
    "when,loss\n2024-01-01 10:00,0.9\n2024-01-01 11:00,0.7\n",  # dates: a time axis
    "clock,loss\n10:00:05,0.9\n10:01:05,0.7\n",
])
def test_tables_that_are_curves(tmp_path: Path, text: str) -> None:
    (run,) = read_csv(write(tmp_path, text))
    assert len(run["train_loss"]) == text.count("\n") - 1


def test_keras_tab_separator(tmp_path: Path) -> None:
    # CSVLogger(separator="\t"), epoch 2 stopped early: the val cells are NA.
    text = "epoch\tloss\tval_loss\n0\t0.9\t1.0\n1\t0.8\t0.95\n2\t0.7\tNA\n"
    (run,) = read_csv(write(tmp_path, text, "log.tsv"))
    assert run.format == "keras_csv"
    assert shape(run) == {"train_loss": ("loss", 3), "val_loss": ("val_loss", 2)}
