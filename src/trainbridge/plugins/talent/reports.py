"""The talent reports: T1 capability profile, T2 certificate demand forecast, D1 needs analysis.

The figures come from :mod:`trainbridge.rules.talent`; this module renders them as
:class:`ReportResult` objects, and :func:`talent_reports` defines the ``report`` commands.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import click

from trainbridge.core.localtime import tenant_today
from trainbridge.core.records import MetricDirection
from trainbridge.core.reports import Chart, Note, Report, ReportResult
from trainbridge.plugins.points_reports import improvement
from trainbridge.plugins.talent.config import TalentConfig, talent_config
from trainbridge.plugins.talent.view import View, load_view
from trainbridge.rules.talent import (
    Forecast,
    Profile,
    Requirement,
    RoleRequirements,
    capability_profile,
    departed,
    forecast,
    latest_certificates,
    parse_horizon,
    training_needs,
)


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
        notes += [Note(f"{r.certificate} / {r.role}: {line}", "talent.demand_line", certificate=r.certificate,
                       role=r.role, line=line) for line in f.explanation]
        if f.cost.note and f.cost.per_head is not None:
            notes.append(Note(f"{r.certificate}: {f.cost.note}", "talent.demand_cost_note",
                              certificate=r.certificate, why=f.cost.note))
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


def _today(today: Any, ws: Any) -> date:
    if isinstance(today, datetime):
        return today.date()
    return today if isinstance(today, date) else tenant_today(ws.settings)  # the tenant's day, not UTC's


def _build_profile(ws: Any, employee: str | None = None, department: str | None = None, today: Any = None,
                   **_: Any) -> ReportResult:
    return profile_report(load_view(ws), talent_config(ws), today=_today(today, ws), employee=employee,
                          department=department)


def _build_demand(ws: Any, horizon: str | None = None, class_size: int | None = None, today: Any = None,
                  **_: Any) -> ReportResult:
    cfg = talent_config(ws)
    try:
        months = parse_horizon(horizon or cfg.horizon)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--horizon") from None
    return demand_report(load_view(ws), cfg, today=_today(today, ws), horizon_months=months,
                         class_size=class_size or cfg.class_size)


def _build_needs(ws: Any, low_score: str | None = None, today: Any = None, **_: Any) -> ReportResult:
    cfg = talent_config(ws)
    try:
        threshold = Decimal(low_score) if low_score is not None else cfg.low_score
    except ArithmeticError:
        raise click.BadParameter(f"{low_score!r} is not a number", param_hint="--low-score") from None
    return needs_report(load_view(ws), cfg, today=_today(today, ws), low_score=threshold)


TODAY = click.Option(["--today"], type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
                     help="Pretend today is this date.")


def talent_reports() -> list[Report]:
    """The ``profile``, ``demand`` and ``needs`` reports, with their command-line options."""
    return [
        Report("profile", "Capability profile: trainings, certificates, points, performance, gaps (T1)",
               _build_profile,
               options=[click.Option(["--employee"], default=None, help="One employee's profile"),
                        click.Option(["--department"], default=None, help="Everyone in a department"),
                        TODAY]),
        Report("demand", "Certificate demand: holders, expiries, attrition, sessions, budget (T2)",
               _build_demand,
               options=[click.Option(["--horizon"], default=None,
                                     help="12m, 18m, 2y (default [jobs.talent])"),
                        click.Option(["--class-size"], type=click.IntRange(min=1), default=None,
                                     help="Trainees per session (default [jobs.talent])"),
                        TODAY]),
        Report("needs", "Training needs from low review scores and career goals (D1)", _build_needs,
               options=[click.Option(["--low-score"], default=None,
                                     help="Scores below this are low (default [jobs.talent])"), TODAY]),
    ]
