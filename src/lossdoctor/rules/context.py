"""`Context`: what every rule reads — the run's curves by role, and its LR schedule events."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from lossdoctor.curve import Curve
from lossdoctor.names import normalise, split_phase
from lossdoctor.run import Run, Series

__all__ = ["Context", "Schedule"]

# Which validation metric speaks for the model, most general first.
_METRIC_PRIORITY = {"accuracy": 0, "acc": 0, "f1": 1, "wer": 2, "cer": 2, "bleu": 3, "rouge": 3,
                    "auc": 4, "precision": 5, "recall": 5}

# Monotone transforms of the loss (perplexity = exp(loss)): not an independent task metric.
_LOSS_TRANSFORMS = {"perplexity", "ppl", "nll", "bpc", "bpd", "loss"}

# A training loss logged by step with at least this many points is a per-step minibatch curve …
MINIBATCH_POINTS = 50
# … and so is one logged at least this many times per evaluation (a step-logged validation
# curve with a third of its points or fewer): the training points are then single minibatches
# or means over a fraction of an epoch, not epoch averages.
TRAIN_LOGS_PER_EVAL = 3

# A logged LR that changes by this factor between two logged points is a schedule event.
_LR_EVENT_FACTOR = 1.5


def _is_loss(series: Series) -> bool:
    if series.name in ("train_loss", "val_loss"):
        return True
    return series.direction == "min" and "loss" in normalise(series.original).split("_")


#: An LR that ends at most this fraction of where it was has been annealed.
ANNEALED = 0.1


@dataclass(frozen=True)
class Schedule:
    """LR schedule events on a curve's axis.

    Attributes:
        drops: axis positions where the logged LR fell by ≥ 1.5× from one point to the next.
        step_drops: those of `drops` where the LR had held (within 1%) over the step before:
            a step decay or a ReduceLROnPlateau cut, not the tail of a smooth decay to zero.
        rises: axis positions where it rose by ≥ 1.5× after the warmup (warm restarts).
        warmup_end: axis position where an initial LR ramp peaks, or None.
        lr: (x, lr) of the LR series on the same axis, or None when no LR was logged.
    """

    drops: np.ndarray
    step_drops: np.ndarray
    rises: np.ndarray
    warmup_end: float | None
    lr: tuple[np.ndarray, np.ndarray] | None

    def near(self, x0: float, x1: float, kind: str = "any") -> bool:
        """True if an event of `kind` (``"drop"``, ``"step_drop"``, ``"rise"``, ``"any"``) lies
        in [x0, x1]."""
        events = {"drop": self.drops, "step_drop": self.step_drops, "rise": self.rises}.get(
            kind, np.concatenate([self.drops, self.rises])
        )
        return bool(np.any((events >= x0) & (events <= x1)))

    def lr_ratio(self, x0: float, x1: float) -> float | None:
        """lr(x1) / lr(x0) from the logged LR, or None without one."""
        if self.lr is None:
            return None
        lx, lv = self.lr
        a, b = np.interp([x0, x1], lx, lv)
        return float(b / a) if a > 0 else None

    def annealed(self, x0: float, x1: float) -> bool:
        """The logged LR never went above its value at x0 over [x0, x1] and ended at most
        ANNEALED times it (a decay towards zero: the weights barely move by the end)."""
        if self.lr is None:
            return False
        lx, lv = self.lr
        a, b = np.interp([x0, x1], lx, lv)
        inside = lv[(lx >= x0) & (lx <= x1)]
        return bool(a > 0 and b <= ANNEALED * a and not np.any(inside > a * (1 + 1e-9)))


_NO_SCHEDULE = Schedule(np.zeros(0), np.zeros(0), np.zeros(0), None, None)


class Context:
    """The run as the rules see it.

    Roles: `train` (the training loss), `val` (the validation loss), `val_metric` (the task
    metric evaluated with it: accuracy-like, F1, WER …), `grad_norm`, and `losses` (every
    loss-like curve, e.g. both losses of a GAN). `metric` restricts the loss roles to one series.
    """

    def __init__(self, run: Run, *, metric: str | None = None) -> None:
        self.run = run
        self.metric = metric
        self._curves: dict[str, Curve] = {}
        self._schedules: dict[str, Schedule] = {}

    def curve(self, name: str) -> Curve | None:
        """The prepared curve of series `name` (None if absent or without finite points)."""
        s = self.run.series.get(name)
        if s is None:
            return None
        c = self._curves.get(name)
        if c is None:
            c = self._curves[name] = Curve.from_series(s)
        return c if len(c) else None

    def _pick(self, phase: str, *, loss: bool) -> str | None:
        """The first series of `phase` (``"train"``: anything not validation or test) that is a
        loss (``loss=True``) or a directed metric that is not one; for losses, a run that logs
        none by that name (``train_mse``, ``val_mse``) falls back to its first lower-is-better
        metric."""
        fallback = None
        for name, s in self.run.series.items():
            if name in ("lr", "grad_norm") or s.direction is None:
                continue
            norm = normalise(s.original)
            p, _ = split_phase(norm)
            if (p == "val") != (phase == "val") or "test" in norm.split("_"):
                continue
            if loss == _is_loss(s):
                return name
            if loss and fallback is None and s.direction == "min":
                fallback = name
        return fallback

    @cached_property
    def train(self) -> Curve | None:
        """The training loss (``train_loss``, else the first non-validation loss)."""
        if self.metric is not None:
            s = self.run.series.get(self.metric)
            if s is None or split_phase(normalise(s.original))[0] == "val":
                return None
            return self.curve(self.metric)
        name = "train_loss" if "train_loss" in self.run.series else self._pick("train", loss=True)
        return self.curve(name) if name else None

    @cached_property
    def val(self) -> Curve | None:
        """The validation loss (``val_loss``, else the first validation-phase loss)."""
        if self.metric is not None:
            s = self.run.series.get(self.metric)
            if s is None or split_phase(normalise(s.original))[0] != "val":
                return None
            return self.curve(self.metric)
        name = "val_loss" if "val_loss" in self.run.series else self._pick("val", loss=True)
        return self.curve(name) if name else None

    @cached_property
    def val_metric(self) -> Curve | None:
        """The task metric evaluated on validation data: ``val_acc``, else the most general
        validation-phase metric that is not a loss and has a known direction (accuracy before
        F1 before error rates …; per-class metrics such as ``eval_T005_f1`` come last)."""
        if "val_acc" in self.run.series:
            return self.curve("val_acc")
        best: tuple[tuple[int, int, int], str] | None = None
        for name, s in self.run.series.items():
            if name in ("lr", "grad_norm") or s.direction is None or _is_loss(s):
                continue
            phase, rest = split_phase(normalise(s.original))
            tokens = rest.split("_")
            if phase != "val" or set(tokens) & _LOSS_TRANSFORMS:
                continue
            rank = min((_METRIC_PRIORITY.get(t, 9) for t in tokens), default=9)
            specific = sum(any(ch.isdigit() for ch in t) for t in tokens)
            key = (specific, rank, len(tokens))
            if best is None or key < best[0]:
                best = (key, name)
        return self.curve(best[1]) if best else None

    @cached_property
    def losses(self) -> list[Curve]:
        """The loss curves the per-curve rules look at: the training and validation losses, or,
        when a run has neither (a GAN's generator and discriminator losses), every loss-like
        curve; only the selected metric when one is selected."""
        if self.metric is not None:
            c = self.curve(self.metric)
            return [c] if c is not None else []
        main = [c for c in (self.train, self.val) if c is not None]
        if main:
            return main
        out = []
        for name, s in self.run.series.items():
            if name in ("lr", "grad_norm") or not _is_loss(s):
                continue
            c = self.curve(name)
            if c is not None:
                out.append(c)
        return out

    def val_improves(self, src: Curve, x0: float, x1: float) -> bool:
        """Whether the validation loss (three evaluations or more) improved by at least 5% over
        [x0, x1] of `src`'s axis without climbing back: the model still generalises better over
        that stretch, so noise or a stall of the training loss there is benign."""
        from lossdoctor.analysis import relative
        from lossdoctor.rules._rise import persistent_rise

        v = self.val
        if v is None or len(v) < 3:
            return False
        span = self.map_range(src, x0, x1, v) if src is not v else (x0, x1)
        if span is None:
            return False
        i0, i1 = v.at_x(span[0]), v.at_x(span[1])
        if i1 - i0 >= 3:
            # medians of the evaluations around either end (three at the start, two at the end)
            a = float(np.median(v.y[max(0, i0 - 1) : i0 + 2]))
            b = float(np.median(v.y[i1 - 1 : i1 + 1]))
        else:
            # too few for medians that do not overlap: the first and last evaluations inside
            # the stretch (the nearest one after it may already show the way out of a stall)
            i0 = int(np.searchsorted(v.x, span[0], side="left"))
            i1 = int(np.searchsorted(v.x, span[1], side="right")) - 1
            if i1 <= i0:
                return False
            a, b = float(v.y[i0]), float(v.y[i1])
        return relative(v, a, b) <= -0.05 and not persistent_rise(v)

    @cached_property
    def val_generalises(self) -> bool:
        """The validation loss improved by at least 10% over the run and did not climb back:
        the model generalises, so the minibatch noise of the training loss is benign."""
        from lossdoctor.analysis import relative, shape
        from lossdoctor.rules._rise import persistent_rise

        v = self.val
        if v is None or len(v) < 4:
            return False
        sh = shape(v)
        return -relative(v, sh.start, sh.low) >= 0.1 and not persistent_rise(v)

    def minibatch(self, c: Curve) -> bool:
        """Whether `c` is a per-step curve of minibatch losses (noisy by nature): a training-side
        loss positioned by step with at least MINIBATCH_POINTS points or TRAIN_LOGS_PER_EVAL
        points per point of a step-logged validation loss (or, with no step or epoch at all,
        4× MINIBATCH_POINTS points) — not a curve of evaluations or epoch averages."""
        if c is self.val:
            return False
        axis = c.series.axis
        if axis == "index":
            return len(c) >= 4 * MINIBATCH_POINTS
        if axis != "step":
            return False
        if len(c) >= MINIBATCH_POINTS:
            return True
        v = self.val
        return (v is not None and v.series.axis == "step"
                and split_phase(normalise(c.series.original))[0] != "val"
                and len(c) >= TRAIN_LOGS_PER_EVAL * len(v))

    @cached_property
    def grad_norm(self) -> Curve | None:
        return self.curve("grad_norm") if "grad_norm" in self.run.series else None

    def map_range(self, src: Curve, x0: float, x1: float, dst: Curve) -> tuple[float, float] | None:
        """The range of `dst`'s axis covering [x0, x1] of `src`'s axis, through an axis both
        share (steps, else epochs); None when they share none."""
        if src.series.axis == dst.series.axis != "index":
            return x0, x1
        for axis in ("step", "epoch"):
            a, b = src.on_axis(axis), dst.on_axis(axis)
            if a is None or b is None:
                continue
            b = np.maximum.accumulate(b)
            lo, hi = a[src.at_x(x0)], a[src.at_x(x1)]
            j0 = min(int(np.searchsorted(b, lo, side="left")), len(b) - 1)
            j1 = max(int(np.searchsorted(b, hi, side="right")) - 1, j0)
            return float(dst.x[j0]), float(dst.x[j1])
        return None

    def schedule(self, curve: Curve) -> Schedule:
        """LR events on `curve`'s axis (empty when no LR series shares that axis)."""
        axis = curve.series.axis
        if axis not in self._schedules:
            self._schedules[axis] = self._build_schedule(axis)
        return self._schedules[axis]

    def _build_schedule(self, axis: str) -> Schedule:
        s = self.run.series.get("lr")
        if s is None or axis == "index":
            return _NO_SCHEDULE
        x = s.steps if axis == "step" else s.epochs
        v = s.values
        ok = np.isfinite(x) & np.isfinite(v) & (v > 0)
        if np.count_nonzero(ok) < 2:
            return _NO_SCHEDULE
        x, v = x[ok], v[ok]
        order = np.argsort(x, kind="stable")
        x, v = x[order], v[order]
        r = np.diff(np.log(v))
        big = np.log(_LR_EVENT_FACTOR)
        peak = int(np.argmax(v))
        warmup_end = float(x[peak]) if peak > 0 and np.all(r[:peak] >= -1e-12) else None
        after = np.arange(1, len(x)) > peak if warmup_end is not None else np.ones(len(r), bool)
        drop = r <= -big
        drops = x[1:][drop]
        held = np.concatenate([[False], np.abs(r[:-1]) <= 0.01])
        rises = x[1:][(r >= big) & after]
        return Schedule(drops=drops, step_drops=x[1:][drop & held], rises=rises,
                        warmup_end=warmup_end, lr=(x, v))
