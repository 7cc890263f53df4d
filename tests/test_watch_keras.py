"""The Keras 3 callback (torch backend), driven by a real ``model.fit`` on a tiny model: stop at
overfitting with the best weights restored, roll back weights that went NaN."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":  # keras was imported earlier with another backend
    pytest.skip("keras runs on another backend in this process", allow_module_level=True)

from lossdoctor.watch.integrations.keras import LossdoctorKerasCallback  # noqa: E402

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")]

BEST = 20


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5], [0.3]], dtype="float32")
    return x, y


def model() -> keras.Model:
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    m.compile(optimizer=keras.optimizers.SGD(learning_rate=0.02), loss="mse")
    return m


class InjectValLoss(keras.callbacks.Callback):
    """val_loss bottoms at epoch BEST then rises; the weights of every epoch are kept."""

    def __init__(self) -> None:
        super().__init__()
        self.weights: list[np.ndarray] = []

    def on_epoch_end(self, epoch, logs=None):  # type: ignore[no-untyped-def]
        logs["val_loss"] = 0.5 + 0.6 * math.exp(-epoch / 6) + 0.004 * max(0, epoch - BEST) ** 1.3
        self.weights.append(self.model.get_weights()[0].copy())


class BreakAt(keras.callbacks.Callback):
    """After batch `at`, the weights are NaN and so is the loss reported (a bad update)."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at, self.n = at, 0

    def on_train_batch_end(self, batch, logs=None):  # type: ignore[no-untyped-def]
        if self.n == self.at:
            self.model.set_weights([np.full_like(w, np.nan) for w in self.model.get_weights()])
            logs["loss"] = math.nan
        self.n += 1


def test_fit_stops_at_overfitting_and_restores_the_best_weights() -> None:
    m = model()
    inject = InjectValLoss()
    cb = LossdoctorKerasCallback(autopilot=True)
    x, y = data()
    hist = m.fit(x, y, batch_size=64, epochs=60, callbacks=[inject, cb], verbose=0,
                 shuffle=False)
    w = cb.watch
    assert w is not None and w.should_stop
    assert len(hist.history["loss"]) < 60  # stopped early
    assert [a.name for a in w.actions] == ["stop", "restore_best"]
    assert w.actions[0].kind == "overfitting" and all(a.applied for a in w.actions)
    assert np.array_equal(m.get_weights()[0], inject.weights[BEST])
    assert {"train_loss", "lr", "val_loss"} <= set(w.run().series)


def test_weights_gone_nan_are_rolled_back() -> None:
    m = model()
    cb = LossdoctorKerasCallback(autopilot={"snapshot_every": 4})
    x, y = data()
    m.fit(x, y, batch_size=16, epochs=10, callbacks=[BreakAt(13), cb], verbose=0,
          shuffle=False)
    w = cb.watch
    assert w is not None
    acts = [(a.name, a.step, a.applied) for a in w.actions]
    assert acts[:2] == [("rollback", 13.0, True), ("lower_lr", 13.0, True)]
    assert all(np.isfinite(v).all() for v in m.get_weights())
    assert float(keras.ops.convert_to_numpy(m.optimizer.learning_rate)) == pytest.approx(0.006)
    # the abandoned steps (the NaN among them) left the run; training went on to the end
    losses = w.run()["train_loss"].values
    assert np.isfinite(losses).all() and len(losses) >= 36 and not w.should_stop


def test_a_second_fit_continues_the_same_run() -> None:
    """fit(initial_epoch=…) with the same callback goes on with the same watcher (it built a
    new one, with steps from 0 and no history); a new model gets a new watcher."""
    m = model()
    cb = LossdoctorKerasCallback()
    x, y = data()
    m.fit(x, y, batch_size=16, epochs=2, callbacks=[cb], verbose=0, shuffle=False)
    first = cb.watch
    assert first is not None
    n = first.history.points("train_loss")
    m.fit(x, y, batch_size=16, initial_epoch=2, epochs=4, callbacks=[cb], verbose=0,
          shuffle=False)
    assert cb.watch is first
    steps = first.run()["train_loss"].steps
    assert len(steps) == 2 * n and list(steps) == list(range(2 * n))
    m2 = model()
    m2.fit(x, y, batch_size=16, epochs=1, callbacks=[cb], verbose=0, shuffle=False)
    assert cb.watch is not first


def test_options_are_checked_when_the_callback_is_made() -> None:
    with pytest.raises(TypeError, match="LossdoctorKerasCallback takes 'optimizer' from the model"):
        LossdoctorKerasCallback(optimizer=object())
    with pytest.raises(TypeError, match="bogus"):
        LossdoctorKerasCallback(bogus=1)


def test_import_without_the_backend_says_what_to_do() -> None:
    """Keras's default backend is TensorFlow: without it, importing the callback raises an
    ImportError that says to set KERAS_BACKEND=torch (not a bare ModuleNotFoundError)."""
    import importlib.util
    import subprocess
    import sys

    if importlib.util.find_spec("tensorflow") is not None:
        pytest.skip("tensorflow is installed: the default backend imports")
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    proc = subprocess.run(
        [sys.executable, "-c", "import lossdoctor.watch.integrations.keras"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode != 0
    assert last.startswith("ImportError: lossdoctor's Keras callback needs Keras 3")
    assert "set KERAS_BACKEND=torch" in last
