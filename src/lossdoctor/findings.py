"""What the rules produce: `Finding`s (with `Remedy`s) collected in a `Diagnosis`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lossdoctor.messages_lines import localise
from lossdoctor.run import Run

__all__ = ["KINDS", "SEVERITIES", "Diagnosis", "Finding", "Point", "Remedy", "SeriesView",
           "severity_rank"]

#: Every finding kind, in the order they are reported (most urgent first).
KINDS = (
    "non_finite",
    "divergence",
    "loss_rising",
    "overfitting",
    "loss_up_acc_up",
    "spike",
    "oscillation",
    "plateau",
    "underfitting",
    "converged",
)
#: Severities, least to most severe.
SEVERITIES = ("info", "warning", "error")


def severity_rank(severity: str) -> int:
    """0 for info, 1 for warning, 2 for error."""
    return SEVERITIES.index(severity)


def _num(v: float | None) -> float | int | None:
    """A JSON-safe number: None for NaN/inf/None, int for integral values."""
    if v is None:
        return None
    f = float(v)
    if not math.isfinite(f):
        return None
    return int(f) if f.is_integer() and abs(f) < 2**53 else f


def jsonable(value: Any) -> Any:
    """`value` with every float made JSON-safe (NaN/inf → None), recursively."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) or hasattr(value, "__float__"):
        return _num(float(value))
    return str(value)


@dataclass(frozen=True)
class Point:
    """A position on a series: the step and epoch the log gave (None when unknown) and the
    index of the point in the series."""

    step: float | None
    epoch: float | None
    index: int

    def to_dict(self) -> dict[str, Any]:
        return {"step": _num(self.step), "epoch": _num(self.epoch)}

    def label(self, lang: str = "en") -> str:
        """``"epoch 18 (step 1800)"``, ``"epoch 18"``, ``"step 1800"`` or ``"point 7"``."""
        from lossdoctor.messages import point_label

        return point_label(self, lang)


@dataclass
class Remedy:
    """One ranked remedy: a stable name, its parameters (from the evidence) and a snippet."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    code: str = ""

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        from lossdoctor.messages import remedy_text

        return {
            "name": self.name,
            "text": remedy_text(self, lang),
            "params": jsonable(self.params),
            "code": self.code,
        }


@dataclass
class Finding:
    """What a rule found on one metric.

    Attributes:
        kind: one of `KINDS`.
        metric: the series it is about (canonical name).
        severity: ``"info"``, ``"warning"`` or ``"error"``.
        start, end: the span it covers.
        evidence: the numbers that prove it (JSON-ready after `jsonable`).
        confidence: 0–1, how clear the evidence is.
        remedies: ranked, most useful first (filled by `lossdoctor.prescribe`).
        detected_at: for the live watcher, where the finding was first reported.
    """

    kind: str
    metric: str
    severity: str
    start: Point
    end: Point
    evidence: dict[str, Any] = field(default_factory=dict)
    confidence: float = 1.0
    remedies: list[Remedy] = field(default_factory=list)
    detected_at: Point | None = None

    def summary(self, lang: str = "en") -> str:
        """The one-line summary in `lang` (``"en"`` or ``"zh"``)."""
        from lossdoctor.messages import finding_summary

        return finding_summary(self, lang)

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        d: dict[str, Any] = {
            "kind": self.kind,
            "severity": self.severity,
            "metric": self.metric,
            "start": self.start.to_dict(),
            "end": self.end.to_dict(),
            "confidence": round(float(self.confidence), 3),
            "evidence": jsonable(self.evidence),
            "summary": self.summary(lang),
            "remedies": [r.to_dict(lang) for r in self.remedies],
        }
        if self.detected_at is not None:
            d["detected_at"] = self.detected_at.to_dict()
        return d


@dataclass(frozen=True)
class SeriesView:
    """What a renderer needs to draw one series, computed by the analysis (renderers never
    compute statistics).

    Attributes:
        name: the series' canonical name.
        axis: ``"step"``, ``"epoch"`` or ``"index"`` — the unit of `x`.
        x, values: the finite points kept for analysis, in order.
        smooth_x, smooth: the robust smoothed level, in the metric's own units.
        log: True when the metric spans orders of magnitude (draw it on a log axis).
        low, high: a y-range that shows the curve without letting outliers flatten it; points
            outside it are outliers to clamp and mark.
        best: index (in `x`) of the best point, or None for metrics without a direction.
    """

    name: str
    axis: str
    x: np.ndarray
    values: np.ndarray
    smooth_x: np.ndarray
    smooth: np.ndarray
    log: bool
    low: float
    high: float
    best: int | None

    def display(self, max_points: int = 4000) -> tuple[np.ndarray, np.ndarray]:
        """(x, values) thinned to about `max_points` for drawing: each bucket of consecutive
        points keeps its lowest and highest value, so spikes and dips stay visible."""
        n = len(self.values)
        if n <= max_points:
            return self.x, self.values
        buckets = max(1, max_points // 2)
        edges = np.linspace(0, n, buckets + 1).astype(np.int64)
        size = int(np.min(np.diff(edges)))
        idx = edges[:-1, None] + np.arange(size)[None, :]
        block = self.values[idx]
        lo = idx[np.arange(buckets), np.argmin(block, axis=1)]
        hi = idx[np.arange(buckets), np.argmax(block, axis=1)]
        keep = np.unique(np.concatenate([lo, hi, [n - 1]]))
        return self.x[keep], self.values[keep]


@dataclass
class Diagnosis:
    """The findings of every rule on one run, most urgent first, and the views of its main
    series for renderers (`views`: canonical name → `SeriesView`)."""

    run: Run
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    views: dict[str, SeriesView] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        """True when nothing but `converged` was found."""
        return all(f.kind == "converged" for f in self.findings)

    def counts(self) -> dict[str, int]:
        """Number of findings per severity."""
        out = dict.fromkeys(SEVERITIES, 0)
        for f in self.findings:
            out[f.severity] += 1
        return out

    def kinds(self) -> list[str]:
        """The distinct kinds found, in report order."""
        seen: list[str] = []
        for f in self.findings:
            if f.kind not in seen:
                seen.append(f.kind)
        return seen

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        """The design's JSON object for this run (see `lossdoctor.report.json`); numbers are
        JSON-safe (None for NaN/inf)."""
        return jsonable({
            "name": self.run.name,
            "source": self.run.source,
            "format": self.run.format,
            "metrics": {
                name: {k: s.summary()[k] for k in ("points", "first_step", "last_step",
                                                   "first_epoch", "last_epoch")}
                for name, s in self.run.series.items()
            },
            "healthy": self.healthy,
            "counts": self.counts(),
            "findings": [f.to_dict(lang) for f in self.findings],
            "warnings": [localise(w, lang) for w in (*self.run.warnings, *self.notes)],
        })
