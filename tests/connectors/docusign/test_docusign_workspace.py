"""A Connect message through a workspace: kept once as the envelope's status, a forgery keeps nothing.

The agreements job moves the agreement from that record on its next run (tests/agreements).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from trainbridge.connectors.docusign import connect_signature
from trainbridge.core.errors import WebhookRejected
from trainbridge.core.ledger import webhook_events_table
from trainbridge.core.records import Agreement, AgreementStatus, Envelope, EnvelopeStatus

from .conftest import ACCESS_TOKEN, ACCOUNT_ID, BASE_URI, ENVELOPE_ID, HMAC_KEY, agreement, raw

agreements = pytest.importorskip("trainbridge.plugins.agreements")


def envelopes(ws) -> list[Envelope]:
    with ws.ledger.transaction() as conn:
        return [r for r in ws.ledger.iter_records(conn, "envelope") if isinstance(r, Envelope)]


def stored(ws, agreement_id: str) -> Agreement:
    with ws.ledger.transaction() as conn:
        record = ws.ledger.get_record(conn, "agreement", agreement_id)
    assert isinstance(record, Agreement)
    return record


@pytest.fixture
def workspace(tb_workspace):
    ws = tb_workspace({"connectors": {"docusign": {
        "type": "docusign", "account_id": ACCOUNT_ID, "base_uri": BASE_URI,
        "access_token": ACCESS_TOKEN, "hmac_keys": [HMAC_KEY]}}})
    sent = agreement(status=AgreementStatus.SENT, envelope_id=ENVELOPE_ID,
                     esign_instance="docusign")
    with ws.ledger.transaction() as conn:
        ws.ledger.upsert_records(conn, [sent])
    return ws


def test_envelope_completed_is_kept_once_as_the_envelopes_status(workspace):
    body = raw("connect_envelope_completed.json")
    headers = {"Content-Type": "application/json",
               "X-DocuSign-Signature-1": connect_signature(HMAC_KEY.encode(), body).decode()}

    reply = agreements.apply_webhook(workspace, "docusign", headers, body)
    again = agreements.apply_webhook(workspace, "docusign", headers, body)

    [envelope] = envelopes(workspace)
    assert reply.status_code == 200 and again.status_code == 200
    assert envelope.status is EnvelopeStatus.COMPLETED and envelope.agreement_id == "lms:agr-7"
    assert envelope.completed_at == datetime(2024, 6, 2, 8, 30, 16, 883000, tzinfo=UTC)
    with workspace.ledger.transaction() as conn:
        events = conn.execute(sa.select(sa.func.count()).select_from(webhook_events_table).where(
            webhook_events_table.c.tenant == workspace.settings.tenant)).scalar()
    assert events == 1  # the redelivery is a replay


def test_a_forged_completion_changes_nothing(workspace):
    body = raw("connect_envelope_completed.json")
    forged = {"Content-Type": "application/json",
              "X-DocuSign-Signature-1": connect_signature(b"not-our-key", body).decode()}

    with pytest.raises(WebhookRejected):
        agreements.apply_webhook(workspace, "docusign", forged, body)

    assert stored(workspace, "lms:agr-7").status is AgreementStatus.SENT
    assert envelopes(workspace) == []


def test_a_decline_is_kept_as_the_envelopes_status(workspace):
    message = json.loads(raw("connect_envelope_completed.json"))
    message["event"] = "envelope-declined"
    body = json.dumps(message).encode()
    headers = {"X-DocuSign-Signature-1": connect_signature(HMAC_KEY.encode(), body).decode()}

    agreements.apply_webhook(workspace, "docusign", headers, body)

    [envelope] = envelopes(workspace)
    assert envelope.status is EnvelopeStatus.DECLINED
