"""The ``[jobs.agreements]`` table: the employer, templates, documents, connectors, terms per program."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from trainbridge.core.records import Proration
from trainbridge.rules.agreements import parse_lead

JOB = "agreements"


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
