"""Money as records carry it: a ``Decimal`` amount and an ISO 4217 currency, checked where they enter.

Amounts are never floats, never negative (a credit is a kind of record, never a sign), at most
:data:`AMOUNT_INTEGER_DIGITS` digits before the decimal point, and in whole cents when read from
a source. Rounding to cents happens once, at the end of a computation (:func:`quantize_cents`).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pydantic import BaseModel, Field, field_validator

CENT = Decimal("0.01")


def no_float(value: Any) -> Any:
    """A float as the ``Decimal`` of its shortest repr; anything else unchanged (pydantic checks it)."""
    if isinstance(value, float):
        # A float has already lost the cents; accept it only through its shortest repr.
        return Decimal(repr(value))
    return value


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


def quantize_cents(amount: Decimal) -> Decimal:
    """Round half-up to cents: done once, at the end of a computation."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


class AmountMixin(BaseModel):
    """An amount, checked where it enters (see :class:`MoneyMixin`); the currency is the model's own."""

    amount: Decimal = Field(description="Decimal amount; never a float; at most 12 digits and 2 decimals, "
                                        "not negative")

    @field_validator("amount", mode="before")
    @classmethod
    def _amount_not_float(cls, value: Any) -> Any:
        return no_float(value)

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


class MoneyMixin(AmountMixin):
    """An amount and its currency, checked where they enter.

    The amount is finite, at most :data:`AMOUNT_INTEGER_DIGITS` digits before the decimal point,
    not negative (a credit is a kind of record, never a sign), and, for amounts read from a source,
    in whole cents (``12.50`` and ``12.500`` are accepted as ``12.50``; ``12.505`` is refused, not
    rounded). A payroll adjustment is computed: its amount may be a rate (``bonus_percent``) or
    carry more decimals, which a payroll vendor's connector rounds once. The currency is an active ISO 4217
    code; an empty one is refused.
    """

    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$", description="ISO 4217 code")

    @field_validator("currency", mode="before")
    @classmethod
    def _currency_is_iso(cls, value: Any) -> str:
        return currency_code(value)
