"""The ``dingtalk_hrm`` connector: DingTalk 智能人事 as a people source, plus its callbacks.

Operations (see docs/connectors/dingtalk_hrm.md): on-job ids from the old
``/topapi/smartwork/hrm/employee/queryonjob`` (no v1.0 equivalent exists), roster fields
from ``POST /v1.0/hrm/rosters/lists/query``, leavers from ``GET /v1.0/hrm/employees/
dismissions`` and ``GET /v1.0/hrm/employees/dimissionInfos`` (or, with
``dimission_api = "topapi"``, ``querydimission`` + ``listdimission`` for ``reason_type``),
and ``user_leave_org`` callbacks through ``verify_webhook``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo

from pydantic import Field

from trainbridge import hookimpl
from trainbridge.connectors.dingtalk_hrm.app import DingTalkApp, DingTalkAppConfig
from trainbridge.connectors.dingtalk_hrm.callbacks import QUERY_HEADER as QUERY_HEADER  # its import path
from trainbridge.connectors.dingtalk_hrm.callbacks import OpenedCallback
from trainbridge.connectors.dingtalk_hrm.callbacks import callback_params as callback_params
from trainbridge.connectors.dingtalk_hrm.mapping import (
    LEAVING_STATUSES,
    REASON_TYPES,
    ROSTER_FIELDS,
    ReasonMapper,
    employee_data,
    roster_values,
    separation_data,
)
from trainbridge.core.connector import ConnectorConfig, ConnectorContext
from trainbridge.core.errors import ConnectorError
from trainbridge.core.records import (
    Employee,
    HealthResult,
    Page,
    Reject,
    Separation,
    SeparationReason,
)
from trainbridge.sdk.streams import Cursor
from trainbridge.sdk.webhooks import epoch_time

log = logging.getLogger("trainbridge.connectors.dingtalk_hrm")

QUERY_ON_JOB = "/topapi/smartwork/hrm/employee/queryonjob"
QUERY_DIMISSION = "/topapi/smartwork/hrm/employee/querydimission"
LIST_DIMISSION = "/topapi/smartwork/hrm/employee/listdimission"
ROSTER = "/v1.0/hrm/rosters/lists/query"
DISMISSIONS = "/v1.0/hrm/employees/dismissions"
DIMISSION_INFOS = "/v1.0/hrm/employees/dimissionInfos"
COMPLETE = "complete"
AT = "at:"


class DingTalkHrmConfig(DingTalkAppConfig):
    """``[connectors.NAME]`` with ``type = "dingtalk_hrm"``."""

    agent_id: int = Field(description="The app's AgentId (appAgentId of the roster API)")
    on_job_statuses: tuple[Literal[2, 3, 5, -1], ...] = (2, 3, 5, -1)
    page_size: int = Field(default=50, ge=1, le=50)
    dimission_api: Literal["v1", "topapi"] = "v1"
    reasons: dict[str, SeparationReason] = Field(
        default_factory=dict, description="Reason name -> reason (voluntaryReason/passiveReason)")
    reason_types: dict[int, SeparationReason] = Field(
        default_factory=dict, description="reason_type 1-9 -> reason (dimission_api = topapi)")
    voluntary_default: SeparationReason | Literal["reject"] = SeparationReason.RESIGNATION
    default_reasons: bool = True
    timezone: str = "Asia/Shanghai"


class DingTalkHrm(DingTalkApp):
    config_model: ClassVar[type[ConnectorConfig]] = DingTalkHrmConfig
    vendor: ClassVar[str] = "DingTalk HRM (钉钉智能人事)"
    config: DingTalkHrmConfig

    def __init__(self, name: str, config: ConnectorConfig,
                 ctx: ConnectorContext | None = None) -> None:
        super().__init__(name, config, ctx)
        cfg = self.config
        self.tz = ZoneInfo(cfg.timezone)
        default = None if cfg.voluntary_default == "reject" else cfg.voluntary_default
        self.reasons = ReasonMapper(cfg.reasons, cfg.reason_types, voluntary_default=default,
                                    use_defaults=cfg.default_reasons, instance=name)

    # --- people ----------------------------------------------------------------------

    @hookimpl
    def fetch_employees(self, since: str | None) -> Iterator[Page]:
        """On-job employees (试用/正式/待离职/无状态) with their roster fields."""
        statuses = ",".join(str(s) for s in self.config.on_job_statuses)
        stream = self.api.stream(QUERY_ON_JOB, self._offsets(), "result.data_list", old=True,
                                 body={"status_list": statuses}, name="on-job employees")
        for part in stream.pages(_resume(since)):
            page = self._employees([str(u) for u in part.items if u])
            page.cursor = part.cursor
            yield page

    def _offsets(self) -> Cursor:
        """topapi lists: ``offset`` and ``size`` in the body, ``result.next_cursor`` back."""
        return Cursor(next="result.next_cursor", param="offset", size_param="size",
                      size=self.config.page_size, first=0)

    def _employees(self, user_ids: list[str]) -> Page:
        page = Page()
        if not user_ids:
            return page
        answer = self.api.v1("POST", ROSTER, body={
            "userIdList": user_ids, "fieldFilterList": list(ROSTER_FIELDS),
            "appAgentId": self.config.agent_id, "text2SelectConvert": False})
        entries = {str(e.get("userId")): e for e in answer.get("result") or []
                   if isinstance(e, dict) and e.get("userId")}
        for user_id in user_ids:
            entry = entries.get(user_id)
            if entry is None:
                page.rejects.append(Reject(model="employee", key=user_id, reason=(
                    f"on-job user {user_id} has no roster entry: check the app's data range "
                    "and that 智能人事 holds this employee")))
                continue
            values = roster_values(entry)
            data = employee_data(user_id, values, instance=self.name, tz=self.tz)
            if not data["name"]:
                page.rejects.append(Reject(model="employee", key=data["id"], raw=_jsonable(entry),
                                           reason="the roster has no sys00-name for this user",
                                           data=_jsonable(data)))
                continue
            page.add(Employee, data, raw=entry)
        return page

    @hookimpl
    def fetch_separations(self, since: str | None) -> Iterator[Page]:
        """Resigned employees with last work day and reason."""
        if self.config.dimission_api == "topapi":
            yield from self._separations_topapi(since)
            return
        paging = Cursor(next="nextToken", param="nextToken", size_param="maxResults",
                        size=self.config.page_size, has_more="hasMore", first=0)
        stream = self.api.stream(DISMISSIONS, paging, "userIdList", name="leavers")
        for part in stream.pages(_resume(since)):
            page = Page()
            for info in self._dimission_infos([str(u) for u in part.items if u]):
                self._add_separation(page, info)
            page.cursor = part.cursor
            yield page

    def _dimission_infos(self, user_ids: Sequence[str]) -> list[dict[str, Any]]:
        if not user_ids:
            return []
        answer = self.api.v1("GET", DIMISSION_INFOS,
                             params={"userIdList": json.dumps(list(user_ids))})
        return [i for i in answer.get("result") or [] if isinstance(i, dict)]

    def _add_separation(self, page: Page, info: Mapping[str, Any], *, legacy: bool = False) -> None:
        status = info.get("status")
        if status not in LEAVING_STATUSES:
            return  # 3: neither leaving nor left; 4: resignation still awaiting approval
        if legacy:
            reason, why = self.reasons.from_type(info.get("reason_type"))
            kind = info.get("reason_type")
            label = REASON_TYPES.get(kind, ("", None))[0] if isinstance(kind, int) else ""
            vendor = f"reason_type {kind} {label}".strip()
            memo = str(info.get("reason_memo") or "")
        else:
            voluntary = info.get("voluntaryReason") or []
            passive = info.get("passiveReason") or []
            reason, why = self.reasons.from_names(voluntary, passive)
            vendor = "; ".join(p for p in (
                f"主动: {', '.join(map(str, voluntary))}" if voluntary else "",
                f"被动: {', '.join(map(str, passive))}" if passive else "") if p)
            memo = str(info.get("reasonMemo") or "")
        key = str(info.get("userId") or info.get("userid") or "") or None
        if reason is None:
            page.rejects.append(Reject(model="separation", key=key, reason=why,
                                       raw=_jsonable(dict(info))))
            return
        data = separation_data(info, reason, instance=self.name, tz=self.tz,
                               vendor_reason=vendor, memo=memo)
        page.add(Separation, data, raw=dict(info))

    def _separations_topapi(self, since: str | None) -> Iterator[Page]:
        stream = self.api.stream(QUERY_DIMISSION, self._offsets(), "result.data_list", old=True,
                                 name="leavers")
        for part in stream.pages(_resume(since)):
            ids = [str(u) for u in part.items if u]
            page = Page()
            if ids:
                infos = self.api.topapi(LIST_DIMISSION, {"userid_list": ",".join(ids)})
                for info in infos.get("result") or []:
                    if isinstance(info, dict):
                        self._add_separation(page, info, legacy=True)
            page.cursor = part.cursor
            yield page

    # --- callbacks -------------------------------------------------------------------

    def callback_records(self, opened: OpenedCallback) -> tuple[Any, ...]:
        """A leaver (``user_leave_org``) brings the Separation."""
        if opened.event_type != "user_leave_org":
            return ()
        ids = opened.event.get("UserId") or opened.event.get("userId") or []
        return tuple(self._event_separations([str(i) for i in ids if i]))

    def callback_time(self, opened: OpenedCallback) -> datetime | None:
        event = opened.event
        return epoch_time(event.get("TimeStamp") or event.get("timeStamp") or opened.timestamp)

    def _event_separations(self, user_ids: list[str]) -> list[Separation]:
        if not user_ids:
            return []
        page = Page()
        if self.config.dimission_api == "topapi":
            answer = self.api.topapi(LIST_DIMISSION, {"userid_list": ",".join(user_ids)})
            for info in answer.get("result") or []:
                if isinstance(info, dict):
                    self._add_separation(page, info, legacy=True)
        else:
            for info in self._dimission_infos(user_ids):
                self._add_separation(page, info)
        for reject in page.rejects:
            log.warning("%s: user_leave_org for %s: %s", self.name, reject.key, reject.reason)
        return [r for r in page.records if isinstance(r, Separation)]

    # --- health ----------------------------------------------------------------------

    @hookimpl
    def healthcheck(self) -> HealthResult:
        """A fresh token, then one page of leavers (proves qyapi_hrm_read_user)."""
        try:
            self.api.token(force=True)
            self.api.v1("GET", DISMISSIONS, params={"nextToken": 0, "maxResults": 1})
        except ConnectorError as exc:
            return HealthResult(ok=False, detail=str(exc))
        return HealthResult(ok=True, detail="access token ok; 智能人事 readable")


def _resume(since: str | None) -> str | None:
    """Where a read resumes: the stream's cursor, or one saved before it (``at:N``, or
    ``complete``: a full read starts again)."""
    if since and since.startswith(AT):
        position = since[len(AT):]
        return json.dumps({"next": int(position)}) if position.isdigit() else None
    return None if since == COMPLETE else since


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str)) if value is not None else None


__all__ = ["DingTalkHrm", "DingTalkHrmConfig", "callback_params"]
