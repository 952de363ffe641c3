"""The ``feishu_people`` connector: Feishu / Lark People (飞书人事) as a people source.

Operations (all ``tenant_access_token``; see docs/connectors/feishu_people.md):
``POST /open-apis/corehr/v2/employees/search`` (employees),
``POST /open-apis/corehr/v2/employees/job_datas/batch_get`` (job history),
``POST /open-apis/corehr/v1/offboardings/search`` (separations with reasons),
``POST /open-apis/corehr/v1/offboardings/query`` (the tenant's reason tree), and the
``corehr.offboarding.*`` events through ``verify_webhook``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr

from trainbridge import hookimpl
from trainbridge.connectors.feishu.api import FeishuApi
from trainbridge.connectors.feishu.events import EventKeys, OpenedEvent, open_event
from trainbridge.connectors.feishu.mapping import REASON_SCOPE, employee_data, separation_data
from trainbridge.connectors.feishu.reasons import ReasonCatalog, ReasonTable
from trainbridge.core.connector import Connector, ConnectorConfig, ConnectorContext
from trainbridge.core.errors import AuthError, ConnectorError
from trainbridge.core.http import HttpSettings
from trainbridge.core.records import (
    Employee,
    HealthResult,
    Page,
    Reject,
    Separation,
    SeparationReason,
    WebhookEvent,
    WebhookReply,
    WebhookResult,
)
from trainbridge.sdk.webhooks import max_age_field

log = logging.getLogger("trainbridge.connectors.feishu")

EMPLOYEE_SEARCH = "/open-apis/corehr/v2/employees/search"
JOB_DATA_BATCH = "/open-apis/corehr/v2/employees/job_datas/batch_get"
OFFBOARDING_SEARCH = "/open-apis/corehr/v1/offboardings/search"
REASON_QUERY = "/open-apis/corehr/v1/offboardings/query"
#: ``fields`` of the employee search ("查询员工信息的字段格式参考": most response paths are
#: the field names; an empty list returns only employment_id).
EMPLOYEE_FIELDS = (
    "employee_number", "employment_status", "effective_date", "expiration_date",
    "probation_end_date", "direct_manager_id", "department_id", "department.department_name",
    "job_id", "job.name", "company_id", "email_address", "work_email_list",
    "person_info.preferred_name", "person_info.preferred_local_full_name",
    "person_info.legal_name",
)
OFFBOARDING_EVENTS = frozenset({
    "corehr.offboarding.status_updated_v2", "corehr.offboarding.updated_v2",
    "corehr.offboarding.updated_v1",
})
#: Event ``status``: 1 approving, 2 approved, 3 effective, 4 rejected, 5 withdrawn,
#: 6 no approval needed (corehr-v2/offboarding/events/status_updated).
LEAVING_EVENT_STATUSES = frozenset({2, 3, 6})
OffboardingStatus = Literal["Approving", "Approved", "Offboarded", "Rejected", "Withdrawn",
                            "NoNeedApproval"]
COMPLETE = "complete"
PAGE = "page:"


class FeishuPeopleConfig(ConnectorConfig):
    """``[connectors.NAME]`` with ``type = "feishu_people"``."""

    base_url: str = Field(default="https://open.feishu.cn",
                          description="https://open.larksuite.com for Lark")
    app_id: str = Field(min_length=1)
    app_secret: SecretStr
    verification_token: SecretStr | None = None
    encrypt_key: SecretStr | None = None
    user_id_type: Literal["people_corehr_id", "user_id", "open_id", "union_id"] = "people_corehr_id"
    department_id_type: Literal["people_corehr_department_id", "open_department_id",
                                "department_id"] = "people_corehr_department_id"
    language: str = Field(default="zh-CN", description="Language of department and job names")
    page_size: int = Field(default=100, ge=1, le=100)
    job_history: bool = True
    separation_statuses: tuple[OffboardingStatus, ...] = (
        "Approved", "Offboarded", "NoNeedApproval")
    reasons: dict[str, SeparationReason] = Field(
        default_factory=dict, description="Reason identifier or name -> separation reason")
    default_reasons: bool = True
    webhook_max_age_seconds: int = max_age_field(300)
    token_refresh_margin_seconds: float = Field(default=600.0, ge=0)
    http: HttpSettings = Field(default_factory=HttpSettings)


class FeishuPeople(Connector):
    config_model: ClassVar[type[ConnectorConfig]] = FeishuPeopleConfig
    vendor: ClassVar[str] = "Feishu / Lark People (飞书人事)"
    config: FeishuPeopleConfig

    def __init__(self, name: str, config: ConnectorConfig,
                 ctx: ConnectorContext | None = None) -> None:
        super().__init__(name, config, ctx)
        self._api: FeishuApi | None = None
        self._catalog: ReasonCatalog | None = None
        self._catalog_loaded = False
        self.reason_table = ReasonTable.build(self.config.reasons,
                                              use_defaults=self.config.default_reasons)

    @property
    def api(self) -> FeishuApi:
        if self._api is None:
            cfg = self.config
            client = self.ctx.http(cfg.base_url, instance=self.name, settings=cfg.http)
            self._api = FeishuApi(client, app_id=cfg.app_id,
                                  app_secret=cfg.app_secret.get_secret_value(),
                                  refresh_margin=cfg.token_refresh_margin_seconds,
                                  clock=self.ctx.clock)
        return self._api

    # --- people ----------------------------------------------------------------------

    @hookimpl
    def fetch_employees(self, since: str | None) -> Iterator[Page]:
        """Every employee (hired and terminated); a full read, resumable by page."""
        cfg = self.config
        params = {"page_size": cfg.page_size, "user_id_type": cfg.user_id_type,
                  "department_id_type": cfg.department_id_type}
        stream = self.api.stream(EMPLOYEE_SEARCH, params=params,
                                 body={"fields": list(EMPLOYEE_FIELDS)}, name="employees")
        for part in stream.pages(_resume(since)):
            page = Page()
            ids = [str(i["employment_id"]) for i in part.items
                   if isinstance(i, dict) and i.get("employment_id")]
            history = self._job_history(ids) if cfg.job_history and ids else {}
            for item in part.items:
                self._add_employee(page, item, history)
            page.cursor = part.cursor
            yield page

    def _add_employee(self, page: Page, item: Any, history: Mapping[str, list[Any]]) -> None:
        if not isinstance(item, dict):
            page.rejects.append(Reject(model="employee", reason="the item is not an object",
                                       raw=_jsonable(item)))
            return
        data = employee_data(item, instance=self.name, language=self.config.language,
                             history=history.get(str(item.get("employment_id")), []))
        if not data["name"]:
            page.rejects.append(Reject(
                model="employee", key=data["id"], data=_jsonable(data), raw=_jsonable(item),
                reason="no name in person_info: grant the field scope "
                       "corehr:person.legal_name:read or fill the preferred name"))
            return
        page.add(Employee, data, raw=item)

    def _job_history(self, employment_ids: list[str]) -> dict[str, list[Any]]:
        cfg = self.config
        data = self.api.call("POST", JOB_DATA_BATCH,
                             params={"user_id_type": cfg.user_id_type,
                                     "department_id_type": cfg.department_id_type},
                             body={"employment_ids": employment_ids, "get_all_version": True})
        history: dict[str, list[Any]] = {}
        for entry in data.get("items") or []:
            if isinstance(entry, dict) and entry.get("employment_id"):
                jobs = entry.get("job_datas") or []
                history[str(entry["employment_id"])] = [j for j in jobs if isinstance(j, dict)]
        return history

    @hookimpl
    def fetch_separations(self, since: str | None) -> Iterator[Page]:
        """Offboardings in ``separation_statuses``, with their reason mapped through the table."""
        cfg = self.config
        params = {"page_size": cfg.page_size, "user_id_type": cfg.user_id_type}
        body = {"statuses": list(cfg.separation_statuses)}
        stream = self.api.stream(OFFBOARDING_SEARCH, params=params, body=body, name="separations")
        for part in stream.pages(_resume(since)):
            page = Page()
            for item in part.items:
                self._add_separation(page, item)
            page.cursor = part.cursor
            yield page

    def _add_separation(self, page: Page, item: Any) -> Separation | None:
        if not isinstance(item, dict):
            page.rejects.append(Reject(model="separation", reason="the item is not an object",
                                       raw=_jsonable(item)))
            return None
        data, why = separation_data(item, instance=self.name, table=self.reason_table,
                                    catalog=None)
        if data is None and "reason table" in why and self.reason_catalog() is not None:
            data, why = separation_data(item, instance=self.name, table=self.reason_table,
                                        catalog=self.reason_catalog())
        if data is None:
            page.rejects.append(Reject(model="separation", reason=why, raw=_jsonable(item),
                                       key=str(item.get("offboarding_id") or "") or None))
            return None
        record = page.add(Separation, data, raw=item)
        return record if isinstance(record, Separation) else None

    def reason_catalog(self) -> ReasonCatalog | None:
        """The tenant's reason tree, read once; None when the app may not read it."""
        if not self._catalog_loaded:
            self._catalog_loaded = True
            try:
                data = self.api.call("POST", REASON_QUERY, body={})
            except AuthError as exc:
                log.warning("%s: cannot read the offboarding reason tree, so parent reasons "
                            "are not used: %s", self.name, exc.message)
            else:
                items = data.get("items") or []
                self._catalog = ReasonCatalog.from_items(i for i in items if isinstance(i, dict))
        return self._catalog

    # --- events ----------------------------------------------------------------------

    @hookimpl
    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookResult:
        """URL verification, or an event; offboarding events carry the Separation records."""
        cfg = self.config
        keys = EventKeys(
            encrypt_key=cfg.encrypt_key.get_secret_value() if cfg.encrypt_key else None,
            verification_token=(cfg.verification_token.get_secret_value()
                                if cfg.verification_token else None),
            max_age=cfg.webhook_max_age_seconds, instance=self.name)
        opened = open_event(headers, body, keys, self.ctx.clock())
        if opened.url_verification:
            challenge = json.dumps({"challenge": str(opened.payload.get("challenge", ""))})
            return WebhookResult(reply=WebhookReply(body=challenge,
                                                    content_type="application/json"))
        event = WebhookEvent(
            event_id=opened.event_id or hashlib.sha256(body).hexdigest()[:32],
            event_type=opened.event_type, occurred_at=_created(opened),
            records=tuple(self._event_separations(opened)))
        return WebhookResult(events=(event,), reply=WebhookReply(
            body=json.dumps({"msg": "success"}), content_type="application/json"))

    def _event_separations(self, opened: OpenedEvent) -> list[Separation]:
        if opened.event_type not in OFFBOARDING_EVENTS:
            return []
        event = opened.event
        status = event.get("status")
        info_changed = opened.event_type == "corehr.offboarding.updated_v2"
        if not info_changed and status not in LEAVING_EVENT_STATUSES:
            return []
        employee = self._event_employee(event)
        if not employee:
            return []
        params = {"page_size": self.config.page_size, "user_id_type": self.config.user_id_type}
        body = {"employment_ids": [employee], "statuses": list(self.config.separation_statuses)}
        wanted = str(event.get("offboarding_id") or event.get("offboarding_info_id") or "")
        page = Page()
        for part in self.api.stream(OFFBOARDING_SEARCH, params=params, body=body).pages():
            for item in part.items:
                if not isinstance(item, dict):
                    continue
                if not wanted or str(item.get("offboarding_id")) == wanted:
                    self._add_separation(page, item)
        for reject in page.rejects:
            log.warning("%s: offboarding event %s: %s", self.name, opened.event_id, reject.reason)
        return [r for r in page.records if isinstance(r, Separation)]

    def _event_employee(self, event: Mapping[str, Any]) -> str:
        """The leaver's id in the configured ``user_id_type``."""
        if self.config.user_id_type == "people_corehr_id":
            return str(event.get("employment_id") or "")
        target = event.get("target_user_id")
        return str(target.get(self.config.user_id_type) or "") if isinstance(target, dict) else ""

    # --- health ----------------------------------------------------------------------

    @hookimpl
    def healthcheck(self) -> HealthResult:
        """A fresh token, then one offboarding and one employee search (page size 1)."""
        cfg = self.config
        try:
            self.api.token(force=True)
        except ConnectorError as exc:
            return HealthResult(ok=False, detail=str(exc))
        problems: list[str] = []
        notes = ["tenant token ok"]
        try:
            data = self.api.call("POST", OFFBOARDING_SEARCH,
                                 params={"page_size": 1, "user_id_type": cfg.user_id_type},
                                 body={"statuses": list(cfg.separation_statuses)})
        except ConnectorError as exc:
            problems.append(f"offboarding search: {exc}")
        else:
            items = [i for i in data.get("items") or [] if isinstance(i, dict)]
            info = items[0].get("offboarding_info") if items else None
            if isinstance(info, dict) and not isinstance(info.get("reason"), dict):
                problems.append(
                    f"offboardings come back without a reason: add the field scope "
                    f"{REASON_SCOPE} (获取员工离职原因) to the app and publish it, or every "
                    "separation is quarantined")
            elif items:
                notes.append("offboarding reasons readable")
            else:
                notes.append("no offboarding found to prove the reason scope on")
        try:
            self.api.call("POST", EMPLOYEE_SEARCH,
                          params={"page_size": 1, "user_id_type": cfg.user_id_type,
                                  "department_id_type": cfg.department_id_type},
                          body={"fields": ["employee_number"]})
        except ConnectorError as exc:
            problems.append(f"employee search: {exc}")
        else:
            notes.append("employee search ok")
        return HealthResult(ok=not problems, detail="; ".join(problems or notes))


def _resume(since: str | None) -> str | None:
    """Where a read resumes: the stream's cursor, or one saved before it (``page:TOKEN``, or
    ``complete``: a full read starts again)."""
    if since and since.startswith(PAGE):
        return json.dumps({"next": since[len(PAGE):]})
    return None if since == COMPLETE else since


def _created(opened: OpenedEvent) -> datetime | None:
    header = opened.payload.get("header")
    raw = header.get("create_time") if isinstance(header, dict) else opened.payload.get("ts")
    try:
        return datetime.fromtimestamp(int(str(raw)) / 1000, UTC)
    except (TypeError, ValueError):
        return None


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str)) if value is not None else None
