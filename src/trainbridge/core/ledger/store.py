"""Records (upserted by content hash), source cursors and job state."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Connection

from trainbridge.core.ledger.engine import _chunks, _dialect_insert, _insert_ignore, _pg_bulk, now_utc
from trainbridge.core.ledger.tables import (
    counters_table,
    job_state_table,
    records_table,
    source_cursors_table,
)
from trainbridge.core.records import Record, payload_hash, record_from_payload, validation_reason

#: What an upsert rewrites when a record's content hash changed.
log = logging.getLogger("trainbridge.ledger")
_RECORD_UPDATES = ("source", "subject", "payload", "hash", "seq", "run_id", "updated_at")
_RECORDS_CONFLICT = (
    "ON CONFLICT (tenant, kind, id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _RECORD_UPDATES)
    + " WHERE tb_records.hash <> excluded.hash RETURNING (xmax = 0) AS inserted")


class RecordsMixin:
    tenant: str

    def _next_seq(self, conn: Connection, n: int) -> int:
        """Reserve ``n`` sequence numbers; returns the first. The row lock orders commits."""
        t = counters_table
        where = (t.c.tenant == self.tenant) & (t.c.name == "records")
        result = conn.execute(sa.update(t).where(where).values(value=t.c.value + n).returning(t.c.value))
        row = result.first()
        if row is None:
            _insert_ignore(conn, t, [{"tenant": self.tenant, "name": "records", "value": 0}])
            row = conn.execute(sa.update(t).where(where).values(value=t.c.value + n)
                               .returning(t.c.value)).first()
        assert row is not None
        return int(row[0]) - n + 1

    def upsert_records(self, conn: Connection, records: Sequence[Record], *,
                       run_id: int | None = None) -> tuple[int, int, int]:
        """Insert new records, update changed ones; returns (inserted, updated, unchanged).

        One INSERT .. ON CONFLICT DO UPDATE .. WHERE the hash differs for the whole batch: an
        unchanged record is not rewritten and keeps its sequence number, and a record a
        concurrent run inserted first is updated, not lost.
        """
        if not records:
            return (0, 0, 0)
        latest: dict[tuple[str, str], Record] = {(r.kind, r.id): r for r in records}
        now = now_utc()
        first = self._next_seq(conn, len(latest))
        rows = [self._record_row(record, first + i, run_id, now) for i, record in enumerate(latest.values())]
        if conn.dialect.name == "postgresql":
            inserted, written = self._upsert_postgres(conn, rows)
        else:
            inserted, written = self._upsert_sqlite(conn, rows)
        return (inserted, written - inserted, len(latest) - written)

    def _upsert_sqlite(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> tuple[int, int]:
        """(inserted, written) for SQLite, which cannot say whether a RETURNING row was inserted."""
        t = records_table
        existing: set[tuple[str, str]] = set()
        by_kind: dict[str, list[str]] = {}
        for row in rows:
            by_kind.setdefault(row["kind"], []).append(row["id"])
        for kind, ids in by_kind.items():
            for chunk in _chunks(ids, 500):
                found = conn.execute(sa.select(t.c.id).where(
                    t.c.tenant == self.tenant, t.c.kind == kind, t.c.id.in_(chunk)))
                existing.update((kind, row.id) for row in found)
        stmt = _dialect_insert(conn, t)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.tenant, t.c.kind, t.c.id],
            set_={c: getattr(stmt.excluded, c) for c in _RECORD_UPDATES},
            where=t.c.hash != stmt.excluded.hash,
        ).returning(t.c.kind, t.c.id)
        written = conn.execute(stmt, list(rows)).all()
        return sum(1 for row in written if (row.kind, row.id) not in existing), len(written)

    def _upsert_postgres(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> tuple[int, int]:
        """(inserted, written) for PostgreSQL: ``xmax = 0`` tells a new row from an updated one."""
        written = _pg_bulk(conn, records_table, rows, _RECORDS_CONFLICT)
        return sum(1 for row in written if row.inserted), len(written)

    def _record_row(self, record: Record, seq: int, run_id: int | None, now: datetime) -> dict[str, Any]:
        payload = record.payload()
        return {"tenant": self.tenant, "kind": record.kind, "id": record.id, "source": record.source,
                "subject": _subject(record), "payload": payload, "hash": payload_hash(payload), "seq": seq,
                "run_id": run_id, "updated_at": now}

    def get_record(self, conn: Connection, kind: str, record_id: str) -> Record | None:
        t = records_table
        row = conn.execute(sa.select(t.c.payload).where(
            t.c.tenant == self.tenant, t.c.kind == kind, t.c.id == record_id)).first()
        return _load(kind, record_id, row.payload) if row else None

    def iter_records(self, conn: Connection, kind: str, *, subject: str | None = None,
                     since_seq: int | None = None, batch: int = 2000,
                     with_hash: bool = False) -> Iterator[Any]:
        """Stream records of one kind (optionally one subject, or changed after ``since_seq``);
        ``with_hash`` yields ``(record, content_hash)`` pairs."""
        t = records_table
        last_seq = since_seq if since_seq is not None else -1
        while True:
            query = sa.select(t.c.id, t.c.payload, t.c.seq, t.c.hash).where(
                t.c.tenant == self.tenant, t.c.kind == kind, t.c.seq > last_seq)
            if subject is not None:
                query = query.where(t.c.subject == subject)
            rows = conn.execute(query.order_by(t.c.seq).limit(batch)).all()
            for row in rows:
                record = _load(kind, row.id, row.payload)
                if record is not None:
                    yield (record, row.hash) if with_hash else record
            if len(rows) < batch:
                return
            last_seq = rows[-1].seq

    def record_hashes(self, conn: Connection, kind: str, ids: Iterable[str]) -> dict[str, str]:
        """Content hash of each record of ``kind`` among ``ids`` that the ledger holds."""
        t = records_table
        found: dict[str, str] = {}
        for chunk in _chunks(sorted(set(ids)), 500):
            rows = conn.execute(sa.select(t.c.id, t.c.hash).where(
                t.c.tenant == self.tenant, t.c.kind == kind, t.c.id.in_(chunk)))
            found.update({row.id: row.hash for row in rows})
        return found

    def max_seq(self, conn: Connection) -> int:
        t = counters_table
        row = conn.execute(sa.select(t.c.value).where(t.c.tenant == self.tenant,
                                                        t.c.name == "records")).first()
        return int(row[0]) if row else 0

    def count_records(self, conn: Connection, kind: str | None = None) -> int:
        t = records_table
        query = sa.select(sa.func.count()).select_from(t).where(t.c.tenant == self.tenant)
        if kind:
            query = query.where(t.c.kind == kind)
        return int(conn.execute(query).scalar_one())

    def get_cursor(self, conn: Connection, instance: str, stream: str) -> str | None:
        t = source_cursors_table
        row = conn.execute(sa.select(t.c.cursor).where(
            t.c.tenant == self.tenant, t.c.instance == instance, t.c.stream == stream)).first()
        return row.cursor if row else None

    def set_cursor(self, conn: Connection, instance: str, stream: str, cursor: str | None) -> None:
        t = source_cursors_table
        where = (t.c.tenant == self.tenant) & (t.c.instance == instance) & (t.c.stream == stream)
        if conn.execute(sa.update(t).where(where).values(cursor=cursor, updated_at=now_utc())).rowcount:
            return
        _insert_ignore(conn, t, [{"tenant": self.tenant, "instance": instance, "stream": stream,
                                  "cursor": cursor, "updated_at": now_utc()}])

    def reset_cursors(self, conn: Connection, instance: str | None = None) -> int:
        """Forget the cursors (of one instance): the next sync reads those sources in full."""
        t = source_cursors_table
        query = sa.delete(t).where(t.c.tenant == self.tenant)
        if instance:
            query = query.where(t.c.instance == instance)
        return conn.execute(query).rowcount or 0

    def get_state(self, conn: Connection, job: str, key: str, default: Any = None) -> Any:
        t = job_state_table
        row = conn.execute(sa.select(t.c.value).where(
            t.c.tenant == self.tenant, t.c.job == job, t.c.key == key)).first()
        return row.value if row else default

    def set_state(self, conn: Connection, job: str, key: str, value: Any) -> None:
        t = job_state_table
        where = (t.c.tenant == self.tenant) & (t.c.job == job) & (t.c.key == key)
        if not conn.execute(sa.update(t).where(where).values(value=value)).rowcount:
            _insert_ignore(conn, t, [{"tenant": self.tenant, "job": job, "key": key, "value": value}])


_unreadable: set[tuple[str, str]] = set()


def _load(kind: str, record_id: str, payload: dict[str, Any]) -> Record | None:
    """A stored record, or None when it no longer passes the record's rules (stored by an older
    version: an amount or currency since refused). It is left in the ledger and logged once;
    the jobs go on without it rather than fail on every run."""
    try:
        return record_from_payload(kind, payload)
    except ValidationError as exc:
        if (kind, record_id) not in _unreadable:
            _unreadable.add((kind, record_id))
            log.warning("stored %s %s no longer passes validation and is left out: %s (correct it at "
                        "the source; the next read replaces it)", kind, record_id, validation_reason(exc))
        return None


def _subject(record: Record) -> str | None:
    value = getattr(record, "employee_id", None)
    return str(value) if value else None
