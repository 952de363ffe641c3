"""Report cells as the console shows them: money as ¥1,700.00, percentages as 20.0%, dates as
2026年11月22日 / 22 Nov 2026, other numbers with separators.

The builders' results have column names only (``core/reports.ReportResult`` carries no types), so a
column's kind is read from its name, conservatively:

- ``*_pct`` is a percentage;
- money only in a table with a ``currency`` column: a column named for an amount, budget, cost or
  allocation (``amount``, ``cost_per_head``, ``budget``, ``allocated``), and the costs report's
  category and total columns (``course_fee`` ... ``total``, ``refundable``). Each row's own currency
  gives the symbol, and an amount with cents in the row's text ("每人 200.00") is money too. A column
  named for money without a currency (an incentive's percent or coefficient, the demand report's
  cost basis) is a number with separators that keeps its decimals (1,000.00, 0.10).

A date, or a datetime (shown in the tenant's zone), is a local date whatever its column. In titles,
notes and text cells, an ISO day (``2026-09-30``) becomes a local date, and "1700.00 CNY" money.

Only the page changes: the CSV and Excel downloads keep the numbers (Excel gets a number format).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from trainbridge.core.reports import ReportResult
from trainbridge.core.words import COST_CATEGORIES
from trainbridge.web.local import SYMBOLS, Local

MONEY, PERCENT, AMOUNT = "money", "percent", "amount"
_MONEY_NAME = re.compile(r"(?:^|_)(?:amount|budget|cost|allocated)(?:_|$)")
#: the costs report's per-category sums and totals: money beside a currency column.
_COST_SUMS = frozenset({*COST_CATEGORIES, "total", "refundable"})
#: an ISO day standing alone (not inside an id such as FEE-2026-05-01-A).
_ISO_DAY = re.compile(r"(?<![\w-])(\d{4}-\d{2}-\d{2})(?![\w-])")
#: an amount with cents and its currency code, as a sentence writes it: "1700.00 CNY".
_AMOUNT_CODE = re.compile(r"(?<![\w.])(-?\d+\.\d{2}) ([A-Z]{3})\b")
#: an amount with cents alone in a text ("shared equally ...: 200.00 each").
_AMOUNT = re.compile(r"(?<![\w.,-])(\d+\.\d{2})(?![\w.,%])")


class Shown(str):
    """A cell's text as the page shows it; ``numeric`` cells are right-aligned."""

    numeric: bool

    def __new__(cls, text: str, numeric: bool = True) -> Shown:
        cell = super().__new__(cls, text)
        cell.numeric = numeric
        return cell


def column_kinds(columns: Sequence[Any]) -> list[str]:
    """Each column's kind by its (builder's snake_case) name: money, percent, "amount" (named for
    money, with no currency column) or "" (see the module)."""
    names = [str(c) for c in columns]
    has_currency = "currency" in names
    kinds = []
    for name in names:
        if name.endswith("_pct"):
            kinds.append(PERCENT)
        elif has_currency and (_MONEY_NAME.search(name) or name in _COST_SUMS):
            kinds.append(MONEY)
        elif _MONEY_NAME.search(name):
            kinds.append(AMOUNT)
        else:
            kinds.append("")
    return kinds


def _currency_index(columns: Sequence[Any]) -> int | None:
    names = [str(c) for c in columns]
    return names.index("currency") if "currency" in names else None


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    try:
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def percent(value: Decimal) -> str:
    """20 -> 20.0% (the builders give percentages as numbers of percent)."""
    return f"{value.quantize(Decimal('0.1'))}%"


def text(value: str, loc: Local) -> str:
    """A title's, note's or text cell's ISO days as local dates and "1700.00 CNY" as money."""
    out = _ISO_DAY.sub(lambda m: _day(m.group(1), loc), value)
    return _AMOUNT_CODE.sub(lambda m: loc.money(m.group(1), m.group(2)), out)


def _day(iso: str, loc: Local) -> str:
    try:
        return loc.day(date.fromisoformat(iso))
    except ValueError:
        return iso


def cell(value: Any, kind: str, currency: Any, loc: Local) -> Any:
    """One cell for the page (``value`` as :func:`report_text.localize` left it)."""
    if isinstance(value, datetime):
        return Shown(loc.when(value), numeric=False)
    if isinstance(value, date):
        return Shown(loc.day(value), numeric=False)
    code = currency.strip() if isinstance(currency, str) else ""
    if isinstance(value, str):
        shown = text(value, loc)
        if code:
            shown = _AMOUNT.sub(lambda m: loc.money(m.group(1), code), shown)
        return value if shown == value else Shown(shown, numeric=False)
    number = _decimal(value)
    if number is None:
        return value
    if kind == MONEY and code:
        return Shown(loc.money(number, code))
    if kind == PERCENT:
        return Shown(percent(number))
    if kind in (MONEY, AMOUNT):
        return Shown(f"{number:,f}")  # no currency to name: its own decimals, with separators
    return Shown(loc.number(number))


def _header(name: Any, kind: str) -> Any:
    """A percentage column's header without its " %" (the cells say it)."""
    return str(name).removesuffix(" %").removesuffix("（%）") if kind == PERCENT else name


def display(raw: ReportResult, shown: ReportResult, loc: Local) -> ReportResult:
    """``shown`` (``raw`` in the reader's words) with its cells, titles and notes formatted for a page;
    the kinds and currencies come from ``raw``'s own column names and rows."""
    kinds = column_kinds(raw.columns)
    kinds += [""] * (len(shown.columns) - len(kinds))
    at = _currency_index(raw.columns)
    rows = []
    for row, raw_row in zip(shown.rows, raw.rows, strict=False):
        currency = raw_row[at] if at is not None and at < len(raw_row) else None
        rows.append([cell(v, kinds[i] if i < len(kinds) else "", currency, loc) for i, v in enumerate(row)])
    return replace(shown, title=text(shown.title, loc),
                   columns=[_header(c, kind) for c, kind in zip(shown.columns, kinds, strict=False)],
                   rows=rows, notes=[text(str(n), loc) for n in shown.notes],
                   sections=[display(r, s, loc) for r, s in zip(raw.sections, shown.sections, strict=False)])


# --- Excel ---------------------------------------------------------------------------------------


def excel_money_format(currency: str) -> str:
    """The number format of an amount in ``currency``: "¥"#,##0.00 (no symbol: #,##0.00 "USD")."""
    code = currency.strip().upper()
    symbol = SYMBOLS.get(code)
    return f'"{symbol}"#,##0.00' if symbol else f'#,##0.00 "{code}"'


PERCENT_FORMAT = '0.0"%"'


def _parts(result: ReportResult) -> Iterator[ReportResult]:
    yield result
    for section in result.sections:
        yield from _parts(section)


def excel_formats(raw: ReportResult) -> list[dict[tuple[int, int], str]]:
    """For each table (the result, then its sections, as the workbook's sheets), the number format
    of its money and percentage cells by (row, column), counted from 0 in the table's rows."""
    out = []
    for part in _parts(raw):
        kinds = column_kinds(part.columns)
        at = _currency_index(part.columns)
        formats: dict[tuple[int, int], str] = {}
        for r, row in enumerate(part.rows):
            currency = row[at] if at is not None and at < len(row) else None
            for c, value in enumerate(row[:len(kinds)]):
                if _decimal(value) is None:
                    continue
                if kinds[c] == MONEY and isinstance(currency, str) and currency.strip():
                    formats[(r, c)] = excel_money_format(currency)
                elif kinds[c] == PERCENT:
                    formats[(r, c)] = PERCENT_FORMAT
        out.append(formats)
    return out
