"""Reports for issue 5: points distribution vs target weights (S5), progress (P1), training effect (K2).

Each report is a pure builder over ledger records; the registered :class:`Report` only
reads the ledger and calls it. Figures are Decimal percentages rounded to one place.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa

from trainbridge import hookimpl
from trainbridge.core.localtime import tenant_today
from trainbridge.core.records import (
    Employee,
    Enrollment,
    EnrollmentStatus,
    LearningEvent,
    MetricDirection,
    MetricValue,
    PointsCategory,
    PointsEntry,
    TrainingProgram,
    TrainingSession,
)
from trainbridge.core.reports import Chart, LazyRows, Report, ReportResult
from trainbridge.plugins.points_demo import demo_manager_story
from trainbridge.rules.incentives import improvement
from trainbridge.rules.leaderboard import rank
from trainbridge.rules.points import (
    by_category,
    effective_events,
    period_bounds,
    period_key,
    totals,
    training_days,
)

__all__ = ["demo_manager_story", "effect_report", "improvement", "incentives_report", "points_report",
           "progress_report", "training_days"]

#: Seed 003 target weights of the points categories, in percent.
TARGET_WEIGHTS: dict[PointsCategory, Decimal] = {
    PointsCategory.PARTICIPATION: Decimal(30),
    PointsCategory.OUTPUT: Decimal(40),
    PointsCategory.SHARING: Decimal(30),
}
HUNDRED = Decimal(100)
ONE_PLACE = Decimal("0.1")


def pct(part: Decimal | int, whole: Decimal | int) -> Decimal:
    """``part`` of ``whole`` in percent, one decimal place; 0 when there is no whole."""
    if not whole:
        return Decimal(0).quantize(ONE_PLACE)
    return (Decimal(part) * HUNDRED / Decimal(whole)).quantize(ONE_PLACE)


def _typed(records: Iterable[Any], cls: type[Any]) -> list[Any]:
    return [r for r in records if isinstance(r, cls)]


# --- points distribution and leaderboard (S2, S5) -----------------------------------


def points_report(entries: Sequence[PointsEntry], employees: Sequence[Employee], *, period: str, today: date,
                  margin: Decimal = Decimal(10), superseded: set[str] | frozenset[str] = frozenset(),
                  weights: dict[PointsCategory, Decimal] | None = None,
                  department: str | None = None) -> ReportResult:
    """Points per category vs the target weights; a category more than ``margin`` points off is flagged.

    ``department``: only the points and standings of that department's people.
    """
    weights = weights or TARGET_WEIGHTS
    first, last = period_bounds(period, today)
    if department:
        employees = [e for e in employees if e.department == department]
        members = {e.employee_id for e in employees}
        entries = [e for e in entries if e.employee_id in members]
    per_category = by_category(entries, first, last, superseded)
    total = sum(per_category.values())
    rows, notes, shares = [], [], []
    for category in PointsCategory:
        share = pct(per_category[category], total)
        target = weights[category]
        off = share - target
        flagged = bool(total) and abs(off) > margin
        shares.append(share)
        rows.append([category.value, per_category[category], share, target, off,
                     "the rule is off" if flagged else ""])
        if flagged:
            notes.append(f"{category.value}: {share}% of points vs target {target}% "
                         f"({off:+}, margin {margin}): the rule is off")
    if not total:
        notes.append(f"no points earned in {period}")
    standings = leaderboard_rows(entries, employees, first, last, superseded)
    board = ReportResult(f"Leaderboard {period}", ["rank", "employee", "name", "department", "points"],
                         standings,
                         charts=[Chart(f"Points {period}", [f"{r[2] or r[1]}" for r in standings[:10]],
                                       [r[4] for r in standings[:10]])] if standings else [])
    return ReportResult(
        f"Points distribution {period}", ["category", "points", "share_pct", "target_pct", "off_pp", "flag"],
        rows, notes=notes,
        charts=[Chart("Points per category vs target weight", [c.value for c in PointsCategory], shares,
                      target=[weights[c] for c in PointsCategory], unit="%")],
        sections=[board],
        data={"period": period, "department": department, "total": total, "margin_pp": margin,
              "flagged": [r[0] for r in rows if r[5]]})


def latest_period_with_points(entries: Sequence[PointsEntry], today: date,
                              superseded: set[str] | frozenset[str] = frozenset()) -> str:
    """This quarter when it has points, else the latest quarter before it that has (the leaderboard's
    default too), else this quarter."""
    this = period_key(today, "quarter")
    earned = [e.earned_on for e in entries if e.id not in superseded and e.earned_on <= today and e.points]
    return period_key(max(earned), "quarter") if earned else this


def leaderboard_rows(entries: Sequence[PointsEntry], employees: Sequence[Employee], first: date, last: date,
                     superseded: set[str] | frozenset[str] = frozenset()) -> list[list[Any]]:
    """Managers by points (ties share a rank); managers with no points are listed with 0."""
    scores = totals(entries, first, last, superseded)
    for employee in employees:
        if employee.is_manager:
            scores.setdefault(employee.employee_id, 0)
    people = {e.employee_id: (e.name, e.department) for e in employees}
    return [[s.rank, s.employee_id, s.name, s.department, s.points] for s in rank(scores, people)]


# --- progress (P1) ------------------------------------------------------------------


def progress_report(enrollments: Iterable[Enrollment], employees: Iterable[Employee],
                    programs: Iterable[TrainingProgram] = (), *,
                    min_rate: Decimal = Decimal(80)) -> ReportResult:
    """Per department completion (below ``min_rate`` percent flagged), per program and per employee."""
    people = {e.employee_id: (e.name, e.department) for e in employees}
    return _progress(enrollments, people, {p.program_id: p.title for p in programs}, min_rate=min_rate)


def _progress(enrollments: Iterable[Enrollment], people: Mapping[str, tuple[str, str]],
              titles: Mapping[str, str], *, min_rate: Decimal) -> ReportResult:
    """:func:`progress_report` from each employee's name and department: the enrollments streamed
    and counted (assigned, completed, in progress) per employee, program and department, the
    employees' rows made as they are read."""
    done, started = EnrollmentStatus.COMPLETED, EnrollmentStatus.IN_PROGRESS
    per_employee: dict[str, list[int]] = {}
    per_program: dict[str, list[int]] = {}
    per_department: dict[str, list[int]] = {}
    for enrollment in enrollments:
        if enrollment.status is EnrollmentStatus.CANCELLED:
            continue
        who = people.get(enrollment.employee_id)
        department = who[1] if who and who[1] else "(none)"
        completed, going = int(enrollment.status is done), int(enrollment.status is started)
        for counts, key in ((per_employee, enrollment.employee_id), (per_program, enrollment.program_id),
                            (per_department, department)):
            count = counts.get(key)
            if count is None:
                count = counts[key] = [0, 0, 0]
            count[0] += 1
            count[1] += completed
            count[2] += going

    employee_ids = sorted(per_employee)

    def employee_rows() -> Iterator[list[Any]]:
        for emp_id in employee_ids:
            n, completed, _ = per_employee[emp_id]
            who = people.get(emp_id)
            yield [emp_id, who[0] if who else "", completed, n, f"{completed} of {n}", pct(completed, n)]

    program_rows = []
    for program_id, (n, completed, going) in sorted(per_program.items()):
        program_rows.append([program_id, titles.get(program_id, ""), n, pct(completed, n), pct(going, n),
                             pct(n - completed - going, n)])

    department_rows: list[list[Any]] = []
    notes = []
    for department, (n, completed, _) in sorted(per_department.items()):
        rate = pct(completed, n)
        flagged = rate < min_rate
        department_rows.append([department, n, rate, "below target" if flagged else ""])
        if flagged:
            notes.append(f"{department}: {rate}% completed, below {min_rate}%")

    return ReportResult(
        "Training progress per department", ["department", "assigned", "completed_pct", "flag"],
        department_rows, notes=notes,
        charts=[Chart("Completion per department", [r[0] for r in department_rows],
                      [r[2] for r in department_rows], target=[min_rate] * len(department_rows), unit="%")]
        if department_rows else [],
        sections=[
            ReportResult("Progress per program", ["program", "title", "assigned", "completed_pct",
                                                  "in_progress_pct", "not_started_pct"], program_rows),
            ReportResult("Progress per employee", ["employee", "name", "completed", "assigned", "progress",
                                                   "completed_pct"],
                         LazyRows(len(employee_ids), employee_rows)),
        ],
        data={"min_rate_pct": min_rate, "flagged": [r[0] for r in department_rows if r[3]]})


# --- training effect (K2) -----------------------------------------------------------


def effect_report(metrics: Sequence[MetricValue], trained: dict[tuple[str, str], date],
                  programs: Sequence[TrainingProgram] = ()) -> ReportResult:
    """Per program and metric: mean of each trainee's last value before vs first value after training."""
    titles = {p.program_id: p.title for p in programs}
    series: dict[tuple[str, str], list[MetricValue]] = {}
    for metric in metrics:
        series.setdefault((metric.employee_id, metric.metric), []).append(metric)
    pairs: dict[tuple[str, str], list[tuple[Decimal, Decimal, MetricDirection, str]]] = {}
    for (emp_id, program), day in sorted(trained.items()):
        for (who, name), values in series.items():
            if who != emp_id:
                continue
            ordered = sorted(values, key=lambda m: m.as_of)
            before = [m for m in ordered if m.as_of <= day]
            after = [m for m in ordered if m.as_of > day]
            if before and after:
                pairs.setdefault((program, name), []).append(
                    (before[-1].value, after[0].value, after[0].direction, after[0].unit))
    rows, improvements = [], []
    for (program, name), items in sorted(pairs.items()):
        n = Decimal(len(items))
        mean_before = sum((b for b, _, _, _ in items), Decimal(0)) / n
        mean_after = sum((a for _, a, _, _ in items), Decimal(0)) / n
        direction = items[0][2]
        gain = improvement(mean_before, mean_after, direction)
        improvements.append(gain if gain is not None else Decimal(0))
        rows.append([program, titles.get(program, ""), name, direction.value, len(items),
                     mean_before.normalize(), mean_after.normalize(), gain])
    notes = [] if rows else ["no metric has values both before and after a training"]
    return ReportResult(
        "Training effect per program", ["program", "title", "metric", "direction", "trainees", "before",
                                        "after", "improvement_pct"], rows, notes=notes,
        charts=[Chart("Improvement after training", [f"{r[0]} {r[2]}" for r in rows], improvements, unit="%")]
        if rows else [])


# --- incentives (S3, S6, K3) --------------------------------------------------------


def incentives_report(proposals: Sequence[Mapping[str, Any]], employees: Sequence[Employee]) -> ReportResult:
    """The incentives job's proposals with their status: what HR has approved, rejected or not decided."""
    people = {e.employee_id: e for e in employees}
    mine = [p for p in proposals if p.get("job") == "incentives"]
    rows = []
    per_kind: dict[str, int] = {}
    for p in sorted(mine, key=lambda p: (str(p.get("kind")), str(p.get("subject")), str(p.get("id")))):
        who = people.get(p.get("subject") or "")
        amount = p.get("amount")
        rows.append([p["id"], p["kind"], p.get("subject") or "", who.name if who else "",
                     Decimal(str(amount)) if amount is not None else None, p["status"]])
        per_kind[p["kind"]] = per_kind.get(p["kind"], 0) + 1
    statuses = [str(p["status"]) for p in mine]
    notes = [f"{statuses.count(s)} {s}" for s in ("pending", "approved", "rejected") if s in statuses]
    return ReportResult(
        "Incentive proposals", ["proposal", "kind", "employee", "name", "amount", "status"], rows,
        notes=notes or ["no incentive proposals yet (run `trainbridge sync incentives`)"],
        charts=[Chart("Proposals per kind", sorted(per_kind), [per_kind[k] for k in sorted(per_kind)])]
        if per_kind else [])


# --- registration -------------------------------------------------------------------


def _today(today: Any, ws: Any) -> date:
    if isinstance(today, datetime):
        return today.date()
    return today if isinstance(today, date) else tenant_today(ws.settings)  # the tenant's day, not UTC's


def _records(ws: Any, *kinds: str) -> dict[str, list[Any]]:
    from trainbridge.plugins.points import superseded_ids

    with ws.ledger.transaction() as conn:
        out = {kind: list(ws.ledger.iter_records(conn, kind)) for kind in kinds}
        out["superseded"] = list(superseded_ids(ws.ledger, conn))
    return out


def _build_points(ws: Any, period: str | None = None, margin: Decimal | None = None, today: Any = None,
                  department: str | None = None, **_: Any) -> ReportResult:
    """The points report from every entry streamed once or twice (never all held): the latest
    quarter with points from the entries' days and points alone (no record built), then each
    employee's points per category in the period summed as the entries come."""
    from trainbridge.core.ledger import records_table
    from trainbridge.plugins.points import superseded_ids

    day = _today(today, ws)
    with ws.ledger.transaction() as conn:
        superseded = superseded_ids(ws.ledger, conn)
        employees = _typed(ws.ledger.iter_records(conn, "employee"), Employee)
        if not period:
            t = records_table
            rows = conn.execute(sa.select(t.c.id, t.c.payload["earned_on"].as_string().label("day"),
                                          t.c.payload["points"].as_integer().label("points")).where(
                t.c.tenant == ws.ledger.tenant, t.c.kind == PointsEntry.kind))
            earned = [d for d in (date.fromisoformat(r.day) for r in rows
                                  if r.id not in superseded and r.points and r.day) if d <= day]
            period = period_key(max(earned), "quarter") if earned else period_key(day, "quarter")
        first, last = period_bounds(period, day)
        members = _in_department(employees, department)
        sums: dict[tuple[str, PointsCategory], int] = {}
        for entry in ws.ledger.iter_records(conn, PointsEntry.kind):
            if isinstance(entry, PointsEntry) and entry.id not in superseded \
                    and first <= entry.earned_on <= last \
                    and (members is None or entry.employee_id in members):
                key = (entry.employee_id, entry.category)
                sums[key] = sums.get(key, 0) + entry.points
    # one entry per employee and category stands for theirs in the period: the report only sums them
    entries = [PointsEntry.model_construct(id=f"sum:{emp}:{category.value}", employee_id=emp, points=points,
                                           category=category, rule="", rule_version="", event_id="",
                                           earned_on=first) for (emp, category), points in sums.items()]
    return points_report(entries, employees, period=period, today=day,
                         margin=margin if margin is not None else Decimal(10), department=department or None)


def _in_department(employees: Sequence[Employee], department: str | None) -> set[str] | None:
    """The ids of ``department``'s people; None (everyone) without a department."""
    if not department:
        return None
    return {e.employee_id for e in employees if e.department == department}


def _bounds(period: str | None, today: Any, ws: Any) -> tuple[date, date] | None:
    return period_bounds(period, _today(today, ws)) if period else None


def _build_progress(ws: Any, min_rate: Decimal | None = None, period: str | None = None,
                    department: str | None = None, today: Any = None, **_: Any) -> ReportResult:
    """``period``: enrollments made in it; ``department``: that department's people only.

    Each kind streamed once, of an employee only the name and department kept."""
    bounds = _bounds(period, today, ws)
    with ws.ledger.transaction() as conn:
        people: dict[str, tuple[str, str]] = {}
        members: set[str] | None = set() if department else None
        for employee in ws.ledger.iter_records(conn, Employee.kind):
            if isinstance(employee, Employee):
                people[employee.employee_id] = (employee.name, employee.department)
                if members is not None and employee.department == department:
                    members.add(employee.employee_id)
        titles = {p.program_id: p.title for p in ws.ledger.iter_records(conn, TrainingProgram.kind)
                  if isinstance(p, TrainingProgram)}
        enrollments = (e for e in ws.ledger.iter_records(conn, Enrollment.kind)
                       if isinstance(e, Enrollment) and (members is None or e.employee_id in members)
                       and (bounds is None or bounds[0] <= e.enrolled_on <= bounds[1]))
        return _progress(enrollments, people, titles,
                         min_rate=min_rate if min_rate is not None else Decimal(80))


def _build_effect(ws: Any, period: str | None = None, department: str | None = None, today: Any = None,
                  **_: Any) -> ReportResult:
    """``period``: trainings whose day falls in it; ``department``: that department's trainees."""
    r = _records(ws, "metric", "learning_event", "session", "enrollment", "program", "employee")
    sessions = {s.session_id: s for s in _typed(r["session"], TrainingSession)}
    trained = training_days(effective_events(_typed(r["learning_event"], LearningEvent)), sessions,
                            _typed(r["enrollment"], Enrollment))
    members, bounds = _in_department(_typed(r["employee"], Employee), department), _bounds(period, today, ws)
    trained = {key: day for key, day in trained.items() if (members is None or key[0] in members)
               and (bounds is None or bounds[0] <= day <= bounds[1])}
    return effect_report(_typed(r["metric"], MetricValue), trained, _typed(r["program"], TrainingProgram))


def _build_incentives(ws: Any, status: str | None = None, period: str | None = None,
                      department: str | None = None, today: Any = None, **_: Any) -> ReportResult:
    """``period``: proposals for it (``2026Q3`` in the id) or, for a month or a year, also those made
    in it; ``department``: proposals about that department's people."""
    with ws.ledger.transaction() as conn:
        proposals = ws.ledger.list_proposals(conn, status=status)
        employees = _typed(ws.ledger.iter_records(conn, "employee"), Employee)
    members, bounds = _in_department(employees, department), _bounds(period, today, ws)

    def in_period(p: Mapping[str, Any]) -> bool:
        if bounds is None:
            return True
        named = [part for part in str(p["id"]).split(":") if _PERIOD.fullmatch(part)]
        if named:  # a proposal for 2026Q3 belongs to 2026Q3 and to 2026, whenever it was made
            inner = period_bounds(named[-1], bounds[1])
            return bounds[0] <= inner[0] and inner[1] <= bounds[1]
        made = p.get("created_at")
        return isinstance(made, datetime) and bounds[0] <= made.date() <= bounds[1]

    chosen = [p for p in proposals if (members is None or p.get("subject") in members) and in_period(p)]
    return incentives_report(chosen, employees)


_PERIOD = re.compile(r"\d{4}(Q[1-4]|-(0[1-9]|1[0-2]))?")


def _decimal(_ctx: Any, _param: Any, value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except ArithmeticError:
        raise click.BadParameter(f"{value!r} is not a number") from None


TODAY = click.Option(["--today"], type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
                     help="Pretend today is this date.")


@hookimpl
def register_reports(register: Callable[[Report], None]) -> None:
    department = click.Option(["--department"], default=None, help="Only this department's people")
    register(Report("points", "Points per category vs target weights, and the leaderboard", _build_points,
                    options=[click.Option(["--period"], default=None,
                                          help="2026Q3, 2026, 2026-11 or last-12-months (default: the "
                                               "latest quarter with points)"),
                             department,
                             click.Option(["--margin"], default=None, callback=_decimal,
                                          help="Percentage points off target that flag a category (10)"),
                             TODAY]))
    register(Report("progress", "Training progress per department, program and employee", _build_progress,
                    options=[click.Option(["--min-rate"], default=None, callback=_decimal,
                                          help="Departments below this completion % are flagged (80)"),
                             click.Option(["--period"], default=None,
                                          help="Enrollments made in 2026Q3, 2026 or 2026-11 (default: all)"),
                             department, TODAY]))
    register(Report("effect", "Training effect per program (metrics before vs after)", _build_effect,
                    options=[click.Option(["--period"], default=None,
                                          help="Trainings held in 2026Q3, 2026 or 2026-11 (default: all)"),
                             department, TODAY]))
    register(Report("incentives", "Incentive proposals and HR's decisions", _build_incentives,
                    options=[click.Option(["--status"], default=None,
                                          type=click.Choice(["pending", "approved", "rejected"])),
                             click.Option(["--period"], default=None,
                                          help="Proposals for 2026Q3, 2026 or 2026-11 (default: all)"),
                             department, TODAY]))


# --- demo (seed 003 story, in points_demo) ------------------------------------------


@hookimpl
def demo_prepare(workspace: Path, today: date) -> Mapping[str, Any]:
    from trainbridge.plugins.ingest import write_jsonl

    catalog, events = demo_manager_story(today)
    write_jsonl(workspace / "data" / "manager_catalog.jsonl", catalog)
    write_jsonl(workspace / "data" / "manager_events.jsonl", events)
    return {"connectors": {"lms_managers": {"type": "file_learning", "events": "data/manager_events.jsonl",
                                            "catalog": "data/manager_catalog.jsonl"}}}
