"""The MLflow reader on stores written by `mlflow` itself (file store and SQLite, written by
tests/fixtures/mlflow/write_stores.py in a temporary directory) and on damaged stores."""

from __future__ import annotations

import math
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lossdoctor.errors import ReadError
from lossdoctor.read import mlruns
from lossdoctor.read import read as read_any
from lossdoctor.run import Run

HERE = Path(__file__).resolve().parent
WRITER = HERE / "fixtures" / "mlflow" / "write_stores.py"
sys.path.insert(0, str(WRITER.parent))
from write_stores import EXP_B  # noqa: E402


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("mlflow")
    out = tmp_path_factory.mktemp("mlflow")
    subprocess.run([sys.executable, str(WRITER), str(out)], check=True, capture_output=True,
                   timeout=300)
    return out


@pytest.fixture
def file_store(stores: Path, tmp_path: Path) -> Path:
    """A private copy of the file store (tests may damage it)."""
    return Path(shutil.copytree(stores / "mlruns", tmp_path / "mlruns"))


def by_name(runs: list[Run]) -> dict[str, Run]:
    names = [r.name for r in runs]
    assert len(set(names)) == len(names), names
    return {r.name: r for r in runs}


def run_dir(store: Path, name: str) -> Path:
    (tag,) = [t for t in store.glob("*/*/tags/mlflow.runName") if t.read_text() == name]
    return tag.parent.parent


@pytest.fixture(params=["file", "sqlite"])
def store(request: pytest.FixtureRequest, stores: Path) -> tuple[str, Path]:
    return request.param, stores / ("mlruns" if request.param == "file" else "mlflow.db")


def test_runs_names_and_experiments(store: tuple[str, Path]) -> None:
    kind, path = store
    runs = mlruns.read(path)
    # In start order; the params-only run, the deleted run and the deleted experiment's run
    # are not there.
    assert [r.name for r in runs] == ["alpha", "beta", "gamma"]
    assert {r.format for r in runs} == {"mlflow" if kind == "file" else "mlflow_sqlite"}
    runs_ = by_name(runs)
    assert runs_["alpha"].meta["experiment"] == "exp-a"
    assert runs_["gamma"].meta["experiment"] == EXP_B  # folded over lines in meta.yaml
    alpha = runs_["alpha"]
    assert alpha.meta["params"] == {"lr": "0.01", "optimizer": "adam"}
    assert alpha.meta["tags"]["team"] == "vision"
    assert alpha.meta["tags"]["mlflow.runName"] == "alpha"
    assert alpha.meta["status"] == "FINISHED"
    assert len(alpha.meta["run_id"]) == 32


def test_values_steps_nan_inf(store: tuple[str, Path]) -> None:
    runs = by_name(mlruns.read(store[1]))
    alpha = runs["alpha"]
    assert list(alpha.series) == ["train_loss", "val_loss", "lr"]
    loss = alpha["train_loss"]
    assert loss.original == "train/loss"
    np.testing.assert_array_equal(loss.steps, np.arange(10))
    np.testing.assert_array_equal(loss.values, [1.0 / (s + 1) for s in range(10)])
    val = alpha["val_loss"].values
    assert math.isnan(val[3]) and np.isfinite(np.delete(val, 3)).all()
    assert val[4] == 0.4
    assert alpha["lr"].values.tolist() == [math.inf, -math.inf]
    assert "metric 'lr' is non-finite at all 2 points" in alpha.warnings
    gamma = runs["gamma"]
    np.testing.assert_array_equal(gamma["train_loss"].steps, [0, 10, 20, 30])
    assert gamma["val_acc"].values.tolist() == [0.0, 0.25, 0.5, 0.75]


def test_no_step_metric_and_ordering(store: tuple[str, Path]) -> None:
    beta = by_name(mlruns.read(store[1]))["beta"]
    loss = beta["train_loss"]
    assert loss.values.tolist() == [0.9, 0.7, 0.6] and loss.axis == "index"
    assert any("'loss': all 3 points are at step 0" in w for w in beta.warnings)
    acc = beta["train_acc"]  # logged at steps 2, 0, 1: read in step order
    assert acc.steps.tolist() == [0, 1, 2] and acc.values.tolist() == [0.50, 0.51, 0.52]
    nested = beta["a/b/c"]  # a key with "/" is a nested directory in the file store
    assert nested.steps.tolist() == [4] and nested.values.tolist() == [7.5]


def test_dispatcher_reads_mlflow(stores: Path) -> None:
    assert [r.name for r in read_any(stores / "mlflow.db", format="mlflow")] == [
        "alpha", "beta", "gamma"]
    runs = read_any(stores, format="mlflow")  # a directory holding mlruns/ (and mlflow.db)
    assert sorted(r.name for r in runs) == ["alpha", "beta", "gamma"]


def test_find(stores: Path, tmp_path: Path) -> None:
    assert mlruns.find(stores) == [stores / "mlruns"]
    assert mlruns.find(stores / "mlruns") == [stores / "mlruns"]
    alpha = run_dir(stores / "mlruns", "alpha")
    assert mlruns.find(alpha.parent) == [alpha.parent]
    assert mlruns.find(alpha) == [alpha]
    (tmp_path / "logs" / "x").mkdir(parents=True)
    (tmp_path / "logs" / "x" / "meta.yaml").write_text("name: not mlflow\n")
    assert mlruns.find(tmp_path) == []


def test_experiment_run_and_metric_file(stores: Path) -> None:
    alpha = run_dir(stores / "mlruns", "alpha")
    assert [r.name for r in mlruns.read(alpha.parent)] == ["alpha", "beta"]
    (run,) = mlruns.read(alpha)
    assert list(run.series) == ["train_loss", "val_loss", "lr"]
    metric = alpha / "metrics" / "train" / "loss"
    assert mlruns.sniff(metric, metric.read_bytes())
    (only,) = mlruns.read(metric)
    assert list(only.series) == ["train_loss"] and len(only["train_loss"]) == 10


def test_sniff(stores: Path, tmp_path: Path) -> None:
    db = stores / "mlflow.db"
    assert mlruns.sniff(db, db.read_bytes()[:65536])
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as con:
        con.execute("CREATE TABLE metrics (x)")
    assert not mlruns.sniff(other, other.read_bytes())
    meta = run_dir(stores / "mlruns", "alpha") / "meta.yaml"
    assert not mlruns.sniff(meta, meta.read_bytes())
    plain = tmp_path / "loss"
    plain.write_text("1700000000000 0.5 0\n")  # right shape, but not inside an mlruns run
    assert not mlruns.sniff(plain, plain.read_bytes())


# --------------------------------------------------------------------------------- bad input


def test_malformed_and_truncated_metric_lines(file_store: Path) -> None:
    metrics = run_dir(file_store, "alpha") / "metrics"
    with open(metrics / "val_loss", "a") as f:
        f.write("garbage line\n1700000000999 0.1\n1700000001000 not-a-number 11\n")
    with open(metrics / "train" / "loss", "a") as f:
        f.write("1700000000999 0.0 1")  # the last line of a file still being written
    alpha = by_name(mlruns.read(file_store))["alpha"]
    assert len(alpha["val_loss"]) == 11  # "<timestamp> <value>" (no step) is valid: step 0
    assert len(alpha["train_loss"]) == 10
    assert "skipped malformed lines (not '<timestamp> <value> <step>') in metric files: " \
           "'val_loss' (2)" in alpha.warnings
    assert "last line incomplete (still being written?) in metric files: 'train/loss'" \
        in alpha.warnings


def test_empty_metric_file_and_missing_meta(file_store: Path) -> None:
    gamma = run_dir(file_store, "gamma")
    (gamma / "metrics" / "empty").write_text("")
    (gamma / "meta.yaml").unlink()  # a run directory is still recognised by its layout
    runs = by_name(mlruns.read(gamma))
    assert set(runs["gamma"].series) == {"train_loss", "val_acc"}


def test_deleted_run_named_directly(file_store: Path) -> None:
    (deleted,) = [p.parent for p in file_store.glob("*/*/meta.yaml")
                  if "lifecycle_stage: deleted" in p.read_text() and "run_id" in p.read_text()]
    (run,) = mlruns.read(deleted)
    assert "this MLflow run is deleted (lifecycle_stage: deleted)" in run.warnings


def one_line_error(path: Path) -> str:
    with pytest.raises(ReadError) as info:
        mlruns.read(path)
    message = str(info.value)
    assert message.startswith(str(path) + ": ") and "\n" not in message
    return message


def test_sqlite_not_mlflow(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE users (id INTEGER)")
    assert "not an MLflow tracking store" in one_line_error(db)


def test_sqlite_corrupt(tmp_path: Path, stores: Path) -> None:
    bad = tmp_path / "mlflow.db"
    bad.write_bytes((stores / "mlflow.db").read_bytes()[:100] + b"\xff" * 5000)
    assert "cannot read the MLflow database" in one_line_error(bad)
    assert not mlruns.sniff(bad, bad.read_bytes())


def test_sqlite_without_metrics(tmp_path: Path) -> None:
    db = tmp_path / "mlflow.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE runs (run_uuid TEXT, name TEXT)")
        con.execute("CREATE TABLE metrics (key TEXT, value REAL, timestamp INT, run_uuid TEXT,"
                    " step INT, is_nan INT)")
    assert "MLflow database has no logged metrics" in one_line_error(db)


def test_sqlite_old_schema_and_orphans(tmp_path: Path) -> None:
    # An early MLflow schema: no step, no is_nan; a metric row whose run is not in `runs`.
    db = tmp_path / "mlflow.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE runs (run_uuid TEXT, name TEXT)")
        con.execute("CREATE TABLE metrics (key TEXT, value REAL, timestamp INT, run_uuid TEXT)")
        con.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?)",
                        [("loss", 1.5, 1, "r1"), ("loss", 1.7976931348623157e308, 2, "r1")])
    (run,) = mlruns.read(db)
    assert run.name == "r1" and run["train_loss"].values.tolist() == [1.5, math.inf]
    assert "run r1 has metrics but no row in the 'runs' table" in run.warnings


@pytest.mark.parametrize("content", [b"", b"hello\n", b"\x00\x01binary"])
def test_not_a_store_file(tmp_path: Path, content: bytes) -> None:
    p = tmp_path / "f"
    p.write_bytes(content)
    message = one_line_error(p)
    assert ("empty file" if not content else "not an MLflow store") in message


def test_not_a_store_dir(tmp_path: Path) -> None:
    assert "not an MLflow store" in one_line_error(tmp_path)


def test_store_without_metrics(file_store: Path) -> None:
    for metrics in file_store.glob("*/*/metrics"):
        shutil.rmtree(metrics)
    assert one_line_error(file_store).endswith(": no logged metrics")


@pytest.mark.parametrize(("text", "expected"), [
    ("name: plain\nexperiment_id: '12'\n", {"name": "plain", "experiment_id": "12"}),
    ("name: 'it''s: quoted'\n", {"name": "it's: quoted"}),
    ('name: "double \\" quoted"\n', {"name": 'double " quoted'}),
    ("name: 'folded\n  over lines'\nstatus: 3\ntags: []\nend_time: null\n",
     {"name": "folded over lines", "status": 3, "tags": [], "end_time": None}),
    ("# comment\n- item\nnested:\n  a: 1\ntags: {}\n", {"nested": None, "tags": {}}),
])
def test_parse_meta_yaml(text: str, expected: dict[str, object]) -> None:
    assert mlruns.parse_meta_yaml(text) == expected


def test_parse_meta_yaml_matches_pyyaml(stores: Path) -> None:
    yaml = pytest.importorskip("yaml")
    for p in (stores / "mlruns").rglob("meta.yaml"):
        text = p.read_text()
        ours = mlruns.parse_meta_yaml(text)
        theirs = yaml.safe_load(text)
        for key in ("name", "experiment_id", "run_id", "run_name", "status", "lifecycle_stage",
                    "start_time", "end_time"):
            if key in theirs:
                assert ours[key] == theirs[key], (p, key)


# ------------------------------------------------------------------------------------- fuzz


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(metric=st.binary(max_size=200), meta=st.binary(max_size=200),
       key=st.sampled_from(["loss", "val/acc", "a b"]))
def test_fuzz_file_store(tmp_path_factory: pytest.TempPathFactory, metric: bytes, meta: bytes,
                         key: str) -> None:
    root = tmp_path_factory.mktemp("fuzz") / "mlruns"
    exp = root / "1"
    run = exp / "0123456789abcdef0123456789abcdef"
    (run / "metrics" / key).parent.mkdir(parents=True)
    (run / "tags").mkdir()
    (exp / "meta.yaml").write_text("experiment_id: '1'\nname: e\n")
    (run / "meta.yaml").write_bytes(b"run_id: 0123456789abcdef0123456789abcdef\n" + meta)
    (run / "metrics" / key).write_bytes(metric)
    for target in (root, exp, run, run / "metrics" / key):
        try:
            runs = mlruns.read(target)
        except ReadError as exc:
            assert "\n" not in str(exc)
            continue
        assert runs and all(len(s) for r in runs for s in r)
