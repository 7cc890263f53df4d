import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lossdoctor.train import BinaryFocalLoss, FocalLoss, binary_focal_loss_with_logits, focal_loss


def _naive_multiclass(logits, target, alpha, gamma):
    """FL = −α_t (1 − p_t)^γ log p_t, straight from the paper, float64, mean over samples."""
    p = torch.softmax(logits.double(), dim=1)
    pt = p[torch.arange(len(target)), target]
    a = torch.ones(len(target), dtype=torch.float64) if alpha is None else alpha.double()[target]
    return -a * (1 - pt) ** gamma * torch.log(pt), a


def _naive_binary(logits, target, alpha, gamma):
    p = torch.sigmoid(logits.double())
    t = target.double()
    a_pos, a_neg = (1.0, 1.0) if alpha is None else (alpha, 1 - alpha)
    return -(a_pos * t * (1 - p) ** gamma * torch.log(p)
             + a_neg * (1 - t) * p ** gamma * torch.log(1 - p))


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
def test_multiclass_matches_published_formula(gamma: float) -> None:
    torch.manual_seed(0)
    logits = 3 * torch.randn(32, 5, dtype=torch.float64)
    target = torch.randint(0, 5, (32,))
    alpha = torch.tensor([0.1, 0.2, 0.3, 1.0, 2.0], dtype=torch.float64)
    per, a = _naive_multiclass(logits, target, alpha, gamma)
    got = focal_loss(logits, target, alpha=alpha, gamma=gamma, reduction="none")
    assert torch.allclose(got, per, rtol=1e-10, atol=1e-12)
    assert torch.allclose(focal_loss(logits, target, alpha=alpha, gamma=gamma, reduction="sum"),
                          per.sum())
    # 'mean' is torch's weighted mean, as in cross_entropy(weight=...)
    assert torch.allclose(focal_loss(logits, target, alpha=alpha, gamma=gamma), per.sum() / a.sum())


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("alpha", [None, 0.25, 0.9])
def test_binary_matches_published_formula(gamma: float, alpha: float | None) -> None:
    torch.manual_seed(1)
    logits = 3 * torch.randn(4, 7, dtype=torch.float64)
    target = (torch.rand(4, 7) > 0.6).double()
    expect = _naive_binary(logits, target, alpha, gamma)
    got = binary_focal_loss_with_logits(logits, target, alpha=alpha, gamma=gamma,
                                        reduction="none")
    assert torch.allclose(got, expect, rtol=1e-10, atol=1e-12)
    assert torch.allclose(BinaryFocalLoss(alpha=alpha, gamma=gamma)(logits, target),
                          expect.mean())


def test_gamma_zero_is_torch_cross_entropy() -> None:
    torch.manual_seed(2)
    logits = torch.randn(6, 4, 3, 3)  # K-dimensional, like a segmentation map
    target = torch.randint(0, 4, (6, 3, 3))
    target[0, 0, 0] = -100
    weight = torch.tensor([0.5, 1.0, 2.0, 4.0])
    for reduction in ("none", "mean", "sum"):
        ours = focal_loss(logits, target, alpha=weight, gamma=0.0, reduction=reduction)
        ref = F.cross_entropy(logits, target, weight=weight, reduction=reduction)
        assert torch.equal(ours, ref), reduction
    target[0, 0, 0] = 1
    ours = FocalLoss(gamma=0.0, ignore_index=2)(logits, target)
    assert torch.equal(ours, F.cross_entropy(logits, target, ignore_index=2))


def test_gamma_zero_is_torch_bce_with_logits() -> None:
    torch.manual_seed(3)
    logits = torch.randn(50, dtype=torch.float64)
    target = torch.rand(50, dtype=torch.float64)  # soft targets too
    ref = F.binary_cross_entropy_with_logits(logits, target)
    ours = binary_focal_loss_with_logits(logits, target, alpha=None, gamma=0.0)
    assert torch.allclose(ours, ref, rtol=1e-12)
    # alpha a at γ=0 is BCE with pos_weight a/(1−a), scaled by (1−a)
    a = 0.8
    ref = (1 - a) * F.binary_cross_entropy_with_logits(
        logits, target, pos_weight=torch.tensor(a / (1 - a), dtype=torch.float64))
    ours = binary_focal_loss_with_logits(logits, target, alpha=a, gamma=0.0)
    assert torch.allclose(ours, ref, rtol=1e-12)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_finite_on_extreme_logits(gamma: float) -> None:
    logits = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], requires_grad=True)
    target = torch.tensor([1, 0])
    loss = focal_loss(logits, target, gamma=gamma)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
    assert loss.item() > 1e3  # both samples are confidently wrong
    x = torch.tensor([1e4, -1e4, 1e4, -1e4], requires_grad=True)
    t = torch.tensor([1.0, 0.0, 0.0, 1.0])
    bl = binary_focal_loss_with_logits(x, t, gamma=gamma, reduction="none")
    bl.sum().backward()
    assert torch.isfinite(bl).all() and torch.isfinite(x.grad).all()
    assert bl[0].item() == 0 and bl[1].item() == 0 and bl[2].item() > 1e3


def test_gradcheck_float64() -> None:
    torch.manual_seed(4)
    logits = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    target = torch.randint(0, 4, (5,))
    alpha = torch.tensor([1.0, 0.5, 2.0, 1.5], dtype=torch.float64)
    for gamma in (0.0, 0.7, 2.0):
        assert torch.autograd.gradcheck(
            lambda z, g=gamma: focal_loss(z, target, alpha=alpha, gamma=g), (logits,))
        x = torch.randn(8, dtype=torch.float64, requires_grad=True)
        t = torch.rand(8, dtype=torch.float64)
        assert torch.autograd.gradcheck(
            lambda z, g=gamma, t=t: binary_focal_loss_with_logits(z, t, gamma=g), (x,))


def test_module_moves_alpha_and_bad_input() -> None:
    m = FocalLoss(alpha=[1.0, 2.0, 3.0], gamma=1.0).double()
    assert m.alpha is not None and m.alpha.dtype == torch.float64
    logits, target = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    with pytest.raises(ValueError, match=r"one weight per class, shape \(3,\), got shape \(2,\)"):
        focal_loss(logits, target, alpha=[1.0, 2.0])
    with pytest.raises(ValueError, match="1-D tensor"):
        FocalLoss(alpha=[[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="alpha must be finite and >= 0"):
        focal_loss(logits, target, alpha=[1.0, -2.0, 1.0])
    with pytest.raises(ValueError, match="reduction must be one of"):
        focal_loss(logits, target, reduction="avg")
    with pytest.raises(ValueError, match="gamma must be finite and >= 0"):
        FocalLoss(gamma=-1.0)
    with pytest.raises(ValueError, match="class indices"):
        focal_loss(logits, target.float())
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\]"):
        BinaryFocalLoss(alpha=1.5)
    with pytest.raises(ValueError, match="differs from logits shape"):
        binary_focal_loss_with_logits(torch.randn(3), torch.ones(4))
    with pytest.raises(ValueError, match="alpha must be finite and >= 0"):
        FocalLoss(alpha=[-1.0, 1.0, 1.0])  # at construction, not at the first forward


def test_scalars_targets_and_types() -> None:
    logits = torch.randn(4, 3)
    target = torch.tensor([0, 1, 2, 0])
    ref = focal_loss(logits, target, gamma=2.0)
    # NumPy scalars are numbers; int32 (or uint8) class indices are indices
    assert torch.equal(focal_loss(logits, target.int(), gamma=np.float32(2.0)), ref)
    assert torch.equal(focal_loss(logits, target.to(torch.uint8)), ref)
    x, t = torch.randn(4, 3), torch.rand(4, 3)
    ref_b = binary_focal_loss_with_logits(x, t, alpha=0.25)
    assert torch.equal(BinaryFocalLoss(alpha=np.float64(0.25))(x, t), ref_b)
    for bad in (True, torch.tensor(2.0), "2"):
        with pytest.raises(TypeError, match="gamma must be a real number"):
            focal_loss(logits, target, gamma=bad)
    with pytest.raises(ValueError, match="class indices"):
        focal_loss(logits, target.bool())
    for bad_t in (torch.full((4, 3), 2.0), torch.full((4, 3), -1.0),
                  torch.full((4, 3), float("nan"))):
        with pytest.raises(ValueError, match=r"target values must be in \[0, 1\]"):
            binary_focal_loss_with_logits(x, bad_t)
