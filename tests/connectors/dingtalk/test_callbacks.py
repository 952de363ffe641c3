"""DingTalk callback crypto and ``verify_webhook``.

``test_the_published_vector_*`` use the vector printed by ``DingCallbackCrypto3.py`` in
open-dingtalk/DingTalk-Callback-Crypto (token ``mryue``); the others use vectors we make here
with our own keys (encrypt, then decrypt; tampering must be refused).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
import responses

from trainbridge.connectors.dingtalk_hrm import DingTalkHrm
from trainbridge.connectors.dingtalk_hrm.connector import QUERY_HEADER
from trainbridge.connectors.dingtalk_hrm.crypto import (
    CallbackCrypto,
    CallbackCryptoError,
    new_encoding_aes_key,
)
from trainbridge.core.errors import WebhookRejected
from trainbridge.core.records import SeparationReason
from trainbridge.testing import Clock

from .conftest import INFOS_URL, NOW, payload

PUBLISHED = {
    "token": "mryue", "aes_key": "Yue0EfdN5900c1ce5cf6A152c63DDe1808a60c5ecd7",
    "owner": "ding6ccabc44d2c8d38b", "signature": "03044561471240d4a14bb09372dfcfd4fd0e40cb",
    "timestamp": "1608001896814", "nonce": "WL4PK6yA",
    "encrypt": "0vJiX6vliEpwG3U45CtXqi+m8PXbQRARJ8p8BbDuD1EMTDf0jKpQ79QS93qEk7XHpP6u+oTTrd15NRPvNvm"
               "BKyDCYxxOK+HZeKju4yhELOFchzNukR+t8SB/qk4ROMu3",
}
OURS = CallbackCrypto("callback-token-abc", "Yue0EfdN5900c1ce5cf6A152c63DDe1808a60c5ecd7",
                      "dingxyz0123456789")


def test_the_published_vector_verifies_and_decrypts():
    crypto = CallbackCrypto(PUBLISHED["token"], PUBLISHED["aes_key"], PUBLISHED["owner"])
    crypto.verify(PUBLISHED["signature"], PUBLISHED["timestamp"], PUBLISHED["nonce"],
                  PUBLISHED["encrypt"])
    assert crypto.decrypt(PUBLISHED["encrypt"]) == '{"EventType":"check_url"}'


def test_the_published_vector_through_verify_webhook(make_connector, clock: Clock):
    conn = make_connector(callback_token=PUBLISHED["token"], callback_aes_key=PUBLISHED["aes_key"],
                          callback_owner_key=PUBLISHED["owner"])
    clock.current = datetime.fromtimestamp(int(PUBLISHED["timestamp"]) / 1000, UTC)
    query = urlencode({"msg_signature": PUBLISHED["signature"],
                       "timestamp": PUBLISHED["timestamp"], "nonce": PUBLISHED["nonce"]})
    result = conn.verify_webhook(headers={"X-Trainbridge-Query": query},
                                 body=json.dumps({"encrypt": PUBLISHED["encrypt"]}).encode())
    assert result.events == ()
    reply = json.loads(result.reply.body)
    crypto = CallbackCrypto(PUBLISHED["token"], PUBLISHED["aes_key"], PUBLISHED["owner"])
    crypto.verify(reply["msg_signature"], reply["timeStamp"], reply["nonce"], reply["encrypt"])
    assert crypto.decrypt(reply["encrypt"]) == "success"


def test_our_vectors_round_trip_with_non_ascii_text():
    key = new_encoding_aes_key()
    crypto = CallbackCrypto("tok", key, "dingcorp")
    message = json.dumps({"EventType": "user_leave_org", "UserId": ["李娜"]}, ensure_ascii=False)
    assert crypto.decrypt(crypto.encrypt(message)) == message
    assert len(key) == 43


def test_a_reply_for_another_app_is_refused():
    sealed = CallbackCrypto("tok", PUBLISHED["aes_key"], "someone-else").encrypt("success")
    with pytest.raises(CallbackCryptoError, match="another corpId"):
        OURS.decrypt(sealed)


def test_a_tampered_ciphertext_is_refused_even_when_re_signed():
    sealed = base64.b64decode(OURS.encrypt('{"EventType":"user_leave_org"}'))
    tampered = base64.b64encode(sealed[:-1] + bytes([sealed[-1] ^ 1])).decode()
    with pytest.raises(CallbackCryptoError):
        OURS.decrypt(tampered)


def callback(event: dict, *, at_ms: int = int(NOW * 1000), nonce: str = "nonce123",
             crypto: CallbackCrypto = OURS) -> tuple[dict[str, str], bytes]:
    encrypt = crypto.encrypt(json.dumps(event, ensure_ascii=False))
    timestamp = str(at_ms)
    headers = {"msg_signature": crypto.signature(timestamp, nonce, encrypt),
               "timestamp": timestamp, "nonce": nonce}
    return headers, json.dumps({"encrypt": encrypt}).encode()


def test_check_url_is_answered_with_encrypted_success(dingtalk: DingTalkHrm):
    headers, body = callback({"EventType": "check_url"})
    result = dingtalk.verify_webhook(headers=headers, body=body)
    reply = json.loads(result.reply.body)
    assert set(reply) == {"msg_signature", "timeStamp", "nonce", "encrypt"}
    assert reply["timeStamp"] == str(int(NOW * 1000))
    OURS.verify(reply["msg_signature"], reply["timeStamp"], reply["nonce"], reply["encrypt"])
    assert OURS.decrypt(reply["encrypt"]) == "success"
    assert result.reply.content_type == "application/json"


def test_a_leaver_callback_brings_the_separation(dingtalk: DingTalkHrm, fake, token_ok):
    fake.add(responses.GET, INFOS_URL, json=payload("dimission_infos_page1"))
    event = {"CorpId": "ding20a11d1a2c3b4d5e", "EventType": "user_leave_org",
             "UserId": ["user001"], "OptStaffId": "manager4220", "TimeStamp": "1750000000000",
             "eventId": "83546b5349fc46a29faa00e4e2ca136e"}
    headers, body = callback(event)
    [received] = dingtalk.verify_webhook(headers=headers, body=body).events
    assert received.event_id == "83546b5349fc46a29faa00e4e2ca136e"
    assert received.event_type == "user_leave_org"
    leaver = next(r for r in received.records if r.employee_id == "user001")
    assert leaver.reason is SeparationReason.RESIGNATION


def test_other_events_are_acknowledged_without_records(dingtalk: DingTalkHrm, fake):
    headers, body = callback({"EventType": "org_dept_create", "DeptId": [600582447],
                              "TimeStamp": "1750000000000"})
    [received] = dingtalk.verify_webhook(headers=headers, body=body).events
    assert received.records == () and len(fake.calls) == 0


def test_a_forged_signature_is_refused(dingtalk: DingTalkHrm):
    headers, body = callback({"EventType": "check_url"})
    headers["msg_signature"] = "0" * 40
    with pytest.raises(WebhookRejected, match="msg_signature"):
        dingtalk.verify_webhook(headers=headers, body=body)


def test_a_callback_signed_with_another_token_is_refused(dingtalk: DingTalkHrm):
    other = CallbackCrypto("not-our-token", "Yue0EfdN5900c1ce5cf6A152c63DDe1808a60c5ecd7",
                           "dingxyz0123456789")
    headers, body = callback({"EventType": "check_url"}, crypto=other)
    with pytest.raises(WebhookRejected):
        dingtalk.verify_webhook(headers=headers, body=body)


def test_an_old_callback_is_refused(dingtalk: DingTalkHrm):
    headers, body = callback({"EventType": "check_url"}, at_ms=int((NOW - 301) * 1000))
    with pytest.raises(WebhookRejected, match="replay window"):
        dingtalk.verify_webhook(headers=headers, body=body)


def test_the_replay_window_runs_on_the_contexts_clock(dingtalk: DingTalkHrm, clock: Clock):
    headers, body = callback({"EventType": "check_url"})
    clock.advance(300)
    dingtalk.verify_webhook(headers=headers, body=body)
    clock.advance(1)
    with pytest.raises(WebhookRejected, match="replay window") as err:
        dingtalk.verify_webhook(headers=headers, body=body)
    assert "webhook_max_age_seconds of [connectors.dingtalk_hr]" in err.value.hint


def test_replay_window_seconds_is_still_read_as_the_deprecated_name(make_connector, clock: Clock):
    conn = make_connector(replay_window_seconds=30)
    headers, body = callback({"EventType": "check_url"})
    clock.advance(31)
    with pytest.raises(WebhookRejected, match="replay window"):
        conn.verify_webhook(headers=headers, body=body)


def test_missing_query_parameters_are_refused(dingtalk: DingTalkHrm):
    _, body = callback({"EventType": "check_url"})
    with pytest.raises(WebhookRejected, match="missing"):
        dingtalk.verify_webhook(headers={}, body=body)


def test_the_raw_query_string_header_works_too(dingtalk: DingTalkHrm):
    headers, body = callback({"EventType": "check_url"})
    result = dingtalk.verify_webhook(headers={QUERY_HEADER: "?" + urlencode(headers)}, body=body)
    assert json.loads(result.reply.body)["encrypt"]


def test_without_callback_keys_nothing_is_accepted(make_connector):
    conn = make_connector(callback_token=None, callback_aes_key=None)
    headers, body = callback({"EventType": "check_url"})
    with pytest.raises(WebhookRejected, match="callback_token"):
        conn.verify_webhook(headers=headers, body=body)


def test_a_body_without_encrypt_is_refused(dingtalk: DingTalkHrm):
    headers, _ = callback({"EventType": "check_url"})
    with pytest.raises(WebhookRejected):
        dingtalk.verify_webhook(headers=headers, body=b'{"EventType":"check_url"}')
