"""The Lightning callback, driven by a real Trainer on a tiny model: stop at overfitting with
the best weights restored, roll back a NaN, state in the checkpoint."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

pl = pytest.importorskip("lightning.pytorch")

from lossdoctor.watch.integrations.lightning import LossdoctorCallback  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]

EPOCHS = 60
BEST = 20


def val_curve(epoch: int) -> float:
    """A validation loss that bottoms at epoch BEST, then rises (an overfitting run)."""
    return 0.5 + 0.6 * math.exp(-epoch / 6) + 0.004 * max(0, epoch - BEST) ** 1.3


class Toy(pl.LightningModule):
    def __init__(self, nan_at: int | None = None) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(4, 1))
        self.nan_at = nan_at
        self.weights_at: dict[int, torch.Tensor] = {}

    def training_step(self, batch, idx):  # type: ignore[no-untyped-def]
        x, y = batch
        loss = nn.functional.mse_loss(self.net(x), y)
        if self.global_step == self.nan_at:
            loss = loss * math.nan  # a bad batch: NaN gradients, NaN weights
        return loss

    def validation_step(self, batch, idx):  # type: ignore[no-untyped-def]
        self.log("val_loss", val_curve(self.current_epoch))

    def on_validation_epoch_end(self) -> None:
        if not self.trainer.sanity_checking:
            self.weights_at[self.current_epoch] = self.net[0].weight.detach().clone()

    def configure_optimizers(self):  # type: ignore[no-untyped-def]
        return torch.optim.SGD(self.parameters(), lr=0.02)


def loaders() -> tuple[DataLoader, DataLoader]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [0.3]])
    data = TensorDataset(x, y)
    # full batches and a small LR: a smooth training loss that keeps falling
    return DataLoader(data, batch_size=64), DataLoader(data, batch_size=64)


def trainer(epochs: int, cb: LossdoctorCallback, **kw) -> pl.Trainer:  # type: ignore[no-untyped-def]
    return pl.Trainer(max_epochs=epochs, callbacks=[cb], logger=False, accelerator="cpu",
                      devices=1, enable_progress_bar=False, enable_model_summary=False,
                      num_sanity_val_steps=1, **kw)


def test_stops_at_overfitting_restores_best_and_resumes_from_checkpoint(tmp_path: Path) -> None:
    model = Toy()
    cb = LossdoctorCallback(autopilot=True)
    t = trainer(EPOCHS, cb, enable_checkpointing=False)
    train, val = loaders()
    t.fit(model, train, val)
    w = cb.watch
    assert w is not None and w.should_stop
    assert t.current_epoch < EPOCHS - 1  # stopped early
    assert [a.name for a in w.actions] == ["stop", "restore_best"]
    assert w.actions[0].kind == "overfitting" and all(a.applied for a in w.actions)
    best = int(np.argmin([val_curve(e) for e in range(t.current_epoch + 1)]))
    assert torch.equal(model.net[0].weight.detach(), model.weights_at[best])
    # the sanity check was not logged as an evaluation
    assert len(w.run()["val_loss"]) == len(model.weights_at)

    path = tmp_path / "last.ckpt"
    t.save_checkpoint(path)
    saved = torch.load(path, weights_only=True)["callbacks"]["LossdoctorCallback"]
    assert saved["should_stop"] and len(saved["autopilot"]["actions"]) == 2
    cb2 = LossdoctorCallback(autopilot=True)
    t2 = trainer(t.current_epoch + 2, cb2, enable_checkpointing=False)
    t2.fit(Toy(), train, val, ckpt_path=path)
    assert cb2.watch is not None
    assert [a.to_dict() for a in cb2.watch.actions[:2]] == [a.to_dict() for a in w.actions]
    assert len(cb2.watch.run()["train_loss"]) > len(w.run()["train_loss"])


def test_a_nan_batch_is_rolled_back_and_training_goes_on() -> None:
    model = Toy(nan_at=15)
    cb = LossdoctorCallback(autopilot={"snapshot_every": 5}, growth=10, eval_growth=10)
    train, val = loaders()
    trainer(30, cb, enable_checkpointing=False).fit(model, train, val)
    w = cb.watch
    assert w is not None
    acts = [(a.name, a.step, a.applied) for a in w.actions]
    assert acts[:2] == [("rollback", 16.0, True), ("lower_lr", 16.0, True)]
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert model.trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.02 * 0.3)
    assert not w.should_stop and model.trainer.global_step == 30  # all epochs ran


class _Recording(LossdoctorCallback):
    """Writes what each rank's watcher did (the ranks are child processes)."""

    def __init__(self, out: Path, **kw) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kw)
        self.out = out

    def on_train_end(self, trainer, pl_module) -> None:  # type: ignore[no-untyped-def]
        super().on_train_end(trainer, pl_module)
        assert self.watch is not None
        torch.save({"actions": [a.to_dict() for a in self.watch.actions],
                    "weights": [p.detach().clone() for p in pl_module.parameters()],
                    "lr": trainer.optimizers[0].param_groups[0]["lr"],
                    "should_stop": trainer.should_stop},
                   self.out / f"rank{trainer.global_rank}.pt")


class _RankNan(Toy):
    def training_step(self, batch, idx):  # type: ignore[no-untyped-def]
        x, y = batch
        loss = nn.functional.mse_loss(self.net(x), y)
        if self.global_rank == 1 and self.global_step == 6:
            loss = loss * math.nan  # only rank 1 sees it; DDP spreads the NaN gradient
        return loss


def test_ddp_two_ranks_roll_back_together(tmp_path: Path) -> None:
    cb = _Recording(tmp_path, autopilot={"snapshot_every": 2})
    t = pl.Trainer(max_epochs=12, callbacks=[cb], logger=False, accelerator="cpu", devices=2,
                   strategy="ddp_fork", enable_progress_bar=False, enable_model_summary=False,
                   enable_checkpointing=False, num_sanity_val_steps=0)
    train, val = loaders()
    t.fit(_RankNan(), train, val)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert r0["actions"] == r1["actions"]
    assert [(a["name"], a["applied"]) for a in r0["actions"][:2]] == [("rollback", True),
                                                                      ("lower_lr", True)]
    assert r0["lr"] == r1["lr"] == pytest.approx(0.02 * 0.3)
    assert all(torch.equal(a, b) and torch.isfinite(a).all()
               for a, b in zip(r0["weights"], r1["weights"], strict=True))


def test_options_are_checked_when_the_callback_is_made() -> None:
    with pytest.raises(TypeError, match="LossdoctorCallback takes 'comm' from the trainer"):
        LossdoctorCallback(comm=object())
    with pytest.raises(TypeError, match="bogus"):
        LossdoctorCallback(bogus=1)


class Recording(Toy):
    """Toy that records every batch loss training_step returns."""

    def __init__(self) -> None:
        super().__init__()
        self.losses: list[float] = []

    def training_step(self, batch, idx):  # type: ignore[no-untyped-def]
        loss = super().training_step(batch, idx)
        self.losses.append(float(loss.detach()))
        return loss


def test_gradient_accumulation_logs_each_optimizer_steps_mean_loss(tmp_path: Path) -> None:
    """With accumulate_grad_batches=k Lightning divides the loss by k for backward: the
    callback logs one point per optimizer step, the undivided mean of its k batch losses (it
    logged each loss / k, k times at the same step)."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(64, 4, generator=g)
    data = TensorDataset(x, x @ torch.tensor([[1.0], [-2.0], [0.5], [0.3]]))
    train = DataLoader(data, batch_size=8)  # 8 batches an epoch: 2 optimizer steps of 4
    cb = LossdoctorCallback()
    model = Recording()
    trainer(3, cb, accumulate_grad_batches=4, limit_val_batches=0,
            default_root_dir=tmp_path).fit(model, train)
    assert cb.watch is not None
    run = cb.watch.run()
    steps, values = run["train_loss"].steps, run["train_loss"].values
    assert list(steps) == [1, 2, 3, 4, 5, 6]
    means = [sum(model.losses[i:i + 4]) / 4 for i in range(0, 24, 4)]
    np.testing.assert_allclose(values, means, rtol=1e-6)
