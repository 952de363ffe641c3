"""What became of delivered payroll writes: ``delivered`` -> ``confirmed`` or ``failed``.

A payroll sink accepts an adjustment long before it is paid: a bonus waits in an off-cycle
payroll for HR to submit, a deduction for the next paycheck. After each sync the core asks
each sink that implements ``adjustment_status`` about the adjustments it accepted and records
what the vendor says; webhooks (``WebhookEvent.delivery_status``) report the same way sooner.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from trainbridge.core.errors import TrainbridgeError
from trainbridge.core.records import DeliveryReceipt
from trainbridge.core.secrets import redact

if TYPE_CHECKING:
    from trainbridge.core.ledger import OutboxRow
    from trainbridge.core.results import RunResult
    from trainbridge.core.workspace import Workspace

log = logging.getLogger("trainbridge.confirmations")
SETTLED = ("confirmed", "failed")


def confirm_deliveries(ws: Workspace, result: RunResult | None = None, *, limit: int = 200) -> int:
    """Ask payroll sinks about delivered adjustments; return how many became confirmed or failed.

    The most recently delivered rows are asked first, at most ``limit`` per call, so a sink
    that can never confirm some writes (a deduction it only schedules) does not starve newer
    ones. A status call that fails is a run error; the row stays delivered and is asked again.
    """
    with ws.ledger.transaction() as conn:
        rows = ws.ledger.outbox(conn, states=("delivered",), operation="post_adjustment")
    rows = sorted((r for r in rows if r.ref), key=_delivered_at, reverse=True)
    settled = asked = 0
    for row in rows:
        if asked >= limit:
            break
        instance = ws.host.instances.get(row.instance)
        if instance is None or not ws.host.implements(instance, "adjustment_status"):
            continue
        asked += 1
        try:
            receipt = ws.host.call(instance, "adjustment_status", ref=row.ref)
        except Exception as exc:
            message = redact(f"adjustment_status -> {row.instance} ({row.id}, {row.ref}) failed: {exc}")
            if not isinstance(exc, TrainbridgeError):
                log.exception("asking %s about %s failed", row.instance, row.id)
            if result is not None:
                result.bump("confirmation_failed")
                result.errors.append(message)
            continue
        if not isinstance(receipt, DeliveryReceipt) or receipt.status not in SETTLED:
            continue
        if ws.ledger.set_delivery_status(row.id, receipt.status, receipt.detail):
            settled += 1
            if result is not None:
                result.bump(f"delivery_{receipt.status}")
                if receipt.status == "failed":
                    result.summary.append(redact(
                        f"{row.instance} reports {row.id} failed: {receipt.detail or 'no detail'}"
                        + (f" (proposal {row.proposal_id} marked failed)" if row.proposal_id else "")))
    return settled


def _delivered_at(row: OutboxRow) -> str:
    return row.delivered_at.isoformat() if row.delivered_at else ""
