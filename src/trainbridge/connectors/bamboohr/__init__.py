"""BambooHR (``bamboohr``): people, separations and training records in; training results out.

Source of every endpoint and field below: BambooHR's OpenAPI description
(github.com/BambooHR/bhr-api-python, ``specs/public.yaml``) and its field and table
reference (documentation.bamboohr.com/docs/list-of-field-names, .../tables):

* ``GET  /employees/changed?since=`` -> ``{"latest", "employees": {id: {id, action, lastChanged}}}``
  (actions ``Inserted``, ``Updated``, ``Deleted``; a change to any field or to the jobInfo,
  employmentStatus or compensation tables counts).
* ``POST /reports/custom?format=json`` with ``{"fields": [...], "filters": {"employeeIds": [...]}}``
  -> ``{"fields": [...], "employees": [{"id", field: value}]}``. Fetching a page of changed
  employees is one request, where ``GET /employees/{id}`` would be one per employee.
* ``GET  /employees/changed/tables/{jobInfo|employmentStatus}?since=``
  -> ``{"table", "employees": {id: {"lastChanged", "rows": [...]}}}``.
* ``GET  /training/type`` -> ``{typeId: TrainingType}``; ``GET /training/record/employee/{id}``
  -> ``{recordId: TrainingRecord}`` or ``[]`` (cost is the text ``"50.00 USD"``).
* ``GET/POST /employees/{id}/tables/{table}``: the rows of a (custom) table; the sink for
  training results. ``GET /meta/fields``: the health check.

Auth is HTTP Basic with the API key as user name and ``x`` as password. Errors carry
their text in the ``X-BambooHR-Error-Message`` header; 429 and 503 come with
``Retry-After``, which the core's HttpClient honours.
"""

from __future__ import annotations

from collections.abc import Callable

from trainbridge import hookimpl
from trainbridge.connectors.bamboohr.config import BambooHRConfig, ResultsTable
from trainbridge.connectors.bamboohr.connector import BambooHRConnector


@hookimpl
def register_connectors(register: Callable[..., None]) -> None:
    register("bamboohr", BambooHRConnector)


__all__ = ["BambooHRConfig", "BambooHRConnector", "ResultsTable", "register_connectors"]
