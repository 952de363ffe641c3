"""What a leaver owes for training in the United States: the ``us`` and ``us-ca`` policies.

Pure functions, like :mod:`trainbridge.rules.refunds` (whose period arithmetic, rounding and
quote shapes they share): Decimal amounts, Fraction ratios, one half-up rounding per
agreement, every line with its rule and the law behind it. The sources (see ``docs/refunds.md``):

* ``us``: no federal statute governs training repayment; the agreement does, and this policy
  asks no more than the unserved share of the cost (pro rata as agreed, a smaller agreed sum
  wins). Collecting it from final pay meets the FLSA: wages count as paid only "finally and
  unconditionally or free and clear", and a repayment to the employer that cuts into the
  minimum wage (29 U.S.C. 206) of the last workweek is a kick-back (29 CFR 531.35). States
  restrict deductions further (Texas: Tex. Lab. Code 61.018).
* ``us-ca``: California AB 692 (2025) added Bus. & Prof. Code 16608 and Lab. Code 926. A
  term requiring a worker to pay a debt (training costs included) if the employment
  terminates is void for contracts entered into on or after 2026-01-01 (Lab. Code 926(a)),
  except a separate agreement repaying tuition for a transferable credential that is not a
  condition of employment, states its amount (at most the employer's cost) before the
  worker agrees, is prorated over the required period without acceleration, and asks
  nothing when the employer terminates except for misconduct. Older contracts: the ``us``
  rules, with California's warnings (Lab. Code 221, 224, 2802).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction

from trainbridge.core.records import CENT, SeparationReason
from trainbridge.rules.refunds import (
    Departure,
    ReasonRule,
    RefundLine,
    RefundQuote,
    ServiceTerms,
    fraction_text,
    money,
    round_cents,
    service_period,
)

ZERO = Decimal("0.00")
AB692_FROM = date(2026, 1, 1)
#: 29 U.S.C. 206(a)(1)(C); a state's higher minimum wage is passed to ``flsa_deduction_cap``.
FEDERAL_MINIMUM_WAGE = Decimal("7.25")
FLSA = "29 U.S.C. 206; 29 CFR 531.35"
AB692 = "Bus. & Prof. Code 16608; Lab. Code 926(a)"
TUITION_EXCEPTION = "Bus. & Prof. Code 16608 (tuition for a transferable credential)"
AGREEMENT = "the agreement (policy us: pro rata as agreed)"

FLSA_NOTE = ("a deduction from final pay may not bring the last workweek's wages below the minimum wage: "
             "wages count as paid only free and clear, and a repayment to the employer that cuts into them "
             f"is a kick-back ({FLSA}). The cap needs the final-pay figure (gross pay and hours of the last "
             "workweek), which trainbridge does not have: payroll caps the deduction and the rest is "
             "collected apart")
GENERIC_STATE_NOTE = ("states restrict deductions from final pay (written authorization, lawful purpose, "
                      "timing): this policy does not know the state; map the employee to us-XX (e.g. us-tx) "
                      "for its note, or have payroll check it")
#: Notes on final-pay deductions, by state (only those read from the statute's text).
STATE_FINAL_PAY_NOTES: dict[str, str] = {
    "TX": ("Texas Payday Law: wages may be withheld only on a court order, when a state or federal law "
           "authorizes it, or with the employee's written authorization to deduct for a lawful purpose "
           "(Tex. Lab. Code 61.018): keep the signed authorization with the agreement"),
    "CA": ("California: an employer may not collect back wages it paid (Lab. Code 221) and deducts only "
           "what law or the employee's written authorization allows (Lab. Code 224): have counsel confirm "
           "a final-pay deduction, or collect apart"),
}
US_STATES = frozenset({
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS",
    "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC",
    "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY"})

_CLAIM_ONLY = "trainbridge claims only on resignation, mutual agreement or dismissal for cause"
US_REASONS: dict[SeparationReason, ReasonRule] = {
    SeparationReason.RESIGNATION: ReasonRule(
        True, "the employee resigned before the agreed period ended: the repayment term applies", AGREEMENT),
    SeparationReason.DISMISSAL_FOR_CAUSE: ReasonRule(
        True, "dismissed for cause: the repayment term applies", AGREEMENT),
    SeparationReason.MUTUAL_AGREEMENT: ReasonRule(
        True, "left by mutual agreement without waiving the repayment", AGREEMENT),
    SeparationReason.NO_FAULT_DISMISSAL: ReasonRule(
        False, f"the employer ended the employment without cause ({_CLAIM_ONLY})", "policy us"),
    SeparationReason.EMPLOYER_FAULT: ReasonRule(
        False, f"the employee left because of the employer's fault ({_CLAIM_ONLY})", "policy us"),
    SeparationReason.CONTRACT_END: ReasonRule(
        False, f"the agreed term of employment ended ({_CLAIM_ONLY})", "policy us"),
    SeparationReason.RETIREMENT: ReasonRule(False, f"retirement ({_CLAIM_ONLY})", "policy us"),
    SeparationReason.DEATH: ReasonRule(False, "death: no claim against the estate", "policy us"),
}
US_WAIVED = ReasonRule(False, "left by mutual agreement and the agreement waives the repayment", AGREEMENT)
US_COMPLETE = ReasonRule(False, "the agreed period was served in full", AGREEMENT)
US_NO_BASE = ReasonRule(False, "no training cost the employer paid is allocated under this agreement",
                        AGREEMENT)
CA_VOID = ReasonRule(False, "a term requiring the worker to repay training costs when the employment "
                            "terminates is void (contract entered into on or after 2026-01-01)", AB692)
CA_TERMINATED = ReasonRule(False, "the employer terminated the employment other than for misconduct: the "
                                  "tuition exception allows no repayment", TUITION_EXCEPTION)
CA_OWES = {SeparationReason.RESIGNATION: "the worker resigned",
           SeparationReason.MUTUAL_AGREEMENT: "left by mutual agreement without waiving the repayment",
           SeparationReason.DISMISSAL_FOR_CAUSE: "terminated for misconduct"}


@dataclass(frozen=True)
class CredentialTerms:
    """A tuition repayment agreement for a credential, as HR and counsel describe it (per template).

    Every condition defaults to unmet: an agreement nobody described is void under AB 692.
    """

    credential: str
    transferable: bool = False
    offered_separately: bool = False
    condition_of_employment: bool = True
    repayment_amount: Decimal | None = None
    prorated: bool = False
    accelerated: bool = True
    owed_on_termination: bool = True

    def unmet(self, cost: Decimal) -> list[str]:
        """The tuition exception's conditions this agreement fails, each in the statute's terms."""
        failed = []
        if not self.transferable:
            failed.append(f"{self.credential} is not a transferable credential (a third party's degree, "
                          "license or certificate usable with other employers)")
        if not self.offered_separately:
            failed.append("the agreement is not offered separately from the contract for employment")
        if self.condition_of_employment:
            failed.append("obtaining the credential is a condition of employment")
        if self.repayment_amount is None:
            failed.append("the repayment amount was not specified before the worker agreed")
        elif self.repayment_amount > cost:
            failed.append(f"the repayment amount {money(self.repayment_amount)} exceeds the employer's cost "
                          f"of the credential {money(cost)}")
        if not self.prorated:
            failed.append("the repayment is not prorated over the required employment period")
        if self.accelerated:
            failed.append("the agreement accelerates the repayment when the worker separates")
        if self.owed_on_termination:
            failed.append("the agreement asks repayment when the employer terminates other than for "
                          "misconduct")
        return failed


def flsa_deduction_cap(final_gross: Decimal, hours: Decimal,
                       minimum_wage: Decimal = FEDERAL_MINIMUM_WAGE) -> Decimal:
    """The most a deduction may take from the last workweek's pay: what stays above the minimum wage.

    ``minimum_wage`` is the federal rate unless the state's is higher (pass it); rounded down
    to cents so the employee never ends a cent below it (29 U.S.C. 206; 29 CFR 531.35).
    """
    if final_gross < 0 or hours < 0:
        msg = f"final pay and hours are never negative, got {final_gross} and {hours}"
        raise ValueError(msg)
    room = final_gross - hours * minimum_wage
    return max(room, ZERO).quantize(CENT, rounding=ROUND_DOWN)


# --- the policies ------------------------------------------------------------------


class UsRefundPolicy:
    """``us`` (pro rata as agreed, FLSA), or ``us-xx`` with state XX's note on final-pay deductions."""

    def __init__(self, state: str | None = None) -> None:
        self.state = state.upper() if state else None
        self.jurisdiction = f"us-{state.lower()}" if state else "us"

    def quote(self, departure: Departure, agreements: Sequence[ServiceTerms], *,
              currency: str = "USD") -> RefundQuote:
        return quote_us(departure, agreements, currency=currency, state=self.state)


class UsCaRefundPolicy:
    """``us-ca``: AB 692 for contracts entered into on or after 2026-01-01, the ``us`` rules before."""

    jurisdiction = "us-ca"

    def quote(self, departure: Departure, agreements: Sequence[ServiceTerms], *,
              currency: str = "USD") -> RefundQuote:
        return quote_us_ca(departure, agreements, currency=currency)


US_POLICY = UsRefundPolicy()
US_CA_POLICY = UsCaRefundPolicy()


def us_policy(jurisdiction: str) -> UsRefundPolicy | UsCaRefundPolicy | None:
    """The policy for ``us``, ``us-ca`` or ``us-xx`` (a state's two-letter code), else None."""
    name = jurisdiction.lower()
    if name == "us":
        return US_POLICY
    if name == "us-ca":
        return US_CA_POLICY
    state = name.removeprefix("us-").upper()
    return UsRefundPolicy(state) if name.startswith("us-") and state in US_STATES else None


def quote_us(departure: Departure, agreements: Sequence[ServiceTerms], *, currency: str = "USD",
             state: str | None = None) -> RefundQuote:
    """Pro rata as agreed under every agreement, with the FLSA limit and the state's note."""
    jurisdiction = f"us-{state.lower()}" if state else "us"
    heading = (f"Policy {jurisdiction}: United States, pro rata repayment as agreed; a deduction from final "
               f"pay stays within the FLSA minimum wage ({FLSA}).")
    return _assemble(heading, departure, agreements, currency,
                     lambda terms: _us_line(departure, terms), state)


def quote_us_ca(departure: Departure, agreements: Sequence[ServiceTerms], *,
                currency: str = "USD") -> RefundQuote:
    """AB 692 for agreements entered into on or after 2026-01-01; the ``us`` rules (warned) before."""
    heading = ("Policy us-ca: California, AB 692 (2025): Bus. & Prof. Code 16608 and Lab. Code 926 for "
               "contracts entered into on or after 2026-01-01; older contracts under the prior rules.")
    return _assemble(heading, departure, agreements, currency,
                     lambda terms: _ca_line(departure, terms), "CA")


# --- lines -------------------------------------------------------------------------

Line = tuple[RefundLine, list[str]]


def _assemble(heading: str, departure: Departure, agreements: Sequence[ServiceTerms], currency: str,
              line_for: Callable[[ServiceTerms], Line], state: str | None) -> RefundQuote:
    currencies = {terms.currency for terms in agreements}
    if len(currencies) > 1:
        msg = f"agreements in several currencies ({', '.join(sorted(currencies))}): quote each currency apart"
        raise ValueError(msg)
    currency = currencies.pop() if currencies else currency
    waived = ", repayment waived" if departure.waived else ""
    explanation = [heading, f"Departure: last day {departure.last_day} (served in full), reason "
                            f"{departure.reason.value}{waived}."]
    if not agreements:
        explanation.append("No signed training agreement: nothing is owed.")
        return RefundQuote(owed=False, amount=ZERO, currency=currency, explanation=tuple(explanation))
    lines: list[RefundLine] = []
    for terms in agreements:
        line, text = line_for(terms)
        lines.append(line)
        explanation += text
    total = sum((line.amount for line in lines), ZERO)
    parts = " + ".join(money(line.amount) for line in lines)
    explanation.append(f"Total owed: {parts} = {money(total)} {currency}." if len(lines) > 1 else
                       f"Total owed: {money(total)} {currency}.")
    warnings = [f"[{line.agreement_id}] {w}" for line in lines for w in line.warnings]
    if total > 0:
        state_note = STATE_FINAL_PAY_NOTES.get(state or "", GENERIC_STATE_NOTE)
        explanation += [f"Deduction: {FLSA_NOTE}.", f"Final pay: {state_note}."]
        warnings += ["the deduction needs the final-pay figure: payroll keeps the last workweek at or above "
                     f"the minimum wage ({FLSA})", state_note]
    return RefundQuote(owed=total > 0, amount=total, currency=currency, lines=tuple(lines),
                       explanation=tuple(explanation), warnings=tuple(warnings))


def _header(terms: ServiceTerms, unit: str, period: Fraction, served: Fraction,
            departure: Departure) -> list[str]:
    tag = f"[{terms.agreement_id}]"
    program = f" for program {terms.program_id}" if terms.program_id else ""
    entered = f"; entered into {terms.entered_on}" if terms.entered_on else "; date entered into unknown"
    detail = " + ".join(terms.base_detail)
    text = [f"{tag} Agreement{program}: required period {terms.service_start} to {terms.service_end} "
            f"(end exclusive, {fraction_text(period)} {unit}), proration by "
            f"{terms.proration.value}{entered}.",
            f"{tag} Training cost paid by the employer {money(terms.base)} {terms.currency}"
            + (f" = {detail}" if detail else "") + "."]
    text += [f"{tag} Not in the cost: {item}." for item in terms.base_excluded]
    text.append(f"{tag} Served {fraction_text(served)} of {fraction_text(period)} {unit} through "
                f"{departure.last_day}; unserved {fraction_text(period - served)} {unit}.")
    return text


def _line(terms: ServiceTerms, unit: str, period: Fraction, served: Fraction, share: Fraction,
          amount: Decimal, rule: ReasonRule, warnings: list[str]) -> RefundLine:
    return RefundLine(agreement_id=terms.agreement_id, program_id=terms.program_id, base=terms.base,
                      currency=terms.currency, proration=terms.proration, unit=unit, period=period,
                      served=served, fraction=share, amount=amount, owed=amount > 0, rule=rule.rule,
                      article=rule.article, warnings=tuple(warnings))


def _nothing(terms: ServiceTerms, unit: str, period: Fraction, served: Fraction, rule: ReasonRule,
             text: list[str], warnings: list[str]) -> Line:
    tag = f"[{terms.agreement_id}]"
    text.append(f"{tag} Nothing owed: {rule.rule} ({rule.article}).")
    text += [f"{tag} Warning: {w}" for w in warnings]
    return _line(terms, unit, period, served, Fraction(0), ZERO, rule, warnings), text


def _us_line(departure: Departure, terms: ServiceTerms, *, warnings: list[str] | None = None) -> Line:
    tag = f"[{terms.agreement_id}]"
    unit, period, served = service_period(terms, departure.served_until)
    text = _header(terms, unit, period, served, departure)
    warnings = list(warnings or [])
    if terms.training_category in {"induction", "safety"}:
        warnings.append(f"{terms.training_category} training the employer requires is its own business "
                        "cost: charging it back is a kick-back wherever it cuts into the minimum wage "
                        f"({FLSA})")
    reason = US_REASONS[departure.reason]
    blocked = (reason if not reason.owes else
               US_WAIVED if departure.reason is SeparationReason.MUTUAL_AGREEMENT and departure.waived else
               US_COMPLETE if served >= period else US_NO_BASE if terms.base == 0 else None)
    if blocked is not None:
        return _nothing(terms, unit, period, served, blocked, text, warnings)
    share = (period - served) / period
    owed = pro_rata = Fraction(terms.base) * share
    rule = f"pro rata by {terms.proration.value}: cost x unserved / period ({reason.rule})"
    text.append(f"{tag} Pro rata: {money(terms.base)} x {fraction_text(period - served)} / "
                f"{fraction_text(period)} = {money(terms.base)} x {share} = {money(round_cents(pro_rata))} "
                f"{terms.currency}, rounded half-up once ({AGREEMENT}).")
    if terms.clause_amount is not None and Fraction(terms.clause_amount) < pro_rata:
        owed = Fraction(terms.clause_amount)
        rule = f"the agreed sum, below the pro-rata share ({reason.rule})"
        text.append(f"{tag} The agreement names {money(terms.clause_amount)} {terms.currency}, less than the "
                    f"pro-rata share: the agreed sum is owed ({AGREEMENT}).")
    elif terms.clause_amount is not None and Fraction(terms.clause_amount) > pro_rata:
        warnings.append(f"the agreement names {money(terms.clause_amount)} {terms.currency}, more than the "
                        f"unserved share of the cost {money(round_cents(pro_rata))}: policy us asks the "
                        "share only (a sum beyond the cost is a penalty a court may refuse)")
    amount = round_cents(owed)
    text.append(f"{tag} Owed: {money(amount)} {terms.currency}.")
    text += [f"{tag} Warning: {w}" for w in warnings]
    return _line(terms, unit, period, served, share, amount, ReasonRule(True, rule, reason.article),
                 warnings), text


def _ca_line(departure: Departure, terms: ServiceTerms) -> Line:
    tag = f"[{terms.agreement_id}]"
    entered = terms.entered_on
    if entered is not None and entered < AB692_FROM:
        return _us_line(departure, terms, warnings=[
            f"entered into {entered}, before 2026-01-01: Lab. Code 926(a) voids only contracts entered "
            "into on or after that day, so the prior rules apply (pro rata as agreed); under them "
            "California makes the employer bear necessary expenditures (Lab. Code 2802), so training "
            "the job requires is doubtful to recover: have counsel confirm before collecting"])
    unit, period, served = service_period(terms, departure.served_until)
    text = _header(terms, unit, period, served, departure)
    warnings = [] if entered else ["the date the agreement was entered into is unknown: AB 692 is applied "
                                   "(record when it was signed to apply the prior rules to an older one)"]
    credential = terms.credential
    if credential is None:
        text.append(f"{tag} No tuition agreement for a transferable credential is described for this "
                    "agreement (jobs.separations.credentials): the repayment term is void.")
        text.append(f"{tag} Demanding it exposes the employer to actual damages or 5,000 dollars per worker, "
                    "whichever is greater, with attorney's fees (Lab. Code 926(c)).")
        return _nothing(terms, unit, period, served, CA_VOID, text, warnings)
    unmet = credential.unmet(terms.base)
    if unmet:
        text += [f"{tag} Tuition exception not met: {item} ({TUITION_EXCEPTION})." for item in unmet]
        text.append(f"{tag} Demanding it exposes the employer to actual damages or 5,000 dollars per worker, "
                    "whichever is greater, with attorney's fees (Lab. Code 926(c)).")
        return _nothing(terms, unit, period, served, CA_VOID, text, warnings)
    stated = credential.repayment_amount or ZERO
    text.append(f"{tag} Tuition exception met for {credential.credential}: a separate agreement, not a "
                f"condition of employment, {money(stated)} {terms.currency} stated up front (at most the "
                "cost), prorated, no acceleration, nothing on a termination except for misconduct "
                f"({TUITION_EXCEPTION}).")
    why = CA_OWES.get(departure.reason)
    if departure.reason is SeparationReason.MUTUAL_AGREEMENT and departure.waived:
        return _nothing(terms, unit, period, served, US_WAIVED, text, warnings)
    if why is None:
        return _nothing(terms, unit, period, served, CA_TERMINATED, text, warnings)
    if served >= period:
        return _nothing(terms, unit, period, served, US_COMPLETE, text, warnings)
    share = (period - served) / period
    amount = round_cents(Fraction(stated) * share)
    text.append(f"{tag} Prorated: {money(stated)} x {fraction_text(period - served)} / "
                f"{fraction_text(period)} = {money(stated)} x {share} = {money(amount)} {terms.currency}, "
                f"rounded half-up once ({why}; {TUITION_EXCEPTION}).")
    warnings.append("no acceleration: collect on the agreement's schedule, not as one deduction of the whole "
                    f"from final pay ({TUITION_EXCEPTION})")
    text.append(f"{tag} Owed: {money(amount)} {terms.currency}.")
    text += [f"{tag} Warning: {w}" for w in warnings]
    rule = ReasonRule(True, f"prorated share of the stated tuition repayment ({why})", TUITION_EXCEPTION)
    return _line(terms, unit, period, served, share, amount, rule, warnings), text
