"""A DingTalk internal app as both DingTalk connectors use it: its credentials, one API client
for the new and old server APIs, and its event subscription's callbacks (``dingtalk_hrm``,
``dingtalk_approval``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import Field, SecretStr

from trainbridge import hookimpl
from trainbridge.connectors.dingtalk_hrm.api import REQUEST_ID_HEADER, DingTalkApi
from trainbridge.connectors.dingtalk_hrm.callbacks import OpenedCallback, open_callback
from trainbridge.core.connector import Connector, ConnectorConfig
from trainbridge.core.http import HttpSettings
from trainbridge.core.records import WebhookEvent, WebhookResult
from trainbridge.sdk.webhooks import max_age_field


class DingTalkAppConfig(ConnectorConfig):
    """The keys of ``[connectors.NAME]`` every DingTalk connector reads."""

    api_base_url: str = "https://api.dingtalk.com"
    oapi_base_url: str = "https://oapi.dingtalk.com"
    app_key: str = Field(min_length=1, description="The internal app's AppKey / Client ID")
    app_secret: SecretStr
    callback_token: SecretStr | None = None
    callback_aes_key: SecretStr | None = None
    callback_owner_key: str | None = Field(
        default=None, description="corpId, suiteKey, or (default) app_key for event subscriptions")
    webhook_max_age_seconds: int = max_age_field(300)
    token_refresh_margin_seconds: float = Field(default=300.0, ge=0)
    http: HttpSettings = Field(default_factory=HttpSettings)


class DingTalkApp(Connector):
    """A connector speaking to DingTalk as an internal app (``api``, made on first use), told of
    events by its subscription (``callback_records`` says what an event brings)."""

    config: DingTalkAppConfig
    _api: DingTalkApi | None = None

    @property
    def api(self) -> DingTalkApi:
        if self._api is None:
            cfg = self.config

            def client(base: str) -> Any:
                return self.ctx.http(base, instance=self.name, settings=cfg.http,
                                     request_id_headers=(REQUEST_ID_HEADER,))

            self._api = DingTalkApi(client(cfg.api_base_url), client(cfg.oapi_base_url),
                                    app_key=cfg.app_key,
                                    app_secret=cfg.app_secret.get_secret_value(),
                                    refresh_margin=cfg.token_refresh_margin_seconds,
                                    clock=self.ctx.clock)
        return self._api

    @hookimpl
    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookResult:
        """Verify, decrypt and answer a DingTalk callback; the event carries ``callback_records``."""
        opened = open_callback(headers, body, self.config, instance=self.name, now=self.ctx.clock())
        if opened.event_type == "check_url":
            return WebhookResult(reply=opened.reply)
        records = self.callback_records(opened)
        return WebhookResult(events=(WebhookEvent(
            event_id=opened.event_id, event_type=opened.event_type or "unknown",
            occurred_at=self.callback_time(opened), records=records),), reply=opened.reply)

    def callback_records(self, opened: OpenedCallback) -> tuple[Any, ...]:
        """The records an event brings (none unless the connector says)."""
        return ()

    def callback_time(self, opened: OpenedCallback) -> datetime | None:
        """When the event happened, by the connector's reading of it."""
        return None
