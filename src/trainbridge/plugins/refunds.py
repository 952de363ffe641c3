"""Built-in plugin: training cost per employee (C1) and refunds on departure (A5, C2).

* the ``prc`` refund policy (``refund_policy``), from :mod:`trainbridge.rules.refunds`;
* job ``costs``: every cost item allocated to employees, one decision per (item, employee);
* job ``separations``: for each new separation, the quote under every signed agreement
  of the leaver, and a deduction proposed to payroll (posted once, after HR approves);
* ``trainbridge refund quote`` (from the ledger, or as a calculator) and
  ``trainbridge report costs``.

Allocations are computed from the ledger's records by :func:`load_allocation` wherever
they are needed (job, quote, report), so a refund never depends on stale decisions;
the ``costs`` decisions are the audit trail of how each allocation came about.
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, TypeVar

import click
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection

from trainbridge import hookimpl
from trainbridge.core.errors import PluginError
from trainbridge.core.jobs import Decision, Job, JobContext, Plan, Proposal, Write
from trainbridge.core.ledger import Ledger
from trainbridge.core.manager import PluginHost
from trainbridge.core.records import (
    AdjustmentKind,
    Agreement,
    AgreementStatus,
    CostItem,
    Employee,
    Enrollment,
    LearningEvent,
    PayrollAdjustment,
    Proration,
    Record,
    Separation,
    SeparationReason,
    TrainingProgram,
    TrainingSession,
    digest_id,
)
from trainbridge.core.reports import Report, ReportResult
from trainbridge.rules.costs import Allocation, AllocationLine, allocate_costs, refundable_base
from trainbridge.rules.refunds import PRC_POLICY, Departure, RefundQuote, ServiceTerms, money

R = TypeVar("R", bound=Record)
REFUND_REASON = "培训费用返还 training cost refund (service period not completed)"


class CostsConfig(BaseModel):
    """``[jobs.costs]``."""

    model_config = ConfigDict(extra="forbid")
    include_unvouchered: bool = Field(
        default=False, description="Count items without a voucher as refundable (Implementing Regulations "
                                   "art. 16 wants documented costs; off by default)")


class SeparationsConfig(BaseModel):
    """``[jobs.separations]``."""

    model_config = ConfigDict(extra="forbid")
    proration: Proration | None = Field(
        default=None, description="month or day for every agreement; unset: each agreement's own (month)")
    include_unvouchered: bool = Field(default=False,
                                      description="Put unvouchered items in the refundable base")
    payroll_instance: str | None = Field(
        default=None, description="Payroll connector for deductions; unset: routed by legal entity")


@hookimpl
def refund_policy(jurisdiction: str) -> Any:
    return PRC_POLICY if jurisdiction.lower() == PRC_POLICY.jurisdiction else None


# --- reading the ledger --------------------------------------------------------------


def records_of(ledger: Ledger, conn: Connection, model: type[R], *, subject: str | None = None) -> list[R]:
    return [r for r in ledger.iter_records(conn, model.kind, subject=subject) if isinstance(r, model)]


def load_allocation(ledger: Ledger, conn: Connection, program_ids: set[str] | None = None) -> Allocation:
    """Allocate the ledger's cost items (of ``program_ids`` only, when given) to employees."""
    sessions = records_of(ledger, conn, TrainingSession)
    program_of = {s.session_id: s.program_id for s in sessions}
    items = [i for i in records_of(ledger, conn, CostItem)
             if program_ids is None or (i.program_id or program_of.get(i.session_id or "")) in program_ids]
    if not items:
        return Allocation(())
    events = (e for e in ledger.iter_records(conn, LearningEvent.kind) if isinstance(e, LearningEvent))
    return allocate_costs(items, events=events, enrollments=records_of(ledger, conn, Enrollment),
                          sessions=sessions)


def find_employee(ledger: Ledger, conn: Connection, employee_id: str) -> Employee | None:
    return next(iter(records_of(ledger, conn, Employee, subject=employee_id)), None)


@dataclasses.dataclass(frozen=True)
class GroupQuote:
    """The quote for one leaver's agreements of one jurisdiction and currency."""

    key: str
    quote: RefundQuote
    agreement_ids: tuple[str, ...]


def quote_employee(ledger: Ledger, conn: Connection, host: PluginHost, employee_id: str,
                   departure: Departure, *, proration: Proration | None = None,
                   include_unvouchered: bool = False, currency: str = "CNY") -> list[GroupQuote]:
    """Quote every signed agreement of ``employee_id`` over its refundable base, per policy and currency."""
    agreements = sorted(records_of(ledger, conn, Agreement, subject=employee_id), key=lambda a: a.id)
    signed = [a for a in agreements if a.status is AgreementStatus.SIGNED]
    notes = [f"Agreement {a.id} (program {a.program_id}) is {a.status.value}, not signed: not binding, "
             "not quoted." for a in agreements if a.status is not AgreementStatus.SIGNED]
    allocation = load_allocation(ledger, conn, {a.program_id for a in signed})
    programs = {p.program_id: p for p in records_of(ledger, conn, TrainingProgram)}
    groups: dict[tuple[str, str], list[ServiceTerms]] = defaultdict(list)
    for agreement in signed:
        base = refundable_base(allocation.lines, employee_id=employee_id, program_id=agreement.program_id,
                               currency=agreement.currency, include_unvouchered=include_unvouchered)
        program = programs.get(agreement.program_id)
        excluded = base.excluded_detail()
        if not base.included and not excluded:
            excluded = (f"no cost item of program {agreement.program_id} is allocated to {employee_id}",)
        groups[(agreement.jurisdiction, agreement.currency)].append(ServiceTerms(
            agreement_id=agreement.id, base=base.amount, service_start=agreement.service_start,
            service_end=agreement.service_end, service_months=agreement.service_months,
            currency=agreement.currency, proration=proration or agreement.proration,
            clause_amount=agreement.clause_amount, program_id=agreement.program_id,
            training_category=program.category if program else "professional",
            base_detail=base.detail(), base_excluded=excluded))
    if not groups:
        groups[("prc", currency)] = []
    result = []
    for (jurisdiction, cur), terms in sorted(groups.items()):
        quote = host.refund_policy(jurisdiction).quote(departure, terms, currency=cur)
        if notes:
            quote = dataclasses.replace(quote, explanation=(*quote.explanation, *notes))
        result.append(GroupQuote(f"{jurisdiction}:{cur}", quote, tuple(t.agreement_id for t in terms)))
    return result


# --- jobs ------------------------------------------------------------------------------


def _latest(rows: Iterable[dict[str, Any]],
            key: Callable[[dict[str, Any]], Any]) -> dict[Any, dict[str, Any]]:
    """The highest revision of each decision key."""
    latest: dict[Any, dict[str, Any]] = {}
    for row in rows:
        k = key(row["payload"])
        if k not in latest or row["payload"]["revision"] > latest[k]["payload"]["revision"]:
            latest[k] = row
    return latest


def _revision_id(base: str, previous: dict[str, Any] | None) -> tuple[str, int]:
    revision = previous["payload"]["revision"] + 1 if previous else 1
    return (base if revision == 1 else f"{base}:r{revision}"), revision


class CostsJob(Job):
    name = "costs"
    description = "Allocate every cost item to employees (per head, shared, own), with the rule (C1)."
    reads: ClassVar[tuple[str, ...]] = ("fetch_cost_items", "fetch_training_catalog", "fetch_learning_events",
                                        "fetch_employees")
    config_model: ClassVar[type[BaseModel] | None] = CostsConfig
    order = 30

    def decide(self, ctx: JobContext) -> Plan:
        cfg: CostsConfig = ctx.config or CostsConfig()
        plan = Plan()
        allocation = load_allocation(ctx.ledger, ctx.conn)
        latest = _latest(ctx.ledger.list_decisions(ctx.conn, "cost_allocation"),
                         lambda p: (p["item_id"], p["employee_id"]))
        current = set()
        for line in allocation.lines:
            current.add((line.item_id, line.employee_id))
            payload = allocation_payload(line, cfg.include_unvouchered)
            self._record(plan, ctx, payload, latest.get((line.item_id, line.employee_id)),
                         [line.rule, payload["refundable_reason"]])
        for (item_id, employee_id), row in sorted(latest.items()):
            if (item_id, employee_id) not in current and not row["payload"].get("withdrawn"):
                kept = {k: v for k, v in row["payload"].items() if k not in ("revision", "fingerprint")}
                payload = {**kept, "amount": "0.00", "withdrawn": True, "refundable": False}
                self._record(plan, ctx, payload, row, [f"{item_id} is no longer allocated to {employee_id} "
                                                       "(its participants or the item changed)"])
        changed = len(plan.decisions)
        seen = {d["id"] for d in ctx.ledger.list_decisions(ctx.conn, "cost_unallocated")}
        for item in allocation.unallocated:
            did = f"cost_unallocated:{item.item_id}:{digest_id(item.reason)[:8]}"
            if did not in seen:
                plan.warnings.append(f"cost item {item.item_id} ({item.amount} {item.currency}) is not "
                                     f"allocated: {item.reason}")
                plan.decisions.append(Decision(id=did, kind="cost_unallocated", subject=None,
                                               payload={"item_id": item.item_id, "reason": item.reason},
                                               explanation=[item.reason], amount=item.amount,
                                               currency=item.currency))
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for line in allocation.lines:
            totals[line.currency] += line.amount
        people = len({line.employee_id for line in allocation.lines})
        money_text = ", ".join(f"{money(v)} {k}" for k, v in sorted(totals.items())) or "nothing"
        plan.summary.append(f"{len({line.item_id for line in allocation.lines})} cost item(s) allocated to "
                            f"{people} employee(s): {money_text}; {changed} allocation(s) "
                            f"new or changed; {len(allocation.unallocated)} not allocated")
        return plan

    @staticmethod
    def _record(plan: Plan, ctx: JobContext, payload: dict[str, Any], previous: dict[str, Any] | None,
                explanation: list[str]) -> None:
        fingerprint = digest_id(json.dumps(payload, sort_keys=True))
        if previous and previous["payload"]["fingerprint"] == fingerprint:
            return
        base_id = f"cost_allocation:{payload['item_id']}:{payload['employee_id']}"
        did, revision = _revision_id(base_id, previous)
        if previous:
            explanation = [*explanation, f"revises {previous['id']} ({previous['payload']['amount']} before)"]
        plan.decisions.append(Decision(
            id=did, kind="cost_allocation", subject=payload["employee_id"],
            payload={**payload, "revision": revision, "fingerprint": fingerprint}, explanation=explanation,
            amount=Decimal(payload["amount"]), currency=payload["currency"]))


def allocation_payload(line: AllocationLine, include_unvouchered: bool) -> dict[str, Any]:
    refundable, why = line.refundability(include_unvouchered)
    return {"item_id": line.item_id, "employee_id": line.employee_id, "program_id": line.program_id,
            "session_id": line.session_id, "category": line.category.value,
            "allocation": line.allocation.value, "amount": money(line.amount), "currency": line.currency,
            "item_amount": money(line.item_amount), "voucher_ref": line.voucher_ref,
            "refundable": refundable, "refundable_reason": why, "rule": line.rule}


class SeparationsJob(Job):
    name = "separations"
    description = "Quote what each leaver owes under their agreements; propose the deduction (A5, C2)."
    # The cost sources too: a quote must never run on costs not yet read.
    reads: ClassVar[tuple[str, ...]] = ("fetch_employees", "fetch_separations", "fetch_cost_items",
                                        "fetch_training_catalog", "fetch_learning_events")
    config_model: ClassVar[type[BaseModel] | None] = SeparationsConfig
    order = 50

    def decide(self, ctx: JobContext) -> Plan:
        cfg: SeparationsConfig = ctx.config or SeparationsConfig()
        plan = Plan()
        todo = {s.id: s for s in ctx.changed("separation") if isinstance(s, Separation)}
        for sid in ctx.state("retry", []):
            record = ctx.record("separation", sid)
            if isinstance(record, Separation):
                todo.setdefault(sid, record)
        retry = []
        for separation in sorted(todo.values(), key=lambda s: s.id):
            try:
                self._quote(ctx, cfg, separation, plan)
            except PluginError as exc:
                plan.warnings.append(f"separation {separation.id} of {separation.employee_id} not quoted: "
                                     f"{exc.message} ({exc.hint})")
                retry.append(separation.id)
        ctx.mark_seen(plan, "separation")
        plan.state["retry"] = retry
        return plan

    def _quote(self, ctx: JobContext, cfg: SeparationsConfig, separation: Separation, plan: Plan) -> None:
        employee = find_employee(ctx.ledger, ctx.conn, separation.employee_id)
        departure = Departure(last_day=separation.last_day, reason=separation.reason,
                              waived=separation.waived,
                              probation_end=employee.probation_end if employee else None)
        groups = quote_employee(ctx.ledger, ctx.conn, ctx.host, separation.employee_id, departure,
                                proration=cfg.proration, include_unvouchered=cfg.include_unvouchered)
        history = [d for d in ctx.ledger.list_decisions(ctx.conn, "refund_quote",
                                                         subject=separation.employee_id)
                   if d["payload"].get("separation") == separation.id]
        latest = _latest(history, lambda p: p["group"])
        who = f"{employee.name} ({separation.employee_id})" if employee else separation.employee_id
        for group in groups:
            quote = group.quote
            suffix = f":{group.key}" if len(groups) > 1 else ""
            fingerprint = digest_id(json.dumps(quote.as_json(), sort_keys=True))
            previous = latest.get(group.key)
            if previous and previous["payload"]["fingerprint"] == fingerprint:
                continue
            qid, revision = _revision_id(f"refund_quote:{separation.id}{suffix}", previous)
            pid = "refund:" + qid.removeprefix("refund_quote:")
            explanation = list(quote.explanation)
            due = quote.amount - self._supersede(ctx, history, group.key, pid, explanation)
            owes = f"owes {money(quote.amount)} {quote.currency}" if quote.owed else "owes nothing"
            plan.summary.append(f"{who} left {separation.last_day} ({separation.reason.value}): {owes} "
                                f"under {len(group.agreement_ids)} agreement(s)")
            plan.summary += [f"  warning: {w}" for w in quote.warnings]
            if due < 0:
                plan.warnings.append(f"{qid}: {money(-due)} {quote.currency} more was deducted than the "
                                     "corrected quote; return it to the employee through payroll "
                                     "(no automatic credit)")
            proposed = quote.owed and due > 0
            plan.decisions.append(Decision(
                id=qid, kind="refund_quote", subject=separation.employee_id, explanation=explanation,
                amount=quote.amount, currency=quote.currency,
                payload={"separation": separation.id, "group": group.key, "revision": revision,
                         "fingerprint": fingerprint, "agreements": list(group.agreement_ids),
                         "proposal": pid if proposed else None, "quote": quote.as_json()}))
            if not proposed:
                continue
            adjustment = PayrollAdjustment(
                id=pid, employee_id=separation.employee_id, adjustment=AdjustmentKind.DEDUCTION, amount=due,
                currency=quote.currency, effective_date=separation.last_day,
                legal_entity=employee.legal_entity if employee else "", reason=REFUND_REASON,
                explanation=tuple(explanation), proposal_id=pid)
            plan.proposals.append(Proposal(
                id=pid, kind="refund", subject=separation.employee_id, amount=due, currency=quote.currency,
                summary=f"deduct {money(due)} {quote.currency} from {who}: training cost refund, left "
                        f"{separation.last_day} ({separation.reason.value})",
                write=Write("post_adjustment", {"adjustment": adjustment}, instance=cfg.payroll_instance),
                explanation=explanation))

    @staticmethod
    def _supersede(ctx: JobContext, history: list[dict[str, Any]], key: str, pid: str,
                   explanation: list[str]) -> Decimal:
        """Reject earlier pending proposals of this quote; return what was already approved or posted."""
        taken = Decimal("0.00")
        for row in history:
            earlier = row["payload"].get("proposal")
            if not earlier or row["payload"]["group"] != key:
                continue
            proposal = ctx.ledger.get_proposal(ctx.conn, earlier)
            if proposal is None:
                continue
            if proposal["status"] == "pending":
                ctx.ledger.decide_proposal(ctx.conn, earlier, status="rejected", actor="job:separations",
                                           reason=f"superseded by {pid}")
                explanation.append(f"Replaces the pending proposal {earlier}, now rejected.")
            elif proposal["status"] in ("approved", "delivered"):
                taken += Decimal(proposal["amount"])
                explanation.append(f"{money(Decimal(proposal['amount']))} {proposal['currency']} was already "
                                   f"deducted under {earlier}: only the difference is proposed.")
        return taken


@hookimpl
def register_jobs(register: Callable[[Job], None]) -> None:
    register(CostsJob())
    register(SeparationsJob())


# --- report ------------------------------------------------------------------------------


def build_costs_report(ws: Any, by: str = "employee") -> ReportResult:
    """Each group's cost by category, its refundable part, and every allocation line."""
    cfg: CostsConfig = ws.settings.job_config("costs", CostsConfig)
    with ws.ledger.transaction() as conn:
        allocation = load_allocation(ws.ledger, conn)
        employees = {e.employee_id: e for e in records_of(ws.ledger, conn, Employee)}
        programs = {p.program_id: p for p in records_of(ws.ledger, conn, TrainingProgram)}

    def group_of(line: AllocationLine) -> tuple[str, str]:
        employee = employees.get(line.employee_id)
        if by == "program":
            program = programs.get(line.program_id or "")
            return line.program_id or "-", program.title if program else ""
        if by == "department":
            department = employee.department if employee and employee.department else "-"
            return department, ""
        return line.employee_id, employee.name if employee else ""

    categories = sorted({line.category.value for line in allocation.lines})
    sums: dict[tuple[str, str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    people: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    items = []
    for line in sorted(allocation.lines, key=lambda x: (group_of(x)[0], x.employee_id, x.item_id)):
        key = (*group_of(line), line.currency)
        refundable, why = line.refundability(cfg.include_unvouchered)
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


@hookimpl
def register_reports(register: Callable[[Report], None]) -> None:
    by = click.Option(["--by"], type=click.Choice(["employee", "program", "department"]), default="employee",
                      show_default=True, help="Group the totals by.")
    register(Report(name="costs", title="Training cost per employee, program or department, item by item",
                    build=build_costs_report, options=[by]))


# --- command line ----------------------------------------------------------------------


class DecimalType(click.ParamType):
    name = "amount"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Decimal:
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            self.fail(f"{value!r} is not an amount (e.g. 1700.00)", param, ctx)
        if not amount.is_finite() or amount < 0:
            self.fail(f"{value!r} must be a number >= 0", param, ctx)
        return amount


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
              help="First day after the service period (instead of --service-months).")
@click.option("--proration", type=click.Choice([p.value for p in Proration]))
@click.option("--probation-end", type=DATE)
@click.option("--clause-amount", type=DecimalType(), help="The penalty the agreement's clause names.")
@click.option("--currency", default="CNY", show_default=True)
@click.option("--jurisdiction", default="prc", show_default=True, help="Calculator mode: the refund policy.")
@click.option("--include-unvouchered", is_flag=True, help="Ledger mode: count items without a voucher.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def refund_quote(state: Any, employee: str | None, last_day: Any, reason: str | None, waived: bool,
                 cost: Decimal | None, service_start: Any, service_months: int | None, service_end: Any,
                 proration: str | None, probation_end: Any, clause_amount: Decimal | None, currency: str,
                 jurisdiction: str, include_unvouchered: bool, as_json: bool) -> None:
    """What a leaver owes: from the ledger (--employee) or as a calculator (--cost ...)."""
    if employee and cost is not None:
        raise click.UsageError("give --employee (ledger) or --cost (calculator), not both")
    if employee:
        quotes = _ledger_quote(state.workspace(), employee, _day(last_day), reason, waived,
                               _day(probation_end), Proration(proration) if proration else None,
                               include_unvouchered, currency)
    elif cost is not None:
        if service_start is None or last_day is None or reason is None or \
                (service_months is None) == (service_end is None):
            raise click.UsageError("calculator mode needs --service-start, one of --service-months or "
                                   "--service-end, --last-day and --reason")
        start = service_start.date()
        try:
            terms = (ServiceTerms.for_months("calculator", cost, start, service_months, currency=currency,
                                             proration=Proration(proration or "month"),
                                             clause_amount=clause_amount) if service_months else
                     ServiceTerms(agreement_id="calculator", base=cost, service_start=start,
                                  service_end=service_end.date(), currency=currency,
                                  proration=Proration(proration or "month"), clause_amount=clause_amount))
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        departure = Departure(last_day=last_day.date(), reason=SeparationReason(reason), waived=waived,
                              probation_end=_day(probation_end))
        policy = PluginHost.create().refund_policy(jurisdiction)
        quotes = [policy.quote(departure, [terms], currency=currency)]
    else:
        raise click.UsageError("give --employee ID (from the ledger) or --cost AMOUNT (calculator)")
    if as_json:
        data = [q.as_json() for q in quotes]
        click.echo(json.dumps(data[0] if len(data) == 1 else data, ensure_ascii=False, indent=2))
        return
    for quote in quotes:
        for line in quote.explanation:
            click.echo(line)
        click.echo(f"owed: {money(quote.amount)} {quote.currency}" if quote.owed else
                   f"nothing owed ({money(quote.amount)} {quote.currency})")


def _ledger_quote(ws: Any, employee_id: str, last_day: date | None, reason: str | None, waived: bool,
                  probation_end: date | None, proration: Proration | None, include_unvouchered: bool,
                  currency: str) -> list[RefundQuote]:
    with ws.ledger.transaction() as conn:
        employee = find_employee(ws.ledger, conn, employee_id)
        separations = sorted(records_of(ws.ledger, conn, Separation, subject=employee_id),
                             key=lambda s: s.last_day)
        separation = separations[-1] if separations else None
        if employee is None and separation is None:
            raise click.ClickException(f"employee {employee_id} is not in the ledger "
                                       "(run `trainbridge sync` first)")
        last = last_day or (separation.last_day if separation else None)
        why = SeparationReason(reason) if reason else (separation.reason if separation else None)
        if last is None or why is None:
            raise click.UsageError(f"{employee_id} has no separation in the ledger: "
                                   "give --last-day and --reason")
        departure = Departure(last_day=last, reason=why,
                              waived=waived or bool(separation and separation.waived and not reason),
                              probation_end=probation_end or (employee.probation_end if employee else None))
        groups = quote_employee(ws.ledger, conn, ws.host, employee_id, departure, proration=proration,
                                include_unvouchered=include_unvouchered, currency=currency)
    return [g.quote for g in groups]


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(refund_group)
