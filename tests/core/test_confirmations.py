"""A delivered payroll write becomes confirmed (paid) or failed (cancelled, deleted) from what the
vendor reports later: asked after a sync (``adjustment_status``) or told by a webhook."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import responses

from tests.connectors.gusto.conftest import COMPANY, EMPLOYEE, TOKEN, FakeGusto
from trainbridge.connectors.gusto.webhooks import sign
from trainbridge.core.confirmations import confirm_deliveries
from trainbridge.core.delivery import approve_proposals, proposal_row
from trainbridge.core.jobs import Proposal, Write
from trainbridge.core.records import AdjustmentKind, PayrollAdjustment
from trainbridge.core.results import RunResult
from trainbridge.core.webhooks import receive_webhook

WEBHOOK_TOKEN = "6590f590-3dba-495e-9bea-c361e1e2efc0"
TODAY = datetime.now(UTC).date()
PAYDAY = TODAY + timedelta(days=10)  # Gusto lists payrolls up to 3 months ahead
BONUS = "incentive:cert:E002:2025Q2"


@pytest.fixture
def company() -> Iterator[FakeGusto]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeGusto(mock)


@pytest.fixture
def ws(make_workspace):
    return make_workspace({"connectors": {"payroll_us": {
        "type": "gusto", "company_id": COMPANY, "access_token": TOKEN, "employees": {"E002": EMPLOYEE},
        "webhook_verification_token": WEBHOOK_TOKEN, "http": {"backoff_base": 0, "max_attempts": 2}}}})


def approve_bonus(ws, proposal_id: str = BONUS) -> tuple[str, str]:
    """HR approves a 500 USD certificate bonus; it is delivered as an off-cycle payroll."""
    adjustment = PayrollAdjustment(id=proposal_id, employee_id="E002", adjustment=AdjustmentKind.BONUS,
                                   amount=Decimal("500.00"), currency="USD", effective_date=PAYDAY,
                                   reason="certificate obtained")
    proposal = Proposal(id=proposal_id, kind="bonus", subject="E002", summary="certificate bonus 500 USD",
                        write=Write("post_adjustment", {"adjustment": adjustment}, instance="payroll_us"),
                        amount=Decimal("500.00"), currency="USD")
    with ws.ledger.transaction() as conn:
        ws.ledger.put_proposals(conn, [proposal_row(ws, "incentives", proposal, status="pending",
                                                    run_id=None, now=datetime.now(UTC))])
    assert approve_proposals(ws, [proposal_id], actor="hr") == {proposal_id: "approved and delivered"}
    row = outbox_row(ws, proposal_id)
    assert row.state == "delivered" and row.ref
    return row.id, row.ref.removeprefix("payroll:")


def outbox_row(ws, proposal_id: str) -> Any:
    with ws.ledger.transaction() as conn:
        rows = ws.ledger.outbox(conn, operation="post_adjustment")
    [row] = [r for r in rows if r.proposal_id == proposal_id]
    return row


def proposal_status(ws, proposal_id: str) -> str:
    with ws.ledger.transaction() as conn:
        return str(ws.ledger.get_proposal(conn, proposal_id)["status"])


def pay(company: FakeGusto, pid: str) -> None:
    company.payrolls[pid].update(processed=True, processed_date=TODAY.isoformat(),
                                 calculated_at=f"{TODAY}T16:58:03Z", check_date=PAYDAY.isoformat())


def test_a_bonus_waiting_in_gusto_stays_delivered_and_is_confirmed_once_paid(ws, company):
    _, pid = approve_bonus(ws)

    assert confirm_deliveries(ws) == 0  # HR has not submitted the payroll yet
    assert outbox_row(ws, BONUS).state == "delivered"

    pay(company, pid)
    ws.host.instances["payroll_us"].today = lambda: PAYDAY  # type: ignore[attr-defined]
    result = RunResult(job="sync", run_id=None)
    assert confirm_deliveries(ws, result) == 1

    row = outbox_row(ws, BONUS)
    assert (row.state, row.status_detail) == ("confirmed", f"paid on {PAYDAY}")
    assert result.counts == {"delivery_confirmed": 1}
    assert proposal_status(ws, BONUS) == "delivered"
    asked = len(company.calls)
    assert confirm_deliveries(ws) == 0 and len(company.calls) == asked  # a settled row is not asked again


def test_a_payroll_deleted_in_gusto_fails_the_delivery_and_the_proposal(ws, company):
    _, pid = approve_bonus(ws)
    del company.payrolls[pid]
    result = RunResult(job="sync", run_id=None)

    assert confirm_deliveries(ws, result) == 1

    row = outbox_row(ws, BONUS)
    assert row.state == "failed" and "no longer in Gusto" in (row.status_detail or "")
    assert proposal_status(ws, BONUS) == "failed"  # HR sees an open item, not a paid bonus
    assert result.counts == {"delivery_failed": 1}
    assert f"payroll_us reports {row.id} failed" in result.summary[0] and "proposal" in result.summary[0]


def test_a_status_call_that_fails_is_a_run_error_and_is_asked_again_next_time(ws, company):
    _, pid = approve_bonus(ws)
    for _ in range(2):  # every attempt of the retrying client
        company.fail("GET", f"/v1/companies/{COMPANY}/payrolls/{pid}", 503)
    result = RunResult(job="sync", run_id=None)

    assert confirm_deliveries(ws, result) == 0

    assert result.counts == {"confirmation_failed": 1}
    assert "adjustment_status -> payroll_us" in result.errors[0] and "503" in result.errors[0]
    assert outbox_row(ws, BONUS).state == "delivered"
    pay(company, pid)
    ws.host.instances["payroll_us"].today = lambda: PAYDAY  # type: ignore[attr-defined]
    assert confirm_deliveries(ws) == 1


def test_at_most_limit_rows_are_asked_newest_first(ws, company):
    approve_bonus(ws, "incentive:cert:E002:first")
    approve_bonus(ws, "incentive:cert:E002:second")
    before = len(company.calls)

    confirm_deliveries(ws, limit=1)

    [asked] = [c.path for c in company.calls[before:]]
    assert asked.endswith(outbox_row(ws, "incentive:cert:E002:second").ref.removeprefix("payroll:"))


def gusto_event(event_type: str, pid: str) -> tuple[dict[str, str], bytes]:
    """Gusto's documented payroll event, about our company and our payroll, signed."""
    body = json.dumps({"uuid": str(uuid.uuid4()),
                       "event_type": event_type, "resource_type": "Company", "resource_uuid": COMPANY,
                       "entity_type": "Payroll", "entity_uuid": pid,
                       "timestamp": int(datetime.now(UTC).timestamp())}).encode()
    return {"X-Gusto-Signature": sign(WEBHOOK_TOKEN, body)}, body


def test_a_payroll_paid_webhook_confirms_the_bonus_delivery(ws, company):
    _, pid = approve_bonus(ws)

    receive_webhook(ws, "payroll_us", *gusto_event("payroll.processed", pid))
    assert outbox_row(ws, BONUS).state == "delivered"  # processed can still be cancelled
    receive_webhook(ws, "payroll_us", *gusto_event("payroll.paid", pid))

    row = outbox_row(ws, BONUS)
    assert row.state == "confirmed" and "payroll.paid" in (row.status_detail or "")
    assert proposal_status(ws, BONUS) == "delivered"


def test_a_payroll_cancelled_webhook_fails_the_bonus_and_its_proposal(ws, company):
    _, pid = approve_bonus(ws)

    receive_webhook(ws, "payroll_us", *gusto_event("payroll.cancelled", pid))

    assert outbox_row(ws, BONUS).state == "failed"
    assert proposal_status(ws, BONUS) == "failed"


def test_a_payroll_webhook_about_a_payroll_we_did_not_create_changes_nothing(ws, company):
    approve_bonus(ws)

    someone_elses = "c02f2c32-34f7-4128-9145-7d49f0c3f355"
    receive_webhook(ws, "payroll_us", *gusto_event("payroll.cancelled", someone_elses))

    assert outbox_row(ws, BONUS).state == "delivered"


def test_a_jsonl_payroll_line_confirms_its_delivery(make_workspace):
    ws = make_workspace({"connectors": {"payroll": {"type": "jsonl_payroll", "path": "out/payroll.jsonl"}}})
    adjustment = PayrollAdjustment(id="refund:hr:S-E003", employee_id="E003", adjustment="deduction",
                                   amount="850.00", effective_date=date(2026, 11, 30),
                                   reason="training cost refund")
    proposal = Proposal(id="refund:hr:S-E003", kind="refund", subject="E003", summary="refund 850",
                        write=Write("post_adjustment", {"adjustment": adjustment}, instance="payroll"))
    with ws.ledger.transaction() as conn:
        ws.ledger.put_proposals(conn, [proposal_row(ws, "separations", proposal, status="pending",
                                                    run_id=None, now=datetime.now(UTC))])
    approve_proposals(ws, ["refund:hr:S-E003"], actor="hr")

    assert confirm_deliveries(ws) == 1
    assert outbox_row(ws, "refund:hr:S-E003").state == "confirmed"


def test_a_delivery_the_vendor_reported_failed_is_not_posted_again(ws, company):
    from trainbridge.core.delivery import deliver

    _, pid = approve_bonus(ws)
    del company.payrolls[pid]  # HR deleted the bonus payroll in Gusto: it must not come back
    confirm_deliveries(ws)
    assert outbox_row(ws, BONUS).state == "failed"

    deliver(ws, "incentives")

    assert company.payrolls == {}
    assert len(company.writes("POST")) == 1
