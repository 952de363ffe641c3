"""The ledger's tables as they are now (the current schema version); queries use these.

Each migration (``schema_v1``, ``schema_v2``, ...) is frozen as it shipped; this module is what
they add up to. Every row belongs to a tenant.
"""

from __future__ import annotations

import sqlalchemy as sa

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
    sa.Column("seen", sa.Integer, nullable=False, server_default="1"),  # v2: times read while open
    sa.Column("last_seen_at", _ts, nullable=True),  # v2
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
    sa.Column("inputs", sa.JSON, nullable=True),  # v2
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
    sa.Column("confirmed_at", _ts, nullable=True),  # v2: the vendor said paid/processed (or failed)
    sa.Column("status_detail", sa.Text, nullable=True),  # v2
    sa.Column("next_attempt_at", _ts, nullable=True),  # v3: backoff after a failed delivery
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
#: v2: cursors belong to a source stream of an instance, not to a job: a sync reads each once.
source_cursors_table = sa.Table(
    "tb_source_cursors", metadata, _tenant(),
    sa.Column("instance", sa.String(64), nullable=False),
    sa.Column("stream", sa.String(64), nullable=False),
    sa.Column("cursor", sa.Text, nullable=True),
    sa.Column("updated_at", _ts, nullable=False),
    sa.PrimaryKeyConstraint("tenant", "instance", "stream"),
)

#: v4: a proposal sent to a vendor's approval app and the instance standing for it.
approval_links_table = sa.Table(
    "tb_approval_links", metadata, _tenant(),
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
