"""The refund policy applied to a leaver: the ``prc`` policy, and one quote per jurisdiction and currency.

Pure: the agreements, allocation lines and programs come in (see :mod:`.facts`); the
policy of each jurisdiction comes from the ``refund_policy`` hook through ``policy_for``.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, tzinfo

from trainbridge.core.records import Agreement, AgreementStatus, Proration, TrainingProgram
from trainbridge.plugins.refunds.us import CredentialConfig, credential_for
from trainbridge.rules.costs import AllocationLine, lines_by_agreement, refundable_base
from trainbridge.rules.refunds import (
    PRC_POLICY,
    Departure,
    ExplanationItem,
    RefundPolicy,
    RefundQuote,
    ServiceTerms,
)

REFUND_REASON = "培训费用返还 training cost refund (service period not completed)"
CREDIT_REASON = "培训费用返还更正 training cost refund corrected: the excess deducted is paid back"


def prc_policy(jurisdiction: str) -> RefundPolicy | None:
    """The ``prc`` policy (:mod:`trainbridge.rules.refunds`) for that jurisdiction, else None."""
    return PRC_POLICY if jurisdiction.lower() == PRC_POLICY.jurisdiction else None


@dataclasses.dataclass(frozen=True)
class GroupQuote:
    """The quote for one leaver's agreements of one jurisdiction and currency."""

    key: str
    quote: RefundQuote
    agreement_ids: tuple[str, ...]


def signed(agreements: Iterable[Agreement]) -> list[Agreement]:
    return [a for a in agreements if a.status is AgreementStatus.SIGNED]


def signed_on(agreement: Agreement, zone: tzinfo = UTC) -> date | None:
    """The day the agreement was signed, in the tenant's time zone ``zone``, if recorded.

    A vendor reports the moment in UTC (DocuSign's ``Z``): 2026-06-01T20:00:00+00:00 is
    2026-06-02 in Asia/Shanghai, and that is the day the employee signed.
    """
    return agreement.signed_at.astimezone(zone).date() if agreement.signed_at else None


def bound_on(agreements: Iterable[Agreement], last_day: date,
             zone: tzinfo = UTC) -> tuple[list[Agreement], list[Agreement]]:
    """(binding, signed too late): an agreement signed after the last day binds nobody.

    One signed without a recorded date (paper imported without it) is taken as binding; the
    quote says the date is unknown. Days are the tenant's (``zone``).
    """
    binding: list[Agreement] = []
    late: list[Agreement] = []
    for agreement in agreements:
        day = signed_on(agreement, zone)
        (late if day is not None and day > last_day else binding).append(agreement)
    return binding, late


def signed_late(agreement_id: str, program_id: str, day: date, last_day: date) -> tuple[str, ExplanationItem]:
    """The note, as text and as an item, on an agreement signed after the last day (it binds nobody)."""
    program = f" (program {program_id})" if program_id else ""
    text = (f"Agreement {agreement_id}{program} was signed on {day}, after the last day "
            f"{last_day}: it binds nobody who had already left; not quoted (LCL art. 22 needs an agreement "
            "in force).")
    return text, ExplanationItem("agreement:signed_after_last_day", "LCL art. 22", {
        "agreement_id": agreement_id, "program_id": program_id, "signed_on": day.isoformat(),
        "last_day": last_day.isoformat()})


def with_notes(quote: RefundQuote, notes: Sequence[str], items: Sequence[ExplanationItem]) -> RefundQuote:
    """``quote`` with notes on agreements that do not bind: text at the end, items after the departure."""
    if not notes:
        return quote
    return dataclasses.replace(quote, explanation=(*quote.explanation, *notes),
                               items=_with_notes(quote.items, items))


def quote_leaver(policy_for: Callable[[str], RefundPolicy], employee_id: str, departure: Departure,
                 agreements: Sequence[Agreement], lines: Sequence[AllocationLine],
                 programs: Mapping[str, TrainingProgram], *, proration: Proration | None = None,
                 include_unvouchered: bool = False, currency: str = "CNY",
                 keep: Iterable[str] = (),
                 credentials: Mapping[str, CredentialConfig] | None = None,
                 zone: tzinfo = UTC) -> list[GroupQuote]:
    """Quote every signed agreement over its refundable base, per jurisdiction and currency.

    ``lines`` are the leaver's allocation lines; ``keep`` names groups ("prc:CNY") quoted
    before: one that has no signed agreement left is quoted again, at zero, so whatever
    was deducted under it is returned. ``credentials`` describe templates' tuition
    agreements (see :mod:`.us`); each agreement's signing day (in the tenant's ``zone``) is the
    day it was entered into. An agreement not signed, or signed after the last day, is noted in
    the explanation, as text and as an item (``agreement:not_signed``,
    ``agreement:signed_after_last_day``).
    """
    ordered = sorted(agreements, key=lambda a: a.id)
    unsigned = [a for a in ordered if a.status is not AgreementStatus.SIGNED]
    notes = [f"Agreement {a.id} (program {a.program_id}) is {a.status.value}, not signed: not binding, "
             "not quoted." for a in unsigned]
    binding, late = bound_on(signed(ordered), departure.last_day, zone)
    note_items = [ExplanationItem("agreement:not_signed", "LCL art. 22", {
        "agreement_id": a.id, "program_id": a.program_id, "status": a.status.value}) for a in unsigned]
    for a in late:
        day = signed_on(a, zone) or departure.last_day
        text, item = signed_late(a.id, a.program_id, day, departure.last_day)
        notes.append(text)
        note_items.append(item)
    owned, left_out = lines_by_agreement(
        [line for line in lines if line.employee_id == employee_id], binding)
    groups: dict[tuple[str, str], list[ServiceTerms]] = defaultdict(list)
    for agreement in binding:
        base = refundable_base(owned[agreement.id], employee_id=employee_id, program_id=agreement.program_id,
                               currency=agreement.currency, include_unvouchered=include_unvouchered)
        program = programs.get(agreement.program_id)
        excluded = (*base.excluded_detail(), *left_out[agreement.id])
        if not base.included and not excluded:
            excluded = (f"no cost item of program {agreement.program_id} is allocated to {employee_id}",)
        groups[(agreement.jurisdiction, agreement.currency)].append(ServiceTerms(
            agreement_id=agreement.id, base=base.amount, service_start=agreement.service_start,
            service_end=agreement.service_end, service_months=agreement.service_months,
            currency=agreement.currency, proration=proration or agreement.proration,
            clause_amount=agreement.clause_amount, program_id=agreement.program_id,
            training_category=program.category if program else "professional",
            base_detail=base.detail(), base_excluded=excluded,
            entered_on=signed_on(agreement, zone),
            credential=credential_for(agreement, credentials or {}),
            foreign_costs=tuple(f"{line.label()} in {line.currency}" for line, _ in base.excluded
                                if line.currency != agreement.currency)))
    for key in keep:
        jurisdiction, _, cur = key.partition(":")
        groups.setdefault((jurisdiction, cur), [])
    if not groups:
        groups[("prc", currency)] = []
    result = []
    for (jurisdiction, cur), terms in sorted(groups.items()):
        quote = policy_for(jurisdiction).quote(departure, terms, currency=cur)
        quote = with_notes(quote, notes, note_items)
        result.append(GroupQuote(f"{jurisdiction}:{cur}", quote, tuple(t.agreement_id for t in terms)))
    return result


def _with_notes(items: Sequence[ExplanationItem],
                notes: Sequence[ExplanationItem]) -> tuple[ExplanationItem, ...]:
    """The quote's items with the agreements that do not bind, right after the departure."""
    head = 1 if items and items[0].rule == "departure" else 0
    return (*items[:head], *notes, *items[head:])
