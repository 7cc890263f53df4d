"""lossdoctor: reads training curves like an expert, says what the training is doing and why,
prescribes the fix, and ships the treatments for PyTorch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lossdoctor.errors import LossdoctorError, ReadError, ReadWarning
from lossdoctor.read import read
from lossdoctor.run import Run, Series

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from lossdoctor.findings import Diagnosis

__version__ = "0.1.0"

__all__ = ["LossdoctorError", "ReadError", "ReadWarning", "Run", "Series", "__version__", "plot",
           "read"]


def plot(diagnosis: Diagnosis, *, lang: str | None = None) -> Figure:
    """The annotated matplotlib figure of a diagnosed run (see `lossdoctor.report.plot.plot`;
    matplotlib is imported on the first call, not with lossdoctor)."""
    from lossdoctor.report.plot import plot as _plot

    return _plot(diagnosis, lang=lang)
