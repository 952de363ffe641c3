"""The three talent reports on the demo workspace, through the command line, in every format."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from trainbridge.cli import build_cli
from trainbridge.core.config import load_settings
from trainbridge.core.demo import run_demo
from trainbridge.core.reports import to_html
from trainbridge.core.runner import Workspace
from trainbridge.plugins.talent.view import cost_lines

TODAY = "2026-11-23"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("talent") / "demo"
    lines: list[str] = []
    assert run_demo(folder, today=date.fromisoformat(TODAY), echo=lines.append) == 0
    return folder / "plugins.toml", "\n".join(lines)


def report(demo: tuple[Path, str], *args: str) -> str:
    result = CliRunner().invoke(build_cli(), ["--config", str(demo[0]), "report", *args, "--today", TODAY])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_demo_reminds_the_two_operators_whose_certificates_expire_within_60_days(demo):
    assert ("certificate reminders: 2 due: 张伟 (E001) fire_control_operator expires 2026-12-13 (20 days); "
            "王芳 (E002) fire_control_operator expires 2027-01-07 (45 days)") in demo[1]
    notices = [json.loads(x) for x in (demo[0].parent / "out" / "notices.jsonl").read_text().splitlines()]
    assert {n["id"] for n in notices if n["notice"] == "certificate_expiring"} == {
        "certificate_expiring:lms_certificates:FCO-E001:60d",
        "certificate_expiring:lms_certificates:FCO-E002:60d"}


def test_demand_10_operators_required_5_certified_2_expiring_2_leavers_gives_8_to_train(demo):
    out = json.loads(report(demo, "demand", "--format", "json"))
    row = out["rows"][0]
    keys = ("certificate", "role", "site", "required", "headcount", "holders", "expiring")
    assert {k: row[k] for k in keys} == {
        "certificate": "fire_control_operator", "role": "fire_operator", "site": "Shanghai", "required": 10,
        "headcount": 8, "holders": 5, "expiring": 2}
    # E003 and E007 left: 2 of 10 in 12 months; 3 staying holders x 20% = 0.60, rounded up to 1
    assert (row["attrition_pct"], row["expected_leavers"]) == ("20.0", 1)
    assert (row["to_train"], row["sessions"]) == (8, 2)  # 10 - 5 + 2 + 1; class size 6
    assert (row["cost_per_head"], row["budget"], row["currency"]) == ("1700.00", "13600.00", "CNY")
    expiring, basis = out["sections"]
    # "sent" is when the reminder really went out (the wall clock), not the demo's pretend today
    sent_on = f"sent {datetime.now(UTC):%Y-%m-%d}", f"sent {datetime.now(UTC) - timedelta(days=1):%Y-%m-%d}"
    assert [(r["employee"], r["days_left"]) for r in expiring["rows"]] == [("E001", 20), ("E002", 45)]
    assert all(r["reminder"] in sent_on for r in expiring["rows"])
    assert len(basis["rows"]) == 21 and {"item": "finance:INSTR-1", "category": "instructor",
                                         "allocated": "2000.00", "people": 10,
                                         "certificate": "fire_control_operator"} in basis["rows"]
    assert out["data"]["forecasts"][0]["leavers_12m"] == ["E003", "E007"]
    assert "attrition 2 leaver(s) in 12 months / 10 people = 20.0%" in "\n".join(out["notes"])


def test_demand_horizon_and_class_size_options(demo):
    out = report(demo, "demand", "--format", "json", "--horizon", "1m", "--class-size", "20")
    row = json.loads(out)["rows"][0]
    assert (row["expiring"], row["expected_leavers"], row["to_train"], row["sessions"]) == (1, 1, 7, 1)
    result = CliRunner().invoke(build_cli(), ["--config", str(demo[0]), "report", "demand",
                                              "--horizon", "soon"])
    assert result.exit_code != 0 and "is not months" in result.output


def test_needs_rank_negotiation_first_with_reviews_and_goals_behind_it(demo):
    out = json.loads(report(demo, "needs", "--format", "json"))
    ranked = [(r["topic"], r["people"], r["from_reviews"], r["from_goals"]) for r in out["rows"]]
    assert ranked[0] == ("商务谈判", 6, 4, 6)
    assert ("应急处置", 1, 1, 0) in ranked  # E007 has left and ("领导力", 6, 0, 6) in ranked
    assert "M002 competency:negotiation 2 < 3" in out["rows"][0]["evidence"]


def test_profile_of_an_operator_in_every_format(demo):
    data = json.loads(report(demo, "profile", "--employee", "E001", "--format", "json"))
    summary = {r["item"]: r["value"] for r in data["rows"]}
    assert summary["trainings completed"] == "1 of 1"
    assert summary["certificates"] == "fire_control_operator (expiring)"
    assert data["data"]["gaps"] == ["emergency_response"]
    effect = next(s for s in data["sections"] if s["title"] == "Performance before and after training")
    assert effect["rows"][0]["improvement_pct"] == "80.0"  # 5% -> 1%
    table = report(demo, "profile", "--employee", "E001")
    assert "Skill gaps" in table and "emergency_response" in table
    rows = list(csv.reader(io.StringIO(report(demo, "profile", "--employee", "E001", "--format", "csv"))))
    assert rows[0] == ["item", "value"] and ["name", "张伟"] in rows
    html = report(demo, "profile", "--employee", "E001", "--format", "html")
    assert html.startswith("<!doctype html>") and "Capability profile E001 张伟" in html


def test_profile_of_an_employee_with_no_history_says_so(demo):
    out = report(demo, "profile", "--employee", "HR01")
    assert "钱梅 (HR01) has no training history" in out
    missing = json.loads(report(demo, "profile", "--employee", "NOBODY", "--format", "json"))
    assert missing["data"]["found"] is False and "no employee NOBODY in the ledger" in missing["notes"][0]


def test_profile_of_a_department_counts_skill_gaps(demo):
    out = json.loads(report(demo, "profile", "--department", "运营部", "--format", "json"))
    assert [r["employee"] for r in out["rows"]][:3] == ["E001", "E002", "E004"]  # E003 has left
    assert out["data"]["gaps"]["emergency_response"] == 8  # E003 and E007 have left
    assert out["data"]["gaps"]["fire_control_operator"] == 3


def test_cost_basis_uses_the_latest_revision_and_drops_withdrawn_allocations():
    rows = [{"payload": {"item_id": "FEE", "employee_id": "E001", "program_id": "P", "category": "course_fee",
                         "amount": "1000.00", "currency": "CNY", "revision": 1}},
            {"payload": {"item_id": "FEE", "employee_id": "E001", "program_id": "P", "category": "course_fee",
                         "amount": "900.00", "currency": "CNY", "revision": 2}},
            {"payload": {"item_id": "TRV", "employee_id": "E001", "program_id": "P", "category": "travel",
                         "amount": "0.00", "currency": "CNY", "revision": 2, "withdrawn": True}}]
    assert [(c.item_id, str(c.amount)) for c in cost_lines(rows)] == [("FEE", "900.00")]


def test_each_report_builds_without_options_as_the_web_console_calls_it(demo):
    ws = Workspace(load_settings(demo[0]))
    try:
        for name in ("profile", "demand", "needs"):
            assert "<table>" in to_html(ws.host.reports[name].build(ws)), name
    finally:
        ws.close()
