"""``lossdoctor demo``: the shipped example runs, diagnosed, with report.html and report.png
written; from the checkout and from an installed wheel."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from lossdoctor.cli import main
from lossdoctor.demo import example_runs, run_demo

ROOT = Path(__file__).resolve().parent.parent
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_examples_ship_inside_the_package() -> None:
    runs = example_runs()
    assert runs
    examples = ROOT / "src" / "lossdoctor" / "examples"
    for r in runs:
        assert Path(r.source).resolve().is_relative_to(examples.resolve())
        assert not Path(r.source).name.lower().startswith("readme")
        assert "train_loss" in r.series


def test_run_demo_writes_the_reports(tmp_path: Path) -> None:
    buf = io.StringIO()
    result = run_demo(tmp_path / "out", lang="en", console=Console(file=buf, width=100))
    assert result.html == tmp_path / "out" / "report.html"
    assert result.png == tmp_path / "out" / "report.png"
    page = result.html.read_text(encoding="utf-8")
    assert page.count('<section class="run"') == len(result.diagnoses)
    assert result.png.read_bytes().startswith(PNG_MAGIC)
    printed = buf.getvalue()
    for d in result.diagnoses:
        assert d.run.name in printed  # the terminal diagnosis of every example
    assert f"HTML report: {result.html.resolve()}" in printed
    assert f"PNG plot ({result.plotted.run.name}): {result.png.resolve()}" in printed
    if not all(d.healthy for d in result.diagnoses):
        assert not result.plotted.healthy  # the plot shows an example that needs attention


def test_cli_demo_in_the_current_directory_in_chinese(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--lang", "zh"]) == 0
    assert (tmp_path / "report.png").read_bytes().startswith(PNG_MAGIC)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in page
    out = capsys.readouterr().out
    assert f"HTML 报告: {(tmp_path / 'report.html').resolve()}" in out
    assert "PNG 图" in out


def test_cli_demo_unwritable_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["demo", "--out", str(blocker / "sub")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot create the output folder" in err[0]


@pytest.mark.slow
def test_demo_from_an_installed_wheel(tmp_path: Path) -> None:
    """Build a wheel from a copy of the project, install it into a folder, run the demo from
    there: the examples and the report assets must ship in the package."""
    proj = tmp_path / "proj"
    proj.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, proj / name)
    shutil.copytree(ROOT / "src", proj / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path / "dist"), str(proj)], check=True, capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("lossdoctor-*.whl")
    site = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    out = tmp_path / "demo-out"
    code = (
        "import sys, lossdoctor\n"
        f"assert lossdoctor.__file__.startswith({str(site)!r}), lossdoctor.__file__\n"
        "from lossdoctor.cli import main\n"
        f"sys.exit(main(['demo', '--out', {str(out)!r}, '--lang', 'en']))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert (out / "report.png").read_bytes().startswith(PNG_MAGIC)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "uPlot" in page and 'class="run"' in page
    assert str(out / "report.html") in run.stdout
