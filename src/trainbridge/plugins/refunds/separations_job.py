"""Job ``separations``: what each leaver owes (A5, C2), kept in step with what it was computed from.

Each ``refund_quote`` decision stores its inputs: the separation, the employee, every
agreement of theirs, the programs, and every allocation line (with its cost item, session
and participant group) of the signed agreements' programs. Every run compares each
leaver's current inputs with those of the latest quote and quotes again the leavers whose
inputs changed: a late voucher, a corrected or voided cost item, an agreement signed or
voided, a corrected separation. The new quote is compared with what was already approved
or delivered: more owed is proposed as a deduction of the remainder, less owed as a
credit of the excess (kind ``refund_credit``); pending proposals of the quote are rejected
as superseded. Payroll never drifts from the quote silently.

Everything is read once per run (:mod:`.facts`), so the job is linear in leavers.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from trainbridge.core.errors import PluginError
from trainbridge.core.jobs import Decision, Job, JobContext, Plan, Proposal, Write, fewer_collections
from trainbridge.core.ledger import queries
from trainbridge.core.localtime import tenant_zone
from trainbridge.core.records import (
    AdjustmentKind,
    Notice,
    PayrollAdjustment,
    Proration,
    Recipient,
    Separation,
)
from trainbridge.plugins.refunds.collection import Collection, collect
from trainbridge.plugins.refunds.facts import (
    QUOTE_KINDS,
    CostFacts,
    Leaver,
    LeaverFacts,
    config_digest,
    enrollment_sessions,
    fingerprint,
    program_facts,
    signed_programs_of,
)
from trainbridge.plugins.refunds.notice import notice_text
from trainbridge.plugins.refunds.policy import CREDIT_REASON, REFUND_REASON, GroupQuote, quote_leaver, signed
from trainbridge.plugins.refunds.revisions import latest, recorded_inputs, revision_id, what_changed
from trainbridge.plugins.refunds.settlement import (
    CREDIT,
    DEDUCTION,
    PROPOSAL_KINDS,
    REPAYMENT,
    TAKEN,
    Settlement,
    proposals_of,
    settle,
)
from trainbridge.plugins.refunds.us import CredentialConfig, localized
from trainbridge.rules.costs import AllocationLine
from trainbridge.rules.refunds import Departure, RefundQuote, money

ZERO = Decimal("0.00")
#: Leavers read, quoted and let go together.
BATCH = 2000
#: Leavers a run's summary describes line by line; the rest are counted (each is in the ledger).
SUMMARY_LEAVERS = 200


class SeparationsConfig(BaseModel):
    """``[jobs.separations]``."""

    model_config = ConfigDict(extra="forbid")
    proration: Proration | None = Field(
        default=None, description="month or day for every agreement; unset: each agreement's own (month)")
    include_unvouchered: bool = Field(default=False,
                                      description="Put unvouchered items in the refundable base")
    payroll_instance: str | None = Field(
        default=None, description="Payroll connector for deductions; unset: routed by legal entity")
    notifier_instance: str | None = Field(
        default=None, description="Notifier for repayment requests; unset: every notifier")
    jurisdictions: dict[str, str] = Field(
        default_factory=dict, description="Legal entity or work location (site) -> refund policy "
                                          "(us-ca, us, us-tx, prc); unset: the agreement's own")
    require_deduction_consent: bool = Field(
        default=False, description="Deduct a refund from pay only with the employee's written consent on "
                                   "record (the agreement's or the separation's deduction_consent); the rest "
                                   "becomes a repayment request. Off: deducted, with a warning")
    minimum_wage: dict[str, Decimal] = Field(
        default_factory=dict, description="Legal entity or site (city) -> local monthly minimum wage: a "
                                          "deduction never leaves the final pay below it")
    credentials: dict[str, CredentialConfig] = Field(
        default_factory=dict, description="Agreement template (or template@version) -> its tuition "
                                          "agreement for a transferable credential (us-ca)")


def departure_of(leaver: Leaver) -> Departure:
    separation, employee = leaver.separation, leaver.employee
    return Departure(last_day=separation.last_day, reason=separation.reason, waived=separation.waived,
                     probation_end=employee.probation_end if employee else None,
                     refused_extension=separation.refused_extension)


def quoted_lines(leaver: Leaver, costs: CostFacts) -> list[AllocationLine]:
    """The leaver's allocation lines under the programs of their signed agreements."""
    programs = {a.program_id for a in signed(a for a, _ in leaver.agreements)}
    return [line for line in costs.allocation.for_employee(leaver.separation.employee_id)
            if line.program_id in programs]


def quote_inputs(leaver: Leaver, lines: list[AllocationLine], costs: CostFacts, facts: LeaverFacts,
                 cfg: SeparationsConfig) -> dict[str, str]:
    """Every record (and allocation) the leaver's quote reads -> its content hash."""
    inputs = {leaver.separation.id: leaver.separation_hash, "config:separations": config_digest(cfg)}
    if leaver.employee is not None:
        inputs[leaver.employee.id] = leaver.employee_hash
    for agreement, content_hash in leaver.agreements:
        inputs[agreement.id] = content_hash
        if agreement.program_id in facts.programs:
            program, program_hash = facts.programs[agreement.program_id]
            inputs[program.id] = program_hash
    # A line is a function of its item, session and group (and the settings, above): their
    # hashes stand for the allocation without serialising it once per leaver.
    for line in lines:
        inputs.update(costs.line_inputs(line))
    return inputs


def changed_since(ctx: JobContext, key: str, kinds: tuple[str, ...]) -> bool:
    """True when a record of ``kinds`` changed since the watermark ``key`` (or there is none)."""
    since = ctx.state(key)
    if since is None:
        return True
    if ctx.ledger.max_seq(ctx.conn) <= since:
        return False
    return any(next(ctx.ledger.iter_records(ctx.conn, kind, since_seq=since, batch=1), None) is not None
               for kind in kinds)


class SeparationsJob(Job):
    name = "separations"
    description = "Quote what each leaver owes under their agreements; propose the difference (A5, C2)."
    # The cost kinds too: a quote must never run on costs not yet read.
    inputs: ClassVar[tuple[str, ...]] = QUOTE_KINDS
    config_model: ClassVar[type[BaseModel] | None] = SeparationsConfig
    order = 50

    def decide(self, ctx: JobContext) -> Plan:
        cfg: SeparationsConfig = ctx.config or SeparationsConfig()
        plan = Plan()
        setting = config_digest(cfg)
        unquoted = ctx.state("retry", [])
        # Leavers whose last day was still to come: quoted, proposed once the day has come.
        come = any(date.fromisoformat(day) <= ctx.today for day in ctx.state("held", []))
        plan.state["seq:inputs"] = ctx.ledger.max_seq(ctx.conn)
        plan.state["config"] = setting
        if not unquoted and not come and ctx.state("config") == setting and \
                not changed_since(ctx, "seq:inputs", QUOTE_KINDS):
            return plan
        ledger, conn = ctx.ledger, ctx.conn
        # the leavers a batch at a time (by separation id, as before): their records, quotes and
        # proposals read per batch, the quotes written as they come; the cost allocation (every
        # participant of the signed programs) and the programs are read once
        separations = queries.ids_and_subjects(ledger, conn, Separation.kind)
        sessions: dict[str, str] = {}
        enrollments = enrollment_sessions(ledger, conn, sessions)
        costs = CostFacts.load(ledger, conn, program_ids=signed_programs_of(
            ledger, conn, {subject for _, subject in separations if subject}), enrollments=enrollments)
        for _ in enrollments:  # what the allocation did not need to read: the sessions are all noted
            pass
        programs = program_facts(ledger, conn)
        retry: list[str] = []
        held: set[str] = set()
        # a leaver's history is the quotes of earlier runs (this run decides each separation once):
        # with none, nothing is read per batch (on PostgreSQL the quotes this run writes have no
        # statistics yet, and each batch would walk them all)
        quoted_before = queries.any_decision(ledger, conn, "refund_quote")
        # the run's summary tells the first SUMMARY_LEAVERS leavers line by line, then counts
        described, not_shown = 0, Counter[str](leavers=0, warnings=0)
        with fewer_collections():
            for start in range(0, len(separations), BATCH):
                batch = separations[start:start + BATCH]
                facts = LeaverFacts.load_of(ledger, conn, [i for i, _ in batch], sessions=sessions,
                                            programs=programs)
                history: dict[str, list[dict[str, Any]]] = defaultdict(list)
                for row in queries.decisions_of_subjects(ledger, conn, "refund_quote",
                                                         {s for _, s in batch if s} if quoted_before else ()):
                    history[row["payload"].get("separation", "")].append(row)
                made = {pid for rows in history.values() for pid in proposals_of(rows)}
                proposals = queries.proposals_by_ids(ledger, conn, made, PROPOSAL_KINDS)
                for leaver in facts.leavers:
                    shown = len(plan.summary)
                    try:
                        self._follow(ctx, cfg, leaver, facts, costs, history[leaver.separation.id], proposals,
                                     plan)
                    except PluginError as exc:
                        separation = leaver.separation
                        plan.warnings.append(f"separation {separation.id} of {separation.employee_id} not "
                                             f"quoted: {exc.message} ({exc.hint})")
                        retry.append(separation.id)
                    if described >= SUMMARY_LEAVERS and len(plan.summary) > shown:
                        not_shown.update(leavers=1, warnings=sum(
                            1 for line in plan.summary[shown:] if line.startswith("  warning:")))
                        del plan.summary[shown:]
                    elif len(plan.summary) > shown:
                        described += 1
                    if len(plan.decisions) >= 1000:  # the quotes written as they come: 1,000 at most
                        ctx.flush(plan)
                held |= {leaver.separation.last_day.isoformat() for leaver in facts.leavers
                         if leaver.separation.last_day > ctx.today}
        if not_shown["leavers"]:
            plan.summary.append(
                f"... and {not_shown['leavers']:,} more leaver(s) quoted, with {not_shown['warnings']:,} "
                f"warning(s) among them: each quote, its reasons and warnings are in the ledger "
                f"(trainbridge refund quote EMPLOYEE_ID, the console's proposals)")
        plan.state["retry"] = retry
        plan.state["held"] = sorted(held)
        return plan

    def _follow(self, ctx: JobContext, cfg: SeparationsConfig, leaver: Leaver, facts: LeaverFacts,
                costs: CostFacts, history: list[dict[str, Any]], proposals: dict[str, dict[str, Any]],
                plan: Plan) -> None:
        """Quote the leaver again if their inputs changed since the latest quote; propose the difference."""
        lines = quoted_lines(leaver, costs)
        inputs = quote_inputs(leaver, lines, costs, facts, cfg)
        previous = latest(history, lambda p: p["group"])
        settlements = {key: settle(proposals_of(r for r in history if r["payload"]["group"] == key),
                                   proposals) for key in previous}
        owed_before = [key for key, s in settlements.items() if s.taken or s.open]
        # The groups a quote would have now: a group left behind (nothing signed, nothing taken)
        # keeps its old inputs and must not make the leaver look stale on every run.
        agreements = localized((a for a, _ in leaver.agreements), leaver.employee, cfg.jurisdictions)
        live = {f"{a.jurisdiction}:{a.currency}" for a in signed(agreements)} or {"prc:CNY"}
        live.update(owed_before)
        released = leaver.separation.last_day <= ctx.today and any(
            previous[key]["payload"].get("held") for key in live if key in previous)
        if live <= previous.keys() and not released and \
                not any(ctx.stale(previous[key], inputs) for key in live):
            return
        separation, employee = leaver.separation, leaver.employee
        groups = quote_leaver(
            ctx.host.refund_policy, separation.employee_id, departure_of(leaver), agreements, lines,
            facts.program_records, proration=cfg.proration, include_unvouchered=cfg.include_unvouchered,
            keep=owed_before, credentials=cfg.credentials, zone=tenant_zone(ctx))
        who = f"{employee.name} ({separation.employee_id})" if employee else separation.employee_id
        programs = facts.program_records
        titles = {a.program_id: programs[a.program_id].title for a in agreements if a.program_id in programs}
        for group in groups:
            before = previous.get(group.key)
            self._decide_group(ctx, cfg, leaver, who, group, before, inputs,
                               settlements.get(group.key, Settlement(())), len(groups) > 1, plan,
                               titles=titles)

    def _decide_group(self, ctx: JobContext, cfg: SeparationsConfig, leaver: Leaver, who: str,
                      group: GroupQuote, before: dict[str, Any] | None, inputs: dict[str, str],
                      settlement: Settlement, several: bool, plan: Plan, *,
                      titles: Mapping[str, str] | None = None) -> None:
        quote, separation = group.quote, leaver.separation
        # A final pay on record shapes the collection: a corrected one is quoted again.
        final_pay = separation.final_pay
        quote_json = quote.as_json()  # once: it is most of what a quote costs to write down
        quote_print = fingerprint(quote_json if final_pay is None else
                                  {**quote_json, "final_pay": money(final_pay)})
        # A last day still to come is quoted, not collected: the reason may yet change (a later
        # no-fault dismissal owes nothing), and nothing is asked of an employee still at work.
        held = separation.last_day > ctx.today
        released = before is not None and bool(before["payload"].get("held")) and not held
        unchanged = before is not None and before["payload"]["fingerprint"] == quote_print and not released
        if unchanged and before is not None and not ctx.stale(before, inputs):
            return
        suffix = f":{group.key}" if several else ""
        qid, revision = revision_id(f"refund_quote:{separation.id}{suffix}", before)
        explanation = list(quote.explanation)
        payload: dict[str, Any] = {
            "separation": separation.id, "group": group.key, "revision": revision, "fingerprint": quote_print,
            "agreements": list(group.agreement_ids), "proposal": None, "quote": quote_json, "held": held}
        if before is not None:
            why = what_changed(recorded_inputs(before), inputs)
            if released and why == "nothing":
                why = "unchanged, but the last day has come"
            explanation.append(f"Revises {before['id']} ({money(Decimal(before['amount'] or 0))} "
                               f"{quote.currency} before); inputs: {why}.")
        if unchanged:
            # The inputs moved but the quote did not: record them, propose nothing.
            explanation.append("The quote is unchanged: nothing new is proposed.")
            plan.decisions.append(self._decision(qid, separation.employee_id, quote, explanation, payload,
                                                 inputs))
            return
        taken = settlement.taken
        due = quote.amount - taken
        kind = DEDUCTION if due > 0 else CREDIT
        pid = f"{kind}:{qid.removeprefix('refund_quote:')}" if due else None
        if held:
            pid = None
        if held and due:
            explanation.append(f"The last day {separation.last_day} is still to come (today is {ctx.today}): "
                               "nothing is proposed before it; what is owed then is proposed on that day.")
        elif released and due:
            explanation.append(f"The last day {separation.last_day} has come: what is owed is proposed now.")
        collection = self._collection(cfg, leaver, group, due, settlement) if due > 0 and not held else None
        rid = None
        if collection is not None:
            rid = f"repayment:{qid.removeprefix('refund_quote:')}" if collection.request else None
            pid = pid if collection.payroll else None
        for item in settlement.pending:
            ctx.ledger.decide_proposal(ctx.conn, item.id, status="rejected", actor="job:separations",
                                       reason=f"superseded by {pid or qid}")
            explanation.append(f"Replaces the pending proposal {item.id}, now rejected.")
        if taken:
            done = [i for i in settlement.items if i.status in ("approved", "delivered")]
            net = " (net of credits)" if any(i.kind == CREDIT for i in done) else ""
            explanation.append(f"{money(taken)} {quote.currency} was already deducted{net} under "
                               f"{', '.join(i.id for i in done)}: only the difference is proposed.")
        count = len(group.agreement_ids)
        under = f"under {count} agreement{'s' if count > 1 else ''}" if count else \
            "(no signed agreement binds)"
        owes = f"owes {money(quote.amount)} {quote.currency}" if quote.owed else "owes nothing"
        owes += f" {under}"
        leaves = f"leaves on {separation.last_day}" if held else f"left {separation.last_day}"
        plan.summary.append(f"{who} {leaves} ({separation.reason.value}): {owes}"
                            + ("; nothing is proposed before the last day" if held and quote.owed else ""))
        plan.summary += [f"  warning: {w}" for w in quote.warnings]
        payload["proposal"] = pid
        payload["repayment"] = rid
        payload["taken"] = money(taken)
        items = [item.as_json() for item in quote.items]
        if collection is not None:
            payload["collection"] = {
                "payroll": money(collection.payroll), "request": money(collection.request),
                "warnings": list(collection.warnings)}
            items += [item.as_json() for item in collection.items]
            plan.summary += [f"  warning: {w}" for w in collection.warnings]
        payload["explanation_items"] = items
        plan.decisions.append(self._decision(qid, separation.employee_id, quote, explanation, payload,
                                             inputs))
        if collection is not None:
            # The quote's lines stay the quote's; the proposals say how it is collected and why.
            explanation = [*explanation, *collection.explanation,
                           *(f"Warning: {w}" for w in collection.warnings)]
            due = collection.payroll
        if rid is not None and collection is not None:
            plan.summary.append(f"  {money(collection.request)} {quote.currency} is asked of the employee as "
                                f"a repayment request ({rid})")
            plan.proposals.append(self._repayment(cfg, leaver, who, rid, collection, explanation, quote,
                                                  titles or {}))
        if pid is None:
            return
        if due < 0:
            plan.summary.append(f"  {money(taken)} {quote.currency} was deducted: proposes paying back "
                                f"{money(-due)} {quote.currency} ({pid})")
        elif taken:
            plan.summary.append(f"  {money(taken)} {quote.currency} was deducted: proposes the remaining "
                                f"{money(due)} {quote.currency} ({pid})")
        plan.proposals.append(self._proposal(ctx, cfg, leaver, who, pid, due, quote.currency, explanation))

    @staticmethod
    def _collection(cfg: SeparationsConfig, leaver: Leaver, group: GroupQuote, due: Decimal,
                    settlement: Settlement) -> Collection:
        separation, employee = leaver.separation, leaver.employee
        # Consent is per agreement: one agreement's clause covers its own refund only; a separation
        # agreement's covers all (《工资支付暂行规定》第十五条).
        amounts = {line.agreement_id: line.amount for line in group.quote.lines}
        agreeing = sorted(a.id for a, _ in leaver.agreements
                          if a.id in group.agreement_ids and a.deduction_consent)
        others = sorted(i for i in group.agreement_ids if i not in agreeing and amounts.get(i, ZERO) > 0)
        consent: str | None = None
        consented: Decimal | None = None
        minimum = None
        # Unknown final pay: nothing is capped and the collection says so.
        deducted = sum((i.signed_amount for i in settlement.items if i.kind in (DEDUCTION, CREDIT)
                        and i.status in TAKEN), Decimal("0.00"))
        if separation.deduction_consent:
            consent = f"separation agreement {separation.id}"
        elif agreeing:
            consent = ("agreement " if len(agreeing) == 1 else "agreements ") + ", ".join(agreeing)
            # What the consenting agreements owe, less what payroll already took under them.
            consented = max(sum((amounts.get(i, ZERO) for i in agreeing), ZERO) - max(deducted, ZERO), ZERO)
        if employee is not None:
            minimum = cfg.minimum_wage.get(employee.legal_entity, cfg.minimum_wage.get(employee.site))
        without = ("agreement " if len(others) == 1 else "agreements ") + ", ".join(others) if others else ""
        return collect(due, group.quote.currency, consent=consent, final_pay=separation.final_pay,
                       minimum_wage=minimum, require_consent=cfg.require_deduction_consent,
                       already_deducted=max(deducted, Decimal("0.00")), consented=consented,
                       without_consent=without)

    @staticmethod
    def _repayment(cfg: SeparationsConfig, leaver: Leaver, who: str, rid: str, collection: Collection,
                   explanation: list[str], quote: RefundQuote, titles: Mapping[str, str]) -> Proposal:
        separation, employee = leaver.separation, leaver.employee
        owed = f"{money(collection.request)} {collection.currency}"
        # The employee reads it in their language, without the ledger's ids; HR's proposal keeps them.
        language = employee.language if employee else "zh"
        subject, body = notice_text(
            language=language, name=employee.name if employee else separation.employee_id,
            employee_id=separation.employee_id, last_day=separation.last_day, reason=separation.reason.value,
            quote=quote, collection=collection, titles=titles)
        notice = Notice(id=rid, notice=REPAYMENT, subject=subject,
                        body=body, language=language, related_id=separation.id,
                        recipients=(Recipient(name=employee.name if employee else "",
                                              employee_id=separation.employee_id,
                                              email=employee.email if employee else None),))
        return Proposal(id=rid, kind=REPAYMENT, subject=separation.employee_id, amount=collection.request,
                        currency=collection.currency,
                        summary=f"ask {who} to repay {owed}: training cost refund not deducted from pay",
                        write=Write("send_notice", {"notice": notice}, instance=cfg.notifier_instance),
                        explanation=explanation)

    @staticmethod
    def _decision(qid: str, employee_id: str, quote: Any, explanation: list[str], payload: dict[str, Any],
                  inputs: dict[str, str]) -> Decision:
        return Decision(id=qid, kind="refund_quote", subject=employee_id, explanation=explanation,
                        amount=quote.amount, currency=quote.currency, payload=payload, inputs=inputs)

    @staticmethod
    def _proposal(ctx: JobContext, cfg: SeparationsConfig, leaver: Leaver, who: str, pid: str, due: Decimal,
                  currency: str, explanation: list[str]) -> Proposal:
        separation, employee = leaver.separation, leaver.employee
        entity = employee.legal_entity if employee else ""
        if due > 0:
            adjustment = PayrollAdjustment(
                id=pid, employee_id=separation.employee_id, adjustment=AdjustmentKind.DEDUCTION, amount=due,
                currency=currency, effective_date=separation.last_day, legal_entity=entity,
                reason=REFUND_REASON, explanation=tuple(explanation), proposal_id=pid)
            summary = (f"deduct {money(due)} {currency} from {who}: training cost refund, left "
                       f"{separation.last_day} ({separation.reason.value})")
        else:
            # The excess goes back with the next payroll run, not the final pay already closed.
            adjustment = PayrollAdjustment(
                id=pid, employee_id=separation.employee_id, adjustment=AdjustmentKind.CREDIT, amount=-due,
                currency=currency, effective_date=max(ctx.today, separation.last_day), legal_entity=entity,
                reason=CREDIT_REASON, explanation=tuple(explanation), proposal_id=pid)
            summary = (f"pay back {money(-due)} {currency} to {who}: the training cost refund was corrected "
                       "below what was deducted")
        return Proposal(id=pid, kind=DEDUCTION if due > 0 else CREDIT, subject=separation.employee_id,
                        amount=abs(due), currency=currency, summary=summary,
                        write=Write("post_adjustment", {"adjustment": adjustment},
                                    instance=cfg.payroll_instance), explanation=explanation)
