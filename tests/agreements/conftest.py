"""A workspace for the agreements job: people, a program with a template, local e-signature, a local TSA.

The sample is the seed's: FIRE-CTRL (template service-24m, 24 months), trainees enrolled
in a session; HR01 is HR. ``today`` is fixed so service periods are known exactly.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write
from trainbridge.core.runner import RunResult, Workspace, sync

TODAY = date(2026, 3, 10)
EMPLOYEES = """employee_id,name,email,department,role,legal_entity,language
E001,张伟,e001@acme.example,Operations,fire_operator,ACME-SH,zh
E002,王芳,e002@acme.example,Operations,fire_operator,ACME-SH,zh
HR01,钱梅,hr@acme.example,HR,hr,ACME-SH,zh
"""
PROGRAM = {"record": "program", "program_id": "FIRE-CTRL", "title": "消防设施操作员(消防中控)上岗证书培训",
           "agreement_template": "service-24m", "service_months": 24, "certificate": "fire_control_operator"}
WEBHOOK_SECRET = "wh-secret-for-tests"


def session(session_id: str, day: str) -> dict[str, Any]:
    return {"record": "session", "session_id": session_id, "program_id": "FIRE-CTRL",
            "starts_at": f"{day}T09:00:00+08:00", "ends_at": f"{day}T17:00:00+08:00",
            "location": "上海培训中心"}


def enrollment(employee_id: str, session_id: str, enrolled_on: str = "2026-02-01") -> dict[str, Any]:
    return {"record": "enrollment", "enrollment_id": f"{session_id}-{employee_id}",
            "employee_id": employee_id, "program_id": "FIRE-CTRL", "session_id": session_id,
            "enrolled_on": enrolled_on}


def jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def config(tmp_path: Path, catalog: list[dict[str, Any]], events: list[dict[str, Any]] = (),  # type: ignore[assignment]
           *, auto_sign: bool = False, job: dict[str, Any] | None = None) -> dict[str, Any]:
    write(tmp_path / "employees.csv", EMPLOYEES)
    write(tmp_path / "catalog.jsonl", jsonl(catalog))
    write(tmp_path / "events.jsonl", jsonl(list(events)))
    return {
        "connectors": {
            "hr": {"type": "csv_people", "employees": "employees.csv"},
            "lms": {"type": "file_learning", "catalog": "catalog.jsonl", "events": "events.jsonl"},
            "esign": {"type": "local_esign", "folder": "esign", "auto_sign": auto_sign,
                      "webhook_secret": WEBHOOK_SECRET},
            "tsa": {"type": "rfc3161", "url": "local"},
            "notices": {"type": "file_notifier", "path": "out/notices.jsonl"},
        },
        "jobs": {"agreements": {"company_name": "艾克美（上海）消防科技有限公司", **(job or {})}},
    }


@pytest.fixture
def agreements_ws(make_workspace: Callable[..., Workspace], tmp_path: Path) -> Callable[..., Workspace]:
    """A workspace with the given catalog (program FIRE-CTRL is always in it) and events."""

    def build(catalog: list[dict[str, Any]], events: list[dict[str, Any]] = (),  # type: ignore[assignment]
              **kwargs: Any) -> Workspace:
        return make_workspace(config(tmp_path, [PROGRAM, *catalog], events, **kwargs))

    return build


def run(ws: Workspace, today: date = TODAY) -> RunResult:
    [result] = sync(ws, ["agreements"], today=today)
    return result
