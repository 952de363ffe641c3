"""The allocation held as each item's charge (who, how much each): a hundred thousand employees'
lines are made as they are read, and they are the lines the whole allocation lists."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from trainbridge.core.records import (
    CostAllocation,
    CostCategory,
    CostItem,
    Enrollment,
    LearningEvent,
    LearningEventKind,
    TrainingSession,
)
from trainbridge.rules.costs import ItemFacts, allocate_costs, charge_costs

SH = ZoneInfo("Asia/Shanghai")
DAY = date(2025, 5, 10)
SESSIONS = [TrainingSession(id=f"lms:S{s}", session_id=f"S{s}", program_id=f"P{s % 2}",
                            starts_at=datetime(2025, 5, 10, 9, tzinfo=SH)) for s in range(3)]
PEOPLE = [f"E{k:03d}" for k in range(9)]


def cost(item_id: str, amount: str, allocation: str, **kw: object) -> CostItem:
    return CostItem(id=f"fin:{item_id}", category=CostCategory(kw.pop("category", "instructor")),
                    amount=Decimal(amount), allocation=CostAllocation(allocation),
                    incurred_on=kw.pop("incurred_on", DAY), voucher_ref=kw.pop("voucher_ref", f"V-{item_id}"),
                    **kw)


def checked_in(employee_id: str, session: str, **kw: object) -> LearningEvent:
    return LearningEvent(id=f"lms:att-{employee_id}-{session}", employee_id=employee_id,
                         event=LearningEventKind.ATTENDED, session_id=session,
                         occurred_at=datetime(2025, 5, 10, 9, tzinfo=SH), **kw)


def voided(event_id: str, employee_id: str, voids: str) -> LearningEvent:
    return LearningEvent(id=event_id, source="lms", employee_id=employee_id, event=LearningEventKind.VOIDED,
                         occurred_at=datetime(2025, 5, 11, tzinfo=SH), voids=voids)


def world() -> tuple[list[CostItem], list[LearningEvent], list[Enrollment]]:
    items = [cost("ROOM-S0", "1000.00", "shared", session_id="S0"),      # 3 people: a cent left over
             cost("BOOK-S1", "80.00", "per_head", session_id="S1", category="materials"),
             cost("EXAM-P1", "150.00", "per_head", program_id="P1", category="exam"),
             cost("VENUE-DAY", "999.99", "shared", program_id="P0"),     # attendees of P0 that day
             cost("NOBODY", "10.00", "shared", session_id="S9"),
             *[cost(f"TAXI-{e}", "120.00", "employee", employee_id=e, program_id="P0", category="travel")
               for e in PEOPLE[::2]]]
    events = [checked_in(e, f"S{k % 3}") for k, e in enumerate(PEOPLE)]
    # a check-in voided before it is even read, and one voided by the source's own id
    events.insert(0, voided("lms:void-1", "E003", "lms:att-E003-S0"))
    events.append(voided("lms:void-2", "E004", "att-E004-S1"))
    enrollments = [Enrollment(id=f"lms:enr-{e}", employee_id=e, program_id="P1", session_id="S1",
                              enrolled_on=DAY) for e in PEOPLE[:5]]
    return items, events, enrollments


def test_every_employee_gets_from_the_charges_the_lines_the_whole_allocation_gives_them():
    items, events, enrollments = world()
    whole = allocate_costs(items, events=events, enrollments=enrollments, sessions=SESSIONS)
    charges = charge_costs(iter(items), events=iter(events), enrollments=iter(enrollments), sessions=SESSIONS)
    assert list(charges.lines()) == list(whole.lines)
    assert charges.unallocated == whole.unallocated
    assert charges.people() == set(whole.by_employee)
    for employee in [*PEOPLE, "E999"]:
        assert charges.for_employee(employee) == whole.for_employee(employee)
        for line in whole.lines:
            assert charges.charged(line.item_id, line.employee_id)
        assert not charges.charged("fin:ROOM-S0", "E999")


def test_a_check_in_voided_before_it_is_read_is_no_share():
    items, events, enrollments = world()
    charges = charge_costs(items, events=events, enrollments=enrollments, sessions=SESSIONS)
    room = next(c for c in charges.charges if c.item.id == "fin:ROOM-S0")
    assert room.people == ("E000", "E006")  # E003 checked in to S0, voided first
    assert [line.amount for line in room.lines()] == [Decimal("500.00"), Decimal("500.00")]
    book = next(c for c in charges.charges if c.item.id == "fin:BOOK-S1")
    assert "E004" not in book.people  # voided by the source's own event id


def test_the_items_kept_as_facts_allocate_as_the_records_do():
    items, events, enrollments = world()
    from_records = allocate_costs(items, events=events, enrollments=enrollments, sessions=SESSIONS)
    from_facts = allocate_costs([ItemFacts.of(i) for i in items], events=events, enrollments=enrollments,
                                sessions=SESSIONS)
    assert from_facts == from_records
