"""``trainbridge refund quote`` (calculator and ledger modes) and ``trainbridge report costs``."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.refunds.conftest import agreement, put_agreements
from trainbridge.cli import build_cli
from trainbridge.core.runner import sync

SEED = ["refund", "quote", "--cost", "1700", "--service-start", "2025-01-01", "--service-months", "24",
        "--last-day", "2025-12-31", "--reason", "resignation"]


def run(args, config=None):
    prefix = ["--config", str(config)] if config else []
    return CliRunner().invoke(build_cli(), [*prefix, *args], catch_exceptions=False)


def test_calculator_seed_example_as_json(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no plugins.toml and no ledger: the calculator needs neither
    result = run([*SEED, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert list(data) == ["owed", "amount", "currency", "lines", "explanation"]
    assert data["owed"] is True and data["amount"] == "850.00" and data["currency"] == "CNY"
    [line] = data["lines"]
    assert line["base"] == "1700.00" and line["served"] == "12" and line["fraction"] == "0.5"
    assert line["amount"] == "850.00" and "LCL" in line["article"]
    assert any("Served 12 of 24 months" in t for t in data["explanation"])
    assert not (tmp_path / "trainbridge.db").exists()


def test_calculator_prints_the_explanation_and_the_amount():
    result = run(SEED)
    assert result.exit_code == 0, result.output
    assert "Served 12 of 24 months through 2025-12-31" in result.output
    assert result.output.rstrip().endswith("owed: 850.00 CNY")


def test_calculator_with_a_service_end_and_day_proration():
    result = run(["refund", "quote", "--cost", "1700.00", "--service-start", "2025-01-01", "--service-end",
                  "2026-12-31", "--last-day", "2026-01-31", "--reason", "dismissal_for_cause",
                  "--proration", "day", "--json"])
    data = json.loads(result.output)
    assert data["amount"] == "777.81" and data["lines"][0]["unit"] == "days"


def test_typing_the_inclusive_last_day_2026_12_31_gives_850_00_as_24_months_do_not_848_86():
    common = ["refund", "quote", "--cost", "1700", "--service-start", "2025-01-01",
              "--last-day", "2025-12-31", "--reason", "resignation", "--json"]
    by_months = json.loads(run([*common, "--service-months", "24"]).output)
    by_last_day = json.loads(run([*common, "--service-end", "2026-12-31"]).output)
    exclusive = json.loads(run([*common, "--service-end-exclusive", "2027-01-01"]).output)
    assert by_months["amount"] == by_last_day["amount"] == exclusive["amount"] == "850.00"
    assert by_last_day["lines"][0]["period"] == by_months["lines"][0]["period"] == "24"
    assert "2027-01-01 (end exclusive, 24 months)" in by_last_day["explanation"][1]


def test_calculator_probation_owes_nothing():
    result = run([*SEED, "--probation-end", "2026-01-01", "--json"])
    data = json.loads(result.output)
    assert data["owed"] is False and data["amount"] == "0.00"
    assert "264号" in data["lines"][0]["article"]


def test_calculator_clause_above_pro_rata_is_capped_with_a_warning():
    result = run([*SEED, "--clause-amount", "1700", "--json"])
    data = json.loads(result.output)
    assert data["amount"] == "850.00"
    assert any("Warning" in t and "capped" in t for t in data["explanation"])


def test_calculator_mutual_agreement_waived_and_currency():
    result = run(["refund", "quote", "--cost", "3000", "--service-start", "2025-01-01", "--service-months",
                  "12", "--last-day", "2025-06-30", "--reason", "mutual_agreement", "--currency", "USD",
                  "--json"])
    assert json.loads(result.output)["amount"] == "1500.00" and json.loads(result.output)["currency"] == "USD"
    waived = run(["refund", "quote", "--cost", "3000", "--service-start", "2025-01-01", "--service-months",
                  "12", "--last-day", "2025-06-30", "--reason", "mutual_agreement", "--waived", "--json"])
    assert json.loads(waived.output)["owed"] is False


@pytest.mark.parametrize(("args", "message"), [
    (["refund", "quote"], "give --employee ID"),
    (["refund", "quote", "--cost", "1700", "--service-start", "2025-01-01", "--last-day", "2025-12-31",
      "--reason", "resignation"], "one of --service-months or --service-end"),
    ([*SEED, "--service-end", "2027-01-01"], "one of --service-months or --service-end"),
    ([*SEED, "--employee", "E003"], "not both"),
    (["refund", "quote", "--cost", "-5"], "must be a number >= 0"),
    (["refund", "quote", "--cost", "abc"], "is not an amount"),
    ([*SEED[:-1], "quit"], "'quit' is not one of"),
    (["refund", "quote", "--cost", "1", "--service-start", "2025-01-01", "--service-end", "2024-01-01",
      "--last-day", "2025-12-31", "--reason", "resignation"], "must end after it starts"),
])
def test_calculator_usage_errors_say_what_is_missing(args, message):
    result = run(args)
    assert result.exit_code == 2
    assert message in result.output


def test_ledger_mode_quotes_the_employees_signed_agreements(seed_ws):
    ws = seed_ws()
    put_agreements(ws, agreement())
    sync(ws, ["ingest"])
    result = run(["refund", "quote", "--employee", "E003", "--last-day", "2026-05-10", "--reason",
                  "resignation", "--json"], ws.settings.path)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["amount"] == "850.00" and data["lines"][0]["agreement_id"] == "agreement:lms:FIRE-CTRL-1-E003"
    assert any("course_fee 1000.00 (finance:FEE-E003)" in t for t in data["explanation"])


def test_ledger_mode_takes_the_last_day_and_reason_from_the_separation(seed_ws):
    ws = seed_ws()
    put_agreements(ws, agreement())
    sync(ws, ["ingest"])
    result = run(["refund", "quote", "--employee", "E003"], ws.settings.path)
    said = result.output.splitlines()
    assert "reason resignation" in result.output and "owed: 850.00 CNY" in said
    # Not synced yet: payroll has nothing, and the command says that no proposal covers it.
    assert "payroll: 0.00 CNY deducted (net); the quote differs by 850.00 CNY." in said
    assert said[-1].startswith("no proposal is open for the difference: run `trainbridge sync separations`")
    other = run(["refund", "quote", "--employee", "E003", "--reason", "no_fault_dismissal", "--json"],
                ws.settings.path)
    assert json.loads(other.output)["owed"] is False


def test_ledger_mode_errors_for_an_unknown_employee(seed_ws):
    ws = seed_ws()
    sync(ws, ["ingest"])
    unknown = run(["refund", "quote", "--employee", "E999"], ws.settings.path)
    assert unknown.exit_code == 1 and "employee E999 is not in the ledger" in unknown.output
    stayer = run(["refund", "quote", "--employee", "E001"], ws.settings.path)
    assert stayer.exit_code == 2 and "give --last-day and --reason" in stayer.output


def test_report_costs_by_program_as_json(seed_ws):
    ws = seed_ws()
    sync(ws, ["costs"])
    result = run(["report", "costs", "--by", "program", "--format", "json"], ws.settings.path)
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.output)["rows"]
    assert row == {"program": "FIRE-CTRL", "name": "消防设施操作员(消防中控)上岗证书培训", "people": 10,
                   "course_fee": "10000.00", "instructor": "2000.00", "travel": "5000.00",
                   "total": "17000.00", "refundable": "17000.00", "currency": "CNY"}


def test_report_costs_by_employee_as_csv(seed_ws):
    ws = seed_ws()
    sync(ws, ["costs"])
    result = run(["report", "costs", "--format", "csv"], ws.settings.path)
    assert "E003,李娜,1,1000.00,200.00,500.00,1700.00,1700.00,CNY" in result.output
