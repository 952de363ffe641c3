"""The review's refund cases (/work/notes/review.md), each a test named after the case.

The seed story of :mod:`tests.refunds.conftest`: 李娜 (E003) owes 850.00 under her first agreement
(1700 x 12/24) and, in the retake cases, 1125.00 under the second (1500 x 18/24).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from tests.refunds.conftest import agreement, put_agreements, seed_config, seed_files
from tests.refunds.test_hr_cases import retake_agreement, retake_files
from trainbridge.core.runner import sync

D = Decimal
LIMITS = {"require_deduction_consent": True, "minimum_wage": {"ACME-SH": "2690.00"}}


def separations(final_pay: str = "8000.00", last_day: str = "2026-05-10") -> str:
    return ("separation_id,employee_id,last_day,reason,final_pay\n"
            f"S-E003,E003,{last_day},resignation,{final_pay}\n")


def proposals(ws) -> dict[str, dict]:
    with ws.ledger.transaction() as conn:
        return {p["kind"]: p for p in ws.ledger.list_proposals(conn)}


def quotes(ws, employee_id: str = "E003") -> list[dict]:
    with ws.ledger.transaction() as conn:
        return ws.ledger.list_decisions(conn, "refund_quote", subject=employee_id)


# --- 1. one agreement's consent does not reach another agreement's refund ------------------------


def test_consent_in_the_first_agreement_deducts_its_850_and_the_retakes_1125_is_requested(seed_ws):
    ws = seed_ws(jobs={"separations": LIMITS}, separations__csv=separations("8000.00"), **retake_files())
    put_agreements(ws, agreement(session_id="FIRE-CTRL-1", deduction_consent=True),
                   retake_agreement(session_id="FIRE-CTRL-2"))
    [run] = sync(ws, ["separations"])
    assert run.status == "ok", run.errors
    found = proposals(ws)
    # 20% of 8000 = 1600 would fit 1600.00 of the 1975.00: only S1's 850.00 has written consent.
    assert found["refund"]["amount"] == D("850.00")
    assert found["repayment_request"]["amount"] == D("1125.00")
    text = "\n".join(found["refund"]["explanation"])
    assert "1125.00 CNY is owed under agreement agreement:lms:FIRE-CTRL-2-E003 without the employee's " \
           "written consent" in text
    [quote] = quotes(ws)
    rules = [i["rule"] for i in quote["payload"]["explanation_items"] if i["rule"].startswith("collection")]
    assert rules == ["collection:payroll", "collection:no_consent"]


def test_consent_in_both_agreements_is_capped_at_20_percent_of_the_total_deducted(seed_ws):
    # 1975.00 owed, all with consent; 20% of 3000 = 600; 3000 - 2000 (minimum) = 1000: 600 in all.
    jobs = {"separations": {**LIMITS, "minimum_wage": {"ACME-SH": "2000.00"}}}
    ws = seed_ws(jobs=jobs, separations__csv=separations("3000.00"), **retake_files())
    put_agreements(ws, agreement(session_id="FIRE-CTRL-1", deduction_consent=True),
                   retake_agreement(session_id="FIRE-CTRL-2", deduction_consent=True))
    sync(ws, ["separations"])
    found = proposals(ws)
    assert (found["refund"]["amount"], found["repayment_request"]["amount"]) == (D("600.00"), D("1375.00"))


def test_consent_only_in_the_retake_deducts_at_most_its_1125_within_the_wage_limits(seed_ws):
    # S2 consents (1125.00); 20% of 3000 = 600 bites; S1's 850 and the other 525 are requested.
    jobs = {"separations": {**LIMITS, "minimum_wage": {"ACME-SH": "2000.00"}}}
    ws = seed_ws(jobs=jobs, separations__csv=separations("3000.00"), **retake_files())
    put_agreements(ws, agreement(session_id="FIRE-CTRL-1"),
                   retake_agreement(session_id="FIRE-CTRL-2", deduction_consent=True))
    sync(ws, ["separations"])
    found = proposals(ws)
    assert (found["refund"]["amount"], found["repayment_request"]["amount"]) == (D("600.00"), D("1375.00"))


# --- 2. the signing day is the tenant's ---------------------------------------------------------


def shanghai_ws(make_workspace, tmp_path, **jobs):
    seed_files(tmp_path, separations__csv=separations(last_day="2026-06-01"))
    config = seed_config(**jobs)
    config["tenant"] = {"id": f"t{uuid.uuid4().hex[:12]}", "timezone": "Asia/Shanghai"}
    return make_workspace(config)


def test_signed_at_20_00_utc_on_june_1_is_june_2_in_shanghai_after_the_last_day_and_binds_nobody(
        make_workspace, tmp_path):
    ws = shanghai_ws(make_workspace, tmp_path)
    put_agreements(ws, agreement(signed_at=datetime(2026, 6, 1, 20, 0, tzinfo=UTC)))
    sync(ws, ["separations"])
    [quote] = quotes(ws)
    assert D(quote["amount"]) == 0 and "refund" not in proposals(ws)
    assert "was signed on 2026-06-02, after the last day 2026-06-01: it binds nobody" in \
           "\n".join(quote["explanation"])


def test_signed_at_15_00_utc_on_june_1_is_still_june_1_in_shanghai_and_binds(make_workspace, tmp_path):
    ws = shanghai_ws(make_workspace, tmp_path)
    put_agreements(ws, agreement(signed_at=datetime(2026, 6, 1, 15, 0, tzinfo=UTC)))  # 23:00 Beijing
    sync(ws, ["separations"])
    [quote] = quotes(ws)
    assert D(quote["amount"]) > 0 and "(signed 2026-06-01)" in "\n".join(quote["explanation"])


def test_the_ledger_quote_reads_the_signing_day_in_the_tenants_zone_too(make_workspace, tmp_path):
    from trainbridge.plugins.refunds import quote_from_ledger

    ws = shanghai_ws(make_workspace, tmp_path)
    put_agreements(ws, agreement(signed_at=datetime(2026, 6, 1, 20, 0, tzinfo=UTC)))
    sync(ws, ["ingest"])
    [answer] = quote_from_ledger(ws, "E003")
    assert answer.quote.amount == 0
    [late] = [i for i in answer.quote.items if i.rule == "agreement:signed_after_last_day"]
    assert dict(late.inputs) == {"agreement_id": "agreement:lms:FIRE-CTRL-1-E003", "program_id": "FIRE-CTRL",
                                 "signed_on": "2026-06-02", "last_day": "2026-06-01"}
    assert date.fromisoformat(late.inputs["signed_on"]) > date(2026, 6, 1)
