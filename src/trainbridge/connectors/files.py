"""Built-in file connectors: CSV/JSONL sources for every role, a JSONL payroll sink, a notifier.

They run the whole tool with no vendor account, and they are the reference
implementations in ``docs/plugins.md``: each is a config model plus a few hooks.

What a file holds and what is refused, and how, is in ``docs/files.md``: a file that cannot
be read is one error naming it; a row that cannot become a record is quarantined with a
reason naming the file, the line and the field. Reading a file's rows is
:mod:`~trainbridge.connectors.file_rows`, turning them into records
:mod:`~trainbridge.connectors.file_records`; the sinks, and the append-once JSONL writing
that ``csv_metrics`` shares for its results file, are :mod:`~trainbridge.connectors.file_sinks`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import ClassVar

from pydantic import Field, field_validator

from trainbridge import hookimpl
from trainbridge.connectors.file_records import (
    ISO_DATE,
    FileReader,
    RecordCheck,
    file_fingerprint,
    row_to_data,
)
from trainbridge.connectors.file_rows import BadFile, check_encoding, read_rows
from trainbridge.connectors.file_sinks import FileNotifier, JsonlPayroll, append_once, sink_ids
from trainbridge.core.connector import Connector, ConnectorConfig
from trainbridge.core.errors import ConnectorError
from trainbridge.core.money import currency_code
from trainbridge.core.records import (
    Agreement,
    Certificate,
    CostItem,
    DeliveryReceipt,
    Employee,
    Enrollment,
    HealthResult,
    LearningEvent,
    MetricValue,
    Page,
    Record,
    Separation,
    TrainingProgram,
    TrainingResult,
    TrainingSession,
)


class FileSourceConfig(ConnectorConfig):
    encoding: str = Field(default="utf-8", description=(
        'Text encoding of the files: "utf-8" (with or without a BOM) or "gb18030" (also reads GBK)'))

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        return check_encoding(value)


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
        reader = FileReader(self.name, path, path_value, self.config.encoding, default_kind,
                             allowed or (default_kind,), check, currency)
        try:
            yield from reader.pages(fingerprint)
        except BadFile as exc:
            msg = f"{exc}; nothing of it was read"
            raise ConnectorError(msg, instance=self.name, hint=exc.hint) from None

    def _check_paths(self, *paths: str | None) -> HealthResult:
        """Each configured file exists; a missing one is named with its key and the fix."""
        keys = {value: key for key, value in self.config if isinstance(value, str)}
        missing = [f"{self.ctx.resolve(p)} ([connectors.{self.name}] {keys.get(p, 'path')} = {p!r})"
                   for p in paths if p and not self.ctx.resolve(p).exists()]
        if missing:
            fix = "fix the path in plugins.toml (relative to plugins.toml) or create the file"
            return HealthResult(ok=False, detail=f"file not found: {'; '.join(missing)}; {fix}")
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
    agreements: str | None = Field(default=None, description=(
        "agreements signed elsewhere (paper, an earlier e-signature system), with signed_at"))


class FileLearning(_FileSource):
    """Learning from files: events (and certificates) and the training catalog.

    Each row may say ``record = program|session|enrollment|learning_event|certificate``.
    ``agreements`` lists agreements signed before trainbridge (one per enrollment they bind).
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

    def produces(self, hook: str) -> tuple[str, ...]:
        paths = {"fetch_learning_events": self.config.events, "fetch_training_catalog": self.config.catalog,
                 "fetch_agreements": self.config.agreements}
        return super().produces(hook) if paths.get(hook, True) else ()  # no file: nothing to read

    @hookimpl
    def fetch_agreements(self, since: str | None) -> Iterator[Page]:
        return self._pages(self.config.agreements, Agreement.kind, since)

    @hookimpl
    def healthcheck(self) -> HealthResult:
        return self._check_paths(self.config.events, self.config.catalog, self.config.agreements)


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


BUILTIN_FILE_CONNECTORS: dict[str, type[Connector]] = {
    "csv_people": CsvPeople, "file_learning": FileLearning, "csv_costs": CsvCosts,
    "csv_metrics": CsvMetrics, "jsonl_payroll": JsonlPayroll, "file_notifier": FileNotifier,
}


@hookimpl
def register_connectors(register: Callable[[str, type[Connector]], None]) -> None:
    for name, cls in BUILTIN_FILE_CONNECTORS.items():
        register(name, cls)


__all__ = ["BUILTIN_FILE_CONNECTORS", "FileNotifier", "FileSourceConfig", "JsonlPayroll", "Record",
           "append_once", "read_rows", "row_to_data", "sink_ids"]
