"""A Connect message through a workspace: the agreement moves once, a forgery moves nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from trainbridge.connectors.docusign import connect_signature
from trainbridge.core.errors import WebhookRejected
from trainbridge.core.records import Agreement, AgreementStatus

from .conftest import ACCESS_TOKEN, ACCOUNT_ID, BASE_URI, ENVELOPE_ID, HMAC_KEY, agreement, raw

agreements = pytest.importorskip("trainbridge.plugins.agreements")


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


def test_envelope_completed_signs_the_agreement_once(workspace):
    body = raw("connect_envelope_completed.json")
    headers = {"Content-Type": "application/json",
               "X-DocuSign-Signature-1": connect_signature(HMAC_KEY.encode(), body).decode()}

    reply = agreements.apply_webhook(workspace, "docusign", headers, body)
    again = agreements.apply_webhook(workspace, "docusign", headers, body)

    signed = stored(workspace, "lms:agr-7")
    assert reply.status_code == 200 and again.status_code == 200
    assert signed.status is AgreementStatus.SIGNED
    assert signed.signed_at == datetime(2024, 6, 2, 8, 30, 16, 883000, tzinfo=UTC)


def test_a_forged_completion_changes_nothing(workspace):
    body = raw("connect_envelope_completed.json")
    forged = {"Content-Type": "application/json",
              "X-DocuSign-Signature-1": connect_signature(b"not-our-key", body).decode()}

    with pytest.raises(WebhookRejected):
        agreements.apply_webhook(workspace, "docusign", forged, body)

    assert stored(workspace, "lms:agr-7").status is AgreementStatus.SENT


def test_a_decline_closes_the_agreement(workspace):
    message = json.loads(raw("connect_envelope_completed.json"))
    message["event"] = "envelope-declined"
    body = json.dumps(message).encode()
    headers = {"X-DocuSign-Signature-1": connect_signature(HMAC_KEY.encode(), body).decode()}

    agreements.apply_webhook(workspace, "docusign", headers, body)

    assert stored(workspace, "lms:agr-7").status is AgreementStatus.DECLINED
