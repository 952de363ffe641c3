"""Quarantine, decisions, proposals, the audit log, the outbox, sent notices and webhook events."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trainbridge.core.ledger.engine import _aware, _insert_ignore, _insert_ignore_ids, now_utc
from trainbridge.core.ledger.tables import (
    audit_table,
    decisions_table,
    notices_table,
    outbox_table,
    proposals_table,
    quarantine_table,
    webhook_events_table,
)
from trainbridge.core.records import Reject
from trainbridge.core.secrets import scrub


@dataclass(frozen=True)
class OutboxRow:
    id: str
    job: str
    operation: str
    instance: str
    idempotency_key: str
    args: dict[str, Any]
    state: str
    attempts: int
    last_error: str | None
    result: Any
    ref: str | None
    proposal_id: str | None
    created_at: datetime
    delivered_at: datetime | None
    confirmed_at: datetime | None = None
    status_detail: str | None = None
    next_attempt_at: datetime | None = None

class OutboxMixin:
    tenant: str

    def transaction(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def active_run_ids(self, conn: Connection) -> set[int]:
        raise NotImplementedError

    # --- quarantine ------------------------------------------------------------------

    def quarantine(self, conn: Connection, rejects: Sequence[Reject], *, run_id: int | None, job: str,
                   instance: str, hook: str) -> int:
        """Keep each reject once: one open entry per (instance, stream, record key), whatever the
        number of runs or jobs that read it again; a repeat refreshes the entry and counts it.
        Returns the number of new entries."""
        if not rejects:
            return 0
        t = quarantine_table
        now = now_utc()
        added = 0
        for reject in rejects:
            key = reject.key or _fingerprint(reject)
            row = {"reason": scrub(reject.reason), "data": scrub(reject.data), "raw": scrub(reject.raw),
                   "run_id": run_id, "last_seen_at": now}
            updated = conn.execute(sa.update(t).where(
                t.c.tenant == self.tenant, t.c.instance == instance, t.c.hook == hook,
                t.c.model == reject.model, t.c.key == key, t.c.status == "open",
            ).values(seen=t.c.seen + 1, **row)).rowcount
            if not updated:
                conn.execute(t.insert().values(tenant=self.tenant, job=job, instance=instance, hook=hook,
                                               model=reject.model, key=key, status="open", created_at=now,
                                               seen=1, **row))
                added += 1
        return added

    def resolve_quarantined(self, conn: Connection, instance: str, hook: str, keys: Sequence[str]) -> int:
        """Close the open entries of records that have since arrived valid from the same stream."""
        if not keys:
            return 0
        t = quarantine_table
        return conn.execute(sa.update(t).where(
            t.c.tenant == self.tenant, t.c.instance == instance, t.c.hook == hook, t.c.status == "open",
            t.c.key.in_(list(keys)),
        ).values(status="superseded", resolved_at=now_utc())).rowcount or 0

    def open_quarantine_keys(self, conn: Connection, instance: str, hook: str) -> set[str]:
        t = quarantine_table
        rows = conn.execute(sa.select(t.c.key).where(
            t.c.tenant == self.tenant, t.c.instance == instance, t.c.hook == hook, t.c.status == "open"))
        return {row.key for row in rows if row.key}

    def list_quarantine(self, conn: Connection, *, status: str | None = "open",
                        limit: int = 200) -> list[dict[str, Any]]:
        t = quarantine_table
        query = sa.select(t).where(t.c.tenant == self.tenant)
        if status:
            query = query.where(t.c.status == status)
        return [dict(r) for r in conn.execute(query.order_by(t.c.id).limit(limit)).mappings()]

    def get_quarantined(self, conn: Connection, qid: int) -> dict[str, Any] | None:
        t = quarantine_table
        row = conn.execute(sa.select(t).where(t.c.tenant == self.tenant, t.c.id == qid)).mappings().first()
        return dict(row) if row else None

    def set_quarantine_status(self, conn: Connection, qid: int, status: str) -> None:
        t = quarantine_table
        conn.execute(sa.update(t).where(t.c.tenant == self.tenant, t.c.id == qid).values(
            status=status, resolved_at=now_utc() if status != "open" else None))

    # --- decisions and proposals ---------------------------------------------------------

    def put_decisions(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
        from trainbridge.core.ledger.bulk import insert_ignore  # one executemany on SQLite

        return insert_ignore(conn, decisions_table, [{"tenant": self.tenant, **r} for r in rows])

    def list_decisions(self, conn: Connection, kind: str, *,
                       subject: str | None = None) -> list[dict[str, Any]]:
        t = decisions_table
        query = sa.select(t).where(t.c.tenant == self.tenant, t.c.kind == kind)
        if subject:
            query = query.where(t.c.subject == subject)
        return [dict(r) for r in conn.execute(query.order_by(t.c.created_at, t.c.id)).mappings()]

    def put_proposals(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> set[str]:
        """Insert new proposals in one statement (existing ids untouched); the ids added."""
        return _insert_ignore_ids(conn, proposals_table, [{"tenant": self.tenant, **r} for r in rows])

    def list_proposals(self, conn: Connection, *, status: str | None = None,
                       kind: str | None = None) -> list[dict[str, Any]]:
        t = proposals_table
        query = sa.select(t).where(t.c.tenant == self.tenant)
        if status:
            query = query.where(t.c.status == status)
        if kind:
            query = query.where(t.c.kind == kind)
        return [dict(r) for r in conn.execute(query.order_by(t.c.created_at, t.c.id)).mappings()]

    def get_proposal(self, conn: Connection, proposal_id: str) -> dict[str, Any] | None:
        t = proposals_table
        row = conn.execute(sa.select(t).where(t.c.tenant == self.tenant, t.c.id == proposal_id)
                           ).mappings().first()
        return dict(row) if row else None

    def decide_proposal(self, conn: Connection, proposal_id: str, *, status: str, actor: str,
                        reason: str = "") -> bool:
        """Move a pending proposal to approved/rejected; False when it was not pending."""
        t = proposals_table
        changed = conn.execute(sa.update(t).where(
            t.c.tenant == self.tenant, t.c.id == proposal_id, t.c.status == "pending",
        ).values(status=status, decided_at=now_utc(), decided_by=actor, decision_reason=reason)).rowcount
        if changed:
            self.audit(conn, actor=actor, action=f"proposal.{status}", subject=proposal_id,
                       detail={"reason": reason})
        return bool(changed)

    def audit(self, conn: Connection, *, actor: str, action: str, subject: str,
              detail: dict[str, Any] | None = None) -> None:
        conn.execute(audit_table.insert().values(tenant=self.tenant, at=now_utc(), actor=actor,
                                                 action=action, subject=subject,
                                                 detail=scrub(detail or {})))

    def list_audit(self, conn: Connection, limit: int = 200) -> list[dict[str, Any]]:
        t = audit_table
        return [dict(r) for r in conn.execute(sa.select(t).where(t.c.tenant == self.tenant)
                                              .order_by(t.c.id.desc()).limit(limit)).mappings()]

    # --- outbox ------------------------------------------------------------------------

    def enqueue(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
        now = now_utc()
        return _insert_ignore(conn, outbox_table, [
            {"tenant": self.tenant, "state": "pending", "attempts": 0, "created_at": now, **r}
            for r in rows
        ])

    def outbox(self, conn: Connection, *, job: str | None = None, states: Sequence[str] | None = None,
               operation: str | None = None, ids: Sequence[str] | None = None) -> list[OutboxRow]:
        t = outbox_table
        query = sa.select(t).where(t.c.tenant == self.tenant)
        if ids is not None:
            query = query.where(t.c.id.in_(list(ids)))
        if job:
            query = query.where(t.c.job == job)
        if states:
            query = query.where(t.c.state.in_(list(states)))
        if operation:
            query = query.where(t.c.operation == operation)
        rows = conn.execute(query.order_by(t.c.created_at, t.c.id)).mappings()
        result = []
        for r in rows:
            data: dict[str, Any] = {k: (_aware(v) if k.endswith("_at") else v) for k, v in r.items()
                                    if k not in ("tenant", "claimed_by", "run_id")}
            result.append(OutboxRow(**data))
        return result

    def claim(self, outbox_id: str, run_id: int, *, max_attempts: int) -> bool:
        """Mark one row as being delivered by ``run_id``; False if another run has it or it is done.

        A row left 'delivering' by a run that no longer holds its lock (killed) is taken over:
        the sink's idempotency on the record id makes the second delivery harmless. A failed row
        waits for its ``next_attempt_at`` (backoff). Claiming counts no attempt: only a failure
        the sink answered does (:meth:`mark_failed`), so killed deliveries never exhaust a row.
        """
        t = outbox_table
        now = now_utc()
        with self.transaction() as conn:
            live = self.active_run_ids(conn) - {run_id}
            due = t.c.next_attempt_at.is_(None) | (t.c.next_attempt_at <= now)
            # a failure the vendor reported after delivery (confirmed_at set) is HR's to retry, never ours
            retryable = (t.c.state == "failed") & t.c.confirmed_at.is_(None) & (t.c.attempts < max_attempts)
            cond = (t.c.state == "pending") | (retryable & due)
            orphan = t.c.state == "delivering"
            if live:
                orphan = orphan & (t.c.claimed_by.is_(None) | t.c.claimed_by.not_in(live))
            return bool(conn.execute(sa.update(t).where(
                t.c.tenant == self.tenant, t.c.id == outbox_id, cond | orphan,
            ).values(state="delivering", claimed_by=run_id)).rowcount)

    def mark_delivered(self, outbox_id: str, *, ref: str | None, result: Any,
                       notice: dict[str, Any] | None = None) -> None:
        with self.transaction() as conn:
            conn.execute(sa.update(outbox_table).where(
                outbox_table.c.tenant == self.tenant, outbox_table.c.id == outbox_id,
            ).values(state="delivered", ref=ref, result=scrub(result, keys=False), last_error=None,
                     delivered_at=now_utc()))
            if notice:
                _insert_ignore(conn, notices_table, [{"tenant": self.tenant, "sent_at": now_utc(), **notice}])
            self._mark_proposal(conn, outbox_id, "delivered", only_from="approved")

    def mark_failed(self, outbox_id: str, error: str, *, final: bool,
                    retry_after: timedelta | None = None) -> None:
        """An answered failure: one more attempt; ``dead`` when final, else retried after ``retry_after``."""
        t = outbox_table
        with self.transaction() as conn:
            conn.execute(sa.update(t).where(t.c.tenant == self.tenant, t.c.id == outbox_id).values(
                state="dead" if final else "failed", last_error=scrub(error), attempts=t.c.attempts + 1,
                next_attempt_at=None if final or retry_after is None else now_utc() + retry_after))

    def requeue(self, outbox_ids: Sequence[str], *, actor: str) -> list[str]:
        """Failed or dead rows back to pending, attempts from zero (audited); returns those requeued."""
        t = outbox_table
        done = []
        with self.transaction() as conn:
            for oid in outbox_ids:
                if conn.execute(sa.update(t).where(
                        t.c.tenant == self.tenant, t.c.id == oid, t.c.state.in_(("failed", "dead")),
                ).values(state="pending", attempts=0, next_attempt_at=None, confirmed_at=None)).rowcount:
                    self.audit(conn, actor=actor, action="outbox.retry", subject=oid)
                    done.append(oid)
        return done

    def abandon(self, outbox_id: str, *, actor: str, reason: str) -> bool:
        """Give up an undelivered row for good, with the reason (audited); its proposal shows it."""
        t = outbox_table
        with self.transaction() as conn:
            changed = conn.execute(sa.update(t).where(
                t.c.tenant == self.tenant, t.c.id == outbox_id,
                t.c.state.in_(("pending", "failed", "dead", "delivering")),
            ).values(state="abandoned", last_error=scrub(f"abandoned by {actor}: {reason}"))).rowcount
            if changed:
                proposal = self._mark_proposal(conn, outbox_id, "abandoned")
                self.audit(conn, actor=actor, action="outbox.abandon", subject=outbox_id,
                           detail={"reason": reason, "proposal": proposal})
        return bool(changed)

    def set_delivery_status(self, outbox_id: str, state: str, detail: str = "") -> bool:
        """What the vendor reported after delivery: ``confirmed`` (paid, processed) or ``failed``.

        A failed confirmation marks the proposal behind the row failed too, so it shows as an open
        item wherever proposals are listed; the row is never delivered again on its own
        (``trainbridge outbox retry`` or ``abandon`` decide). False when the row is not delivered.
        """
        if state not in ("confirmed", "failed"):
            msg = f"delivery state must be confirmed or failed, not {state!r}"
            raise ValueError(msg)
        t = outbox_table
        with self.transaction() as conn:
            changed = conn.execute(sa.update(t).where(
                t.c.tenant == self.tenant, t.c.id == outbox_id, t.c.state.in_(("delivered", "confirmed")),
            ).values(state=state, confirmed_at=now_utc(), status_detail=scrub(detail))).rowcount
            if changed and state == "failed":
                proposal = self._mark_proposal(conn, outbox_id, "failed")
                if proposal:
                    self.audit(conn, actor="vendor", action="delivery.failed", subject=proposal,
                               detail={"outbox": outbox_id, "detail": detail})
        return bool(changed)

    def _mark_proposal(self, conn: Connection, outbox_id: str, status: str,
                       *, only_from: str | None = None) -> str | None:
        """Give the proposal behind an outbox row ``status`` (from ``only_from`` only); its id."""
        t = outbox_table
        proposal: str | None = conn.execute(sa.select(t.c.proposal_id).where(
            t.c.tenant == self.tenant, t.c.id == outbox_id)).scalar()
        if proposal:
            p = proposals_table
            query = sa.update(p).where(p.c.tenant == self.tenant, p.c.id == proposal)
            if only_from:
                query = query.where(p.c.status == only_from)
            conn.execute(query.values(status=status))
        return proposal

    def outbox_by_ref(self, conn: Connection, instance: str, ref: str) -> OutboxRow | None:
        """The delivered row a sink answered ``ref`` for (a webhook reports on it later)."""
        t = outbox_table
        row = conn.execute(sa.select(t.c.id).where(
            t.c.tenant == self.tenant, t.c.instance == instance, t.c.ref == ref)).first()
        if row is None:
            return None
        return next(iter(self.outbox(conn, ids=[row.id])), None)

    def notices_sent(self, conn: Connection, *, related_id: str | None = None) -> list[dict[str, Any]]:
        t = notices_table
        query = sa.select(t).where(t.c.tenant == self.tenant)
        if related_id:
            query = query.where(t.c.related_id == related_id)
        return [dict(r) for r in conn.execute(query.order_by(t.c.sent_at)).mappings()]

    # --- webhooks -----------------------------------------------------------------------

    def record_webhook_event(self, conn: Connection, instance: str, event_id: str, event_type: str,
                             payload: dict[str, Any]) -> bool:
        """True the first time an event id is seen for an instance; False for a replay."""
        return bool(_insert_ignore(conn, webhook_events_table, [{
            "tenant": self.tenant, "instance": instance, "event_id": event_id,
            "event_type": event_type, "received_at": now_utc(), "payload": scrub(payload)}]))



def _fingerprint(reject: Reject) -> str:
    """A key for a reject without a vendor key: its data (the same bad row, the same key)."""
    data = json.dumps(reject.data, sort_keys=True, default=str).encode()
    return "sha256:" + hashlib.sha256(data).hexdigest()[:32]
