"""The HTML report at the string level: self-contained, escaped, CSP, languages, content."""

from __future__ import annotations

import base64
import hashlib
import html as html_lib
import json
import re
from pathlib import Path

import pytest
from _report_runs import IMG, SCRIPT, diagnosed, overfitting_run, xss_run

from lossdoctor.cli import main
from lossdoctor.diagnosis import diagnose_all
from lossdoctor.errors import LossdoctorError
from lossdoctor.findings import Diagnosis
from lossdoctor.report.html import _markdown, render_html, write_html

REAL = Path(__file__).resolve().parent.parent / "corpus" / "real"


@pytest.fixture(scope="module")
def overfit() -> Diagnosis:
    return diagnosed(overfitting_run())


@pytest.fixture(scope="module")
def xss() -> Diagnosis:
    return diagnosed(xss_run(), metric=SCRIPT)


def _scripts(page: str) -> list[tuple[str, str]]:
    """(attributes, content) of every <script> element."""
    return re.findall(r"<script([^>]*)>(.*?)</script>", page, flags=re.S)


def _data(page: str) -> dict:
    (content,) = [c for attrs, c in _scripts(page) if 'id="ld-data"' in attrs]
    return json.loads(content)


def test_self_contained_no_network(overfit: Diagnosis) -> None:
    page = render_html([overfit], lang="en")
    assert not re.search(r"""<(script|img|iframe|link|audio|video|source)\b[^>]*\s(src|href)=""",
                         page)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", page)
    assert "@import" not in page and "fetch(" not in page and "XMLHttpRequest" not in page
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert csp is not None and "default-src 'none'" in csp.group(1)
    assert "unsafe-inline" not in csp.group(1)


def test_csp_allows_exactly_the_inline_scripts_and_style(overfit: Diagnosis) -> None:
    page = render_html([overfit], lang="en")
    csp = re.search(r'content="(default-src[^"]+)"', page).group(1)  # type: ignore[union-attr]

    def sha(s: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"

    code = [c for attrs, c in _scripts(page) if "application/json" not in attrs]
    assert len(code) == 2  # uPlot and report.js
    script_src = re.search(r"script-src ([^;]+)", csp).group(1).split()  # type: ignore[union-attr]
    assert sorted(script_src) == sorted(sha(c) for c in code)
    (style,) = re.findall(r"<style>(.*?)</style>", page, flags=re.S)
    assert f"style-src {sha(style)}" in csp
    assert not re.search(r"<[a-z]+[^>]*\son[a-z]+\s*=", re.sub(
        r"<script.*?</script>", "", page, flags=re.S))  # no inline event handler at all


def test_log_strings_are_escaped_everywhere(xss: Diagnosis) -> None:
    page = render_html([xss], lang="en")
    assert SCRIPT not in page and IMG not in page
    assert "<img" not in page
    assert len(_scripts(page)) == 3  # the data block, uPlot, report.js: nothing injected
    escaped_img = html_lib.escape(IMG)
    assert f'<span class="run-name">{escaped_img}</span>' in page
    assert html_lib.escape(SCRIPT) in page  # metric names, summaries, source
    # Chart data: "<", ">" and "&" never appear raw inside the JSON block, and round-trip.
    (content,) = [c for attrs, c in _scripts(page) if 'id="ld-data"' in attrs]
    assert not set("<>&") & set(content)
    labels = {t["label"] for p in _data(page)["runs"][0] for t in p["traces"]}
    assert SCRIPT in labels


def test_explanation_markdown_is_rendered_and_escaped(overfit: Diagnosis) -> None:
    page = render_html([overfit], lang="en")
    section = page.split('<section class="explanations">')[1]
    assert 'id="explain-overfitting"' in section
    assert '<pre><code class="language-python">' in section
    assert "<h2>What to do</h2>" in section
    raw = _markdown().render("<b onclick=x>hi</b> [a](javascript:alert(1))")
    assert "<b " not in raw and "&lt;b onclick=x&gt;" in raw and "href" not in raw


def test_findings_evidence_and_copyable_remedies(overfit: Diagnosis) -> None:
    page = render_html([overfit], lang="en")
    assert page.count('<li class="finding ') == len(overfit.findings)
    codes = [r for f in overfit.findings for r in f.remedies if r.code]
    assert page.count('<button type="button" class="copy" data-target="code-') == len(codes)
    for i, f in enumerate(overfit.findings):
        assert f'id="run-0-finding-{i}"' in page
        assert html_lib.escape(f.summary("en")) in page
    (of,) = [f for f in overfit.findings if f.kind == "overfitting"]
    assert f"<tr><th>best_epoch</th><td>{of.evidence['best_epoch']:g}</td></tr>" in page
    first_code = next(r.code for r in of.remedies if r.code)
    assert html_lib.escape(first_code) in page


def test_summary_counts_and_chart_data(overfit: Diagnosis) -> None:
    page = render_html([overfit], lang="en")
    c = overfit.counts()
    assert f'<span class="count sev-warning">warning <b>{c["warning"]}</b></span>' in page
    assert '<span class="status unhealthy">needs attention</span>' in page
    assert '<p class="summary-line">1 run: needs attention · ' in page
    panels = _data(page)["runs"][0]
    assert [p["role"] for p in panels] == ["loss", "metric", "lr"]
    loss = panels[0]
    assert [t["name"] for t in loss["traces"]] == ["train_loss", "val_loss"]
    assert {s["kind"] for s in loss["spans"]} >= {"overfitting", "spike"}
    assert loss["best"]["label"].startswith("best ")
    assert "sx" not in panels[2]["traces"][0]  # the LR schedule is drawn as logged


def test_the_table_and_the_star_show_the_same_best_point() -> None:
    # g075: the overfitting's best level is at step 20 (0.2411) while the lowest single
    # validation value is at step 16 (0.2378); both renderers must name the same point
    (log,) = (REAL.parent / "generated").glob("g075_*/events.out.tfevents.*")
    d075, d001 = diagnose_all([log, next(next(REAL.glob("001_*")).iterdir())], jobs=1)
    page = render_html([d075, d001], lang="en")
    star = next(p["best"] for p in _data(page)["runs"][0] if p["best"])
    assert (star["x"], round(star["y"], 4)) == (20.0, 0.2411)
    assert "<td>validation loss: 0.2411 (step 20)</td>" in page


def test_chinese(overfit: Diagnosis) -> None:
    page = render_html([overfit], lang="zh")
    assert '<html lang="zh-CN">' in page
    for s in ("过拟合", "处理建议", "证据", "复制", "说明"):
        assert s in page
    assert _data(page)["labels"]["copy"] == "复制"
    assert html_lib.escape(overfit.findings[0].summary("zh")) in page


def test_several_runs_comparison_and_overlay(overfit: Diagnosis) -> None:
    other = diagnose_all([next(next(REAL.glob("051_*")).iterdir())])
    page = render_html([overfit, *other], lang="en")
    bad = sum(not d.healthy for d in other) + 1
    assert (f'<p class="summary-line">{1 + len(other)} runs: {1 + len(other) - bad} healthy, '
            f"{bad} needing attention · ") in page
    table = page.split('<table class="compare">')[1].split("</table>")[0]
    assert table.count("<tr><td>") == 1 + len(other)
    assert '<a href="#run-1">model_training_log#1</a>' in table
    overlays = _data(page)["overlays"]
    names = {(o["title"], o["axis"]) for o in overlays}
    assert ("validation loss — all runs", "epoch") in names
    val = next(o for o in overlays if o["title"].startswith("validation loss"))
    assert [t["label"] for t in val["traces"]] == ["overfit-demo"] + [
        d.run.name for d in other if "val_loss" in d.views]


def test_one_run_has_no_comparison(overfit: Diagnosis) -> None:
    page = render_html([overfit], lang="en")
    assert "compare" not in page.split("<main>")[1].split('<section class="run"')[0]
    assert _data(page)["overlays"] == []


def test_all_nan_run() -> None:
    (d,) = diagnose_all([next(next(REAL.glob("044_*")).iterdir())])
    page = render_html([d], lang="en")
    panels = _data(page)["runs"][0]
    empty = [p for p in panels if p["low"] is None]
    assert [len(p["traces"][0]["nonFinite"]) for p in empty] == [70, 5]


def test_arguments_are_checked(overfit: Diagnosis, tmp_path: Path) -> None:
    with pytest.raises(LossdoctorError, match="unknown language"):
        render_html([overfit], lang="de")
    with pytest.raises(TypeError):
        render_html([], lang="en")
    with pytest.raises(LossdoctorError, match="cannot write the report"):
        write_html([overfit], tmp_path / "no" / "such" / "dir.html", lang="en")


def test_cli_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    logs = [str(next(next(REAL.glob(f"{rid}_*")).iterdir())) for rid in ("001", "058")]
    out = tmp_path / "r.html"
    assert main(["report", *logs, "-o", str(out), "--lang", "zh"]) == 0
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and '<html lang="zh-CN">' in page
    assert page.count('<section class="run"') == 2
    assert f"HTML 报告：{out}（2 个运行：1 个健康，1 个需要处理）" in capsys.readouterr().out
    assert main(["report", logs[1], "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"HTML report: {out} (1 run: healthy)"
    assert main(["report", str(tmp_path / "missing.log"), "-o", str(out)]) == 2
