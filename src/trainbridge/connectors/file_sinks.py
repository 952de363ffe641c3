"""Built-in file sinks: a JSONL payroll, a notifier, and the append-once JSONL writing they share.

Each line is written with its newline in one call and the file is fsynced, so a crash leaves
at most a torn last line: the next append cuts it off (with a warning) before writing. A line
is appended only if no complete line with its id is there yet: delivering twice writes once.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from trainbridge import hookimpl
from trainbridge.core.connector import Connector, ConnectorConfig
from trainbridge.core.errors import ConnectorError
from trainbridge.core.records import DeliveryReceipt, HealthResult, Notice, PayrollAdjustment

# The file connectors' logger, whichever module of theirs logs.
log = logging.getLogger("trainbridge.connectors.files")


def append_once(path: Path, record_id: str, payload: dict[str, Any], *,
                instance: str = "") -> DeliveryReceipt:
    """Append a JSON line unless a line with this id is already there: idempotent by id.

    A torn last line (a write cut short by a crash) is cut off first, with a warning. The ids
    already in the file come from an index read once per process and file (:func:`sink_ids`),
    so a run delivering a hundred thousand notices reads the file once, not once per notice."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _LOCK:
        index = _index(path, repair=True, instance=instance)
        if record_id in index.ids:
            return DeliveryReceipt(ref=record_id, status="delivered", detail="already present")
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(payload, ensure_ascii=False, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
            stat = os.fstat(fh.fileno())
        if (stat.st_dev, stat.st_ino) == index.file and stat.st_size > index.complete:
            # what this process wrote (and what another appended meanwhile) is read on the next call
            index.mtime_ns = -1
        index.ids.add(record_id)
    return DeliveryReceipt(ref=record_id, status="delivered")


@dataclass
class _Index:
    """The ids of a sink file's complete lines, read up to ``complete`` bytes of file ``file``
    (``tail``: the last bytes read, to tell a file rewritten since from one appended to)."""

    file: tuple[int, int]
    complete: int
    lines: int
    mtime_ns: int
    ids: set[str] = field(default_factory=set)
    tail: bytes = b""


#: One index per sink file and process; appends by this or another process are read from where
#: the index stopped, a file replaced or cut shorter is read again from the start.
_INDEXES: dict[str, _Index] = {}
_LOCK = threading.RLock()


def sink_ids(path: Path, *, repair: bool = False, instance: str = "") -> AbstractSet[str]:
    """The ids of a JSONL sink's complete lines (read-only: the index this module keeps).

    What follows the last newline is a line torn by a crash mid-write (this sink writes each
    line with its newline in one call): with ``repair`` the file is truncated to its last
    complete line, logged as a warning; otherwise that tail is ignored. A complete line that is
    not a JSON object was not written by trainbridge: the file is refused with one error, since
    appending after it could not tell what has already been delivered.

    The file is read once per process: later calls read only what was appended since (by
    this process or another), and again from the start when the file was replaced, cut shorter
    or rewritten in place (its size or modification time no longer what was read)."""
    with _LOCK:
        return _index(path, repair=repair, instance=instance).ids


def _index(path: Path, *, repair: bool, instance: str) -> _Index:
    key = str(path.resolve())
    try:
        stat = path.stat()
    except FileNotFoundError:
        _INDEXES.pop(key, None)
        return _Index(file=(0, 0), complete=0, lines=0, mtime_ns=0)
    index = _INDEXES.get(key)
    file = (stat.st_dev, stat.st_ino)
    if index is None or index.file != file or stat.st_size < index.complete or (
            stat.st_size == index.complete and stat.st_mtime_ns != index.mtime_ns and index.mtime_ns != -1) \
            or not _same_tail(path, index):
        index = _Index(file=file, complete=0, lines=0, mtime_ns=stat.st_mtime_ns)
    if stat.st_size > index.complete or index.mtime_ns == -1:
        _read(path, index, instance)  # raises on a line that is not a JSON object: no index kept
    torn = stat.st_size - index.complete
    if torn > 0 and repair:
        with path.open("r+b") as fh:
            fh.seek(index.complete)
            tail = fh.read(120)
            fh.truncate(index.complete)
            fh.flush()
            os.fsync(fh.fileno())
        log.warning("%s: cut off a torn last line (%d byte(s), a write interrupted by a crash: %r); "
                    "the file now ends with its last complete line", path, torn, tail)
    index.mtime_ns = path.stat().st_mtime_ns
    _INDEXES[key] = index
    return index


def _same_tail(path: Path, index: _Index) -> bool:
    """Whether the bytes the index read last are still where they were (one short read)."""
    if not index.tail:
        return True
    with path.open("rb") as fh:
        fh.seek(index.complete - len(index.tail))
        return fh.read(len(index.tail)) == index.tail


def _read(path: Path, index: _Index, instance: str) -> None:
    """Add the ids of the complete lines after ``index.complete`` to ``index``."""
    ids, complete, number, tail = set(), index.complete, index.lines, index.tail
    with path.open("rb") as fh:
        fh.seek(complete)
        for raw in fh:
            if not raw.endswith(b"\n"):
                break
            number += 1
            complete += len(raw)
            tail = (tail + raw)[-64:]
            if not raw.strip():
                continue
            try:
                value = json.loads(raw)
            except ValueError:
                value = None
            if not isinstance(value, dict):
                msg = f"{path} line {number} is not a JSON object; nothing more is written to this file"
                raise ConnectorError(msg, instance=instance, hint=(
                    "the file was edited by hand or by another program: fix or remove that line (keep the "
                    "lines already there: they record what was delivered)"))
            if isinstance(value.get("id"), str):
                ids.add(value["id"])
    index.ids |= ids
    index.complete, index.lines, index.tail = complete, number, tail


class JsonlPayrollConfig(ConnectorConfig):
    path: str


class JsonlPayroll(Connector):
    """A payroll sink that appends adjustments to a JSONL file, once per adjustment id."""

    config_model: ClassVar[type[ConnectorConfig]] = JsonlPayrollConfig
    vendor = "JSONL file"
    config: JsonlPayrollConfig

    @hookimpl
    def post_adjustment(self, adjustment: PayrollAdjustment) -> DeliveryReceipt:
        return append_once(self.ctx.resolve(self.config.path), adjustment.id, adjustment.payload(),
                           instance=self.name)

    @hookimpl
    def adjustment_status(self, ref: str) -> DeliveryReceipt:
        # The line in the payroll file is all this sink promises: present means confirmed. A
        # missing line settles nothing (payroll may have taken the file away to import it).
        path = self.ctx.resolve(self.config.path)
        if ref in sink_ids(path, instance=self.name):
            return DeliveryReceipt(ref=ref, status="confirmed", detail=f"in {path.name}")
        return DeliveryReceipt(ref=ref, status="unknown", detail=f"not in {path.name}")

    @hookimpl
    def healthcheck(self) -> HealthResult:
        folder = self.ctx.resolve(self.config.path).parent
        ok = (folder.exists() and os.access(folder, os.W_OK)) or not folder.exists()
        return HealthResult(ok=ok, detail=f"writes to {self.ctx.resolve(self.config.path)}")


class FileNotifierConfig(ConnectorConfig):
    path: str = Field(default="-", description='JSONL file, or "-" for stdout')


class FileNotifier(Connector):
    """Writes notices to a JSONL file (once per notice id) or prints them."""

    config_model: ClassVar[type[ConnectorConfig]] = FileNotifierConfig
    vendor = "file or stdout"
    config: FileNotifierConfig

    @hookimpl
    def send_notice(self, notice: Notice) -> DeliveryReceipt:
        if self.config.path == "-":
            to = ", ".join(r.name or r.email or r.role for r in notice.recipients)
            sys.stdout.write(f"[notice to {to}] {notice.subject}\n{notice.body}\n")
            return DeliveryReceipt(ref=notice.id)
        return append_once(self.ctx.resolve(self.config.path), notice.id, notice.payload(),
                           instance=self.name)

    @hookimpl
    def healthcheck(self) -> HealthResult:
        return HealthResult(ok=True, detail=f"writes to {self.config.path}")


__all__ = ["FileNotifier", "JsonlPayroll", "append_once", "sink_ids"]
