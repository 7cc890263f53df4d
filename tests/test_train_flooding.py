import math

import numpy as np
import pytest
import torch
from torch import nn

from lossdoctor.run import Run, Series
from lossdoctor.train import (
    Flooding,
    flood,
    iflood,
    propose_flood_level,
    search_flood_level,
)


def test_flood_descends_above_and_ascends_below() -> None:
    w = torch.tensor(1.0, requires_grad=True)
    loss = (w * 0.5) ** 2  # 0.25
    flood(loss, 0.1).backward()
    above = w.grad.clone()
    w.grad = None
    loss = (w * 0.5) ** 2
    out = flood(loss, 0.4)
    out.backward()
    assert out.item() == pytest.approx(2 * 0.4 - 0.25)
    assert torch.equal(w.grad, -above)  # same magnitude, opposite direction
    assert flood(torch.tensor(0.3), 0.0).item() == pytest.approx(0.3)


def test_iflood_folds_each_sample() -> None:
    losses = torch.tensor([0.05, 0.2, 1.0])
    assert iflood(losses, 0.1).item() == pytest.approx((0.15 + 0.2 + 1.0) / 3)
    # flooding the mean would do nothing here: the mean is above b
    assert flood(losses.mean(), 0.1).item() == pytest.approx(losses.mean().item())


@pytest.mark.parametrize("b", [-0.1, math.nan, math.inf])
def test_bad_level(b: float) -> None:
    with pytest.raises(ValueError, match="flood level b must be finite and >= 0"):
        flood(torch.tensor(1.0), b)
    with pytest.raises(ValueError, match="flood level b"):
        Flooding(nn.MSELoss(), b=b)


def test_wrong_shapes_and_reductions() -> None:
    with pytest.raises(ValueError, match="use iflood"):
        flood(torch.ones(3), 0.1)
    with pytest.raises(ValueError, match="use flood"):
        iflood(torch.tensor(1.0), 0.1)
    with pytest.raises(ValueError, match=r"reduction='mean' or 'none'.*'sum'"):
        Flooding(nn.CrossEntropyLoss(reduction="sum"), b=0.1)
    with pytest.raises(TypeError, match="torch loss module"):
        Flooding(lambda a, b: a, b=0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be a number"):
        flood(torch.tensor(1.0), "0.1")  # type: ignore[arg-type]


def test_module_matches_inner_loss_at_zero_and_floods_above() -> None:
    torch.manual_seed(0)
    logits = torch.randn(8, 4)
    target = torch.tensor([0, 1, 2, 3, -100, 1, 2, 0])
    weight = torch.tensor([1.0, 2.0, 0.5, 3.0])
    inner = nn.CrossEntropyLoss(weight=weight, label_smoothing=0.1)
    ref = inner(logits, target)
    for per_sample in (False, True):
        out = Flooding(inner, b=0.0, per_sample=per_sample)(logits, target)
        assert torch.allclose(out, ref, rtol=1e-6), per_sample
    by_keyword = Flooding(inner, b=0.0, per_sample=True)(logits, target=target)
    assert torch.allclose(by_keyword, ref, rtol=1e-6)
    assert inner.reduction == "mean"  # restored after the per-sample call
    b = ref.item() + 0.5
    assert Flooding(inner, b=b)(logits, target).item() == pytest.approx(2 * b - ref.item())
    per = nn.CrossEntropyLoss(reduction="none")(logits[:4], target[:4])
    expect = ((per - 0.3).abs() + 0.3).mean()
    got = Flooding(nn.CrossEntropyLoss(), b=0.3, per_sample=True)(logits[:4], target[:4])
    assert torch.allclose(got, expect)
    none_inner = Flooding(nn.MSELoss(reduction="none"), b=0.0)
    x, y = torch.randn(5), torch.randn(5)
    assert torch.allclose(none_inner(x, y), nn.MSELoss()(x, y))


def test_batch_form_around_a_none_loss_averages_like_torch() -> None:
    """Around a reduction='none' loss with class weights or ignored targets, the batch form
    floods torch's own mean (Σ weighted losses / Σ weights over the kept targets), not .mean()."""
    torch.manual_seed(0)
    logits = torch.randn(6, 3)
    target = torch.tensor([0, 1, 2, -100, 1, 0])
    weight = torch.tensor([1.0, 2.0, 5.0])
    for kwargs in ({"weight": weight}, {}):
        ref = nn.CrossEntropyLoss(**kwargs)(logits, target)
        inner = nn.CrossEntropyLoss(reduction="none", **kwargs)
        assert torch.allclose(Flooding(inner, b=0.0)(logits, target), ref, rtol=1e-6)
        b = ref.item() + 0.5
        assert Flooding(inner, b=b)(logits, target).item() == pytest.approx(2 * b - ref.item())
        assert inner.reduction == "none"


def _run(val: np.ndarray, train: np.ndarray, train_per_epoch: int = 10) -> Run:
    nan = math.nan
    n_val = len(val)
    tsteps = np.arange(1, len(train) + 1, dtype=float)
    vsteps = np.arange(1, n_val + 1, dtype=float) * train_per_epoch
    series = {
        "train_loss": Series("train_loss", "loss", tsteps, np.full(len(train), nan), train),
        "val_loss": Series("val_loss", "eval_loss", vsteps, np.arange(1.0, n_val + 1), val),
    }
    return Run("r", "mem", "test", series)


def test_propose_reads_train_loss_where_val_turns() -> None:
    epochs = np.arange(1, 61, dtype=float)
    val = 0.5 + 0.002 * (epochs - 30) ** 2 / 10
    steps = np.arange(1, 601, dtype=float)
    rng = np.random.default_rng(0)
    train = 1.0 * np.exp(-steps / 150) + 0.01 * rng.standard_normal(600)
    p = propose_flood_level(_run(val, train))
    assert p.level == pytest.approx(np.exp(-300 / 150), abs=0.01)
    assert p.evidence["val_min_at"] == 300 and p.evidence["axis"] == "step"
    assert p.evidence["val_rise_pct"] > 5
    assert "started to rise at step 300" in p.reason


def test_propose_without_rise_gives_no_level() -> None:
    val = np.linspace(1.0, 0.5, 20)
    train = np.linspace(1.0, 0.3, 200)
    p = propose_flood_level(_run(val, train))
    assert p.level is None and "did not rise" in p.reason


def test_propose_gives_no_negative_level() -> None:
    val = np.concatenate([np.linspace(1.0, 0.5, 10), np.linspace(0.5, 0.8, 10)])
    train = np.linspace(0.5, -1.5, 200)  # e.g. a Gaussian negative log-likelihood
    p = propose_flood_level(_run(val, train))
    assert p.level is None and "must be >= 0" in p.reason
    assert p.evidence["train_loss_smoothed_at_min"] < 0


def test_propose_bad_runs() -> None:
    run = _run(np.linspace(1, 0.5, 20), np.linspace(1, 0.3, 200))
    del run.series["val_loss"]
    with pytest.raises(ValueError, match="no val_loss series"):
        propose_flood_level(run)
    short = _run(np.array([1.0, math.nan]), np.linspace(1, 0.3, 20))
    with pytest.raises(ValueError, match="val_loss has 1 finite points"):
        propose_flood_level(short)
    with pytest.raises(ValueError, match="smooth_fraction"):
        propose_flood_level(run, smooth_fraction=0)


def test_search_keeps_best_on_validation() -> None:
    calls: list[float] = []

    def fit_and_score(b: float) -> float:
        calls.append(b)
        return math.nan if b == 0.5 else 0.9 - (b - 0.12) ** 2

    res = search_flood_level(fit_and_score)
    assert len(calls) == 51 and calls[:3] == [0.0, 0.01, 0.02]
    assert res.best_level == 0.12 and res.mode == "max"
    assert res.table[12] == (0.12, pytest.approx(0.9))
    res = search_flood_level(lambda b: (b - 0.2) ** 2, levels=[0, 0.1, 0.2, 0.3], mode="min")
    assert res.best_level == 0.2
    with pytest.raises(ValueError, match="flood level b must be finite"):
        search_flood_level(lambda b: 0.0, levels=[0.1, -1])
    with pytest.raises(ValueError, match="no finite score"):
        search_flood_level(lambda b: math.nan, levels=[0.1])
    with pytest.raises(ValueError, match="mode"):
        search_flood_level(lambda b: 0.0, mode="best")


def test_training_floats_at_the_flood_level() -> None:
    torch.manual_seed(0)
    x = torch.randn(64, 5)
    y = x @ torch.randn(5, 1)  # realisable: plain training drives the loss to ~0
    model = nn.Linear(5, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    loss_fn = Flooding(nn.MSELoss(), b=0.2)
    tail = []
    for step in range(300):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        if step >= 200:
            tail.append(nn.functional.mse_loss(model(x), y).item())
    assert min(tail) > 0.15 and max(tail) < 0.25  # it floats around b instead of reaching 0


def test_propose_on_an_epoch_axis() -> None:
    nan = math.nan
    epochs = np.arange(1.0, 41.0)
    val = 0.4 + 0.001 * (epochs - 15) ** 2
    train = 0.9 * np.exp(-epochs / 10)
    run = Run("r", "mem", "test", {
        "train_loss": Series("train_loss", "loss", np.full(40, nan), epochs, train),
        "val_loss": Series("val_loss", "val_loss", np.full(40, nan), epochs, val),
    })
    p = propose_flood_level(run)
    assert p.evidence["axis"] == "epoch" and p.evidence["val_min_at"] == 15
    assert p.level == pytest.approx(np.mean(train[13:16]), rel=1e-9)  # 3-point centred mean
