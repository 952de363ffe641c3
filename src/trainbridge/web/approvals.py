"""Four eyes on large sums: a proposal above the configured amount needs two different approvers.

The first approval is kept in the console's own table (``tb_web_first_approvals``) and the
audit log; the proposal stays pending until a second, different person approves, and only
then does it go through :func:`trainbridge.core.runner.approve_proposals` (outbox, delivery).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trainbridge.core.ledger import now_utc
from trainbridge.core.runner import Workspace, approve_proposals
from trainbridge.web.accounts import web_metadata

first_approvals_table = sa.Table(
    "tb_web_first_approvals", web_metadata,
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("proposal_id", sa.String(255), nullable=False),
    sa.Column("approver", sa.String(128), nullable=False),
    sa.Column("reason", sa.Text, nullable=False, default=""),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("tenant", "proposal_id"),
)


def migrate_v2(conn: Connection) -> None:
    web_metadata.create_all(conn, tables=[first_approvals_table])


def needs_two(row: dict[str, Any], above: Decimal | None) -> bool:
    """Money (an amount with a currency; not a percentage) above the limit."""
    return (above is not None and row.get("currency") is not None and row.get("amount") is not None
            and Decimal(row["amount"]) > above)


def first_approvals(ws: Workspace) -> dict[str, dict[str, Any]]:
    t = first_approvals_table
    with ws.ledger.transaction() as conn:
        rows = conn.execute(sa.select(t).where(t.c.tenant == ws.ledger.tenant)).mappings()
        return {r["proposal_id"]: dict(r) for r in rows}


def approve(ws: Workspace, ids: Sequence[str], *, actor: str, reason: str,
            second_above: Decimal | None) -> dict[str, str]:
    """Approve ``ids``; those above ``second_above`` wait for a second approver first."""
    t = first_approvals_table
    outcome: dict[str, str] = {}
    ready: list[str] = []
    with ws.ledger.transaction() as conn:
        for pid in ids:
            row = ws.ledger.get_proposal(conn, pid)
            if row is None or row["status"] != "pending" or not needs_two(row, second_above):
                ready.append(pid)
                continue
            first = conn.execute(sa.select(t).where(t.c.tenant == ws.ledger.tenant,
                                                    t.c.proposal_id == pid)).mappings().first()
            if first is None:
                conn.execute(t.insert().values(tenant=ws.ledger.tenant, proposal_id=pid, approver=actor,
                                               reason=reason, at=now_utc()))
                ws.ledger.audit(conn, actor=actor, action="proposal.first_approval", subject=pid,
                                detail={"reason": reason, "above": str(second_above)})
                outcome[pid] = "first approval recorded; waits for a second approver"
            elif first["approver"] == actor:
                outcome[pid] = f"already approved by {actor}; waits for a second approver"
            else:
                ready.append(pid)
    if ready:
        outcome.update(approve_proposals(ws, ready, actor=actor, reason=reason))
    return {pid: outcome[pid] for pid in ids}
