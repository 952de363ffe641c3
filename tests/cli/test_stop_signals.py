"""A sync stopped by its service manager (SIGTERM) or by Ctrl-C, through the CLI, against a slow
vendor: it says so, records its run as failed, leaves no reader process, lets go of the lock,
and the next sync reads on and ends with the whole ledger."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bench.fake_vendor import DataSet, serve_in_thread
from bench.sides import API_KEY, LRS_SECRET, LRS_USER, PLUGINS_TOML

from trainbridge.core.config import load_settings
from trainbridge.core.runner import Workspace

pytestmark = pytest.mark.slow  # a local vendor answering slowly

EMPLOYEES, STATEMENTS = 100, 2000
#: every employee, every 50th one's separation, every other one's training record and its cost
WHOLE = EMPLOYEES + EMPLOYEES // 50 + 2 * (EMPLOYEES // 2) + STATEMENTS


@pytest.fixture
def slow_vendor():
    server, url = serve_in_thread(DataSet(EMPLOYEES, STATEMENTS, seed=1), latency_ms=10)
    yield url
    server.shutdown()
    server.server_close()


def _workspace(folder: Path, url: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = PLUGINS_TOML.format(ledger="sqlite:///trainbridge.db", api_key=API_KEY, url=url, user=LRS_USER,
                               secret=LRS_SECRET, xapi_limit=100)
    path = folder / "plugins.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _sync(config: Path, readers: str) -> subprocess.Popen[str]:
    env = {**os.environ, "TRAINBRIDGE_READ_PROCESSES": readers}
    return subprocess.Popen([sys.executable, "-m", "trainbridge", "--config", str(config), "sync", "ingest"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _records(config: Path) -> int:
    ws = Workspace(load_settings(config))
    try:
        with ws.ledger.transaction() as conn:
            return ws.ledger.count_records(conn)
    except Exception:  # not made yet
        return 0
    finally:
        ws.close()


@pytest.mark.parametrize("readers", ["0", "2"])
@pytest.mark.parametrize(("stop", "code", "said"), [(signal.SIGTERM, 143, "stopped (SIGTERM)"),
                                                    (signal.SIGINT, 130, "interrupted")])
def test_a_sync_stopped_mid_ingestion_says_so_and_the_next_one_reads_on(
        slow_vendor, tmp_path, readers, stop, code, said):
    config = _workspace(tmp_path / "ws", slow_vendor)
    running = _sync(config, readers)
    deadline = time.monotonic() + 60
    while _records(config) == 0 and time.monotonic() < deadline:  # a page or more is written
        time.sleep(0.1)
    running.send_signal(stop)
    out, err = running.communicate(timeout=60)
    assert running.returncode == code, out + err
    assert said in err and "the next run goes on from there" in err

    again = _sync(config, readers)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, out + err  # the lock was let go: not 75
    assert _records(config) == WHOLE
    ws = Workspace(load_settings(config))
    try:
        with ws.ledger.transaction() as conn:
            runs = ws.ledger.list_runs(conn)
    finally:
        ws.close()
    stopped = [r for r in runs if r["status"] == "failed"]
    assert stopped and any("interrupted" in e for r in stopped for e in r["errors"])
