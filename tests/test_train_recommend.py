import json

import pytest
import torch
from torch import nn

from lossdoctor.cli import main
from lossdoctor.train import recommend
from lossdoctor.train.recommend import HEAVY_IMBALANCE

CASES = [
    ({"task": "regression"}, "MSELoss"),
    ({"task": "regression", "outliers": True, "n_samples": 500}, "HuberLoss"),
    ({"task": "regression", "outliers": "heavy"}, "L1Loss"),
    ({"task": "binary", "n_samples": 200_000}, "BCEWithLogitsLoss"),
    ({"task": "binary", "imbalance_ratio": 5, "batch_size": 512}, "BCEWithLogitsLoss"),
    ({"task": "binary", "imbalance_ratio": 100}, "BinaryFocalLoss"),
    ({"task": "multiclass", "n_classes": 4, "n_samples": 5000}, "CrossEntropyLoss"),
    ({"task": "multiclass", "n_classes": 4, "imbalance_ratio": 4}, "CrossEntropyLoss"),
    ({"task": "multiclass", "n_classes": 4, "imbalance_ratio": 50}, "FocalLoss"),
    ({"task": "multiclass", "n_classes": 4, "probabilities": False}, "MultiMarginLoss"),
]


def _batch(task: str) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    x = torch.randn(16, 3)
    if task == "regression":
        return nn.Linear(3, 1), x, torch.randn(16, 1)
    if task == "binary":
        return nn.Linear(3, 1), x, (torch.rand(16, 1) > 0.8).float()
    return nn.Linear(3, 4), x, torch.randint(0, 4, (16,))


@pytest.mark.parametrize(("kwargs", "loss_name"), CASES)
def test_generated_code_runs(kwargs: dict, loss_name: str) -> None:
    recipe = recommend(**kwargs)
    assert recipe.loss.name == loss_name
    for choice in recipe.choices.values():
        assert choice.reason and choice.name
    namespace: dict = {}
    exec(compile(recipe.code(), "<recipe>", "exec"), namespace)  # our own code, not user input
    model, x, y = _batch(kwargs["task"])
    extra = {"class_counts": [100, 40, 10, 2]} if "class_counts" in recipe.code() else {}
    loss_fn, optimizer, scheduler, early_stopping = namespace["make_training"](
        model, steps_per_epoch=3, **extra)
    assert type(loss_fn).__name__ == loss_name
    lr0 = optimizer.param_groups[0]["lr"]
    losses = []
    for _ in range(3):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses)))
    assert optimizer.param_groups[0]["lr"] != lr0  # the warmup moved it
    assert early_stopping.step(losses[-1], model) is False
    assert optimizer.defaults["weight_decay"] == recipe.regularisation.params["weight_decay"]


def test_choices_follow_the_description() -> None:
    small = recommend(task="binary", n_samples=300)
    large = recommend(task="binary", n_samples=1_000_000)
    assert small.regularisation.params["dropout"] > large.regularisation.params["dropout"]
    assert small.batch_size == 32 and large.batch_size == 256
    assert large.optimizer.params["lr"] == pytest.approx(2e-3)  # √(256/64) × 1e-3
    r = recommend(task="binary", imbalance_ratio=8)
    assert r.loss.params == {"pos_weight": 8}
    assert recommend(task="binary", imbalance_ratio=HEAVY_IMBALANCE).loss.name == \
        "BinaryFocalLoss"
    sched = recommend(task="regression", n_samples=1000, batch_size=100, epochs=10).schedule
    assert sched.params["total_steps"] == 100 and sched.params["warmup_steps"] == 5
    d = r.to_dict()
    assert json.loads(json.dumps(d))["loss"]["name"] == "BCEWithLogitsLoss"
    assert "def make_training" in d["code"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"task": "segmentation"}, "task must be one of regression, binary, multiclass"),
    ({"task": "multiclass"}, "needs n_classes"),
    ({"task": "multiclass", "n_classes": 1}, "n_classes must be >= 2"),
    ({"task": "regression", "n_classes": 3}, "n_classes does not apply"),
    ({"task": "binary", "imbalance_ratio": 0.5}, "imbalance_ratio must be a finite number >= 1"),
    ({"task": "regression", "imbalance_ratio": 2}, "imbalance_ratio does not apply"),
    ({"task": "binary", "n_samples": 0}, "n_samples must be a positive int"),
    ({"task": "binary", "n_samples": 10, "batch_size": 64}, r"batch_size \(64\) is larger"),
    ({"task": "binary", "outliers": True}, "outliers applies to task='regression' only"),
    ({"task": "regression", "outliers": "many"}, "outliers must be False, True or 'heavy'"),
    ({"task": "binary", "probabilities": False}, "applies to task='multiclass' only"),
    ({"task": "binary", "epochs": 2.5}, "epochs must be a positive int"),
])
def test_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        recommend(**kwargs)


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["recommend", "--task", "multiclass", "--n-classes", "10", "--n-samples",
                 "50000", "--imbalance-ratio", "40", "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["loss"]["name"] == "FocalLoss" and data["batch_size"] == 64
    assert set(data) >= {"optimizer", "schedule", "early_stopping", "regularisation", "code"}


def test_cli_table_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recommend", "--task", "regression", "--outliers", "some"]) == 0
    out = capsys.readouterr().out
    assert "HuberLoss" in out and "make_training" in out and "why" in out
    assert main(["recommend", "--task", "binary", "--imbalance-ratio", "0.2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("lossdoctor: error: recommend: --imbalance-ratio must be a finite number >= 1 "
                   "(majority per minority sample), got 0.2")
    assert main(["recommend", "--task", "multiclass"]) == 2
    assert capsys.readouterr().err.strip() == (
        "lossdoctor: error: recommend: --task 'multiclass' needs --n-classes")
    assert main(["recommend", "--task", "binary", "--no-probabilities"]) == 2
    assert capsys.readouterr().err.strip() == (
        "lossdoctor: error: recommend: --no-probabilities applies to --task 'multiclass' only")


def test_cli_prints_the_code_whole_on_a_narrow_console(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Code lines wider than the console are neither cropped nor wrapped: a cut line is wrong
    code (it printed weight_decay=0.0 for 0.05 at 80 columns)."""
    monkeypatch.setenv("COLUMNS", "60")
    args = ["recommend", "--task", "multiclass", "--n-classes", "10", "--n-samples", "5000"]
    assert main(args) == 0
    out = capsys.readouterr().out
    recipe = recommend(task="multiclass", n_classes=10, n_samples=5000)
    code = recipe.code().rstrip("\n")
    assert code in out
    assert max(len(line) for line in code.splitlines()) > 60


def test_imbalance_takes_precedence_over_no_probabilities_and_says_so() -> None:
    for ratio, name in ((5, "CrossEntropyLoss"), (HEAVY_IMBALANCE, "FocalLoss")):
        r = recommend(task="multiclass", n_classes=5, imbalance_ratio=ratio, probabilities=False)
        assert r.loss.name == name
        assert any("probabilities=False was not used" in n for n in r.notes)
    balanced = recommend(task="multiclass", n_classes=5, probabilities=False)
    assert balanced.loss.name == "MultiMarginLoss"
    assert not any("probabilities" in n for n in balanced.notes)
