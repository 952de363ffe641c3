"""Issue 17 item 5: every points decision is explained as data (rule, seed sentence, inputs, points)."""

from __future__ import annotations

import json
from datetime import date

from tests.conftest import write
from tests.points.test_hr_cases import decisions, points_ws
from tests.points.test_incentives import _event
from trainbridge.core.runner import sync


def test_a_points_entry_cites_the_seed_sentence_it_comes_from(make_workspace, tmp_path):
    ws = points_ws(make_workspace, tmp_path, [
        _event("a1", "M001", "attended", "2026-07-06", session_id="S1", program_id="LEAD")])
    sync(ws, ["points"], today=date(2026, 7, 6))
    [entry] = decisions(ws, "points_entry")
    [item] = entry["payload"]["explanation_items"]
    assert item["rule"] == "points:offline_attended"
    assert item["article"] == "seed 003: 参加线下课程得10分/次"
    assert (item["amount"], item["unit"]) == ("10", "points")
    assert item["inputs"] == {"event": "lms:a1", "rule_version": "2026.1"}


def test_points_taken_back_and_points_not_scored_are_explained_as_data(make_workspace, tmp_path):
    attended = _event("a-X3", "M001", "attended", "2026-07-06", session_id="S1", program_id="LEAD")
    late_plan = _event("p1", "M001", "action_plan_submitted", "2026-08-17", program_id="LEAD")
    ws = points_ws(make_workspace, tmp_path, [attended, late_plan])
    sync(ws, ["points"], today=date(2026, 8, 20))
    [skipped] = decisions(ws, "points_not_scored")
    [why] = skipped["payload"]["explanation_items"]
    assert why["rule"] == "points_not_scored:action_plan_submitted" and why["amount"] == "0"
    assert "30天内" in why["article"] and "42 days" in why["inputs"]["reason"]
    voided = _event("v-1", "M001", "voided", "2026-08-21", voids="a-X3")
    write(tmp_path / "events.jsonl", "".join(json.dumps(r) + "\n" for r in (attended, late_plan, voided)))
    sync(ws, ["points"], today=date(2026, 8, 22))
    [taken] = decisions(ws, "points_superseded")
    [item] = taken["payload"]["explanation_items"]
    assert (item["rule"], item["amount"]) == ("points_taken_back:voided", "-10")
    assert item["inputs"]["entry"] == "points:M001:offline_attended:S1"


def test_the_quarterly_top_share_decision_cites_its_seed_sentence(make_workspace, tmp_path):
    from tests.points.test_incentives import incentive_ws

    write(tmp_path / "metrics.csv", "metric_id,employee_id,metric,value,as_of\n")
    ws = incentive_ws(make_workspace, tmp_path)
    sync(ws, ["points", "incentives"], today=date(2026, 10, 5))
    [top] = decisions(ws, "incentive_top_share")
    [item] = top["payload"]["explanation_items"]
    assert item["rule"] == "incentive:bonus_coefficient" and "季度奖金系数增加0.1" in item["article"]
    assert (item["amount"], item["unit"]) == ("0.1", "coefficient")
    assert item["inputs"]["winners"] == ["M001"] and item["inputs"]["quarter"] == "2026Q3"


def test_a_certificate_reminder_is_explained_as_data(make_workspace, tmp_path):
    from tests.talent.test_certificates_job import certificate, workspace

    ws = workspace(make_workspace, tmp_path, [certificate("E001", "2026-12-13")])
    sync(ws, ["certificates"], today=date(2026, 11, 23))
    [reminder] = decisions(ws, "certificate_reminder")
    [item] = reminder["payload"]["explanation_items"]
    assert item["rule"] == "talent:certificate_expiring" and item["article"].startswith("seed 000 section 5")
    assert item["inputs"]["due_from"] == "2026-10-14" and item["amount"] is None
