"""Records (upserted by content hash), source cursors and job state."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Connection

from trainbridge.core.ledger.engine import _chunks, _insert_ignore, _pg_unnest_insert, now_utc
from trainbridge.core.ledger.tables import (
    counters_table,
    job_state_table,
    records_table,
    source_cursors_table,
)
from trainbridge.core.records import RECORD_TYPES, Record, record_from_payload, validation_reason

log = logging.getLogger("trainbridge.ledger")
#: What an upsert rewrites when a record's content hash changed.
_RECORD_UPDATES = ("source", "subject", "payload", "hash", "seq", "run_id", "updated_at")
_RECORDS_CONFLICT = (
    "ON CONFLICT (tenant, kind, id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _RECORD_UPDATES)
    + " WHERE tb_records.hash <> excluded.hash RETURNING (xmax = 0) AS inserted")
_RECORD_COLUMNS = ("tenant", "kind", "id", "source", "subject", "payload", "hash", "seq", "run_id",
                   "updated_at")
_SQLITE_UPSERT = (
    f"INSERT INTO tb_records ({', '.join(_RECORD_COLUMNS)}) VALUES ({', '.join('?' * len(_RECORD_COLUMNS))}) "
    + _RECORDS_CONFLICT.split(" RETURNING")[0])


class PreparedRecord(NamedTuple):
    """A record as the ledger stores it: its payload serialised once, and that text's hash."""

    kind: str
    id: str
    source: str
    subject: str | None
    payload: str
    hash: str


class UnstorableText(ValueError):
    """A record's payload holds text a ledger cannot store (NUL, or a lone surrogate)."""


def prepare_record(record: Record, *, checked: bool = False, source: str = "") -> PreparedRecord:
    """``record`` serialised once: the payload's JSON text (keys sorted) and its content hash.

    ``source`` is the instance a record without one was read from. The hash is
    :func:`payload_hash`'s (sha256 of the same text), so ledgers written before keep their
    hashes. Raises :class:`UnstorableText` when the text holds NUL (JSON writes it
    as ``\\u0000``; PostgreSQL refuses it) or a lone surrogate (not UTF-8): one substring
    search and the UTF-8 encoding the hash needs anyway, not a walk over every field. A payload
    whose text merely spells a backslash before ``u0000`` is told apart by the caller's walk,
    which passes ``checked`` for the records it found storable.
    """
    # model_dump(mode="json") is this very call (its defaults), less a Python frame and its arguments
    payload = record.__pydantic_serializer__.to_python(record, mode="json")
    if source and not record.source:  # the instance it was read from (no copy of the model)
        payload["source"] = source
    text = _sorted_json(payload)
    try:
        data = text.encode()
    except UnicodeEncodeError:
        raise UnstorableText(record.id) from None
    if "\\u0000" in text and not checked:
        raise UnstorableText(record.id)
    return PreparedRecord(record.kind, record.id, payload["source"], _subject(record), text,
                          hashlib.sha256(data).hexdigest())


#: ``json.dumps(payload, sort_keys=True, ensure_ascii=False)``'s encoder (default separators), made
#: once: ``json.dumps`` builds a JSONEncoder, and ``encode`` the C encoder, at every call, more than half
#: of the time a record's text took. The same C encoder, so the same text, byte for byte (the
#: ledger's content hashes depend on it); no circular check, as a dumped model is a tree.
_SORTED_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False)
_C_MAKE_ENCODER: Any = getattr(json.encoder, "c_make_encoder", None)
_C_SORTED_JSON = None if _C_MAKE_ENCODER is None else _C_MAKE_ENCODER(
    None, _SORTED_JSON.default, json.encoder.encode_basestring, None, _SORTED_JSON.key_separator,
    _SORTED_JSON.item_separator, True, False, True)


def _sorted_json(payload: dict[str, Any]) -> str:
    """``json.dumps(payload, sort_keys=True, ensure_ascii=False)``, the text of :func:`prepare_record`."""
    if _C_SORTED_JSON is None:  # pragma: no cover - CPython has the C encoder
        return _SORTED_JSON.encode(payload)
    return "".join(_C_SORTED_JSON(payload, 0))


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

        An unchanged record (same content hash) is not rewritten and keeps its sequence
        number; a record a concurrent run inserted first is updated, not lost.
        """
        # callers check what they store (ingestion and webhooks through ingest.storable): a NUL
        # reaches the ledger as it did before, and PostgreSQL refuses it
        return self.upsert_prepared(conn, [prepare_record(r, checked=True) for r in records], run_id=run_id)

    def upsert_prepared(self, conn: Connection, records: Sequence[PreparedRecord], *,
                        run_id: int | None = None) -> tuple[int, int, int]:
        """:meth:`upsert_records` for records already serialised once (:func:`prepare_record`):
        the payload text is stored as it is and its hash compared, never dumped again."""
        if not records:
            return (0, 0, 0)
        latest: dict[tuple[str, str], PreparedRecord] = {(r.kind, r.id): r for r in records}
        if conn.dialect.name == "postgresql":
            inserted, written = self._upsert_postgres(conn, list(latest.values()), run_id)
        else:
            inserted, written = self._upsert_sqlite(conn, list(latest.values()), run_id)
        return (inserted, written - inserted, len(latest) - written)

    def _upsert_sqlite(self, conn: Connection, records: list[PreparedRecord],
                       run_id: int | None) -> tuple[int, int]:
        """(inserted, written) for SQLite: one read of the page's (id, hash), then one
        executemany of the new and changed rows in the page's transaction.

        The transaction holds SQLite's write lock from its start (``BEGIN IMMEDIATE``), so
        no other writer can insert between the read and the write.
        """
        stored: dict[tuple[str, str], str] = {}
        by_kind: dict[str, list[str]] = {}
        for r in records:
            by_kind.setdefault(r.kind, []).append(r.id)
        cursor = conn.connection.cursor()
        try:
            for kind, ids in by_kind.items():
                for chunk in _chunks(ids, 900):
                    marks = ",".join("?" * len(chunk))
                    cursor.execute(f"SELECT id, hash FROM tb_records WHERE tenant = ? AND kind = ? "
                                   f"AND id IN ({marks})", (self.tenant, kind, *chunk))
                    stored.update(((kind, rid), digest) for rid, digest in cursor.fetchall())
            todo = [r for r in records if stored.get((r.kind, r.id)) != r.hash]
            if not todo:
                return 0, 0
            first = self._next_seq(conn, len(todo))
            now = now_utc().strftime("%Y-%m-%d %H:%M:%S.%f")  # as SQLAlchemy stores DateTime
            cursor.executemany(_SQLITE_UPSERT, [
                (self.tenant, r.kind, r.id, r.source, r.subject, r.payload, r.hash, first + i, run_id, now)
                for i, r in enumerate(todo)])
        finally:
            cursor.close()
        inserted = sum(1 for r in todo if (r.kind, r.id) not in stored)
        return inserted, len(todo)

    def _upsert_postgres(self, conn: Connection, records: list[PreparedRecord],
                         run_id: int | None) -> tuple[int, int]:
        """(inserted, written) for PostgreSQL: one ``INSERT .. SELECT FROM unnest(..) ON CONFLICT
        DO UPDATE .. WHERE the hash differs`` per 5,000 rows, arrays sent in binary; ``xmax = 0``
        tells a new row from an updated one, unchanged rows come back not at all."""
        first = self._next_seq(conn, len(records))
        now = now_utc()
        statement = _pg_unnest_insert(records_table, _RECORD_COLUMNS, _RECORDS_CONFLICT)
        inserted = written = 0
        for start in range(0, len(records), 5000):
            chunk = records[start:start + 5000]
            n = len(chunk)
            params = {"tenant": [self.tenant] * n, "kind": [r.kind for r in chunk],
                      "id": [r.id for r in chunk], "source": [r.source for r in chunk],
                      "subject": [r.subject for r in chunk], "payload": [r.payload for r in chunk],
                      "hash": [r.hash for r in chunk], "seq": list(range(first + start, first + start + n)),
                      "run_id": [run_id] * n, "updated_at": [now] * n}
            rows = conn.exec_driver_sql(statement, params).all()
            written += len(rows)
            inserted += sum(1 for row in rows if row.inserted)
        return inserted, written

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
            # the JSON text, parsed and validated by pydantic in one step (no dict in between)
            query = sa.select(t.c.id, sa.cast(t.c.payload, sa.Text).label("text"), t.c.seq, t.c.hash).where(
                t.c.tenant == self.tenant, t.c.kind == kind, t.c.seq > last_seq)
            if subject is not None:
                query = query.where(t.c.subject == subject)
            rows = conn.execute(query.order_by(t.c.seq).limit(batch)).all()
            for row in rows:
                record = _load_text(kind, row.id, row.text)
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


def _load_text(kind: str, record_id: str, text: str) -> Record | None:
    """:func:`_load` from the stored JSON text (``model_validate_json``: one step, no dict)."""
    try:
        return RECORD_TYPES[kind].model_validate_json(text)
    except ValidationError:
        return _load(kind, record_id, json.loads(text))


def _subject(record: Record) -> str | None:
    value = getattr(record, "employee_id", None)
    return str(value) if value else None
