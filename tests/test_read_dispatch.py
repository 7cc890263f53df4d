"""Bad input through the dispatcher (`lossdoctor.read`) and the CLI: a one-line `ReadError`
naming the file and the problem (exit code 2, one line on stderr) or a warning on the run,
never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import lossdoctor
from lossdoctor.cli import main
from lossdoctor.errors import ReadError, ReadWarning

ROOT = Path(__file__).resolve().parent.parent


def _garbage() -> bytes:
    # Deterministic "random" bytes, NULs included (an LCG; no os.urandom so failures repeat).
    x, out = 12345, bytearray()
    for _ in range(3000):
        x = (1103515245 * x + 12345) % 2**31
        out.append(x >> 16 & 0xFF)
    return bytes(out)


def _make(tmp_path: Path, case: str) -> tuple[Path, list[str]]:
    """The input of `case` and extra CLI arguments."""
    if case == "empty file":
        p = tmp_path / "empty.log"
        p.write_bytes(b"")
    elif case == "binary garbage":
        p = tmp_path / "garbage.log"
        p.write_bytes(_garbage())
    elif case == "text without metrics":
        p = tmp_path / "notes.txt"
        p.write_text("Loading dataset...\nPython 3.11.4, torch version 2.1.0\nDone in 12.5s\n")
    elif case == "directory without logs":
        p = tmp_path / "runs"
        p.mkdir()
        (p / "README.txt").write_text("Experiments of May 2024.\nSee the notebook.\n")
        (p / "plot.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    elif case == "missing path":
        p = tmp_path / "no_such.log"
    elif case == "unknown format":
        p = tmp_path / "train.log"
        p.write_text("epoch 1 | loss 0.5\n")
        return p, ["--format", "xml"]
    else:  # pragma: no cover - the parametrisation below lists the cases
        raise AssertionError(case)
    return p, []


ERRORS = {
    "empty file": "empty file",
    "binary garbage": "unknown format (binary data)",
    "text without metrics": "unknown format (no metrics recognised)",
    "directory without logs": "no training logs found in this directory",
    "missing path": "no such file or directory",
    "unknown format": "unknown format 'xml'; choose one of",
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_bad_input_is_a_one_line_read_error(tmp_path: Path, case: str) -> None:
    path, args = _make(tmp_path, case)
    fmt = args[1] if args else None
    with pytest.raises(ReadError) as info:
        lossdoctor.read(path, format=fmt)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ") and ERRORS[case] in message
    assert info.value.path == str(path)


@pytest.mark.parametrize("case", list(ERRORS))
def test_bad_input_on_the_command_line(tmp_path: Path, case: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    path, args = _make(tmp_path, case)
    assert main(["show", *args, str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("lossdoctor: error: ")
    assert str(path) in err and ERRORS[case] in err


def test_the_installed_command_prints_no_traceback(tmp_path: Path) -> None:
    path, _ = _make(tmp_path, "binary garbage")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    proc = subprocess.run([sys.executable, "-m", "lossdoctor", "show", str(path)],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert f"{path}: unknown format (binary data)" in proc.stderr


def test_non_utf8_bytes_are_a_warning_on_the_run(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "latin1.log"
    path.write_bytes(b"epoch 1 | loss 0.5 | caf\xe9\nepoch 2 | loss 0.4 | na\xefve\n")
    (run,) = lossdoctor.read(path)
    assert list(run["train_loss"].values) == [0.5, 0.4]
    assert len(run.warnings) == 1 and "not valid UTF-8" in run.warnings[0]
    assert main(["show", str(path)]) == 0
    assert "not valid UTF-8" in capsys.readouterr().out


def test_a_metric_that_is_all_nan_is_a_warning(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nan.log"
    path.write_text("epoch 1 | loss nan | acc 0.5\nepoch 2 | loss nan | acc 0.6\n")
    (run,) = lossdoctor.read(path)
    assert run.warnings == ["metric 'loss' is NaN at all 2 points"]
    assert len(run["train_loss"]) == 2  # kept: NaN is evidence, not noise
    assert main(["show", str(path)]) == 0
    assert "NaN at all 2 points" in capsys.readouterr().out


def test_a_log_still_being_written_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "live.log"
    path.write_text("step:1/100 loss:0.9\nstep:2/100 loss:0.8\nstep:3/100 loss:0.")
    (run,) = lossdoctor.read(path)
    assert list(run["train_loss"].values) == [0.9, 0.8]
    assert any("no line end" in w for w in run.warnings)


def test_forcing_the_text_format_on_binary_data(tmp_path: Path) -> None:
    path, _ = _make(tmp_path, "binary garbage")
    with pytest.raises(ReadError, match=r"garbage\.log: binary data \(NUL bytes\), not a text"):
        lossdoctor.read(path, format="text")


def test_a_directory_skips_what_is_not_a_log(tmp_path: Path) -> None:
    path, _ = _make(tmp_path, "directory without logs")
    (path / "train.log").write_text("Epoch 1/2\n2s - loss: 0.5 - val_loss: 0.6\n"
                                    "Epoch 2/2\n2s - loss: 0.4 - val_loss: 0.5\n")
    (path / "empty.log").write_bytes(b"")
    with pytest.warns(ReadWarning, match="empty.log: empty file"):
        runs = lossdoctor.read(path)
    assert [r.name for r in runs] == ["train"] and runs[0].format == "keras_console"
    assert list(runs[0]["val_loss"].values) == [0.6, 0.5]


def test_an_mmengine_work_dir_is_read_once(tmp_path: Path) -> None:
    # MMEngine writes a run's scalars to vis_data/scalars.json, vis_data/<timestamp>.json and
    # the text log <timestamp>.log: one run, named <work_dir>/<timestamp>
    fixture = ROOT / "tests" / "fixtures" / "json" / "mmengine"
    run_dir = tmp_path / "mlp_digits" / "20261121_152103"
    (run_dir / "vis_data").mkdir(parents=True)
    (run_dir / "20261121_152103.log").write_bytes((fixture / "train.log").read_bytes())
    for name in ("scalars.json", "20261121_152103.json"):
        (run_dir / "vis_data" / name).write_bytes((fixture / "scalars.json").read_bytes())
    (run_dir / "vis_data" / "config.py").write_text("model = dict(type='MLP')\n")
    for root in (tmp_path, run_dir):
        (run,) = lossdoctor.read(root)
        assert run.name == "mlp_digits/20261121_152103"
        assert run.source == str(run_dir / "vis_data" / "scalars.json")
    (inside,) = lossdoctor.read(run_dir / "vis_data")
    assert inside.source == str(run_dir / "vis_data" / "scalars.json")
    (alone,) = lossdoctor.read(run_dir / "20261121_152103.log")  # a file is read when asked
    assert alone.format == "text"


def test_tensorboard_files_inside_a_wandb_run_are_not_read_twice(tmp_path: Path) -> None:
    # `wandb.init(sync_tensorboard=True)` keeps the TensorBoard files it synced in the run
    # directory; the run's transaction log already holds those scalars
    fixtures = ROOT / "tests" / "fixtures"
    (log,) = (fixtures / "wandb" / "digits_overfit").glob("*.wandb")
    run_dir = tmp_path / "wandb" / f"offline-run-20261121_120000-{log.stem[4:]}"
    (run_dir / "files" / "tb").mkdir(parents=True)
    (run_dir / log.name).write_bytes(log.read_bytes())
    (events,) = (fixtures / "diagnose" / "heldout_chance_tb").glob("events.out.tfevents.*")
    (run_dir / "files" / "tb" / events.name).write_bytes(events.read_bytes())
    assert [r.format for r in lossdoctor.read(tmp_path)] == ["wandb"]
    # elsewhere, the same TensorBoard file is read
    (tmp_path / "tb").mkdir()
    (tmp_path / "tb" / events.name).write_bytes(events.read_bytes())
    assert sorted(r.format for r in lossdoctor.read(tmp_path)) == ["tensorboard", "wandb"]
