"""What connectors answer that is not a record: delivery receipts, health, signed documents,
evidence checks and verified webhooks."""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


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


# Here, not beside the Envelope record, because a verified webhook event reports it too.
class EnvelopeStatus(StrEnum):
    CREATED = "created"
    SENT = "sent"
    DELIVERED = "delivered"
    SIGNED = "signed"
    COMPLETED = "completed"
    DECLINED = "declined"
    VOIDED = "voided"


class SignedDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    envelope_id: str
    content: bytes
    content_type: str = "application/pdf"
    certificate: bytes | None = Field(default=None, description="Vendor's certificate of completion")

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


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
