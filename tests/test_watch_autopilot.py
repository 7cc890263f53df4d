"""The autopilot on a real (tiny) PyTorch model and optimizer: stop and restore the best weights,
lower the LR, roll back a divergence, skip spikes, dry runs, state."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from test_watch import noisy_loss, overfitting_curves
from torch import nn

from lossdoctor.findings import Finding, Point
from lossdoctor.watch import Policy, Watch
from lossdoctor.watch.autopilot import Autopilot
from lossdoctor.watch.target import Snapshots, TorchTarget

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny() -> tuple[nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
    return model, torch.optim.Adam(model.parameters(), lr=0.01)


def mark(model: nn.Module, value: float) -> None:
    """Set every weight to `value`, so a restored state says where it came from."""
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(value)


def marker(model: nn.Module) -> float:
    return float(next(model.parameters()).detach().flatten()[0])


def train_step(model: nn.Module, opt: torch.optim.Optimizer) -> None:
    x = torch.randn(16, 4)
    loss = model(x).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()


@pytest.mark.parametrize("in_file", [False, True])
def test_overfitting_stops_and_restores_the_best_weights(tmp_path, in_file: bool) -> None:
    model, opt = tiny()
    path = str(tmp_path / "best.pt") if in_file else None
    w = Watch(model, opt, autopilot=Policy(checkpoint_path=path))
    train, val = overfitting_curves()
    stopped_at = None
    for i, v in enumerate(train):
        mark(model, float(i))  # the weights say which step they are from
        w.log(i, train_loss=float(v))
        if i % 20 == 19:
            w.log_eval(i, val_loss=float(val[i // 20]))
        if w.should_stop:
            stopped_at = i
            break
    assert stopped_at is not None and stopped_at < len(train) - 1
    best_eval = int(np.argmin(val[: stopped_at // 20 + 1]))
    assert marker(model) == 20 * best_eval + 19  # the weights of the best evaluation
    names = [a.name for a in w.actions]
    assert names == ["stop", "restore_best"] and all(a.applied for a in w.actions)
    assert w.actions[0].kind == "overfitting" and w.stop_reason.startswith("overfitting:")
    assert (tmp_path / "best.pt").exists() == in_file


def plateau(kind: str, metric: str = "val_loss", form: str = "validation_stalled",
            at: float = 0.0) -> Finding:
    return Finding(kind, metric, "warning", Point(at, None, 0), Point(at, None, 0),
                   evidence={"form": form})


def test_lower_lr_respects_min_lr_cooldown_and_the_scheduler() -> None:
    model, opt = tiny()
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    ap = Autopilot(Policy(lr_factor=0.5, min_lr=0.003, cooldown=100),
                   TorchTarget(model, opt, sched))
    ap.apply(ap.plan([plateau("plateau")], 10.0), 10.0, None)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.005)
    opt.step()
    sched.step()  # the schedule keeps the lowered LR
    assert opt.param_groups[0]["lr"] == pytest.approx(0.005)
    assert ap.plan([plateau("oscillation")], 50.0).empty  # cooldown
    ap.apply(ap.plan([plateau("oscillation")], 200.0), 200.0, None)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.003)  # floored at min_lr
    ap.apply(ap.plan([plateau("plateau")], 400.0), 400.0, None)
    last = ap.actions[-1]
    assert not last.applied and "min_lr" in last.reason
    # a frozen or never-moving curve is not helped by a smaller LR
    assert ap.plan([plateau("plateau", form="frozen")], 900.0).empty
    assert ap.plan([plateau("plateau", form="no_progress")], 900.0).empty


def test_rollback_restores_model_and_optimizer_then_stops_after_max_retries() -> None:
    model, opt = tiny()
    w = Watch(model, opt, autopilot=Policy(snapshot_every=10, max_retries=2,
                                           rollback_lr_factor=0.5))
    losses = noisy_loss(400, tau=100)
    step = 0
    rollbacks = []
    for _ in range(3):  # three NaN bursts
        for _ in range(120):
            train_step(model, opt)
            w.log(step, train_loss=float(losses[step % 400]))
            step += 1
        snap_step = max(s for s in w._autopilot.snapshots.steps())  # type: ignore[union-attr]
        mark(model, math.nan)  # a broken update
        w.log(step, train_loss=math.nan)
        rollbacks.append((step, snap_step))
        step += 1
        if w.should_stop:
            break
        assert all(torch.isfinite(v).all() for v in model.state_dict().values())
    acts = [(a.name, a.applied) for a in w.actions]
    assert acts == [("rollback", True), ("lower_lr", True), ("rollback", True),
                    ("lower_lr", True), ("rollback", True), ("stop", True),
                    ("restore_best", False)]
    assert w.should_stop and "still unstable after 2 rollback(s)" in (w.stop_reason or "")
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0025)
    # the last rollback went to the newest snapshot, taken before the NaN
    assert w.actions[4].params["to_step"] == rollbacks[-1][1] < rollbacks[-1][0]
    assert all(torch.isfinite(v).all() for v in model.state_dict().values())
    # the abandoned points are gone from the run and the diagnosis says so
    d = w.diagnosis()
    assert any("rolled back" in n for n in d.notes)


def test_rollback_restores_the_exact_state() -> None:
    model, opt = tiny()
    target = TorchTarget(model, opt)
    for _ in range(3):
        train_step(model, opt)
    snap = target.snapshot()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    state = opt.state[next(model.parameters())]["exp_avg"].clone()
    for _ in range(3):
        train_step(model, opt)
    target.restore(snap)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert torch.equal(opt.state[next(model.parameters())]["exp_avg"], state)
    train_step(model, opt)  # the snapshot is not aliased by the optimizer
    target.restore(snap)
    assert torch.equal(opt.state[next(model.parameters())]["exp_avg"], state)
    mark(model, math.inf)
    assert target.snapshot() is None  # never a non-finite snapshot


def test_snapshots_thin_geometrically() -> None:
    s = Snapshots(keep=4)
    s.initial = "start"
    for step in range(0, 2000, 100):
        s.add(float(step), step)
    steps = s.steps()
    assert steps[0] == -math.inf and steps[-1] == 1900.0 and len(steps) == 5
    gaps = np.diff(steps[1:])
    assert gaps[0] > gaps[-1]  # older snapshots are further apart
    assert s.before(1900.0) == steps[-2] and s.before(-5.0) == -math.inf
    s.drop_after(1000.0)
    assert max(s.steps()) <= 1000.0


def test_dry_run_changes_nothing_and_logs_everything() -> None:
    model, opt = tiny()
    w = Watch(model, opt, autopilot=Policy(dry_run=True, snapshot_every=5,
                                           actions={"spike": "skip"}))
    losses = noisy_loss(100)
    for i, v in enumerate(losses):
        train_step(model, opt)
        w.log(i, train_loss=float(v))
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    assert not w.should_skip(50.0)  # a spike, but a dry run
    w.log(100, train_loss=math.nan)
    assert not w.should_stop and opt.param_groups[0]["lr"] == 0.01
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())
    assert [(a.name, a.applied) for a in w.actions] == [("skip", False), ("rollback", False),
                                                       ("lower_lr", False)]


def test_should_skip_spikes_and_non_finite_losses_but_not_forever() -> None:
    model, opt = tiny()
    w = Watch(model, opt, autopilot=Policy(actions={"spike": "skip"}))
    assert not Watch(model, opt, autopilot=True).should_skip(math.nan)  # not asked for
    for i, v in enumerate(noisy_loss(100)):
        assert not w.should_skip(float(v))
        w.log(i, train_loss=float(v))
    assert w.should_skip(torch.tensor(math.nan))
    # never more than 3 in a row (the NaN was the first)
    assert [w.should_skip(40.0) for _ in range(4)] == [True, True, False, True]
    assert sum(a.name == "skip" for a in w.actions) == 4
    assert not w.should_skip(0.45)
    # logged at the last step logged, or at the batch's own step when given
    assert [a.step for a in w.actions if a.name == "skip"] == [99.0] * 4
    assert w.should_skip(math.inf, step=100) and w.actions[-1].step == 100.0


def test_without_a_model_the_autopilot_can_only_stop() -> None:
    w = Watch(autopilot=True)
    for i, v in enumerate(noisy_loss(60)):
        w.log(i, train_loss=float(v))
    w.log(60, train_loss=math.nan)
    assert [(a.name, a.applied) for a in w.actions] == [("rollback", False)]
    assert "no known-good state" in w.actions[0].reason


def test_state_dict_keeps_the_best_weights_counters_and_action_log(tmp_path) -> None:
    model, opt = tiny()
    w = Watch(model, opt, autopilot=True)
    for i in range(30):
        mark(model, float(i))
        w.log(i, train_loss=1.0 / (i + 1))
        w.log_eval(i, val_loss=abs(i - 12) + 1.0)
        if i == 14:  # a NaN before the overfitting stop (step 19): one rollback
            w.log(14.5, train_loss=math.nan)
    assert [a.name for a in w.actions] == ["rollback", "lower_lr", "stop", "restore_best"]
    path = tmp_path / "watch.pt"
    torch.save(w.state_dict(), path)
    model2, opt2 = tiny()
    w2 = Watch(model2, opt2, autopilot=True)
    w2.load_state_dict(torch.load(path, weights_only=True))
    assert [a.to_dict() for a in w2.actions] == [a.to_dict() for a in w.actions]
    assert w2._autopilot.retries == w._autopilot.retries == 1  # type: ignore[union-attr]
    assert w2.restore_best() and marker(model2) == 12.0
    assert len(w2.events) == len(w.events)


def test_a_rollback_keeps_the_schedule() -> None:
    # a warmup raised the LR since the snapshot: restoring the weights must not rewind the LR,
    # nor make the autopilot's set_lrs rescale the scheduler's base LRs by the warmup's growth
    model, opt = tiny()
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: min(1.0, (e + 1) / 10))
    target = TorchTarget(model, opt, sched)
    snap = target.snapshot()
    for _ in range(5):
        train_step(model, opt)
        sched.step()
    base, lrs = list(sched.base_lrs), target.lrs()
    target.restore(snap)
    assert target.lrs() == lrs
    target.set_lrs(lrs)  # what Autopilot.apply does after a rollback
    assert sched.base_lrs == base
    sched.step()
    assert target.lrs() == [b * 0.7 for b in base]


def test_a_rollback_to_the_resume_point_keeps_the_history_before_it() -> None:
    """A resumed watcher's first known-good state is the state it resumed at: rolling back to
    it cuts the points logged after the resume, not the whole history (it cut everything), and
    the run goes on exactly as one that never stopped."""
    import copy

    def loss(i: int) -> float:
        return math.nan if 2001 <= i < 2004 else 1.0 / (1 + i / 100) + 0.01 * math.sin(i)

    def run(resume_at: int | None) -> tuple[list, list, int]:
        model, opt = tiny()
        w = Watch(model, opt, autopilot=True)
        for i in range(2400):
            if i == resume_at:
                state = copy.deepcopy(w.state_dict())
                w = Watch(model, opt, autopilot=True)
                w.load_state_dict(state)
            w.log(i, train_loss=loss(i))
            if i % 100 == 99:
                w.log_eval(i, val_loss=1.2 / (1 + i / 100))
        actions = [(a.step, a.name, a.params.get("to_step")) for a in w.actions]
        return actions, w.diagnosis().notes, w.history.points("train_loss")

    straight, resumed = run(None), run(2000)
    assert resumed == straight
    actions, notes, points = resumed
    assert actions[0] == (2001.0, "rollback", 1999.0)
    assert points > 2000 and "rolled back to its state at step 1999" in str(notes[0])


def test_no_more_actions_once_stopping() -> None:
    """Training may run a few batches after `should_stop`; the autopilot acts no more then
    (it rolled back, stopped and restored again at every later NaN)."""
    model, opt = tiny()
    w = Watch(model, opt, autopilot=Policy(max_retries=1))
    i = 0
    for i in range(300):
        w.log(i, train_loss=math.nan if i >= 200 else 1.0 / (1 + i))
        if w.should_stop:
            break
    assert w.should_stop
    n_actions, n_events = len(w.actions), len(w.events)
    for j in range(i + 1, i + 200):
        w.log(j, train_loss=math.nan)
    assert len(w.actions) == n_actions
    assert len(w.events) >= n_events  # still reported
