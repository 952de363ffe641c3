"""The ``ingest`` job (every source into the ledger) and the demo's shared sample data."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from trainbridge import hookimpl
from trainbridge.core.jobs import Job, JobContext, Plan
from trainbridge.core.streams import SOURCE_STREAMS
from trainbridge.rules.agreements import service_period

SHANGHAI = ZoneInfo("Asia/Shanghai")


class IngestJob(Job):
    """Naming it runs the sync's ingestion alone, for every source stream; it decides nothing."""

    name = "ingest"
    description = "Read every source into the ledger (people, catalog, learning, costs, metrics)."
    inputs: ClassVar[tuple[str, ...]] = tuple(k for kinds in SOURCE_STREAMS.values() for k in kinds)
    order = 10

    def decide(self, ctx: JobContext) -> Plan:
        return Plan()


@hookimpl
def register_jobs(register: Callable[[Job], None]) -> None:
    register(IngestJob())


# --- demo data: the people and the training of the two source articles ---------------

TRAINEES = [
    ("E001", "张伟"), ("E002", "王芳"), ("E003", "李娜"), ("E004", "刘洋"), ("E005", "陈静"),
    ("E006", "杨磊"), ("E007", "赵敏"), ("E008", "黄涛"), ("E009", "周杰"), ("E010", "吴婷"),
]
MANAGERS = [
    ("M001", "孙强", "销售部"), ("M002", "朱丽", "销售部"), ("M003", "胡斌", "运营部"),
    ("M004", "郭静", "运营部"), ("M005", "何军", "财务部"), ("M006", "林峰", "财务部"),
]


def add_months(day: date, months: int) -> date:
    import calendar

    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def write_jsonl(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")


def demo_dates(today: date) -> dict[str, date]:
    """The seed-000 timeline relative to ``today``: training a year ago, a leaver today."""
    training_day = add_months(today, -12) - timedelta(days=1)
    service_start = training_day + timedelta(days=1)
    # Served exactly 12 of 24 months: the last day is the eve of the 12-month anniversary.
    # The second leaver left three months ago, after 9 of 24 months (a last day still to come
    # would be quoted but not asked of her before it: docs/refunds.md).
    return {"training_day": training_day, "service_start": service_start,
            "leaver_last_day": add_months(service_start, 12) - timedelta(days=1),
            "second_leaver_last_day": add_months(service_start, 9) - timedelta(days=1)}


@hookimpl
def demo_prepare(workspace: Path, today: date) -> Mapping[str, Any]:
    d = demo_dates(today)
    data = workspace / "data"
    employees = [[eid, name, f"{eid.lower()}@acme.example", "运营部", "消防中控员", "fire_operator",
                  "M003", "ACME-SH", "Shanghai", add_months(d["training_day"], -30).isoformat(),
                  add_months(d["training_day"], -24).isoformat(), "active", "zh", "false", ""]
                 for eid, name in TRAINEES]
    employees += [[mid, name, f"{mid.lower()}@acme.example", dept, "部门经理", "manager", "",
                   "ACME-SH", "Shanghai", "2020-03-01", "2020-06-01", "active", "zh", "true",
                   "regional_manager;negotiation"] for mid, name, dept in MANAGERS]
    employees.append(["HR01", "钱梅", "hr@acme.example", "人力资源部", "HRBP", "hr", "", "ACME-SH",
                      "Shanghai", "2019-01-01", "2019-04-01", "active", "zh", "false", ""])
    write_csv(data / "employees.csv",
              ["employee_id", "name", "email", "department", "job_title", "role", "manager_id",
               "legal_entity", "site", "hire_date", "probation_end", "status", "language", "is_manager",
               "career_goals"], employees)
    write_csv(data / "separations.csv", ["separation_id", "employee_id", "last_day", "reason", "note"],
              [["S-E003", "E003", d["leaver_last_day"].isoformat(), "resignation", "个人原因辞职"],
               ["S-E007", "E007", d["second_leaver_last_day"].isoformat(), "resignation", "个人原因辞职"]])
    start = datetime.combine(d["training_day"], time(9, 0), SHANGHAI)
    catalog: list[dict[str, Any]] = [
        {"record": "program", "program_id": "FIRE-CTRL", "title": "消防设施操作员(消防中控)上岗证书培训",
         "delivery": "offline", "agreement_template": "service-24m", "service_months": 24,
         "certificate": "fire_control_operator", "competencies": ["fire_control"]},
        {"record": "session", "session_id": "FIRE-CTRL-1", "program_id": "FIRE-CTRL",
         "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=8)).isoformat(),
         "location": "上海培训中心"},
    ]
    catalog += [{"record": "enrollment", "enrollment_id": f"FIRE-CTRL-1-{eid}", "employee_id": eid,
                 "program_id": "FIRE-CTRL", "session_id": "FIRE-CTRL-1",
                 "enrolled_on": (d["training_day"] - timedelta(days=14)).isoformat(),
                 "status": "completed"} for eid, _ in TRAINEES]
    write_jsonl(data / "catalog.jsonl", catalog)
    events = [{"event_id": f"att-{eid}", "employee_id": eid, "event": "attended",
               "occurred_at": start.isoformat(), "program_id": "FIRE-CTRL", "session_id": "FIRE-CTRL-1",
               "checked_in_at": (start - timedelta(minutes=5)).isoformat()} for eid, _ in TRAINEES]
    write_jsonl(data / "learning_events.jsonl", events)
    # 李娜 (E003) signed her agreement on paper before the training (先签后训) and left after 12 of
    # 24 months: it comes in as an agreement signed elsewhere; the others sign through e-signature.
    # 赵敏 (E007) signed on paper too, but her paper has no deduction clause: what she owes is asked
    # of her as a repayment request, where 李娜's is deducted from her final pay with her consent.
    period = service_period(24, session_end=d["training_day"],
                            enrolled_on=d["training_day"] - timedelta(days=14))
    signed = datetime.combine(d["training_day"] - timedelta(days=7), time(10, 0), SHANGHAI)
    last_day = period.end - timedelta(days=1)  # a paper agreement writes the inclusive last day
    write_jsonl(data / "agreements.jsonl", [{
        "agreement_id": "paper-FIRE-CTRL-1-E003", "employee_id": "E003", "program_id": "FIRE-CTRL",
        "session_id": "FIRE-CTRL-1", "enrollment_id": "lms:FIRE-CTRL-1-E003", "template_id": "paper",
        "template_version": "1", "service_start": period.start.isoformat(), "service_months": 24,
        "service_end": last_day.isoformat(), "status": "signed", "signed_at": signed.isoformat(),
        "deduction_consent": True}, {
        "agreement_id": "paper-FIRE-CTRL-1-E007", "employee_id": "E007", "program_id": "FIRE-CTRL",
        "session_id": "FIRE-CTRL-1", "enrollment_id": "lms:FIRE-CTRL-1-E007", "template_id": "paper",
        "template_version": "1", "service_start": period.start.isoformat(), "service_months": 24,
        "service_end": last_day.isoformat(), "status": "signed", "signed_at": signed.isoformat(),
        "deduction_consent": False}])
    costs = []
    for eid, _ in TRAINEES:
        costs.append([f"FEE-{eid}", "course_fee", "1000.00", "CNY", "employee", eid, "FIRE-CTRL",
                      "FIRE-CTRL-1", d["training_day"].isoformat(), f"INV-2025-{eid}", "课程费"])
        costs.append([f"TRV-{eid}", "travel", "500.00", "CNY", "employee", eid, "FIRE-CTRL",
                      "FIRE-CTRL-1", d["training_day"].isoformat(), f"TRV-2025-{eid}", "差旅补贴"])
    costs.append(["INSTR-1", "instructor", "2000.00", "CNY", "shared", "", "FIRE-CTRL", "FIRE-CTRL-1",
                  d["training_day"].isoformat(), "INV-2025-T01", "讲师费 2000元/天"])
    write_csv(data / "cost_items.csv",
              ["item_id", "category", "amount", "currency", "allocation", "employee_id", "program_id",
               "session_id", "incurred_on", "voucher_ref", "description"], costs)
    metrics = []
    for eid, _ in TRAINEES:
        metrics.append([f"err-before-{eid}", eid, "error_rate", "0.05", add_months(d["training_day"], -1)
                        .isoformat(), "ratio", "lower_is_better"])
        metrics.append([f"err-after-{eid}", eid, "error_rate", "0.01", add_months(d["training_day"], 3)
                        .isoformat(), "ratio", "lower_is_better"])
    write_csv(data / "metrics.csv", ["metric_id", "employee_id", "metric", "value", "as_of", "unit",
                                     "direction"], metrics)
    # Refunds come out of pay only with written consent (李娜's paper has the clause) and never
    # below Shanghai's minimum wage; anything else is asked of the leaver as a repayment request.
    return {"jobs": {"separations": {"require_deduction_consent": True,
                                     "minimum_wage": {"ACME-SH": "2690.00"}}},
            "connectors": {
        "hr": {"type": "csv_people", "employees": "data/employees.csv",
               "separations": "data/separations.csv"},
        "lms": {"type": "file_learning", "events": "data/learning_events.jsonl",
                "catalog": "data/catalog.jsonl", "agreements": "data/agreements.jsonl"},
        "finance": {"type": "csv_costs", "path": "data/cost_items.csv"},
        "kpi": {"type": "csv_metrics", "path": "data/metrics.csv", "results": "out/results.jsonl"},
        "payroll": {"type": "jsonl_payroll", "path": "out/payroll.jsonl"},
        "notices": {"type": "file_notifier", "path": "out/notices.jsonl"},
    }}
