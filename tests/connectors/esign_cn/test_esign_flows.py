"""A training agreement through e签宝: send -> status -> download -> callback.

Payloads follow open.esign.cn/doc/opendoc/pdf-sign3 (file-upload-url, create-by-file,
detail xxk4q6, file-download-url kczf8g) and notify3 (sblzg8, glqgy1, zzcdf8).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import date

import pytest
import responses

from trainbridge.connectors.esign_cn import EsignConnector
from trainbridge.core.errors import AuthError, ServerError, WebhookRejected
from trainbridge.core.records import Agreement, EnvelopeStatus, Signer
from trainbridge.testing import check_connector

from .conftest import APP_ID, APP_SECRET, NOW_MS, SANDBOX, fixture_bytes, fixture_json

FLOW = "c57fb3ab5e1d4b4b88afb7b97d5a1e22"
FILE_ID = "a24a751b57394115af322ced2406eb23"
PDF = b"%PDF-1.7\n% training agreement for Zhang San\n%%EOF\n"
SIGNED_PDF = b"%PDF-1.7\n% signed by Zhang San\n%%EOF\n"
AGREEMENT = Agreement(
    id="hr:agr-1001", employee_id="E1001", program_id="P-LEAN", template_id="tpl-service",
    template_version="3", service_start=date(2024, 1, 1), service_months=24,
    service_end=date(2025, 12, 31))
EMPLOYEE = Signer(name="张三", email="zhangsan@example.com")


def _upload_url() -> str:
    return str(fixture_json("file_upload_url.json")["data"]["fileUploadUrl"])


def _fake_send(rsps: responses.RequestsMock) -> None:
    rsps.post(f"{SANDBOX}/v3/files/file-upload-url", json=fixture_json("file_upload_url.json"))
    rsps.put(_upload_url(), json={"errCode": 0, "msg": "成功"})
    rsps.get(f"{SANDBOX}/v3/files/{FILE_ID}", json=fixture_json("file_status.json"))
    rsps.post(f"{SANDBOX}/v3/sign-flow/create-by-file", json=fixture_json("create_by_file.json"))


def _expected_signature(method: str, path: str, body: bytes | None) -> str:
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode() if body else ""
    text = f"{method}\n*/*\n{md5}\napplication/json; charset=UTF-8\n\n{path}"
    return base64.b64encode(hmac.new(APP_SECRET.encode(), text.encode(),
                                     hashlib.sha256).digest()).decode()


@responses.activate
def test_sending_a_training_agreement_uploads_the_pdf_and_creates_a_sign_flow(esign) -> None:
    conn = esign(sign_page=3, sign_x=420, sign_y=160)
    _fake_send(responses.mock)

    envelope = conn.send_for_signature(AGREEMENT, PDF, [EMPLOYEE])

    assert (envelope.envelope_id, envelope.status) == (FLOW, EnvelopeStatus.SENT)
    assert envelope.id == f"esign:{FLOW}" and envelope.agreement_id == "hr:agr-1001"
    upload_slot, put, file_check, create = (c.request for c in responses.calls)

    md5 = base64.b64encode(hashlib.md5(PDF).digest()).decode()
    assert json.loads(upload_slot.body) == {
        "contentMd5": md5, "contentType": "application/pdf", "convertToPDF": False,
        "fileName": "training-agreement.pdf", "fileSize": len(PDF)}
    assert upload_slot.headers["X-Tsign-Open-App-Id"] == APP_ID
    assert upload_slot.headers["X-Tsign-Open-Auth-Mode"] == "Signature"
    assert upload_slot.headers["X-Tsign-Open-Ca-Timestamp"] == str(NOW_MS)
    assert upload_slot.headers["Content-MD5"] == base64.b64encode(
        hashlib.md5(upload_slot.body).digest()).decode()
    assert upload_slot.headers["X-Tsign-Open-Ca-Signature"] == _expected_signature(
        "POST", "/v3/files/file-upload-url", upload_slot.body)

    # The PDF goes to OSS as is, with its own MD5 and no e签宝 signature.
    assert put.method == "PUT" and put.body == PDF
    assert put.headers["Content-MD5"] == md5 and put.headers["Content-Type"] == "application/pdf"
    assert "X-Tsign-Open-Ca-Signature" not in put.headers

    assert file_check.headers["X-Tsign-Open-Ca-Signature"] == _expected_signature(
        "GET", f"/v3/files/{FILE_ID}", None)
    assert "Content-MD5" not in file_check.headers

    assert json.loads(create.body) == {
        "docs": [{"fileId": FILE_ID, "fileName": "training-agreement.pdf"}],
        "signFlowConfig": {
            "signFlowTitle": "培训服务协议", "autoStart": True, "autoFinish": True,
            "noticeConfig": {"noticeTypes": "1,2"},
            "notifyUrl": "https://hr.example.com/hooks/esign?tenant=acme"},
        "signers": [{
            "signerType": 0,
            "psnSignerInfo": {"psnAccount": "zhangsan@example.com", "psnInfo": {"psnName": "张三"}},
            "signConfig": {"signOrder": 1},
            "signFields": [{"fileId": FILE_ID, "customBizNum": "hr:agr-1001",
                            "normalSignFieldConfig": {
                                "signFieldStyle": 1,
                                "signFieldPosition": {"positionPage": "3", "positionX": 420.0,
                                                      "positionY": 160.0}}}],
        }],
    }
    assert create.headers["X-Tsign-Open-Ca-Signature"] == _expected_signature(
        "POST", "/v3/sign-flow/create-by-file", create.body)


@responses.activate
def test_a_retried_send_returns_the_flow_already_made(esign) -> None:
    conn = esign()
    responses.get(f"{SANDBOX}/v3/sign-flow/{FLOW}/detail", json=fixture_json("detail_signing.json"))
    sent = AGREEMENT.model_copy(update={"envelope_id": FLOW, "esign_instance": "esign"})

    envelope = conn.send_for_signature(sent, PDF, [EMPLOYEE])

    assert envelope.envelope_id == FLOW and len(responses.calls) == 1


@responses.activate
def test_status_reads_the_flow_and_its_signer(esign) -> None:
    conn = esign()
    responses.get(f"{SANDBOX}/v3/sign-flow/{FLOW}/detail", json=fixture_json("detail_signing.json"))

    envelope = conn.signature_status(FLOW)

    assert envelope.status is EnvelopeStatus.SENT
    assert envelope.agreement_id == "hr:agr-1001"  # read back from customBizNum
    [signer] = envelope.signers
    assert (signer.name, signer.email, signer.signed_at) == ("张三", "183****0101", None)


@responses.activate
def test_status_survives_a_429_with_retry_after(esign) -> None:
    conn = esign()
    url = f"{SANDBOX}/v3/sign-flow/{FLOW}/detail"
    responses.get(url, status=429, headers={"Retry-After": "0"},
                  json={"code": 429, "message": "请求过于频繁"})
    responses.get(url, json=fixture_json("detail_completed.json"))

    envelope = conn.signature_status(FLOW)

    assert envelope.status is EnvelopeStatus.COMPLETED and len(responses.calls) == 2
    assert envelope.completed_at is not None and envelope.signers[0].ip_address == "120.26.1.8"


@responses.activate
def test_a_5xx_on_create_is_not_retried_and_raises_with_the_trace_id(esign) -> None:
    conn = esign()
    responses.post(f"{SANDBOX}/v3/files/file-upload-url", json=fixture_json("file_upload_url.json"))
    responses.put(_upload_url(), json={"errCode": 0, "msg": "成功"})
    responses.get(f"{SANDBOX}/v3/files/{FILE_ID}", json=fixture_json("file_status.json"))
    responses.post(f"{SANDBOX}/v3/sign-flow/create-by-file", status=502,
                   headers={"X-Tsign-Trace-Id": "10120031164T343T17285184300694557"},
                   body="Bad Gateway")

    with pytest.raises(ServerError) as caught:
        conn.send_for_signature(AGREEMENT, PDF, [EMPLOYEE])

    assert caught.value.request_id == "10120031164T343T17285184300694557"
    creates = [c for c in responses.calls if c.request.url.endswith("create-by-file")]
    assert len(creates) == 1  # a create has no idempotency key: one sign flow at most


@responses.activate
def test_refused_credentials_say_what_to_check(esign) -> None:
    conn = esign()
    responses.get(f"{SANDBOX}/v3/sign-flow/{FLOW}/detail", status=401,
                  json={"success": False, "code": 401, "message": "无效的应用"})

    with pytest.raises(AuthError) as caught:
        conn.signature_status(FLOW)

    assert "smlopenapi" in caught.value.hint and APP_SECRET not in str(caught.value)


@responses.activate
def test_download_returns_the_signed_pdf_of_a_finished_flow(esign) -> None:
    conn = esign()
    responses.get(f"{SANDBOX}/v3/sign-flow/{FLOW}/detail", json=fixture_json("detail_completed.json"))
    responses.post(f"{SANDBOX}/v3/sign-flow/{FLOW}/file-download-url",
                   json=fixture_json("file_download_url.json"))
    download = fixture_json("file_download_url.json")["data"]["files"][0]["downloadUrl"]
    responses.get(download, body=SIGNED_PDF, content_type="application/pdf")

    signed = conn.download_signed(FLOW)

    assert signed.content == SIGNED_PDF and signed.certificate is None
    link_request = responses.calls[1].request
    assert json.loads(link_request.body) == {}
    assert link_request.headers["X-Tsign-Open-Ca-Signature"] == _expected_signature(
        "POST", f"/v3/sign-flow/{FLOW}/file-download-url", b"{}")


@responses.activate
def test_download_of_an_unfinished_flow_is_refused(esign) -> None:
    conn = esign()
    responses.get(f"{SANDBOX}/v3/sign-flow/{FLOW}/detail", json=fixture_json("detail_signing.json"))

    with pytest.raises(Exception, match="not completed"):
        conn.download_signed(FLOW)


def _callback_headers(body: bytes, timestamp: str = "1700000635671",
                      secret: str = APP_SECRET) -> dict[str, str]:
    signature = hmac.new(secret.encode(), timestamp.encode() + b"acme" + body,
                         hashlib.sha256).hexdigest()
    return {"X-Tsign-Open-TIMESTAMP": timestamp, "X-Tsign-Open-SIGNATURE-ALGORITHM": "hmac-sha256",
            "X-Tsign-Open-App-Id": APP_ID, "X-Tsign-Open-SIGNATURE": signature}


def test_a_signed_flow_complete_callback_becomes_a_completed_event(esign) -> None:
    body = fixture_bytes("callback_sign_flow_complete.json")

    result = esign().verify_webhook(_callback_headers(body), body)

    [event] = result.events
    assert (event.envelope_id, event.status, event.event_type) == (
        FLOW, EnvelopeStatus.COMPLETED, "SIGN_FLOW_COMPLETE")
    assert result.reply.status_code == 200 and json.loads(result.reply.body) == {
        "code": "200", "msg": "success"}


def test_a_signer_callback_becomes_a_signed_event(esign) -> None:
    body = fixture_bytes("callback_sign_misson_complete.json")

    [event] = esign().verify_webhook(_callback_headers(body), body).events

    assert event.status is EnvelopeStatus.SIGNED and event.event_id.endswith(":1")


@pytest.mark.parametrize("forge", ["other secret", "changed body", "stale", "other app"])
def test_forged_callbacks_are_rejected(esign, forge: str) -> None:
    body = fixture_bytes("callback_sign_flow_complete.json")
    headers = _callback_headers(body)
    if forge == "other secret":
        headers = _callback_headers(body, secret="not-the-app-secret")
    elif forge == "changed body":
        body = body.replace(b'"signFlowStatus":"2"', b'"signFlowStatus":"7"')
    elif forge == "stale":
        headers = _callback_headers(body, timestamp=str(NOW_MS - 3_600_000))
    else:
        headers["X-Tsign-Open-App-Id"] = "7438000000"

    with pytest.raises(WebhookRejected):
        esign().verify_webhook(headers, body)


@responses.activate
def test_healthcheck_takes_a_business_answer_as_accepted_credentials(esign) -> None:
    url = f"{SANDBOX}/v3/sign-flow/trainbridge-healthcheck/detail"
    responses.get(url, json={"code": 1437501, "message": "签署流程不存在", "data": None})
    assert esign().healthcheck().ok

    responses.replace(responses.GET, url, status=401,
                      json={"success": False, "code": 401, "message": "无效的应用"})
    assert not esign().healthcheck().ok


@responses.activate
def test_the_connector_keeps_the_hook_contract(tb_instance) -> None:
    responses.get(f"{SANDBOX}/v3/sign-flow/trainbridge-healthcheck/detail",
                  json={"code": 1437501, "message": "签署流程不存在", "data": None})
    conn = tb_instance("esign_cn", {"app_id": APP_ID, "app_secret": APP_SECRET,
                                    "base_url": SANDBOX})
    assert isinstance(conn, EsignConnector)
    assert set(check_connector(conn, exercise=True)) == {
        "send_for_signature", "signature_status", "download_signed", "verify_webhook",
        "healthcheck"}


@responses.activate
def test_a_file_still_converting_is_checked_again_a_second_later_on_the_contexts_clock(esign, clock) -> None:
    conn = esign()
    converting = fixture_json("file_status.json")
    converting["data"]["fileStatus"] = 1  # uploading/converting: not usable yet
    responses.post(f"{SANDBOX}/v3/files/file-upload-url", json=fixture_json("file_upload_url.json"))
    responses.put(_upload_url(), json={"errCode": 0, "msg": "成功"})
    responses.get(f"{SANDBOX}/v3/files/{FILE_ID}", json=converting)
    responses.get(f"{SANDBOX}/v3/files/{FILE_ID}", json=fixture_json("file_status.json"))
    responses.post(f"{SANDBOX}/v3/sign-flow/create-by-file", json=fixture_json("create_by_file.json"))

    envelope = conn.send_for_signature(AGREEMENT, PDF, [EMPLOYEE])

    assert envelope.envelope_id == FLOW and clock.sleeps == [1.0]
    create = responses.calls[-1].request
    assert create.headers["X-Tsign-Open-Ca-Timestamp"] == str(NOW_MS + 1000)
