"""Reader processes as users meet them: what a vendor's source learns in one stream (a token)
lasts for its other streams, a run says what its streams said in their order whoever read
them, a sync interrupted by Ctrl-C says so in its run, and a machine that cannot fork another
process still reads every stream."""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.core.test_read_processes import synced_each_way
from trainbridge import hookimpl
from trainbridge.core import ingest_fork
from trainbridge.core.connector import Connector, ConnectorConfig
from trainbridge.core.records import Employee, LearningEvent, Page
from trainbridge.core.runner import sync
from trainbridge.core.workspace import Workspace

pytestmark = pytest.mark.skipif(not ingest_fork.can_fork(), reason="reader processes are forked (Linux)")


class TokenVendorConfig(ConnectorConfig):
    folder: str = "."
    pages: int = 3
    #: seconds each page takes; and a row without its employee on every page (quarantined)
    slow: float = 0.0
    bad_rows: bool = False


class TokenVendor(Connector):
    """An HRIS whose API wants a token, asked once and kept for the instance's calls; every
    token asked is written down (by whichever process asked) in ``tokens.log``."""

    config_model = TokenVendorConfig

    @hookimpl
    def fetch_employees(self, since: str | None) -> Iterator[Page]:
        for number in range(int(since or 0) + 1, self._cfg.pages + 1):
            page = Page(cursor=str(number))
            page.add(Employee, {"id": f"{self.name}-E{number}", "employee_id": f"E{number}",
                                "name": f"员工{number}", "source": self.name, "email": self._token()})
            yield self._finish(page, number)

    @hookimpl
    def fetch_learning_events(self, since: str | None) -> Iterator[Page]:
        for number in range(int(since or 0) + 1, self._cfg.pages + 1):
            page = Page(cursor=str(number))
            page.add(LearningEvent, {"id": f"{self.name}-a{number}", "employee_id": f"E{number}",
                                     "event": "attended", "session_id": "S1", "source": self.name,
                                     "occurred_at": "2026-03-01T09:00:00+08:00",
                                     "program_id": self._token().split("@")[0]})
            yield self._finish(page, number)

    def _finish(self, page: Page, number: int) -> Page:
        if self._cfg.slow:
            time.sleep(self._cfg.slow)
        if self._cfg.bad_rows:
            page.add(Employee, {"id": f"{self.name}-X{number}", "name": "nobody", "source": self.name})
        return page

    @property
    def _cfg(self) -> Any:
        return self.config

    def _token(self) -> str:
        if getattr(self, "_kept", None) is None:
            log = Path(self._cfg.folder) / "tokens.log"
            with log.open("a", encoding="utf-8") as out:
                out.write(f"{os.getpid()}\n")
            self._kept = "token@example.com"
        return self._kept


def add_token_vendor(ws: Workspace, name: str = "hr", **table: Any) -> None:
    vendor = TokenVendor.from_mapping(name, {"folder": str(ws.settings.base_dir), **table})
    ws.host.pm.register(vendor, name=f"connector:{name}")
    ws.host.instances[name] = vendor


def _tokens_asked(ws: Workspace) -> int:
    log = ws.settings.base_dir / "tokens.log"
    return len(log.read_text(encoding="utf-8").split()) if log.exists() else 0


def _counts(ws: Workspace) -> dict[str, int]:
    with ws.ledger.transaction() as conn:
        return {kind: sum(1 for _ in ws.ledger.iter_records(conn, kind))
                for kind in ("employee", "learning_event")}


def test_a_token_a_vendor_gave_while_reading_people_serves_its_attendance_too(
        make_workspace, tmp_path, monkeypatch):
    asked = {}
    synced = synced_each_way(make_workspace, tmp_path, monkeypatch, add_token_vendor)
    for count, (ws, result) in synced.items():
        assert result.status == "ok", result.errors
        asked[count] = (_tokens_asked(ws), _counts(ws))
    # one token per sync for the vendor's two streams, as when read in the syncing process
    assert asked["2"] == asked["0"] == (1, {"employee": 3, "learning_event": 3})


def test_a_run_says_what_its_streams_said_in_their_order_whoever_read_them(
        make_workspace, tmp_path, monkeypatch):
    def vendors(ws: Workspace) -> None:
        add_token_vendor(ws, "hr", pages=2, slow=0.2, bad_rows=True)  # its pages come last
        add_token_vendor(ws, "lms", pages=2, bad_rows=True)

    said = {count: result.errors
            for count, (_, result) in synced_each_way(make_workspace, tmp_path, monkeypatch, vendors).items()}
    assert said["2"] == said["0"]
    assert [e.split(":")[0] for e in said["2"]] == [
        "hr.fetch_employees", "hr.fetch_employees", "lms.fetch_employees", "lms.fetch_employees",
        "hr.fetch_learning_events", "hr.fetch_learning_events",
        "lms.fetch_learning_events", "lms.fetch_learning_events"]


def test_ctrl_c_while_ingesting_leaves_a_failed_run_that_says_so_and_no_reader(
        make_workspace, tmp_path, monkeypatch):
    monkeypatch.setenv(ingest_fork.ENV, "2")
    ws = make_workspace({})
    add_token_vendor(ws, pages=5)
    real = ws.ledger.upsert_prepared
    written: list[int] = []

    def interrupted(conn: Any, records: Any, **kw: Any) -> Any:
        if len(written) == 2:
            raise KeyboardInterrupt  # Ctrl-C reaches the syncing process while it writes page 3
        written.append(len(records))
        return real(conn, records, **kw)

    monkeypatch.setattr(ws.ledger, "upsert_prepared", interrupted)
    before = set(_children())  # what other tests may have left running
    with pytest.raises(KeyboardInterrupt):
        sync(ws, ["ingest"])
    with ws.ledger.transaction() as conn:
        [run] = ws.ledger.list_runs(conn, job="ingest", limit=1)
    assert run["status"] == "failed"
    assert any("interrupted" in e and "next sync reads on" in e for e in run["errors"]), run["errors"]
    assert not set(_children()) - before, "a reader process outlived the interrupted sync"

    monkeypatch.setattr(ws.ledger, "upsert_prepared", real)
    [again] = sync(ws, ["ingest"])  # the lock was released: the next sync runs, and reads on
    assert again.status == "ok", again.errors
    assert _counts(ws) == {"employee": 5, "learning_event": 5}
    assert again.counts["records_new"] == 10 - 2


def test_a_machine_that_cannot_fork_another_process_still_reads_every_stream(
        make_workspace, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv(ingest_fork.ENV, "2")
    ws = make_workspace({})
    add_token_vendor(ws, pages=2)

    def no_more_processes() -> int:
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_more_processes)
    [result] = sync(ws, ["ingest"])
    assert result.status == "ok", result.errors
    assert _counts(ws) == {"employee": 2, "learning_event": 2}
    assert "read in the syncing process" in caplog.text


def _children() -> list[int]:
    """This process's children that are still running (zombies are dead)."""
    me = os.getpid()
    alive = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)
        if fields.get("PPid", "").strip() == str(me) and not fields.get("State", "").startswith("Z"):
            alive.append(int(fields["Pid"]))
    return alive
