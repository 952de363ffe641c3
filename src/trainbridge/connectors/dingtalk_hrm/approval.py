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

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, ClassVar

from pydantic import Field

from trainbridge import hookimpl
from trainbridge.connectors.approval_base import found_again, left_as_is, lookup_window, never_created
from trainbridge.connectors.dingtalk_hrm.app import DingTalkApp, DingTalkAppConfig
from trainbridge.connectors.dingtalk_hrm.callbacks import OpenedCallback
from trainbridge.core.approvals.models import ApprovalOutcome, ApprovalRequest, ApprovalTicket, OutcomeStatus
from trainbridge.core.connector import ConnectorConfig
from trainbridge.core.errors import ConnectorError
from trainbridge.core.records import HealthResult
from trainbridge.sdk.webhooks import epoch_time

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


class DingTalkApprovalConfig(DingTalkAppConfig):
    """``[connectors.NAME]`` with ``type = "dingtalk_approval"``."""

    process_code: str = Field(min_length=1, description="The approval form's processCode (PROC-...)")
    originator: str = Field(min_length=1, description="The userid of the HR member who submits")
    dept_id: int | None = None
    components: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_COMPONENTS),
        description=("Our form line -> the component label; lines left out are written into the explanation"),
    )
    lookup_days: int = Field(default=3, ge=1, le=30)


class DingTalkApproval(DingTalkApp):
    config_model: ClassVar[type[ConnectorConfig]] = DingTalkApprovalConfig
    vendor: ClassVar[str] = "DingTalk OA approval (钉钉审批)"
    config: DingTalkApprovalConfig

    def form(self, request: ApprovalRequest) -> list[dict[str, str]]:
        names = self.config.components
        return [{"name": names[key], "value": value} for key, value in request.placed(names)]

    @hookimpl
    def send_for_approval(
        self, request: ApprovalRequest, idempotency_key: str | None = None
    ) -> ApprovalTicket:
        key = idempotency_key or request.key
        found = found_again(
            request, key, lambda: self.find(request.proposal_id, request.since), "its reference"
        )
        if found:
            return found
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
        start, end = lookup_window(self.ctx.clock(), since, self.config.lookup_days)
        body: dict[str, Any] = {
            "processCode": self.config.process_code,
            "startTime": start,
            "endTime": end,
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
            return never_created(ticket)
        status = str(self.detail(ref).get("status") or "")
        if status and status != "RUNNING":
            return left_as_is(ref, ticket, "closed", status)
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

    def callback_records(self, opened: OpenedCallback) -> tuple[Any, ...]:
        """``bpms_instance_change`` of this form carries an ApprovalOutcome."""
        event = opened.event
        if (
            opened.event_type == EVENT_TYPE
            and str(event.get("processCode") or "") == self.config.process_code
        ):
            return (self._outcome(event),)
        return ()

    def callback_time(self, opened: OpenedCallback) -> datetime | None:
        return epoch_time(opened.event.get("finishTime") or opened.event.get("createTime"))

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
            occurred_at=epoch_time(event.get("finishTime") or event.get("createTime")),
        )

    @hookimpl
    def healthcheck(self) -> HealthResult:
        try:
            self.api.token(force=True)
        except ConnectorError as exc:
            return HealthResult(ok=False, detail=str(exc))
        return HealthResult(ok=True, detail="access token ok")
