"""Run the rules on a `Run` and collect a `Diagnosis`."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from lossdoctor.errors import InternalError, LossdoctorError
from lossdoctor.findings import KINDS, Diagnosis, Finding, severity_rank
from lossdoctor.messages_lines import Message
from lossdoctor.prescribe import prescribe
from lossdoctor.read import read
from lossdoctor.rules import rule
from lossdoctor.rules.context import Context
from lossdoctor.rules.oscillation import WILD_AMPLITUDE
from lossdoctor.run import Run

__all__ = ["diagnose", "diagnose_all", "diagnose_run"]

# Kinds a finding makes redundant on the same metric: the first explains the others.
#: With fewer points than this on its training and validation curves, most rules cannot run
#: (oscillation needs 6, plateau 8, overfitting and loss_rising 4): the diagnosis says so.
SHORT_CURVE = 6

_SUPERSEDES = {
    "divergence": {"loss_rising", "converged", "underfitting", "oscillation", "spike"},
    "overfitting": {"loss_rising", "converged", "plateau", "oscillation"},
    "loss_rising": {"converged", "underfitting", "plateau", "oscillation"},
    "oscillation": {"converged"},
    "plateau": {"converged"},
    "underfitting": {"converged"},
}


def check_kinds(kinds: Iterable[str] | None, option: str) -> set[str] | None:
    """`kinds` as a set (None stays None); `LossdoctorError` naming `option` when one of them
    is not a finding kind."""
    if kinds is None:
        return None
    out = set(kinds)
    unknown = out - set(KINDS)
    if unknown:
        raise LossdoctorError(Message("diagnose.unknown_kinds", option=option,
                                      unknown=", ".join(sorted(unknown)),
                                      known=", ".join(KINDS)))
    return out


def check_metric(run: Run, metric: str | None) -> None:
    """`LossdoctorError` when `metric` is given and `run` has no series of that name."""
    if metric is not None and metric not in run.series:
        raise LossdoctorError(Message(
            "diagnose.no_metric", source=run.source, metric=metric,
            metrics=", ".join(run.series) if run.series else Message("none")))


# Kinds on the training loss that explain these kinds on the validation loss when they start
# no earlier (its bouncing and jumps follow from a training run that blows up or climbs).
_TRAIN_EXPLAINS_VAL = {
    "divergence": {"spike", "oscillation", "plateau", "converged", "loss_rising", "overfitting",
                   "loss_up_acc_up"},
    "non_finite": {"spike", "oscillation", "plateau", "converged", "loss_rising", "overfitting",
                   "loss_up_acc_up"},
    "loss_rising": {"oscillation", "converged", "plateau"},
}


def _within(f: Finding, findings: list[Finding]) -> bool:
    """Spikes on a loss's way up are part of its rise: all of them between the rise's best and
    its peak. (A spike that stands out after the peak is an event of its own.)"""
    if f.kind != "spike":
        return False
    at = [p["index"] for p in f.evidence["at"]]
    return any(
        g.kind == "loss_rising" and g.metric == f.metric
        and all(g.start.index <= i <= g.evidence["peak"]["index"] for i in at)
        for g in findings
    )


def _wild(f: Finding) -> bool:
    """An oscillation by at least `WILD_AMPLITUDE` of its level: the rule judged the bouncing to
    be the story whatever the drift, so a rise of the same metric does not explain it away, and
    the spikes of that metric are its peaks."""
    return f.kind == "oscillation" and f.evidence["relative_amplitude_pct"] >= 100 * WILD_AMPLITUDE


def _in_wild_bouncing(f: Finding, findings: list[Finding]) -> bool:
    """Spikes of a loss that oscillates wildly are its peaks, not events of their own."""
    return f.kind == "spike" and any(_wild(g) and g.metric == f.metric for g in findings)


_RISES = {"loss_rising", "overfitting"}


def _not_before(f: Finding, g: Finding) -> bool:
    """Whether `f` reaches into `g`'s span (it ends no earlier than `g` starts; compared by step,
    else epoch; True when the two cannot be compared): a validation finding that ended before
    the training run broke is its own story."""
    for unit in ("step", "epoch"):
        end, start = getattr(f.end, unit), getattr(g.start, unit)
        if end is not None and start is not None:
            return bool(end >= start)
    return True


def _resolve(findings: list[Finding], train: str | None, val: str | None) -> list[Finding]:
    by_metric: dict[str, set[str]] = {}
    for f in findings:
        by_metric.setdefault(f.metric, set()).add(f.kind)
    on_train = [g for g in findings if g.metric == train] if train else []
    out = []
    for f in findings:
        kinds = by_metric[f.metric]
        by = {k for k in kinds if k != f.kind and f.kind in _SUPERSEDES.get(k, ())}
        if by and not (_wild(f) and by <= _RISES):
            continue
        if f.metric == val and any(f.kind in _TRAIN_EXPLAINS_VAL.get(g.kind, ())
                                   and _not_before(f, g) for g in on_train):
            continue  # what the validation loss does after the training run broke
        if _within(f, findings) or _in_wild_bouncing(f, findings):
            continue
        out.append(f)
    # loss_up_acc_up qualifies an overfitting finding (its rise, read beside the task metric):
    # without one on the same metric the rise belongs to another story (the training loss
    # climbed too, after a warm restart or a too-long warmup).
    overfit = {f.metric for f in out if f.kind == "overfitting"}
    out = [f for f in out if f.kind != "loss_up_acc_up" or f.metric in overfit]
    order = {k: i for i, k in enumerate(KINDS)}
    out.sort(key=lambda f: (-severity_rank(f.severity), order[f.kind]))
    return out


# Values near the float limit (1e308) overflow to ±inf in intermediate sums and differences;
# the analysis is written for IEEE semantics, so numpy's warnings about it are only noise.
@np.errstate(over="ignore", invalid="ignore")
def diagnose_run(
    run: Run,
    *,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
    metric: str | None = None,
) -> Diagnosis:
    """Diagnose one `Run`.

    Args:
        run: the run to diagnose.
        select: only these kinds (default: all of `KINDS`).
        ignore: never these kinds.
        metric: analyse only this series (its canonical name) as the loss.

    Returns:
        The `Diagnosis`, findings most severe first, each with ranked remedies.

    Raises:
        InternalError: a rule failed on this run (a bug; the exception is its ``__cause__``).
    """
    sel = check_kinds(select, "select")
    ign = check_kinds(ignore, "ignore") or set()
    check_metric(run, metric)
    ctx = Context(run, metric=metric)
    findings: list[Finding] = []
    for kind in KINDS:
        try:
            findings.extend(rule(kind).check(ctx))
        except Exception as exc:
            raise InternalError(Message("diagnose.internal", source=run.source, kind=kind,
                                        error=f"{type(exc).__name__}: {exc}")) from exc
    findings = _resolve(findings, ctx.train.name if ctx.train else None,
                        ctx.val.name if ctx.val else None)
    findings = [f for f in findings if (sel is None or f.kind in sel) and f.kind not in ign]
    for f in findings:
        f.remedies = prescribe(f, ctx)
    notes: list[str] = []
    for main in {id(c): c for c in (ctx.train, ctx.val) if c is not None}.values():
        if main.superseded:
            notes.append(Message("diagnose.relogged", metric=main.name, count=main.superseded))
    if not any(s.direction is not None for s in run.series.values()):
        notes.append(Message("diagnose.no_direction"))
    mains = [c for c in (ctx.train, ctx.val) if c is not None]
    if mains and max(len(c) for c in mains) < SHORT_CURVE:
        notes.append(Message("diagnose.short", count=max(len(c) for c in mains),
                             need=SHORT_CURVE))
    views = {}
    names = ["train_loss", "val_loss", "val_acc", "train_acc", "lr", "grad_norm"]
    names += [c.name for c in (ctx.train, ctx.val, ctx.val_metric) if c is not None]
    for name in names:
        view_curve = ctx.curve(name)
        if name not in views and view_curve is not None and len(view_curve) >= 2:
            views[name] = view_curve.view()
    return Diagnosis(run=run, findings=findings, notes=notes, views=views)


def diagnose(
    run_or_path: Run | str | os.PathLike[str],
    *,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
    metric: str | None = None,
) -> Diagnosis:
    """Diagnose a `Run`, or the single run in a log file.

    A path holding several runs raises `LossdoctorError`; use `diagnose_all` for those.
    """
    if isinstance(run_or_path, Run):
        run = run_or_path
    else:
        runs = read(run_or_path)
        if len(runs) != 1:
            raise LossdoctorError(Message("diagnose.many_runs", path=os.fspath(run_or_path),
                                          count=len(runs)))
        run = runs[0]
    return diagnose_run(run, select=select, ignore=ignore, metric=metric)


def _diagnose_kw(args: tuple[Run, dict[str, object]]) -> Diagnosis:
    run, kw = args
    return diagnose_run(run, **kw)  # type: ignore[arg-type]


def diagnose_all(
    runs_or_paths: Sequence[Run | str | os.PathLike[str]],
    *,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
    metric: str | None = None,
    jobs: int | None = None,
) -> list[Diagnosis]:
    """Diagnose many runs (paths are read first; a directory may hold many runs).

    With more than 16 runs the work is spread over `jobs` processes (default: every core).
    """
    runs: list[Run] = []
    for item in runs_or_paths:
        runs.extend([item] if isinstance(item, Run) else read(item))
    kw: dict[str, object] = {
        "select": None if select is None else list(select),
        "ignore": None if ignore is None else list(ignore),
        "metric": metric,
    }
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    if len(runs) <= 16 or workers <= 1:
        return [diagnose_run(r, **kw) for r in runs]  # type: ignore[arg-type]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_diagnose_kw, [(r, kw) for r in runs], chunksize=8))
