"""The ``points`` job (learning events -> points entries), the leaderboard and recompute (S1, S2, S7)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Any, ClassVar

import click
from pydantic import BaseModel, ConfigDict, Field

from trainbridge import hookimpl
from trainbridge.core.errors import ConfigError
from trainbridge.core.jobs import Decision, Job, JobContext, Plan, Proposal, Write
from trainbridge.core.records import (
    AdjustmentKind,
    Certificate,
    Employee,
    EmploymentStatus,
    Enrollment,
    EnrollmentStatus,
    LearningEvent,
    LearningEventKind,
    Notice,
    PayrollAdjustment,
    PointsEntry,
    Recipient,
    TrainingProgram,
    TrainingResult,
    TrainingSession,
)
from trainbridge.rules.incentives import IncentiveThresholds, bonus_percent, flags, promotion, top_share
from trainbridge.rules.points import (
    EventContext,
    PointsRules,
    parse_rules,
    period_bounds,
    period_key,
    rescore,
    score_event,
    totals,
)

SUPERSEDED = "points_superseded"
TRAINING_EVENTS = (LearningEventKind.ATTENDED, LearningEventKind.COMPLETED)


class PointsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: str | None = Field(default=None, description="Points rules TOML; default: seed 003 rules")
    managers_only: bool = Field(default=True, description="Score only employees flagged is_manager")


def load_rules(path: str | None = None, base_dir: Path | None = None) -> PointsRules:
    """The rules file at ``path`` (relative to ``base_dir``, the folder of plugins.toml), or seed 003's."""
    if path is None:
        text = (files("trainbridge.plugins") / "points_rules" / "default.toml").read_text("utf-8")
        return parse_rules(text, file="trainbridge/plugins/points_rules/default.toml")
    file = Path(path)
    if base_dir is not None and not file.is_absolute():
        file = base_dir / file
    if not file.is_file():
        raise ConfigError(f"points rules file {path} not found", table="jobs.points", key="rules",
                          hint="fix the path or remove the key to use the seed 003 defaults")
    return parse_rules(file.read_text(encoding="utf-8"), file=str(file))


def _typed(records: Iterable[Any], cls: type[Any]) -> list[Any]:
    return [r for r in records if isinstance(r, cls)]


def superseded_ids(ctx_or_ledger: Any, conn: Any = None) -> set[str]:
    if conn is None:
        rows = ctx_or_ledger.ledger.list_decisions(ctx_or_ledger.conn, SUPERSEDED)
    else:
        rows = ctx_or_ledger.list_decisions(conn, SUPERSEDED)
    return {row["payload"]["superseded"] for row in rows}


class PointsJob(Job):
    name = "points"
    description = "Score managers' learning events into points entries (seed 003 rules, versioned)."
    reads: ClassVar[tuple[str, ...]] = ("fetch_employees", "fetch_training_catalog", "fetch_learning_events")
    config_model: ClassVar[type[BaseModel] | None] = PointsConfig
    order = 60

    def decide(self, ctx: JobContext) -> Plan:
        config: PointsConfig = ctx.config or PointsConfig()
        rules = load_rules(config.rules, ctx.base_dir)
        plan = Plan()
        employees = {e.employee_id: e for e in _typed(ctx.records("employee"), Employee)}
        sessions = {s.session_id: s for s in _typed(ctx.records("session"), TrainingSession)}
        programs = {p.program_id: p for p in _typed(ctx.records("program"), TrainingProgram)}
        entries = _typed(ctx.records("points_entry"), PointsEntry)
        existing = {e.id.split("@", 1)[0] for e in entries}
        counts: dict[tuple[str, str, str], int] = {}
        for entry in entries:
            if "@" not in entry.id:
                for per in ("month", "quarter", "year"):
                    key = (entry.employee_id, entry.rule, period_key(entry.earned_on, per))
                    counts[key] = counts.get(key, 0) + 1
        events = _typed(ctx.records("learning_event"), LearningEvent)
        trained_on = _training_days(events, sessions)
        changed = sorted(_typed(ctx.changed("learning_event"), LearningEvent), key=lambda e: e.occurred_at)
        skipped = 0
        for event in changed:
            employee = employees.get(event.employee_id)
            if config.managers_only and (employee is None or not employee.is_manager):
                continue
            session = sessions.get(event.session_id or "")
            program_id = event.program_id or (session.program_id if session else None)
            scored = score_event(event, rules, EventContext(
                session=session, program=programs.get(program_id or ""),
                training_day=trained_on.get((event.employee_id, program_id or "")),
                existing=frozenset(existing), period_counts=counts))
            skipped += len(scored.skipped)
            for entry in scored.entries:
                existing.add(entry.id)
                for per in ("month", "quarter", "year"):
                    key = (entry.employee_id, entry.rule, period_key(entry.earned_on, per))
                    counts[key] = counts.get(key, 0) + 1
                plan.records.append(entry)
                plan.decisions.append(Decision(
                    id=f"points:{entry.id}", kind="points_entry", subject=entry.employee_id,
                    payload={"entry": entry.id, "event": event.id, "rule": entry.rule,
                             "rule_version": entry.rule_version, "points": entry.points},
                    explanation=(entry.reason,)))
        ctx.mark_seen(plan, "learning_event")
        plan.summary.append(f"points: {len(plan.records)} new entries from {len(changed)} changed events"
                            f" ({skipped} not scored, see the decisions' reasons)")
        return plan


def _training_days(events: list[LearningEvent],
                   sessions: dict[str, TrainingSession]) -> dict[tuple[str, str], date]:
    """(employee, program) -> the first day the employee attended or completed it."""
    out: dict[tuple[str, str], date] = {}
    for event in events:
        if event.event not in TRAINING_EVENTS:
            continue
        session = sessions.get(event.session_id or "")
        program = event.program_id or (session.program_id if session else None)
        if program:
            day = event.occurred_at.date()
            key = (event.employee_id, program)
            out[key] = min(out.get(key, day), day)
    return out


class IncentivesJob(Job):
    name = "incentives"
    description = "Propose what points buy (bonus coefficient, bonus, perks, promotion) for HR to approve."
    reads: ClassVar[tuple[str, ...]] = ("fetch_employees", "fetch_learning_events")
    config_model: ClassVar[type[BaseModel] | None] = IncentiveThresholds
    order = 70

    def decide(self, ctx: JobContext) -> Plan:
        t: IncentiveThresholds = ctx.config or IncentiveThresholds()
        day = ctx.today if t.quarter == "current" else period_bounds(period_key(ctx.today, "quarter"),
                                                                     ctx.today)[0] - timedelta(days=1)
        quarter = period_key(day, "quarter")
        first, last = period_bounds(quarter, ctx.today)
        managers = {e.employee_id: e for e in _typed(ctx.records("employee"), Employee)
                    if e.is_manager and e.status is EmploymentStatus.ACTIVE}
        entries = _typed(ctx.records("points_entry"), PointsEntry)
        superseded = superseded_ids(ctx)
        quarterly = {m: 0 for m in managers} | {
            k: v for k, v in totals(entries, first, last, superseded).items() if k in managers}
        annual = totals(entries, date(last.year, 1, 1), last, superseded)
        last_12m = totals(entries, last - timedelta(days=364), last, superseded)
        events = _typed(ctx.records("learning_event"), LearningEvent)
        rates = plan_rates(events, last - timedelta(days=364), last)
        winners, how = top_share(quarterly, t)
        plan = Plan()
        plan.decisions.append(Decision(id=f"incentives:{quarter}:top_share", kind="incentive_top_share",
                                       subject=None, payload={"quarter": quarter, "winners": sorted(winners),
                                                              "scores": quarterly}, explanation=(how,)))
        for emp_id, employee in sorted(managers.items()):
            points = quarterly[emp_id]
            if emp_id in winners:
                plan.proposals.append(_money(employee, "bonus_coefficient", quarter, t.top_coefficient,
                                             AdjustmentKind.BONUS_COEFFICIENT, last,
                                             f"top {t.top_share * 100:.0f}% by points in {quarter}",
                                             [how, f"{emp_id}: {points} points"]))
            pct = bonus_percent(points, t)
            if pct:
                plan.proposals.append(_money(employee, "bonus", quarter, pct, AdjustmentKind.BONUS_PERCENT,
                                             last, f"bonus +{pct}% for {points} points in {quarter}",
                                             [f"+1% per full {t.bonus_percent_per_points} points, at most "
                                              f"+{t.bonus_percent_cap}%"]))
            for flag, reason in flags(points, annual.get(emp_id, 0), t):
                period = str(last.year) if flag == "excellent" else quarter
                plan.proposals.append(_flag(employee, flag, period, annual.get(emp_id, 0)
                                            if flag == "excellent" else points, [reason]))
            eligible, reasons = promotion(last_12m.get(emp_id, 0), rates.get(emp_id), t)
            if eligible:
                plan.proposals.append(_flag(employee, "promotion", quarter, last_12m.get(emp_id, 0), reasons))
        employees = {e.employee_id: e for e in _typed(ctx.records("employee"), Employee)}
        for cert in _typed(ctx.records("certificate"), Certificate):
            holder = employees.get(cert.employee_id)
            if holder is not None and first <= cert.issued_on <= last:
                plan.proposals.append(_money(holder, "bonus", f"certificate:{cert.certificate}",
                                             t.certificate_bonus_percent, AdjustmentKind.BONUS_PERCENT, last,
                                             f"bonus +{t.certificate_bonus_percent}% for certificate "
                                             f"{cert.certificate}", [f"certificate issued {cert.issued_on}"]))
        plan.summary.append(f"incentives {quarter}: {len(plan.proposals)} proposal(s) for HR; {how}")
        ranked = sorted(quarterly.items(), key=lambda kv: (-kv[1], kv[0]))
        plan.summary.append(f"leaderboard {quarter}: " + ", ".join(
            f"{managers[m].name} ({m}) {p}" for m, p in ranked[:10]))
        return plan


def plan_rates(events: list[LearningEvent], first: date, last: date) -> dict[str, Decimal]:
    """Action-plan completion: programs trained in the window with a plan submitted / programs trained."""
    trained: dict[str, set[str]] = {}
    planned: dict[str, set[str]] = {}
    for event in events:
        if not event.program_id or not first <= event.occurred_at.date() <= last:
            continue
        if event.event in TRAINING_EVENTS:
            trained.setdefault(event.employee_id, set()).add(event.program_id)
        elif event.event is LearningEventKind.ACTION_PLAN_SUBMITTED:
            planned.setdefault(event.employee_id, set()).add(event.program_id)
    return {emp: Decimal(len(progs & planned.get(emp, set()))) / Decimal(len(progs))
            for emp, progs in trained.items()}


def _money(employee: Employee, kind: str, period: str, amount: Decimal, adjustment: AdjustmentKind,
           effective: date, summary: str, explanation: list[str]) -> Proposal:
    pid = f"incentive:{kind}:{employee.employee_id}:{period}"
    record = PayrollAdjustment(id=pid, employee_id=employee.employee_id, adjustment=adjustment, amount=amount,
                               effective_date=effective, legal_entity=employee.legal_entity, reason=summary,
                               explanation=tuple(explanation), proposal_id=pid)
    return Proposal(id=pid, kind=kind, subject=employee.employee_id, summary=f"{employee.name}: {summary}",
                    write=Write("post_adjustment", {"adjustment": record}), explanation=explanation,
                    amount=amount)


def _flag(employee: Employee, flag: str, period: str, points: int, explanation: list[str]) -> Proposal:
    pid = f"incentive:{flag}:{employee.employee_id}:{period}"
    result = TrainingResult(id=pid, employee_id=employee.employee_id, period=period, points=points,
                            flags=(flag,))
    return Proposal(id=pid, kind=flag, subject=employee.employee_id,
                    summary=f"{employee.name}: {flag} ({'; '.join(explanation)})",
                    write=Write("push_training_result", {"result": result}), explanation=explanation)


class RemindersJob(Job):
    """S4: 3 days before a session to enrolled managers; 10 days after training without a plan."""

    name = "points_reminders"
    description = "Remind managers of sessions 3 days ahead and of missing action plans 10 days after."
    reads: ClassVar[tuple[str, ...]] = ("fetch_employees", "fetch_training_catalog", "fetch_learning_events")
    order = 65

    def decide(self, ctx: JobContext) -> Plan:
        managers = {e.employee_id: e for e in _typed(ctx.records("employee"), Employee) if e.is_manager}
        sessions = {s.session_id: s for s in _typed(ctx.records("session"), TrainingSession)}
        plan = Plan()
        for enrollment in _typed(ctx.records("enrollment"), Enrollment):
            session = sessions.get(enrollment.session_id or "")
            manager = managers.get(enrollment.employee_id)
            if session is None or manager is None or enrollment.status is EnrollmentStatus.CANCELLED:
                continue
            start = session.starts_at.date()
            if start - timedelta(days=3) <= ctx.today < start:
                plan.writes.append(Write("send_notice", {"notice": Notice(
                    id=f"reminder:session:{session.session_id}:{manager.employee_id}",
                    notice="session_reminder",
                    recipients=(Recipient(name=manager.name, employee_id=manager.employee_id,
                                          email=manager.email, role="manager"),),
                    subject=f"培训提醒: {session.session_id} {start}", language=manager.language,
                    body=f"{manager.name}, 您报名的培训 {session.program_id} 将于 {start} 开始"
                         f"{' (' + session.location + ')' if session.location else ''}。",
                    related_id=session.session_id)}))
        events = _typed(ctx.records("learning_event"), LearningEvent)
        planned = {(e.employee_id, e.program_id) for e in events
                   if e.event is LearningEventKind.ACTION_PLAN_SUBMITTED}
        for (emp_id, program), day in sorted(_training_days(events, sessions).items()):
            manager = managers.get(emp_id)
            if manager is None or (emp_id, program) in planned:
                continue
            if day + timedelta(days=10) <= ctx.today <= day + timedelta(days=30):
                plan.writes.append(Write("send_notice", {"notice": Notice(
                    id=f"reminder:action_plan:{emp_id}:{program}", notice="action_plan_reminder",
                    recipients=(Recipient(name=manager.name, employee_id=emp_id, email=manager.email,
                                          role="manager"),),
                    subject=f"行动计划提醒: {program}", language=manager.language,
                    body=f"{manager.name}, 培训 {program} ({day}) 已过 10 天, "
                         "请在 30 天内提交行动计划 (+20 分)。",
                    related_id=program)}))
        plan.summary.append(f"reminders: {len(plan.writes)} due (each sent once)")
        return plan


# --- library functions the commands call ----------------------------------------------


@dataclass
class Standing:
    rank: int
    employee_id: str
    name: str
    department: str
    points: int


def leaderboard(ws: Any, *, period: str, today: date, department: str | None = None) -> list[Standing]:
    """Managers ranked by points in ``period`` (ties share a rank), optionally one department."""
    first, last = period_bounds(period, today)
    with ws.ledger.transaction() as conn:
        entries = _typed(ws.ledger.iter_records(conn, "points_entry"), PointsEntry)
        employees = {e.employee_id: e for e in _typed(ws.ledger.iter_records(conn, "employee"), Employee)}
        superseded = superseded_ids(ws.ledger, conn)
    scores = totals(entries, first, last, superseded)
    for employee in employees.values():
        if employee.is_manager:
            scores.setdefault(employee.employee_id, 0)
    rows = []
    for employee_id, points in scores.items():
        employee = employees.get(employee_id)
        dept = employee.department if employee else ""
        if department and dept != department:
            continue
        rows.append((employee_id, employee.name if employee else "", dept, points))
    rows.sort(key=lambda r: (-r[3], r[0]))
    out: list[Standing] = []
    for i, (employee_id, name, dept, points) in enumerate(rows):
        rank = out[-1].rank if out and out[-1].points == points else i + 1
        out.append(Standing(rank, employee_id, name, dept, points))
    return out


def recompute(ws: Any, *, since: date, today: date, actor: str = "cli") -> list[tuple[str, str]]:
    """Re-score entries earned from ``since`` under the version in force ``today``.

    The ledger keeps both: each new entry (id suffixed by the version) and a
    ``points_superseded`` decision naming the old entry it replaces.
    """
    config = ws.settings.job_config(PointsJob.name, PointsConfig) or PointsConfig()
    rules = load_rules(config.rules, ws.settings.base_dir)
    version = rules.version_on(today)
    if version is None:
        return []
    from trainbridge.core.ledger import now_utc

    done: list[tuple[str, str]] = []
    with ws.ledger.transaction() as conn:
        superseded = superseded_ids(ws.ledger, conn)
        entries = _typed(ws.ledger.iter_records(conn, "points_entry"), PointsEntry)
        new_records, rows = [], []
        for entry in entries:
            if entry.id in superseded or entry.earned_on < since:
                continue
            fresh = rescore(entry, version)
            if fresh is None:
                continue
            new_records.append(fresh)
            done.append((entry.id, fresh.id))
            rows.append({"id": f"superseded:{entry.id}", "kind": SUPERSEDED, "subject": entry.employee_id,
                         "job": PointsJob.name, "run_id": None, "amount": None, "currency": None,
                         "payload": {"superseded": entry.id, "by": fresh.id, "since": since.isoformat(),
                                     "version": version.version, "actor": actor},
                         "explanation": [f"recomputed on request from {since}: {entry.points:+d} "
                                         f"under {entry.rule_version} -> {fresh.points:+d} "
                                         f"under {version.version}"],
                         "created_at": now_utc()})
        ws.ledger.upsert_records(conn, new_records)
        ws.ledger.put_decisions(conn, rows)
    return done


# --- hooks ----------------------------------------------------------------------------


@hookimpl
def register_jobs(register: Callable[[Job], None]) -> None:
    register(PointsJob())
    register(IncentivesJob())
    register(RemindersJob())


@hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.group()
    def points() -> None:
        """Manager points: leaderboard and recompute."""

    @points.command("leaderboard")
    @click.option("--period", default=None, help="2026Q3, 2026 or last-12-months (default: this quarter)")
    @click.option("--department", default=None)
    @click.option("--json", "as_json", is_flag=True)
    @click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None)
    @click.pass_obj
    def leaderboard_cmd(state: Any, period: str | None, department: str | None, as_json: bool,
                        today: Any) -> None:
        """Managers ranked by points."""
        import json

        day = today.date() if today else date.today()
        period = period or period_key(day, "quarter")
        try:
            rows = leaderboard(state.workspace(), period=period, today=day, department=department)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--period") from None
        if as_json:
            click.echo(json.dumps({"period": period, "rows": [r.__dict__ for r in rows]},
                                  ensure_ascii=False, indent=2))
            return
        click.echo(f"points leaderboard {period}" + (f" ({department})" if department else ""))
        for r in rows:
            click.echo(f"{r.rank:>3}  {r.employee_id:<8} {r.name:<8} {r.department:<12} {r.points:>5}")

    @points.command("recompute")
    @click.option("--since", required=True, type=click.DateTime(formats=["%Y-%m-%d"]))
    @click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None)
    @click.pass_obj
    def recompute_cmd(state: Any, since: Any, today: Any) -> None:
        """Re-score entries earned since DATE under today's rules; old entries are kept, superseded."""
        done = recompute(state.workspace(), since=since.date(), today=today.date() if today else date.today())
        for old, new in done:
            click.echo(f"{old} -> {new}")
        click.echo(f"{len(done)} entries recomputed")
