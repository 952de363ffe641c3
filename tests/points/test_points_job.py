"""The points job on a real ledger: scoring, idempotency, leaderboard, recompute (S1, S2, S7)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from click.testing import CliRunner

from tests.conftest import write
from trainbridge.cli import build_cli
from trainbridge.core.records import PointsEntry
from trainbridge.core.runner import sync
from trainbridge.plugins.points import recompute
from trainbridge.plugins.points_leaderboard import leaderboard

EMPLOYEES = """employee_id,name,department,legal_entity,is_manager
M001,孙强,Sales,ACME-SH,true
M002,朱丽,Sales,ACME-SH,true
M003,胡斌,Operations,ACME-SH,true
E001,张伟,Operations,ACME-SH,false
"""
CATALOG = [
    {"record": "program", "program_id": "LEAD", "title": "管理者培训", "delivery": "offline"},
    {"record": "program", "program_id": "ONL", "title": "在线课程", "delivery": "online"},
    {"record": "session", "session_id": "LEAD-1", "program_id": "LEAD",
     "starts_at": "2026-06-20T09:00:00+08:00"},
]
EVENTS = [
    {"event_id": "a1", "employee_id": "M001", "event": "attended", "session_id": "LEAD-1",
     "program_id": "LEAD", "occurred_at": "2026-06-20T09:00:00+08:00",
     "checked_in_at": "2026-06-20T09:10:00+08:00"},
    {"event_id": "a2", "employee_id": "M002", "event": "attended", "session_id": "LEAD-1",
     "program_id": "LEAD", "occurred_at": "2026-06-20T09:00:00+08:00",
     "checked_in_at": "2026-06-20T08:55:00+08:00"},
    {"event_id": "a3", "employee_id": "E001", "event": "attended", "session_id": "LEAD-1",
     "program_id": "LEAD", "occurred_at": "2026-06-20T09:00:00+08:00"},
    {"event_id": "p1", "employee_id": "M001", "event": "action_plan_submitted", "program_id": "LEAD",
     "occurred_at": "2026-07-10T10:00:00+08:00"},
    {"event_id": "p1b", "employee_id": "M001", "event": "action_plan_submitted", "program_id": "LEAD",
     "occurred_at": "2026-07-12T10:00:00+08:00"},
    {"event_id": "t1", "employee_id": "M002", "event": "taught", "session_id": "FL-1",
     "audience": "frontline", "occurred_at": "2026-06-25T14:00:00+08:00"},
    {"event_id": "t2", "employee_id": "M003", "event": "taught", "session_id": "FL-2",
     "audience": "frontline", "occurred_at": "2026-07-05T14:00:00+08:00"},
    {"event_id": "c1", "employee_id": "M003", "event": "completed", "program_id": "ONL",
     "occurred_at": "2026-07-06T14:00:00+08:00"},
    {"event_id": "u1", "employee_id": "M003", "event": "uncompleted", "program_id": "ONL",
     "occurred_at": "2026-07-07T14:00:00+08:00"},
    {"event_id": "c2", "employee_id": "M003", "event": "completed", "program_id": "ONL",
     "occurred_at": "2026-07-08T14:00:00+08:00"},
]
RULES_20_THEN_30 = """[[versions]]
version = "2026.1"
effective = "2000-01-01"

[versions.points]
offline_attended = 10
online_completed = 5
late = -2
action_plan_submitted = 20
action_plan_adopted = 50
taught_frontline = 20
reflection_article = 15

[[versions]]
version = "2026.2"
effective = "2026-07-01"

[versions.points]
offline_attended = 10
online_completed = 5
late = -2
action_plan_submitted = 20
action_plan_adopted = 50
taught_frontline = 30
reflection_article = 15
"""


def jsonl(rows: list[dict[str, object]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def points_ws(make_workspace, tmp_path: Path, rules: str | None = None,
              leaderboard: dict[str, object] | None = None):
    write(tmp_path / "employees.csv", EMPLOYEES)
    write(tmp_path / "catalog.jsonl", jsonl(CATALOG))
    write(tmp_path / "events.jsonl", jsonl(EVENTS))
    cfg: dict[str, object] = {"connectors": {
        "hr": {"type": "csv_people", "employees": "employees.csv"},
        "lms": {"type": "file_learning", "events": "events.jsonl", "catalog": "catalog.jsonl"}}}
    points: dict[str, object] = {}
    if rules:
        points["rules"] = str(write(tmp_path / "rules.toml", rules))
    if leaderboard:
        points["leaderboard"] = leaderboard
    if points:
        cfg["jobs"] = {"points": points}
    return make_workspace(cfg)


def entries(ws) -> dict[str, PointsEntry]:
    with ws.ledger.transaction() as conn:
        return {e.id: e for e in ws.ledger.iter_records(conn, "points_entry")}  # type: ignore[misc]


def test_the_points_job_scores_managers_events_once_per_employee_rule_and_object(make_workspace, tmp_path):
    ws = points_ws(make_workspace, tmp_path)
    [result] = sync(ws, ["points"])
    assert result.status == "ok", result.errors
    got = {(e.employee_id, e.rule): e.points for e in entries(ws).values()}
    assert got == {("M001", "offline_attended"): 10, ("M001", "late"): -2,
                   ("M001", "action_plan_submitted"): 20,
                   ("M002", "offline_attended"): 10, ("M002", "taught_frontline"): 30,
                   ("M003", "taught_frontline"): 30, ("M003", "online_completed"): 5}


def test_rerunning_the_points_job_changes_nothing(make_workspace, tmp_path):
    ws = points_ws(make_workspace, tmp_path)
    sync(ws, ["points"])
    before = entries(ws)
    [again] = sync(ws, ["points"])
    assert entries(ws) == before
    assert again.counts.get("derived_records", 0) == 0 and again.counts.get("decisions", 0) == 0


def test_leaderboard_ranks_managers_for_a_period_and_a_department(make_workspace, tmp_path):
    ws = points_ws(make_workspace, tmp_path)
    sync(ws, ["points"])
    year = leaderboard(ws, period="2026", today=date(2026, 9, 30))
    assert [(s.rank, s.employee_id, s.points) for s in year] == [(1, "M002", 40), (2, "M003", 35),
                                                                 (3, "M001", 28)]
    q3 = leaderboard(ws, period="2026Q3", today=date(2026, 9, 30), department="Operations")
    assert [(s.employee_id, s.points) for s in q3] == [("M003", 35)]


def test_leaderboard_command_prints_json(make_workspace, tmp_path):
    ws = points_ws(make_workspace, tmp_path, leaderboard={"visibility": "named"})
    sync(ws, ["points"])
    out = CliRunner().invoke(build_cli(), ["--config", str(ws.settings.path), "points", "leaderboard",
                                           "--period", "2026", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["rows"][0]["employee_id"] == "M002"


def test_teaching_20_to_30_keeps_earlier_entries_at_20_until_recomputed_and_the_ledger_keeps_both(
        make_workspace, tmp_path):
    ws = points_ws(make_workspace, tmp_path, RULES_20_THEN_30)
    sync(ws, ["points"])
    taught = {e.employee_id: e for e in entries(ws).values() if e.rule == "taught_frontline"}
    assert (taught["M002"].points, taught["M002"].rule_version) == (20, "2026.1")
    assert (taught["M003"].points, taught["M003"].rule_version) == (30, "2026.2")
    done = recompute(ws, since=date(2026, 6, 1), today=date(2026, 9, 30))
    old = taught["M002"].id
    assert done == [(old, old + "@2026.2")]
    after = entries(ws)
    assert after[old].points == 20 and after[old + "@2026.2"].points == 30
    with ws.ledger.transaction() as conn:
        [row] = [r for r in ws.ledger.list_decisions(conn, "points_superseded") if r["payload"]["by"]]
    assert row["payload"]["superseded"] == old
    board = leaderboard(ws, period="2026", today=date(2026, 9, 30))
    assert {s.employee_id: s.points for s in board}["M002"] == 40
    assert recompute(ws, since=date(2026, 6, 1), today=date(2026, 9, 30)) == []


def superseded(ws) -> dict[str, dict[str, object]]:
    with ws.ledger.transaction() as conn:
        return {r["payload"]["superseded"]: r for r in ws.ledger.list_decisions(conn, "points_superseded")}


def add_events(tmp_path: Path, rows: list[dict[str, object]]) -> None:
    with (tmp_path / "events.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(jsonl(rows))


def test_a_voided_event_takes_its_points_back_with_the_reason_and_the_leaderboard_leaves_them_out(
        make_workspace, tmp_path):
    ws = points_ws(make_workspace, tmp_path)
    sync(ws, ["points"])
    taught = "points:M002:taught_frontline:FL-1"
    assert {s.employee_id: s.points for s in leaderboard(ws, period="2026", today=date(2026, 9, 30))}[
        "M002"] == 40
    add_events(tmp_path, [{"event_id": "v1", "employee_id": "M002", "event": "voided", "voids": "lms:t1",
                           "occurred_at": "2026-07-20T10:00:00+08:00"}])
    [result] = sync(ws, ["points"])
    assert "1 taken back" in result.summary[0]
    row = superseded(ws)[taught]
    assert row["payload"]["reason"] == "voided" and row["payload"]["points"] == -30
    assert row["explanation"] == [f"event lms:t1 voided by lms:v1 on 2026-07-20: +30 for taught_frontline "
                                  f"taken back ({taught})"]
    assert entries(ws)[taught].points == 30  # kept in the ledger, superseded
    board = {s.employee_id: s.points for s in leaderboard(ws, period="2026", today=date(2026, 9, 30))}
    assert board["M002"] == 10
    sync(ws, ["points"])
    assert len(superseded(ws)) == 2  # M003's un-completion and this one: nothing taken twice


def test_an_un_completed_course_takes_the_5_points_back_and_completing_again_earns_them_only_once(
        make_workspace, tmp_path):
    ws = points_ws(make_workspace, tmp_path)
    sync(ws, ["points"])
    # c1 completed (+5), u1 un-completed (taken back), c2 completed again (+5 once more): 5 in all
    online = {e.id: e for e in entries(ws).values() if e.rule == "online_completed"}
    first, again = "points:M003:online_completed:ONL", "points:M003:online_completed:ONL~lms:c2"
    assert set(online) == {first, again}
    assert superseded(ws)[first]["payload"]["reason"] == "uncompleted"
    active = [e for e in online.values() if e.id not in superseded(ws)]
    assert [e.id for e in active] == [again]
    # toggling on: un-complete, complete, complete again in a later run never holds two entries
    add_events(tmp_path, [
        {"event_id": "u2", "employee_id": "M003", "event": "uncompleted", "program_id": "ONL",
         "occurred_at": "2026-07-09T14:00:00+08:00"},
        {"event_id": "c3", "employee_id": "M003", "event": "completed", "program_id": "ONL",
         "occurred_at": "2026-07-10T14:00:00+08:00"},
        {"event_id": "c4", "employee_id": "M003", "event": "completed", "program_id": "ONL",
         "occurred_at": "2026-07-11T14:00:00+08:00"}])
    sync(ws, ["points"])
    gone = superseded(ws)
    active = [e for e in entries(ws).values() if e.rule == "online_completed" and e.id not in gone]
    assert [e.id for e in active] == ["points:M003:online_completed:ONL~lms:c3"]
    board = {s.employee_id: s.points for s in leaderboard(ws, period="2026Q3", today=date(2026, 9, 30))}
    assert board["M003"] == 35  # 30 teaching + 5 online, however often the course was toggled


def test_a_voided_event_read_after_its_voiding_scores_nothing(make_workspace, tmp_path):
    ws = points_ws(make_workspace, tmp_path)
    add_events(tmp_path, [
        {"event_id": "art", "employee_id": "M001", "event": "article", "object_id": "A1",
         "occurred_at": "2026-07-20T10:00:00+08:00"},
        {"event_id": "v2", "employee_id": "M001", "event": "voided", "voids": "lms:art",
         "occurred_at": "2026-07-19T10:00:00+08:00"}])  # the voiding sorts first
    sync(ws, ["points"])
    assert not any(e.rule == "reflection_article" for e in entries(ws).values())
