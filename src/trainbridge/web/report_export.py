"""A report's tables as files HR opens in Excel: CSV (UTF-8 with a BOM) and an .xlsx workbook.

Both guard against formula injection the same way: a text cell starting with ``= + - @``
(tab, CR, or their full-width forms) gets a leading ``'`` (:func:`trainbridge.core.reports.csv_cell`),
so a name typed as ``=HYPERLINK(...)`` in the HR system stays text. Numbers stay numbers in
the workbook (Decimal amounts are written exactly as their decimal text, dates as dates).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from trainbridge.core.reports import ReportResult, csv_cell

BOM = "\ufeff"
#: what Excel forbids in a sheet name, and its length limit.
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
SHEET_CHARS = 31


def _parts(result: ReportResult) -> Iterator[ReportResult]:
    yield result
    for section in result.sections:
        yield from _parts(section)


def to_csv_bytes(result: ReportResult) -> bytes:
    """The report and its sections, one after another (a section starts with its title row),
    as UTF-8 with a byte order mark: Excel then reads Chinese correctly."""
    import csv

    out = io.StringIO()
    writer = csv.writer(out)
    for part in _parts(result):
        if part is not result:
            writer.writerow([])
        writer.writerow([csv_cell(part.title)])
        writer.writerow([csv_cell(c) for c in part.columns])
        for row in part.rows:
            writer.writerow([csv_cell(v) for v in row])
        for note in part.notes:
            writer.writerow([csv_cell(note)])
    return (BOM + out.getvalue()).encode("utf-8")


def sheet_name(title: str, taken: set[str]) -> str:
    """``title`` as a sheet name Excel accepts (31 characters, no ``[]:*?/\\``), unique in ``taken``."""
    base = _SHEET_FORBIDDEN.sub(" ", title).strip().strip("'") or "Sheet"
    name = base[:SHEET_CHARS]
    n = 2
    while name.lower() in {t.lower() for t in taken}:
        suffix = f" ({n})"
        name = base[:SHEET_CHARS - len(suffix)] + suffix
        n += 1
    taken.add(name)
    return name


def _xlsx_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return value
    if isinstance(value, Decimal):
        return value if value.is_finite() else str(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return value
    return csv_cell(value)


def to_xlsx_bytes(result: ReportResult, formats: Sequence[Mapping[tuple[int, int], str]] = ()) -> bytes:
    """One sheet per table: the title, the column headers (bold, frozen), the rows, the notes.

    ``formats``: for each table in sheet order, number formats by (row, column) of its rows, counted
    from 0 (``web/report_format.excel_formats``: "¥"#,##0.00 on CNY amounts); the values stay numbers."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import TYPE_STRING
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    taken: set[str] = set()
    bold = Font(bold=True)
    for index, part in enumerate(_parts(result)):
        sheet = book.create_sheet(sheet_name(part.title, taken))
        sheet.append([csv_cell(part.title)])
        sheet["A1"].font = Font(bold=True, size=13)
        sheet.append([csv_cell(c) for c in part.columns])
        for cell in sheet[2]:
            cell.font = bold
        sheet.freeze_panes = "A3"
        widths = [len(str(c)) for c in part.columns]
        for row in part.rows:
            sheet.append([_xlsx_value(v) for v in row])
            for i, v in enumerate(row[:len(widths)]):
                widths[i] = max(widths[i], len(str(v)) if v is not None else 0)
        for (r, c), number_format in (formats[index] if index < len(formats) else {}).items():
            sheet.cell(row=r + 3, column=c + 1).number_format = number_format
        for note in part.notes:
            sheet.append([csv_cell(note)])
        for row_cells in sheet.iter_rows(min_row=1):
            for cell in row_cells:
                if isinstance(cell.value, str):
                    cell.data_type = TYPE_STRING  # never a formula, whatever it starts with
        for i, width in enumerate(widths):
            letter = sheet.cell(row=2, column=i + 1).column_letter
            sheet.column_dimensions[letter].width = min(60, max(8, width * 2 + 2))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
