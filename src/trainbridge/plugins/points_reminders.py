"""The ``points_reminders`` job (seed 003, S4): sessions 3 days ahead, action plans 10 days after."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
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
        for enrollment in ctx.records("enrollment"):  # streamed
            if not isinstance(enrollment, Enrollment):
                continue
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
        sent = 0
        for emp_id, program, day in _action_plans_due(ctx, sessions, managers):
            manager = managers[emp_id]
            plan.writes.append(Write("send_notice", {"notice": Notice(
                id=f"reminder:action_plan:{emp_id}:{program}", notice="action_plan_reminder",
                recipients=(Recipient(name=manager.name, employee_id=emp_id, email=manager.email,
                                      role="manager"),),
                subject=f"行动计划提醒: {program}", language=manager.language,
                body=f"{manager.name}, 培训 {program} ({day} 结束) 已过 10 天, "
                     "请在 30 天内提交行动计划 (+20 分)。",
                related_id=program)}))
            if len(plan.writes) >= FLUSH:  # routed to the outbox as they come (ctx.flush)
                sent += len(plan.writes)
                ctx.flush(plan)
        plan.summary.append(f"reminders: {sent + len(plan.writes)} due (each sent once)")
        return plan


#: Events of a batch of managers read together; reminders held before they go to the outbox.
BATCH_EVENTS = 20_000
FLUSH = 5000


def _action_plans_due(ctx: JobContext, sessions: dict[str, TrainingSession],
                      managers: dict[str, Employee]) -> Iterator[tuple[str, str, date]]:
    """(manager, program, day the training ended) of each training that ended 10 to 30 days ago
    without an action plan, by manager and program, from the events that still count.

    A batch of managers at a time (their events read by subject, about :data:`BATCH_EVENTS`):
    what a training's end and its plan are is per employee, so memory stays that of one batch
    however many events and trainings the ledger holds. The ids voided are read first (the
    database picks the VOIDED events, whoever filed them)."""
    ledger, conn, kind = ctx.ledger, ctx.conn, LearningEvent.kind
    voiding = queries.changed_where(ledger, conn, kind, -1, "event", LearningEventKind.VOIDED.value)
    voided = {target for event, _ in voiding if isinstance(event, LearningEvent)
              for target in void_targets(event)}
    sizes = queries.subject_counts(ledger, conn, kind)
    batch: list[str] = []
    size = 0
    for subject in sorted(m for m in managers if m in sizes):
        batch.append(subject)
        size += sizes[subject]
        if size >= BATCH_EVENTS:
            yield from _due(ctx, batch, sessions, voided)
            batch, size = [], 0
    if batch:
        yield from _due(ctx, batch, sessions, voided)


def _due(ctx: JobContext, subjects: list[str], sessions: dict[str, TrainingSession],
         voided: set[str]) -> Iterator[tuple[str, str, date]]:
    events = [e for e, _ in queries.of_subjects(ctx.ledger, ctx.conn, LearningEvent.kind, subjects)
              if isinstance(e, LearningEvent) and e.id not in voided
              and e.event is not LearningEventKind.VOIDED]
    planned = {(e.employee_id, e.program_id) for e in events
               if e.event is LearningEventKind.ACTION_PLAN_SUBMITTED}
    for (emp_id, program), day in sorted(training_ends(events, sessions).items()):
        if (emp_id, program) not in planned and \
                day + timedelta(days=10) <= ctx.today <= day + timedelta(days=30):
            yield emp_id, program, day


@hookimpl
def register_jobs(register: Callable[[Job], None]) -> None:
    register(RemindersJob())
