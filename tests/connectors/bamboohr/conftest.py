"""BambooHR faked with ``responses``; payloads in fixtures/ follow BambooHR's own reference.

Shapes from the OpenAPI description in github.com/BambooHR/bhr-api-python
(``specs/public.yaml``: get-changed-employee-ids, request-custom-report,
get-changed-employee-table-data, list-training-types, list-employee-trainings,
get-employee-table-data) and documentation.bamboohr.com (sample answers of "Gets all
updated employee IDs" and "Gets all updated employee table data"; the tables page for the
employmentStatus columns).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import responses

from trainbridge.connectors.bamboohr import BambooHRConnector
from trainbridge.core.connector import ConnectorContext

FIXTURES = Path(__file__).parent / "fixtures"
API_KEY = "bamboo-api-key-0123456789abcdef"
BASE = "https://api.bamboohr.com/api/gateway.php/acme/v1"
CHANGED = f"{BASE}/employees/changed"
REPORT = f"{BASE}/reports/custom"
EMPLOYMENT_STATUS = f"{BASE}/employees/changed/tables/employmentStatus"
JOB_INFO = f"{BASE}/employees/changed/tables/jobInfo"
TRAINING_TYPES = f"{BASE}/training/type"


def payload(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def training_url(employee_id: str) -> str:
    return f"{BASE}/training/record/employee/{employee_id}"


def report_for(ids: list[str], source: str = "custom_report") -> dict[str, Any]:
    """The custom report answer for these employee ids only (as BambooHR filters it)."""
    body = payload(source)
    body["employees"] = [e for e in body["employees"] if e["id"] in ids]
    return body


def report_callback(request: Any) -> tuple[int, dict[str, str], str]:
    """Answers POST /reports/custom like BambooHR: only the employees asked for."""
    asked = json.loads(request.body)
    ids = [str(i) for i in asked.get("filters", {}).get("employeeIds", [])]
    body = payload("custom_report")
    body["employees"] = [{k: v for k, v in e.items() if k == "id" or k in asked["fields"]}
                         for e in body["employees"] if not ids or e["id"] in ids]
    return 200, {"Content-Type": "application/json"}, json.dumps(body)


@pytest.fixture
def fake() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def config() -> dict[str, Any]:
    return {"company_domain": "acme", "api_key": API_KEY,
            "http": {"backoff_base": 0, "max_attempts": 3}}


@pytest.fixture
def make_bamboo(config: dict[str, Any], tmp_path: Path) -> Callable[..., BambooHRConnector]:
    def build(**overrides: Any) -> BambooHRConnector:
        conn = BambooHRConnector.from_mapping("bamboo", {**config, **overrides},
                                              ConnectorContext(base_dir=tmp_path))
        assert isinstance(conn, BambooHRConnector)
        conn.sleeps = []  # type: ignore[attr-defined]
        conn.http._sleep = conn.sleeps.append  # type: ignore[attr-defined]
        return conn

    return build


@pytest.fixture
def bamboo(make_bamboo: Callable[..., BambooHRConnector]) -> BambooHRConnector:
    return make_bamboo()


#: Employees 3 and 4 changed; each has training records (fixtures training_records_3/4).
CHANGED_3_4 = {"latest": "2024-07-01T09:30:00+00:00", "employees": {
    "4": {"id": "4", "action": "Updated", "lastChanged": "2024-07-01T09:30:00+00:00"},
    "3": {"id": "3", "action": "Inserted", "lastChanged": "2024-07-01T08:00:00+00:00"}}}


@pytest.fixture
def training(fake: responses.RequestsMock) -> responses.RequestsMock:
    fake.add(responses.GET, CHANGED, json=CHANGED_3_4)
    fake.add(responses.GET, TRAINING_TYPES, json=payload("training_types"))
    fake.add(responses.GET, training_url("3"), json=payload("training_records_3"))
    fake.add(responses.GET, training_url("4"), json=payload("training_records_4"))
    return fake
