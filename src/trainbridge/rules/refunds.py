"""What a leaver owes for training under a service-period agreement: the PRC policy.

Pure functions: no I/O, no clock (the last day is an argument). Arithmetic is exact
(``Decimal`` amounts, ``Fraction`` ratios) and each agreement's amount is rounded
half-up to cents once, at the end of its computation; the total is the sum of the
rounded lines, so the lines add up to the deduction. Every line carries the rule and
the article behind it, and the quote's explanation can be read by an auditor.

The law (see ``docs/refunds.md``):

* LCL art. 22: a service period may be agreed only for special professional/technical
  training the employer paid for; the penalty may not exceed the part of the training
  cost allocable to the unserved part of the period. Pro rata is therefore a cap.
* LCL art. 25: no other penalty; induction and safety training carry no service period.
* Implementing Regulations art. 16: the cost is documented training fees, travel during
  training and other direct costs; not wages (the base is built in ``rules.costs``).
* Implementing Regulations art. 26: no penalty when the employee leaves for the
  employer's fault (LCL art. 38); the penalty is owed on a dismissal for cause.
* LCL arts. 40-41 (dismissal without fault) and 44 (lawful end, retirement, death):
  the employer has no claim.
* Ministry of Labour reply 劳办发〔1995〕264号 item 3: nothing is owed for leaving
  during probation.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Protocol

from trainbridge.core.explanations import ExplanationItem
from trainbridge.core.records import CENT, Proration, SeparationReason

if TYPE_CHECKING:
    from trainbridge.rules.refunds_us import CredentialTerms

ZERO = Decimal("0.00")
NO_SERVICE_PERIOD_CATEGORIES = frozenset({"induction", "safety"})


@dataclass(frozen=True)
class ReasonRule:
    owes: bool
    rule: str
    article: str
    #: A stable id for the rule, for structured explanations (``ExplanationItem.rule``).
    key: str = ""


REASON_RULES: dict[SeparationReason, ReasonRule] = {
    SeparationReason.RESIGNATION: ReasonRule(
        True, "the employee resigned before the service period ended and owes the unserved part",
        "LCL arts. 22, 37"),
    SeparationReason.DISMISSAL_FOR_CAUSE: ReasonRule(
        True, "dismissed for the employee's fault: the penalty is owed",
        "LCL arts. 22, 39; Implementing Regulations art. 26 para. 2"),
    SeparationReason.EMPLOYER_FAULT: ReasonRule(
        False, "the employee left because of the employer's fault: no breach of the service period",
        "LCL art. 38; Implementing Regulations art. 26 para. 1"),
    SeparationReason.NO_FAULT_DISMISSAL: ReasonRule(
        False, "dismissed without the employee's fault: the employer has no claim", "LCL arts. 40, 41"),
    SeparationReason.CONTRACT_END: ReasonRule(
        False, "the contract ended lawfully: the employer has no claim",
        "LCL art. 44; Implementing Regulations art. 17"),
    SeparationReason.RETIREMENT: ReasonRule(
        False, "retirement ends the contract lawfully: the employer has no claim", "LCL art. 44 item 2"),
    SeparationReason.DEATH: ReasonRule(
        False, "death ends the contract: the employer has no claim", "LCL art. 44 item 3"),
    SeparationReason.MUTUAL_AGREEMENT: ReasonRule(
        True, "left by mutual agreement without waiving the refund: the unserved part is owed",
        "LCL arts. 22, 36"),
}
REFUSED_EXTENSION = ReasonRule(
    True, "the contract reached its end inside the service period and the employee refused its extension "
          "to the period's end: that is resigning, and the unserved part is owed",
    "Implementing Regulations art. 17; LCL arts. 22, 37", key="refused_extension")
NOT_EXTENDED = ReasonRule(
    False, "the contract ended inside the service period; the law extends it to the period's end, so "
           "ending it anyway was the employer's choice or agreed otherwise: no claim (if the employee "
           "refused the extension, set refused_extension on the separation record and it is a resignation)",
    "Implementing Regulations art. 17; LCL art. 44", key="contract_end_not_extended")
WAIVED = ReasonRule(False, "left by mutual agreement and the agreement waives the refund", "LCL art. 36",
                    key="waived")
PROBATION = ReasonRule(False, "left during probation: no training cost may be claimed",
                       "LCL art. 37; 劳办发〔1995〕264号 item 3", key="probation")
NO_SERVICE_PERIOD = ReasonRule(False, "induction or safety training is the employer's duty and "
                                      "carries no service period", "LCL arts. 22, 25",
                               key="no_service_period")
COMPLETE = ReasonRule(False, "the service period was served in full", "LCL art. 22", key="service_complete")
NO_BASE = ReasonRule(False, "no refundable training cost is allocated under this agreement",
                     "Implementing Regulations art. 16", key="no_base")


@dataclass(frozen=True)
class Departure:
    """Who left, when and why, as the policy needs it."""

    last_day: date
    reason: SeparationReason
    waived: bool = False
    probation_end: date | None = None
    #: contract_end only: the employee refused to extend the contract to the service period's end.
    refused_extension: bool = False

    @property
    def served_until(self) -> date:
        """The last day is served in full: service runs up to the next day, exclusive."""
        return self.last_day + timedelta(days=1)


@dataclass(frozen=True)
class ServiceTerms:
    """One signed agreement: its period ``[service_start, service_end)`` and refundable base."""

    agreement_id: str
    base: Decimal
    service_start: date
    service_end: date
    service_months: int | None = None
    currency: str = "CNY"
    proration: Proration = Proration.MONTH
    clause_amount: Decimal | None = None
    program_id: str = ""
    training_category: str = "professional"
    base_detail: tuple[str, ...] = ()
    base_excluded: tuple[str, ...] = ()
    #: The day the agreement was entered into (signed): some jurisdictions' rules depend on it.
    entered_on: date | None = None
    #: A US tuition agreement for a transferable credential (``us-ca``); the PRC policy ignores it.
    credential: CredentialTerms | None = None
    #: Refundable costs of this training in another currency than the agreement's, kept out of the base.
    foreign_costs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("base", "clause_amount"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, Decimal) or value < 0):
                msg = f"agreement {self.agreement_id}: {name} must be a Decimal >= 0, got {value!r}"
                raise ValueError(msg)
        if self.service_end <= self.service_start:
            msg = (f"agreement {self.agreement_id}: service_end {self.service_end} must be after "
                   f"service_start {self.service_start}")
            raise ValueError(msg)

    @classmethod
    def for_months(cls, agreement_id: str, base: Decimal, service_start: date, months: int,
                   **kwargs: Any) -> ServiceTerms:
        return cls(agreement_id=agreement_id, base=base, service_start=service_start,
                   service_end=add_months(service_start, months), service_months=months, **kwargs)


@dataclass(frozen=True)
class RefundLine:
    agreement_id: str
    program_id: str
    base: Decimal
    currency: str
    proration: Proration
    unit: str
    period: Fraction
    served: Fraction
    fraction: Fraction
    amount: Decimal
    owed: bool
    rule: str
    article: str
    warnings: tuple[str, ...] = ()

    @property
    def unserved(self) -> Fraction:
        return self.period - self.served

    def as_json(self) -> dict[str, Any]:
        return {
            "agreement_id": self.agreement_id, "program_id": self.program_id,
            "base": money(self.base), "currency": self.currency, "proration": self.proration.value,
            "unit": self.unit, "period": decimal_text(self.period), "served": decimal_text(self.served),
            "unserved": decimal_text(self.unserved), "fraction": decimal_text(self.fraction),
            "fraction_exact": str(self.fraction), "amount": money(self.amount), "owed": self.owed,
            "rule": self.rule, "article": self.article, "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class RefundQuote:
    owed: bool
    amount: Decimal
    currency: str
    lines: tuple[RefundLine, ...] = ()
    explanation: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())
    #: The explanation as data (kept out of ``as_json``, whose digest says whether a quote changed).
    items: tuple[ExplanationItem, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """The CLI's ``--json`` shape: amounts are strings with two decimals."""
        return {"owed": self.owed, "amount": money(self.amount), "currency": self.currency,
                "lines": [line.as_json() for line in self.lines], "explanation": list(self.explanation)}


class RefundPolicy(Protocol):
    """What ``refund_policy(jurisdiction)`` returns: one jurisdiction's rules."""

    jurisdiction: str

    def quote(self, departure: Departure, agreements: Sequence[ServiceTerms], *,
              currency: str = "CNY") -> RefundQuote: ...


class PrcRefundPolicy:
    """The PRC rules of this module, as the ``prc`` refund policy."""

    jurisdiction = "prc"

    def quote(self, departure: Departure, agreements: Sequence[ServiceTerms], *,
              currency: str = "CNY") -> RefundQuote:
        return quote_prc(departure, agreements, currency=currency)


PRC_POLICY = PrcRefundPolicy()


# --- dates and numbers ------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months, clamped to the month's end (01-31 + 1 = 02-28/29)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def months_between(start: date, until: date) -> Fraction:
    """Months from ``start`` up to ``until`` (exclusive): whole months, then days of the next month.

    Whole months m: the largest m with ``add_months(start, m) <= until``, always counted
    from ``start`` so month-end clamping never drifts; the rest is the days served of
    month m+1 over that month's length in days.
    """
    if until <= start:
        return Fraction(0)
    whole = (until.year - start.year) * 12 + until.month - start.month
    while whole > 0 and add_months(start, whole) > until:
        whole -= 1
    while add_months(start, whole + 1) <= until:
        whole += 1
    begin, end = add_months(start, whole), add_months(start, whole + 1)
    return whole + Fraction((until - begin).days, (end - begin).days)


def round_cents(value: Fraction) -> Decimal:
    """Half-up to cents, from the exact value: the one rounding of a computation."""
    if value < 0:
        msg = f"amounts owed are never negative, got {value}"
        raise ValueError(msg)
    return (Decimal(math.floor(value * 100 + Fraction(1, 2))) / 100).quantize(CENT)


def money(value: Decimal) -> str:
    return format(value.quantize(CENT), "f")


def decimal_text(value: Fraction, places: int = 6) -> str:
    """Exact when the decimal terminates within ``places``, else rounded half-up to ``places``."""
    scaled = value * 10**places
    digits = math.floor(scaled + Fraction(1, 2))
    return format((Decimal(digits) / Decimal(10) ** places).normalize(), "f")


def fraction_text(value: Fraction) -> str:
    """``12``, ``11 29/30 (~11.9667)``: readable and exact."""
    if value.denominator == 1:
        return str(value.numerator)
    whole, rest = divmod(value.numerator, value.denominator)
    exact = f"{whole} {rest}/{value.denominator}" if whole else f"{rest}/{value.denominator}"
    return f"{exact} (~{decimal_text(value, 4)})"


def period_words(value: Fraction | str, unit: str, *, zh: bool) -> str:
    """A period as a person reads it: ``378/31`` months is 12个月又6天 / 12 months and 6 days.

    A month's part is a number of days of that month (``6/31``); a part that no longer shows
    its days (``15/30`` is ``1/2``) reads as a decimal, ``12.5个月``.
    """
    number = Fraction(value)
    if unit.startswith("day"):
        count = decimal_text(number, 2)
        return f"{count}天" if zh else f"{count} day{'' if number == 1 else 's'}"
    whole = math.floor(number)
    rest = number - whole
    if rest == 0:
        return f"{whole}个月" if zh else f"{whole} month{'' if whole == 1 else 's'}"
    if rest.denominator in (28, 29, 30, 31):
        days = rest.numerator
        if zh:
            return f"{whole}个月又{days}天" if whole else f"{days}天"
        day_text = f"{days} day{'' if days == 1 else 's'}"
        return f"{whole} month{'' if whole == 1 else 's'} and {day_text}" if whole else day_text
    text = decimal_text(number, 2)
    return f"{text}个月" if zh else f"{text} months"


# --- the policy ----------------------------------------------------------------------


def quote_prc(departure: Departure, agreements: Sequence[ServiceTerms], *,
              currency: str = "CNY") -> RefundQuote:
    """The refund owed under every agreement of one leaver: one line each, and the total."""
    currencies = {terms.currency for terms in agreements}
    if len(currencies) > 1:
        msg = f"agreements in several currencies ({', '.join(sorted(currencies))}): quote each currency apart"
        raise ValueError(msg)
    currency = currencies.pop() if currencies else currency
    explanation = [_departure_text(departure)]
    items = [ExplanationItem("departure", "", {
        "last_day": departure.last_day.isoformat(), "reason": departure.reason.value,
        "waived": departure.waived,
        "refused_extension": departure.refused_extension,
        "probation_end": departure.probation_end.isoformat() if departure.probation_end else None})]
    if not agreements:
        explanation.append("No signed training agreement with a service period: nothing is owed.")
        items.append(ExplanationItem("no_agreement", "LCL art. 22", {}, ZERO, currency))
        return RefundQuote(owed=False, amount=ZERO, currency=currency, explanation=tuple(explanation),
                           items=tuple(items))
    lines: list[RefundLine] = []
    for terms in agreements:
        line, text = _quote_line(departure, terms)
        lines.append(line)
        explanation += text
        items += line_items(departure, terms, line)
    total = sum((line.amount for line in lines), ZERO)
    if len(lines) > 1:
        parts = " + ".join(money(line.amount) for line in lines)
        explanation.append(f"Total owed: {parts} = {money(total)} {currency} ({len(lines)} agreements; "
                           "each rounded half-up to cents once, at the end of its computation).")
    else:
        explanation.append(f"Total owed: {money(total)} {currency}.")
    items.append(ExplanationItem("total", "", {"lines": [money(line.amount) for line in lines]}, total,
                                 currency))
    warnings = tuple(f"[{line.agreement_id}] {w}" for line in lines for w in line.warnings)
    return RefundQuote(owed=total > 0, amount=total, currency=currency, lines=tuple(lines),
                       explanation=tuple(explanation), warnings=warnings, items=tuple(items))


def line_items(departure: Departure, terms: ServiceTerms, line: RefundLine) -> list[ExplanationItem]:
    """One agreement's steps as data: its terms, base, service served, and the rule that decided."""
    agreement = {"agreement_id": terms.agreement_id, "program_id": terms.program_id}
    cur = terms.currency
    items = [
        ExplanationItem("agreement", "LCL art. 22", {
            **agreement, "signed_on": terms.entered_on.isoformat() if terms.entered_on else None,
            "service_start": terms.service_start.isoformat(), "service_end": terms.service_end.isoformat(),
            "proration": terms.proration.value}),
        ExplanationItem("refundable_base", "Implementing Regulations art. 16", {
            **agreement, "included": list(terms.base_detail), "excluded": list(terms.base_excluded)},
            terms.base, cur),
        ExplanationItem("service_served", "LCL art. 22", {
            **agreement, "unit": line.unit, "period": str(line.period), "served": str(line.served),
            "unserved": str(line.unserved), "through": departure.last_day.isoformat()}),
    ]
    if not line.owed:
        blocked = _not_owed_rule(departure, terms, line.served, line.period)
        key = (blocked.key or departure.reason.value) if blocked else "nothing_owed"
        items.append(ExplanationItem(f"not_owed:{key}", line.article, {**agreement, "why": line.rule},
                                     ZERO, cur))
        return items
    pro_rata = round_cents(Fraction(terms.base) * line.fraction)
    items.append(ExplanationItem("pro_rata", line.article, {
        **agreement, "base": money(terms.base), "fraction": str(line.fraction),
        "proration": terms.proration.value},
        pro_rata, cur))
    if terms.clause_amount is not None:
        capped = terms.clause_amount > pro_rata
        items.append(ExplanationItem("clause_capped" if capped else "clause_amount", "LCL art. 22", {
            **agreement, "clause_amount": money(terms.clause_amount), "pro_rata": money(pro_rata)},
            min(terms.clause_amount, pro_rata), cur))
    items.append(ExplanationItem("owed", line.article, agreement, line.amount, cur))
    return items


def _departure_text(departure: Departure) -> str:
    text = f"Departure: last day {departure.last_day} (served in full), reason {departure.reason.value}"
    if departure.reason is SeparationReason.MUTUAL_AGREEMENT:
        text += ", refund waived" if departure.waived else ", refund not waived"
    if departure.reason is SeparationReason.CONTRACT_END and departure.refused_extension:
        text += ", the employee refused to extend the contract to the end of the service period"
    if departure.probation_end:
        text += f"; probation ended {departure.probation_end}"
    return text + "."


def service_period(terms: ServiceTerms, served_until: date) -> tuple[str, Fraction, Fraction]:
    """(unit, whole period, served part of it) under the agreement's proration."""
    until = min(served_until, terms.service_end)
    if terms.proration is Proration.DAY:
        period = Fraction((terms.service_end - terms.service_start).days)
        served = Fraction(max((until - terms.service_start).days, 0))
        return "days", period, served
    return ("months", months_between(terms.service_start, terms.service_end),
            months_between(terms.service_start, until))


def reason_rule(departure: Departure, served: Fraction, period: Fraction) -> ReasonRule:
    """The rule of the reason for leaving; a contract's end is read under Implementing Regulations art. 17."""
    if departure.reason is SeparationReason.CONTRACT_END and served < period:
        return REFUSED_EXTENSION if departure.refused_extension else NOT_EXTENDED
    return REASON_RULES[departure.reason]


def _not_owed_rule(departure: Departure, terms: ServiceTerms, served: Fraction,
                   period: Fraction) -> ReasonRule | None:
    rule = reason_rule(departure, served, period)
    if not rule.owes:
        return rule
    if departure.reason is SeparationReason.MUTUAL_AGREEMENT and departure.waived:
        return WAIVED
    if terms.training_category in NO_SERVICE_PERIOD_CATEGORIES:
        return NO_SERVICE_PERIOD
    if departure.probation_end is not None and departure.last_day <= departure.probation_end:
        return PROBATION
    if served >= period:
        return COMPLETE
    if terms.base == 0:
        return NO_BASE
    return None


def _quote_line(departure: Departure, terms: ServiceTerms) -> tuple[RefundLine, list[str]]:
    tag = f"[{terms.agreement_id}]"
    unit, period, served = service_period(terms, departure.served_until)
    unserved = period - served
    program = f" for program {terms.program_id}" if terms.program_id else ""
    signed = f"signed {terms.entered_on}" if terms.entered_on else "signing date not recorded"
    text = [f"{tag} Agreement{program} ({signed}): service period {terms.service_start} to "
            f"{terms.service_end} (end exclusive, {fraction_text(period)} {unit}), proration by "
            f"{terms.proration.value}."]
    detail = " + ".join(terms.base_detail)
    text.append(f"{tag} Refundable base {money(terms.base)} {terms.currency}"
                + (f" = {detail}" if detail else "") + " (Implementing Regulations art. 16).")
    text += [f"{tag} Not in the base: {item}." for item in terms.base_excluded]
    warnings: list[str] = [
        f"{cost} is refundable training cost but not in the agreement's {terms.currency}: it is not in this "
        "base (no exchange rate is assumed); recover it under an agreement in its currency"
        for cost in terms.foreign_costs]
    if unit == "months" and terms.service_months is not None and period != terms.service_months:
        warnings.append(f"the agreement names {terms.service_months} months but its period is "
                        f"{fraction_text(period)} months; the period's dates are used")
    text.append(f"{tag} Served {fraction_text(served)} of {fraction_text(period)} {unit} through "
                f"{departure.last_day}; unserved {fraction_text(unserved)} {unit}.")
    blocked = _not_owed_rule(departure, terms, served, period)
    if blocked is not None:
        text.append(f"{tag} Nothing owed: {blocked.rule} ({blocked.article}).")
        text += [f"{tag} Warning: {w}" for w in warnings]
        return _line(terms, unit, period, served, Fraction(0), ZERO, blocked, warnings), text
    reason = reason_rule(departure, served, period)
    share = min(max(unserved / period, Fraction(0)), Fraction(1))
    pro_rata = Fraction(terms.base) * share
    owed = pro_rata
    rule = f"pro rata by {terms.proration.value}: base x unserved / period ({reason.rule})"
    text.append(f"{tag} Pro rata: {money(terms.base)} x {fraction_text(unserved)} / {fraction_text(period)} "
                f"= {money(terms.base)} x {share} = {money(round_cents(pro_rata))} {terms.currency}, "
                f"rounded half-up once ({reason.article}; LCL art. 22 caps the penalty at the cost of the "
                "unserved part).")
    if terms.clause_amount is not None:
        clause = Fraction(terms.clause_amount)
        if clause > pro_rata:
            warnings.append(f"the clause asks {money(terms.clause_amount)} {terms.currency}, more than the "
                            f"pro-rata {money(round_cents(pro_rata))}: capped to the pro-rata amount "
                            "(LCL art. 22)")
            rule += f"; the clause's {money(terms.clause_amount)} is capped to it"
        elif clause < pro_rata:
            owed = clause
            rule = f"the clause amount, below the pro-rata cap ({reason.rule})"
            text.append(f"{tag} The clause names {money(terms.clause_amount)} {terms.currency}, less than "
                        "the pro-rata cap: the clause amount is owed (LCL art. 22).")
    amount = round_cents(owed)
    text.append(f"{tag} Owed: {money(amount)} {terms.currency}.")
    text += [f"{tag} Warning: {w}" for w in warnings]
    return _line(terms, unit, period, served, share, amount, ReasonRule(True, rule, reason.article),
                 warnings), text


def _line(terms: ServiceTerms, unit: str, period: Fraction, served: Fraction, share: Fraction,
          amount: Decimal, rule: ReasonRule, warnings: list[str]) -> RefundLine:
    return RefundLine(agreement_id=terms.agreement_id, program_id=terms.program_id, base=terms.base,
                      currency=terms.currency, proration=terms.proration, unit=unit, period=period,
                      served=served, fraction=share, amount=amount, owed=amount > 0, rule=rule.rule,
                      article=rule.article, warnings=tuple(warnings))
