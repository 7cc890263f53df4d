"""Remedies: every snippet the diagnosis prescribes compiles and runs against a stand-in
training loop, and its parameters are read on the right curve, axis and unit."""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import lossdoctor
from lossdoctor.diagnosis import diagnose_run
from lossdoctor.findings import Finding, Remedy
from lossdoctor.prescribe import _identifier
from lossdoctor.run import Run, Series

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"


def _corpus_logs() -> list[Path]:
    logs = []
    for d in sorted((ROOT / "corpus" / "real").iterdir()) + sorted(
            (ROOT / "corpus" / "generated").iterdir()):
        if d.is_dir() and re.match(r"g?\d{3}_", d.name):
            logs += [p for p in sorted(d.iterdir())
                     if p.is_file() and p.name not in ("README.md", "MANIFEST.md")][:1]
    return logs


def _findings(paths: list[Path]) -> list[Finding]:
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for p in paths:
            for run in lossdoctor.read(p):
                out += diagnose_run(run).findings
    return out


def _stand_in() -> dict[str, Any]:
    """The names a snippet takes from the user's training loop."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8)
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = criterion(model(x), y)
    return {
        "torch": torch, "nn": torch.nn, "model": model, "optimizer": optimizer,
        "criterion": criterion, "x": x, "y": y, "loss": loss, "loader": loader,
        "train_loader": loader, "lr": 0.1, "max_epochs": 2, "num_epochs": 2,
        "evaluate": lambda m: {"val_loss": 1.0, "val_acc": 0.5, "val_mae": 0.3},
        "train_one_epoch": lambda m: None, "val_loss": 1.0, "train_loss": 1.0,
        "val_logits": torch.randn(8, 3), "val_labels": torch.randint(0, 3, (8,)),
    }


def _run_snippet(r: Remedy) -> None:
    code = compile(r.code, f"<{r.name}>", "exec")
    if r.name == "restore_best_checkpoint":  # loads the user's checkpoint file
        return
    names = _stand_in()
    if r.name == "reduce_lr_on_plateau":  # steps on the loop's own variable of that metric
        names[_identifier(str(r.params["monitor"]))] = 1.0
    anomaly = torch.is_anomaly_enabled()  # find_the_first_nan switches it on process-wide
    try:
        with warnings.catch_warnings():  # safer_numerics' GradScaler warns without CUDA
            warnings.simplefilter("ignore", UserWarning)
            exec(code, names)  # our own snippets
    finally:
        torch.autograd.set_detect_anomaly(anomaly)


def test_every_snippet_compiles_and_runs() -> None:
    """On the shipped examples, the corpus and the diagnosis fixtures: each distinct snippet
    (the spike's batch-skipping one ended in a `continue` outside any loop)."""
    examples = sorted((ROOT / "src" / "lossdoctor" / "examples").iterdir())
    paths = [p for d in examples for p in d.iterdir() if p.name != "README.md"]
    paths += _corpus_logs() + sorted((FIXTURES / "diagnose").iterdir())
    snippets: dict[str, Remedy] = {}
    for f in _findings(paths):
        for r in f.remedies:
            if r.code:
                snippets.setdefault(r.code, r)
    assert len(snippets) > 100
    for r in snippets.values():
        _run_snippet(r)
        assert all(not (isinstance(v, float) and not math.isfinite(v))
                   for v in r.params.values()), (r.name, r.params)


def _run(**series: tuple[list[float], list[float] | None, list[float] | None]) -> Run:
    nan = math.nan
    out = {}
    for name, (values, steps, epochs) in series.items():
        n = len(values)
        out[name] = Series(name, name, np.array(steps if steps else [nan] * n, dtype=float),
                           np.array(epochs if epochs else [nan] * n, dtype=float),
                           np.array(values, dtype=float))
    return Run("r", "mem", "test", out)


def _remedy(run: Run, kind: str, name: str) -> Remedy:
    f = next(f for f in diagnose_run(run).findings if f.kind == kind)
    return next(r for r in f.remedies if r.name == name)


def test_flood_level_is_read_on_the_training_losss_own_axis() -> None:
    """Validation logged per epoch only, training per step: the level is the training loss at
    validation's best epoch (it looked the epoch number up on the step axis: the loss of the
    first steps, near the starting loss)."""
    steps = [float(s) for s in range(10, 1210, 10)]
    train = [2.0 * math.exp(-s / 150) + 0.05 for s in steps]
    epochs = [s / 50 for s in steps]  # 50 steps an epoch
    val = [0.6 + 0.8 * math.exp(-e / 2) + 0.02 * max(0.0, e - 8) ** 1.5 for e in range(1, 25)]
    run = _run(train_loss=(train, steps, epochs),
               val_loss=(val, None, [float(e) for e in range(1, 25)]))
    f = next(f for f in diagnose_run(run).findings if f.kind == "overfitting")
    best_epoch = f.evidence["best_epoch"]
    b = next(r for r in f.remedies if r.name == "flooding").params["b"]
    expected = 2.0 * math.exp(-best_epoch * 50 / 150) + 0.05
    assert b == pytest.approx(expected, rel=0.25) and b < 0.5 * train[0]


def test_non_finite_lowers_the_lr_from_a_healthy_one() -> None:
    """An LR ramp to 1e30 that took the loss to NaN: the LR to lower is the one at the last
    healthy point, not the blown-up one (it prescribed 1e29)."""
    (run,) = lossdoctor.read(FIXTURES / "csv" / "keras_nan.csv")
    lr_logged = run["lr"].values
    r = _remedy(run, "non_finite", "lower_lr")
    assert r.params["lr"] <= 0.1 * float(np.nanmin(lr_logged)) * 10
    assert r.params["lr"] < 1.0


def test_warmup_fits_short_runs() -> None:
    """A divergence over 8 steps, and one over fractional epochs below 2: the warmup snippet
    runs (it asked warmup_cosine for more warmup steps than steps in all)."""
    short = _run(train_loss=([1.0, 0.8, 0.7, 5.0, 50.0, 500.0, 5e3, 5e4],
                             [1.0, 2, 3, 4, 5, 6, 7, 8], None))
    r = _remedy(short, "divergence", "warmup")
    _run_snippet(r)
    for epochs, params in (([0.1 + 0.25 * i for i in range(8)], {"warmup_epochs": 1,
                                                                    "epochs": 2}),
                           ([0.1 + 0.1 * i for i in range(8)], {"warmup_fraction": 0.05})):
        fractional = _run(train_loss=([1.0, 0.8, 0.7, 5.0, 50.0, 500.0, 5e3, 5e4], None, epochs))
        r = _remedy(fractional, "divergence", "warmup")
        assert r.params == params
        _run_snippet(r)
    epochs = _run(train_loss=([1.0 / (1 + e) for e in range(100)], None,
                              [float(e) for e in range(100)]))
    from lossdoctor.prescribe import _run_epochs
    from lossdoctor.rules.context import Context
    assert _run_epochs(Context(epochs).train) == 100  # epochs 0-99: one hundred


def test_early_stopping_watches_the_findings_own_metric() -> None:
    """A validation MAE that stalls: early stopping on val_mae (it said val_loss)."""
    e = [float(i) for i in range(1, 41)]
    train = [1.0 / (1 + i) for i in range(40)]
    val = [0.5 + 0.5 * math.exp(-i / 3) if i < 12 else 0.52 + 0.004 * ((i * 7) % 5)
           for i in range(40)]
    run = _run(train_mae=(train, None, e), val_mae=(val, None, e))
    remedies = [r for f in diagnose_run(run).findings for r in f.remedies
                if r.name == "early_stopping"]
    assert remedies and all(r.params["monitor"] == "val_mae" for r in remedies)
    assert all('evaluate(model)["val_mae"]' in r.code for r in remedies)


def test_restore_names_the_step_when_the_epoch_is_fractional() -> None:
    steps = [float(s) for s in range(50, 2050, 50)]
    epochs = [s / 440 for s in steps]  # Hugging Face: fractional epochs beside steps
    train = [1.0 / (1 + s / 200) for s in steps]
    val = [0.6 + 0.5 * math.exp(-s / 300) + 0.0004 * max(0.0, s - 800) for s in steps]
    run = _run(train_loss=(train, steps, epochs), val_loss=(val, steps, epochs))
    r = _remedy(run, "overfitting", "restore_best_checkpoint")
    assert "step" in r.params and "epoch" not in r.params
    assert f'checkpoint_step{r.params["step"]}.pt' in r.code


def test_reduce_on_plateau_patience_counts_evaluations() -> None:
    """On a training-side finding the scheduler steps on the validation loss: its patience is
    counted in evaluations and can act within the run (it was 19 for 10 evaluations)."""
    for f in _findings([FIXTURES / "diagnose" / "heldout_long_warmup_rise_trainer_state.json"]):
        for r in f.remedies:
            if r.name == "reduce_lr_on_plateau":
                assert r.params["monitor"] == "val_loss" and r.params["patience"] <= 10 // 4


def test_remedy_texts_in_chinese_name_their_unit() -> None:
    from lossdoctor.messages import remedy_text

    r = Remedy("restore_best_checkpoint", {"point": 10, "value": 0.5}, "")
    assert remedy_text(r, "zh") == "恢复 第 10 个点 的检查点（最佳值 0.5）。"
    m = Remedy("monitor_metric", {"monitor": "val_acc", "mode": "max"}, "")
    assert "越大越好" in remedy_text(m, "zh")
    w = Remedy("warmup", {"warmup_fraction": 0.05}, "")
    assert remedy_text(w) == "Warm the LR up over 5% of the run, then decay (cosine)."


def test_clip_value_comes_from_the_healthy_stretch() -> None:
    """The clip is the 90th percentile of the gradient norms logged before the blow-up (with
    the blow-up's own norms it was 37.6 for norms around 1)."""
    steps = [float(s) for s in range(1, 301)]
    rng = np.random.default_rng(0)
    loss = [1.0 / (1 + s / 50) for s in steps[:240]] + [0.2 * 2.0 ** k for k in range(1, 61)]
    grad = list(1.0 + 0.1 * rng.standard_normal(240)) + [10.0 * 2.0 ** k for k in range(60)]
    run = _run(train_loss=(loss, steps, None), grad_norm=(grad, steps, None))
    r = _remedy(run, "divergence", "clip_gradients")
    assert r.params["max_norm"] == pytest.approx(np.percentile(grad[:240], 90), rel=0.2)
    assert r.params["grad_norm_percentile"] == 90


def test_non_finite_clips_from_before_the_blow_up() -> None:
    """A NaN after a blow-up: the clip comes from the norms before the loss's best, not from
    those of the blow-up that led to the NaN (it prescribed 655 where the divergence said 2)."""
    steps = [float(s) for s in range(1, 321)]
    rng = np.random.default_rng(1)
    loss = ([1.0 / (1 + s / 50) for s in steps[:240]] + [0.2 * 2.0 ** k for k in range(1, 61)]
            + [math.nan] * 20)
    grad = (list(1.0 + 0.1 * rng.standard_normal(240)) + [10.0 * 2.0 ** k for k in range(60)]
            + [math.nan] * 20)
    run = _run(train_loss=(loss, steps, None), grad_norm=(grad, steps, None))
    r = _remedy(run, "non_finite", "clip_gradients")
    assert r.params["max_norm"] == pytest.approx(np.percentile(grad[:240], 90), rel=0.2)
