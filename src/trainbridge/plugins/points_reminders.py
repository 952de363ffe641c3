"""The ``points_reminders`` job (seed 003, S4): sessions 3 days ahead, action plans 10 days after."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, timedelta
from typing import Any, ClassVar

from trainbridge import hookimpl
from trainbridge.core.jobs import Job, JobContext, Plan, Write
from trainbridge.core.ledger import queries
from trainbridge.core.records import (
    Employee,
    Enrollment,
    EnrollmentStatus,
    LearningEvent,
    LearningEventKind,
    Notice,
    Recipient,
    TrainingSession,
)
from trainbridge.rules.points import training_ends, void_targets


def _typed(records: Iterable[Any], cls: type[Any]) -> list[Any]:
    return [r for r in records if isinstance(r, cls)]


class RemindersJob(Job):
    """S4: 3 days before a session to enrolled managers; 10 days after training without a plan."""

    name = "points_reminders"
    description = "Remind managers of sessions 3 days ahead and of missing action plans 10 days after."
    inputs: ClassVar[tuple[str, ...]] = ("employee", "program", "session", "enrollment", "learning_event")
    order = 65

    def decide(self, ctx: JobContext) -> Plan:
        plan = Plan()
        # reminders fall due with the days: the same day and records send nothing new
        notifiers = sorted(i.name for i in ctx.host.instances_with("send_notice"))
        if ctx.nothing_new(plan, self.inputs, ctx.today, notifiers):
            plan.summary.append("reminders: nothing new since the last run today")
            return plan
        queries.planned(ctx.ledger, ctx.conn)  # PostgreSQL must know the table it pages through
        managers = {e.employee_id: e for e in _typed(ctx.records("employee"), Employee) if e.is_manager}
        sessions = {s.session_id: s for s in _typed(ctx.records("session"), TrainingSession)}
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
        planned, ends = _plans_and_training_ends(ctx, sessions)
        for (emp_id, program), day in sorted(ends.items()):
            manager = managers.get(emp_id)
            if manager is None or (emp_id, program) in planned:
                continue
            if day + timedelta(days=10) <= ctx.today <= day + timedelta(days=30):
                plan.writes.append(Write("send_notice", {"notice": Notice(
                    id=f"reminder:action_plan:{emp_id}:{program}", notice="action_plan_reminder",
                    recipients=(Recipient(name=manager.name, employee_id=emp_id, email=manager.email,
                                          role="manager"),),
                    subject=f"行动计划提醒: {program}", language=manager.language,
                    body=f"{manager.name}, 培训 {program} ({day} 结束) 已过 10 天, "
                         "请在 30 天内提交行动计划 (+20 分)。",
                    related_id=program)}))
        plan.summary.append(f"reminders: {len(plan.writes)} due (each sent once)")
        return plan


def _plans_and_training_ends(ctx: JobContext, sessions: dict[str, TrainingSession]) -> tuple[
        set[tuple[str, str | None]], dict[tuple[str, str], date]]:
    """The action plans submitted, and when each (employee, program) training ended, from the events
    that still count (:func:`effective_events`), streamed page by page: memory stays flat however
    many events the ledger holds. The ids voided are read first (the database picks the VOIDED events)."""
    voiding = queries.changed_where(ctx.ledger, ctx.conn, LearningEvent.kind, -1, "event",
                                    LearningEventKind.VOIDED.value)
    voided = {target for event, _ in voiding if isinstance(event, LearningEvent)
              for target in void_targets(event)}
    planned: set[tuple[str, str | None]] = set()
    ends: dict[tuple[str, str], date] = {}
    page: list[LearningEvent] = []

    def add(events: list[LearningEvent]) -> None:
        for key, day in training_ends(events, sessions).items():
            ends[key] = max(ends.get(key, day), day)

    for event in ctx.records(LearningEvent.kind):
        if not isinstance(event, LearningEvent) or event.id in voided \
                or event.event is LearningEventKind.VOIDED:
            continue
        if event.event is LearningEventKind.ACTION_PLAN_SUBMITTED:
            planned.add((event.employee_id, event.program_id))
        page.append(event)
        if len(page) >= 5000:
            add(page)
            page = []
    add(page)
    return planned, ends


@hookimpl
def register_jobs(register: Callable[[Job], None]) -> None:
    register(RemindersJob())
