"""Issue 22: one huge amount stopped costs and refunds for everyone. Amounts and currencies are
checked where they enter; a bad row is quarantined with its reason, the seed leaver still owes 850."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pydantic import ValidationError

from tests.connectors.files.conftest import ingest, quarantined, records
from tests.refunds.conftest import TRAINING_DAY, agreement, costs_csv, put_agreements
from trainbridge.core.records import AdjustmentKind, PayrollAdjustment
from trainbridge.core.runner import sync

D = Decimal
COST = ("{item},course_fee,{amount},{currency},employee,E003,FIRE-CTRL,FIRE-CTRL-1,"
        + TRAINING_DAY + ",INV-X,typo")
BAD_LINE = 23  # the header, 21 seed items, then the extra row


def cost_row(amount: str, *, item: str = "BAD-E003", currency: str = "CNY") -> str:
    return COST.format(item=item, amount=amount, currency=currency)


@pytest.mark.parametrize("amount", ["1e309", "NaN", "Infinity", "-Infinity", "123456789012345678901234567"])
def test_a_cost_of_1e309_nan_infinity_or_27_digits_is_quarantined_and_the_leaver_still_owes_850(
        seed_ws, no_traceback, amount):
    ws = seed_ws(costs__csv=costs_csv(cost_row(amount)))
    put_agreements(ws, agreement())
    results = sync(ws, ["costs", "separations"])
    assert [r.status for r in results] == ["ok", "ok"], [r.errors for r in results]
    assert "owes 850.00 CNY" in "\n".join(results[1].summary)
    [bad] = quarantined(ws)
    assert bad["key"] == "finance:BAD-E003"
    assert bad["reason"].startswith(f"costs.csv line {BAD_LINE}, field amount: ")
    assert "finance:BAD-E003" not in records(ws, "cost_item")


def test_a_12_digit_cost_is_accepted_and_a_13_digit_one_is_a_typo(files_ws):
    header = "item_id,category,amount,currency,incurred_on,employee_id\n"
    ws = files_ws({"finance": {"type": "csv_costs", "path": "costs.csv"}}, costs__csv=(
        header + "BIG,course_fee,999999999999.99,CNY,2026-01-05,E001\n"
                 "TYPO,course_fee,1000000000000,CNY,2026-01-05,E001\n"))
    ingest(ws)
    assert records(ws, "cost_item")["finance:BIG"].amount == D("999999999999.99")
    [typo] = quarantined(ws)
    assert "line 3, field amount: 1000000000000 has more than 12 digits" in typo["reason"]


def test_json_numbers_1e309_and_nan_in_a_jsonl_cost_file_are_quarantined_not_infinite(files_ws, no_traceback):
    base = {"category": "course_fee", "currency": "CNY", "incurred_on": "2026-01-05", "employee_id": "E001"}
    lines = [json.dumps({"item_id": "OK", "amount": 1000.5, **base}),
             '{"item_id": "HUGE", "amount": 1e309, ' + json.dumps(base)[1:],
             '{"item_id": "NOTANUMBER", "amount": NaN, ' + json.dumps(base)[1:]]
    ws = files_ws({"finance": {"type": "csv_costs", "path": "costs.jsonl"}},
                  costs__jsonl="\n".join(lines) + "\n")
    result = ingest(ws)
    assert result.counts["records_new"] == 1 and result.counts["quarantined"] == 2
    assert records(ws, "cost_item")["finance:OK"].amount == D("1000.5")
    reasons = {q["key"]: q["reason"] for q in quarantined(ws)}
    assert reasons["finance:HUGE"].startswith(
        "costs.jsonl line 2, field amount: 1E+309 has more than 12 digits")
    assert reasons["finance:NOTANUMBER"].startswith("costs.jsonl line 3, field amount: ")


def test_more_than_two_decimals_is_refused_not_rounded_and_trailing_zeros_are_fine(files_ws):
    header = "item_id,category,amount,currency,incurred_on,employee_id\n"
    ws = files_ws({"finance": {"type": "csv_costs", "path": "costs.csv"}}, costs__csv=(
        header + "HALF,course_fee,10.005,CNY,2026-01-05,E001\nZEROS,course_fee,12.500,CNY,2026-01-05,E001\n"))
    ingest(ws)
    assert records(ws, "cost_item")["finance:ZEROS"].amount == D("12.50")
    [half] = quarantined(ws)
    assert half["reason"] == ("costs.csv line 2, field amount: 10.005 has more than 2 decimal places: "
                              "amounts are in whole cents; round it at the source (trainbridge does not "
                              "guess how)")


def test_a_negative_cost_is_refused_with_how_to_lower_a_cost(files_ws):
    ws = files_ws({"finance": {"type": "csv_costs", "path": "costs.csv"}},
                  costs__csv="item_id,category,amount,currency,incurred_on\nREFUND,course_fee,-500.00,CNY,2026-01-05\n")
    ingest(ws)
    [negative] = quarantined(ws)
    assert negative["reason"].startswith("costs.csv line 2, field amount: -500.00 is negative: cost items "
                                         "have no credit flag")
    assert "same item id" in negative["reason"]


def test_a_negative_payroll_adjustment_is_refused_money_back_is_a_credit():
    fields = {"id": "refund:1", "employee_id": "E003", "effective_date": "2026-11-30", "reason": "refund"}
    with pytest.raises(ValidationError, match="adjustment = credit with a positive amount"):
        PayrollAdjustment(adjustment=AdjustmentKind.DEDUCTION, amount=D("-100.00"), **fields)
    credit = PayrollAdjustment(adjustment=AdjustmentKind.CREDIT, amount=D("100.00"), **fields)
    assert credit.amount == D("100.00")
    # a coefficient is a rate, not money: more decimals are fine (money is rounded by the sink)
    assert PayrollAdjustment(adjustment=AdjustmentKind.BONUS_COEFFICIENT, amount=D("0.125"), **fields)
    with pytest.raises(ValidationError, match="more than 12 digits"):
        PayrollAdjustment(adjustment=AdjustmentKind.DEDUCTION, amount=D("1e309"), **fields)


def test_an_amount_above_the_connectors_max_amount_is_quarantined(files_ws):
    header = "item_id,category,amount,currency,incurred_on\n"
    ws = files_ws({"finance": {"type": "csv_costs", "path": "costs.csv", "max_amount": "50000"}},
                  costs__csv=header + "FEE,course_fee,1000.00,CNY,2026-01-05\n"
                                      "TYPO,course_fee,100000.00,CNY,2026-01-05\n")
    ingest(ws)
    assert list(records(ws, "cost_item")) == ["finance:FEE"]
    [typo] = quarantined(ws)
    assert typo["reason"].startswith(
        "costs.csv line 3, field amount: 100000.00 CNY is above max_amount = 50000")


def test_an_empty_currency_is_refused_never_cny_and_xyz_is_no_currency(files_ws):
    header = "item_id,category,amount,currency,incurred_on\n"
    ws = files_ws({"finance": {"type": "csv_costs", "path": "costs.csv"}}, costs__csv=(
        header + "EMPTY,course_fee,1000.00,,2026-01-05\nXYZ,course_fee,1000.00,XYZ,2026-01-05\n"
                 "LOWER,course_fee,1000.00, usd ,2026-01-05\n"))
    ingest(ws)
    assert {k: r.currency for k, r in records(ws, "cost_item").items()} == {"finance:LOWER": "USD"}
    reasons = {q["key"]: q["reason"] for q in quarantined(ws)}
    assert reasons["finance:EMPTY"].startswith(
        "costs.csv line 2, field currency: empty: every amount needs its ISO 4217 currency code")
    assert reasons["finance:XYZ"] == ("costs.csv line 3, field currency: 'XYZ' is not an active ISO 4217 "
                                      "currency code (e.g. CNY, USD, EUR, HKD)")


def test_a_file_without_a_currency_column_takes_the_connectors_currency(files_ws):
    ws = files_ws({"finance": {"type": "csv_costs", "path": "costs.csv", "currency": "HKD"}},
                  costs__csv="item_id,category,amount,incurred_on\nFEE,course_fee,1000.00,2026-01-05\n")
    ingest(ws)
    assert records(ws, "cost_item")["finance:FEE"].currency == "HKD"
