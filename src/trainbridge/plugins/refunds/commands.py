"""``trainbridge refund quote``: what a leaver owes, from the ledger or as a calculator.

In ledger mode the quote is set beside what payroll received for it: when the two differ,
the command names the proposal that is still open (id, amount, state), or says that none
is and how to get one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import click

from trainbridge.core.localtime import tenant_zone
from trainbridge.core.manager import PluginHost
from trainbridge.core.money import currency_code, whole_cents
from trainbridge.core.records import (
    Agreement,
    AgreementStatus,
    Employee,
    Enrollment,
    Proration,
    Separation,
    SeparationReason,
)
from trainbridge.plugins.refunds.collection import Collection, collect
from trainbridge.plugins.refunds.facts import CostFacts, Leaver, LeaverFacts, records_of, with_session
from trainbridge.plugins.refunds.policy import quote_leaver, signed_late, with_notes
from trainbridge.plugins.refunds.repayments import (
    RepaymentError,
    render,
    repayments,
    settle_repayment,
    waive_repayment,
)
from trainbridge.plugins.refunds.revisions import latest
from trainbridge.plugins.refunds.separations_job import SeparationsConfig, quoted_lines
from trainbridge.plugins.refunds.settlement import PROPOSAL_KINDS, Settlement, proposals_of, settle
from trainbridge.plugins.refunds.us import localized
from trainbridge.rules.refunds import Departure, RefundQuote, ServiceTerms, money


@dataclass(frozen=True)
class LedgerQuote:
    """A leaver's quote for one jurisdiction and currency, and where payroll stands on it."""

    quote: RefundQuote
    settlement: Settlement

    @property
    def difference(self) -> Decimal:
        """Quote less what payroll received (net): positive, still to deduct; negative, to pay back."""
        return self.quote.amount - self.settlement.delivered

    def payroll_lines(self) -> list[str]:
        cur = self.quote.currency
        received = f"payroll: {money(self.settlement.delivered)} {cur} deducted (net)"
        open_items = self.settlement.open
        if not self.difference and not open_items:
            return [f"{received}, as quoted."]
        lines = [f"{received}; the quote differs by {money(self.difference)} {cur}." if self.difference
                 else f"{received}, as quoted."]
        lines += [f"open: {item.describe()}" for item in open_items]
        if self.difference and not open_items:
            lines.append("no proposal is open for the difference: run `trainbridge sync separations` "
                         "(a rejected proposal is not proposed again until an input changes)")
        return lines

    def as_json(self) -> dict[str, Any]:
        return {**self.quote.as_json(), "payroll": {
            "received": money(self.settlement.delivered), "difference": money(self.difference),
            "open": [item.as_json() for item in self.settlement.open]}}


def quote_from_ledger(ws: Any, employee_id: str, last_day: date | None = None, reason: str | None = None,
                      waived: bool = False, probation_end: date | None = None,
                      proration: Proration | None = None, include_unvouchered: bool = False,
                      currency: str = "CNY") -> list[LedgerQuote]:
    """Quote ``employee_id`` from the ledger (last day and reason default to their latest separation),
    with the ``[jobs.separations]`` settings unless overridden, beside what payroll received."""
    cfg: SeparationsConfig = ws.settings.job_config("separations", SeparationsConfig) or SeparationsConfig()
    with ws.ledger.transaction() as conn:
        facts = LeaverFacts.load(ws.ledger, conn, employee_id=employee_id)
        leaver = max(facts.leavers, key=lambda x: x.separation.last_day, default=None)
        employee = leaver.employee if leaver else _employee(ws, conn, employee_id)
        agreements = leaver.agreements if leaver else []
        if employee is None and leaver is None:
            raise click.ClickException(f"employee {employee_id} is not in the ledger "
                                       "(run `trainbridge sync` first)")
        separation: Separation | None = leaver.separation if leaver else None
        last = last_day or (separation.last_day if separation else None)
        why = SeparationReason(reason) if reason else (separation.reason if separation else None)
        if last is None or why is None:
            raise click.UsageError(f"{employee_id} has no separation in the ledger: "
                                   "give --last-day and --reason")
        if leaver is None and employee is not None:
            # A what-if for someone still employed: their agreements, as if they left on ``last``.
            leaver = _what_if_leaver(ws, conn, employee, last, why, waived)
            agreements = leaver.agreements
        departure = Departure(last_day=last, reason=why,
                              waived=waived or bool(separation and separation.waived and not reason),
                              probation_end=probation_end or (employee.probation_end if employee else None),
                              refused_extension=bool(separation and separation.refused_extension
                                                     and not reason))
        costs = CostFacts.load(ws.ledger, conn, program_ids=facts.signed_program_ids() | {
            a.program_id for a, _ in agreements if a.status is AgreementStatus.SIGNED})
        lines = quoted_lines(leaver, costs) if leaver else []
        history = [row for row in ws.ledger.list_decisions(conn, "refund_quote", subject=employee_id)
                   if separation and row["payload"].get("separation") == separation.id]
        proposals = {row["id"]: row for kind in PROPOSAL_KINDS
                     for row in ws.ledger.list_proposals(conn, kind=kind) if row["subject"] == employee_id}
        settlements = {key: settle(proposals_of(r for r in history if r["payload"]["group"] == key),
                                   proposals) for key in latest(history, lambda p: p["group"])}
        groups = quote_leaver(ws.host.refund_policy, employee_id, departure,
                              localized((a for a, _ in agreements), employee, cfg.jurisdictions),
                              lines, facts.program_records, credentials=cfg.credentials,
                              proration=proration or cfg.proration,
                              include_unvouchered=include_unvouchered or cfg.include_unvouchered,
                              currency=currency,
                              keep=[k for k, s in settlements.items() if s.taken or s.open],
                              zone=tenant_zone(ws.settings))
    return [LedgerQuote(g.quote, settlements.get(g.key, Settlement(()))) for g in groups]


def ledger_quote(ws: Any, employee_id: str, last_day: date | None, reason: str | None, waived: bool,
                 probation_end: date | None, proration: Proration | None, include_unvouchered: bool,
                 currency: str) -> list[RefundQuote]:
    """The quotes alone (the HR console's refund page)."""
    return [q.quote for q in quote_from_ledger(ws, employee_id, last_day, reason, waived, probation_end,
                                               proration, include_unvouchered, currency)]


def _what_if_leaver(ws: Any, conn: Any, employee: Employee, last_day: date, reason: SeparationReason,
                    waived: bool) -> Leaver:
    """``employee`` as if they left on ``last_day`` for ``reason``: a separation that is not recorded
    anywhere, with their agreements (each bound to its enrollment's session) as a leaver's are."""
    who = employee.employee_id
    separation = Separation(id=f"what-if:{who}", employee_id=who, last_day=last_day, reason=reason,
                            waived=waived)
    sessions = {e.id: e.session_id for e in records_of(ws.ledger, conn, Enrollment, subject=who)
                if e.employee_id == who and e.session_id}
    agreements = [(with_session(a, sessions), "") for a in records_of(ws.ledger, conn, Agreement, subject=who)
                  if a.employee_id == who]
    return Leaver(separation, "", employee, "", agreements)


def _employee(ws: Any, conn: Any, employee_id: str) -> Employee | None:
    return next(iter(records_of(ws.ledger, conn, Employee, subject=employee_id)), None)


class DecimalType(click.ParamType):
    name = "amount"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Decimal:
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            self.fail(f"{value!r} is not an amount (e.g. 1700.00)", param, ctx)
        if not amount.is_finite() or amount < 0:
            self.fail(f"{value!r} must be a number >= 0", param, ctx)
        try:
            return whole_cents(amount)
        except ValueError:
            self.fail(f"{value} has more than 2 decimals: money is in whole cents; give the amount as it "
                      "was paid (trainbridge never rounds an amount it is given)", param, ctx)


class CurrencyType(click.ParamType):
    """An ISO 4217 code, upper-cased as every record's currency is (``usd`` is USD)."""

    name = "currency"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return currency_code(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


DATE = click.DateTime(formats=["%Y-%m-%d"])


def _day(value: Any) -> date | None:
    return value.date() if value is not None else None


@click.group(name="refund")
def refund_group() -> None:
    """Training cost refunds owed by leavers (LCL art. 22)."""


@refund_group.command(name="quote")
@click.option("--employee", help="Ledger mode: quote this employee's signed agreements.")
@click.option("--last-day", type=DATE,
              help="Last day worked, inclusive (ledger mode: default from the separation).")
@click.option("--reason", type=click.Choice([r.value for r in SeparationReason]))
@click.option("--waived", is_flag=True, help="The mutual agreement waives the refund.")
@click.option("--cost", type=DecimalType(), help="Calculator mode: the refundable training cost.")
@click.option("--service-start", type=DATE)
@click.option("--service-months", type=click.IntRange(1, 240))
@click.option("--service-end", type=DATE,
              help="Last day of the service period, inclusive, as agreements write it "
                   "(instead of --service-months).")
@click.option("--service-end-exclusive", type=DATE,
              help="The first day after the service period (instead of --service-end).")
@click.option("--proration", type=click.Choice([p.value for p in Proration]))
@click.option("--probation-end", type=DATE)
@click.option("--clause-amount", type=DecimalType(), help="The penalty the agreement's clause names.")
@click.option("--currency", type=CurrencyType(), default="CNY", show_default=True)
@click.option("--jurisdiction", default="prc", show_default=True, help="Calculator mode: the refund policy.")
@click.option("--refused-extension", is_flag=True,
              help="Calculator mode: at contract_end, the employee refused to extend the contract to the end "
                   "of the service period (Implementing Regulations art. 17).")
@click.option("--signed-on", type=DATE,
              help="Calculator mode: the day the agreement was signed; after --last-day it binds nobody.")
@click.option("--consent/--no-consent", default=None,
              help="Calculator mode: the employee's written consent to deduct the refund from pay is (or is "
                   "not) on record; shows the collection (payroll deduction or repayment request).")
@click.option("--final-pay", type=DecimalType(),
              help="Calculator mode: the final month's wage before the deduction (20% limit, art. 16).")
@click.option("--minimum-wage", type=DecimalType(),
              help="Calculator mode: the local monthly minimum wage the final pay may not fall below.")
@click.option("--include-unvouchered", is_flag=True,
              help="Ledger mode: count items without a voucher (default: [jobs.separations]).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def refund_quote(state: Any, employee: str | None, last_day: Any, reason: str | None, waived: bool,
                 cost: Decimal | None, service_start: Any, service_months: int | None, service_end: Any,
                 service_end_exclusive: Any, proration: str | None, probation_end: Any,
                 clause_amount: Decimal | None, currency: str, jurisdiction: str, refused_extension: bool,
                 signed_on: Any, consent: bool | None, final_pay: Decimal | None,
                 minimum_wage: Decimal | None, include_unvouchered: bool, as_json: bool) -> None:
    """What a leaver owes: from the ledger (--employee) or as a calculator (--cost ...)."""
    if employee and cost is not None:
        raise click.UsageError("give --employee (ledger) or --cost (calculator), not both")
    calculator_only = {"--refused-extension": refused_extension, "--signed-on": signed_on,
                       "--consent/--no-consent": consent is not None, "--final-pay": final_pay,
                       "--minimum-wage": minimum_wage}
    if employee and any(calculator_only.values()):
        given = ", ".join(k for k, v in calculator_only.items() if v)
        raise click.UsageError(f"{given}: calculator mode only; in ledger mode they come from the records "
                               "(the separation's refused_extension and final_pay, the agreement's signed_at "
                               "and deduction_consent, [jobs.separations] minimum_wage)")
    if employee:
        ledger = quote_from_ledger(state.workspace(), employee, _day(last_day), reason, waived,
                                   _day(probation_end), Proration(proration) if proration else None,
                                   include_unvouchered, currency)
        _print(ledger, as_json)
        return
    if cost is None:
        raise click.UsageError("give --employee ID (from the ledger) or --cost AMOUNT (calculator)")
    ends = [x for x in (service_months, service_end, service_end_exclusive) if x is not None]
    if service_start is None or last_day is None or reason is None or len(ends) != 1:
        raise click.UsageError("calculator mode needs --service-start, one of --service-months or "
                               "--service-end (or --service-end-exclusive), --last-day and --reason")
    start = service_start.date()
    # The period is [start, end): an inclusive last day 2026-12-31 ends it before 2027-01-01.
    end = (service_end.date() + timedelta(days=1) if service_end is not None else
           _day(service_end_exclusive))
    if end is not None and end <= start:
        raise click.UsageError(f"the service period must end after it starts ({start}): check --service-end")
    try:
        terms = (ServiceTerms.for_months("calculator", cost, start, service_months, currency=currency,
                                         proration=Proration(proration or "month"),
                                         clause_amount=clause_amount) if service_months else
                 ServiceTerms(agreement_id="calculator", base=cost, service_start=start,
                              service_end=end or start, currency=currency,
                              proration=Proration(proration or "month"), clause_amount=clause_amount))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if consent is None and (final_pay is not None or minimum_wage is not None):
        raise click.UsageError("--final-pay and --minimum-wage shape a payroll deduction: say whether the "
                               "employee's written consent is on record, --consent or --no-consent")
    departure = Departure(last_day=last_day.date(), reason=SeparationReason(reason), waived=waived,
                          probation_end=_day(probation_end), refused_extension=refused_extension)
    signed = _day(signed_on)
    terms = dataclasses.replace(terms, entered_on=signed)
    policy = PluginHost.create().refund_policy(jurisdiction)
    if signed is not None and signed > departure.last_day:
        text, item = signed_late("calculator", "", signed, departure.last_day)
        quote = with_notes(policy.quote(departure, [], currency=currency), [text], [item])
    else:
        quote = policy.quote(departure, [terms], currency=currency)
    quote = calculator_words(quote)
    collection = None
    if consent is not None and quote.amount > 0:
        where = "--consent" if consent else None
        collection = collect(quote.amount, quote.currency, consent=where, final_pay=final_pay,
                             minimum_wage=minimum_wage, require_consent=True)
    _print([quote], as_json, collection)


def calculator_words(quote: RefundQuote) -> RefundQuote:
    """The calculator names its flag where the ledger names the record's field."""
    def say(text: str) -> str:
        return text.replace("set refused_extension on the separation record", "give --refused-extension")
    return dataclasses.replace(
        quote, explanation=tuple(say(t) for t in quote.explanation),
        lines=tuple(dataclasses.replace(line, rule=say(line.rule)) for line in quote.lines))


def _print(quotes: list[LedgerQuote] | list[RefundQuote], as_json: bool,
           collection: Collection | None = None) -> None:
    if as_json:
        data = [q.as_json() for q in quotes]
        if collection is not None:
            data[0]["collection"] = {
                "payroll": money(collection.payroll), "request": money(collection.request),
                "currency": collection.currency, "explanation": list(collection.explanation),
                "warnings": list(collection.warnings)}
        click.echo(json.dumps(data[0] if len(data) == 1 else data, ensure_ascii=False, indent=2))
        return
    for item in quotes:
        quote = item.quote if isinstance(item, LedgerQuote) else item
        for line in quote.explanation:
            click.echo(line)
        click.echo(f"owed: {money(quote.amount)} {quote.currency}" if quote.owed else
                   f"nothing owed ({money(quote.amount)} {quote.currency})")
        if isinstance(item, LedgerQuote):
            for line in item.payroll_lines():
                click.echo(line)
    if collection is not None:
        for line in (*collection.explanation, *(f"Warning: {w}" for w in collection.warnings)):
            click.echo(line)
        cur = collection.currency
        click.echo(f"payroll deduction: {money(collection.payroll)} {cur}; repayment request: "
                   f"{money(collection.request)} {cur}")


@refund_group.command(name="repayments")
@click.option("--employee", help="Only this employee's requests.")
@click.option("--open", "only_open", is_flag=True, help="Only requests with something still open.")
@click.option("--language", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def refund_repayments(state: Any, employee: str | None, only_open: bool, language: str,
                      as_json: bool) -> None:
    """Repayment requests: asked, paid, still open, settled or waived."""
    items = repayments(state.workspace(), employee_id=employee)
    if only_open:
        items = [r for r in items if r.status == "open"]
    if as_json:
        click.echo(json.dumps([r.as_json() for r in items], ensure_ascii=False, indent=2))
        return
    for line in render(items, language):
        click.echo(line)


@refund_group.command(name="settle")
@click.argument("request_id")
@click.option("--amount", type=DecimalType(), required=True, help="What the employee paid.")
@click.option("--on", "paid_on", type=DATE, required=True, help="The day it was paid (YYYY-MM-DD).")
@click.option("--ref", "reference", default="", help="The bank transfer's reference, if any.")
@click.option("--by", "actor", default="cli", show_default=True, help="Who records it (audited).")
@click.pass_obj
def refund_settle(state: Any, request_id: str, amount: Decimal, paid_on: Any, reference: str,
                  actor: str) -> None:
    """Record a payment towards a repayment request (the same payment twice is one)."""
    with _refused():
        request, new = settle_repayment(state.workspace(), request_id, amount, paid_on.date(), actor=actor,
                                        reference=reference)
    done = "recorded" if new else "already recorded, nothing changed"
    click.echo(f"{request_id}: payment of {money(amount)} {request.currency} on {paid_on.date()} {done}; "
               f"paid {money(request.paid)}, open {money(request.remaining)} {request.currency} "
               f"({request.status}).")


@refund_group.command(name="waive")
@click.argument("request_id")
@click.option("--reason", required=True, help="Why the company gives the rest up (audited).")
@click.option("--by", "actor", default="cli", show_default=True, help="Who decides (audited).")
@click.pass_obj
def refund_waive(state: Any, request_id: str, reason: str, actor: str) -> None:
    """Give up what is still open on a repayment request."""
    with _refused():
        request, new = waive_repayment(state.workspace(), request_id, reason, actor=actor)
    done = "waived" if new else "was already waived, nothing changed"
    click.echo(f"{request_id}: {done} ({request.waived}); paid {money(request.paid)} {request.currency}.")


@contextlib.contextmanager
def _refused() -> Iterator[None]:
    """A refused settle or waive: its reason and hint, exit 2, never a traceback."""
    try:
        yield
    except RepaymentError as exc:
        raise Refused(str(exc)) from None


class Refused(click.ClickException):
    """A request the ledger refuses (unknown id, too much): a usage error, exit 2."""

    exit_code = 2
