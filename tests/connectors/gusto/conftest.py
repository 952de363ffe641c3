"""A Gusto company faked with ``responses``: it keeps garnishments and payrolls between calls.

Payloads are the examples of Gusto's OpenAPI document (github.com/Gusto/gusto-typescript-client
and gusto-python-client, ``.speakeasy/logs/changes/new.openapi.yaml``): ``Employee``,
``Garnishment-List``, ``Payroll-Unprocessed`` and the prepared payroll's
``employee_compensations`` (fixtures/), with our company, employee and amounts filled in.
Errors follow ``Not-Found-Error-Object``/``Unprocessable-Entity-Error-Object``; paging uses
``page``/``per`` with ``X-Total-Pages`` (docs.gusto.com/embedded-payroll/docs/pagination).
As documented ("Get a single payroll"), GET of a payroll returns its ``employee_compensations``
only once it is calculated or processed; "Prepare a payroll for update" returns them for an
unprocessed payroll, and only to a token with ``employees:read``.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from trainbridge.connectors.gusto import GustoConnector
from trainbridge.core.connector import ConnectorContext
from trainbridge.core.records import AdjustmentKind, PayrollAdjustment
from trainbridge.testing import Clock

FIXTURES = Path(__file__).parent / "fixtures"
BASE = "https://api.gusto-demo.com"
COMPANY = "9aa93530-43d5-484e-b608-33214109420d"
EMPLOYEE = "d7282d99-ab6b-42f5-ba45-f4a670e886a8"
TOKEN = "gusto-company-access-token-0123456789"
BONUS_JOB = "94e0d15e-9ed2-4077-98f6-64554f242ba5"
TODAY = date(2025, 6, 2)


def payload(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Fault:
    method: str
    pattern: str
    status: int
    commit: bool = False  # do the write, then answer the error (the answer is lost)
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None


class FakeGusto:
    """One Gusto company: employees, garnishments and payrolls that persist between calls."""

    def __init__(self, mock: responses.RequestsMock) -> None:
        self.token_info = payload("token_info")
        self.employees = [payload("employee")]
        self.garnishments: dict[str, list[dict[str, Any]]] = {EMPLOYEE: payload("garnishments")}
        self.payrolls: dict[str, dict[str, Any]] = {}
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self.tokens = {TOKEN}
        self.refresh_tokens = {"refresh-token-1": ("access-token-2", "refresh-token-2")}
        self.per_page_override: int | None = None
        self._serial = 0
        mock.add_callback(responses.GET, re.compile(f"{BASE}/.*"), callback=self._handle)
        mock.add_callback(responses.POST, re.compile(f"{BASE}/.*"), callback=self._handle)
        mock.add_callback(responses.PUT, re.compile(f"{BASE}/.*"), callback=self._handle)

    # --- helpers for tests ----------------------------------------------------------

    def fail(self, method: str, pattern: str, status: int, **kw: Any) -> None:
        self.faults.append(Fault(method, pattern, status, **kw))

    def writes(self, method: str | None = None) -> list[Call]:
        return [c for c in self.calls if c.method != "GET" and (method is None or c.method == method)]

    def ours(self) -> list[dict[str, Any]]:
        return [g for g in self.garnishments[EMPLOYEE] if "[trainbridge " in str(g.get("description"))]

    def create_payroll(self, start: str, employees: list[str], reason: str = "Bonus") -> dict[str, Any]:
        self._serial += 1
        pid = f"4428f108-e46e-4ab6-ba20-{self._serial:012d}"
        payroll = payload("payroll_unprocessed")
        payroll.update(uuid=pid, payroll_uuid=pid, company_uuid=COMPANY, check_date=None,
                       off_cycle_reason=reason,
                       pay_period={"start_date": start, "end_date": start, "pay_schedule_uuid": None})
        comps = []
        for employee in employees:
            comp = payload("employee_compensation")
            comp.update(employee_uuid=employee, version=f"v{self._serial}-1")
            comps.append(comp)
        payroll["employee_compensations"] = comps
        self.payrolls[pid] = payroll
        return payroll

    # --- the fake API ---------------------------------------------------------------

    def _handle(self, request: Any) -> tuple[int, dict[str, str], str]:
        url = urlsplit(request.url)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        body = json.loads(request.body) if request.body else None
        self.calls.append(Call(request.method, url.path, query, dict(request.headers), body))
        fault = next((f for f in self.faults if f.method == request.method
                      and re.fullmatch(f.pattern, url.path)), None)
        if fault is not None:
            self.faults.remove(fault)
            if fault.commit:
                self._route(request.method, url.path, query, body)
            return fault.status, fault.headers, json.dumps(fault.body) if fault.body else ""
        if url.path != "/oauth/token" and request.headers.get("Authorization") not in \
                {f"Bearer {t}" for t in self.tokens}:
            return 401, {"X-Request-Id": "req-401"}, ""
        return self._route(request.method, url.path, query, body)

    def _route(self, method: str, path: str, query: dict[str, str],
               body: Any) -> tuple[int, dict[str, str], str]:
        routes: list[tuple[str, str, Callable[..., Any]]] = [
            ("GET", "/v1/token_info", lambda: self.token_info),
            ("GET", f"/v1/companies/{COMPANY}/employees", lambda: self.employees),
            ("GET", "/v1/employees/([^/]+)", self._employee),
            ("GET", "/v1/employees/([^/]+)/garnishments", lambda e: self.garnishments.get(e, [])),
            ("POST", "/v1/employees/([^/]+)/garnishments", lambda e: self._add_garnishment(e, body)),
            ("GET", "/v1/garnishments/([^/]+)", self._garnishment),
            ("GET", f"/v1/companies/{COMPANY}/payrolls", lambda: self._list_payrolls(query)),
            ("POST", f"/v1/companies/{COMPANY}/payrolls", lambda: self._create(body)),
            ("GET", f"/v1/companies/{COMPANY}/payrolls/([^/]+)", self._payroll),
            ("PUT", f"/v1/companies/{COMPANY}/payrolls/([^/]+)/prepare", self._prepare),
            ("PUT", f"/v1/companies/{COMPANY}/payrolls/([^/]+)", lambda p: self._update(p, body)),
            ("POST", "/oauth/token", lambda: self._refresh(body)),
        ]
        for verb, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if verb == method and match:
                result = handler(*match.groups())
                if isinstance(result, tuple):
                    return result
                status = 201 if method == "POST" and "garnishments" in path else 200
                if isinstance(result, list):
                    return self._page(result, query)
                return status, {"X-Request-Id": "req-ok"}, json.dumps(result)
        return 404, {"X-Request-Id": "req-404"}, json.dumps(payload("not_found"))

    def _page(self, items: list[Any], query: dict[str, str]) -> tuple[int, dict[str, str], str]:
        per = self.per_page_override or int(query.get("per", "25"))
        page = int(query.get("page", "1"))
        total = max(1, -(-len(items) // per))
        headers = {"X-Page": str(page), "X-Total-Pages": str(total), "X-Per-Page": str(per),
                   "X-Total-Count": str(len(items))}
        return 200, headers, json.dumps(items[(page - 1) * per: page * per])

    def _employee(self, uuid: str) -> Any:
        return next((e for e in self.employees if e["uuid"] == uuid), None) or \
            (404, {}, json.dumps(payload("not_found")))

    def _add_garnishment(self, employee: str, body: dict[str, Any]) -> dict[str, Any]:
        self._serial += 1
        item = {"uuid": f"5d7841a2-1363-497e-bc0f-{self._serial:012d}", "version": f"g{self._serial}",
                "employee_uuid": employee, "annual_maximum": None, "pay_period_maximum": None,
                "garnishment_type": None, "child_support": None, **body}
        self.garnishments.setdefault(employee, []).append(item)
        return item

    def _garnishment(self, uuid: str) -> Any:
        found = [g for items in self.garnishments.values() for g in items if g["uuid"] == uuid]
        return found[0] if found else (404, {}, json.dumps(payload("not_found")))

    def _list_payrolls(self, query: dict[str, str]) -> list[dict[str, Any]]:
        assert query.get("payroll_types") == "off_cycle"
        # The list carries no employee_compensations (schema Payroll-List).
        return [{k: v for k, v in p.items() if k != "employee_compensations"} for p in self.payrolls.values()]

    def _create(self, body: dict[str, Any]) -> dict[str, Any]:
        payroll = self.create_payroll(body["start_date"], body.get("employee_uuids") or [])
        payroll["check_date"] = body.get("check_date")
        payroll["off_cycle_reason"] = body.get("off_cycle_reason")
        if "skip_regular_deductions" in body:
            payroll["skip_regular_deductions"] = body["skip_regular_deductions"]
        return copy.deepcopy(payroll)

    def _payroll(self, pid: str) -> Any:
        if pid not in self.payrolls:
            return 404, {}, json.dumps(payload("not_found"))
        payroll = copy.deepcopy(self.payrolls[pid])
        if not (payroll.get("calculated_at") or payroll.get("processed")):
            payroll["employee_compensations"] = []
        return payroll

    def _prepare(self, pid: str) -> Any:
        if pid not in self.payrolls:
            return 404, {}, json.dumps(payload("not_found"))
        payroll = copy.deepcopy(self.payrolls[pid])
        if "employees:read" not in str(self.token_info.get("scope")).split():
            payroll["employee_compensations"] = []
        return payroll

    def _update(self, pid: str, body: dict[str, Any]) -> Any:
        payroll = self.payrolls[pid]
        changed = []
        for line in body["employee_compensations"]:
            comp = next(c for c in payroll["employee_compensations"]
                        if c["employee_uuid"] == line["employee_uuid"])
            if line.get("version") != comp["version"]:
                stale = {"error_key": "version", "category": "invalid_operation", "message": "stale version"}
                return 409, {}, json.dumps({"errors": [stale]})
            comp["memo"] = line.get("memo", comp.get("memo"))
            for fixed in line.get("fixed_compensations", []):
                target = next(f for f in comp["fixed_compensations"] if f["name"] == fixed["name"])
                target["amount"] = fixed["amount"]
            comp["version"] = comp["version"] + "+"
            changed.append(comp)
        return {**copy.deepcopy(payroll), "employee_compensations": copy.deepcopy(changed)}

    def _refresh(self, body: dict[str, Any]) -> Any:
        pair = self.refresh_tokens.pop(body.get("refresh_token"), None)
        if pair is None or body.get("grant_type") != "refresh_token":
            return 401, {}, json.dumps({"error": "invalid_grant"})
        self.tokens = {pair[0]}
        return {"access_token": pair[0], "refresh_token": pair[1], "scope": "public payroll:read",
                "token_type": "Bearer", "created_at": 1767644464, "expires_in": 7200}


@pytest.fixture
def fake() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def company(fake: responses.RequestsMock) -> FakeGusto:
    return FakeGusto(fake)


@pytest.fixture
def config() -> dict[str, Any]:
    return {"company_id": COMPANY, "access_token": TOKEN, "employees": {"E002": EMPLOYEE},
            "webhook_verification_token": "6590f590-3dba-495e-9bea-c361e1e2efc0",
            "http": {"backoff_base": 0, "max_attempts": 3}}


@pytest.fixture
def clock(tb_clock: Clock) -> Clock:
    """The kit's clock (TODAY, 09:00 UTC): the connector's context reads and waits on it."""
    assert tb_clock.today() == TODAY
    return tb_clock


@pytest.fixture
def make_gusto(config: dict[str, Any], tmp_path: Path, clock: Clock) -> Callable[..., GustoConnector]:
    def build(**overrides: Any) -> GustoConnector:
        conn = GustoConnector.from_mapping("gusto", {**config, **overrides},
                                           ConnectorContext(base_dir=tmp_path))
        assert isinstance(conn, GustoConnector)
        return conn

    return build


@pytest.fixture
def gusto(make_gusto: Callable[..., GustoConnector]) -> GustoConnector:
    return make_gusto()


def refund(amount: str = "850.00", **kw: Any) -> PayrollAdjustment:
    """The seed's leaver: 1700 x 50% = 850 owed, deducted once."""
    data: dict[str, Any] = {
        "id": "refund:hr:sep-E002", "employee_id": "E002", "adjustment": AdjustmentKind.DEDUCTION,
        "amount": Decimal(amount), "currency": "USD", "effective_date": date(2025, 5, 31),
        "reason": "training cost refund (service period not completed)"}
    return PayrollAdjustment(**{**data, **kw})


def credit(amount: str = "250.00", **kw: Any) -> PayrollAdjustment:
    """A refund corrected down after it was deducted (a voucher of 600 was really 100): the
    excess is given back."""
    data: dict[str, Any] = {
        "id": "refund:hr:sep-E002:credit-1", "employee_id": "E002", "adjustment": AdjustmentKind.CREDIT,
        "amount": Decimal(amount), "currency": "USD", "effective_date": date(2025, 6, 20),
        "reason": "training cost refund corrected: excess deducted is paid back"}
    return PayrollAdjustment(**{**data, **kw})


def bonus(amount: str = "500.00", **kw: Any) -> PayrollAdjustment:
    data: dict[str, Any] = {
        "id": "incentive:cert:E002:2025Q2", "employee_id": "E002", "adjustment": AdjustmentKind.BONUS,
        "amount": Decimal(amount), "currency": "USD", "effective_date": date(2025, 6, 20),
        "reason": "certificate obtained"}
    return PayrollAdjustment(**{**data, **kw})
