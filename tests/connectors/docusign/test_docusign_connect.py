"""DocuSign Connect HMAC verification, event mapping, healthcheck and the connector contract.

DocuSign publishes the algorithm (developers.docusign.com/platform/webhooks/connect/validate:
base64 of HMAC-SHA256 over the raw body, key as UTF-8 bytes) but no test vector, so
``OPENSSL_SIGNATURE`` is our own: computed outside Python with
``openssl dgst -sha256 -hmac "$HMAC_KEY" -binary < connect_envelope_completed.json | base64``.
"""

from __future__ import annotations

import json

import pytest

from trainbridge.connectors.docusign import DocusignConnector, connect_signature
from trainbridge.core.errors import WebhookRejected
from trainbridge.core.records import EnvelopeStatus
from trainbridge.testing import check_connector

from .conftest import ACCESS_TOKEN, API, ENVELOPE_ID, HMAC_KEY, payload, raw

OPENSSL_SIGNATURE = "PzqHQpFxMZ210qo4BMjml76nex+/ZScUAhVFQyj2C+0="
OTHER_KEY = "b3RoZXIta2V5LWZyb20tYW5vdGhlci1jb25uZWN0LWNvbmZpZw=="
COMPLETED = raw("connect_envelope_completed.json")


def signed(body: bytes, *keys: str) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "X-Authorization-Digest": "HMACSHA256"}
    for n, key in enumerate(keys, start=1):
        headers[f"X-DocuSign-Signature-{n}"] = connect_signature(key.encode(), body).decode()
    return headers


def test_the_connect_signature_matches_the_one_computed_with_openssl():
    assert connect_signature(HMAC_KEY.encode(), COMPLETED).decode() == OPENSSL_SIGNATURE


def test_a_completed_envelope_message_becomes_one_completed_event(docusign):
    headers = {"content-type": "application/json", "x-docusign-signature-1": OPENSSL_SIGNATURE}

    result = docusign.verify_webhook(headers, COMPLETED)

    [event] = result.events
    assert event.event_id == f"docusign:{ENVELOPE_ID}:envelope-completed"
    assert event.status is EnvelopeStatus.COMPLETED and event.envelope_id == ENVELOPE_ID
    assert event.occurred_at is not None and event.occurred_at.isoformat() == \
        "2024-06-02T08:30:16.883000+00:00"
    assert (result.reply.status_code, result.reply.body) == (200, "")


def test_a_recipient_signing_is_reported_as_signed_not_completed(docusign):
    body = raw("connect_recipient_completed.json")

    [event] = docusign.verify_webhook(signed(body, HMAC_KEY), body).events

    assert event.status is EnvelopeStatus.SIGNED
    assert event.event_id == f"docusign:{ENVELOPE_ID}:recipient-completed:1"


def test_during_key_rotation_any_configured_key_may_match_any_header(make_docusign):
    docusign = make_docusign(hmac_keys=[OTHER_KEY, HMAC_KEY])
    # Connect signs with each of its active keys; ours is the second header.
    headers = signed(COMPLETED, "a-key-we-do-not-have", HMAC_KEY)

    assert docusign.verify_webhook(headers, COMPLETED).events


def test_a_forged_signature_is_rejected(docusign):
    headers = signed(COMPLETED, "guessed-key")

    with pytest.raises(WebhookRejected, match="does not match"):
        docusign.verify_webhook(headers, COMPLETED)


def test_a_body_changed_after_signing_is_rejected(docusign):
    headers = signed(COMPLETED, HMAC_KEY)
    tampered = COMPLETED.replace(b"envelope-completed", b"envelope-voided\x20\x20")

    with pytest.raises(WebhookRejected, match="does not match"):
        docusign.verify_webhook(headers, tampered)


def test_an_unsigned_message_is_rejected(docusign):
    with pytest.raises(WebhookRejected, match="without X-DocuSign-Signature-1"):
        docusign.verify_webhook({"Content-Type": "application/json"}, COMPLETED)


def test_without_a_configured_key_nothing_is_accepted(make_docusign):
    docusign = make_docusign(hmac_keys=[])

    with pytest.raises(WebhookRejected, match="no Connect HMAC key"):
        docusign.verify_webhook(signed(COMPLETED, HMAC_KEY), COMPLETED)


def test_an_xml_message_is_rejected_with_the_setting_to_change(docusign):
    body = b"<DocuSignEnvelopeInformation/>"

    with pytest.raises(WebhookRejected) as rejected:
        docusign.verify_webhook(signed(body, HMAC_KEY), body)

    assert "JSON SIM" in rejected.value.hint


def test_the_optional_replay_window_rejects_old_messages(make_docusign):
    docusign = make_docusign(webhook_max_age_seconds=600)
    old = json.loads(COMPLETED)  # generated 08:30:16, the clock says 09:00:00
    fresh = dict(old, generatedDateTime="2024-06-02T08:58:00.0000000Z")
    old_body, fresh_body = json.dumps(old).encode(), json.dumps(fresh).encode()

    with pytest.raises(WebhookRejected, match="replay window"):
        docusign.verify_webhook(signed(old_body, HMAC_KEY), old_body)
    assert docusign.verify_webhook(signed(fresh_body, HMAC_KEY), fresh_body).events


def test_healthcheck_reads_the_account(docusign, fake):
    fake.get(API, json=payload("account"))

    health = docusign.healthcheck()

    assert health.ok and "Acme Training Dept" in health.detail
    assert fake.calls[0].request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"


def test_healthcheck_reports_refused_credentials(docusign, fake):
    fake.get(API, status=401, json=payload("error_token_expired"))

    health = docusign.healthcheck()

    assert not health.ok and "HTTP 401" in health.detail and ACCESS_TOKEN not in health.detail


def test_docusign_passes_the_connector_contract(docusign, fake):
    fake.get(API, json=payload("account"))

    hooks = check_connector(docusign, exercise=True)

    assert set(hooks) == {"send_for_signature", "signature_status", "download_signed",
                          "verify_webhook", "healthcheck", "fetch_agreements"}


def test_the_docusign_type_is_registered(tb_host):
    assert tb_host.connector_types["docusign"].cls is DocusignConnector



@pytest.mark.parametrize("body", [b"[]", b"1", b'"text"', b'{"event": "envelope-sent", "data": []}'])
def test_a_validly_signed_body_that_is_not_a_connect_object_is_rejected_not_a_crash(docusign, body):
    with pytest.raises(WebhookRejected, match="not a JSON object|without event or data"):
        docusign.verify_webhook(signed(body, HMAC_KEY), body)
