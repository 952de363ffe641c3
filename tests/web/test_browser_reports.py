"""The what-if quote and a report download in a real browser, in Chinese and in English.

Headless Chromium (Debian's package) driven by Playwright, as tests/web/test_browser.py does;
skipped without them.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# test_browser skips itself without Chromium; a module importing from it must skip first
if not Path(os.environ.get("TRAINBRIDGE_CHROMIUM", "/usr/bin/chromium")).exists():
    pytest.skip("browser tests need Chromium (apt-get install chromium)", allow_module_level=True)

from .test_browser import CHROMIUM, CHROMIUM_ARGS, log_in, server, sync_api  # noqa: F401  (fixtures)

openpyxl = pytest.importorskip("openpyxl", reason="Excel downloads need the serve extra")

pytestmark = pytest.mark.slow

LANGUAGES = {"zh": ("zh-CN", "zh-CN,zh"), "en": ("en-US", "en-US,en")}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(params=["zh", "en"])
def page(request: pytest.FixtureRequest, browser: Any) -> Iterator[tuple[str, Any]]:
    locale, accept = LANGUAGES[request.param]
    context = browser.new_context(locale=locale, extra_http_headers={"Accept-Language": accept},
                                  accept_downloads=True)
    yield request.param, context.new_page()
    context.close()


def test_hr_quotes_a_current_employee_who_would_resign(page: tuple[str, Any], server: str) -> None:  # noqa: F811
    lang, tab = page
    log_in(tab, server, "hr")
    tab.goto(f"{server}/refunds/quote")
    tab.select_option("select[name=employee]", "E001")
    tab.fill("input[name=last_day]", "2026-12-31")
    tab.select_option("select[name=reason]", "resignation")
    tab.click("#quote-form button[type=submit]")
    tab.wait_for_selector("#quote-amount")
    amount = tab.inner_text("#quote-amount")
    assert ("应返还 ¥" if lang == "zh" else "Owed ¥") in amount
    assert tab.locator("ol.explain li").count() >= 3
    # Without a reason for someone still employed: the page says what is missing, in words.
    tab.goto(f"{server}/refunds/quote?employee=E001")
    error = tab.inner_text("#quote-error")
    assert ("离职原因" if lang == "zh" else "choose a last day and a reason") in error and "--" not in error


def test_hr_downloads_a_report_as_csv_and_excel(page: tuple[str, Any], server: str) -> None:  # noqa: F811
    lang, tab = page
    log_in(tab, server, "hr")
    tab.goto(f"{server}/reports?name=points")
    tab.select_option("select[name=period]", "2026Q3")
    tab.select_option("select[name=department]", "销售部")
    tab.click("#report-filters button[type=submit]")
    tab.wait_for_selector("#report")
    assert "孙强" in tab.inner_text("#report") and "胡斌" not in tab.inner_text("#report")
    with tab.expect_download() as csv_download:
        tab.click("#report-downloads a[href*='.csv']")
    data = Path(csv_download.value.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[1][0] == ("类别" if lang == "zh" else "Category")
    assert ["1", "M001", "孙强", "销售部", "150"] in rows
    with tab.expect_download() as xlsx_download:
        tab.click("#report-downloads a[href*='.xlsx']")
    assert xlsx_download.value.suggested_filename == "points-2026Q3-销售部.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(Path(xlsx_download.value.path()).read_bytes()))
    board = book.worksheets[1]
    assert board["A1"].value == ("积分排行 2026Q3" if lang == "zh" else "Leaderboard 2026Q3")
    assert [c.value for c in board[3]] == [1, "M001", "孙强", "销售部", 150]
