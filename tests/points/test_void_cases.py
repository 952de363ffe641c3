"""Review items 15, 20 (and 19's wording): what scores nothing for want of what it presupposes.

Seed 003's action plan is one made 培训后30天内 (within 30 days after the training): when the
manager's only attendance of the program is voided there is no training left, so the plan scores
nothing, and the points it already earned are taken back like any void's. A taught session needs
a session, program or object to be scored against. A workspace without managers has no group.
"""

from __future__ import annotations

import json
from datetime import date

from tests.conftest import write
from tests.points.test_hr_cases import decisions, entries, points_ws
from tests.points.test_incentives import _event
from trainbridge.core.runner import sync
from trainbridge.plugins.points import superseded_ids
from trainbridge.plugins.points_leaderboard import leaderboard
from trainbridge.rules.incentives import IncentiveThresholds, top_share

ATTENDED = _event("a-M1-L1", "M001", "attended", "2026-07-01", session_id="LEAD-1", program_id="LEAD")
PLAN = _event("p-M1", "M001", "action_plan_submitted", "2026-07-20", program_id="LEAD")
#: The void names the source's own event id, as the LMS sends it.
VOID = _event("v-M1", "M001", "voided", "2026-09-20", voids="a-M1-L1")


def rewrite(tmp_path, events):
    write(tmp_path / "events.jsonl", "".join(json.dumps(e) + "\n" for e in events))


def sync_points(ws, today):
    sync(ws, ["points"], today=today)


def points_of(ws, employee):
    board = leaderboard(ws, period="2026Q3", today=date(2026, 9, 30))
    [row] = [r for r in board if r.employee_id == employee]
    return row.points


def test_an_action_plan_loses_its_points_when_its_only_attendance_is_voided(make_workspace, tmp_path):
    ws = points_ws(make_workspace, tmp_path, [ATTENDED, PLAN])
    sync_points(ws, date(2026, 7, 21))
    assert points_of(ws, "M001") == 30  # attended +10, plan +20

    rewrite(tmp_path, [ATTENDED, PLAN, VOID])
    sync_points(ws, date(2026, 9, 21))

    taken = {d["payload"]["superseded"]: d for d in decisions(ws, "points_superseded")}
    assert set(taken) == {"points:M001:offline_attended:LEAD-1", "points:M001:action_plan_submitted:LEAD"}
    plan = taken["points:M001:action_plan_submitted:LEAD"]
    assert plan["payload"]["reason"] == "no_attendance" and plan["payload"]["points"] == -20
    assert plan["payload"]["event"] == "lms:v-M1"
    assert "no attendance left after the void of LEAD: +20 for action_plan_submitted taken back" \
        in plan["explanation"][0]
    [item] = plan["payload"]["explanation_items"]
    assert item["rule"] == "points_taken_back:no_attendance"
    assert item["inputs"]["reason"] == "no attendance left after the void"
    assert "培训后30天内" in item["article"]
    assert points_of(ws, "M001") == 0


def test_an_action_plan_read_after_the_void_of_its_only_attendance_scores_nothing_and_says_why(
        make_workspace, tmp_path):
    ws = points_ws(make_workspace, tmp_path, [ATTENDED, VOID])
    sync_points(ws, date(2026, 9, 21))
    late_plan = _event("p-M1", "M001", "action_plan_submitted", "2026-09-22", program_id="LEAD")
    rewrite(tmp_path, [ATTENDED, VOID, late_plan])
    sync_points(ws, date(2026, 9, 23))

    [why] = [d for d in decisions(ws, "points_not_scored") if d["payload"]["event"] == "lms:p-M1"]
    assert "no attendance left after the void" in why["explanation"][0]
    assert "points:M001:action_plan_submitted:LEAD" not in entries(ws)


def test_an_action_plan_and_the_void_of_its_only_attendance_read_together_score_nothing(make_workspace,
                                                                                         tmp_path):
    ws = points_ws(make_workspace, tmp_path, [ATTENDED, PLAN, VOID])
    sync_points(ws, date(2026, 9, 21))

    [why] = [d for d in decisions(ws, "points_not_scored") if d["payload"]["event"] == "lms:p-M1"]
    assert "no attendance left after the void" in why["explanation"][0]
    assert points_of(ws, "M001") == 0


def test_an_action_plan_keeps_its_points_when_another_attendance_of_the_program_is_left(make_workspace,
                                                                                          tmp_path):
    second = _event("a-M1-L2", "M001", "attended", "2026-07-02", session_id="LEAD-2", program_id="LEAD")
    ws = points_ws(make_workspace, tmp_path, [ATTENDED, second, PLAN])
    sync_points(ws, date(2026, 7, 21))
    rewrite(tmp_path, [ATTENDED, second, PLAN, VOID])
    sync_points(ws, date(2026, 9, 21))

    with ws.ledger.transaction() as conn:
        gone = superseded_ids(ws.ledger, conn)
    assert gone == {"points:M001:offline_attended:LEAD-1"}
    assert points_of(ws, "M001") == 30  # LEAD-2 +10, the plan +20


def test_a_taught_session_without_session_program_or_object_scores_nothing_and_says_why(make_workspace,
                                                                                         tmp_path):
    bare = _event("t-M1", "M001", "taught", "2026-09-01", audience="frontline")
    with_object = _event("t-M1b", "M001", "taught", "2026-09-02", audience="frontline", object_id="CLASS-9")
    ws = points_ws(make_workspace, tmp_path, [bare, with_object])
    sync_points(ws, date(2026, 9, 3))

    [why] = decisions(ws, "points_not_scored")
    assert why["payload"]["event"] == "lms:t-M1"
    assert why["explanation"] == ["lms:t-M1: no session, program or object to score taught_frontline against"]
    assert set(entries(ws)) == {"points:M001:taught_frontline:CLASS-9"}


def test_a_workspace_without_managers_says_there_are_none_not_group_of_0_is_below_5():
    winners, how = top_share({}, IncentiveThresholds())

    assert winners == set() and how == "no managers in this group: no top-20% award"
    _, small = top_share({"M1": 5, "M2": 3}, IncentiveThresholds())
    assert small == "group of 2 is below 5: no top-20% award"
