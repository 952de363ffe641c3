"""``tb_approval_links``: one row per proposal sent to an approval channel.

``status`` is where the instance stands: ``sending`` (row written, vendor not yet answered;
a crash here is recovered by looking the instance up by its key), ``open``, ``withdrawn``
(we cancelled it: the proposal was decided elsewhere), ``closed`` (the vendor closed it
undecided), ``approved`` / ``rejected`` / ``ignored`` (its verdict applied, or not, and why).
``outcome`` is the vendor's verdict as it arrived; ``applied_at`` is set once it was applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trainbridge.core.ledger import Ledger, approval_links_table, now_utc
from trainbridge.core.ledger.engine import _insert_ignore

OPEN = ("sending", "open")


def get_link(ledger: Ledger, conn: Connection, proposal_id: str) -> dict[str, Any] | None:
    t = approval_links_table
    row = (
        conn.execute(sa.select(t).where(t.c.tenant == ledger.tenant, t.c.proposal_id == proposal_id))
        .mappings()
        .first()
    )
    return dict(row) if row else None


def find_link(
    ledger: Ledger, conn: Connection, instance: str, ref: str, key: str = ""
) -> dict[str, Any] | None:
    """The link of a vendor instance, by the vendor's id or by our key (its uuid)."""
    t = approval_links_table
    conditions = [sa.and_(t.c.instance == instance, t.c.ref == ref)] if ref else []
    if key:
        conditions.append(t.c.key == key)
    if not conditions:
        return None
    row = (
        conn.execute(sa.select(t).where(t.c.tenant == ledger.tenant, sa.or_(*conditions))).mappings().first()
    )
    return dict(row) if row else None


def list_links(
    ledger: Ledger,
    conn: Connection,
    *,
    statuses: Sequence[str] | None = None,
    proposal_ids: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    t = approval_links_table
    query = sa.select(t).where(t.c.tenant == ledger.tenant)
    if statuses is not None:
        query = query.where(t.c.status.in_(list(statuses)))
    if proposal_ids is not None:
        query = query.where(t.c.proposal_id.in_(list(proposal_ids)))
    return [dict(r) for r in conn.execute(query.order_by(t.c.created_at, t.c.proposal_id)).mappings()]


def unapplied(ledger: Ledger, conn: Connection) -> list[dict[str, Any]]:
    t = approval_links_table
    return [
        dict(r)
        for r in conn.execute(
            sa.select(t)
            .where(
                t.c.tenant == ledger.tenant,
                t.c.outcome.is_not(None),
                t.c.applied_at.is_(None),
            )
            .order_by(t.c.updated_at)
        ).mappings()
    ]


def add_link(
    ledger: Ledger,
    conn: Connection,
    *,
    proposal_id: str,
    instance: str,
    key: str,
    now: datetime | None = None,
) -> bool:
    at = now or now_utc()
    return bool(
        _insert_ignore(
            conn,
            approval_links_table,
            [
                {
                    "tenant": ledger.tenant,
                    "proposal_id": proposal_id,
                    "instance": instance,
                    "key": key,
                    "ref": None,
                    "status": "sending",
                    "created_at": at,
                    "updated_at": at,
                }
            ],
        )
    )


def update_link(
    ledger: Ledger, conn: Connection, proposal_id: str, *, only: dict[str, Any] | None = None, **values: Any
) -> bool:
    """Change a link; ``only`` are conditions (``status`` may be a tuple) that must still hold."""
    t = approval_links_table
    query = sa.update(t).where(t.c.tenant == ledger.tenant, t.c.proposal_id == proposal_id)
    for name, wanted in (only or {}).items():
        column = t.c[name]
        if wanted is None:
            query = query.where(column.is_(None))
        elif isinstance(wanted, tuple):
            query = query.where(column.in_(list(wanted)))
        else:
            query = query.where(column == wanted)
    return bool(conn.execute(query.values(updated_at=now_utc(), **values)).rowcount)
