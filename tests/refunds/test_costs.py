"""Cost allocation (C1): the seed example 1000 + 500 + 200 = 1700, each allocation rule, the
refundable base (wages never, unvouchered only when configured), the costs job and report."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tests.refunds.conftest import TRAINEES, costs_csv, events_jsonl
from trainbridge.core.records import (
    CostAllocation,
    CostCategory,
    CostItem,
    Enrollment,
    LearningEvent,
    LearningEventKind,
    TrainingSession,
)
from trainbridge.core.reports import render
from trainbridge.core.runner import sync
from trainbridge.plugins.refunds.report import build_costs_report
from trainbridge.rules.costs import allocate_costs, refundable_base

D = Decimal
SH = ZoneInfo("Asia/Shanghai")
DAY = date(2025, 5, 10)
SESSION = TrainingSession(id="lms:S1", session_id="S1", program_id="FIRE-CTRL",
                          starts_at=datetime(2025, 5, 10, 9, tzinfo=SH))


def item(item_id: str, category: str, amount: str, allocation: str = "employee", **kw: object) -> CostItem:
    return CostItem(id=f"fin:{item_id}", category=CostCategory(category), amount=D(amount),
                    allocation=CostAllocation(allocation), incurred_on=kw.pop("incurred_on", DAY),
                    voucher_ref=kw.pop("voucher_ref", f"INV-{item_id}"), **kw)


def attended(employee_id: str, session_id: str | None = "S1", day: date = DAY, **kw: object) -> LearningEvent:
    return LearningEvent(id=f"lms:att-{employee_id}-{session_id}", employee_id=employee_id,
                         event=LearningEventKind.ATTENDED, session_id=session_id,
                         occurred_at=datetime(day.year, day.month, day.day, 9, tzinfo=SH), **kw)


def seed_items() -> list[CostItem]:
    items = []
    for e in TRAINEES:
        items.append(item(f"FEE-{e}", "course_fee", "1000.00", employee_id=e, session_id="S1"))
        items.append(item(f"TRV-{e}", "travel", "500.00", employee_id=e, session_id="S1"))
    items.append(item("INSTR-1", "instructor", "2000.00", "shared", session_id="S1"))
    return items


def seed_allocation():
    return allocate_costs(seed_items(), events=[attended(e) for e in TRAINEES], sessions=[SESSION])


def test_seed_example_1000_plus_500_plus_200_is_1700():
    allocation = seed_allocation()
    mine = allocation.for_employee("E003")
    assert sorted((line.category.value, line.amount) for line in mine) == [
        ("course_fee", D("1000.00")), ("instructor", D("200.00")), ("travel", D("500.00"))]
    assert sum(line.amount for line in mine) == D("1700.00")
    base = refundable_base(allocation.lines, employee_id="E003", program_id="FIRE-CTRL", currency="CNY")
    assert base.amount == D("1700.00") and not base.excluded
    assert not allocation.unallocated


def test_each_allocation_line_carries_its_rule():
    mine = seed_allocation().for_employee("E003")
    instructor = next(x for x in mine if x.category is CostCategory.INSTRUCTOR)
    assert instructor.rule == ("instructor fin:INSTR-1: 2000.00 CNY shared equally among the 10 attendees of "
                               "session S1: 200.00 each")
    fee = next(x for x in mine if x.category is CostCategory.COURSE_FEE)
    assert "charged to E003 (allocation employee" in fee.rule
    assert fee.program_id == "FIRE-CTRL"  # from the session


def test_per_head_item_charges_each_attendee_of_the_session():
    allocation = allocate_costs([item("BOOK", "materials", "80.00", "per_head", session_id="S1")],
                                events=[attended("E001"), attended("E002")], sessions=[SESSION])
    assert [(x.employee_id, x.amount) for x in allocation.lines] == [("E001", D("80.00")),
                                                                      ("E002", D("80.00"))]
    assert "per head, charged to each of the 2 attendees of session S1" in allocation.lines[0].rule


def test_per_head_item_of_a_program_charges_each_enrollee():
    enrollments = [Enrollment(id=f"lms:{e}", employee_id=e, program_id="FIRE-CTRL", enrolled_on=DAY)
                   for e in ("E001", "E002", "E003")]
    cancelled = Enrollment(id="lms:E004", employee_id="E004", program_id="FIRE-CTRL", enrolled_on=DAY,
                           status="cancelled")
    allocation = allocate_costs([item("EXAM", "exam", "150.00", "per_head", program_id="FIRE-CTRL")],
                                enrollments=[*enrollments, cancelled])
    assert [x.employee_id for x in allocation.lines] == ["E001", "E002", "E003"]


def test_session_enrollees_are_charged_when_no_attendance_is_recorded():
    enrollments = [Enrollment(id=f"lms:{e}", employee_id=e, program_id="FIRE-CTRL", session_id="S1",
                              enrolled_on=DAY) for e in ("E001", "E002")]
    allocation = allocate_costs([item("ROOM", "accommodation", "600.00", "shared", session_id="S1")],
                                enrollments=enrollments, sessions=[SESSION])
    assert [x.amount for x in allocation.lines] == [D("300.00"), D("300.00")]
    assert "enrollees of session S1 (no attendance recorded)" in allocation.lines[0].rule


def test_shared_item_without_a_session_is_split_among_that_days_attendees():
    events = [attended("E001", None, program_id="FIRE-CTRL"), attended("E002", None, program_id="FIRE-CTRL"),
              attended("E003", None, day=date(2025, 5, 11), program_id="FIRE-CTRL"),
              attended("E004", None, program_id="OTHER")]
    allocation = allocate_costs([item("INSTR-D", "instructor", "2000.00", "shared", program_id="FIRE-CTRL")],
                                events=events)
    assert [(x.employee_id, x.amount) for x in allocation.lines] == [("E001", D("1000.00")),
                                                                      ("E002", D("1000.00"))]
    assert "attendees of training of program FIRE-CTRL on 2025-05-10" in allocation.lines[0].rule


def test_shared_remainder_cents_go_one_each_to_the_first_by_employee_id():
    allocation = allocate_costs([item("INSTR-3", "instructor", "1000.00", "shared", session_id="S1")],
                                events=[attended(e) for e in ("E003", "E001", "E002")], sessions=[SESSION])
    assert [(x.employee_id, x.amount) for x in allocation.lines] == [
        ("E001", D("333.34")), ("E002", D("333.33")), ("E003", D("333.33"))]
    assert sum(x.amount for x in allocation.lines) == D("1000.00")
    assert "the 1 remaining cent(s) go one each to the first 1 by employee id (E001)" in \
        allocation.lines[0].rule
    again = allocate_costs([item("INSTR-3", "instructor", "1000.00", "shared", session_id="S1")],
                           events=[attended(e) for e in ("E002", "E003", "E001")], sessions=[SESSION])
    assert again == allocation


def test_voided_attendance_is_not_charged():
    voided = LearningEvent(id="lms:void-1", employee_id="E002", event=LearningEventKind.VOIDED,
                           occurred_at=datetime(2025, 5, 11, tzinfo=SH), voids="lms:att-E002-S1")
    allocation = allocate_costs([item("INSTR-1", "instructor", "2000.00", "shared", session_id="S1")],
                                events=[attended("E001"), attended("E002"), voided], sessions=[SESSION])
    assert [(x.employee_id, x.amount) for x in allocation.lines] == [("E001", D("2000.00"))]


def test_wages_during_training_are_tracked_and_never_refundable():
    allocation = allocate_costs([*seed_items(), item("WAGE-E003", "wages", "3000.00", employee_id="E003",
                                                     session_id="S1")],
                                events=[attended(e) for e in TRAINEES], sessions=[SESSION])
    assert sum(x.amount for x in allocation.for_employee("E003")) == D("4700.00")
    for include in (False, True):
        base = refundable_base(allocation.lines, employee_id="E003", program_id="FIRE-CTRL", currency="CNY",
                               include_unvouchered=include)
        assert base.amount == D("1700.00")
        [(wages, why)] = base.excluded
        assert wages.item_id == "fin:WAGE-E003" and "Implementing Regulations art. 16" in why


def test_unvouchered_items_are_kept_out_of_the_base_unless_configured():
    allocation = allocate_costs([*seed_items(), item("TAXI-E003", "travel", "120.00", employee_id="E003",
                                                     session_id="S1", voucher_ref=None)],
                                events=[attended(e) for e in TRAINEES], sessions=[SESSION])
    without = refundable_base(allocation.lines, employee_id="E003", program_id="FIRE-CTRL", currency="CNY")
    assert without.amount == D("1700.00")
    assert "no voucher" in without.excluded[0][1]
    included = refundable_base(allocation.lines, employee_id="E003", program_id="FIRE-CTRL", currency="CNY",
                               include_unvouchered=True)
    assert included.amount == D("1820.00") and not included.excluded


def test_items_in_another_currency_or_program_are_not_in_the_base():
    allocation = allocate_costs([
        item("FEE", "course_fee", "100.00", employee_id="E003", program_id="FIRE-CTRL", currency="USD"),
        item("FEE2", "course_fee", "900.00", employee_id="E003", program_id="OTHER")])
    base = refundable_base(allocation.lines, employee_id="E003", program_id="FIRE-CTRL", currency="CNY")
    assert base.amount == D("0.00") and "in USD" in base.excluded[0][1]


def test_items_nobody_can_be_charged_with_are_listed_with_the_reason():
    # A source can no longer send 10.005 (records refuse fractions of a cent); the rule still
    # refuses to split one, should a record be built without validation.
    cents = item("CENTS", "instructor", "10.00", "shared", session_id="S1").model_copy(
        update={"amount": Decimal("10.005")})
    allocation = allocate_costs([item("NOBODY", "instructor", "2000.00", "shared", session_id="S9"),
                                 item("ORPHAN", "course_fee", "10.00"), cents],
                                events=[attended("E001")], sessions=[SESSION])
    reasons = {u.item_id: u.reason for u in allocation.unallocated}
    assert reasons == {"fin:NOBODY": "no participants to charge: no enrollees of session S9 "
                                     "(no attendance recorded)",
                       "fin:ORPHAN": "allocation 'employee' but no employee_id",
                       "fin:CENTS": "amount 10.005 has fractions of a cent and cannot be split in cents"}
    assert allocation.lines == ()


# --- the costs job and report on a workspace -------------------------------------------------


def test_costs_job_records_one_allocation_per_item_and_employee_and_a_second_run_changes_nothing(seed_ws):
    ws = seed_ws()
    [first] = sync(ws, ["costs"])
    assert first.status == "ok", first.errors
    assert first.counts["decisions"] == 30  # 10 fees + 10 travel + 10 instructor shares
    with ws.ledger.transaction() as conn:
        mine = ws.ledger.list_decisions(conn, "cost_allocation", subject="E003")
    assert sorted(d["id"] for d in mine) == ["cost_allocation:finance:FEE-E003:E003",
                                             "cost_allocation:finance:INSTR-1:E003",
                                             "cost_allocation:finance:TRV-E003:E003"]
    assert sum(Decimal(d["amount"]) for d in mine) == D("1700.00")
    instructor = next(d for d in mine if "INSTR" in d["id"])
    assert instructor["explanation"][0].endswith(
        "shared equally among the 10 attendees of session FIRE-CTRL-1: 200.00 each")
    assert instructor["payload"]["refundable"] is True
    [second] = sync(ws, ["costs"])
    assert "decisions" not in second.counts and second.status == "ok"


def test_a_changed_allocation_is_recorded_as_a_revision(seed_ws, tmp_path):
    ws = seed_ws()
    sync(ws, ["costs"])
    # E010's check-in is retracted: the instructor's 2000.00 is now shared by 9
    (tmp_path / "events.jsonl").write_text(events_jsonl(tuple(TRAINEES)) + json.dumps(
        {"event_id": "void-E010", "employee_id": "E010", "event": "voided", "voids": "lms:att-E010",
         "occurred_at": "2025-05-11T09:00:00+08:00"}) + "\n", encoding="utf-8")
    [run] = sync(ws, ["costs"])
    assert run.counts["decisions"] == 10  # 9 shares of 222.23/222.22 and E010's share withdrawn
    with ws.ledger.transaction() as conn:
        e003 = {d["id"]: d for d in ws.ledger.list_decisions(conn, "cost_allocation", subject="E003")}
        e010 = {d["id"]: d for d in ws.ledger.list_decisions(conn, "cost_allocation", subject="E010")}
    assert e003["cost_allocation:finance:INSTR-1:E003:r2"]["payload"]["amount"] == "222.22"
    assert "revises cost_allocation:finance:INSTR-1:E003 (200.00 before)" in \
        e003["cost_allocation:finance:INSTR-1:E003:r2"]["explanation"]
    withdrawn = e010["cost_allocation:finance:INSTR-1:E010:r2"]
    assert withdrawn["payload"]["withdrawn"] is True and Decimal(withdrawn["amount"]) == 0
    assert "decisions" not in sync(ws, ["costs"])[0].counts


def test_an_unallocated_item_is_warned_about_once(seed_ws):
    ws = seed_ws(costs__csv=costs_csv("ORPHAN,course_fee,99.00,CNY,employee,,FIRE-CTRL,,2025-05-10,INV-X,"))
    [first] = sync(ws, ["costs"])
    assert first.status == "partial"
    assert any("cost item finance:ORPHAN (99.00 CNY) is not allocated: allocation 'employee' but no "
               "employee_id" in e for e in first.errors)
    [second] = sync(ws, ["costs"])
    assert second.status == "ok" and "1 not allocated" in second.summary[0]


@pytest.mark.parametrize(("by", "key", "people", "total"), [
    ("employee", "E003", 1, "1700.00"),
    ("program", "FIRE-CTRL", 10, "17000.00"),
    ("department", "Operations", 9, "15300.00"),
])
def test_cost_report_totals_item_by_item(seed_ws, by, key, people, total):
    ws = seed_ws(costs__csv=costs_csv("W-E003,wages,3000.00,CNY,employee,E003,FIRE-CTRL,,2025-05-10,PAY-1,"))
    sync(ws, ["costs"])
    data = json.loads(render(build_costs_report(ws, by=by), "json"))
    row = next(r for r in data["rows"] if r[by] == key)
    assert row["people"] == people
    assert Decimal(row["total"]) - Decimal(row["refundable"]) == D("3000.00")  # the wages
    assert Decimal(row["refundable"]) == D(total)
    items = data["sections"][0]["rows"]
    wages = next(r for r in items if r["item"] == "finance:W-E003")
    assert wages["refundable"].startswith("no: wages during training are not training cost")
    assert {r["category"] for r in items} == {"course_fee", "travel", "instructor", "wages"}


def test_cost_report_renders_as_table_csv_and_html(seed_ws):
    ws = seed_ws()
    sync(ws, ["costs"])
    result = build_costs_report(ws)
    assert "1700.00" in render(result, "table")
    assert "E003,李娜,1,1000.00,200.00,500.00,1700.00,1700.00,CNY" in render(result, "csv")
    assert "<td>1700.00</td>" in render(result, "html")


def test_each_cost_allocation_is_explained_as_data_with_its_article(seed_ws):
    ws = seed_ws()
    sync(ws, ["costs"])
    with ws.ledger.transaction() as conn:
        [row] = [d for d in ws.ledger.list_decisions(conn, "cost_allocation", subject="E003")
                 if d["payload"]["item_id"] == "finance:INSTR-1"]
    [item] = row["payload"]["explanation_items"]
    assert item["rule"] == "cost_allocation:shared" and "art. 16" in item["article"]
    assert (item["amount"], item["currency"]) == ("200.00", "CNY")
    assert item["inputs"]["item_amount"] == "2000.00" and item["inputs"]["refundable"] == "yes"
