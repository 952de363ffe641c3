"""A report written to a file row by row is the text it renders whole, and rows made as they are
read (LazyRows) read like a list."""

from __future__ import annotations

import io
import json
from datetime import date
from decimal import Decimal

import pytest

from trainbridge.core.reports import Chart, LazyRows, ReportResult, render, to_html, write

ROWS = [["E001", "张三", 3, Decimal("1500.00"), None, True, date(2026, 3, 1), "=SUM(A1)"],
        ["E002", "a \"quoted\"\nline", -4, Decimal("0.10"), ["l", 1], False, {"k": "v"}, ""]]
COLUMNS = ["employee", "name", "n", "amount", "none", "flag", "day", "formula"]


def result(rows: object) -> ReportResult:
    section = ReportResult("Item by item", COLUMNS, rows, notes=["a note <b>"])  # type: ignore[arg-type]
    empty = ReportResult("Nothing", ["x"], [])
    return ReportResult("Training cost 员工", COLUMNS, rows, notes=["n1"],  # type: ignore[arg-type]
                        charts=[Chart("c", ["a"], [Decimal(1)], target=[Decimal(2)])],
                        sections=[section, empty], data={"min": Decimal("80"), "flagged": ["D1"]})


def lazy() -> LazyRows:
    return LazyRows(len(ROWS), lambda: iter(ROWS))


@pytest.mark.parametrize("fmt", ["json", "csv", "html"])
def test_a_report_written_row_by_row_is_the_text_rendered_whole(fmt):
    out = io.StringIO()
    write(result(lazy()), fmt, out)
    assert out.getvalue() == render(result(ROWS), fmt) == render(result(lazy()), fmt)


def test_the_json_is_that_of_the_whole_report():
    def cell(v):
        if isinstance(v, Decimal):
            return format(v, "f")
        return v if isinstance(v, int | str | bool | type(None) | list | dict) else str(v)

    def as_obj(r):
        obj = {"title": r.title, "columns": list(r.columns),
               "rows": [{c: cell(v) for c, v in zip(r.columns, row, strict=True)} for row in r.rows],
               "notes": list(r.notes)}
        if r.data:
            obj["data"] = json.loads(json.dumps(r.data, default=lambda v: format(v, "f")))
        if r.sections:
            obj["sections"] = [as_obj(s) for s in r.sections]
        return obj

    assert render(result(lazy()), "json") == json.dumps(as_obj(result(ROWS)), ensure_ascii=False, indent=2)


def test_rows_made_as_read_read_like_a_list():
    rows = lazy()
    assert len(rows) == 2
    assert list(rows) == list(rows) == ROWS
    assert rows == ROWS
    assert rows[1] == ROWS[1] and rows[-1] == ROWS[-1] and rows[:1] == ROWS[:1]
    with pytest.raises(IndexError):
        rows[2]
    assert "<td>张三</td>" in to_html(result(rows))
