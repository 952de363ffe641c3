"""What trainbridge writes to other systems: payroll adjustments, training results, notices.

Records like the others (re-exported from :mod:`trainbridge.core.records`); kept apart because
their rules are about the writing: an adjustment is money or a rate, a notice is sent once.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from trainbridge.core.money import AmountMixin, currency_code, quantize_cents
from trainbridge.core.record_base import Record


class AdjustmentKind(StrEnum):
    DEDUCTION = "deduction"
    #: Money given back: a deduction corrected down after it was posted (pays the excess back).
    CREDIT = "credit"
    BONUS = "bonus"
    BONUS_PERCENT = "bonus_percent"
    BONUS_COEFFICIENT = "bonus_coefficient"


class AdjustmentUnit(StrEnum):
    """What an adjustment's ``amount`` is: money (with a currency) or a rate (no currency)."""

    MONEY = "money"
    #: ``amount`` percent of a base the payroll knows (5 is +5%).
    PERCENT = "percent"
    #: ``amount`` added to a bonus coefficient (0.1 is +0.1).
    COEFFICIENT = "coefficient"


#: The kinds whose amount is a rate; every other kind is money.
RATE_UNITS = {AdjustmentKind.BONUS_PERCENT: AdjustmentUnit.PERCENT,
              AdjustmentKind.BONUS_COEFFICIENT: AdjustmentUnit.COEFFICIENT}


class PayrollAdjustment(Record, AmountMixin):
    """A change to pay. ``id`` is the idempotency key: a sink posts one id once.

    ``unit`` follows the kind: a deduction, credit or bonus is money (``amount`` in
    ``currency``); a percentage bonus or a coefficient is a rate, with no currency (a
    currency a caller gives a rate is kept for the sink but means nothing). A sink maps
    each unit to the vendor's own field and never posts a rate as money.
    """

    kind: ClassVar[str] = "payroll_adjustment"
    employee_id: str
    adjustment: AdjustmentKind
    unit: AdjustmentUnit = AdjustmentUnit.MONEY
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$",
                                 description="ISO 4217 code for money; none for a rate")
    effective_date: date
    legal_entity: str = ""
    reason: str
    explanation: tuple[str, ...] = ()
    proposal_id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _unit_of_kind(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "adjustment" not in data:
            return data
        try:
            unit = RATE_UNITS.get(AdjustmentKind(data["adjustment"]), AdjustmentUnit.MONEY)
        except ValueError:
            return data  # the field's own validation names the bad kind
        given = data.get("unit")
        if given is not None and AdjustmentUnit(given) is not unit:
            msg = f"adjustment {data['adjustment']} is in unit {unit.value}, not {given}"
            raise ValueError(msg)
        data = {**data, "unit": unit}
        if unit is AdjustmentUnit.MONEY and data.get("currency") is None:
            data["currency"] = "CNY"
        return data

    @field_validator("currency", mode="before")
    @classmethod
    def _currency_is_iso(cls, value: Any) -> str | None:
        return None if value is None else currency_code(value)

    @property
    def is_rate(self) -> bool:
        return self.unit is not AdjustmentUnit.MONEY

    def display(self) -> str:
        """``+5%``, ``+0.1`` or ``850.00 CNY``: the amount as its unit reads."""
        if self.unit is AdjustmentUnit.PERCENT:
            return f"+{self.amount.normalize():f}%"
        if self.unit is AdjustmentUnit.COEFFICIENT:
            return f"+{self.amount.normalize():f}"
        return f"{quantize_cents(self.amount)} {self.currency}"


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
