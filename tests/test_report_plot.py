"""The annotated PNG plot: panels, finding spans and labels, best point, log scale, clamped
outliers, NaN markers, Chinese glyphs, file naming, and lazy matplotlib."""

from __future__ import annotations

import io
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from _report_runs import IMG, SCRIPT, diagnosed, overfitting_run, spiky_run, xss_run
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

import lossdoctor
from lossdoctor.cli import main
from lossdoctor.diagnosis import diagnose_all
from lossdoctor.errors import LossdoctorError
from lossdoctor.findings import Diagnosis
from lossdoctor.read._builder import RunBuilder
from lossdoctor.report.plot import cjk_font, plot, plot_paths, save_plots

REAL = Path(__file__).resolve().parent.parent / "corpus" / "real"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _real(rid: str) -> list[Diagnosis]:
    (folder,) = REAL.glob(f"{rid}_*")
    return diagnose_all([next(p for p in folder.iterdir() if p.is_file())])


def _texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [
        t.get_text() for ax in fig.axes for t in (ax.title, ax._left_title, ax._right_title)
    ]


def _render(fig: Figure) -> tuple[bytes, list[str]]:
    buf = io.BytesIO()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(buf, format="png")
    return buf.getvalue(), [str(w.message) for w in caught]


@pytest.fixture(scope="module")
def overfit() -> Diagnosis:
    return diagnosed(overfitting_run())


def test_panels_spans_and_best_point(overfit: Diagnosis) -> None:
    fig = plot(overfit, lang="en")
    ylabels = [ax.get_ylabel() for ax in fig.axes]
    assert ylabels == ["loss", "validation accuracy", "learning rate"]
    texts = _texts(fig)
    assert "overfitting (validation loss)" in texts
    assert "spikes (train loss)" in texts
    (of,) = [f for f in overfit.findings if f.kind == "overfitting"]
    loss_ax = fig.axes[0]
    legend = [t.get_text() for t in loss_ax.get_legend().get_texts()]
    assert legend[:2] == ["train loss", "validation loss"]
    best = f"best {of.evidence['best_value']:.4g} at epoch {of.evidence['best_epoch']:g}"
    assert best in legend
    (star,) = [ln for ln in loss_ax.get_lines() if ln.get_marker() == "*"]
    assert (star.get_xdata()[0], star.get_ydata()[0]) == (of.evidence["best_epoch"],
                                                          of.evidence["best_value"])
    assert fig.axes[2].get_yscale() == "log"  # the LR view spans two decades
    png, warned = _render(fig)
    assert png.startswith(PNG_MAGIC) and not warned


def test_outlier_is_clamped_and_marked_not_flattening_the_curve() -> None:
    d = diagnosed(spiky_run())
    fig = plot(d, lang="en")
    view = d.views["train_loss"]
    top = fig.axes[0].get_ylim()[1]
    assert top < float(view.values.max()) / 10  # the x100 point does not set the scale
    marked = [c for c in fig.axes[0].collections if isinstance(c, PathCollection)
              and c.get_label().startswith("outlier")]
    assert marked
    ys = np.concatenate([c.get_offsets()[:, 1] for c in marked])
    assert np.all(ys <= top)


def test_log_axis_where_the_analysis_chose_one() -> None:
    (d,) = _real("048")  # losses over 13 orders of magnitude
    assert d.views["train_loss"].log
    fig = plot(d, lang="en")
    assert fig.axes[0].get_yscale() == "log"


def test_all_nan_run_shows_where_the_nans_are() -> None:
    (d,) = _real("044")
    fig = plot(d, lang="en")
    texts = _texts(fig)
    assert any("train loss: no finite value (70 NaN/inf)" in t for t in texts)
    crosses = [ln for ax in fig.axes for ln in ax.get_lines() if ln.get_marker() == "x"]
    assert sum(len(ln.get_xdata()) for ln in crosses) == 75  # 70 train + 5 validation
    assert fig._supxlabel is not None and "ppl" in fig._supxlabel.get_text()
    png, _ = _render(fig)
    assert png.startswith(PNG_MAGIC)


@pytest.mark.parametrize("rid", ["047", "055", "058"])
def test_real_runs_render(rid: str) -> None:
    for d in _real(rid):
        png, warned = _render(plot(d, lang="en"))
        assert png.startswith(PNG_MAGIC)
        assert not [w for w in warned if "missing from font" in w]


def test_negative_loss_keeps_its_sign() -> None:
    (d,) = _real("058")
    lo, hi = plot(d, lang="en").axes[0].get_ylim()
    assert hi < 0 and lo < d.views["train_loss"].low


@pytest.mark.skipif(cjk_font() is None,
                    reason="no CJK font installed (make cjk-font: apt-get install "
                    "fonts-wqy-microhei)")
def test_chinese_labels_render_with_cjk_glyphs(overfit: Diagnosis) -> None:
    fig = plot(overfit, lang="zh")
    texts = _texts(fig)
    assert "过拟合 (验证损失)" in texts
    assert fig.axes[0].get_ylabel() == "损失"
    png, warned = _render(fig)
    assert png.startswith(PNG_MAGIC)
    assert not [w for w in warned if "missing from font" in w or "Glyph" in w], warned


def test_log_strings_are_literal_text() -> None:
    b = RunBuilder(name="$\\frac{1}{0}$ _hidden", source="$x$.csv", format="csv")
    b.add_series("loss", np.linspace(2, 1, 30), epochs=np.arange(30.0))
    b.add_series("$y_loss", np.linspace(3, 1, 30), epochs=np.arange(30.0))
    fig = plot(diagnosed(b.build()), lang="en")
    png, _ = _render(fig)  # mathtext would fail on an unbalanced "$"
    assert png.startswith(PNG_MAGIC)
    d = diagnosed(xss_run(), metric=SCRIPT)
    fig = plot(d, lang="en")
    assert fig._suptitle is not None and fig._suptitle.get_text() == IMG


def test_arguments_are_checked(overfit: Diagnosis) -> None:
    with pytest.raises(LossdoctorError, match="unknown language 'fr'"):
        plot(overfit, lang="fr")
    with pytest.raises(TypeError, match="takes a Diagnosis"):
        plot(overfit.run, lang="en")  # type: ignore[arg-type]


def test_package_level_plot(overfit: Diagnosis) -> None:
    assert isinstance(lossdoctor.plot(overfit, lang="en"), Figure)


def test_one_file_per_run_when_there_are_several(tmp_path: Path) -> None:
    runs = _real("051")
    assert len(runs) == 4
    names = [p.name for p in plot_paths(tmp_path / "out.png", runs)]
    assert names == [f"out-{i}-model_training_log_{i}.png" for i in range(1, 5)]
    assert plot_paths(tmp_path / "one.png", runs[:1]) == [tmp_path / "one.png"]
    many = [diagnosed(overfitting_run(f"r{i}")) for i in range(10)]
    assert plot_paths("p.png", many)[0].name == "p-01-r0.png"


def test_cli_diagnose_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = next((next(REAL.glob("051_*"))).iterdir())
    code = main(["diagnose", str(log), "--plot", str(tmp_path / "k.png"), "--fail-on", "never",
                 "--lang", "en"])
    assert code == 0
    files = sorted(tmp_path.glob("k-*.png"))
    assert len(files) == 4
    assert all(f.read_bytes().startswith(PNG_MAGIC) for f in files)
    assert f"PNG plot: {files[0]}" in capsys.readouterr().err


def test_cli_plot_to_an_unwritable_place(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    log = next((next(REAL.glob("058_*"))).iterdir())
    code = main(["diagnose", str(log), "--plot", str(tmp_path / "missing" / "x.png")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot write the plot" in err[0]


def test_save_plots_returns_the_paths(tmp_path: Path, overfit: Diagnosis) -> None:
    (p,) = save_plots([overfit], tmp_path / "a.png", lang="en")
    assert p.read_bytes().startswith(PNG_MAGIC)


def test_diagnose_without_plot_does_not_import_matplotlib() -> None:
    log = next((next(REAL.glob("001_*"))).iterdir())
    code = (
        "import sys\n"
        "from lossdoctor.cli import main\n"
        f"main(['diagnose', {str(log)!r}, '--json'])\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
