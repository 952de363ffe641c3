"""Service-period reminders (A4): HR and the employee, once per agreement and lead time."""

from __future__ import annotations

from datetime import date

from tests.agreements.conftest import enrollment, read_jsonl, run, session


def reminders(tmp_path):
    notices = read_jsonl(tmp_path / "out" / "notices.jsonl")
    return [n for n in notices if n["notice"] == "service_period_ending"]


def test_a_reminder_goes_to_hr_and_the_employee_one_month_before_the_end_once(agreements_ws, tmp_path):
    # signed service period 2024-03-21 .. 2026-03-21; today 2026-03-10 is inside the last month
    ws = agreements_ws([session("S0", "2024-03-20"), enrollment("E001", "S0", "2024-03-01")], auto_sign=True)
    first = run(ws)
    [notice] = reminders(tmp_path)
    assert notice["id"] == "service_period_ending:agreement:lms:S0-E001:1m"
    assert [(r["role"], r["name"]) for r in notice["recipients"]] == [("employee", "张伟"), ("hr", "钱梅")]
    assert "2026-03-21" in notice["body"] and "11 天" in notice["body"]
    assert any(line.startswith("service-period reminders: 1") for line in first.summary)
    for day in (date(2026, 3, 10), date(2026, 3, 11), date(2026, 3, 20)):
        again = run(ws, today=day)
        assert again.counts.get("outbox", 0) == 0 and again.counts.get("decisions", 0) == 0
    assert len(reminders(tmp_path)) == 1


def test_no_reminder_before_it_is_due_nor_for_an_unsigned_agreement(agreements_ws, tmp_path):
    ws = agreements_ws([session("S0", "2024-03-20"), enrollment("E001", "S0", "2024-03-01")])
    run(ws, today=date(2026, 2, 1))
    assert reminders(tmp_path) == []
    run(ws)  # due now, but the agreement was never signed
    assert reminders(tmp_path) == []


def test_reminder_lead_times_are_configurable(agreements_ws, tmp_path):
    ws = agreements_ws([session("S0", "2024-03-20"), enrollment("E001", "S0", "2024-03-01")], auto_sign=True,
                       job={"reminders": ["2m", "2w"],
                            "hr": [{"name": "培训组", "email": "training@acme.example"}]})
    run(ws, today=date(2026, 1, 25))
    assert [n["id"].rsplit(":", 1)[1] for n in reminders(tmp_path)] == ["2m"]
    run(ws, today=date(2026, 3, 8))
    sent = reminders(tmp_path)
    assert [n["id"].rsplit(":", 1)[1] for n in sent] == ["2m", "2w"]
    assert sent[1]["recipients"][1] == {"name": "培训组", "email": "training@acme.example", "role": "hr",
                                        "employee_id": None}


def test_a_leaver_gets_no_reminder(agreements_ws, tmp_path):
    ws = agreements_ws([session("S0", "2024-03-20"), enrollment("E001", "S0", "2024-03-01")], auto_sign=True)
    (tmp_path / "separations.csv").write_text("separation_id,employee_id,last_day,reason\nS1,E001,2026-02-28,"
                                              "resignation\n", encoding="utf-8")
    from trainbridge.core.runner import sync

    ws.settings.connectors["hr"]["separations"] = "separations.csv"
    ws.host.instances["hr"].config = ws.host.instances["hr"].config.model_copy(
        update={"separations": "separations.csv"})
    sync(ws, ["ingest"], today=date(2026, 3, 10))
    run(ws)
    assert reminders(tmp_path) == []
