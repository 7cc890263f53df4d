"""``lossdoctor watch FILE``: follow a log another thread is writing, print findings as they
appear, exit with the diagnosis's code."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from lossdoctor.cli import main
from lossdoctor.watch.follow import follow


def diverging(n: int = 600) -> np.ndarray:
    rng = np.random.default_rng(0)
    x = np.arange(n)
    v = (2.0 * np.exp(-x / 100) + 0.3) * np.exp(0.05 * rng.standard_normal(n))
    v[400:] *= np.geomspace(1, 1e4, n - 400)
    return v


def write_slowly(path: Path, lines: list[str], *, delay: float = 0.3, chunks: int = 6) -> None:
    """Another process's logger: the file appears late, then grows in chunks."""
    time.sleep(delay)
    k = max(1, len(lines) // chunks)
    for i in range(0, len(lines), k):
        with open(path, "a", encoding="utf-8") as f:
            f.writelines(lines[i : i + k])
        time.sleep(delay)


def watch_while_written(path: Path, write: Callable[[], None],
                        capsys: pytest.CaptureFixture[str]) -> tuple[int, str, list[str]]:
    """``lossdoctor watch PATH`` while another thread runs `write`: the exit code, the output
    and its live finding lines."""
    writer = threading.Thread(target=write)
    writer.start()
    # the writer pauses 0.3 s between pieces; a 3 s idle limit leaves room for a loaded machine
    code = main(["watch", str(path), "--idle", "3.0", "--interval", "0.05"])
    writer.join()
    out = capsys.readouterr().out
    return code, out, [ln for ln in out.splitlines() if ln.startswith("[")]


def test_follows_a_growing_jsonl_log_and_fails_on_a_divergence(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "train.jsonl"
    lines = [json.dumps({"step": i, "loss": float(v)}) + "\n" for i, v in enumerate(diverging())]
    code, out, live = watch_while_written(path, lambda: write_slowly(path, lines), capsys)
    assert any("error divergence on train_loss" in ln for ln in live), out
    assert code == 1
    assert len(path.read_text().splitlines()) == 600  # it waited for the whole file


def test_follows_a_wandb_run_directory_as_its_log_grows(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a real W&B transaction log (tests/fixtures/wandb), written out in pieces as the SDK would
    (src,) = (Path(__file__).parent / "fixtures" / "wandb" / "digits_overfit").glob("*.wandb")
    run_dir = tmp_path / "wandb" / f"offline-run-20261121_120000-{src.stem[4:]}"
    run_dir.mkdir(parents=True)
    data = src.read_bytes()
    cuts = [len(data) * k // 6 for k in range(1, 7)]

    def write() -> None:
        done = 0
        for cut in cuts:
            time.sleep(0.3)
            with open(run_dir / src.name, "ab") as f:
                f.write(data[done:cut])
            done = cut

    code, out, live = watch_while_written(run_dir, write, capsys)
    assert any("overfitting on val_loss" in ln for ln in live), out
    assert code == 1 and "val_loss[150]" in out  # the whole log was read at the end


def test_a_healthy_csv_exits_0_and_a_binary_file_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    rows = "".join(f"{e},{1.0 / (e + 1) + 0.2:.5f},{1.1 / (e + 1) + 0.25:.5f}\n"
                   for e in range(40))
    path.write_text("epoch,train_loss,val_loss\n" + rows)
    assert main(["watch", str(path), "--idle", "0.2", "--interval", "0.05"]) == 0
    bad = tmp_path / "weights.bin"
    bad.write_bytes(b"\x00\x01\x02" * 100)
    assert main(["watch", str(bad), "--idle", "0.2", "--interval", "0.05"]) == 2
    assert main(["watch", str(tmp_path / "never.log"), "--idle", "0.2",
                 "--interval", "0.05"]) == 2
    assert main(["watch", str(path), "--idle", "0"]) == 2


def test_ctrl_c_ends_with_the_final_diagnosis(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    lines = [json.dumps({"step": i, "loss": float(v)}) + "\n" for i, v in enumerate(diverging())]
    path.write_text("".join(lines[:500]))
    calls = []
    now = [0.0]

    def sleep(s: float) -> None:  # the writer appends between checks; the user hits Ctrl-C
        calls.append(s)
        now[0] += 1.0
        if len(calls) == 3:
            raise KeyboardInterrupt
        with open(path, "a", encoding="utf-8") as f:
            f.writelines(lines[500 + 50 * (len(calls) - 1) : 500 + 50 * len(calls)])

    seen = []
    res = follow(path, idle=60, interval=0.01, sleep=sleep, clock=lambda: now[0],
                 emit=lambda f, d: seen.append(f))
    assert res.interrupted and res.reads == 3 and res.error is None
    assert "divergence" in res.diagnoses[0].kinds()
    # reported once, on the second read that showed it (at the log's last step then)
    div = [f for f in seen if f.kind == "divergence"]
    assert len(div) == 1 and div[0].detected_at is not None
    assert div[0].detected_at.step == 549
    assert not math.isnan(res.diagnoses[0].run["train_loss"].values[-1])


def test_a_nan_is_reported_on_the_read_that_shows_it(tmp_path: Path) -> None:
    """NaN/inf is reported on its first read, as the watcher does (it waited for a second
    read, like the full diagnosis's findings); other kinds still wait for confirmation."""
    path = tmp_path / "train.jsonl"
    values = [2.0 * math.exp(-i / 100) + 0.3 for i in range(300)]
    rows = [{"step": i, "loss": v if i < 250 else "NaN"} for i, v in enumerate(values)]
    lines = [json.dumps(r) + "\n" for r in rows]
    path.write_text("".join(lines[:200]))
    now = [0.0]
    reads_done = []

    def sleep(s: float) -> None:
        now[0] += 1.0
        reads_done.append(s)
        if len(reads_done) == 1:
            with open(path, "a", encoding="utf-8") as f:
                f.writelines(lines[200:])
        if len(reads_done) == 3:
            raise KeyboardInterrupt

    seen: list[tuple[str, int]] = []
    res = follow(path, idle=60, interval=0.01, sleep=sleep, clock=lambda: now[0],
                 emit=lambda f, d: seen.append((f.kind, len(reads_done))))
    assert res.reads >= 2
    nan = [r for k, r in seen if k == "non_finite"]
    assert nan == [1]  # on the second read (after one sleep), the first that shows it
