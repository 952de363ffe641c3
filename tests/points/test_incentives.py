"""What points buy (S3, S6, K3): every threshold by name, and the job's proposals reach sinks once."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

from tests.conftest import write
from trainbridge.core.runner import approve_proposals, sync
from trainbridge.rules.incentives import IncentiveThresholds, bonus_percent, flags, promotion, top_share

T = IncentiveThresholds()


def test_quarterly_top_20_percent_gets_bonus_coefficient_plus_0_1():
    scores = {"M1": 90, "M2": 60, "M3": 50, "M4": 40, "M5": 20, "M6": 10, "M7": 5, "M8": 5, "M9": 0, "M10": 0}
    winners, how = top_share(scores, T)
    assert winners == {"M1", "M2"} and "top 20% of 10 = 2" in how
    assert T.top_coefficient == Decimal("0.1")


def test_ties_at_the_cut_all_get_the_top_share_award():
    winners, how = top_share({"M1": 50, "M2": 40, "M3": 40, "M4": 10, "M5": 5, "M6": 0}, T)
    assert winners == {"M1"}
    winners, how = top_share({"M1": 40, "M2": 40, "M3": 10, "M4": 10, "M5": 5}, T)
    assert winners == {"M1", "M2"} and "1 more tied" in how


def test_a_group_smaller_than_min_group_gets_no_top_share_award():
    winners, how = top_share({"M1": 90, "M2": 10}, T)
    assert winners == set() and "below 5" in how


def test_100_points_make_a_regional_manager_candidate_and_80_points_earn_perks():
    assert [f for f, _ in flags(100, 0, T)] == ["regional_manager", "perks"]
    assert [f for f, _ in flags(99, 0, T)] == ["perks"]
    assert [f for f, _ in flags(79, 0, T)] == []


def test_annual_80_points_may_be_rated_excellent():
    assert [f for f, _ in flags(0, 80, T)] == ["excellent_eligible"]
    assert flags(0, 79, T) == []


def test_promotion_needs_120_points_in_12_months_and_80_percent_action_plans():
    assert promotion(120, Decimal("0.8"), T)[0] is True
    ok, reasons = promotion(119, Decimal("1"), T)
    assert ok is False and "119 points in the last 12 months (< 120)" in reasons[0]
    ok, reasons = promotion(200, Decimal("0.75"), T)
    assert ok is False and "action-plan completion 75% (< 80%)" in reasons[1]
    assert promotion(200, None, T)[0] is False


def test_bonus_is_1_percent_per_full_10_points_capped_at_5_percent():
    assert bonus_percent(9, T) == 0
    assert bonus_percent(10, T) == 1
    assert bonus_percent(39, T) == 3
    assert bonus_percent(50, T) == 5
    assert bonus_percent(130, T) == 5


def test_certificate_bonus_is_5_percent():
    assert T.certificate_bonus_percent == 5


def test_thresholds_are_configuration():
    strict = IncentiveThresholds(perks_points=90, promotion_points=150)
    assert flags(85, 0, strict) == [] and promotion(140, Decimal(1), strict)[0] is False


EMPLOYEES = "employee_id,name,department,legal_entity,is_manager\n" + "".join(
    f"M00{i},经理{i},Sales,ACME-SH,true\n" for i in range(1, 7))


def _event(eid: str, emp: str, kind: str, day: str, **extra: object) -> dict[str, object]:
    return {"event_id": eid, "employee_id": emp, "event": kind, "occurred_at": f"{day}T09:00:00+08:00",
            **extra}


def _events() -> list[dict[str, object]]:
    rows = []
    # M001: 10 sessions (100) + 1 plan (20) + adopted (50) = 170 in 2026Q3: top, regional, perks, promotion
    for i in range(10):
        rows.append(_event(f"a{i}", "M001", "attended", "2026-07-06", session_id=f"S{i}", program_id="LEAD"))
    rows.append(_event("p1", "M001", "action_plan_submitted", "2026-07-20", program_id="LEAD"))
    rows.append(_event("ad1", "M001", "action_plan_adopted", "2026-08-20", program_id="LEAD"))
    # M002: 3 sessions = 30 -> bonus +3%
    for i in range(3):
        rows.append(_event(f"b{i}", "M002", "attended", "2026-07-06", session_id=f"S{i}", program_id="LEAD"))
    rows.append({"record": "certificate", "certificate_id": "c1", "employee_id": "M003",
                 "certificate": "fire_control_operator", "issued_on": "2026-08-01"})
    return rows


def incentive_ws(make_workspace, tmp_path: Path):
    write(tmp_path / "employees.csv", EMPLOYEES)
    write(tmp_path / "events.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in _events()))
    return make_workspace({"connectors": {
        "hr": {"type": "csv_people", "employees": "employees.csv"},
        "lms": {"type": "file_learning", "events": "events.jsonl"},
        "payroll": {"type": "jsonl_payroll", "path": "out/payroll.jsonl"},
        "kpi": {"type": "csv_metrics", "path": "metrics.csv", "results": "out/results.jsonl"}}})


def test_the_incentives_job_proposes_for_hr_and_approved_ones_reach_payroll_once(make_workspace, tmp_path):
    write(tmp_path / "metrics.csv", "metric_id,employee_id,metric,value,as_of\n")
    ws = incentive_ws(make_workspace, tmp_path)
    results = sync(ws, ["points", "incentives"], today=date(2026, 10, 5))
    assert all(r.status == "ok" for r in results), [r.errors for r in results]
    with ws.ledger.transaction() as conn:
        proposals = {p["id"]: p for p in ws.ledger.list_proposals(conn, status="pending")}
    assert set(proposals) == {
        "incentive:bonus_coefficient:M001:2026Q3", "incentive:bonus:M001:2026Q3",
        "incentive:regional_manager:M001:2026Q3", "incentive:perks:M001:2026Q3",
        "incentive:excellent:M001:2026", "incentive:promotion:M001:2026Q3",
        "incentive:bonus:M002:2026Q3", "incentive:bonus:M003:certificate:fire_control_operator",
        *(f"incentive:review_points:M00{i}:2026Q3" for i in range(1, 7))}
    # A percentage is a rate, not money: no amount or currency on the proposal, "+3%" in its summary
    assert proposals["incentive:bonus:M002:2026Q3"]["amount"] is None
    assert proposals["incentive:bonus:M002:2026Q3"]["currency"] is None
    assert proposals["incentive:bonus:M002:2026Q3"]["summary"].endswith("(+3%)")
    assert proposals["incentive:bonus:M001:2026Q3"]["summary"].endswith("(+5%)")
    assert proposals["incentive:bonus:M003:certificate:fire_control_operator"]["summary"].endswith("(+5%)")
    assert not (tmp_path / "out" / "payroll.jsonl").exists()
    [again] = sync(ws, ["incentives"], today=date(2026, 10, 5))
    assert "proposals" not in again.counts
    approve_proposals(ws, ["incentive:bonus_coefficient:M001:2026Q3", "incentive:promotion:M001:2026Q3"],
                      actor="hr@acme")
    approve_proposals(ws, ["incentive:bonus_coefficient:M001:2026Q3"], actor="hr@acme")
    payroll = (tmp_path / "out" / "payroll.jsonl").read_text().splitlines()
    assert [json.loads(x)["id"] for x in payroll] == ["incentive:bonus_coefficient:M001:2026Q3"]
    coefficient = json.loads(payroll[0])
    assert (coefficient["amount"], coefficient["unit"]) == ("0.1", "coefficient")
    assert coefficient["currency"] is None
    results_out = [json.loads(x) for x in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert [r["flags"] for r in results_out if r["flags"]] == [["promotion"]]
