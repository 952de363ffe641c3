"""Job ``costs``: every cost item allocated to employees (C1), one decision per (item, employee).

Each ``cost_allocation`` decision stores its inputs: the cost item, its session, the group
it was charged to or split among, and the job's settings. A line whose inputs differ from
those of its latest decision is recorded again as a revision (a corrected or voided item,
a retracted check-in that changes a share); a line no longer allocated is withdrawn. The
allocation is computed once per run from one read of each kind, so the job is linear; its lines
are made item by item as they are decided and written every few thousand, so memory is that of
each item's charge (who, how much each), not of every line.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from trainbridge.core.jobs import Decision, Job, JobContext, Plan, fewer_collections
from trainbridge.core.records import digest_id
from trainbridge.plugins.refunds.facts import (
    COST_KINDS,
    CostFacts,
    allocation_key,
    allocation_payload,
    config_digest,
    fingerprint,
)
from trainbridge.plugins.refunds.revisions import latest, recorded_inputs, revision_id, what_changed
from trainbridge.rules.explain import allocation_items
from trainbridge.rules.refunds import money

#: Decisions held before they are written (``ctx.flush``).
FLUSH = 5000


class CostsConfig(BaseModel):
    """``[jobs.costs]``."""

    model_config = ConfigDict(extra="forbid")
    include_unvouchered: bool = Field(
        default=False, description="Count items without a voucher as refundable (Implementing Regulations "
                                   "art. 16 wants documented costs; off by default)")


class CostsJob(Job):
    name = "costs"
    description = "Allocate every cost item to employees (per head, shared, own), with the rule (C1)."
    inputs: ClassVar[tuple[str, ...]] = COST_KINDS
    config_model: ClassVar[type[BaseModel] | None] = CostsConfig
    order = 30

    def decide(self, ctx: JobContext) -> Plan:
        cfg: CostsConfig = ctx.config or CostsConfig()
        plan = Plan()
        if ctx.nothing_new(plan, COST_KINDS):  # nothing to allocate again: nothing is read
            totals_before = ctx.state("totals")
            if isinstance(totals_before, dict):
                plan.summary.append(_summary(**{**totals_before, "changed": 0}))
                return plan
        costs = CostFacts.load(ctx.ledger, ctx.conn)
        allocation = costs.allocation
        setting = {"config:costs": config_digest(cfg)}
        previous = latest(ctx.decisions("cost_allocation"), lambda p: (p["item_id"], p["employee_id"]))
        totals: dict[str, Decimal] = defaultdict(Decimal)
        written = 0  # decisions written as they come (ctx.flush): memory of a few thousand at most
        with fewer_collections():
            for line in allocation.lines():  # made item by item, let go once decided
                totals[line.currency] += line.amount
                payload = allocation_payload(line, cfg.include_unvouchered)
                self._record(plan, ctx, payload, previous.get((line.item_id, line.employee_id)),
                             {**costs.line_inputs(line), **setting},
                             [line.rule, payload["refundable_reason"]])
                if len(plan.decisions) >= FLUSH:
                    written += len(plan.decisions)
                    ctx.flush(plan)
        for (item_id, employee_id), row in sorted(previous.items()):
            if not allocation.charged(item_id, employee_id) and not row["payload"].get("withdrawn"):
                kept = {k: v for k, v in row["payload"].items() if k not in ("revision", "fingerprint",
                                                                                   "explanation_items")}
                payload = {**kept, "amount": "0.00", "withdrawn": True, "refundable": False}
                gone = {item_id: costs.item_hashes.get(item_id, ""), **setting}
                self._record(plan, ctx, payload, row, gone, [f"{item_id} is no longer allocated to "
                                                             f"{employee_id} (its participants or the item "
                                                             "changed)"])
        changed = written + len(plan.decisions)
        seen = {d["id"] for d in ctx.decisions("cost_unallocated")}
        for item in allocation.unallocated:
            did = f"cost_unallocated:{item.item_id}:{digest_id(item.reason)[:8]}"
            if did not in seen:
                plan.warnings.append(f"cost item {item.item_id} ({item.amount} {item.currency}) is not "
                                     f"allocated: {item.reason}")
                plan.decisions.append(Decision(id=did, kind="cost_unallocated", subject=None,
                                               payload={"item_id": item.item_id, "reason": item.reason},
                                               explanation=[item.reason], amount=item.amount,
                                               currency=item.currency,
                                               inputs={item.item_id: costs.item_hashes.get(item.item_id,
                                                                                            "")}))
        people = len(allocation.people())
        money_text = ", ".join(f"{money(v)} {k}" for k, v in sorted(totals.items())) or "nothing"
        plan.state["totals"] = {"items": len({charge.item.id for charge in allocation.charges}),
                                "people": people, "money": money_text,
                                "unallocated": len(allocation.unallocated)}
        plan.summary.append(_summary(**plan.state["totals"], changed=changed))
        return plan

    @staticmethod
    def _record(plan: Plan, ctx: JobContext, payload: dict[str, Any], previous: dict[str, Any] | None,
                inputs: dict[str, str], explanation: list[str]) -> None:
        """Record the line unless its latest decision was made from the same inputs."""
        content = fingerprint(payload)
        if previous is not None:
            before = recorded_inputs(previous)
            # A decision from before inputs were kept is judged by its content alone.
            same = (not ctx.stale(previous, inputs) if before is not None
                    else previous["payload"]["fingerprint"] == content)
            if same:
                return
        did, revision = revision_id(allocation_key(payload["item_id"], payload["employee_id"]), previous)
        if previous:
            why = what_changed(recorded_inputs(previous), inputs)
            explanation = [*explanation, f"revises {previous['id']} ({previous['payload']['amount']} before)",
                           f"its inputs changed: {why}"]
        plan.decisions.append(Decision(
            id=did, kind="cost_allocation", subject=payload["employee_id"],
            payload={**payload, "revision": revision, "fingerprint": content,
                     "explanation_items": allocation_items(payload)}, explanation=explanation,
            amount=Decimal(payload["amount"]), currency=payload["currency"], inputs=inputs))


def _summary(*, items: int, people: int, money: str, changed: int, unallocated: int) -> str:
    return (f"{items} cost item(s) allocated to {people} employee(s): {money}; {changed} allocation(s) "
            f"new or changed; {unallocated} not allocated")
