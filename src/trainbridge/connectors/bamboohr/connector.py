"""The BambooHR connector: people, separations, training records in; results out."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import requests

from trainbridge import hookimpl
from trainbridge.connectors.bamboohr.config import BY_REASON, SOURCES, BambooHRConfig
from trainbridge.connectors.bamboohr.people import EmployeeRows
from trainbridge.connectors.bamboohr.shapes import (
    add_months,
    changed_entries,
    chunks,
    job_changes,
    latest_cursor,
    numeric_key,
    page_cursor,
    parse_cost,
    text,
    vendor_date,
)
from trainbridge.core.connector import Connector, ConnectorConfig, ConnectorContext
from trainbridge.core.errors import ConfigError, ConnectorError
from trainbridge.core.http import HttpClient
from trainbridge.core.records import (
    Certificate,
    CostAllocation,
    CostCategory,
    CostItem,
    DeliveryReceipt,
    Employee,
    EmploymentStatus,
    HealthResult,
    LearningEvent,
    LearningEventKind,
    Page,
    Reject,
    Separation,
    SeparationReason,
    TrainingResult,
    make_id,
)

_REPORT_FIELDS = ("employeeNumber", "displayName", "firstName", "lastName", "workEmail",
                  "department", "jobTitle", "supervisorEId", "supervisorId", "hireDate",
                  "status", "employmentHistoryStatus", "terminationDate")


class BambooHRConnector(Connector):
    """People, separations and training records from BambooHR; training results back."""

    config_model: ClassVar[type[ConnectorConfig]] = BambooHRConfig
    vendor: ClassVar[str] = "BambooHR"
    config: BambooHRConfig

    def __init__(self, name: str, config: ConnectorConfig, ctx: ConnectorContext | None = None) -> None:
        super().__init__(name, config, ctx)
        cfg = self.config
        self.zone = ZoneInfo(cfg.timezone)
        base_url = cfg.base_url.replace("{company_domain}", cfg.company_domain)
        self.http: HttpClient = self.ctx.http(
            base_url, instance=name, settings=cfg.http,
            auth=(cfg.api_key.get_secret_value(), "x"),
            headers={"Accept": "application/json"},
            error_hint=self._error_hint)
        self._bamboo_ids: dict[str, str] | None = None
        self.people = EmployeeRows(self.http, name, cfg.employees_from, self._post_json)
        # pluggy registers only the hook methods it finds on the instance: an operator who
        # reads employees only must not pay for a training scan of every employee.
        for source in SOURCES:
            if source not in cfg.sources:
                setattr(self, f"fetch_{source}", None)
        # Learning events and cost items come from the same training records: when both are
        # wanted, the learning scan yields both and a sync leaves fetch_cost_items alone (one
        # read of each employee's records per sync; see produces).
        self._one_scan = "learning_events" in cfg.sources and "cost_items" in cfg.sources
        if cfg.results is None:
            setattr(self, "push_training_result", None)  # noqa: B010 - see above

    # --- sources --------------------------------------------------------------------

    @hookimpl
    def fetch_employees(self, since: str | None) -> Iterator[Page]:
        cfg = self.config
        start = since or cfg.initial_since
        body = self.http.get_json("employees/changed", params={"since": start})
        entries = changed_entries(body, instance=self.name, what="GET /employees/changed")
        latest = latest_cursor(body, entries, start)
        if not entries:
            yield Page(cursor=latest)
            return
        history = self._job_history(start) if cfg.job_history else {}
        fields = self._report_fields()
        self.people.start()
        batches = list(chunks(entries, cfg.page_size))
        for number, batch in enumerate(batches, start=1):
            ids = [entry_id for _, entry_id, _ in batch]
            rows = self._report(ids, fields)
            page = Page()
            for _, entry_id, change in batch:
                row = rows.get(entry_id)
                if row is None:
                    page.rejects.append(Reject(model="employee", key=make_id(self.name, entry_id),
                                               raw=change, reason=self.people.missing_reason(entry_id)))
                    continue
                page.add(Employee, self._employee(entry_id, row, history.get(entry_id, [])),
                         raw=row)
            page.cursor = latest if number == len(batches) \
                else page_cursor(start, batches[number][0][0])
            yield page

    @hookimpl
    def fetch_separations(self, since: str | None) -> Iterator[Page]:
        cfg = self.config
        start = since or cfg.initial_since
        body = self.http.get_json("employees/changed/tables/employmentStatus",
                                  params={"since": start})
        entries = changed_entries(body, instance=self.name,
                                  what="GET /employees/changed/tables/employmentStatus")
        latest = latest_cursor(body, entries, start)
        if not entries:
            yield Page(cursor=latest)
            return
        batches = list(chunks(entries, cfg.page_size))
        self.people.start()
        for number, batch in enumerate(batches, start=1):
            keys = self._employee_keys([entry_id for _, entry_id, _ in batch])
            page = Page()
            for _, entry_id, value in batch:
                rows = value.get("rows") if isinstance(value.get("rows"), list) else []
                for row in rows:
                    if isinstance(row, dict) and text(row.get("employmentStatus")) in \
                            cfg.terminated_statuses:
                        self._separation(page, entry_id, keys.get(entry_id), row)
            page.cursor = latest if number == len(batches) \
                else page_cursor(start, batches[number][0][0])
            yield page

    def produces(self, hook: str) -> tuple[str, ...]:
        if self._one_scan and hook == "fetch_learning_events":
            return (*super().produces(hook), "cost_item")
        if self._one_scan and hook == "fetch_cost_items":
            return ()  # the learning scan brings them
        return super().produces(hook)

    @hookimpl
    def fetch_learning_events(self, since: str | None) -> Iterator[Page]:
        convert = self._learning_and_cost_records if self._one_scan else self._learning_records
        yield from self._training_scan(since, convert, "learning_event")

    @hookimpl
    def fetch_cost_items(self, since: str | None) -> Iterator[Page]:
        yield from self._training_scan(since, self._cost_records, "cost_item")

    # --- sink and health ------------------------------------------------------------

    @hookimpl
    def push_training_result(self, result: TrainingResult,
                             idempotency_key: str | None = None) -> DeliveryReceipt:
        """One row per result in the configured employee table; looked up before writing.

        BambooHR has no idempotency key: the row carries ``result.id`` in ``id_field``, and the
        receipt's ref is the same whether this call added the row or found it."""
        table = self.config.results
        if table is None:  # only reachable by calling the method directly
            raise ConfigError("no [results] table configured", table=f"connectors.{self.name}",
                              key="results", hint="add results = { table = ..., id_field = ... }")
        bamboo_id = self._bamboo_id(result.employee_id)
        path = f"employees/{bamboo_id}/tables/{table.table}"
        rows = self.http.get_json(path)
        for row in rows if isinstance(rows, list) else []:
            if isinstance(row, dict) and text(row.get(table.id_field)) == result.id:
                return DeliveryReceipt(ref=f"{table.table}:{bamboo_id}:{result.id}",
                                       detail="already written; left as it is")
        body: dict[str, str] = {table.id_field: result.id}
        if table.date_field:
            body[table.date_field] = datetime.now(self.zone).date().isoformat()
        for field, column in table.fields.items():
            value = getattr(result, field)
            if value is None or value == ():
                continue
            if isinstance(value, bool):
                body[column] = "Yes" if value else "No"
            elif isinstance(value, tuple):
                body[column] = ", ".join(str(v) for v in value)
            else:
                body[column] = str(value)
        # Not retried here: if the answer is lost, the outbox delivers again and the lookup
        # above finds the row instead of adding a second one.
        self.http.post(path, json=body)
        return DeliveryReceipt(ref=f"{table.table}:{bamboo_id}:{result.id}",
                               detail=f"row added to {table.table}")

    @hookimpl
    def healthcheck(self) -> HealthResult:
        fields = self.http.get_json("meta/fields")
        count = len(fields) if isinstance(fields, list) else 0
        return HealthResult(ok=True, detail=f"API key accepted; {count} employee fields visible")

    # --- employees ------------------------------------------------------------------

    def _report_fields(self) -> list[str]:
        cfg = self.config
        extra = [f for f in (cfg.legal_entity_field, cfg.site_field) if f]
        return list(dict.fromkeys([*_REPORT_FIELDS, *extra]))

    def _report(self, ids: Sequence[str], fields: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Fields of these employees, by BambooHR id: one custom report request, or the
        directory (``employees_from``; :mod:`.people`)."""
        return self.people.rows(ids, fields)

    def _employee(self, bamboo_id: str, row: dict[str, Any],
                  history: list[dict[str, Any]]) -> dict[str, Any]:
        cfg = self.config
        first, last = text(row.get("firstName")), text(row.get("lastName"))
        terminated = text(row.get("employmentHistoryStatus")) in cfg.terminated_statuses \
            or text(row.get("status")).lower() == "inactive"
        by_number = cfg.employee_key == "employeeNumber"
        manager = text(row.get("supervisorId" if by_number else "supervisorEId"))
        return {
            "id": make_id(self.name, bamboo_id),
            "employee_id": text(row.get("employeeNumber")) if by_number else bamboo_id,
            "name": text(row.get("displayName")) or f"{first} {last}".strip(),
            "email": text(row.get("workEmail")) or None,
            "department": text(row.get("department")),
            "job_title": text(row.get("jobTitle")),
            "manager_id": manager or None,
            "legal_entity": text(row.get(cfg.legal_entity_field)) if cfg.legal_entity_field else "",
            "site": text(row.get(cfg.site_field)) if cfg.site_field else "",
            "hire_date": vendor_date(row.get("hireDate")),
            "status": EmploymentStatus.TERMINATED if terminated else EmploymentStatus.ACTIVE,
            "job_history": job_changes(history),
        }

    def _job_history(self, since: str) -> dict[str, list[dict[str, Any]]]:
        body = self.http.get_json("employees/changed/tables/jobInfo", params={"since": since})
        entries = changed_entries(body, instance=self.name,
                                  what="GET /employees/changed/tables/jobInfo")
        return {entry_id: [r for r in value.get("rows") or [] if isinstance(r, dict)]
                for _, entry_id, value in entries}

    # --- separations ----------------------------------------------------------------

    def _separation(self, page: Page, bamboo_id: str, employee_id: str | None,
                    row: dict[str, Any]) -> None:
        cfg = self.config
        kind, why = text(row.get("terminationTypeId")), text(row.get("terminationReasonId"))
        vendor_reason = " / ".join(p for p in (kind, why) if p)
        day = vendor_date(row.get("date"))
        record_id = make_id(self.name, bamboo_id, "separation", day or row.get("id") or "?")
        by_type = cfg.termination_types.get(kind)
        reason = by_type if isinstance(by_type, SeparationReason) else \
            cfg.termination_reasons.get(why)
        if reason is None:
            where = "termination_reasons" if by_type == BY_REASON else \
                "termination_types (or termination_reasons)"
            page.rejects.append(Reject(
                model="separation", key=record_id, raw=row,
                reason=f"BambooHR termination {vendor_reason or '(no type or reason)'!r} of "
                       f"employee {bamboo_id} has no separation reason: add it to {where}"))
            return
        if employee_id is None:
            page.rejects.append(Reject(model="separation", key=record_id, raw=row,
                                       reason=f"employee {bamboo_id} has no {cfg.employee_key}"))
            return
        page.add(Separation, {"id": record_id, "employee_id": employee_id, "last_day": day,
                              "reason": reason, "note": text(row.get("comment")),
                              "vendor_reason": vendor_reason}, raw=row)

    # --- training records -------------------------------------------------------------

    def _training_scan(self, since: str | None,
                       convert: Callable[[Page, str, str, dict[str, Any], dict[str, Any]], None],
                       kind: str) -> Iterator[Page]:
        """Read the training records of each employee, a page of employees at a time.

        BambooHR has no bulk or changed-since endpoint for training records, so each employee
        is one request. The cursor is ``SINCE|ID`` while a scan is under way (resume after
        employee ID) and the changed-since ``latest`` timestamp once it is done. Each hook
        scans for itself: a sync calls each source hook once, so the records are read once
        per hook that needs them (docs/connectors/bamboohr.md, "Training records").
        """
        cfg = self.config
        scan_since, after = cfg.initial_since, None
        if since:
            done, _, resume = since.partition("|")
            if resume:
                scan_since, after = done, resume
            elif cfg.training_scan == "changed":
                scan_since = done
        body = self.http.get_json("employees/changed", params={"since": scan_since})
        entries = changed_entries(body, instance=self.name, what="GET /employees/changed")
        latest = latest_cursor(body, entries, scan_since)
        ids = sorted((e[1] for e in entries), key=numeric_key)
        if after is not None:
            ids = [i for i in ids if numeric_key(i) > numeric_key(after)]
        if not ids:
            yield Page(cursor=latest)
            return
        types = self._training_types()
        self.people.start()
        batches = list(chunks(ids, max(1, min(cfg.page_size, 200))))
        for number, batch in enumerate(batches, start=1):
            keys = self._employee_keys(batch)
            page = Page()
            for bamboo_id, records in self._training_records_of(batch):
                if not isinstance(records, dict):
                    continue  # [] when the employee has none
                for record_id, record in records.items():
                    if not isinstance(record, dict):
                        page.rejects.append(Reject(model=kind, raw=record,
                                                   reason="training record is not an object",
                                                   key=make_id(self.name, "training", record_id)))
                        continue
                    employee_id = keys.get(bamboo_id)
                    if employee_id is None:
                        page.rejects.append(Reject(
                            model=kind, raw=record, key=make_id(self.name, "training", record_id),
                            reason=f"employee {bamboo_id} has no {cfg.employee_key}"))
                        continue
                    type_info = types.get(text(record.get("type")), {})
                    convert(page, str(record.get("id") or record_id), employee_id, record,
                            type_info)
            page.cursor = latest if number == len(batches) else f"{scan_since}|{batch[-1]}"
            yield page

    def _training_records_of(self, ids: Sequence[str]) -> list[tuple[str, Any]]:
        """Each employee's training records answer, in the order of ``ids``: one GET per
        employee, ``training_concurrency`` of them in flight at once (429s and 503s are
        retried and a Retry-After holds for every request to the host, as for one)."""
        def fetch(bamboo_id: str) -> Any:
            return self.http.get_json(f"training/record/employee/{bamboo_id}")

        workers = min(self.config.training_concurrency, len(ids))
        if workers <= 1:
            return [(i, fetch(i)) for i in ids]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"{self.name}-training") as pool:
            return list(zip(ids, pool.map(fetch, ids), strict=True))

    def _learning_and_cost_records(self, page: Page, record_id: str, employee_id: str,
                                   record: dict[str, Any], type_info: dict[str, Any]) -> None:
        self._learning_records(page, record_id, employee_id, record, type_info)
        self._cost_records(page, record_id, employee_id, record, type_info)

    def _training_types(self) -> dict[str, dict[str, Any]]:
        body = self.http.get_json("training/type")
        if not isinstance(body, dict):
            return {}
        return {text(v.get("id") or k): v for k, v in body.items() if isinstance(v, dict)}

    def _by_type(self, table: dict[str, str], type_info: dict[str, Any], type_id: str) -> str | None:
        return table.get(type_id) or table.get(text(type_info.get("name")))

    def _learning_records(self, page: Page, record_id: str, employee_id: str,
                          record: dict[str, Any], type_info: dict[str, Any]) -> None:
        type_id = text(record.get("type"))
        completed = vendor_date(record.get("completed"))
        occurred: Any = completed
        if completed:
            try:
                occurred = datetime.combine(date.fromisoformat(completed), time(0), self.zone)
            except ValueError:
                occurred = completed  # validation turns it into a reject with the reason
        page.add(LearningEvent, {
            "id": make_id(self.name, "training", record_id),
            "employee_id": employee_id, "event": LearningEventKind.COMPLETED,
            "occurred_at": occurred,
            "program_id": self._by_type(self.config.programs, type_info, type_id),
            "object_id": text(type_info.get("name")) or f"training type {type_id}",
        }, raw=record)
        certificate = self._by_type(self.config.certificates, type_info, type_id)
        if certificate and isinstance(occurred, datetime):
            issued = occurred.date()
            frequency = type_info.get("frequency")
            renews = bool(type_info.get("renewable")) and str(frequency or "").isdigit()
            page.add(Certificate, {
                "id": make_id(self.name, "certificate", record_id),
                "employee_id": employee_id, "certificate": certificate, "issued_on": issued,
                "expires_on": add_months(issued, int(str(frequency))) if renews else None,
            }, raw=record)

    def _cost_records(self, page: Page, record_id: str, employee_id: str,
                      record: dict[str, Any], type_info: dict[str, Any]) -> None:
        item_id = make_id(self.name, "training", record_id, "cost")
        try:
            cost = parse_cost(record.get("cost"), self.config.default_currency)
        except ValueError as exc:
            page.rejects.append(Reject(model="cost_item", key=item_id, raw=record, reason=str(exc)))
            return
        if cost is None:
            return
        type_id = text(record.get("type"))
        name = text(type_info.get("name")) or f"training type {type_id}"
        instructor = text(record.get("instructor"))
        page.add(CostItem, {
            "id": item_id, "amount": cost[0], "currency": cost[1],
            "category": CostCategory.COURSE_FEE, "allocation": CostAllocation.EMPLOYEE,
            "employee_id": employee_id,
            "program_id": self._by_type(self.config.programs, type_info, type_id),
            "incurred_on": vendor_date(record.get("completed")),
            "description": f"{name} ({instructor})" if instructor else name,
        }, raw=record)

    # --- employee keys ----------------------------------------------------------------

    def _employee_keys(self, ids: Sequence[str]) -> dict[str, str]:
        """Our employee_id for each BambooHR id (absent when the key field is empty)."""
        if self.config.employee_key == "id":
            return {i: i for i in ids}
        rows = self._report(ids, ["employeeNumber"])
        return {i: text(rows[i].get("employeeNumber")) for i in ids
                if i in rows and text(rows[i].get("employeeNumber"))}

    def _bamboo_id(self, employee_id: str) -> str:
        if self.config.employee_key == "id":
            return employee_id
        if self._bamboo_ids is None:
            self.people.start()
            rows = self.people.rows(None, ["employeeNumber"])
            self._bamboo_ids = {text(r.get("employeeNumber")): bamboo_id for bamboo_id, r in rows.items()}
        try:
            return self._bamboo_ids[employee_id]
        except KeyError:
            msg = f"no BambooHR employee has employeeNumber {employee_id!r}"
            raise ConnectorError(msg, instance=self.name,
                                 hint="check the employee number in BambooHR") from None

    # --- plumbing ---------------------------------------------------------------------

    def _post_json(self, path: str, **kw: Any) -> Any:
        resp = self.http.post(path, **kw)
        try:
            return resp.json()
        except ValueError:
            msg = f"POST /{path} did not answer JSON"
            raise ConnectorError(msg, instance=self.name, status=resp.status_code,
                                 hint="check base_url: a proxy or login page may be answering") \
                from None

    def _error_hint(self, resp: requests.Response) -> str | None:
        message = resp.headers.get("X-BambooHR-Error-Message", "")
        status = resp.status_code
        if status == 401:
            hint = (f"BambooHR refused the API key of company {self.config.company_domain!r}: "
                    "check api_key and company_domain (a key stops working when its user is "
                    "deactivated)")
        elif status == 403:
            hint = ("the API key's user lacks a permission this call needs (employee fields, "
                    "reports, training or the table written to): grant it in BambooHR")
        elif status == 404 and "training" in resp.request.path_url:
            hint = "the training module may be off in this BambooHR account"
        else:
            hint = ""
        return "; ".join(p for p in (f"BambooHR says: {message}" if message else "", hint) if p)
