"""The what-if refund quote: any employee, a last day, a reason (and a waiver), quoted from the ledger.

It calls the command line's own ``quote_from_ledger`` (the same agreements, costs, policy and
settings as ``trainbridge refund quote --employee``); someone still employed is quoted as if
they left on that day. A quote records nothing and proposes nothing. Every input error is
answered in the reader's words, never with the command line's flags.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

import click
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from trainbridge.core.records import Employee, Separation, SeparationReason
from trainbridge.core.runner import Workspace
from trainbridge.web.console import Console

#: a last day outside these years is a typing error.
YEARS = (1900, 2999)


@dataclass
class QuoteForm:
    employee: str = ""
    last_day: str = ""
    reason: str = ""
    waived: bool = False

    @classmethod
    def of(cls, query: Any) -> QuoteForm:
        return cls(str(query.get("employee", "")).strip(), str(query.get("last_day", "")).strip(),
                   str(query.get("reason", "")).strip(), query.get("waived", "") in ("1", "on", "true"))


@dataclass
class QuoteAnswer:
    """What the page shows: the people to choose from, the quotes, or the error's message key."""

    people: list[dict[str, Any]] = field(default_factory=list)
    quotes: list[Any] = field(default_factory=list)
    error: str = ""
    bad_input: bool = False
    separation: Separation | None = None
    employee: Employee | None = None


def _people(ws: Workspace, conn: Any) -> tuple[list[Employee], dict[str, Separation]]:
    employees = sorted((e for e in ws.ledger.iter_records(conn, "employee") if isinstance(e, Employee)),
                       key=lambda e: e.employee_id)
    latest: dict[str, Separation] = {}
    for s in ws.ledger.iter_records(conn, "separation"):
        if isinstance(s, Separation) and (s.employee_id not in latest
                                          or s.last_day > latest[s.employee_id].last_day):
            latest[s.employee_id] = s
    return employees, latest


def what_if(ws: Workspace, form: QuoteForm) -> QuoteAnswer:
    """The quote ``form`` asks for (nothing when no employee is chosen yet)."""
    from trainbridge.plugins.refunds import quote_from_ledger

    with ws.ledger.transaction() as conn:
        employees, separations = _people(ws, conn)
    answer = QuoteAnswer(people=[{"id": e.employee_id, "name": e.name, "department": e.department,
                                  "left": e.employee_id in separations} for e in employees])
    if not form.employee:
        return answer
    answer.employee = next((e for e in employees if e.employee_id == form.employee), None)
    answer.separation = separations.get(form.employee)
    if answer.employee is None and answer.separation is None:
        answer.error = "quote_unknown_employee"
        return answer
    day: date | None = None
    try:
        day = date.fromisoformat(form.last_day) if form.last_day else None
    except ValueError:
        answer.error, answer.bad_input = "quote_bad_day", True
        return answer
    if day is not None and not YEARS[0] <= day.year <= YEARS[1]:
        answer.error, answer.bad_input = "quote_bad_day", True
        return answer
    if form.reason and form.reason not in {r.value for r in SeparationReason}:
        answer.error, answer.bad_input = "quote_bad_reason", True
        return answer
    if answer.separation is None and (day is None or not form.reason):
        answer.error = "quote_needs_departure"
        return answer
    try:
        answer.quotes = quote_from_ledger(ws, form.employee, day, form.reason or None, form.waived)
    except click.UsageError:
        answer.error = "quote_needs_departure"
    except click.ClickException:
        answer.error = "quote_unknown_employee"
    return answer


def fraction_text(value: Any) -> str:
    """12, or 11.61 for a part of a month (two places, as the quote rounds)."""
    number = Fraction(value)
    if number.denominator == 1:
        return str(number.numerator)
    return str((Decimal(number.numerator) / Decimal(number.denominator)).quantize(Decimal("0.01")))


def routes(c: Console) -> list[BaseRoute]:
    ws = c.ws
    c.globals["separation_reasons"] = [r.value for r in SeparationReason]

    @c.page("admin", "hr", "viewer")
    async def quote(request: Request) -> Response:
        from trainbridge.web.explain import article, render_items

        form = QuoteForm.of(request.query_params)
        answer = await run_in_threadpool(what_if, ws, form)
        loc = c.loc(request)

        def explain(q: Any) -> list[dict[str, str]]:
            return render_items([item.as_json() for item in getattr(q, "items", ())], loc)

        return c.render(request, "quote.html", status_code=400 if answer.bad_input else 200, form=form,
                        answer=answer, quote_people=answer.people, quote_values=form, explain=explain,
                        cite=lambda text: article(str(text), loc), frac=fraction_text,
                        error=c.t(request, answer.error) if answer.error else "")

    return [Route("/refunds/quote", quote)]
