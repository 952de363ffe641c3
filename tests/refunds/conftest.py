"""The seed story as files: ten trainees of FIRE-CTRL, 1000 + 500 per head, an instructor's
2000 for the day, and 李娜 (E003) resigning after exactly 12 of her 24 months of service.

Dates are fixed (no clock): the training is on 2025-05-10, the service period starts the
next day, 2025-05-11, and runs 24 months to 2027-05-11 (exclusive); E003's last day is
2026-05-10, so she has served through 2026-05-11 exclusive: 12 months.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write
from trainbridge.core.records import Agreement, AgreementStatus
from trainbridge.core.runner import Workspace

TRAINEES = ["E001", "E002", "E003", "E004", "E005", "E006", "E007", "E008", "E009", "E010"]
NAMES = {"E003": "李娜"}
TRAINING_DAY = "2025-05-10"
SERVICE_START = date(2025, 5, 11)
SERVICE_END = date(2027, 5, 11)
LEAVER_LAST_DAY = "2026-05-10"


def employees_csv(probation_end: str = "2023-06-01") -> str:
    rows = ["employee_id,name,department,legal_entity,hire_date,probation_end"]
    rows += [f"{e},{NAMES.get(e, 'trainee ' + e)},{'Operations' if e != 'E010' else 'Security'},ACME-SH,"
             f"2023-03-01,{probation_end}" for e in TRAINEES]
    return "\n".join(rows) + "\n"


def separations_csv(last_day: str = LEAVER_LAST_DAY, reason: str = "resignation", waived: str = "") -> str:
    return ("separation_id,employee_id,last_day,reason,waived\n"
            f"S-E003,E003,{last_day},{reason},{waived}\n")


def catalog_jsonl() -> str:
    rows: list[dict[str, Any]] = [
        {"record": "program", "program_id": "FIRE-CTRL", "title": "消防设施操作员(消防中控)上岗证书培训",
         "agreement_template": "service-24m", "service_months": 24},
        {"record": "session", "session_id": "FIRE-CTRL-1", "program_id": "FIRE-CTRL",
         "starts_at": f"{TRAINING_DAY}T09:00:00+08:00", "ends_at": f"{TRAINING_DAY}T17:00:00+08:00"},
    ]
    rows += [{"record": "enrollment", "enrollment_id": f"FIRE-CTRL-1-{e}", "employee_id": e,
              "program_id": "FIRE-CTRL", "session_id": "FIRE-CTRL-1", "enrolled_on": "2025-04-26",
              "status": "completed"} for e in TRAINEES]
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def events_jsonl(attendees: tuple[str, ...] = tuple(TRAINEES)) -> str:
    return "".join(json.dumps({"event_id": f"att-{e}", "employee_id": e, "event": "attended",
                               "occurred_at": f"{TRAINING_DAY}T09:00:00+08:00", "program_id": "FIRE-CTRL",
                               "session_id": "FIRE-CTRL-1"}) + "\n" for e in attendees)


def costs_csv(*extra: str) -> str:
    rows = ["item_id,category,amount,currency,allocation,employee_id,program_id,session_id,incurred_on,"
            "voucher_ref,description"]
    for e in TRAINEES:
        rows.append(f"FEE-{e},course_fee,1000.00,CNY,employee,{e},FIRE-CTRL,FIRE-CTRL-1,{TRAINING_DAY},"
                    f"INV-{e},课程费")
        rows.append(f"TRV-{e},travel,500.00,CNY,employee,{e},FIRE-CTRL,FIRE-CTRL-1,{TRAINING_DAY},"
                    f"TRV-{e},差旅补贴")
    rows.append(f"INSTR-1,instructor,2000.00,CNY,shared,,FIRE-CTRL,FIRE-CTRL-1,{TRAINING_DAY},INV-T01,"
                "讲师费 2000元/天")
    rows += extra
    return "\n".join(rows) + "\n"


def seed_files(folder: Path, **overrides: str) -> None:
    files = {"employees.csv": employees_csv(), "separations.csv": separations_csv(),
             "catalog.jsonl": catalog_jsonl(), "events.jsonl": events_jsonl(), "costs.csv": costs_csv()}
    files.update({k.replace("__", "."): v for k, v in overrides.items()})
    for name, text in files.items():
        write(folder / name, text)


def seed_config(**jobs: dict[str, Any]) -> dict[str, Any]:
    return {"connectors": {
        "hr": {"type": "csv_people", "employees": "employees.csv", "separations": "separations.csv"},
        "lms": {"type": "file_learning", "events": "events.jsonl", "catalog": "catalog.jsonl"},
        "finance": {"type": "csv_costs", "path": "costs.csv"},
        "payroll": {"type": "jsonl_payroll", "path": "out/payroll.jsonl"},
    }, **({"jobs": jobs} if jobs else {})}


def agreement(employee_id: str = "E003", *, program_id: str = "FIRE-CTRL", months: int = 24,
              start: date = SERVICE_START, end: date = SERVICE_END,
              status: AgreementStatus = AgreementStatus.SIGNED, **fields: Any) -> Agreement:
    """An agreement as the signing job records it (id ``agreement:{enrollment id}``)."""
    return Agreement(id=f"agreement:lms:{program_id}-1-{employee_id}", employee_id=employee_id,
                     program_id=program_id, template_id="service-24m", template_version="1",
                     service_start=start, service_months=months, service_end=end, status=status, **fields)


def put_agreements(ws: Workspace, *agreements: Agreement) -> None:
    with ws.ledger.transaction() as conn:
        ws.ledger.upsert_records(conn, list(agreements))


@pytest.fixture
def seed_ws(make_workspace: Callable[..., Workspace], tmp_path: Path) -> Callable[..., Workspace]:
    """A workspace over the seed files; ``files`` overrides a file (``costs__csv="..."``)."""
    def build(jobs: dict[str, Any] | None = None, **files: str) -> Workspace:
        seed_files(tmp_path, **files)
        return make_workspace(seed_config(**(jobs or {})))
    return build


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


D = Decimal
