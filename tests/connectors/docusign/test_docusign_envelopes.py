"""DocuSign envelopes: what we send, what we read, and how a send stays one envelope."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from trainbridge.connectors.docusign import ENVELOPE_STATUS, agreement_key
from trainbridge.core.errors import AuthError, ConnectorError, RateLimited, ServerError
from trainbridge.core.records import EnvelopeStatus, Signer

from .conftest import (
    ACCESS_TOKEN,
    API,
    CERTIFICATE_PDF,
    ENVELOPE_ID,
    HMAC_KEY,
    NOW,
    PDF,
    SIGNED_PDF,
    agreement,
    payload,
    raw,
)

EMPLOYEE = Signer(name="张伟", email="zhang.wei@example.com", role="employee")
ENVELOPES = f"{API}/envelopes"
ENVELOPE = f"{ENVELOPES}/{ENVELOPE_ID}"


def query(call: responses.Call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def connect_headers(body: bytes) -> dict[str, str]:
    signature = base64.b64encode(hmac.new(HMAC_KEY.encode(), body, hashlib.sha256).digest())
    return {"Content-Type": "application/json", "X-DocuSign-Signature-1": signature.decode(),
            "X-Authorization-Digest": "HMACSHA256"}


def test_an_agreement_goes_out_is_signed_downloaded_and_reported_by_connect(docusign, fake, clock):
    fake.get(ENVELOPES, json=payload("envelopes_none"))
    # The hourly limit is spent: DocuSign answers 429 without Retry-After, with the reset time.
    fake.post(ENVELOPES, status=429, json=payload("error_rate_limit"),
              headers={"X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": "0",
                       "X-RateLimit-Reset": str(int(NOW) + 42),
                       "X-DocuSign-TraceToken": "6f1e0c2a-429"})
    fake.post(ENVELOPES, status=201, json=payload("envelope_summary_sent"))
    fake.get(ENVELOPE, status=503, body="Service Unavailable")
    fake.get(ENVELOPE, json=payload("envelope_sent"))

    sent = docusign.send_for_signature(agreement(), PDF, [EMPLOYEE])
    status = docusign.signature_status(ENVELOPE_ID)

    assert sent.envelope_id == ENVELOPE_ID and sent.status is EnvelopeStatus.SENT
    assert sent.id == f"ds:{ENVELOPE_ID}" and sent.agreement_id == "lms:agr-7"
    assert status.status is EnvelopeStatus.SENT and status.agreement_id == "lms:agr-7"
    assert [s.email for s in status.signers] == ["zhang.wei@example.com"]
    assert clock.sleeps[0] == 42  # waited until X-RateLimit-Reset, not a blind backoff

    lookup, refused, created = fake.calls[0], fake.calls[1], fake.calls[2]
    assert lookup.request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert query(lookup) == {
        "from_date": ["2024-03-04T09:00:00Z"], "from_to_status": ["created"],
        "custom_field": ["trainbridge_agreement_id=lms:agr-7"],
        "include": ["custom_fields,recipients"]}
    assert refused.request.body == created.request.body
    body = json.loads(created.request.body)
    assert body["status"] == "sent"
    assert body["documents"] == [{"documentBase64": base64.b64encode(PDF).decode(),
                                  "name": "training-agreement.pdf", "fileExtension": "pdf",
                                  "documentId": "1"}]
    assert body["recipients"] == {"signers": [{
        "email": "zhang.wei@example.com", "name": "张伟", "recipientId": "1",
        "routingOrder": "1", "roleName": "employee"}]}
    assert body["customFields"] == {"textCustomFields": [{
        "name": "trainbridge_agreement_id", "value": "lms:agr-7", "show": "false",
        "required": "false"}]}
    assert query(fake.calls[3]) == {"include": ["recipients,custom_fields"]}

    fake.get(ENVELOPE, json=payload("envelope_completed"))
    fake.get(f"{ENVELOPE}/documents/combined", body=SIGNED_PDF,
             content_type="application/pdf")
    fake.get(f"{ENVELOPE}/documents/certificate", body=CERTIFICATE_PDF,
             content_type="application/pdf")

    signed = docusign.download_signed(ENVELOPE_ID)

    assert signed.content == SIGNED_PDF and signed.certificate == CERTIFICATE_PDF
    assert query(fake.calls[6]) == {"certificate": ["false"]}  # the certificate comes apart

    body_bytes = raw("connect_envelope_completed.json")
    result = docusign.verify_webhook(connect_headers(body_bytes), body_bytes)

    [event] = result.events
    assert event.envelope_id == ENVELOPE_ID and event.status is EnvelopeStatus.COMPLETED
    assert event.event_type == "envelope-completed"
    assert result.reply.status_code == 200


def test_a_retried_send_returns_the_envelope_already_made_for_the_agreement(docusign, fake):
    fake.get(ENVELOPES, json=payload("envelopes_found"))

    envelope = docusign.send_for_signature(agreement(), PDF, [EMPLOYEE])

    assert envelope.envelope_id == ENVELOPE_ID and envelope.status is EnvelopeStatus.SENT
    assert len(fake.calls) == 1  # looked up, nothing created


def test_a_voided_envelope_of_the_agreement_does_not_stop_a_new_one(docusign, fake):
    found = payload("envelopes_found")
    found["envelopes"][0]["status"] = "voided"
    fake.get(ENVELOPES, json=found)
    fake.post(ENVELOPES, status=201, json=payload("envelope_summary_sent"))

    envelope = docusign.send_for_signature(agreement(), PDF, [EMPLOYEE])

    assert envelope.status is EnvelopeStatus.SENT and len(fake.calls) == 2


def test_an_envelope_of_another_agreement_found_by_a_partial_match_is_ignored(docusign, fake):
    found = payload("envelopes_found")
    found["envelopes"][0]["customFields"]["textCustomFields"][0]["value"] = "lms:agr-70"
    fake.get(ENVELOPES, json=found)
    fake.post(ENVELOPES, status=201, json=payload("envelope_summary_sent"))

    docusign.send_for_signature(agreement(), PDF, [EMPLOYEE])

    assert fake.calls[1].request.method == "POST"


def test_a_create_that_fails_with_5xx_is_not_repeated_and_the_next_send_finds_it(docusign, fake):
    fake.get(ENVELOPES, json=payload("envelopes_none"))
    fake.post(ENVELOPES, status=500, json={"errorCode": "UNSPECIFIED_ERROR",
                                           "message": "Non-static method requires a target."},
              headers={"X-DocuSign-TraceToken": "a1b2c3d4-500"})

    with pytest.raises(ServerError) as failure:
        docusign.send_for_signature(agreement(), PDF, [EMPLOYEE])

    assert failure.value.request_id == "a1b2c3d4-500"
    assert "may or may not have happened" in failure.value.message
    assert "looks the agreement up" in failure.value.hint
    assert [c.request.method for c in fake.calls] == ["GET", "POST"]

    fake.get(ENVELOPES, json=payload("envelopes_found"))
    again = docusign.send_for_signature(agreement(), PDF, [EMPLOYEE])
    assert again.envelope_id == ENVELOPE_ID
    assert [c.request.method for c in fake.calls] == ["GET", "POST", "GET"]


def test_an_agreement_that_knows_its_envelope_only_reads_its_status(docusign, fake):
    fake.get(ENVELOPE, json=payload("envelope_sent"))

    envelope = docusign.send_for_signature(
        agreement(envelope_id=ENVELOPE_ID, esign_instance="ds"), PDF, [EMPLOYEE])

    assert envelope.envelope_id == ENVELOPE_ID and len(fake.calls) == 1


def test_the_hr_countersigner_from_configuration_signs_second_at_its_anchor(make_docusign, fake):
    docusign = make_docusign(countersigner_name="HR 李娜", countersigner_email="hr@example.com",
                             employee_anchor="/sig_employee/", countersigner_anchor="/sig_hr/",
                             anchor_y_offset="-10")
    fake.get(ENVELOPES, json=payload("envelopes_none"))
    fake.post(ENVELOPES, status=201, json=payload("envelope_summary_sent"))

    envelope = docusign.send_for_signature(agreement(), PDF, [EMPLOYEE])

    signers = json.loads(fake.calls[1].request.body)["recipients"]["signers"]
    assert [(s["email"], s["routingOrder"], s["roleName"]) for s in signers] == [
        ("zhang.wei@example.com", "1", "employee"), ("hr@example.com", "2", "hr")]
    assert signers[1]["tabs"] == {"signHereTabs": [{
        "anchorString": "/sig_hr/", "anchorUnits": "pixels", "anchorXOffset": "0",
        "anchorYOffset": "-10", "anchorIgnoreIfNotPresent": "false"}]}
    assert signers[0]["tabs"]["signHereTabs"][0]["anchorString"] == "/sig_employee/"
    assert [s.role for s in envelope.signers] == ["employee", "hr"]


def test_a_signer_without_email_cannot_be_sent(docusign, fake):
    fake.get(ENVELOPES, json=payload("envelopes_none"))

    with pytest.raises(ConnectorError, match="no email address"):
        docusign.send_for_signature(agreement(), PDF, [Signer(name="张伟")])


def test_an_agreement_id_longer_than_a_custom_field_is_stored_as_its_digest():
    long_id = "lms:" + "x" * 120
    assert agreement_key(long_id).startswith("sha256:") and len(agreement_key(long_id)) == 71
    assert agreement_key("lms:agr-7") == "lms:agr-7"


def test_an_incomplete_envelope_is_not_downloaded(docusign, fake):
    fake.get(ENVELOPE, json=payload("envelope_sent"))

    with pytest.raises(ConnectorError, match="is sent, not completed"):
        docusign.download_signed(ENVELOPE_ID)


def test_the_completed_envelope_carries_signing_and_completion_times(docusign, fake):
    fake.get(ENVELOPE, json=payload("envelope_completed"))

    envelope = docusign.signature_status(ENVELOPE_ID)

    assert envelope.status is EnvelopeStatus.COMPLETED
    assert envelope.completed_at is not None and envelope.completed_at.isoformat() == \
        "2024-06-02T08:30:15.123000+00:00"
    assert envelope.signers[0].signed_at == envelope.completed_at


@pytest.mark.parametrize(("vendor", "ours"), [
    ("created", EnvelopeStatus.CREATED), ("sent", EnvelopeStatus.SENT),
    ("delivered", EnvelopeStatus.DELIVERED), ("signed", EnvelopeStatus.SIGNED),
    ("completed", EnvelopeStatus.COMPLETED), ("declined", EnvelopeStatus.DECLINED),
    ("voided", EnvelopeStatus.VOIDED), ("timedout", EnvelopeStatus.VOIDED),
])
def test_docusign_envelope_statuses_map_to_ours(vendor, ours):
    assert ENVELOPE_STATUS[vendor] is ours


def test_a_rate_limit_reset_beyond_max_wait_raises_instead_of_sleeping(docusign, fake, clock):
    fake.get(ENVELOPE, status=429, json=payload("error_rate_limit"),
             headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW) + 3000),
                      "X-DocuSign-TraceToken": "trace-429"})

    with pytest.raises(RateLimited) as limited:
        docusign.signature_status(ENVELOPE_ID)

    assert limited.value.request_id == "trace-429" and clock.sleeps == []
    assert "hourly API limit" in limited.value.hint


def test_a_spent_burst_limit_waits_out_the_30_second_window(docusign, fake, clock):
    fake.get(ENVELOPE, status=429, json=payload("error_rate_limit"),
             headers={"X-RateLimit-Remaining": "812", "X-BurstLimit-Remaining": "0"})
    fake.get(ENVELOPE, json=payload("envelope_sent"))

    docusign.signature_status(ENVELOPE_ID)

    assert clock.sleeps == [30.0]


def test_an_expired_access_token_is_an_auth_error_with_the_trace_token(docusign, fake):
    fake.get(ENVELOPE, status=401, json=payload("error_token_expired"),
             headers={"X-DocuSign-TraceToken": "7d0c4b1a-401"})

    with pytest.raises(AuthError) as refused:
        docusign.signature_status(ENVELOPE_ID)

    assert refused.value.request_id == "7d0c4b1a-401" and refused.value.status == 401
    assert "JWT grant" in refused.value.hint and ACCESS_TOKEN not in str(refused.value)


PROXY_PAGE = "<!DOCTYPE html><html><body><h1>Sign in to continue</h1></body></html>"


def test_an_html_page_instead_of_the_api_is_an_error_with_a_hint_not_a_traceback(docusign, fake):
    # A corporate proxy answering 200 with its login page: neither a status nor a JSON error.
    fake.add(responses.GET, ENVELOPE, body=PROXY_PAGE, status=200, content_type="text/html")
    fake.add(responses.GET, ENVELOPES, body=PROXY_PAGE, status=200, content_type="text/html")

    with pytest.raises(ConnectorError, match="text/html, not JSON") as status_error:
        docusign.signature_status(ENVELOPE_ID)
    with pytest.raises(ConnectorError, match="not JSON") as send_error:
        docusign.send_for_signature(agreement=agreement(), document=PDF, signers=[EMPLOYEE],
                                    idempotency_key="lms:agr-7#1")

    assert "check base_url" in (status_error.value.hint or "")
    assert send_error.value.instance == docusign.name
    assert not [c for c in fake.calls if c.request.method == "POST"]


def test_the_health_check_reports_an_html_answer_as_a_failed_check(docusign, fake):
    fake.add(responses.GET, API, body=PROXY_PAGE, status=200, content_type="text/html")

    health = docusign.healthcheck()

    assert not health.ok
    assert "not JSON" in health.detail
