"""What payroll already took for a quote, and what is still open.

A quote's proposals are deductions (kind ``refund``), credits (kind ``refund_credit``:
money given back when a quote went down after a deduction) and repayment requests (kind
``repayment_request``: what payroll may not deduct, asked of the employee by notice; once
sent it counts as claimed, so a new quote asks only the difference). Approved and delivered
proposals count as taken; pending, approved-but-undelivered and failed ones are open
items, shown wherever the quote and payroll differ.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from trainbridge.rules.refunds import money

DEDUCTION = "refund"
CREDIT = "refund_credit"
#: What payroll may not deduct, asked of the employee by notice (see :mod:`.collection`).
REPAYMENT = "repayment_request"
PROPOSAL_KINDS = (DEDUCTION, CREDIT, REPAYMENT)
TAKEN = ("approved", "delivered")
OPEN = ("pending", "approved", "failed")
_STATES = {"pending": "pending HR approval", "approved": "approved, not yet delivered to payroll",
           "failed": "payroll reported the delivery failed"}


@dataclass(frozen=True)
class ProposalItem:
    """One refund proposal as it stands."""

    id: str
    kind: str
    amount: Decimal
    currency: str
    status: str

    @property
    def signed_amount(self) -> Decimal:
        """What it takes from the employee: a deduction adds, a credit gives back."""
        return -self.amount if self.kind == CREDIT else self.amount

    def describe(self) -> str:
        what = {CREDIT: "credit", REPAYMENT: "repayment request"}.get(self.kind, "deduction")
        state = _STATES.get(self.status, self.status)
        return f"{self.id} ({what} {money(self.amount)} {self.currency}, {state})"

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "amount": money(self.amount), "currency": self.currency,
                "status": self.status}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ProposalItem:
        return cls(id=row["id"], kind=row["kind"], amount=Decimal(row["amount"]),
                   currency=row["currency"] or "", status=row["status"])


@dataclass(frozen=True)
class Settlement:
    """The proposals of one quote group: what payroll received, what was approved, what is open."""

    items: tuple[ProposalItem, ...]

    @property
    def delivered(self) -> Decimal:
        """Net amount payroll received (deductions less credits)."""
        return sum((i.signed_amount for i in self.items if i.status == "delivered"), Decimal("0.00"))

    @property
    def taken(self) -> Decimal:
        """Net amount approved or delivered: what a new quote is compared with."""
        return sum((i.signed_amount for i in self.items if i.status in TAKEN), Decimal("0.00"))

    @property
    def pending(self) -> tuple[ProposalItem, ...]:
        return tuple(i for i in self.items if i.status == "pending")

    @property
    def open(self) -> tuple[ProposalItem, ...]:
        return tuple(i for i in self.items if i.status in OPEN)


def proposals_of(history: Iterable[Mapping[str, Any]]) -> list[str]:
    """The proposal ids a quote's decisions made, oldest first, each once."""
    seen: dict[str, None] = {}
    for row in history:
        for key in ("proposal", "repayment"):
            pid = row["payload"].get(key)
            if pid:
                seen.setdefault(pid, None)
    return list(seen)


def settle(proposal_ids: Iterable[str], proposals: Mapping[str, Mapping[str, Any]]) -> Settlement:
    return Settlement(tuple(ProposalItem.from_row(proposals[pid])
                            for pid in proposal_ids if pid in proposals))
