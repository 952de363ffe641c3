"""In-house systems faked with ``responses``, shaped as docs/connectors/rest.md describes them.

The ``rest`` connector has no vendor: the API is whatever the operator's system answers. The
answers here follow the example of docs/connectors/rest.md (an HR system with page numbers
and a leavers cursor, a finance system with offsets, a training portal with ``Link``
headers), so the documented ``plugins.toml`` is tested against them as it stands.
"""

from __future__ import annotations

import copy
import json
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import responses

from trainbridge.connectors.rest import RestConnector
from trainbridge.core.connector import ConnectorContext

DOC = Path(__file__).parents[3] / "docs" / "connectors" / "rest.md"
HR = "https://hr.acme.internal/api/v2"
ERP = "https://erp.acme.internal/finance"
LEARN = "https://learn.acme.internal/api"
SECRETS = {"${ACME_HR_TOKEN}": "hr-token-0123456789", "${ACME_ERP_PASSWORD}": "erp-password-0123",
           "${ACME_LEARN_KEY}": "learn-key-0123456789"}


def doc_toml() -> str:
    return DOC.read_text(encoding="utf-8").split("```toml\n", 1)[1].split("```", 1)[0]


def doc_tables() -> dict[str, dict[str, Any]]:
    return tomllib.loads(doc_toml())["connectors"]


def resolved(table: Any) -> Any:
    """The table as the core hands it over: ``${ENV}`` replaced by the secret, no ``type``."""
    return {k: _secrets(v) for k, v in table.items() if k != "type"}


def _secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _secrets(v) for k, v in value.items()}
    return SECRETS.get(value, value) if isinstance(value, str) else value


def person(no: str, given: str, family: str, updated: str, **extra: Any) -> dict[str, Any]:
    return {"id": f"p-{no}", "employee_no": no, "name": {"given": given, "family": family},
            "contact": {"email": f"{no.lower()}@acme.example"},
            "org": {"department": "Operations", "title": "消防中控员", "manager_no": "M003"},
            "hired_on": "01/12/2021", "probation_end": "2022-06-01", "state": "A", "is_manager": False,
            "updated_at": updated, **extra}


PEOPLE = [person("E001", "伟", "张", "2025-05-30T08:00:00+08:00"),
          person("E002", "芳", "王", "2025-06-01T09:30:00+08:00"),
          person("E003", "娜", "李", "2025-06-01T10:00:00+08:00", state="L")]

LEAVERS = [{"employee_no": "E003", "last_day": "2025-06-01", "reason_code": "01",
            "remark": "个人原因辞职", "refund_waived": False, "changed_at": "2025-06-01T10:00:00Z"},
           {"employee_no": "E009", "last_day": "2025-06-02", "reason_code": "99",
            "remark": "", "changed_at": "2025-06-02T10:00:00Z"}]

COSTS = [{"voucher_line": "V-1001-1", "amount": 1000.00, "currency": "CNY", "cost_type": "TUITION",
          "charge_to": "head", "course_code": "FIRE-CTRL", "class_id": "FIRE-CTRL-1",
          "posted_at": "2024-06-03", "invoice_no": "INV-1001", "memo": "course fee per person"},
         {"voucher_line": "V-1002-1", "amount": 2000.00, "currency": "CNY", "cost_type": "TEACHER",
          "charge_to": "day", "course_code": "FIRE-CTRL", "class_id": "FIRE-CTRL-1",
          "posted_at": "2024-06-05", "invoice_no": "INV-1002", "memo": "instructor, one day"}]

COURSES = {"courses": [{"code": "FIRE-CTRL", "title": "消防设施操作员（中控）", "mode": "classroom",
                        "bond_months": "24", "bond_template": "service-24m"}]}

ATTENDANCE = [{"record_id": "A-1", "learner": {"employee_no": "E001"}, "result": "present",
               "checked_at": "2024-06-03T09:02:00+08:00", "course_code": "FIRE-CTRL",
               "class_id": "FIRE-CTRL-1", "score": None},
              {"record_id": "A-2", "learner": {"employee_no": "E002"}, "result": "pass",
               "checked_at": "2024-06-03T17:00:00", "course_code": "FIRE-CTRL",
               "class_id": "FIRE-CTRL-1", "score": 92.5}]


def body(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


@pytest.fixture
def fake() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def tables() -> dict[str, dict[str, Any]]:
    return copy.deepcopy(doc_tables())


@pytest.fixture
def make_rest(tmp_path: Path) -> Callable[..., RestConnector]:
    def build(table: dict[str, Any], name: str = "inhouse_hr") -> RestConnector:
        conn = RestConnector.from_mapping(name, resolved(table), ConnectorContext(base_dir=tmp_path))
        assert isinstance(conn, RestConnector)
        conn.sleeps = []  # type: ignore[attr-defined]
        conn.http._sleep = conn.sleeps.append  # type: ignore[attr-defined]
        return conn

    return build


def first_page(request: Any) -> tuple[bool, str]:
    return "page" not in request.params, "a next page, not the first"


def fake_hr(fake: responses.RequestsMock) -> None:
    fake.add(responses.GET, f"{HR}/people",
             body=body({"data": {"items": PEOPLE}, "meta": {"total_pages": 1}}))
    fake.add(responses.GET, f"{HR}/people/leavers",
             body=body({"data": LEAVERS, "meta": {"next_cursor": None}}))
    fake.add(responses.GET, f"{HR}/ping", json={"ok": True})


def fake_finance(fake: responses.RequestsMock) -> None:
    fake.add(responses.GET, f"{ERP}/training-costs", body=body({"rows": COSTS}))


def fake_learning(fake: responses.RequestsMock) -> None:
    fake.add(responses.GET, f"{LEARN}/courses", body=body(COURSES))
    fake.add(responses.GET, f"{LEARN}/attendance", body=body({"records": ATTENDANCE[:1]}),
             match=[first_page],
             headers={"Link": f'<{LEARN}/attendance?page=2>; rel="next", '
                              f'<{LEARN}/attendance?page=2>; rel="last"'})
    fake.add(responses.GET, f"{LEARN}/attendance", body=body({"records": ATTENDANCE[1:]}),
             match=[responses.matchers.query_param_matcher({"page": "2"})])
