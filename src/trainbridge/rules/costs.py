"""Full-chain training cost per employee (C1), and the part of it that is refundable.

Pure functions of records: no I/O, no clock. Every cost item is allocated to
employees item by item, and every allocation line says the rule that produced it:

* ``employee``: the whole item is that employee's;
* ``per_head``: the item's amount is charged to each participant: the attendees of its
  session (its enrollees when no attendance is recorded), else the enrollees of its
  program;
* ``shared``: the item is split equally among its session's attendees (enrollees when no
  attendance is recorded), or, without a session, among those who attended training on
  ``incurred_on`` (of its program, when it names one). Shares are whole cents; the
  cents left over go one each to the first participants in employee-id order, so the
  shares add up to the invoice and the same inputs always give the same split.

What is refundable (Implementing Regulations art. 16): documented (vouchered) training
fees, travel and other direct costs. Wages during training are tracked and never
refundable; an item without a voucher is tracked and kept out of the refundable base
unless configuration includes it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import NamedTuple

from trainbridge.core.records import (
    CENT,
    Agreement,
    CostAllocation,
    CostCategory,
    CostItem,
    Enrollment,
    EnrollmentStatus,
    LearningEvent,
    LearningEventKind,
    TrainingSession,
)


def void_targets(event: LearningEvent) -> tuple[str, ...]:
    """The ids a VOIDED event may name: our record id, or the source's own event id (``a-X3``)."""
    if event.event is not LearningEventKind.VOIDED or not event.voids:
        return ()
    prefix = f"{event.source}:" if event.source else ""
    if not prefix or event.voids.startswith(prefix):
        return (event.voids,)
    return (event.voids, f"{prefix}{event.voids}")


ATTENDANCE = frozenset({LearningEventKind.ATTENDED, LearningEventKind.COMPLETED})
ART_16 = "Implementing Regulations art. 16"


@dataclass(frozen=True)
class AllocationLine:
    """One employee's part of one cost item; ``basis`` says how it was allocated."""

    item_id: str
    employee_id: str
    category: CostCategory
    allocation: CostAllocation
    amount: Decimal
    currency: str
    item_amount: Decimal
    incurred_on: date
    basis: str
    program_id: str | None = None
    session_id: str | None = None
    voucher_ref: str | None = None
    description: str = ""
    #: Everyone the item was charged to or split among (empty for an ``employee`` item): a
    #: share changes when this group does, so decisions built on the line follow it.
    participants: tuple[str, ...] = ()

    @property
    def rule(self) -> str:
        """The whole rule, as an auditor reads it."""
        return f"{self.category.value} {self.item_id}: {self.item_amount} {self.currency} {self.basis}"

    @property
    def vouchered(self) -> bool:
        return bool(self.voucher_ref)

    def refundability(self, include_unvouchered: bool = False) -> tuple[bool, str]:
        """(in the refundable base?, why), under ``include_unvouchered``."""
        return refundability(self.category, self.voucher_ref, include_unvouchered)

    def label(self) -> str:
        return f"{self.category.value} {self.amount} ({self.item_id})"


def refundability(category: CostCategory, voucher_ref: str | None,
                  include_unvouchered: bool = False) -> tuple[bool, str]:
    """Whether a line of ``category`` with ``voucher_ref`` is in the refundable base, and why."""
    if category is CostCategory.WAGES:
        return False, f"wages during training are not training cost ({ART_16}): tracked, never refundable"
    if not voucher_ref:
        if include_unvouchered:
            return True, "no voucher; included because include_unvouchered = true"
        return False, (f"no voucher (凭证): tracked, kept out of the refundable base ({ART_16}); "
                       "include_unvouchered = true includes it")
    return True, f"voucher {voucher_ref}: documented training cost ({ART_16})"


@dataclass(frozen=True)
class Unallocated:
    """An item no employee could be charged with, and why."""

    item_id: str
    amount: Decimal
    currency: str
    reason: str


@dataclass(frozen=True)
class Allocation:
    lines: tuple[AllocationLine, ...]
    unallocated: tuple[Unallocated, ...] = ()

    def for_employee(self, employee_id: str) -> list[AllocationLine]:
        return self.by_employee.get(employee_id, [])

    @cached_property
    def by_employee(self) -> dict[str, list[AllocationLine]]:
        """Each employee's lines, indexed once (a job quoting many leavers looks each one up)."""
        index: dict[str, list[AllocationLine]] = defaultdict(list)
        for line in self.lines:
            index[line.employee_id].append(line)
        return dict(index)


@dataclass(frozen=True)
class RefundableBase:
    """The refundable base of one employee under one program, with what was left out and why."""

    amount: Decimal
    currency: str
    included: tuple[AllocationLine, ...]
    excluded: tuple[tuple[AllocationLine, str], ...]

    def detail(self) -> tuple[str, ...]:
        return tuple(line.label() for line in self.included)

    def excluded_detail(self) -> tuple[str, ...]:
        return tuple(f"{line.label()}: {why}" for line, why in self.excluded)


class ItemFacts(NamedTuple):
    """What an allocation reads of a cost item: a few hundred bytes where the record takes two
    thousand (a run over a hundred thousand employees holds every item of theirs)."""

    id: str
    category: CostCategory
    allocation: CostAllocation
    amount: Decimal
    currency: str
    incurred_on: date
    employee_id: str | None = None
    program_id: str | None = None
    session_id: str | None = None
    voucher_ref: str | None = None
    description: str = ""

    @classmethod
    def of(cls, item: CostItem | ItemFacts, names: dict[str, str] | None = None) -> ItemFacts:
        if isinstance(item, ItemFacts):
            return item
        names = names if names is not None else {}
        one = _one(names)
        return cls(item.id, item.category, item.allocation, item.amount, names.setdefault(item.currency,
                                                                                          item.currency),
                   item.incurred_on, one(item.employee_id), one(item.program_id), one(item.session_id),
                   item.voucher_ref, item.description)


def _one(names: dict[str, str]) -> Callable[[str | None], str | None]:
    """One string object per id however many records name it (a set of ids holds each once)."""
    def one(text: str | None) -> str | None:
        return text if text is None else names.setdefault(text, text)
    return one


class _Participants:
    """Who took part in which session, program and day, from attendance and enrollments.

    Both are streamed: of an event only its id, employee, program, session and day are kept
    until the voided ones are known, and each id string once."""

    def __init__(self, events: Iterable[LearningEvent], enrollments: Iterable[Enrollment],
                 sessions: Iterable[TrainingSession] = (), *,
                 session_program: Mapping[str, str] | None = None,
                 names: dict[str, str] | None = None) -> None:
        self.session_program = dict(session_program or {})
        self.session_program.update({s.session_id: s.program_id for s in sessions})
        one = _one(names if names is not None else {})
        attended: list[tuple[str, str, str | None, str | None, date]] = []
        voided: set[str] = set()
        for event in events:
            if event.event is LearningEventKind.VOIDED:
                voided.update(void_targets(event))
            elif event.event in ATTENDANCE:
                program = event.program_id or self.session_program.get(event.session_id or "")
                attended.append((event.id, one(event.employee_id) or "", one(program), one(event.session_id),
                                 event.occurred_at.date()))
        self.by_session: dict[str, set[str]] = defaultdict(set)
        self.by_program: dict[str, set[str]] = defaultdict(set)
        self.by_day: dict[date, set[tuple[str, str | None]]] = defaultdict(set)
        for event_id, employee, program, session, day in attended:
            if event_id in voided:
                continue
            if session:
                self.by_session[session].add(employee)
            if program:
                self.by_program[program].add(employee)
            self.by_day[day].add((employee, program))
        del attended
        self.enrolled_session: dict[str, set[str]] = defaultdict(set)
        self.enrolled_program: dict[str, set[str]] = defaultdict(set)
        for enrollment in enrollments:
            if enrollment.status is EnrollmentStatus.CANCELLED:
                continue
            employee = one(enrollment.employee_id) or ""
            self.enrolled_program[one(enrollment.program_id) or ""].add(employee)
            if enrollment.session_id:
                self.enrolled_session[one(enrollment.session_id) or ""].add(employee)

    def of_session(self, session_id: str) -> tuple[list[str], str]:
        if self.by_session.get(session_id):
            return sorted(self.by_session[session_id]), f"attendees of session {session_id}"
        return sorted(self.enrolled_session.get(session_id, ())), \
            f"enrollees of session {session_id} (no attendance recorded)"

    def of_program(self, program_id: str) -> tuple[list[str], str]:
        if self.enrolled_program.get(program_id):
            return sorted(self.enrolled_program[program_id]), f"enrollees of program {program_id}"
        return sorted(self.by_program.get(program_id, ())), \
            f"attendees of program {program_id} (no enrollment recorded)"

    def of_day(self, day: date, program_id: str | None) -> tuple[list[str], str]:
        people = {emp for emp, program in self.by_day.get(day, ()) if not program_id or program == program_id}
        where = f" of program {program_id}" if program_id else ""
        return sorted(people), f"attendees of training{where} on {day}"


@dataclass(frozen=True, slots=True)
class Charge:
    """One cost item charged to its people (sorted ids; for an ``employee`` item, that employee):
    its allocation lines are made when read, the same lines every time."""

    item: ItemFacts
    program: str | None
    people: tuple[str, ...]
    basis: str = ""
    each: Decimal = Decimal(0)
    left: int = 0

    def lines(self) -> list[AllocationLine]:
        return [self.line(n) for n in range(len(self.people))]

    def position(self, employee_id: str) -> int | None:
        """Where ``employee_id`` is among the people (None: not charged)."""
        n = bisect_left(self.people, employee_id)
        return n if n < len(self.people) and self.people[n] == employee_id else None

    def amount(self, n: int) -> Decimal:
        """What the ``n``-th person is charged."""
        if self.item.allocation is CostAllocation.SHARED:
            return self.each + (CENT if n < self.left else 0)
        return self.item.amount

    def basis_of(self, n: int) -> str:
        """How the ``n``-th person's line was allocated."""
        if self.item.allocation is CostAllocation.EMPLOYEE:
            return f"charged to {self.people[n]} (allocation employee: the whole item)"
        return self.basis

    def line(self, n: int) -> AllocationLine:
        """The line of the ``n``-th person."""
        group = () if self.item.allocation is CostAllocation.EMPLOYEE else self.people
        return _line(self.item, self.program, self.people[n], self.amount(n), self.basis_of(n), group)


@dataclass(frozen=True)
class Charges:
    """Every cost item's charge in item id order, and the items nobody could be charged with: the
    allocation, its lines made as they are read (:meth:`lines`, :meth:`for_employee`)."""

    charges: tuple[Charge, ...]
    unallocated: tuple[Unallocated, ...] = ()

    def lines(self) -> Iterator[AllocationLine]:
        """Every line, item by item (items by id, each item's people by id): as
        :attr:`Allocation.lines` lists them."""
        for charge in self.charges:
            yield from charge.lines()

    def for_employee(self, employee_id: str) -> list[AllocationLine]:
        """The employee's lines, in item order (:meth:`Allocation.for_employee`)."""
        found = []
        for k in self._by_employee.get(employee_id, ()):
            charge = self.charges[k]
            n = charge.position(employee_id)
            if n is not None:
                found.append(charge.line(n))
        return found

    def people(self) -> set[str]:
        """Everyone with a line."""
        return {employee for charge in self.charges for employee in charge.people}

    def charged(self, item_id: str, employee_id: str) -> bool:
        """True when the item has a line of the employee."""
        return any(charge.position(employee_id) is not None for charge in self._by_item.get(item_id, ()))

    @cached_property
    def _by_employee(self) -> dict[str, list[int]]:
        index: dict[str, list[int]] = defaultdict(list)
        for k, charge in enumerate(self.charges):
            for employee in charge.people:
                index[employee].append(k)
        return dict(index)

    @cached_property
    def _by_item(self) -> dict[str, list[Charge]]:
        index: dict[str, list[Charge]] = defaultdict(list)
        for charge in self.charges:
            index[charge.item.id].append(charge)
        return dict(index)


def allocate_costs(items: Iterable[CostItem | ItemFacts], *, events: Iterable[LearningEvent] = (),
                   enrollments: Iterable[Enrollment] = (),
                   sessions: Iterable[TrainingSession] = ()) -> Allocation:
    """Allocate every cost item to employees; items nobody can be charged with are listed apart."""
    charges = charge_costs(items, events=events, enrollments=enrollments, sessions=sessions)
    return Allocation(tuple(charges.lines()), charges.unallocated)


def charge_costs(items: Iterable[CostItem | ItemFacts], *, events: Iterable[LearningEvent] = (),
                 enrollments: Iterable[Enrollment] = (), sessions: Iterable[TrainingSession] = (),
                 session_program: Mapping[str, str] | None = None) -> Charges:
    """:func:`allocate_costs` with the lines left to be made as they are read (a hundred thousand
    employees' lines are never all held). ``items`` may be streamed (each kept as :class:`ItemFacts`);
    ``session_program``: session id -> program id, for sessions not given as records."""
    names: dict[str, str] = {}
    facts = sorted((ItemFacts.of(item, names) for item in items), key=lambda i: i.id)
    who = _Participants(events, enrollments, sessions, session_program=session_program, names=names)
    charges: list[Charge] = []
    unallocated: list[Unallocated] = []
    for item in facts:
        program = item.program_id or who.session_program.get(item.session_id or "")
        charge, why_not = _charge(item, program, who)
        if charge is not None:
            charges.append(charge)
        if why_not:
            unallocated.append(Unallocated(item.id, item.amount, item.currency, why_not))
    return Charges(tuple(charges), tuple(unallocated))


def _charge(item: ItemFacts, program: str | None, who: _Participants) -> tuple[Charge | None, str | None]:
    if item.allocation is CostAllocation.EMPLOYEE:
        if not item.employee_id:
            return None, "allocation 'employee' but no employee_id"
        return Charge(item, program, (item.employee_id,)), None
    if item.session_id:
        people, group = who.of_session(item.session_id)
    elif item.allocation is CostAllocation.PER_HEAD and program:
        people, group = who.of_program(program)
    elif item.allocation is CostAllocation.SHARED:
        people, group = who.of_day(item.incurred_on, program)
    else:
        return None, "allocation 'per_head' needs a session_id or program_id"
    if not people:
        return None, f"no participants to charge: no {group}"
    group_ids = tuple(people)
    if item.allocation is CostAllocation.PER_HEAD:
        rule = f"per head, charged to each of the {len(people)} {group}"
        return Charge(item, program, group_ids, rule), None
    cents = item.amount / CENT
    if cents != cents.to_integral_value():
        return None, f"amount {item.amount} has fractions of a cent and cannot be split in cents"
    share, left = divmod(int(cents), len(people))
    each = (Decimal(share) * CENT).quantize(CENT)
    rule = f"shared equally among the {len(people)} {group}: {each} each"
    if left:
        firsts = ", ".join(people[:left])
        rule += (f"; the {left} remaining cent(s) go one each to the first {left} by employee id "
                 f"({firsts})")
    return Charge(item, program, group_ids, rule, each, left), None


def _line(item: ItemFacts, program: str | None, employee_id: str, amount: Decimal,
          basis: str, participants: tuple[str, ...] = ()) -> AllocationLine:
    return AllocationLine(item_id=item.id, employee_id=employee_id, category=item.category,
                          allocation=item.allocation, amount=amount, currency=item.currency,
                          item_amount=item.amount, incurred_on=item.incurred_on, basis=basis,
                          program_id=program, session_id=item.session_id, voucher_ref=item.voucher_ref,
                          description=item.description, participants=participants)


def refundable_base(lines: Sequence[AllocationLine], *, employee_id: str, program_id: str, currency: str,
                    include_unvouchered: bool = False) -> RefundableBase:
    """The employee's refundable cost under ``program_id`` in ``currency`` (no rounding: sums of cents).

    ``lines`` may be the whole allocation or (quoting many leavers) only this employee's.
    """
    included: list[AllocationLine] = []
    excluded: list[tuple[AllocationLine, str]] = []
    for line in lines:
        if line.employee_id != employee_id or line.program_id != program_id:
            continue
        ok, why = line.refundability(include_unvouchered)
        if ok and line.currency != currency:
            ok, why = False, f"in {line.currency}, not the agreement's {currency}"
        if ok:
            included.append(line)
        else:
            excluded.append((line, why))
    total = sum((line.amount for line in included), Decimal("0.00"))
    return RefundableBase(total, currency, tuple(included), tuple(excluded))


def lines_by_agreement(lines: Sequence[AllocationLine],
                       agreements: Sequence[Agreement]) -> tuple[dict[str, list[AllocationLine]],
                                                                 dict[str, list[str]]]:
    """Each agreement's own allocation lines, a line never under two agreements; and what each left out.

    An agreement binds one enrollment, so a retake (a second session of the same program) is a
    second agreement over the second session's cost: a line of session S belongs to the
    agreement of session S; a line with no session (charged to the program) belongs to the
    earliest agreement of the program; an agreement that names no session takes the lines of
    sessions no other agreement names. ``agreements`` are one employee's binding ones.
    """
    by_program: dict[str, list[Agreement]] = defaultdict(list)
    for agreement in sorted(agreements, key=lambda a: (a.service_start, a.id)):
        by_program[agreement.program_id].append(agreement)
    owned: dict[str, list[AllocationLine]] = {a.id: [] for a in agreements}
    left_out: dict[str, list[str]] = {a.id: [] for a in agreements}
    for line in lines:
        candidates = by_program.get(line.program_id or "", [])
        if not candidates:
            continue
        owner = _owner(line, candidates)
        if owner is not None:
            owned[owner.id].append(line)
        for other in candidates:
            if other is owner:
                continue
            where = (f"in the base of agreement {owner.id}" if owner is not None
                     else "bound by no agreement")
            what = f"session {line.session_id}" if line.session_id else f"program {line.program_id}"
            left_out[other.id].append(f"{line.label()}: cost of {what}, {where} (each agreement's base is "
                                      "the cost of its own training; LCL art. 22)")
    return owned, left_out


def _owner(line: AllocationLine, candidates: Sequence[Agreement]) -> Agreement | None:
    if line.session_id:
        exact = [a for a in candidates if a.session_id == line.session_id]
        if exact:
            return exact[0]
        named = {a.session_id for a in candidates if a.session_id}
        unnamed = [a for a in candidates if not a.session_id]
        return unnamed[0] if unnamed and line.session_id not in named else None
    return candidates[0]
