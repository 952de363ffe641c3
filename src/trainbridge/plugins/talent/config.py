"""The ``[jobs.talent]`` table (the reports) and the ``[jobs.certificates]`` table (the reminders job)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from trainbridge.core.config import validate_table
from trainbridge.plugins.agreements.config import RecipientConfig
from trainbridge.rules.agreements import parse_lead
from trainbridge.rules.talent import parse_horizon

#: Decision kind of a certificate expiry reminder (one per certificate and lead time).
REMINDER = "certificate_reminder"


class RoleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    competencies: tuple[str, ...] = ()
    certificates: tuple[str, ...] = ()


class DemandConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    certificate: str = Field(min_length=1, description="Certificate (or competency) code")
    role: str = Field(min_length=1)
    site: str = Field(default="", description="'' counts every site")
    required: int = Field(ge=0, description="Holders the role/site needs")


class TalentConfig(BaseModel):
    """The ``[jobs.talent]`` table: read by the profile, demand and needs reports."""

    model_config = ConfigDict(extra="forbid")
    roles: dict[str, RoleConfig] = Field(default_factory=dict, description="Role -> required competencies")
    demand: tuple[DemandConfig, ...] = ()
    horizon: str = Field(default="12m", description="Demand forecast horizon: 12m, 18m, 2y")
    class_size: int = Field(default=20, ge=1)
    expiring_days: int = Field(default=60, ge=0, description="Profiles flag certificates this close")
    low_score: Decimal = Field(default=Decimal(3), description="Review scores below this are low")
    competency_topics: dict[str, str] = Field(default_factory=dict, description="Competency -> topic")
    goals: dict[str, tuple[str, ...]] = Field(default_factory=dict, description="Career goal -> topics")
    titles: dict[str, str] = Field(default_factory=dict,
                                   description="Certificate, role, competency or goal code -> its title")

    @field_validator("goals", mode="before")
    @classmethod
    def _one_topic(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: (v,) if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("horizon")
    @classmethod
    def _horizon(cls, value: str) -> str:
        parse_horizon(value)
        return value


class CertificatesConfig(BaseModel):
    """The ``[jobs.certificates]`` table."""

    model_config = ConfigDict(extra="forbid")
    reminders: tuple[str, ...] = Field(default=("60d",), description="Lead times before expiry: 60d, 1m")
    hr: tuple[RecipientConfig, ...] = Field(default=(), description="Who gets HR's copy")

    @field_validator("reminders")
    @classmethod
    def _leads(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for text in value:
            parse_lead(text)
        return value


def talent_config(ws: Any) -> TalentConfig:
    table = ws.settings.jobs.get("talent", {})
    cfg: TalentConfig = validate_table(TalentConfig, table, file=ws.settings.file, table="jobs.talent")
    return cfg
