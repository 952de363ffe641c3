"""One training-record scan serving both hooks that need it (learning events and cost items).

BambooHR has no bulk endpoint for training records: a scan is one request per employee,
and ``fetch_learning_events`` and ``fetch_cost_items`` each need every answer. The first
hook's scan is recorded, item by item, to an anonymous temporary file (unlinked at once,
so a killed process leaves nothing behind, and memory stays flat whatever the number of
employees); the other hook, starting from the same cursor soon after, replays it instead
of asking BambooHR again. The replay gives the recorded ``latest`` as its cursor, so a
change made after the recorded scan is read by the next run: nothing is skipped.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

#: What a scan yields, in order: ``("start", latest, ids, types)``, then per batch of
#: employees ``("batch", ids, keys)`` followed by one ``("records", bamboo_id, body)`` per id.
ScanItem = tuple[Any, ...]
ScanKey = tuple[str, str | None]


@dataclass
class _Recording:
    key: ScanKey
    kind: str
    file: IO[bytes]
    finished_at: float


class ScanSpool:
    """Keeps the last complete scan for the other hook; ``reuse_seconds`` 0 turns it off."""

    def __init__(self, reuse_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.reuse_seconds = reuse_seconds
        self.clock = clock
        self._last: _Recording | None = None

    def scan(self, key: ScanKey, kind: str, read: Callable[[], Iterator[ScanItem]]) -> Iterator[ScanItem]:
        """The items of the scan at ``key``: replayed when another kind just read it, else read."""
        if self.reuse_seconds <= 0:
            return read()
        replay = self._take(key, kind)
        if replay is not None:
            return _replay(replay)
        return self._record(key, kind, read())

    def _take(self, key: ScanKey, kind: str) -> IO[bytes] | None:
        last, self._last = self._last, None
        if last is None:
            return None
        if last.key == key and last.kind != kind and self.clock() - last.finished_at <= self.reuse_seconds:
            return last.file
        last.file.close()
        return None

    def _record(self, key: ScanKey, kind: str, items: Iterator[ScanItem]) -> Iterator[ScanItem]:
        file = tempfile.TemporaryFile()  # noqa: SIM115 - kept open past this function, closed on replay
        try:
            for item in items:
                file.write(json.dumps(item, ensure_ascii=False).encode() + b"\n")
                yield item
        except BaseException:
            file.close()  # an unfinished scan (an error, or the consumer stopped) is not kept
            raise
        if self._last is not None:
            self._last.file.close()
        self._last = _Recording(key, kind, file, self.clock())


def _replay(file: IO[bytes]) -> Iterator[ScanItem]:
    try:
        file.seek(0)
        for line in file:
            yield tuple(json.loads(line))
    finally:
        file.close()
