"""Every run file of the corpus reads as it did when the readers were first checked on it, and
the documentation next to the runs (``MANIFEST.md``, ``labels*.json``) is not read as a run.

`tests/fixtures/read/corpus_runs.json` records, for every run file of ``corpus/real/`` and
``corpus/generated/``, the runs it gives: name, format, and the number of points of each
series. It was written by this module (``python tests/test_read_corpus.py --record``) before
the readers learnt to reject files that hold no training curve; record it again only for a
reading change that was meant and checked run by run.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import pytest

import lossdoctor
from lossdoctor.errors import ReadError, ReadWarning

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
RECORD = Path(__file__).resolve().parent / "fixtures" / "read" / "corpus_runs.json"


def run_files() -> list[Path]:
    """The run files: every file of ``real/NNN_*/`` and ``generated/gNNN_*/``."""
    dirs = sorted((CORPUS / "real").glob("[0-9][0-9][0-9]_*")) + sorted(
        (CORPUS / "generated").glob("g[0-9][0-9][0-9]_*"))
    return [p for d in dirs for p in sorted(d.iterdir()) if p.is_file()]


def summary(path: Path) -> list[list[object]]:
    """``[name, format, {series: points}]`` for every run read from `path`."""
    return [[r.name, r.format, {k: len(s) for k, s in r.series.items()}]
            for r in lossdoctor.read(path)]


def _key(path: Path) -> str:
    return path.relative_to(CORPUS).as_posix()


RECORDED: dict[str, list[list[object]]] = json.loads(RECORD.read_text()) if RECORD.exists() else {}


def test_the_record_covers_every_run_file() -> None:
    assert sorted(RECORDED) == sorted(_key(p) for p in run_files())
    assert sum(k.startswith("real/") for k in RECORDED) == 58
    generated = [v for k, v in RECORDED.items() if k.startswith("generated/")]
    assert len(generated) == 122 and all(len(runs) == 1 for runs in generated)


@pytest.mark.parametrize("path", run_files(), ids=_key)
def test_a_run_file_reads_as_recorded(path: Path) -> None:
    assert summary(path) == RECORDED[_key(path)]


@pytest.mark.parametrize("name", ["generated/MANIFEST.md", "real/MANIFEST.md",
                                  "generated/labels.json", "real/labels.json",
                                  "real/labels_reviewed.json", "README.md"])
def test_corpus_documentation_is_not_a_run(name: str) -> None:
    path = CORPUS / name
    with pytest.raises(ReadError) as info:
        lossdoctor.read(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert "no training curve found" in message or "unknown format" in message
    if name.endswith("MANIFEST.md"):  # its table of runs is what made it look like a log
        assert message.endswith("Markdown table rows skipped)")


@pytest.mark.parametrize("part", ["real", "generated"])
def test_a_corpus_directory_gives_its_runs_and_no_warning(part: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReadWarning)  # documentation is skipped silently
        runs = lossdoctor.read(CORPUS / part)
    expected = [run for k, v in RECORDED.items() if k.startswith(f"{part}/") for run in v]
    got = [[r.name, r.format, {k: len(s) for k, s in r.series.items()}] for r in runs]
    assert sorted(map(_text, got)) == sorted(map(_text, expected))


def _text(run: list[object]) -> str:
    return json.dumps(run, sort_keys=True)


if __name__ == "__main__" and sys.argv[1:] == ["--record"]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReadWarning)
        record = {_key(p): summary(p) for p in run_files()}
    lines = [f"{json.dumps(k)}: {json.dumps(v, sort_keys=True)}" for k, v in sorted(record.items())]
    RECORD.write_text("{\n" + ",\n".join(lines) + "\n}\n")
    print(f"{RECORD}: {len(record)} run files")
