"""How a refund is collected: by payroll deduction, or by asking the employee to repay.

Pure functions. The law (see ``docs/refunds.md``, "Collection"):

* 《工资支付暂行规定》 (Provisional Regulations on the Payment of Wages) art. 15: wages are paid
  in full; the employer may withhold only what the law names. A training cost refund is not
  among them: it may come out of pay only where the employee agreed to it in writing (a clause
  of the training agreement, or the separation agreement).
* Same regulations, art. 16: a deduction for what the employee owes the employer may take at
  most 20% of the month's wage, and what remains may not fall below the local minimum wage.

What payroll may not take is asked of the employee as a repayment request (a notice with the
amount, the explanation and how to pay), never deducted.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from trainbridge.core.records import CENT
from trainbridge.rules.refunds import ExplanationItem, money

ZERO = Decimal("0.00")
#: Art. 16: a month's deduction takes at most this share of the month's wage.
MONTHLY_SHARE = Decimal("0.20")
ART_15 = "《工资支付暂行规定》第十五条 (Provisional Regulations on the Payment of Wages art. 15)"
ART_16 = "《工资支付暂行规定》第十六条 (Provisional Regulations on the Payment of Wages art. 16)"


@dataclass(frozen=True)
class Collection:
    """The amount owed split into what payroll deducts and what the employee is asked to repay."""

    payroll: Decimal
    request: Decimal
    currency: str
    explanation: tuple[str, ...]
    items: tuple[ExplanationItem, ...]
    warnings: tuple[str, ...] = ()


def collect(amount: Decimal, currency: str, *, consent: str | None, final_pay: Decimal | None = None,
            minimum_wage: Decimal | None = None, require_consent: bool = True,
            already_deducted: Decimal = ZERO, consented: Decimal | None = None,
            without_consent: str = "") -> Collection:
    """Split ``amount`` (> 0) into a payroll deduction and a repayment request.

    ``consent`` says where the employee's written consent to a deduction is recorded (None:
    nowhere). Consent is per agreement: ``consented`` is the part of ``amount`` it covers (None:
    all of it, e.g. a separation agreement); the rest, owed under ``without_consent`` (the
    agreements without the clause), is requested, never deducted. ``final_pay``: the final
    month's wage before the deduction, when known; unknown, nothing is capped and a warning says
    payroll must check the limits itself. ``minimum_wage``: the local monthly minimum of the
    employee's legal entity or city. Art. 16's limits apply to the total deducted.
    ``require_consent`` False deducts without consent, with a warning (a workspace that records
    consent nowhere yet). ``already_deducted``: what payroll already took from this final pay for
    the refund (a revision's remainder fits in what the limits leave after it).
    """
    covered = amount if consented is None else min(max(consented, ZERO), amount)
    if consent is None:
        covered = ZERO
    if not require_consent:
        covered = amount
    outside = amount - covered
    if covered <= 0:
        owed = f"{money(amount)} {currency}"
        text = (f"Collection: no written consent to deduct the refund from pay is on record (neither a "
                f"clause of the agreement nor a separation agreement): the {owed} is asked of the employee "
                f"as a repayment request, not deducted ({ART_15}).")
        return Collection(ZERO, amount, currency, (text,), (
            ExplanationItem("collection:no_consent", ART_15, {"consent": None}, amount, currency),))
    lines: list[str] = []
    items: list[ExplanationItem] = []
    warnings: list[str] = []
    if outside > 0:
        under = without_consent or "agreements"
        lines.append(f"Collection: {money(outside)} {currency} is owed under {under} without the employee's "
                     "written consent to a deduction: it is asked of the employee as a repayment request, "
                     f"not deducted; the consent to one agreement's refund ({consent}) does not cover "
                     f"another's ({ART_15}).")
        items.append(ExplanationItem("collection:no_consent", ART_15, {
            "consent": None, "agreements": without_consent, "consent_elsewhere": consent}, outside, currency))
    if consent is None or (not require_consent and consented is not None and consented < amount):
        warnings.append("no written consent to deduct is on record; deducted because "
                        f"require_deduction_consent is off ({ART_15})")
        where = "without consent on record (require_deduction_consent is off)"
    else:
        where = f"with the employee's written consent ({consent})"
    owed = f"{money(covered)} {currency}"
    inputs: dict[str, str | None] = {
        "consent": consent, "final_pay": None if final_pay is None else money(final_pay),
        "minimum_wage": None if minimum_wage is None else money(minimum_wage)}
    if final_pay is None:
        warnings.append(f"the final pay is not known: the {owed} is proposed in full; payroll must keep the "
                        "deduction within 20% of the month's wage and the rest at or above the local minimum "
                        f"wage ({ART_16})")
        lines.insert(0, f"Collection: {owed} by payroll deduction {where}.")
        items.insert(0, ExplanationItem("collection:payroll_unchecked", ART_16, inputs, covered, currency))
        return Collection(covered, outside, currency, tuple(lines), tuple(items), tuple(warnings))
    inputs["already_deducted"] = money(already_deducted)
    share = (final_pay * MONTHLY_SHARE).quantize(CENT, rounding=ROUND_DOWN)
    limits = [max(share - already_deducted, ZERO)]
    limit_text = f"20% of the final pay {money(final_pay)} is {money(share)}"
    if minimum_wage is None:
        warnings.append("no local minimum wage is configured for the employee's legal entity or city "
                        "([jobs.separations] minimum_wage): only the 20% limit was applied")
    else:
        above = max(final_pay - minimum_wage, ZERO)
        limits.append(max(above - already_deducted, ZERO))
        limit_text += f"; the final pay may not fall below the minimum wage {money(minimum_wage)}, leaving " \
                      f"{money(above)}"
    if already_deducted:
        limit_text += f"; {money(already_deducted)} was already deducted from it"
    payroll = min(covered, *limits)
    over = covered - payroll
    lines.insert(0, f"Collection: {money(payroll)} {currency} by payroll deduction {where} "
                    f"({limit_text}; {ART_16}).")
    items.insert(0, ExplanationItem("collection:payroll", ART_16, inputs, payroll, currency))
    if over > 0:
        lines.append(f"Collection: the remaining {money(over)} {currency} is above what the final pay may "
                     "bear and is asked of the employee as a repayment request.")
        items.append(ExplanationItem("collection:over_wage_limit", ART_16, inputs, over, currency))
    return Collection(payroll, outside + over, currency, tuple(lines), tuple(items), tuple(warnings))
