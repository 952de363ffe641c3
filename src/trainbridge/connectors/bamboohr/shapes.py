"""BambooHR's JSON shapes, translated: pure functions, no I/O.

Shapes as in BambooHR's OpenAPI description (github.com/BambooHR/bhr-api-python,
``specs/public.yaml``): timestamps like ``2011-06-02T19:26:23+00:00``, unset dates as
``0000-00-00``, training costs as the text ``"50.00 USD"``, changed-since answers as a map
keyed by employee id (PHP sends an empty map as ``[]``).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from trainbridge.core.errors import ConnectorError

_EMPTY_DATES = {"", "0000-00-00"}
_COST = re.compile(r"^\s*(?P<amount>-?[\d,]*\.?\d+)\s*(?P<currency>[A-Za-z]{3})?\s*$")


def parse_instant(value: str) -> datetime:
    """A BambooHR timestamp (``...Z``, ``+00:00`` or ``+0000``) as an aware UTC datetime."""
    text = value.strip()
    if re.search(r"[+-]\d{4}$", text):
        text = f"{text[:-2]}:{text[-2:]}"
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        msg = f"timestamp {value!r} has no time zone"
        raise ValueError(msg)
    return parsed.astimezone(UTC)


def format_instant(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def page_cursor(since: str, next_change: datetime) -> str:
    """The cursor between two pages: a second before the next page's first change.

    Changes inside one second may straddle the page boundary; resuming a second early
    re-reads them (same ids) instead of skipping them, whether the server's ``since`` is
    inclusive or exclusive.
    """
    return format_instant(max(parse_instant(since), next_change - timedelta(seconds=1)))


def vendor_date(value: Any) -> str | None:
    """BambooHR writes an unset date as ``0000-00-00``; that is None, not a bad date."""
    text = str(value).strip() if value is not None else ""
    return None if text in _EMPTY_DATES else text


def text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def parse_cost(value: Any, default_currency: str) -> tuple[Decimal, str] | None:
    """``"50.00 USD"`` -> (50.00, USD); empty or zero -> None; unreadable -> ValueError."""
    raw = text(value)
    if not raw:
        return None
    match = _COST.match(raw)
    if not match:
        msg = f"cost {raw!r} is not '<amount> <currency>'"
        raise ValueError(msg)
    try:
        amount = Decimal(match["amount"].replace(",", ""))
    except InvalidOperation as exc:
        msg = f"cost {raw!r} has no readable amount"
        raise ValueError(msg) from exc
    if amount == 0:
        return None
    return amount, (match["currency"] or default_currency).upper()


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def job_changes(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """jobInfo rows, oldest first, as JobChange data: the first is the hire."""
    dated = [r for r in rows if vendor_date(r.get("date"))]
    dated.sort(key=lambda r: str(r.get("date")))
    changes: list[dict[str, Any]] = []
    previous: dict[str, Any] | None = None
    for row in dated:
        if previous is None:
            change = "hire"
        elif text(row.get("department")) != text(previous.get("department")):
            change = "transfer"
        else:
            change = "change"
        changes.append({"effective_date": vendor_date(row.get("date")),
                        "job_title": text(row.get("jobTitle")),
                        "department": text(row.get("department")), "change": change})
        previous = row
    return changes


def changed_entries(body: Any, *, instance: str, what: str) -> list[tuple[datetime, str, Any]]:
    """``(lastChanged, id, value)`` of a changed-since answer, oldest first, deletions left out."""
    employees = body.get("employees") if isinstance(body, dict) else None
    if isinstance(employees, list) and not employees:
        employees = {}  # PHP encodes an empty map as []
    if not isinstance(employees, dict):
        msg = f"{what} answered without an 'employees' map"
        raise ConnectorError(msg, instance=instance,
                             hint="check base_url: the answer is not BambooHR's changed-since shape")
    entries = []
    for key, value in employees.items():
        if not isinstance(value, dict) or text(value.get("action")).lower() == "deleted":
            continue
        try:
            changed = parse_instant(text(value.get("lastChanged")))
        except ValueError:
            changed = datetime(1970, 1, 1, tzinfo=UTC)
        entries.append((changed, str(value.get("id") or key), value))
    entries.sort(key=lambda e: (e[0], numeric_key(e[1])))
    return entries


def numeric_key(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (0, value)


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def latest_cursor(body: Any, entries: list[tuple[datetime, str, Any]], since: str) -> str:
    """The next cursor: the server's ``latest`` (or the newest lastChanged), never before since."""
    candidates = [parse_instant(since)]
    if entries:
        candidates.append(entries[-1][0])
    latest = body.get("latest") if isinstance(body, dict) else None
    if latest:
        with contextlib.suppress(ValueError):
            candidates.append(parse_instant(str(latest)))
    return format_instant(max(candidates))


