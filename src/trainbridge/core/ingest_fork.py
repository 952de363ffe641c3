"""Streams read by reader processes: ingestion on every core.

Python runs one thread at a time, so a reader thread only overlaps waiting for a vendor with
writing. A reader *process* per connector instance (``[sync] read_processes``, on by default
where the operating system forks, Linux) fetches, translates, validates and serialises the
pages of the instance's streams, one stream after another, while this process writes them;
streams of different connector instances are read at once.

What stays as it was:

* this process writes every page with its cursor in one transaction, in the order the stream
  gave them: a run killed at any moment resumes after the last page committed, and reads
  nothing twice nor skips anything;
* a reader process dies with this one (``PR_SET_PDEATHSIG``), and one that ends without saying
  it is done fails its stream (the others go on), as a failing vendor does;
* one reader per connector instance at a time: a vendor sees the requests of one client, and
  what its source learns in one stream (a token) serves its next ones, as in one process; a
  reader that stops early leaves the streams it never began to a new reader;
* a reader inherits the connectors as they are (forked), drops the HTTP connections it
  inherited (:mod:`trainbridge.core.http_session`) and never touches the ledger.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Iterable
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any, NoReturn

from trainbridge.core.errors import ConfigError
from trainbridge.core.secrets import redact

if TYPE_CHECKING:
    from trainbridge.core.config import Settings
    from trainbridge.core.ingest import StreamRead

log = logging.getLogger("trainbridge.ingest")
#: Overrides ``[sync] read_processes`` (``auto``, ``0`` or a number).
ENV = "TRAINBRIDGE_READ_PROCESSES"
#: ``auto`` never starts more reader processes than this.
MOST_AUTO = 8
_PR_SET_PDEATHSIG = 1
READ_PROCESSES_HINT = ('read_processes = "auto" (a reader process per core), 0 (read in the syncing '
                       "process) or a number such as 2")


def can_fork() -> bool:
    """Reader processes are forked: Linux only (macOS's system libraries are not fork-safe)."""
    return hasattr(os, "fork") and sys.platform.startswith("linux")


def read_processes(settings: Settings) -> int:
    """How many streams are read by reader processes at once; 0 reads in this process."""
    value: Any = os.environ.get(ENV)
    if value is None:
        value = settings.read_processes  # checked when plugins.toml was read
    try:
        count = parse_read_processes(value)
    except ValueError as exc:
        raise ConfigError(f"environment variable {ENV}: {exc}", hint=READ_PROCESSES_HINT) from None
    if not can_fork():
        return 0
    if count is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        return 0 if cores < 2 else min(cores, MOST_AUTO)
    return count


def parse_read_processes(value: Any) -> int | None:
    """``auto`` (None), or a whole number of processes >= 0; anything else is a ValueError."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return None
    try:
        count = int(value) if not isinstance(value, bool) else -1
    except (TypeError, ValueError):
        count = -1
    if count < 0 or str(value).strip() != str(count):
        msg = f'must be "auto" or a whole number >= 0, not {value!r}'
        raise ValueError(msg)
    return count


def read_in_processes(reads: Iterable[StreamRead], processes: int, *, read_ahead: bool) -> None:
    """Read ``reads`` by at most ``processes`` reader processes at once, one per connector
    instance, which reads that instance's streams one after another, in order (what a source
    learns in one stream, a token, lasts for its next ones, as in one process); write each page
    here as it comes. Each read's ``error`` says how it failed; only this process's own failures
    (the ledger) end the loop."""
    waiting: dict[str, list[StreamRead]] = {}
    for read in reads:
        waiting.setdefault(read.instance, []).append(read)
    running: dict[Connection, _Reader] = {}
    try:
        while waiting or running:
            while waiting and len(running) < processes:
                instance = next(iter(waiting))
                group = waiting.pop(instance)
                for read in group:
                    read.begin()
                try:
                    reader = _Reader.start(group, inherited=list(running), read_ahead=read_ahead)
                except OSError as exc:  # no process to be had (EAGAIN, ENOMEM, too many files)
                    log.warning("%s: cannot start a reader process (%s): its streams are read in the "
                                "syncing process", instance, exc)
                    for read in group:
                        read.run_here()
                    continue
                running[reader.conn] = reader
            if not running:  # every stream left was read here (no process could be started)
                break
            for ready in wait(list(running)):
                assert isinstance(ready, Connection)
                reader = running[ready]
                if reader.step():
                    running.pop(ready).conn.close()
                    if reader.left:  # streams the reader never began: a new reader reads them
                        waiting[reader.left[0].instance] = reader.left
    finally:
        for reader in running.values():
            reader.kill()


#: Held from a pipe's making to the closing of its writing end here: a reader another thread
#: forks meanwhile (a second tenant's sync) never holds that end, which would keep the pipe open.
_FORKING = threading.Lock()


class _Reader:
    """One reader process, the streams it reads in order, and the end of the pipe its pages
    come through."""

    def __init__(self, reads: list[StreamRead], pid: int, conn: Connection) -> None:
        self.reads, self.pid, self.conn = reads, pid, conn
        self.at = 0  # the stream being read
        #: when the reader stopped early, the streams it never began
        self.left: list[StreamRead] = []

    @classmethod
    def start(cls, reads: list[StreamRead], *, inherited: list[Connection], read_ahead: bool) -> _Reader:
        for stream in (sys.stdout, sys.stderr):  # what is buffered here must not be written twice
            stream.flush()
        parent = os.getpid()
        with _FORKING:
            receive, send = os.pipe()
            try:
                with warnings.catch_warnings():  # Python 3.12+ warns about forking with threads running
                    warnings.simplefilter("ignore", DeprecationWarning)
                    pid = os.fork()
            except OSError:
                os.close(receive)
                raise
            finally:
                if os.getpid() == parent:
                    os.close(send)
        if pid == 0:  # pragma: no cover - runs in the reader process (its coverage is not collected)
            try:
                os.close(receive)
                _reader_main(reads, parent, send, inherited, read_ahead=read_ahead)
            finally:  # never back into the caller's code, whatever happened
                os._exit(1)
        log.debug("reading %s in process %d", ", ".join(f"{r.instance}.{r.stream}" for r in reads), pid)
        return cls(reads, pid, Connection(receive, writable=False))

    def step(self) -> bool:
        """Take what the reader sent next; True when it is finished (its streams read or failed)."""
        try:
            what, index, item = self.conn.recv()
        except (EOFError, OSError):
            status = self._reap()
            read = self.reads[self.at]
            read.error = read.error or redact(
                f"{read.instance}.{read.stream} failed: its reader process ended before the end of "
                f"the stream ({_describe(status)}); the pages written are kept, the next sync "
                "reads on from there")
            self.left = self.reads[self.at + 1:]
            return True
        read = self.reads[index]
        if what == "page":
            try:
                read.write(item)
            except Exception as exc:  # the ledger refused the page: this stream fails, the others go on
                read.fail(exc)
                self.kill()
                self.left = self.reads[index + 1:]
                return True
            return False
        if what == "error":
            read.error = item
        else:
            log.info("read %s.%s in reader process %d: %d page(s), %.2f s of CPU there", read.instance,
                     read.stream, self.pid, read.pages, item)
        self.at = index + 1
        if self.at < len(self.reads):
            return False
        self._reap()
        return True

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self._reap()

    def _reap(self) -> int | None:
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:  # reaped already (a SIGCHLD handler of the embedding program)
            return None
        return status


class _WriterGone(Exception):
    """The syncing process no longer reads the pipe: nothing to hand the pages to."""


def _reader_main(reads: list[StreamRead], parent: int, send: int, inherited: list[Connection], *,
                 read_ahead: bool) -> NoReturn:  # pragma: no cover - runs in the reader process
    code = 0
    try:
        _die_with(parent)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the syncing process's to handle
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        gc.freeze()  # what was inherited is never collected here (and its pages stay shared)
        for conn in inherited:
            conn.close()
        out = Connection(send, readable=False)

        def tell(message: tuple[str, int, Any]) -> None:
            try:
                out.send(message)
            except (BrokenPipeError, ConnectionResetError):
                raise _WriterGone from None

        for index, read in enumerate(reads):  # one stream after another, as in one process
            started = time.process_time()
            try:
                for ready in read.source_pages(read_ahead=read_ahead):
                    tell(("page", index, ready))
                said: tuple[str, int, Any] = ("done", index, time.process_time() - started)
            except _WriterGone:
                raise
            except Exception as exc:  # the vendor failed (or a page could not be sent): this stream
                read.fail(exc)
                said = ("error", index, read.error)
            tell(said)
    except BaseException:
        code = 1
    finally:
        try:  # what it logged; nothing here may keep it from exiting (a closed or captured stream)
            for handler in logging.getLogger().handlers:
                handler.flush()
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
        finally:
            os._exit(code)


def _die_with(parent: int) -> None:  # pragma: no cover - runs in the reader process
    """Be killed when the syncing process dies (kill -9 included): Linux's PR_SET_PDEATHSIG."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the line above
        os._exit(1)


def _describe(status: int | None) -> str:
    if status is None:
        return "its exit status is unknown"
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        return f"killed by signal {signal.Signals(-code).name}"
    return f"exit status {code}"
