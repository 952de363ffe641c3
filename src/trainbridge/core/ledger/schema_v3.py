"""Core schema, version 3: frozen as it shipped.

* ``tb_outbox.next_attempt_at``: a failed delivery waits (exponential backoff across runs)
  before it is tried again; only answered failures count as attempts.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection


def upgrade(conn: Connection) -> None:
    stamp = "TIMESTAMP WITH TIME ZONE" if conn.dialect.name == "postgresql" else "DATETIME"
    conn.exec_driver_sql(f"ALTER TABLE tb_outbox ADD COLUMN next_attempt_at {stamp}")
