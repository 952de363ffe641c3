"""Dropbox Sign signature requests: what we send, what we read, one request per agreement."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from trainbridge.connectors.dropbox_sign import DropboxSignConnector, event_hash, lookup_token
from trainbridge.core.errors import AuthError, ClientError, ConnectorError, ServerError
from trainbridge.core.records import EnvelopeStatus, Signer
from trainbridge.testing import check_connector

from .conftest import (
    API_KEY,
    BASE,
    NOW,
    PDF,
    REQUEST_ID,
    SIGNED_PDF,
    agreement,
    form_fields,
    multipart_callback,
    ours,
    payload,
)

EMPLOYEE = Signer(name="张伟", email="zhang.wei@example.com", role="employee")
LIST = f"{BASE}/signature_request/list"
SEND = f"{BASE}/signature_request/send"
STATUS = f"{BASE}/signature_request/{REQUEST_ID}"
FILES = f"{BASE}/signature_request/files/{REQUEST_ID}"


def query(call: responses.Call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def none_found() -> dict:
    answer = payload("SignatureRequestListResponse")
    answer["signature_requests"] = []
    answer["list_info"].update(num_results=0, num_pages=0)
    return answer


def completed() -> dict:
    return ours("SignatureRequestGetResponse", signature_request_id=REQUEST_ID)


def test_an_agreement_goes_out_is_signed_downloaded_and_reported_by_callback(dropbox_sign, fake, clock):
    fake.get(LIST, json=none_found())
    fake.post(SEND, status=429, json=payload("Error429Response"),
              headers={"X-RateLimit-Limit": "25", "X-RateLimit-Remaining": "0",
                       "X-Ratelimit-Reset": str(int(NOW) + 17)})
    fake.post(SEND, json=ours("SignatureRequestSendResponse"))
    fake.get(STATUS, status=500, json={"error": {"error_msg": "Internal error",
                                                 "error_name": "unknown"}})
    fake.get(STATUS, json=ours("SignatureRequestSendResponse"))

    sent = dropbox_sign.send_for_signature(agreement(), PDF, [EMPLOYEE])
    status = dropbox_sign.signature_status(REQUEST_ID)

    assert sent.envelope_id == REQUEST_ID and sent.status is EnvelopeStatus.SENT
    assert sent.agreement_id == "lms:agr-7" and sent.id == f"dbs:{REQUEST_ID}"
    assert status.status is EnvelopeStatus.SENT
    assert clock.sleeps[0] == 17  # waited until X-Ratelimit-Reset

    lookup, refused, accepted = fake.calls[0], fake.calls[1], fake.calls[2]
    basic = "Basic " + base64.b64encode(f"{API_KEY}:".encode()).decode()
    assert lookup.request.headers["Authorization"] == basic
    assert query(lookup) == {"query": [lookup_token("lms:agr-7")], "page_size": ["20"]}
    fields = form_fields(accepted.request.body, accepted.request.headers["Content-Type"])
    assert form_fields(refused.request.body, refused.request.headers["Content-Type"]) == fields
    assert fields == {
        "title": "培训服务协议 Training agreement",
        "subject": "请签署培训服务协议 Please sign your training agreement",
        "signers[0][email_address]": "zhang.wei@example.com", "signers[0][name]": "张伟",
        "metadata[trainbridge_agreement_id]": "lms:agr-7",
        "metadata[trainbridge_key]": lookup_token("lms:agr-7"),
        "test_mode": "1", "allow_decline": "1",
        "files[0]": ("training-agreement.pdf", PDF),
    }

    fake.get(STATUS, json=completed())
    fake.get(FILES, body=SIGNED_PDF, content_type="application/pdf")

    signed = dropbox_sign.download_signed(REQUEST_ID)

    assert signed.content == SIGNED_PDF and signed.certificate is None
    assert query(fake.calls[6]) == {"file_type": ["pdf"]}

    event = payload("EventCallbackAccountSignatureRequestSent")
    event["event"].update(event_type="signature_request_all_signed", event_time=str(int(NOW) - 60),
                          event_hash=event_hash(API_KEY, str(int(NOW) - 60),
                                                "signature_request_all_signed"))
    event["signature_request"]["signature_request_id"] = REQUEST_ID
    fake.get(STATUS, json=completed())
    headers, body = multipart_callback(event)

    result = dropbox_sign.verify_webhook(headers, body)

    [reported] = result.events
    assert reported.envelope_id == REQUEST_ID and reported.status is EnvelopeStatus.COMPLETED
    assert reported.event_type == "signature_request_all_signed"
    assert result.reply.body == "Hello API Event Received" and result.reply.status_code == 200


def test_a_retried_send_returns_the_request_already_sent_for_the_agreement(dropbox_sign, fake):
    found = payload("SignatureRequestListResponse")
    found["signature_requests"][0]["metadata"] = {"trainbridge_agreement_id": "lms:agr-7"}
    found["signature_requests"][1]["metadata"] = {"trainbridge_agreement_id": "lms:agr-70"}
    fake.get(LIST, json=found)

    envelope = dropbox_sign.send_for_signature(agreement(), PDF, [EMPLOYEE])

    assert envelope.envelope_id == "d10338cad145e1cb68afc828" and len(fake.calls) == 1


def test_a_send_that_fails_with_5xx_is_not_repeated(dropbox_sign, fake):
    fake.get(LIST, json=none_found())
    fake.post(SEND, status=502, body="Bad Gateway")

    with pytest.raises(ServerError) as failure:
        dropbox_sign.send_for_signature(agreement(), PDF, [EMPLOYEE])

    assert "may or may not have happened" in failure.value.message
    assert [c.request.method for c in fake.calls] == ["GET", "POST"]


def test_the_hr_countersigner_signs_second_and_live_mode_sends_test_mode_0(make_dropbox_sign,
                                                                          fake):
    dropbox_sign = make_dropbox_sign(test_mode=False, countersigner_name="HR 李娜",
                                     countersigner_email="hr@example.com", client_id="cid-1",
                                     message="请在一周内签署")
    fake.get(LIST, json=none_found())
    fake.post(SEND, json=ours("SignatureRequestSendResponse"))

    dropbox_sign.send_for_signature(agreement(), PDF, [EMPLOYEE])

    call = fake.calls[1]
    fields = form_fields(call.request.body, call.request.headers["Content-Type"])
    assert (fields["signers[0][email_address]"], fields["signers[0][order]"]) == \
        ("zhang.wei@example.com", "0")
    assert (fields["signers[1][email_address]"], fields["signers[1][name]"],
            fields["signers[1][order]"]) == ("hr@example.com", "HR 李娜", "1")
    assert (fields["test_mode"], fields["client_id"], fields["message"]) == \
        ("0", "cid-1", "请在一周内签署")


def test_a_signer_without_email_cannot_be_sent(dropbox_sign, fake):
    fake.get(LIST, json=none_found())

    with pytest.raises(ConnectorError, match="no email address"):
        dropbox_sign.send_for_signature(agreement(), PDF, [Signer(name="张伟")])


@pytest.mark.parametrize(("changes", "signature", "expected"), [
    ({}, {"status_code": "awaiting_signature"}, EnvelopeStatus.SENT),
    ({}, {"status_code": "awaiting_signature", "last_viewed_at": 1717300000},
     EnvelopeStatus.DELIVERED),
    ({}, {"status_code": "signed", "signed_at": 1717300000}, EnvelopeStatus.SIGNED),
    ({"is_declined": True}, {"status_code": "declined"}, EnvelopeStatus.DECLINED),
    ({"has_error": True}, {"status_code": "error_converting"}, EnvelopeStatus.VOIDED),
    ({"is_complete": True}, {"status_code": "signed", "signed_at": 1717300000},
     EnvelopeStatus.COMPLETED),
])
def test_request_states_map_to_envelope_statuses(dropbox_sign, fake, changes, signature, expected):
    answer = ours("SignatureRequestSendResponse", **changes)
    answer["signature_request"]["signatures"] = [
        {**answer["signature_request"]["signatures"][0], **signature}]
    fake.get(STATUS, json=answer)

    assert dropbox_sign.signature_status(REQUEST_ID).status is expected


def test_a_canceled_request_reads_as_voided(dropbox_sign, fake):
    fake.get(STATUS, status=410, json=payload("Error410Response"))

    assert dropbox_sign.signature_status(REQUEST_ID).status is EnvelopeStatus.VOIDED


def test_the_completed_request_carries_signers_and_completion_time(dropbox_sign, fake):
    fake.get(STATUS, json=completed())

    envelope = dropbox_sign.signature_status(REQUEST_ID)

    [signer] = envelope.signers
    assert (signer.name, signer.email) == ("John Doe", "john@example.com")
    assert signer.signed_at is not None and signer.signed_at.timestamp() == 1346521550
    assert envelope.completed_at == signer.signed_at


def test_an_incomplete_request_is_not_downloaded(dropbox_sign, fake):
    fake.get(STATUS, json=ours("SignatureRequestSendResponse"))

    with pytest.raises(ConnectorError, match="is sent, not completed"):
        dropbox_sign.download_signed(REQUEST_ID)


def test_files_still_being_prepared_say_when_to_come_back(dropbox_sign, fake):
    fake.get(STATUS, json=completed())
    fake.get(FILES, status=409, json=payload("Error409Response"))

    with pytest.raises(ConnectorError) as busy:
        dropbox_sign.download_signed(REQUEST_ID)

    assert busy.value.status == 409 and "signature_request_downloadable" in busy.value.hint


def test_a_refused_api_key_is_an_auth_error_with_the_vendor_reason(dropbox_sign, fake):
    fake.get(STATUS, status=401, json=payload("Error401Response"))

    with pytest.raises(AuthError) as refused:
        dropbox_sign.signature_status(REQUEST_ID)

    assert "check api_key" in refused.value.hint and API_KEY not in str(refused.value)


def test_live_requests_without_a_paid_plan_point_to_test_mode(make_dropbox_sign, fake):
    dropbox_sign = make_dropbox_sign(test_mode=False)
    fake.get(LIST, json=none_found())
    fake.post(SEND, status=402, json=payload("Error402Response"))

    with pytest.raises(ClientError) as refused:
        dropbox_sign.send_for_signature(agreement(), PDF, [EMPLOYEE])

    assert "test_mode = true" in refused.value.hint


def test_healthcheck_reads_the_account(dropbox_sign, fake):
    fake.get(f"{BASE}/account", json=payload("AccountGetResponse"))

    health = dropbox_sign.healthcheck()

    assert health.ok and "me@dropboxsign.com" in health.detail and "1250" in health.detail


def test_healthcheck_reports_a_refused_key(dropbox_sign, fake):
    fake.get(f"{BASE}/account", status=401, json=payload("Error401Response"))

    health = dropbox_sign.healthcheck()

    assert not health.ok and "HTTP 401" in health.detail


def test_dropbox_sign_passes_the_connector_contract(dropbox_sign, fake):
    fake.get(f"{BASE}/account", json=payload("AccountGetResponse"))

    hooks = check_connector(dropbox_sign, exercise=True)

    assert set(hooks) == {"send_for_signature", "signature_status", "download_signed",
                          "verify_webhook", "healthcheck", "fetch_agreements"}


def test_the_dropbox_sign_type_is_registered(tb_host):
    assert tb_host.connector_types["dropbox_sign"].cls is DropboxSignConnector



PROXY_PAGE = "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>"


def test_an_html_answer_to_a_status_read_is_an_error_with_a_hint(dropbox_sign, fake):
    fake.add(responses.GET, f"{BASE}/signature_request/{REQUEST_ID}", body=PROXY_PAGE, status=200,
             content_type="text/html")

    with pytest.raises(ConnectorError, match="text/html, not JSON") as error:
        dropbox_sign.signature_status(REQUEST_ID)

    assert "check base_url" in (error.value.hint or "")


def test_an_html_answer_to_a_send_is_an_error_and_the_next_send_looks_first(dropbox_sign, fake):
    fake.add(responses.GET, f"{BASE}/signature_request/list", json={
        "signature_requests": [], "list_info": {"num_pages": 0, "num_results": 0, "page": 1,
                                                "page_size": 20}})
    fake.add(responses.POST, f"{BASE}/signature_request/send", body=PROXY_PAGE, status=200,
             content_type="text/html")

    with pytest.raises(ConnectorError, match="not JSON"):
        dropbox_sign.send_for_signature(agreement=agreement(), document=PDF, signers=[EMPLOYEE],
                                        idempotency_key="lms:agr-7#1")

    # Looked up by the delivery's key, then by the agreement, before the one send.
    assert [c.request.method for c in fake.calls] == ["GET", "GET", "POST"]
