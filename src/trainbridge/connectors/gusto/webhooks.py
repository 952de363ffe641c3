"""Gusto webhook callbacks: the subscription handshake and signed events.

docs.gusto.com/embedded-payroll/docs/webhooks: a new subscription's URL first receives
``{"verification_token": "..."}`` (unsigned); the operator confirms it with
``PUT /v1/webhook_subscriptions/{uuid}/verify`` (``.../request_verification_token`` sends it
again). Anyone can post such a body, so it changes nothing: no ledger row, no secret
registered; the token waits in the instance's memory (a few, short) for an admin to read it
once in the console. Every event then carries
``X-Gusto-Signature``: the lowercase hex HMAC-SHA256 of the raw body keyed by that token.
Gusto signs no timestamp header; the body's ``timestamp`` (signed with it) bounds replays.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from trainbridge.core.errors import WebhookRejected
from trainbridge.core.records import WebhookEvent, WebhookResult
from trainbridge.sdk.webhooks import check_replay

log = logging.getLogger("trainbridge.connectors.gusto")

SIGNATURE_HEADER = "X-Gusto-Signature"
VERIFICATION_EVENT = "webhook_subscription.verification_token"
#: Gusto's tokens are UUID-like; a longer "token" is not one of theirs.
MAX_TOKEN_CHARS = 128
#: docs.gusto.com/embedded-payroll/docs/payroll-events: the events that settle a delivered payroll.
#: ``processed`` does not: a submitted payroll can still be cancelled until its payroll deadline
#: (docs/payroll-statuses); ``paid`` is final. ``processing_failed`` can be fixed and submitted
#: again, so it settles nothing either.
PAYROLL_SETTLED: dict[str, tuple[Literal["confirmed", "failed"], str]] = {
    "paid": ("confirmed", "paid: Gusto generated the payroll's credits and payments will be made"),
    "cancelled": ("failed", "the payroll was cancelled in Gusto: nothing will be paid"),
    "reversed": ("failed", "the payroll's debits were reversed and the payroll cancelled in Gusto"),
    "partially_reversed": ("failed", "the payroll's debits were partially reversed in Gusto: "
                                     "check what was paid"),
    "deleted": ("failed", "the payroll was deleted in Gusto: nothing will be paid"),
}


@dataclass(frozen=True)
class WebhookKeys:
    instance: str
    company_id: str
    verification_token: str | None
    max_age_seconds: int | None


class HandshakeTokens:
    """Verification tokens posted to one instance's URL, newest last, until an admin takes them.

    Bounded (``keep`` tokens of at most :data:`MAX_TOKEN_CHARS`), so strangers posting bodies
    cannot grow it; a stranger's token only sits beside the real one, and Gusto refuses it
    when the operator tries to verify with it.
    """

    def __init__(self, keep: int = 3) -> None:
        self._tokens: deque[str] = deque(maxlen=keep)
        self._lock = threading.Lock()

    def add(self, token: str) -> None:
        with self._lock:
            if token in self._tokens:
                self._tokens.remove(token)
            self._tokens.append(token)

    def take(self) -> list[str]:
        """The waiting tokens, newest first; they are forgotten (shown once)."""
        with self._lock:
            tokens = list(reversed(self._tokens))
            self._tokens.clear()
        return tokens

    def __len__(self) -> int:
        return len(self._tokens)


def sign(token: str, body: bytes) -> str:
    return hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


def verify(keys: WebhookKeys, headers: Mapping[str, str], body: bytes, now: datetime,
           tokens: HandshakeTokens | None = None) -> WebhookResult:
    signature = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER.lower()), "")
    try:
        payload: Any = json.loads(body)
    except ValueError:
        payload = None
    if not signature and isinstance(payload, dict) and set(payload) == {"verification_token"} \
            and isinstance(payload["verification_token"], str):
        return _handshake(keys.instance, payload["verification_token"], tokens)
    hint = f"check webhook_verification_token of [connectors.{keys.instance}]"
    if not keys.verification_token:
        raise WebhookRejected("no webhook_verification_token is configured", hint=hint)
    if not signature:
        raise WebhookRejected(f"the callback has no {SIGNATURE_HEADER} header", hint=hint)
    expected = sign(keys.verification_token, body)
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
        raise WebhookRejected(f"{SIGNATURE_HEADER} does not match the body", hint=hint)
    if not isinstance(payload, dict) or not isinstance(payload.get("uuid"), str) \
            or not isinstance(payload.get("event_type"), str):
        raise WebhookRejected("a signed callback that is not a Gusto event", hint=hint)
    occurred = _occurred(keys, payload.get("timestamp"), now)
    if payload.get("resource_uuid") not in (None, keys.company_id):
        return WebhookResult()  # one subscription serves every company of the application
    return WebhookResult(events=(_event(payload, occurred),))


def _handshake(instance: str, token: str, tokens: HandshakeTokens | None) -> WebhookResult:
    # Unsigned: kept in memory for the operator only, never logged, never written to the ledger.
    if not token or len(token) > MAX_TOKEN_CHARS or not token.isprintable():
        raise WebhookRejected("a verification_token that is not one of Gusto's",
                              hint=f"Gusto tokens are at most {MAX_TOKEN_CHARS} printable characters")
    if tokens is not None:
        tokens.add(token)
    log.warning("a Gusto verification token arrived for %s: an admin reads it once in the console "
                "(Webhook tokens) and confirms it with Gusto", instance)
    return WebhookResult()


def _occurred(keys: WebhookKeys, timestamp: Any, now: datetime) -> datetime | None:
    if not isinstance(timestamp, int | float) or isinstance(timestamp, bool):
        return None
    occurred = datetime.fromtimestamp(timestamp, UTC)
    # Gusto retries a failed delivery for about a day with the original timestamp, so the
    # window is wide; it still stops an old captured event from being played again.
    check_replay(occurred, now, keys.max_age_seconds, instance=keys.instance)
    return occurred


def _event(payload: dict[str, Any], occurred: datetime | None) -> WebhookEvent:
    event_type: str = payload["event_type"]
    event = WebhookEvent(event_id=payload["uuid"], event_type=event_type, occurred_at=occurred,
                         detail=f"Gusto event {event_type}")
    if payload.get("entity_type") != "Payroll" or not isinstance(payload.get("entity_uuid"), str):
        return event
    # The ref matches the receipt of the off-cycle payroll we created for a bonus or a credit.
    ref = f"payroll:{payload['entity_uuid']}"
    settled = PAYROLL_SETTLED.get(event_type.rpartition(".")[2])
    if settled is None:
        return event.model_copy(update={"delivery_ref": ref})
    status, detail = settled
    return event.model_copy(update={"delivery_ref": ref, "delivery_status": status,
                                    "detail": f"{detail} ({event_type})"})
