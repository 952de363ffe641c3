"""The ``feishu_approval`` connector: proposals approved in Feishu Approval (飞书审批).

Official references (open.feishu.cn, approval-v4), all with ``tenant_access_token``:

* 创建审批实例 ``POST /open-apis/approval/v4/instances`` (reference/approval-v4/instance/create):
  ``approval_code``, ``open_id`` or ``user_id`` of the originator, ``form`` (a JSON *string*
  of ``[{"id", "type", "value"}]`` widget values), ``uuid`` (审批实例 uuid, 用于幂等操作: one
  instance per uuid and tenant); answers ``data.instance_code``.
* 批量获取审批实例 ID ``GET /open-apis/approval/v4/instances`` (``approval_code``,
  ``start_time``/``end_time`` in ms, ``page_size``, ``page_token``; ``data.instance_code_list``)
  and 获取单个审批实例详情 ``GET /open-apis/approval/v4/instances/{instance_code}`` (``uuid``,
  ``status``, ``task_list[].open_id``/``status``): a send that may have succeeded before a
  crash is found again by its ``uuid``; the approvers of a verdict are read from the tasks.
* 撤回审批实例 ``POST /open-apis/approval/v4/instances/cancel`` (``approval_code``,
  ``instance_code``, ``user_id`` of the originator in ``user_id_type``); the definition must
  allow 撤销 (更多设置 > 允许撤销审批中的申请).
* 订阅审批事件 ``POST /open-apis/approval/v4/approvals/{approval_code}/subscribe``
  (``trainbridge approvals subscribe``), after which the ``approval_instance`` event
  (event/common-event/approval-instance-event, schema 1.0: ``uuid``, ``token``, ``type:
  event_callback``, ``event.type: approval_instance``, ``event.instance_code``,
  ``event.status`` PENDING / APPROVED / REJECTED / CANCELED / DELETED / REVERTED /
  OVERTIME_CLOSE / OVERTIME_RECOVER, ``event.uuid``) reaches the event subscription URL,
  verified and decrypted exactly like every Feishu event (:mod:`.events`, :mod:`.crypto`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, model_validator

from trainbridge import hookimpl
from trainbridge.connectors.approval_base import found_again, left_as_is, lookup_window, never_created
from trainbridge.connectors.feishu.api import FeishuApi
from trainbridge.connectors.feishu.events import EventKeys, open_event
from trainbridge.core.approvals.models import ApprovalOutcome, ApprovalRequest, ApprovalTicket, OutcomeStatus
from trainbridge.core.connector import Connector, ConnectorConfig, ConnectorContext
from trainbridge.core.errors import ConnectorError
from trainbridge.core.http import HttpSettings
from trainbridge.core.records import HealthResult, WebhookEvent, WebhookReply, WebhookResult
from trainbridge.sdk.webhooks import epoch_time, max_age_field

log = logging.getLogger("trainbridge.connectors.feishu")

INSTANCES = "/open-apis/approval/v4/instances"
CANCEL = "/open-apis/approval/v4/instances/cancel"
APPROVAL = "/open-apis/approval/v4/approvals/{code}"
SUBSCRIBE = "/open-apis/approval/v4/approvals/{code}/subscribe"
EVENT_TYPE = "approval_instance"
STATUSES: dict[str, OutcomeStatus] = {
    "PENDING": "pending",
    "OVERTIME_RECOVER": "pending",
    "APPROVED": "approved",
    "REJECTED": "rejected",
    "CANCELED": "withdrawn",
    "DELETED": "closed",
    "REVERTED": "closed",
    "OVERTIME_CLOSE": "closed",
}
#: Our form lines and the widget type each is written as when ``widget_types`` does not say.
DEFAULT_TYPES = {"explanation": "textarea"}


class FeishuApprovalConfig(ConnectorConfig):
    """``[connectors.NAME]`` with ``type = "feishu_approval"``."""

    base_url: str = Field(default="https://open.feishu.cn", description="https://open.larksuite.com for Lark")
    app_id: str = Field(min_length=1)
    app_secret: SecretStr
    verification_token: SecretStr | None = None
    encrypt_key: SecretStr | None = None
    approval_code: str = Field(min_length=1, description="The approval definition's code (审批定义 Code)")
    originator: str = Field(
        min_length=1, description="Who submits the instances: an HR user's open_id or user_id"
    )
    originator_id_type: Literal["open_id", "user_id"] = "open_id"
    widgets: dict[str, str] = Field(
        description=(
            "Our form line -> the definition's widget id: employee, kind, amount, reason, explanation, "
            "link, reference. Lines without a widget are written into the explanation widget."
        )
    )
    widget_types: dict[str, Literal["input", "textarea"]] = Field(default_factory=dict)
    lookup_days: int = Field(
        default=3, ge=1, le=30, description="How far back a resend looks for its instance"
    )
    webhook_max_age_seconds: int | None = max_age_field()
    token_refresh_margin_seconds: float = Field(default=600.0, ge=0)
    http: HttpSettings = Field(default_factory=HttpSettings)

    @model_validator(mode="after")
    def _explanation_widget(self) -> FeishuApprovalConfig:
        if "explanation" not in self.widgets:
            msg = 'widgets must name the explanation widget (多行文本): widgets = { explanation = "widget1" }'
            raise ValueError(msg)
        return self


class FeishuApproval(Connector):
    config_model: ClassVar[type[ConnectorConfig]] = FeishuApprovalConfig
    vendor: ClassVar[str] = "Feishu Approval (飞书审批)"
    config: FeishuApprovalConfig

    def __init__(self, name: str, config: ConnectorConfig, ctx: ConnectorContext | None = None) -> None:
        super().__init__(name, config, ctx)
        self._api: FeishuApi | None = None

    @property
    def api(self) -> FeishuApi:
        if self._api is None:
            cfg = self.config
            client = self.ctx.http(cfg.base_url, instance=self.name, settings=cfg.http)
            self._api = FeishuApi(
                client,
                app_id=cfg.app_id,
                app_secret=cfg.app_secret.get_secret_value(),
                refresh_margin=cfg.token_refresh_margin_seconds,
                clock=self.ctx.clock,
            )
        return self._api

    # --- sending and withdrawing --------------------------------------------------------

    def form(self, request: ApprovalRequest) -> str:
        """The ``form`` string: one widget value per mapped line, the rest in the explanation."""
        cfg, widgets = self.config, self.config.widgets
        values = [
            {
                "id": widgets[key],
                "type": cfg.widget_types.get(key) or DEFAULT_TYPES.get(key, "input"),
                "value": value,
            }
            for key, value in request.placed(widgets)
        ]
        return json.dumps(values, ensure_ascii=False)

    @hookimpl
    def send_for_approval(
        self, request: ApprovalRequest, idempotency_key: str | None = None
    ) -> ApprovalTicket:
        """Create the instance with ``uuid`` = our key; on a resend, find it by that uuid first."""
        key = idempotency_key or request.key
        found = found_again(request, key, lambda: self.find(key, request.since), "uuid")
        if found:
            return found
        cfg = self.config
        body = {
            "approval_code": cfg.approval_code,
            cfg.originator_id_type: cfg.originator,
            "form": self.form(request),
            "uuid": key,
            "title": request.title,
        }
        data = self.api.call("POST", INSTANCES, body=body)
        code = str(data.get("instance_code") or "")
        if not code:
            msg = "the instance was created but Feishu answered no instance_code"
            raise ConnectorError(
                msg, instance=self.name, hint="look it up in the approval admin by its uuid " + key
            )
        return ApprovalTicket(ref=code, key=key)

    def find(self, key: str, since: datetime | None) -> str | None:
        """The instance code created with ``uuid`` = ``key`` since ``since`` (None when there is none)."""
        for code in self._instance_codes(since):
            detail = self.api.call("GET", f"{INSTANCES}/{code}", params={"user_id_type": "open_id"})
            if str(detail.get("uuid") or "") == key:
                return code
        return None

    def _instance_codes(self, since: datetime | None) -> Iterator[str]:
        start, end = lookup_window(self.ctx.clock(), since, self.config.lookup_days)
        params: dict[str, Any] = {
            "approval_code": self.config.approval_code,
            "page_size": 100,
            "start_time": str(start),
            "end_time": str(end),
        }
        while True:
            data = self.api.call("GET", INSTANCES, params=params)
            yield from (str(c) for c in data.get("instance_code_list") or [])
            token = data.get("page_token")
            if not data.get("has_more") or not token or token == params.get("page_token"):
                return
            params = {**params, "page_token": token}

    @hookimpl
    def withdraw_approval(self, ticket: ApprovalTicket, reason: str) -> ApprovalTicket:
        """撤回 as the originator; an instance no longer pending is left as it is."""
        cfg = self.config
        code = ticket.ref or (self.find(ticket.key, None) if ticket.key else None)
        if not code:
            return never_created(ticket)
        detail = self.api.call("GET", f"{INSTANCES}/{code}", params={"user_id_type": "open_id"})
        status = str(detail.get("status") or "")
        if status and status != "PENDING":
            return left_as_is(code, ticket, STATUSES.get(status, "closed"), status)
        self.api.call(
            "POST",
            CANCEL,
            params={"user_id_type": cfg.originator_id_type},
            body={"approval_code": cfg.approval_code, "instance_code": code, "user_id": cfg.originator},
        )
        return ApprovalTicket(ref=code, key=ticket.key, status="withdrawn", detail=f"撤回: {reason}"[:500])

    def subscribe(self) -> None:
        """订阅审批事件 for the definition, so its ``approval_instance`` events are pushed to this app."""
        self.api.call("POST", SUBSCRIBE.format(code=self.config.approval_code))

    # --- events ----------------------------------------------------------------------------

    @hookimpl
    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookResult:
        """URL verification, or an ``approval_instance`` event carrying an :class:`ApprovalOutcome`."""
        cfg = self.config
        keys = EventKeys(
            encrypt_key=cfg.encrypt_key.get_secret_value() if cfg.encrypt_key else None,
            verification_token=cfg.verification_token.get_secret_value() if cfg.verification_token else None,
            max_age=cfg.webhook_max_age_seconds or 0,
            instance=self.name,
        )
        opened = open_event(headers, body, keys, self.ctx.clock())
        if opened.url_verification:
            challenge = json.dumps({"challenge": str(opened.payload.get("challenge", ""))})
            return WebhookResult(reply=WebhookReply(body=challenge, content_type="application/json"))
        reply = WebhookReply(body=json.dumps({"msg": "success"}), content_type="application/json")
        event = opened.event
        carried: tuple[Any, ...] = ()
        if opened.event_type == EVENT_TYPE and str(event.get("approval_code") or "") == cfg.approval_code:
            carried = (self._outcome(event),)
        return WebhookResult(
            events=(
                WebhookEvent(
                    event_id=opened.event_id or hashlib.sha256(body).hexdigest()[:32],
                    event_type=opened.event_type,
                    occurred_at=epoch_time(event.get("operate_time") or event.get("instance_operate_time")),
                    records=carried,
                ),
            ),
            reply=reply,
        )

    def _outcome(self, event: Mapping[str, Any]) -> ApprovalOutcome:
        code, raw = str(event.get("instance_code") or ""), str(event.get("status") or "")
        status = STATUSES.get(raw, "closed")
        approvers: tuple[str, ...] = ()
        if status in ("approved", "rejected") and code:
            approvers = self._deciders(code, "APPROVED" if status == "approved" else "REJECTED")
        return ApprovalOutcome(
            channel="feishu_approval",
            ref=code,
            key=str(event.get("uuid") or ""),
            status=status,
            vendor_status=raw,
            approvers=approvers,
            occurred_at=epoch_time(event.get("operate_time") or event.get("instance_operate_time")),
        )

    def _deciders(self, code: str, task_status: str) -> tuple[str, ...]:
        """Who approved (or rejected): the tasks of that status, in the order they ended."""
        detail = self.api.call("GET", f"{INSTANCES}/{code}", params={"user_id_type": "open_id"})
        tasks = [
            t for t in detail.get("task_list") or [] if isinstance(t, dict) and t.get("status") == task_status
        ]
        tasks.sort(key=lambda t: int(str(t.get("end_time") or 0) or 0))
        return tuple(
            f"feishu:{t.get('open_id') or t.get('user_id')}"
            for t in tasks
            if t.get("open_id") or t.get("user_id")
        )

    @hookimpl
    def healthcheck(self) -> HealthResult:
        """A fresh token, then the approval definition (proves approval:approval:readonly)."""
        try:
            self.api.token(force=True)
            data = self.api.call("GET", APPROVAL.format(code=self.config.approval_code))
        except ConnectorError as exc:
            return HealthResult(ok=False, detail=str(exc))
        return HealthResult(ok=True, detail=f"approval definition {data.get('approval_name') or ''} readable")
