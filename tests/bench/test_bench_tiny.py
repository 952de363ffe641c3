"""The benchmark runs end to end at a tiny size: fake vendor, both tools, same store kind.

Counts only; no timing assertions (timings are BENCHMARKS.md's business).
"""

from __future__ import annotations

import importlib.util
import json

import pytest
import requests
from bench.fake_vendor import DataSet, serve_in_thread
from bench.sides import run_dlt, run_trainbridge

pytestmark = pytest.mark.slow  # starts a local HTTP server

EMPLOYEES, STATEMENTS = 100, 200


@pytest.fixture
def vendor():
    server, url = serve_in_thread(DataSet(EMPLOYEES, STATEMENTS, seed=1))
    yield url
    server.shutdown()
    server.server_close()


@pytest.fixture(params=["0", "2"], ids=["in-process", "reader-processes"])
def readers(request, monkeypatch):
    """Streams read in the syncing process, or by reader processes (the default on Linux)."""
    monkeypatch.setenv("TRAINBRIDGE_READ_PROCESSES", request.param)
    return request.param


def test_trainbridge_reads_the_fake_vendor_into_the_ledger_then_only_what_changed(vendor, tmp_path, readers):
    store = f"sqlite:///{tmp_path / 'ledger.sqlite'}"

    full = run_trainbridge(vendor, store, tmp_path / "tb")

    assert full["status"] == "ok", full["errors"]
    # every 50th employee left; every even one has a training record with a cost
    assert full["rows"] == {"employee": 100, "separation": 2, "cost_item": 50,
                            "learning_event": 50 + STATEMENTS}
    assert full["run_counts"]["records_new"] == full["total_rows"]

    requests.post(f"{vendor}/_bench/change", timeout=5)
    incremental = run_trainbridge(vendor, store, tmp_path / "tb")

    assert incremental["status"] == "ok", incremental["errors"]
    assert incremental["rows"]["employee"] == 100  # one changed, none added
    assert incremental["rows"]["learning_event"] == 50 + STATEMENTS + 2  # 1% more statements
    assert incremental["run_counts"]["records_changed"] == 1
    assert incremental["run_counts"]["records_new"] == 2


def test_retries_after_429_and_5xx_end_in_the_same_ledger(vendor, tmp_path, readers):
    clean = run_trainbridge(vendor, f"sqlite:///{tmp_path / 'clean.sqlite'}", tmp_path / "clean")
    requests.post(f"{vendor}/_bench/faults", params={"p429": 0, "p5xx": 0.2}, timeout=5)

    faulty = run_trainbridge(vendor, f"sqlite:///{tmp_path / 'faulty.sqlite'}", tmp_path / "faulty")

    injected = requests.post(f"{vendor}/_bench/faults", params={"p5xx": 0}, timeout=5).json()
    assert injected["5xx"] > 0
    assert faulty["status"] == "ok", faulty["errors"]
    assert faulty["fingerprint"] == clean["fingerprint"]
    assert faulty["rows"] == clean["rows"]


@pytest.mark.skipif(importlib.util.find_spec("dlt") is None,
                    reason="dlt is not installed (pip install 'dlt[sqlalchemy]'): the comparison side")
def test_dlt_reads_the_same_endpoints(vendor, tmp_path, monkeypatch):
    # run_dlt sets these; setting them here first has them restored after the test
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt_data"))
    monkeypatch.setenv("RUNTIME__LOG_LEVEL", "WARNING")
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    result = run_dlt(vendor, f"sqlite:///{tmp_path / 'dlt.sqlite'}", tmp_path / "dlt")

    assert result["rows"]["statements"] == STATEMENTS
    assert result["rows"]["employees"] == EMPLOYEES
    assert result["rows"]["separations"] == 2
    assert result["rows"]["training"] == 50
    assert not any(v for k, v in result["rows"].items() if k.endswith("_duplicates"))


@pytest.mark.skipif(any(importlib.util.find_spec(m) is None for m in ("dlt", "duckdb", "pyarrow")),
                    reason="dlt[duckdb,parquet] is not installed: the comparison side (extra bench)")
@pytest.mark.parametrize("tool", ["dlt-parquet", "dlt-duckdb"])
def test_dlt_reads_the_same_into_duckdb_through_parquet_and_its_default_path(vendor, tmp_path, monkeypatch,
                                                                             tool):
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt_data"))
    monkeypatch.setenv("RUNTIME__LOG_LEVEL", "WARNING")
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    result = run_dlt(vendor, f"duckdb:///{tmp_path / 'dlt.duckdb'}", tmp_path / "dlt", tool=tool)

    assert result["destination"] == "duckdb"
    assert result["loader_file_format"] == ("parquet" if tool == "dlt-parquet" else "default")
    assert (result["rows"]["statements"], result["rows"]["employees"], result["rows"]["training"]) == \
        (STATEMENTS, EMPLOYEES, 50)
    assert not any(v for k, v in result["rows"].items() if k.endswith("_duplicates"))


def test_the_vendor_writes_statements_from_a_template_as_json_would():
    data = DataSet(EMPLOYEES, STATEMENTS, seed=7)
    data.generation = 1
    for k in [*range(0, 250), STATEMENTS + 1]:
        assert data.statement_bytes(k) == json.dumps(data.statement(k), separators=(",", ":")).encode()
