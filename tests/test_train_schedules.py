import itertools
import math
import pickle

import pytest
import torch

from lossdoctor.train import scale_lr, warmup_cosine, warmup_linear


def _opt(lrs=(0.1, 0.01)) -> torch.optim.Optimizer:
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in lrs]
    return torch.optim.SGD(groups)


def _trace(make, steps: int, **kw) -> list[list[float]]:
    opt = _opt()
    sched = make(opt, **kw)
    out = []
    for _ in range(steps):
        out.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    return out


def test_warmup_cosine_shape() -> None:
    lrs = _trace(warmup_cosine, 14, warmup_steps=4, total_steps=12, final_lr_ratio=0.1)
    first = [lr[0] for lr in lrs]
    assert first[:4] == pytest.approx([0.025, 0.05, 0.075, 0.1])
    mid = 4 + 4  # halfway through the decay
    assert first[mid] == pytest.approx(0.01 + 0.09 * 0.5)
    assert first[12] == pytest.approx(0.01) and first[13] == pytest.approx(0.01)
    assert all(a >= b for a, b in itertools.pairwise(first[3:]))
    assert [lr[1] for lr in lrs] == pytest.approx([x / 10 for x in first])  # per-group base lr


def test_warmup_linear_shape_and_no_warmup() -> None:
    lrs = [lr[0] for lr in _trace(warmup_linear, 11, warmup_steps=0, total_steps=10)]
    assert lrs == pytest.approx([0.1 * (1 - i / 10) for i in range(11)])


def test_state_dict_round_trip_and_pickle() -> None:
    opt = _opt()
    sched = warmup_cosine(opt, warmup_steps=3, total_steps=20)
    for _ in range(7):
        opt.step()
        sched.step()
    sd = sched.state_dict()
    opt2 = _opt()
    opt2.load_state_dict(opt.state_dict())
    other = warmup_cosine(opt2, warmup_steps=10, total_steps=100)  # different schedule
    other.load_state_dict(sd)
    for _ in range(5):
        opt.step()
        sched.step()
        opt2.step()
        other.step()
        assert other.get_last_lr() == pytest.approx(sched.get_last_lr())
    restored = pickle.loads(pickle.dumps(sched))
    assert restored.lr_lambdas[0](5) == sched.lr_lambdas[0](5)


def test_bad_schedule_arguments() -> None:
    with pytest.raises(ValueError, match=r"total_steps \(5\) must be larger than warmup_steps"):
        warmup_cosine(_opt(), warmup_steps=5, total_steps=5)
    with pytest.raises(ValueError, match="warmup_steps must be >= 0"):
        warmup_linear(_opt(), warmup_steps=-1, total_steps=5)
    with pytest.raises(TypeError, match="total_steps must be an int"):
        warmup_cosine(_opt(), warmup_steps=1, total_steps=5.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"final_lr_ratio must be in \[0, 1\]"):
        warmup_cosine(_opt(), warmup_steps=1, total_steps=5, final_lr_ratio=2)


def test_scale_lr() -> None:
    assert scale_lr(0.1, 256, 1024) == pytest.approx(0.4)
    assert scale_lr(1e-3, 64, 256, rule="sqrt") == pytest.approx(2e-3)
    assert scale_lr(0.1, 256, 64) == pytest.approx(0.025)
    with pytest.raises(ValueError, match="rule must be"):
        scale_lr(0.1, 256, 512, rule="log")
    with pytest.raises(ValueError, match="batch must be a positive int"):
        scale_lr(0.1, 256, 0)
    with pytest.raises(ValueError, match="base_lr must be finite and > 0"):
        scale_lr(math.nan, 256, 512)
