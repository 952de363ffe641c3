"""Tenants for the distributed tests: file connectors; certificate bonuses auto-approved to JSONL payroll."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from trainbridge.core.demo import to_toml

JOBS = ("costs", "incentives")
EMPLOYEES = "employee_id,name,legal_entity\nE1,张伟,ACME-SH\nE2,王芳,ACME-SH\nE3,李娜,ACME-SH\n"
# A REST source nobody listens to: connection refused, retried, then the instance fails.
DOWN = {"type": "rest", "base_url": "http://127.0.0.1:9/api",
        "http": {"max_attempts": 2, "backoff_base": 0.2},
        "endpoints": {"employees": {"path": "/people", "records": "items", "key": "id",
                                    "fields": {"employee_id": "id", "name": "name"}}}}


def certificates(today: date) -> str:
    return "".join(json.dumps({"record": "certificate", "certificate_id": f"C{n}", "employee_id": f"E{n}",
                               "certificate": f"FIRE-{n}", "issued_on": today.isoformat()}) + "\n"
                   for n in (1, 2, 3))


def write_tenant(folder: Path, tenant: str, *, today: date, down: bool = False,
                 ledger_url: str | None = None) -> Path:
    """``folder/plugins.toml`` of one tenant; three certificate bonuses to post."""
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "data" / "employees.csv").write_text(EMPLOYEES, encoding="utf-8")
    (folder / "data" / "events.jsonl").write_text(certificates(today), encoding="utf-8")
    connectors: dict[str, Any] = {
        "hr": {"type": "csv_people", "employees": "data/employees.csv"},
        "lms": {"type": "file_learning", "events": "data/events.jsonl"},
        "payroll": {"type": "jsonl_payroll", "path": "out/payroll.jsonl"},
    }
    if down:
        connectors["hr_api"] = DOWN
    config: dict[str, Any] = {"tenant": {"id": tenant}}
    if ledger_url:
        config["ledger"] = {"url": ledger_url}
    config |= {"connectors": connectors, "approvals": {"auto": ["bonus"]}, "sync": {"jobs": list(JOBS)},
               "jobs": {"incentives": {"quarter": "current"}},
               "schedule": {"costs": "30 2 * * *", "incentives": "0 2 * * *"}}
    path = folder / "plugins.toml"
    path.write_text(to_toml(config), encoding="utf-8")
    return path


def payroll_ids(folder: Path) -> list[str]:
    path = folder / "out" / "payroll.jsonl"
    return [json.loads(x)["id"] for x in path.read_text().splitlines()] if path.exists() else []
