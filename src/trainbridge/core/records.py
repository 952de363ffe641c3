"""The one vocabulary every part of trainbridge speaks.

Connectors translate vendor JSON into these records at the edge; nothing past the edge
sees vendor JSON. Money is ``Decimal`` with an explicit currency; dates are ``date``;
instants are timezone-aware. Every record has a stable ``id`` built from its source
(``instance:vendor_id``) so that re-reading a source is idempotent.

The record kinds are here; what every record shares and the pages that carry them are in
:mod:`~trainbridge.core.record_base`, the money checks in :mod:`~trainbridge.core.money`, what
connectors answer besides records in :mod:`~trainbridge.core.answers`, the records trainbridge
writes (adjustments, results, notices) in :mod:`~trainbridge.core.writes`. Import all of them from
here.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from trainbridge.core.answers import (
    DeliveryReceipt,
    EnvelopeStatus,
    EvidenceCheck,
    HealthResult,
    SignedDocument,
    WebhookEvent,
    WebhookReply,
    WebhookResult,
)
from trainbridge.core.money import (
    AMOUNT_CEILING,
    AMOUNT_INTEGER_DIGITS,
    CENT,
    ISO_4217_CODES,
    NEGATIVE_AMOUNT_HINTS,
    AmountMixin,
    MoneyMixin,
    currency_code,
    no_float,
    quantize_cents,
    whole_cents,
)
from trainbridge.core.record_base import (
    Page,
    Record,
    Reject,
    digest_id,
    make_id,
    paged,
    payload_hash,
    validation_reason,
)
from trainbridge.core.writes import (
    RATE_UNITS,
    AdjustmentKind,
    AdjustmentUnit,
    Notice,
    PayrollAdjustment,
    Recipient,
    TrainingResult,
)

# --- people -------------------------------------------------------------------------


class EmploymentStatus(StrEnum):
    ACTIVE = "active"
    TERMINATED = "terminated"


class JobChange(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    effective_date: date
    job_title: str = ""
    department: str = ""
    change: str = Field(default="change", description="hire, promotion, transfer, change")


class Employee(Record):
    kind: ClassVar[str] = "employee"
    employee_id: str = Field(min_length=1)
    name: str
    email: str | None = None
    department: str = ""
    job_title: str = ""
    role: str = Field(default="", description="Role key used by competency matrices")
    manager_id: str | None = None
    legal_entity: str = ""
    site: str = ""
    hire_date: date | None = None
    probation_end: date | None = None
    status: EmploymentStatus = EmploymentStatus.ACTIVE
    language: str = "zh"
    is_manager: bool = False
    career_goals: tuple[str, ...] = ()
    job_history: tuple[JobChange, ...] = ()


class SeparationReason(StrEnum):
    """Why the employment ended; the refund policy keys its rules on this."""

    RESIGNATION = "resignation"
    DISMISSAL_FOR_CAUSE = "dismissal_for_cause"
    EMPLOYER_FAULT = "employer_fault"
    NO_FAULT_DISMISSAL = "no_fault_dismissal"
    CONTRACT_END = "contract_end"
    RETIREMENT = "retirement"
    DEATH = "death"
    MUTUAL_AGREEMENT = "mutual_agreement"


class Separation(Record):
    kind: ClassVar[str] = "separation"
    employee_id: str = Field(min_length=1)
    last_day: date = Field(description="Last day worked, inclusive")
    reason: SeparationReason
    waived: bool = Field(default=False, description="Refund waived in a mutual agreement")
    note: str = ""
    vendor_reason: str = Field(default="", description="The vendor's own reason code or text")
    refused_extension: bool = Field(
        default=False, description="contract_end only: the employee refused to extend the contract to the "
                                   "end of a service period (Implementing Regulations art. 17): resigns")
    deduction_consent: bool = Field(
        default=False, description="The separation agreement records the employee's written consent that a "
                                   "training cost refund may be deducted from the final pay")
    final_pay: Decimal | None = Field(
        default=None, ge=0, description="The final month's wage before any refund deduction, in the refund's "
                                        "currency: a deduction takes at most 20% of it and leaves at least "
                                        "the local minimum wage (wage payment rules art. 16)")

    @field_validator("final_pay", mode="before")
    @classmethod
    def _final_pay_not_float(cls, value: Any) -> Any:
        return no_float(value)


# --- training -----------------------------------------------------------------------


class Delivery(StrEnum):
    OFFLINE = "offline"
    ONLINE = "online"


class TrainingProgram(Record):
    kind: ClassVar[str] = "program"
    program_id: str = Field(min_length=1)
    title: str
    delivery: Delivery = Delivery.OFFLINE
    agreement_template: str | None = Field(default=None, description="Template id; None: no agreement")
    service_months: int | None = Field(default=None, ge=1, le=240)
    jurisdiction: str = "prc"
    competencies: tuple[str, ...] = ()
    certificate: str | None = None
    category: str = Field(default="professional", description="professional, induction, safety, ...")


class TrainingSession(Record):
    kind: ClassVar[str] = "session"
    session_id: str = Field(min_length=1)
    program_id: str
    starts_at: AwareDatetime
    ends_at: AwareDatetime | None = None
    location: str = ""
    instructor_id: str | None = None
    audience: str = Field(default="", description="e.g. frontline, managers")


class EnrollmentStatus(StrEnum):
    ENROLLED = "enrolled"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Enrollment(Record):
    kind: ClassVar[str] = "enrollment"
    employee_id: str
    program_id: str
    session_id: str | None = None
    enrolled_on: date
    status: EnrollmentStatus = EnrollmentStatus.ENROLLED


class LearningEventKind(StrEnum):
    ATTENDED = "attended"
    COMPLETED = "completed"
    UNCOMPLETED = "uncompleted"
    PASSED = "passed"
    FAILED = "failed"
    ACTION_PLAN_SUBMITTED = "action_plan_submitted"
    ACTION_PLAN_SCORED = "action_plan_scored"
    ACTION_PLAN_ADOPTED = "action_plan_adopted"
    TAUGHT = "taught"
    ARTICLE = "article"
    CERTIFICATE_OBTAINED = "certificate_obtained"
    VOIDED = "voided"


class LearningEvent(Record):
    kind: ClassVar[str] = "learning_event"
    employee_id: str
    event: LearningEventKind
    occurred_at: AwareDatetime
    program_id: str | None = None
    session_id: str | None = None
    object_id: str | None = Field(default=None, description="Course, plan or article the event is about")
    checked_in_at: AwareDatetime | None = None
    score: Decimal | None = None
    audience: str = ""
    voids: str | None = Field(default=None, description="For VOIDED: the id of the voided event")

    @field_validator("score", mode="before")
    @classmethod
    def _score_not_float(cls, value: Any) -> Any:
        return no_float(value)


class Certificate(Record):
    kind: ClassVar[str] = "certificate"
    employee_id: str
    certificate: str = Field(min_length=1, description="Certificate or competency code")
    issued_on: date
    expires_on: date | None = None


# --- money --------------------------------------------------------------------------


class CostCategory(StrEnum):
    COURSE_FEE = "course_fee"
    TRAVEL = "travel"
    ACCOMMODATION = "accommodation"
    INSTRUCTOR = "instructor"
    MATERIALS = "materials"
    EXAM = "exam"
    WAGES = "wages"
    OTHER = "other"


class CostAllocation(StrEnum):
    EMPLOYEE = "employee"
    PER_HEAD = "per_head"
    SHARED = "shared"


class CostItem(Record, MoneyMixin):
    """One cost as finance knows it, before allocation to employees.

    ``employee``: the whole amount is that employee's; ``per_head``: the amount is
    charged to each attendee of the session (or enrollee of the program); ``shared``:
    the amount is split among the attendees of the session (or of ``incurred_on``).
    """

    kind: ClassVar[str] = "cost_item"
    category: CostCategory
    allocation: CostAllocation = CostAllocation.EMPLOYEE
    employee_id: str | None = None
    program_id: str | None = None
    session_id: str | None = None
    incurred_on: date
    voucher_ref: str | None = Field(default=None, description="Invoice/voucher number (有凭证)")
    description: str = ""


# --- agreements and evidence --------------------------------------------------------


class Proration(StrEnum):
    MONTH = "month"
    DAY = "day"


class AgreementStatus(StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    SIGNED = "signed"
    DECLINED = "declined"
    VOIDED = "voided"


class Agreement(Record):
    """A training agreement with a service period, one per enrollment (a retake is a new agreement).

    ``session_id``/``enrollment_id`` name the training it binds: its refundable base is the
    cost of that session only, never of the program's other sessions.
    """

    kind: ClassVar[str] = "agreement"
    employee_id: str
    program_id: str
    session_id: str | None = Field(default=None, description="The session the agreement binds (its base)")
    enrollment_id: str | None = Field(default=None, description="The enrollment the agreement was made for")
    template_id: str
    template_version: str
    service_start: date
    service_months: int = Field(ge=1, le=240)
    service_end: date = Field(description="The day after the service period (exclusive). A file or "
                                          "e-signature import reads the inclusive last day and adds one")
    jurisdiction: str = "prc"
    proration: Proration = Proration.MONTH
    clause_amount: Decimal | None = Field(default=None, description="Penalty named in the clause")
    currency: str = "CNY"
    status: AgreementStatus = AgreementStatus.DRAFT
    document_sha256: str | None = None
    signed_document_sha256: str | None = None
    envelope_id: str | None = None
    esign_instance: str | None = None
    signed_at: AwareDatetime | None = None
    deduction_consent: bool = Field(
        default=False, description="The employee agreed in writing (a clause of this agreement) that a "
                                   "refund may be deducted from pay")

    @field_validator("clause_amount", mode="before")
    @classmethod
    def _clause_not_float(cls, value: Any) -> Any:
        return no_float(value)

    @field_validator("currency", mode="before")
    @classmethod
    def _currency_is_iso(cls, value: Any) -> str:
        return currency_code(value)  # "cny" is CNY, as on every amount; an unknown code is refused


class Signer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    email: str | None = None
    role: str = "employee"
    signed_at: AwareDatetime | None = None
    ip_address: str | None = None


class Envelope(Record):
    """An e-signature vendor's envelope / sign flow / signature request."""

    kind: ClassVar[str] = "envelope"
    envelope_id: str
    agreement_id: str
    status: EnvelopeStatus
    signers: tuple[Signer, ...] = ()
    completed_at: AwareDatetime | None = None


class EvidenceReceipt(Record):
    kind: ClassVar[str] = "evidence_receipt"
    agreement_id: str
    digest: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 hex of the signed document")
    algorithm: str = "sha256"
    provider: str
    receipt_id: str
    token: str = Field(default="", description="Provider's proof, base64 (e.g. an RFC 3161 token)")
    deposited_at: AwareDatetime


# --- performance and points ---------------------------------------------------------


class MetricDirection(StrEnum):
    HIGHER_IS_BETTER = "higher_is_better"
    LOWER_IS_BETTER = "lower_is_better"


class MetricValue(Record):
    kind: ClassVar[str] = "metric"
    employee_id: str
    metric: str = Field(min_length=1, description="e.g. error_rate, sales, competency:negotiation")
    value: Decimal
    as_of: date
    unit: str = ""
    direction: MetricDirection = MetricDirection.HIGHER_IS_BETTER

    @field_validator("value", mode="before")
    @classmethod
    def _value_not_float(cls, value: Any) -> Any:
        return no_float(value)


class PointsCategory(StrEnum):
    PARTICIPATION = "participation"
    OUTPUT = "output"
    SHARING = "sharing"


class PointsEntry(Record):
    kind: ClassVar[str] = "points_entry"
    employee_id: str
    points: int
    category: PointsCategory
    rule: str
    rule_version: str
    event_id: str
    earned_on: date
    reason: str = ""


RECORD_TYPES: dict[str, type[Record]] = {
    cls.kind: cls
    for cls in (
        Employee, Separation, TrainingProgram, TrainingSession, Enrollment, LearningEvent,
        Certificate, CostItem, Agreement, Envelope, EvidenceReceipt, MetricValue, PointsEntry,
        PayrollAdjustment, TrainingResult, Notice,
    )
}
SCHEMA_TYPES: dict[str, type[BaseModel]] = {
    **RECORD_TYPES,
    "signed_document": SignedDocument,
    "evidence_check": EvidenceCheck,
    "webhook_event": WebhookEvent,
    "webhook_result": WebhookResult,
    "delivery_receipt": DeliveryReceipt,
    "health_result": HealthResult,
    "page": Page,
    "reject": Reject,
}


def record_from_payload(kind: str, payload: dict[str, Any]) -> Record:
    try:
        model = RECORD_TYPES[kind]
    except KeyError:
        msg = f"unknown record kind {kind!r}; known: {', '.join(sorted(RECORD_TYPES))}"
        raise KeyError(msg) from None
    return model.model_validate(payload)


__all__ = [
    "AMOUNT_CEILING", "AMOUNT_INTEGER_DIGITS", "CENT", "ISO_4217_CODES", "NEGATIVE_AMOUNT_HINTS",
    "RATE_UNITS", "RECORD_TYPES", "SCHEMA_TYPES", "AdjustmentKind", "AdjustmentUnit", "Agreement",
    "AgreementStatus", "AmountMixin", "Certificate", "CostAllocation", "CostCategory", "CostItem",
    "Delivery", "DeliveryReceipt", "Employee", "EmploymentStatus", "Enrollment", "EnrollmentStatus",
    "Envelope", "EnvelopeStatus", "EvidenceCheck", "EvidenceReceipt", "HealthResult", "JobChange",
    "LearningEvent", "LearningEventKind", "MetricDirection", "MetricValue", "MoneyMixin", "Notice",
    "Page", "PayrollAdjustment", "PointsCategory", "PointsEntry", "Proration", "Recipient", "Record",
    "Reject", "Separation", "SeparationReason", "SignedDocument", "Signer", "TrainingProgram",
    "TrainingResult", "TrainingSession", "WebhookEvent", "WebhookReply", "WebhookResult",
    "currency_code", "digest_id", "make_id", "paged", "payload_hash", "quantize_cents",
    "record_from_payload", "validation_reason", "whole_cents",
]
