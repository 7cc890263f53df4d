"""lossdoctor: reads training curves like an expert, says what the training is doing and why,
prescribes the fix, and ships the treatments for PyTorch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lossdoctor.errors import InternalError, LossdoctorError, ReadError, ReadWarning
from lossdoctor.read import read
from lossdoctor.run import Run, Series

if TYPE_CHECKING:
    import os
    from collections.abc import Iterable, Sequence

    from matplotlib.figure import Figure

    from lossdoctor.findings import Diagnosis

__version__ = "0.1.0"

__all__ = ["InternalError", "LossdoctorError", "ReadError", "ReadWarning", "Run", "Series",
           "__version__", "diagnose", "diagnose_all", "plot", "read"]


def diagnose(
    run_or_path: Run | str | os.PathLike[str],
    *,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
    metric: str | None = None,
) -> Diagnosis:
    """Diagnose a `Run`, or the single run in a log file (see
    `lossdoctor.diagnosis.diagnose`; the rules are imported on the first call)."""
    from lossdoctor.diagnosis import diagnose as _diagnose

    return _diagnose(run_or_path, select=select, ignore=ignore, metric=metric)


def diagnose_all(
    runs_or_paths: Sequence[Run | str | os.PathLike[str]],
    *,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
    metric: str | None = None,
    jobs: int | None = None,
) -> list[Diagnosis]:
    """Diagnose many runs, on every core when there are many (see
    `lossdoctor.diagnosis.diagnose_all`)."""
    from lossdoctor.diagnosis import diagnose_all as _diagnose_all

    return _diagnose_all(runs_or_paths, select=select, ignore=ignore, metric=metric, jobs=jobs)


def plot(diagnosis: Diagnosis, *, lang: str | None = None) -> Figure:
    """The annotated matplotlib figure of a diagnosed run (see `lossdoctor.report.plot.plot`;
    matplotlib is imported on the first call, not with lossdoctor)."""
    from lossdoctor.report.plot import plot as _plot

    return _plot(diagnosis, lang=lang)
