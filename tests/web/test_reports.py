"""The reports page (period and department, the reader's language, CSV and Excel) and the what-if quote."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

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


# --- local formats on the page, raw numbers in the files (issue 18 item 2) -----------------------


def _cells(page: str) -> list[str]:
    """The report tables' cells as the page shows them (``num`` cells marked with a leading '>')."""
    article = page.split('<article class="report"', 1)[1]
    return [(">" if attrs else "") + text for attrs, text in
            re.findall(r"<td( class=\"num\")?>([^<]*)</td>", article)]


def test_report_money_shows_as_yuan_with_separators_in_both_languages(client: TestClient) -> None:
    login(client, "hr")
    for headers in (ZH, EN):
        costs = client.get("/reports?name=costs", headers=headers)
        cells = _cells(costs.text)
        # E001: course fee 1000, instructor 200, travel 500, total and refundable 1700, in CNY
        assert cells[:9] == ["E001", "张伟", ">1", ">¥1,000.00", ">¥200.00", ">¥500.00", ">¥1,700.00",
                             ">¥1,700.00", "CNY"]
        assert "1700.00" not in costs.text.split('<article class="report"', 1)[1]
    shared = client.get("/reports?name=costs", headers=ZH).text
    assert "由场次 FIRE-CTRL-1 的 10 名学员平均分摊：每人 ¥200.00" in shared
    demand = client.get("/reports?name=demand", headers=ZH).text
    row = _cells(demand)[:14]
    assert row[7] == ">20.0%" and row[11:] == [">¥1,700.00", ">¥13,600.00", "CNY"]
    assert "预算 = 8 人 × 人均 ¥1,700.00" in demand and "1700.00 CNY" not in demand
    assert "<th>流失率</th>" in demand  # the cells carry their %, the header no longer does


def test_report_dates_are_local_dates_and_percentages_have_one_place(client: TestClient) -> None:
    login(client, "hr")
    zh = client.get("/reports?name=demand", headers=ZH).text
    assert "证书需求预测（自 2026年11月23日 起 12 个月）" in zh
    assert "2026年12月13日" in zh and "已于 2026年12月5日 发送" in zh and "2026-12-13" not in zh
    en = client.get("/reports?name=demand", headers=EN).text
    assert "13 Dec 2026" in en and "sent 5 Dec 2026" in en
    assert "Certificate demand forecast (12 months from 23 Nov 2026)" in en
    points = _cells(client.get("/reports?name=points&period=2026Q3", headers=EN).text)
    assert points[:4] == ["participation".title(), ">58", ">20.9%", ">30.0%"]
    alone = client.get("/reports/costs.html", headers=ZH).text  # the printable page says the same
    assert "<td>¥1,700.00</td>" in alone and "<td>1700.00</td>" not in alone


def test_downloads_keep_numbers_with_a_yuan_number_format_in_excel(client: TestClient) -> None:
    login(client, "hr")
    text = client.get("/reports/costs.csv", headers=ZH).content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert ["E001", "张伟", "1", "1000.00", "200.00", "500.00", "1700.00", "1700.00", "CNY"] in rows
    book = openpyxl.load_workbook(io.BytesIO(client.get("/reports/costs.xlsx", headers=ZH).content))
    sheet = book[book.sheetnames[0]]
    e001 = next(r for r in sheet.iter_rows(min_row=3) if r[0].value == "E001")
    total = e001[6]
    assert total.value == 1700 and total.data_type == "n" and total.number_format == '"¥"#,##0.00'
    assert e001[2].number_format == "General" and e001[8].value == "CNY"  # people, currency: as they were
    demand = openpyxl.load_workbook(io.BytesIO(client.get("/reports/demand.xlsx", headers=EN).content))
    first = demand[demand.sheetnames[0]]
    assert first["H3"].value == 20 and first["H3"].number_format == '0.0"%"'


def test_other_currencies_and_amounts_without_a_currency() -> None:
    from trainbridge.web.local import Local
    from trainbridge.web.report_format import display, excel_formats

    raw = ReportResult("Costs", ["employee", "amount", "currency", "how"],
                       [["E1", Decimal("1700"), "USD", "shared: 56.67 each"],
                        ["E2", Decimal("1700.5"), "SGD", ""]],
                       sections=[ReportResult("Proposals", ["proposal", "amount"],
                                              [["P1", Decimal("0.10")]])])
    shown = display(raw, raw, Local("en"))
    assert [list(r) for r in shown.rows] == [["E1", "US$1,700.00", "USD", "shared: US$56.67 each"],
                                            ["E2", "1,700.50 SGD", "SGD", ""]]
    assert shown.sections[0].rows == [["P1", "0.10"]]  # a coefficient, not money: no symbol
    formats = excel_formats(raw)
    assert formats == [{(0, 1): '"US$"#,##0.00', (1, 1): '#,##0.00 "SGD"'}, {}]
