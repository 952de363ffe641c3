"""``trainbridge report costs``: each group's cost by category, its refundable part, item by item."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import click

from trainbridge.core.localtime import tenant_today
from trainbridge.core.records import Agreement, Employee, TrainingProgram
from trainbridge.core.reports import LazyRows, Report, ReportResult
from trainbridge.plugins.refunds.costs_job import CostsConfig
from trainbridge.plugins.refunds.facts import CostFacts, with_hashes
from trainbridge.rules.costs import Charge, refundability
from trainbridge.rules.leaderboard import period_bounds


def build_costs_report(ws: Any, by: str = "employee", period: str | None = None,
                       department: str | None = None,
                       today: Any = None, **_: Any) -> ReportResult:
    """Each group's cost by category, its refundable part, and every allocation line.

    ``period`` (2026Q3, 2026, 2026-11): only costs incurred in it; ``department``: only the costs
    of that department's people.

    A hundred thousand employees' lines are never held: the allocation is held as each item's
    charge, the lines chosen as (group, employee, item, charge, place) to sort them, and the rows
    made from those as they are read (:class:`LazyRows`)."""
    cfg: CostsConfig = ws.settings.job_config("costs", CostsConfig)
    with ws.ledger.transaction() as conn:
        allocation = CostFacts.load(ws.ledger, conn).allocation
        # of each employee, program and agreement only what the report reads
        employees = {e.employee_id: (e.name, e.department) for e, _ in with_hashes(ws.ledger, conn, Employee)}
        titles = {program.program_id: program.title
                  for program, _ in with_hashes(ws.ledger, conn, TrainingProgram)}
        agreed: dict[tuple[str, str], set[str]] = defaultdict(set)
        for a, _hash in with_hashes(ws.ledger, conn, Agreement):
            agreed[(a.employee_id, a.program_id)].add(a.currency)

    def group_of(employee_id: str, program_id: str | None) -> tuple[str, str]:
        employee = employees.get(employee_id)
        if by == "program":
            title = titles.get(program_id or "")
            return program_id or "-", title if title is not None else ""
        if by == "department":
            department = employee[1] if employee and employee[1] else "-"
            return department, ""
        return employee_id, employee[0] if employee else ""

    def refundable(charge: Charge, employee_id: str) -> tuple[bool, str]:
        item = charge.item
        ok, why = refundability(item.category, item.voucher_ref, cfg.include_unvouchered)
        currencies = agreed.get((employee_id, charge.program or ""), set())
        if ok and currencies and item.currency not in currencies:
            # As the refund quote reads it: an agreement's base is in its own currency only.
            agreed_in = ", ".join(sorted(currencies))
            ok, why = False, (f"in {item.currency}, not the agreement's {agreed_in}: kept out of the "
                              "refund base (no exchange rate is assumed)")
        return ok, why

    # the lines chosen, as (group, employee, item, charge, place): sorted, and each line's row made
    # from its charge as it is read
    bounds = period_bounds(period, _today(today, ws)) if period else None
    chosen: list[tuple[str, str, str, int, int]] = []
    found: set[str] = set()
    for k, charge in enumerate(allocation.charges):
        if bounds is not None and not bounds[0] <= charge.item.incurred_on <= bounds[1]:
            continue
        for n, employee_id in enumerate(charge.people):
            if department and (employee_id not in employees or employees[employee_id][1] != department):
                continue
            found.add(charge.item.category.value)
            chosen.append((group_of(employee_id, charge.program)[0], employee_id, charge.item.id, k, n))
    chosen.sort(key=lambda x: x[:3])
    categories = sorted(found)

    def totals(count: bool = False) -> Iterator[list[Any]]:
        # sorted by group, a group's lines come together: its sums made as they come, by (name, currency)
        block: str | None = None
        sums: dict[tuple[str, str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        people: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        for group0, employee_id, _item, k, n in chosen:
            if group0 != block:
                yield from _rows(sums, people, categories)
                sums.clear()
                people.clear()
                block = group0
            charge = allocation.charges[k]
            key = (*group_of(employee_id, charge.program), charge.item.currency)
            people[key].add(employee_id)
            sums_of = sums[key]
            if count:  # how many rows: the groups alone
                continue
            amount = charge.amount(n)
            sums_of[charge.item.category.value] += amount
            sums_of["total"] += amount
            sums_of["refundable"] += amount if refundable(charge, employee_id)[0] else Decimal(0)
        yield from _rows(sums, people, categories)

    def items() -> Iterator[list[Any]]:
        for group0, employee_id, item_id, k, n in chosen:
            charge = allocation.charges[k]
            item = charge.item
            ok, why = refundable(charge, employee_id)
            yield [*([group0] if by != "employee" else []), employee_id, item_id, item.category.value,
                   item.allocation.value, charge.amount(n), item.currency, item.voucher_ref or "",
                   "yes" if ok else f"no: {why}", charge.basis_of(n)]

    groups = sum(1 for _ in totals(count=True))
    notes = ["Refundable: vouchered training cost (Implementing Regulations art. 16); wages never; items "
             "without a voucher only with [jobs.costs] include_unvouchered = true."]
    notes += [f"Not allocated: {u.item_id} {u.amount} {u.currency}: {u.reason}"
              for u in allocation.unallocated]
    section = ReportResult(title="Item by item", rows=LazyRows(len(chosen), items),
                           columns=[*([by] if by != "employee" else []), "employee", "item", "category",
                                    "allocation", "amount", "currency", "voucher", "refundable", "how"])
    return ReportResult(title=f"Training cost by {by}",
                        columns=[by, "name", "people", *categories, "total", "refundable", "currency"],
                        rows=LazyRows(groups, totals), notes=notes, sections=[section])


def _rows(sums: Mapping[tuple[str, str, str], Mapping[str, Decimal]],
          people: Mapping[tuple[str, str, str], set[str]], categories: list[str]) -> Iterator[list[Any]]:
    """One group's rows (one per name and currency), as the totals table lists them."""
    for k, s in sorted(sums.items()):
        yield [k[0], k[1], len(people[k]), *[s.get(c, Decimal(0)) for c in categories], s.get("total"),
               s.get("refundable"), k[2]]


def _today(today: Any, ws: Any) -> date:
    if isinstance(today, datetime):
        return today.date()
    return today if isinstance(today, date) else tenant_today(ws.settings)  # the tenant's day, not UTC's


def register_costs_report(register: Callable[[Report], None]) -> None:
    by = click.Option(["--by"], type=click.Choice(["employee", "program", "department"]), default="employee",
                      show_default=True, help="Group the totals by.")
    period = click.Option(["--period"], default=None, help="Costs incurred in 2026Q3, 2026 or 2026-11")
    department = click.Option(["--department"], default=None, help="Only this department's people")
    register(Report(name="costs", title="Training cost per employee, program or department, item by item",
                    build=build_costs_report, options=[by, period, department]))
