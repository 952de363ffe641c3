"""Depositing a signed agreement's SHA-256 with e签宝 scene-based evidence (场景式存证).

Request and answer shapes follow open.esign.cn/doc/opendoc/evidence (voucher, abstract
and original-adv segments, append, antPushInfo) and the official Java demo's
SceneHelper; the X-timevale-signature is the hex HMAC-SHA256 of the exact body with the
project secret (请求签名值计算方法, svs9o6). The docs publish no secret with a
signature, so the signature check is our own vector computed with hmac here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest
import responses

from trainbridge.connectors.esign_cn.evidence import body_signature
from trainbridge.core.errors import ClientError, ConnectorError
from trainbridge.testing import check_connector

from .conftest import fixture_json

HOST = "https://smlcunzheng.tsign.cn:9443/evi-service/evidence/v1"
SECRET = "95439b0863c241c63a861b87d1e647b7"
SIGNED_PDF = b"%PDF-1.7\n% signed by Zhang San\n%%EOF\n"
DIGEST = hashlib.sha256(SIGNED_PDF).hexdigest()
DEPOSITED = datetime(2023, 11, 14, 22, 30, tzinfo=UTC)


def _fake_deposit(rsps: responses.RequestsMock) -> None:
    rsps.post(f"{HOST}/sp/scene/voucher", json=fixture_json("evidence_voucher.json"))
    rsps.post(f"{HOST}/sp/segment/abstract/url", json=fixture_json("evidence_abstract_point.json"))
    rsps.post(f"{HOST}/sp/scene/append", json=fixture_json("evidence_append.json"))


def test_the_body_signature_is_hex_hmac_sha256_of_the_body() -> None:
    body = b'{"sceneName":"test","sceneTemplateId":"64b9c14c","linkIds":[]}'
    assert body_signature(SECRET, body) == hmac.new(SECRET.encode(), body,
                                                    hashlib.sha256).hexdigest()
    assert body_signature(SECRET, body) == \
        "16b8cc31396f4e1d025990f11a7c3591c8a34c3e5148d6689d7da8080b1bebb7"  # openssl dgst


@responses.activate
def test_a_deposit_opens_a_voucher_per_agreement_and_anchors_the_digest(evidence, clock) -> None:
    conn = evidence(segment_fields={"agreementNo": "agreement_id", "signerName": "employee_name"})
    clock.current = DEPOSITED
    _fake_deposit(responses.mock)

    receipt = conn.deposit_evidence(DIGEST, {"agreement_id": "hr:agr-1001",
                                             "employee_name": "张三"})

    assert receipt.receipt_id == "C1294160726256074755"
    assert (receipt.id, receipt.agreement_id, receipt.digest) == (
        "evidence:hr:agr-1001", "hr:agr-1001", DIGEST)
    assert receipt.provider == "esign_cn_evidence" and receipt.deposited_at == DEPOSITED
    voucher, point, append = (c.request for c in responses.calls)
    assert json.loads(voucher.body) == {
        "sceneName": "培训服务协议 hr:agr-1001",
        "sceneTemplateId": "64b9c14c-a7fd-4141-93b6-d62a238b8fb2", "linkIds": []}
    assert json.loads(point.body) == {
        "segmentTempletId": "fbdd2d5c-4c43-4d33-9c8f-b3b87a1c2e3d",
        "segmentData": '{"agreementNo":"hr:agr-1001","signerName":"张三"}',
        "content": {"contentDescription": "hr:agr-1001.pdf", "contentDigest": DIGEST}}
    assert json.loads(append.body) == {
        "evid": "C1294160726256074755",
        "linkIds": [{"type": "0", "value": "H1294160726314795011"}]}
    for request in (voucher, point, append):
        assert request.headers["X-timevale-project-id"] == "1111563517"
        assert request.headers["X-timevale-signature-algorithm"] == "HmacSHA256"
        assert request.headers["X-timevale-mode"] == "package"
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["X-timevale-signature"] == hmac.new(
            SECRET.encode(), request.body, hashlib.sha256).hexdigest()


@responses.activate
def test_the_full_file_is_uploaded_only_when_configured(evidence, tmp_path) -> None:
    conn = evidence(upload_original=True)
    (tmp_path / "signed.pdf").write_bytes(SIGNED_PDF)
    point = fixture_json("evidence_original_point.json")
    responses.post(f"{HOST}/sp/scene/voucher", json=fixture_json("evidence_voucher.json"))
    responses.post(f"{HOST}/sp/segment/original-adv/url", json=point)
    responses.put(point["url"], status=200)
    responses.post(f"{HOST}/sp/scene/append", json=fixture_json("evidence_append.json"))

    conn.deposit_evidence(DIGEST, {"agreement_id": "hr:agr-1001", "document_path": "signed.pdf",
                                   "file_name": "培训服务协议-张三.pdf"})

    _, segment, put, append = (c.request for c in responses.calls)
    md5 = base64.b64encode(hashlib.md5(SIGNED_PDF).digest()).decode()
    assert json.loads(segment.body)["content"] == {
        "contentDescription": "培训服务协议-张三.pdf", "contentLength": str(len(SIGNED_PDF)),
        "contentBase64Md5": md5}
    assert put.body == SIGNED_PDF and put.headers["Content-MD5"] == md5
    assert "X-timevale-signature" not in put.headers
    assert json.loads(append.body)["linkIds"] == [{"type": "0", "value": "P1294160726314795011"}]


def test_a_file_that_is_not_the_deposited_document_is_refused(evidence, tmp_path) -> None:
    (tmp_path / "other.pdf").write_bytes(b"%PDF-1.7 another document")
    with pytest.raises(ConnectorError, match="does not match"), responses.RequestsMock():
        evidence(upload_original=True).deposit_evidence(  # and no voucher is opened
            DIGEST, {"agreement_id": "hr:agr-1001", "document_path": "other.pdf"})


@responses.activate
def test_a_vendor_error_code_names_the_settings_to_check(evidence) -> None:
    responses.post(f"{HOST}/sp/scene/voucher",
                   json={"errCode": 1001, "msg": "业务凭证模板不存在", "success": False})

    with pytest.raises(ClientError) as caught:
        evidence().deposit_evidence(DIGEST, {"agreement_id": "hr:agr-1001"})

    assert "scene_template_id" in caught.value.hint and "1001" in str(caught.value)


@responses.activate
def test_a_5xx_on_the_voucher_is_not_retried(evidence) -> None:
    responses.post(f"{HOST}/sp/scene/voucher", status=503, body="busy")

    with pytest.raises(ConnectorError):
        evidence().deposit_evidence(DIGEST, {"agreement_id": "hr:agr-1001"})

    assert len(responses.calls) == 1


@responses.activate
def test_verify_finds_the_digest_on_the_chain(evidence, clock) -> None:
    conn = evidence()
    clock.current = DEPOSITED
    _fake_deposit(responses.mock)
    receipt = conn.deposit_evidence(DIGEST, {"agreement_id": "hr:agr-1001"})
    pushed = fixture_json("evidence_ant_push_info.json")
    pushed["antPushList"][0]["docHash"] = DIGEST
    responses.post(f"{HOST}/blockchain/antPushInfo", status=429, headers={"Retry-After": "0"},
                   json={"errCode": 429, "msg": "too many requests"})
    responses.post(f"{HOST}/blockchain/antPushInfo", json=pushed)

    check = conn.verify_evidence(receipt, DIGEST)

    assert check.valid and "b1946ac9" in check.reason
    assert json.loads(responses.calls[-1].request.body) == {"eid": "C1294160726256074755"}
    assert not conn.verify_evidence(receipt, hashlib.sha256(b"tampered").hexdigest()).valid


@responses.activate
def test_verify_before_the_chain_push_is_not_valid_yet(evidence) -> None:
    conn = evidence()
    _fake_deposit(responses.mock)
    receipt = conn.deposit_evidence(DIGEST, {"agreement_id": "hr:agr-1001"})
    responses.post(f"{HOST}/blockchain/antPushInfo",
                   json={"errCode": 0, "msg": "成功", "success": True, "antPushList": []})

    check = conn.verify_evidence(receipt, DIGEST)

    assert not check.valid and "not on the blockchain yet" in check.reason


@responses.activate
def test_the_connector_keeps_the_hook_contract(tb_instance) -> None:
    responses.post(f"{HOST}/blockchain/antPushInfo",
                   json={"errCode": 0, "msg": "成功", "success": True, "antPushList": []})
    conn = tb_instance("esign_cn_evidence", {
        "project_id": "1111563517", "project_secret": SECRET,
        "base_url": "https://smlcunzheng.tsign.cn:9443", "scene_template_id": "s1",
        "segment_template_id": "g1"})
    assert set(check_connector(conn, exercise=True)) == {
        "deposit_evidence", "verify_evidence", "healthcheck"}
    assert conn.healthcheck().ok
