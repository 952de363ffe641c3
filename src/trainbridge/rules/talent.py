"""Talent data (T1, T2, D1): capability profiles, certificate demand, training needs.

Pure functions of records: no I/O, no clock (``today`` is passed in). Each returns the
figures and the evidence behind them, so a report can show both.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_CEILING, Decimal

from trainbridge.core.records import (
    Certificate,
    Employee,
    EmploymentStatus,
    Enrollment,
    EnrollmentStatus,
    JobChange,
    LearningEvent,
    LearningEventKind,
    MetricValue,
    PointsEntry,
    Separation,
    TrainingProgram,
    quantize_cents,
)
from trainbridge.core.reports import Note
from trainbridge.rules.agreements import Lead, add_months
from trainbridge.rules.points import period_key

HUNDRED = Decimal(100)
ONE_PLACE = Decimal("0.1")
COMPETENCY_PREFIX = "competency:"


# --- who is here, what they hold ----------------------------------------------------


def departed(employees: Iterable[Employee], separations: Iterable[Separation], today: date) -> set[str]:
    """Employees gone by ``today``: a separation whose last day has passed, or a terminated status."""
    gone = {s.employee_id for s in separations if s.last_day < today}
    gone |= {e.employee_id for e in employees if e.status is EmploymentStatus.TERMINATED}
    return gone


def latest_certificates(certificates: Iterable[Certificate]) -> dict[tuple[str, str], Certificate]:
    """(employee, certificate) -> the one that runs longest: a renewal replaces the old certificate."""
    latest: dict[tuple[str, str], Certificate] = {}
    for cert in certificates:
        key = (cert.employee_id, cert.certificate)
        held = latest.get(key)
        if held is None or _runs_longer(cert, held):
            latest[key] = cert
    return latest


def _runs_longer(a: Certificate, b: Certificate) -> bool:
    if a.expires_on is None or b.expires_on is None:
        return a.expires_on is None and (b.expires_on is not None or a.issued_on > b.issued_on)
    return (a.expires_on, a.issued_on) > (b.expires_on, b.issued_on)


def is_valid(cert: Certificate, today: date) -> bool:
    """Issued by ``today`` and not expired: a certificate is good through its expiry day."""
    return cert.issued_on <= today and (cert.expires_on is None or cert.expires_on >= today)


def reminder_is_due(cert: Certificate, lead: Lead, today: date) -> bool:
    """Due from ``lead`` before the expiry through the expiry day itself."""
    return cert.expires_on is not None and lead.before(cert.expires_on) <= today <= cert.expires_on


def completed_programs(employee_id: str, events: Iterable[LearningEvent],
                       enrollments: Iterable[Enrollment]) -> set[str]:
    done = {e.program_id for e in enrollments
            if e.employee_id == employee_id and e.status is EnrollmentStatus.COMPLETED}
    done |= {e.program_id for e in events if e.employee_id == employee_id and e.program_id
             and e.event in (LearningEventKind.COMPLETED, LearningEventKind.PASSED,
                             LearningEventKind.CERTIFICATE_OBTAINED)}
    return {p for p in done if p}


# --- T1 capability profile ----------------------------------------------------------


@dataclass(frozen=True)
class Training:
    program_id: str
    title: str
    status: str  # completed, attended, in_progress, enrolled
    first_day: date | None


@dataclass(frozen=True)
class HeldCertificate:
    certificate: str
    issued_on: date
    expires_on: date | None
    status: str  # valid, expiring, expired
    days_left: int | None


@dataclass(frozen=True)
class MetricChange:
    program_id: str
    metric: str
    before: Decimal
    before_on: date
    after: Decimal
    after_on: date
    direction: str


@dataclass(frozen=True)
class Gap:
    requirement: str
    kind: str  # competency or certificate
    reason: str


@dataclass
class Profile:
    employee_id: str
    employee: Employee | None
    trainings: list[Training] = field(default_factory=list)
    certificates: list[HeldCertificate] = field(default_factory=list)
    points_total: int = 0
    points_by_quarter: list[tuple[str, int]] = field(default_factory=list)
    metric_changes: list[MetricChange] = field(default_factory=list)
    job_history: list[JobChange] = field(default_factory=list)
    required: list[str] = field(default_factory=list)
    covered: dict[str, str] = field(default_factory=dict)
    gaps: list[Gap] = field(default_factory=list)

    @property
    def has_history(self) -> bool:
        return bool(self.trainings or self.certificates or self.points_by_quarter or self.metric_changes
                    or self.job_history)

    @property
    def trend(self) -> str:
        """Last quarter against the one before: up, down, flat; '' with fewer than two quarters."""
        if len(self.points_by_quarter) < 2:
            return ""
        before, last = self.points_by_quarter[-2][1], self.points_by_quarter[-1][1]
        return "up" if last > before else "down" if last < before else "flat"


@dataclass(frozen=True)
class RoleRequirements:
    competencies: tuple[str, ...] = ()
    certificates: tuple[str, ...] = ()


def capability_profile(employee_id: str, employee: Employee | None, *, programs: Sequence[TrainingProgram],
                       enrollments: Sequence[Enrollment], events: Sequence[LearningEvent],
                       certificates: Sequence[Certificate], points: Sequence[PointsEntry],
                       metrics: Sequence[MetricValue], requirements: RoleRequirements,
                       today: date, expiring_days: int = 60) -> Profile:
    """One employee's trainings, certificates, points, metrics around training, roles and gaps."""
    titles = {p.program_id: p.title for p in programs}
    by_program = {p.program_id: p for p in programs}
    profile = Profile(employee_id, employee)
    mine_events = [e for e in events if e.employee_id == employee_id]
    mine_enrollments = [e for e in enrollments if e.employee_id == employee_id
                        and e.status is not EnrollmentStatus.CANCELLED]

    done = completed_programs(employee_id, mine_events, mine_enrollments)
    status: dict[str, str] = {}
    first_day: dict[str, date] = {}
    for enrollment in mine_enrollments:
        status[enrollment.program_id] = enrollment.status.value
    for event in mine_events:
        if event.program_id and event.event in (LearningEventKind.ATTENDED, LearningEventKind.COMPLETED,
                                                LearningEventKind.PASSED):
            day = event.occurred_at.date()
            first_day[event.program_id] = min(first_day.get(event.program_id, day), day)
            if status.get(event.program_id) in (None, "enrolled", "in_progress"):
                status[event.program_id] = "attended"
    for program in done:
        status[program] = "completed"
    profile.trainings = sorted(
        (Training(p, titles.get(p, ""), s, first_day.get(p)) for p, s in status.items()),
        key=lambda t: (t.first_day or date.max, t.program_id))

    held = [c for (who, _), c in latest_certificates(certificates).items() if who == employee_id]
    for cert in sorted(held, key=lambda c: (c.expires_on or date.max, c.certificate)):
        days_left = (cert.expires_on - today).days if cert.expires_on else None
        state = "expired" if not is_valid(cert, today) else (
            "expiring" if days_left is not None and days_left <= expiring_days else "valid")
        profile.certificates.append(HeldCertificate(cert.certificate, cert.issued_on, cert.expires_on, state,
                                                    days_left))

    quarters: dict[str, int] = {}
    for entry in points:
        if entry.employee_id == employee_id:
            key = period_key(entry.earned_on, "quarter")
            quarters[key] = quarters.get(key, 0) + entry.points
    profile.points_by_quarter = sorted(quarters.items())
    profile.points_total = sum(quarters.values())

    profile.metric_changes = metric_changes([m for m in metrics if m.employee_id == employee_id], first_day)
    if employee is not None:
        profile.job_history = sorted(employee.job_history, key=lambda j: j.effective_date)

    valid = {c.certificate for c in held if is_valid(c, today)}
    covered: dict[str, str] = {}
    for code in sorted(valid):
        covered.setdefault(code, f"certificate {code}")
    for done_id in sorted(done):
        granted = by_program.get(done_id)
        if granted is not None:
            for competency in granted.competencies:
                covered.setdefault(competency, f"completed {done_id}")
    profile.required = [*requirements.competencies, *requirements.certificates]
    profile.covered = {r: covered[r] for r in profile.required if r in covered}
    for competency in requirements.competencies:
        if competency not in covered:
            profile.gaps.append(Gap(competency, "competency",
                                    "no completed training or certificate covers it"))
    for code in requirements.certificates:
        if code not in valid:
            mine = next((c for c in held if c.certificate == code), None)
            why = f"expired on {mine.expires_on}" if mine else "not held"
            profile.gaps.append(Gap(code, "certificate", why))
    return profile


def metric_changes(metrics: Sequence[MetricValue], trained_on: Mapping[str, date]) -> list[MetricChange]:
    """Per program and metric: the last value on or before the training day and the first after it."""
    series: dict[str, list[MetricValue]] = {}
    for metric in metrics:
        if not metric.metric.startswith(COMPETENCY_PREFIX):
            series.setdefault(metric.metric, []).append(metric)
    out = []
    for program_id, day in sorted(trained_on.items()):
        for name, values in sorted(series.items()):
            ordered = sorted(values, key=lambda m: m.as_of)
            before = [m for m in ordered if m.as_of <= day]
            after = [m for m in ordered if m.as_of > day]
            if before and after:
                out.append(MetricChange(program_id, name, before[-1].value, before[-1].as_of, after[0].value,
                                        after[0].as_of, after[0].direction.value))
    return out


# --- T2 demand forecast -------------------------------------------------------------


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


# --- D1 needs analysis --------------------------------------------------------------


@dataclass
class Need:
    topic: str
    people: set[str] = field(default_factory=set)
    from_reviews: set[str] = field(default_factory=set)
    from_goals: set[str] = field(default_factory=set)
    evidence: list[str] = field(default_factory=list)


def training_needs(employees: Sequence[Employee], metrics: Sequence[MetricValue], *, gone: set[str],
                   low_score: Decimal, competency_topics: Mapping[str, str],
                   goal_topics: Mapping[str, Sequence[str]]) -> tuple[list[Need], list[str]]:
    """Topics ranked by the people behind them: low review scores and stated career goals.

    A competency's latest review score below ``low_score`` counts; a goal counts through
    ``goal_topics`` (an unmapped goal is its own topic, and is named in the notes).
    Returns the needs, most people first, and the notes.
    """
    needs: dict[str, Need] = {}
    present = {e.employee_id: e for e in employees if e.employee_id not in gone}
    latest: dict[tuple[str, str], MetricValue] = {}
    for metric in metrics:
        if metric.metric.startswith(COMPETENCY_PREFIX) and metric.employee_id in present:
            key = (metric.employee_id, metric.metric)
            if key not in latest or metric.as_of > latest[key].as_of:
                latest[key] = metric
    for (who, name), metric in sorted(latest.items()):
        if metric.value < low_score:
            competency = name[len(COMPETENCY_PREFIX):]
            need = needs.setdefault(competency_topics.get(competency, competency),
                                    Need(competency_topics.get(competency, competency)))
            need.people.add(who)
            need.from_reviews.add(who)
            need.evidence.append(f"{who} {name} {metric.value.normalize()} < {low_score} ({metric.as_of})")
    unmapped: set[str] = set()
    for who, employee in sorted(present.items()):
        for goal in employee.career_goals:
            topics = goal_topics.get(goal)
            if topics is None:
                unmapped.add(goal)
                topics = (goal,)
            for topic in topics:
                need = needs.setdefault(topic, Need(topic))
                need.people.add(who)
                need.from_goals.add(who)
                need.evidence.append(f"{who} goal {goal}")
    ranked = sorted(needs.values(), key=lambda n: (-len(n.people), -len(n.from_reviews), n.topic))
    notes = [f"career goal(s) not mapped to a topic: {', '.join(sorted(unmapped))} "
             "(map them in [jobs.talent] goals)"] if unmapped else []
    return ranked, notes


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

