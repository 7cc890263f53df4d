"""`lossdoctor show`: what was read, per run (terminal table or JSON)."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lossdoctor.messages import text
from lossdoctor.messages_lines import localise
from lossdoctor.run import Run

__all__ = ["runs_to_json", "show_runs"]


def run_to_dict(run: Run, lang: str = "en") -> dict[str, Any]:
    """The JSON-ready description of one run (no values, only counts and ranges); the
    warnings in `lang`."""
    return {
        "name": run.name,
        "source": run.source,
        "format": run.format,
        "metrics": {name: s.summary() for name, s in run.series.items()},
        "warnings": [localise(w, lang) for w in run.warnings],
    }


def runs_to_json(runs: list[Run], lang: str = "en") -> str:
    """``{"schema": 1, "runs": [...]}`` as indented JSON (UTF-8 text, not ``\\u`` escapes)."""
    return json.dumps({"schema": 1, "runs": [run_to_dict(r, lang) for r in runs]}, indent=2,
                      ensure_ascii=False, allow_nan=False)


def _range(a: Any, b: Any) -> str:
    if a is None:
        return "-"
    return f"{a:g}" if a == b else f"{a:g}..{b:g}"


def show_runs(runs: list[Run], console: Console, *, lang: str = "en") -> None:
    """Print one table per run: metric, original name, points, step and epoch ranges; headers
    and warnings in `lang`."""
    for i, run in enumerate(runs):
        if i:
            console.print()
        console.print(f"[bold]{escape(run.name)}[/]  [dim]{escape(run.source)}[/]  "
                      f"{text('format', lang)}=[cyan]{escape(run.format)}[/]")
        rows = []
        for name, s in run.series.items():
            d = s.summary()
            rows.append((
                escape(name),
                escape(s.original) if s.original != name else "",
                str(d["points"]),
                _range(d["first_step"], d["last_step"]),
                _range(d["first_epoch"], d["last_epoch"]),
                "-" if d["min"] is None else f"{d['min']:.4g}..{d['max']:.4g}",
                str(d["non_finite"]) if d["non_finite"] else "",
            ))
        table = Table(box=None, pad_edge=False, header_style="bold")
        for j, (col, justify) in enumerate((
                ("metric", "left"), ("original", "left"), ("points", "right"),
                ("steps", "right"), ("epochs", "right"), ("values", "right"),
                ("non_finite", "right"))):
            # numbers are never cut short; a narrow console folds the original names instead
            widest = max((len(r[j]) for r in rows), default=0)
            table.add_column(text(f"show.{col}", lang), justify=justify,  # type: ignore[arg-type]
                             overflow="fold", min_width=None if col == "original" else widest)
        for row in rows:
            table.add_row(*row)
        console.print(table)
        for w in run.warnings:
            console.print(f"  [yellow]{text('warning', lang)}:[/] {escape(localise(w, lang))}")
