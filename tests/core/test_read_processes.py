"""Streams read by reader processes (``[sync] read_processes``): the same ledger as reading in
the syncing process, streams of two vendors at once, one vendor's streams one after another,
a reader that dies or fails, the syncing process killed, and HTTP connections never shared."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from trainbridge import hookimpl
from trainbridge.core import ingest_fork
from trainbridge.core.config import load_settings
from trainbridge.core.connector import Connector, ConnectorConfig
from trainbridge.core.errors import ConfigError, ConnectorError
from trainbridge.core.http_session import EnvironmentOnceSession, _drop_inherited_connections
from trainbridge.core.records import Employee, LearningEvent, Page
from trainbridge.core.runner import sync
from trainbridge.core.workspace import Workspace

pytestmark = pytest.mark.skipif(not ingest_fork.can_fork(), reason="reader processes are forked (Linux)")
SYNCING = os.getpid()


class VendorConfig(ConnectorConfig):
    pages: int = 3
    per_page: int = 20
    folder: str = "."
    #: the page at which the reader kills itself (-9) or the vendor fails, 0 for never
    die_at: int = 0
    fail_at: int = 0
    #: wait (up to 30 s) for this file, written by another instance's first page
    wait_for: str = ""
    mark: str = ""
    #: the HTTP server the pages come from ("" for pages made here)
    base_url: str = ""
    slow: float = 0.0
    #: fail when two of this vendor's streams are read at once
    exclusive: bool = False


class Vendor(Connector):
    """People and attendance in numbered pages; the cursor is the last page read."""

    config_model = VendorConfig

    @hookimpl
    def fetch_employees(self, since: str | None) -> Iterator[Page]:
        yield from self._pages("employees", since)

    @hookimpl
    def fetch_learning_events(self, since: str | None) -> Iterator[Page]:
        yield from self._pages("events", since)

    def _pages(self, stream: str, since: str | None) -> Iterator[Page]:
        cfg: Any = self.config
        folder = Path(cfg.folder)
        busy = folder / f"{self.name}.busy"
        if cfg.exclusive and busy.exists():
            raise ConnectorError(f"{self.name}: two of its streams were read at once")
        busy.write_text(stream)
        (folder / f"{self.name}.{stream}.pid").write_text(str(os.getpid()))
        try:
            for number in range(int(since or 0) + 1, cfg.pages + 1):
                if cfg.slow:
                    time.sleep(cfg.slow)
                if number == cfg.die_at and os.getpid() != SYNCING:
                    os.kill(os.getpid(), signal.SIGKILL)
                if number == cfg.fail_at:
                    raise ConnectorError(f"{self.name}: the vendor answered 500 for page {number}")
                if cfg.mark:
                    (folder / cfg.mark).write_text("here")
                if cfg.wait_for:
                    _wait_for(folder / cfg.wait_for)
                yield self._page(stream, number)
        finally:
            busy.unlink()

    def http(self) -> Any:
        """One client for the instance's life, as connectors keep theirs."""
        if not hasattr(self, "_client"):
            cfg: Any = self.config
            self._client = self.ctx.http(cfg.base_url, instance=self.name)
        return self._client

    def _page(self, stream: str, number: int) -> Page:
        cfg: Any = self.config
        if cfg.base_url:
            rows = self.http().get_json(f"/{stream}", params={"page": number, "per_page": cfg.per_page})
        else:
            rows = _rows(number, cfg.per_page)
        page = Page(cursor=str(number))
        for row in rows:
            row = {**row, "id": f"{self.name}-{row['id']}"}
            if stream == "employees":
                page.add(Employee, {"id": row["id"], "employee_id": row["id"], "name": row["name"],
                                    "source": self.name})
            else:
                page.add(LearningEvent, {"id": f"a-{row['id']}", "employee_id": row["id"],
                                         "event": "attended", "session_id": "S1",
                                         "occurred_at": "2026-03-01T09:00:00+08:00", "source": self.name})
        return page


def _rows(number: int, per_page: int) -> list[dict[str, str]]:
    return [{"id": f"E{number:03d}{i:03d}", "name": f"员工{number}-{i}"} for i in range(per_page)]


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + 30
    while not path.exists():
        if time.monotonic() > deadline:
            raise ConnectorError(f"{path.name} never came: the two vendors were not read at once")
        time.sleep(0.02)


def add_vendors(ws: Workspace, **vendors: dict[str, Any]) -> None:
    for name, table in vendors.items():
        vendor = Vendor.from_mapping(name, {"folder": str(ws.settings.base_dir), **table})
        ws.host.pm.register(vendor, name=f"connector:{name}")
        ws.host.instances[name] = vendor


@pytest.fixture
def processes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ingest_fork.ENV, "2")


def _ledger(ws: Workspace) -> tuple[dict[str, int], dict[tuple[str, str], str | None]]:
    with ws.ledger.transaction() as conn:
        kinds = {kind: sum(1 for _ in ws.ledger.iter_records(conn, kind))
                 for kind in ("employee", "learning_event")}
        cursors = {(i, s): ws.ledger.get_cursor(conn, i, s)
                   for i in ("hr", "lms") for s in ("fetch_employees", "fetch_learning_events")}
    return kinds, cursors


def synced_each_way(make_workspace: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                    vendors: Callable[[Workspace], None]) -> dict[str, tuple[Workspace, Any]]:
    """The same vendors synced into two new workspaces: read here ("0"), and by reader processes ("2")."""
    done = {}
    for count in ("0", "2"):
        monkeypatch.setenv(ingest_fork.ENV, count)
        ws = make_workspace({}, directory=_folder(tmp_path / f"processes-{count}"))
        vendors(ws)
        [result] = sync(ws, ["ingest"])
        done[count] = (ws, result)
    return done


def test_streams_read_by_reader_processes_land_as_they_would_in_this_process(
        make_workspace, tmp_path, monkeypatch):
    written = {}
    synced = synced_each_way(make_workspace, tmp_path, monkeypatch, lambda ws: add_vendors(
        ws, hr={"pages": 3, "per_page": 25}, lms={"pages": 2, "per_page": 40}))
    for count, (ws, result) in synced.items():
        assert result.status == "ok", result.errors
        counts = {k: result.counts.get(k) for k in ("read", "pages", "records_new")}
        written[count] = (_ledger(ws), counts)
        readers = {int(p.read_text()) for p in ws.settings.base_dir.glob("*.pid")}
        assert (readers == {os.getpid()}) is (count == "0")
    assert written["0"] == written["2"]
    (kinds, cursors), counts = written["2"]
    assert kinds == {"employee": 75 + 80, "learning_event": 75 + 80}
    assert cursors[("hr", "fetch_employees")] == "3" and cursors[("lms", "fetch_learning_events")] == "2"
    assert counts == {"read": 310, "pages": 10, "records_new": 310}


def test_the_streams_of_two_vendors_are_read_at_once(make_workspace, tmp_path, processes):
    ws = make_workspace({})
    add_vendors(ws, hr={"pages": 2, "wait_for": "lms.here"}, lms={"pages": 2, "mark": "lms.here"})
    [result] = sync(ws, ["ingest"])
    assert result.status == "ok", result.errors


def test_one_vendor_s_streams_are_read_one_after_another(make_workspace, tmp_path, processes):
    ws = make_workspace({})
    add_vendors(ws, hr={"pages": 4, "slow": 0.05, "exclusive": True})  # employees and events of one vendor
    [result] = sync(ws, ["ingest"])
    assert result.status == "ok", result.errors
    assert _ledger(ws)[0] == {"employee": 80, "learning_event": 80}


def test_a_reader_that_dies_fails_its_stream_keeps_its_pages_and_the_next_sync_reads_on(
        make_workspace, tmp_path, processes):
    ws = make_workspace({})
    # slow enough that pages 1 and 2 reach the writer before the reader dies reading page 3
    add_vendors(ws, hr={"pages": 4, "die_at": 3, "slow": 0.3}, lms={"pages": 2})
    [result] = sync(ws, ["ingest"])
    assert result.status == "partial"
    for stream in ("fetch_employees", "fetch_learning_events"):  # each dies at its page 3
        [error] = [e for e in result.errors if e.startswith(f"hr.{stream}")]
        assert f"hr.{stream} failed: its reader process ended before the end of the stream" in error
        assert "killed by signal SIGKILL" in error
    cursors = _ledger(ws)[1]
    assert cursors[("hr", "fetch_employees")] == "2"  # pages 1 and 2 were written
    assert cursors[("lms", "fetch_learning_events")] == "2"  # the other vendor went on

    hr: Any = ws.host.instances["hr"].config
    hr.die_at = 0
    [again] = sync(ws, ["ingest"])
    assert again.status == "ok", again.errors
    assert _ledger(ws)[0]["employee"] == 80 + 40  # hr's four pages, lms's two
    assert again.counts["records_new"] == 40 + 40  # pages 3 and 4 of each, nothing twice


def test_a_vendor_failing_in_a_reader_process_reads_as_it_would_here(make_workspace, tmp_path, monkeypatch):
    synced = synced_each_way(make_workspace, tmp_path, monkeypatch,
                             lambda ws: add_vendors(ws, hr={"pages": 3, "fail_at": 2}))
    errors = {count: (result.status, result.errors, _ledger(ws)) for count, (ws, result) in synced.items()}
    assert errors["0"] == errors["2"]
    status, messages, (kinds, _) = errors["2"]
    assert status == "failed" and kinds["employee"] == 20
    assert "hr.fetch_employees failed: hr: the vendor answered 500 for page 2" in messages


def test_a_ledger_refusing_a_page_fails_that_stream_and_stops_its_reader(
        make_workspace, tmp_path, processes, monkeypatch):
    ws = make_workspace({})
    add_vendors(ws, hr={"pages": 50, "slow": 0.02}, lms={"pages": 2})
    real = ws.ledger.upsert_prepared

    def refuse_hr(conn: Any, records: Any, **kw: Any) -> Any:
        if records and records[0].source == "hr" and records[0].kind == "employee":
            raise RuntimeError("disk full")
        return real(conn, records, **kw)

    monkeypatch.setattr(ws.ledger, "upsert_prepared", refuse_hr)
    [result] = sync(ws, ["ingest"])
    assert "hr.fetch_employees failed: RuntimeError: disk full" in result.errors
    reader = int((ws.settings.base_dir / "hr.employees.pid").read_text())
    assert not _alive(reader)
    assert _ledger(ws)[0] == {"employee": 40, "learning_event": 50 * 20 + 40}  # the rest went on


def test_a_dry_run_reads_in_this_process(make_workspace, tmp_path, processes):
    ws = make_workspace({})
    add_vendors(ws, hr={"pages": 1})
    [result] = sync(ws, ["ingest"], dry_run=True)
    assert result.status == "ok"
    assert int((ws.settings.base_dir / "hr.employees.pid").read_text()) == os.getpid()


SCRIPT = """
import sys
from tests.core.test_read_processes import add_vendors
from trainbridge.core.config import load_settings
from trainbridge.core.runner import Workspace, sync
ws = Workspace(load_settings(sys.argv[1]))
add_vendors(ws, hr={"pages": 6, "per_page": 30, "slow": 0.1})
[result] = sync(ws, ["ingest"])
print(result.status, result.counts.get("records_new", 0))
"""


def test_the_syncing_process_killed_leaves_no_reader_behind_and_the_next_sync_skips_nothing(
        make_workspace, tmp_path):
    ws = make_workspace({})
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2]), ingest_fork.ENV: "2",
           "TRAINBRIDGE_FAULT": "after_page:2"}
    killed = subprocess.run([sys.executable, "-c", SCRIPT, str(ws.settings.path)], env=env,
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr
    reader = int((ws.settings.base_dir / "hr.employees.pid").read_text())
    deadline = time.monotonic() + 10
    while _alive(reader) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(reader), "the reader process outlived the sync that started it"

    env.pop("TRAINBRIDGE_FAULT")
    again = subprocess.run([sys.executable, "-c", SCRIPT, str(ws.settings.path)], env=env,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    written_before = 2 * 30  # two pages committed before the kill
    assert again.stdout.split() == ["ok", str(6 * 30 - written_before + 6 * 30)]
    assert _ledger(ws)[0] == {"employee": 180, "learning_event": 180}


class _People(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    peers: ClassVar[list[int]] = []

    def do_GET(self) -> None:
        self.peers.append(self.client_address[1])
        query = dict(p.split("=") for p in self.path.split("?", 1)[1].split("&"))
        body = json.dumps(_rows(int(query["page"]), int(query["per_page"]))).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_a_reader_never_talks_over_the_syncing_process_s_connections(make_workspace, tmp_path, processes):
    _People.peers = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _People)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        ws = make_workspace({})
        add_vendors(ws, hr={"pages": 3, "base_url": base})
        client = ws.host.instances["hr"].http()  # the client the reader inherits, with a connection
        client.get_json("/employees", params={"page": 1, "per_page": 1})  # a kept-alive connection here
        [result] = sync(ws, ["ingest"])
        assert result.status == "ok", result.errors
        client.get_json("/employees", params={"page": 1, "per_page": 1})  # still ours, still working
        mine, *theirs, mine_again = _People.peers
        assert mine == mine_again and mine not in theirs and len(theirs) == 2 * 3
        # the vendor's reader kept one connection of its own for its two streams' three pages
        assert [theirs.count(peer) for peer in set(theirs)] == [2 * 3]
    finally:
        server.shutdown()


def test_a_forked_process_closes_its_copies_of_the_kept_alive_connections():
    session = EnvironmentOnceSession()
    adapter: Any = session.get_adapter("http://vendor.example")
    adapter.poolmanager.connection_from_url("http://vendor.example")
    assert len(adapter.poolmanager.pools) == 1
    _drop_inherited_connections()
    assert len(adapter.poolmanager.pools) == 0


@pytest.mark.parametrize(("value", "cores", "expected"), [
    ("auto", 1, 0), ("auto", 2, 2), ("auto", 64, ingest_fork.MOST_AUTO), ("0", 8, 0), (3, 1, 3)])
def test_read_processes_auto_is_a_reader_per_core(tmp_path, monkeypatch, value, cores, expected):
    monkeypatch.delenv(ingest_fork.ENV, raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)))
    path = tmp_path / "plugins.toml"
    path.write_text(f"[sync]\nread_processes = {json.dumps(value)}\n", encoding="utf-8")
    assert ingest_fork.read_processes(load_settings(path)) == expected


@pytest.mark.parametrize("value", ['"many"', "-1", "1.5", "true"])
def test_a_wrong_read_processes_names_the_file_the_key_and_the_fix(tmp_path, value):
    path = tmp_path / "plugins.toml"
    path.write_text(f"[sync]\nread_processes = {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    text = str(caught.value)
    assert str(path) in text and "[sync]" in text and "read_processes" in text
    assert 'read_processes = "auto"' in caught.value.hint


def test_a_wrong_environment_variable_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv(ingest_fork.ENV, "lots")
    path = tmp_path / "plugins.toml"
    path.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match=ingest_fork.ENV):
        ingest_fork.read_processes(load_settings(path))


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in state


def _folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_the_demo_through_the_cli_is_the_same_with_reader_processes(tmp_path):
    """`trainbridge demo` as a user runs it: every source read by reader processes, or here."""
    ledgers = {}
    for readers in ("0", "2"):
        folder = tmp_path / f"demo-{readers}"
        env = {**os.environ, ingest_fork.ENV: readers}
        done = subprocess.run([sys.executable, "-m", "trainbridge", "demo", "--dir", str(folder),
                               "--today", "2026-12-05"], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        ws = Workspace(load_settings(folder / "plugins.toml"))
        try:
            from trainbridge.core.ledger import records_table as t

            with ws.ledger.engine.connect() as conn:
                ledgers[readers] = sorted(conn.execute(
                    t.select().with_only_columns(t.c.kind, t.c.id, t.c.hash)).all())
        finally:
            ws.close()
    read = {"employee", "separation", "program", "session", "enrollment", "learning_event", "certificate",
            "cost_item", "metric"}  # what the sources gave, hash for hash (what jobs made holds times)
    assert [r for r in ledgers["0"] if r[0] in read] == [r for r in ledgers["2"] if r[0] in read]
    assert len([r for r in ledgers["2"] if r[0] in read]) > 50
