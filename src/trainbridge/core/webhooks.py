"""Webhook intake: a vendor's callback verified by its instance, then kept as records.

The connector's ``verify_webhook`` checks the signature and translates the callback into
events; this module records each event once (a replayed event id changes nothing) and turns
it into ledger rows only: records the event carries (an HRIS offboarding carries the
Separation), an ``Envelope`` record for an e-signature status change (the agreements job
moves the agreement when it next decides), the confirmation of a delivered write (a
payroll paid or failed), and an approval channel's verdict (an ``ApprovalOutcome``, applied
to its proposal once, :mod:`trainbridge.core.approvals.channel`). No job logic runs here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy.engine import Connection

from trainbridge.core.approvals.channel import apply_outcomes, record_outcome
from trainbridge.core.approvals.models import ApprovalOutcome
from trainbridge.core.errors import ConfigError, WebhookRejected
from trainbridge.core.ingest import keep_signers, storable, storable_value
from trainbridge.core.records import Agreement, Envelope, Record, WebhookEvent, WebhookReply
from trainbridge.core.workspace import Workspace

log = logging.getLogger("trainbridge.webhooks")


def receive_webhook(ws: Workspace, instance: str, headers: Mapping[str, str], body: bytes) -> WebhookReply:
    """Verify one callback through ``instance`` and keep what it reports; returns the vendor's reply.

    A callback that fails verification raises :class:`WebhookRejected` and writes nothing.
    """
    ws.ensure_migrated()
    if instance not in ws.host.instances:
        raise ConfigError(f"no connector instance {instance!r}", file=ws.settings.file,
                          hint="the callback URL names the [connectors.NAME] table that receives it")
    try:
        result = ws.host.call(instance, "verify_webhook", headers=headers, body=body)
    except WebhookRejected as exc:
        log.warning("callback to %s rejected: %s", instance, exc.message)
        raise
    confirmations: list[WebhookEvent] = []
    verdicts = False
    with ws.ledger.transaction() as conn:
        for event in result.events:
            if not ws.ledger.record_webhook_event(conn, instance, storable_value(event.event_id),
                                                  storable_value(event.event_type),
                                                  storable_value(event.model_dump(mode="json"))):
                log.info("callback event %s to %s is a replay; ignored", event.event_id, instance)
                continue
            for outcome in (r for r in event.records if isinstance(r, ApprovalOutcome)):
                record_outcome(ws, conn, instance, outcome, event.event_id)
                verdicts = True
            carried = [r if r.source else r.model_copy(update={"source": instance})
                       for r in event.records if isinstance(r, Record)]
            envelope = _envelope(ws, conn, instance, event)
            if envelope is not None:
                carried.append(envelope)
                ws.ledger.audit(conn, actor=f"webhook:{instance}", action="envelope.status",
                                subject=envelope.agreement_id,
                                detail={"event": event.event_id, "envelope": envelope.envelope_id,
                                        "status": envelope.status.value})
            carried, refused = storable(carried, [])
            ws.ledger.quarantine(conn, refused, run_id=None, job="webhook", instance=instance,
                                 hook="verify_webhook")
            if carried:
                ws.ledger.upsert_records(conn, carried)
            if event.delivery_ref and event.delivery_status:
                confirmations.append(event)
    for event in confirmations:
        _confirm(ws, instance, event)
    if verdicts:
        # an approval channel's verdict decides its proposal through the console's path, once
        apply_outcomes(ws)
    reply: WebhookReply = result.reply
    return reply


def _envelope(ws: Workspace, conn: Connection, instance: str, event: WebhookEvent) -> Envelope | None:
    """The Envelope record an e-signature status event stands for (None when it is not one of ours)."""
    if event.envelope_id is None or event.status is None:
        return None
    earlier: Envelope | None = None
    for record in ws.ledger.iter_records(conn, "envelope"):
        if isinstance(record, Envelope) and record.source == instance \
                and record.envelope_id == event.envelope_id:
            earlier = record
    agreement_id = earlier.agreement_id if earlier else _agreement_of(ws, conn, instance, event.envelope_id)
    if agreement_id is None:
        log.info("callback to %s is about envelope %s, which no agreement holds; kept as an event only",
                 instance, event.envelope_id)
        return None
    at = event.occurred_at or datetime.now(UTC)
    envelope = Envelope(
        id=earlier.id if earlier else f"{instance}:{event.envelope_id}", source=instance,
        envelope_id=event.envelope_id, agreement_id=agreement_id, status=event.status,
        signers=(), completed_at=at if event.status.value == "completed" else (earlier.completed_at
                                                                             if earlier else None))
    return keep_signers(envelope, instance, earlier)


def _agreement_of(ws: Workspace, conn: Connection, instance: str, envelope_id: str) -> str | None:
    for record in ws.ledger.iter_records(conn, "agreement"):
        if isinstance(record, Agreement) and record.envelope_id == envelope_id \
                and record.esign_instance == instance:
            return record.id
    return None


def _confirm(ws: Workspace, instance: str, event: WebhookEvent) -> None:
    assert event.delivery_ref is not None and event.delivery_status is not None
    with ws.ledger.transaction() as conn:
        row = ws.ledger.outbox_by_ref(conn, instance, event.delivery_ref)
    if row is None:
        log.info("callback to %s reports on %s, which no delivery of ours answered", instance,
                 event.delivery_ref)
        return
    ws.ledger.set_delivery_status(row.id, event.delivery_status, event.detail or event.event_type)
