"""The terminal report of a diagnosis (rich; plain text when not a TTY or with NO_COLOR)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.syntax import Syntax
from rich.text import Text

from lossdoctor.findings import Diagnosis, Finding
from lossdoctor.messages import text
from lossdoctor.messages_lines import localise
from lossdoctor.names import CANONICAL
from lossdoctor.report import run_count

__all__ = ["render_diagnoses"]

_STYLE = {"error": "bold red", "warning": "yellow", "info": "green"}
_ICON = {"error": "✖", "warning": "▲", "info": "✔"}

# Evidence keys that are shown elsewhere or are too long for the terminal.
_HIDDEN = {"at", "first"}
# Metrics listed under a run's name before "+N".
_MAX_METRICS = 8


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
    names = sorted(run.series, key=lambda n: n not in CANONICAL)  # stable: logged order
    shown = ", ".join(f"{escape(n)}[{len(run.series[n])}]" for n in names[:_MAX_METRICS])
    more = f", +{len(names) - _MAX_METRICS}" if len(names) > _MAX_METRICS else ""
    console.print(f"  [dim]{shown}{more}[/]")
    if not d.findings:
        console.print(f"  {text('no_findings', lang)}")
    for f in d.findings:
        style = _STYLE[f.severity]
        name = text(f"kind.{f.kind}", lang)
        label = f.kind if lang == "en" else f"{f.kind}（{name}）"
        console.print(f"  [{style}]{_ICON[f.severity]} {label}[/] [dim]{escape(f.metric)}[/]  "
                      f"{escape(f.summary(lang))}")
        ev = _evidence(f)
        if ev:
            console.print(f"      [dim]{text('evidence', lang)}: {escape(ev)}[/]")
        for i, r in enumerate(f.remedies, 1):
            console.print(f"      {i}. {escape(r.to_dict(lang)['text'])}")
            if code and r.code:
                # whole lines, never wrapped or cropped (a cropped line is wrong code);
                # highlighted on a terminal, plain when piped
                lines = _python(r.code).split("\n") if console.is_terminal else [
                    Text(line) for line in r.code.rstrip("\n").splitlines()]
                console.print(Text("\n").join(Text(" " * 9) + line for line in lines),
                              soft_wrap=True)
    for w in run.warnings + d.notes:
        console.print(f"  [yellow]{text('warning', lang)}:[/] {escape(localise(w, lang))}")


def render_diagnoses(diagnoses: list[Diagnosis], console: Console, *, lang: str = "en",
                     code: bool = True) -> None:
    """Print every diagnosis: status, findings with evidence, ranked remedies and their code."""
    for i, d in enumerate(diagnoses):
        if i:
            console.print()
        _render_one(d, console, lang=lang, code=code)
    if len(diagnoses) > 1:
        console.print("\n" + run_count(diagnoses, lang).text(lang))


def _python(code: str) -> Text:
    """Python source as highlighted text (no layout: the console never crops it)."""
    code = code.rstrip("\n")
    return Syntax(code, "python", theme="ansi_dark", background_color="default").highlight(code)
