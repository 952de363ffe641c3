"""Feishu event subscription: URL verification, decryption, signature, offboarding events.

``test_decrypts_the_published_vector`` uses the vector of Feishu's "接收事件" doc page
(key ``test key`` -> ``hello world``); every other vector is built here with our own keys.
"""

from __future__ import annotations

import json
import os

import pytest
import responses

from trainbridge.connectors.feishu import FeishuPeople
from trainbridge.connectors.feishu.crypto import (
    EventCryptoError,
    decrypt_event,
    encrypt_event,
    signature,
)
from trainbridge.core.errors import WebhookRejected
from trainbridge.core.records import SeparationReason
from trainbridge.testing import Clock

from .conftest import NOW, OFFBOARDINGS_URL, REASONS_URL, payload

KEY = "encrypt-key-xyz"
TOKEN = "verify-token-abc"


def test_decrypts_the_published_vector():
    assert decrypt_event("test key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=") == b"hello world"
    with pytest.raises(EventCryptoError):
        decrypt_event("other key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=")


def test_our_own_vector_round_trips():
    iv = bytes(range(16))
    sealed = encrypt_event(KEY, "离职 event".encode(), iv)
    assert decrypt_event(KEY, sealed) == "离职 event".encode()


def sealed_body(plain: dict) -> bytes:
    encrypted = encrypt_event(KEY, json.dumps(plain).encode(), os.urandom(16))
    return json.dumps({"encrypt": encrypted}).encode()


def signed(body: bytes, *, at: float = NOW, nonce: str = "13a2b4c5") -> dict[str, str]:
    timestamp = str(int(at))
    return {"X-Lark-Request-Timestamp": timestamp, "X-Lark-Request-Nonce": nonce,
            "X-Lark-Signature": signature(timestamp, nonce, KEY, body),
            "Content-Type": "application/json"}


def offboarding_event(status: int = 3, token: str = TOKEN) -> dict:
    # corehr-v2/offboarding/events/status_updated (离职申请状态变更（新）)
    return {
        "schema": "2.0",
        "header": {"event_id": "5e3702a84e847582be8db7fb73283c02", "token": token,
                   "create_time": "1750000000000",
                   "event_type": "corehr.offboarding.status_updated_v2",
                   "tenant_key": "2ca1d211f64f6438", "app_id": "cli_a1b2c3d4e5f6"},
        "event": {"employment_id": "6893014062142064137",
                  "target_user_id": {"union_id": "on_8ed6aa67826108097d9ee143816345",
                                     "user_id": "e33ggbyz", "open_id": "ou_84aad35d084aa403a838cf73ee18467"},
                  "offboarding_id": "7298499290417251879", "process_id": "7298499290417250001",
                  "status": status},
    }


def test_url_verification_in_plaintext_echoes_the_challenge(make_connector):
    conn = make_connector(encrypt_key=None)
    body = json.dumps({"challenge": "ajls384kdjx98XX", "token": TOKEN,
                       "type": "url_verification"}).encode()
    result = conn.verify_webhook(headers={}, body=body)
    assert json.loads(result.reply.body) == {"challenge": "ajls384kdjx98XX"}
    assert result.reply.content_type == "application/json" and result.events == ()


def test_encrypted_url_verification_echoes_the_challenge(feishu: FeishuPeople):
    body = sealed_body({"challenge": "ajls384kdjx98XX", "token": TOKEN, "type": "url_verification"})
    result = feishu.verify_webhook(headers={}, body=body)
    assert json.loads(result.reply.body) == {"challenge": "ajls384kdjx98XX"}


def test_url_verification_with_a_foreign_token_is_refused(make_connector):
    conn = make_connector(encrypt_key=None)
    body = json.dumps({"challenge": "x", "token": "someone-else", "type": "url_verification"}).encode()
    with pytest.raises(WebhookRejected, match="Verification Token"):
        conn.verify_webhook(headers={}, body=body)


def test_an_offboarding_event_brings_the_separation(feishu: FeishuPeople, fake, token_ok):
    fake.add(responses.POST, OFFBOARDINGS_URL, json=payload("offboardings"))
    fake.add(responses.POST, REASONS_URL, json=payload("offboarding_reasons"))
    body = sealed_body(offboarding_event())
    result = feishu.verify_webhook(headers=signed(body), body=body)
    [event] = result.events
    assert event.event_id == "5e3702a84e847582be8db7fb73283c02"
    assert event.event_type == "corehr.offboarding.status_updated_v2"
    assert event.occurred_at is not None and event.occurred_at.timestamp() == 1_750_000_000
    [leaver] = event.records
    assert leaver.id == "feishu_hr:7298499290417251879"
    assert leaver.reason is SeparationReason.RESIGNATION
    lookup = next(c for c in fake.calls if c.request.url.startswith(OFFBOARDINGS_URL))
    assert json.loads(lookup.request.body)["employment_ids"] == ["6893014062142064137"]
    assert json.loads(result.reply.body) == {"msg": "success"}


def test_a_withdrawn_offboarding_carries_no_separation(feishu: FeishuPeople, fake):
    body = sealed_body(offboarding_event(status=5))
    [event] = feishu.verify_webhook(headers=signed(body), body=body).events
    assert event.records == ()
    assert len(fake.calls) == 0


def test_a_forged_signature_is_refused(feishu: FeishuPeople):
    body = sealed_body(offboarding_event())
    headers = signed(body) | {"X-Lark-Signature": "0" * 64}
    with pytest.raises(WebhookRejected, match="X-Lark-Signature"):
        feishu.verify_webhook(headers=headers, body=body)


def test_a_body_changed_after_signing_is_refused(feishu: FeishuPeople):
    body = sealed_body(offboarding_event())
    headers = signed(body)
    other = sealed_body(offboarding_event(status=2))
    with pytest.raises(WebhookRejected):
        feishu.verify_webhook(headers=headers, body=other)


def test_an_old_event_outside_the_replay_window_is_refused(feishu: FeishuPeople):
    body = sealed_body(offboarding_event())
    with pytest.raises(WebhookRejected, match="replay window"):
        feishu.verify_webhook(headers=signed(body, at=NOW - 301), body=body)


def other_event() -> dict:
    """An event the connector takes no records from (so no API call follows)."""
    event = offboarding_event()
    event["header"]["event_type"] = "contact.user.created_v3"
    return event


def test_the_replay_window_runs_on_the_contexts_clock(feishu: FeishuPeople, clock: Clock):
    body = sealed_body(other_event())
    headers = signed(body)
    clock.advance(300)
    feishu.verify_webhook(headers=headers, body=body)
    clock.advance(1)
    with pytest.raises(WebhookRejected, match="replay window") as err:
        feishu.verify_webhook(headers=headers, body=body)
    assert "webhook_max_age_seconds of [connectors.feishu_hr] is 300" in err.value.hint


def test_replay_window_seconds_is_still_read_as_the_deprecated_name(make_connector, clock: Clock):
    feishu = make_connector(replay_window_seconds=60)
    assert feishu.config.webhook_max_age_seconds == 60
    body = sealed_body(other_event())
    headers = signed(body)
    clock.advance(61)
    with pytest.raises(WebhookRejected, match="replay window"):
        feishu.verify_webhook(headers=headers, body=body)


def test_missing_signature_headers_are_refused(feishu: FeishuPeople):
    body = sealed_body(offboarding_event())
    with pytest.raises(WebhookRejected, match="missing"):
        feishu.verify_webhook(headers={}, body=body)


def test_a_payload_sealed_with_another_key_is_refused(feishu: FeishuPeople):
    encrypted = encrypt_event("not-our-key", json.dumps(offboarding_event()).encode(), os.urandom(16))
    body = json.dumps({"encrypt": encrypted}).encode()
    with pytest.raises(WebhookRejected):
        feishu.verify_webhook(headers=signed(body), body=body)


def test_a_truncated_ciphertext_is_refused(feishu: FeishuPeople):
    sealed = json.loads(sealed_body(offboarding_event()))["encrypt"]
    body = json.dumps({"encrypt": sealed[:-8]}).encode()
    with pytest.raises(WebhookRejected, match="cannot be decrypted"):
        feishu.verify_webhook(headers=signed(body), body=body)


def test_a_plaintext_event_is_refused_when_an_encrypt_key_is_set(feishu: FeishuPeople):
    body = json.dumps(offboarding_event()).encode()
    with pytest.raises(WebhookRejected, match="plaintext"):
        feishu.verify_webhook(headers=signed(body), body=body)


def test_a_signed_event_with_a_foreign_token_is_refused(feishu: FeishuPeople):
    body = sealed_body(offboarding_event(token="someone-else"))
    with pytest.raises(WebhookRejected, match="Verification Token"):
        feishu.verify_webhook(headers=signed(body), body=body)


def test_without_any_key_nothing_can_be_verified(make_connector):
    conn = make_connector(encrypt_key=None, verification_token=None)
    with pytest.raises(WebhookRejected, match="no encrypt_key or verification_token"):
        conn.verify_webhook(headers={}, body=b"{}")


def test_a_body_that_is_not_json_is_refused(feishu: FeishuPeople):
    with pytest.raises(WebhookRejected):
        feishu.verify_webhook(headers={}, body=b"<html>")
