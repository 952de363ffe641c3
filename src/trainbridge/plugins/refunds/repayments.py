"""Repayment requests followed until settled or waived (``trainbridge refund repayments|settle|waive``).

A repayment request (kind ``repayment_request``, see :mod:`.collection`) asks a leaver to pay
back what payroll may not deduct. HR records what the employee paid and when
(``refund settle``) or that the company gives the rest up (``refund waive``). Each is a ledger
decision (``repayment_payment`` / ``repayment_waiver``) and an audit entry; the same payment
recorded twice (same request, day, amount and reference) is one payment. A partly paid
request stays open with the remainder. A waived request still counts as claimed for the
quote (the separations job does not ask it again): waiving is HR's decision to forgo it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from trainbridge.core.errors import TrainbridgeError
from trainbridge.core.ledger.engine import now_utc
from trainbridge.core.money import whole_cents
from trainbridge.plugins.refunds.settlement import REPAYMENT
from trainbridge.rules.refunds import money

PAYMENT = "repayment_payment"
WAIVER = "repayment_waiver"
ZERO = Decimal("0.00")

LABELS = {
    "zh": {"id": "编号", "employee": "员工", "amount": "应还", "paid": "已还", "open": "未还",
           "status": "状态",
           "none": "没有还款请求。", "open_s": "未结清", "settled": "已结清", "waived": "已免除",
           "pending": "待HR批准", "rejected": "已驳回"},
    "en": {"id": "id", "employee": "employee", "amount": "asked", "paid": "paid", "open": "open",
           "status": "status", "none": "No repayment requests.", "open_s": "open", "settled": "settled",
           "waived": "waived", "pending": "pending HR approval", "rejected": "rejected"},
}


class RepaymentError(TrainbridgeError):
    """A settle or waive that cannot be recorded (unknown id, too much, already closed)."""

    exit_code = 2


@dataclass(frozen=True)
class Repayment:
    """One repayment request as it stands: asked, paid, waived, what is still open."""

    id: str
    employee_id: str
    amount: Decimal
    currency: str
    proposal_status: str
    paid: Decimal
    waived: str | None
    payments: tuple[dict[str, Any], ...]

    @property
    def remaining(self) -> Decimal:
        """What is still open: nothing once HR waived the rest."""
        return ZERO if self.waived is not None else max(self.amount - self.paid, ZERO)

    @property
    def waived_amount(self) -> Decimal:
        """What HR gave up: what was open when it waived."""
        return max(self.amount - self.paid, ZERO) if self.waived is not None else ZERO

    @property
    def status(self) -> str:
        """``settled``, ``waived``, ``open``, or the proposal's own state before it was sent."""
        if self.proposal_status in ("pending", "rejected"):
            return self.proposal_status
        if self.waived is not None:
            return "waived"
        return "settled" if self.remaining == 0 else "open"

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "employee_id": self.employee_id, "amount": money(self.amount),
                "currency": self.currency, "paid": money(self.paid), "remaining": money(self.remaining),
                "waived_amount": money(self.waived_amount), "status": self.status, "waived": self.waived,
                "payments": list(self.payments)}


def repayments(ws: Any, *, employee_id: str | None = None) -> list[Repayment]:
    """Every repayment request (or one employee's) with its payments and waiver."""
    with ws.ledger.transaction() as conn:
        requests = [p for p in ws.ledger.list_proposals(conn, kind=REPAYMENT)
                    if employee_id is None or p["subject"] == employee_id]
        payments = ws.ledger.list_decisions(conn, PAYMENT)
        waivers = ws.ledger.list_decisions(conn, WAIVER)
    return [_state(row, payments, waivers) for row in requests]


def _state(row: dict[str, Any], payments: list[dict[str, Any]], waivers: list[dict[str, Any]]) -> Repayment:
    mine = tuple(d["payload"] for d in payments if d["payload"].get("request") == row["id"])
    waiver = next((d["payload"].get("reason", "") for d in waivers
                   if d["payload"].get("request") == row["id"]), None)
    return Repayment(id=row["id"], employee_id=row["subject"] or "", amount=Decimal(row["amount"]),
                     currency=row["currency"] or "", proposal_status=row["status"],
                     paid=sum((Decimal(p["amount"]) for p in mine), ZERO), waived=waiver, payments=mine)


def _one(ws: Any, request_id: str) -> Repayment:
    with ws.ledger.transaction() as conn:
        row = ws.ledger.get_proposal(conn, request_id)
        if row is None or row["kind"] != REPAYMENT:
            known = [p["id"] for p in ws.ledger.list_proposals(conn, kind=REPAYMENT)]
            hint = f"known: {', '.join(known[:5])}" if known else "there are no repayment requests yet"
            msg = f"{request_id} is not a repayment request in the ledger ({hint})"
            raise RepaymentError(msg, hint="list them with `trainbridge refund repayments`")
        payments = ws.ledger.list_decisions(conn, PAYMENT, subject=row["subject"])
        waivers = ws.ledger.list_decisions(conn, WAIVER, subject=row["subject"])
    return _state(row, payments, waivers)


def settle_repayment(ws: Any, request_id: str, amount: Decimal, on: date, *, actor: str,
                     reference: str = "") -> tuple[Repayment, bool]:
    """Record that the employee paid ``amount`` on ``on``; (the request now, whether it was new).

    The same payment recorded again changes nothing; more than what is open is refused.
    """
    request = _one(ws, request_id)
    if request.proposal_status == "rejected":
        msg = f"{request_id} was rejected (superseded or refused): nothing is owed under it"
        raise RepaymentError(msg, hint="see `trainbridge refund repayments` for the request that replaced it")
    if request.waived is not None:
        msg = (f"{request_id} was waived by HR ({request.waived}): nothing is open on it, so no payment is "
               "recorded against it")
        raise RepaymentError(msg, hint="a payment the employee made anyway is a matter for HR and finance, "
                                       "outside this request")
    if not amount.is_finite() or amount <= 0:
        raise RepaymentError(f"the amount paid must be more than 0, got {amount}",
                             hint="give what the employee paid, e.g. --amount 300.00")
    try:
        amount = whole_cents(amount)
    except ValueError:
        msg = f"the amount paid {amount} has more than 2 decimals: money is in whole cents, never rounded"
        raise RepaymentError(msg, hint="give the amount as the bank statement shows it, e.g. 300.00") \
            from None
    pid = f"{PAYMENT}:{request_id}:{on.isoformat()}:{money(amount)}" + (f":{reference}" if reference else "")
    if any(p.get("id") == pid for p in request.payments):
        return request, False
    if amount > request.remaining:
        msg = (f"{money(amount)} {request.currency} is more than the {money(request.remaining)} "
               f"{request.currency} still open on {request_id}")
        raise RepaymentError(msg, hint="record what was paid towards this request only")
    payload = {"id": pid, "request": request_id, "amount": money(amount), "currency": request.currency,
               "paid_on": on.isoformat(), "reference": reference, "by": actor}
    remaining = request.remaining - amount
    text = (f"{request.employee_id} paid {money(amount)} {request.currency} on {on} towards {request_id}"
            f"{' (ref ' + reference + ')' if reference else ''}; "
            + (f"{money(remaining)} {request.currency} remains open." if remaining else "settled in full."))
    _record(ws, pid, PAYMENT, request, amount, payload, text, actor, "repayment.settled")
    return _one(ws, request_id), True


def waive_repayment(ws: Any, request_id: str, reason: str, *, actor: str) -> tuple[Repayment, bool]:
    """Record that HR gives up what is still open; (the request now, whether it was new)."""
    request = _one(ws, request_id)
    if not reason.strip():
        raise RepaymentError("a waiver needs its reason (--reason)")
    if request.waived is not None:
        return request, False
    if request.status == "settled":
        raise RepaymentError(f"{request_id} is already settled in full: nothing is left to waive")
    if request.proposal_status == "rejected":
        raise RepaymentError(f"{request_id} was rejected (superseded or refused): nothing is owed under it")
    wid = f"{WAIVER}:{request_id}"
    payload = {"id": wid, "request": request_id, "amount": money(request.remaining),
               "currency": request.currency, "reason": reason, "by": actor}
    text = (f"HR ({actor}) waived the {money(request.remaining)} {request.currency} still open on "
            f"{request_id}: {reason}")
    _record(ws, wid, WAIVER, request, request.remaining, payload, text, actor, "repayment.waived")
    return _one(ws, request_id), True


def _record(ws: Any, decision_id: str, kind: str, request: Repayment, amount: Decimal,
            payload: dict[str, Any], text: str, actor: str, action: str) -> None:
    with ws.ledger.transaction() as conn:
        added = ws.ledger.put_decisions(conn, [{
            "id": decision_id, "kind": kind, "subject": request.employee_id, "job": "cli:refund",
            "run_id": None, "amount": amount, "currency": request.currency, "payload": payload,
            "explanation": [text], "created_at": now_utc(), "inputs": None}])
        if added:
            ws.ledger.audit(conn, actor=actor, action=action, subject=request.id, detail=payload)


def render(items: list[Repayment], language: str) -> list[str]:
    """The list as text, in Chinese or English."""
    words = LABELS[language]
    if not items:
        return [words["none"]]
    status = {"open": words["open_s"], "settled": words["settled"], "waived": words["waived"],
              "pending": words["pending"], "rejected": words["rejected"]}
    rows = [(words["id"], words["employee"], words["amount"], words["paid"], words["open"], words["status"])]
    rows += [(r.id, r.employee_id, f"{money(r.amount)} {r.currency}", money(r.paid), money(r.remaining),
              status.get(r.status, r.status)) for r in items]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
