"""Talent demand forecast (T2): certificate holders needed vs held, and the training budget.

Pure functions of records: no I/O, no clock (``today`` is passed in). Each returns the
figures and the evidence behind them, so a report can show both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, Decimal

from trainbridge.core.records import (
    Certificate,
    Employee,
    Enrollment,
    LearningEvent,
    Separation,
    TrainingProgram,
    quantize_cents,
)
from trainbridge.core.reports import Note
from trainbridge.rules.agreements import add_months
from trainbridge.rules.talent_holdings import completed_programs, departed, is_valid, latest_certificates

HUNDRED = Decimal(100)
ONE_PLACE = Decimal("0.1")


@dataclass(frozen=True)
class Requirement:
    """``required`` holders of ``certificate`` (or competency) in ``role`` at ``site`` ('' = all sites)."""

    certificate: str
    role: str
    required: int
    site: str = ""

    def covers(self, employee: Employee) -> bool:
        return employee.role == self.role and (not self.site or employee.site == self.site)


@dataclass(frozen=True)
class CostLine:
    """One cost allocation decision: an item's share charged to one employee for one program."""

    item_id: str
    employee_id: str
    program_id: str | None
    category: str
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class CostBasis:
    program_ids: tuple[str, ...]
    per_head: Decimal | None
    currency: str
    people: int
    items: tuple[tuple[str, str, Decimal], ...]  # item, category, total allocated
    note: str = ""


@dataclass(frozen=True)
class Expiring:
    employee_id: str
    certificate: str
    expires_on: date
    days_left: int


@dataclass
class Forecast:
    requirement: Requirement
    headcount: int
    holders: list[str]
    expiring: list[Expiring]
    leavers_12m: list[str]
    attrition_base: int
    attrition_rate: Decimal  # percent
    expected_attrition: Decimal
    expected_leavers: int
    to_train: int
    sessions: int
    cost: CostBasis
    #: :class:`~trainbridge.core.reports.Note` sentences (strings with a rule id and values).
    explanation: list[str]

    @property
    def budget(self) -> Decimal | None:
        if self.cost.per_head is None:
            return None
        return quantize_cents(self.cost.per_head * self.to_train)


def horizon_end(today: date, months: int) -> date:
    return add_months(today, months)


def cost_basis(program_ids: Sequence[str], lines: Sequence[CostLine]) -> CostBasis:
    """Cost per head of the programs: everything allocated to them / the people it was allocated to."""
    mine = [line for line in lines if line.program_id in program_ids]
    if not mine:
        why = (Note(f"no cost history for {', '.join(program_ids)}", "talent.no_cost_history",
                    programs=list(program_ids)) if program_ids
               else Note("no program grants it, so there is no cost history", "talent.no_granting_program"))
        return CostBasis(tuple(program_ids), None, "", 0, (), why)
    per_currency: dict[str, list[CostLine]] = {}
    for line in mine:
        per_currency.setdefault(line.currency, []).append(line)
    # Several currencies cannot be added: the one most people were charged in is the basis.
    currency, chosen = max(per_currency.items(), key=lambda kv: (len({x.employee_id for x in kv[1]}), kv[0]))
    people = len({x.employee_id for x in chosen})
    items: dict[str, tuple[str, Decimal]] = {}
    for line in chosen:
        category, total = items.get(line.item_id, (line.category, Decimal(0)))
        items[line.item_id] = (category, total + line.amount)
    total = sum((x.amount for x in chosen), Decimal(0))
    note = "" if len(per_currency) == 1 else Note(
        f"costs in {', '.join(sorted(per_currency))}: {currency} used", "talent.cost_currencies",
        currencies=sorted(per_currency), currency=currency)
    return CostBasis(tuple(program_ids), quantize_cents(total / people), currency, people,
                     tuple((k, c, quantize_cents(v)) for k, (c, v) in sorted(items.items())), note)


def granting_programs(code: str, programs: Sequence[TrainingProgram]) -> list[str]:
    """Programs granting the certificate; else those teaching the competency."""
    granting = sorted(p.program_id for p in programs if p.certificate == code)
    return granting or sorted(p.program_id for p in programs if code in p.competencies)


def forecast(requirement: Requirement, *, employees: Sequence[Employee], separations: Sequence[Separation],
             certificates: Sequence[Certificate], programs: Sequence[TrainingProgram],
             enrollments: Sequence[Enrollment], events: Sequence[LearningEvent], costs: Sequence[CostLine],
             today: date, horizon_months: int, class_size: int) -> Forecast:
    """Holders needed vs held, less expiries and expected leavers -> people, sessions, budget.

    Attrition rate: the role's separations in the last 12 months over the people in the
    role during those months (here now plus those who left). Expected leavers among the
    holders over the horizon are rounded up: planning for one leaver too many is cheaper
    than one certificate short.
    """
    gone = departed(employees, separations, today)
    in_role = [e for e in employees if requirement.covers(e)]
    present = [e for e in in_role if e.employee_id not in gone]
    present_ids = {e.employee_id for e in present}
    end = horizon_end(today, horizon_months)

    held = latest_certificates(c for c in certificates if c.certificate == requirement.certificate)
    holders: dict[str, Certificate | None] = {
        who: cert for (who, _), cert in held.items() if who in present_ids and is_valid(cert, today)}
    granting = granting_programs(requirement.certificate, programs)
    teaches = [p.program_id for p in programs if requirement.certificate in p.competencies
               and p.certificate != requirement.certificate]
    for employee in present:
        if employee.employee_id not in holders and teaches and \
                completed_programs(employee.employee_id, events, enrollments) & set(teaches):
            holders[employee.employee_id] = None  # a competency from training does not expire
    expiring = sorted((Expiring(who, cert.certificate, cert.expires_on, (cert.expires_on - today).days)
                       for who, cert in holders.items()
                       if cert is not None and cert.expires_on is not None and cert.expires_on <= end),
                      key=lambda x: (x.expires_on, x.employee_id))

    window_start = add_months(today, -12)
    role_ids = {e.employee_id for e in in_role}
    leavers = sorted({s.employee_id for s in separations
                      if s.employee_id in role_ids and window_start <= s.last_day < today})
    base = len(present) + len([x for x in leavers if x not in present_ids])
    rate = Decimal(len(leavers)) / Decimal(base) if base else Decimal(0)
    staying = len(holders) - len(expiring)
    expected = Decimal(staying) * rate * Decimal(horizon_months) / Decimal(12)
    expected_leavers = int(expected.to_integral_value(rounding=ROUND_CEILING))
    to_train = max(0, requirement.required - len(holders) + len(expiring) + expected_leavers)
    sessions = math.ceil(to_train / class_size) if to_train else 0
    cost = cost_basis(granting, costs)

    where = f"{requirement.role} at {requirement.site}" if requirement.site else requirement.role
    # Each line is a Note: the English sentence, and its rule and values for other languages.
    counts = {"required": requirement.required, "holders": len(holders), "expiring": len(expiring),
              "expected_leavers": expected_leavers, "to_train": to_train}
    rate_pct = (rate * HUNDRED).quantize(ONE_PLACE)
    explanation: list[str] = [
        Note(f"{requirement.required} {where} must hold {requirement.certificate}; "
             f"{len(holders)} hold it now (of {len(present)} in the role)", "talent.demand_holders",
             role=requirement.role, site=requirement.site, certificate=requirement.certificate,
             present=len(present), **counts),
        Note(f"{len(expiring)} certificate(s) expire by {end.isoformat()} (horizon {horizon_months} months)",
             "talent.demand_expiring", end=end, months=horizon_months, **counts),
        Note(f"attrition {len(leavers)} leaver(s) in 12 months / {base} people = "
             f"{rate_pct}%; {staying} holder(s) x rate x {horizon_months}/12 = "
             f"{expected.quantize(Decimal('0.01'))} -> {expected_leavers} expected to leave",
             "talent.demand_attrition", leavers=len(leavers), base=base, rate=rate_pct, staying=staying,
             months=horizon_months, expected=expected.quantize(Decimal("0.01")), **counts),
        Note(f"to train = max(0, {requirement.required} - {len(holders)} + {len(expiring)} + "
             f"{expected_leavers}) = {to_train}", "talent.demand_to_train", **counts),
        Note(f"sessions = ceil({to_train} / class size {class_size}) = {sessions}", "talent.demand_sessions",
             class_size=class_size, sessions=sessions, **counts),
    ]
    if cost.per_head is not None:
        explanation.append(Note(
            f"budget = {to_train} x {cost.per_head} {cost.currency} per head "
            f"({len(cost.items)} cost item(s) of {', '.join(cost.program_ids)} over {cost.people} people)",
            "talent.demand_budget", per_head=cost.per_head, currency=cost.currency, items=len(cost.items),
            programs=list(cost.program_ids), people=cost.people, **counts))
    else:
        explanation.append(Note(f"budget unknown: {cost.note}", "talent.demand_budget_unknown",
                                why=cost.note))
    lacking = len(present) - len(holders)
    if to_train - len(expiring) > lacking:
        explanation.append(Note(f"only {lacking} in the role lack it: hire or transfer people to train",
                                "talent.demand_lacking", lacking=lacking))
    return Forecast(requirement, len(present), sorted(holders), expiring, leavers, base,
                    (rate * HUNDRED).quantize(ONE_PLACE), expected, expected_leavers, to_train, sessions,
                    cost, explanation)


def parse_horizon(text: str) -> int:
    """``12m``, ``18m``, ``2y`` or a bare number of months -> months."""
    value = text.strip().lower()
    try:
        months = int(value[:-1]) * 12 if value.endswith("y") else int(value.removesuffix("m"))
    except ValueError:
        msg = f"horizon {text!r} is not months (12m) or years (1y)"
        raise ValueError(msg) from None
    if months <= 0:
        msg = f"horizon {text!r} must be at least one month"
        raise ValueError(msg)
    return months

