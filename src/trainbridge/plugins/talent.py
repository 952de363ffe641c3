"""Talent data (T1, T2, D1): profile, demand and needs reports, and certificate expiry reminders.

The figures come from :mod:`trainbridge.rules.talent`; this module reads the ledger,
the ``[jobs.talent]`` table (role matrix, demand, topics) and ``[jobs.certificates]``
(reminder lead times, HR), and renders :class:`ReportResult` objects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import click
from pydantic import BaseModel, ConfigDict, Field, field_validator

from trainbridge import hookimpl
from trainbridge.connectors.files import FileSourceConfig, _FileSource
from trainbridge.core.config import validate_table
from trainbridge.core.connector import ConnectorConfig
from trainbridge.core.jobs import Decision, Job, JobContext, Plan, Write
from trainbridge.core.records import (
    Certificate,
    Employee,
    Enrollment,
    HealthResult,
    LearningEvent,
    MetricDirection,
    MetricValue,
    Notice,
    Page,
    PointsEntry,
    Recipient,
    Separation,
    TrainingProgram,
)
from trainbridge.core.reports import Chart, Report, ReportResult
from trainbridge.plugins.agreements.config import RecipientConfig
from trainbridge.plugins.points_reports import improvement
from trainbridge.rules.agreements import parse_lead
from trainbridge.rules.points import active_entries
from trainbridge.rules.talent import (
    CostLine,
    Forecast,
    Profile,
    Requirement,
    RoleRequirements,
    capability_profile,
    departed,
    forecast,
    latest_certificates,
    parse_horizon,
    reminder_is_due,
    training_needs,
)

REMINDER = "certificate_reminder"


# --- configuration ------------------------------------------------------------------


class RoleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    competencies: tuple[str, ...] = ()
    certificates: tuple[str, ...] = ()


class DemandConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    certificate: str = Field(min_length=1, description="Certificate (or competency) code")
    role: str = Field(min_length=1)
    site: str = Field(default="", description="'' counts every site")
    required: int = Field(ge=0, description="Holders the role/site needs")


class TalentConfig(BaseModel):
    """The ``[jobs.talent]`` table: read by the profile, demand and needs reports."""

    model_config = ConfigDict(extra="forbid")
    roles: dict[str, RoleConfig] = Field(default_factory=dict, description="Role -> required competencies")
    demand: tuple[DemandConfig, ...] = ()
    horizon: str = Field(default="12m", description="Demand forecast horizon: 12m, 18m, 2y")
    class_size: int = Field(default=20, ge=1)
    expiring_days: int = Field(default=60, ge=0, description="Profiles flag certificates this close")
    low_score: Decimal = Field(default=Decimal(3), description="Review scores below this are low")
    competency_topics: dict[str, str] = Field(default_factory=dict, description="Competency -> topic")
    goals: dict[str, tuple[str, ...]] = Field(default_factory=dict, description="Career goal -> topics")

    @field_validator("goals", mode="before")
    @classmethod
    def _one_topic(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: (v,) if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("horizon")
    @classmethod
    def _horizon(cls, value: str) -> str:
        parse_horizon(value)
        return value


class CertificatesConfig(BaseModel):
    """The ``[jobs.certificates]`` table."""

    model_config = ConfigDict(extra="forbid")
    reminders: tuple[str, ...] = Field(default=("60d",), description="Lead times before expiry: 60d, 1m")
    hr: tuple[RecipientConfig, ...] = Field(default=(), description="Who gets HR's copy")

    @field_validator("reminders")
    @classmethod
    def _leads(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for text in value:
            parse_lead(text)
        return value


def talent_config(ws: Any) -> TalentConfig:
    table = ws.settings.jobs.get("talent", {})
    cfg: TalentConfig = validate_table(TalentConfig, table, file=ws.settings.file, table="jobs.talent")
    return cfg


# --- the ledger, read once per report -----------------------------------------------


class View:
    """The records the talent reports need, typed."""

    def __init__(self, records: Mapping[str, list[Any]], cost_rows: Sequence[Mapping[str, Any]],
                 reminder_rows: Sequence[Mapping[str, Any]], superseded: set[str]) -> None:
        def typed(kind: str, cls: type[Any]) -> list[Any]:
            return [r for r in records.get(kind, []) if isinstance(r, cls)]

        self.employees: list[Employee] = typed("employee", Employee)
        self.separations: list[Separation] = typed("separation", Separation)
        self.programs: list[TrainingProgram] = typed("program", TrainingProgram)
        self.enrollments: list[Enrollment] = typed("enrollment", Enrollment)
        self.events: list[LearningEvent] = typed("learning_event", LearningEvent)
        self.certificates: list[Certificate] = typed("certificate", Certificate)
        self.metrics: list[MetricValue] = typed("metric", MetricValue)
        self.points: list[PointsEntry] = active_entries(typed("points_entry", PointsEntry), superseded)
        self.costs = cost_lines(cost_rows)
        self.reminded = {row["payload"]["certificate_id"]: row for row in reminder_rows}
        self.people = {e.employee_id: e for e in self.employees}

    def name(self, employee_id: str) -> str:
        who = self.people.get(employee_id)
        return who.name if who else ""


def load_view(ws: Any) -> View:
    from trainbridge.plugins.points import superseded_ids

    kinds = ("employee", "separation", "program", "enrollment", "learning_event", "certificate", "metric",
             "points_entry")
    with ws.ledger.transaction() as conn:
        records = {kind: list(ws.ledger.iter_records(conn, kind)) for kind in kinds}
        costs = ws.ledger.list_decisions(conn, "cost_allocation")
        reminders = ws.ledger.list_decisions(conn, REMINDER)
        superseded = superseded_ids(ws.ledger, conn)
    return View(records, costs, reminders, superseded)


def cost_lines(rows: Sequence[Mapping[str, Any]]) -> list[CostLine]:
    """The latest revision of each (item, employee) allocation; withdrawn ones are left out."""
    latest: dict[tuple[str, str], Mapping[str, Any]] = {}
    for row in rows:
        p = row["payload"]
        key = (p["item_id"], p["employee_id"])
        if key not in latest or p.get("revision", 1) > latest[key].get("revision", 1):
            latest[key] = p
    return [CostLine(p["item_id"], p["employee_id"], p.get("program_id"), p.get("category", ""),
                     Decimal(str(p["amount"])), p["currency"])
            for p in latest.values() if not p.get("withdrawn")]


def _today(today: Any) -> date:
    if isinstance(today, datetime):
        return today.date()
    return today if isinstance(today, date) else date.today()


# --- T1 capability profile ----------------------------------------------------------


def build_profile(view: View, employee_id: str, cfg: TalentConfig, today: date) -> Profile:
    employee = view.people.get(employee_id)
    role = cfg.roles.get(employee.role) if employee else None
    requirements = RoleRequirements(role.competencies, role.certificates) if role else RoleRequirements()
    return capability_profile(employee_id, employee, programs=view.programs, enrollments=view.enrollments,
                              events=view.events, certificates=view.certificates, points=view.points,
                              metrics=view.metrics, requirements=requirements, today=today,
                              expiring_days=cfg.expiring_days)


def no_history_note(profile: Profile) -> str:
    who = f"{profile.employee.name} ({profile.employee_id})" if profile.employee else profile.employee_id
    return (f"{who} has no training history: no trainings, certificates, points, performance metrics "
            "or role changes on record")


def employee_profile_report(profile: Profile) -> ReportResult:
    e = profile.employee
    if e is None:
        return ReportResult(f"Capability profile {profile.employee_id}", ["item", "value"], [],
                            notes=[f"no employee {profile.employee_id} in the ledger "
                                   "(check the id, or run `trainbridge sync ingest`)"],
                            data={"employee_id": profile.employee_id, "found": False})
    completed = sum(1 for t in profile.trainings if t.status == "completed")
    summary: list[list[Any]] = [
        ["name", e.name], ["department", e.department], ["role", e.role], ["site", e.site],
        ["job title", e.job_title],
        ["trainings completed", f"{completed} of {len(profile.trainings)}"],
        ["certificates", ", ".join(f"{c.certificate} ({c.status})" for c in profile.certificates)],
        ["points", profile.points_total], ["points trend", profile.trend],
        ["skill gaps", ", ".join(g.requirement for g in profile.gaps)]]
    notes = [] if profile.has_history else [no_history_note(profile)]
    if not profile.required:
        notes.append(f"role {e.role or '(none)'} has no competency matrix in [jobs.talent] roles: "
                     "no skill gaps can be found")
    sections = [
        ReportResult("Trainings", ["program", "title", "status", "first_day"],
                     [[t.program_id, t.title, t.status, t.first_day] for t in profile.trainings]),
        ReportResult("Certificates", ["certificate", "issued_on", "expires_on", "days_left", "status"],
                     [[c.certificate, c.issued_on, c.expires_on, c.days_left, c.status]
                      for c in profile.certificates]),
        ReportResult("Points by quarter", ["quarter", "points"], [list(q) for q in profile.points_by_quarter],
                     charts=[Chart("Points by quarter", [q for q, _ in profile.points_by_quarter],
                                   [p for _, p in profile.points_by_quarter])]
                     if profile.points_by_quarter else []),
        ReportResult("Performance before and after training",
                     ["program", "metric", "before", "before_on", "after", "after_on", "improvement_pct"],
                     [[m.program_id, m.metric, m.before.normalize(), m.before_on, m.after.normalize(),
                       m.after_on, _gain(m.before, m.after, m.direction)] for m in profile.metric_changes]),
        ReportResult("Promotions and role changes", ["effective_date", "change", "job_title", "department"],
                     [[j.effective_date, j.change, j.job_title, j.department] for j in profile.job_history]),
        ReportResult("Skill gaps", ["requirement", "kind", "why"],
                     [[g.requirement, g.kind, g.reason] for g in profile.gaps],
                     notes=[f"covered: {k} by {v}" for k, v in profile.covered.items()]),
    ]
    return ReportResult(f"Capability profile {e.employee_id} {e.name}", ["item", "value"], summary,
                        notes=notes, sections=[s for s in sections if s.rows or s.notes],
                        data={"employee_id": e.employee_id, "found": True, "has_history": profile.has_history,
                              "points_by_quarter": dict(profile.points_by_quarter),
                              "gaps": [g.requirement for g in profile.gaps]})


def _gain(before: Decimal, after: Decimal, direction: str) -> Decimal | None:
    return improvement(before, after, MetricDirection(direction))


def department_profile_report(profiles: Sequence[Profile], department: str | None) -> ReportResult:
    rows: list[list[Any]] = []
    for p in profiles:
        e = p.employee
        assert e is not None
        rows.append([e.employee_id, e.name, e.role,
                     sum(1 for t in p.trainings if t.status == "completed"), len(p.trainings),
                     ", ".join(c.certificate for c in p.certificates if c.status != "expired"),
                     ", ".join(c.certificate for c in p.certificates if c.status == "expiring"),
                     p.points_total, p.trend,
                     sum(1 for j in p.job_history if j.change == "promotion"),
                     ", ".join(g.requirement for g in p.gaps)])
    gap_counts: dict[str, int] = {}
    for p in profiles:
        for g in p.gaps:
            gap_counts[g.requirement] = gap_counts.get(g.requirement, 0) + 1
    notes = [no_history_note(p) for p in profiles if not p.has_history]
    if not profiles:
        notes.append(f"no current employees in department {department!r}" if department
                     else "no employees in the ledger (run `trainbridge sync ingest`)")
    ordered = sorted(gap_counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ReportResult(
        f"Capability profiles: {department or 'all departments'}",
        ["employee", "name", "role", "completed", "trainings", "certificates", "expiring", "points", "trend",
         "promotions", "skill_gaps"], rows, notes=notes,
        charts=[Chart("People with each skill gap", [k for k, _ in ordered], [v for _, v in ordered])]
        if ordered else [],
        sections=[ReportResult("Skill gaps", ["requirement", "people"], [list(kv) for kv in ordered])],
        data={"department": department, "gaps": dict(ordered)})


def profile_report(view: View, cfg: TalentConfig, *, today: date, employee: str | None = None,
                   department: str | None = None) -> ReportResult:
    if employee:
        return employee_profile_report(build_profile(view, employee, cfg, today))
    gone = departed(view.employees, view.separations, today)
    people = [e for e in view.employees if e.employee_id not in gone
              and (department is None or e.department == department)]
    return department_profile_report(
        [build_profile(view, e.employee_id, cfg, today) for e in sorted(people, key=lambda e: e.employee_id)],
        department)


# --- T2 demand forecast -------------------------------------------------------------


def demand_report(view: View, cfg: TalentConfig, *, today: date, horizon_months: int,
                  class_size: int) -> ReportResult:
    forecasts: list[Forecast] = [
        forecast(Requirement(d.certificate, d.role, d.required, d.site), employees=view.employees,
                 separations=view.separations, certificates=view.certificates, programs=view.programs,
                 enrollments=view.enrollments, events=view.events, costs=view.costs, today=today,
                 horizon_months=horizon_months, class_size=class_size)
        for d in cfg.demand]
    rows: list[list[Any]] = []
    expiring: list[list[Any]] = []
    basis: list[list[Any]] = []
    notes: list[str] = []
    for f in forecasts:
        r = f.requirement
        rows.append([r.certificate, r.role, r.site or "(all)", r.required, f.headcount, len(f.holders),
                     len(f.expiring), f.attrition_rate, f.expected_leavers, f.to_train, f.sessions,
                     f.cost.per_head, f.budget, f.cost.currency])
        for x in f.expiring:
            reminded = view.reminded.get(_certificate_id(view, x.employee_id, x.certificate))
            expiring.append([x.employee_id, view.name(x.employee_id), x.certificate, x.expires_on,
                             x.days_left, f"sent {reminded['created_at']:%Y-%m-%d}" if reminded else ""])
        basis += [[r.certificate, item, category, amount, f.cost.people]
                  for item, category, amount in f.cost.items]
        notes += [f"{r.certificate} / {r.role}: {line}" for line in f.explanation]
        if f.cost.note and f.cost.per_head is not None:
            notes.append(f"{r.certificate}: {f.cost.note}")
    if not forecasts:
        notes.append("no demand configured: add demand = [{ certificate = ..., role = ..., required = N }] "
                     "to [jobs.talent]")
    return ReportResult(
        f"Certificate demand forecast ({horizon_months} months from {today.isoformat()})",
        ["certificate", "role", "site", "required", "headcount", "holders", "expiring", "attrition_pct",
         "expected_leavers", "to_train", "sessions", "cost_per_head", "budget", "currency"], rows,
        notes=notes,
        charts=[Chart("Holders vs required", [f"{r[0]} {r[1]}" for r in rows], [r[5] for r in rows],
                      target=[r[3] for r in rows])] if rows else [],
        sections=[
            ReportResult("Certificates expiring within the horizon",
                         ["employee", "name", "certificate", "expires_on", "days_left", "reminder"],
                         expiring),
            ReportResult("Cost basis (allocations of the programs granting the certificate)",
                         ["certificate", "item", "category", "allocated", "people"], basis),
        ],
        data={"horizon_months": horizon_months, "class_size": class_size,
              "forecasts": [{"certificate": f.requirement.certificate, "role": f.requirement.role,
                             "site": f.requirement.site, "holders": f.holders,
                             "expiring": [x.employee_id for x in f.expiring], "leavers_12m": f.leavers_12m,
                             "expected_attrition": f.expected_attrition, "budget": f.budget,
                             "explanation": f.explanation} for f in forecasts]})


def _certificate_id(view: View, employee_id: str, code: str) -> str:
    cert = latest_certificates(c for c in view.certificates if c.employee_id == employee_id).get(
        (employee_id, code))
    return cert.id if cert else ""


# --- D1 needs analysis --------------------------------------------------------------


def needs_report(view: View, cfg: TalentConfig, *, today: date, low_score: Decimal) -> ReportResult:
    needs, notes = training_needs(view.employees, view.metrics,
                                  gone=departed(view.employees, view.separations, today), low_score=low_score,
                                  competency_topics=cfg.competency_topics, goal_topics=cfg.goals)
    rows: list[list[Any]] = [
        [i + 1, n.topic, len(n.people), len(n.from_reviews), len(n.from_goals), "; ".join(n.evidence)]
        for i, n in enumerate(needs)]
    if not needs:
        notes.append(f"no review score below {low_score} and no stated career goal: no training need found")
    return ReportResult(
        "Training needs: low review scores and career goals", ["rank", "topic", "people", "from_reviews",
                                                                "from_goals", "evidence"], rows,
        notes=[*notes, f"low: a competency's latest review score is below {low_score}"],
        charts=[Chart("People behind each topic", [str(r[1]) for r in rows], [int(r[2]) for r in rows])]
        if rows else [],
        data={"low_score": low_score, "topics": {n.topic: sorted(n.people) for n in needs}})


# --- the certificates job (expiry reminders) ----------------------------------------


class CertificatesJob(Job):
    name = "certificates"
    description = "Remind holders and HR of certificates expiring within the lead time (once per reminder)."
    inputs: ClassVar[tuple[str, ...]] = ("employee", "separation", "learning_event", "certificate")
    config_model: ClassVar[type[BaseModel] | None] = CertificatesConfig
    order = 60

    def decide(self, ctx: JobContext) -> Plan:
        cfg: CertificatesConfig = ctx.config or CertificatesConfig()
        plan = Plan()
        employees = [e for e in ctx.records("employee") if isinstance(e, Employee)]
        separations = [s for s in ctx.records("separation") if isinstance(s, Separation)]
        certificates = [c for c in ctx.records("certificate") if isinstance(c, Certificate)]
        people = {e.employee_id: e for e in employees}
        gone = departed(employees, separations, ctx.today)
        decided = {row["id"] for row in ctx.ledger.list_decisions(ctx.conn, REMINDER)}
        notifiers = bool(ctx.host.instances_with("send_notice"))
        leads = sorted((parse_lead(text) for text in cfg.reminders), key=lambda lead: lead.before(ctx.today))
        sent = []
        for (who, _code), cert in sorted(latest_certificates(certificates).items()):
            due = [lead for lead in leads if reminder_is_due(cert, lead, ctx.today)]
            new = [lead for lead in due if f"{REMINDER}:{cert.id}:{lead.label}" not in decided]
            if who in gone or not new or cert.expires_on is None:
                continue
            if not notifiers:
                plan.warnings.append(f"reminder for certificate {cert.id} not sent: no notifier configured")
                continue
            # Several lead times due at once (a first run): one notice, for the nearest.
            expires_on = cert.expires_on
            lead = max(due, key=lambda lead: lead.before(expires_on))
            days = (cert.expires_on - ctx.today).days
            for each in new:
                plan.decisions.append(Decision(
                    id=f"{REMINDER}:{cert.id}:{each.label}", kind=REMINDER, subject=who,
                    payload={"certificate_id": cert.id, "certificate": cert.certificate,
                             "expires_on": cert.expires_on.isoformat(), "lead": each.label,
                             "notice_id": f"certificate_expiring:{cert.id}:{lead.label}"},
                    explanation=[f"{cert.certificate} of {who} expires on {cert.expires_on.isoformat()}; the "
                                 f"{each.label} reminder is due from "
                                 f"{each.before(cert.expires_on).isoformat()}"]))
            employee = people.get(who)
            name = employee.name if employee else who
            recipients = hr_recipients(cfg, employees, gone)
            if employee:
                recipients = (Recipient(name=employee.name, employee_id=who, email=employee.email,
                                        role="employee"), *recipients)
            plan.writes.append(Write("send_notice", {"notice": Notice(
                id=f"certificate_expiring:{cert.id}:{lead.label}", notice="certificate_expiring",
                recipients=recipients, related_id=cert.id, language=employee.language if employee else "zh",
                subject=f"证书即将到期：{name} {cert.certificate}",
                body=(f"{name}（{who}）持有的证书 {cert.certificate} 将于 {cert.expires_on.isoformat()} 到期"
                      f"（还有 {days} 天）。请安排复训或换证。"))}))
            sent.append(f"{name} ({who}) {cert.certificate} expires {cert.expires_on.isoformat()} "
                        f"({days} days)")
        plan.summary.append(f"certificate reminders: {len(sent)} due"
                            + (": " + "; ".join(sent) if sent else ""))
        return plan


def hr_recipients(cfg: CertificatesConfig, employees: Sequence[Employee],
                  gone: set[str]) -> tuple[Recipient, ...]:
    """The configured HR contacts, else the employees whose role is hr, else a bare HR recipient."""
    if cfg.hr:
        return tuple(Recipient(name=r.name, email=r.email, employee_id=r.employee_id, role="hr")
                     for r in cfg.hr)
    staff = sorted((e for e in employees if e.role.lower() == "hr" and e.employee_id not in gone),
                   key=lambda e: e.employee_id)
    return tuple(Recipient(name=e.name, email=e.email, employee_id=e.employee_id, role="hr")
                 for e in staff) or (Recipient(name="HR", role="hr"),)


# --- review scores from files --------------------------------------------------------


class CsvReviewsConfig(FileSourceConfig):
    path: str = Field(description="CSV/JSONL of review scores, metric = competency:<name>")


class CsvReviews(_FileSource):
    """Performance reviews from files: competency scores as metrics.

    Unlike ``csv_metrics`` it writes no training results back, so it can sit next to the
    KPI source without making result writes ambiguous.
    """

    config_model: ClassVar[type[ConnectorConfig]] = CsvReviewsConfig
    vendor = "CSV/JSONL files"
    config: CsvReviewsConfig

    @hookimpl
    def fetch_metrics(self, since: str | None) -> Iterator[Page]:
        return self._pages(self.config.path, MetricValue.kind, since)

    @hookimpl
    def healthcheck(self) -> HealthResult:
        return self._check_paths(self.config.path)


# --- registration -------------------------------------------------------------------


def _build_profile(ws: Any, employee: str | None = None, department: str | None = None, today: Any = None,
                   **_: Any) -> ReportResult:
    return profile_report(load_view(ws), talent_config(ws), today=_today(today), employee=employee,
                          department=department)


def _build_demand(ws: Any, horizon: str | None = None, class_size: int | None = None, today: Any = None,
                  **_: Any) -> ReportResult:
    cfg = talent_config(ws)
    try:
        months = parse_horizon(horizon or cfg.horizon)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--horizon") from None
    return demand_report(load_view(ws), cfg, today=_today(today), horizon_months=months,
                         class_size=class_size or cfg.class_size)


def _build_needs(ws: Any, low_score: str | None = None, today: Any = None, **_: Any) -> ReportResult:
    cfg = talent_config(ws)
    try:
        threshold = Decimal(low_score) if low_score is not None else cfg.low_score
    except ArithmeticError:
        raise click.BadParameter(f"{low_score!r} is not a number", param_hint="--low-score") from None
    return needs_report(load_view(ws), cfg, today=_today(today), low_score=threshold)


TODAY = click.Option(["--today"], type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
                     help="Pretend today is this date.")


@hookimpl
def register_reports(register: Callable[[Report], None]) -> None:
    register(Report("profile", "Capability profile: trainings, certificates, points, performance, gaps (T1)",
                    _build_profile,
                    options=[click.Option(["--employee"], default=None, help="One employee's profile"),
                             click.Option(["--department"], default=None, help="Everyone in a department"),
                             TODAY]))
    register(Report("demand", "Certificate demand: holders, expiries, attrition, sessions, budget (T2)",
                    _build_demand,
                    options=[click.Option(["--horizon"], default=None,
                                          help="12m, 18m, 2y (default [jobs.talent])"),
                             click.Option(["--class-size"], type=click.IntRange(min=1), default=None,
                                          help="Trainees per session (default [jobs.talent])"),
                             TODAY]))
    register(Report("needs", "Training needs from low review scores and career goals (D1)", _build_needs,
                    options=[click.Option(["--low-score"], default=None,
                                          help="Scores below this are low (default [jobs.talent])"), TODAY]))


@hookimpl
def register_jobs(register: Callable[[Job], None]) -> None:
    register(CertificatesJob())


@hookimpl
def register_connectors(register: Callable[..., None]) -> None:
    register("csv_reviews", CsvReviews)


# --- demo ---------------------------------------------------------------------------

#: Fire operators holding the certificate: two expire within the 60-day reminder lead.
DEMO_CERTIFIED = {"E001": 20, "E002": 45, "E004": None, "E005": None, "E006": None}
DEMO_REVIEWS = [("M001", "negotiation", "2.5"), ("M002", "negotiation", "2"), ("M003", "negotiation", "4"),
                ("M004", "negotiation", "2.5"), ("M005", "negotiation", "3.5"), ("M006", "negotiation", "2"),
                ("M003", "coaching", "2"), ("M004", "coaching", "2.5"), ("M001", "coaching", "4"),
                ("E007", "emergency_response", "2"), ("E008", "emergency_response", "2.5"),
                ("E001", "emergency_response", "4")]


def demo_talent(today: date) -> tuple[list[dict[str, Any]], list[list[Any]], dict[str, Any]]:
    """(certificates, review rows, [jobs] tables) for the demo's fire operators and managers."""
    from trainbridge.plugins.ingest import add_months, demo_dates

    trained = demo_dates(today)["training_day"]
    certificates: list[dict[str, Any]] = []
    for who, expires_in in DEMO_CERTIFIED.items():
        if expires_in is None:
            issued = trained + timedelta(days=30)
            expires = add_months(issued, 36)
        else:
            expires = today + timedelta(days=expires_in)
            issued = add_months(expires, -36)
        certificates.append({"record": "certificate", "certificate_id": f"FCO-{who}", "employee_id": who,
                             "certificate": "fire_control_operator", "issued_on": issued.isoformat(),
                             "expires_on": expires.isoformat()})
    reviewed = today - timedelta(days=20)
    reviews = [[f"review-{who}-{competency}", who, f"competency:{competency}", score, reviewed.isoformat(),
                "score", "higher_is_better"] for who, competency, score in DEMO_REVIEWS]
    jobs = {
        "talent": {
            "class_size": 6, "horizon": "12m",
            "roles": {"fire_operator": {"competencies": ["fire_control", "emergency_response"],
                                        "certificates": ["fire_control_operator"]},
                      "manager": {"competencies": ["leadership", "coaching", "negotiation"]}},
            "demand": [{"certificate": "fire_control_operator", "role": "fire_operator", "site": "Shanghai",
                        "required": 10}],
            "competency_topics": {"negotiation": "商务谈判", "coaching": "辅导下属",
                                  "emergency_response": "应急处置"},
            "goals": {"regional_manager": ["领导力", "区域经营"], "negotiation": ["商务谈判"]},
        },
        "certificates": {"reminders": ["60d"]},
    }
    return certificates, reviews, jobs


@hookimpl
def demo_prepare(workspace: Path, today: date) -> Mapping[str, Any]:
    from trainbridge.plugins.ingest import write_csv, write_jsonl

    certificates, reviews, jobs = demo_talent(today)
    write_jsonl(workspace / "data" / "certificates.jsonl", certificates)
    write_csv(workspace / "data" / "reviews.csv",
              ["metric_id", "employee_id", "metric", "value", "as_of", "unit", "direction"], reviews)
    return {"connectors": {"lms_certificates": {"type": "file_learning", "events": "data/certificates.jsonl"},
                           "reviews": {"type": "csv_reviews", "path": "data/reviews.csv"}},
            "jobs": jobs}

