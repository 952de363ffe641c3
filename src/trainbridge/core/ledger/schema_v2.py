"""Core schema, version 2 (the sync pipeline's shape): frozen as it shipped.

* ``tb_source_cursors``: one cursor per (instance, stream), shared by every job (a sync
  ingests each stream once). Job-scoped cursors of v1 are left behind; the first sync after
  the upgrade reads each source in full once (upserts by content hash make that harmless).
* ``tb_decisions.inputs``: the ids and content hashes a decision was computed from.
* ``tb_quarantine.seen`` / ``last_seen_at``: one open entry per bad record, counted.
* ``tb_outbox.confirmed_at`` / ``status_detail``: what the vendor reported after delivery.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

metadata = sa.MetaData()
_ts = sa.DateTime(timezone=True)

source_cursors = sa.Table(
    "tb_source_cursors", metadata,
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("instance", sa.String(64), nullable=False),
    sa.Column("stream", sa.String(64), nullable=False),
    sa.Column("cursor", sa.Text, nullable=True),
    sa.Column("updated_at", _ts, nullable=False),
    sa.PrimaryKeyConstraint("tenant", "instance", "stream"),
)
NEW_COLUMNS: tuple[tuple[str, sa.Column[object]], ...] = (
    ("tb_decisions", sa.Column("inputs", sa.JSON, nullable=True)),
    ("tb_quarantine", sa.Column("seen", sa.Integer, nullable=False, server_default="1")),
    ("tb_quarantine", sa.Column("last_seen_at", _ts, nullable=True)),
    ("tb_outbox", sa.Column("confirmed_at", _ts, nullable=True)),
    ("tb_outbox", sa.Column("status_detail", sa.Text, nullable=True)),
)


def upgrade(conn: Connection) -> None:
    metadata.create_all(conn, tables=[source_cursors])
    for table, column in NEW_COLUMNS:
        ddl = f"ALTER TABLE {table} ADD COLUMN {column.name} {column.type.compile(dialect=conn.dialect)}"
        if column.server_default is not None:
            ddl += f" DEFAULT {column.server_default.arg}"  # type: ignore[attr-defined]
        if not column.nullable:
            ddl += " NOT NULL"
        conn.exec_driver_sql(ddl)
