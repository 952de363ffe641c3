"""BambooHR training records as learning events, certificates and cost items; results back."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from trainbridge.core.errors import ConnectorError
from trainbridge.core.records import (
    Certificate,
    CostAllocation,
    CostCategory,
    CostItem,
    LearningEvent,
    LearningEventKind,
    TrainingResult,
)

from .conftest import (
    BASE,
    CHANGED,
    CHANGED_3_4,
    REPORT,
    TRAINING_TYPES,
    payload,
    report_callback,
    training_url,
)


def test_completed_trainings_become_learning_events_and_certificates(make_bamboo, training):
    bamboo = make_bamboo(timezone="Asia/Shanghai", programs={"Negotiation Workshop": "NEG-101"},
                         certificates={"1": "forklift-licence"})

    [page] = list(bamboo.fetch_learning_events(since=None))

    events = {r.id: r for r in page.records if isinstance(r, LearningEvent)}
    workshop = events["bamboo:training:31"]
    assert (workshop.employee_id, workshop.event) == ("3", LearningEventKind.COMPLETED)
    assert workshop.occurred_at == datetime(2024, 3, 11, 16, 0, tzinfo=UTC)  # midnight Shanghai
    assert (workshop.program_id, workshop.object_id) == ("NEG-101", "Negotiation Workshop")
    assert set(events) == {"bamboo:training:31", "bamboo:training:32", "bamboo:training:41"}
    [licence, licence_4] = sorted((r for r in page.records if isinstance(r, Certificate)),
                                  key=lambda c: c.id)
    assert (licence.id, licence.employee_id, licence.certificate) == \
        ("bamboo:certificate:32", "3", "forklift-licence")
    # Forklift Safety renews every 12 months.
    assert (licence.issued_on, licence.expires_on) == (date(2024, 5, 20), date(2025, 5, 20))
    assert licence_4.employee_id == "4"
    assert page.cursor == "2024-07-01T09:30:00Z"
    asked = [urlsplit(c.request.url).path for c in training.calls]
    assert asked == ["/api/gateway.php/acme/v1/employees/changed",
                     "/api/gateway.php/acme/v1/training/type",
                     "/api/gateway.php/acme/v1/training/record/employee/3",
                     "/api/gateway.php/acme/v1/training/record/employee/4"]


def test_training_costs_become_course_fees_of_the_employee(bamboo, training):
    [page] = list(bamboo.fetch_cost_items(since=None))

    [fee] = page.records
    assert isinstance(fee, CostItem)
    assert fee.id == "bamboo:training:31:cost"
    assert (fee.amount, fee.currency) == (Decimal("1000.00"), "CNY")
    assert (fee.category, fee.allocation) == (CostCategory.COURSE_FEE, CostAllocation.EMPLOYEE)
    assert (fee.employee_id, fee.incurred_on) == ("3", date(2024, 3, 12))
    assert fee.description == "Negotiation Workshop (Bob Jones)"
    # "about five hundred" is not a cost: quarantined, the page goes on.
    [reject] = page.rejects
    assert (reject.model, reject.key) == ("cost_item", "bamboo:training:41:cost")
    assert "about five hundred" in reject.reason


def test_one_training_scan_yields_learning_events_and_cost_items(bamboo, training):
    def employees_asked() -> list[str]:
        return [urlsplit(c.request.url).path.rsplit("/", 1)[-1] for c in training.calls
                if "/training/record/employee/" in c.request.url]

    pages = list(bamboo.fetch_learning_events(since=None))

    # each employee's training records are read once per sync, for both kinds
    assert employees_asked() == ["3", "4"]
    kinds = {r.kind for page in pages for r in page.records}
    assert {"learning_event", "cost_item"} <= kinds
    assert "bamboo:training:31:cost" in {r.id for page in pages for r in page.records}
    assert "cost_item" in bamboo.produces("fetch_learning_events")
    assert bamboo.produces("fetch_cost_items") == ()  # a sync reads the costs with the learning scan


def test_an_employee_without_training_answers_an_empty_list(bamboo, fake):
    fake.add(responses.GET, CHANGED, json=CHANGED_3_4)
    fake.add(responses.GET, TRAINING_TYPES, json=payload("training_types"))
    fake.add(responses.GET, training_url("3"), json=[])
    fake.add(responses.GET, training_url("4"), json=payload("training_records_4"))

    [page] = list(bamboo.fetch_learning_events(since=None))

    assert [r.id for r in page.records] == ["bamboo:training:41"]


def test_a_long_scan_can_resume_after_the_last_employee_done(make_bamboo, training):
    bamboo = make_bamboo(page_size=1)

    pages = list(bamboo.fetch_learning_events(since=None))

    assert [p.cursor for p in pages] == ["1970-01-01T00:00:00Z|3", "2024-07-01T09:30:00Z"]
    training.calls.reset()
    [resumed] = list(bamboo.fetch_learning_events(since="1970-01-01T00:00:00Z|3"))
    assert [r.id for r in resumed.records] == ["bamboo:training:41"]
    assert parse_qs(urlsplit(training.calls[0].request.url).query) == \
        {"since": ["1970-01-01T00:00:00Z"]}


def test_a_finished_scan_starts_over_or_reads_changed_employees_only(make_bamboo, training):
    every = make_bamboo()
    list(every.fetch_cost_items(since="2024-07-01T09:30:00Z"))
    assert parse_qs(urlsplit(training.calls[0].request.url).query)["since"] == \
        ["1970-01-01T00:00:00Z"]

    training.calls.reset()
    changed = make_bamboo(training_scan="changed")
    list(changed.fetch_cost_items(since="2024-07-01T09:30:00Z"))
    assert parse_qs(urlsplit(training.calls[0].request.url).query)["since"] == \
        ["2024-07-01T09:30:00Z"]


RESULTS = {"table": "customTrainingResults", "id_field": "customResultId",
           "fields": {"program_id": "customProgram", "completed": "customCompleted",
                      "points": "customPoints", "flags": "customFlags"}}
RESULT = TrainingResult(id="tr:2024Q2:3:NEG-101", employee_id="3", program_id="NEG-101",
                        completed=True, points=35, flags=("on_time", "action_plan"))
TABLE_URL = f"{BASE}/employees/3/tables/customTrainingResults"


def test_a_training_result_is_written_as_a_row_of_a_custom_table(make_bamboo, fake):
    bamboo = make_bamboo(results=RESULTS)
    fake.add(responses.GET, TABLE_URL, json=[
        {"id": "1", "employeeId": "3", "customResultId": "tr:2024Q1:3:SAFE-1"}])
    fake.add(responses.POST, TABLE_URL, status=200)

    receipt = bamboo.push_training_result(RESULT)

    post = fake.calls[1].request
    assert post.method == "POST"
    assert json.loads(post.body) == {
        "customResultId": "tr:2024Q2:3:NEG-101", "customProgram": "NEG-101",
        "customCompleted": "Yes", "customPoints": "35", "customFlags": "on_time, action_plan"}
    assert receipt.ref == "customTrainingResults:3:tr:2024Q2:3:NEG-101"


def test_a_result_written_before_is_not_written_again_and_keeps_its_ref(make_bamboo, fake):
    bamboo = make_bamboo(results=RESULTS)
    fake.add(responses.GET, TABLE_URL, json=[])
    fake.add(responses.POST, TABLE_URL, status=200)
    first = bamboo.push_training_result(RESULT, idempotency_key=RESULT.id)
    # BambooHR's "get table rows" answer once the row is there: its own row id, our result id.
    fake.replace(responses.GET, TABLE_URL, json=[
        {"id": "9", "employeeId": "3", "customResultId": "tr:2024Q2:3:NEG-101"}])

    again = bamboo.push_training_result(RESULT, idempotency_key=RESULT.id)

    assert again.ref == first.ref == "customTrainingResults:3:tr:2024Q2:3:NEG-101"
    assert [c.request.method for c in fake.calls] == ["GET", "POST", "GET"]


def test_results_by_employee_number_find_the_bamboohr_id_first(make_bamboo, fake):
    bamboo = make_bamboo(results=RESULTS, employee_key="employeeNumber")
    fake.add_callback(responses.POST, REPORT, callback=report_callback)
    fake.add(responses.GET, TABLE_URL, json=[])
    fake.add(responses.POST, TABLE_URL, status=200)

    bamboo.push_training_result(RESULT.model_copy(update={"employee_id": "E0003"}))

    assert urlsplit(fake.calls[2].request.url).path.endswith("/employees/3/tables/customTrainingResults")
    with pytest.raises(ConnectorError, match="E9999"):
        bamboo.push_training_result(RESULT.model_copy(update={"employee_id": "E9999"}))


def test_a_failed_write_is_not_retried_blindly(make_bamboo, fake):
    bamboo = make_bamboo(results=RESULTS)
    fake.add(responses.GET, TABLE_URL, json=[])
    fake.add(responses.POST, TABLE_URL, status=503)

    with pytest.raises(ConnectorError):
        bamboo.push_training_result(RESULT)

    # the outbox delivers again later; the lookup then finds a row that did land
    assert [c.request.method for c in fake.calls] == ["GET", "POST"]


def test_the_health_check_lists_the_fields(bamboo, fake):
    fake.add(responses.GET, f"{BASE}/meta/fields", json=[
        {"id": 1, "name": "First Name", "type": "text", "alias": "firstName"},
        {"id": "4340.4", "name": "Job Title", "type": "list", "alias": "jobTitle"}])

    health = bamboo.healthcheck()

    assert health.ok and "2 employee fields" in health.detail
