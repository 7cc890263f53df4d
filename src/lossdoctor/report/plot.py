"""The annotated PNG plot of a diagnosis (matplotlib, object-oriented API, Agg when saved).

One figure per run: the losses (raw points faint, the analysis' smoothed level bold), the task
metrics, the learning rate and the gradient norm on their own panels; every finding shaded over
its span and labelled with its kind in the chosen language; the best point starred; a log axis
where the analysis chose one; outliers clamped to the analysis' robust y-range and drawn as
triangles on its edge; NaN/inf points marked with crosses along the top.

Chinese text needs a font with CJK glyphs: the first of `CJK_FONTS` that is installed (Debian:
``apt-get install fonts-wqy-microhei``) is added to matplotlib's font fallback list, so every
label renders in DejaVu Sans and falls back to it for CJK characters.

matplotlib is imported when this module is, never by ``import lossdoctor`` or a CLI command
without ``--plot``.
"""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import blended_transform_factory

from lossdoctor.errors import LossdoctorError
from lossdoctor.findings import Diagnosis
from lossdoctor.messages import check_lang, text
from lossdoctor.messages_lines import Message
from lossdoctor.report.chart import (
    SEVERITY_COLORS,
    Panel,
    clamp,
    metric_label,
    panels,
    undrawn,
    y_limits,
)

__all__ = ["CJK_FONTS", "cjk_font", "plot", "plot_paths", "save_plots"]

#: CJK fonts looked for, in order: (family name, files where Debian, Fedora, macOS and Windows
#: install them). WenQuanYi Micro Hei first: 1.6 MB to download against 57 MB for Noto CJK.
CJK_FONTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("WenQuanYi Micro Hei", ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
                             "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc")),
    ("Noto Sans CJK SC", ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
                          "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc")),
    ("WenQuanYi Zen Hei", ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",)),
    ("Droid Sans Fallback", ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",)),
    ("PingFang SC", ("/System/Library/Fonts/PingFang.ttc",)),
    ("Microsoft YaHei", ("C:\\Windows\\Fonts\\msyh.ttc",)),
)

_HEIGHTS = {"loss": 3.4, "metric": 2.2, "lr": 1.4, "grad_norm": 1.4}
_EMPTY_HEIGHT = 1.6  # a panel with no finite value (only NaN/inf markers)
_WIDTH = 10.0
_DPI = 120
_FEW_POINTS = 80  # below this many points the raw points are drawn as dots too


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The family name of an installed CJK font (registered with matplotlib), or None."""
    known = {f.name for f in font_manager.fontManager.ttflist}
    for family, _files in CJK_FONTS:
        if family in known:
            return family
    # matplotlib's font cache predates fonts installed later: register the file directly.
    for family, files in CJK_FONTS:
        for f in files:
            if os.path.exists(f):
                try:
                    font_manager.fontManager.addfont(f)
                except (OSError, RuntimeError):
                    continue
                return family
    return None


def _families() -> list[str]:
    cjk = cjk_font()
    return ["DejaVu Sans"] + ([cjk] if cjk else [])


def _plain(s: str) -> str:
    """A string from a log as literal matplotlib text: no mathtext, not hidden from legends."""
    s = s.replace("$", r"\$")
    return " " + s if s.startswith("_") else s


def _tail(s: str, n: int) -> str:
    """`s`, or its last n-1 characters after an ellipsis when longer."""
    return s if len(s) <= n else "…" + s[-(n - 1):]


def plot(diagnosis: Diagnosis, *, lang: str | None = None) -> Figure:
    """The annotated figure of one diagnosed run.

    Args:
        diagnosis: from `lossdoctor.diagnosis.diagnose_run`.
        lang: ``"en"`` or ``"zh"`` for every label (default: from the locale).

    Returns:
        A matplotlib `Figure` (not attached to pyplot); save it with ``fig.savefig(path)``.
    """
    if not isinstance(diagnosis, Diagnosis):
        raise TypeError(f"plot() takes a Diagnosis, not {type(diagnosis).__name__}")
    lang = check_lang(lang)
    with matplotlib.rc_context({"font.family": _families(), "axes.unicode_minus": True}):
        return _figure(diagnosis, lang)


def _figure(d: Diagnosis, lang: str) -> Figure:
    ps = panels(d, lang)
    heights = [_HEIGHTS[p.role] if p.low is not None else _EMPTY_HEIGHT for p in ps]
    heights = heights or [_HEIGHTS["loss"]]
    fig = Figure(figsize=(_WIDTH, sum(heights) + 1.1), layout="constrained", dpi=_DPI)
    axes = fig.subplots(len(heights), 1, squeeze=False,
                        gridspec_kw={"height_ratios": heights})[:, 0]
    status = text("healthy" if d.healthy else "unhealthy", lang)
    counts = " · ".join(f"{text(k, lang)} {n}" for k, n in d.counts().items() if n)
    fig.suptitle(_plain(_tail(d.run.name, 90)), x=0.01, ha="left", fontsize=14,
                 color="#111111")
    axes[0].set_title(f"{status}" + (f" — {counts}" if counts else ""), loc="left",
                      fontsize=10, color="#2a7d2a" if d.healthy else "#b22222")
    axes[0].set_title(_plain(_tail(f"{d.run.source} ({d.run.format})", 70)), loc="right",
                      fontsize=8, color="#666666")
    if not ps:
        axes[0].text(0.5, 0.5, text("no_chart", lang), ha="center", va="center",
                     transform=axes[0].transAxes, color="#666666")
        axes[0].set_xticks([])
        axes[0].set_yticks([])
    first_of_axis: dict[str, Axes] = {}
    for i, (ax, p) in enumerate(zip(axes, ps, strict=False)):
        if p.axis in first_of_axis:
            ax.sharex(first_of_axis[p.axis])
        else:
            first_of_axis[p.axis] = ax
        _draw(ax, p, lang)
        last_of_group = i == len(ps) - 1 or ps[i + 1].axis != p.axis
        if last_of_group:
            ax.set_xlabel(text(p.axis, lang))
        else:
            ax.tick_params(labelbottom=False)
    missing = undrawn(d, ps)
    if missing:
        by_kind: dict[str, list[str]] = {}
        for f in missing:
            by_kind.setdefault(text(f"kind.{f.kind}", lang), []).append(
                metric_label(f.metric, lang))
        items = "; ".join(f"{k}: {', '.join(ms)}" for k, ms in by_kind.items())
        line = f"{text('also_found', lang)} — {items}"
        fig.supxlabel(_plain(textwrap.shorten(line, 400, placeholder=" …")), fontsize=8,
                      color="#444444", x=0.01, ha="left", wrap=True)
    return fig


def _draw(ax: Axes, p: Panel, lang: str) -> None:
    top = blended_transform_factory(ax.transData, ax.transAxes)
    outlier_label = text("outlier", lang)
    nan_label = text("non_finite_points", lang)
    for t in p.traces:
        if len(t.non_finite_x):
            ax.plot(t.non_finite_x, np.full(len(t.non_finite_x), 0.985), transform=top,
                    ls="", marker="x", ms=5, mew=1.2, color=t.color, clip_on=False, zorder=6,
                    label=f"{_plain(t.label)}: {nan_label}")
        v = t.view
        if v is None or p.low is None or p.high is None:
            continue
        y, out = clamp(v.values, p.low, p.high)
        few = len(v.x) <= _FEW_POINTS
        if p.role == "lr":  # a schedule is drawn as logged: smoothing would blur its steps
            ax.plot(v.x, y, color=t.color, lw=1.6, label=_plain(t.label), zorder=3)
        else:
            ax.plot(v.x, y, color=t.color, lw=0.8, alpha=0.45 if few else 0.35,
                    marker="o" if few else None, ms=3)
            ax.plot(v.smooth_x, np.clip(v.smooth, p.low, p.high), color=t.color, lw=2.0,
                    label=_plain(t.label), zorder=3)
        if out.any():
            above = out & (v.values > p.high)
            for mask, marker in ((above, "^"), (out & ~above, "v")):
                if mask.any():
                    ax.scatter(v.x[mask], y[mask], marker=marker, s=36, color=t.color,
                               edgecolors="black", linewidths=0.6, zorder=5, clip_on=False,
                               label=outlier_label)
                    outlier_label = "_"
    if p.low is not None and p.high is not None:
        _ylim(ax, p)
        if p.role in ("lr", "grad_norm") and not p.log:
            ax.yaxis.set_major_locator(MaxNLocator(4))
    else:
        names = ", ".join(_plain(t.label) for t in p.traces)
        n = sum(len(t.non_finite_x) for t in p.traces)
        ax.text(0.5, 0.5, f"{names}: {text('no_finite', lang)} ({n} {nan_label})",
                ha="center", va="center", transform=ax.transAxes, color="#666666")
        ax.set_yticks([])
        ax.set_ylim(0, 1)
    ax.set_ylabel(_plain(p.title))
    ax.grid(True, alpha=0.3)
    _spans(ax, p)
    if p.best is not None and p.low is not None and p.high is not None:
        best_y = float(np.clip(p.best.y, p.low, p.high))
        ax.axvline(p.best.x, color="#333333", lw=0.8, ls=":", zorder=2)
        # Labelled in the legend: a label beside the star would collide with the spans' labels.
        ax.plot([p.best.x], [best_y], marker="*", ms=15, color="#ffd700", mec="black", mew=0.8,
                ls="", zorder=7, label=p.best.label)
    if p.low is not None and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, framealpha=0.85, loc="best")


def _ylim(ax: Axes, p: Panel) -> None:
    limits = y_limits(p.log, p.low, p.high)
    assert limits is not None
    if p.log:
        ax.set_yscale("log")
    ax.set_ylim(*limits)


def _spans(ax: Axes, p: Panel) -> None:
    top = blended_transform_factory(ax.transData, ax.transAxes)
    xmin, xmax = ax.get_xlim()
    width = xmax - xmin or 1.0
    for k, s in enumerate(p.spans):
        shade, ink = SEVERITY_COLORS[s.finding.severity]
        if s.marks:  # spikes: a line at each, no shading between them
            for m in s.marks:
                ax.axvline(m, color=shade, alpha=0.8, lw=0.9, ls="--", zorder=1)
        elif s.x1 > s.x0:
            ax.axvspan(s.x0, s.x1, color=shade, lw=0, zorder=0,
                       alpha=0.07 if s.finding.severity == "info" else 0.11)
        else:
            ax.axvline(s.x0, color=shade, alpha=0.8, lw=1.2, zorder=1)
        label = _plain(s.label)
        right = (s.x0 - xmin) / width > 0.7
        ax.text(s.x1 if right else s.x0, 0.95 - 0.11 * (k % 6), label, transform=top,
                ha="right" if right else "left", va="top", fontsize=8, color=ink, zorder=9,
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": shade, "alpha": 0.85})


def plot_paths(path: str | os.PathLike[str], diagnoses: Sequence[Diagnosis]) -> list[Path]:
    """Where `save_plots` writes: `path` for one run; for several, ``<stem>-<i>-<run>.png``
    beside it (``i`` from 1, zero-padded; the run name reduced to letters, digits, ``.``, ``_``
    and ``-``, at most 40 characters)."""
    out = Path(path)
    if len(diagnoses) == 1:
        return [out]
    width = len(str(len(diagnoses)))
    names = []
    for i, d in enumerate(diagnoses, 1):
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", d.run.name).strip("._-")[:40] or "run"
        names.append(out.with_name(f"{out.stem}-{i:0{width}d}-{slug}{out.suffix or '.png'}"))
    return names


def save_plots(diagnoses: Sequence[Diagnosis], path: str | os.PathLike[str], *,
               lang: str | None = None) -> list[Path]:
    """Plot every diagnosis and save the PNGs (see `plot_paths` for the names); returns them."""
    lang = check_lang(lang)
    paths = plot_paths(path, diagnoses)
    for d, p in zip(diagnoses, paths, strict=True):
        try:
            plot(d, lang=lang).savefig(p, format="png")
        except OSError as exc:
            raise LossdoctorError(Message("report.cannot_write_plot", path=p,
                                          reason=exc.strerror)) from None
    return paths
