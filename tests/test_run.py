import math

import numpy as np
import pytest

from lossdoctor.read._builder import RunBuilder
from lossdoctor.run import Series


def test_series_axes_and_summary() -> None:
    s = Series(name="val_loss", original="eval_loss", steps=[10, 20, 30],
               epochs=[1, 2, 3], values=[0.5, math.nan, 0.3])
    assert len(s) == 3
    assert s.axis == "step"
    assert s.direction == "min"
    assert isinstance(s.values, np.ndarray) and not s.values.flags.writeable
    d = s.summary()
    assert d["points"] == 3 and d["first_step"] == 10 and d["last_step"] == 30
    assert d["non_finite"] == 1 and d["min"] == 0.3 and d["max"] == 0.5


def test_series_epoch_and_index_axes() -> None:
    nan = math.nan
    by_epoch = Series(name="x", original="x", steps=[nan, nan], epochs=[0, 1], values=[1, 2])
    assert by_epoch.axis == "epoch" and list(by_epoch.x) == [0, 1]
    bare = Series(name="x", original="x", steps=[nan, nan], epochs=[nan, nan], values=[1, 2])
    assert bare.axis == "index" and list(bare.x) == [0, 1]
    assert not bare.has_steps and not bare.has_epochs


def test_series_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="steps has shape"):
        Series(name="x", original="x", steps=[1], epochs=[1, 2], values=[1, 2])


def test_builder_resolves_canonical_collisions() -> None:
    b = RunBuilder(name="r", source="metrics.csv", format="lightning_csv")
    for i in range(10):
        b.add("train_loss_step", 1.0 / (i + 1), step=i)
    for e in range(2):
        b.add("train_loss_epoch", 0.5, step=5 * e + 4, epoch=e)
    b.add("val_loss", math.nan, epoch=0)
    run = b.build()
    assert run["train_loss"].original == "train_loss_step"
    assert len(run["train_loss"]) == 10
    assert run["train_loss_epoch"].original == "train_loss_epoch"
    assert any("'val_loss' is NaN" in w for w in run.warnings)
    assert math.isnan(run["val_loss"].values[0])


def test_builder_bulk_and_points_merge() -> None:
    b = RunBuilder(name="r", source="x", format="tensorboard")
    b.add_series("loss", [3.0, 2.0], steps=[0, 1])
    b.add_series("loss", [1.0], steps=[2])
    run = b.build()
    assert list(run["train_loss"].values) == [3.0, 2.0, 1.0]
    assert list(run["train_loss"].steps) == [0, 1, 2]
