"""Verify and open one Feishu event callback (the HTTP "send to developer server" mode).

Order as in the SDK's ``EventDispatcherHandler.do``: decrypt ``{"encrypt": ...}``, check
the Verification Token, answer ``url_verification`` with its challenge (Feishu does not
sign that request), otherwise check ``X-Lark-Signature`` over the raw body. We add a
replay window on ``X-Lark-Request-Timestamp`` (seconds) and refuse plaintext bodies when
an Encrypt Key is configured, since Feishu then always encrypts.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trainbridge.connectors.feishu.crypto import (
    EventCryptoError,
    decrypt_event,
    signature,
    signature_matches,
)
from trainbridge.core.errors import WebhookRejected
from trainbridge.sdk.webhooks import check_replay

TIMESTAMP = "x-lark-request-timestamp"
NONCE = "x-lark-request-nonce"
SIGNATURE = "x-lark-signature"
URL_VERIFICATION = "url_verification"


@dataclass(frozen=True)
class EventKeys:
    encrypt_key: str | None
    verification_token: str | None
    max_age: float
    instance: str


@dataclass(frozen=True)
class OpenedEvent:
    payload: dict[str, Any]
    url_verification: bool

    @property
    def event_type(self) -> str:
        if self.url_verification:
            return URL_VERIFICATION
        header = self.payload.get("header")
        if isinstance(header, dict) and header.get("event_type"):
            return str(header["event_type"])
        event = self.payload.get("event")
        return str(event.get("type", "")) if isinstance(event, dict) else ""

    @property
    def event_id(self) -> str:
        header = self.payload.get("header")
        if isinstance(header, dict) and header.get("event_id"):
            return str(header["event_id"])
        return str(self.payload.get("uuid") or "")

    @property
    def event(self) -> dict[str, Any]:
        event = self.payload.get("event")
        return event if isinstance(event, dict) else {}


def open_event(headers: Mapping[str, str], body: bytes, keys: EventKeys, now: float) -> OpenedEvent:
    """Return the verified, decrypted event; raise :class:`WebhookRejected` otherwise."""
    hint = f"check encrypt_key and verification_token of [connectors.{keys.instance}]"
    if not keys.encrypt_key and not keys.verification_token:
        raise WebhookRejected("no encrypt_key or verification_token is configured, so no "
                              "Feishu event can be verified", hint=hint)
    envelope = _object(body, "the body is not a JSON object")
    if "encrypt" in envelope:
        if not keys.encrypt_key:
            raise WebhookRejected("an encrypted event arrived but no encrypt_key is configured",
                                  hint=hint)
        try:
            plain = decrypt_event(keys.encrypt_key, str(envelope["encrypt"]))
        except EventCryptoError as exc:
            raise WebhookRejected(f"the event cannot be decrypted: {exc}", hint=hint) from None
        payload = _object(plain, "the decrypted event is not a JSON object (wrong Encrypt Key?)")
    elif keys.encrypt_key:
        raise WebhookRejected("a plaintext event arrived although an Encrypt Key is configured "
                              "(Feishu encrypts every event then)", hint=hint)
    else:
        payload = envelope
    opened = OpenedEvent(payload, payload.get("type") == URL_VERIFICATION)
    _check_token(opened, keys, hint)
    if not opened.url_verification and keys.encrypt_key:
        _check_signature(headers, body, keys, now, hint)
    return opened


def _check_token(opened: OpenedEvent, keys: EventKeys, hint: str) -> None:
    if not keys.verification_token:
        return
    header = opened.payload.get("header")
    token = header.get("token") if isinstance(header, dict) else opened.payload.get("token")
    if not hmac.compare_digest(str(token or "").encode(), keys.verification_token.encode()):
        raise WebhookRejected("the Verification Token does not match", hint=hint)


def _check_signature(headers: Mapping[str, str], body: bytes, keys: EventKeys, now: float,
                     hint: str) -> None:
    lower = {k.lower(): v for k, v in headers.items()}
    timestamp, nonce, received = lower.get(TIMESTAMP), lower.get(NONCE), lower.get(SIGNATURE)
    if not (timestamp and nonce and received):
        raise WebhookRejected("X-Lark-Signature, X-Lark-Request-Timestamp or "
                              "X-Lark-Request-Nonce is missing", hint=hint)
    assert keys.encrypt_key is not None
    if not signature_matches(signature(timestamp, nonce, keys.encrypt_key, body), received):
        raise WebhookRejected("X-Lark-Signature does not match the body", hint=hint)
    try:
        sent = float(timestamp)
    except ValueError:
        raise WebhookRejected("X-Lark-Request-Timestamp is not a number", hint=hint) from None
    check_replay(sent, now, keys.max_age, instance=keys.instance)


def _object(raw: bytes, problem: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise WebhookRejected(problem) from None
    if not isinstance(value, dict):
        raise WebhookRejected(problem)
    return value
