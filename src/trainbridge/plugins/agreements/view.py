"""What the ``agreements`` job reads from the ledger, and the pure rules that move an agreement.

Envelope status comes in as ``Envelope`` records (id ``<instance>:<envelope_id>``, source the
e-signature instance): the ingestion polls the vendor for sent agreements and the webhook
intake records verified status callbacks. The job never asks the vendor itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from trainbridge.core.jobs import Decision, JobContext, Plan
from trainbridge.core.records import (
    Agreement,
    AgreementStatus,
    Employee,
    EmploymentStatus,
    Enrollment,
    Envelope,
    EnvelopeStatus,
    EvidenceReceipt,
    TrainingProgram,
    TrainingSession,
)
from trainbridge.rules.agreements import next_status


def agreement_id_for(enrollment_id: str) -> str:
    return f"agreement:{enrollment_id}"


def send_key(agreement: Agreement) -> str:
    return f"sign:{agreement.id}:{(agreement.document_sha256 or '')[:16]}"


def download_key(agreement_id: str, envelope_id: str) -> str:
    return f"download:{agreement_id}:{envelope_id}"


def agreement_of_download(key: str, envelope_id: str) -> str:
    """The agreement a ``download_signed`` outbox key names (agreement ids hold colons too)."""
    return key.rsplit("#", 1)[0].removeprefix("download:").removesuffix(f":{envelope_id}")


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
    #: (e-signature instance, envelope id) -> the latest status recorded
    envelopes: dict[tuple[str, str], Envelope] = field(default_factory=dict)
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
        for r in ctx.records("envelope"):
            assert isinstance(r, Envelope)
            view.envelopes[(r.source or r.id.split(":", 1)[0], r.envelope_id)] = r
        for r in ctx.records("evidence_receipt"):
            assert isinstance(r, EvidenceReceipt)
            view.receipts.setdefault(r.agreement_id, []).append(r)
        return view

    def envelope_of(self, agreement: Agreement) -> Envelope | None:
        if not agreement.envelope_id or not agreement.esign_instance:
            return None
        return self.envelopes.get((agreement.esign_instance, agreement.envelope_id))

    def has_receipt(self, agreement: Agreement) -> bool:
        return any(r.digest == agreement.signed_document_sha256 for r in self.receipts.get(agreement.id, []))


class RunParts:
    """What the parts of a run (gate and reminders, deliveries) share: the run's state and the
    helpers :class:`~trainbridge.plugins.agreements.job.AgreementRun` implements."""

    ctx: JobContext
    view: Ledgerview
    plan: Plan

    def agreement(self, agreement_id: str) -> Agreement | None:
        raise NotImplementedError

    def agreements(self, ids: Iterable[str] | None = None) -> list[Agreement]:
        raise NotImplementedError

    def decide_once(self, decision: Decision) -> bool:
        raise NotImplementedError

    def note(self, topic: str, line: str) -> None:
        raise NotImplementedError

    def employee_name(self, employee_id: str) -> str:
        raise NotImplementedError
