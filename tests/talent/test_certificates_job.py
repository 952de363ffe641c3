"""Certificate expiry reminders: to the holder and HR, once per certificate and reminder."""

from __future__ import annotations

import json
from datetime import date

from tests.conftest import write
from trainbridge.core.runner import sync

EMPLOYEES = ("employee_id,name,email,role,site,legal_entity\n"
             "E001,张伟,e001@acme.example,fire_operator,Shanghai,ACME-SH\n"
             "E002,王芳,e002@acme.example,fire_operator,Shanghai,ACME-SH\n"
             "E003,李娜,e003@acme.example,fire_operator,Shanghai,ACME-SH\n"
             "E004,刘洋,e004@acme.example,fire_operator,Shanghai,ACME-SH\n"
             "HR01,钱梅,hr@acme.example,hr,Shanghai,ACME-SH\n")
SEPARATIONS = "separation_id,employee_id,last_day,reason\nS-E003,E003,2026-11-01,resignation\n"


def certificate(who: str, expires: str, issued: str = "2023-12-13", cid: str | None = None) -> dict[str, str]:
    return {"record": "certificate", "certificate_id": cid or f"FCO-{who}", "employee_id": who,
            "certificate": "fire_control_operator", "issued_on": issued, "expires_on": expires}


def workspace(make_workspace, tmp_path, certs, jobs=None):
    write(tmp_path / "employees.csv", EMPLOYEES)
    write(tmp_path / "separations.csv", SEPARATIONS)
    write(tmp_path / "certs.jsonl", "".join(json.dumps(c) + "\n" for c in certs))
    return make_workspace({"connectors": {
        "hr": {"type": "csv_people", "employees": "employees.csv", "separations": "separations.csv"},
        "lms": {"type": "file_learning", "events": "certs.jsonl"},
        "notices": {"type": "file_notifier", "path": "out/notices.jsonl"}}, "jobs": jobs or {}})


def sent(tmp_path) -> list[dict]:
    path = tmp_path / "out" / "notices.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_a_certificate_expiring_within_60_days_is_reminded_to_holder_and_hr_once(make_workspace, tmp_path):
    ws = workspace(make_workspace, tmp_path,
                   [certificate("E001", "2026-12-13"), certificate("E002", "2029-01-01")])
    first = sync(ws, ["certificates"], today=date(2026, 11, 23))
    sync(ws, ["certificates"], today=date(2026, 11, 24))
    sync(ws, ["certificates"], today=date(2026, 11, 24))
    notices = sent(tmp_path)
    assert [n["id"] for n in notices] == ["certificate_expiring:lms:FCO-E001:60d"]
    assert [(r["employee_id"], r["role"]) for r in notices[0]["recipients"]] == [("E001", "employee"),
                                                                                 ("HR01", "hr")]
    assert "2026-12-13" in notices[0]["body"] and "20 天" in notices[0]["body"]
    assert "张伟 (E001) fire_control_operator expires 2026-12-13 (20 days)" in first[0].summary[0]
    with ws.ledger.transaction() as conn:
        decisions = ws.ledger.list_decisions(conn, "certificate_reminder")
        assert len(ws.ledger.notices_sent(conn, related_id="lms:FCO-E001")) == 1
    assert [d["id"] for d in decisions] == ["certificate_reminder:lms:FCO-E001:60d"]
    assert decisions[0]["explanation"] == ["fire_control_operator of E001 expires on 2026-12-13; the 60d "
                                           "reminder is due from 2026-10-14"]


def test_no_reminder_before_the_lead_time_after_expiry_for_a_leaver_or_a_renewed_certificate(
        make_workspace, tmp_path):
    ws = workspace(make_workspace, tmp_path, [
        certificate("E001", "2027-03-01"),  # 98 days away
        certificate("E002", "2026-11-01"),  # already expired
        certificate("E003", "2026-12-01"),  # left on 2026-11-01
        certificate("E004", "2026-12-01"), certificate("E004", "2029-12-01", "2026-11-01", cid="FCO-E004-2"),
    ])
    result = sync(ws, ["certificates"], today=date(2026, 11, 23))[0]
    assert sent(tmp_path) == []
    assert result.summary == ["certificate reminders: 0 due"]


def test_each_configured_lead_time_is_its_own_reminder(make_workspace, tmp_path):
    ws = workspace(make_workspace, tmp_path, [certificate("E001", "2026-12-13")],
                   {"certificates": {"reminders": ["60d", "1w"],
                                     "hr": [{"name": "培训部", "email": "t@acme.example"}]}})
    sync(ws, ["certificates"], today=date(2026, 11, 23))
    sync(ws, ["certificates"], today=date(2026, 12, 7))
    sync(ws, ["certificates"], today=date(2026, 12, 8))
    notices = sent(tmp_path)
    assert [n["id"] for n in notices] == ["certificate_expiring:lms:FCO-E001:60d",
                                          "certificate_expiring:lms:FCO-E001:1w"]
    assert notices[0]["recipients"][1] == {"name": "培训部", "employee_id": None, "email": "t@acme.example",
                                           "role": "hr"}


def test_a_first_run_inside_two_lead_times_sends_one_notice_for_the_nearer(make_workspace, tmp_path):
    ws = workspace(make_workspace, tmp_path, [certificate("E001", "2026-12-13")],
                   {"certificates": {"reminders": ["60d", "1m"]}})
    sync(ws, ["certificates"], today=date(2026, 11, 23))
    sync(ws, ["certificates"], today=date(2026, 11, 30))
    assert [n["id"] for n in sent(tmp_path)] == ["certificate_expiring:lms:FCO-E001:1m"]


def test_without_a_notifier_the_reminder_waits_with_a_warning(make_workspace, tmp_path):
    write(tmp_path / "employees.csv", EMPLOYEES)
    write(tmp_path / "certs.jsonl", json.dumps(certificate("E001", "2026-12-13")) + "\n")
    ws = make_workspace({"connectors": {"hr": {"type": "csv_people", "employees": "employees.csv"},
                                        "lms": {"type": "file_learning", "events": "certs.jsonl"}}})
    result = sync(ws, ["certificates"], today=date(2026, 11, 23))[0]
    assert result.status == "partial"
    assert "not sent: no notifier configured" in result.errors[0]
    with ws.ledger.transaction() as conn:
        assert ws.ledger.list_decisions(conn, "certificate_reminder") == []
