"""Many rows into one table of the ledger in one driver call, for jobs that flush large plans.

SQLAlchemy's ``INSERT .. ON CONFLICT DO NOTHING RETURNING`` for a list of rows goes through
its "insertmanyvalues" batching, row by row in Python: for SQLite, most of what writing a
million decisions costs. Here JSON columns are dumped once (``default=str``: Decimals and
dates as text, as ``delivery.jsonable`` gives them), every other column goes through the
very bind processor SQLAlchemy would apply (datetimes, numerics: the same stored form), and
the rows go to the driver's ``executemany`` in one call. PostgreSQL keeps the ledger's own
bulk path (``unnest`` arrays in one statement), after ``jsonable``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trainbridge.core.ledger.engine import _insert_ignore


def insert_ignore(conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> int:
    """Insert the rows whose key is absent (the others are left as they are); how many were added."""
    if not rows:
        return 0
    columns = list(rows[0])
    json_columns = [name for name in columns if isinstance(table.c[name].type, sa.JSON)]
    if conn.dialect.name != "sqlite" or any(row.keys() != rows[0].keys() for row in rows):
        from trainbridge.core.delivery import jsonable

        return _insert_ignore(conn, table, [{**row, **{name: jsonable(row[name]) for name in json_columns}}
                                            for row in rows])
    processors = [_dump if name in json_columns else table.c[name].type.bind_processor(conn.dialect)
                  for name in columns]
    # None in a JSON column is JSON null, as SQLAlchemy's JSON type stores it
    values = [tuple(value if fn is None or (value is None and fn is not _dump) else fn(value)
                    for fn, value in zip(processors, (row[name] for name in columns), strict=True))
              for row in rows]
    quoted = ", ".join(f'"{name}"' for name in columns)
    marks = ", ".join("?" for _ in columns)
    cursor = conn.exec_driver_sql(
        f"INSERT INTO {table.name} ({quoted}) VALUES ({marks}) ON CONFLICT DO NOTHING", values)
    return int(cursor.rowcount)


_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)  # one encoder: json.dumps makes one per call


def _dump(value: Any) -> str:
    return _ENCODER.encode(value)
