"""The ``local_esign`` demo connector: envelopes in a folder, HMAC-signed callbacks."""

from __future__ import annotations

import time
from datetime import date

import pytest

from trainbridge.connectors.local_esign import LocalEsign, signed_callback
from trainbridge.core.connector import ConnectorContext
from trainbridge.core.errors import ConnectorError, WebhookRejected
from trainbridge.core.records import Agreement, EnvelopeStatus, Signer
from trainbridge.testing import check_connector

AGREEMENT = Agreement(id="agreement:lms:S1-E001", employee_id="E001", program_id="FIRE-CTRL",
                      template_id="service-24m", template_version="1", service_start=date(2026, 2, 21),
                      service_months=24, service_end=date(2028, 2, 21))


def one_page_pdf() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    return bytes(pdf.output())


PDF = one_page_pdf()


@pytest.fixture
def esign(tmp_path) -> LocalEsign:
    built = LocalEsign.from_mapping("esign", {"webhook_secret": "s3cret-hmac"},
                                    ConnectorContext(base_dir=tmp_path))
    assert isinstance(built, LocalEsign)
    return built


def test_sending_twice_makes_one_envelope(esign, tmp_path):
    signers = [Signer(name="张伟", email="e001@acme.example")]
    first = esign.send_for_signature(AGREEMENT, PDF, signers)
    again = esign.send_for_signature(AGREEMENT, PDF, signers)
    assert first.envelope_id == again.envelope_id and first.status is EnvelopeStatus.SENT
    assert [p.name for p in (tmp_path / "esign").iterdir()] == [first.envelope_id]


def test_the_signed_document_is_downloadable_only_once_signed(esign):
    envelope = esign.send_for_signature(AGREEMENT, PDF, [Signer(name="张伟")])
    with pytest.raises(ConnectorError, match="not completed"):
        esign.download_signed(envelope.envelope_id)
    signed = esign.sign(envelope.envelope_id)
    assert signed.status is EnvelopeStatus.COMPLETED and signed.signers[0].ip_address == "127.0.0.1"
    document = esign.download_signed(envelope.envelope_id)
    assert document.content.startswith(b"%PDF") and document.content != PDF


def test_a_callback_signed_with_the_secret_is_translated(esign):
    headers, body = signed_callback("s3cret-hmac", {"event_id": "e1", "type": "envelope.completed",
                                                    "envelope_id": "env-1", "status": "completed"})
    [event] = esign.verify_webhook(headers, body).events
    assert (event.event_id, event.envelope_id, event.status) == ("e1", "env-1", EnvelopeStatus.COMPLETED)


@pytest.mark.parametrize("forgery", ["wrong secret", "altered body", "stale", "unsigned"])
def test_forged_callbacks_are_rejected(esign, forgery):
    event = {"event_id": "e1", "type": "envelope.completed", "envelope_id": "env-1", "status": "completed"}
    secret = "guess" if forgery == "wrong secret" else "s3cret-hmac"
    stamp = int(time.time()) - 3600 if forgery == "stale" else None
    headers, body = signed_callback(secret, event, timestamp=stamp)
    if forgery == "altered body":
        body = body.replace(b"env-1", b"env-2")
    if forgery == "unsigned":
        headers = {"Content-Type": "application/json"}
    with pytest.raises(WebhookRejected):
        esign.verify_webhook(headers, body)


def test_the_connector_passes_the_contract(esign):
    hooks = check_connector(esign, exercise=True)
    assert {"send_for_signature", "signature_status", "download_signed", "verify_webhook"} <= set(hooks)
