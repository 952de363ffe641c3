"""A callback through a workspace: confirmed by the API, kept once as the envelope's status; a forgery
keeps nothing. The agreements job moves the agreement from that record (tests/agreements).
"""

from __future__ import annotations

import time

import pytest

from trainbridge.connectors.dropbox_sign import event_hash
from trainbridge.core.errors import WebhookRejected
from trainbridge.core.records import Agreement, AgreementStatus, Envelope, EnvelopeStatus

from .conftest import API_KEY, BASE, REQUEST_ID, agreement, multipart_callback, ours, payload

agreements = pytest.importorskip("trainbridge.plugins.agreements")


def envelopes(ws) -> list[Envelope]:
    with ws.ledger.transaction() as conn:
        return [r for r in ws.ledger.iter_records(conn, "envelope") if isinstance(r, Envelope)]


def stored(ws, agreement_id: str) -> Agreement:
    with ws.ledger.transaction() as conn:
        record = ws.ledger.get_record(conn, "agreement", agreement_id)
    assert isinstance(record, Agreement)
    return record


def all_signed(key: str = API_KEY) -> tuple[dict[str, str], bytes]:
    now = str(int(time.time()))  # the workspace's instance reads the real clock
    event = payload("EventCallbackAccountSignatureRequestSent")
    event["event"].update(event_type="signature_request_all_signed", event_time=now,
                          event_hash=event_hash(key, now, "signature_request_all_signed"))
    event["signature_request"]["signature_request_id"] = REQUEST_ID
    return multipart_callback(event)


@pytest.fixture
def workspace(tb_workspace):
    ws = tb_workspace({"connectors": {"dropbox_sign": {
        "type": "dropbox_sign", "api_key": API_KEY, "test_mode": True,
        "http": {"backoff_base": 0, "max_attempts": 2}}}})
    sent = agreement(status=AgreementStatus.SENT, envelope_id=REQUEST_ID,
                     esign_instance="dropbox_sign")
    with ws.ledger.transaction() as conn:
        ws.ledger.upsert_records(conn, [sent])
    return ws


def test_all_signed_confirmed_by_the_api_is_kept_as_the_envelopes_status(workspace, fake):
    fake.get(f"{BASE}/signature_request/{REQUEST_ID}",
             json=ours("SignatureRequestGetResponse", signature_request_id=REQUEST_ID))

    reply = agreements.apply_webhook(workspace, "dropbox_sign", *all_signed())

    assert (reply.status_code, reply.body) == (200, "Hello API Event Received")
    [envelope] = envelopes(workspace)
    assert envelope.status is EnvelopeStatus.COMPLETED and envelope.agreement_id == "lms:agr-7"


def test_all_signed_that_the_api_contradicts_leaves_the_agreement_sent(workspace, fake):
    fake.get(f"{BASE}/signature_request/{REQUEST_ID}", json=ours("SignatureRequestSendResponse"))

    agreements.apply_webhook(workspace, "dropbox_sign", *all_signed())

    assert stored(workspace, "lms:agr-7").status is AgreementStatus.SENT
    assert all(e.status is not EnvelopeStatus.COMPLETED for e in envelopes(workspace))


def test_a_forged_callback_changes_nothing(workspace):
    with pytest.raises(WebhookRejected):
        agreements.apply_webhook(workspace, "dropbox_sign", *all_signed(key="guessed"))

    assert stored(workspace, "lms:agr-7").status is AgreementStatus.SENT
    assert envelopes(workspace) == []
