import math

import matplotlib
import numpy as np
import pytest
import torch
from torch import nn

from lossdoctor.train import lr_find, suggest_lrs

matplotlib.use("Agg")


def _setup(optim: str = "adam"):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 1))
    w = torch.randn(4, 1)
    batches = []
    for _ in range(8):
        x = torch.randn(32, 4)
        batches.append((x, x @ w + 0.1 * torch.randn(32, 1)))
    if optim == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=3e-4, weight_decay=1e-4)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return model, opt, nn.MSELoss(), batches


def _snapshot(model, opt):
    params = {k: v.clone() for k, v in model.state_dict().items()}
    grads = [None if p.grad is None else p.grad.clone() for p in model.parameters()]
    state = {i: {k: v.clone() if torch.is_tensor(v) else v for k, v in s.items()}
             for i, s in enumerate(opt.state.values())}
    groups = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
    return params, grads, state, groups, model.training


def _same(a, b) -> None:
    pa, ga, sa, gra, ta = a
    pb, gb, sb, grb, tb = b
    assert pa.keys() == pb.keys()
    for k in pa:
        assert torch.equal(pa[k], pb[k]), k  # bit-identical
    for x, y in zip(ga, gb, strict=True):
        assert (x is None and y is None) or torch.equal(x, y)
    assert sa.keys() == sb.keys()
    for i in sa:
        assert sa[i].keys() == sb[i].keys()
        for k in sa[i]:
            va, vb = sa[i][k], sb[i][k]
            assert torch.equal(va, vb) if torch.is_tensor(va) else va == vb
    assert gra == grb and ta == tb


@pytest.mark.parametrize("optim", ["adam", "sgd"])
def test_restores_model_and_optimizer_state(optim: str) -> None:
    model, opt, loss_fn, batches = _setup(optim)
    for x, y in batches[:2]:  # some optimizer state, and leftover gradients
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    model.eval()
    before = _snapshot(model, opt)
    model.train()
    before_train = _snapshot(model, opt)
    res = lr_find(model, opt, loss_fn, batches, num_steps=40, end_lr=100.0)
    _same(before_train, _snapshot(model, opt))
    assert len(res.lrs) >= 5 and before[4] is False


def test_fresh_optimizer_state_stays_empty() -> None:
    model, opt, loss_fn, batches = _setup()
    lr_find(model, opt, loss_fn, batches, num_steps=10)
    assert len(opt.state) == 0
    assert all(p.grad is None for p in model.parameters())


def test_sweep_smoothing_divergence_and_suggestions(tmp_path) -> None:
    model, opt, loss_fn, batches = _setup("sgd")
    res = lr_find(model, opt, loss_fn, batches, start_lr=1e-5, end_lr=10.0, num_steps=60)
    ratio = np.diff(np.log(res.lrs))
    assert np.allclose(ratio, math.log(1e6) / 59)  # exponential sweep
    assert res.lrs[0] == pytest.approx(1e-5)
    # bias-corrected EMA: the first smoothed value is the first raw loss
    assert res.losses[0] == pytest.approx(res.raw_losses[0])
    assert res.stopped_early and "exceeded 4 × its best" in res.notes[0]
    assert res.losses[-1] > 4 * res.losses.min()
    assert set(res.suggestions) == {"steepest", "valley", "minimum/10"}
    lo, hi = res.lrs.min(), res.lrs.max()
    assert all(lo / 10 <= v <= hi for v in res.suggestions.values())
    assert res.confidence in {"high", "medium", "low"} and res.spread_decades is not None
    logs = np.log10(list(res.suggestions.values()))
    assert res.spread_decades == pytest.approx(logs.max() - logs.min())
    ax = res.plot(path=str(tmp_path / "lr.png"))
    assert (tmp_path / "lr.png").stat().st_size > 1000 and ax.get_xscale() == "log"


def test_suggestions_on_a_known_curve() -> None:
    lrs = np.logspace(-6, 0, 61)
    x = np.log10(lrs)
    losses = 1.0 - 0.9 / (1 + np.exp(-3 * (x + 3)))  # steepest descent at 1e-3
    losses[50:] += (x[50:] - x[50]) ** 2 * 5  # blows up after 1e-1
    s = suggest_lrs(lrs, losses)
    assert s["steepest"] == pytest.approx(1e-3)
    assert s["minimum/10"] == pytest.approx(1e-2)
    # valley: a third plus a sixth along the longest descent (indices 0..50):
    # 0 + int(50/3) + int(50/6) = 24
    assert s["valley"] == pytest.approx(lrs[24])
    with pytest.raises(ValueError, match="at least 5 points"):
        suggest_lrs(lrs[:3], losses[:3])


def test_too_few_points_give_no_suggestion() -> None:
    model, opt, loss_fn, batches = _setup("sgd")
    res = lr_find(model, opt, loss_fn, batches, start_lr=1e3, end_lr=1e6, num_steps=20,
                  diverge_factor=1.01)
    assert res.suggestion is None and res.confidence == "none"
    assert any("no suggestion" in n for n in res.notes)


def test_custom_batch_loss_and_bad_input() -> None:
    model, opt, loss_fn, batches = _setup()
    dict_batches = [{"x": x, "y": y} for x, y in batches]
    res = lr_find(model, opt, loss_fn, dict_batches, num_steps=6,
                  batch_loss=lambda m, b: loss_fn(m(b["x"]), b["y"]))
    assert len(res.lrs) == 6
    with pytest.raises(TypeError, match=r"\(inputs, targets\) pair"):
        lr_find(model, opt, loss_fn, dict_batches, num_steps=6)
    with pytest.raises(ValueError, match="the loader yielded no batch"):
        lr_find(model, opt, loss_fn, [], num_steps=5)
    with pytest.raises(ValueError, match=r"end_lr \(1e-08\) must be larger than start_lr"):
        lr_find(model, opt, loss_fn, batches, end_lr=1e-8)
    with pytest.raises(ValueError, match="num_steps must be an int >= 2"):
        lr_find(model, opt, loss_fn, batches, num_steps=1)
    with pytest.raises(ValueError, match=r"smooth must be in \[0, 1\)"):
        lr_find(model, opt, loss_fn, batches, smooth=1.0)
    with pytest.raises(ValueError, match="diverge_factor must be > 1"):
        lr_find(model, opt, loss_fn, batches, diverge_factor=1.0)
    with pytest.raises(TypeError, match="optimizer must be"):
        lr_find(model, model, loss_fn, batches)  # type: ignore[arg-type]
    other = torch.optim.SGD(nn.Linear(4, 1).parameters(), lr=0.1)
    with pytest.raises(ValueError, match="parameters that are not the model's"):
        lr_find(model, other, loss_fn, batches)
    with pytest.raises(ValueError, match="the loss must be a scalar tensor, got \\(32, 1\\)"):
        lr_find(model, opt, nn.MSELoss(reduction="none"), batches, num_steps=5)
    frozen, _, _, _ = _setup()
    frozen.requires_grad_(False)
    with pytest.raises(ValueError, match="no parameter of the optimizer requires grad"):
        lr_find(frozen, torch.optim.SGD(frozen.parameters(), lr=0.1), loss_fn, batches)


def test_a_one_shot_iterator_ends_the_sweep() -> None:
    model, opt, loss_fn, batches = _setup("sgd")
    res = lr_find(model, opt, loss_fn, iter(batches), num_steps=20)
    assert len(res.lrs) == len(batches) == 8 and not res.stopped_early
    assert any("ran out after 8 batches" in n for n in res.notes)
    assert res.suggestion is not None


def test_divergence_of_a_loss_below_zero() -> None:
    """A negative loss (shifted MSE here): the sweep runs until the loss rises by
    (factor − 1) × |best| above its best, as a positive loss must rise to factor × best."""
    model, opt, loss_fn, batches = _setup("sgd")
    plain = lr_find(model, opt, loss_fn, batches, num_steps=60)
    shifted = lr_find(model, opt, lambda o, t: loss_fn(o, t) - 20.0, batches, num_steps=60)
    best = shifted.losses.min()
    assert best < 0 and shifted.losses[-1] > best + 3 * abs(best)
    assert len(plain.lrs) - 5 <= len(shifted.lrs) <= len(plain.lrs) + 5  # not stopped at once
    assert "rose more than 3 × |best| above its best" in shifted.notes[0]
    assert shifted.suggestion is not None
