"""The Hugging Face callback, driven by a real Trainer on a tiny BERT built from a config (no
download): stop at overfitting with the best weights restored, state exported with the
checkpoint and restored on resume."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch

transformers = pytest.importorskip("transformers")

from lossdoctor.watch.integrations.transformers import LossdoctorTrainerCallback  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]

BEST = 12  # the evaluation at which the (injected) validation loss bottoms


class InjectValLoss(transformers.TrainerCallback):  # type: ignore[misc]
    """Replaces eval_loss by a curve that bottoms at evaluation BEST, then rises (the training
    itself is real), and remembers the weights at every evaluation."""

    def __init__(self) -> None:
        self.n = 0
        self.weights: list[torch.Tensor] = []

    def on_evaluate(self, args, state, control, metrics=None, model=None, **kw):  # type: ignore[no-untyped-def]
        e = self.n
        metrics["eval_loss"] = 0.5 + 0.6 * math.exp(-e / 4) + 0.01 * max(0, e - BEST) ** 1.3
        self.weights.append(model.classifier.weight.detach().clone())
        self.n += 1


def tiny_bert() -> Any:
    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=32, hidden_size=16, num_hidden_layers=1,
                                  num_attention_heads=2, intermediate_size=32,
                                  max_position_embeddings=16, num_labels=2)
    return transformers.BertForSequenceClassification(cfg)


def dataset(n: int = 64) -> list[dict[str, Any]]:
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(2, 32, (n, 8), generator=g)
    return [{"input_ids": ids[i], "attention_mask": torch.ones(8, dtype=torch.long),
             "labels": int(ids[i, 0] % 2)} for i in range(n)]


def args(out: Path, **kw: Any) -> Any:
    base = dict(output_dir=str(out), per_device_train_batch_size=16, learning_rate=5e-3,
                logging_steps=1, eval_strategy="steps", eval_steps=4, save_strategy="no",
                report_to=[], use_cpu=True, disable_tqdm=True, seed=0, max_steps=200,
                lr_scheduler_type="constant")
    base.update(kw)
    return transformers.TrainingArguments(**base)


def test_trainer_stops_at_overfitting_and_restores_the_best_weights(tmp_path: Path) -> None:
    inject = InjectValLoss()
    cb = LossdoctorTrainerCallback(autopilot=True)
    model = tiny_bert()
    data = dataset()
    trainer = transformers.Trainer(model=model, args=args(tmp_path), train_dataset=data,
                                   eval_dataset=data[:16], callbacks=[inject, cb])
    trainer.train()
    w = cb.watch
    assert w is not None and w.should_stop
    assert trainer.state.global_step < 200  # stopped early
    assert [a.name for a in w.actions] == ["stop", "restore_best"]
    assert w.actions[0].kind == "overfitting" and all(a.applied for a in w.actions)
    assert torch.equal(model.classifier.weight.detach(), inject.weights[BEST])
    run = w.run()
    assert {"train_loss", "lr", "grad_norm", "val_loss"} <= set(run.series)


def test_state_is_exported_with_the_checkpoint_and_restored(tmp_path: Path) -> None:
    cb = LossdoctorTrainerCallback(autopilot={"lr_factor": 0.5}, growth=0.5)
    data = dataset()
    trainer = transformers.Trainer(
        model=tiny_bert(), args=args(tmp_path, max_steps=16, save_strategy="steps",
                                     save_steps=16),
        train_dataset=data, eval_dataset=data[:16], callbacks=[cb])
    trainer.train()
    ckpt = tmp_path / "checkpoint-16"
    state = json.loads((ckpt / "trainer_state.json").read_text())
    saved = state["stateful_callbacks"]["LossdoctorTrainerCallback"]
    assert saved["args"] == {"autopilot": {"lr_factor": 0.5}, "growth": 0.5}
    history = saved["attributes"]["watch_state"]["history"]["metrics"]
    assert len(history["train_loss"]["values"]) == 16

    resumed = transformers.Trainer(
        model=tiny_bert(), args=args(tmp_path, max_steps=20,
                                     restore_callback_states_from_checkpoint=True),
        train_dataset=data, eval_dataset=data[:16], callbacks=[LossdoctorTrainerCallback()])
    resumed.train(resume_from_checkpoint=str(ckpt))
    cb2 = next(c for c in resumed.callback_handler.callbacks
               if isinstance(c, LossdoctorTrainerCallback))
    assert cb2.options == {"autopilot": {"lr_factor": 0.5}, "growth": 0.5}
    assert cb2.watch is not None and len(cb2.watch.run()["train_loss"]) == 20


def test_options_are_checked_when_the_callback_is_made() -> None:
    with pytest.raises(TypeError, match="LossdoctorTrainerCallback takes 'model' from the Trainer"):
        LossdoctorTrainerCallback(model=object())
    with pytest.raises(TypeError, match="bogus"):
        LossdoctorTrainerCallback(bogus=1)
