"""The ledger: SQLAlchemy Core tables, versioned migrations, and the queries the runner needs.

SQLite file by default, PostgreSQL by URL. Every row belongs to a tenant and every
query is scoped to the ledger's tenant, so no command or task reads another's rows.
"""

from __future__ import annotations

import functools
import json
import os
import socket
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from trainbridge.core.errors import AlreadyRunning, ConfigError
from trainbridge.core.records import Record, Reject, payload_hash, record_from_payload
from trainbridge.core.secrets import scrub

metadata = sa.MetaData()
_ts = sa.DateTime(timezone=True)


def _tenant() -> sa.Column[str]:
    return sa.Column("tenant", sa.String(64), nullable=False)


migrations_table = sa.Table(
    "tb_migrations", metadata,
    sa.Column("namespace", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("applied_at", _ts, nullable=False),
)
records_table = sa.Table(
    "tb_records", metadata, _tenant(),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("id", sa.String(255), nullable=False),
    sa.Column("source", sa.String(64), nullable=False, default=""),
    sa.Column("subject", sa.String(255), nullable=True),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("run_id", sa.Integer, nullable=True),
    sa.Column("updated_at", _ts, nullable=False),
    sa.PrimaryKeyConstraint("tenant", "kind", "id"),
    sa.Index("ix_tb_records_seq", "tenant", "kind", "seq"),
    sa.Index("ix_tb_records_subject", "tenant", "kind", "subject"),
)
counters_table = sa.Table(
    "tb_counters", metadata, _tenant(),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("value", sa.BigInteger, nullable=False),
    sa.PrimaryKeyConstraint("tenant", "name"),
)
cursors_table = sa.Table(
    "tb_cursors", metadata, _tenant(),
    sa.Column("job", sa.String(64), nullable=False),
    sa.Column("instance", sa.String(64), nullable=False),
    sa.Column("hook", sa.String(64), nullable=False),
    sa.Column("cursor", sa.Text, nullable=True),
    sa.Column("updated_at", _ts, nullable=False),
    sa.PrimaryKeyConstraint("tenant", "job", "instance", "hook"),
)
runs_table = sa.Table(
    "tb_runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _tenant(),
    sa.Column("job", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", _ts, nullable=False),
    sa.Column("finished_at", _ts, nullable=True),
    sa.Column("host", sa.String(255), nullable=False, default=""),
    sa.Column("pid", sa.Integer, nullable=True),
    sa.Column("counts", sa.JSON, nullable=False, default=dict),
    sa.Column("errors", sa.JSON, nullable=False, default=list),
    sa.Index("ix_tb_runs_job", "tenant", "job", "id"),
)
locks_table = sa.Table(
    "tb_locks", metadata, _tenant(),
    sa.Column("job", sa.String(64), nullable=False),
    sa.Column("run_id", sa.Integer, nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("acquired_at", _ts, nullable=False),
    sa.Column("heartbeat_at", _ts, nullable=False),
    sa.PrimaryKeyConstraint("tenant", "job"),
)
quarantine_table = sa.Table(
    "tb_quarantine", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _tenant(),
    sa.Column("run_id", sa.Integer, nullable=True),
    sa.Column("job", sa.String(64), nullable=False),
    sa.Column("instance", sa.String(64), nullable=False),
    sa.Column("hook", sa.String(64), nullable=False),
    sa.Column("model", sa.String(40), nullable=False),
    sa.Column("key", sa.String(255), nullable=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("raw", sa.JSON, nullable=True),
    sa.Column("status", sa.String(16), nullable=False, default="open"),
    sa.Column("created_at", _ts, nullable=False),
    sa.Column("resolved_at", _ts, nullable=True),
)
decisions_table = sa.Table(
    "tb_decisions", metadata, _tenant(),
    sa.Column("id", sa.String(255), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("subject", sa.String(255), nullable=True),
    sa.Column("job", sa.String(64), nullable=False),
    sa.Column("run_id", sa.Integer, nullable=True),
    sa.Column("amount", sa.Numeric(18, 2), nullable=True),
    sa.Column("currency", sa.String(3), nullable=True),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("explanation", sa.JSON, nullable=False),
    sa.Column("created_at", _ts, nullable=False),
    sa.PrimaryKeyConstraint("tenant", "id"),
    sa.Index("ix_tb_decisions_kind", "tenant", "kind", "subject"),
)
proposals_table = sa.Table(
    "tb_proposals", metadata, _tenant(),
    sa.Column("id", sa.String(255), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("subject", sa.String(255), nullable=True),
    sa.Column("job", sa.String(64), nullable=False),
    sa.Column("run_id", sa.Integer, nullable=True),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("amount", sa.Numeric(18, 2), nullable=True),
    sa.Column("currency", sa.String(3), nullable=True),
    sa.Column("operation", sa.String(64), nullable=False),
    sa.Column("instance", sa.String(64), nullable=True),
    sa.Column("args", sa.JSON, nullable=False),
    sa.Column("explanation", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", _ts, nullable=False),
    sa.Column("decided_at", _ts, nullable=True),
    sa.Column("decided_by", sa.String(255), nullable=True),
    sa.Column("decision_reason", sa.Text, nullable=True),
    sa.PrimaryKeyConstraint("tenant", "id"),
    sa.Index("ix_tb_proposals_status", "tenant", "status", "kind"),
)
outbox_table = sa.Table(
    "tb_outbox", metadata, _tenant(),
    sa.Column("id", sa.String(255), nullable=False),
    sa.Column("job", sa.String(64), nullable=False),
    sa.Column("operation", sa.String(64), nullable=False),
    sa.Column("instance", sa.String(64), nullable=False),
    sa.Column("idempotency_key", sa.String(255), nullable=False),
    sa.Column("args", sa.JSON, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("claimed_by", sa.Integer, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("result", sa.JSON, nullable=True),
    sa.Column("ref", sa.String(255), nullable=True),
    sa.Column("proposal_id", sa.String(255), nullable=True),
    sa.Column("run_id", sa.Integer, nullable=True),
    sa.Column("created_at", _ts, nullable=False),
    sa.Column("delivered_at", _ts, nullable=True),
    sa.PrimaryKeyConstraint("tenant", "id"),
    sa.Index("ix_tb_outbox_state", "tenant", "job", "state"),
)
notices_table = sa.Table(
    "tb_notices", metadata, _tenant(),
    sa.Column("id", sa.String(255), nullable=False),
    sa.Column("instance", sa.String(64), nullable=False),
    sa.Column("notice", sa.String(64), nullable=False),
    sa.Column("related_id", sa.String(255), nullable=True),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("sent_at", _ts, nullable=False),
    sa.PrimaryKeyConstraint("tenant", "id", "instance"),
)
job_state_table = sa.Table(
    "tb_job_state", metadata, _tenant(),
    sa.Column("job", sa.String(64), nullable=False),
    sa.Column("key", sa.String(128), nullable=False),
    sa.Column("value", sa.JSON, nullable=True),
    sa.PrimaryKeyConstraint("tenant", "job", "key"),
)
audit_table = sa.Table(
    "tb_audit", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _tenant(),
    sa.Column("at", _ts, nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("subject", sa.String(255), nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
)
webhook_events_table = sa.Table(
    "tb_webhook_events", metadata, _tenant(),
    sa.Column("instance", sa.String(64), nullable=False),
    sa.Column("event_id", sa.String(255), nullable=False),
    sa.Column("event_type", sa.String(128), nullable=False),
    sa.Column("received_at", _ts, nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.PrimaryKeyConstraint("tenant", "instance", "event_id"),
)

CORE_TABLES_V1 = [
    records_table, counters_table, cursors_table, runs_table, locks_table, quarantine_table,
    decisions_table, proposals_table, outbox_table, notices_table, job_state_table, audit_table,
    webhook_events_table,
]

Migration = Callable[[Connection], None]
CORE_MIGRATIONS: list[tuple[str, int, Migration]] = [
    ("core", 1, lambda conn: metadata.create_all(conn, tables=CORE_TABLES_V1)),
]


def now_utc() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything we store is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


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


#: What an upsert rewrites when a record's content hash changed.
_RECORD_UPDATES = ("source", "subject", "payload", "hash", "seq", "run_id", "updated_at")
_RECORDS_CONFLICT = (
    "ON CONFLICT (tenant, kind, id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _RECORD_UPDATES)
    + " WHERE tb_records.hash <> excluded.hash RETURNING (xmax = 0) AS inserted")
#: Below this many rows a PostgreSQL insert goes through SQLAlchemy's own statement.
_PG_BULK_ROWS = 20


@functools.lru_cache(maxsize=64)
def _pg_unnest_insert(table: sa.Table, columns: tuple[str, ...], conflict: str) -> str:
    """``INSERT .. SELECT FROM unnest(one array per column) .. conflict`` for PostgreSQL.

    A multi-row VALUES list of a page costs psycopg a regex pass over each of its thousands
    of placeholders (the statement is too long for psycopg's cache): most of a page's time
    (BENCHMARKS.md). One array per column makes one short statement whatever the number of
    rows, and ``%(name)b`` sends the arrays in binary, where text arrays would escape every
    element (JSON full of quotes) with a regex again.
    """
    from sqlalchemy.dialects import postgresql

    dialect = postgresql.dialect()
    arrays, values = [], []
    for name in columns:
        column = table.c[name]
        if isinstance(column.type, sa.JSON):
            arrays.append(f"CAST(%({name})b AS text[])")
            values.append(f'CAST(u."{name}" AS json)')
        else:
            arrays.append(f"CAST(%({name})b AS {column.type.compile(dialect=dialect)}[])")
            values.append(f'u."{name}"')
    quoted = ", ".join(f'"{name}"' for name in columns)
    return (f"INSERT INTO {table.name} ({quoted}) SELECT {', '.join(values)} "
            f"FROM unnest({', '.join(arrays)}) AS u({quoted}) {conflict}")


def _pg_bulk(conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]], conflict: str) -> list[Any]:
    """Execute :func:`_pg_unnest_insert` for rows that all have the same keys, 5,000 rows a
    statement (bounded arrays whatever the batch); their RETURNING rows."""
    columns = tuple(rows[0])
    statement = _pg_unnest_insert(table, columns, conflict)
    returned: list[Any] = []
    for chunk in _chunks(rows, 5000):
        params: dict[str, list[Any]] = {}
        for name in columns:
            values = [row[name] for row in chunk]
            if isinstance(table.c[name].type, sa.JSON):
                # as SQLAlchemy's JSON type binds them: None is JSON null, not SQL NULL
                values = [json.dumps(v, ensure_ascii=False) for v in values]
            params[name] = values
        returned += conn.exec_driver_sql(statement, params).all()
    return returned


def _pg_bulk_fits(conn: Connection, rows: Sequence[dict[str, Any]]) -> bool:
    if conn.dialect.name != "postgresql" or len(rows) < _PG_BULK_ROWS:
        return False
    keys = rows[0].keys()
    return all(row.keys() == keys for row in rows)


def _dialect_insert(conn: Connection, table: sa.Table) -> Any:
    """An INSERT that knows ON CONFLICT: both ledgers (SQLite, PostgreSQL) speak it."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def _insert_ignore(conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> int:
    """Insert rows whose key is absent; existing keys are left as they are. Returns rows added."""
    if not rows:
        return 0
    # One statement for the batch; rowcount is not reliable for ON CONFLICT DO NOTHING through
    # every driver, so count the RETURNING rows (only inserted rows come back).
    if _pg_bulk_fits(conn, rows):
        return len(_pg_bulk(conn, table, rows, "ON CONFLICT DO NOTHING RETURNING 1"))
    stmt = _dialect_insert(conn, table).on_conflict_do_nothing().returning(sa.literal_column("1"))
    return len(conn.execute(stmt, list(rows)).all())


class Ledger:
    """Every query the core needs, scoped to one tenant."""

    def __init__(self, url: str, tenant: str = "default", *, engine: Engine | None = None) -> None:
        self.url = url
        self.tenant = tenant
        self.engine = engine or make_engine(url)
        self._dry: Connection | None = None

    # --- lifecycle -----------------------------------------------------------------

    def migrate(self, extra: Iterable[tuple[str, int, Migration]] = ()) -> list[tuple[str, int]]:
        """Apply every migration not yet applied; safe to call on every start."""
        applied: list[tuple[str, int]] = []
        steps = sorted([*CORE_MIGRATIONS, *extra], key=lambda m: (m[0] != "core", m[0], m[1]))
        with self.engine.begin() as conn:
            metadata.create_all(conn, tables=[migrations_table])
        for namespace, version, upgrade in steps:
            with self.transaction() as conn:
                done = conn.execute(
                    sa.select(migrations_table.c.version).where(
                        migrations_table.c.namespace == namespace,
                        migrations_table.c.version == version)
                ).first()
                if done:
                    continue
                upgrade(conn)
                if _insert_ignore(conn, migrations_table, [{"namespace": namespace, "version": version,
                                                           "applied_at": now_utc()}]):
                    applied.append((namespace, version))
        return applied

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction; in a dry run, a savepoint inside the run's never-committed one."""
        if self._dry is not None:
            with self._dry.begin_nested():
                yield self._dry
            return
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def dry_run(self) -> Iterator[None]:
        """Everything inside runs in one transaction that is rolled back: nothing is written."""
        conn = self.engine.connect()
        outer = conn.begin()
        self._dry = conn
        try:
            yield
        finally:
            self._dry = None
            outer.rollback()
            conn.close()

    def dispose(self) -> None:
        self.engine.dispose()

    # --- records -------------------------------------------------------------------

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
        return record_from_payload(kind, row.payload) if row else None

    def iter_records(self, conn: Connection, kind: str, *, subject: str | None = None,
                     since_seq: int | None = None, batch: int = 2000) -> Iterator[Record]:
        """Stream records of one kind (optionally one subject, or changed after ``since_seq``)."""
        t = records_table
        last_seq = since_seq if since_seq is not None else -1
        while True:
            query = sa.select(t.c.payload, t.c.seq).where(
                t.c.tenant == self.tenant, t.c.kind == kind, t.c.seq > last_seq)
            if subject is not None:
                query = query.where(t.c.subject == subject)
            rows = conn.execute(query.order_by(t.c.seq).limit(batch)).all()
            for row in rows:
                yield record_from_payload(kind, row.payload)
            if len(rows) < batch:
                return
            last_seq = rows[-1].seq

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

    # --- cursors and job state -------------------------------------------------------

    def get_cursor(self, conn: Connection, job: str, instance: str, hook: str) -> str | None:
        t = cursors_table
        row = conn.execute(sa.select(t.c.cursor).where(
            t.c.tenant == self.tenant, t.c.job == job, t.c.instance == instance, t.c.hook == hook)).first()
        return row.cursor if row else None

    def set_cursor(self, conn: Connection, job: str, instance: str, hook: str, cursor: str | None) -> None:
        t = cursors_table
        where = ((t.c.tenant == self.tenant) & (t.c.job == job) & (t.c.instance == instance)
                 & (t.c.hook == hook))
        if conn.execute(sa.update(t).where(where).values(cursor=cursor, updated_at=now_utc())).rowcount:
            return
        _insert_ignore(conn, t, [{"tenant": self.tenant, "job": job, "instance": instance, "hook": hook,
                                  "cursor": cursor, "updated_at": now_utc()}])

    def reset_cursors(self, conn: Connection, job: str | None = None) -> int:
        t = cursors_table
        query = sa.delete(t).where(t.c.tenant == self.tenant)
        if job:
            query = query.where(t.c.job == job)
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

    # --- runs and locks --------------------------------------------------------------

    def start_run(self, job: str) -> int:
        with self.transaction() as conn:
            result = conn.execute(runs_table.insert().values(
                tenant=self.tenant, job=job, status="running", started_at=now_utc(),
                host=socket.gethostname(), pid=os.getpid(), counts={}, errors=[]))
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    def finish_run(self, run_id: int, status: str, counts: dict[str, int], errors: list[str]) -> None:
        with self.transaction() as conn:
            conn.execute(sa.update(runs_table).where(runs_table.c.id == run_id).values(
                status=status, finished_at=now_utc(), counts=counts, errors=[scrub(e) for e in errors]))

    def list_runs(self, conn: Connection, *, job: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        t = runs_table
        query = sa.select(t).where(t.c.tenant == self.tenant)
        if job:
            query = query.where(t.c.job == job)
        rows = conn.execute(query.order_by(t.c.id.desc()).limit(limit)).mappings().all()
        result = []
        for row in rows:
            item = dict(row)
            item["started_at"] = _aware(item["started_at"])
            item["finished_at"] = _aware(item["finished_at"])
            result.append(item)
        return result

    def acquire_lock(self, job: str, run_id: int, *, stale_after: timedelta) -> None:
        """Take the (tenant, job) lock or raise AlreadyRunning; a dead holder's lock is taken over."""
        t = locks_table
        now = now_utc()
        row = {"tenant": self.tenant, "job": job, "run_id": run_id, "host": socket.gethostname(),
               "pid": os.getpid(), "acquired_at": now, "heartbeat_at": now}
        with self.transaction() as conn:
            if _insert_ignore(conn, t, [row]):
                return
            held = conn.execute(sa.select(t).where(t.c.tenant == self.tenant, t.c.job == job)).first()
            if held is None:
                if _insert_ignore(conn, t, [row]):
                    return
                held = conn.execute(sa.select(t).where(t.c.tenant == self.tenant,
                                                       t.c.job == job)).first()
            assert held is not None
            if not _holder_is_dead(held, now, stale_after):
                msg = (f"job {job!r} of tenant {self.tenant!r} is already running "
                       f"(run {held.run_id}, pid {held.pid} on {held.host})")
                raise AlreadyRunning(msg, hint="wait for it to finish; a killed run's lock is taken "
                                                "over automatically once its process is gone")
            taken = conn.execute(sa.update(t).where(
                t.c.tenant == self.tenant, t.c.job == job, t.c.run_id == held.run_id,
            ).values(**{k: v for k, v in row.items() if k not in ("tenant", "job")})).rowcount
            if not taken:
                msg = f"job {job!r} of tenant {self.tenant!r} was just taken by another run"
                raise AlreadyRunning(msg, hint="wait for it to finish")
            conn.execute(sa.update(runs_table).where(
                runs_table.c.id == held.run_id, runs_table.c.status == "running",
            ).values(status="abandoned", finished_at=now))

    def heartbeat(self, job: str, run_id: int) -> None:
        with self.transaction() as conn:
            conn.execute(sa.update(locks_table).where(
                locks_table.c.tenant == self.tenant, locks_table.c.job == job,
                locks_table.c.run_id == run_id).values(heartbeat_at=now_utc()))

    def release_lock(self, job: str, run_id: int) -> None:
        with self.transaction() as conn:
            conn.execute(sa.delete(locks_table).where(
                locks_table.c.tenant == self.tenant, locks_table.c.job == job,
                locks_table.c.run_id == run_id))

    def active_run_ids(self, conn: Connection) -> set[int]:
        rows = conn.execute(sa.select(locks_table.c.run_id).where(locks_table.c.tenant == self.tenant))
        return {int(r.run_id) for r in rows}

    # --- quarantine ------------------------------------------------------------------

    def quarantine(self, conn: Connection, rejects: Sequence[Reject], *, run_id: int | None, job: str,
                   instance: str, hook: str) -> int:
        if not rejects:
            return 0
        now = now_utc()
        conn.execute(quarantine_table.insert(), [
            {"tenant": self.tenant, "run_id": run_id, "job": job, "instance": instance, "hook": hook,
             "model": r.model, "key": r.key, "reason": scrub(r.reason), "data": scrub(r.data),
             "raw": scrub(r.raw), "status": "open", "created_at": now} for r in rejects
        ])
        return len(rejects)

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
        return _insert_ignore(conn, decisions_table, [{"tenant": self.tenant, **r} for r in rows])

    def list_decisions(self, conn: Connection, kind: str, *,
                       subject: str | None = None) -> list[dict[str, Any]]:
        t = decisions_table
        query = sa.select(t).where(t.c.tenant == self.tenant, t.c.kind == kind)
        if subject:
            query = query.where(t.c.subject == subject)
        return [dict(r) for r in conn.execute(query.order_by(t.c.created_at, t.c.id)).mappings()]

    def put_proposals(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
        return _insert_ignore(conn, proposals_table, [{"tenant": self.tenant, **r} for r in rows])

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
               operation: str | None = None) -> list[OutboxRow]:
        t = outbox_table
        query = sa.select(t).where(t.c.tenant == self.tenant)
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
        the sink's idempotency on the record id makes the second delivery harmless.
        """
        t = outbox_table
        with self.transaction() as conn:
            live = self.active_run_ids(conn) - {run_id}
            cond = (t.c.state == "pending") | ((t.c.state == "failed") & (t.c.attempts < max_attempts))
            orphan = t.c.state == "delivering"
            if live:
                orphan = orphan & (t.c.claimed_by.is_(None) | t.c.claimed_by.not_in(live))
            return bool(conn.execute(sa.update(t).where(
                t.c.tenant == self.tenant, t.c.id == outbox_id, cond | orphan,
            ).values(state="delivering", claimed_by=run_id, attempts=t.c.attempts + 1)).rowcount)

    def mark_delivered(self, outbox_id: str, *, ref: str | None, result: Any,
                       notice: dict[str, Any] | None = None) -> None:
        with self.transaction() as conn:
            conn.execute(sa.update(outbox_table).where(
                outbox_table.c.tenant == self.tenant, outbox_table.c.id == outbox_id,
            ).values(state="delivered", ref=ref, result=scrub(result, keys=False), last_error=None,
                     delivered_at=now_utc()))
            if notice:
                _insert_ignore(conn, notices_table, [{"tenant": self.tenant, "sent_at": now_utc(), **notice}])
            proposal = conn.execute(sa.select(outbox_table.c.proposal_id).where(
                outbox_table.c.tenant == self.tenant, outbox_table.c.id == outbox_id)).scalar()
            if proposal:
                conn.execute(sa.update(proposals_table).where(
                    proposals_table.c.tenant == self.tenant, proposals_table.c.id == proposal,
                    proposals_table.c.status == "approved").values(status="delivered"))

    def mark_failed(self, outbox_id: str, error: str, *, final: bool) -> None:
        with self.transaction() as conn:
            conn.execute(sa.update(outbox_table).where(
                outbox_table.c.tenant == self.tenant, outbox_table.c.id == outbox_id,
            ).values(state="dead" if final else "failed", last_error=scrub(error)))

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


def _holder_is_dead(held: Any, now: datetime, stale_after: timedelta) -> bool:
    heartbeat = _aware(held.heartbeat_at)
    if heartbeat is not None and now - heartbeat > stale_after:
        return True
    if held.host == socket.gethostname():
        try:
            os.kill(int(held.pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
    return False


def _subject(record: Record) -> str | None:
    value = getattr(record, "employee_id", None)
    return str(value) if value else None


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets readers (reports, the console) work while a sync writes.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
            # pysqlite's own transaction handling breaks SAVEPOINT (dry runs); we BEGIN ourselves.
            dbapi_conn.isolation_level = None

        @sa.event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            # IMMEDIATE takes the write lock up front, so two writers queue on busy_timeout
            # instead of failing when a reader upgrades to a writer.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if url.startswith("postgresql"):
        try:
            return sa.create_engine(url, pool_pre_ping=True)
        except ModuleNotFoundError as exc:
            raise ConfigError(f"the PostgreSQL driver is not installed ({exc.name})", table="ledger",
                              key="url", hint="pip install 'trainbridge[postgres]'") from None
    raise ConfigError(f"unsupported ledger URL scheme in {url.split(':', 1)[0]!r}", table="ledger",
                      key="url", hint="use sqlite:///path/to/file.db or postgresql+psycopg://...")


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
