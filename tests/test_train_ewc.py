import io
import math
import socket
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import Tensor, nn

from lossdoctor.train import EWC, OnlineEWC
from lossdoctor.train.ewc import fisher_diagonal

LOSS = nn.CrossEntropyLoss()


def mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3)).double()


def data(n: int, seed: int = 1) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 6, generator=g, dtype=torch.float64), torch.randint(
        0, 3, (n,), generator=g
    )


def loader(x: Tensor, y: Tensor, batch: int = 16) -> list[tuple[Tensor, Tensor]]:
    return [(x[i : i + batch], y[i : i + batch]) for i in range(0, len(x), batch)]


def reference_fisher(model: nn.Module, x: Tensor, y: Tensor) -> dict[str, Tensor]:
    """Mean of per-sample squared gradients, one plain backward pass per sample."""
    names, params = zip(*model.named_parameters(), strict=True)
    sums = [torch.zeros_like(p) for p in params]
    for i in range(len(x)):
        grads = torch.autograd.grad(LOSS(model(x[i : i + 1]), y[i : i + 1]), params)
        for s, g in zip(sums, grads, strict=True):
            s += g**2
    return {n: s / len(x) for n, s in zip(names, sums, strict=True)}


def formula(model: nn.Module, lam: float, tasks: list[tuple[dict, dict]]) -> Tensor:
    """(λ/2) Σ_t Σ F_t (θ − θ*_t)², the naive way."""
    return sum(
        lam / 2 * (f[n] * (p - a[n]) ** 2).sum()
        for f, a in tasks
        for n, p in model.named_parameters()
    )


def perturb(model: nn.Module, seed: int, scale: float = 0.1) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))


def snapshot(model: nn.Module) -> dict[str, Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters()}


# -- Fisher ----------------------------------------------------------------------------------------


def windows_model() -> nn.Module:
    """Inputs (N, 4, 6): the first Linear sees a sequence axis."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Flatten(), nn.Linear(20, 3)).double()


def tied_model() -> nn.Module:
    """The same Linear twice: its per-sample gradient is a sum of two outer products."""
    torch.manual_seed(0)
    square = nn.Linear(6, 6)
    return nn.Sequential(square, nn.Tanh(), square, nn.Linear(6, 3)).double()


def layernorm_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.LayerNorm(8), nn.Tanh(), nn.Linear(8, 3)).double()


@pytest.mark.parametrize(
    ("make", "shape", "path"),
    [
        (mlp, (6,), "linear"),  # Σ (δ a)² = (δ²)ᵀ(a²) per Linear layer
        (layernorm_model, (6,), "vmap"),  # LayerNorm: not a plain MLP
        (tied_model, (6,), "vmap"),  # a layer used twice
        (windows_model, (4, 6), "vmap"),  # a sequence axis: the Linear shortcut gives up
    ],
)
def test_exact_fisher_paths_equal_per_sample_loop(
    make: Callable[[], nn.Module], shape: tuple[int, ...], path: str
) -> None:
    model = make()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(40, *shape, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (40,), generator=g)
    ewc = EWC(model, ewc_lambda=1.0)
    before = [(m, n, p) for m in model.modules() for n, p in m.named_parameters(recurse=False)]
    ewc.consolidate(loader(x, y), LOSS)
    assert ewc._fisher_state["path"] == path
    assert all(getattr(m, n) is p for m, n, p in before)  # the model keeps its Parameters
    ref = reference_fisher(model, x, y)
    for n, f in ewc.fisher.items():
        torch.testing.assert_close(f, ref[n], rtol=1e-6, atol=1e-12)


def test_exact_fisher_equals_per_sample_loop() -> None:
    model, (x, y) = mlp(), data(50)
    exact = fisher_diagonal(model, loader(x, y), LOSS)
    ref = reference_fisher(model, x, y)
    assert exact.keys() == ref.keys()
    for n in ref:
        torch.testing.assert_close(exact[n], ref[n], rtol=1e-6, atol=1e-12)
    # the batch size does not matter for the exact Fisher
    whole = fisher_diagonal(model, loader(x, y, batch=50), LOSS)
    for n in ref:
        torch.testing.assert_close(whole[n], exact[n], rtol=1e-10, atol=1e-14)


def test_squared_batch_gradient_is_not_the_fisher() -> None:
    model, (x, y) = mlp(), data(256)
    exact = fisher_diagonal(model, loader(x, y, batch=32), LOSS)
    wrong = fisher_diagonal(model, loader(x, y, batch=32), LOSS, fisher="batch_squared")
    e = torch.cat([t.flatten() for t in exact.values()])
    w = torch.cat([t.flatten() for t in wrong.values()])
    assert not torch.allclose(e, w, rtol=1e-6, atol=1e-12)
    # much smaller: most of the per-sample signal cancels in the batch mean
    assert e.sum() / w.sum() > 4
    # and a different ranking of parameter importance
    assert not torch.equal(e.argsort(), w.argsort())
    rank_e, rank_w = e.argsort().argsort().double(), w.argsort().argsort().double()
    spearman = torch.corrcoef(torch.stack([rank_e, rank_w]))[0, 1]
    assert spearman < 0.95
    top_e, top_w = set(e.topk(20).indices.tolist()), set(w.topk(20).indices.tolist())
    assert top_e != top_w


def test_batch_squared_with_batches_of_one_is_exact() -> None:
    model, (x, y) = mlp(), data(20)
    ones = fisher_diagonal(model, loader(x, y, batch=1), LOSS, fisher="batch_squared")
    exact = fisher_diagonal(model, loader(x, y), LOSS)
    for n in exact:
        torch.testing.assert_close(ones[n], exact[n], rtol=1e-10, atol=1e-14)


def test_true_fisher_samples_labels_from_the_model() -> None:
    model, (x, _) = mlp(), data(40)
    with torch.no_grad():  # very confident: the sampled label is the argmax
        model[2].weight.mul_(200)
        model[2].bias.zero_()
        labels = model(x).argmax(1)
    torch.manual_seed(3)
    true = fisher_diagonal(model, loader(x, torch.zeros_like(labels)), LOSS, fisher="true")
    ref = reference_fisher(model, x, labels)
    for n in ref:
        torch.testing.assert_close(true[n], ref[n], rtol=1e-6, atol=1e-10)


def test_true_fisher_is_the_expectation_over_labels() -> None:
    model, (x, y) = mlp(), data(8)
    with torch.no_grad():
        probs = torch.softmax(model(x), 1)
    # exact expectation: Σ_c p(c|x) g(x, c)², averaged over x
    expected = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    for c in range(3):
        per_class = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
        for i in range(len(x)):
            grads = torch.autograd.grad(
                LOSS(model(x[i : i + 1]), torch.tensor([c])), list(model.parameters())
            )
            for (n, _), g in zip(model.named_parameters(), grads, strict=True):
                per_class[n] += probs[i, c] * g**2 / len(x)
        for n in expected:
            expected[n] += per_class[n]
    torch.manual_seed(0)
    xs, ys = x.repeat(500, 1), y.repeat(500)
    sampled = fisher_diagonal(model, loader(xs, ys, batch=400), LOSS, fisher="true")
    total_s = sum(t.sum() for t in sampled.values())
    total_e = sum(t.sum() for t in expected.values())
    assert float(total_s / total_e) == pytest.approx(1.0, abs=0.05)


def test_true_fisher_needs_logits() -> None:
    model = nn.Sequential(nn.Linear(3, 1), nn.Flatten(0)).double()
    batches = [(torch.randn(4, 3, dtype=torch.float64), torch.randn(4, dtype=torch.float64))]
    with pytest.raises(ValueError, match=r"logits of shape \(N, C\)"):
        fisher_diagonal(model, batches, nn.MSELoss(), fisher="true")
    # the empirical Fisher works for regression
    f = fisher_diagonal(model, batches, nn.MSELoss())
    assert all(torch.isfinite(t).all() and (t >= 0).all() for t in f.values())


def test_max_samples_takes_the_first_samples() -> None:
    model, (x, y) = mlp(), data(50)
    part = fisher_diagonal(model, loader(x, y), LOSS, max_samples=21)
    ref = reference_fisher(model, x[:21], y[:21])
    for n in ref:
        torch.testing.assert_close(part[n], ref[n], rtol=1e-6, atol=1e-12)


class InPlaceOutput(nn.Module):
    """Writes into a preallocated output: vmap cannot batch it."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(6, 3)

    def forward(self, x: Tensor) -> Tensor:
        out = torch.zeros(x.shape[0], 3, dtype=x.dtype)
        out += self.lin(x)
        return out


def test_fallback_for_in_place_ops_warns_once_and_is_exact() -> None:
    model, (x, y) = InPlaceOutput().double(), data(30)
    ewc = EWC(model, ewc_lambda=1.0)
    with pytest.warns(RuntimeWarning, match="one backward pass per sample") as record:
        ewc.consolidate(loader(x, y, batch=8), LOSS)
    assert len(record) == 1
    ref = reference_fisher(model, x, y)
    for n, f in ewc.fisher.items():
        torch.testing.assert_close(f, ref[n], rtol=1e-6, atol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no second warning for the same EWC
        ewc.consolidate(loader(x, y, batch=8), LOSS)


def test_fallback_for_batchnorm_in_training_mode_keeps_buffers() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(32, 3)
    ).double()
    x = torch.randn(12, 1, 6, 6, dtype=torch.float64)
    y = torch.randint(0, 3, (12,))
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    with pytest.warns(RuntimeWarning, match="vmap cannot run"):
        fisher = fisher_diagonal(model, loader(x, y, batch=5), LOSS)
    for n, b in model.named_buffers():
        assert torch.equal(b, buffers[n]), n
    ref = reference_fisher(model, x, y)
    for n in ref:
        torch.testing.assert_close(fisher[n], ref[n], rtol=1e-6, atol=1e-12)
    for n, b in model.named_buffers():
        b.copy_(buffers[n])


def test_batchnorm1d_in_training_mode_says_to_call_eval() -> None:
    """One sample at a time cannot use batch statistics: a clear error, not torch's."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 3)).double()
    x, y = data(12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning blaming vmap first
        with pytest.raises(ValueError, match=r"BatchNorm1d '1' is in training mode.*model\.eval"):
            fisher_diagonal(model, loader(x, y), LOSS)
    model.eval()
    fisher = fisher_diagonal(model, loader(x, y), LOSS)
    ref = reference_fisher(model, x, y)
    for n in ref:
        torch.testing.assert_close(fisher[n], ref[n], rtol=1e-6, atol=1e-12)


def test_a_data_error_is_raised_without_blaming_vmap() -> None:
    model, (x, y) = mlp(), data(12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeError, match="dtype"):
            fisher_diagonal(model, loader(x.float(), y), LOSS)


def test_frozen_parameters_are_not_anchored() -> None:
    model, (x, y) = mlp(), data(20)
    model[0].weight.requires_grad_(False)
    ewc = EWC(model, ewc_lambda=1.0)
    ewc.consolidate(loader(x, y), LOSS)
    assert set(ewc.fisher) == {"0.bias", "2.weight", "2.bias"}
    perturb(model, seed=1)
    before = ewc.penalty().item()
    with torch.no_grad():
        model[0].weight.add_(1.0)
    assert ewc.penalty().item() == before > 0


# -- penalty ---------------------------------------------------------------------------------------


def test_penalty_value_and_gradient() -> None:
    model, (x, y) = mlp(), data(40)
    ewc = EWC(model, ewc_lambda=3.0)
    ewc.consolidate(loader(x, y), LOSS)
    assert ewc.penalty().item() == 0.0
    fisher, anchor = reference_fisher(model, x, y), snapshot(model)
    perturb(model, seed=5)
    got = ewc.penalty()
    got.backward()
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    want = formula(model, 3.0, [(fisher, anchor)])
    want.backward()
    assert got.item() == pytest.approx(want.item(), rel=1e-9)
    for g, p in zip(grads, model.parameters(), strict=True):
        torch.testing.assert_close(g, p.grad, rtol=1e-9, atol=1e-15)
    assert got.dtype == torch.float64 and got.dim() == 0
    model.zero_grad()
    (-2.5 * ewc.penalty()).backward()  # an upstream gradient other than 1
    for g, p in zip(grads, model.parameters(), strict=True):
        torch.testing.assert_close(p.grad, -2.5 * g, rtol=1e-9, atol=1e-15)
    ewc.ewc_lambda = 6.0
    assert ewc.penalty().item() == pytest.approx(2 * want.item(), rel=1e-9)
    with torch.no_grad():
        assert ewc.penalty().item() == pytest.approx(2 * want.item(), rel=1e-9)


def test_float32_penalty_is_accurate_on_large_tensors() -> None:
    torch.manual_seed(0)
    model = nn.Linear(1000, 400)  # 400,400 float32 parameters in one tensor
    x, y = torch.randn(8, 1000), torch.randint(0, 400, (8,))
    ewc = EWC(model, ewc_lambda=1.0)
    ewc.consolidate([(x, y)], LOSS)
    state = ewc.state_dict()
    with torch.no_grad():
        model.weight.add_(1e-3)
    fisher, anchor = state["tasks"][0]["fisher"], state["tasks"][0]["anchor"]
    exact = sum(
        0.5 * (f.double() * (p.detach().double() - a.double()) ** 2).sum()
        for f, a, p in zip(fisher, anchor, model.parameters(), strict=True)
    )
    assert ewc.penalty().item() == pytest.approx(exact.item(), rel=1e-6)


def test_separate_penalties_sum_over_tasks() -> None:
    model = mlp()
    ewc = EWC(model, ewc_lambda=2.0)
    tasks = []
    for t in range(3):
        x, y = data(30, seed=10 + t)
        perturb(model, seed=t)
        ewc.consolidate(loader(x, y), LOSS)
        tasks.append((reference_fisher(model, x, y), snapshot(model)))
    assert ewc.num_tasks == 3
    perturb(model, seed=9)
    got = ewc.penalty()
    got.backward()
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    want = formula(model, 2.0, tasks)
    want.backward()
    assert got.item() == pytest.approx(want.item(), rel=1e-9)
    for g, p in zip(grads, model.parameters(), strict=True):
        torch.testing.assert_close(g, p.grad, rtol=1e-8, atol=1e-14)
    total = {n: sum(f[n] for f, _ in tasks) for n in tasks[0][0]}
    for n, f in ewc.fisher.items():
        torch.testing.assert_close(f, total[n], rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("gamma", [1.0, 0.5])
def test_online_ewc_folds_the_fisher(gamma: float) -> None:
    model = mlp()
    ewc = OnlineEWC(model, ewc_lambda=2.0, gamma=gamma)
    folded: dict[str, Tensor] = {}
    for t in range(3):
        x, y = data(30, seed=10 + t)
        perturb(model, seed=t)
        ewc.consolidate(loader(x, y), LOSS)
        new = reference_fisher(model, x, y)
        folded = {n: gamma * folded[n] + new[n] if folded else new[n] for n in new}
    anchor = snapshot(model)
    assert ewc.num_tasks == 3
    perturb(model, seed=9)
    want = formula(model, 2.0, [(folded, anchor)])
    assert ewc.penalty().item() == pytest.approx(want.item(), rel=1e-9)


@pytest.mark.parametrize("cls", [EWC, OnlineEWC])
def test_state_dict_round_trip_into_a_fresh_model(cls: type[EWC]) -> None:
    model = mlp(seed=0)
    ewc = cls(model, ewc_lambda=4.0)
    for t in range(2):
        x, y = data(30, seed=20 + t)
        perturb(model, seed=t)
        ewc.consolidate(loader(x, y), LOSS)
    perturb(model, seed=7)
    expected = ewc.penalty().item()

    buffer = io.BytesIO()
    torch.save(ewc.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)

    fresh = mlp(seed=42)  # another initialisation: the anchors come from the state
    restored = cls(fresh, ewc_lambda=0.5)
    restored.load_state_dict(state)
    assert restored.ewc_lambda == 4.0 and restored.num_tasks == 2
    assert restored.penalty().item() != pytest.approx(expected)
    fresh.load_state_dict(model.state_dict())
    assert restored.penalty().item() == pytest.approx(expected, rel=1e-12)
    for n, f in ewc.fisher.items():
        assert torch.equal(restored.fisher[n], f)
    # the state follows the model to another dtype
    fresh.float()
    restored.load_state_dict(restored.state_dict())
    assert restored.penalty().dtype == torch.float32
    assert restored.penalty().item() == pytest.approx(expected, rel=1e-5)


def test_state_dict_before_consolidation_and_torch_dataloader() -> None:
    model = mlp()
    empty = EWC(model, ewc_lambda=3.0).state_dict()
    ewc = EWC(model, ewc_lambda=1.0)
    ewc.load_state_dict(empty)
    assert ewc.ewc_lambda == 3.0 and ewc.num_tasks == 0
    x, y = data(20)
    dl = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=7)
    ewc.consolidate(dl, LOSS)  # batches come as [inputs, targets] lists
    ref = reference_fisher(model, x, y)
    for n, f in ewc.fisher.items():
        torch.testing.assert_close(f, ref[n], rtol=1e-6, atol=1e-12)


def test_load_state_dict_rejects_mismatches() -> None:
    model = mlp()
    ewc = EWC(model, ewc_lambda=1.0)
    ewc.consolidate(loader(*data(10)), LOSS)
    state = ewc.state_dict()
    with pytest.raises(ValueError, match="kind 'separate' cannot be loaded into OnlineEWC"):
        OnlineEWC(mlp(), ewc_lambda=1.0).load_state_dict(state)
    other = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3), nn.Linear(3, 2)).double()
    with pytest.raises(ValueError, match=r"extra \['3.bias', '3.weight'\]"):
        EWC(other, ewc_lambda=1.0).load_state_dict(state)
    wide = nn.Sequential(nn.Linear(6, 9), nn.Tanh(), nn.Linear(9, 3)).double()
    with pytest.raises(ValueError, match=r"fisher of '0\.weight' has shape"):
        EWC(wide, ewc_lambda=1.0).load_state_dict(state)
    with pytest.raises(ValueError, match="missing"):
        EWC(mlp(), ewc_lambda=1.0).load_state_dict({"kind": "separate"})


@pytest.mark.parametrize("cls", [EWC, OnlineEWC])
def test_add_penalty_grad_equals_the_penalty_backward(cls: type[EWC]) -> None:
    model, (x, y) = mlp(), data(30)
    ewc = cls(model, ewc_lambda=2.0)
    for t in range(2):
        perturb(model, seed=t)
        ewc.consolidate(loader(*data(30, seed=10 + t)), LOSS)
    perturb(model, seed=9)
    (LOSS(model(x), y) + ewc.penalty()).backward()
    want = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    LOSS(model(x), y).backward()
    ewc.add_penalty_grad_()
    for w, p in zip(want, model.parameters(), strict=True):
        torch.testing.assert_close(p.grad, w, rtol=1e-9, atol=1e-12)
    # a parameter without a gradient gets the penalty's; λ changes and new tasks are picked up
    model.zero_grad(set_to_none=True)
    ewc.ewc_lambda = 5.0
    ewc.consolidate(loader(*data(30, seed=20)), LOSS)
    perturb(model, seed=11)
    ewc.penalty().backward()
    want = [p.grad.clone() for p in model.parameters()]
    model.zero_grad(set_to_none=True)
    ewc.add_penalty_grad_()
    for w, p in zip(want, model.parameters(), strict=True):
        torch.testing.assert_close(p.grad, w, rtol=1e-9, atol=1e-12)


def test_add_penalty_grad_skips_parameters_frozen_since_consolidation() -> None:
    model, (x, y) = mlp(), data(30)
    ewc = EWC(model, ewc_lambda=2.0)
    ewc.consolidate(loader(x, y), LOSS)
    perturb(model, seed=3)
    model[0].requires_grad_(False)  # frozen for the next task: autograd gives it no gradient
    (LOSS(model(x), y) + ewc.penalty()).backward()
    want = {n: p.grad for n, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    LOSS(model(x), y).backward()
    ewc.add_penalty_grad_()
    for n, p in model.named_parameters():
        if want[n] is None:
            assert p.grad is None, n
        else:
            torch.testing.assert_close(p.grad, want[n], rtol=1e-9, atol=1e-12)
    model.requires_grad_(False)
    model.zero_grad(set_to_none=True)
    ewc.add_penalty_grad_()  # everything frozen: nothing to add
    assert all(p.grad is None for p in model.parameters())


def test_penalty_backward_twice_and_under_create_graph() -> None:
    """retain_graph=True backward twice doubles the gradient; under create_graph=True (a
    gradient-norm penalty on top) second derivatives equal the naive formula's."""
    from lossdoctor.train.backstitch import grad_norm_penalty

    model, (x, y) = mlp(), data(30)
    ewc = EWC(model, ewc_lambda=3.0)
    ewc.consolidate(loader(x, y), LOSS)
    tasks = [(ewc.fisher, snapshot(model))]
    perturb(model, seed=4)
    pen = ewc.penalty()
    pen.backward(retain_graph=True)
    pen.backward()
    twice = [p.grad.clone() for p in model.parameters()]
    model.zero_grad(set_to_none=True)
    formula(model, 3.0, tasks).backward()
    for t, p in zip(twice, model.parameters(), strict=True):
        torch.testing.assert_close(t, 2 * p.grad, rtol=1e-12, atol=1e-15)
    grads = []
    for penalty in (ewc.penalty, lambda: formula(model, 3.0, tasks)):
        model.zero_grad(set_to_none=True)
        loss = LOSS(model(x), y) + penalty()
        (loss + grad_norm_penalty(loss, model.parameters(), 0.1)).backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_add_penalty_grad_in_float32_trains_like_the_penalty() -> None:
    # float32: λA·θ − λA·m rounds differently from λA(θ − m); both paths train the same way
    torch.manual_seed(0)
    x, y = torch.randn(64, 20), torch.randint(0, 5, (64,))
    models = [nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 5)) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    ewcs = []
    for m in models:
        ewc = EWC(m, ewc_lambda=50.0)
        ewc.consolidate([(x, y)], LOSS)
        ewcs.append(ewc)
    x2, y2 = torch.randn(64, 20), torch.randint(0, 5, (64,))
    opts = [torch.optim.SGD(m.parameters(), lr=0.05) for m in models]
    for _ in range(50):
        for k, (m, ewc, opt) in enumerate(zip(models, ewcs, opts, strict=True)):
            opt.zero_grad()
            if k == 0:
                (LOSS(m(x2), y2) + ewc.penalty()).backward()
            else:
                LOSS(m(x2), y2).backward()
                ewc.add_penalty_grad_()
            opt.step()
    for a, b in zip(models[0].parameters(), models[1].parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    with torch.no_grad():
        assert ewcs[1].penalty().item() == pytest.approx(ewcs[0].penalty().item(), rel=1e-4)


# -- bad input -------------------------------------------------------------------------------------


def test_penalty_before_consolidate() -> None:
    with pytest.raises(RuntimeError, match=r"penalty\(\) needs a consolidated task"):
        EWC(mlp(), ewc_lambda=1.0).penalty()
    with pytest.raises(RuntimeError, match=r"add_penalty_grad_\(\) needs a consolidated task"):
        EWC(mlp(), ewc_lambda=1.0).add_penalty_grad_()


def test_parameters_added_removed_or_reshaped_after_consolidation() -> None:
    model = mlp()
    ewc = EWC(model, ewc_lambda=1.0)
    ewc.consolidate(loader(*data(10)), LOSS)
    model.append(nn.Linear(3, 2).double())
    with pytest.raises(RuntimeError, match=r"added \['3.bias', '3.weight'\], removed none"):
        ewc.penalty()
    del model[3]
    ewc.penalty()
    model[2] = nn.Identity()
    with pytest.raises(RuntimeError, match=r"added none, removed \['2.bias', '2.weight'\]"):
        ewc.penalty()
    model[2] = nn.Linear(8, 3).double()
    model[2].weight = nn.Parameter(torch.zeros(3, 4, dtype=torch.float64))
    with pytest.raises(RuntimeError, match=r"'2.weight' was reshaped .*\(3, 8\) -> \(3, 4\)"):
        ewc.penalty()
    with pytest.raises(RuntimeError, match="reshaped"):
        ewc.consolidate(loader(*data(10)), LOSS)


def test_model_moved_to_another_dtype_or_device() -> None:
    model = mlp()
    ewc = EWC(model, ewc_lambda=1.0)
    ewc.consolidate(loader(*data(10)), LOSS)
    model.float()
    with pytest.raises(
        RuntimeError,
        match=r"'0.weight' is on cpu/torch.float32 but the EWC "
        r"Fisher is on cpu/torch.float64",
    ):
        ewc.penalty()
    with pytest.raises(RuntimeError, match=r"is on cpu/torch\.float32"):
        ewc.add_penalty_grad_()
    model.double().to("meta")
    with pytest.raises(RuntimeError, match=r"is on meta/torch\.float64"):
        ewc.penalty()


def test_empty_dataloader() -> None:
    with pytest.raises(ValueError, match="empty dataloader"):
        EWC(mlp(), ewc_lambda=1.0).consolidate([], LOSS)
    empty = (torch.zeros(0, 6, dtype=torch.float64), torch.zeros(0, dtype=torch.long))
    with pytest.raises(ValueError, match="empty dataloader"):
        fisher_diagonal(mlp(), [empty], LOSS)


@pytest.mark.parametrize("max_samples", [0, -3])
def test_max_samples_must_be_positive(max_samples: int) -> None:
    with pytest.raises(ValueError, match="max_samples must be > 0"):
        EWC(mlp(), ewc_lambda=1.0).consolidate(loader(*data(10)), LOSS, max_samples=max_samples)


@pytest.mark.parametrize("lam", [-1.0, math.nan, math.inf])
def test_bad_lambda(lam: float) -> None:
    with pytest.raises(ValueError, match="ewc_lambda must be"):
        EWC(mlp(), ewc_lambda=lam)


@pytest.mark.parametrize("gamma", [0.0, -0.5, 1.5, math.nan])
def test_bad_gamma(gamma: float) -> None:
    with pytest.raises(ValueError, match="gamma must be"):
        OnlineEWC(mlp(), ewc_lambda=1.0, gamma=gamma)


def test_other_bad_arguments() -> None:
    with pytest.raises(TypeError, match="ewc_lambda must be a number, got str"):
        EWC(mlp(), ewc_lambda="1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"torch\.nn\.Module"):
        EWC("model", ewc_lambda=1.0)  # type: ignore[arg-type]
    ewc = EWC(mlp(), ewc_lambda=1.0)
    with pytest.raises(ValueError, match="fisher must be one of"):
        ewc.consolidate(loader(*data(10)), LOSS, fisher="exact")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"\(inputs, targets\) pair"):
        ewc.consolidate([{"x": torch.zeros(2, 6)}], LOSS)
    with pytest.raises(ValueError, match="loss_fn must return a scalar"):
        ewc.consolidate(loader(*data(10)), lambda out, y: out)
    with pytest.raises(ValueError, match="no parameter that requires grad"):
        EWC(nn.ReLU(), ewc_lambda=1.0).consolidate(loader(*data(10)), LOSS)
    assert ewc.num_tasks == 0


# -- torch.distributed -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SHARDS = [(0, 30), (30, 80)]  # uneven on purpose: the count must be all-reduced too


def _distributed_worker(rank: int, world: int, port: int, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world
    )
    try:
        model, (x, y) = mlp(), data(80)
        lo, hi = SHARDS[rank]
        ewc = EWC(model, ewc_lambda=1.0)
        ewc.consolidate(loader(x[lo:hi], y[lo:hi], batch=16), LOSS)
        torch.save(ewc.fisher, Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_fisher_is_all_reduced_across_ranks(tmp_path: Path) -> None:
    model, (x, y) = mlp(), data(80)
    single = fisher_diagonal(model, loader(x, y), LOSS)
    shard0 = fisher_diagonal(model, loader(x[:30], y[:30]), LOSS)
    # fork (as DataLoader workers do): the children inherit torch and torch.func already imported
    ctx = mp.get_context("fork")
    port = _free_port()
    procs = [
        ctx.Process(target=_distributed_worker, args=(rank, 2, port, str(tmp_path)))
        for rank in range(2)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0]
    for rank in range(2):
        got = torch.load(tmp_path / f"rank{rank}.pt", weights_only=True)
        for n in single:
            torch.testing.assert_close(got[n], single[n], rtol=1e-10, atol=1e-14)
            assert not torch.allclose(got[n], shard0[n])
