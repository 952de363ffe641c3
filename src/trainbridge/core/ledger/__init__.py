"""The ledger: SQLAlchemy Core tables, versioned migrations, and the queries the core needs.

SQLite file by default, PostgreSQL by URL. Every row belongs to a tenant and every query is
scoped to the ledger's tenant, so no command or task reads another's rows. The schema is
built by frozen migrations (``schema_v1``, ``schema_v2``, ...); ``tables`` is what they add up to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from trainbridge.core.ledger import schema_v1, schema_v2, schema_v3, schema_v4
from trainbridge.core.ledger.engine import _insert_ignore, dumps, make_engine, now_utc
from trainbridge.core.ledger.outbox import OutboxMixin, OutboxRow
from trainbridge.core.ledger.runs import RunsMixin, process_alive
from trainbridge.core.ledger.store import RecordsMixin
from trainbridge.core.ledger.tables import (
    approval_links_table,
    audit_table,
    decisions_table,
    locks_table,
    metadata,
    migrations_table,
    notices_table,
    outbox_table,
    proposals_table,
    quarantine_table,
    records_table,
    runs_table,
    source_cursors_table,
    webhook_events_table,
)

__all__ = [
    "CORE_MIGRATIONS",
    "Ledger",
    "Migration",
    "OutboxRow",
    "approval_links_table",
    "audit_table",
    "decisions_table",
    "dumps",
    "locks_table",
    "make_engine",
    "metadata",
    "notices_table",
    "now_utc",
    "outbox_table",
    "process_alive",
    "proposals_table",
    "quarantine_table",
    "records_table",
    "runs_table",
    "source_cursors_table",
    "webhook_events_table",
]

Migration = Callable[[Connection], None]
CORE_MIGRATIONS: list[tuple[str, int, Migration]] = [
    ("core", 1, schema_v1.upgrade),
    ("core", 2, schema_v2.upgrade),
    ("core", 3, schema_v3.upgrade),
    ("core", 4, schema_v4.upgrade),
]


class Ledger(RecordsMixin, RunsMixin, OutboxMixin):
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

    def core_is_current(self) -> bool:
        """True when every core migration has been applied (read-only commands need no more)."""
        t = migrations_table
        try:
            with self.transaction() as conn:
                done = {row.version for row in conn.execute(
                    sa.select(t.c.version).where(t.c.namespace == "core"))}
        except sa.exc.DBAPIError:
            return False
        return {version for namespace, version, _ in CORE_MIGRATIONS if namespace == "core"} <= done

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
