"""Refunds become one post-tax garnishment each, and never two, whatever crashes in between."""

from __future__ import annotations

import pytest

from trainbridge.connectors.gusto import marker
from trainbridge.core.errors import ClientError, ConnectorError, ServerError

from .conftest import COMPANY, EMPLOYEE, TOKEN, refund


def test_a_refund_is_posted_as_a_one_time_post_tax_garnishment(gusto, company):
    receipt = gusto.post_adjustment(adjustment=refund("850.00"))

    [post] = company.writes("POST")
    assert post.path == f"/v1/employees/{EMPLOYEE}/garnishments"
    assert post.headers["Authorization"] == f"Bearer {TOKEN}"
    assert post.headers["X-Gusto-API-Version"] == "2026-06-15"
    assert post.body == {
        "active": True, "amount": "850.00", "total_amount": "850.00", "times": 1, "recurring": False,
        "court_ordered": False, "deduct_as_percentage": False,
        "description": f"Training cost refund {marker('refund:hr:sep-E002')}",
    }
    [created] = company.ours()
    assert receipt.ref == f"garnishment:{created['uuid']}"
    assert receipt.status == "scheduled"
    assert "850.00 once" in receipt.detail


def test_the_garnishments_are_looked_up_before_posting(gusto, company):
    gusto.post_adjustment(adjustment=refund())

    lookup, post = company.calls[0], company.calls[-1]
    assert (lookup.method, lookup.path) == ("GET", f"/v1/employees/{EMPLOYEE}/garnishments")
    assert lookup.query == {"page": "1", "per": "100"}
    assert lookup.headers["X-Gusto-API-Version"] == "2026-06-15"
    assert post.method == "POST"


def test_redelivery_after_a_crash_between_the_post_and_our_commit_posts_once(gusto, make_gusto, company):
    first = gusto.post_adjustment(adjustment=refund())
    # The process died before the ledger recorded the delivery; a new process delivers again.
    again = make_gusto().post_adjustment(adjustment=refund())

    assert len(company.writes("POST")) == 1
    assert len(company.ours()) == 1
    assert again.ref == first.ref
    assert "found, posted earlier" in again.detail


def test_a_lost_answer_to_the_post_is_found_instead_of_failing(gusto, company):
    # Gusto wrote the garnishment but the answer never arrived (a 502 from a proxy).
    company.fail("POST", f"/v1/employees/{EMPLOYEE}/garnishments", 502, commit=True)

    receipt = gusto.post_adjustment(adjustment=refund())

    assert len(company.writes("POST")) == 1  # a POST is never blindly repeated
    [created] = company.ours()
    assert receipt.ref == f"garnishment:{created['uuid']}"


def test_a_post_refused_with_503_fails_and_the_next_delivery_posts_it_once(gusto, company):
    company.fail("POST", f"/v1/employees/{EMPLOYEE}/garnishments", 503,
                 headers={"X-Request-Id": "req-503"})

    with pytest.raises(ServerError) as failed:
        gusto.post_adjustment(adjustment=refund())
    assert failed.value.request_id == "req-503"
    assert company.ours() == []

    gusto.post_adjustment(adjustment=refund())
    assert len(company.ours()) == 1


def test_a_post_refused_as_invalid_is_not_looked_up_again(gusto, company):
    company.fail("POST", f"/v1/employees/{EMPLOYEE}/garnishments", 422, body={"errors": [
        {"error_key": "amount", "category": "invalid_attribute_value", "message": "Amount is invalid"}]})

    with pytest.raises(ClientError) as refused:
        gusto.post_adjustment(adjustment=refund())

    assert "Amount is invalid" in refused.value.hint
    assert [c.method for c in company.calls] == ["GET", "POST"]


def test_429_on_the_lookup_waits_for_retry_after_then_goes_on(gusto, company, clock):
    company.fail("GET", f"/v1/employees/{EMPLOYEE}/garnishments", 429, headers={"Retry-After": "7"})

    gusto.post_adjustment(adjustment=refund())

    assert clock.sleeps and clock.sleeps[0] >= 7
    assert len(company.ours()) == 1


def test_500_on_the_lookup_is_retried(gusto, company, clock):
    company.fail("GET", f"/v1/employees/{EMPLOYEE}/garnishments", 500)

    gusto.post_adjustment(adjustment=refund())

    assert len(clock.sleeps) == 1
    assert len(company.ours()) == 1


def test_the_lookup_reads_every_page_of_garnishments(gusto, company):
    gusto.post_adjustment(adjustment=refund())
    company.per_page_override = 1  # now three pages of one garnishment each; ours is the last

    gusto.post_adjustment(adjustment=refund())

    pages = [c.query["page"] for c in company.calls if c.method == "GET"][1:]
    assert pages == ["1", "2", "3"]
    assert len(company.ours()) == 1


def test_an_installment_plan_deducts_a_capped_amount_per_paycheck(make_gusto, company):
    gusto = make_gusto(deduction_installment="300")

    receipt = gusto.post_adjustment(adjustment=refund("850.00"))

    [post] = company.writes("POST")
    assert post.body["amount"] == "300.00"
    assert post.body["total_amount"] == "850.00"
    assert post.body["recurring"] is True
    assert post.body["times"] is None
    assert "300.00 per paycheck up to 850.00" in receipt.detail


def test_money_is_rounded_half_up_to_cents_once(gusto, company):
    gusto.post_adjustment(adjustment=refund("850.005"))

    assert company.writes("POST")[0].body["amount"] == "850.01"


def test_another_currency_is_refused_before_any_call(gusto, company):
    with pytest.raises(ConnectorError, match="CNY"):
        gusto.post_adjustment(adjustment=refund(currency="CNY"))
    assert company.calls == []


def test_an_unmapped_employee_is_an_error_that_says_where_to_map_it(gusto, company):
    with pytest.raises(ConnectorError) as missing:
        gusto.post_adjustment(adjustment=refund(employee_id="E404"))
    assert "employees in [connectors.gusto]" in missing.value.hint


@pytest.mark.parametrize(("match_by", "extra", "employee_id"), [
    ("employee_code", {}, "46f036"),
    ("work_email", {}, "wang.fang@example.com"),
    ("custom_field", {"custom_field": "HRIS id"}, "E002"),
])
def test_employees_are_found_in_gusto_by_code_email_or_custom_field(make_gusto, company, match_by, extra,
                                                                    employee_id):
    gusto = make_gusto(employees={}, match_by=match_by, **extra)

    gusto.post_adjustment(adjustment=refund(employee_id=employee_id))

    listing = company.calls[0]
    assert listing.path == f"/v1/companies/{COMPANY}/employees"
    if match_by == "custom_field":
        assert listing.query["include"] == "custom_fields"
    assert company.writes("POST")[0].path == f"/v1/employees/{EMPLOYEE}/garnishments"


def test_two_gusto_employees_with_one_code_are_not_guessed_between(make_gusto, company):
    twin = {**company.employees[0], "uuid": "0a6b9e1c-5c1c-4d2e-9f5e-8a1d2c3b4a5f"}
    company.employees.append(twin)
    gusto = make_gusto(employees={}, match_by="employee_code")

    with pytest.raises(ConnectorError, match="two or more"):
        gusto.post_adjustment(adjustment=refund(employee_id="46f036"))
    assert company.writes() == []


def test_adjustment_status_of_a_garnishment(gusto, company):
    receipt = gusto.post_adjustment(adjustment=refund())
    company.ours()[0]["active"] = False

    status = gusto.adjustment_status(ref=receipt.ref)

    assert status.status == "inactive"
    assert status.ref == receipt.ref


def test_a_scheduled_garnishment_is_not_yet_confirmed(gusto, company):
    receipt = gusto.post_adjustment(adjustment=refund())

    status = gusto.adjustment_status(ref=receipt.ref)

    assert status.status == "scheduled"  # Gusto does not say which paycheck deducted it


def test_a_garnishment_deleted_in_gusto_fails_the_delivery(gusto, company):
    status = gusto.adjustment_status(ref="garnishment:00000000-0000-0000-0000-000000000000")

    assert status.status == "failed"
    assert "deleted there" in status.detail
