"""A custom xAPI verb mapped to action_plan_submitted scores +20 through the points job.

The LRS is faked with ``responses``. Statements are shaped like the xAPI 1.0.3 specification
(github.com/adlnet/xAPI-Spec, xAPI-Data.md 2.4 "Statement Properties", the Agent ``account``
of 2.4.2.1, ``contextActivities`` of 2.4.6.2, and the StatementResult of 2.5), as in
tests/connectors/xapi/fixtures.
"""

from __future__ import annotations

import base64
from datetime import date
from urllib.parse import parse_qs, urlsplit

import responses

from tests.conftest import write
from trainbridge.core.records import PointsEntry
from trainbridge.core.runner import sync
from trainbridge.plugins.points_leaderboard import leaderboard

ENDPOINT = "https://lrs.example.cn/xapi/"
PLAN_VERB = "https://xapi.example.cn/verbs/submitted-action-plan"
COURSE = "https://lms.example.cn/courses/leadership"
SESSION = "https://lms.example.cn/sessions/leadership-2026-07"
AUTHORITY = {"objectType": "Agent", "account": {"homePage": "https://lrs.example.cn", "name": "lms"}}


def statement(sid: str, who: str, verb: str, display: str, activity: str, timestamp: str,
              stored: str) -> dict[str, object]:
    return {
        "id": sid,
        "actor": {"objectType": "Agent", "name": who,
                  "account": {"homePage": "https://lms.example.cn", "name": who}},
        "verb": {"id": verb, "display": {"en-US": display}},
        "object": {"objectType": "Activity", "id": activity,
                   "definition": {"name": {"zh-CN": "管理者领导力工作坊"}}},
        "context": {"contextActivities": {"parent": [{"objectType": "Activity", "id": COURSE}]}},
        "timestamp": timestamp,
        "stored": stored,
        "authority": AUTHORITY,
        "version": "1.0.3",
    }


STATEMENTS = {"statements": [
    statement("9e1d6c2a-3f7b-4c55-9a0e-1b2c3d4e5f60", "M001", "http://adlnet.gov/expapi/verbs/attended",
              "attended", SESSION, "2026-07-06T09:00:00+08:00", "2026-07-06T01:00:02.000Z"),
    statement("2b7c1e9d-8a4f-4e21-b3c6-7d8e9f0a1b2c", "M001", PLAN_VERB, "submitted action plan",
              "https://lms.example.cn/plans/leadership-M001", "2026-07-20T18:30:00+08:00",
              "2026-07-20T10:30:01.000Z"),
], "more": ""}

EMPLOYEES = "employee_id,name,department,legal_entity,is_manager\nM001,孙强,Sales,ACME-SH,true\n"


def lrs_workspace(make_workspace, tmp_path):
    """Managers from a CSV, learning from an LRS whose custom plan verb is mapped to action_plan_submitted."""
    write(tmp_path / "employees.csv", EMPLOYEES)
    ws = make_workspace({"connectors": {
        "hr": {"type": "csv_people", "employees": "employees.csv"},
        "lrs": {"type": "xapi", "endpoint": ENDPOINT, "username": "lrs-key", "password": "lrs-secret-42",
                "verbs": {PLAN_VERB: "action_plan_submitted"},
                "programs": {COURSE: "LEAD"}, "sessions": {SESSION: "LEAD-1"},
                "http": {"backoff_base": 0, "max_attempts": 2}}}})
    return ws


def test_a_custom_verb_mapped_to_action_plan_submitted_scores_20_through_the_points_job(
        make_workspace, tmp_path):
    ws = lrs_workspace(make_workspace, tmp_path)
    with responses.RequestsMock() as lrs:
        lrs.add(responses.GET, f"{ENDPOINT}statements", json=STATEMENTS,
                headers={"X-Experience-API-Consistent-Through": "2026-07-21T00:00:00.000Z",
                         "X-Experience-API-Version": "1.0.3"})
        [result] = sync(ws, ["points"], today=date(2026, 7, 21))
        [call] = lrs.calls
    assert result.status == "ok", result.errors
    sent = call.request
    assert sent.method == "GET"
    assert parse_qs(urlsplit(sent.url).query) == {"limit": ["500"], "ascending": ["true"], "format": ["ids"]}
    assert sent.headers["X-Experience-API-Version"] == "1.0.3"
    assert sent.headers["Authorization"] == "Basic " + base64.b64encode(b"lrs-key:lrs-secret-42").decode()

    with ws.ledger.transaction() as conn:
        got = {e.rule: e for e in ws.ledger.iter_records(conn, "points_entry") if isinstance(e, PointsEntry)}
    assert {rule: e.points for rule, e in got.items()} == {"offline_attended": 10,
                                                           "action_plan_submitted": 20}
    plan = got["action_plan_submitted"]
    assert plan.event_id == "lrs:2b7c1e9d-8a4f-4e21-b3c6-7d8e9f0a1b2c"  # 14 days after the session
    assert [(s.employee_id, s.points) for s in leaderboard(ws, period="2026Q3", today=date(2026, 7, 21))] == [
        ("M001", 30)]


def test_an_xapi_voiding_statement_takes_the_action_plan_points_back(make_workspace, tmp_path):
    from responses import matchers

    ws = lrs_workspace(make_workspace, tmp_path)
    plan_id = "2b7c1e9d-8a4f-4e21-b3c6-7d8e9f0a1b2c"
    consistent = {"X-Experience-API-Consistent-Through": "2026-08-01T00:00:00.000Z"}
    # xAPI-Data.md 2.3.2: the voiding statement's object is a StatementRef to the voided one
    voiding = {"id": "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a",
               "actor": {"objectType": "Agent", "name": "HR", "mbox": "mailto:hr@example.cn"},
               "verb": {"id": "http://adlnet.gov/expapi/verbs/voided", "display": {"en-US": "voided"}},
               "object": {"objectType": "StatementRef", "id": plan_id},
               "timestamp": "2026-07-25T10:00:00+08:00", "stored": "2026-07-25T02:00:00.000Z",
               "authority": AUTHORITY, "version": "1.0.3"}
    with responses.RequestsMock() as lrs:
        lrs.add(responses.GET, f"{ENDPOINT}statements", json=STATEMENTS, headers=consistent)
        sync(ws, ["points"], today=date(2026, 7, 21))
    with responses.RequestsMock() as lrs:
        lrs.add(responses.GET, f"{ENDPOINT}statements", headers=consistent, json=STATEMENTS["statements"][1],
                match=[matchers.query_param_matcher({"voidedStatementId": plan_id, "format": "ids"})])
        lrs.add(responses.GET, f"{ENDPOINT}statements", headers=consistent,
                json={"statements": [voiding], "more": ""},
                match=[matchers.query_param_matcher({"ascending": "true"}, strict_match=False)])
        [result] = sync(ws, ["points"], today=date(2026, 7, 26))
    assert result.status == "ok", result.errors
    with ws.ledger.transaction() as conn:
        [row] = ws.ledger.list_decisions(conn, "points_superseded")
    assert row["payload"]["superseded"] == "points:M001:action_plan_submitted:LEAD"
    assert row["payload"]["reason"] == "voided" and row["payload"]["points"] == -20
    assert [(s.employee_id, s.points) for s in leaderboard(ws, period="2026Q3", today=date(2026, 7, 26))] == [
        ("M001", 10)]
