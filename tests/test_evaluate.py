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
