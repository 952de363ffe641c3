"""The sign-first gate and service-period reminders of the ``agreements`` job (A4, A6).

A mixin of :class:`~trainbridge.plugins.agreements.job.AgreementRun`: it reads the run's
ledger view and adds decisions, warnings and notices to the run's plan.
"""

from __future__ import annotations

from collections.abc import Iterable

from trainbridge.core.jobs import Decision, Write
from trainbridge.core.records import (
    Agreement,
    AgreementStatus,
    EnrollmentStatus,
    LearningEvent,
    LearningEventKind,
    Notice,
    Recipient,
)
from trainbridge.plugins.agreements.config import AgreementsConfig
from trainbridge.plugins.agreements.view import RunParts, agreement_id_for
from trainbridge.rules.agreements import (
    Lead,
    gate_check,
    parse_lead,
    reminder_is_due,
    service_period_allowed,
    trained_before_signing,
)

TRAINED = (LearningEventKind.ATTENDED, LearningEventKind.COMPLETED)


class GateAndReminders(RunParts):
    """Steps 4 and 5 of a run: the gate, attendance flags, reminders, and notices."""

    cfg: AgreementsConfig
    decided: set[str]
    notifiers: bool

    # --- 4. the gate ----------------------------------------------------------------

    def gate(self) -> None:
        for enrollment in sorted(self.view.enrollments.values(), key=lambda e: e.id):
            program = self.view.programs.get(enrollment.program_id)
            session = self.view.sessions.get(enrollment.session_id or "")
            if program is None or not program.agreement_template or session is None \
                    or enrollment.status is EnrollmentStatus.CANCELLED \
                    or not service_period_allowed(program.category)[0]:
                continue
            agreement = self.agreement(agreement_id_for(enrollment.id))
            check = gate_check(agreement.status if agreement else None, session.starts_at.date(),
                               self.ctx.today, self.cfg.gate_lead_days)
            if not check.blocked:
                continue
            aid = agreement_id_for(enrollment.id)
            who = self.employee_name(enrollment.employee_id)
            self.note(f"gate: sessions within {self.cfg.gate_lead_days} days without a signed agreement",
                      f"{who}, {session.session_id} on {session.starts_at.date()}")
            if not self.decide_once(Decision(
                    id=f"agreement_gate:{enrollment.id}:{session.session_id}", kind="agreement_gate",
                    subject=enrollment.employee_id,
                    payload={"enrollment_id": enrollment.id, "agreement_id": aid,
                             "session_id": session.session_id,
                             "session_starts": session.starts_at.isoformat(),
                             "status": agreement.status.value if agreement else None},
                    explanation=check.explanation)):
                continue
            self.notify(Notice(
                id=f"agreement_unsigned:{aid}:{session.session_id}", notice="agreement_unsigned",
                recipients=self.hr(), related_id=aid,
                subject=f"培训协议未签署：{who} {program.title}",
                body=(f"{who} 报名的 {program.title}（{session.session_id}）将于 "
                      f"{session.starts_at.date().isoformat()} 开始，培训服务期协议尚未签署"
                      f"（状态：{agreement.status.value if agreement else '未起草'}）。"
                      "请在培训开始前完成签署（先签后训）。")))

    def flag_attendance(self) -> None:
        for event in self.ctx.changed("learning_event"):
            assert isinstance(event, LearningEvent)
            if event.event not in TRAINED:
                continue
            if self.cfg.enforce_from and event.occurred_at.date() < self.cfg.enforce_from:
                continue
            session = self.view.sessions.get(event.session_id or "")
            program_id = event.program_id or (session.program_id if session else None)
            program = self.view.programs.get(program_id or "")
            if program is None or not program.agreement_template \
                    or not service_period_allowed(program.category)[0]:
                continue
            agreement = self._agreement_of(event, program.program_id)
            status = agreement.status if agreement else None
            if not trained_before_signing(status, agreement.signed_at if agreement else None,
                                          event.occurred_at):
                continue
            state = status.value if status else "not drafted"
            if self.decide_once(Decision(
                    id=f"attendance_unsigned:{event.id}", kind="attendance_unsigned",
                    subject=event.employee_id,
                    payload={"event_id": event.id, "agreement_id": agreement.id if agreement else None,
                             "occurred_at": event.occurred_at.isoformat(), "status": state},
                    explanation=(f"{event.event.value} recorded on {event.occurred_at.isoformat()} while the "
                                 f"agreement was {state}", "training may start only after the agreement "
                                 "is signed (先签后训)"))):
                self.plan.warnings.append(
                    f"{self.employee_name(event.employee_id)} {event.event.value} {program.program_id} "
                    f"on {event.occurred_at.date()} without a signed agreement ({state})")

    def _agreement_of(self, event: LearningEvent, program_id: str) -> Agreement | None:
        mine = [a for a in self.agreements() if a.employee_id == event.employee_id
                and a.program_id == program_id]
        for agreement in mine:
            enrollment = self.view.enrollments.get(agreement.id.removeprefix("agreement:"))
            if enrollment and event.session_id and enrollment.session_id == event.session_id:
                return agreement
        return mine[0] if mine else None

    # --- 5. reminders ---------------------------------------------------------------

    def remind(self, ids: Iterable[str] | None = None) -> None:
        leads = [parse_lead(text) for text in self.cfg.reminders]
        for agreement in self.agreements(ids):
            if agreement.status is not AgreementStatus.SIGNED or agreement.employee_id in self.view.separated:
                continue
            for lead in leads:
                if reminder_is_due(agreement.service_end, lead, self.ctx.today):
                    self._remind(agreement, lead)

    def _remind(self, agreement: Agreement, lead: Lead) -> None:
        did = f"service_period_reminder:{agreement.id}:{lead.label}"
        if did in self.decided:
            return
        if not self.notifiers:
            self.plan.warnings.append(f"reminder for {agreement.id} not sent: no notifier configured")
            return
        employee = self.view.employees.get(agreement.employee_id)
        program = self.view.programs.get(agreement.program_id)
        title = program.title if program else agreement.program_id
        days = (agreement.service_end - self.ctx.today).days
        who = self.employee_name(agreement.employee_id)
        recipients = self.hr()
        if employee:
            recipients = (Recipient(name=employee.name, employee_id=employee.employee_id,
                                    email=employee.email, role="employee"), *recipients)
        self.decide_once(Decision(
            id=did, kind="service_period_reminder", subject=agreement.employee_id,
            payload={"agreement_id": agreement.id, "service_end": agreement.service_end.isoformat(),
                     "lead": lead.label},
            explanation=(f"the service period ends on {agreement.service_end.isoformat()}; the {lead.label} "
                         f"reminder is due from {lead.before(agreement.service_end).isoformat()}",)))
        self.notify(Notice(
            id=f"service_period_ending:{agreement.id}:{lead.label}", notice="service_period_ending",
            recipients=recipients, related_id=agreement.id,
            language=employee.language if employee else "zh",
            subject=f"服务期即将届满：{who} {title}",
            body=(f"{who} 的培训服务期协议（{title}，{agreement.id}）约定的服务期自 "
                  f"{agreement.service_start.isoformat()} 起，至 {agreement.service_end.isoformat()} 届满"
                  f"（还有 {days} 天）。请 HR 与员工确认后续安排。")))
        self.note("service-period reminders", f"{who}: {agreement.id} ends {agreement.service_end} "
                                              f"({days} days)")

    def hr(self) -> tuple[Recipient, ...]:
        if self.cfg.hr:
            return tuple(Recipient(name=r.name, email=r.email, employee_id=r.employee_id, role="hr")
                         for r in self.cfg.hr)
        staff = [e for e in self.view.employees.values() if e.role.lower() == "hr"
                 and e.employee_id not in self.view.separated]
        if staff:
            return tuple(Recipient(name=e.name, email=e.email, employee_id=e.employee_id, role="hr")
                         for e in sorted(staff, key=lambda e: e.employee_id))
        return (Recipient(name="HR", role="hr"),)

    def notify(self, notice: Notice) -> None:
        if not self.notifiers:
            self.plan.warnings.append(f"notice {notice.notice} for {notice.related_id} not sent: "
                                      "no notifier configured")
            return
        self.plan.writes.append(Write("send_notice", {"notice": notice}))
