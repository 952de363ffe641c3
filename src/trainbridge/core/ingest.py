"""Ingestion: every source stream a sync needs, read once per connector instance, into the ledger.

Each stream is read from its cursor, keyed by (tenant, instance, stream); a page's records,
its rejects and its cursor commit together. A reject is quarantined once per (instance,
stream, record key) however often it is read again, and its entry closes when the record
arrives valid. A record holding text the ledgers cannot store (a NUL character: PostgreSQL
refuses it; a lone surrogate: not UTF-8) is quarantined with the field named, and rejects are
cleaned the same way, so one bad value never fails its source on every run.
One reader thread per stream reads and serialises the next page while the current one is
written (a bounded queue, :data:`READ_AHEAD` pages); each record is serialised to JSON once,
hashed and stored as that text. Polls (``signature_status``) ask a vendor about records the ledger holds
(envelopes not yet settled) and keep each answer as a record. No job calls a source hook.
"""

from __future__ import annotations

import gc
import logging
import queue
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from trainbridge.core import ingest_fork, progress
from trainbridge.core import results as run_results
from trainbridge.core.errors import TrainbridgeError
from trainbridge.core.ledger.store import PreparedRecord, UnstorableText, prepare_record
from trainbridge.core.records import Agreement, AgreementStatus, Envelope, Page, Record, Reject
from trainbridge.core.results import RunResult
from trainbridge.core.secrets import redact
from trainbridge.core.streams import POLL_STREAMS, STREAMS
from trainbridge.core.workspace import Workspace

log = logging.getLogger("trainbridge.ingest")
POLL_BATCH = 100
#: Pages read ahead of the one being written (one reader thread per stream, a bounded queue);
#: 0 reads in the writing thread (what ``python -m bench.profile --no-read-ahead`` profiles).
READ_AHEAD = 2
#: Allocations between two young-generation collections while ingesting (Python's default: 700).
GC_GENERATION0 = 50_000


@dataclass
class IngestOutcome:
    """Which (instance, stream) pairs were read, and which failed (jobs reading them are warned)."""

    read: list[tuple[str, str]] = field(default_factory=list)
    failed: dict[tuple[str, str], str] = field(default_factory=dict)
    #: The record kinds each failed (instance, stream) would have brought.
    failed_kinds: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    #: Records read this run, by kind (what the run's summary shows).
    kinds: Counter[str] = field(default_factory=Counter)

    @property
    def all_failed(self) -> bool:
        return bool(self.read) and len(self.failed) == len(self.read)


def ingest(ws: Workspace, kinds: Iterable[str], result: RunResult, *, dry_run: bool) -> IngestOutcome:
    """Read every stream of every instance that yields any of ``kinds``, once."""
    with _fewer_collections():
        try:
            return _ingest(ws, set(kinds), result, dry_run=dry_run)
        except (KeyboardInterrupt, SystemExit) as exc:  # Ctrl-C, or a handler ending the process
            # the run is recorded as it ends (runner.py): failed, saying why, not ok
            result.status = "failed"
            result.errors.append(f"ingestion interrupted ({type(exc).__name__}): the pages written "
                                 "are kept, the next sync reads on from there")
            raise


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Python's cycle collector every GC_GENERATION0 allocations instead of 700, while ingesting.

    Pages allocate (and free) millions of small dicts; at the default threshold they push
    enough survivors into the oldest generation to trigger a full collection of everything the
    process holds (every module, model and SQLAlchemy object) every few pages: a fifth of an
    ingestion's CPU (BENCHMARKS.md). Nothing is kept longer; the threshold is restored after.
    """
    first, *rest = gc.get_threshold()
    gc.set_threshold(max(first, GC_GENERATION0), *rest)
    try:
        yield
    finally:
        gc.set_threshold(first, *rest)


def _ingest(ws: Workspace, wanted: set[str], result: RunResult, *, dry_run: bool) -> IngestOutcome:
    outcome = IngestOutcome()
    reads: list[StreamRead] = []
    polls: list[tuple[str, str, tuple[str, ...]]] = []
    for stream in STREAMS:
        for instance in ws.host.instances_with(stream):
            produced = instance.produces(stream)
            if not wanted & set(produced):
                continue
            outcome.read.append((instance.name, stream))
            if stream in POLL_STREAMS:
                polls.append((instance.name, stream, produced))
            else:
                reads.append(StreamRead(ws, instance.name, stream, produced, result, outcome,
                                        dry_run=dry_run))
    # a dry run writes through one connection that no other thread or process may touch
    processes = 0 if dry_run else ingest_fork.read_processes(ws.settings)
    try:
        if processes and reads:
            ingest_fork.read_in_processes(reads, processes, read_ahead=READ_AHEAD > 0)
        else:
            for read in reads:
                read.run_here()
    finally:  # what the pages said, stream after stream (reader processes write them as they come)
        for read in reads:
            result.errors.extend(read.said)
    for read in reads:
        if read.error:
            _failed(outcome, result, read.instance, read.stream, read.produced, read.error)
    for instance_name, stream, produced in polls:
        error = _poll(ws, instance_name, stream, result, outcome, dry_run=dry_run)
        if error:
            _failed(outcome, result, instance_name, stream, produced, error)
    if outcome.all_failed:
        result.status = "failed"
    return outcome


def _failed(outcome: IngestOutcome, result: RunResult, instance: str, stream: str,
            produced: tuple[str, ...], error: str) -> None:
    outcome.failed[(instance, stream)] = error
    outcome.failed_kinds[(instance, stream)] = produced
    result.bump("instances_failed")
    result.errors.append(error)


class StreamRead:
    """One (instance, stream) read from its cursor: pages written one transaction each, with
    the cursor they end at, by whoever reads them (this thread, or a reader process)."""

    def __init__(self, ws: Workspace, instance: str, stream: str, produced: tuple[str, ...],
                 result: RunResult, outcome: IngestOutcome, *, dry_run: bool) -> None:
        self.ws, self.instance, self.stream, self.produced = ws, instance, stream, produced
        self.result, self.outcome, self.dry_run = result, outcome, dry_run
        self.error: str | None = None
        self.pages = 0
        self.cursor: str | None = None
        self.open_keys: set[str] = set()
        #: what its pages said (records quarantined), for the run's errors
        self.said: list[str] = []

    def begin(self) -> None:
        with self.ws.ledger.transaction() as conn:
            self.cursor = self.ws.ledger.get_cursor(conn, self.instance, self.stream)
            self.open_keys = self.ws.ledger.open_quarantine_keys(conn, self.instance, self.stream)

    def source_pages(self, *, read_ahead: bool) -> Iterator[ReadyPage]:
        """The stream's pages from the cursor, prepared (the reader's half)."""
        source = self.ws.host.call(self.instance, self.stream, since=self.cursor)
        return _prepared_pages(source, self.instance, read_ahead=read_ahead)

    def run_here(self) -> None:
        """Read and write in this process (a reader thread prepares pages ahead)."""
        self.begin()
        try:
            for ready in self.source_pages(read_ahead=not self.dry_run and READ_AHEAD > 0):
                self.write(ready)
        except Exception as exc:
            self.fail(exc)

    def fail(self, exc: BaseException) -> None:
        if isinstance(exc, TrainbridgeError):
            self.error = redact(f"{self.instance}.{self.stream} failed: {exc}")
        else:
            log.error("%s.%s failed", self.instance, self.stream, exc_info=exc)
            self.error = redact(f"{self.instance}.{self.stream} failed: {type(exc).__name__}: {exc}")

    def write(self, ready: ReadyPage) -> None:
        """One page, its rejects and its cursor, in one transaction (the writer's half)."""
        ledger, result, instance, stream = self.ws.ledger, self.result, self.instance, self.stream
        prepared, rejects, cursor_after = ready.records, ready.rejects, ready.cursor
        with ledger.transaction() as conn:
            added, changed, same = ledger.upsert_prepared(conn, prepared, run_id=result.run_id)
            new_rejects = ledger.quarantine(conn, rejects, run_id=result.run_id, job="ingest",
                                            instance=instance, hook=stream)
            if self.open_keys:
                healed = [r.id for r in prepared if r.id in self.open_keys]
                if healed:
                    result.bump("quarantine_resolved", ledger.resolve_quarantined(conn, instance, stream,
                                                                                  healed))
            # the cursor commits with the page it covers: a killed run resumes after the last
            # page committed, and reads nothing twice nor skips anything
            if cursor_after is not None:
                ledger.set_cursor(conn, instance, stream, cursor_after)
        self.pages += 1
        self.outcome.kinds.update(r.kind for r in prepared)
        result.bump("pages")
        progress.page(instance, stream, len(prepared), len(rejects))
        result.bump("read", len(prepared) + len(rejects))
        result.bump("records_new", added)
        result.bump("records_changed", changed)
        result.bump("records_unchanged", same)
        if rejects:
            result.bump("quarantined", len(rejects))
            result.bump("quarantined_new", new_rejects)
            self.said.append(f"{instance}.{stream}: {len(rejects)} record(s) quarantined "
                             f"(trainbridge quarantine list)")
        if self.dry_run:
            result.plan_lines.append(
                f"would read {instance}.{stream}: {len(prepared)} record(s) "
                f"({added} new, {changed} changed), {len(rejects)} rejected")
        log.info("read %s.%s page %d: %d record(s), %d rejected", instance, stream, self.pages,
                 len(prepared), len(rejects))
        run_results.fault_point("after_page")


@dataclass
class ReadyPage:
    """A page as the ledger writes it: records serialised once, rejects made storable."""

    records: list[PreparedRecord]
    rejects: list[Reject]
    cursor: str | None


def prepare_page(page: Page, instance: str) -> ReadyPage:
    """Each record of ``page`` as ``instance``'s, serialised once (:func:`prepare_record`); a record
    holding text no ledger can store becomes a reject naming the field (:func:`storable`)."""
    prepared: list[PreparedRecord] = []
    suspects: list[Record] = []
    for record in page.records:
        try:
            prepared.append(prepare_record(record, source=instance))
        except UnstorableText:
            suspects.append(record if record.source else record.model_copy(update={"source": instance}))
    rejects = list(page.rejects)
    if suspects:
        # the substring test is cheap and may over-report (a literal backslash-u0000): the walk decides
        kept, refused = storable(suspects, [])
        prepared += [prepare_record(r, checked=True) for r in kept]
        rejects += refused
    return ReadyPage(prepared, storable_rejects(rejects), page.cursor)


def _prepared_pages(source: Iterable[Page], instance: str, *, read_ahead: bool) -> Iterator[ReadyPage]:
    """The source's pages, prepared; with ``read_ahead``, read and prepared by one reader thread
    while the caller writes the previous page (a bounded queue: at most READ_AHEAD pages wait).

    The caller commits each page with its cursor before taking the next, so a run killed at any
    moment loses only pages that were read and not yet committed, and reads them again next
    time. If the caller stops (an error writing), the reader stops after the page in hand.
    """
    if not read_ahead:
        for page in source:
            yield prepare_page(page, instance)
        return
    pages: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=READ_AHEAD)
    stop = threading.Event()

    def offer(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                pages.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def reader() -> None:
        try:
            for page in source:
                if not offer(("page", prepare_page(page, instance))):
                    return
            offer(("done", None))
        except BaseException as exc:  # handed to the writer, which reports it as before
            offer(("error", exc))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=reader, name=f"trainbridge-read-{instance}", daemon=True)
    thread.start()
    try:
        while True:
            what, item = pages.get()
            if what == "page":
                yield item
            elif what == "error":
                raise item
            else:
                return
    finally:
        stop.set()
        thread.join()


def _poll(ws: Workspace, instance: str, stream: str, result: RunResult, outcome: IngestOutcome, *,
          dry_run: bool) -> str | None:
    """``signature_status`` for every envelope at ``instance`` not settled yet, kept as Envelope records."""
    if stream != "signature_status":
        return None
    ledger = ws.ledger
    with ledger.transaction() as conn:
        waiting = [a for a in ledger.iter_records(conn, "agreement") if _awaits_vendor(a, instance)]
        known = {r.envelope_id: r for r in ledger.iter_records(conn, "envelope")
                 if isinstance(r, Envelope) and r.source == instance}
    failures: list[str] = []
    for batch in _batches(waiting, POLL_BATCH):
        envelopes: list[Record] = []
        for agreement in batch:
            assert agreement.envelope_id is not None
            try:
                answer = ws.host.call(instance, stream, envelope_id=agreement.envelope_id)
            except Exception as exc:
                if not isinstance(exc, TrainbridgeError):
                    log.exception("%s.%s(%s) failed", instance, stream, agreement.envelope_id)
                failures.append(f"{agreement.envelope_id}: {exc}")
                continue
            if isinstance(answer, Envelope):
                envelopes.append(keep_signers(answer, instance, known.get(answer.envelope_id)))
        with ledger.transaction() as conn:
            added, changed, same = ledger.upsert_records(conn, envelopes, run_id=result.run_id)
        outcome.kinds.update(r.kind for r in envelopes)
        result.bump("polled", len(batch))
        result.bump("records_new", added)
        result.bump("records_changed", changed)
        result.bump("records_unchanged", same)
        if dry_run:
            result.plan_lines.append(f"would poll {instance}.{stream}: {len(batch)} envelope(s), "
                                     f"{added + changed} new or changed")
    if failures:
        shown = "; ".join(failures[:3]) + (f"; and {len(failures) - 3} more" if len(failures) > 3 else "")
        return redact(f"{instance}.{stream} failed for {len(failures)} envelope(s): {shown}")
    return None


def storable(records: list[Record], rejects: list[Reject]) -> tuple[list[Record], list[Reject]]:
    """The records the ledgers can store, and the rejects: a record with a NUL character or a
    lone surrogate anywhere becomes a reject naming the field; rejects are made storable."""
    kept: list[Record] = []
    refused: list[Reject] = []
    for record in records:
        dumped = record.model_dump(mode="json")
        where = _unstorable_field(dumped)
        if where is None:
            kept.append(record)
            continue
        refused.append(Reject(model=record.kind, key=record.id, data=storable_value(dumped),
                              reason=f"field {where} holds a character the ledger cannot store "
                                     "(NUL \\u0000 or a lone surrogate); fix it at the source"))
    return kept, refused + storable_rejects(rejects)


def storable_rejects(rejects: list[Reject]) -> list[Reject]:
    """``rejects`` with NUL and lone surrogates shown as storable text (rare: checked one by one)."""
    return [r if _unstorable_field(r.model_dump(mode="json")) is None else r.model_copy(update={
        "reason": storable_value(r.reason), "data": storable_value(r.data), "raw": storable_value(r.raw),
        "key": storable_value(r.key)}) for r in rejects]


def _unstorable_field(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string (or key) holding NUL or a lone surrogate, or None."""
    if isinstance(value, str):
        return (path or "value") if _bad_text(value) else None
    if isinstance(value, dict):
        for k, v in value.items():
            inner = f"{path}.{k}" if path else str(k)
            if _bad_text(str(k)):
                return inner
            found = _unstorable_field(v, inner)
            if found:
                return found
    if isinstance(value, list | tuple):
        for i, v in enumerate(value):
            found = _unstorable_field(v, f"{path}[{i}]")
            if found:
                return found
    return None


def _bad_text(text: str) -> bool:
    return "\x00" in text or any("\ud800" <= c <= "\udfff" for c in text)


def storable_value(value: Any) -> Any:
    """``value`` with NUL shown as the six characters ``\\u0000`` and lone surrogates as U+FFFD."""
    if isinstance(value, str):
        if not _bad_text(value):
            return value
        shown = value.replace("\x00", "\\u0000")
        return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in shown)
    if isinstance(value, dict):
        return {storable_value(str(k)): storable_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable_value(v) for v in value]
    return value


def _awaits_vendor(record: Record, instance: str) -> bool:
    """Sent and unanswered, or signed without the signed document yet: the vendor has news."""
    if not isinstance(record, Agreement) or record.esign_instance != instance or not record.envelope_id:
        return False
    return record.status is AgreementStatus.SENT or (
        record.status is AgreementStatus.SIGNED and not record.signed_document_sha256)


def keep_signers(envelope: Envelope, instance: str, earlier: Envelope | None) -> Envelope:
    """The answer as a record of ``instance``; who signed, when and where is never forgotten."""
    update: dict[str, object] = {}
    if not envelope.source:
        update["source"] = instance
    if not envelope.signers and earlier is not None and earlier.signers:
        update["signers"] = earlier.signers
    return envelope.model_copy(update=update) if update else envelope


def _batches(items: list[Agreement], size: int) -> Iterator[list[Agreement]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]

