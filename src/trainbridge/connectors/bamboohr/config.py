"""The ``[connectors.NAME]`` table of a BambooHR instance."""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from trainbridge.connectors.bamboohr.shapes import parse_instant
from trainbridge.core.connector import ConnectorConfig
from trainbridge.core.http import HttpSettings
from trainbridge.core.records import SeparationReason, TrainingResult

DEFAULT_BASE_URL = "https://api.bamboohr.com/api/gateway.php/{company_domain}/v1"
#: BambooHR started recording lastChanged on 2011-06-05: a full read asks for "since the start".
EPOCH = "1970-01-01T00:00:00Z"
ByReason = Literal["by_reason"]
BY_REASON: ByReason = "by_reason"
Source = Literal["employees", "separations", "learning_events", "cost_items"]
SOURCES: tuple[Source, ...] = ("employees", "separations", "learning_events", "cost_items")
DEFAULT_TERMINATION_TYPES: dict[str, SeparationReason | ByReason] = {
    "Resignation (Voluntary)": SeparationReason.RESIGNATION,
    "Retirement": SeparationReason.RETIREMENT,
    "Death": SeparationReason.DEATH,
    # Involuntary covers dismissal for cause and without fault: the reason decides.
    "Termination (Involuntary)": BY_REASON,
}


class ResultsTable(BaseModel):
    """Where ``push_training_result`` writes: one row per result in an employee table."""

    model_config = ConfigDict(extra="forbid")
    table: str = Field(min_length=1, description="Table alias, e.g. customTrainingResults")
    id_field: str = Field(min_length=1, description="Column that holds our result id")
    date_field: str | None = Field(default=None, description="Column for the date written")
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="TrainingResult field -> column: program_id, period, completed, "
                    "certificate, points, review_weight, flags")

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - set(TrainingResult.model_fields)
        if unknown:
            msg = f"unknown TrainingResult field(s): {', '.join(sorted(unknown))}"
            raise ValueError(msg)
        return value


class BambooHRConfig(ConnectorConfig):
    company_domain: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]*$",
                                description="The name in https://NAME.bamboohr.com")
    api_key: SecretStr
    base_url: str = DEFAULT_BASE_URL
    sources: tuple[Source, ...] = SOURCES
    employees_from: Literal["auto", "report", "directory"] = Field(
        default="auto",
        description="Employee fields from the custom report (deprecated by BambooHR), the "
                    "employee directory, or auto: the report, the directory after a 404 or 403")
    employee_key: Literal["id", "employeeNumber"] = Field(
        default="id", description="Which BambooHR field is our employee_id")
    legal_entity_field: str = "division"
    site_field: str = "location"
    terminated_statuses: tuple[str, ...] = ("Terminated",)
    initial_since: str = EPOCH
    page_size: int = Field(default=500, ge=1, le=1000)
    job_history: bool = False
    termination_types: dict[str, SeparationReason | ByReason] = Field(
        default_factory=lambda: dict(DEFAULT_TERMINATION_TYPES))
    termination_reasons: dict[str, SeparationReason] = Field(default_factory=dict)
    training_scan: Literal["all", "changed"] = "all"
    training_concurrency: int = Field(
        default=4, ge=1, le=16,
        description="Training-record requests in flight at once (BambooHR has one per employee)")
    timezone: str = "UTC"
    programs: dict[str, str] = Field(default_factory=dict,
                                     description="training type id or name -> program id")
    certificates: dict[str, str] = Field(default_factory=dict,
                                         description="training type id or name -> certificate")
    default_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    results: ResultsTable | None = None
    http: HttpSettings = Field(default_factory=HttpSettings)

    @field_validator("initial_since")
    @classmethod
    def _timestamp(cls, value: str) -> str:
        parse_instant(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            msg = f"unknown time zone {value!r}"
            raise ValueError(msg) from exc
        return value
