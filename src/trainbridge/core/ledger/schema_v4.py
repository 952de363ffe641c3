"""Core schema, version 4: frozen as it shipped.

* ``tb_approval_links``: a proposal sent to a vendor's approval app (Feishu Approval,
  DingTalk OA) and the instance that stands for it: our key (the vendor's idempotency
  uuid), the vendor's instance id once known, its status, and the vendor's verdict until it
  is applied to the proposal exactly once.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

metadata = sa.MetaData()
_ts = sa.DateTime(timezone=True)

approval_links = sa.Table(
    "tb_approval_links", metadata,
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("proposal_id", sa.String(255), nullable=False),
    sa.Column("instance", sa.String(64), nullable=False),
    sa.Column("key", sa.String(64), nullable=False),
    sa.Column("ref", sa.String(255), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=True),
    sa.Column("outcome_by", sa.JSON, nullable=True),
    sa.Column("applied_at", _ts, nullable=True),
    sa.Column("detail", sa.Text, nullable=True),
    sa.Column("created_at", _ts, nullable=False),
    sa.Column("updated_at", _ts, nullable=False),
    sa.PrimaryKeyConstraint("tenant", "proposal_id"),
    sa.Index("ix_tb_approval_links_ref", "tenant", "instance", "ref"),
    sa.Index("ix_tb_approval_links_key", "tenant", "key"),
)


def upgrade(conn: Connection) -> None:
    metadata.create_all(conn, tables=[approval_links])
