"""The seed story's timeline, catalog and cost files, shared by the end-to-end stacks.

Seed 000: ten fire-control operators trained on one day; course fee 1000 and travel 500 per
head, an instructor's 2000 shared by the ten: 1700 each. A 24-month service period starts the
day after the training; 李娜 (E003) resigns after serving exactly 12 months and owes
1700 x 12/24 = 850.00 (docs/refunds.md, the first example).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from trainbridge.plugins.ingest import TRAINEES, write_csv, write_jsonl

SHANGHAI = ZoneInfo("Asia/Shanghai")
SEED_DAY = date(2026, 5, 11)            # "today" of every sync
TRAINING_DAY = date(2025, 5, 10)        # the session; the service period starts the next day
LAST_DAY = date(2026, 5, 10)            # the leaver's last day: 12 of 24 months served
LEAVER = "E003"
SESSION_START = datetime.combine(TRAINING_DAY, time(9, 0), SHANGHAI)
# The managers' own training, in the quarter before SEED_DAY (what incentives look at).
LEAD_START = datetime(2026, 3, 10, 9, 0, tzinfo=SHANGHAI)

__all__ = ["LAST_DAY", "LEAD_START", "LEAVER", "SEED_DAY", "SESSION_START", "TRAINEES", "TRAINING_DAY",
           "agreements_job", "write_catalog", "write_costs", "write_paper_agreement"]
#: When the leaver signed on paper: the week before the training (先签后训).
PAPER_SIGNED = datetime.combine(TRAINING_DAY - timedelta(days=7), time(10, 0), SHANGHAI)


def write_paper_agreement(folder: Path, *, employee_id: str = "E003", currency: str = "CNY",
                          signed_at: datetime = PAPER_SIGNED) -> str:
    """The leaver's agreement, signed on paper before trainbridge ran: the LMS export's agreements.

    A story whose people source already knows she left starts with her agreement from here (the
    agreements job drafts nothing for someone who has left).
    """
    write_jsonl(folder / "data" / "agreements.jsonl", [{
        "agreement_id": f"paper-FIRE-CTRL-1-{employee_id}", "employee_id": employee_id,
        "program_id": "FIRE-CTRL", "session_id": "FIRE-CTRL-1", "template_id": "service-24m",
        "template_version": "paper", "service_start": (TRAINING_DAY + timedelta(days=1)).isoformat(),
        "service_months": 24, "service_end": "2027-05-10", "currency": currency, "status": "signed",
        "signed_at": signed_at.isoformat(), "deduction_consent": True}])
    return "data/agreements.jsonl"


def write_catalog(folder: Path, ids: Mapping[str, str] | None = None) -> str:
    """The LMS export: FIRE-CTRL (24-month agreement) with its ten enrollees, and the managers' programs.

    ``ids`` maps the seed's employee numbers to the people source's employee ids.
    """
    ids = ids or {}
    rows: list[dict[str, Any]] = [
        {"record": "program", "program_id": "FIRE-CTRL", "title": "消防设施操作员(消防中控)上岗证书培训",
         "delivery": "offline", "agreement_template": "service-24m", "service_months": 24,
         "certificate": "fire_control_operator"},
        {"record": "session", "session_id": "FIRE-CTRL-1", "program_id": "FIRE-CTRL",
         "starts_at": SESSION_START.isoformat(), "ends_at": (SESSION_START + timedelta(hours=8)).isoformat(),
         "location": "上海培训中心"},
        {"record": "program", "program_id": "LEAD-101", "title": "Leading front-line teams",
         "delivery": "offline"},
        {"record": "session", "session_id": "LEAD-101-1", "program_id": "LEAD-101",
         "starts_at": LEAD_START.isoformat(), "ends_at": (LEAD_START + timedelta(hours=8)).isoformat()},
        {"record": "program", "program_id": "NEG-ONLINE", "title": "Negotiation basics (e-learning)",
         "delivery": "online"},
    ]
    rows += [{"record": "enrollment", "enrollment_id": f"FIRE-CTRL-1-{eid}", "employee_id": ids.get(eid, eid),
              "program_id": "FIRE-CTRL", "session_id": "FIRE-CTRL-1",
              "enrolled_on": (TRAINING_DAY - timedelta(days=14)).isoformat(), "status": "completed"}
             for eid, _ in TRAINEES]
    write_jsonl(folder / "data" / "catalog.jsonl", rows)
    return "data/catalog.jsonl"


def write_costs(folder: Path, currency: str, *, course_fees: bool,
                ids: Mapping[str, str] | None = None) -> str:
    """The finance export: travel per head and the shared instructor (and the course fees if asked)."""
    ids = ids or {}
    day = TRAINING_DAY.isoformat()
    rows = [["TRV-1", "travel", "500.00", currency, "per_head", "", "FIRE-CTRL", "FIRE-CTRL-1", day,
             "TRV-2025-01", "travel per trainee"],
            ["INSTR-1", "instructor", "2000.00", currency, "shared", "", "FIRE-CTRL", "FIRE-CTRL-1", day,
             "INV-2025-T01", "instructor 2000 for the day"]]
    if course_fees:
        rows += [[f"FEE-{eid}", "course_fee", "1000.00", currency, "employee", ids.get(eid, eid), "FIRE-CTRL",
                  "FIRE-CTRL-1", day, f"INV-2025-{eid}", "course fee"] for eid, _ in TRAINEES]
    write_csv(folder / "data" / "cost_items.csv",
              ["item_id", "category", "amount", "currency", "allocation", "employee_id", "program_id",
               "session_id", "incurred_on", "voucher_ref", "description"], rows)
    return "data/cost_items.csv"


def agreements_job(currency: str, **extra: Any) -> dict[str, Any]:
    """[jobs.agreements] for FIRE-CTRL; attendance before go-live (SEED_DAY) is not flagged."""
    return {"company_name": "艾克美（上海）消防科技有限公司", "enforce_from": SEED_DAY.isoformat(),
            "hr": [{"name": "钱梅", "email": "hr@acme.example"}],
            "programs": {"FIRE-CTRL": {"training_cost": "1700.00", "currency": currency}}, **extra}
