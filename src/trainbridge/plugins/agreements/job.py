"""The ``agreements`` job: draft, send, follow, file evidence, gate, remind (A1-A4, A6).

``decide`` only reads the ledger; every vendor call is an outbox write, delivered by the
runner outside any transaction. Each run:

1. an enrollment in a program with a template gets its agreement drafted (the PDF rendered
   in memory, kept through ``Plan.files``, SHA-256 and template version recorded) and sent
   for signature through the outbox (``send_for_signature``);
2. the envelope's status comes in as ``Envelope`` records (the ingestion polls
   ``signature_status`` for sent agreements, webhooks report it): a completed envelope makes
   the agreement signed, and the signed PDF is fetched through the outbox
   (``download_signed``): :meth:`AgreementsJob.on_delivered` keeps it in the document store
   and the digest is recorded with who signed when;
3. the signed digest is deposited through the outbox (``deposit_evidence``) and the
   receipt kept as an ``EvidenceReceipt`` record;
4. the gate: an enrollment whose session starts within ``gate_lead_days`` without a
   signed agreement is a decision and a notice to HR; attendance recorded while the
   agreement is unsigned is flagged on the run;
5. service-period reminders go to HR and the employee, once per agreement and lead time.

Keeping the signed document and step 3 live in :mod:`~trainbridge.plugins.agreements.delivered`,
steps 4 and 5 in :mod:`~trainbridge.plugins.agreements.gate` (mixins of the run). A delivery
answered but not recorded (a run killed in between) is picked up from the outbox row's
``result`` by the next ``decide``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel

from trainbridge.core.errors import TrainbridgeError
from trainbridge.core.jobs import Decision, FileWrite, Job, JobContext, Plan, Write
from trainbridge.core.ledger import OutboxRow
from trainbridge.core.records import (
    Agreement,
    AgreementStatus,
    Employee,
    Enrollment,
    EnrollmentStatus,
    Envelope,
    Signer,
    TrainingProgram,
)
from trainbridge.plugins.agreements.config import JOB, AgreementsConfig, ProgramTerms
from trainbridge.plugins.agreements.delivered import DONE, Deliveries, keep_signed_document
from trainbridge.plugins.agreements.documents import (
    AgreementTemplate,
    DocumentStore,
    TemplateRegistry,
    find_font,
    prepare_font,
    render_pdf,
    sha256_hex,
)
from trainbridge.plugins.agreements.gate import GateAndReminders
from trainbridge.plugins.agreements.view import (
    Ledgerview,
    after_envelope,
    agreement_id_for,
    envelope_signed_at,
    send_key,
)
from trainbridge.rules.agreements import ServicePeriod, service_period, service_period_allowed

DECISION_KINDS = ("agreement_drafted", "agreement_refused", "agreement_signed", "agreement_closed",
                  "evidence_deposited", "agreement_gate", "attendance_unsigned", "service_period_reminder")
SHOWN = 3  # per-agreement summary lines before "and N more"


class AgreementsJob(Job):
    name = JOB
    description = "Draft, send and follow training agreements; evidence, the sign-first gate, reminders."
    inputs: ClassVar[tuple[str, ...]] = ("employee", "separation", "program", "session", "enrollment",
                                         "learning_event", "agreement", "envelope", "evidence_receipt")
    config_model: ClassVar[type[BaseModel] | None] = AgreementsConfig
    order = 20

    def decide(self, ctx: JobContext) -> Plan:
        run = AgreementRun(ctx)
        run.draft_new()
        run.follow_drafts()
        run.follow_envelopes()
        run.collect_signed()
        run.deposit_missing()
        run.gate()
        run.flag_attendance()
        ctx.mark_seen(run.plan, "learning_event")
        run.remind()
        return run.finish()

    def after_delivery(self, ctx: JobContext, delivered: Sequence[OutboxRow]) -> Plan | None:
        run = AgreementRun(ctx)
        touched = [aid for row in delivered if (aid := run.apply_delivery(row))]
        if not touched:
            return None
        run.collect_signed(touched)
        run.deposit_missing(touched)
        run.remind(touched)
        return run.finish()

    def on_delivered(self, row: OutboxRow, answer: Any, *, base_dir: Path, config: Any = None) -> Any:
        return keep_signed_document(row, answer, base_dir=base_dir, config=config)


@dataclass
class Draft:
    """An agreement about to be drafted, with its rendered text (rendered to PDF in a batch)."""

    agreement: Agreement
    enrollment: Enrollment
    program: TrainingProgram
    template: AgreementTemplate
    period: ServicePeriod
    text: str
    pinned: bool


class AgreementRun(GateAndReminders, Deliveries):
    """One decide (or after_delivery) of the job: the ledger view, the plan being built."""

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        self.cfg: AgreementsConfig = ctx.config or AgreementsConfig()
        self.base_dir = ctx.base_dir
        self.store = DocumentStore(self.base_dir / self.cfg.documents_dir)
        self.view = Ledgerview.read(ctx)
        self.plan = Plan()
        self.updated: dict[str, Agreement] = {}
        self.decided = {row["id"] for kind in DECISION_KINDS
                        for row in ctx.ledger.list_decisions(ctx.conn, kind)}
        self.esign = self._instance("send_for_signature", self.cfg.esign, "esign")
        self.evidence = self._instance("deposit_evidence", self.cfg.evidence, "evidence")
        self.notifiers = bool(ctx.host.instances_with("send_notice"))
        self.lines: dict[str, list[str]] = {}
        self._registry: TemplateRegistry | None = None
        self._font: Path | None = None
        self._outbox: dict[str, dict[str, list[OutboxRow]]] = {}

    # --- plumbing -------------------------------------------------------------------

    def _instance(self, hook: str, named: str | None, key: str) -> str | None:
        if named:
            if named not in self.ctx.host.instances:
                self.plan.warnings.append(f"[jobs.{JOB}] {key} = {named!r} is not a configured connector")
                return None
            return named
        found = [i.name for i in self.ctx.host.instances_with(hook)]
        if len(found) > 1:
            self.plan.warnings.append(f"several connectors implement {hook} ({', '.join(found)}): "
                                      f"set {key} = \"NAME\" in [jobs.{JOB}]")
            return None
        return found[0] if found else None

    def agreement(self, agreement_id: str) -> Agreement | None:
        return self.updated.get(agreement_id) or self.view.agreements.get(agreement_id)

    def agreements(self, ids: Iterable[str] | None = None) -> list[Agreement]:
        keys = list(ids) if ids is not None else sorted({*self.view.agreements, *self.updated})
        return [a for k in keys if (a := self.agreement(k)) is not None]

    def put(self, agreement: Agreement) -> None:
        self.updated[agreement.id] = agreement

    def decide_once(self, decision: Decision) -> bool:
        if decision.id in self.decided:
            return False
        self.decided.add(decision.id)
        self.plan.decisions.append(decision)
        return True

    def note(self, topic: str, line: str) -> None:
        self.lines.setdefault(topic, []).append(line)

    def employee_name(self, employee_id: str) -> str:
        employee = self.view.employees.get(employee_id)
        return f"{employee_id} {employee.name}" if employee else employee_id

    def registry(self) -> TemplateRegistry:
        if self._registry is None:
            extra = self.base_dir / self.cfg.templates_dir if self.cfg.templates_dir else None
            self._registry = TemplateRegistry.load(extra)
        return self._registry

    def font(self) -> Path:
        if self._font is None:
            self._font = find_font(str(self.base_dir / self.cfg.font) if self.cfg.font else None)
        return self._font

    def outbox(self, operation: str) -> dict[str, list[OutboxRow]]:
        """This job's outbox rows of ``operation`` by idempotency key (a ``#n`` retry under its key)."""
        if operation not in self._outbox:
            rows: dict[str, list[OutboxRow]] = {}
            for row in self.ctx.ledger.outbox(self.ctx.conn, job=JOB, operation=operation):
                rows.setdefault(row.idempotency_key.rsplit("#", 1)[0], []).append(row)
            self._outbox[operation] = rows
        return self._outbox[operation]

    def finish(self) -> Plan:
        self.plan.records += list(self.updated.values())
        for topic, lines in self.lines.items():
            shown = lines[:SHOWN] + ([f"  ... and {len(lines) - SHOWN} more"] if len(lines) > SHOWN else [])
            self.plan.summary.append(f"{topic}: {len(lines)}")
            self.plan.summary += [f"  {line}" if not line.startswith("  ") else line for line in shown]
        return self.plan

    # --- 1. drafting ------------------------------------------------------------------

    def draft_new(self) -> None:
        drafts: list[Draft] = []
        for enrollment in sorted(self.view.enrollments.values(), key=lambda e: e.id):
            program = self.view.programs.get(enrollment.program_id)
            aid = agreement_id_for(enrollment.id)
            if (program is None or not program.agreement_template or aid in self.view.agreements
                    or enrollment.status is EnrollmentStatus.CANCELLED):
                continue
            if self._refused(program, enrollment):
                continue
            if enrollment.employee_id in self.view.separated:
                self.note("not drafted: the employee has left or is leaving",
                          f"{aid} ({self.employee_name(enrollment.employee_id)})")
                continue
            employee = self.view.employees.get(enrollment.employee_id)
            if employee is None:
                self.note("waiting for the employee record", f"{aid} ({enrollment.employee_id})")
                continue
            try:
                drafts.append(self._prepare(enrollment, program, employee))
            except TrainbridgeError as exc:
                self.plan.warnings.append(f"agreement for {enrollment.id} not drafted: {exc}")
        if not drafts:
            return
        try:
            prepare_font(self.font(), [d.text for d in drafts])  # one font parse for the whole batch
        except TrainbridgeError as exc:
            self.plan.warnings.append(f"{len(drafts)} agreement(s) not drafted: {exc}")
            return
        for draft in drafts:
            self._draft(draft)

    def _refused(self, program: TrainingProgram, enrollment: Enrollment) -> bool:
        allowed, why = service_period_allowed(program.category)
        if allowed and program.service_months:
            return False
        reason = why if not allowed else (f"program {program.program_id} links template "
                                          f"{program.agreement_template} but has no service_months")
        if self.decide_once(Decision(
                id=f"agreement_refused:{program.program_id}", kind="agreement_refused", subject=None,
                payload={"program_id": program.program_id, "template": program.agreement_template},
                explanation=(reason, "no agreement is drafted for its enrollments"))):
            self.plan.warnings.append(f"program {program.program_id}: {reason}; no agreement drafted")
        return True

    def _prepare(self, enrollment: Enrollment, program: TrainingProgram, employee: Employee) -> Draft:
        terms = self.cfg.programs.get(program.program_id, ProgramTerms())
        assert program.agreement_template and program.service_months
        template = self.registry().get(program.agreement_template, terms.template_version)
        session = self.view.sessions.get(enrollment.session_id) if enrollment.session_id else None
        session_end = (session.ends_at or session.starts_at).date() if session else None
        period = service_period(program.service_months, session_end=session_end,
                                enrolled_on=enrollment.enrolled_on)
        agreement = Agreement(
            id=agreement_id_for(enrollment.id), source=JOB, employee_id=employee.employee_id,
            program_id=program.program_id, session_id=enrollment.session_id, enrollment_id=enrollment.id,
            template_id=template.template_id,
            template_version=template.version, service_start=period.start,
            service_months=period.months, service_end=period.end, jurisdiction=program.jurisdiction,
            proration=terms.proration or self.cfg.proration, clause_amount=terms.clause_amount,
            currency=terms.currency)
        return Draft(agreement, enrollment, program, template, period,
                     self.text(agreement, template, enrollment), pinned=bool(terms.template_version))

    def _draft(self, draft: Draft) -> None:
        agreement, template, period = draft.agreement, draft.template, draft.period
        pdf = self.pdf(agreement, draft.text, draft.enrollment)
        agreement = agreement.model_copy(update={"document_sha256": sha256_hex(pdf)})
        self.keep_draft(agreement, pdf)
        self.put(agreement)
        pinned = "pinned in [jobs.agreements.programs]" if draft.pinned else "the latest version"
        self.decide_once(Decision(
            id=f"agreement_drafted:{agreement.id}", kind="agreement_drafted", subject=agreement.employee_id,
            payload={"agreement_id": agreement.id, "template": template.template_id,
                     "template_version": template.version, "document_sha256": agreement.document_sha256,
                     "service_start": period.start.isoformat(), "service_end": period.end.isoformat()},
            explanation=(f"program {draft.program.program_id} links template {template.template_id}; "
                         f"v{template.version} is {pinned}", *period.explanation,
                         service_period_allowed(draft.program.category)[1])))
        self.note("drafted", f"{agreement.id} ({self.employee_name(agreement.employee_id)}, "
                             f"{template.label}, {period.start} to {period.end})")
        self.send(agreement, pdf)

    def text(self, agreement: Agreement, template: AgreementTemplate, enrollment: Enrollment) -> str:
        """The agreement's text from its template; ``agreement`` as it stands before its PDF exists."""
        program = self.view.programs[agreement.program_id]
        employee = self.view.employees[agreement.employee_id]
        session = self.view.sessions.get(enrollment.session_id) if enrollment.session_id else None
        terms = self.cfg.programs.get(program.program_id, ProgramTerms())
        context = {
            "company": {"name": self.cfg.company_name},
            "employee": employee.model_dump(),
            "program": program.model_dump(),
            "session": ({**session.model_dump(), "starts_at": session.starts_at.date(),
                         "ends_at": (session.ends_at or session.starts_at).date()} if session else None),
            "agreement": {**agreement.model_dump(), "proration": agreement.proration.value},
            "training_cost": terms.training_cost,
            "currency": terms.currency,
            "template": {"id": template.template_id, "version": template.version},
        }
        return template.render(context)

    def pdf(self, agreement: Agreement, text: str, enrollment: Enrollment) -> bytes:
        program = self.view.programs[agreement.program_id]
        employee = self.view.employees[agreement.employee_id]
        return render_pdf(text, font=self.font(), title=f"{program.title} 服务期协议 {employee.name}",
                          created=enrollment.enrolled_on)

    def keep_draft(self, agreement: Agreement, pdf: bytes) -> None:
        """The runner writes the draft once the plan commits (not in a dry run)."""
        assert agreement.document_sha256
        self.plan.files.append(FileWrite(self.store.path(agreement.id, "draft", agreement.document_sha256),
                                         pdf))

    def redraw(self, agreement: Agreement) -> bytes | None:
        """A draft whose file is gone, rendered again from the ledger; None unless it is the same PDF."""
        enrollment = self.view.enrollments.get(agreement.id.removeprefix("agreement:"))
        if enrollment is None or agreement.employee_id not in self.view.employees \
                or agreement.program_id not in self.view.programs:
            self.plan.warnings.append(f"{agreement.id}: draft document missing from {self.store.root} and "
                                      "its enrollment, employee or program is no longer in the ledger; "
                                      "not sent")
            return None
        try:
            template = self.registry().get(agreement.template_id, agreement.template_version)
            as_drafted = agreement.model_copy(update={"document_sha256": None})
            pdf = self.pdf(agreement, self.text(as_drafted, template, enrollment), enrollment)
        except TrainbridgeError as exc:
            self.plan.warnings.append(f"{agreement.id}: draft document missing and not rendered again: {exc}")
            return None
        if sha256_hex(pdf) != agreement.document_sha256:
            self.plan.warnings.append(
                f"{agreement.id}: draft document missing from {self.store.root}; rendered again it differs "
                f"(SHA-256 {sha256_hex(pdf)[:16]}..., drafted {(agreement.document_sha256 or '')[:16]}...): "
                "the employee, program, session or template changed since; not sent")
            return None
        self.keep_draft(agreement, pdf)
        self.note("draft documents rendered again", agreement.id)
        return pdf

    def send(self, agreement: Agreement, pdf: bytes) -> None:
        if self.esign is None:
            self.note("not sent (no e-signature connector configured)", agreement.id)
            return
        employee = self.view.employees[agreement.employee_id]
        signer = Signer(name=employee.name, email=employee.email, role="employee")
        self.plan.writes.append(Write("send_for_signature", {"agreement": agreement, "document": pdf,
                                                             "signers": [signer]},
                                      instance=self.esign, key=send_key(agreement)))

    # --- 2. following the envelopes ---------------------------------------------------------

    def follow_drafts(self) -> None:
        """A draft whose send was delivered but not recorded (a crash) takes the envelope from the outbox;
        a draft never sent (no e-signature connector then) is sent now."""
        sends = self.outbox("send_for_signature")
        for agreement in self.agreements():
            if agreement.status is not AgreementStatus.DRAFT or agreement.id in self.updated:
                continue
            rows = sends.get(send_key(agreement), [])
            delivered = [r for r in rows if r.state in DONE and isinstance(r.result, dict)]
            if delivered:
                row = delivered[0]
                self.sent(agreement, Envelope.model_validate(row.result), row.instance)
            elif any(r.state == "dead" for r in rows):
                error = next(r.last_error for r in rows if r.state == "dead")
                self.plan.warnings.append(f"sending {agreement.id} for signature failed for good: {error}")
            elif not rows and agreement.employee_id in self.view.separated:
                self.note("not sent: the employee has left or is leaving",
                          f"{agreement.id} ({self.employee_name(agreement.employee_id)})")
            elif not rows and self.esign is not None:
                pdf = self.store.get(agreement.id, "draft", agreement.document_sha256 or "") \
                    or self.redraw(agreement)
                if pdf is not None:
                    self.send(agreement, pdf)

    def sent(self, agreement: Agreement, envelope: Envelope, instance: str) -> Agreement:
        """The envelope a send answered: recorded unless the ledger already knows it (it is newer)."""
        record = envelope if envelope.source else envelope.model_copy(update={"source": instance})
        if (instance, envelope.envelope_id) not in self.view.envelopes:
            self.view.envelopes[(instance, envelope.envelope_id)] = record
            self.plan.records.append(record)
        return self.apply_envelope(agreement, self.view.envelopes[(instance, envelope.envelope_id)], instance)

    def follow_envelopes(self) -> None:
        """Each agreement out for signature moves as its Envelope record says (never backwards)."""
        for agreement in self.agreements():
            if agreement.status is not AgreementStatus.SENT:
                continue
            envelope = self.view.envelope_of(agreement)
            if envelope is not None:
                self.apply_envelope(agreement, envelope, str(agreement.esign_instance))

    def apply_envelope(self, agreement: Agreement, envelope: Envelope, instance: str) -> Agreement:
        updated = after_envelope(agreement, envelope.envelope_id, instance, envelope.status,
                                 envelope_signed_at(envelope, self.ctx.now))
        if updated != agreement:
            self.put(updated)
        if updated.status in (AgreementStatus.DECLINED, AgreementStatus.VOIDED) \
                and agreement.status is not updated.status:
            self.decide_once(Decision(
                id=f"agreement_closed:{agreement.id}", kind="agreement_closed", subject=agreement.employee_id,
                payload={"agreement_id": agreement.id, "status": updated.status.value,
                         "envelope_id": envelope.envelope_id},
                explanation=(f"the e-signature service reports the envelope {envelope.status.value}",)))
            self.note(updated.status.value, f"{agreement.id} ({self.employee_name(agreement.employee_id)})")
        return updated
