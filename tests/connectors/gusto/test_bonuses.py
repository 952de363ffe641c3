"""Bonuses become one off-cycle "Bonus" payroll each, left for HR to calculate and submit."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from trainbridge.connectors.gusto import marker
from trainbridge.core.errors import ConnectorError
from trainbridge.core.records import AdjustmentKind

from .conftest import BONUS_JOB, COMPANY, EMPLOYEE, bonus

PAYROLLS = f"/v1/companies/{COMPANY}/payrolls"


def test_a_bonus_creates_an_off_cycle_bonus_payroll_for_the_employee(gusto, company):
    receipt = gusto.post_adjustment(adjustment=bonus("500.00"))

    create, prepare, update = company.writes()
    assert (create.method, create.path) == ("POST", PAYROLLS)
    assert create.headers["X-Gusto-API-Version"] == "2026-06-15"
    assert create.body == {"off_cycle": True, "off_cycle_reason": "Bonus", "start_date": "2025-06-20",
                           "end_date": "2025-06-20", "employee_uuids": [EMPLOYEE],
                           "check_date": "2025-06-20"}
    [pid] = company.payrolls
    assert (prepare.method, prepare.path) == ("PUT", f"{PAYROLLS}/{pid}/prepare")
    assert prepare.body == {"employee_uuids": [EMPLOYEE]}
    assert (update.method, update.path) == ("PUT", f"{PAYROLLS}/{pid}")
    assert update.body == {"employee_compensations": [{
        "employee_uuid": EMPLOYEE, "version": "v1-1",
        "memo": f"Training bonus {marker('incentive:cert:E002:2025Q2')}",
        "fixed_compensations": [{"name": "Bonus", "amount": "500.00", "job_uuid": BONUS_JOB}]}]}
    assert receipt.ref == f"payroll:{pid}"
    assert receipt.status == "awaiting_submission"
    assert "calculate and submit it in Gusto" in receipt.detail


def test_redelivering_a_bonus_finds_the_payroll_by_its_memo(gusto, make_gusto, company):
    first = gusto.post_adjustment(adjustment=bonus())

    again = make_gusto().post_adjustment(adjustment=bonus())

    assert len(company.payrolls) == 1
    assert len(company.writes("POST")) == 1
    assert again.ref == first.ref
    listing = next(c for c in company.calls[3:] if c.method == "GET")
    assert listing.query == {"payroll_types": "off_cycle", "processing_statuses": "unprocessed,processed",
                             "start_date": "2025-06-17", "end_date": "2025-06-23", "page": "1", "per": "100"}


def test_an_empty_payroll_left_by_a_crash_is_adopted_not_duplicated(gusto, company):
    # The first delivery created the payroll and died before setting the bonus on it.
    orphan = company.create_payroll("2025-06-20", [EMPLOYEE])

    receipt = gusto.post_adjustment(adjustment=bonus())

    assert company.writes("POST") == []
    assert receipt.ref == f"payroll:{orphan['uuid']}"
    comp = company.payrolls[orphan["uuid"]]["employee_compensations"][0]
    assert comp["fixed_compensations"][0] == {"name": "Bonus", "amount": "500.00", "job_uuid": BONUS_JOB}


def test_a_bonus_payroll_of_someone_else_is_left_alone(gusto, company):
    company.create_payroll("2025-06-20", [EMPLOYEE, "187412e1-3dbe-491a-bb2f-2f40323a7012"])

    gusto.post_adjustment(adjustment=bonus())

    assert len(company.payrolls) == 2


def test_a_near_check_date_is_left_to_gusto(gusto, company):
    gusto.post_adjustment(adjustment=bonus(effective_date=date(2025, 6, 3)))  # today + 1 day

    assert "check_date" not in company.writes("POST")[0].body


def test_a_percentage_bonus_is_paid_on_the_annual_salary(gusto, company):
    receipt = gusto.post_adjustment(adjustment=bonus("5", adjustment=AdjustmentKind.BONUS_PERCENT))

    assert company.calls[0].path == f"/v1/employees/{EMPLOYEE}"
    fixed = company.writes("PUT")[-1].body["employee_compensations"][0]["fixed_compensations"]
    assert fixed == [{"name": "Bonus", "amount": "4000.00", "job_uuid": BONUS_JOB}]
    assert "5% of annual salary 80000.00" in receipt.detail


def test_a_percentage_bonus_of_an_hourly_employee_is_refused(gusto, company):
    company.employees[0]["jobs"][0]["payment_unit"] = "Hour"

    with pytest.raises(ConnectorError, match="no yearly, monthly or weekly rate"):
        gusto.post_adjustment(adjustment=bonus("5", adjustment=AdjustmentKind.BONUS_PERCENT))
    assert company.writes() == []


def test_a_bonus_coefficient_cannot_be_posted(gusto, company):
    with pytest.raises(ConnectorError, match="Gusto has no bonus_coefficient") as refused:
        gusto.post_adjustment(adjustment=bonus("0.1", adjustment=AdjustmentKind.BONUS_COEFFICIENT))
    assert "unit coefficient, +0.1" in refused.value.message
    assert company.calls == []


def test_a_percentage_bonus_is_a_rate_whatever_currency_it_was_given(gusto, company):
    # A rate has no currency: 5% of a USD salary is paid in USD even if the caller said CNY.
    given_cny = bonus("5", adjustment=AdjustmentKind.BONUS_PERCENT, currency="CNY")

    receipt = gusto.post_adjustment(adjustment=given_cny)

    fixed = company.writes("PUT")[-1].body["employee_compensations"][0]["fixed_compensations"]
    assert fixed == [{"name": "Bonus", "amount": "4000.00", "job_uuid": BONUS_JOB}]
    assert "5% of annual salary 80000.00" in receipt.detail


def test_a_money_bonus_in_another_currency_is_refused(gusto, company):
    with pytest.raises(ConnectorError, match="is in CNY; Gusto pays USD"):
        gusto.post_adjustment(adjustment=bonus(currency="CNY"))
    assert company.calls == []


def test_a_stale_version_is_a_conflict_with_a_hint(gusto, company):
    company.fail("PUT", f"{PAYROLLS}/[^/]+", 409, body={"errors": [
        {"error_key": "version", "category": "invalid_operation", "message": "stale version"}]})

    with pytest.raises(ConnectorError) as conflict:
        gusto.post_adjustment(adjustment=bonus())

    assert conflict.value.status == 409
    assert "changed in Gusto meanwhile" in conflict.value.hint


def test_a_bonus_payroll_waiting_for_hr_is_not_yet_confirmed(gusto, company):
    receipt = gusto.post_adjustment(adjustment=bonus())

    status = gusto.adjustment_status(ref=receipt.ref)

    assert status.status == "awaiting_submission"
    assert "calculate and submit it in Gusto" in status.detail


def test_a_processed_payroll_before_its_check_date_can_still_be_cancelled(gusto, company):
    receipt = gusto.post_adjustment(adjustment=bonus())
    payroll = company.payrolls[receipt.ref.removeprefix("payroll:")]
    payroll.update(processed=True, processed_date="2025-06-18", calculated_at="2025-06-18T16:58:03Z")

    status = gusto.adjustment_status(ref=receipt.ref)

    assert status.status == "processed"
    assert "processed 2025-06-18, check date 2025-06-20" in status.detail


def test_a_processed_payroll_on_its_check_date_is_paid_and_confirmed(gusto, company, clock):
    receipt = gusto.post_adjustment(adjustment=bonus())
    payroll = company.payrolls[receipt.ref.removeprefix("payroll:")]
    payroll.update(processed=True, processed_date="2025-06-18", calculated_at="2025-06-18T16:58:03Z")
    clock.current = datetime(2025, 6, 20, 9, 0, tzinfo=UTC)

    status = gusto.adjustment_status(ref=receipt.ref)

    assert (status.status, status.detail) == ("confirmed", "paid on 2025-06-20")


def test_a_payroll_that_failed_to_process_is_not_settled(gusto, company):
    receipt = gusto.post_adjustment(adjustment=bonus())
    payroll = company.payrolls[receipt.ref.removeprefix("payroll:")]
    payroll["processing_request"] = {"status": "processing_failed", "errors": []}

    status = gusto.adjustment_status(ref=receipt.ref)

    assert status.status == "processing_failed"  # HR can fix it and submit again
    assert "submit it again" in status.detail


def test_a_bonus_payroll_deleted_in_gusto_fails_the_delivery(gusto, company):
    receipt = gusto.post_adjustment(adjustment=bonus())
    del company.payrolls[receipt.ref.removeprefix("payroll:")]

    status = gusto.adjustment_status(ref=receipt.ref)

    assert status.status == "failed"
    assert "payroll is no longer in Gusto" in status.detail


def test_adjustment_status_rejects_a_foreign_reference(gusto, company):
    with pytest.raises(ConnectorError, match="not a Gusto reference"):
        gusto.adjustment_status(ref="jsonl:line-3")


def test_a_bonus_too_far_ahead_to_be_found_again_is_not_created(gusto, company):
    with pytest.raises(ConnectorError, match="more than 90 days ahead"):
        gusto.post_adjustment(adjustment=bonus(effective_date=date(2025, 12, 1)))
    assert company.calls == []


def test_redelivering_finds_the_uncalculated_payroll_whose_get_hides_the_memo(gusto, make_gusto, company):
    # Gusto's GET of an unprocessed, uncalculated payroll carries no employee_compensations.
    first = gusto.post_adjustment(adjustment=bonus(), idempotency_key="incentive:cert:E002:2025Q2")
    [pid] = company.payrolls
    assert company.payrolls[pid]["calculated_at"] is None
    company.calls.clear()

    again = make_gusto().post_adjustment(adjustment=bonus(), idempotency_key="incentive:cert:E002:2025Q2")

    assert again.ref == first.ref
    assert len(company.payrolls) == 1
    assert [(c.method, c.path) for c in company.writes()] == [("PUT", f"{PAYROLLS}/{pid}/prepare")]


def test_redelivering_reads_a_calculated_payroll_without_preparing_it_again(gusto, make_gusto, company):
    first = gusto.post_adjustment(adjustment=bonus())
    [pid] = company.payrolls
    company.payrolls[pid]["calculated_at"] = "2025-06-18T16:20:00Z"  # HR calculated it
    company.calls.clear()

    again = make_gusto().post_adjustment(adjustment=bonus())

    assert again.ref == first.ref
    assert company.writes() == []  # preparing would have cleared HR's calculation
    assert company.payrolls[pid]["calculated_at"] == "2025-06-18T16:20:00Z"


def test_a_token_without_employees_read_fails_once_and_never_leaves_a_second_payroll(make_gusto, company):
    company.token_info["scope"] = "public garnishments:read garnishments:write payrolls:read " \
                                  "payrolls:write payrolls:run"
    gusto = make_gusto()

    for _ in range(3):  # the outbox delivering again and again
        with pytest.raises(ConnectorError, match="without any employee compensation") as error:
            gusto.post_adjustment(adjustment=bonus())
        assert "employees:read" in (error.value.hint or "")

    assert len(company.payrolls) == 1
    assert len(company.writes("POST")) == 1


def test_check_names_the_scopes_the_token_lacks(make_gusto, company):
    company.token_info["scope"] = "public garnishments:read garnishments:write payrolls:read " \
                                  "payrolls:write payrolls:run"

    health = make_gusto().healthcheck()
    amounts_only = make_gusto(bonus_percent_of="reject").healthcheck()

    assert not health.ok
    assert health.detail == "the token lacks scope(s) employees:read, compensations:read"
    assert amounts_only.detail == "the token lacks scope(s) employees:read"
