"""Built-in file connectors: CSV/JSONL sources for every role, a JSONL payroll sink, a notifier.

They run the whole tool with no vendor account, and they are the reference
implementations in ``docs/plugins.md``: each is a config model plus a few hooks.

Columns are the record's field names (``trainbridge schema NAME``), trimmed and compared
ignoring case; the vendor key column (``employee_id``, ``item_id``, ``event_id``...) becomes
the stable id ``instance:key``. Lists are ``;``-separated; nested values are JSON text.
Dates are ISO 8601 text. What is refused, and how, is in ``docs/files.md``: a file that
cannot be read is one error naming it; a row that cannot become a record is quarantined
with a reason naming the file, the line and the field.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import sys
import typing
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from pydantic import (
    AwareDatetime,
    Field,
    FutureDate,
    FutureDatetime,
    NaiveDatetime,
    PastDate,
    PastDatetime,
    ValidationError,
    field_validator,
)

from trainbridge import hookimpl
from trainbridge.connectors.file_rows import BadFile, Row, check_encoding, read_rows
from trainbridge.core.connector import Connector, ConnectorConfig
from trainbridge.core.errors import ConnectorError
from trainbridge.core.records import (
    RECORD_TYPES,
    Certificate,
    CostItem,
    DeliveryReceipt,
    Employee,
    Enrollment,
    HealthResult,
    LearningEvent,
    MetricValue,
    MoneyMixin,
    Notice,
    Page,
    PayrollAdjustment,
    Record,
    Reject,
    Separation,
    TrainingProgram,
    TrainingResult,
    TrainingSession,
    currency_code,
    make_id,
)

log = logging.getLogger("trainbridge.connectors.files")

PAGE_SIZE = 1000
LIST_FIELDS = {"career_goals", "competencies", "legal_entities", "flags"}
JSON_FIELDS = {"job_history", "recipients", "explanation", "signers"}
KEY_COLUMN = {
    "employee": "employee_id", "separation": "separation_id", "program": "program_id",
    "session": "session_id", "enrollment": "enrollment_id", "learning_event": "event_id",
    "certificate": "certificate_id", "cost_item": "item_id", "metric": "metric_id",
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


def _say(label: str, line: int, problems: list[tuple[str, str]]) -> str:
    parts = [f"field {name}: {problem}" if name else problem for name, problem in problems]
    return f"{label} line {line}, " + "; ".join(parts)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


class FileSourceConfig(ConnectorConfig):
    encoding: str = Field(default="utf-8", description=(
        'Text encoding of the files: "utf-8" (with or without a BOM) or "gb18030" (also reads GBK)'))

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        return check_encoding(value)


class _FileReader:
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


class _FileSource(Connector):
    """Reads record files page by page; the cursor is the file's SHA-256 (unchanged: skipped)."""

    config: FileSourceConfig

    def _pages(self, path_value: str | None, default_kind: str, since: str | None,
               allowed: tuple[str, ...] | None = None, *, check: RecordCheck | None = None,
               currency: str | None = None) -> Iterator[Page]:
        if not path_value:
            return
        path = self.ctx.resolve(path_value)
        if not path.exists():
            msg = f"file {path} not found"
            raise ConnectorError(msg, instance=self.name, hint="fix the path in plugins.toml "
                                 "(relative paths are relative to plugins.toml)")
        fingerprint = file_fingerprint(path)
        if since == fingerprint:
            return
        reader = _FileReader(self.name, path, path_value, self.config.encoding, default_kind,
                             allowed or (default_kind,), check, currency)
        try:
            yield from reader.pages(fingerprint)
        except BadFile as exc:
            msg = f"{exc}; nothing of it was read"
            raise ConnectorError(msg, instance=self.name, hint=exc.hint) from None

    def _check_paths(self, *paths: str | None) -> HealthResult:
        missing = [str(self.ctx.resolve(p)) for p in paths if p and not self.ctx.resolve(p).exists()]
        if missing:
            return HealthResult(ok=False, detail=f"missing: {', '.join(missing)}")
        return HealthResult(ok=True, detail="files readable")


class CsvPeopleConfig(FileSourceConfig):
    employees: str | None = Field(default=None, description="CSV/JSONL of employees")
    separations: str | None = Field(default=None, description="CSV/JSONL of separations")


class CsvPeople(_FileSource):
    """People from files: ``employees`` and ``separations``."""

    config_model: ClassVar[type[ConnectorConfig]] = CsvPeopleConfig
    vendor = "CSV/JSONL files"
    config: CsvPeopleConfig

    @hookimpl
    def fetch_employees(self, since: str | None) -> Iterator[Page]:
        return self._pages(self.config.employees, Employee.kind, since)

    @hookimpl
    def fetch_separations(self, since: str | None) -> Iterator[Page]:
        if not self.config.separations:
            return iter(())
        return self._pages(self.config.separations, Separation.kind, since, check=self._after_hire())

    def _after_hire(self) -> RecordCheck:
        """A separation ends an employment: its last day is never before the hire date in ``employees``."""
        hired = self._hire_dates()

        def check(record: Record) -> tuple[str, str] | None:
            if not isinstance(record, Separation) or record.employee_id not in hired:
                return None
            hire_date, line = hired[record.employee_id]
            if record.last_day >= hire_date:
                return None
            return ("last_day", f"{record.last_day} is before the hire date {hire_date} of employee "
                    f"{record.employee_id} ({self.config.employees} line {line}): check both dates (for an "
                    "earlier employment of a rehired employee, remove this line)")

        return check

    def _hire_dates(self) -> dict[str, tuple[date, int]]:
        """{employee_id: (hire date, line)} from the employees file; what cannot be read there is the
        employees stream's own error, and an employee with two hire dates is quarantined there."""
        path = self.ctx.resolve(self.config.employees) if self.config.employees else None
        if path is None or not path.exists():
            return {}
        found: dict[str, tuple[date, int]] = {}
        twice: set[str] = set()
        try:
            for row in read_rows(path, encoding=self.config.encoding):
                employee_id, hire_date = row.values.get("employee_id"), row.values.get("hire_date")
                if row.problem or not isinstance(employee_id, str) or not isinstance(hire_date, str) \
                        or not ISO_DATE.fullmatch(hire_date.strip()):
                    continue
                with contextlib.suppress(ValueError):
                    when = (date.fromisoformat(hire_date.strip()), row.line)
                    if found.setdefault(employee_id.strip(), when)[0] != when[0]:
                        twice.add(employee_id.strip())
        except BadFile:
            return {}
        return {k: v for k, v in found.items() if k not in twice}

    @hookimpl
    def healthcheck(self) -> HealthResult:
        return self._check_paths(self.config.employees, self.config.separations)


class FileLearningConfig(FileSourceConfig):
    events: str | None = Field(default=None, description="learning events and certificates")
    catalog: str | None = Field(default=None, description="programs, sessions and enrollments")


class FileLearning(_FileSource):
    """Learning from files: events (and certificates) and the training catalog.

    Each row may say ``record = program|session|enrollment|learning_event|certificate``.
    """

    config_model: ClassVar[type[ConnectorConfig]] = FileLearningConfig
    vendor = "CSV/JSONL files"
    config: FileLearningConfig

    @hookimpl
    def fetch_learning_events(self, since: str | None) -> Iterator[Page]:
        return self._pages(self.config.events, LearningEvent.kind, since,
                           allowed=(LearningEvent.kind, Certificate.kind))

    @hookimpl
    def fetch_training_catalog(self, since: str | None) -> Iterator[Page]:
        return self._pages(self.config.catalog, TrainingProgram.kind, since,
                           allowed=(TrainingProgram.kind, TrainingSession.kind, Enrollment.kind))

    @hookimpl
    def healthcheck(self) -> HealthResult:
        return self._check_paths(self.config.events, self.config.catalog)


class CsvCostsConfig(FileSourceConfig):
    path: str
    currency: str = Field(default="CNY", description=(
        "Currency of every row when the file has no currency column; an empty cell in a currency "
        "column is refused, never filled in"))
    max_amount: Decimal | None = Field(default=None, gt=0, description=(
        "Largest amount a row may have (below the records' own ceiling of 12 digits); larger rows "
        "are quarantined"))

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        return currency_code(value)


class CsvCosts(_FileSource):
    """Cost items from a finance export (CSV or JSONL)."""

    config_model: ClassVar[type[ConnectorConfig]] = CsvCostsConfig
    vendor = "CSV/JSONL files"
    config: CsvCostsConfig

    @hookimpl
    def fetch_cost_items(self, since: str | None) -> Iterator[Page]:
        return self._pages(self.config.path, CostItem.kind, since, check=self._below_max,
                           currency=self.config.currency)

    def _below_max(self, record: Record) -> tuple[str, str] | None:
        ceiling = self.config.max_amount
        if ceiling is None or not isinstance(record, CostItem) or record.amount <= ceiling:
            return None
        return ("amount", f"{record.amount} {record.currency} is above max_amount = {ceiling} set on "
                f"connector {self.name}: check the figure, or raise max_amount in plugins.toml")

    @hookimpl
    def healthcheck(self) -> HealthResult:
        return self._check_paths(self.config.path)


class CsvMetricsConfig(FileSourceConfig):
    path: str
    results: str | None = Field(default=None, description="JSONL file training results are written to")


class CsvMetrics(_FileSource):
    """Performance system from files: KPIs in, training results out (idempotent by id)."""

    config_model: ClassVar[type[ConnectorConfig]] = CsvMetricsConfig
    vendor = "CSV/JSONL files"
    config: CsvMetricsConfig

    @hookimpl
    def fetch_metrics(self, since: str | None) -> Iterator[Page]:
        return self._pages(self.config.path, MetricValue.kind, since)

    @hookimpl
    def push_training_result(self, result: TrainingResult) -> DeliveryReceipt:
        if not self.config.results:
            msg = "no results file configured"
            raise ConnectorError(msg, instance=self.name, hint="set results = \"out/results.jsonl\"")
        return append_once(self.ctx.resolve(self.config.results), result.id, result.payload(),
                           instance=self.name)

    @hookimpl
    def healthcheck(self) -> HealthResult:
        return self._check_paths(self.config.path)


def append_once(path: Path, record_id: str, payload: dict[str, Any], *,
                instance: str = "") -> DeliveryReceipt:
    """Append a JSON line unless a line with this id is already there: idempotent by id.

    A torn last line (a write cut short by a crash) is cut off first, with a warning."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if record_id in sink_ids(path, repair=True, instance=instance):
        return DeliveryReceipt(ref=record_id, status="delivered", detail="already present")
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(payload, ensure_ascii=False, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return DeliveryReceipt(ref=record_id, status="delivered")


def sink_ids(path: Path, *, repair: bool = False, instance: str = "") -> set[str]:
    """The ids of a JSONL sink's complete lines.

    What follows the last newline is a line torn by a crash mid-write (this sink writes each
    line with its newline in one call): with ``repair`` the file is truncated to its last
    complete line, logged as a warning; otherwise that tail is ignored. A complete line that is
    not a JSON object was not written by trainbridge: the file is refused with one error, since
    appending after it could not tell what has already been delivered."""
    if not path.exists():
        return set()
    ids: set[str] = set()
    complete = 0
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.endswith(b"\n"):
                break
            complete += len(raw)
            if not raw.strip():
                continue
            try:
                value = json.loads(raw)
            except ValueError:
                value = None
            if not isinstance(value, dict):
                msg = f"{path} line {number} is not a JSON object; nothing more is written to this file"
                raise ConnectorError(msg, instance=instance, hint=(
                    "the file was edited by hand or by another program: fix or remove that line (keep the "
                    "lines already there: they record what was delivered)"))
            if isinstance(value.get("id"), str):
                ids.add(value["id"])
    torn = path.stat().st_size - complete
    if torn and repair:
        with path.open("r+b") as fh:
            fh.seek(complete)
            tail = fh.read(120)
            fh.truncate(complete)
            fh.flush()
            os.fsync(fh.fileno())
        log.warning("%s: cut off a torn last line (%d byte(s), a write interrupted by a crash: %r); "
                    "the file now ends with its last complete line", path, torn, tail)
    return ids


class JsonlPayrollConfig(ConnectorConfig):
    path: str


class JsonlPayroll(Connector):
    """A payroll sink that appends adjustments to a JSONL file, once per adjustment id."""

    config_model: ClassVar[type[ConnectorConfig]] = JsonlPayrollConfig
    vendor = "JSONL file"
    config: JsonlPayrollConfig

    @hookimpl
    def post_adjustment(self, adjustment: PayrollAdjustment) -> DeliveryReceipt:
        return append_once(self.ctx.resolve(self.config.path), adjustment.id, adjustment.payload(),
                           instance=self.name)

    @hookimpl
    def adjustment_status(self, ref: str) -> DeliveryReceipt:
        # The line in the payroll file is all this sink promises: present means confirmed. A
        # missing line settles nothing (payroll may have taken the file away to import it).
        path = self.ctx.resolve(self.config.path)
        if ref in sink_ids(path, instance=self.name):
            return DeliveryReceipt(ref=ref, status="confirmed", detail=f"in {path.name}")
        return DeliveryReceipt(ref=ref, status="unknown", detail=f"not in {path.name}")

    @hookimpl
    def healthcheck(self) -> HealthResult:
        folder = self.ctx.resolve(self.config.path).parent
        ok = (folder.exists() and os.access(folder, os.W_OK)) or not folder.exists()
        return HealthResult(ok=ok, detail=f"writes to {self.ctx.resolve(self.config.path)}")


class FileNotifierConfig(ConnectorConfig):
    path: str = Field(default="-", description='JSONL file, or "-" for stdout')


class FileNotifier(Connector):
    """Writes notices to a JSONL file (once per notice id) or prints them."""

    config_model: ClassVar[type[ConnectorConfig]] = FileNotifierConfig
    vendor = "file or stdout"
    config: FileNotifierConfig

    @hookimpl
    def send_notice(self, notice: Notice) -> DeliveryReceipt:
        if self.config.path == "-":
            to = ", ".join(r.name or r.email or r.role for r in notice.recipients)
            sys.stdout.write(f"[notice to {to}] {notice.subject}\n{notice.body}\n")
            return DeliveryReceipt(ref=notice.id)
        return append_once(self.ctx.resolve(self.config.path), notice.id, notice.payload(),
                           instance=self.name)

    @hookimpl
    def healthcheck(self) -> HealthResult:
        return HealthResult(ok=True, detail=f"writes to {self.config.path}")


BUILTIN_FILE_CONNECTORS: dict[str, type[Connector]] = {
    "csv_people": CsvPeople, "file_learning": FileLearning, "csv_costs": CsvCosts,
    "csv_metrics": CsvMetrics, "jsonl_payroll": JsonlPayroll, "file_notifier": FileNotifier,
}


@hookimpl
def register_connectors(register: Callable[[str, type[Connector]], None]) -> None:
    for name, cls in BUILTIN_FILE_CONNECTORS.items():
        register(name, cls)


__all__ = ["BUILTIN_FILE_CONNECTORS", "FileSourceConfig", "Record", "append_once", "read_rows", "row_to_data",
           "sink_ids"]
