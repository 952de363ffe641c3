"""Issue 7: the seed story through one full ``sync`` with BambooHR, an xAPI LRS and Gusto.

BambooHR (faked) is the people source, the leaver's separation and the training records
(each trainee's course fee as its cost); an xAPI 1.0.3 LRS (faked) holds the managers'
learning; Gusto (faked) is the payroll sink; the built-in ``local_esign`` (auto_sign) and
the local RFC 3161 TSA sign and timestamp the agreements. Every vendor answers with payloads
copied from the connectors' own fixtures, which follow the vendors' references (cited in
tests/connectors/{bamboohr,xapi,gusto}/conftest.py).
"""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from tests.connectors.bamboohr.conftest import BASE as BAMBOO
from tests.connectors.bamboohr.conftest import payload as bamboo_payload
from tests.connectors.gusto.conftest import COMPANY, EMPLOYEE, TOKEN, FakeGusto
from tests.connectors.xapi.conftest import ENDPOINT, STATEMENTS
from tests.connectors.xapi.conftest import payload as xapi_payload
from tests.integration.conftest import (
    LAST_DAY,
    LEAVER,
    PAPER_SIGNED,
    SEED_DAY,
    TRAINEES,
    TRAINING_DAY,
    agreements_job,
    write_catalog,
    write_costs,
    write_paper_agreement,
)
from trainbridge.core.runner import approve_proposals, sync

BAMBOO_KEY = "bamboo-api-key-0123456789abcdef"
LRS_SECRET = "lrs-secret-0123456789"
FIRE_TYPE = "7"  # BambooHR training type of the fire-control course
MANAGERS = [("201", "M001", "孙强"), ("202", "M002", "朱丽")]
LATEST = "2026-05-11T01:00:00+00:00"
ADL = "http://adlnet.gov/expapi/verbs/"
PLAN_VERB = "https://xapi.acme.example/verbs/submitted-action-plan"
ARTICLE_VERB = "https://xapi.acme.example/verbs/published-reflection"
LEAD_SESSION = "https://lms.acme.example/sessions/lead-101-1"
LEAD_COURSE = "https://lms.acme.example/courses/lead-101"
NEG_COURSE = "https://lms.acme.example/courses/negotiation-online"


def bamboo_id(employee_id: str) -> str:
    """BambooHR's own ids: 101-110 for the trainees (E001-E010), 201-202 for the managers."""
    return str(100 + int(employee_id[1:])) if employee_id.startswith("E") else \
        next(b for b, e, _ in MANAGERS if e == employee_id)


class FakeBambooHR:
    """One BambooHR company: the seed's people, E003's resignation, the trainees' training records."""

    def __init__(self, mock: responses.RequestsMock) -> None:
        template = bamboo_payload("custom_report")["employees"][1]  # an active store manager
        self.people: list[dict[str, Any]] = []
        for bid, eid, name in MANAGERS:
            self.people.append({**template, "id": bid, "employeeNumber": eid, "displayName": name,
                                "workEmail": f"{eid.lower()}@acme.example", "jobTitle": "部门经理",
                                "supervisorEId": None, "supervisorId": None, "hireDate": "2020-03-01",
                                "division": "ACME-US", "location": "Houston"})
        for eid, name in TRAINEES:
            self.people.append({**template, "id": bamboo_id(eid), "employeeNumber": eid, "displayName": name,
                                "workEmail": f"{eid.lower()}@acme.example", "department": "Operations",
                                "jobTitle": "Fire control operator", "supervisorEId": "201",
                                "supervisorId": "M001", "hireDate": "2022-11-10", "division": "ACME-US",
                                "location": "Houston"})
        leaver = next(p for p in self.people if p["employeeNumber"] == LEAVER)
        leaver.update(status="Inactive", employmentHistoryStatus="Terminated",
                      terminationDate=LAST_DAY.isoformat())
        # The fixture's resignation row, moved to E003's last day.
        hired, resigned = copy.deepcopy(bamboo_payload("changed_employment_status")["employees"]["4"]["rows"])
        hired["date"], resigned["date"] = "2022-11-10", LAST_DAY.isoformat()
        self.status_rows = {bamboo_id(LEAVER): [hired, resigned]}
        fire = {**bamboo_payload("training_types")["2"], "id": int(FIRE_TYPE),
                "name": "Fire Control Operator Certificate"}
        self.types = {**bamboo_payload("training_types"), FIRE_TYPE: fire}
        record = bamboo_payload("training_records_3")["31"]
        self.training = {
            bamboo_id(eid): {str(900 + n): {**record, "id": 900 + n, "employeeId": bamboo_id(eid),
                                            "completed": TRAINING_DAY.isoformat(), "type": FIRE_TYPE,
                                            "instructor": "Shanghai Fire Academy", "cost": "1000.00 USD"}}
            for n, (eid, _) in enumerate(TRAINEES, start=1)}
        self.calls: list[tuple[str, str, dict[str, str], Any, dict[str, str]]] = []
        mock.add_callback(responses.GET, re.compile(f"{BAMBOO}/.*"), callback=self._handle)
        mock.add_callback(responses.POST, re.compile(f"{BAMBOO}/.*"), callback=self._handle)

    def _handle(self, request: Any) -> tuple[int, dict[str, str], str]:
        url = urlsplit(request.url)
        path = url.path.removeprefix(urlsplit(BAMBOO).path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        body: Any = json.loads(request.body) if request.body else None
        self.calls.append((request.method, path, query, body, dict(request.headers)))
        if path == "/employees/changed":
            return self._json(self._changed(query["since"], {p["id"]: p for p in self.people}))
        if path == "/employees/changed/tables/employmentStatus":
            changed = self._changed(query["since"], self.status_rows)
            return self._json({"table": "employmentStatus", "employees": {
                bid: {"lastChanged": entry["lastChanged"], "rows": self.status_rows[bid]}
                for bid, entry in dict(changed["employees"] or {}).items()}})
        if path == "/reports/custom":
            wanted = {str(i) for i in body["filters"]["employeeIds"]}
            rows = [{k: v for k, v in p.items() if k == "id" or k in body["fields"]}
                    for p in self.people if p["id"] in wanted]
            fields = [f for f in bamboo_payload("custom_report")["fields"] if f["id"] in body["fields"]]
            return self._json({"title": body["title"], "fields": fields, "employees": rows})
        if path == "/training/type":
            return self._json(self.types)
        if path.startswith("/training/record/employee/"):
            return self._json(self.training.get(path.rsplit("/", 1)[1], []))  # PHP's empty map is []
        return 404, {"X-BambooHR-Error-Message": "Not found"}, ""

    @staticmethod
    def _changed(since: str, ids: dict[str, Any]) -> dict[str, Any]:
        """Everyone changed at LATEST: a read from before it sees them all, a later one nobody."""
        fresh = since < LATEST.replace("+00:00", "Z")
        return {"latest": LATEST, "employees": {
            bid: {"id": bid, "action": "Updated", "lastChanged": LATEST} for bid in ids} if fresh else []}

    @staticmethod
    def _json(body: Any) -> tuple[int, dict[str, str], str]:
        return 200, {"Content-Type": "application/json"}, json.dumps(body)


def statement(sid: str, who: dict[str, Any], verb: str, activity: str, timestamp: str, stored: str,
              parent: str | None = None) -> dict[str, Any]:
    """A statement shaped like the spec's example in the xAPI fixture, with our actor and verb."""
    body = copy.deepcopy(xapi_payload("statements_page1")["statements"][0])
    body.update(id=sid, actor={"objectType": "Agent", **who}, verb={"id": verb},
                object={"id": activity, "objectType": "Activity"}, timestamp=timestamp, stored=stored)
    body.pop("authority")
    if parent:
        body["context"]["contextActivities"]["parent"] = [{"id": parent, "objectType": "Activity"}]
    else:
        body.pop("context")
    return body


class FakeLRS:
    """The managers' statements: two pages joined by a ``more`` IRL, then nothing new."""

    MORE = "/xapi/statements?more=cGFnZS0y"

    def __init__(self, mock: responses.RequestsMock) -> None:
        sun = {"mbox": "mailto:sun.qiang@acme.example"}  # mapped by employee_ids
        zhu = {"account": {"homePage": "https://lms.acme.example", "name": "M002"}}
        self.statements = [
            statement("2f8c7f0e-1b6e-4c55-9d0e-6a1f3c1d0001", sun, f"{ADL}attended", LEAD_SESSION,
                      "2026-03-10T08:55:00+08:00", "2026-03-10T00:56:00.000Z", LEAD_COURSE),
            statement("2f8c7f0e-1b6e-4c55-9d0e-6a1f3c1d0002", zhu, f"{ADL}attended", LEAD_SESSION,
                      "2026-03-10T09:10:00+08:00", "2026-03-10T01:11:00.000Z", LEAD_COURSE),
            statement("2f8c7f0e-1b6e-4c55-9d0e-6a1f3c1d0003", zhu, f"{ADL}completed", NEG_COURSE,
                      "2026-03-15T10:00:00Z", "2026-03-15T10:00:01.000Z"),
            statement("2f8c7f0e-1b6e-4c55-9d0e-6a1f3c1d0004", sun, PLAN_VERB,
                      "https://lms.acme.example/plans/m001-lead-101", "2026-03-20T09:00:00Z",
                      "2026-03-20T09:00:00.500Z", LEAD_COURSE),
            statement("2f8c7f0e-1b6e-4c55-9d0e-6a1f3c1d0005", zhu, ARTICLE_VERB,
                      "https://wiki.acme.example/reflections/lead-101-zhu", "2026-03-25T12:00:00Z",
                      "2026-03-25T12:00:00.800Z"),
            # An ADL verb the configuration leaves unmapped: ignored, the run goes on.
            statement("2f8c7f0e-1b6e-4c55-9d0e-6a1f3c1d0006", sun, f"{ADL}experienced", NEG_COURSE,
                      "2026-03-26T12:00:00Z", "2026-03-26T12:00:00.000Z"),
        ]
        self.calls: list[tuple[dict[str, str], dict[str, str]]] = []
        mock.add_callback(responses.GET, STATEMENTS, callback=self._handle)

    def _handle(self, request: Any) -> tuple[int, dict[str, str], str]:
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        self.calls.append((query, dict(request.headers)))
        headers = {"X-Experience-API-Version": "1.0.3",
                   "X-Experience-API-Consistent-Through": "2026-05-11T00:00:00.000Z"}
        if "more" in query:
            page = {"statements": self.statements[3:], "more": ""}
        elif "since" in query:
            page = {"statements": [s for s in self.statements if s["stored"] > query["since"]], "more": ""}
        else:
            page = {"statements": self.statements[:3], "more": self.MORE}
        return 200, headers, json.dumps(page)


@pytest.fixture
def vendors() -> Iterator[tuple[FakeBambooHR, FakeLRS, FakeGusto]]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeBambooHR(mock), FakeLRS(mock), FakeGusto(mock)


@pytest.fixture
def us_stack(make_workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    return make_workspace(stack_config(tmp_path, monkeypatch))


@pytest.fixture
def us_stack_under(make_workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The same stack with ``[jobs.separations]`` extended (jurisdictions, credentials), and the
    leaver's paper agreement signed when ``paper_signed`` says."""
    return lambda paper_signed=PAPER_SIGNED, **separations: make_workspace(
        stack_config(tmp_path, monkeypatch, paper_signed=paper_signed, **separations))


def stack_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, paper_signed: datetime = PAPER_SIGNED,
                 **separations: Any) -> dict[str, Any]:
    monkeypatch.setenv("BAMBOOHR_API_KEY", BAMBOO_KEY)
    monkeypatch.setenv("LRS_SECRET", LRS_SECRET)
    monkeypatch.setenv("GUSTO_ACCESS_TOKEN", TOKEN)
    fast = {"backoff_base": 0, "max_attempts": 2}
    return {
        "connectors": {
            "bamboo": {"type": "bamboohr", "company_domain": "acme", "api_key": "${BAMBOOHR_API_KEY}",
                       "employee_key": "employeeNumber", "programs": {"Fire Control Operator Certificate":
                                                                     "FIRE-CTRL"},
                       "default_currency": "USD", "http": fast},
            "lrs": {"type": "xapi", "endpoint": ENDPOINT, "username": "lrs-key", "password": "${LRS_SECRET}",
                    "employee_ids": {"mailto:sun.qiang@acme.example": "M001"},
                    "verbs": {PLAN_VERB: "action_plan_submitted", ARTICLE_VERB: "article"},
                    "sessions": {LEAD_SESSION: "LEAD-101-1"},
                    "programs": {LEAD_COURSE: "LEAD-101", NEG_COURSE: "NEG-ONLINE"}, "http": fast},
            # The LMS's catalog (programs, sessions, enrollments: BambooHR has none of these).
            # and the leaver's agreement, signed on paper before trainbridge ran: BambooHR says she
            # has left, so the agreements job drafts nothing for her.
            "lms": {"type": "file_learning", "catalog": write_catalog(tmp_path),
                    "agreements": write_paper_agreement(tmp_path, currency="USD", signed_at=paper_signed)},
            # BambooHR's training cost is one amount on one employee's record: it cannot say
            # "per head of this session" or "shared by the session", so travel and the
            # instructor come from the finance export.
            "finance": {"type": "csv_costs", "path": write_costs(tmp_path, "USD", course_fees=False)},
            "payroll": {"type": "gusto", "company_id": COMPANY, "access_token": "${GUSTO_ACCESS_TOKEN}",
                        "employees": {LEAVER: EMPLOYEE}, "http": fast},
            "esign": {"type": "local_esign", "folder": "esign", "auto_sign": True},
            "tsa": {"type": "rfc3161", "url": "local", "local_dir": ".tsa"},
            "notices": {"type": "file_notifier", "path": "out/notices.jsonl"},
        },
        "jobs": {
            "agreements": agreements_job("USD"),
            # A BambooHR training record carries no invoice number (凭证): count its cost anyway.
            "costs": {"include_unvouchered": True},
            "separations": {"include_unvouchered": True, **separations},
            # BambooHR says who reports to whom, not who is a manager: score everyone (only the
            # managers' LRS events earn points; the trainees' offline completions do not).
            "points": {"managers_only": False},
        },
    }


def decisions(ws, kind: str, subject: str | None = None) -> list[dict[str, Any]]:
    with ws.ledger.transaction() as conn:
        return ws.ledger.list_decisions(conn, kind, subject=subject)


def records(ws, kind: str) -> list[Any]:
    with ws.ledger.transaction() as conn:
        return list(ws.ledger.iter_records(conn, kind))


def garnishment_posts(company: FakeGusto) -> list[Any]:
    return [c for c in company.writes("POST") if c.path == f"/v1/employees/{EMPLOYEE}/garnishments"]


def test_seed_story_end_to_end_with_bamboohr_xapi_and_gusto(us_stack, vendors):
    bamboo, lrs, gusto = vendors
    ws = us_stack

    results = {r.job: r for r in sync(ws, today=SEED_DAY)}

    assert {job: r.status for job, r in results.items()} == {
        "ingest": "ok", "agreements": "ok", "costs": "ok", "separations": "ok", "certificates": "ok",
        "points": "ok", "points_reminders": "ok", "incentives": "ok"}, \
        {job: r.errors for job, r in results.items() if r.errors}

    # People and the separation from BambooHR, the managers' learning from the LRS.
    employees = {e.employee_id: e for e in records(ws, "employee")}
    assert len(employees) == 12 and employees[LEAVER].status == "terminated"
    assert employees["E001"].legal_entity == "ACME-US" and employees["E001"].manager_id == "M001"
    [separation] = records(ws, "separation")
    assert (separation.employee_id, separation.last_day, separation.reason) == (
        LEAVER, LAST_DAY, "resignation")
    assert separation.vendor_reason == "Resignation (Voluntary) / Other employment"
    events = records(ws, "learning_event")
    assert sorted(e.event for e in events if e.source == "lrs") == [
        "action_plan_submitted", "article", "attended", "attended", "completed"]
    assert sum(1 for e in events if e.source == "bamboo" and e.program_id == "FIRE-CTRL") == 10

    # Agreements drafted, signed at local_esign and timestamped by the local TSA; the leaver's
    # signed on paper before the training, none drafted for her.
    agreements = {a.employee_id: a for a in records(ws, "agreement")}
    assert len(agreements) == 10 and {a.status for a in agreements.values()} == {"signed"}
    leaver_agreement = agreements[LEAVER]
    assert leaver_agreement.id == "lms:paper-FIRE-CTRL-1-E003"
    assert (leaver_agreement.service_start.isoformat(), leaver_agreement.service_end.isoformat()) == (
        "2025-05-11", "2027-05-11")
    assert {r.agreement_id for r in records(ws, "evidence_receipt")} == {
        a.id for a in agreements.values() if a.employee_id != LEAVER}

    # Costs: 1000 course fee (BambooHR) + 500 travel per head + 2000 / 10 instructor = 1700 each.
    per_employee: dict[str, Decimal] = {}
    for row in decisions(ws, "cost_allocation"):
        per_employee[row["subject"]] = per_employee.get(row["subject"], Decimal(0)) + Decimal(row["amount"])
    assert per_employee == {eid: Decimal("1700.00") for eid, _ in TRAINEES}
    leaver_lines = decisions(ws, "cost_allocation", subject=LEAVER)
    assert {(r["payload"]["category"], r["amount"]) for r in leaver_lines} == {
        ("course_fee", Decimal("1000.00")), ("travel", Decimal("500.00")), ("instructor", Decimal("200.00"))}

    # Points for the managers, from the LRS verbs.
    points: dict[str, int] = {}
    for entry in records(ws, "points_entry"):
        points[entry.employee_id] = points.get(entry.employee_id, 0) + entry.points
    assert points == {"M001": 10 + 20, "M002": 10 - 2 + 5 + 15}
    rules = sorted((e.employee_id, e.rule) for e in records(ws, "points_entry"))
    assert rules == [("M001", "action_plan_submitted"), ("M001", "offline_attended"),
                     ("M002", "late"), ("M002", "offline_attended"), ("M002", "online_completed"),
                     ("M002", "reflection_article")]

    # The leaver's refund, quoted and explained, waits for HR.
    [quote] = decisions(ws, "refund_quote", subject=LEAVER)
    assert quote["amount"] == Decimal("850.00") and quote["currency"] == "USD"
    explanation = "\n".join(quote["explanation"])
    assert f"Departure: last day {LAST_DAY} (served in full), reason resignation" in explanation
    assert ("Refundable base 1700.00 USD = course_fee 1000.00 (bamboo:training:903:cost) + "
            "instructor 200.00 (finance:INSTR-1) + travel 500.00 (finance:TRV-1)") in explanation
    assert "Served 12 of 24 months through 2026-05-10; unserved 12 months." in explanation
    assert "Pro rata: 1700.00 x 12 / 24 = 1700.00 x 1/2 = 850.00 USD" in explanation
    assert "Total owed: 850.00 USD." in explanation
    proposal_id = f"refund:bamboo:{bamboo_id(LEAVER)}:separation:{LAST_DAY}"
    assert quote["payload"]["proposal"] == proposal_id
    assert garnishment_posts(gusto) == []  # money waits for HR

    assert approve_proposals(ws, [proposal_id], actor="hr@acme.example") == {
        proposal_id: "approved and delivered"}

    # A second full sync and a second approval post nothing more.
    again = {r.job: r for r in sync(ws, today=SEED_DAY)}
    assert {r.status for r in again.values()} == {"ok"}, {j: r.errors for j, r in again.items() if r.errors}
    assert all("proposals" not in r.counts and "delivered" not in r.counts for r in again.values())
    second_approval = approve_proposals(ws, [proposal_id], actor="hr@acme.example")
    assert second_approval[proposal_id].startswith("not pending")

    [post] = garnishment_posts(gusto)
    assert post.headers["Authorization"] == f"Bearer {TOKEN}"
    assert post.headers["X-Gusto-API-Version"] == "2026-06-15"
    assert post.body["total_amount"] == "850.00" and post.body["amount"] == "850.00"
    assert (post.body["times"], post.body["recurring"], post.body["court_ordered"]) == (1, False, False)
    assert post.body["description"].startswith("Training cost refund [trainbridge ")
    [ours] = gusto.ours()
    with ws.ledger.transaction() as conn:
        [row] = ws.ledger.outbox(conn, operation="post_adjustment")
        assert ws.ledger.get_proposal(conn, proposal_id)["status"] == "delivered"
    assert (row.state, row.ref) == ("delivered", f"garnishment:{ours['uuid']}")

    # What we sent BambooHR: Basic auth with the key, JSON, one custom report per page of ids.
    basic = "Basic " + base64.b64encode(f"{BAMBOO_KEY}:x".encode()).decode()
    assert {c[4]["Authorization"] for c in bamboo.calls} == {basic}
    assert {c[4]["Accept"] for c in bamboo.calls} == {"application/json"}
    reports = [c for c in bamboo.calls if c[1] == "/reports/custom"]
    assert reports and all(c[2] == {"format": "json"} for c in reports)
    people_report = next(c[3] for c in reports if "displayName" in c[3]["fields"])
    assert sorted(people_report["filters"]["employeeIds"]) == [101, 102, 103, 104, 105, 106, 107, 108,
                                                                109, 110, 201, 202]
    assert {"division", "location", "terminationDate"} <= set(people_report["fields"])
    first_reads = [c[2]["since"] for c in bamboo.calls
                   if c[1] == "/employees/changed/tables/employmentStatus"]
    assert first_reads[0] == "1970-01-01T00:00:00Z" and "2026-05-11T01:00:00Z" in first_reads
    assert {c[1] for c in bamboo.calls if c[1].startswith("/training/record/")} == {
        f"/training/record/employee/{bid}" for bid in [*(bamboo_id(e) for e, _ in TRAINEES), "201", "202"]}
    # ... and the LRS: the xAPI version header, Basic auth, ascending pages, the more IRL, then since.
    lrs_basic = "Basic " + base64.b64encode(f"lrs-key:{LRS_SECRET}".encode()).decode()
    assert {h["X-Experience-API-Version"] for _, h in lrs.calls} == {"1.0.3"}
    assert {h["Authorization"] for _, h in lrs.calls} == {lrs_basic}
    first, more = lrs.calls[0][0], lrs.calls[1][0]
    assert first == {"limit": "500", "ascending": "true", "format": "ids"} and more == {"more": "cGFnZS0y"}
    assert any(q.get("since") == "2026-03-26T11:59:59.000Z" for q, _ in lrs.calls)


# --- issue 23: the leaver under the US policies -----------------------------------------

JURISDICTIONS = {"ACME-US-CA": "us-ca", "ACME-US-TX": "us"}
#: The fire-control certificate's tuition agreement as counsel describes it: every condition
#: of the transferable-credential exception met (Bus. & Prof. Code 16608).
CREDENTIAL_TUITION = {"service-24m": {
    "credential": "Fire Control Operator Certificate", "transferable": True, "offered_separately": True,
    "condition_of_employment": False, "repayment_amount": "1700.00", "prorated": True, "accelerated": False,
    "owed_on_termination": False}}


def leaver_at(bamboo: FakeBambooHR, division: str, location: str) -> None:
    """E003 works for another legal entity (BambooHR's division) and location."""
    person = next(p for p in bamboo.people if p["employeeNumber"] == LEAVER)
    person.update(division=division, location=location)


def quote_after_sync(ws) -> dict[str, Any]:
    results = {r.job: r for r in sync(ws, today=SEED_DAY)}
    assert {r.status for r in results.values()} == {"ok"}, \
        {j: r.errors for j, r in results.items() if r.errors}
    agreement = next(a for a in records(ws, "agreement") if a.employee_id == LEAVER)
    # Signed before her last day, so it binds (California's tests sign it in 2026: AB 692 governs).
    assert agreement.status == "signed" and agreement.signed_at.date() <= LAST_DAY
    [quote] = decisions(ws, "refund_quote", subject=LEAVER)
    assert quote["payload"]["agreements"] == [agreement.id]
    return quote


#: A California agreement entered into under AB 692 (in force 2026-01-01), before her last day.
SIGNED_IN_2026 = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)


def test_a_california_leaver_under_us_ca_owes_nothing_the_repayment_term_is_void(us_stack_under, vendors):
    bamboo, _, gusto = vendors
    leaver_at(bamboo, "ACME-US-CA", "San Jose")
    ws = us_stack_under(paper_signed=SIGNED_IN_2026, jurisdictions=JURISDICTIONS)

    quote = quote_after_sync(ws)

    assert quote["payload"]["group"] == "us-ca:USD"
    assert quote["amount"] == Decimal("0.00") and quote["currency"] == "USD"
    explanation = "\n".join(quote["explanation"])
    assert explanation.startswith("Policy us-ca: California, AB 692 (2025)")
    assert "Served 12 of 24 months through 2026-05-10; unserved 12 months." in explanation
    assert "the repayment term is void" in explanation
    assert "(Bus. & Prof. Code 16608; Lab. Code 926(a))" in explanation
    assert "Lab. Code 926(c)" in explanation
    assert quote["payload"]["proposal"] is None
    with ws.ledger.transaction() as conn:
        assert ws.ledger.list_proposals(conn, kind="refund") == []
    assert garnishment_posts(gusto) == []


def test_a_california_leaver_with_a_credential_tuition_agreement_owes_the_prorated_850(us_stack_under,
                                                                                       vendors):
    bamboo, _, gusto = vendors
    leaver_at(bamboo, "ACME-US-CA", "San Jose")
    ws = us_stack_under(paper_signed=SIGNED_IN_2026, jurisdictions=JURISDICTIONS,
                        credentials=CREDENTIAL_TUITION)

    quote = quote_after_sync(ws)

    assert quote["payload"]["group"] == "us-ca:USD"
    assert quote["amount"] == Decimal("850.00")
    explanation = "\n".join(quote["explanation"])
    assert "Tuition exception met for Fire Control Operator Certificate" in explanation
    assert "Prorated: 1700.00 x 12 / 24 = 1700.00 x 1/2 = 850.00 USD" in explanation
    assert "(the worker resigned; Bus. & Prof. Code 16608 (tuition for a transferable credential))" \
        in explanation
    assert "Warning: no acceleration" in explanation and "Lab. Code 221" in explanation
    proposal_id = quote["payload"]["proposal"]
    with ws.ledger.transaction() as conn:
        assert ws.ledger.get_proposal(conn, proposal_id)["status"] == "pending"
    assert garnishment_posts(gusto) == []  # HR decides, with the warnings in front of them


def test_a_texas_leaver_under_us_owes_850_pro_rata_with_the_flsa_flag(us_stack_under, vendors):
    bamboo, _, gusto = vendors
    leaver_at(bamboo, "ACME-US-TX", "Houston")
    ws = us_stack_under(jurisdictions=JURISDICTIONS)

    quote = quote_after_sync(ws)

    assert quote["payload"]["group"] == "us:USD"
    assert quote["amount"] == Decimal("850.00")
    explanation = "\n".join(quote["explanation"])
    assert explanation.startswith("Policy us: United States, pro rata repayment as agreed")
    assert "Pro rata: 1700.00 x 12 / 24 = 1700.00 x 1/2 = 850.00 USD" in explanation
    assert "needs the final-pay figure" in explanation and "29 CFR 531.35" in explanation
    assert "Implementing Regulations" not in explanation  # no PRC law for a Texas leaver
    proposal_id = quote["payload"]["proposal"]
    assert approve_proposals(ws, [proposal_id], actor="hr@acme.example") == {
        proposal_id: "approved and delivered"}
    [post] = garnishment_posts(gusto)
    assert post.body["amount"] == "850.00"
