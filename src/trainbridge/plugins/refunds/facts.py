"""What cost and refund decisions are computed from, read from the ledger once per run.

A job that quotes ten thousand leavers must not read the world once per leaver: the
records are loaded here once, indexed by employee, each with its content hash, so every
decision can store the inputs it used (``Decision.inputs``: id -> hash) and a later run can
tell which decisions no longer follow their inputs.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.engine import Connection

from trainbridge.core.ledger import Ledger, queries
from trainbridge.core.records import (
    Agreement,
    AgreementStatus,
    CostItem,
    Employee,
    Enrollment,
    LearningEvent,
    Record,
    Separation,
    TrainingProgram,
    TrainingSession,
    digest_id,
)
from trainbridge.rules.costs import AllocationLine, Charges, ItemFacts, charge_costs
from trainbridge.rules.refunds import money

R = TypeVar("R", bound=Record)

#: The record kinds a refund quote follows (the separations job's ``inputs``).
QUOTE_KINDS = ("employee", "separation", "agreement", "program", "session", "enrollment", "learning_event",
               "cost_item")
#: The record kinds a cost allocation follows (the costs job's ``inputs``).
COST_KINDS = ("cost_item", "program", "session", "enrollment", "learning_event", "employee")


def with_hashes(ledger: Ledger, conn: Connection, model: type[R], *,
                subject: str | None = None) -> Iterator[tuple[R, str]]:
    queries.planned(ledger, conn)  # PostgreSQL must know the table it pages through (a fresh ledger)
    for record, content_hash in ledger.iter_records(conn, model.kind, subject=subject, with_hash=True):
        if isinstance(record, model):
            yield record, content_hash


def records_of(ledger: Ledger, conn: Connection, model: type[R], *, subject: str | None = None) -> list[R]:
    return [record for record, _ in with_hashes(ledger, conn, model, subject=subject)]


def config_digest(config: BaseModel | None) -> str:
    """A job's settings as an input: changing them re-decides what they shape."""
    data = config.model_dump(mode="json") if config is not None else {}
    return digest_id(json.dumps(data, sort_keys=True))


def allocation_payload(line: AllocationLine, include_unvouchered: bool) -> dict[str, Any]:
    """A cost allocation decision's payload: what the line charges and whether it is refundable."""
    refundable, why = line.refundability(include_unvouchered)
    return {"item_id": line.item_id, "employee_id": line.employee_id, "program_id": line.program_id,
            "session_id": line.session_id, "category": line.category.value,
            "allocation": line.allocation.value, "amount": money(line.amount), "currency": line.currency,
            "item_amount": money(line.item_amount), "voucher_ref": line.voucher_ref,
            "refundable": refundable, "refundable_reason": why, "rule": line.rule}


def fingerprint(payload: Mapping[str, Any]) -> str:
    return digest_id(json.dumps(payload, sort_keys=True))


def allocation_key(item_id: str, employee_id: str) -> str:
    """The id of the cost allocation decision of one item and employee (first revision)."""
    return f"cost_allocation:{item_id}:{employee_id}"


@dataclass
class CostFacts:
    """Every cost item allocated to employees, with the hashes of what each line came from.

    The allocation is held as each item's charge (:class:`~trainbridge.rules.costs.Charges`): the
    lines are made as they are read, item by item or one employee's, never all held."""

    allocation: Charges
    item_hashes: dict[str, str]
    session_hashes: dict[str, tuple[str, str]]
    _participants: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, ledger: Ledger, conn: Connection, *, program_ids: set[str] | None = None,
             enrollments: Iterable[Enrollment] | None = None) -> CostFacts:
        """Allocate the ledger's cost items (of ``program_ids`` only, when given): one read of each kind,
        streamed (items kept as :class:`~trainbridge.rules.costs.ItemFacts`, attendance and enrollments
        as who took part where).

        ``enrollments``: every enrollment, when the caller has read them already."""
        program_of: dict[str, str] = {}
        session_hashes: dict[str, tuple[str, str]] = {}
        for session, content_hash in with_hashes(ledger, conn, TrainingSession):
            program_of[session.session_id] = session.program_id
            session_hashes[session.session_id] = (session.id, content_hash)
        names: dict[str, str] = {}
        item_hashes: dict[str, str] = {}
        items: list[ItemFacts] = []
        for item, content_hash in with_hashes(ledger, conn, CostItem):
            program = item.program_id or program_of.get(item.session_id or "")
            if program_ids is None or program in program_ids:
                items.append(ItemFacts.of(item, names))
                item_hashes[item.id] = content_hash
        if not items:
            return cls(Charges(()), {}, session_hashes)
        events = (e for e in ledger.iter_records(conn, LearningEvent.kind) if isinstance(e, LearningEvent))
        # enrollments streamed as the allocation reads them once: who enrolled where, not every record
        allocation = charge_costs(items, events=events,
                                  enrollments=((e for e, _ in with_hashes(ledger, conn, Enrollment))
                                               if enrollments is None else enrollments),
                                  session_program=program_of)
        return cls(allocation, item_hashes, session_hashes)

    def line_inputs(self, line: AllocationLine) -> dict[str, str]:
        """The cost item, its session, and the group it was charged to or split among."""
        inputs = {line.item_id: self.item_hashes.get(line.item_id, "")}
        if line.session_id and line.session_id in self.session_hashes:
            record_id, content_hash = self.session_hashes[line.session_id]
            inputs[record_id] = content_hash
        if line.participants:
            inputs[f"participants:{line.item_id}"] = self._group_digest(line)
        return inputs

    def _group_digest(self, line: AllocationLine) -> str:
        # One digest per item, not per line: a shared item's N lines share one group.
        known = self._participants.get(line.item_id)
        if known is None:
            known = self._participants[line.item_id] = digest_id(",".join(line.participants))
        return known


@dataclass
class Leaver:
    """One separation with what its quote reads: the employee and every agreement of theirs."""

    separation: Separation
    separation_hash: str
    employee: Employee | None = None
    employee_hash: str = ""
    agreements: list[tuple[Agreement, str]] = field(default_factory=list)


@dataclass
class LeaverFacts:
    """Separations, their employees and agreements, indexed by employee; programs by id."""

    leavers: list[Leaver]
    programs: dict[str, tuple[TrainingProgram, str]]

    @classmethod
    def load(cls, ledger: Ledger, conn: Connection, *, employee_id: str | None = None,
             enrollments: Sequence[Enrollment] | None = None) -> LeaverFacts:
        """Every separation (or one employee's), each a single pass over its kind.

        ``enrollments``: every enrollment, when the caller has read them already (they name
        the session each agreement binds)."""
        leavers = [Leaver(s, h) for s, h in with_hashes(ledger, conn, Separation, subject=employee_id)]
        by_employee: dict[str, list[Leaver]] = defaultdict(list)
        for leaver in leavers:
            by_employee[leaver.separation.employee_id].append(leaver)
        if by_employee:
            for employee, content_hash in _of_subjects(ledger, conn, Employee, by_employee, employee_id):
                for leaver in by_employee.get(employee.employee_id, ()):
                    leaver.employee, leaver.employee_hash = employee, content_hash
            if enrollments is None:
                enrollments = [e for e, _ in _of_subjects(ledger, conn, Enrollment, by_employee, employee_id)]
            sessions = {e.id: e.session_id for e in enrollments if e.session_id}
            for agreement, content_hash in _of_subjects(ledger, conn, Agreement, by_employee, employee_id):
                agreement = with_session(agreement, sessions)
                for leaver in by_employee.get(agreement.employee_id, ()):
                    leaver.agreements.append((agreement, content_hash))
        programs = {p.program_id: (p, h) for p, h in with_hashes(ledger, conn, TrainingProgram)}
        return cls(sorted(leavers, key=lambda x: x.separation.id), programs)

    @classmethod
    def load_of(cls, ledger: Ledger, conn: Connection, separation_ids: Sequence[str], *,
                sessions: Mapping[str, str], programs: dict[str, tuple[TrainingProgram, str]]) -> LeaverFacts:
        """The separations among ``separation_ids`` (a batch of a job's), read by id, their employees
        and agreements by subject: what :meth:`load` gives for them, the same records in the same order.

        ``sessions``: enrollment id -> session id (:func:`enrollment_sessions`); ``programs``: every
        program with its hash (:func:`program_facts`)."""
        found = queries.hashed_by_ids(ledger, conn, Separation.kind, separation_ids)
        leavers = [Leaver(s, h) for s, h in found if isinstance(s, Separation)]
        by_employee: dict[str, list[Leaver]] = defaultdict(list)
        for leaver in leavers:
            by_employee[leaver.separation.employee_id].append(leaver)
        for employee, content_hash in queries.hashed_of_subjects(ledger, conn, Employee.kind, by_employee):
            if isinstance(employee, Employee):
                for leaver in by_employee.get(employee.employee_id, ()):
                    leaver.employee, leaver.employee_hash = employee, content_hash
        for agreement, content_hash in queries.hashed_of_subjects(ledger, conn, Agreement.kind, by_employee):
            if isinstance(agreement, Agreement):
                agreement = with_session(agreement, sessions)
                for leaver in by_employee.get(agreement.employee_id, ()):
                    leaver.agreements.append((agreement, content_hash))
        return cls(sorted(leavers, key=lambda x: x.separation.id), programs)

    @cached_property
    def program_records(self) -> dict[str, TrainingProgram]:
        return {program_id: program for program_id, (program, _) in self.programs.items()}

    def signed_program_ids(self) -> set[str]:
        """Programs of the signed agreements: the only costs a quote reads."""
        return {a.program_id for leaver in self.leavers for a, _ in leaver.agreements
                if a.status is AgreementStatus.SIGNED}


def enrollment_sessions(ledger: Ledger, conn: Connection, sessions: dict[str, str]) -> Iterator[Enrollment]:
    """Every enrollment, streamed, noting in ``sessions`` the session of each (enrollment id ->
    session id: what an agreement that does not name its session takes), so the kind is read once
    for both the cost allocation and the agreements."""
    for enrollment, _ in with_hashes(ledger, conn, Enrollment):
        if enrollment.session_id:
            sessions[enrollment.id] = enrollment.session_id
        yield enrollment


def program_facts(ledger: Ledger, conn: Connection) -> dict[str, tuple[TrainingProgram, str]]:
    """Every program by id, with its content hash (as :class:`LeaverFacts` keeps them)."""
    return {p.program_id: (p, h) for p, h in with_hashes(ledger, conn, TrainingProgram)}


def signed_programs_of(ledger: Ledger, conn: Connection, employees: AbstractSet[str]) -> set[str]:
    """Programs of the signed agreements of ``employees`` (:meth:`LeaverFacts.signed_program_ids`
    for every leaver), the agreements streamed."""
    return {a.program_id for a, _ in with_hashes(ledger, conn, Agreement)
            if a.status is AgreementStatus.SIGNED and a.employee_id in employees}


def _of_subjects(ledger: Ledger, conn: Connection, model: type[R], subjects: Iterable[str],
                 only: str | None) -> Iterator[tuple[R, str]]:
    wanted = set(subjects)
    for record, content_hash in with_hashes(ledger, conn, model, subject=only):
        if getattr(record, "employee_id", None) in wanted:
            yield record, content_hash


def with_session(agreement: Agreement, sessions: Mapping[str, str]) -> Agreement:
    """An agreement recorded before it named its session takes the session of its enrollment.

    The agreements job names an agreement ``agreement:{enrollment id}``; its base is that
    session's cost (a retake is another enrollment, another agreement, another base).
    """
    if agreement.session_id:
        return agreement
    enrollment_id = agreement.enrollment_id or agreement.id.removeprefix("agreement:")
    session = sessions.get(enrollment_id)
    return agreement.model_copy(update={"session_id": session}) if session else agreement
