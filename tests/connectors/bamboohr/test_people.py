"""BambooHR people: changed-since employees and separations, what we send and what we read."""

from __future__ import annotations

import base64
import json
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from trainbridge.core.errors import AuthError, ServerError
from trainbridge.core.records import EmploymentStatus, JobChange, SeparationReason

from .conftest import (
    API_KEY,
    CHANGED,
    EMPLOYMENT_STATUS,
    JOB_INFO,
    REPORT,
    payload,
    report_callback,
    report_for,
)


def query(call: responses.Call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def test_a_full_read_asks_for_every_change_and_one_report_per_page(bamboo, fake):
    fake.add(responses.GET, CHANGED, json=payload("changed_employees"))
    fake.add_callback(responses.POST, REPORT, callback=report_callback)

    pages = list(bamboo.fetch_employees(since=None))

    changed, report = fake.calls[0], fake.calls[1]
    expected = "Basic " + base64.b64encode(f"{API_KEY}:x".encode()).decode()
    assert changed.request.headers["Authorization"] == expected
    assert changed.request.headers["Accept"] == "application/json"
    assert query(changed) == {"since": ["1970-01-01T00:00:00Z"]}
    assert urlsplit(report.request.url).path == "/api/gateway.php/acme/v1/reports/custom"
    assert query(report) == {"format": ["json"]}
    # BambooHR reads the body as XML unless Content-Type is exactly application/json.
    assert report.request.headers["Content-Type"] == "application/json"
    body = json.loads(report.request.body)
    assert body["filters"] == {"employeeIds": [10, 3, 4]}  # oldest change first; 5 was deleted
    assert {"workEmail", "supervisorEId", "division", "location"} <= set(body["fields"])
    assert len(fake.calls) == 2
    [page] = pages
    assert page.cursor == "2024-07-01T09:30:00Z"  # the server's "latest"
    assert not page.rejects


def test_employees_are_translated_field_by_field(bamboo, fake):
    fake.add(responses.GET, CHANGED, json=payload("changed_employees"))
    fake.add_callback(responses.POST, REPORT, callback=report_callback)

    [page] = list(bamboo.fetch_employees(since=None))
    people = {e.employee_id: e for e in page.records}

    zhang = people["3"]
    assert zhang.id == "bamboo:3"
    assert (zhang.name, zhang.email, zhang.department, zhang.job_title) == \
        ("Zhang San", "zhang.san@example.cn", "Sales", "Store Manager")
    assert zhang.manager_id == "10"
    assert (zhang.legal_entity, zhang.site) == ("Acme Shanghai Ltd", "Shanghai")
    assert zhang.hire_date == date(2023, 2, 1)
    assert zhang.status is EmploymentStatus.ACTIVE
    wang = people["4"]
    assert wang.name == "Wang Wu"  # no display name: first and last
    assert wang.email is None
    assert wang.hire_date is None  # BambooHR's 0000-00-00
    assert wang.status is EmploymentStatus.TERMINATED
    assert people["10"].manager_id is None


def test_employee_numbers_can_be_the_employee_id(make_bamboo, fake):
    bamboo = make_bamboo(employee_key="employeeNumber", legal_entity_field="", site_field="")
    fake.add(responses.GET, CHANGED, json=payload("changed_employees"))
    fake.add_callback(responses.POST, REPORT, callback=report_callback)

    [page] = list(bamboo.fetch_employees(since=None))
    zhang = next(e for e in page.records if e.id == "bamboo:3")
    assert (zhang.employee_id, zhang.manager_id) == ("E0003", "E0010")
    assert (zhang.legal_entity, zhang.site) == ("", "")


def test_pages_of_changed_employees_each_carry_a_resumable_cursor(make_bamboo, fake):
    bamboo = make_bamboo(page_size=2)
    fake.add(responses.GET, CHANGED, json=payload("changed_employees"))
    fake.add_callback(responses.POST, REPORT, callback=report_callback)

    pages = list(bamboo.fetch_employees(since=None))

    assert [[e.employee_id for e in p.records] for p in pages] == [["10", "3"], ["4"]]
    asked = [json.loads(c.request.body)["filters"]["employeeIds"] for c in fake.calls[1:]]
    assert asked == [[10, 3], [4]]
    # One second before the next page's first change: a boundary inside a second is re-read.
    assert pages[0].cursor == "2024-07-01T09:29:59Z"
    assert pages[1].cursor == "2024-07-01T09:30:00Z"


def test_an_incremental_read_sends_the_saved_cursor(bamboo, fake):
    fake.add(responses.GET, CHANGED, json={"latest": "2024-07-02T10:00:00+00:00", "employees": {
        "3": {"id": "3", "action": "Updated", "lastChanged": "2024-07-02T10:00:00+00:00"}}})
    fake.add(responses.POST, REPORT, json=report_for(["3"]))

    [page] = list(bamboo.fetch_employees(since="2024-07-01T09:30:00Z"))

    assert query(fake.calls[0]) == {"since": ["2024-07-01T09:30:00Z"]}
    assert [e.employee_id for e in page.records] == ["3"]
    assert page.cursor == "2024-07-02T10:00:00Z"


def test_nothing_changed_keeps_the_cursor_and_sends_no_report(bamboo, fake):
    # PHP encodes the empty map as [].
    fake.add(responses.GET, CHANGED, json={"latest": None, "employees": []})

    [page] = list(bamboo.fetch_employees(since="2024-07-01T09:30:00Z"))

    assert page.records == [] and page.cursor == "2024-07-01T09:30:00Z"
    assert len(fake.calls) == 1


def test_a_bad_employee_is_quarantined_and_the_page_goes_on(bamboo, fake):
    fake.add(responses.GET, CHANGED, json=payload("changed_employees"))
    report = report_for(["10", "3"])  # 4 is missing: no permission to see it
    report["employees"][0]["hireDate"] = "2019-13-45"
    fake.add(responses.POST, REPORT, json=report)

    [page] = list(bamboo.fetch_employees(since=None))

    assert [e.employee_id for e in page.records] == ["3"]
    reasons = {r.key: r.reason for r in page.rejects}
    assert "hire_date" in reasons["bamboo:10"]
    assert "missing from the custom report" in reasons["bamboo:4"]
    assert page.cursor == "2024-07-01T09:30:00Z"


def test_job_history_comes_from_the_job_info_table(make_bamboo, fake):
    bamboo = make_bamboo(job_history=True)
    fake.add(responses.GET, CHANGED, json=payload("changed_employees"))
    fake.add(responses.GET, JOB_INFO, json=payload("changed_job_info"))
    fake.add_callback(responses.POST, REPORT, callback=report_callback)

    [page] = list(bamboo.fetch_employees(since=None))

    zhang = next(e for e in page.records if e.employee_id == "3")
    assert zhang.job_history == (
        JobChange(effective_date=date(2023, 2, 1), job_title="Shop hand",
                  department="Operations", change="hire"),
        JobChange(effective_date=date(2024, 1, 1), job_title="Store Manager",
                  department="Sales", change="transfer"))
    job_info_call = next(c for c in fake.calls if "jobInfo" in c.request.url)
    assert query(job_info_call) == {"since": ["1970-01-01T00:00:00Z"]}


def test_rate_limits_are_waited_out_as_bamboohr_asks(bamboo, fake):
    fake.add(responses.GET, CHANGED, status=429, headers={"Retry-After": "7"})
    fake.add(responses.GET, CHANGED, status=503, headers={"Retry-After": "3"})
    fake.add(responses.GET, CHANGED, json=payload("changed_employees"))
    fake.add_callback(responses.POST, REPORT, callback=report_callback)

    [page] = list(bamboo.fetch_employees(since=None))

    assert len(page.records) == 3
    assert bamboo.sleeps[0] >= 7 and bamboo.sleeps[1] >= 3


def test_a_server_that_keeps_failing_is_an_error_with_its_request_id(bamboo, fake):
    for _ in range(3):
        fake.add(responses.GET, CHANGED, status=500, headers={"X-Request-Id": "req-42"})

    with pytest.raises(ServerError) as caught:
        list(bamboo.fetch_employees(since=None))

    assert caught.value.request_id == "req-42"
    assert len(fake.calls) == 3


def test_a_refused_api_key_is_an_auth_error_with_a_hint(bamboo, fake):
    fake.add(responses.GET, CHANGED, status=401,
             headers={"X-BambooHR-Error-Message": "Invalid API key"})

    with pytest.raises(AuthError) as caught:
        list(bamboo.fetch_employees(since=None))

    error = caught.value
    assert error.status == 401
    assert "Invalid API key" in error.hint and "company_domain" in error.hint
    assert API_KEY not in str(error)
    assert len(fake.calls) == 1  # a 401 is not retried


def test_leavers_come_from_the_employment_status_table(make_bamboo, fake):
    bamboo = make_bamboo(termination_reasons={"Performance": "no_fault_dismissal"})
    fake.add(responses.GET, EMPLOYMENT_STATUS, json=payload("changed_employment_status"))

    [page] = list(bamboo.fetch_separations(since="2024-07-01T00:00:00Z"))

    assert query(fake.calls[0]) == {"since": ["2024-07-01T00:00:00Z"]}
    leavers = {s.employee_id: s for s in page.records}
    assert set(leavers) == {"4", "7"}  # 8 changed but did not leave
    wang = leavers["4"]
    assert wang.id == "bamboo:4:separation:2024-06-30"
    assert (wang.last_day, wang.reason) == (date(2024, 6, 30), SeparationReason.RESIGNATION)
    assert wang.vendor_reason == "Resignation (Voluntary) / Other employment"
    assert wang.note == "Moved to a competitor"
    assert leavers["7"].reason is SeparationReason.NO_FAULT_DISMISSAL
    assert page.cursor == "2024-07-01T10:05:00Z"


def test_an_involuntary_termination_without_a_mapped_reason_is_rejected_not_guessed(bamboo, fake):
    fake.add(responses.GET, EMPLOYMENT_STATUS, json=payload("changed_employment_status"))

    [page] = list(bamboo.fetch_separations(since=None))

    assert [s.employee_id for s in page.records] == ["4"]
    [reject] = page.rejects
    assert reject.model == "separation" and reject.key == "bamboo:7:separation:2024-06-15"
    assert "Termination (Involuntary) / Performance" in reject.reason
    assert "termination_reasons" in reject.reason
    assert reject.raw["terminationReasonId"] == "Performance"


def test_separations_by_employee_number_ask_a_report_for_the_numbers(make_bamboo, fake):
    bamboo = make_bamboo(employee_key="employeeNumber", page_size=1)
    fake.add(responses.GET, EMPLOYMENT_STATUS, json=payload("changed_employment_status"))
    fake.add_callback(responses.POST, REPORT, callback=report_callback)

    pages = list(bamboo.fetch_separations(since=None))

    records = [s for p in pages for s in p.records]
    assert [s.employee_id for s in records] == ["E0004"]
    rejects = [r for p in pages for r in p.rejects]
    assert {r.key for r in rejects} == {"bamboo:7:separation:2024-06-15"}  # unmapped reason
    bodies = [json.loads(c.request.body) for c in fake.calls if c.request.method == "POST"]
    assert bodies[0] == {"title": "trainbridge", "fields": ["employeeNumber"],
                         "filters": {"employeeIds": [4]}}
    assert [p.cursor for p in pages] == ["2024-07-01T09:59:59Z", "2024-07-01T10:04:59Z",
                                         "2024-07-01T10:05:00Z"]
