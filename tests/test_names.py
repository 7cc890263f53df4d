import pytest

from lossdoctor.names import canonical_name, direction


@pytest.mark.parametrize(
    ("original", "canonical"),
    [
        ("loss", "train_loss"),
        ("train/loss", "train_loss"),
        ("Train Loss", "train_loss"),
        ("Training Loss", "train_loss"),
        ("Average Loss", "train_loss"),
        ("Average Train Loss", "train_loss"),
        ("train_loss_step", "train_loss"),
        ("train_loss_epoch", "train_loss"),
        ("eval_loss", "val_loss"),
        ("Valid Loss", "val_loss"),
        ("Validation Loss", "val_loss"),
        ("eval/loss", "val_loss"),
        ("val_accuracy", "val_acc"),
        ("eval_accuracy", "val_acc"),
        ("accuracy", "train_acc"),
        ("sparse_categorical_accuracy", "train_acc"),
        ("val_sparse_categorical_accuracy", "val_acc"),
        ("learning_rate", "lr"),
        ("train/learning_rate", "lr"),
        ("lr-Adam", "lr"),
        ("lr-SGD/pg1", "lr"),
        ("LR", "lr"),
        ("grad_norm", "grad_norm"),
        ("train/grad_norm", "grad_norm"),
        # No canonical form: the original name is kept.
        ("test_loss", "test_loss"),
        ("min_loss", "min_loss"),
        ("Gen Loss", "Gen Loss"),
        ("eval_wer", "eval_wer"),
        ("Smoothed Validation Loss", "Smoothed Validation Loss"),
        ("Train L1 Loss", "Train L1 Loss"),
        ("lr-Adam-momentum", "lr-Adam-momentum"),
    ],
)
def test_canonical_name(original: str, canonical: str) -> None:
    assert canonical_name(original) == canonical


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("val_loss", "min"),
        ("eval_wer", "min"),
        ("val_cer", "min"),
        ("perplexity", "min"),
        ("val_acc", "max"),
        ("eval_f1", "max"),
        ("val_rho", "max"),
        ("BLEU-4", "max"),
        ("lr", None),
        ("grad_norm", None),
        ("epoch", None),
    ],
)
def test_direction(name: str, expected: str | None) -> None:
    assert direction(name) == expected
