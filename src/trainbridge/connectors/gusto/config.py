"""The ``[connectors.NAME]`` table of a Gusto instance."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from trainbridge.core.connector import ConnectorConfig
from trainbridge.core.http import HttpSettings
from trainbridge.sdk.webhooks import max_age_field

DEMO_BASE_URL = "https://api.gusto-demo.com"
PRODUCTION_BASE_URL = "https://api.gusto.com"
#: The newest version of Gusto's date-versioned API (docs.gusto.com "latest docs for v2026-06-15").
API_VERSION = "2026-06-15"


class GustoOAuth(BaseModel):
    """Refresh the company access token with the rotating refresh token kept in a file."""

    model_config = ConfigDict(extra="forbid")
    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    refresh_token_file: str = Field(
        min_length=1, description="Holds the current refresh token; rewritten after each refresh")
    redirect_uri: str | None = None


class GustoConfig(ConnectorConfig):
    base_url: str = Field(default=DEMO_BASE_URL, pattern=r"^https?://",
                          description=f"{DEMO_BASE_URL} (demo) or {PRODUCTION_BASE_URL}")
    api_version: str = Field(default=API_VERSION, pattern=r"^\d{4}-\d{2}-\d{2}$",
                             description="Sent as X-Gusto-API-Version")
    company_id: str = Field(min_length=1, description="The company's UUID in Gusto")
    access_token: SecretStr | None = Field(default=None, description="Company access token")
    oauth: GustoOAuth | None = None
    employees: dict[str, str] = Field(default_factory=dict,
                                      description="our employee_id -> Gusto employee uuid")
    match_by: Literal["table", "employee_code", "work_email", "custom_field"] = Field(
        default="table", description="How employees missing from the table are found in Gusto")
    custom_field: str | None = Field(default=None, description="Custom field holding our employee_id")
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    deduction_label: str = Field(default="Training cost refund", min_length=1, max_length=80)
    deduction_installment: Decimal | None = Field(
        default=None, gt=0, description="Deduct at most this much per paycheck until the refund is paid")
    bonus_memo: str = Field(default="Training bonus", min_length=1, max_length=80)
    credit_memo: str = Field(default="Training cost refund returned", min_length=1, max_length=80,
                             description="Paystub memo of money given back (a refund deducted in excess)")
    bonus_percent_of: Literal["annual_salary", "reject"] = "annual_salary"
    check_date_lead_days: int = Field(default=4, ge=0,
                                      description="Leave check_date to Gusto when closer than this")
    fixed_withholding_rate: bool | None = None
    lookup_window_days: int = Field(default=3, ge=1, le=30)
    webhook_verification_token: SecretStr | None = None
    # Gusto retries a failed delivery for about a day with the original timestamp: a wide window.
    webhook_max_age_seconds: int | None = max_age_field(172800, ge=60)
    http: HttpSettings = Field(default_factory=HttpSettings)

    @model_validator(mode="after")
    def _consistent(self) -> GustoConfig:
        if self.access_token is None and self.oauth is None:
            msg = "set access_token (a company access token) or an oauth table to refresh one"
            raise ValueError(msg)
        if self.match_by == "custom_field" and not self.custom_field:
            msg = "match_by = 'custom_field' needs custom_field = '<field name>'"
            raise ValueError(msg)
        return self
