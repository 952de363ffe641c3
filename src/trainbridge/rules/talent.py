"""Talent data (T1, D1): capability profiles and training needs; demand (T2) in talent_demand.

Pure functions of records: no I/O, no clock (``today`` is passed in). Each returns the
figures and the evidence behind them, so a report can show both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from trainbridge.core.records import (
    Certificate,
    Employee,
    Enrollment,
    EnrollmentStatus,
    JobChange,
    LearningEvent,
    LearningEventKind,
    MetricValue,
    PointsEntry,
    TrainingProgram,
)
from trainbridge.rules.points import period_key
from trainbridge.rules.talent_demand import (
    HUNDRED,
    ONE_PLACE,
    CostBasis,
    CostLine,
    Expiring,
    Forecast,
    Requirement,
    cost_basis,
    forecast,
    granting_programs,
    horizon_end,
    parse_horizon,
)
from trainbridge.rules.talent_holdings import (
    completed_programs,
    departed,
    is_valid,
    latest_certificates,
    reminder_is_due,
)

__all__ = ["COMPETENCY_PREFIX", "HUNDRED", "ONE_PLACE", "CostBasis", "CostLine", "Expiring", "Forecast",
           "Gap", "HeldCertificate", "MetricChange", "Need", "Profile", "Requirement", "RoleRequirements",
           "Training", "capability_profile", "completed_programs", "cost_basis", "departed", "forecast",
           "granting_programs", "horizon_end", "is_valid", "latest_certificates", "metric_changes",
           "parse_horizon", "reminder_is_due", "training_needs"]

COMPETENCY_PREFIX = "competency:"


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
