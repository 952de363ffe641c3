"""DocuSign Connect (webhooks, JSON SIM), verified by HMAC and the SDK's replay window.

``X-DocuSign-Signature-1`` (``-2``... one per active key) is base64(HMAC-SHA256(key, raw
body)); any configured key matching any header passes. ``generatedDateTime`` is checked with
``check_replay`` against ``webhook_max_age_seconds`` (0, the default: off).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from trainbridge import hookimpl
from trainbridge.connectors.docusign.config import EVENT_STATUS, DocusignConfig
from trainbridge.connectors.esign_agreements import when
from trainbridge.core.connector import ConnectorContext
from trainbridge.core.errors import WebhookRejected
from trainbridge.core.records import WebhookEvent, WebhookReply, WebhookResult
from trainbridge.sdk.webhooks import check_replay


class DocusignConnect:
    """``verify_webhook`` for :class:`~trainbridge.connectors.docusign.DocusignConnector`."""

    name: str
    config: DocusignConfig
    ctx: ConnectorContext

    @hookimpl
    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookResult:
        keys = [k.get_secret_value().encode("utf-8") for k in self.config.hmac_keys]
        if not keys:
            raise WebhookRejected("no Connect HMAC key configured",
                                  hint=f"add hmac_keys to [connectors.{self.name}]; unsigned "
                                       "Connect messages are never accepted")
        lower = {k.lower(): v for k, v in headers.items()}
        digest = (lower.get("x-authorization-digest") or "HMACSHA256").upper()
        if digest != "HMACSHA256":
            raise WebhookRejected(f"unsupported Connect digest {digest!r}")
        received = [v.strip() for k, v in lower.items() if k.startswith("x-docusign-signature-")]
        if not received:
            raise WebhookRejected("Connect message without X-DocuSign-Signature-1",
                                  hint="enable 'Include HMAC signature' in the Connect "
                                       "configuration")
        expected = [connect_signature(key, body) for key in keys]
        if not any(hmac.compare_digest(e, r.encode()) for e in expected for r in received):
            raise WebhookRejected("Connect HMAC signature does not match",
                                  hint="check hmac_keys against the keys of the Connect "
                                       "configuration")
        try:
            message = json.loads(body)
        except ValueError:
            raise WebhookRejected("Connect message is not JSON",
                                  hint="set the Connect configuration to JSON SIM "
                                       "(eventData version restv2.1)") from None
        if not isinstance(message, dict) or not isinstance(message.get("data") or {}, dict):
            raise WebhookRejected("Connect message is not a JSON object with an object data",
                                  hint="set the Connect configuration to JSON SIM "
                                       "(eventData version restv2.1)")
        return WebhookResult(events=(self._event(message),), reply=WebhookReply())

    def _event(self, message: Mapping[str, Any]) -> WebhookEvent:
        event = str(message.get("event", ""))
        data = message.get("data") or {}
        envelope_id = str(data.get("envelopeId") or "") or None
        if not event or envelope_id is None:
            raise WebhookRejected("Connect message without event or data.envelopeId")
        generated = when(message.get("generatedDateTime"))
        check_replay(generated, self.ctx.clock(), self.config.webhook_max_age_seconds, instance=self.name)
        recipient = str(data.get("recipientId") or "")
        # Stable across Connect's retries of one message, so the ledger sees it once.
        event_id = ":".join(p for p in ("docusign", envelope_id, event, recipient) if p)
        return WebhookEvent(event_id=event_id, event_type=event, envelope_id=envelope_id,
                            status=EVENT_STATUS.get(event), occurred_at=generated)


def connect_signature(key: bytes, body: bytes) -> bytes:
    """``X-DocuSign-Signature-N``: base64 of HMAC-SHA256 over the raw body."""
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest())

