"""The HTML report: one self-contained file (no CDN, no network, works opened from disk).

Per run: a summary (healthy or not, counts by severity), interactive charts (drag to zoom,
double-click to reset, hover for values, click a legend entry to hide a series), the findings
with their evidence, every remedy with copyable code, and the long explanation of each kind found
(Markdown rendered to HTML). With several runs: a comparison table and overlay charts of the
smoothed losses of every run.

Charts: uPlot 1.6.32 (MIT), vendored minified in ``assets/`` (51 KB) and inlined. Chosen over
inline SVG with hand-written JavaScript: SVG paths of every raw point grow the page by ~40 bytes a
point and get slow to hover past ~10^4 points, and zoom, a hover legend with values, series toggles,
log axes and cursor sync would take several hundred lines of our own script; uPlot draws on a
canvas (10^5 points stay fluid), does all of that in 51 KB, and writes every label with
``textContent``. Our script (``assets/report.js``) only adds the findings' spans, the best point,
NaN markers and copy buttons.

Escaping: every string from a log (run, file, metric names, evidence) goes into the markup through
`html.escape`; the chart data is JSON in a ``<script type="application/json">`` block with ``<``,
``>`` and ``&`` written as ``\\u`` escapes and read with ``JSON.parse``; the script puts strings in
the page with ``textContent`` only and attaches listeners with ``addEventListener``. A
Content-Security-Policy allows no network at all and runs only the report's own two scripts (by
their SHA-256), so an escaping bug could still neither run a script nor load anything.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt

from lossdoctor import __version__
from lossdoctor.errors import LossdoctorError
from lossdoctor.explain import explanation
from lossdoctor.findings import KINDS, SEVERITIES, Diagnosis, Finding, jsonable
from lossdoctor.messages import check_lang, point_label, text
from lossdoctor.messages_lines import Message, localise
from lossdoctor.report import run_count
from lossdoctor.report.chart import (
    best_point,
    jsonable_panel,
    label_at,
    metric_label,
    panels,
    union_range,
    y_limits,
)

__all__ = ["UPLOT_VERSION", "render_html", "write_html"]

#: The vendored uPlot release (``assets/uPlot.iife.min.js``).
UPLOT_VERSION = "1.6.32"

# Colours of the runs in the overlay charts (matplotlib's tab10).
_RUN_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
               "#7f7f7f", "#bcbd22", "#17becf")

# Labels the script needs, by key of `messages.text`.
_JS_LABELS = ("step", "epoch", "index", "smoothed", "outlier", "non_finite_points", "no_finite",
              "copy", "copied")


def _e(s: object) -> str:
    """Escape for HTML text and attribute values."""
    return html.escape(str(s), quote=True)


@lru_cache(maxsize=8)
def _asset(name: str) -> str:
    return (resources.files("lossdoctor") / "report" / "assets" / name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    # Raw HTML in the Markdown is escaped (html=False); unsafe link schemes are refused.
    return MarkdownIt("commonmark", {"html": False}).enable("table")


def _csp_hash(content: str) -> str:
    digest = hashlib.sha256(content.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def _json_for_script(data: Any) -> str:
    """JSON safe inside a ``<script>`` element: no ``<``, ``>`` or ``&`` characters at all."""
    s = json.dumps(jsonable(data), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _num(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return "—" if v is None else str(v)
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, dict | list | tuple):
        return json.dumps(jsonable(v), ensure_ascii=False, allow_nan=False)
    return str(v)


def _status(d: Diagnosis, lang: str) -> str:
    cls = "healthy" if d.healthy else "unhealthy"
    return f'<span class="status {cls}">{_e(text(cls, lang))}</span>'


def _counts(d: Diagnosis, lang: str) -> str:
    parts = [f'<span class="count sev-{k}">{_e(text(k, lang))} <b>{n}</b></span>'
             for k, n in reversed(list(d.counts().items()))]
    return '<span class="counts">' + "".join(parts) + "</span>"


def _finding(f: Finding, run_i: int, j: int, lang: str) -> str:
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(_num(v))}</td></tr>"
                   for k, v in f.evidence.items())
    remedies = []
    for k, r in enumerate(f.remedies):
        d = r.to_dict(lang)
        code = ""
        if r.code:
            cid = f"code-{run_i}-{j}-{k}"
            code = (f'<div class="code"><button type="button" class="copy" data-target="{cid}">'
                    f'{_e(text("copy", lang))}</button><pre><code id="{cid}" '
                    f'class="language-python">{_e(r.code)}</code></pre></div>')
        remedies.append(f'<li><p>{_e(d["text"])}</p>{code}</li>')
    remedy_html = (f'<div class="remedies"><h4>{_e(text("remedies", lang))}</h4>'
                   f'<ol>{"".join(remedies)}</ol></div>' if remedies else "")
    span = point_label(f.start, lang)
    if f.end != f.start:
        span += f" → {point_label(f.end, lang)}"
    return (
        f'<li class="finding sev-{_e(f.severity)}" id="run-{run_i}-finding-{j}">'
        f'<div class="finding-head"><span class="sev">{_e(text(f.severity, lang))}</span> '
        f'<strong class="kind">{_e(text("kind." + f.kind, lang))}</strong> '
        f'<code>{_e(f.kind)}</code> <span class="metric">{_e(metric_label(f.metric, lang))}'
        f'</span> <span class="span">{_e(span)}</span> <span class="confidence">'
        f'{_e(text("confidence", lang))} {f.confidence:.2f}</span></div>'
        f'<p class="summary">{_e(f.summary(lang))}</p>'
        f'<details class="evidence"><summary>{_e(text("evidence", lang))}</summary>'
        f'<table>{rows}</table></details>{remedy_html}'
        f'<p class="more"><a href="#explain-{_e(f.kind)}">{_e(text("explanation", lang))} ↓</a>'
        f"</p></li>"
    )


def _run_section(d: Diagnosis, i: int, lang: str) -> str:
    run = d.run
    metrics = ", ".join(f"{metric_label(n, lang)} [{len(s)}]" for n, s in run.series.items())
    findings = "".join(_finding(f, i, j, lang) for j, f in enumerate(d.findings))
    findings_html = (f'<ol class="findings">{findings}</ol>' if findings
                     else f'<p class="none">{_e(text("no_findings", lang))}</p>')
    warnings = list(run.warnings) + list(d.notes)
    warn_html = ""
    if warnings:
        items = "".join(f"<li>{_e(localise(w, lang))}</li>" for w in warnings)
        warn_html = (f'<details class="warnings"><summary>{_e(text("read_warnings", lang))} '
                     f"({len(warnings)})</summary><ul>{items}</ul></details>")
    return (
        f'<section class="run" id="run-{i}">'
        f'<h2><span class="run-name">{_e(run.name)}</span> {_status(d, lang)}</h2>'
        f'<p class="meta"><span class="source">{_e(run.source)}</span> · '
        f'<span class="format">{_e(run.format)}</span> · {_counts(d, lang)}</p>'
        f'<details class="metrics"><summary>{_e(text("metrics", lang))} '
        f"({len(run.series)})</summary>{_e(metrics)}</details>"
        f'<div class="charts" data-run="{i}"></div>'
        f'<p class="help">{_e(text("chart_help", lang))}</p>'
        f'<h3>{_e(text("findings", lang))}</h3>{findings_html}{warn_html}</section>'
    )


def _best_cell(d: Diagnosis, lang: str) -> str:
    bp = best_point(d)
    if bp is None:
        return "—"
    name, axis, x, y = bp
    return f"{_e(metric_label(name, lang))}: {y:.4g} ({_e(label_at(axis, x, lang))})"


def _comparison(diagnoses: Sequence[Diagnosis], lang: str) -> str:
    head = "".join(f"<th>{_e(text(k, lang))}</th>" for k in
                   ("run", "format", "summary", "error", "warning", "info", "kinds", "best_col"))
    rows = []
    for i, d in enumerate(diagnoses):
        c = d.counts()
        kinds = ", ".join(text(f"kind.{k}", lang) for k in d.kinds())
        rows.append(
            f'<tr><td><a href="#run-{i}">{_e(d.run.name)}</a></td><td>{_e(d.run.format)}</td>'
            f"<td>{_status(d, lang)}</td>"
            + "".join(f'<td class="num sev-{k}">{c[k]}</td>' for k in reversed(SEVERITIES))
            + f"<td>{_e(kinds) or '—'}</td><td>{_best_cell(d, lang)}</td></tr>"
        )
    return (f'<section class="comparison"><h2>{_e(text("comparison", lang))}</h2>'
            f'<table class="compare"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}'
            f'</tbody></table><div class="charts" data-overlay="1"></div>'
            f'<p class="help">{_e(text("chart_help", lang))}</p></section>')


def _overlays(diagnoses: Sequence[Diagnosis], lang: str) -> list[dict[str, Any]]:
    """One chart per (loss, x-axis): the smoothed level of that loss in every run."""
    out = []
    for name in ("val_loss", "train_loss"):
        by_axis: dict[str, list[tuple[int, Diagnosis]]] = {}
        for i, d in enumerate(diagnoses):
            v = d.views.get(name)
            if v is not None:
                by_axis.setdefault(v.axis, []).append((i, d))
        for axis, items in by_axis.items():
            views = [d.views[name] for _, d in items]
            log, low, high = union_range(views)
            out.append({
                "role": "loss", "axis": axis, "log": log,
                "title": f"{metric_label(name, lang)} — {text('overlay', lang)}",
                "low": low, "high": high, "limits": y_limits(log, low, high),
                "traces": [{"name": name, "label": d.run.name,
                            "color": _RUN_COLORS[i % len(_RUN_COLORS)],
                            "x": d.views[name].smooth_x.tolist(),
                            "y": d.views[name].smooth.tolist(), "nonFinite": []}
                           for i, d in items],
                "spans": [], "best": None,
            })
    return out


def _explanations(diagnoses: Sequence[Diagnosis], lang: str) -> str:
    found = {f.kind for d in diagnoses for f in d.findings}
    if not found:
        return ""
    md = _markdown()
    parts = []
    for kind in KINDS:
        if kind in found:
            body = md.render(explanation(kind, lang))
            parts.append(f'<details class="explanation" id="explain-{kind}"><summary>'
                         f'{_e(text("kind." + kind, lang))} <code>{kind}</code></summary>'
                         f'<div class="md">{body}</div></details>')
    return (f'<section class="explanations"><h2>{_e(text("explanations", lang))}</h2>'
            f'{"".join(parts)}</section>')


def render_html(diagnoses: Sequence[Diagnosis], *, lang: str | None = None,
                title: str | None = None) -> str:
    """The report of `diagnoses` as one HTML document.

    Args:
        diagnoses: one or more diagnosed runs.
        lang: ``"en"`` or ``"zh"`` for every text (default: from the locale).
        title: the page title (default: "lossdoctor report", plus the run name for one run).
    """
    lang = check_lang(lang)
    diagnoses = list(diagnoses)
    if not diagnoses or not all(isinstance(d, Diagnosis) for d in diagnoses):
        raise TypeError("render_html() takes a non-empty sequence of Diagnosis objects")
    if title is None:
        title = text("report_title", lang)
        if len(diagnoses) == 1:
            title += f" — {diagnoses[0].run.name}"
    data = {
        "labels": {k: text(k, lang) for k in _JS_LABELS},
        "runs": [[jsonable_panel(p) for p in panels(d, lang)] for d in diagnoses],
        "overlays": _overlays(diagnoses, lang) if len(diagnoses) > 1 else [],
    }
    css = _asset("uPlot.min.css") + "\n" + _asset("report.css")
    uplot_js = _asset("uPlot.iife.min.js")
    app_js = _asset("report.js")
    csp = (f"default-src 'none'; script-src {_csp_hash(uplot_js)} {_csp_hash(app_js)}; "
           f"style-src {_csp_hash(css)}; img-src data:; base-uri 'none'; form-action 'none'")
    summary = run_count(diagnoses, lang).text(lang)
    body = "".join(_run_section(d, i, lang) for i, d in enumerate(diagnoses))
    return (
        f'<!DOCTYPE html>\n<html lang="{"zh-CN" if lang == "zh" else "en"}"><head>'
        f'<meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{css}</style></head><body>"
        f'<header><h1>{_e(title)}</h1><p class="summary-line">{_e(summary)} · '
        f'{_e(text("generated_by", lang))} {_e(__version__)}</p></header><main>'
        + (_comparison(diagnoses, lang) if len(diagnoses) > 1 else "")
        + body
        + _explanations(diagnoses, lang)
        + '</main><script type="application/json" id="ld-data">'
        + _json_for_script(data)
        + f"</script><script>{uplot_js}</script><script>{app_js}</script></body></html>\n"
    )


def write_html(diagnoses: Sequence[Diagnosis], path: str | os.PathLike[str], *,
               lang: str | None = None) -> Path:
    """Write `render_html(diagnoses)` to `path` (UTF-8); returns the path."""
    out = Path(path)
    try:
        out.write_text(render_html(diagnoses, lang=lang), encoding="utf-8")
    except OSError as exc:
        raise LossdoctorError(Message("report.cannot_write_html", path=out,
                                      reason=exc.strerror)) from None
    return out
