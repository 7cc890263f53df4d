"""The live watcher without a model: recording, online checks, the full-diagnosis schedule,
episodes, failures and state (no torch needed)."""

from __future__ import annotations

import itertools
import json
import math
import warnings

import numpy as np
import pytest

import lossdoctor.watch.core as core
from lossdoctor.findings import Finding, Point
from lossdoctor.watch import Policy, Watch
from lossdoctor.watch.episodes import Episodes
from lossdoctor.watch.online import EXPLODE_POINTS, OnlineLoss


def noisy_loss(n: int, *, seed: int = 0, tau: float = 300.0, noise: float = 0.1) -> np.ndarray:
    """A minibatch-like training loss: exponential decay to 0.3 with multiplicative noise."""
    rng = np.random.default_rng(seed)
    x = np.arange(n)
    return (2.0 * np.exp(-x / tau) + 0.3) * np.exp(noise * rng.standard_normal(n))


def feed(w: Watch, losses: np.ndarray, *, start: int = 0, every: int = 0,
         val: np.ndarray | None = None) -> None:
    for i, v in enumerate(losses):
        step = start + i
        w.log(step, train_loss=float(v), lr=0.1)
        if every and step % every == every - 1:
            k = step // every
            w.log_eval(step, val_loss=float(val[k]) if val is not None else 1.1 * float(v))


# -- arguments ---------------------------------------------------------------------------------
def test_arguments_are_validated_early() -> None:
    with pytest.raises(ValueError, match="growth"):
        Watch(growth=0)
    with pytest.raises(ValueError, match="min_points"):
        Watch(min_points=0)
    with pytest.raises(ValueError, match="confirm"):
        Watch(confirm=0)
    with pytest.raises(TypeError, match="on_event"):
        Watch(on_event=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="autopilot"):
        Watch(autopilot="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs its model"):
        Watch(optimizer=object())
    w = Watch()
    with pytest.raises(ValueError, match="step must be finite"):
        w.log(math.nan, train_loss=1.0)
    with pytest.raises(TypeError, match="train_loss must be a number"):
        w.log(0, train_loss="1.0")
    with pytest.raises(TypeError, match="train_loss must be a number"):
        w.log(0, train_loss=np.ones(3))
    with pytest.raises(TypeError, match="step must be a number"):
        w.log(True, train_loss=1.0)
    with pytest.raises(ValueError, match="epoch must be finite"):
        w.log(0, train_loss=1.0, epoch=math.inf)
    assert w.history.points("train_loss") == 0  # nothing half-recorded


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        Policy(actions={"overfit": "stop"})
    with pytest.raises(ValueError, match="unknown action"):
        Policy(actions={"overfitting": "halt"})
    with pytest.raises(ValueError, match="spikes only"):
        Policy(actions={"divergence": "skip"})
    with pytest.raises(ValueError, match="lr_factor"):
        Policy(lr_factor=1.5)
    with pytest.raises(ValueError, match="min_lr"):
        Policy(min_lr=-1)
    with pytest.raises(ValueError, match="checkpoint_path is only used"):
        Policy(restore_best=False, checkpoint_path="x.pt")
    p = Policy(actions={"plateau": None, "spike": "skip"})
    assert p.action("plateau") == "report" and p.action("spike") == "skip"
    assert p.action("overfitting") == "stop" and p.action("divergence") == "rollback"
    assert Policy(**json.loads(json.dumps(p.to_dict()))) == p


# -- recording ---------------------------------------------------------------------------------
def test_run_has_canonical_names_axes_and_evaluation_prefixes() -> None:
    w = Watch(name="exp")
    w.log(0, train_loss=2.0, lr=0.1, grad_norm=np.float32(3.0), epoch=0.5, acc=0.2)
    w.log_eval(0, val_loss=2.5, accuracy=0.3, eval_f1=0.1)
    w.log(1, loss=1.5, epoch=1.0)  # a second training-loss name keeps its own series
    run = w.run()
    assert run.name == "exp" and run.format == "live"
    assert set(run.series) >= {"train_loss", "lr", "grad_norm", "train_acc", "val_loss",
                               "val_acc", "eval_f1"}
    assert list(run["val_acc"].values) == [0.3]
    assert list(run["val_loss"].epochs) == [0.5]  # an evaluation takes the last epoch
    assert list(run["train_loss"].steps) == [0.0] and run["grad_norm"].values[0] == 3.0


def test_tensors_and_numpy_scalars_are_accepted() -> None:
    torch = pytest.importorskip("torch")
    w = Watch()
    w.log(np.int64(3), train_loss=torch.tensor(0.5), lr=np.float64(0.1))
    assert w.run()["train_loss"].steps[0] == 3.0 and w.run()["train_loss"].values[0] == 0.5
    # one-element arrays (NumPy 2's float() refuses them) and a loss still attached to its
    # graph, read without autograd's "requires_grad" warning
    attached = torch.tensor([0.25], requires_grad=True) * 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w.log(4, train_loss=np.array([0.5]), lr=np.array([[0.1]]))
        w.log(5, train_loss=attached)
        assert not w.should_skip(attached)
    assert list(w.run()["train_loss"].values) == [0.5, 0.5, 0.5]
    with pytest.raises(ValueError, match="step is too large for a float"):
        w.log(10**400, train_loss=1.0)


# -- online checks -----------------------------------------------------------------------------
def test_non_finite_is_reported_at_once_and_once_per_burst() -> None:
    events: list[Finding] = []
    w = Watch(on_event=events.append)
    feed(w, noisy_loss(50))
    for step in (50, 51, 52):
        w.log(step, train_loss=math.nan, grad_norm=math.inf)
    nf = [f for f in events if f.kind == "non_finite"]
    assert {f.metric for f in nf} == {"train_loss", "grad_norm"}
    assert all(f.detected_at is not None and f.detected_at.step == 50 for f in nf)
    assert nf[0].severity == "error" and nf[0].evidence["online"] is True
    assert nf[0].remedies and nf[0].remedies[0].name == "find_the_first_nan"
    feed(w, noisy_loss(40, seed=1), start=53)  # recovered for a while: a new burst is new
    w.log(93, train_loss=math.inf)
    assert [f.start.step for f in events if f.kind == "non_finite" and
            f.metric == "train_loss"] == [50, 93]


def test_spike_reported_when_it_recovers_and_no_false_alarm_on_noise() -> None:
    def spikes(losses: np.ndarray) -> list[Finding]:
        events: list[Finding] = []
        feed(Watch(on_event=events.append, growth=10, eval_growth=10, min_points=10**9),
             losses)
        return [f for f in events if f.kind == "spike"]

    losses = noisy_loss(4000, noise=0.15)
    assert spikes(losses) == []  # 4,000 noisy steps: no alarm
    one = losses.copy()
    one[3990] *= 8  # one bad minibatch: noise, as the spike rule says for per-step curves
    assert spikes(one) == []
    two = losses.copy()
    two[3990:3992] *= 8  # it lasts: an event
    (f,) = spikes(two)
    assert f.start.step == 3990 and f.end.step == 3991
    assert f.detected_at is not None and f.detected_at.step == 3992
    assert f.evidence["largest"]["times_baseline"] > 5
    extreme = losses.copy()
    extreme[3990] *= 30  # or it is extreme
    assert [g.start.step for g in spikes(extreme)] == [3990]


def test_explosion_is_a_divergence_within_a_few_steps() -> None:
    events: list[Finding] = []
    w = Watch(on_event=events.append)
    losses = noisy_loss(600)
    losses[500:] = np.geomspace(3, 3e4, 100)  # above 5x the first level from step ~505
    feed(w, losses)
    div = [f for f in events if f.kind == "divergence"]
    assert div, [f.kind for f in events]
    f = div[0]
    onset = int(np.argmax(losses >= 5 * np.median(losses[:8])))
    assert f.evidence["online"] and f.evidence["onset_step"] == onset
    assert f.detected_at is not None and f.detected_at.step == onset + EXPLODE_POINTS - 1
    assert f.start.step is not None and f.start.step < 500 and f.severity == "error"


def test_online_loss_state_round_trip() -> None:
    a, b = OnlineLoss(), OnlineLoss()
    vals = noisy_loss(300)
    for i, v in enumerate(vals[:200]):
        a.update(float(v), i)
    b.load_state_dict(json.loads(json.dumps(a.state_dict())))
    for i, v in enumerate(vals[200:], start=200):
        assert a.update(float(v), i) == b.update(float(v), i)
    assert a.state_dict() == b.state_dict()


# -- the full diagnosis ------------------------------------------------------------------------
def test_full_diagnoses_are_geometric(monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []
    real = core.diagnose_run

    def counting(run, **kw):  # type: ignore[no-untyped-def]
        sizes.append(len(run["train_loss"]))
        return real(run, **kw)

    monkeypatch.setattr(core, "diagnose_run", counting)
    n = 20000
    w = Watch(growth=0.25, min_points=100)
    feed(w, noisy_loss(n, tau=3000))
    # each diagnosis at least 25% (and 100 points) after the previous one
    assert all(b >= max(a + 100, 1.25 * a) for a, b in itertools.pairwise(sizes))
    # so their total size, the work, is O(n): at most (1 + g) / g = 5 runs of n, plus the start
    assert sum(sizes) <= 5 * n + 100 * 10
    assert len(sizes) < 30


def test_every_early_evaluation_is_diagnosed(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = core.diagnose_run
    monkeypatch.setattr(core, "diagnose_run",
                        lambda run, **kw: (calls.append(len(run["val_loss"])), real(run, **kw))[1])
    w = Watch(eval_growth=0.05, min_points=10**6)
    feed(w, noisy_loss(50 * 40), every=50)
    evals = sorted(set(calls))
    assert evals[:20] == list(range(1, 21))  # every evaluation up to the 20th
    assert all(b - a <= max(1, 0.05 * a) + 1 for a, b in itertools.pairwise(evals))


def overfitting_curves(n_epochs: int = 60, steps: int = 20, best: int = 25,
                       seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    train = noisy_loss(n_epochs * steps, tau=n_epochs * steps / 4, seed=seed)
    e = np.arange(n_epochs)
    val = 0.5 + 0.6 * np.exp(-e / 6) + 0.004 * np.maximum(0, e - best) ** 1.3
    return train, val * (1 + 0.01 * rng.standard_normal(n_epochs))


def test_overfitting_is_reported_once_with_its_detection_step() -> None:
    train, val = overfitting_curves()
    events: list[Finding] = []
    w = Watch(on_event=events.append)
    feed(w, train, every=20, val=val)
    over = [f for f in events if f.kind == "overfitting"]
    assert len(over) == 1
    f = over[0]
    assert f.detected_at is not None and f.start.step is not None
    assert f.detected_at.step > f.start.step  # detected after its onset, with the delay known
    d = w.diagnosis()
    again = next(g for g in d.findings if g.kind == "overfitting")
    assert again.detected_at == f.detected_at
    assert d is w.diagnosis()  # cached until the next point
    assert "underfitting" not in {f.kind for f in events}  # an end-of-run judgement


def test_confirmation_hides_a_finding_seen_only_once() -> None:
    ep = Episodes(confirm=2)
    p = Point(0.0, None, 0)

    def f(kind: str, start: float, end: float) -> Finding:
        return Finding(kind, "train_loss", "warning", Point(start, None, 0), Point(end, None, 0))

    assert ep.full([f("oscillation", 60, 99)], Point(99.0, None, 99)) == []
    assert ep.full([], Point(199.0, None, 199)) == []  # gone: never reported
    assert ep.full([f("oscillation", 300, 399)], Point(399.0, None, 399)) == []
    # the same diagnosis place again confirms nothing
    assert ep.full([f("oscillation", 300, 399)], Point(399.0, None, 399)) == []
    new = ep.full([f("oscillation", 350, 499)], Point(499.0, None, 499))
    assert [g.kind for g in new] == ["oscillation"]
    # it goes on (its span moves with the run): the same episode
    assert ep.full([f("oscillation", 450, 699)], Point(699.0, None, 699)) == []
    # an intervention at 700 closes it: new again only over data after it
    ep.close(700.0, ["oscillation"])
    assert ep.full([f("oscillation", 500, 799)], Point(799.0, None, 799)) == []
    assert [g.kind for g in ep.full([f("oscillation", 720, 999)], p)] == ["oscillation"]
    # online findings: new when they start after the last one ended
    assert ep.online(f("spike", 10, 11), p) and not ep.online(f("spike", 11, 11), p)
    assert ep.online(f("spike", 40, 41), p)
    state = json.loads(json.dumps(ep.state_dict()))
    ep2 = Episodes()
    ep2.load_state_dict(state)
    assert ep2.state_dict() == ep.state_dict()


# -- failures ----------------------------------------------------------------------------------
def test_an_internal_error_is_reported_once_and_the_watcher_steps_aside(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(run, **kw):  # type: ignore[no-untyped-def]
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(core, "diagnose_run", broken)
    w = Watch()
    with pytest.warns(RuntimeWarning, match="ZeroDivisionError: boom; the watcher steps aside"):
        feed(w, noisy_loss(150))  # the training loop went on
    assert w.disabled and not w.should_stop
    points = w.history.points("train_loss")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        feed(w, noisy_loss(100), start=150)  # no-ops, no second warning
    assert w.history.points("train_loss") == points


def test_a_failing_user_callback_does_not_stop_training() -> None:
    def bad(f: Finding) -> None:
        raise KeyError("user bug")

    w = Watch(on_event=bad)
    with pytest.warns(RuntimeWarning, match="KeyError"):
        w.log(0, train_loss=math.nan)
    assert w.disabled
    w.log(1, train_loss=1.0)  # silently ignored


# -- state -------------------------------------------------------------------------------------
def test_state_round_trip_resumes_exactly() -> None:
    train, val = overfitting_curves(seed=3)
    full_events: list[Finding] = []
    full = Watch(on_event=full_events.append)
    feed(full, train, every=20, val=val)

    half = Watch()
    cut = 600
    feed(half, train[:cut], every=20, val=val)
    state = json.loads(json.dumps(half.state_dict(), allow_nan=True))
    resumed_events: list[Finding] = []
    resumed = Watch(on_event=resumed_events.append)
    resumed.load_state_dict(state)
    assert [f.to_dict() for f in resumed.events] == [f.to_dict() for f in half.events]
    for i, v in enumerate(train[cut:], start=cut):
        resumed.log(i, train_loss=float(v), lr=0.1)
        if i % 20 == 19:
            resumed.log_eval(i, val_loss=float(val[i // 20]))
    both = [(f.kind, f.metric, f.detected_at) for f in resumed.events]
    assert both == [(f.kind, f.metric, f.detected_at) for f in full_events]
    assert np.array_equal(resumed.run()["train_loss"].values, full.run()["train_loss"].values)
    with pytest.raises(ValueError, match="version"):
        Watch().load_state_dict({**state, "version": 99})
    with pytest.raises(ValueError, match="without an autopilot"):
        Watch(autopilot=True).load_state_dict(state)


def test_a_step_going_back_is_warned_once() -> None:
    """A per-epoch batch index (steps 0..99, 0..99, …) is a common mistake: the diagnosis
    would read the repeats as a resumed run's; it is said once, and training goes on."""
    w = Watch()
    with pytest.warns(RuntimeWarning, match="step went back from 99 to 0") as record:
        for _epoch in range(3):
            for i in range(100):
                w.log(i, train_loss=1.0 / (1 + i))
    assert len([r for r in record if "went back" in str(r.message)]) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w2 = Watch()
        for i in range(50):
            w2.log(i, train_loss=1.0)
            w2.log_eval(i, val_loss=1.0)  # evaluations at the same step are not going back
