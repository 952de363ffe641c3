"""Engines and the bulk statements both ledgers (SQLite, PostgreSQL) share."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from trainbridge.core.errors import ConfigError


def now_utc() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything we store is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value



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


def _insert_ignore_ids(conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> set[str]:
    """As :func:`_insert_ignore`, in one statement; returns the ``id`` of each row added."""
    if not rows:
        return set()
    if _pg_bulk_fits(conn, rows):
        return {row.id for row in _pg_bulk(conn, table, rows, "ON CONFLICT DO NOTHING RETURNING id")}
    stmt = _dialect_insert(conn, table).on_conflict_do_nothing().returning(table.c.id)
    return {row.id for row in conn.execute(stmt, list(rows)).all()}



def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Password hashes and HR data: owner only (the -wal and -shm files copy this mode).
            if engine.url.database and os.path.isfile(engine.url.database):
                os.chmod(engine.url.database, 0o600)
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
