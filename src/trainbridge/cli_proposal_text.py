"""Proposals as HR reads them on the command line, in Chinese or English: kinds and statuses in
words (``core/words.py``), amounts as ¥17,000.00, periods and times in the tenant's zone, and the
explanation as the console's sentences (``web/explain``) from the decision with the proposal's id.

Imported only by ``proposals list --language zh`` and ``proposals show`` (it loads the console's
sentence modules, not Starlette).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from trainbridge.core.ledger import decisions_table
from trainbridge.core.localtime import tenant_zone
from trainbridge.core.records import Employee
from trainbridge.core.runner import Workspace
from trainbridge.web.local import Local

CHUNK = 500

LABELS = {
    "zh": {"kind": "类型", "status": "状态", "employee": "员工", "amount": "金额", "period": "期间",
           "created": "提出时间", "decided": "决定", "why": "说明", "basis": "依据", "deliveries": "投递",
           "none": "没有提案", "attempts": "次尝试", "error": "错误", "summary": "摘要"},
    "en": {"kind": "kind", "status": "status", "employee": "employee", "amount": "amount", "period": "period",
           "created": "proposed", "decided": "decided", "why": "why", "basis": "basis",
           "deliveries": "deliveries", "none": "no proposals", "attempts": "attempt(s)", "error": "error",
           "summary": "summary"},
}


def local(ws: Workspace, language: str) -> Local:
    return Local(language, tenant_zone(ws.settings))


def same_id_decisions(ws: Workspace, conn: Any, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The decisions whose id is a proposal's (incentives and refunds write one), by id."""
    t = decisions_table
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), CHUNK):
        query = sa.select(t).where(t.c.tenant == ws.ledger.tenant, t.c.id.in_(list(ids[start:start + CHUNK])))
        found.update({r["id"]: dict(r) for r in conn.execute(query).mappings()})
    return found


def decision_of(ws: Workspace, conn: Any, row: dict[str, Any],
                known: dict[str, dict[str, Any]] | None = None) -> dict[str, Any] | None:
    """The decision behind a proposal: the one with its id (from ``known`` when given), else the one
    whose payload names it (a refund's quote), as the console finds it."""
    from trainbridge.web.proposal_info import decision_for

    if known is not None and row["id"] in known:
        return known[row["id"]]
    return decision_for(ws, conn, row)


def explanation_items(decision: dict[str, Any] | None) -> list[dict[str, Any]]:
    items = ((decision or {}).get("payload") or {}).get("explanation_items") or []
    return [i for i in items if isinstance(i, dict)]


def names(ws: Workspace, conn: Any) -> dict[str, str]:
    return {e.employee_id: e.name for e in ws.ledger.iter_records(conn, "employee")
            if isinstance(e, Employee) and e.name}


def _who(row: dict[str, Any], people: dict[str, str], loc: Local) -> str:
    subject = str(row.get("subject") or "")
    name = people.get(subject, "")
    if name and subject:
        return f"{name}（{subject}）" if loc.zh else f"{name} ({subject})"
    return subject


def sentences(row: dict[str, Any], decision: dict[str, Any] | None, loc: Local) -> list[tuple[str, str]]:
    """(sentence, article) of each explanation item; the job's own lines when it has no items."""
    from trainbridge.web.proposal_info import explanation

    said = explanation(row, decision, loc)
    if said["items"]:
        return [(i["text"], i["article"]) for i in said["items"]]
    return [(str(line), "") for line in said["lines"]]


def list_lines(ws: Workspace, conn: Any, rows: list[dict[str, Any]], language: str) -> list[str]:
    """One line per proposal: id, status and kind in words, who, amount, period, the first sentence."""
    from trainbridge.web.proposal_info import headline

    loc = local(ws, language)
    people = names(ws, conn)
    decisions = same_id_decisions(ws, conn, [r["id"] for r in rows])
    out = []
    for row in rows:
        head = headline(row, people.get(str(row.get("subject") or ""), ""), loc)
        said = sentences(row, decision_of(ws, conn, row, decisions), loc) if loc.zh else []
        first = said[0][0] if said and loc.zh else str(row.get("summary") or "")
        parts = [head["kind"], _who(row, people, loc), head["amount"], head["period"]]
        colon = "：" if loc.zh else ": "
        out.append(f"{row['id']} [{head['status']}] {' '.join(p for p in parts if p)}{colon}{first}")
    if not rows:
        out.append(LABELS[language]["none"])
    return out


def show_lines(ws: Workspace, conn: Any, row: dict[str, Any], deliveries: list[Any],
               language: str) -> list[str]:
    """One proposal for a person: what, who, how much, why (with its legal basis), and its deliveries."""
    from trainbridge.web.proposal_info import headline

    loc = local(ws, language)
    words = LABELS[language]
    people = names(ws, conn)
    decision = decision_of(ws, conn, row)
    head = headline(row, people.get(str(row.get("subject") or ""), ""), loc)
    sep = "：" if loc.zh else ": "
    lines = [row["id"], f"  {words['kind']}{sep}{head['kind']}", f"  {words['status']}{sep}{head['status']}"]
    if row.get("subject"):
        lines.append(f"  {words['employee']}{sep}{_who(row, people, loc)}")
    if head["amount"]:
        lines.append(f"  {words['amount']}{sep}{head['amount']}")
    if head["period"]:
        lines.append(f"  {words['period']}{sep}{head['period']}")
    lines.append(f"  {words['created']}{sep}{loc.when(row.get('created_at'))}")
    if row.get("decided_at"):
        by = f" {row['decided_by']}" if row.get("decided_by") else ""
        reason = f"（{row['decision_reason']}）" if loc.zh and row.get("decision_reason") else \
            f" ({row['decision_reason']})" if row.get("decision_reason") else ""
        lines.append(f"  {words['decided']}{sep}{loc.when(row['decided_at'])}{by}{reason}")
    if not loc.zh:
        lines.append(f"  {words['summary']}{sep}{row.get('summary') or ''}")
    said = sentences(row, decision, loc)
    if said:
        lines.append(f"  {words['why']}{sep.rstrip()}")
        for text, basis in said:
            lines.append(f"    - {text}")
            if basis:
                lines.append(f"      {words['basis']}{sep}{basis}")
    if deliveries:
        lines.append(f"  {words['deliveries']}{sep.rstrip()}")
        for d in deliveries:
            error = f" {words['error']}{sep}{d.last_error}" if d.last_error else ""
            lines.append(f"    - {d.id} → {d.instance} [{loc.word('status', d.state)}, {d.attempts} "
                         f"{words['attempts']}]{error}")
    return lines
