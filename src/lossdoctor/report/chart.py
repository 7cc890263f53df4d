"""What the charts of a diagnosis show, shared by the PNG plot and the HTML report.

Reads a `Diagnosis` only (its views, findings and evidence) and lays it out as `Panel`s: the
losses, the task metrics, the learning rate and the gradient norm, each on one x-axis, with the
findings' spans, the non-finite points and the best point placed on that axis. No statistic is
computed here: the smoothed level, the log-scale choice, the robust y-range and the best point
come from the analysis (`SeriesView`); this module only selects and positions them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lossdoctor.findings import Diagnosis, Finding, SeriesView
from lossdoctor.messages import text
from lossdoctor.names import CANONICAL, normalise

__all__ = ["COLORS", "SEVERITY_COLORS", "Marker", "Panel", "Span", "Trace", "clamp",
           "jsonable_panel", "label_at", "metric_label", "panels", "undrawn"]

#: Line colours of the series (others take `PALETTE` in order).
COLORS = {"train_loss": "#1f77b4", "val_loss": "#ff7f0e", "train_acc": "#1f77b4",
          "val_acc": "#ff7f0e", "lr": "#555555", "grad_norm": "#8c564b"}
PALETTE = ("#2ca02c", "#9467bd", "#17becf", "#e377c2", "#bcbd22", "#7f7f7f")
#: (shade, text) colours of a finding's span by severity.
SEVERITY_COLORS = {"error": ("#d62728", "#a50f15"), "warning": ("#f2b701", "#7a5c00"),
                   "info": ("#2ca02c", "#1b6e1b")}

# Kinds whose evidence names the best point of the metric (best_step / best_epoch, best_value).
_BEST_KINDS = ("overfitting", "loss_rising", "loss_up_acc_up")


@dataclass
class Trace:
    """One series on a panel: its view (None when it has no finite point) and the x positions
    of its non-finite values."""

    name: str
    label: str
    color: str
    view: SeriesView | None
    non_finite_x: np.ndarray


@dataclass
class Span:
    """A finding placed on a panel's x-axis: [x0, x1], for spikes each spike's x, and its label
    (the kind, and the metric when the panel shows several)."""

    finding: Finding
    x0: float
    x1: float
    marks: list[float]
    label: str


@dataclass
class Marker:
    """The best point of the panel's main series."""

    x: float
    y: float
    label: str


@dataclass
class Panel:
    """One chart: series sharing a y-axis meaning (losses, metrics, LR, grad norm) and one x-axis.

    Attributes:
        role: ``"loss"``, ``"metric"``, ``"lr"`` or ``"grad_norm"``.
        axis: ``"step"``, ``"epoch"`` or ``"index"``.
        title: the y-axis label.
        log: draw y on a log axis (every view that asks for it, when all can be).
        low, high: the y-range (union of the views' robust ranges); None without finite data.
    """

    role: str
    axis: str
    title: str
    traces: list[Trace]
    spans: list[Span] = field(default_factory=list)
    best: Marker | None = None
    log: bool = False
    low: float | None = None
    high: float | None = None


def metric_label(name: str, lang: str) -> str:
    """The display name of a series: translated for canonical names, else as logged."""
    return text(name, lang) if name in CANONICAL else name


def _num(v: float) -> str:
    return f"{v:.4g}"


def label_at(axis: str, x: float, lang: str) -> str:
    """``"epoch 18"`` / ``"第 18 轮"`` for a position on `axis`."""
    return text(f"at.{axis}", lang).format(x=f"{x:g}")


def _role(name: str) -> str:
    if name in ("lr", "grad_norm"):
        return name
    if name in ("train_loss", "val_loss") or "loss" in normalise(name).split("_"):
        return "loss"
    return "metric"


_ROLE_ORDER = {"loss": 0, "metric": 1, "lr": 2, "grad_norm": 3}


_TRACE_ORDER = {n: i for i, n in enumerate(CANONICAL)}


def _extent(low: float, high: float, log: bool) -> float:
    return float(np.log10(high / low)) if log else high - low


def union_range(views: list[SeriesView]) -> tuple[bool, float, float]:
    """(log, low, high) of an axis shared by `views` (non-empty): log when any of them is drawn
    in log and all their ranges are positive, the union of their robust ranges."""
    log = any(v.log for v in views) and all(v.low > 0 for v in views)
    return log, min(v.low for v in views), max(v.high for v in views)


def _comparable(traces: list[Trace]) -> bool:
    """Whether the traces' robust ranges can share a y-axis: their union is at most 10 times
    as tall as the tallest of them (else each would be drawn as a flat line)."""
    views = [t.view for t in traces if t.view is not None]
    if len(views) < 2:
        return True
    log, low, high = union_range(views)
    tallest = max(_extent(v.low, v.high, log) for v in views)
    return _extent(low, high, log) <= 10 * tallest


def _color(name: str, used: list[str]) -> str:
    if name in COLORS:
        return COLORS[name]
    c = PALETTE[len(used) % len(PALETTE)]
    used.append(c)
    return c


def _non_finite_x(d: Diagnosis, name: str) -> np.ndarray:
    s = d.run.series.get(name)
    if s is None:
        return np.zeros(0)
    x = s.x
    return np.asarray(x[~np.isfinite(s.values) & np.isfinite(x)], dtype=np.float64)


def _position(d: Diagnosis, f: Finding, axis: str) -> tuple[float, float] | None:
    s = d.run.series.get(f.metric)
    if s is None or s.axis != axis:
        return None
    x = s.x
    x0, x1 = float(x[f.start.index]), float(x[f.end.index])
    if not (np.isfinite(x0) and np.isfinite(x1)):
        return None
    return x0, x1


def _marks(f: Finding, axis: str) -> list[float]:
    at = f.evidence.get("at") if f.kind == "spike" else None
    if not isinstance(at, list) or axis not in ("step", "epoch"):
        return []
    out = []
    for p in at:
        v = p.get(axis) if isinstance(p, dict) else None
        if isinstance(v, int | float) and np.isfinite(v):
            out.append(float(v))
    return out


def best_point(d: Diagnosis) -> tuple[str, str, float, float] | None:
    """``(metric, axis, x, y)``: the best point of the run's main loss (validation, else
    training, else another loss) — the one a finding names (the best level an overfitting or
    loss_rising rose from) when there is one, else the series' best value. The chart's star
    and the comparison table both show this point."""
    main = next((n for n in ("val_loss", "train_loss") if n in d.views),
                next((n for n in d.views if _role(n) == "loss"), None))
    if main is None:
        return None
    view = d.views[main]
    for f in d.findings:
        if f.metric != main or f.kind not in _BEST_KINDS:
            continue
        x = f.evidence.get(f"best_{view.axis}")
        y = f.evidence.get("best_value", f.evidence.get("loss_at_best"))
        if isinstance(x, int | float) and isinstance(y, int | float):
            return main, view.axis, float(x), float(y)
    if view.best is None:
        return None
    return main, view.axis, float(view.x[view.best]), float(view.values[view.best])


def _best(d: Diagnosis, panel: Panel, lang: str) -> Marker | None:
    """`best_point` as the star of the panel that draws the main loss."""
    bp = best_point(d)
    if bp is None or bp[0] not in {t.name for t in panel.traces}:
        return None
    _name, axis, x, y = bp
    return Marker(x, y, _best_label(axis, x, y, lang))


def _best_label(axis: str, x: float, y: float, lang: str) -> str:
    return text("best_at", lang).format(value=_num(y), at=label_at(axis, x, lang))


def panels(d: Diagnosis, lang: str = "en") -> list[Panel]:
    """The panels of `d`, losses first: one per (role, x-axis) with data, plus a panel for the
    training/validation loss when it has no finite value at all (to show where the NaNs are).
    """
    used: list[str] = []
    groups: dict[tuple[str, str], list[Trace]] = {}
    for name, view in d.views.items():
        trace = Trace(name, metric_label(name, lang), _color(name, used), view,
                      _non_finite_x(d, name))
        groups.setdefault((_role(name), view.axis), []).append(trace)
    for name in ("train_loss", "val_loss"):
        s = d.run.series.get(name)
        if name not in d.views and s is not None and len(s):
            trace = Trace(name, metric_label(name, lang), COLORS[name], None,
                          _non_finite_x(d, name))
            if len(trace.non_finite_x):
                groups.setdefault(("loss", s.axis), []).append(trace)
    layout: list[tuple[str, str, list[Trace]]] = []
    for (role, axis), traces in sorted(groups.items(), key=lambda kv: _ROLE_ORDER[kv[0][0]]):
        traces.sort(key=lambda t: _TRACE_ORDER.get(t.name, len(_TRACE_ORDER)))
        if role == "loss" and not _comparable(traces):
            layout.extend((role, axis, [t]) for t in traces)
        else:
            layout.append((role, axis, traces))
    out = []
    for role, axis, traces in layout:
        views = [t.view for t in traces if t.view is not None]
        title = (traces[0].label if len(traces) == 1
                 else text("loss" if role == "loss" else "metrics", lang))
        p = Panel(role=role, axis=axis, title=title, traces=traces)
        if views:
            p.log, p.low, p.high = union_range(views)
        drawn = {t.name for t in traces}
        for f in d.findings:
            pos = _position(d, f, axis) if f.metric in drawn else None
            if pos is not None:
                label = text(f"kind.{f.kind}", lang)
                if len(drawn) > 1:
                    label += f" ({metric_label(f.metric, lang)})"
                p.spans.append(Span(f, pos[0], pos[1], _marks(f, axis), label))
        if role == "loss":
            p.best = _best(d, p, lang)
        out.append(p)
    return out


def undrawn(d: Diagnosis, drawn: list[Panel]) -> list[Finding]:
    """The findings no panel shows (their metric has no view, or another x-axis)."""
    shown = {id(s.finding) for p in drawn for s in p.spans}
    return [f for f in d.findings if id(f) not in shown]


#: Room drawn above and below a panel's data: this fraction of its y-range (of its decades on a
#: log axis).
Y_MARGIN = 0.06


def y_limits(log: bool, low: float | None, high: float | None) -> tuple[float, float] | None:
    """The y-limits a renderer draws for a panel's range [low, high] (PNG and HTML alike):
    `Y_MARGIN` of room on each side; None when the panel has no finite data."""
    if low is None or high is None:
        return None
    if log:
        pad = (high / low) ** Y_MARGIN if high > low else 1.5
        return low / pad, high * pad
    room = Y_MARGIN * (high - low) if high > low else max(abs(high) * 0.05, 1e-12)
    return low - room, high + room


def clamp(values: np.ndarray, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """`values` clipped to a panel's y-range [low, high], and the mask of the clipped
    (outlier) points."""
    out = (values > high) | (values < low)
    return np.clip(values, low, high), out


def jsonable_panel(p: Panel) -> dict[str, Any]:
    """`p` as plain lists and numbers (for the HTML report's chart data)."""
    traces = []
    for t in p.traces:
        tr: dict[str, Any] = {"name": t.name, "label": t.label, "color": t.color,
                              "nonFinite": t.non_finite_x.tolist()}
        if t.view is not None:
            v = t.view
            x, y = v.display()
            tr.update(x=x.tolist(), y=y.tolist())
            if p.role != "lr":  # a schedule is drawn as logged: smoothing would blur its steps
                tr.update(sx=v.smooth_x.tolist(), sy=v.smooth.tolist())
        traces.append(tr)
    return {
        "role": p.role, "axis": p.axis, "title": p.title, "log": p.log, "low": p.low,
        "high": p.high, "limits": y_limits(p.log, p.low, p.high), "traces": traces,
        "spans": [{"x0": s.x0, "x1": s.x1, "marks": s.marks, "label": s.label,
                   "kind": s.finding.kind, "severity": s.finding.severity} for s in p.spans],
        "best": None if p.best is None else {"x": p.best.x, "y": p.best.y,
                                             "label": p.best.label},
    }
