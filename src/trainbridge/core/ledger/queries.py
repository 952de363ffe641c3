"""Read queries the jobs use to work on part of the ledger: some subjects, some ids, what changed.

A job that decides per employee must not read every record of a kind on every run, nor
once per employee: these read the records of a batch of subjects (``subject IN (...)``, on
the ``(tenant, kind, subject)`` index), the subjects with a record changed after a sequence
number (the ``(tenant, kind, seq)`` index), and records by id (the primary key), in chunks
so a statement never carries more than :data:`CHUNK` parameters.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trainbridge.core.ledger.engine import _chunks
from trainbridge.core.ledger.store import _load, _load_text
from trainbridge.core.ledger.tables import decisions_table, proposals_table, records_table
from trainbridge.core.records import Record

if TYPE_CHECKING:
    from trainbridge.core.ledger import Ledger

CHUNK = 500
#: The payload as the database holds it: parsed and validated in one step by pydantic.
_TEXT = sa.cast(records_table.c.payload, sa.Text).label("text")


def planned(ledger: Ledger, conn: Connection) -> None:
    """On PostgreSQL, ``ANALYZE tb_records`` when it changed much since its statistics were taken.

    A ledger just filled (a first sync) has no statistics: the planner then thinks a kind holds
    a row or two and reads a ``subject IN (...)`` by walking the whole kind and filtering, once per
    chunk of subjects, which makes a job that reads by subject quadratic. ANALYZE samples the table
    (a fraction of a second at a million rows) and blocks no reader or writer.
    """
    if conn.dialect.name != "postgresql":
        return
    for table in (records_table.name, decisions_table.name):  # decisions: read by subject too
        row = conn.execute(sa.text("SELECT n_live_tup, n_mod_since_analyze FROM pg_stat_user_tables "
                                   "WHERE relname = :table"), {"table": table}).first()
        if row is not None and row.n_mod_since_analyze > max(1000, row.n_live_tup // 5):
            conn.exec_driver_sql(f"ANALYZE {table}")


def changed_since(ledger: Ledger, conn: Connection, kinds: Iterable[str], since: int | None) -> bool:
    """True when a record of ``kinds`` was written after sequence number ``since`` (or it is None)."""
    if since is None:
        return True
    if ledger.max_seq(conn) <= since:
        return False
    t = records_table
    return any(conn.execute(sa.select(t.c.id).where(t.c.tenant == ledger.tenant, t.c.kind == kind,
                                                    t.c.seq > since).limit(1)).first() is not None
               for kind in kinds)


def changed_subjects(ledger: Ledger, conn: Connection, kind: str, since: int) -> set[str]:
    """The subjects of the records of ``kind`` written after sequence number ``since``."""
    t = records_table
    rows = conn.execute(sa.select(t.c.subject).distinct().where(
        t.c.tenant == ledger.tenant, t.c.kind == kind, t.c.seq > since, t.c.subject.is_not(None)))
    return {row.subject for row in rows}


def of_subjects(ledger: Ledger, conn: Connection, kind: str, subjects: Iterable[str], *,
                since: int | None = None) -> Iterator[tuple[Record, int]]:
    """Records of ``kind`` whose subject is among ``subjects`` (written after ``since``), with
    their sequence numbers: subject by subject, each subject's in sequence order.

    Ordered by (subject, seq), the ``(tenant, kind, subject)`` index answers the ``IN`` list
    whatever the planner knows of the table: ordered by ``seq`` alone, PostgreSQL may walk the
    whole kind along the ``seq`` index for every chunk of a table never analysed (a fresh ledger).
    """
    t = records_table
    for chunk in _chunks(sorted(set(subjects)), CHUNK):
        query = sa.select(t.c.id, _TEXT, t.c.seq).where(
            t.c.tenant == ledger.tenant, t.c.kind == kind, t.c.subject.in_(chunk))
        if since is not None:
            query = query.where(t.c.seq > since)
        for row in conn.execute(query.order_by(t.c.subject, t.c.seq)):
            record = _load_text(kind, row.id, row.text)
            if record is not None:
                yield record, int(row.seq)


def by_ids(ledger: Ledger, conn: Connection, kind: str, ids: Iterable[str]) -> Iterator[tuple[Record, int]]:
    """Records of ``kind`` among ``ids`` (absent ones left out), with their sequence numbers."""
    t = records_table
    for chunk in _chunks(sorted(set(ids)), CHUNK):
        query = sa.select(t.c.id, _TEXT, t.c.seq).where(
            t.c.tenant == ledger.tenant, t.c.kind == kind, t.c.id.in_(chunk))
        for row in conn.execute(query):
            record = _load_text(kind, row.id, row.text)
            if record is not None:
                yield record, int(row.seq)


def subjects_of_ids(ledger: Ledger, conn: Connection, kind: str, ids: Iterable[str]) -> dict[str, str]:
    """id -> subject of the records of ``kind`` among ``ids`` (no payload is read)."""
    t = records_table
    found: dict[str, str] = {}
    for chunk in _chunks(sorted(set(ids)), CHUNK):
        rows = conn.execute(sa.select(t.c.id, t.c.subject).where(
            t.c.tenant == ledger.tenant, t.c.kind == kind, t.c.id.in_(chunk)))
        found.update({row.id: row.subject for row in rows if row.subject is not None})
    return found


def changed_where(ledger: Ledger, conn: Connection, kind: str, since: int, field: str,
                  value: str) -> Iterator[tuple[Record, str | None]]:
    """(record, subject) of the records of ``kind`` written after ``since`` whose payload has
    ``field == value``: the database filters, so the others are never sent or parsed."""
    t = records_table
    last = since
    while True:
        rows = conn.execute(sa.select(t.c.id, t.c.subject, t.c.payload, t.c.seq).where(
            t.c.tenant == ledger.tenant, t.c.kind == kind, t.c.seq > last,
            t.c.payload[field].as_string() == value).order_by(t.c.seq).limit(5000)).all()
        for row in rows:
            record = _load(kind, row.id, row.payload)
            if record is not None:
                yield record, row.subject
        if len(rows) < 5000:
            return
        last = rows[-1].seq


def subject_counts(ledger: Ledger, conn: Connection, kind: str, *,
                   since: int | None = None) -> dict[str, int]:
    """subject -> how many records of ``kind`` it has (written after ``since``): sizes batches."""
    t = records_table
    query = sa.select(t.c.subject, sa.func.count()).where(
        t.c.tenant == ledger.tenant, t.c.kind == kind, t.c.subject.is_not(None))
    if since is not None:
        query = query.where(t.c.seq > since)
    return {row[0]: int(row[1]) for row in conn.execute(query.group_by(t.c.subject))}


def decisions_of_subjects(ledger: Ledger, conn: Connection, kind: str,
                          subjects: Sequence[str] | set[str]) -> Iterator[dict[str, Any]]:
    """Decisions of ``kind`` about ``subjects`` (rows with ``payload``, ``inputs``, ...)."""
    t = decisions_table
    for chunk in _chunks(sorted(set(subjects)), CHUNK):
        query = sa.select(t).where(t.c.tenant == ledger.tenant, t.c.kind == kind, t.c.subject.in_(chunk))
        for row in conn.execute(query.order_by(t.c.created_at, t.c.id)).mappings():
            yield dict(row)


def ids_and_subjects(ledger: Ledger, conn: Connection, kind: str) -> list[tuple[str, str | None]]:
    """(id, subject) of every record of ``kind``, by id: what a job batches by, no payload read."""
    t = records_table
    rows = conn.execute(sa.select(t.c.id, t.c.subject).where(t.c.tenant == ledger.tenant, t.c.kind == kind)
                        .order_by(t.c.id))
    return [(row.id, row.subject) for row in rows]


def hashed_of_subjects(ledger: Ledger, conn: Connection, kind: str,
                       subjects: Iterable[str]) -> Iterator[tuple[Record, str]]:
    """:func:`of_subjects` with each record's content hash instead of its sequence number (each
    subject's records in sequence order)."""
    t = records_table
    for chunk in _chunks(sorted(set(subjects)), CHUNK):
        query = sa.select(t.c.id, _TEXT, t.c.hash).where(
            t.c.tenant == ledger.tenant, t.c.kind == kind, t.c.subject.in_(chunk))
        for row in conn.execute(query.order_by(t.c.subject, t.c.seq)):
            record = _load_text(kind, row.id, row.text)
            if record is not None:
                yield record, row.hash


def hashed_by_ids(ledger: Ledger, conn: Connection, kind: str,
                  ids: Iterable[str]) -> Iterator[tuple[Record, str]]:
    """Records of ``kind`` among ``ids`` with their content hashes (absent ones left out), by id."""
    t = records_table
    for chunk in _chunks(sorted(set(ids)), CHUNK):
        query = sa.select(t.c.id, _TEXT, t.c.hash).where(
            t.c.tenant == ledger.tenant, t.c.kind == kind, t.c.id.in_(chunk))
        for row in conn.execute(query.order_by(t.c.id)):
            record = _load_text(kind, row.id, row.text)
            if record is not None:
                yield record, row.hash


def proposals_by_ids(ledger: Ledger, conn: Connection, ids: Iterable[str],
                     kinds: Sequence[str]) -> dict[str, dict[str, Any]]:
    """id -> proposal row (as ``Ledger.list_proposals`` gives it) of the proposals of ``kinds``
    among ``ids``."""
    t = proposals_table
    found: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(sorted(set(ids)), CHUNK):
        query = sa.select(t).where(t.c.tenant == ledger.tenant, t.c.id.in_(chunk), t.c.kind.in_(list(kinds)))
        found.update({row["id"]: dict(row) for row in conn.execute(query).mappings()})
    return found


def any_decision(ledger: Ledger, conn: Connection, kind: str) -> bool:
    """Whether the ledger holds a decision of ``kind`` (one index lookup)."""
    t = decisions_table
    return conn.execute(sa.select(t.c.id).where(t.c.tenant == ledger.tenant, t.c.kind == kind).limit(1)
                        ).first() is not None
