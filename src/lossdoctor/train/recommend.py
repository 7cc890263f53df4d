"""Training recipes: a task description in, a loss, an optimizer with a starting LR, a schedule,
early stopping and regularisation out — each with its reason, and as code that runs.

This module only writes recommendations: it does not need torch (the code it writes does).
The rules are starting points taken from the literature cited in each reason; confirm the LR with
`lossdoctor.train.lr_find` and let the diagnosis of the first run refine the rest.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

__all__ = ["HEAVY_IMBALANCE", "MILD_IMBALANCE", "TASKS", "Choice", "Recipe", "recommend"]

TASKS = ("regression", "binary", "multiclass")
#: majority:minority ratio from which classes are re-weighted
MILD_IMBALANCE = 3.0
#: majority:minority ratio from which the focal loss replaces re-weighting
HEAVY_IMBALANCE = 20.0


@dataclass(frozen=True)
class Choice:
    """One recommended component.

    Attributes:
        name: what to use (``"HuberLoss"``, ``"AdamW"``, ``"warmup_cosine"`` …).
        params: its parameters.
        reason: why, in one or two sentences.
    """

    name: str
    params: dict[str, Any]
    reason: str


@dataclass(frozen=True)
class Recipe:
    """A training recipe; `code` writes it as a runnable ``make_training`` function."""

    task: str
    description: str
    batch_size: int
    epochs: int
    loss: Choice
    optimizer: Choice
    schedule: Choice
    early_stopping: Choice
    regularisation: Choice
    notes: list[str] = field(default_factory=list)
    _loss_code: str = field(default="", repr=False)
    _imports: tuple[str, ...] = field(default=(), repr=False)
    _needs_counts: bool = field(default=False, repr=False)

    @property
    def choices(self) -> dict[str, Choice]:
        """The five components by role."""
        return {
            "loss": self.loss,
            "optimizer": self.optimizer,
            "schedule": self.schedule,
            "early_stopping": self.early_stopping,
            "regularisation": self.regularisation,
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what ``lossdoctor recommend --json`` prints)."""
        return {
            "task": self.task,
            "description": self.description,
            "batch_size": self.batch_size,
            "epochs": self.epochs,
            **{role: asdict(c) for role, c in self.choices.items()},
            "notes": list(self.notes),
            "code": self.code(),
        }

    def code(self) -> str:
        """Python source defining ``make_training(model, steps_per_epoch[, class_counts])`` that
        returns ``(loss_fn, optimizer, scheduler, early_stopping)``; step the scheduler once
        per optimizer step and the early stopping once per validation."""
        lib = sorted({"EarlyStopping", "warmup_cosine", *self._imports})
        opt, sched, es = self.optimizer.params, self.schedule.params, self.early_stopping.params
        args = "model: nn.Module, steps_per_epoch: int"
        if self._needs_counts:
            args += ", class_counts: Sequence[int]"
        body = textwrap.indent(self._loss_code, " " * 4)
        return (
            ("from collections.abc import Sequence\n\n" if self._needs_counts else "")
            + "import torch\nfrom torch import nn\n\n"
            + f"from lossdoctor.train import {', '.join(lib)}\n\n"
            f"EPOCHS = {self.epochs}\nBATCH_SIZE = {self.batch_size}\n\n\n"
            f"def make_training({args}):\n"
            f'    """{self.description[:1].upper()}{self.description[1:]}.\n\n'
            f"    Returns (loss_fn, optimizer, scheduler, early_stopping). Regularisation: "
            f"{self.regularisation.name}\n"
            f'    (add nn.Dropout(p={self.regularisation.params["dropout"]}) after each hidden '
            f'activation of the model).\n    """\n'
            f"{body}\n"
            f"    optimizer = torch.optim.AdamW(model.parameters(), lr={opt['lr']:.3g}, "
            f"weight_decay={opt['weight_decay']})\n"
            f"    total_steps = EPOCHS * steps_per_epoch\n"
            f"    scheduler = warmup_cosine(optimizer, warmup_steps=max(1, round("
            f"{sched['warmup_fraction']} * total_steps)),\n"
            f"                              total_steps=total_steps)\n"
            f"    early_stopping = EarlyStopping(mode=\"min\", patience={es['patience']}, "
            f"min_delta={es['min_delta']})\n"
            f"    return loss_fn, optimizer, scheduler, early_stopping\n"
        )

    def __rich__(self) -> RenderableType:
        table = Table(title=Text(f"Recipe: {self.description}"), show_lines=True, expand=False)
        table.add_column("component", style="bold")
        table.add_column("choice")
        table.add_column("why")
        for role, c in self.choices.items():
            params = ", ".join(f"{k}={v}" for k, v in c.params.items())
            # Text, not markup: a reason may hold brackets ("[1e-4, 3e-3]")
            table.add_row(Text(role.replace("_", " ")), Text(f"{c.name}({params})"),
                          Text(c.reason))
        parts: list[RenderableType] = [table]
        parts.extend(Text(f"• {note}") for note in self.notes)
        # highlighted text, not a Syntax layout: Syntax crops lines wider than the console
        code = self.code().rstrip("\n")
        parts.append(Syntax(code, "python", theme="ansi_dark",
                            background_color="default").highlight(code))
        return Group(*parts)


def _positive_int(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def _loss(
    task: str,
    n_classes: int | None,
    ratio: float | None,
    outliers: bool | str,
    probabilities: bool,
) -> tuple[Choice, str, tuple[str, ...], bool, list[str]]:
    """(choice, code assigning loss_fn, lossdoctor imports, needs class_counts, notes)."""
    r = ratio or 1.0
    inverse_frequency = (
        "counts = torch.as_tensor(class_counts, dtype=torch.float32).clamp_min(1)\n"
        "weight = counts.sum() / (len(counts) * counts)  # inverse class frequency\n"
    )
    if task == "regression":
        if outliers == "heavy":
            return (Choice("L1Loss", {}, "Gross outliers in the targets: the absolute error fits "
                           "the conditional median, and every sample pulls with the same force "
                           "whatever its error."), "loss_fn = nn.L1Loss()", (), False, [])
        if outliers:
            return (Choice("HuberLoss", {"delta": 1.0}, "Some outliers in the targets: "
                           "quadratic for errors below delta, linear above, so outliers pull with "
                           "a bounded force (delta=1 ≈ one standard deviation of standardised "
                           "targets)."), "loss_fn = nn.HuberLoss(delta=1.0)", (), False,
                    ["Standardise the regression targets (zero mean, unit variance) so that "
                     "delta=1 is on their scale."])
        return (Choice("MSELoss", {}, "No outliers: the squared error is the maximum-likelihood "
                       "loss under Gaussian noise and has the smoothest gradients."),
                "loss_fn = nn.MSELoss()", (), False,
                ["Standardise the regression targets (zero mean, unit variance)."])
    if task == "binary":
        if r >= HEAVY_IMBALANCE:
            return (Choice("BinaryFocalLoss", {"alpha": 0.25, "gamma": 2.0},
                           f"Heavy imbalance (1:{r:g}): a pos_weight of {r:g} makes each rare "
                           "positive a large gradient spike, while the focal term (1−p)^γ "
                           "down-weights the many easy negatives instead (Lin et al., 2017; "
                           "alpha=0.25, gamma=2 are the paper's values)."),
                    "loss_fn = BinaryFocalLoss(alpha=0.25, gamma=2.0)", ("BinaryFocalLoss",),
                    False,
                    [f"Initialise the output bias to -log((1-π)/π) with π = 1/(1+{r:g}) so that "
                     "the first steps are not dominated by the negatives (Lin et al., 2017).",
                     "Monitor a threshold-free metric (average precision) besides the loss."])
        if r >= MILD_IMBALANCE:
            return (Choice("BCEWithLogitsLoss", {"pos_weight": r},
                           f"Imbalance 1:{r:g}: pos_weight = negatives/positives gives both "
                           "classes the same total weight (torch's documented recipe); with "
                           "logits it stays numerically stable."),
                    f"loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor({r:g}))", (),
                    False, ["pos_weight assumes the positive class is the rare one."])
        return (Choice("BCEWithLogitsLoss", {}, "Balanced binary task: logistic loss on logits "
                       "(one output unit), stable for any logit."),
                "loss_fn = nn.BCEWithLogitsLoss()", (), False, [])
    assert n_classes is not None
    precedence = [] if probabilities or r < MILD_IMBALANCE else [
        "probabilities=False was not used: the class imbalance decides the loss (the hinge "
        "takes no account of it); a weighted cross-entropy's argmax serves as well."]
    if r >= HEAVY_IMBALANCE:
        return (Choice("FocalLoss", {"alpha": "inverse class frequency", "gamma": 2.0},
                       f"Heavy imbalance (1:{r:g}) over {n_classes} classes: inverse-frequency "
                       "alpha balances the classes and the focal term (1−p)^γ stops the easy, "
                       "frequent classes from dominating the gradient (Lin et al., 2017)."),
                inverse_frequency + "loss_fn = FocalLoss(alpha=weight, gamma=2.0)",
                ("FocalLoss",), True,
                ["Monitor per-class recall or macro-F1 besides the loss.", *precedence])
    if r >= MILD_IMBALANCE:
        return (Choice("CrossEntropyLoss", {"weight": "inverse class frequency"},
                       f"Imbalance 1:{r:g} over {n_classes} classes: inverse-frequency class "
                       "weights give every class the same total weight."),
                inverse_frequency + "loss_fn = nn.CrossEntropyLoss(weight=weight)", (), True,
                ["Monitor macro-F1 or balanced accuracy besides the loss.", *precedence])
    if not probabilities:
        return (Choice("MultiMarginLoss", {"margin": 1.0},
                       "Only the predicted class is needed: the multi-class hinge stops pushing "
                       "a sample once its margin reaches 1, so it does not chase "
                       "over-confidence; its scores are not probabilities."),
                "loss_fn = nn.MultiMarginLoss(margin=1.0)", (), False, [])
    return (Choice("CrossEntropyLoss", {"label_smoothing": 0.1},
                   f"Balanced {n_classes}-class task: cross-entropy on logits; label smoothing "
                   "0.1 curbs over-confident logits and usually improves calibration and "
                   "accuracy (Szegedy et al., 2016; Müller et al., 2019)."),
            "loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)", (), False, [])


def recommend(
    *,
    task: str,
    n_samples: int | None = None,
    batch_size: int | None = None,
    n_classes: int | None = None,
    imbalance_ratio: float | None = None,
    outliers: bool | str = False,
    epochs: int | None = None,
    probabilities: bool = True,
) -> Recipe:
    """Recommend a loss, optimizer, LR, schedule, early stopping and regularisation.

    Args:
        task: ``"regression"``, ``"binary"`` or ``"multiclass"``.
        n_samples: number of training samples (sets batch size, epochs and regularisation).
        batch_size: the batch size you will use; chosen from ``n_samples`` when None.
        n_classes: number of classes (multiclass only, ≥ 2).
        imbalance_ratio: samples of the most frequent class per sample of the rarest
            (≥ 1; classification only).
        outliers: regression only: False, True (some outliers → Huber) or ``"heavy"`` (→ L1).
        epochs: the epoch budget; chosen from ``n_samples`` when None.
        probabilities: multiclass only: False when only the argmax matters (allows a hinge).

    Raises:
        ValueError: an argument is unknown, out of range, or does not apply to the task.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}; got {task!r}")
    n = _positive_int("n_samples", n_samples)
    batch = _positive_int("batch_size", batch_size)
    epochs = _positive_int("epochs", epochs)
    if n is not None and batch is not None and batch > n:
        raise ValueError(f"batch_size ({batch}) is larger than n_samples ({n})")
    if task == "multiclass":
        if n_classes is None:
            raise ValueError("task='multiclass' needs n_classes")
        if _positive_int("n_classes", n_classes) == 1:
            raise ValueError("n_classes must be >= 2 for task='multiclass'")
    elif n_classes is not None and not (task == "binary" and n_classes == 2):
        raise ValueError(f"n_classes does not apply to task={task!r}")
    if imbalance_ratio is not None:
        if task == "regression":
            raise ValueError("imbalance_ratio does not apply to task='regression'")
        if not (isinstance(imbalance_ratio, (int, float)) and not isinstance(imbalance_ratio, bool)
                and math.isfinite(imbalance_ratio) and imbalance_ratio >= 1):
            raise ValueError(
                f"imbalance_ratio must be a finite number >= 1 (majority per minority "
                f"sample), got {imbalance_ratio!r}"
            )
    if not (outliers is False or outliers is True or outliers == "heavy"):
        raise ValueError(f"outliers must be False, True or 'heavy', got {outliers!r}")
    if outliers and task != "regression":
        raise ValueError("outliers applies to task='regression' only")
    if not isinstance(probabilities, bool):
        raise ValueError(f"probabilities must be a bool, got {probabilities!r}")
    if not probabilities and task != "multiclass":
        raise ValueError("probabilities=False applies to task='multiclass' only")

    size = "unknown size" if n is None else f"{n:,} samples"
    if batch is None:
        batch = 64 if n is None else min(n, 32 if n < 1_000 else 64 if n < 100_000 else 256)
        batch_reason = "a default" if n is None else "chosen from the dataset size"
    else:
        batch_reason = "given"
    if epochs is None:
        epochs = 100 if n is None else 200 if n < 1_000 else 100 if n < 10_000 else (
            50 if n < 100_000 else 20)
    what = {"regression": "regression", "binary": "binary classification",
            "multiclass": f"{n_classes}-class classification"}[task]
    extras = []
    if imbalance_ratio is not None:
        extras.append(f"imbalance 1:{imbalance_ratio:g}")
    if outliers:
        extras.append("heavy outliers" if outliers == "heavy" else "outliers")
    description = ", ".join([what, size, f"batch {batch} ({batch_reason})", *extras])

    loss, loss_code, imports, needs_counts, notes = _loss(
        task, n_classes, imbalance_ratio, outliers, probabilities
    )
    if n is None or n < 1_000:
        wd, dropout, why = 0.1, 0.3, "fewer than 1,000 samples (or unknown): overfitting comes " \
                                     "early"
    elif n < 10_000:
        wd, dropout, why = 0.05, 0.2, "a small dataset"
    elif n < 100_000:
        wd, dropout, why = 0.01, 0.1, "a medium dataset"
    else:
        wd, dropout, why = 0.01, 0.0, "a large dataset: data is the regulariser"
    lr = min(3e-3, max(1e-4, 1e-3 * math.sqrt(batch / 64)))
    optimizer = Choice("AdamW", {"lr": float(f"{lr:.3g}"), "weight_decay": wd},
                       f"Adam with decoupled weight decay is the robust default for a new model; "
                       f"lr 1e-3 at batch 64 scaled by √(batch/64) for batch {batch} (the "
                       f"square-root rule for Adam, Malladi et al., 2022), kept within "
                       f"[1e-4, 3e-3]. Confirm it with lr_find. For CNNs trained from scratch, "
                       f"SGD with momentum 0.9 at lr 0.1·batch/256 (Goyal et al., 2017) is "
                       f"the classic alternative.")
    regularisation = Choice("weight decay + dropout", {"weight_decay": wd, "dropout": dropout},
                            f"Strength follows the dataset size ({why}); weight decay is "
                            f"AdamW's decoupled decay, dropout goes after hidden activations.")
    warmup_fraction = 0.05
    schedule_params: dict[str, Any] = {"warmup_fraction": warmup_fraction, "final_lr_ratio": 0.0}
    if n is not None:
        steps = math.ceil(n / batch)
        total = epochs * steps
        schedule_params.update(warmup_steps=max(1, round(warmup_fraction * total)),
                               total_steps=total)
    schedule = Choice("warmup_cosine", schedule_params,
                      "A short linear warmup (5% of the steps) lets Adam's moment estimates "
                      "settle before the full LR; cosine decay to 0 then anneals without a "
                      "step to tune. Step it once per optimizer step.")
    patience = max(5, epochs // 10)
    early_stopping = Choice("EarlyStopping", {"monitor": "val_loss", "mode": "min",
                                              "patience": patience, "min_delta": 0.0,
                                              "restore_best": True},
                            f"The epoch budget ({epochs}) is an upper bound: stop after "
                            f"{patience} validations without a new best validation loss and "
                            f"restore the best weights.")
    if n is not None and n < 1_000:
        notes.append("With few samples and noisy labels, flooding (lossdoctor.train.flood) at "
                     "the training loss where validation started to rise can help.")
    return Recipe(task, description, batch, epochs, loss, optimizer, schedule, early_stopping,
                  regularisation, notes, loss_code, imports, needs_counts)
