"""The evaluation script's scoring and corpus loading (the full evaluation runs in CI time
budgets too long for a unit test: `python evaluation/evaluate.py`)."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def ev():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("evaluate", ROOT / "evaluation" / "evaluate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_score_and_false_alarms(ev) -> None:  # type: ignore[no-untyped-def]
    rows = [
        ("a", {"overfitting"}, {"overfitting"}),
        ("b", {"overfitting"}, set()),
        ("c", {"healthy"}, {"overfitting"}),
        ("d", {"healthy"}, set()),
        ("e", {"healthy", "spike"}, {"spike"}),
    ]
    s = ev.score(rows, ["overfitting", "spike"])
    assert (s["overfitting"]["tp"], s["overfitting"]["fp"], s["overfitting"]["fn"]) == (1, 1, 1)
    assert s["overfitting"]["f1"] == pytest.approx(0.5)
    assert s["spike"]["precision"] == 1.0 and s["spike"]["recall"] == 1.0
    # a healthy run raises a false alarm only with a kind outside its labels
    assert ev.false_alarms(rows) == (1, 3)
    empty = ev.score([("x", {"healthy"}, set())], ["divergence"])
    assert math.isnan(empty["divergence"]["f1"])


def test_corpora_load_with_reviews(ev) -> None:  # type: ignore[no-untyped-def]
    real = ev.load_corpus("real")
    assert len(real) == 58
    by_id = {rid: (orig, rev) for rid, _path, orig, rev, _key in real}
    # every reviewed label set is either the original or its documented correction
    import json

    reviews = json.loads((ROOT / "corpus/real/labels_reviewed.json").read_text())
    for rid, entry in reviews.items():
        orig, rev = by_id[f"real:{rid}"]
        assert rev == set(entry["labels"]) and orig == set(entry["original"])
        assert entry["reason"]
    generated = ev.load_corpus("generated")
    assert len(generated) >= 100
    assert all(path.exists() for _rid, path, *_ in real + generated)


def test_baselines_follow_their_published_rules(ev) -> None:  # type: ignore[no-untyped-def]
    assert ev._early_stop_triggers([3.0, 2.0, 2.5, 2.6, 2.7, 2.8]) is True
    assert ev._early_stop_triggers([3.0, 2.0, 2.5, 1.9, 1.8]) is False


def test_fresh_recipes_are_valid_and_new() -> None:
    # evaluation/fresh.py: every recipe builds a generator config whose log format fits its
    # logging, the ids are unique, the faulty recipes name real finding kinds, and no recipe
    # repeats a corpus recipe (same data, model, optimizer, LR, schedule and batch)
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    spec = importlib.util.spec_from_file_location("fresh", ROOT / "evaluation" / "fresh.py")
    assert spec is not None and spec.loader is not None
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)
    from lossdoctor.rules import KINDS

    runs = fresh.specs(1, 0)
    assert len(runs) == len(fresh.RECIPES) + len(fresh.PROBLEMS) == 43
    assert len({s.id for s, _seed, _expect in runs}) == len(runs)
    assert all(set(expect) <= set(KINDS) for _s, _seed, expect in runs)
    t = fresh.T
    for register in t.REGIMES:
        register()

    def key(cfg) -> tuple:  # type: ignore[no-untyped-def]
        return (cfg.data, cfg.model, repr(cfg.model_kw), cfg.opt, cfg.lr, cfg.sched, cfg.batch)

    corpus = {key(r.cfg) for r in t.RUNS}
    assert not [s.id for s, _seed, _e in runs if key(s.cfg) in corpus]


@pytest.fixture(scope="module")
def rd():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("rediagnose",
                                                  ROOT / "evaluation" / "rediagnose.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _kept(tmp_path: Path) -> Path:
    """A directory laid out as `holdout.py --keep` leaves it: <pass>/<run>/<log>."""
    import shutil

    fix = ROOT / "tests" / "fixtures" / "diagnose"
    for run, log in (("rising", "loss_rising_epoch18.log"),
                     ("bouncing", "oscillation_8_epochs.log")):
        (tmp_path / "holdout+1000" / run).mkdir(parents=True)
        shutil.copy(fix / log, tmp_path / "holdout+1000" / run / log)
    (tmp_path / "holdout+1000" / "broken").mkdir()
    (tmp_path / "holdout+1000" / "broken" / "train.log").write_text("no numbers here\n")
    return tmp_path


def test_rediagnose_lists_the_kinds_of_kept_runs(rd, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    root = _kept(tmp_path)
    found = rd.diagnose_dirs(root)
    assert sorted(found) == ["holdout+1000/bouncing", "holdout+1000/broken",
                             "holdout+1000/rising"]
    assert {k for k, _m, _s in found["holdout+1000/rising"]} == {"loss_rising"}
    assert "oscillation" in {k for k, _m, _s in found["holdout+1000/bouncing"]}
    assert found["holdout+1000/broken"][0][0] == "error"  # one line, not a traceback
    assert rd.main([str(root)]) == 0
    assert "3 runs" in capsys.readouterr().out


def test_rediagnose_names_what_a_change_gained_and_lost(rd) -> None:  # type: ignore[no-untyped-def]
    old = {"p/a": [["spike", "train_loss", "spiked once"]], "p/b": [], "p/c": []}
    new = {"p/a": [], "p/b": [["plateau", "train_loss", "stalled"]], "p/c": []}
    lines = rd.differences(old, new)
    assert lines == ["p/a: lost [('spike', 'train_loss')], gained -", "    - spiked once",
                     "p/b: lost -, gained [('plateau', 'train_loss')]", "    + stalled"]
    assert rd.differences(new, new) == []


def test_rediagnose_against_a_revision_runs_that_revision(rd, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    import shutil
    import subprocess

    if shutil.which("git") is None or subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True).returncode:
        pytest.skip("not a git checkout")
    root = _kept(tmp_path)
    # HEAD's src may differ from the working tree only by uncommitted edits; the subprocess
    # checks that it imported the unpacked revision, not this checkout
    assert rd.diagnose_at("HEAD", root).keys() == rd.diagnose_dirs(root).keys()
    with pytest.raises(SystemExit, match="no-such-rev"):
        rd.diagnose_at("no-such-rev", root)
