"""What a sync is doing, as it does it: one page read, one job done.

The ingestion and the runner call :func:`page` and :func:`job`; whoever watches (a live
display on a terminal, JSON log events, a test) registers an observer with
:func:`observing`. With no observer the calls cost a loop over an empty list.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

log = logging.getLogger("trainbridge.progress")


class Observer(Protocol):
    def page(self, instance: str, stream: str, records: int, rejected: int) -> None: ...

    def job(self, name: str, result: Any | None) -> None: ...


_observers: list[Observer] = []


def page(instance: str, stream: str, records: int, rejected: int = 0) -> None:
    """One page of ``instance.stream`` is in the ledger."""
    for observer in list(_observers):
        observer.page(instance, stream, records, rejected)


def job(name: str, result: Any | None = None) -> None:
    """Job ``name`` starts (no result) or has finished with ``result`` (a RunResult)."""
    for observer in list(_observers):
        observer.job(name, result)


@contextmanager
def observing(observer: Observer) -> Iterator[Observer]:
    _observers.append(observer)
    try:
        yield observer
    finally:
        _observers.remove(observer)


class LogEvents:
    """One log record per page and per job, with the numbers as fields (``--log-format json``
    prints them as JSON lines); logged at info."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.totals: dict[tuple[str, str], int] = {}

    def page(self, instance: str, stream: str, records: int, rejected: int) -> None:
        key = (instance, stream)
        self.totals[key] = self.totals.get(key, 0) + records
        log.info("read %s.%s: %d record(s), %d rejected", instance, stream, records, rejected,
                 extra={"event": "page", "instance": instance, "stream": stream, "records": records,
                        "rejected": rejected, "records_total": self.totals[key]})

    def job(self, name: str, result: Any | None) -> None:
        if result is None:
            self.started[name] = time.monotonic()
            log.info("job %s started", name, extra={"event": "job_started", "job": name})
            return
        seconds = round(time.monotonic() - self.started.pop(name, time.monotonic()), 3)
        counts = dict(getattr(result, "counts", {}))
        log.info("job %s: %s in %.1f s", name, result.status, seconds,
                 extra={"event": "job_finished", "job": name, "status": result.status, "seconds": seconds,
                        "counts": counts, "decisions": counts.get("decisions", 0)})


class LiveDisplay:
    """A rich progress display on a terminal: per source stream its pages, records and rate; per job
    its state and the decisions it made."""

    def __init__(self, console: Any | None = None) -> None:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                 TextColumn("{task.fields[detail]}"), TimeElapsedColumn(),
                                 console=console, transient=False)
        self.tasks: dict[str, Any] = {}
        self.started: dict[str, float] = {}
        self.counts: dict[str, tuple[int, int, int]] = {}

    def __enter__(self) -> LiveDisplay:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def _task(self, key: str, label: str) -> Any:
        if key not in self.tasks:
            self.tasks[key] = self.progress.add_task(label, total=None, detail="")
            self.started[key] = time.monotonic()
        return self.tasks[key]

    def page(self, instance: str, stream: str, records: int, rejected: int) -> None:
        key = f"{instance}.{stream}"
        task = self._task(key, f"read {key}")
        pages, total, bad = self.counts.get(key, (0, 0, 0))
        pages, total, bad = pages + 1, total + records, bad + rejected
        self.counts[key] = (pages, total, bad)
        rate = total / max(time.monotonic() - self.started[key], 1e-3)
        self.progress.update(task, detail=f"{pages} page(s), {total} record(s), {bad} rejected, "
                                          f"{rate:.0f}/s")

    def job(self, name: str, result: Any | None) -> None:
        task = self._task(f"job:{name}", f"job {name}")
        if result is None:
            self.progress.update(task, detail="deciding")
            return
        decided = dict(result.counts).get("decisions", 0)
        self.progress.update(task, detail=f"{result.status}, {decided} decision(s)", total=1, completed=1)
