"""法大大 callbacks (``X-FASC-Event``, ``bizContent`` form field), signed as requests are.

The signature covers the ``X-FASC-*`` headers of :data:`CALLBACK_SIGNED` and ``bizContent``;
``X-FASC-Timestamp`` (milliseconds) is checked with the SDK's ``check_replay`` against
``webhook_max_age_seconds`` on the context's clock.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import parse_qs

from trainbridge import hookimpl
from trainbridge.connectors.esign_agreements import from_millis
from trainbridge.connectors.esign_base import json_object
from trainbridge.connectors.fadada.config import EVENT_STATUS, REPLY, FadadaConfig
from trainbridge.connectors.fadada.signing import CALLBACK_SIGNED, SIGN_TYPE, fasc_sign
from trainbridge.core.connector import ConnectorContext
from trainbridge.core.errors import WebhookRejected
from trainbridge.core.records import EnvelopeStatus, WebhookEvent, WebhookResult
from trainbridge.sdk.webhooks import check_replay


class FadadaCallbacks:
    """``verify_webhook`` for :class:`~trainbridge.connectors.fadada.FadadaConnector`."""

    name: str
    config: FadadaConfig
    ctx: ConnectorContext

    @hookimpl
    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookResult:
        lower = {k.lower(): v for k, v in headers.items()}
        signed: dict[str, str | None] = {name: lower.get(name.lower()) for name in CALLBACK_SIGNED}
        received = lower.get("x-fasc-sign", "")
        timestamp = signed["X-FASC-Timestamp"] or ""
        if not received or not timestamp or not signed["X-FASC-Event"]:
            raise WebhookRejected(
                "法大大 callback without X-FASC-Sign/Timestamp/Event",
                hint="only 法大大 may post to this URL",
            )
        if signed["X-FASC-App-Id"] != self.config.app_id:
            raise WebhookRejected(
                f"callback for app {signed['X-FASC-App-Id']}, not {self.config.app_id}"
            )
        if (signed["X-FASC-Sign-Type"] or "").upper() != SIGN_TYPE:
            raise WebhookRejected(f"unsupported callback sign type {signed['X-FASC-Sign-Type']!r}")
        biz_content = parse_qs(body.decode("utf-8", "replace")).get("bizContent", [""])[0]
        expected = fasc_sign(
            {**signed, "bizContent": biz_content},
            timestamp,
            self.config.app_secret.get_secret_value(),
        )
        if not hmac.compare_digest(expected, received.strip().lower()):
            raise WebhookRejected(
                "法大大 callback signature does not match", hint="check app_secret of this instance"
            )
        sent = int(timestamp) / 1000 if timestamp.isdigit() else None  # milliseconds
        check_replay(sent, self.ctx.clock(), self.config.webhook_max_age_seconds, instance=self.name)
        payload = json_object(biz_content, "法大大 callback bizContent")
        event = str(signed["X-FASC-Event"])
        task_id = str(payload.get("signTaskId", "")) or None
        status = EVENT_STATUS.get(event)
        if payload.get("signTaskStatus") == "task_finished":
            status = EnvelopeStatus.COMPLETED  # the last signer's event carries the finish
        # The event's identity comes from what it says, never from the delivery's nonce: 法大大
        # redelivers the same event with a new nonce and timestamp, which must stay a replay.
        stamp = payload.get("eventTime") or hashlib.sha256(biz_content.encode()).hexdigest()[:16]
        return WebhookResult(
            reply=REPLY,
            events=(
                WebhookEvent(
                    event_id=f"{event}:{task_id}:{payload.get('actorId', '')}:{stamp}",
                    event_type=event,
                    envelope_id=task_id,
                    status=status,
                    occurred_at=from_millis(payload.get("eventTime")),
                ),
            ),
        )
