import math

import numpy as np
import pytest
import torch
from torch import nn

from lossdoctor.train import Backstitch, grad_norm_penalty


def _problem() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    x = torch.randn(16, 3, dtype=torch.float64)
    y = torch.randn(16, 1, dtype=torch.float64)
    return model, x, y


def _flat(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def _updates(eta: float, alpha: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(backstitch update, SGD update on loss + α(1+α)η/2·‖∇L‖², plain SGD update)."""
    out = []
    for kind in ("backstitch", "penalty", "sgd"):
        model, x, y = _problem()
        before = _flat(model)
        opt = torch.optim.SGD(model.parameters(), lr=eta)
        if kind == "backstitch":
            bs = Backstitch(opt, alpha=alpha)

            def closure(model: nn.Module = model, bs: Backstitch = bs, x: torch.Tensor = x,
                        y: torch.Tensor = y) -> torch.Tensor:
                bs.zero_grad()
                loss = nn.functional.mse_loss(model(x), y)
                loss.backward()
                return loss

            bs.step(closure)
        else:
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            if kind == "penalty":
                loss = loss + grad_norm_penalty(loss, model.parameters(),
                                                alpha * (1 + alpha) * eta / 2)
            loss.backward()
            opt.step()
        out.append(_flat(model) - before)
    return out[0], out[1], out[2]


def test_backstitch_is_a_gradient_norm_penalty_to_first_order() -> None:
    alpha = 0.3
    etas = np.array([0.1, 0.03, 0.01, 0.003, 0.001])
    vs_penalty, vs_sgd, relative = [], [], []
    for eta in etas:
        bs, pen, sgd = _updates(float(eta), alpha)
        vs_penalty.append((bs - pen).norm().item())
        vs_sgd.append((bs - sgd).norm().item())
        relative.append((bs - pen).norm().item() / bs.norm().item())
    slope_pen = np.polyfit(np.log(etas), np.log(vs_penalty), 1)[0]
    slope_sgd = np.polyfit(np.log(etas), np.log(vs_sgd), 1)[0]
    slope_rel = np.polyfit(np.log(etas), np.log(relative), 1)[0]
    # backstitch − plain SGD is the η² penalty term; backstitch − penalised SGD is O(η³)
    assert 1.9 < slope_sgd < 2.1
    assert 2.8 < slope_pen < 3.2
    assert 1.8 < slope_rel < 2.2  # i.e. O(η²) relative to the size of the update
    assert all(p < s for p, s in zip(vs_penalty, vs_sgd, strict=True))


def test_alpha_zero_is_the_plain_optimizer() -> None:
    results = []
    for wrap in (False, True):
        model, x, y = _problem()
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        step = Backstitch(opt, alpha=0.0).step if wrap else opt.step
        for _ in range(3):
            def closure(model: nn.Module = model, opt: torch.optim.Optimizer = opt,
                        x: torch.Tensor = x, y: torch.Tensor = y) -> torch.Tensor:
                opt.zero_grad()
                loss = nn.functional.mse_loss(model(x), y)
                loss.backward()
                return loss
            step(closure)
        results.append(_flat(model))
    assert torch.equal(results[0], results[1])


def test_optimizer_state_only_sees_the_descent_step() -> None:
    model, x, y = _problem()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    bs = Backstitch(opt, alpha=0.5)
    grads_seen = []

    def closure() -> torch.Tensor:
        bs.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        grads_seen.append([p.grad.clone() for p in model.parameters()])
        return loss

    loss = bs.step(closure)
    assert len(grads_seen) == 2 and loss.dim() == 0
    for p, g in zip(model.parameters(), grads_seen[1], strict=True):
        state = opt.state[p]
        assert state["step"].item() == 1
        # Adam's first moment after one step is (1 − β1)·g of the second (descent) gradient
        assert torch.allclose(state["exp_avg"], 0.1 * g)
    assert all(g["lr"] == 0.01 for g in opt.param_groups)


def test_state_dict_round_trip_and_bad_input() -> None:
    model, _, _ = _problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    bs = Backstitch(opt, alpha=0.2)
    sd = bs.state_dict()
    other = Backstitch(torch.optim.SGD(model.parameters(), lr=0.5), alpha=0.9)
    other.load_state_dict(sd)
    assert other.alpha == 0.2 and other.param_groups[0]["lr"] == 0.1
    with pytest.raises(TypeError, match="needs a closure"):
        bs.step(None)  # type: ignore[arg-type]
    for alpha in (-0.1, math.nan):
        with pytest.raises(ValueError, match="alpha must be finite and >= 0"):
            Backstitch(opt, alpha=alpha)
    with pytest.raises(TypeError, match=r"wraps a torch\.optim\.Optimizer"):
        Backstitch(model, alpha=0.1)  # type: ignore[arg-type]


def test_grad_norm_penalty_value_and_bad_input() -> None:
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    loss = (w ** 2).sum()  # gradient 2w → ‖∇‖² = 4·5 = 20
    pen = grad_norm_penalty(loss, [w], 0.5)
    assert pen.item() == pytest.approx(10.0)
    pen.backward()  # ∇(0.5·4‖w‖²) = 4w
    assert torch.allclose(w.grad, 4 * w.detach())
    with pytest.raises(ValueError, match="weight must be finite"):
        grad_norm_penalty((w ** 2).sum(), [w], -1.0)
    with pytest.raises(ValueError, match="must be a scalar"):
        grad_norm_penalty(w ** 2, [w], 1.0)
    with pytest.raises(ValueError, match="requires grad"):
        grad_norm_penalty((w ** 2).sum(), [torch.ones(2)], 1.0)
