"""The ``lossdoctor`` command line."""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from collections.abc import Callable, Sequence

from rich.console import Console

from lossdoctor import __version__
from lossdoctor.errors import LossdoctorError, ReadWarning
from lossdoctor.findings import Diagnosis
from lossdoctor.messages_lines import Message
from lossdoctor.read import FORMATS, read
from lossdoctor.run import Run

__all__ = ["main"]

EXIT_OK, EXIT_FOUND, EXIT_USAGE = 0, 1, 2


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """The reader closed the pipe (``| head``): stop quietly; `main` decides the exit code
        (rich's default exits with 1, the code for findings)."""
        self.quiet = True
        raise BrokenPipeError


def _silence_stdout() -> None:
    """After the reader closed the pipe: point stdout at /dev/null, so that later prints and
    the interpreter's final flush do not fail on it."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _console(stderr: bool = False) -> Console:
    return _Console(stderr=stderr, no_color=bool(os.environ.get("NO_COLOR")), highlight=False,
                    soft_wrap=True)


def _read_all(paths: Sequence[str], fmt: str | None) -> list[Run]:
    runs: list[Run] = []
    for p in paths:
        runs.extend(read(p, format=fmt))
    return runs


def _lang(args: argparse.Namespace) -> str:
    """The language of every text: ``--lang`` when the command has it, else the locale's."""
    from lossdoctor.messages import default_lang

    return getattr(args, "lang", None) or default_lang()


def _cmd_show(args: argparse.Namespace) -> int:
    from lossdoctor.report.show import runs_to_json, show_runs

    runs = _read_all(args.paths, args.format)
    if args.json:
        print(runs_to_json(runs, _lang(args)))
    else:
        show_runs(runs, _console(), lang=_lang(args))
    return EXIT_OK


_RECOMMEND_FLAGS = {
    "probabilities=False": "--no-probabilities",
    "n_samples": "--n-samples",
    "batch_size": "--batch-size",
    "n_classes": "--n-classes",
    "imbalance_ratio": "--imbalance-ratio",
    "outliers": "--outliers",
    "epochs": "--epochs",
    "task=": "--task ",
}


def _as_flags(problem: str) -> str:
    """`recommend`'s error, with its keyword names written as the CLI's flags."""
    pattern = "|".join(re.escape(k) + (r"\b" if k[-1].isalnum() else "") for k in _RECOMMEND_FLAGS)
    return re.sub(pattern, lambda m: _RECOMMEND_FLAGS[m.group(0)], problem)


def _cmd_recommend(args: argparse.Namespace) -> int:
    import json

    from lossdoctor.train.recommend import recommend

    outliers: bool | str = "heavy" if args.outliers == "heavy" else args.outliers == "some"
    try:
        recipe = recommend(task=args.task, n_samples=args.n_samples, batch_size=args.batch_size,
                           n_classes=args.n_classes, imbalance_ratio=args.imbalance_ratio,
                           outliers=outliers, epochs=args.epochs,
                           probabilities=not args.no_probabilities)
    except ValueError as exc:
        raise LossdoctorError(Message("cli.recommend", problem=_as_flags(str(exc)))) from None
    if args.json:
        print(json.dumps(recipe.to_dict(), indent=2, ensure_ascii=False))
    else:
        _console().print(recipe)
    return EXIT_OK


def _kinds(value: str) -> list[str]:
    return [k.strip() for k in value.split(",") if k.strip()]


def _check_kind_options(args: argparse.Namespace) -> None:
    """--select, --ignore and --fail-on name known kinds (checked before any log is read)."""
    from lossdoctor.diagnosis import check_kinds

    for option in ("select", "ignore"):
        value = getattr(args, option, None)
        if value:
            check_kinds(_kinds(value), option)
    if getattr(args, "fail_on", None) is not None:
        _fails([], args.fail_on)


def _fails(diagnoses: list[Diagnosis], fail_on: str) -> bool:
    """Whether any finding is at or above the --fail-on severity or of a --fail-on kind."""
    from lossdoctor.findings import KINDS, SEVERITIES, severity_rank

    tokens = _kinds(fail_on)
    if tokens in (["never"], ["none"]):
        return False
    unknown = [t for t in tokens if t not in SEVERITIES and t not in KINDS]
    if unknown:
        raise LossdoctorError(Message("cli.fail_on", unknown=", ".join(unknown),
                                      kinds=", ".join(KINDS), severities=", ".join(SEVERITIES)))
    severities = [severity_rank(t) for t in tokens if t in SEVERITIES]
    threshold = min(severities) if severities else None
    kinds = {t for t in tokens if t in KINDS}
    return any(
        f.kind in kinds or (threshold is not None and severity_rank(f.severity) >= threshold)
        for d in diagnoses
        for f in d.findings
    )


def _diagnose_paths(args: argparse.Namespace) -> list[Diagnosis]:
    """Read `args.paths` and diagnose every run with the --select/--ignore/--metric options."""
    from lossdoctor.diagnosis import check_metric, diagnose_all

    _check_kind_options(args)
    runs = _read_all(args.paths, args.format)
    metric = getattr(args, "metric", None)
    for run in runs:
        check_metric(run, metric)
    return diagnose_all(
        runs,
        select=_kinds(args.select) if args.select else None,
        ignore=_kinds(args.ignore) if args.ignore else None,
        metric=metric,
    )


def _cmd_diagnose(args: argparse.Namespace) -> int:
    from lossdoctor.messages import text

    lang = _lang(args)
    diagnoses = _diagnose_paths(args)
    try:
        if args.json:
            from lossdoctor.report.json import diagnoses_to_json

            print(diagnoses_to_json(diagnoses, lang))
        else:
            from lossdoctor.report.terminal import render_diagnoses

            render_diagnoses(diagnoses, _console(), lang=lang, code=not args.no_code)
        sys.stdout.flush()  # a closed pipe shows here, not at the interpreter's exit
    except BrokenPipeError:  # `| head`: the exit code still says what was found
        _silence_stdout()
    if args.plot:
        from lossdoctor.report.plot import save_plots  # imports matplotlib: only when asked

        for path in save_plots(diagnoses, args.plot, lang=lang):
            print(f"{text('wrote_png', lang)}: {path}", file=sys.stderr)
    return EXIT_FOUND if _fails(diagnoses, args.fail_on) else EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    from lossdoctor.report import run_count
    from lossdoctor.report.html import write_html

    lang = _lang(args)
    diagnoses = _diagnose_paths(args)
    path = write_html(diagnoses, args.output, lang=lang)
    print(Message("report.wrote_html", path=path, count=run_count(diagnoses, lang)).text(lang))
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from lossdoctor.demo import run_demo

    run_demo(args.out, lang=args.lang, console=_console())
    return EXIT_OK


def _cmd_explain(args: argparse.Namespace) -> int:
    from lossdoctor.explain import explanation, title
    from lossdoctor.findings import KINDS

    lang = _lang(args)
    console = _console()
    if args.kind is None:
        for k in KINDS:
            console.print(f"[bold]{k:16s}[/] {title(k, lang)}")
        return EXIT_OK
    md = explanation(args.kind, lang)
    if console.is_terminal:
        from rich.markdown import Markdown

        console.print(Markdown(md))
    else:
        print(md, end="" if md.endswith("\n") else "\n")
    return EXIT_OK


def _cmd_watch(args: argparse.Namespace) -> int:
    from lossdoctor.findings import Finding
    from lossdoctor.messages import point_label, text
    from lossdoctor.report.terminal import render_diagnoses
    from lossdoctor.watch.follow import follow

    lang = _lang(args)
    _check_kind_options(args)
    console = _console()

    def emit(f: Finding, d: Diagnosis) -> None:
        at = point_label(f.detected_at, lang)
        if lang == "en":
            line = f"[{at}] {f.severity} {f.kind} on {f.metric}: {f.summary(lang)}"
        else:
            line = (f"[{at}] {text(f.severity, lang)} {text('kind.' + f.kind, lang)}"
                    f"（{f.metric}）：{f.summary(lang)}")
        console.print(line, markup=False)

    try:
        result = follow(args.path, format=args.format, idle=args.idle, interval=args.interval,
                        select=_kinds(args.select) if args.select else None,
                        ignore=_kinds(args.ignore) if args.ignore else None, emit=emit)
    except ValueError as exc:
        raise LossdoctorError(Message("cli.watch", problem=str(exc))) from None
    if not result.diagnoses:
        raise result.error or LossdoctorError(Message("cli.nothing_read", path=args.path))
    render_diagnoses(result.diagnoses, console, lang=lang, code=False)
    return EXIT_FOUND if _fails(result.diagnoses, args.fail_on) else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(
        prog="lossdoctor",
        description="Read training curves, diagnose what the training is doing, prescribe the fix.",
    )
    parser.add_argument("--version", action="version", version=f"lossdoctor {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    show = sub.add_parser("show", help="list what was read from logs, per run")
    show.add_argument("paths", nargs="+", metavar="PATH", help="log file or directory")
    show.add_argument("--format", metavar="FORMAT",
                      help=f"force a reader: {', '.join(FORMATS)}")
    show.add_argument("--json", action="store_true", help="print JSON instead of a table")
    show.add_argument("--lang", choices=["en", "zh"], help="language (default: from the locale)")
    show.set_defaults(func=_cmd_show)

    diag = sub.add_parser("diagnose", help="say what the training is doing and what to change")
    diag.add_argument("paths", nargs="+", metavar="PATH", help="log file or directory")
    diag.add_argument("--format", metavar="FORMAT",
                      help=f"force a reader: {', '.join(FORMATS)}")
    diag.add_argument("--json", action="store_true", help="print the JSON report")
    diag.add_argument("--select", metavar="KINDS", help="only these kinds (comma-separated)")
    diag.add_argument("--ignore", metavar="KINDS", help="never these kinds (comma-separated)")
    diag.add_argument("--fail-on", metavar="KINDS|SEVERITY", default="warning",
                      help="exit 1 when a finding of these kinds or at/above this severity is "
                      "found (default: warning; 'never' always exits 0)")
    diag.add_argument("--metric", metavar="NAME", help="diagnose only this metric")
    diag.add_argument("--lang", choices=["en", "zh"], help="language (default: from the locale)")
    diag.add_argument("--no-code", action="store_true", help="omit the remedies' code")
    diag.add_argument("--plot", metavar="OUT.png",
                      help="also save an annotated plot; with several runs one file each, "
                      "named OUT-<i>-<run>.png")
    diag.set_defaults(func=_cmd_diagnose)

    rep = sub.add_parser("report", help="write a self-contained interactive HTML report")
    rep.add_argument("paths", nargs="+", metavar="PATH", help="log file or directory")
    rep.add_argument("-o", "--output", metavar="FILE", default="report.html",
                     help="the HTML file to write (default: report.html)")
    rep.add_argument("--format", metavar="FORMAT",
                     help=f"force a reader: {', '.join(FORMATS)}")
    rep.add_argument("--select", metavar="KINDS", help="only these kinds (comma-separated)")
    rep.add_argument("--ignore", metavar="KINDS", help="never these kinds (comma-separated)")
    rep.add_argument("--lang", choices=["en", "zh"], help="language (default: from the locale)")
    rep.set_defaults(func=_cmd_report)

    demo = sub.add_parser("demo", help="diagnose the shipped example runs and write "
                          "report.html and report.png")
    demo.add_argument("--out", metavar="DIR", default=".",
                      help="where to write report.html and report.png (default: here)")
    demo.add_argument("--lang", choices=["en", "zh"], help="language (default: from the locale)")
    demo.set_defaults(func=_cmd_demo)

    expl = sub.add_parser("explain", help="the long explanation of a finding kind")
    expl.add_argument("kind", nargs="?", metavar="KIND", help="a kind; omit to list them all")
    expl.add_argument("--lang", choices=["en", "zh"], help="language (default: from the locale)")
    expl.set_defaults(func=_cmd_explain)

    watch = sub.add_parser("watch", help="follow a log file being written; print findings as "
                           "they appear")
    watch.add_argument("path", metavar="PATH", help="the log file, or a directory such as a W&B "
                       "run directory or TensorBoard logdir (waited for if missing)")
    watch.add_argument("--format", metavar="FORMAT",
                       help=f"force a reader: {', '.join(FORMATS)}")
    watch.add_argument("--idle", type=float, default=30.0, metavar="SECONDS",
                       help="stop when the file has not changed for this long (default 30)")
    watch.add_argument("--interval", type=float, default=1.0, metavar="SECONDS",
                       help="seconds between checks (default 1)")
    watch.add_argument("--select", metavar="KINDS", help="only these kinds (comma-separated)")
    watch.add_argument("--ignore", metavar="KINDS", help="never these kinds (comma-separated)")
    watch.add_argument("--fail-on", metavar="KINDS|SEVERITY", default="warning",
                       help="exit 1 when the final diagnosis has a finding of these kinds or "
                       "at/above this severity (default: warning)")
    watch.add_argument("--lang", choices=["en", "zh"], help="language (default: from the locale)")
    watch.set_defaults(func=_cmd_watch)

    rec = sub.add_parser("recommend", help="a loss, optimizer, LR, schedule and regularisation "
                         "for a task")
    rec.add_argument("--task", required=True, choices=["regression", "binary", "multiclass"],
                     help="what the model predicts")
    rec.add_argument("--n-samples", type=int, help="number of training samples")
    rec.add_argument("--batch-size", type=int, help="batch size (chosen when omitted)")
    rec.add_argument("--n-classes", type=int, help="number of classes (multiclass)")
    rec.add_argument("--imbalance-ratio", type=float,
                     help="samples of the most frequent class per sample of the rarest")
    rec.add_argument("--outliers", choices=["none", "some", "heavy"], default="none",
                     help="outliers in the regression targets")
    rec.add_argument("--epochs", type=int, help="epoch budget (chosen when omitted)")
    rec.add_argument("--no-probabilities", action="store_true",
                     help="multiclass: only the predicted class matters")
    rec.add_argument("--json", action="store_true", help="print JSON instead of a table")
    rec.set_defaults(func=_cmd_recommend)
    return parser


def _one_line_warnings(lang: str) -> Callable[..., None]:
    """A `warnings.showwarning` printing ``lossdoctor: warning: <message>`` in `lang` (other
    categories than `ReadWarning` are tagged with their class name)."""

    def show(message: Warning | str, category: type[Warning], *_args: object,
             **_kwargs: object) -> None:
        if issubclass(category, ReadWarning):
            body = message.args[0] if isinstance(message, Warning) and message.args else message
            line = Message("cli.warning", message=body).text(lang)
        else:
            line = f"lossdoctor: {category.__name__}: {message}"
        print(line, file=sys.stderr)

    return show


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 findings at/above --fail-on, 2 bad input).

    Errors and warnings are one line on stderr, in the command's ``--lang`` (else the
    locale's language)."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # reported with the command's own usage, not the top-level one
        subparsers = next(a for a in parser._actions
                          if isinstance(a, argparse._SubParsersAction))
        subparsers.choices[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    lang = _lang(args)
    warnings.showwarning = _one_line_warnings(lang)
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # a closed pipe shows here, not at the interpreter's exit
        return code
    except LossdoctorError as exc:
        print(Message("cli.error", message=exc.message).text(lang), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
