"""The one vocabulary every part of trainbridge speaks.

Connectors translate vendor JSON into these records at the edge; nothing past the edge
sees vendor JSON. Money is ``Decimal`` with an explicit currency; dates are ``date``;
instants are timezone-aware. Every record has a stable ``id`` built from its source
(``instance:vendor_id``) so that re-reading a source is idempotent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

CENT = Decimal("0.01")


def make_id(instance: str, *parts: object) -> str:
    """A stable record id: ``instance:part1:part2``; the same source row gives the same id."""
    if not parts:
        msg = "make_id needs at least one vendor key part"
        raise ValueError(msg)
    return ":".join([instance, *(str(p) for p in parts)])


def digest_id(*parts: object) -> str:
    """A short stable id for derived things (decisions, notices) built from their keys."""
    raw = "\x1f".join(str(p) for p in parts)
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


def _no_float(value: Any) -> Any:
    if isinstance(value, float):
        # A float has already lost the cents; accept it only through its shortest repr.
        return Decimal(repr(value))
    return value


class Record(BaseModel):
    """Base of every record: a stable id and the connector instance it came from."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)
    kind: ClassVar[str] = "record"

    id: str = Field(min_length=1, description="Stable id built from the source: instance:vendor_id")
    source: str = Field(default="", description="Connector instance the record came from")

    def payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def content_hash(self) -> str:
        return payload_hash(self.payload())


def payload_hash(payload: dict[str, Any]) -> str:
    """The content hash of a record's payload (:meth:`Record.payload`): equal content, equal hash."""
    data = json.dumps(payload, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(data.encode()).hexdigest()


#: Active ISO 4217 currency codes an amount may be in (funds, metals and test codes left out).
ISO_4217_CODES = frozenset({
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN",
    "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF",
    "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB",
    "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG",
    "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF",
    "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA",
    "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO",
    "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD",
    "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN",
    "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX",
    "USD", "UYU", "UZS", "VED", "VES", "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER",
    "ZAR", "ZMW", "ZWG",
})
#: An amount has at most this many digits before the decimal point: 999,999,999,999.99 is the
#: ceiling. Larger figures are typos (a pasted account number, an exponent) and would overflow
#: the arithmetic every refund and report does.
AMOUNT_INTEGER_DIGITS = 12
AMOUNT_CEILING = Decimal(10) ** AMOUNT_INTEGER_DIGITS
NEGATIVE_AMOUNT_HINTS = {
    "cost_item": ("cost items have no credit flag: to lower a cost (a discount, a vendor refund), "
                  "send the original item again (same item id) with the net amount"),
    "payroll_adjustment": "money given back is adjustment = credit with a positive amount",
}


def currency_code(value: Any) -> str:
    """An active ISO 4217 code (trimmed, upper case), or ValueError saying what is wrong."""
    if not isinstance(value, str):
        msg = f"{value!r} is not a currency code: write the ISO 4217 code as text, e.g. CNY"
        raise ValueError(msg)
    code = value.strip().upper()
    if not code:
        msg = "empty: every amount needs its ISO 4217 currency code, e.g. CNY (never assumed)"
        raise ValueError(msg)
    if code not in ISO_4217_CODES:
        msg = f"{value!r} is not an active ISO 4217 currency code (e.g. CNY, USD, EUR, HKD)"
        raise ValueError(msg)
    return code


def whole_cents(amount: Decimal) -> Decimal:
    """``amount`` with at most two decimals (trailing zeros dropped), or ValueError: never rounded."""
    if amount.as_tuple().exponent >= -2:  # type: ignore[operator]
        return amount
    cents = amount.quantize(CENT)
    if cents != amount:
        msg = (f"{amount} has more than 2 decimal places: amounts are in whole cents; round it at "
               "the source (trainbridge does not guess how)")
        raise ValueError(msg)
    return cents


class MoneyMixin(BaseModel):
    """An amount and its currency, checked where they enter.

    The amount is finite, at most :data:`AMOUNT_INTEGER_DIGITS` digits before the decimal point,
    not negative (a credit is a kind of record, never a sign), and, for amounts read from a source,
    in whole cents (``12.50`` and ``12.500`` are accepted as ``12.50``; ``12.505`` is refused, not
    rounded). A payroll adjustment is computed: its amount may be a rate (``bonus_percent``) or
    carry more decimals, which a payroll vendor's connector rounds once. The currency is an active ISO 4217
    code; an empty one is refused.
    """

    amount: Decimal = Field(description="Decimal amount; never a float; at most 12 digits and 2 decimals, "
                                        "not negative")
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$", description="ISO 4217 code")

    @field_validator("amount", mode="before")
    @classmethod
    def _amount_not_float(cls, value: Any) -> Any:
        return _no_float(value)

    @field_validator("amount")
    @classmethod
    def _amount_in_bounds(cls, value: Decimal) -> Decimal:
        if not value.is_finite():
            msg = f"{value} is not a finite number"
            raise ValueError(msg)
        if abs(value) >= AMOUNT_CEILING:
            msg = (f"{value} has more than {AMOUNT_INTEGER_DIGITS} digits before the decimal point "
                   "(the ceiling is 999999999999.99): check the figure for a typo")
            raise ValueError(msg)
        if value < 0:
            kind = getattr(cls, "kind", "")
            hint = NEGATIVE_AMOUNT_HINTS.get(kind, "amounts are never negative")
            msg = f"{value} is negative: {hint}"
            raise ValueError(msg)
        if value.is_zero():
            value = abs(value)
        # An adjustment is computed, not read: a rate may have more decimals, and a payroll vendor's
        # connector rounds money half-up to cents once.
        return value if "adjustment" in cls.model_fields else whole_cents(value)

    @field_validator("currency", mode="before")
    @classmethod
    def _currency_is_iso(cls, value: Any) -> str:
        return currency_code(value)


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
        return _no_float(value)


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
    kind: ClassVar[str] = "agreement"
    employee_id: str
    program_id: str
    template_id: str
    template_version: str
    service_start: date
    service_months: int = Field(ge=1, le=240)
    service_end: date
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


class EnvelopeStatus(StrEnum):
    CREATED = "created"
    SENT = "sent"
    DELIVERED = "delivered"
    SIGNED = "signed"
    COMPLETED = "completed"
    DECLINED = "declined"
    VOIDED = "voided"


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


class SignedDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    envelope_id: str
    content: bytes
    content_type: str = "application/pdf"
    certificate: bytes | None = Field(default=None, description="Vendor's certificate of completion")

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


class EvidenceReceipt(Record):
    kind: ClassVar[str] = "evidence_receipt"
    agreement_id: str
    digest: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 hex of the signed document")
    algorithm: str = "sha256"
    provider: str
    receipt_id: str
    token: str = Field(default="", description="Provider's proof, base64 (e.g. an RFC 3161 token)")
    deposited_at: AwareDatetime


class EvidenceCheck(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    valid: bool
    reason: str
    checked_at: AwareDatetime | None = None


class WebhookEvent(BaseModel):
    """A verified vendor callback, translated."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    event_id: str
    event_type: str
    envelope_id: str | None = None
    status: EnvelopeStatus | None = None
    occurred_at: AwareDatetime | None = None
    records: tuple[Any, ...] = Field(default=(), description="Records the event carries, if any")
    delivery_ref: str | None = Field(default=None, description=(
        "A sink's ref (DeliveryReceipt.ref) this event reports on, e.g. a payroll that was paid"))
    delivery_status: Literal["confirmed", "failed"] | None = Field(default=None, description=(
        "What became of that delivery at the vendor: confirmed (paid, processed) or failed"))
    detail: str = ""


class WebhookReply(BaseModel):
    """What the vendor must be answered, byte for byte."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    status_code: int = 200
    body: str = ""
    content_type: str = "text/plain"


class WebhookResult(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    events: tuple[WebhookEvent, ...] = ()
    reply: WebhookReply = WebhookReply()


# --- performance, points, payroll, notices -----------------------------------------


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
        return _no_float(value)


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


class AdjustmentKind(StrEnum):
    DEDUCTION = "deduction"
    #: Money given back: a deduction corrected down after it was posted (pays the excess back).
    CREDIT = "credit"
    BONUS = "bonus"
    BONUS_PERCENT = "bonus_percent"
    BONUS_COEFFICIENT = "bonus_coefficient"


class PayrollAdjustment(Record, MoneyMixin):
    """A change to pay. ``id`` is the idempotency key: a sink posts one id once."""

    kind: ClassVar[str] = "payroll_adjustment"
    employee_id: str
    adjustment: AdjustmentKind
    effective_date: date
    legal_entity: str = ""
    reason: str
    explanation: tuple[str, ...] = ()
    proposal_id: str | None = None


class TrainingResult(Record):
    """Pushed to the performance system: one employee's result for one program or period."""

    kind: ClassVar[str] = "training_result"
    employee_id: str
    program_id: str | None = None
    period: str | None = None
    completed: bool | None = None
    certificate: str | None = None
    points: int | None = None
    review_weight: Decimal | None = None
    flags: tuple[str, ...] = ()


class Recipient(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = ""
    employee_id: str | None = None
    email: str | None = None
    role: str = Field(default="employee", description="employee, hr, manager")


class Notice(Record):
    """A message to people. ``id`` makes it once-only: the same id is never sent twice."""

    kind: ClassVar[str] = "notice"
    notice: str = Field(description="What kind of notice, e.g. service_period_ending")
    recipients: tuple[Recipient, ...]
    subject: str
    body: str
    language: str = "zh"
    related_id: str | None = None


class DeliveryReceipt(BaseModel):
    """What a sink answers for a delivered write."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    ref: str = Field(description="The sink's own id for what was written")
    status: str = "delivered"
    detail: str = ""


class HealthResult(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    ok: bool
    detail: str = ""


# --- pages and rejects --------------------------------------------------------------


class Reject(BaseModel):
    """A payload that could not become a record: it goes to quarantine with the reason."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    model: str = Field(description="Record kind it was meant to become")
    reason: str
    data: dict[str, Any] = Field(default_factory=dict, description="The record-shaped data tried")
    raw: Any = Field(default=None, description="The vendor payload as received")
    key: str | None = Field(default=None, description="Vendor key, when known")


class Page(BaseModel):
    """One batch from a source, with the cursor that resumes after it.

    The runner commits ``records``, ``rejects`` and ``cursor`` in one transaction, so
    a cursor is never saved ahead of the records it covers.
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    records: list[Record] = Field(default_factory=list)
    rejects: list[Reject] = Field(default_factory=list)
    cursor: str | None = None

    def add(self, model: type[Record], data: dict[str, Any], raw: Any = None) -> Record | None:
        """Validate ``data`` as ``model``; keep the record, or a reject with the reason."""
        try:
            record = model.model_validate(data)
        except ValidationError as exc:
            self.rejects.append(
                Reject(model=model.kind, reason=validation_reason(exc), data=_jsonable(data),
                       raw=_jsonable(raw), key=str(data.get("id", "")) or None)
            )
            return None
        self.records.append(record)
        return record


def validation_reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(record)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str)) if value is not None else None


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


def paged(records: Iterable[Record], cursor: str | None = None, size: int = 500) -> Iterator[Page]:
    """Chunk already-made records into pages; the last page carries ``cursor``."""
    batch: list[Record] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield Page(records=batch)
            batch = []
    yield Page(records=batch, cursor=cursor)


def quantize_cents(amount: Decimal) -> Decimal:
    """Round half-up to cents: done once, at the end of a computation."""
    from decimal import ROUND_HALF_UP

    return amount.quantize(CENT, rounding=ROUND_HALF_UP)
