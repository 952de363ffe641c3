"""The ``incentives`` job (seed 003 S3, S6; seed 000 K1, K3): what points and training buy.

Money (bonus coefficient, bonus) and score flags (regional manager, perks, excellent,
promotion, promotion priority, the points score for the review) are proposals HR
approves; approved ones reach the payroll or the performance sink once. Completions and
certificates are facts from the learning systems: they are pushed to the performance
sink directly, once per id, when one is configured (K1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import BaseModel

from trainbridge import hookimpl
from trainbridge.core.jobs import Decision, Job, JobContext, Plan, Proposal, Write
from trainbridge.core.ledger import queries
from trainbridge.core.records import (
    AdjustmentKind,
    Certificate,
    Employee,
    EmploymentStatus,
    Enrollment,
    LearningEvent,
    LearningEventKind,
    MetricValue,
    PayrollAdjustment,
    PointsEntry,
    Separation,
    TrainingProgram,
    TrainingResult,
    TrainingSession,
)
from trainbridge.plugins.points import superseded_ids
from trainbridge.rules.explain import incentive_items
from trainbridge.rules.incentives import (
    IncentiveThresholds,
    bonus_percent,
    completed_programs,
    flags,
    performance_gains,
    promotion,
    promotion_priority,
    top_share,
)
from trainbridge.rules.points import period_bounds, period_key, totals, training_days, void_targets

TRAINING_EVENTS = (LearningEventKind.ATTENDED, LearningEventKind.COMPLETED)


def _typed(records: Iterable[Any], cls: type[Any]) -> list[Any]:
    return [r for r in records if isinstance(r, cls)]


class IncentivesJob(Job):
    name = "incentives"
    description = "Propose what points buy (bonus coefficient, bonus, perks, promotion) for HR to approve."
    inputs: ClassVar[tuple[str, ...]] = ("employee", "separation", "program", "session", "enrollment",
                                         "learning_event", "certificate", "metric")
    config_model: ClassVar[type[BaseModel] | None] = IncentiveThresholds
    order = 70

    def decide(self, ctx: JobContext) -> Plan:
        t: IncentiveThresholds = ctx.config or IncentiveThresholds()
        plan = Plan()
        # the quarter follows the day; points entries come from the points job (and recompute)
        if ctx.nothing_new(plan, (*self.inputs, "points_entry"), ctx.today,
                           sorted(i.name for i in ctx.host.instances_with("push_training_result"))):
            plan.summary.append("incentives: nothing new since the last run today")
            return plan
        day = ctx.today if t.quarter == "current" else period_bounds(period_key(ctx.today, "quarter"),
                                                                     ctx.today)[0] - timedelta(days=1)
        quarter = period_key(day, "quarter")
        first, last = period_bounds(quarter, ctx.today)
        employees = {e.employee_id: e for e in _typed(ctx.records("employee"), Employee)}
        managers = {k: e for k, e in employees.items()
                    if e.is_manager and e.status is EmploymentStatus.ACTIVE}
        # A separation on record (left, or leaving) rules out promotion, whatever the HR status says.
        leaving = {s.employee_id for s in _typed(ctx.records("separation"), Separation)}
        by_quarter, annual, last_12m = points_totals(ctx, first, last)
        quarterly = {m: 0 for m in managers} | {k: v for k, v in by_quarter.items() if k in managers}
        facts = event_facts(ctx, last - timedelta(days=364), last,
                            completions=bool(ctx.host.instances_with("push_training_result")))
        rates = facts.rates
        winners, how = top_share(quarterly, t)
        plan.decisions.append(Decision(id=f"incentives:{quarter}:top_share", kind="incentive_top_share",
                                       subject=None, payload={"quarter": quarter, "winners": sorted(winners),
                                                              "scores": quarterly,
                                                              "explanation_items": incentive_items(
                                                                  "bonus_coefficient",
                                                                  {"quarter": quarter,
                                                                   "managers": len(quarterly),
                                                                   "top_share": str(t.top_share),
                                                                   "min_group": t.min_group,
                                                                   "winners": sorted(winners), "why": how},
                                                                  t.top_coefficient, "coefficient")},
                                       explanation=(how,)))
        cut = min((quarterly[w] for w in winners), default=0)
        proposed = 0  # proposals written as they come (ctx.flush): memory of a few thousand at most
        for emp_id, employee in sorted(managers.items()):
            if len(plan.proposals) >= FLUSH:
                proposed += len(plan.proposals)
                ctx.flush(plan)
            points = quarterly[emp_id]
            if emp_id in winners:
                _propose(plan, _money(employee, "bonus_coefficient", quarter, t.top_coefficient,
                                      AdjustmentKind.BONUS_COEFFICIENT, last,
                                      f"top {t.top_share * 100:.0f}% by points in {quarter}",
                                      [how, f"{emp_id}: {points} points"]),
                         incentive_items("bonus_coefficient",
                                         {"quarter": quarter, "points": points, "managers": len(quarterly),
                                          "top_share": t.top_share, "cut": cut},
                                         t.top_coefficient, "coefficient"))
            pct = bonus_percent(points, t)
            if pct:
                _propose(plan, _money(employee, "bonus", quarter, pct, AdjustmentKind.BONUS_PERCENT,
                                      last, f"bonus +{pct}% for {points} points in {quarter}",
                                      [f"+1% per full {t.bonus_percent_per_points} points, at most "
                                       f"+{t.bonus_percent_cap}%"]),
                         incentive_items("bonus", {"quarter": quarter, "points": points,
                                                   "per_points": t.bonus_percent_per_points,
                                                   "cap": t.bonus_percent_cap}, pct, "percent"))
            for flag, reason in flags(points, annual.get(emp_id, 0), t):
                yearly = flag == "excellent_eligible"
                score = annual.get(emp_id, 0) if yearly else points
                when = {"year": str(last.year)} if yearly else {"quarter": quarter}
                # The proposal kind stays "excellent" (HR's approvals name it); the flag says eligible.
                _propose(plan, _flag(employee, flag, str(last.year) if yearly else quarter, [reason],
                                     points=score, kind="excellent" if yearly else flag),
                         incentive_items("excellent" if yearly else flag,
                                         {**when, "points": score, "threshold": _threshold(flag, t)},
                                         score, "points"))
            eligible, reasons = promotion(last_12m.get(emp_id, 0), rates.get(emp_id), t)
            if eligible and emp_id not in leaving:
                rate = rates.get(emp_id) or Decimal(0)
                _propose(plan, _flag(employee, "promotion", quarter, reasons, points=last_12m.get(emp_id, 0)),
                         incentive_items("promotion",
                                         {"through": last.isoformat(), "points": last_12m.get(emp_id, 0),
                                          "threshold": t.promotion_points, "plan_rate_pct": _pct(rate),
                                          "plan_threshold_pct": _pct(t.promotion_plan_rate)},
                                         last_12m.get(emp_id, 0), "points"))
            _propose(plan, _review_points(employee, quarter, points, t.review_weight),
                     incentive_items("review_points", {"quarter": quarter, "points": points,
                                                       "weight_pct": _pct(t.review_weight)},
                                     points, "points"))
        for cert in _typed(ctx.records("certificate"), Certificate):
            holder = employees.get(cert.employee_id)
            if holder is not None and first <= cert.issued_on <= last:
                _propose(plan, _money(holder, "bonus", f"certificate:{cert.certificate}",
                                      t.certificate_bonus_percent, AdjustmentKind.BONUS_PERCENT, last,
                                      f"bonus +{t.certificate_bonus_percent}% for certificate "
                                      f"{cert.certificate}", [f"certificate issued {cert.issued_on}"]),
                         incentive_items("certificate_bonus",
                                         {"certificate": cert.certificate, "certificate_id": cert.id,
                                          "issued_on": cert.issued_on.isoformat(), "quarter": quarter},
                                         t.certificate_bonus_percent, "percent"))
        for proposal, items in self._promotion_priority(ctx, t, employees, facts.trained, last, leaving):
            _propose(plan, proposal, items)
        plan.writes += self._training_results(ctx, facts.done)
        plan.summary.append(f"incentives {quarter}: {proposed + len(plan.proposals)} proposal(s) for HR; "
                            f"{how}")
        if plan.writes:
            plan.summary.append(f"training results: {len(plan.writes)} completion/certificate result(s) "
                                "for the performance system (each sent once)")
        ranked = sorted(quarterly.items(), key=lambda kv: (-kv[1], kv[0]))
        plan.summary.append(f"leaderboard {quarter}: " + ", ".join(
            f"{managers[m].name} ({m}) {p}" for m, p in ranked[:10]))
        return plan

    def _promotion_priority(self, ctx: JobContext, t: IncentiveThresholds, employees: dict[str, Employee],
                            trained_on: dict[tuple[str, str], date], last: date,
                            leaving: set[str]) -> list[tuple[Proposal, list[dict[str, Any]]]]:
        """K3: a KPI up by the threshold after a training in the last 12 months; once per training.

        Each proposal comes with its explanation items: one per KPI that rose enough.
        """
        trained = {key: day for key, day in trained_on.items() if last - timedelta(days=364) <= day <= last}
        gains = performance_gains(_typed(ctx.records("metric"), MetricValue), trained, until=last,
                                  only=t.performance_metrics)
        per_training: dict[tuple[str, str], list[Any]] = {}
        for gain in gains:
            per_training.setdefault((gain.employee_id, gain.program_id), []).append(gain)
        out = []
        titles: dict[str, str] | None = None
        for (emp_id, program), found in sorted(per_training.items()):
            employee = employees.get(emp_id)
            reasons = promotion_priority(found, t)
            if employee is not None and employee.status is EmploymentStatus.ACTIVE and reasons \
                    and emp_id not in leaving:
                if titles is None:
                    titles = {p.program_id: p.title for p in _typed(ctx.records("program"), TrainingProgram)}
                items = [item for g in found if g.percent >= t.performance_gain_percent
                         for item in incentive_items(
                             "promotion_priority",
                             {"program_id": program, "program": titles.get(program, ""), "metric": g.metric,
                              "before": g.before.normalize(), "after": g.after.normalize(),
                              "trained_on": trained[(emp_id, program)].isoformat(),
                              "threshold_pct": t.performance_gain_percent}, g.percent, "percent")]
                out.append((_flag(employee, "promotion_priority", program, reasons, program_id=program),
                            items))
        return out

    def _training_results(self, ctx: JobContext, done: set[tuple[str, str]]) -> list[Write]:
        """K1: completions and certificates, as facts, when a performance sink is configured."""
        if not ctx.host.instances_with("push_training_result"):
            return []
        programs = {p.program_id: p for p in _typed(ctx.records("program"), TrainingProgram)}
        writes = [Write("push_training_result", {"result": TrainingResult(
            id=f"training_result:completion:{emp}:{program}", employee_id=emp, program_id=program,
            completed=True)}) for emp, program in sorted(done)]
        for cert in sorted(_typed(ctx.records("certificate"), Certificate), key=lambda c: c.id):
            granting = sorted(p for (emp, p) in done
                              if emp == cert.employee_id and programs.get(p) is not None
                              and programs[p].certificate == cert.certificate)
            writes.append(Write("push_training_result", {"result": TrainingResult(
                id=f"training_result:certificate:{cert.id}", employee_id=cert.employee_id,
                program_id=granting[0] if granting else None, certificate=cert.certificate,
                period=cert.issued_on.isoformat())}))
        return writes


#: About how many records one page (of entries) or batch (of employees' events) holds in memory.
PAGE = 20_000
#: Proposals held before they are written (``ctx.flush``, with their decisions).
FLUSH = 5000


def points_totals(ctx: JobContext, first: date, last: date) -> tuple[dict[str, int], ...]:
    """Points per employee in the quarter ``first``..``last``, its year up to ``last`` and the 12 months
    up to ``last`` (superseded entries left out), summed page by page: memory stays flat."""
    superseded = superseded_ids(ctx)
    windows = ((first, last), (date(last.year, 1, 1), last), (last - timedelta(days=364), last))
    sums: tuple[dict[str, int], ...] = tuple({} for _ in windows)
    page: list[PointsEntry] = []

    def add() -> None:
        for out, (start, end) in zip(sums, windows, strict=True):
            for employee_id, points in totals(page, start, end, superseded).items():
                out[employee_id] = out.get(employee_id, 0) + points

    for entry in ctx.records(PointsEntry.kind):
        if isinstance(entry, PointsEntry):
            page.append(entry)
            if len(page) >= PAGE:
                add()
                page = []
    add()
    return sums


@dataclass
class EventFacts:
    """What the learning events say, per employee: action-plan rates in the window, the first day
    trained per (employee, program), and the programs completed now."""

    rates: dict[str, Decimal] = field(default_factory=dict)
    trained: dict[tuple[str, str], date] = field(default_factory=dict)
    done: set[tuple[str, str]] = field(default_factory=set)


def event_facts(ctx: JobContext, first: date, last: date, *, completions: bool) -> EventFacts:
    """:class:`EventFacts` from the events that still count, a batch of employees at a time.

    Every fact is per employee, so each batch's events (and enrollments) are read, reduced and
    let go: memory stays that of one batch. The ids voided are read first (the database picks the
    VOIDED events), so a voiding event filed under another employee (an administrator) counts.
    """
    ledger, conn = ctx.ledger, ctx.conn
    queries.planned(ledger, conn)  # reads by subject: PostgreSQL must know the table
    sessions = {s.session_id: s for s in _typed(ctx.records("session"), TrainingSession)}
    voiding = queries.changed_where(ledger, conn, LearningEvent.kind, -1, "event",
                                    LearningEventKind.VOIDED.value)
    voided = {target for event, _ in voiding if isinstance(event, LearningEvent)
              for target in void_targets(event)}
    sizes = queries.subject_counts(ledger, conn, LearningEvent.kind)
    for subject in queries.subject_counts(ledger, conn, Enrollment.kind):
        sizes.setdefault(subject, 0)
    facts = EventFacts()
    batch: list[str] = []
    size = 0

    def add() -> None:
        events = [e for e, _ in queries.of_subjects(ledger, conn, LearningEvent.kind, batch)
                  if isinstance(e, LearningEvent) and e.id not in voided
                  and e.event is not LearningEventKind.VOIDED]
        enrollments = [e for e, _ in queries.of_subjects(ledger, conn, Enrollment.kind, batch)
                       if isinstance(e, Enrollment)]
        facts.rates.update(plan_rates(events, first, last))
        facts.trained.update(training_days(events, sessions, enrollments))
        if completions:
            facts.done |= completed_programs(events, enrollments)

    for subject in sorted(sizes):
        batch.append(subject)
        size += sizes[subject] + 1
        if size >= PAGE:
            add()
            batch, size = [], 0
    if batch:
        add()
    return facts


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


def _propose(plan: Plan, proposal: Proposal, items: list[dict[str, Any]]) -> None:
    """The proposal for HR, and beside it a decision with its id holding its explanation as data
    (rule, seed sentence, inputs, amount with unit): a console renders it in Chinese or English."""
    plan.proposals.append(proposal)
    plan.decisions.append(Decision(id=proposal.id, kind="incentive_proposal", subject=proposal.subject,
                                   payload={"proposal": proposal.id, "proposal_kind": proposal.kind,
                                            "explanation_items": items},
                                   explanation=tuple(proposal.explanation), amount=proposal.amount,
                                   currency=proposal.currency))


def _threshold(flag: str, t: IncentiveThresholds) -> int:
    return {"regional_manager": t.regional_manager_points, "perks": t.perks_points,
            "excellent_eligible": t.excellent_annual_points}[flag]


def _pct(fraction: Decimal) -> str:
    """0.8 -> "80", 0.6667 -> "67" (a share as whole percent, for the explanation)."""
    return format((fraction * 100).quantize(Decimal(1)), "f")


def _money(employee: Employee, kind: str, period: str, amount: Decimal, adjustment: AdjustmentKind,
           effective: date, summary: str, explanation: list[str]) -> Proposal:
    """A bonus change for payroll: a rate (percent, coefficient) carries no currency and no money amount."""
    pid = f"incentive:{kind}:{employee.employee_id}:{period}"
    record = PayrollAdjustment(id=pid, employee_id=employee.employee_id, adjustment=adjustment, amount=amount,
                               effective_date=effective, legal_entity=employee.legal_entity, reason=summary,
                               explanation=tuple(explanation), proposal_id=pid)
    return Proposal(id=pid, kind=kind, subject=employee.employee_id,
                    summary=f"{employee.name}: {summary} ({record.display()})",
                    write=Write("post_adjustment", {"adjustment": record}), explanation=explanation,
                    amount=None if record.is_rate else amount, currency=record.currency)


def _flag(employee: Employee, flag: str, period: str, explanation: list[str], *, points: int | None = None,
          program_id: str | None = None, kind: str | None = None) -> Proposal:
    pid = f"incentive:{kind or flag}:{employee.employee_id}:{period}"
    result = TrainingResult(id=pid, employee_id=employee.employee_id, period=None if program_id else period,
                            program_id=program_id, points=points, flags=(flag,))
    return Proposal(id=pid, kind=kind or flag, subject=employee.employee_id,
                    summary=f"{employee.name}: {flag} ({'; '.join(explanation)})",
                    write=Write("push_training_result", {"result": result}), explanation=explanation)


def _review_points(employee: Employee, quarter: str, points: int, weight: Decimal) -> Proposal:
    """S6: the quarter's points score for the performance review, with its weight."""
    pid = f"incentive:review_points:{employee.employee_id}:{quarter}"
    result = TrainingResult(id=pid, employee_id=employee.employee_id, period=quarter, points=points,
                            review_weight=weight)
    share = f"{weight * 100:f}".rstrip("0").rstrip(".")
    why = f"{points} points in {quarter}, weighing {share}% of the performance score"
    return Proposal(id=pid, kind="review_points", subject=employee.employee_id,
                    summary=f"{employee.name}: {why}", explanation=[why],
                    write=Write("push_training_result", {"result": result}))


@hookimpl
def register_jobs(register: Callable[[Job], None]) -> None:
    register(IncentivesJob())
