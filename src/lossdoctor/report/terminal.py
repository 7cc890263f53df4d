"""The terminal report of a diagnosis (rich; plain text when not a TTY or with NO_COLOR)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.syntax import Syntax

from lossdoctor.findings import Diagnosis, Finding
from lossdoctor.messages import text

__all__ = ["render_diagnoses"]

_STYLE = {"error": "bold red", "warning": "yellow", "info": "green"}
_ICON = {"error": "✖", "warning": "▲", "info": "✔"}

# Evidence keys that are shown elsewhere or are too long for the terminal.
_HIDDEN = {"at", "first"}


def _evidence(f: Finding) -> str:
    parts = []
    for k, v in f.evidence.items():
        if k in _HIDDEN or v is None or isinstance(v, dict | list):
            continue
        if isinstance(v, float):
            parts.append(f"{k}={v:.4g}")
        else:
            parts.append(f"{k}={v}")
    return ", ".join(parts)


def _render_one(d: Diagnosis, console: Console, *, lang: str, code: bool) -> None:
    run = d.run
    status = (f"[bold green]{text('healthy', lang)}[/]" if d.healthy
              else f"[bold red]{text('unhealthy', lang)}[/]")
    console.print(f"[bold]{escape(run.name)}[/]  [dim]{escape(run.source)} "
                  f"({escape(run.format)})[/]  {status}")
    metrics = ", ".join(f"{escape(n)}[{len(s)}]" for n, s in run.series.items())
    console.print(f"  [dim]{metrics}[/]")
    if not d.findings:
        console.print(f"  {text('no_findings', lang)}")
    for f in d.findings:
        style = _STYLE[f.severity]
        console.print(f"  [{style}]{_ICON[f.severity]} {f.kind}[/] [dim]{escape(f.metric)}[/]  "
                      f"{escape(f.summary(lang))}")
        ev = _evidence(f)
        if ev:
            console.print(f"      [dim]{text('evidence', lang)}: {escape(ev)}[/]")
        for i, r in enumerate(f.remedies, 1):
            console.print(f"      {i}. {escape(r.to_dict(lang)['text'])}")
            if code and r.code:
                console.print(Syntax(r.code, "python", theme="ansi_dark", word_wrap=True,
                                     background_color="default", padding=(0, 0, 0, 9)))
    for w in run.warnings + d.notes:
        console.print(f"  [yellow]warning:[/] {escape(w)}")


def render_diagnoses(diagnoses: list[Diagnosis], console: Console, *, lang: str = "en",
                     code: bool = True) -> None:
    """Print every diagnosis: status, findings with evidence, ranked remedies and their code."""
    for i, d in enumerate(diagnoses):
        if i:
            console.print()
        _render_one(d, console, lang=lang, code=code)
    if len(diagnoses) > 1:
        bad = sum(not d.healthy for d in diagnoses)
        console.print(f"\n{len(diagnoses)} {text('runs', lang)}: "
                      f"{len(diagnoses) - bad} {text('healthy', lang)}, "
                      f"{bad} {text('unhealthy', lang)}")
