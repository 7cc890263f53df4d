"""The ``lossdoctor`` command line."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence

from rich.console import Console

from lossdoctor import __version__
from lossdoctor.errors import LossdoctorError, ReadWarning
from lossdoctor.read import FORMATS, read
from lossdoctor.run import Run

__all__ = ["main"]

EXIT_OK, EXIT_FOUND, EXIT_USAGE = 0, 1, 2


def _console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, no_color=bool(os.environ.get("NO_COLOR")), highlight=False,
                   soft_wrap=True)


def _read_all(paths: Sequence[str], fmt: str | None) -> list[Run]:
    runs: list[Run] = []
    for p in paths:
        runs.extend(read(p, format=fmt))
    return runs


def _cmd_show(args: argparse.Namespace) -> int:
    from lossdoctor.report.show import runs_to_json, show_runs

    runs = _read_all(args.paths, args.format)
    if args.json:
        print(runs_to_json(runs))
    else:
        show_runs(runs, _console())
    return EXIT_OK


def _cmd_recommend(args: argparse.Namespace) -> int:
    import json

    from lossdoctor.train.recommend import recommend

    outliers = {"none": False, "some": True, "heavy": "heavy"}[args.outliers]
    try:
        recipe = recommend(task=args.task, n_samples=args.n_samples, batch_size=args.batch_size,
                           n_classes=args.n_classes, imbalance_ratio=args.imbalance_ratio,
                           outliers=outliers, epochs=args.epochs,
                           probabilities=not args.no_probabilities)
    except ValueError as exc:
        raise LossdoctorError(f"recommend: {exc}") from None
    if args.json:
        print(json.dumps(recipe.to_dict(), indent=2, ensure_ascii=False))
    else:
        _console().print(recipe)
    return EXIT_OK


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
    show.add_argument("--format", choices=list(FORMATS), help="force a reader")
    show.add_argument("--json", action="store_true", help="print JSON instead of a table")
    show.set_defaults(func=_cmd_show)

    rec = sub.add_parser("recommend", help="a loss, optimizer, LR, schedule and regularisation "
                         "for a task")
    rec.add_argument("--task", required=True, choices=["regression", "binary", "multiclass"])
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


def _warn_one_line(message: Warning | str, category: type[Warning], *_args: object,
                   **_kwargs: object) -> None:
    tag = "warning" if issubclass(category, ReadWarning) else category.__name__
    print(f"lossdoctor: {tag}: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 findings at/above --fail-on, 2 bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.showwarning = _warn_one_line
    try:
        return int(args.func(args))
    except LossdoctorError as exc:
        print(f"lossdoctor: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
