"""Built-in file connectors: CSV/JSONL sources for every role, a JSONL payroll sink, a notifier.

They run the whole tool with no vendor account, and they are the reference
implementations in ``docs/plugins.md``: each is a config model plus a few hooks.

Columns are the record's field names (``trainbridge schema NAME``); the vendor key
column (``employee_id``, ``item_id``, ``event_id``...) becomes the stable id
``instance:key``. Lists are ``;``-separated; nested values are JSON text.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from trainbridge import hookimpl
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
    Notice,
    Page,
    PayrollAdjustment,
    Record,
    Separation,
    TrainingProgram,
    TrainingResult,
    TrainingSession,
    make_id,
)

PAGE_SIZE = 1000
LIST_FIELDS = {"career_goals", "competencies", "legal_entities", "flags"}
JSON_FIELDS = {"job_history", "recipients", "explanation", "signers"}
KEY_COLUMN = {
    "employee": "employee_id", "separation": "separation_id", "program": "program_id",
    "session": "session_id", "enrollment": "enrollment_id", "learning_event": "event_id",
    "certificate": "certificate_id", "cost_item": "item_id", "metric": "metric_id",
}


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) from a .csv or .jsonl file; a bad JSON line is a row with ``__error__``."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as fh:
            for number, row in enumerate(csv.DictReader(fh), start=2):
                yield number, {k.strip(): v for k, v in row.items() if k is not None}
        return
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, {"__error__": f"line {number}: not JSON ({exc.msg})", "__line__": line}
                continue
            yield number, value if isinstance(value, dict) else {"__error__": f"line {number}: not an object"}


def file_fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def row_to_data(instance: str, kind: str, row: dict[str, Any]) -> dict[str, Any]:
    """CSV/JSONL row -> record-shaped dict: empty cells dropped, lists split, the id made."""
    data: dict[str, Any] = {}
    for key, value in row.items():
        if key in ("record", "__line__"):
            continue
        if isinstance(value, str):
            value = value.strip()
            if value == "":
                continue
            if key in LIST_FIELDS:
                value = [v.strip() for v in value.split(";") if v.strip()]
            elif key in JSON_FIELDS:
                with contextlib.suppress(json.JSONDecodeError):  # left as text: validation names it
                    value = json.loads(value)
        data[key] = value
    key_column = KEY_COLUMN.get(kind, "id")
    vendor_key = data.pop(key_column, None) if key_column not in RECORD_TYPES[kind].model_fields else \
        data.get(key_column)
    if vendor_key is not None and "id" not in data:
        data["id"] = make_id(instance, vendor_key)
    data["source"] = instance
    return data


class FileSourceConfig(ConnectorConfig):
    pass


class _FileSource(Connector):
    """Reads record files page by page; the cursor is the file's SHA-256 (unchanged: skipped)."""

    def _pages(self, path_value: str | None, default_kind: str, since: str | None,
               allowed: tuple[str, ...] | None = None) -> Iterator[Page]:
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
        page = Page()
        kinds = allowed or (default_kind,)
        for number, row in read_rows(path):
            if "__error__" in row:
                page.rejects.append(_reject(default_kind, row["__error__"], row))
            else:
                kind = str(row.get("record") or default_kind)
                if kind not in kinds:
                    page.rejects.append(_reject(default_kind, f"line {number}: record {kind!r} "
                                                f"is not one of {', '.join(kinds)}", row))
                else:
                    page.add(RECORD_TYPES[kind], row_to_data(self.name, kind, row), raw=row)
            if len(page.records) + len(page.rejects) >= PAGE_SIZE:
                yield page
                page = Page()
        page.cursor = fingerprint
        yield page

    def _check_paths(self, *paths: str | None) -> HealthResult:
        missing = [str(self.ctx.resolve(p)) for p in paths if p and not self.ctx.resolve(p).exists()]
        if missing:
            return HealthResult(ok=False, detail=f"missing: {', '.join(missing)}")
        return HealthResult(ok=True, detail="files readable")


def _reject(kind: str, reason: str, row: dict[str, Any]) -> Any:
    from trainbridge.core.records import Reject

    return Reject(model=kind, reason=reason, raw=json.loads(json.dumps(row, default=str)))


class CsvPeopleConfig(ConnectorConfig):
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
        return self._pages(self.config.separations, Separation.kind, since)

    @hookimpl
    def healthcheck(self) -> HealthResult:
        return self._check_paths(self.config.employees, self.config.separations)


class FileLearningConfig(ConnectorConfig):
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


class CsvCostsConfig(ConnectorConfig):
    path: str


class CsvCosts(_FileSource):
    """Cost items from a finance export (CSV or JSONL)."""

    config_model: ClassVar[type[ConnectorConfig]] = CsvCostsConfig
    vendor = "CSV/JSONL files"
    config: CsvCostsConfig

    @hookimpl
    def fetch_cost_items(self, since: str | None) -> Iterator[Page]:
        return self._pages(self.config.path, CostItem.kind, since)

    @hookimpl
    def healthcheck(self) -> HealthResult:
        return self._check_paths(self.config.path)


class CsvMetricsConfig(ConnectorConfig):
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
        return append_once(self.ctx.resolve(self.config.results), result.id, result.payload())

    @hookimpl
    def healthcheck(self) -> HealthResult:
        return self._check_paths(self.config.path)


def append_once(path: Path, record_id: str, payload: dict[str, Any]) -> DeliveryReceipt:
    """Append a JSON line unless a line with this id is already there: idempotent by id."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip() and json.loads(line).get("id") == record_id:
                    return DeliveryReceipt(ref=record_id, status="delivered", detail="already present")
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(payload, ensure_ascii=False, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return DeliveryReceipt(ref=record_id, status="delivered")


class JsonlPayrollConfig(ConnectorConfig):
    path: str


class JsonlPayroll(Connector):
    """A payroll sink that appends adjustments to a JSONL file, once per adjustment id."""

    config_model: ClassVar[type[ConnectorConfig]] = JsonlPayrollConfig
    vendor = "JSONL file"
    config: JsonlPayrollConfig

    @hookimpl
    def post_adjustment(self, adjustment: PayrollAdjustment) -> DeliveryReceipt:
        return append_once(self.ctx.resolve(self.config.path), adjustment.id, adjustment.payload())

    @hookimpl
    def adjustment_status(self, ref: str) -> DeliveryReceipt:
        # The line in the payroll file is all this sink promises: present means confirmed. A
        # missing line settles nothing (payroll may have taken the file away to import it).
        path = self.ctx.resolve(self.config.path)
        if path.exists():
            with path.open(encoding="utf-8") as fh:
                if any(line.strip() and json.loads(line).get("id") == ref for line in fh):
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
        return append_once(self.ctx.resolve(self.config.path), notice.id, notice.payload())

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


__all__ = ["BUILTIN_FILE_CONNECTORS", "Record", "append_once", "read_rows", "row_to_data"]
