"""Files kept next to training logs that are not training logs (configs, tokenizer files,
summaries of final values, result tables, READMEs, requirements …) give a one-line `ReadError`
and are skipped silently in a directory; a broken log next to them still gets its warning.

The files are in `tests/fixtures/not_logs/` (see its ``make_fixtures.py``: most are written by
the real tools).
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest

import lossdoctor
from lossdoctor.cli import main
from lossdoctor.errors import ReadError, ReadWarning

ROOT = Path(__file__).resolve().parent.parent
NOT_LOGS = Path(__file__).resolve().parent / "fixtures" / "not_logs"
FILES = sorted(p for p in NOT_LOGS.iterdir()
               if p.is_file() and p.suffix != ".py" and not p.name.startswith("."))
LOG = ROOT / "corpus" / "real" / "048_painn-cafa-param2" / "out.log"
STATE = ROOT / "corpus" / "real" / "014_finnews-sentiment" / "trainer_state.json"
NOT_A_LOG = ("unknown format", "no training curve found")


def test_the_fixtures_are_all_there() -> None:
    assert len(FILES) == 24


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_a_file_that_is_not_a_log_is_a_one_line_error(path: Path) -> None:
    with pytest.raises(ReadError) as info:
        lossdoctor.read(path)
    assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)
    assert info.value.problem.startswith(NOT_A_LOG), info.value.problem


@pytest.mark.parametrize(("name", "problem"), [
    ("all_results.json", "no training curve found (one record of numbers: a summary of final "
                         "values, not a curve)"),
    ("eval_results.json", "a summary of final values"),
    ("wandb-summary.json", "a summary of final values"),
    ("metrics.json", "a summary of final values"),
    ("final_metrics.csv", "no training curve found (one row of numbers: a summary"),
    ("classification_report.csv", "each row is named in the first column (0, 1, 2, …): a "
                                  "table of results to compare"),
    ("results.csv", "each row is named in the first column 'model' (resnet18, resnet50, "
                    "vit_b16)"),
    ("wandb_runs_export.csv", "each row is named in the first column 'Name'"),
    ("README.md", "metric-like numbers only on 3 lines of a kind printed once, as in prose or "
                  "settings; a log prints the same kind of line again and again; 4 Markdown "
                  "table rows skipped)"),
    ("optimizer.yaml", "no training curve found (metric-like numbers only on 2 lines"),
    ("eval_report.yaml", "no training curve found (metric-like numbers only on 9 lines"),
])
def test_what_the_error_says(name: str, problem: str) -> None:
    with pytest.raises(ReadError) as info:
        lossdoctor.read(NOT_LOGS / name)
    assert problem in info.value.problem


@pytest.mark.parametrize("name", ["README.md", "eval_report.yaml", "optimizer.yaml",
                                  "hparams.yaml", "notes.txt", "requirements.txt"])
def test_forcing_the_text_reader_does_not_make_a_log(name: str) -> None:
    with pytest.raises(ReadError, match=r"no training curve found|no metric values found"):
        lossdoctor.read(NOT_LOGS / name, format="text")


def test_a_directory_reads_its_logs_and_skips_the_rest_silently(tmp_path: Path) -> None:
    for p in FILES:
        shutil.copy(p, tmp_path / p.name)
    shutil.copy(LOG, tmp_path / "out.log")
    (tmp_path / "run1").mkdir()
    shutil.copy(STATE, tmp_path / "run1" / "trainer_state.json")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReadWarning)
        runs = lossdoctor.read(tmp_path)
    assert [(r.name, r.format) for r in runs] == [("out", "text"), ("run1", "hf_trainer_state")]
    assert [len(r["val_loss"]) for r in runs] == [len(lossdoctor.read(LOG)[0]["val_loss"]),
                                                  len(lossdoctor.read(STATE)[0]["val_loss"])]


def test_a_broken_log_among_them_still_warns(tmp_path: Path) -> None:
    for p in FILES:
        shutil.copy(p, tmp_path / p.name)
    shutil.copy(LOG, tmp_path / "out.log")
    (tmp_path / "run2").mkdir()
    (tmp_path / "run2" / "trainer_state.json").write_bytes(STATE.read_bytes()[:5000])
    with pytest.warns(ReadWarning) as record:
        runs = lossdoctor.read(tmp_path)
    assert [r.name for r in runs] == ["out"]
    (only,) = [str(w.message) for w in record]  # one warning: the broken log, nothing else
    assert only.startswith(str(tmp_path / "run2" / "trainer_state.json")) and "truncated" in only


def test_a_directory_of_documents_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("README.md", "config.json", "all_results.json"):
        shutil.copy(NOT_LOGS / name, tmp_path / name)
    with pytest.raises(ReadError, match=r"no training logs found in this directory \(3 files are "
                                        r"not training logs: README\.md, all_results\.json, "
                                        r"config\.json\)$"):
        lossdoctor.read(tmp_path)
    assert main(["diagnose", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "no training logs found" in err


def test_diagnose_on_a_corpus_directory_reports_no_documentation(
        capsys: pytest.CaptureFixture[str]) -> None:
    """`diagnose corpus/generated` gives findings for runs only, and no warning at all."""
    root = ROOT / "corpus" / "generated"
    assert main(["diagnose", "--json", "--fail-on", "never", str(root)]) == 0
    out, err = capsys.readouterr()
    sources = sorted(Path(r["source"]).relative_to(root).parts[0]
                     for r in json.loads(out)["runs"])
    assert sources == sorted(p.name for p in root.glob("g[0-9][0-9][0-9]_*"))  # runs only
    assert err == ""


def test_not_a_log_codes_are_catalogued() -> None:
    # the dispatcher tells "not a log" from "a broken log" by these message codes
    from lossdoctor.messages_lines import CATALOGUE
    from lossdoctor.read import _NOT_A_LOG

    assert _NOT_A_LOG.issubset(CATALOGUE["en"])
