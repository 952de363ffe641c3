"""A training agreement through 法大大 FASC 5.1: send -> status -> download -> callback.

Shapes follow the official fasc-openapi-node-sdk v5.1 models (sign_task_models.ts,
doc_models.ts, service_models.ts) and the FASC docs' public response ``{code, msg, data}``
with ``code`` "100000" for success; callbacks are form posts of ``bizContent`` with the
X-FASC-* headers of the official PHP SDK callback sample.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date
from urllib.parse import parse_qs, urlencode

import pytest
import responses

from trainbridge.connectors.fadada import FadadaConnector, fasc_sign
from trainbridge.core.errors import AuthError, ServerError, WebhookRejected
from trainbridge.core.records import Agreement, EnvelopeStatus, Signer
from trainbridge.testing import check_connector

from .conftest import APP_ID, APP_SECRET, NOW_MS, OPEN_CORP_ID, UAT, fixture_json

TASK = "1656657193146145802"
PDF = b"%PDF-1.7\n% training agreement for Zhang San\n%%EOF\n"
SIGNED_PDF = b"%PDF-1.7\n% signed by Zhang San\n%%EOF\n"
AGREEMENT = Agreement(
    id="hr:agr-1001", employee_id="E1001", program_id="P-LEAN", template_id="tpl-service",
    template_version="3", service_start=date(2024, 1, 1), service_months=24,
    service_end=date(2025, 12, 31))
EMPLOYEE = Signer(name="张三", email="zhangsan@example.com")


def _biz(request) -> dict:
    return json.loads(parse_qs(request.body)["bizContent"][0])


def _fake_send(rsps: responses.RequestsMock) -> None:
    rsps.post(f"{UAT}/service/get-access-token", json=fixture_json("access_token.json"))
    rsps.post(f"{UAT}/file/get-upload-url", json=fixture_json("get_upload_url.json"))
    rsps.put(fixture_json("get_upload_url.json")["data"]["uploadUrl"], status=200)
    rsps.post(f"{UAT}/file/process", json=fixture_json("file_process.json"))
    rsps.post(f"{UAT}/sign-task/create", json=fixture_json("sign_task_create.json"))
    rsps.post(f"{UAT}/sign-task/start", json=fixture_json("sign_task_start.json"))


@responses.activate
def test_sending_uploads_processes_creates_and_starts_a_sign_task(fadada) -> None:
    conn = fadada(sign_page=2)
    _fake_send(responses.mock)

    envelope = conn.send_for_signature(AGREEMENT, PDF, [EMPLOYEE])

    assert (envelope.envelope_id, envelope.status, envelope.id) == (
        TASK, EnvelopeStatus.SENT, f"fdd:{TASK}")
    _token, upload_url, put, process, create, start = (c.request for c in responses.calls)
    assert _biz(upload_url) == {"fileType": "doc"}
    assert put.body == PDF and "X-FASC-Sign" not in put.headers
    assert _biz(process) == {"fddFileUrlList": [{
        "fileType": "doc", "fddFileUrl": "https://file-test-os1.fadada.com/92bd4e0b1a",
        "fileName": "training-agreement.pdf", "fileFormat": "pdf"}]}
    assert _biz(create) == {
        "signTaskSubject": "培训服务协议", "signDocType": "contract",
        "initiator": {"idType": "corp", "openId": OPEN_CORP_ID},
        "transReferenceId": "hr:agr-1001", "autoStart": False, "autoFinish": True,
        "signInOrder": False,
        "docs": [{"docId": "1", "docName": "training-agreement.pdf", "docFileId": "18438605689",
                  "docFields": [{"fieldId": "sign-1", "fieldName": "张三 签名",
                                 "fieldType": "person_sign",
                                 "position": {"positionMode": "pixel", "positionPageNo": "2",
                                              "positionX": "400", "positionY": "150"}}]}],
        "actors": [{
            "actor": {"actorId": "employee-1", "actorType": "person", "actorName": "张三",
                      "permissions": ["sign"], "identNameForMatch": "张三",
                      "notification": {"sendNotification": True, "notifyWay": "email",
                                       "notifyAddress": "zhangsan@example.com"}},
            "signConfigInfo": {"orderNo": 1},
            "signFields": [{"fieldDocId": "1", "fieldId": "sign-1"}]}],
    }
    assert _biz(start) == {"signTaskId": TASK}
    for request in (upload_url, process, create, start):
        signed = {k: v for k, v in request.headers.items()
                  if k.startswith("X-FASC") and k != "X-FASC-Sign"}
        signed["bizContent"] = parse_qs(request.body)["bizContent"][0]
        assert request.headers["X-FASC-Sign"] == fasc_sign(signed, str(NOW_MS), APP_SECRET)
        assert request.headers["X-FASC-AccessToken"] == "9d7a0c4f5e3b4a2c8f1e6d5b4a3c2e1f"
    nonces = [c.request.headers["X-FASC-Nonce"] for c in responses.calls if c.request.method == "POST"]
    assert len(set(nonces)) == len(nonces)  # FASC refuses a nonce seen in the last 10 minutes


@responses.activate
def test_the_token_is_cached_and_fetched_again_when_fasc_says_it_expired(fadada) -> None:
    conn = fadada()
    responses.post(f"{UAT}/service/get-access-token", json=fixture_json("access_token.json"))
    detail = f"{UAT}/sign-task/app/get-detail"
    responses.post(detail, json=fixture_json("sign_task_detail_progress.json"))
    responses.post(detail, status=401, json={"code": "100002", "msg": "访问凭证失效",
                                             "data": None, "success": False})
    responses.post(detail, json=fixture_json("sign_task_detail_progress.json"))

    conn.signature_status(TASK)
    envelope = conn.signature_status(TASK)

    urls = [c.request.url.removeprefix(UAT) for c in responses.calls]
    assert urls == ["/service/get-access-token", "/sign-task/app/get-detail",
                    "/sign-task/app/get-detail", "/service/get-access-token",
                    "/sign-task/app/get-detail"]
    assert envelope.status is EnvelopeStatus.SENT and envelope.agreement_id == "hr:agr-1001"


@responses.activate
def test_the_token_is_refreshed_before_it_expires(fadada, clock) -> None:
    conn = fadada()
    responses.post(f"{UAT}/service/get-access-token", json=fixture_json("access_token.json"))
    conn.access_token()
    clock.advance(7200 - 299)  # inside the 300 s margin
    conn.access_token()
    assert len(responses.calls) == 2


@responses.activate
def test_status_survives_a_429(fadada) -> None:
    conn = fadada()
    responses.post(f"{UAT}/service/get-access-token", json=fixture_json("access_token.json"))
    detail = f"{UAT}/sign-task/app/get-detail"
    responses.post(detail, status=429, headers={"Retry-After": "0"},
                   json={"code": "100015", "msg": "请求过于频繁"})
    responses.post(detail, json=fixture_json("sign_task_detail_finished.json"))

    envelope = conn.signature_status(TASK)

    assert envelope.status is EnvelopeStatus.COMPLETED and envelope.completed_at is not None
    [signer] = envelope.signers
    assert (signer.name, signer.email, signer.role) == ("张三", "13800138000", "employee")
    assert signer.signed_at is not None
    attempts = [c.request for c in responses.calls if c.request.url == detail]
    assert attempts[0].headers["X-FASC-Nonce"] != attempts[1].headers["X-FASC-Nonce"]


@responses.activate
def test_a_refusal_reads_as_declined(fadada) -> None:
    conn = fadada()
    responses.post(f"{UAT}/service/get-access-token", json=fixture_json("access_token.json"))
    responses.post(f"{UAT}/sign-task/app/get-detail",
                   json=fixture_json("sign_task_detail_rejected.json"))
    assert conn.signature_status(TASK).status is EnvelopeStatus.DECLINED


@responses.activate
def test_a_5xx_on_create_is_not_retried(fadada) -> None:
    conn = fadada()
    _fake_send(responses.mock)
    responses.replace(responses.POST, f"{UAT}/sign-task/create", status=503,
                      headers={"X-FASC-Request-Id": "f3c1a9"}, body="Service Unavailable")

    with pytest.raises(ServerError) as caught:
        conn.send_for_signature(AGREEMENT, PDF, [EMPLOYEE])

    assert caught.value.request_id == "f3c1a9"
    assert sum(c.request.url.endswith("/sign-task/create") for c in responses.calls) == 1


@responses.activate
def test_refused_credentials_name_what_to_check(fadada) -> None:
    conn = fadada()
    responses.post(f"{UAT}/service/get-access-token",
                   json={"msg": "未获取有效的平台信息", "code": "100001", "data": None,
                         "success": False})

    with pytest.raises(AuthError) as caught:
        conn.access_token()

    assert "app_secret" in caught.value.hint and APP_SECRET not in str(caught.value)
    assert not conn.healthcheck().ok


@responses.activate
def test_download_unzips_the_signed_pdf(fadada) -> None:
    conn = fadada()
    responses.post(f"{UAT}/service/get-access-token", json=fixture_json("access_token.json"))
    responses.post(f"{UAT}/sign-task/app/get-detail",
                   json=fixture_json("sign_task_detail_finished.json"))
    responses.post(f"{UAT}/sign-task/owner/get-download-url",
                   json=fixture_json("owner_download_url.json"))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("培训服务协议/training-agreement.pdf", SIGNED_PDF)
    responses.get(fixture_json("owner_download_url.json")["data"]["downloadUrl"],
                  body=archive.getvalue(), content_type="application/zip")

    signed = conn.download_signed(TASK)

    assert signed.content == SIGNED_PDF
    assert _biz(responses.calls[2].request) == {
        "ownerId": {"idType": "corp", "openId": OPEN_CORP_ID}, "signTaskId": TASK}


@responses.activate
def test_download_of_an_unfinished_task_is_refused(fadada) -> None:
    conn = fadada()
    responses.post(f"{UAT}/service/get-access-token", json=fixture_json("access_token.json"))
    responses.post(f"{UAT}/sign-task/app/get-detail",
                   json=fixture_json("sign_task_detail_progress.json"))
    with pytest.raises(Exception, match="not completed"):
        conn.download_signed(TASK)


def _callback(event: str, biz: dict, *, timestamp: int = NOW_MS - 2000,
              secret: str = APP_SECRET,
              nonce: str = "7c1e0d9b2a3f4e5d6c7b8a9f0e1d2c3b") -> tuple[dict[str, str], bytes]:
    biz_content = json.dumps(biz, ensure_ascii=False, separators=(",", ":"))
    headers = {"X-FASC-App-Id": APP_ID, "X-FASC-Sign-Type": "HMAC-SHA256",
               "X-FASC-Timestamp": str(timestamp), "X-FASC-Nonce": nonce,
               "X-FASC-Event": event}
    headers["X-FASC-Sign"] = fasc_sign({**headers, "bizContent": biz_content}, str(timestamp),
                                       secret)
    return headers, urlencode({"bizContent": biz_content}).encode()


FINISHED = {"eventTime": "1700000635000", "signTaskId": TASK, "signTaskStatus": "task_finished"}


def test_a_finished_callback_becomes_a_completed_event(fadada) -> None:
    headers, body = _callback("sign-task-finished", FINISHED)

    result = fadada().verify_webhook(headers, body)

    [event] = result.events
    assert (event.envelope_id, event.status, event.event_type) == (
        TASK, EnvelopeStatus.COMPLETED, "sign-task-finished")
    assert json.loads(result.reply.body) == {"msg": "success"} and result.reply.status_code == 200


def test_a_redelivered_event_with_a_new_nonce_keeps_its_id(fadada) -> None:
    """法大大 redelivers with a new nonce and timestamp: the event id must not change (a replay)."""
    no_time = {"signTaskId": TASK, "signTaskStatus": "task_finished", "actorId": "employee-1"}
    first = fadada().verify_webhook(*_callback("sign-task-finished", no_time)).events[0]
    again = fadada().verify_webhook(*_callback("sign-task-finished", no_time, timestamp=NOW_MS - 1000,
                                               nonce="0f9e8d7c6b5a49382716150413121110")).events[0]
    assert first.event_id == again.event_id


def test_a_refusal_callback_becomes_a_declined_event(fadada) -> None:
    headers, body = _callback("sign-task-sign-rejected", {
        "eventTime": "1700000635000", "signTaskId": TASK, "signTaskStatus": "task_terminated",
        "actorId": "employee-1"})
    [event] = fadada().verify_webhook(headers, body).events
    assert event.status is EnvelopeStatus.DECLINED


@pytest.mark.parametrize("forge", ["other secret", "changed body", "stale", "other app"])
def test_forged_callbacks_are_rejected(fadada, forge: str) -> None:
    headers, body = _callback("sign-task-finished", FINISHED)
    if forge == "other secret":
        headers, body = _callback("sign-task-finished", FINISHED, secret="guessed")
    elif forge == "changed body":
        _, body = _callback("sign-task-finished", {**FINISHED, "signTaskId": "1"})
    elif forge == "stale":
        headers, body = _callback("sign-task-finished", FINISHED, timestamp=NOW_MS - 600_000)
    else:
        headers["X-FASC-App-Id"] = "80009999"

    with pytest.raises(WebhookRejected):
        fadada().verify_webhook(headers, body)


@responses.activate
def test_the_connector_keeps_the_hook_contract(tb_instance) -> None:
    responses.post(f"{UAT}/service/get-access-token", json=fixture_json("access_token.json"))
    conn = tb_instance("fadada", {"app_id": APP_ID, "app_secret": APP_SECRET, "base_url": UAT,
                                  "open_corp_id": OPEN_CORP_ID})
    assert isinstance(conn, FadadaConnector)
    assert set(check_connector(conn, exercise=True)) == {
        "fetch_agreements", "send_for_signature", "signature_status", "download_signed", "verify_webhook",
        "healthcheck"}
