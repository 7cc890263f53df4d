"""Metric names: canonical forms and which direction is better.

Readers call `canonical_name` on every metric name they meet; rules call `direction` to know
whether a metric should go down (losses, error rates) or up (accuracy-like scores).
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["CANONICAL", "canonical_name", "direction", "normalise", "split_phase"]

#: The canonical metric names; every other metric keeps the name its log gave it.
CANONICAL = ("train_loss", "val_loss", "train_acc", "val_acc", "lr", "grad_norm")

_TRAIN = {"train", "training", "trn", "tr"}
_VAL = {"val", "valid", "validation", "eval", "evaluation", "dev"}
# Keras's accuracy metric names, all of which mean "accuracy" for our purposes.
_ACC = {
    "acc",
    "accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "binary_accuracy",
}
# A bare loss with one of these qualifiers is still the (training) loss: "Average Loss", "avg_loss".
_LOSS_QUALIFIERS = {"avg", "average", "mean", "epoch", "total", "batch", "running", "overall"}
_LR = {"lr", "learning_rate", "learningrate"}
_GRAD_NORM = {"grad_norm", "gradient_norm", "grad", "grads_norm", "gradnorm", "total_norm"}

_MAX_TOKENS = {
    "acc", "accuracy", "f1", "auc", "auroc", "roc", "precision", "recall", "r2", "bleu",
    "rouge", "rouge1", "rouge2", "rougel", "rho", "iou", "miou", "dice", "map", "pearson",
    "spearman", "corr", "correlation", "psnr", "ssim", "top1", "top5", "kappa", "mcc",
}
_MIN_TOKENS = {
    "loss", "error", "err", "wer", "cer", "mse", "mae", "rmse", "perplexity", "ppl", "nll",
    "bpc", "bpd", "mape", "smape", "ter", "fid",
}


def normalise(name: str) -> str:
    """Lower-case `name` and fold separators (space, ``/``, ``-``, ``.``, ``:``) into ``_``."""
    s = name.strip().lower()
    s = re.sub(r"[\s/\-.:]+", "_", s)
    s = re.sub(r"_+", "_", s)
    return s.strip("_")


def split_phase(name: str) -> tuple[str | None, str]:
    """Split a normalised name into its phase (``"train"``, ``"val"`` or None) and the rest.

    The first phase word anywhere in the name counts: ``"eval_loss"`` → ``("val", "loss")``,
    ``"loss_train"`` → ``("train", "loss")``, ``"average_train_loss"`` →
    ``("train", "average_loss")``.
    """
    tokens = name.split("_")
    if len(tokens) > 1:
        for i, token in enumerate(tokens):
            phase = "train" if token in _TRAIN else "val" if token in _VAL else None
            if phase is not None:
                return phase, "_".join(tokens[:i] + tokens[i + 1 :])
    return None, name


@lru_cache(maxsize=4096)
def canonical_name(original: str) -> str:
    """The canonical name of a metric, or its original name when it has none.

    Lightning's ``_step``/``_epoch`` suffixes are ignored for the mapping (``train_loss_step``
    and ``train_loss_epoch`` both map to ``train_loss``; the run builder keeps the longer one
    under the canonical name). Examples: ``loss``, ``train/loss``, ``Train Loss``,
    ``Epoch Average Loss`` → ``train_loss``; ``eval_loss``, ``Valid Loss``, ``val/loss`` →
    ``val_loss``; ``val_accuracy``, ``eval_accuracy`` → ``val_acc``; ``learning_rate``,
    ``lr-Adam`` → ``lr``; ``train/grad_norm`` → ``grad_norm``.
    """
    s = normalise(original)
    if not s:
        return original
    # Lightning's LearningRateMonitor: lr-Adam, lr-SGD/pg1 (but lr-Adam-momentum is not an LR).
    if re.fullmatch(r"lr(_[a-z0-9_]+)?", s) and not re.search(r"momentum|beta|find", s):
        return "lr"
    for suffix in ("_step", "_epoch"):
        if s.endswith(suffix) and len(s) > len(suffix):
            s = s[: -len(suffix)]
            break
    phase, rest = split_phase(s)
    if phase is None and rest.startswith("train") and rest[5:] in ("loss", "acc"):
        rest, phase = rest[5:], "train"  # "trainloss"
    if rest.startswith("epoch_"):  # Keras TensorBoard: epoch_accuracy, epoch_learning_rate
        rest = rest[len("epoch_") :]
    tokens = rest.split("_")
    if rest in _LR or (phase == "train" and rest in _LR):
        return "lr"
    if rest in _GRAD_NORM or rest.replace("_", "") in {"gradnorm", "gradientnorm"}:
        return "grad_norm"
    is_loss = rest == "loss" or (
        tokens[-1] == "loss" and all(t in _LOSS_QUALIFIERS for t in tokens[:-1])
    )
    if is_loss:
        return "val_loss" if phase == "val" else "train_loss"
    if rest in _ACC:
        return "val_acc" if phase == "val" else "train_acc"
    return original


def direction(name: str) -> str | None:
    """``"min"`` if lower is better, ``"max"`` if higher is better, None if unknown.

    Decided from the tokens of the name: ``val_wer`` and ``eval_loss`` → ``"min"``,
    ``val_accuracy`` and ``eval_f1`` → ``"max"``, ``lr`` → None.
    """
    tokens = set(normalise(name).split("_"))
    axis_like = {"lr", "learning", "grad", "gradient", "norm", "momentum", "epoch", "step"}
    if tokens & axis_like and not tokens & (_MIN_TOKENS | _MAX_TOKENS):
        return None
    if tokens & _MIN_TOKENS:
        return "min"
    if tokens & _MAX_TOKENS:
        return "max"
    return None
