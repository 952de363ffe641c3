"""Issue 17: the points and incentives cases an HR team meets, each named after the case."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

from tests.conftest import write
from tests.points.test_incentives import EMPLOYEES, _event
from tests.points.test_performance_linkage import linkage_ws
from trainbridge.core.records import (
    CostAllocation,
    CostCategory,
    CostItem,
    LearningEvent,
    LearningEventKind,
    TrainingSession,
)
from trainbridge.core.runner import sync
from trainbridge.rules.costs import allocate_costs
from trainbridge.rules.incentives import IncentiveThresholds, flags, top_share
from trainbridge.rules.points import training_ends

T = IncentiveThresholds()
CST = timezone(timedelta(hours=8))
#: A three-day session, 2026-07-01 to 2026-07-03: "after the training" is after the 3rd.
SESSION = {"record": "session", "session_id": "S3D", "program_id": "LEAD",
           "starts_at": "2026-07-01T09:00:00+08:00", "ends_at": "2026-07-03T17:00:00+08:00"}


def points_ws(make_workspace, tmp_path, events, catalog=()):
    write(tmp_path / "employees.csv", EMPLOYEES)
    write(tmp_path / "events.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in events))
    write(tmp_path / "catalog.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in catalog))
    return make_workspace({"connectors": {
        "hr": {"type": "csv_people", "employees": "employees.csv"},
        "lms": {"type": "file_learning", "events": "events.jsonl", "catalog": "catalog.jsonl"},
        "notices": {"type": "file_notifier", "path": "out/notices.jsonl"}}})


def entries(ws):
    with ws.ledger.transaction() as conn:
        return {e.id: e for e in ws.ledger.iter_records(conn, "points_entry")}


def decisions(ws, kind):
    with ws.ledger.transaction() as conn:
        return ws.ledger.list_decisions(conn, kind)


def test_voiding_by_the_sources_own_event_id_takes_the_points_back(make_workspace, tmp_path):
    attended = _event("a-X3", "M001", "attended", "2026-07-06", session_id="S1", program_id="LEAD")
    ws = points_ws(make_workspace, tmp_path, [attended])
    sync(ws, ["points"], today=date(2026, 7, 6))
    assert set(entries(ws)) == {"points:M001:offline_attended:S1"}
    voided = _event("v-1", "M001", "voided", "2026-07-07", voids="a-X3")  # as docs/points.md writes it
    write(tmp_path / "events.jsonl", "".join(json.dumps(r) + "\n" for r in (attended, voided)))
    sync(ws, ["points"], today=date(2026, 7, 8))
    [taken] = decisions(ws, "points_superseded")
    assert taken["payload"]["superseded"] == "points:M001:offline_attended:S1"


def test_voiding_by_the_sources_own_event_id_leaves_the_attendee_out_of_the_cost_split():
    day = datetime(2026, 7, 6, 9, tzinfo=CST)
    events = [LearningEvent(id=f"lms:a-{e}", source="lms", employee_id=e, event=LearningEventKind.ATTENDED,
                            occurred_at=day, session_id="S1", program_id="LEAD") for e in ("E1", "E2")]
    events.append(LearningEvent(id="lms:v-1", source="lms", employee_id="E2", event=LearningEventKind.VOIDED,
                                occurred_at=day, voids="a-E2"))
    item = CostItem(id="fin:I1", category=CostCategory.INSTRUCTOR, allocation=CostAllocation.SHARED,
                    amount="2000.00", currency="CNY", session_id="S1", program_id="LEAD",
                    incurred_on=day.date(), voucher_ref="V1")
    allocation = allocate_costs([item], events=events)
    assert [(line.employee_id, str(line.amount)) for line in allocation.lines] == [("E1", "2000.00")]


def test_an_event_that_scores_nothing_records_why(make_workspace, tmp_path):
    ws = points_ws(make_workspace, tmp_path, [
        _event("a1", "M001", "attended", "2026-07-06", session_id="S1", program_id="LEAD"),
        _event("p1", "M001", "action_plan_submitted", "2026-08-17", program_id="LEAD")])  # 42 days late
    sync(ws, ["points"], today=date(2026, 8, 20))
    [why] = decisions(ws, "points_not_scored")
    assert why["subject"] == "M001" and why["payload"]["event"] == "lms:p1"
    assert "42 days after the training ended on 2026-07-06 (window 30 days)" in why["explanation"][0]


def test_the_30_day_action_plan_window_counts_from_the_end_of_a_multi_day_session(make_workspace,
                                                                                   tmp_path):
    # 32 days after the first day, 30 after the last: in the window (seed 003: 培训后 30 天内)
    ws = points_ws(make_workspace, tmp_path, [
        _event("a1", "M001", "attended", "2026-07-01", session_id="S3D", program_id="LEAD"),
        _event("p1", "M001", "action_plan_submitted", "2026-08-02", program_id="LEAD")], [SESSION])
    sync(ws, ["points"], today=date(2026, 8, 5))
    assert "points:M001:action_plan_submitted:LEAD" in entries(ws)
    session = TrainingSession(id="lms:S3D", session_id="S3D", program_id="LEAD",
                              starts_at=datetime(2026, 7, 1, 9, tzinfo=CST),
                              ends_at=datetime(2026, 7, 3, 17, tzinfo=CST))
    attended = LearningEvent(id="e", employee_id="M001", event=LearningEventKind.ATTENDED, session_id="S3D",
                             occurred_at=datetime(2026, 7, 1, 9, tzinfo=CST))
    assert training_ends([attended], {"S3D": session}) == {("M001", "LEAD"): date(2026, 7, 3)}


def test_the_10_day_action_plan_reminder_counts_from_the_end_of_a_multi_day_session(make_workspace,
                                                                                     tmp_path):
    ws = points_ws(make_workspace, tmp_path, [
        _event("a1", "M001", "attended", "2026-07-01", session_id="S3D", program_id="LEAD")], [SESSION])
    sync(ws, ["points_reminders"], today=date(2026, 7, 12))  # 11 days after the start, 9 after the end
    assert not (tmp_path / "out" / "notices.jsonl").exists()
    sync(ws, ["points_reminders"], today=date(2026, 7, 13))
    [notice] = [json.loads(x) for x in (tmp_path / "out" / "notices.jsonl").read_text().splitlines()]
    assert notice["notice"] == "action_plan_reminder" and "2026-07-03 结束" in notice["body"]


def test_promotion_priority_is_never_proposed_for_a_leaver(make_workspace, tmp_path):
    ws = linkage_ws(make_workspace, tmp_path)
    write(tmp_path / "separations.csv", "separation_id,employee_id,last_day,reason\nS-M001,M001,2026-09-30,"
                                        "resignation\n")
    text = ws.settings.path.read_text(encoding="utf-8")
    ws.settings.path.write_text(text.replace('employees = "employees.csv"',
                                             'employees = "employees.csv"\nseparations = "separations.csv"'),
                                encoding="utf-8")
    from trainbridge.core.config import load_settings
    from trainbridge.core.runner import Workspace

    ws2 = Workspace(load_settings(ws.settings.path))
    try:
        sync(ws2, ["points", "incentives"], today=date(2026, 10, 5))
        with ws2.ledger.transaction() as conn:
            kinds = {(p["kind"], p["subject"]) for p in ws2.ledger.list_proposals(conn)}
        assert ("promotion_priority", "M001") not in kinds  # sales +12%, but M001 has left
    finally:
        ws2.close()


def test_80_annual_points_make_a_manager_eligible_for_excellent_necessary_not_sufficient():
    [(flag, why)] = flags(0, 80, T)
    assert flag == "excellent_eligible" and "necessary, not sufficient" in why
    assert flags(0, 79, T) == []


def test_a_group_of_6_with_no_points_is_not_called_below_5():
    winners, how = top_share({f"M{i}": 0 for i in range(6)}, T)
    assert winners == set() and how == "none of the 6 managers has points: no top-20% award"
    assert "below 5" not in how
