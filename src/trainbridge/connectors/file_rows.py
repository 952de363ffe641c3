"""Reading CSV and JSONL record files strictly: every row with its line number, or why it is unreadable.

A file that cannot be read as a whole (wrong encoding, no header, two columns with one name,
a CSV broken past recovery) raises :class:`BadFile` before any row is yielded, so nothing of
it loads. A row that cannot be read (a value over :data:`MAX_FIELD_CHARS`, a JSON line that is
not an object or repeats a key, a CSV row with too many or too few cells) is a :class:`Row`
with a ``problem`` naming the line and the field: it is quarantined, the rest of the file loads.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

#: A value longer than this (128 KiB of text) quarantines its row.
MAX_FIELD_CHARS = 128 * 1024
#: A physical line (and the csv module's field limit) longer than this refuses the file: no
#: record needs it, and reading on would hold an unbounded line in memory.
MAX_LINE_BYTES = 16 * 1024 * 1024
#: Encodings a file connector may be configured with (``encoding = "gb18030"``).
ENCODINGS = ("utf-8", "utf-8-sig", "gb18030", "gbk", "gb2312")
GB_HINT = ('if the file was saved as GBK/GB18030 (Excel "CSV" on Chinese Windows), set encoding = '
           '"gb18030" on this connector in plugins.toml; or save the file as "CSV UTF-8"')

csv.field_size_limit(MAX_LINE_BYTES)


class BadFile(ValueError):
    """The whole file is unreadable: the message names the file and the line, ``hint`` the fix."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


@dataclass
class Row:
    """One row of a file: its first line, its values by normalised column name, or its problem."""

    line: int
    values: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None
    text: str = ""


def normalise_column(name: str) -> str:
    """``" EMPLOYEE_ID "`` -> ``employee_id``: headers and JSON keys are trimmed and case-folded."""
    return name.replace("\ufeff", "").strip().casefold()


def check_encoding(name: str) -> str:
    """The codec name for ``encoding = ...`` in plugins.toml, or ValueError naming the allowed ones."""
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        codec = ""
    if codec not in ENCODINGS:
        msg = f"encoding {name!r} is not supported: use one of {', '.join(ENCODINGS)}"
        raise ValueError(msg)
    return codec


def read_rows(path: Path, *, encoding: str = "utf-8", label: str | None = None) -> Iterator[Row]:
    """Rows of a ``.csv`` file, or of a ``.jsonl`` file (any other suffix), with their line numbers."""
    name = label or path.name
    with path.open("rb") as fh:
        lines = _decoded_lines(fh, name, check_encoding(encoding))
        if path.suffix.lower() == ".csv":
            yield from _csv_rows(lines, name)
        else:
            yield from _jsonl_rows(lines)


def _decoded_lines(fh: BinaryIO, name: str, codec: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of each physical line, decoded strictly; BadFile on the first bad byte."""
    number = 0
    while True:
        raw = fh.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE_BYTES:
            msg = f"{name} line {number} is longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB"
            raise BadFile(msg, "a record file holds one record per line: check that this is the export "
                               "you meant (an unclosed quote makes the rest of a CSV one line)")
        if number == 1 and raw[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            msg = f"{name} is UTF-16 text"
            raise BadFile(msg, 'save it as UTF-8 (Excel: "CSV UTF-8"), or as GB18030 with '
                               'encoding = "gb18030" on this connector')
        if b"\x00" in raw:
            msg = f"{name} line {number} contains NUL bytes: it is not UTF-8 or GB18030 text"
            raise BadFile(msg, 'save it as UTF-8 (Excel: "CSV UTF-8"); UTF-16 and binary files are not read')
        if number == 1 and codec.startswith("utf-8") and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8):]
        try:
            text = raw.decode(codec)
        except UnicodeDecodeError as exc:
            byte = raw[exc.start:exc.start + 1].hex()
            if codec.startswith("utf-8"):
                msg = f"{name} is not valid UTF-8 (line {number}, byte 0x{byte})"
                raise BadFile(msg, GB_HINT) from None
            msg = f"{name} is not valid {codec.upper()} (line {number}, byte 0x{byte})"
            raise BadFile(msg, 'check the encoding: if the file is UTF-8, remove encoding = ... from this '
                               'connector in plugins.toml') from None
        yield number, text


def _csv_rows(lines: Iterator[tuple[int, str]], name: str) -> Iterator[Row]:
    reader = csv.reader(text for _, text in lines)
    header: list[str] | None = None
    end = 0
    while True:
        start = end + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            msg = f"{name} line {reader.line_num}: not readable as CSV ({exc})"
            raise BadFile(msg, "check the quotes on that line: a value with a comma, a quote or a line "
                               'break must be in double quotes, a quote inside doubled ("")') from None
        end = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if header is None:
            header = _header(cells, name, start)
            continue
        yield _csv_row(header, cells, start)
    if header is None:
        msg = f"{name} is empty: no header line"
        raise BadFile(msg, "a CSV starts with a header line naming its columns (e.g. employee_id,name); "
                           "a file with only the header line reads as no records")


def _header(cells: list[str], name: str, line: int) -> list[str]:
    header = [normalise_column(cell) for cell in cells]
    first: dict[str, int] = {}
    for index, column in enumerate(header, start=1):
        if column and column in first:
            msg = (f"{name} line {line}: columns {first[column]} and {index} are both {column!r} "
                   "(headers are compared trimmed and ignoring case)")
            raise BadFile(msg, "remove or rename one of the two columns")
        first.setdefault(column, index)
    return header


def _csv_row(header: list[str], cells: list[str], line: int) -> Row:
    row = Row(line=line)
    if len(cells) != len(header):
        row.text = ",".join(cells)[:200]
        row.problem = (f"line {line}: {len(cells)} values for {len(header)} columns (a comma inside a "
                       "value that is not in double quotes?)")
        row.values = {f"column {i}": cell for i, cell in enumerate(cells, start=1)}
        return row
    for column, cell in zip(header, cells, strict=True):
        if not column:
            if cell.strip():
                row.text = ",".join(cells)[:200]
                row.problem = f"line {line}: a value ({cell.strip()[:40]!r}) under a column with no header"
            continue
        if len(cell) > MAX_FIELD_CHARS:
            row.text = ",".join(c[:40] for c in cells)[:200]
            row.problem = (f"line {line}, field {column}: {len(cell):,} characters, over the limit of "
                           f"{MAX_FIELD_CHARS:,}")
            cell = cell[:200] + "..."
        row.values[column] = cell
    return row


class _DuplicateKey(ValueError):
    pass


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for key, item in pairs:
        if key in value:
            raise _DuplicateKey(key)
        value[key] = item
    return value


def _jsonl_rows(lines: Iterator[tuple[int, str]]) -> Iterator[Row]:
    for number, text in lines:
        if not text.strip():
            continue
        row = Row(line=number, text=text.strip()[:200])
        try:
            # Numbers stay exact (1e309 is a Decimal the amount check rejects, not an infinite float);
            # NaN and Infinity stay text, so the field they sit in names them.
            value = json.loads(text, object_pairs_hook=_object, parse_float=Decimal, parse_constant=str)
        except _DuplicateKey as exc:
            row.problem = f"line {number}, field {exc}: the key appears twice in the line's JSON object"
            yield row
            continue
        except json.JSONDecodeError as exc:
            row.problem = f"line {number}: not JSON ({exc.msg} at column {exc.colno})"
            yield row
            continue
        if not isinstance(value, dict):
            row.problem = f"line {number}: a JSON {type(value).__name__}, not an object"
            yield row
            continue
        for key, item in value.items():
            column = normalise_column(key)
            if column in row.values:
                row.problem = (f"line {number}, field {column}: the key appears twice in the line's JSON "
                               "object (keys are compared trimmed and ignoring case)")
                break
            if _longest_text(item) > MAX_FIELD_CHARS:
                row.problem = f"line {number}, field {column}: a value over {MAX_FIELD_CHARS:,} characters"
                item = "..."
            row.values[column] = item
        yield row


def _longest_text(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return max((_longest_text(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return max((_longest_text(v) for v in value), default=0)
    return 0
