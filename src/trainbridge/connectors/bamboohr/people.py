"""Employee fields by BambooHR id: the custom report, or the employee directory without it.

``POST /v1/reports/custom`` ("Request Custom Report") is deprecated by BambooHR in favour of
its Datasets API and may be gone from an account, or refused to a key that may not run
reports. ``GET /v1/employees/directory`` ("Get Employee Directory") answers
``{"fields": [{"id", "type", "name"}, ...], "employees": [{"id": 123, "displayName": ...}]}``
with the fields the company shows in its directory (display, first and last name, job title,
work e-mail, department, location, division, ... as the company configured it) for the
employees it lists: current ones only. ``employees_from`` chooses: ``report``, ``directory``,
or ``auto`` (the report, and the directory from the first 404 or 403 the report answers on).

What the directory does not carry stays empty: the hire date, the employee number, the
supervisor's id (it names the supervisor), the status. A changed employee missing from the
directory is no longer current: it becomes a reject saying so, and the employmentStatus
table (``separations``) still records the leaving.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Literal

from trainbridge.connectors.bamboohr.shapes import text
from trainbridge.core.errors import AuthError, ConnectorError, NotFound
from trainbridge.core.http import HttpClient

log = logging.getLogger("trainbridge.bamboohr")
EmployeesFrom = Literal["auto", "report", "directory"]
#: The custom report format: the OpenAPI enum of ``POST /reports/custom`` is lowercase.
REPORT_FORMAT = {"format": "json"}


class EmployeeRows:
    """Fields of employees by BambooHR id, from the custom report or the directory."""

    def __init__(self, http: HttpClient, instance: str, employees_from: EmployeesFrom,
                 post_json: Callable[..., Any]) -> None:
        self.http = http
        self.instance = instance
        self.source: EmployeesFrom = employees_from
        self._post_json = post_json
        self._directory: dict[str, dict[str, Any]] | None = None

    @property
    def from_directory(self) -> bool:
        return self.source == "directory"

    def start(self) -> None:
        """A new read: the directory is asked again (once) when it is needed."""
        self._directory = None

    def rows(self, ids: Sequence[str] | None, fields: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Fields of the employees ``ids`` (every employee when None), by BambooHR id."""
        if not self.from_directory:
            try:
                return self._report(ids, fields)
            except (NotFound, AuthError) as exc:
                if self.source != "auto" or (isinstance(exc, AuthError) and exc.status != 403):
                    raise
                log.warning("%s: POST /reports/custom answered %s; reading employees from "
                            "GET /employees/directory instead (employees_from = \"directory\" "
                            "skips the report)", self.instance, exc.status)
                self.source = "directory"
        directory = self._read_directory()
        if ids is None:
            return dict(directory)
        return {i: directory[i] for i in ids if i in directory}

    def _report(self, ids: Sequence[str] | None, fields: Sequence[str]) -> dict[str, dict[str, Any]]:
        body: dict[str, Any] = {"title": "trainbridge", "fields": list(fields)}
        if ids is not None:
            body["filters"] = {"employeeIds": [int(i) if i.isdigit() else i for i in ids]}
        answer = self._post_json("reports/custom", params=REPORT_FORMAT, json=body, idempotent=True)
        employees = answer.get("employees") if isinstance(answer, dict) else None
        if not isinstance(employees, list):
            msg = "POST /reports/custom answered without an 'employees' list"
            raise ConnectorError(msg, instance=self.instance,
                                 hint="check base_url and that the API key may run reports")
        return {text(row.get("id")): row for row in employees if isinstance(row, dict)}

    def _read_directory(self) -> dict[str, dict[str, Any]]:
        if self._directory is None:
            answer = self.http.get_json("employees/directory")
            employees = answer.get("employees") if isinstance(answer, dict) else None
            if not isinstance(employees, list):
                msg = "GET /employees/directory answered without an 'employees' list"
                raise ConnectorError(msg, instance=self.instance,
                                     hint="the company directory may be switched off in BambooHR's "
                                          "settings: switch it on, or let the key run custom reports")
            self._directory = {text(row.get("id")): row for row in employees if isinstance(row, dict)}
        return self._directory

    def missing_reason(self, bamboo_id: str) -> str:
        """Why a changed employee has no row."""
        if self.from_directory:
            return (f"employee {bamboo_id} changed but is not in the employee directory, which lists "
                    "current employees only: a leaver's end date comes from the employmentStatus "
                    "table (source separations)")
        return (f"employee {bamboo_id} changed but is missing from the custom report: no permission "
                "to see it, or deleted meanwhile")
