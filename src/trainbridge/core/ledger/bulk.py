"""Many rows into one table of the ledger in one driver call, for jobs that flush large plans.

SQLAlchemy's ``INSERT .. ON CONFLICT DO NOTHING RETURNING`` for a list of rows goes through
its "insertmanyvalues" batching, row by row in Python: for SQLite, most of what writing a
million decisions costs. Here the rows are turned into columns: JSON columns are dumped once
(:func:`dumps`: Decimals and dates as text, as ``delivery.jsonable`` gives them), every other
column goes through the very bind processor SQLAlchemy would apply (datetimes, numerics: the
same stored form), and the rows go to the driver in one call: SQLite's ``executemany``,
PostgreSQL's ``unnest`` of one array per column (the ledger's bulk statement).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trainbridge.core.ledger.engine import _PG_BULK_ROWS, _insert_ignore, _pg_unnest_insert

orjson: Any
try:  # orjson: the same JSON text, 5-10x faster to make (a million decisions' payloads)
    import orjson
except ImportError:  # pragma: no cover - a dependency; the standard library does the same, slower
    orjson = None


def insert_ignore(conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> int:
    """Insert the rows whose key is absent (the others are left as they are); how many were added."""
    if not rows:
        return 0
    names = rows[0].keys()
    sqlite = conn.dialect.name == "sqlite"
    if any(row.keys() != names for row in rows) or (not sqlite and (
            conn.dialect.name != "postgresql" or len(rows) < _PG_BULK_ROWS)):
        from trainbridge.core.delivery import jsonable

        json_columns = [name for name in names if isinstance(table.c[name].type, sa.JSON)]
        return _insert_ignore(conn, table, [{**row, **{name: jsonable(row[name]) for name in json_columns}}
                                            for row in rows])
    columns = list(names)
    values: list[list[Any]] = []
    for name in columns:
        column = [row[name] for row in rows]
        if isinstance(table.c[name].type, sa.JSON):
            # None in a JSON column is JSON null, as SQLAlchemy's JSON type stores it
            column = [dumps(value) for value in column]
        elif sqlite:
            bind = table.c[name].type.bind_processor(conn.dialect)
            if bind is not None:
                column = [None if value is None else bind(value) for value in column]
            elif isinstance(table.c[name].type, sa.Date | sa.DateTime):
                column = _adapted(column)
        values.append(column)
    if sqlite:
        quoted = ", ".join(f'"{name}"' for name in columns)
        marks = ", ".join("?" for _ in columns)
        cursor = conn.exec_driver_sql(f"INSERT INTO {table.name} ({quoted}) VALUES ({marks}) "
                                      "ON CONFLICT DO NOTHING", list(zip(*values, strict=True)))
        return int(cursor.rowcount)
    statement = _pg_unnest_insert(table, tuple(columns), "ON CONFLICT DO NOTHING RETURNING 1")
    added = 0
    for start in range(0, len(rows), 5000):
        params = {name: column[start:start + 5000] for name, column in zip(columns, values, strict=True)}
        added += len(conn.exec_driver_sql(statement, params).all())
    return added


def _adapted(column: list[Any]) -> list[Any]:
    """``column`` as the sqlite3 module would bind it (its own adapter: a datetime's
    ``isoformat(" ")``), each object adapted once: a plan's rows share one ``created_at``, and
    adapting it for each of a million rows took a tenth of the decisions' writing."""
    out: list[Any] = []
    last: Any = _NOTHING
    adapted: Any = None
    for value in column:
        if value is not last:
            adapt = sqlite3.adapters.get((type(value), sqlite3.PrepareProtocol))
            last, adapted = value, (value if adapt is None else adapt(value))
        out.append(adapted)
    return out


_NOTHING = object()
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)  # one encoder: json.dumps makes one per call
#: Dates, datetimes and dataclasses go to ``str`` as with the standard library's ``default=str``.
_OPTIONS = 0 if orjson is None else (orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
                                     | orjson.OPT_NON_STR_KEYS)


def dumps(value: Any) -> str:
    """``value`` as JSON text (non-JSON values as their ``str``), as one line, ASCII or not."""
    if orjson is not None:
        try:
            return orjson.dumps(value, default=str, option=_OPTIONS).decode()
        except (TypeError, ValueError):  # an int beyond 64 bits, a key orjson refuses: as before
            pass
    return _ENCODER.encode(value)

