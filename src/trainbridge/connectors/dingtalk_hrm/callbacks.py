"""A DingTalk event subscription callback, opened the same way by ``dingtalk_hrm`` and ``dingtalk_approval``.

DingTalk puts ``msg_signature``, ``timestamp`` and ``nonce`` in the callback URL's query string
and posts ``{"encrypt": ...}``: the signature is checked over the token, timestamp, nonce and
ciphertext (:mod:`.crypto`), the timestamp (milliseconds) against the replay window, and the
decrypted event must be a JSON object. The answer is the encrypted ``success`` DingTalk expects.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs

from pydantic import SecretStr

from trainbridge.connectors.dingtalk_hrm.crypto import CallbackCrypto, CallbackCryptoError
from trainbridge.core.errors import WebhookRejected
from trainbridge.core.records import WebhookReply
from trainbridge.sdk.webhooks import check_replay

#: DingTalk puts msg_signature, timestamp and nonce in the callback URL's query string;
#: the webhook receiver hands them over as headers, or the raw query string in this one.
QUERY_HEADER = "x-trainbridge-query"


class CallbackKeys(Protocol):
    """The config of a DingTalk app's event subscription."""

    app_key: str
    callback_token: SecretStr | None
    callback_aes_key: SecretStr | None
    callback_owner_key: str | None
    webhook_max_age_seconds: int


@dataclass(frozen=True)
class OpenedCallback:
    """A verified, decrypted callback: the event, and the reply DingTalk must get."""

    event: dict[str, Any]
    encrypt: str
    timestamp: str
    reply: WebhookReply

    @property
    def event_type(self) -> str:
        return str(self.event.get("EventType") or "")

    @property
    def event_id(self) -> str:
        """DingTalk's ``eventId``, else the ciphertext's digest (the same on a redelivery)."""
        return str(self.event.get("eventId") or hashlib.sha256(self.encrypt.encode()).hexdigest()[:32])


def open_callback(headers: Mapping[str, str], body: bytes, keys: CallbackKeys, *, instance: str,
                  now: float) -> OpenedCallback:
    """Verify and decrypt one callback; anything wrong is a ``WebhookRejected`` saying what."""
    crypto = _crypto(keys, instance)
    params = callback_params(headers)
    signature = params.get("msg_signature") or params.get("signature")
    timestamp = params.get("timestamp") or params.get("timeStamp")
    nonce = params.get("nonce")
    if not (signature and timestamp and nonce):
        raise WebhookRejected("msg_signature, timestamp or nonce is missing from the callback",
                              hint=f"the receiver must pass the callback URL's query string "
                                   f"(as headers or in {QUERY_HEADER})")
    try:
        envelope = json.loads(body)
        encrypt = str(envelope["encrypt"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise WebhookRejected("the body is not {\"encrypt\": ...}") from None
    hint = f"check callback_token, callback_aes_key and callback_owner_key of [connectors.{instance}]"
    try:
        crypto.verify(signature, timestamp, nonce, encrypt)
    except CallbackCryptoError as exc:
        raise WebhookRejected(f"callback refused: {exc}", hint=hint) from None
    try:
        sent = float(timestamp)
    except ValueError:
        raise WebhookRejected("the callback timestamp is not a number") from None
    sent = sent / 1000 if sent > 1e11 else sent  # DingTalk sends milliseconds
    check_replay(sent, now, keys.webhook_max_age_seconds, instance=instance)
    try:
        event = json.loads(crypto.decrypt(encrypt))
    except CallbackCryptoError as exc:
        raise WebhookRejected(f"callback refused: {exc}", hint=hint) from None
    except ValueError:
        raise WebhookRejected("the decrypted callback is not JSON", hint=hint) from None
    if not isinstance(event, dict):
        raise WebhookRejected("the decrypted callback is not a JSON object", hint=hint)
    reply = crypto.encrypted_reply("success", int(now * 1000))
    return OpenedCallback(event=event, encrypt=encrypt, timestamp=timestamp,
                          reply=WebhookReply(body=json.dumps(reply), content_type="application/json"))


def callback_params(headers: Mapping[str, str]) -> dict[str, str]:
    """msg_signature / timestamp / nonce from the headers, or from the raw query string."""
    lower = {k.lower(): v for k, v in headers.items()}
    found: dict[str, str] = {}
    raw = lower.get(QUERY_HEADER)
    if raw:
        found.update({k: v[0] for k, v in parse_qs(raw.lstrip("?")).items() if v})
    for name in ("msg_signature", "signature", "timestamp", "timeStamp", "nonce"):
        if name.lower() in lower:
            found[name] = lower[name.lower()]
    return found


def _crypto(keys: CallbackKeys, instance: str) -> CallbackCrypto:
    if not (keys.callback_token and keys.callback_aes_key):
        raise WebhookRejected("no callback_token/callback_aes_key is configured",
                              hint=f"copy Token and aes_key from the app's event subscription "
                                   f"page into [connectors.{instance}]")
    try:
        return CallbackCrypto(keys.callback_token.get_secret_value(),
                              keys.callback_aes_key.get_secret_value(),
                              keys.callback_owner_key or keys.app_key)
    except CallbackCryptoError as exc:
        raise WebhookRejected(f"callback_aes_key is unusable: {exc}") from None
