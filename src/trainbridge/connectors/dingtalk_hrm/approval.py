"""The ``dingtalk_approval`` connector: proposals approved in DingTalk OA approval (钉钉审批).

Official references (open.dingtalk.com, 工作流 / OA 审批, new API, header
``x-acs-dingtalk-access-token``):

* 发起审批实例 ``POST /v1.0/workflow/processInstances``: ``processCode``, ``originatorUserId``,
  ``deptId`` (optional), ``formComponentValues`` ``[{"name", "value"}]`` (names are the
  form's component labels); answers ``{"instanceId"}``. DingTalk takes no idempotency key,
  so the form's reference component carries ours (the ``提案编号`` line) and a resend looks
  the instance up first: 获取审批实例ID列表 ``POST /v1.0/workflow/processes/instanceIds/query``
  (``processCode``, ``startTime``/``endTime`` ms, ``nextToken``, ``maxResults``, ``userIds``)
  and 获取单个审批实例详情 ``GET /v1.0/workflow/processInstances?processInstanceId=`` (``result``:
  ``status`` RUNNING / COMPLETED / TERMINATED, ``result`` agree / refuse,
  ``formComponentValues``, ``operationRecords[].userId/result``).
* 撤销审批实例 ``POST /v1.0/workflow/processInstances/terminate``: ``processInstanceId``,
  ``isSystem``, ``remark``, ``operatingUserId``.
* The ``bpms_instance_change`` event (审批实例开始、结束: ``processInstanceId``,
  ``processCode``, ``type`` start / finish / terminate, ``result`` agree / refuse,
  ``businessId``) through the app's HTTP event subscription, verified and decrypted with the
  same callback crypto as ``dingtalk_hrm`` (:mod:`.crypto`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pydantic import Field, SecretStr

from trainbridge import hookimpl
from trainbridge.connectors.dingtalk_hrm.api import DingTalkApi
from trainbridge.connectors.dingtalk_hrm.connector import callback_params
from trainbridge.connectors.dingtalk_hrm.crypto import CallbackCrypto, CallbackCryptoError
from trainbridge.core.approvals.models import ApprovalOutcome, ApprovalRequest, ApprovalTicket, OutcomeStatus
from trainbridge.core.connector import Connector, ConnectorConfig, ConnectorContext
from trainbridge.core.errors import ConnectorError, WebhookRejected
from trainbridge.core.http import HttpSettings
from trainbridge.core.records import HealthResult, WebhookEvent, WebhookReply, WebhookResult
from trainbridge.sdk.webhooks import check_replay, max_age_field

INSTANCES = "/v1.0/workflow/processInstances"
TERMINATE = "/v1.0/workflow/processInstances/terminate"
INSTANCE_IDS = "/v1.0/workflow/processes/instanceIds/query"
EVENT_TYPE = "bpms_instance_change"
#: Our form lines and the component labels of the approval form they fill, by default.
DEFAULT_COMPONENTS = {
    "employee": "员工",
    "kind": "类型",
    "amount": "金额",
    "reason": "事由",
    "explanation": "计算说明",
    "link": "详情链接",
    "reference": "提案编号",
}


class DingTalkApprovalConfig(ConnectorConfig):
    """``[connectors.NAME]`` with ``type = "dingtalk_approval"``."""

    api_base_url: str = "https://api.dingtalk.com"
    oapi_base_url: str = "https://oapi.dingtalk.com"
    app_key: str = Field(min_length=1, description="The internal app's AppKey / Client ID")
    app_secret: SecretStr
    process_code: str = Field(min_length=1, description="The approval form's processCode (PROC-...)")
    originator: str = Field(min_length=1, description="The userid of the HR member who submits")
    dept_id: int | None = None
    components: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_COMPONENTS),
        description=("Our form line -> the component label; lines left out are written into the explanation"),
    )
    callback_token: SecretStr | None = None
    callback_aes_key: SecretStr | None = None
    callback_owner_key: str | None = Field(default=None, description="Default: app_key")
    lookup_days: int = Field(default=3, ge=1, le=30)
    webhook_max_age_seconds: int = max_age_field(300)
    token_refresh_margin_seconds: float = Field(default=300.0, ge=0)
    http: HttpSettings = Field(default_factory=HttpSettings)


class DingTalkApproval(Connector):
    config_model: ClassVar[type[ConnectorConfig]] = DingTalkApprovalConfig
    vendor: ClassVar[str] = "DingTalk OA approval (钉钉审批)"
    config: DingTalkApprovalConfig

    def __init__(self, name: str, config: ConnectorConfig, ctx: ConnectorContext | None = None) -> None:
        super().__init__(name, config, ctx)
        self._api: DingTalkApi | None = None

    @property
    def api(self) -> DingTalkApi:
        if self._api is None:
            cfg = self.config

            def client(base: str) -> Any:
                return self.ctx.http(
                    base, instance=self.name, settings=cfg.http, request_id_headers=("x-acs-request-id",)
                )

            self._api = DingTalkApi(
                client(cfg.api_base_url),
                client(cfg.oapi_base_url),
                app_key=cfg.app_key,
                app_secret=cfg.app_secret.get_secret_value(),
                refresh_margin=cfg.token_refresh_margin_seconds,
                clock=self.ctx.clock,
            )
        return self._api

    def form(self, request: ApprovalRequest) -> list[dict[str, str]]:
        names = self.config.components
        unmapped = [f"{f.label}：{f.value}" for f in request.fields if f.key not in names]
        values = []
        for f in request.fields:
            if f.key in names:
                value = (
                    "\n".join([*unmapped, "", f.value]) if f.key == "explanation" and unmapped else f.value
                )
                values.append({"name": names[f.key], "value": value})
        return values

    @hookimpl
    def send_for_approval(
        self, request: ApprovalRequest, idempotency_key: str | None = None
    ) -> ApprovalTicket:
        key = idempotency_key or request.key
        if request.resend:
            found = self.find(request.proposal_id, request.since)
            if found:
                return ApprovalTicket(
                    ref=found, key=key, detail="found by its reference after an interrupted send"
                )
        cfg = self.config
        body: dict[str, Any] = {
            "processCode": cfg.process_code,
            "originatorUserId": cfg.originator,
            "formComponentValues": self.form(request),
        }
        if cfg.dept_id is not None:
            body["deptId"] = cfg.dept_id
        answer = self.api.v1("POST", INSTANCES, body=body)
        ref = str(answer.get("instanceId") or "")
        if not ref:
            msg = "DingTalk answered no instanceId"
            raise ConnectorError(msg, instance=self.name, hint="look the instance up in the approval admin")
        return ApprovalTicket(ref=ref, key=key)

    def find(self, reference: str, since: datetime | None) -> str | None:
        """The instance whose reference component holds ``reference`` (None when there is none)."""
        label = self.config.components.get("reference")
        for ref in self._instance_ids(since):
            detail = self.detail(ref)
            values = detail.get("formComponentValues") or []
            if any(
                isinstance(v, dict) and v.get("value") == reference and (not label or v.get("name") == label)
                for v in values
            ):
                return ref
        return None

    def detail(self, ref: str) -> dict[str, Any]:
        result = self.api.v1("GET", INSTANCES, params={"processInstanceId": ref}).get("result")
        return result if isinstance(result, dict) else {}

    def _instance_ids(self, since: datetime | None) -> Iterator[str]:
        now = datetime.fromtimestamp(self.ctx.clock(), UTC)
        start = (since or now) - timedelta(days=self.config.lookup_days)
        body: dict[str, Any] = {
            "processCode": self.config.process_code,
            "startTime": int(start.timestamp() * 1000),
            "endTime": int((now + timedelta(minutes=5)).timestamp() * 1000),
            "nextToken": 0,
            "maxResults": 20,
            "userIds": [self.config.originator],
        }
        while True:
            result = self.api.v1("POST", INSTANCE_IDS, body=body).get("result") or {}
            yield from (str(i) for i in result.get("list") or [])
            token = result.get("nextToken")
            if not token or str(token) == str(body["nextToken"]):
                return
            body = {**body, "nextToken": token}

    @hookimpl
    def withdraw_approval(self, ticket: ApprovalTicket, reason: str) -> ApprovalTicket:
        ref = ticket.ref
        if not ref:
            return ticket.model_copy(update={"status": "withdrawn", "detail": "no instance was created"})
        status = str(self.detail(ref).get("status") or "")
        if status and status != "RUNNING":
            return ApprovalTicket(
                ref=ref, key=ticket.key, status="closed", detail=f"already {status}: not withdrawn"
            )
        self.api.v1(
            "POST",
            TERMINATE,
            body={
                "processInstanceId": ref,
                "isSystem": True,
                "remark": reason[:200],
                "operatingUserId": self.config.originator,
            },
        )
        return ApprovalTicket(ref=ref, key=ticket.key, status="withdrawn", detail=f"撤销: {reason}"[:500])

    @hookimpl
    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookResult:
        """Verify and decrypt a DingTalk event; ``bpms_instance_change`` carries an ApprovalOutcome."""
        cfg = self.config
        if not (cfg.callback_token and cfg.callback_aes_key):
            raise WebhookRejected(
                "no callback_token/callback_aes_key is configured",
                hint=f"copy Token and aes_key of the app's event subscription into [connectors.{self.name}]",
            )
        hint = f"check callback_token, callback_aes_key and callback_owner_key of [connectors.{self.name}]"
        params = callback_params(headers)
        signature = params.get("msg_signature") or params.get("signature")
        timestamp, nonce = params.get("timestamp") or params.get("timeStamp"), params.get("nonce")
        if not (signature and timestamp and nonce):
            raise WebhookRejected("msg_signature, timestamp or nonce is missing from the callback", hint=hint)
        try:
            crypto = CallbackCrypto(
                cfg.callback_token.get_secret_value(),
                cfg.callback_aes_key.get_secret_value(),
                cfg.callback_owner_key or cfg.app_key,
            )
            encrypt = str(json.loads(body)["encrypt"])
            crypto.verify(signature, timestamp, nonce, encrypt)
        except (CallbackCryptoError, ValueError, KeyError, TypeError) as exc:
            raise WebhookRejected(f"callback refused: {exc}", hint=hint) from None
        sent = float(timestamp) if timestamp.replace(".", "", 1).isdigit() else None
        check_replay(
            None if sent is None else (sent / 1000 if sent > 1e11 else sent),
            self.ctx.clock(),
            cfg.webhook_max_age_seconds,
            instance=self.name,
        )
        try:
            event = json.loads(crypto.decrypt(encrypt))
        except (CallbackCryptoError, ValueError) as exc:
            raise WebhookRejected(f"callback refused: {exc}", hint=hint) from None
        if not isinstance(event, dict):
            raise WebhookRejected("the decrypted callback is not a JSON object", hint=hint)
        reply = WebhookReply(
            body=json.dumps(crypto.encrypted_reply("success", int(self.ctx.clock() * 1000))),
            content_type="application/json",
        )
        event_type = str(event.get("EventType") or "")
        if event_type == "check_url":
            return WebhookResult(reply=reply)
        carried: tuple[Any, ...] = ()
        if event_type == EVENT_TYPE and str(event.get("processCode") or "") == cfg.process_code:
            carried = (self._outcome(event),)
        event_id = str(event.get("eventId") or hashlib.sha256(encrypt.encode()).hexdigest()[:32])
        return WebhookResult(
            events=(
                WebhookEvent(
                    event_id=event_id,
                    event_type=event_type or "unknown",
                    occurred_at=_ms(event.get("finishTime") or event.get("createTime")),
                    records=carried,
                ),
            ),
            reply=reply,
        )

    def _outcome(self, event: Mapping[str, Any]) -> ApprovalOutcome:
        ref, kind, result = (str(event.get(k) or "") for k in ("processInstanceId", "type", "result"))
        status: OutcomeStatus = "pending"
        if kind == "finish":
            status = "approved" if result == "agree" else "rejected" if result == "refuse" else "closed"
        elif kind == "terminate":
            status = "withdrawn"
        approvers: tuple[str, ...] = ()
        if status in ("approved", "rejected") and ref:
            wanted = "AGREE" if status == "approved" else "REFUSE"
            records = [
                r
                for r in self.detail(ref).get("operationRecords") or []
                if isinstance(r, dict) and str(r.get("result") or "").upper() == wanted and r.get("userId")
            ]
            approvers = tuple(f"dingtalk:{r['userId']}" for r in records)
        return ApprovalOutcome(
            channel="dingtalk_approval",
            ref=ref,
            key=str(event.get("businessId") or ""),
            status=status,
            vendor_status=f"{kind}/{result}".strip("/"),
            approvers=approvers,
            occurred_at=_ms(event.get("finishTime") or event.get("createTime")),
        )

    @hookimpl
    def healthcheck(self) -> HealthResult:
        try:
            self.api.token(force=True)
        except ConnectorError as exc:
            return HealthResult(ok=False, detail=str(exc))
        return HealthResult(ok=True, detail="access token ok")


def _ms(value: Any) -> datetime | None:
    try:
        number = float(str(value))
    except ValueError:
        return None
    return datetime.fromtimestamp(number / 1000 if number > 1e11 else number, UTC)
