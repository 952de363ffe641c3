"""S4 reminders: 3 days before a session, 10 days after training without an action plan; each once."""

from __future__ import annotations

import json
from datetime import date

from tests.conftest import write
from trainbridge.core.runner import sync

EMPLOYEES = ("employee_id,name,department,legal_entity,is_manager\nM001,孙强,Sales,ACME-SH,true\n"
             "M002,朱丽,Sales,ACME-SH,true\n")
CATALOG = [
    {"record": "session", "session_id": "LEAD-2", "program_id": "LEAD2",
     "starts_at": "2026-07-20T09:00:00+08:00"},
    {"record": "enrollment", "enrollment_id": "e1", "employee_id": "M001", "program_id": "LEAD2",
     "session_id": "LEAD-2", "enrolled_on": "2026-07-01"},
]
EVENTS = [
    {"event_id": "a1", "employee_id": "M001", "event": "attended", "program_id": "LEAD",
     "occurred_at": "2026-07-07T09:00:00+08:00"},
    {"event_id": "a2", "employee_id": "M002", "event": "attended", "program_id": "LEAD",
     "occurred_at": "2026-07-07T09:00:00+08:00"},
    {"event_id": "p2", "employee_id": "M002", "event": "action_plan_submitted", "program_id": "LEAD",
     "occurred_at": "2026-07-12T09:00:00+08:00"},
]


def test_reminders_3_days_before_and_10_days_after_are_sent_once(make_workspace, tmp_path):
    write(tmp_path / "employees.csv", EMPLOYEES)
    write(tmp_path / "catalog.jsonl", "".join(json.dumps(r) + "\n" for r in CATALOG))
    write(tmp_path / "events.jsonl", "".join(json.dumps(r) + "\n" for r in EVENTS))
    ws = make_workspace({"connectors": {
        "hr": {"type": "csv_people", "employees": "employees.csv"},
        "lms": {"type": "file_learning", "events": "events.jsonl", "catalog": "catalog.jsonl"},
        "notices": {"type": "file_notifier", "path": "out/notices.jsonl"}}})
    sync(ws, ["points_reminders"], today=date(2026, 7, 16))
    sync(ws, ["points_reminders"], today=date(2026, 7, 17))
    sync(ws, ["points_reminders"], today=date(2026, 7, 17))
    sent = [json.loads(x)["id"] for x in (tmp_path / "out" / "notices.jsonl").read_text().splitlines()]
    assert sorted(sent) == ["reminder:action_plan:M001:LEAD", "reminder:session:LEAD-2:M001"]
