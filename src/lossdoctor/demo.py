"""``lossdoctor demo``: diagnose the example runs shipped inside the package, print the
diagnosis, and write ``report.html`` and ``report.png``.

The examples live in ``lossdoctor/examples/<name>/`` (a log of a small model trained with this
repository, and a README saying how it was made); they are found with `importlib.resources`, so
the demo works from an installed wheel as well as from a checkout.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from rich.console import Console

from lossdoctor.diagnosis import diagnose_all
from lossdoctor.errors import LossdoctorError
from lossdoctor.findings import Diagnosis
from lossdoctor.messages import check_lang, text
from lossdoctor.messages_lines import Message
from lossdoctor.read import read
from lossdoctor.run import Run

__all__ = ["DemoResult", "example_runs", "run_demo"]


@dataclass
class DemoResult:
    """What the demo wrote: the HTML report of every example, the PNG of one of them."""

    diagnoses: list[Diagnosis]
    html: Path
    png: Path
    plotted: Diagnosis


def example_runs() -> list[Run]:
    """Every run of the shipped examples, in example-folder order (READMEs are skipped)."""
    runs: list[Run] = []
    with ExitStack() as stack:
        root = stack.enter_context(resources.as_file(resources.files("lossdoctor") / "examples"))
        if not root.is_dir():
            raise LossdoctorError(Message("demo.no_examples", path=root))
        for folder in sorted(p for p in root.iterdir() if not p.name.startswith((".", "_"))):
            if folder.is_dir() or not folder.name.lower().startswith("readme"):
                runs.extend(r for r in read(folder)
                            if not Path(r.source).name.lower().startswith("readme"))
    if not runs:
        raise LossdoctorError(Message("demo.no_logs", path=root))
    return runs


def run_demo(out: str | os.PathLike[str] = ".", *, lang: str | None = None,
             console: Console | None = None) -> DemoResult:
    """Diagnose the examples, print the diagnosis to `console`, write ``report.html`` (every
    example) and ``report.png`` (the first example that needs attention, else the first) in
    `out` (created if missing), and print where they are.

    Args:
        out: the output directory (default: the current one).
        lang: ``"en"`` or ``"zh"`` (default: from the locale).
        console: where to print (default: standard output).
    """
    from lossdoctor.report.html import write_html
    from lossdoctor.report.plot import save_plots
    from lossdoctor.report.terminal import render_diagnoses

    lang = check_lang(lang)
    console = console or Console(highlight=False, soft_wrap=True)
    out_dir = Path(out)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LossdoctorError(Message("demo.cannot_create", path=out_dir,
                                      reason=exc.strerror)) from None
    diagnoses = diagnose_all(example_runs())
    render_diagnoses(diagnoses, console, lang=lang)
    plotted = next((d for d in diagnoses if not d.healthy), diagnoses[0])
    html = write_html(diagnoses, out_dir / "report.html", lang=lang)
    png = save_plots([plotted], out_dir / "report.png", lang=lang)[0]
    console.print()
    console.print(f"{text('wrote_html', lang)}: {html.resolve()}", markup=False,
                  soft_wrap=True)
    console.print(f"{text('wrote_png', lang)} ({plotted.run.name}): {png.resolve()}",
                  markup=False, soft_wrap=True)
    return DemoResult(diagnoses=diagnoses, html=html, png=png, plotted=plotted)
