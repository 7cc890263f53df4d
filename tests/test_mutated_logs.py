"""Every log the repository holds (test fixtures, shipped examples, the corpus), cut short or
damaged: reading and diagnosing it either works or raises one `LossdoctorError` with a
one-line message — never another exception, never a message over several lines."""

from __future__ import annotations

import random
import warnings
from pathlib import Path

import pytest

import lossdoctor
from lossdoctor.diagnosis import diagnose_run
from lossdoctor.errors import LossdoctorError

ROOT = Path(__file__).resolve().parents[1]
_LOGS = sorted(
    p for base in ("tests/fixtures", "src/lossdoctor/examples", "corpus/real", "corpus/generated")
    for p in (ROOT / base).rglob("*")
    if p.is_file() and p.stat().st_size < 600_000 and "__pycache__" not in p.parts
    and p.suffix not in {".py", ".pyc", ".md", ".png"} and p.name != "labels.json"
    and not p.name.startswith("labels")
)
_JUNK = [b"nan", b"inf", b"-", b"1e400", b"\x00", b",", b"\n", b'"', b"{", b"\xff\xfe",
         b"999999999999999999999"]


def _mutations(data: bytes, rng: random.Random) -> list[bytes]:
    """Five damaged copies: cut at a random byte, bytes overwritten, junk inserted, a stretch
    deleted, a digit turned into a letter (a number that no longer parses)."""
    n = len(data)
    j = rng.randrange(n)
    flipped = bytearray(data)
    for _ in range(3):
        flipped[rng.randrange(n)] = rng.randrange(256)
    k = rng.randrange(n)
    spoilt = bytearray(data)
    digits = [i for i in range(n) if 48 <= data[i] <= 57]
    if digits:
        spoilt[rng.choice(digits)] = ord("R")
    return [data[:j], bytes(flipped), data[:k] + rng.choice(_JUNK) + data[k:],
            data[:k] + data[k + rng.randint(1, 50):], bytes(spoilt)]


def test_there_are_logs_to_damage() -> None:
    assert len(_LOGS) > 150


@pytest.mark.parametrize("log", _LOGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_damaged_log_is_read_or_refused_in_one_line(log: Path, tmp_path: Path) -> None:
    data = log.read_bytes()
    if not data:
        return
    rng = random.Random(str(log.relative_to(ROOT)))
    for i, damaged in enumerate(_mutations(data, rng)):
        copy = tmp_path / str(i) / log.name
        copy.parent.mkdir()
        copy.write_bytes(damaged)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                for run in lossdoctor.read(copy):
                    diagnose_run(run)
            except LossdoctorError as exc:
                assert "\n" not in str(exc).strip(), str(exc)
