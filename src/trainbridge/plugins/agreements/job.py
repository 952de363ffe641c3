"""The ``agreements`` job: draft, send, follow, file evidence, gate, remind (A1-A4, A6).

Each run, from the ledger:

1. an enrollment in a program with a template gets its agreement drafted (PDF rendered,
   SHA-256 and template version kept) and sent for signature through the outbox;
2. sent agreements are polled (``signature_status``); a completed envelope makes the
   agreement signed, the signed PDF is downloaded and its digest recorded;
3. the signed digest is deposited through the outbox (``deposit_evidence``) and the
   receipt kept as an ``EvidenceReceipt`` record;
4. the gate: an enrollment whose session starts within ``gate_lead_days`` without a
   signed agreement is a decision and a notice to HR; attendance recorded while the
   agreement is unsigned is flagged on the run;
5. service-period reminders go to HR and the employee, once per agreement and lead time.

Steps 4 and 5 live in ``_agreement_gate`` (a mixin of the run).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from trainbridge.core.errors import TrainbridgeError
from trainbridge.core.jobs import Decision, Job, JobContext, Plan, Write
from trainbridge.core.ledger import OutboxRow
from trainbridge.core.records import (
    Agreement,
    AgreementStatus,
    Employee,
    EmploymentStatus,
    Enrollment,
    EnrollmentStatus,
    Envelope,
    EnvelopeStatus,
    EvidenceReceipt,
    Proration,
    Signer,
    TrainingProgram,
    TrainingSession,
)
from trainbridge.core.secrets import MASK
from trainbridge.plugins._agreement_documents import (
    AgreementTemplate,
    DocumentStore,
    TemplateRegistry,
    find_font,
    render_pdf,
    sha256_hex,
)
from trainbridge.plugins._agreement_gate import GateAndReminders, agreement_id_for
from trainbridge.rules.agreements import (
    next_status,
    parse_lead,
    service_period,
    service_period_allowed,
)

JOB = "agreements"
DECISION_KINDS = ("agreement_drafted", "agreement_refused", "agreement_signed", "agreement_closed",
                  "evidence_deposited", "agreement_gate", "attendance_unsigned", "service_period_reminder")
SHOWN = 3  # per-agreement summary lines before "and N more"


class RecipientConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = ""
    email: str | None = None
    employee_id: str | None = None


class ProgramTerms(BaseModel):
    """What HR fills in per program: the cost quoted in the agreement, a penalty clause, a pinned version."""

    model_config = ConfigDict(extra="forbid")
    training_cost: Decimal | None = None
    currency: str = "CNY"
    clause_amount: Decimal | None = None
    template_version: str | None = None
    proration: Proration | None = None


class AgreementsConfig(BaseModel):
    """The ``[jobs.agreements]`` table."""

    model_config = ConfigDict(extra="forbid")
    company_name: str = Field(default="", description="The employer, as named in agreements")
    templates_dir: str | None = Field(default=None, description="Extra templates: <id>/v<version>.j2")
    documents_dir: str = Field(default="documents", description="Where agreement PDFs are kept")
    font: str | None = Field(default=None, description="A TrueType font with Chinese glyphs")
    esign: str | None = Field(default=None, description="E-signature instance (default: the only one)")
    evidence: str | None = Field(default=None, description="Evidence instance (default: the only one)")
    proration: Proration = Proration.MONTH
    gate_lead_days: int = Field(default=7, ge=0, description="Report unsigned enrollments this close")
    enforce_from: date | None = Field(default=None, description="Flag attendance from this day on")
    reminders: tuple[str, ...] = Field(default=("1m",), description="Lead times before the end: 1m, 2w, 10d")
    hr: tuple[RecipientConfig, ...] = Field(default=(), description="Who gets HR's notices")
    programs: dict[str, ProgramTerms] = Field(default_factory=dict)

    @field_validator("reminders")
    @classmethod
    def _leads(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for text in value:
            parse_lead(text)
        return value


def send_key(agreement: Agreement) -> str:
    return f"sign:{agreement.id}:{(agreement.document_sha256 or '')[:16]}"


def evidence_key(agreement: Agreement) -> str:
    return f"evidence:{agreement.id}:{(agreement.signed_document_sha256 or '')[:16]}"


def after_envelope(agreement: Agreement, envelope_id: str, instance: str, status: EnvelopeStatus,
                   at: datetime) -> Agreement:
    """The agreement once the vendor reports ``status`` for its envelope (never backwards)."""
    new_status = next_status(agreement.status, status)
    update: dict[str, Any] = {"envelope_id": envelope_id, "esign_instance": instance, "status": new_status}
    if new_status is AgreementStatus.SIGNED and agreement.signed_at is None:
        update["signed_at"] = at
    return agreement.model_copy(update=update)


def envelope_signed_at(envelope: Envelope, default: datetime) -> datetime:
    times = [s.signed_at for s in envelope.signers if s.signed_at]
    return envelope.completed_at or (max(times) if times else default)


@dataclass
class Ledgerview:
    """What the job reads from the ledger, indexed the way it asks."""

    employees: dict[str, Employee] = field(default_factory=dict)
    programs: dict[str, TrainingProgram] = field(default_factory=dict)
    sessions: dict[str, TrainingSession] = field(default_factory=dict)
    enrollments: dict[str, Enrollment] = field(default_factory=dict)
    agreements: dict[str, Agreement] = field(default_factory=dict)
    receipts: dict[str, list[EvidenceReceipt]] = field(default_factory=dict)
    separated: set[str] = field(default_factory=set)

    @classmethod
    def read(cls, ctx: JobContext) -> Ledgerview:
        view = cls()
        for r in ctx.records("employee"):
            assert isinstance(r, Employee)
            view.employees[r.employee_id] = r
            if r.status is EmploymentStatus.TERMINATED:
                view.separated.add(r.employee_id)
        for r in ctx.records("separation"):
            view.separated.add(r.employee_id)  # type: ignore[attr-defined]
        for r in ctx.records("program"):
            assert isinstance(r, TrainingProgram)
            view.programs[r.program_id] = r
        for r in ctx.records("session"):
            assert isinstance(r, TrainingSession)
            view.sessions[r.session_id] = r
        for r in ctx.records("enrollment"):
            assert isinstance(r, Enrollment)
            view.enrollments[r.id] = r
        for r in ctx.records("agreement"):
            assert isinstance(r, Agreement)
            view.agreements[r.id] = r
        for r in ctx.records("evidence_receipt"):
            assert isinstance(r, EvidenceReceipt)
            view.receipts.setdefault(r.agreement_id, []).append(r)
        return view

    def has_receipt(self, agreement: Agreement) -> bool:
        return any(r.digest == agreement.signed_document_sha256 for r in self.receipts.get(agreement.id, []))


class AgreementsJob(Job):
    name = JOB
    description = "Draft, send and follow training agreements; evidence, the sign-first gate, reminders."
    reads: ClassVar[tuple[str, ...]] = ("fetch_employees", "fetch_training_catalog", "fetch_learning_events")
    config_model: ClassVar[type[BaseModel] | None] = AgreementsConfig
    order = 20

    def decide(self, ctx: JobContext) -> Plan:
        run = AgreementRun(ctx)
        run.draft_new()
        run.follow_drafts()
        run.poll_sent()
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


class AgreementRun(GateAndReminders):
    """One decide (or after_delivery) of the job: the ledger view, the plan being built."""

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        self.cfg: AgreementsConfig = ctx.config or AgreementsConfig()
        settings = ctx.host.settings
        self.base_dir = settings.base_dir if settings else Path.cwd()
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

    def finish(self) -> Plan:
        self.plan.records += list(self.updated.values())
        for topic, lines in self.lines.items():
            shown = lines[:SHOWN] + ([f"  ... and {len(lines) - SHOWN} more"] if len(lines) > SHOWN else [])
            self.plan.summary.append(f"{topic}: {len(lines)}")
            self.plan.summary += [f"  {line}" if not line.startswith("  ") else line for line in shown]
        return self.plan

    # --- 1. drafting ------------------------------------------------------------------

    def draft_new(self) -> None:
        for enrollment in sorted(self.view.enrollments.values(), key=lambda e: e.id):
            program = self.view.programs.get(enrollment.program_id)
            aid = agreement_id_for(enrollment.id)
            if (program is None or not program.agreement_template or aid in self.view.agreements
                    or enrollment.status is EnrollmentStatus.CANCELLED):
                continue
            if self._refused(program, enrollment):
                continue
            employee = self.view.employees.get(enrollment.employee_id)
            if employee is None:
                self.note("waiting for the employee record", f"{aid} ({enrollment.employee_id})")
                continue
            try:
                self._draft(enrollment, program, employee)
            except TrainbridgeError as exc:
                self.plan.warnings.append(f"agreement for {enrollment.id} not drafted: {exc}")

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

    def _draft(self, enrollment: Enrollment, program: TrainingProgram, employee: Employee) -> None:
        terms = self.cfg.programs.get(program.program_id, ProgramTerms())
        assert program.agreement_template and program.service_months
        template = self.registry().get(program.agreement_template, terms.template_version)
        session = self.view.sessions.get(enrollment.session_id) if enrollment.session_id else None
        session_end = (session.ends_at or session.starts_at).date() if session else None
        period = service_period(program.service_months, session_end=session_end,
                                enrolled_on=enrollment.enrolled_on)
        agreement = Agreement(
            id=agreement_id_for(enrollment.id), source=JOB, employee_id=employee.employee_id,
            program_id=program.program_id, template_id=template.template_id,
            template_version=template.version, service_start=period.start,
            service_months=period.months, service_end=period.end, jurisdiction=program.jurisdiction,
            proration=terms.proration or self.cfg.proration, clause_amount=terms.clause_amount,
            currency=terms.currency)
        pdf = self.render(agreement, template, enrollment)
        agreement = agreement.model_copy(update={"document_sha256": sha256_hex(pdf)})
        if not self.ctx.dry_run:
            self.store.put(agreement.id, "draft", pdf)
        self.put(agreement)
        pinned = "pinned in [jobs.agreements.programs]" if terms.template_version else "the latest version"
        self.decide_once(Decision(
            id=f"agreement_drafted:{agreement.id}", kind="agreement_drafted", subject=employee.employee_id,
            payload={"agreement_id": agreement.id, "template": template.template_id,
                     "template_version": template.version, "document_sha256": agreement.document_sha256,
                     "service_start": period.start.isoformat(), "service_end": period.end.isoformat()},
            explanation=(f"program {program.program_id} links template {template.template_id}; "
                         f"v{template.version} is {pinned}", *period.explanation,
                         service_period_allowed(program.category)[1])))
        self.note("drafted", f"{agreement.id} ({self.employee_name(employee.employee_id)}, "
                             f"{template.label}, {period.start} to {period.end})")
        self.send(agreement, pdf)

    def render(self, agreement: Agreement, template: AgreementTemplate, enrollment: Enrollment) -> bytes:
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
        text = template.render(context)
        return render_pdf(text, font=self.font(), title=f"{program.title} 服务期协议 {employee.name}",
                          created=enrollment.enrolled_on)

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

    def outbox(self, operation: str) -> dict[str, list[OutboxRow]]:
        rows: dict[str, list[OutboxRow]] = {}
        for row in self.ctx.ledger.outbox(self.ctx.conn, job=JOB, operation=operation):
            rows.setdefault(row.idempotency_key.rsplit("#", 1)[0], []).append(row)
        return rows

    def follow_drafts(self) -> None:
        """A draft whose send was delivered but not recorded (a crash) takes the envelope from the outbox;
        a draft never sent (no e-signature connector then) is sent now."""
        sends = self.outbox("send_for_signature")
        for agreement in self.agreements():
            if agreement.status is not AgreementStatus.DRAFT or agreement.id in self.updated:
                continue
            rows = sends.get(send_key(agreement), [])
            delivered = [r for r in rows if r.state == "delivered" and isinstance(r.result, dict)]
            if delivered:
                row = delivered[0]
                self.apply_envelope(agreement, Envelope.model_validate(row.result), row.instance)
            elif any(r.state == "dead" for r in rows):
                error = next(r.last_error for r in rows if r.state == "dead")
                self.plan.warnings.append(f"sending {agreement.id} for signature failed for good: {error}")
            elif not rows and self.esign is not None:
                pdf = self.store.get(agreement.id, "draft", agreement.document_sha256 or "")
                if pdf is None:
                    self.plan.warnings.append(f"{agreement.id}: draft document missing from "
                                              f"{self.store.root}; not sent")
                else:
                    self.send(agreement, pdf)

    def apply_envelope(self, agreement: Agreement, envelope: Envelope, instance: str) -> Agreement:
        updated = after_envelope(agreement, envelope.envelope_id, instance, envelope.status,
                                 envelope_signed_at(envelope, self.ctx.now))
        record = envelope if envelope.source else envelope.model_copy(update={"source": instance})
        self.plan.records.append(record)
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

    def poll_sent(self) -> None:
        for agreement in self.agreements():
            if agreement.status is not AgreementStatus.SENT or not agreement.envelope_id:
                continue
            envelope = self._call(agreement, "signature_status")
            if isinstance(envelope, Envelope):
                self.apply_envelope(agreement, envelope, str(agreement.esign_instance))

    def _call(self, agreement: Agreement, hook: str) -> Any:
        if self.ctx.dry_run:
            self.note(f"dry run: {hook} not called", agreement.id)
            return None
        instance = agreement.esign_instance
        if not instance or instance not in self.ctx.host.instances:
            self.plan.warnings.append(f"{agreement.id}: its envelope is at {instance!r}, which is not "
                                      "configured")
            return None
        try:
            return self.ctx.host.call(instance, hook, envelope_id=agreement.envelope_id)
        except TrainbridgeError as exc:
            self.plan.warnings.append(f"{agreement.id}: {hook} at {instance} failed: {exc}")
            return None

    def collect_signed(self, ids: Iterable[str] | None = None) -> None:
        """Download what was signed, keep it, and record its digest with who signed when and where."""
        for agreement in self.agreements(ids):
            if agreement.status is not AgreementStatus.SIGNED or agreement.signed_document_sha256 \
                    or not agreement.envelope_id:
                continue
            document = self._call(agreement, "download_signed")
            if document is None:
                continue
            path = self.store.put(agreement.id, "signed", document.content)
            signed = agreement.model_copy(update={"signed_document_sha256": document.sha256})
            self.put(signed)
            envelope = next((r for r in self.plan.records if isinstance(r, Envelope)
                             and r.envelope_id == agreement.envelope_id), None)
            if envelope is None:  # signed by a webhook: ask who signed, when and from where
                envelope = self._call(agreement, "signature_status")
                if isinstance(envelope, Envelope):
                    self.plan.records.append(envelope if envelope.source else envelope.model_copy(
                        update={"source": agreement.esign_instance}))
            signers = [s.model_dump(mode="json") for s in envelope.signers] if envelope else []
            self.decide_once(Decision(
                id=f"agreement_signed:{agreement.id}", kind="agreement_signed", subject=agreement.employee_id,
                payload={"agreement_id": agreement.id, "envelope_id": agreement.envelope_id,
                         "esign_instance": agreement.esign_instance, "signers": signers,
                         "signed_at": agreement.signed_at.isoformat() if agreement.signed_at else None,
                         "signed_document_sha256": document.sha256, "document": str(path)},
                explanation=(f"envelope {agreement.envelope_id} at {agreement.esign_instance} is completed",
                             f"signed document kept at {path}, SHA-256 {document.sha256}")))
            self.note("signed", f"{agreement.id} ({self.employee_name(agreement.employee_id)}), "
                                f"SHA-256 {document.sha256[:16]}...")

    # --- 3. evidence ----------------------------------------------------------------

    def deposit_missing(self, ids: Iterable[str] | None = None) -> None:
        deposits = self.outbox("deposit_evidence")
        waiting = []
        for agreement in self.agreements(ids):
            if agreement.status is not AgreementStatus.SIGNED or not agreement.signed_document_sha256 \
                    or self.view.has_receipt(agreement):
                continue
            if self.evidence is None:
                waiting.append(agreement.id)
                continue
            rows = deposits.get(evidence_key(agreement), [])
            if any(r.state in ("pending", "failed", "delivering") for r in rows):
                continue
            if any(self.keep_receipt(r) for r in rows if r.state == "delivered"):
                continue
            if any(r.state == "dead" for r in rows):
                error = next(r.last_error for r in rows if r.state == "dead")
                self.plan.warnings.append(f"depositing evidence for {agreement.id} failed for good: {error}")
                continue
            # A delivered deposit whose receipt was lost (killed before it was recorded) is made again.
            key = evidence_key(agreement) + (f"#{len(rows) + 1}" if rows else "")
            meta = {"agreement_id": agreement.id, "employee_id": agreement.employee_id,
                    "template": f"{agreement.template_id} v{agreement.template_version}",
                    "envelope_id": agreement.envelope_id or ""}
            self.plan.writes.append(Write("deposit_evidence", {"digest": agreement.signed_document_sha256,
                                                               "meta": meta},
                                          instance=self.evidence, key=key))
        if waiting:
            self.plan.warnings.append(f"{len(waiting)} signed agreement(s) have no evidence deposited: "
                                      "configure an evidence connector (e.g. type = \"rfc3161\")")

    def keep_receipt(self, row: OutboxRow) -> bool:
        """Record the receipt a delivered deposit answered; False when it cannot be rebuilt."""
        # An empty token is a whole receipt: some providers (e签宝 evidence) prove by receipt_id alone.
        if not isinstance(row.result, dict) or row.result.get("token") in (None, MASK):
            return False
        receipt = EvidenceReceipt.model_validate(row.result)
        if not receipt.source:
            receipt = receipt.model_copy(update={"source": row.instance})
        self.view.receipts.setdefault(receipt.agreement_id, []).append(receipt)
        self.plan.records.append(receipt)
        self.decide_once(Decision(
            id=f"evidence_deposited:{receipt.agreement_id}:{receipt.digest[:16]}", kind="evidence_deposited",
            subject=None, payload={"agreement_id": receipt.agreement_id, "receipt": receipt.id,
                                   "provider": receipt.provider, "receipt_id": receipt.receipt_id,
                                   "digest": receipt.digest,
                                   "deposited_at": receipt.deposited_at.isoformat()},
            explanation=(f"the signed document's SHA-256 {receipt.digest} was deposited with "
                         f"{receipt.provider} at {receipt.deposited_at.isoformat()}",
                         f"check it any time: trainbridge evidence verify {receipt.agreement_id}")))
        self.note("timestamped", f"{receipt.agreement_id}: {receipt.provider}, "
                                 f"{receipt.deposited_at.isoformat()}")
        return True

    def apply_delivery(self, row: OutboxRow) -> str | None:
        """Record what a sink answered; returns the agreement it concerns."""
        if row.operation == "send_for_signature" and isinstance(row.result, dict):
            envelope = Envelope.model_validate(row.result)
            agreement = self.agreement(envelope.agreement_id)
            if agreement is None:
                return None
            self.apply_envelope(agreement, envelope, row.instance)
            return agreement.id
        if row.operation == "deposit_evidence" and self.keep_receipt(row):
            return str(row.result["agreement_id"])
        return None
