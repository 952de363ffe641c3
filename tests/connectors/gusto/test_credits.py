"""Money given back (a refund deducted in excess) becomes one "Correction" off-cycle payroll paying a
non-taxable "Reimbursement", with the regular deductions skipped, left for HR to submit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from trainbridge.connectors.gusto import marker
from trainbridge.core.errors import ConnectorError

from .conftest import COMPANY, EMPLOYEE, bonus, credit

PAYROLLS = f"/v1/companies/{COMPANY}/payrolls"
REIMBURSEMENT_JOB = "91bc3b43-ded0-4ee7-98fe-215499e909ba"


def test_the_excess_of_a_corrected_refund_is_paid_back_as_a_reimbursement(gusto, company):
    # 850 was deducted; the voucher behind it was corrected from 600 to 100: 250 goes back.
    receipt = gusto.post_adjustment(adjustment=credit("250.00"))

    create, prepare, update = company.writes()
    assert (create.method, create.path) == ("POST", PAYROLLS)
    assert create.body == {"off_cycle": True, "off_cycle_reason": "Correction", "start_date": "2025-06-20",
                           "end_date": "2025-06-20", "employee_uuids": [EMPLOYEE],
                           "skip_regular_deductions": True, "check_date": "2025-06-20"}
    [pid] = company.payrolls
    assert (prepare.path, update.path) == (f"{PAYROLLS}/{pid}/prepare", f"{PAYROLLS}/{pid}")
    assert update.body == {"employee_compensations": [{
        "employee_uuid": EMPLOYEE, "version": "v1-1",
        "memo": f"Training cost refund returned {marker('refund:hr:sep-E002:credit-1')}",
        "fixed_compensations": [{"name": "Reimbursement", "amount": "250.00",
                                 "job_uuid": REIMBURSEMENT_JOB}]}]}
    assert receipt.ref == f"payroll:{pid}"
    assert receipt.status == "awaiting_submission"
    assert "off-cycle Correction payroll ready" in receipt.detail and "reimbursement 250.00" in receipt.detail


def test_redelivering_a_credit_finds_its_payroll_and_pays_nothing_twice(gusto, make_gusto, company):
    first = gusto.post_adjustment(adjustment=credit())

    again = make_gusto().post_adjustment(adjustment=credit())

    assert again.ref == first.ref and "found, posted earlier" in again.detail
    assert len(company.payrolls) == 1 and len(company.writes("POST")) == 1


def test_a_bonus_payroll_on_the_same_day_is_not_taken_for_the_credit(gusto, company):
    bonus_receipt = gusto.post_adjustment(adjustment=bonus())

    credit_receipt = gusto.post_adjustment(adjustment=credit())

    assert credit_receipt.ref != bonus_receipt.ref
    reasons = sorted(p["off_cycle_reason"] for p in company.payrolls.values())
    assert reasons == ["Bonus", "Correction"]


def test_a_credit_is_confirmed_once_its_payroll_is_paid(gusto, company, clock):
    receipt = gusto.post_adjustment(adjustment=credit())
    company.payrolls[receipt.ref.removeprefix("payroll:")].update(
        processed=True, processed_date="2025-06-18", calculated_at="2025-06-18T16:58:03Z")
    clock.current = datetime(2025, 6, 21, 9, 0, tzinfo=UTC)

    assert gusto.adjustment_status(ref=receipt.ref).status == "confirmed"


def test_a_credit_in_another_currency_is_refused(gusto, company):
    with pytest.raises(ConnectorError, match="is in CNY; Gusto pays USD"):
        gusto.post_adjustment(adjustment=credit(currency="CNY"))
    assert company.writes() == []
