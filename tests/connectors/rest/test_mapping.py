"""The documented tables turn the in-house systems' JSON into records; bad rows are rejected."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import responses

from trainbridge.core.records import (
    CostAllocation,
    CostCategory,
    Delivery,
    EmploymentStatus,
    LearningEventKind,
    SeparationReason,
)

from .conftest import ERP, HR, body, fake_finance, fake_hr, fake_learning, person

SHANGHAI = timezone(timedelta(hours=8))


def test_employees_are_mapped_field_by_field(fake, tables, make_rest):
    fake_hr(fake)
    hr = make_rest(tables["inhouse_hr"])

    [page] = hr.fetch_employees(since=None)

    assert page.rejects == []
    zhang, wang, li = page.records
    assert zhang.id == "inhouse_hr:p-E001"
    assert zhang.source == "inhouse_hr"
    assert (zhang.employee_id, zhang.name, zhang.email) == ("E001", "张伟", "e001@acme.example")
    assert (zhang.department, zhang.job_title, zhang.manager_id) == ("Operations", "消防中控员", "M003")
    assert zhang.legal_entity == "ACME-SH"
    assert zhang.hire_date == date(2021, 12, 1)
    assert zhang.probation_end == date(2022, 6, 1)
    assert zhang.status is EmploymentStatus.ACTIVE
    assert li.status is EmploymentStatus.TERMINATED
    assert wang.is_manager is False


def test_reason_codes_are_mapped_and_an_unknown_code_is_rejected_not_guessed(fake, tables, make_rest):
    fake_hr(fake)
    hr = make_rest(tables["inhouse_hr"])

    [page] = hr.fetch_separations(since=None)

    [leaver] = page.records
    assert leaver.id == "inhouse_hr:E003:2025-06-01"
    assert leaver.reason is SeparationReason.RESIGNATION
    assert leaver.vendor_reason == "01"
    assert leaver.last_day == date(2025, 6, 1)
    assert leaver.note == "个人原因辞职"
    [reject] = page.rejects
    assert reject.model == "separation"
    assert reject.key == "inhouse_hr:E009:2025-06-02"
    assert "reason: '99' is not in the value map" in reject.reason
    assert reject.raw["reason_code"] == "99"


def test_costs_keep_their_cents_and_map_categories(fake, tables, make_rest):
    fake_finance(fake)
    finance = make_rest(tables["finance"], name="finance")

    [page] = finance.fetch_cost_items(since=None)

    fee, instructor = page.records
    assert fee.id == "finance:V-1001-1"
    assert fee.amount == Decimal("1000.0")
    assert (fee.category, fee.allocation) == (CostCategory.COURSE_FEE, CostAllocation.PER_HEAD)
    assert fee.voucher_ref == "INV-1001"
    assert fee.incurred_on == date(2024, 6, 3)
    assert (instructor.category, instructor.allocation) == (CostCategory.INSTRUCTOR, CostAllocation.SHARED)


def test_a_cost_type_not_in_the_map_falls_back_to_otherwise(fake, tables, make_rest):
    fake.add(responses.GET, f"{ERP}/training-costs", body=body({"rows": [
        {"voucher_line": "V-9", "amount": "12.50", "cost_type": "BOOKS", "posted_at": "2024-06-03"}]}))
    finance = make_rest(tables["finance"], name="finance")

    [page] = finance.fetch_cost_items(since=None)

    [books] = page.records
    assert books.category is CostCategory.OTHER
    assert books.currency == "CNY"  # the default
    assert books.allocation is CostAllocation.EMPLOYEE  # not given: the record's default


def test_learning_events_read_times_with_and_without_an_offset(fake, tables, make_rest):
    fake_learning(fake)
    tables["training"]["timezone"] = "Asia/Shanghai"
    training = make_rest(tables["training"], name="training")

    pages = list(training.fetch_learning_events(since=None))

    attended, passed = [r for p in pages for r in p.records]
    assert attended.event is LearningEventKind.ATTENDED
    assert attended.occurred_at == datetime(2024, 6, 3, 9, 2, tzinfo=SHANGHAI)
    assert attended.score is None
    assert passed.event is LearningEventKind.PASSED
    assert passed.occurred_at == datetime(2024, 6, 3, 9, 0, tzinfo=UTC)  # 17:00 in Shanghai
    assert passed.score == Decimal("92.5")


def test_the_catalog_parses_numbers_from_text(fake, tables, make_rest):
    fake_learning(fake)
    training = make_rest(tables["training"], name="training")

    [page] = training.fetch_training_catalog(since=None)

    [program] = page.records
    assert program.delivery is Delivery.OFFLINE
    assert program.service_months == 24
    assert program.agreement_template == "service-24m"


def test_a_bad_record_is_quarantined_and_the_page_goes_on(fake, tables, make_rest):
    fake.add(responses.GET, f"{HR}/people", body=body({"data": {"items": [
        person("E001", "伟", "张", "2025-05-30T08:00:00Z"),
        person("E002", "芳", "王", "2025-05-30T08:00:00Z", hired_on="2021-12-01"),   # not dd/mm/yyyy
        {**person("E003", "娜", "李", "2025-05-30T08:00:00Z"), "employee_no": None},  # required
        {"employee_no": "E004"},                                                      # no key
        "not an object",
        person("E005", "静", "陈", "2025-05-30T08:00:00Z"),
    ]}, "meta": {"total_pages": 1}}))
    hr = make_rest(tables["inhouse_hr"])

    [page] = hr.fetch_employees(since=None)

    assert [r.employee_id for r in page.records] == ["E001", "E005"]
    reasons = [r.reason for r in page.rejects]
    assert "hire_date: cannot read '2021-12-01' as date" in reasons[0]
    assert "employee_id" in reasons[1]
    assert reasons[2:] == ["no vendor key at id", "no vendor key at id"]


def test_a_name_template_with_a_missing_part_uses_no_value(fake, tables, make_rest):
    nameless = person("E006", "", "", "2025-05-30T08:00:00Z")
    nameless["name"] = {"given": "敏"}
    fake.add(responses.GET, f"{HR}/people", body=body({"data": {"items": [nameless]},
                                                       "meta": {"total_pages": 1}}))
    hr = make_rest(tables["inhouse_hr"])

    [page] = hr.fetch_employees(since=None)

    assert page.records == []
    assert "name" in page.rejects[0].reason


def test_epoch_times_and_lists(fake, make_rest):
    fake.add(responses.GET, f"{HR}/marks", json=[
        {"id": 7, "who": "E001", "at": 1717380000000, "goals": "plc, safety"}])
    table = {"base_url": HR, "endpoints": {
        "learning_events": {"path": "/marks", "fields": {
            "employee_id": "who", "event": {"const": "completed"},
            "occurred_at": {"path": "at", "parse": "datetime", "format": "epoch_ms"}}},
        "employees": {"path": "/marks", "fields": {
            "employee_id": "who", "name": {"const": "x"},
            "career_goals": {"path": "goals", "parse": "list"}}}}}
    src = make_rest(table)

    [event] = next(iter(src.fetch_learning_events(since=None))).records
    [employee] = next(iter(src.fetch_employees(since=None))).records

    assert event.id == "inhouse_hr:7"
    assert event.occurred_at == datetime(2024, 6, 3, 2, 0, tzinfo=UTC)
    assert employee.career_goals == ("plc", "safety")
