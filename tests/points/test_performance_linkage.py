"""Performance linkage (K1, K3, S6): promotion priority after a 10% gain, training results with the
points score and its review weight, pushed to the performance system once."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from tests.conftest import write
from tests.points.test_incentives import EMPLOYEES, _event
from trainbridge.core.errors import ConfigError
from trainbridge.core.records import MetricDirection
from trainbridge.core.runner import approve_proposals, sync
from trainbridge.rules.incentives import (
    Gain,
    IncentiveThresholds,
    completed_programs,
    improvement,
    promotion_priority,
)

T = IncentiveThresholds()


def gain(percent: str, metric: str = "sales") -> Gain:
    return Gain("M001", "LEAD", metric, Decimal(100), Decimal(100) + Decimal(percent), Decimal(percent))


def test_performance_up_10_percent_after_training_gives_promotion_priority():
    assert promotion_priority([gain("10")], T) == ["sales 100 -> 110 after LEAD: +10% (>= 10%)"]
    assert promotion_priority([gain("9.9")], T) == []


def test_the_promotion_priority_threshold_is_configuration():
    assert promotion_priority([gain("12")], IncentiveThresholds(performance_gain_percent=Decimal(15))) == []


def test_a_gain_is_aware_of_the_metric_direction():
    assert improvement(Decimal("0.05"), Decimal("0.045"), MetricDirection.LOWER_IS_BETTER) == Decimal(10)
    assert improvement(Decimal("0.05"), Decimal("0.055"), MetricDirection.LOWER_IS_BETTER) == Decimal(-10)


def test_the_review_weight_defaults_to_10_percent_and_must_stay_within_10_to_15_percent():
    assert T.review_weight == Decimal("0.10")
    assert IncentiveThresholds(review_weight=Decimal("0.15")).review_weight == Decimal("0.15")
    with pytest.raises(ValidationError, match=r"review_weight 0.2 is outside 10%-15% .*0.12 for 12%"):
        IncentiveThresholds(review_weight=Decimal("0.2"))
    with pytest.raises(ValidationError, match="outside 10%-15%"):
        IncentiveThresholds(review_weight=Decimal(12))  # a percentage, not a fraction


def test_a_bad_review_weight_in_plugins_toml_names_the_table_and_key(make_workspace):
    # The workspace validates every job's table when it opens (issue 16): the error comes first there.
    with pytest.raises(ConfigError) as err:
        ws = make_workspace({"jobs": {"incentives": {"review_weight": 0.25}}})
        ws.settings.job_config("incentives", IncentiveThresholds)
    text = str(err.value)
    assert "[jobs.incentives]" in text and "review_weight" in text and "10%-15%" in text


def test_completion_follows_the_last_event_and_completed_enrollments():
    from trainbridge.core.records import LearningEvent

    def ev(eid: str, kind: str, day: str) -> LearningEvent:
        row = _event(eid, "M002", kind, day, program_id="C1")
        return LearningEvent.model_validate({**{k: v for k, v in row.items() if k != "event_id"}, "id": eid})

    assert completed_programs([ev("c", "completed", "2026-07-01")]) == {("M002", "C1")}
    undone = [ev("c", "completed", "2026-07-01"), ev("u", "uncompleted", "2026-07-02")]
    assert completed_programs(undone) == set()


METRICS = """metric_id,employee_id,metric,value,as_of,unit,direction
s1,M001,sales,100000,2026-06-30,CNY,higher_is_better
s2,M001,sales,112000,2026-09-01,CNY,higher_is_better
s3,M002,sales,100000,2026-06-30,CNY,higher_is_better
s4,M002,sales,105000,2026-09-01,CNY,higher_is_better
e1,M002,error_rate,0.05,2026-06-30,ratio,lower_is_better
e2,M002,error_rate,0.046,2026-09-01,ratio,lower_is_better
"""


def linkage_ws(make_workspace, tmp_path, incentives: dict[str, object] | None = None):
    rows = [
        _event("a1", "M001", "attended", "2026-07-06", session_id="S1", program_id="LEAD"),
        _event("a2", "M002", "attended", "2026-07-06", session_id="S1", program_id="LEAD"),
        _event("c1", "M002", "completed", "2026-07-10", program_id="ONL"),
        _event("c2", "M002", "completed", "2026-07-11", program_id="EXCEL"),
        _event("u2", "M002", "uncompleted", "2026-07-12", program_id="EXCEL"),
        {"record": "certificate", "certificate_id": "cert1", "employee_id": "M003",
         "certificate": "fire_control_operator", "issued_on": "2026-08-01"},
    ]
    catalog = [
        {"record": "program", "program_id": "FIRE", "title": "消防", "certificate": "fire_control_operator"},
        {"record": "enrollment", "enrollment_id": "en1", "employee_id": "M003", "program_id": "FIRE",
         "enrolled_on": "2026-07-01", "status": "completed"}]
    write(tmp_path / "employees.csv", EMPLOYEES)
    write(tmp_path / "events.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    write(tmp_path / "catalog.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in catalog))
    write(tmp_path / "metrics.csv", METRICS)
    return make_workspace({
        "connectors": {"hr": {"type": "csv_people", "employees": "employees.csv"},
                       "lms": {"type": "file_learning", "events": "events.jsonl", "catalog": "catalog.jsonl"},
                       "kpi": {"type": "csv_metrics", "path": "metrics.csv", "results": "out/results.jsonl"}},
        "jobs": {"incentives": incentives or {}}})


def results(tmp_path) -> dict[str, dict[str, object]]:
    lines = (tmp_path / "out" / "results.jsonl").read_text().splitlines()
    out = [json.loads(x) for x in lines]
    assert len({r["id"] for r in out}) == len(out)  # each result once
    return {str(r["id"]): r for r in out}


def test_sales_up_12_percent_after_training_proposes_promotion_priority_and_5_percent_does_not(
        make_workspace, tmp_path):
    ws = linkage_ws(make_workspace, tmp_path)
    sync(ws, ["points", "incentives"], today=date(2026, 10, 5))
    with ws.ledger.transaction() as conn:
        priority = {p["id"]: p for p in ws.ledger.list_proposals(conn, kind="promotion_priority")}
    assert set(priority) == {"incentive:promotion_priority:M001:LEAD"}  # M002: sales +5%, errors +8%
    assert priority["incentive:promotion_priority:M001:LEAD"]["explanation"] == [
        "sales 100000 -> 112000 after LEAD: +12.0% (>= 10%)"]
    approve_proposals(ws, ["incentive:promotion_priority:M001:LEAD"], actor="hr@acme")
    pushed = results(tmp_path)["incentive:promotion_priority:M001:LEAD"]
    assert (pushed["flags"], pushed["program_id"]) == (["promotion_priority"], "LEAD")


def test_a_lower_promotion_priority_threshold_counts_m002s_error_rate_down_8_percent(
        make_workspace, tmp_path):
    ws = linkage_ws(make_workspace, tmp_path, {"performance_gain_percent": 8})
    sync(ws, ["points", "incentives"], today=date(2026, 10, 5))
    with ws.ledger.transaction() as conn:
        ids = {p["id"] for p in ws.ledger.list_proposals(conn, kind="promotion_priority")}
    # M002 trained three times before the September value: the gain follows each training
    assert ids == {"incentive:promotion_priority:M001:LEAD", "incentive:promotion_priority:M002:LEAD",
                   "incentive:promotion_priority:M002:ONL", "incentive:promotion_priority:M002:EXCEL"}


def test_training_results_carry_completion_certificate_and_the_points_score_with_its_review_weight(
        make_workspace, tmp_path):
    ws = linkage_ws(make_workspace, tmp_path, {"review_weight": 0.12})
    sync(ws, ["points", "incentives"], today=date(2026, 10, 5))
    pushed = results(tmp_path)
    # completions and certificates are facts: pushed at once, without waiting for HR
    assert set(pushed) == {"training_result:completion:M002:ONL", "training_result:completion:M003:FIRE",
                           "training_result:certificate:lms:cert1"}  # EXCEL was un-completed
    assert pushed["training_result:completion:M002:ONL"]["completed"] is True
    cert = pushed["training_result:certificate:lms:cert1"]
    assert (cert["certificate"], cert["program_id"]) == ("fire_control_operator", "FIRE")
    # the points score for the review waits for HR, with its weight
    approve_proposals(ws, ["incentive:review_points:M002:2026Q3"], actor="hr@acme")
    score = results(tmp_path)["incentive:review_points:M002:2026Q3"]
    assert (score["points"], Decimal(str(score["review_weight"])), score["period"]) == (15, Decimal("0.12"),
                                                                                         "2026Q3")
    sync(ws, ["points", "incentives"], today=date(2026, 10, 5))
    sync(ws, ["incentives"], today=date(2026, 10, 6))
    assert len(results(tmp_path)) == 4  # nothing pushed twice
