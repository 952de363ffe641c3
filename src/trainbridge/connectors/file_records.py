"""Rows of a record file -> pages of records and rejects, for the file sources.

Columns are the record's field names (``trainbridge schema NAME``); the vendor key column
(``employee_id``, ``item_id``, ``event_id``...) becomes the stable id ``instance:key``. Lists
are ``;``-separated; nested values are JSON text; dates are ISO 8601 text. A row that cannot
become a record is a :class:`Reject` whose reason names the file, the line and the field; an
id that appears on two lines with different content loads from neither.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import typing
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import (
    AwareDatetime,
    FutureDate,
    FutureDatetime,
    NaiveDatetime,
    PastDate,
    PastDatetime,
    ValidationError,
)

from trainbridge.connectors.file_rows import Row, read_rows
from trainbridge.core.money import MoneyMixin
from trainbridge.core.records import RECORD_TYPES, Page, Record, Reject, make_id
from trainbridge.rules.refunds import add_months, months_between

PAGE_SIZE = 1000
LIST_FIELDS = {"career_goals", "competencies", "legal_entities", "flags"}
JSON_FIELDS = {"job_history", "recipients", "explanation", "signers"}
KEY_COLUMN = {
    "employee": "employee_id", "separation": "separation_id", "program": "program_id",
    "session": "session_id", "enrollment": "enrollment_id", "learning_event": "event_id",
    "certificate": "certificate_id", "cost_item": "item_id", "metric": "metric_id",
    "agreement": "agreement_id",
}
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?",
                          re.IGNORECASE)
#: pydantic's constrained date types are classes of their own, not subclasses of date.
PYDANTIC_TIMES: dict[Any, type] = {AwareDatetime: datetime, NaiveDatetime: datetime, PastDatetime: datetime,
                                   FutureDatetime: datetime, PastDate: date, FutureDate: date}
NUMBER = re.compile(r"[+-]?\d+(\.\d*)?([eE][+-]?\d+)?")

#: A check of a valid record beyond its model: ``(field, problem)`` refuses it, ``None`` keeps it.
RecordCheck = Callable[[Record], "tuple[str, str] | None"]


def file_fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def row_to_data(instance: str, kind: str, row: dict[str, Any]) -> dict[str, Any]:
    """CSV/JSONL row -> record-shaped dict: empty cells dropped, lists split, the id made.

    An empty ``currency`` cell is kept empty, so the record refuses it (never assumed)."""
    data: dict[str, Any] = {}
    for key, value in row.items():
        if key in ("record", "__line__"):
            continue
        if isinstance(value, str):
            value = value.strip()
            if value == "":
                if key == "currency":
                    data[key] = value
                continue
            if key in LIST_FIELDS:
                value = [v.strip() for v in value.split(";") if v.strip()]
            elif key in JSON_FIELDS:
                with contextlib.suppress(json.JSONDecodeError):  # left as text: validation names it
                    value = json.loads(value)
        data[key] = value
    key_column = KEY_COLUMN.get(kind, "id")
    vendor_key = data.get(key_column) if _is_field(kind, key_column) else data.pop(key_column, None)
    if vendor_key is not None and "id" not in data:
        data["id"] = make_id(instance, vendor_key)
    data["source"] = instance
    return data


@cache
def _is_field(kind: str, name: str) -> bool:
    return name in RECORD_TYPES[kind].model_fields


@cache
def _time_fields(model: type[Record]) -> dict[str, type]:
    """Fields of ``model`` holding a date or a date-time: {name: date or datetime}."""
    found: dict[str, type] = {}

    def temporal(annotation: Any) -> type | None:
        if isinstance(annotation, type) and issubclass(annotation, date):
            return datetime if issubclass(annotation, datetime) else date
        if annotation in PYDANTIC_TIMES:
            return PYDANTIC_TIMES[annotation]
        for arg in typing.get_args(annotation):
            kind = temporal(arg)
            if kind is not None:
                return kind
        return None

    for name, info in model.model_fields.items():
        kind = temporal(info.annotation)
        if kind is not None:
            found[name] = kind
    return found


def time_problems(model: type[Record], data: dict[str, Any]) -> list[tuple[str, str]]:
    """Dates and date-times that are not ISO 8601 text: ``45292`` is an Excel serial, not 1970."""
    problems = []
    for name, kind in _time_fields(model).items():
        value = data.get(name)
        if value is None:
            continue
        text = str(value).strip()
        pattern = ISO_DATETIME if kind is datetime else ISO_DATE
        if isinstance(value, str) and pattern.fullmatch(text):
            continue
        expected = ("an ISO 8601 date-time with its UTC offset, e.g. 2026-03-01T09:00:00+08:00"
                    if kind is datetime else "an ISO 8601 date, e.g. 2026-03-01")
        problem = f"{text[:40]!r} is not {expected}"
        if NUMBER.fullmatch(text):
            problem += ("; a number here is an Excel serial date or a Unix timestamp, never read as "
                        "one: export the column as text dates")
        problems.append((name, problem))
    return problems


def validation_problems(model: type[Record], exc: ValidationError) -> list[tuple[str, str]]:
    """(field, what is wrong) for each error pydantic found, in words a file's owner can act on."""
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = f"not a field of {model.kind} (see: trainbridge schema {model.kind})"
        elif err["type"] == "missing":
            message = "required: the column is missing or the cell is empty"
        elif err["type"] != "value_error" and isinstance(err.get("input"), str | int | Decimal):
            message += f" (got {str(err['input'])[:60]!r})"
        problems.append((where, message))
    return problems


def agreement_period(data: dict[str, Any]) -> list[tuple[str, str]]:
    """An agreement row's service period, as agreements write it: ``service_end`` is the inclusive
    last day ("2025-05-11 至 2027-05-10" is 24 months). Either it or ``service_months`` is enough;
    both must agree. ``data`` gets the record's exclusive end (the day after) and its months.
    """
    start_text, end_text, months_value = (data.get(k) for k in ("service_start", "service_end",
                                                                   "service_months"))
    if start_text is None:
        return []  # the record says the column is required
    if end_text is None and months_value is None:
        return [("service_end", "required: give the service period as service_end (its inclusive last "
                                "day) or service_months")]
    try:
        start = date.fromisoformat(str(start_text))
        last = date.fromisoformat(str(end_text)) if end_text is not None else None
        months = int(str(months_value)) if months_value is not None else None
    except ValueError:
        return []  # the record names the field that cannot be read
    if months is not None and not 1 <= months <= 240:
        return []
    if last is not None and last < start:
        return [("service_end", f"{last} is before service_start {start} (service_end is the period's "
                                "inclusive last day)")]
    end = last + timedelta(days=1) if last is not None else add_months(start, months or 1)
    if months is not None and last is not None and add_months(start, months) != end:
        expected = add_months(start, months) - timedelta(days=1)
        return [("service_end", f"service_end {last} and service_months {months} disagree: {months} months "
                                f"from {start} end on {expected} (service_end is the inclusive last day); "
                                "correct one of them, or give only one")]
    data["service_end"] = end.isoformat()
    data["service_months"] = months if months is not None else max(1, min(240, round(months_between(start,
                                                                                                     end))))
    return []


def _say(label: str, line: int, problems: list[tuple[str, str]]) -> str:
    parts = [f"field {name}: {problem}" if name else problem for name, problem in problems]
    return f"{label} line {line}, " + "; ".join(parts)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))

class FileReader:
    """One file read in two passes: the first finds ids that appear twice with different content
    (none of those lines loads), the second yields the pages."""

    def __init__(self, instance: str, path: Path, label: str, encoding: str, default_kind: str,
                 kinds: tuple[str, ...], check: RecordCheck | None, currency: str | None) -> None:
        self.instance, self.path, self.label, self.encoding = instance, path, label, encoding
        self.default_kind, self.kinds, self.check, self.currency = default_kind, kinds, check, currency

    def rows(self) -> Iterator[Row]:
        return read_rows(self.path, encoding=self.encoding, label=self.label)

    def parse(self, row: Row) -> tuple[str, dict[str, Any]] | Reject:
        """The row's kind and record-shaped data, or the reject saying why it has none."""
        kind = str(row.values.get("record") or self.default_kind)
        if kind not in RECORD_TYPES or kind not in self.kinds:
            kind_field = [("record", f"{kind!r} is not one of {', '.join(self.kinds)}")]
            return self.reject(self.default_kind, row, _say(self.label, row.line, kind_field), row.values)
        data = row_to_data(self.instance, kind, row.values)
        if row.problem:
            return self.reject(kind, row, f"{self.label} {row.problem}", data if row.values else None)
        if self.currency and issubclass(RECORD_TYPES[kind], MoneyMixin) and "currency" not in data:
            data["currency"] = self.currency
        return kind, data

    def reject(self, kind: str, row: Row, reason: str, data: dict[str, Any] | None = None) -> Reject:
        key = (data or {}).get("id")
        # A line with nothing readable keeps its text: the quarantine tells bad lines apart by their data.
        tried = data or {"__text__": row.text}
        return Reject(model=kind, reason=reason, data=_jsonable(tried), raw=_jsonable(row.values or row.text),
                      key=str(key) if key else None)

    def conflicts(self) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], list[int]]]:
        """First pass: the first line of each (kind, id), and the lines of ids with different content."""
        first: dict[tuple[str, str], tuple[int, str]] = {}
        conflicting: dict[tuple[str, str], list[int]] = {}
        for row in self.rows():
            parsed = self.parse(row)
            if isinstance(parsed, Reject) or not parsed[1].get("id"):
                continue
            kind, data = parsed
            key = (kind, str(data["id"]))
            content = hashlib.sha256(repr(sorted(data.items())).encode()).hexdigest()
            if key not in first:
                first[key] = (row.line, content)
            elif first[key][1] != content:
                conflicting.setdefault(key, [first[key][0]]).append(row.line)
        return {k: line for k, (line, _) in first.items()}, conflicting

    def pages(self, fingerprint: str) -> Iterator[Page]:
        first, conflicting = self.conflicts()
        held: dict[tuple[str, str], list[tuple[Row, dict[str, Any]]]] = {}
        page = Page()
        for row in self.rows():
            parsed = self.parse(row)
            if isinstance(parsed, Reject):
                page.rejects.append(parsed)
            else:
                kind, data = parsed
                key = (kind, str(data.get("id", "")))
                if key in conflicting:
                    held.setdefault(key, []).append((row, data))
                    if row.line == conflicting[key][-1]:
                        page.rejects.append(self.conflict(kind, held.pop(key)))
                elif key not in first or first[key] == row.line:  # a later identical line adds nothing
                    self.add(page, kind, data, row)
            if len(page.records) + len(page.rejects) >= PAGE_SIZE:
                yield page
                page = Page()
        page.cursor = fingerprint
        yield page

    def add(self, page: Page, kind: str, data: dict[str, Any], row: Row) -> None:
        model = RECORD_TYPES[kind]
        problems = time_problems(model, data)
        if kind == "agreement" and not problems:
            problems = agreement_period(data)
        record: Record | None = None
        if not problems:
            try:
                record = model.model_validate(data)
            except ValidationError as exc:
                problems = validation_problems(model, exc)
        if record is not None and self.check is not None:
            found = self.check(record)
            problems = [found] if found else []
        if problems or record is None:
            page.rejects.append(self.reject(kind, row, _say(self.label, row.line, problems), data))
        else:
            page.records.append(record)

    def conflict(self, kind: str, rows: list[tuple[Row, dict[str, Any]]]) -> Reject:
        key_column = KEY_COLUMN.get(kind, "id")
        vendor_key = rows[0][0].values.get(key_column, rows[0][1].get("id"))
        names = sorted({name for _, data in rows for name in data
                        if any(other.get(name) != data.get(name) for _, other in rows)})
        lines = ", ".join(str(row.line) for row, _ in rows)
        reason = (f"{self.label} lines {lines}, field {key_column}: {vendor_key!r} appears on {len(rows)} "
                  f"lines with different content ({', '.join(names)} differ); none of them is loaded: "
                  f"keep one line per {key_column}")
        return Reject(model=kind, reason=reason, raw=_jsonable({f"line {r.line}": r.values for r, _ in rows}),
                      key=str(rows[0][1]["id"]))
