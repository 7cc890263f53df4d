"""The HTML report in a real browser: Debian's chromium driven by playwright (never
``playwright install``). Screenshots are saved under ``artifacts/``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from _report_runs import IMG, SCRIPT, diagnosed, overfitting_run, xss_run

from lossdoctor.diagnosis import diagnose_all
from lossdoctor.findings import Diagnosis
from lossdoctor.report.html import write_html

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
REAL = ROOT / "corpus" / "real"


def _skip_reason() -> str | None:
    if not os.path.exists(CHROMIUM):
        return f"no browser at {CHROMIUM} (`make browser` installs Debian's chromium with apt)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (it is in the dev extra: pip install -e '.[dev]')"
    return None


@dataclass
class Opened:
    """A page and what it reported while loading and being used."""

    page: Any
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM,
            headless=True, args=ARGS, viewport={"width": 1200, "height": 900},
        )
        yield ctx
        ctx.close()


@pytest.fixture
def open_report(browser: Any, tmp_path: Path) -> Iterator[Callable[..., Opened]]:
    pages: list[Any] = []

    def _open(diagnoses: list[Diagnosis], lang: str = "en") -> Opened:
        path = write_html(diagnoses, tmp_path / f"report-{len(pages)}.html", lang=lang)
        page = browser.new_page()
        pages.append(page)
        opened = Opened(page)
        page.on("console", lambda m: opened.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: opened.errors.append(str(e)))

        def on_dialog(d: Any) -> None:
            opened.dialogs.append(d.message)
            d.dismiss()

        page.on("dialog", on_dialog)
        page.goto(path.resolve().as_uri())
        page.wait_for_selector(".u-over")
        return opened

    yield _open
    for p in pages:
        p.close()


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


@pytest.fixture(scope="module")
def overfit() -> Diagnosis:
    return diagnosed(overfitting_run())


def _hover_x(page: Any, chart: int, frac: float) -> str:
    """Hover `frac` of the way across a chart; the x value its legend then shows."""
    over = page.locator(".u-over").nth(chart)
    box = over.bounding_box()
    page.mouse.move(box["x"] + box["width"] * frac, box["y"] + box["height"] * 0.5)
    return page.locator(".uplot").nth(chart).locator(".u-legend .u-value").first.inner_text()


def test_loads_without_errors_and_shows_the_findings(open_report: Callable[..., Opened],
                                                     overfit: Diagnosis) -> None:
    o = open_report([overfit])
    assert o.errors == []
    findings = o.page.locator("li.finding")
    assert findings.count() == len(overfit.findings)
    for i in range(findings.count()):
        assert findings.nth(i).is_visible()
    assert o.page.locator(".charts[data-run='0'] .uplot").count() == 3  # loss, accuracy, LR
    assert "overfitting" in o.page.locator("li.finding").first.inner_text()
    _shot(o.page, "report-en.png")


def test_hovering_the_chart_shows_values(open_report: Callable[..., Opened],
                                         overfit: Diagnosis) -> None:
    o = open_report([overfit])
    x = _hover_x(o.page, 0, 0.5)
    assert 15 <= float(x) <= 26  # epochs 1..40: the middle of the chart
    values = o.page.locator(".uplot").first.locator(".u-legend .u-value").all_inner_texts()
    train, val = float(values[1]), float(values[3])  # raw train loss, raw validation loss
    assert 0.05 < train < 0.5 and 0.3 < val < 0.6
    assert o.errors == []


def test_drag_zooms_and_double_click_resets(open_report: Callable[..., Opened],
                                            overfit: Diagnosis) -> None:
    o = open_report([overfit])
    page = o.page
    before = float(_hover_x(page, 0, 0.5))
    box = page.locator(".u-over").first.bounding_box()
    y = box["y"] + box["height"] * 0.5
    page.mouse.move(box["x"] + box["width"] * 0.1, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.4, y, steps=5)
    page.mouse.up()
    zoomed = float(_hover_x(page, 0, 0.5))
    assert zoomed < before - 5
    assert float(_hover_x(page, 1, 0.5)) == zoomed  # charts on one axis zoom together
    page.locator(".u-over").first.dblclick()
    assert float(_hover_x(page, 0, 0.5)) == before
    assert o.errors == []


def test_legend_toggles_a_series(open_report: Callable[..., Opened], overfit: Diagnosis) -> None:
    o = open_report([overfit])
    entry = o.page.locator(".uplot").first.locator(".u-legend .u-series").nth(1)
    entry.locator(".u-label").click()
    assert "u-off" in (entry.get_attribute("class") or "")
    entry.locator(".u-label").click()
    assert "u-off" not in (entry.get_attribute("class") or "")


def test_copy_button(open_report: Callable[..., Opened], overfit: Diagnosis) -> None:
    o = open_report([overfit])
    btn = o.page.locator("li.finding button.copy").first
    assert btn.inner_text() == "copy"
    btn.click()
    o.page.wait_for_function("b => b.textContent === 'copied'", arg=btn.element_handle())
    md_buttons = o.page.locator(".explanations .md .code button.copy")
    assert md_buttons.count() > 0  # the explanations' code blocks get one too
    assert o.errors == []


def test_script_payloads_in_names_do_not_execute(open_report: Callable[..., Opened]) -> None:
    o = open_report([diagnosed(xss_run(), metric=SCRIPT)])
    page = o.page
    _hover_x(page, 0, 0.5)
    page.wait_for_timeout(200)
    assert o.dialogs == []
    assert o.errors == []
    assert page.locator("img").count() == 0
    assert page.locator(".run-name").inner_text() == IMG
    assert SCRIPT in " ".join(page.locator(".u-legend").all_inner_texts())  # a series name
    assert SCRIPT in page.locator(".uplot .u-title").all_inner_texts()  # a panel title
    assert SCRIPT in page.locator("li.finding").first.inner_text()
    _shot(page, "report-xss.png")


def test_chinese_page(open_report: Callable[..., Opened], overfit: Diagnosis) -> None:
    o = open_report([overfit], lang="zh")
    text = o.page.locator("body").inner_text()
    for s in ("过拟合", "处理建议", "证据", "训练损失"):
        assert s in text
    assert "复制" in o.page.locator("button.copy").first.inner_text()
    assert o.errors == []
    _shot(o.page, "report-zh.png")


def test_several_runs_comparison_and_overlay(open_report: Callable[..., Opened],
                                             overfit: Diagnosis) -> None:
    others = diagnose_all([next(next(REAL.glob("051_*")).iterdir())])
    o = open_report([overfit, *others])
    page = o.page
    assert page.locator("table.compare tbody tr").count() == 1 + len(others)
    overlay = page.locator(".charts[data-overlay] .uplot")
    assert overlay.count() == 2  # validation and training loss, all on epochs
    legend = overlay.first.locator(".u-legend").inner_text()
    assert "overfit-demo" in legend and "model_training_log#1" in legend
    assert page.locator("section.run").count() == 1 + len(others)
    assert o.errors == []
    _shot(page, "report-several.png")
