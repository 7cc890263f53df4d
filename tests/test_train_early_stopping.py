import math
import warnings

import pytest
import torch
from torch import nn

from lossdoctor.train import EarlyStopping


def _model(value: float) -> nn.Module:
    m = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    with torch.no_grad():
        for p in m.parameters():
            p.fill_(value)
    return m


def _value(m: nn.Module) -> float:
    return float(next(m.parameters()).detach()[0, 0])


def test_stops_after_patience_and_restores_best() -> None:
    es = EarlyStopping(patience=2, min_delta=0.01)
    m = _model(0.0)
    metrics = [1.0, 0.8, 0.795, 0.9, math.nan]  # 0.795 is within min_delta: no improvement
    decisions = []
    for i, v in enumerate(metrics):
        with torch.no_grad():
            next(m.parameters()).fill_(float(i))
        decisions.append(es.step(v, m))
    assert decisions == [False, False, False, True, True]
    assert es.best == 0.8 and es.best_step == 2 and es.wait == 3
    es.restore(m)
    assert _value(m) == 1.0


def test_max_mode_and_nan_counts_as_no_improvement() -> None:
    es = EarlyStopping(mode="max", patience=1, restore_best=False)
    assert not es.step(0.5)
    assert es.step(math.nan)
    assert es.best == 0.5
    assert not es.step(torch.tensor(0.7))
    assert es.best == pytest.approx(0.7)


def test_checkpoint_file_and_non_finite_weights(tmp_path) -> None:
    path = tmp_path / "ckpt" / "best.pt"
    es = EarlyStopping(patience=5, checkpoint_path=path)
    m = _model(1.0)
    es.step(1.0, m)
    assert path.exists() and es.has_best
    with torch.no_grad():
        next(m.parameters())[0, 0] = math.nan
    with pytest.warns(RuntimeWarning, match="is not finite at evaluation 2; not stored"):
        es.step(0.5, m)  # better metric but NaN weights: not stored, no improvement
    assert es.best == 1.0 and es.wait == 1
    fresh = _model(0.0)
    es.restore(fresh)
    assert _value(fresh) == 1.0
    assert [p.name for p in path.parent.iterdir()] == ["best.pt"]  # no temp file left


def test_state_dict_round_trip() -> None:
    es = EarlyStopping(patience=3)
    m = _model(2.0)
    es.step(0.5, m)
    es.step(0.6, m)
    other = EarlyStopping(mode="max", patience=99)
    other.load_state_dict(es.state_dict())
    assert (other.mode, other.patience, other.best, other.wait, other.steps) == (
        "min", 3, 0.5, 1, 2)
    target = _model(0.0)
    other.restore(target)
    assert _value(target) == 2.0
    assert not other.step(0.7, m) and other.step(0.8, m)


def test_in_memory_copy_is_detached_from_the_model() -> None:
    es = EarlyStopping(patience=1)
    m = _model(3.0)
    es.step(0.1, m)
    with torch.no_grad():
        next(m.parameters()).fill_(-1.0)
    es.restore(m)
    assert _value(m) == 3.0
    assert all(t.device.type == "cpu" for t in es.best_weights().values())


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        EarlyStopping(mode="lower")
    with pytest.raises(ValueError, match="patience must be an int >= 0"):
        EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match="min_delta must be finite and >= 0"):
        EarlyStopping(min_delta=-0.1)
    with pytest.raises(ValueError, match="needs the model"):
        EarlyStopping().step(1.0)
    with pytest.raises(RuntimeError, match="no best weights yet"):
        EarlyStopping().restore(_model(0.0))
    with pytest.raises(ValueError, match="must be a scalar"):
        EarlyStopping(restore_best=False).step(torch.ones(2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="only used with restore_best=True"):
            EarlyStopping(restore_best=False, checkpoint_path="x.pt")


def test_patience_zero_stops_at_the_first_evaluation_without_improvement() -> None:
    """As Lightning's EarlyStopping: an improving evaluation never stops, patience 0 stops at
    the first one that does not improve."""
    es = EarlyStopping(patience=0, restore_best=False)
    assert [es.step(v) for v in (1.0, 0.9, 0.8)] == [False, False, False]
    assert es.step(0.85) is True and es.wait == 1
    assert es.step(0.7) is False and not es.stopped  # an improvement clears a stop
