"""What HR needs to judge a proposal: who, what, how much, what approving will do, and the evidence.

Read from the proposal row, the decision that made it (its ``explanation_items`` and
``inputs``, the record ids it was computed from) and the records those ids name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from trainbridge.core.delivery import route, write_from_proposal
from trainbridge.core.ledger import decisions_table, records_table
from trainbridge.core.runner import Workspace
from trainbridge.web.explain import render_items
from trainbridge.web.local import Local

PERIOD = re.compile(r"^\d{4}(Q[1-4]|H[12]|-\d{2})?$")


def period_of(proposal_id: str) -> str:
    """The period a proposal is for (``incentive:bonus:M001:2026Q3`` -> 2026Q3), when its id names one."""
    return next((part for part in reversed(proposal_id.split(":")) if PERIOD.match(part)), "")


def written(row: dict[str, Any]) -> dict[str, Any]:
    """The record the proposal would write (adjustment, training result or notice), as stored."""
    for value in (row.get("args") or {}).get("args", {}).values():
        if isinstance(value, dict) and "payload" in value:
            return {"kind": value.get("__record__", ""), **value["payload"]}
    return {}


def headline(row: dict[str, Any], name: str, loc: Local,
             titles: Mapping[str, str] | None = None) -> dict[str, str]:
    """The row's main label: employee, kind, amount and period (or the program's title, from
    ``titles`` by program id, where the proposal is for a training); the id goes in a small line."""
    record = written(row)
    period = period_of(row["id"]) or str(record.get("period") or "")
    amount = ""
    if record.get("kind") == "payroll_adjustment":
        amount = loc.adjustment(record.get("amount"), record.get("unit"), record.get("currency"))
    elif row.get("amount") is not None:
        amount = loc.money(row["amount"], row.get("currency"))
    elif record.get("points") is not None:
        amount = loc.text(f"{record['points']} 分", f"{record['points']} points")
        if record.get("review_weight"):
            share = f"{float(record['review_weight']) * 100:g}%"
            amount += loc.text(f"，占绩效 {share}", f", {share} of the review")
    if record.get("program_id") and not period:
        period = (titles or {}).get(str(record["program_id"])) or str(record["program_id"])
    return {"name": name or str(row.get("subject") or ""), "kind": loc.word("kind", row["kind"]),
            "amount": amount, "period": loc.period(period), "status": loc.word("status", row["status"])}


def decision_for(ws: Workspace, conn: Any, row: dict[str, Any]) -> dict[str, Any] | None:
    """The decision behind a proposal: the one with its id, or whose payload names it."""
    t = decisions_table
    same = conn.execute(sa.select(t).where(t.c.tenant == ws.ledger.tenant, t.c.id == row["id"])
                        ).mappings().first()
    if same is not None:
        return dict(same)
    query = sa.select(t).where(t.c.tenant == ws.ledger.tenant, t.c.job == row["job"])
    if row.get("subject"):
        query = query.where(t.c.subject == row["subject"])
    for found in conn.execute(query.order_by(t.c.created_at.desc())).mappings():
        payload = found["payload"] or {}
        named = {payload.get("proposal"), payload.get("repayment"), *(payload.get("proposals") or [])}
        if row["id"] in named:
            return dict(found)
    return None


def explanation(row: dict[str, Any], decision: dict[str, Any] | None, loc: Local) -> dict[str, Any]:
    """Sentences from the structured items; the job's English lines only when there are none."""
    items = ((decision or {}).get("payload") or {}).get("explanation_items") or \
        (written(row).get("explanation_items") or [])
    if items:
        return {"items": render_items(list(items), loc), "lines": []}
    return {"items": [], "lines": list(row.get("explanation") or [])}


def target(ws: Workspace, conn: Any, row: dict[str, Any], loc: Local) -> list[dict[str, str]]:
    """Where approving writes: each connector instance, with what system it is."""
    try:
        rows = route(ws, conn, write_from_proposal(row), job=row["job"], proposal_id=row["id"])
    except Exception:  # an unroutable write shows as such; approving will say why
        return []
    out = []
    for r in rows:
        kind = str((ws.settings.connectors.get(r["instance"]) or {}).get("type", ""))
        out.append({"instance": r["instance"], "system": loc.word("connector", kind)})
    return out


def evidence(ws: Workspace, conn: Any, row: dict[str, Any],
             decision: dict[str, Any] | None) -> dict[str, list[Any]]:
    """The records the decision was computed from, by kind; for points-based kinds, the period's entries."""
    ids = sorted((decision or {}).get("inputs") or {})
    t = records_table
    found: dict[str, list[Any]] = {}
    if ids:
        query = sa.select(t.c.kind, t.c.id, t.c.payload).where(t.c.tenant == ws.ledger.tenant,
                                                                t.c.id.in_(ids))
        for r in conn.execute(query).mappings():
            found.setdefault(r["kind"], []).append({"id": r["id"], **(r["payload"] or {})})
    period = period_of(row["id"])
    if "points_entry" not in found and row.get("subject") and period and row["job"] == "incentives":
        from datetime import date

        from trainbridge.core.localtime import tenant_today
        from trainbridge.rules.leaderboard import period_bounds

        bounds: tuple[date, date] | None
        try:
            bounds = period_bounds(period, tenant_today(ws.settings))
        except ValueError:
            bounds = None
        query = sa.select(t.c.id, t.c.payload).where(
            t.c.tenant == ws.ledger.tenant, t.c.kind == "points_entry", t.c.subject == row["subject"])
        entries = [{"id": r["id"], **r["payload"]} for r in conn.execute(query).mappings()]
        if bounds is not None:
            first, last = (d.isoformat() for d in bounds)
            entries = [e for e in entries if first <= str(e.get("earned_on", "")) <= last]
        if entries:
            found["points_entry"] = sorted(entries, key=lambda e: str(e.get("earned_on", "")))
    return found
