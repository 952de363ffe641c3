"""``trainbridge report costs``: each group's cost by category, its refundable part, item by item."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import click

from trainbridge.core.localtime import tenant_today
from trainbridge.core.records import Agreement, Employee, TrainingProgram
from trainbridge.core.reports import Report, ReportResult
from trainbridge.plugins.refunds.costs_job import CostsConfig
from trainbridge.plugins.refunds.facts import CostFacts, records_of
from trainbridge.rules.costs import AllocationLine
from trainbridge.rules.leaderboard import period_bounds


def build_costs_report(ws: Any, by: str = "employee", period: str | None = None,
                       department: str | None = None,
                       today: Any = None, **_: Any) -> ReportResult:
    """Each group's cost by category, its refundable part, and every allocation line.

    ``period`` (2026Q3, 2026, 2026-11): only costs incurred in it; ``department``: only the costs
    of that department's people.
    """
    cfg: CostsConfig = ws.settings.job_config("costs", CostsConfig)
    with ws.ledger.transaction() as conn:
        allocation = CostFacts.load(ws.ledger, conn).allocation
        employees = {e.employee_id: e for e in records_of(ws.ledger, conn, Employee)}
        programs = {p.program_id: p for p in records_of(ws.ledger, conn, TrainingProgram)}
        agreed: dict[tuple[str, str], set[str]] = defaultdict(set)
        for a in records_of(ws.ledger, conn, Agreement):
            agreed[(a.employee_id, a.program_id)].add(a.currency)

    def group_of(line: AllocationLine) -> tuple[str, str]:
        employee = employees.get(line.employee_id)
        if by == "program":
            program = programs.get(line.program_id or "")
            return line.program_id or "-", program.title if program else ""
        if by == "department":
            department = employee.department if employee and employee.department else "-"
            return department, ""
        return line.employee_id, employee.name if employee else ""

    bounds = period_bounds(period, _today(today, ws)) if period else None
    chosen = [line for line in allocation.lines
              if (not department or (line.employee_id in employees
                                     and employees[line.employee_id].department == department))
              and (bounds is None or bounds[0] <= line.incurred_on <= bounds[1])]
    categories = sorted({line.category.value for line in chosen})
    sums: dict[tuple[str, str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    people: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    items = []
    for line in sorted(chosen, key=lambda x: (group_of(x)[0], x.employee_id, x.item_id)):
        key = (*group_of(line), line.currency)
        refundable, why = line.refundability(cfg.include_unvouchered)
        currencies = agreed.get((line.employee_id, line.program_id or ""), set())
        if refundable and currencies and line.currency not in currencies:
            # As the refund quote reads it: an agreement's base is in its own currency only.
            agreed_in = ", ".join(sorted(currencies))
            refundable, why = False, (f"in {line.currency}, not the agreement's {agreed_in}: kept out of the "
                                      "refund base (no exchange rate is assumed)")
        sums[key][line.category.value] += line.amount
        sums[key]["total"] += line.amount
        sums[key]["refundable"] += line.amount if refundable else Decimal(0)
        people[key].add(line.employee_id)
        items.append([*([key[0]] if by != "employee" else []), line.employee_id, line.item_id,
                      line.category.value, line.allocation.value, line.amount, line.currency,
                      line.voucher_ref or "", "yes" if refundable else f"no: {why}", line.basis])
    rows = [[k[0], k[1], len(people[k]), *[s.get(c, Decimal(0)) for c in categories], s["total"],
             s["refundable"], k[2]] for k, s in sorted(sums.items())]
    notes = ["Refundable: vouchered training cost (Implementing Regulations art. 16); wages never; items "
             "without a voucher only with [jobs.costs] include_unvouchered = true."]
    notes += [f"Not allocated: {u.item_id} {u.amount} {u.currency}: {u.reason}"
              for u in allocation.unallocated]
    section = ReportResult(title="Item by item", rows=items,
                           columns=[*([by] if by != "employee" else []), "employee", "item", "category",
                                    "allocation", "amount", "currency", "voucher", "refundable", "how"])
    return ReportResult(title=f"Training cost by {by}",
                        columns=[by, "name", "people", *categories, "total", "refundable", "currency"],
                        rows=rows, notes=notes, sections=[section])


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
