"""Nothing approved is silently dropped: failed deliveries back off, dead ones stay visible, HR decides."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import pytest
import responses
import sqlalchemy as sa
from click.testing import CliRunner

from trainbridge import hookimpl
from trainbridge.cli import cli
from trainbridge.core import http
from trainbridge.core.connector import Connector, ConnectorConfig
from trainbridge.core.delivery import MAX_DELIVERY_ATTEMPTS, backoff
from trainbridge.core.errors import RateLimited, ServerError
from trainbridge.core.http import HttpClient, HttpSettings
from trainbridge.core.jobs import Write
from trainbridge.core.ledger import outbox_table
from trainbridge.core.records import AdjustmentKind, DeliveryReceipt, PayrollAdjustment
from trainbridge.core.runner import approve_proposals, deliver, route, sync


class FlakyPayroll(Connector):
    """A payroll vendor that is down until told otherwise."""

    down: ClassVar[bool] = True
    posted: ClassVar[list[str]] = []

    @hookimpl
    def post_adjustment(self, adjustment: PayrollAdjustment) -> DeliveryReceipt:
        if self.down:
            raise ServerError("POST /payrolls failed: 503 Service Unavailable", instance=self.name,
                              status=503)
        self.posted.append(adjustment.id)
        return DeliveryReceipt(ref=f"pay-{adjustment.id}")


@pytest.fixture
def ws(make_workspace):
    ws = make_workspace({})
    flaky = FlakyPayroll("payroll", ConnectorConfig())
    ws.host.pm.register(flaky, name="connector:payroll")
    ws.host.instances["payroll"] = flaky
    FlakyPayroll.down, FlakyPayroll.posted = True, []
    return ws


def enqueue_refund(ws: Any, amount: str = "850.00") -> str:
    adjustment = PayrollAdjustment(id="refund:S-E003", employee_id="E003",
                                   adjustment=AdjustmentKind.DEDUCTION, amount=Decimal(amount),
                                   currency="CNY",
                                   effective_date="2026-03-01",
                                   reason="training cost refund")
    with ws.ledger.transaction() as conn:
        rows = route(ws, conn, Write("post_adjustment", {"adjustment": adjustment}, instance="payroll"),
                     job="separations", proposal_id=None)
        ws.ledger.enqueue(conn, rows)
    return str(rows[0]["id"])


def make_due(ws: Any) -> None:
    with ws.ledger.transaction() as conn:
        conn.execute(sa.update(outbox_table).where(outbox_table.c.tenant == ws.settings.tenant)
                     .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)))


def row(ws: Any, oid: str) -> Any:
    with ws.ledger.transaction() as conn:
        [found] = ws.ledger.outbox(conn, ids=[oid])
    return found


def test_a_failed_delivery_waits_for_its_backoff_before_the_next_try(ws):
    oid = enqueue_refund(ws)
    assert deliver(ws, "separations") == []
    failed = row(ws, oid)
    assert failed.state == "failed" and failed.attempts == 1 and failed.next_attempt_at > datetime.now(UTC)
    deliver(ws, "separations")  # too early: not tried
    assert row(ws, oid).attempts == 1
    make_due(ws)
    FlakyPayroll.down = False
    [done] = deliver(ws, "separations")
    assert done.id == oid and FlakyPayroll.posted == ["refund:S-E003"]


def test_backoff_grows_and_never_undercuts_the_vendors_retry_after():
    assert [backoff(n).total_seconds() for n in (1, 2, 3)] == [60, 120, 240]
    assert backoff(30) == timedelta(hours=6)
    limited = RateLimited("slow down", status=429)
    limited.retry_after = 900
    assert backoff(1, limited) == timedelta(seconds=900)


def test_a_dead_delivery_is_reported_on_every_delivery_run_until_hr_retries_or_abandons_it(ws):
    oid = enqueue_refund(ws)
    for _ in range(MAX_DELIVERY_ATTEMPTS):
        make_due(ws)
        deliver(ws, "separations")
    assert row(ws, oid).state == "dead"
    results = sync(ws, ["ingest"])
    result = deliver_result(ws)
    assert any("undeliverable" in e and oid in e for e in result.errors)
    assert results.ingest.status in ("ok", "partial")
    runner = CliRunner()
    listed = runner.invoke(cli, ["--config", str(ws.settings.path), "outbox", "list", "--json"])
    assert listed.exit_code == 0 and [r["id"] for r in json.loads(listed.output)] == [oid]
    retried = runner.invoke(cli, ["--config", str(ws.settings.path), "outbox", "retry", oid])
    assert retried.exit_code == 0 and "queued again" in retried.output
    FlakyPayroll.down = False
    deliver(ws, "separations")
    assert row(ws, oid).state == "delivered" and FlakyPayroll.posted == ["refund:S-E003"]


def deliver_result(ws: Any) -> Any:
    from trainbridge.core.results import RunResult

    result = RunResult(job="separations", run_id=None)
    deliver(ws, "separations", result)
    return result


def test_abandoning_needs_a_reason_and_is_audited(ws):
    oid = enqueue_refund(ws)
    deliver(ws, "separations")
    runner = CliRunner()
    no_reason = runner.invoke(cli, ["--config", str(ws.settings.path), "outbox", "abandon", oid])
    assert no_reason.exit_code == 2
    done = runner.invoke(cli, ["--config", str(ws.settings.path), "outbox", "abandon", oid,
                               "--reason", "paid by hand on 2026-03-02", "--by", "hr@acme"])
    assert done.exit_code == 0, done.output
    assert row(ws, oid).state == "abandoned"
    with ws.ledger.transaction() as conn:
        [entry] = [a for a in ws.ledger.list_audit(conn) if a["action"] == "outbox.abandon"]
    assert entry["actor"] == "hr@acme" and entry["detail"]["reason"] == "paid by hand on 2026-03-02"


def test_approve_reports_a_failed_delivery_and_exits_non_zero(ws):
    from trainbridge.core.delivery import proposal_row
    from trainbridge.core.jobs import Proposal

    adjustment = PayrollAdjustment(id="refund:S-E009", employee_id="E009",
                                   adjustment=AdjustmentKind.DEDUCTION, amount=Decimal("100.00"),
                                   currency="CNY",
                                   effective_date="2026-03-01",
                                   reason="training cost refund")
    proposal = Proposal(id="refund:S-E009", kind="refund", subject="E009", summary="deduct 100.00 CNY",
                        write=Write("post_adjustment", {"adjustment": adjustment}, instance="payroll"))
    with ws.ledger.transaction() as conn:
        ws.ledger.put_proposals(conn, [proposal_row(ws, "separations", proposal, status="pending",
                                                    run_id=None, now=datetime.now(UTC))])
    outcome = approve_proposals(ws, ["refund:S-E009"], actor="hr")
    assert outcome["refund:S-E009"].startswith("approved; delivery failed: post_adjustment -> payroll")


@responses.activate
def test_a_retry_after_holds_for_the_next_request_to_the_same_host_not_only_its_retries():
    waits: list[float] = []
    client = HttpClient("https://api.payroll.example", instance="payroll",
                        settings=HttpSettings(max_attempts=1, max_wait=30), sleep=waits.append)
    responses.post("https://api.payroll.example/payrolls", status=429, headers={"Retry-After": "20"})
    responses.post("https://api.payroll.example/payrolls", status=201, json={"uuid": "p1"})
    with pytest.raises(RateLimited):
        client.post("/payrolls", json={}, idempotency_key="k1")
    client.post("/payrolls", json={}, idempotency_key="k2")
    assert len(waits) == 1 and 19 < waits[0] <= 20
    http.remember_host_wait("api.payroll.example", 3600)
    with pytest.raises(RateLimited) as too_long:
        client.post("/payrolls", json={}, idempotency_key="k3")
    assert too_long.value.retry_after and too_long.value.retry_after > 3000
