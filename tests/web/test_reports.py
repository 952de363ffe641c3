"""The reports page (period and department, the reader's language, CSV and Excel) and the what-if quote."""

from __future__ import annotations

import csv
import io

import pytest

pytest.importorskip("starlette", reason="the console needs the serve extra: pip install 'trainbridge[serve]'")
pytest.importorskip("openpyxl", reason="Excel downloads need the serve extra")

import openpyxl
from starlette.testclient import TestClient

from trainbridge.core.records import Employee
from trainbridge.core.reports import ReportResult
from trainbridge.core.runner import Workspace
from trainbridge.web.report_export import to_csv_bytes, to_xlsx_bytes

from .conftest import login

ZH = {"Accept-Language": "zh-CN"}
EN = {"Accept-Language": "en"}


def test_the_points_report_shows_the_last_quarter_with_points_not_an_empty_current_one(
        client: TestClient) -> None:
    login(client, "hr")
    page = client.get("/reports?name=points", headers=ZH)
    assert page.status_code == 200
    assert "积分分布 2026Q3" in page.text and "积分排行 2026Q3" in page.text  # today is in 2026Q4
    assert "孙强" in page.text and "<svg" in page.text
    empty = client.get("/reports?name=points&period=2026Q4", headers=ZH)
    assert "2026Q4 没有获得积分" in empty.text


def test_period_and_department_narrow_the_report(client: TestClient) -> None:
    login(client, "hr")
    sales = client.get("/reports?name=points&period=2026Q3&department=销售部", headers=EN)
    assert "Leaderboard 2026Q3" in sales.text and "孙强" in sales.text and "胡斌" not in sales.text
    assert 'value="销售部" selected' in sales.text
    assert client.get("/reports?name=points&period=2026Q9").status_code == 400
    assert client.get("/reports?name=costs&by=nonsense").status_code == 400
    year = client.get("/reports?name=costs&period=2025&by=department", headers=EN)
    assert year.status_code == 200 and "Training cost by Department" in year.text


def test_the_csv_download_opens_in_excel_with_chinese_headers(client: TestClient) -> None:
    login(client, "hr")
    answer = client.get("/reports/points.csv?period=2026Q3", headers=ZH)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert 'filename="points-2026Q3.csv"' in answer.headers["content-disposition"]
    assert answer.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0] == ["积分分布 2026Q3"] and rows[1][:3] == ["类别", "积分", "占比 %"]
    assert ["1", "M001", "孙强", "销售部", "150"] in rows
    english = client.get("/reports/points.csv?period=2026Q3", headers=EN).content.decode("utf-8-sig")
    assert "Category,Points,Share %" in english


def test_the_excel_download_has_one_sheet_per_table_with_numbers_as_numbers(client: TestClient) -> None:
    login(client, "hr")
    answer = client.get("/reports/points.xlsx?period=2026Q3", headers=ZH)
    assert answer.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(answer.content))
    assert book.sheetnames == ["积分分布 2026Q3", "积分排行 2026Q3"]
    board = book["积分排行 2026Q3"]
    assert [c.value for c in board[2]] == ["名次", "员工", "姓名", "部门", "积分"]
    assert [c.value for c in board[3]] == [1, "M001", "孙强", "销售部", 150]


def test_formula_cells_stay_text_in_both_files() -> None:
    result = ReportResult("People", ["name", "note"], [["=HYPERLINK(\"http://x\")", "+1 call"],
                                                      ["@SUM(A1)", "-12.50"]])
    text = to_csv_bytes(result).decode("utf-8-sig")
    assert "'=HYPERLINK" in text and "'+1 call" in text and "'@SUM(A1)" in text and ",-12.50" in text
    sheet = openpyxl.load_workbook(io.BytesIO(to_xlsx_bytes(result)))["People"]
    assert sheet["A3"].value == "'=HYPERLINK(\"http://x\")" and sheet["A3"].data_type == "s"
    assert sheet["A4"].value == "'@SUM(A1)"


def test_a_viewer_downloads_but_a_manager_cannot(client: TestClient) -> None:
    login(client, "M002")
    assert client.get("/reports/points.csv").status_code == 403


def test_what_if_quote_for_a_current_employee_with_a_reason(client: TestClient, workspace: Workspace) -> None:
    with workspace.ledger.transaction() as conn:
        current = {e.employee_id for e in workspace.ledger.iter_records(conn, "employee")
                   if isinstance(e, Employee)}
    assert "E001" in current
    login(client, "hr")
    form = client.get("/refunds/quote", headers=ZH)
    assert form.status_code == 200 and "员工主动辞职" in form.text and "协商一致解除" in form.text
    quote = client.get("/refunds/quote?employee=E001&last_day=2026-12-31&reason=resignation", headers=ZH)
    assert quote.status_code == 200 and 'id="quote-amount"' in quote.text and "应返还 ¥" in quote.text
    dismissed = client.get("/refunds/quote?employee=E001&last_day=2026-12-31&reason=no_fault_dismissal",
                           headers=EN)
    assert "Nothing owed" in dismissed.text
    waived = client.get("/refunds/quote?employee=E001&last_day=2026-12-31&reason=mutual_agreement&waived=1",
                        headers=EN)
    assert "Nothing owed" in waived.text
    leaver = client.get("/refunds/quote?employee=E003", headers=ZH)  # as recorded: 850.00
    assert "¥850.00" in leaver.text


def test_what_if_errors_are_plain_words_not_command_line_flags(client: TestClient) -> None:
    login(client, "hr")
    missing = client.get("/refunds/quote?employee=E001", headers=ZH)
    assert "请填写最后工作日和离职原因" in missing.text and "--" not in missing.text.split("<main>")[1]
    unknown = client.get("/refunds/quote?employee=NOBODY&last_day=2026-12-01&reason=resignation", headers=EN)
    assert "not in the ledger" in unknown.text and "trainbridge sync" not in unknown.text
    bad_day = client.get("/refunds/quote?employee=E001&last_day=9999-12-31&reason=resignation", headers=EN)
    assert bad_day.status_code == 400 and "years 1900 to 2999" in bad_day.text
    bad_reason = client.get("/refunds/quote?employee=E001&last_day=2026-12-01&reason=quit", headers=EN)
    assert bad_reason.status_code == 400
