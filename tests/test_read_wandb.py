"""W&B transaction logs (``run-<id>.wandb``), written by the real SDK offline
(tests/fixtures/wandb/make_fixtures.py), checked against the SDK's own decoding."""

from __future__ import annotations

import json
import math
import os
import shutil
import struct
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest

import lossdoctor
from lossdoctor.cli import main
from lossdoctor.errors import ReadError, ReadWarning
from lossdoctor.read import wandblog
from lossdoctor.read._protowire import fields

FIX = Path(__file__).parent / "fixtures" / "wandb"
DIGITS = next((FIX / "digits_overfit").glob("run-*.wandb"))
EDGE = next((FIX / "edge_cases").glob("run-*.wandb"))


def _expected(log: Path) -> list[dict[str, object]]:
    return json.loads((log.parent / "expected.json").read_text())


def _one(path: Path) -> lossdoctor.Run:
    (run,) = lossdoctor.read(path)
    return run


def test_a_real_run_is_read_like_the_sdk_decodes_it() -> None:
    run = _one(DIGITS)
    assert run.format == "wandb" and run.name == DIGITS.stem  # not in a W&B run directory
    assert run.meta["wandb_project"] == "lossdoctor-fixtures"
    assert run.meta["wandb_name"] == "digits_overfit" and run.meta["wandb_run_id"]
    rows = _expected(DIGITS)
    assert len(rows) == 150
    for ours, key in (("train_loss", "train/loss"), ("val_loss", "val/loss"),
                      ("val_acc", "val/acc")):
        s = run.series[ours]
        assert s.original == key
        assert np.array_equal(s.values, [r["items"][key] for r in rows])
        assert np.array_equal(s.steps, [r["items"]["_step"] for r in rows])
        assert np.array_equal(s.epochs, [r["items"]["epoch"] for r in rows])
    assert set(run.series) == {"train_loss", "val_loss", "val_acc"}  # no _runtime, epoch …


def test_the_real_run_is_diagnosed() -> None:
    d = lossdoctor.diagnose(DIGITS)
    f = next(f for f in d.findings if f.kind == "overfitting")
    assert 20 <= f.evidence["best_epoch"] <= 35 and f.evidence["rise_pct"] > 40


def test_nested_keys_non_finite_media_and_split_records() -> None:
    run = _one(EDGE)
    rows = _expected(EDGE)
    # the 70,000-character string made a message span three blocks; rows after it are read
    assert len(rows) == 16 and len(run.series["train_loss"]) == 16
    assert run.series["val_loss"].original == "val.loss"
    assert np.allclose(run.series["val_loss"].values,
                       [r["items"]["val.loss"] for r in rows if "val.loss" in r["items"]])
    weird = run.series["weird"].values
    assert np.isnan(weird[2]) and weird[3] == math.inf
    assert np.isfinite(np.delete(weird, [2, 3])).all()
    assert not {"hist", "hist.bins", "hist.values", "note", "flag", "long_note"} & set(
        s.original or k for k, s in run.series.items())
    # commit=False joined its step; trainer/global_step is the step axis
    assert np.array_equal(run.series["lr"].steps, np.arange(0, 30, 2))
    assert np.allclose(run.series["lr"].values, 0.1 / (1 + np.arange(0, 30, 2)))
    # the last row has no global step: it is placed by its epoch
    assert run.series["train_loss"].values[-1] == 0.01
    assert run.series["train_loss"].epochs[-1] == 3


def _run_dir(tmp_path: Path, log: Path = DIGITS) -> Path:
    d = tmp_path / "wandb" / f"offline-run-20261121_120000-{log.stem[4:]}"
    (d / "files").mkdir(parents=True)
    shutil.copy(log, d / log.name)
    # an older SDK's history beside the log: the run must be read once, from the log
    with open(d / "files" / "wandb-history.jsonl", "w") as f:
        for r in _expected(log):
            f.write(json.dumps(r["items"]) + "\n")
    (d / "files" / "wandb-summary.json").write_text('{"val/loss": 1.0}')
    os.symlink(d.name, tmp_path / "wandb" / "latest-run")
    return d


def test_a_wandb_directory_gives_each_run_once(tmp_path: Path) -> None:
    d = _run_dir(tmp_path)
    for path in (tmp_path, tmp_path / "wandb", d):
        runs = lossdoctor.read(path)
        assert [(r.name, r.format) for r in runs] == [(d.name, "wandb")], path
    assert wandblog.find(tmp_path) == [d]
    # the SDK's link to the last run reads as that run
    (latest,) = lossdoctor.read(tmp_path / "wandb" / "latest-run")
    assert latest.name == d.name and len(latest.series["val_loss"]) == 150
    (d / "logs").mkdir()
    (d / "logs" / "debug.log").write_text("2026-11-21 12:00:00 INFO loss: 0.5\n" * 5)
    assert len(lossdoctor.read(tmp_path)) == 1  # the SDK's own files are part of the run
    # a log copied into a folder of other logs is read beside them, not instead of them
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    shutil.copy(DIGITS, mixed / DIGITS.name)
    (mixed / "train.csv").write_text("epoch,loss\n" + "".join(f"{i},{1 / (i + 1)}\n"
                                                             for i in range(10)))
    assert wandblog.find(mixed) == [mixed / DIGITS.name]
    assert sorted(r.format for r in lossdoctor.read(mixed)) == ["keras_csv", "wandb"]
    (run,) = lossdoctor.read(d / DIGITS.name, format="wandb")
    assert len(run.series["val_loss"]) == 150


def _write(tmp_path: Path, data: bytes, name: str = "run-x.wandb") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def _frames(data: bytes) -> list[int]:
    """Byte offsets of the record headers."""
    out, pos = [], 7
    while pos < len(data):
        room = 32768 - pos % 32768
        if room < 7:
            pos += room
            continue
        out.append(pos)
        pos += 7 + _length(data, pos)
    return out


def _length(data: bytes, frame: int) -> int:
    return int(struct.unpack_from("<H", data, frame + 4)[0])


def test_a_truncated_log_is_read_up_to_its_last_whole_record(tmp_path: Path) -> None:
    data = DIGITS.read_bytes()
    frames = _frames(data)
    cut = frames[len(frames) * 2 // 3] + 10  # inside a record
    run = _one(_write(tmp_path, data[:cut]))
    n = len(run.series["train_loss"])
    assert 50 < n < 150
    (w,) = run.warnings
    assert f"byte {frames[len(frames) * 2 // 3]}" in w and f"the {n} history rows" in w
    assert "cut short" in w


def test_a_corrupt_record_stops_the_log_with_its_offset(tmp_path: Path) -> None:
    data = bytearray(DIGITS.read_bytes())
    frames = _frames(bytes(data))
    at = frames[len(frames) // 2]
    data[at + 9] ^= 0x20  # a bit of the data: the CRC no longer matches
    run = _one(_write(tmp_path, bytes(data)))
    assert any(f"CRC mismatch (corrupt file) at byte {at}" in w for w in run.warnings)
    assert 10 < len(run.series["train_loss"]) < 150


@pytest.mark.parametrize(("data", "problem"), [
    (b"", "empty file"),
    (b":W&B\xe1\xbe\x01" + b"\x00" * 20, "version 1"),
    (b":W&B\xe1\xbe", "bad header"),
    (b":W&B\xe1\xbe\x00" + b"\x07\x00\x00\x00\x05\x00\x09abcde", "unknown type"),
])
def test_bad_logs_give_one_line(tmp_path: Path, data: bytes, problem: str) -> None:
    p = _write(tmp_path, data)
    with pytest.raises(ReadError, match=problem) as e:
        lossdoctor.read(p, format="wandb")
    assert "\n" not in str(e.value) and str(p) in str(e.value)


def test_a_log_without_history_is_not_a_curve(tmp_path: Path) -> None:
    data = DIGITS.read_bytes()
    first_history = next(  # the first record holding a Record.history (field 2)
        p for p in _frames(data)
        if any(f[0] == 2 for f in fields(data, p + 7, p + 7 + _length(data, p))))
    p = _write(tmp_path, data[:first_history])  # the run's header records only
    with pytest.raises(ReadError, match=r"no training curve found .*wandb\.log"):
        lossdoctor.read(p)
    # in a directory of runs it is reported and the others are read
    for name, log in (("empty", p), ("good", DIGITS)):
        (tmp_path / "runs" / name).mkdir(parents=True)
        shutil.copy(log, tmp_path / "runs" / name / log.name)
    with pytest.warns(ReadWarning, match="no training curve found"):
        runs = lossdoctor.read(tmp_path / "runs")
    assert [r.source for r in runs] == [str(tmp_path / "runs" / "good" / DIGITS.name)]


def test_zero_padding_after_the_last_record_is_not_an_error(tmp_path: Path) -> None:
    run = _one(_write(tmp_path, DIGITS.read_bytes() + b"\x00" * 5000))
    assert not run.warnings and len(run.series["val_loss"]) == 150


def test_a_message_that_is_not_protobuf_is_skipped_with_a_warning(tmp_path: Path) -> None:
    data = DIGITS.read_bytes()

    def record(body: bytes) -> bytes:
        return struct.pack("<IHB", zlib.crc32(bytes([1]) + body), len(body), 1) + body

    # a history row whose length runs past its message, and one whose item is cut short
    broken = record(b"\x08\x01\x12\x7f\x0a") + record(b"\x12\x04\x0a\x05\x12\x01")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReadWarning)
        run = _one(_write(tmp_path, data + broken + record(b"\xff" * 20)))
    assert any("skipped 2 records that are not valid W&B messages" in w for w in run.warnings)
    assert len(run.series["val_loss"]) == 150  # (bytes that are no history are not looked at)


def test_cli_reads_a_wandb_run_and_the_chinese_errors(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", str(DIGITS.parent), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["runs"][0]["format"] == "wandb"
    assert "overfitting" in {f["kind"] for f in out["runs"][0]["findings"]}
    bad = _write(tmp_path, b":W&B\xe1\xbe\x02" + b"\x00" * 8)
    assert main(["show", str(bad), "--lang", "zh"]) == 2
    assert "只认识版本 0" in capsys.readouterr().err


@pytest.mark.parametrize("log", [DIGITS, EDGE], ids=["digits", "edge_cases"])
def test_the_fast_history_path_reads_what_the_generic_walk_reads(
        log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = _one(log)
    monkeypatch.setattr(wandblog, "_history_fast", lambda *a: None)
    slow = _one(log)
    assert fast.series.keys() == slow.series.keys()
    for k, s in fast.series.items():
        t = slow.series[k]
        for a, b in ((s.values, t.values), (s.steps, t.steps), (s.epochs, t.epochs)):
            assert np.array_equal(a, b, equal_nan=True), k


def test_a_run_the_installed_sdk_writes_now(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    wandb = pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "cache"))
    run = wandb.init(project="lossdoctor-test", mode="offline", dir=str(tmp_path),
                     settings=wandb.Settings(silent=True, x_disable_stats=True))
    losses = [1.0 / (i + 1) for i in range(40)]
    for i, loss in enumerate(losses):
        row = {"train/loss": loss, "epoch": i // 10}
        if i % 10 == 9:
            row["val/loss"] = 2 * loss
        run.log(row, step=i)
    run.finish()
    # wandb's service process may still be writing the file when finish() returns: read
    # again until the rows are there (what was read so far is correct, but incomplete)
    deadline = time.monotonic() + 60
    while True:
        try:
            (got,) = lossdoctor.read(tmp_path / "wandb")
            if len(got.series["train_loss"].values) == len(losses) or time.monotonic() > deadline:
                break
        except ReadError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)
    assert got.format == "wandb" and got.meta["wandb_project"] == "lossdoctor-test"
    assert list(got.series["train_loss"].values) == losses
    assert list(got.series["val_loss"].steps) == [9, 19, 29, 39]
    assert list(got.series["val_loss"].epochs) == [0, 1, 2, 3]
