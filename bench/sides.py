"""The two tools under test, each reading the fake vendor into a store.

* trainbridge: the ``bamboohr`` and ``xapi`` connectors and ``sync(ws, ["ingest"])``.
* dlt: xAPI statements through the declarative ``rest_api`` source (``more`` link
  paginator, incremental on ``stored``); BambooHR through ``@dlt.resource`` functions on
  dlt's ``RESTClient`` with ``dlt.sources.incremental`` (its answers are maps keyed by
  employee id, which ``rest_api``'s data selectors cannot turn into rows with the key, and
  the report's employee filter needs the changed ids in batches). Same requests as
  trainbridge except that dlt scans training records once where trainbridge scans twice
  (learning events and cost items are two hooks).
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

API_KEY = "bench-api-key"
#: Statements per xAPI request, for both tools (xAPI lets the client ask; the fake LRS allows 10,000).
XAPI_LIMIT = 2000
LRS_USER, LRS_SECRET = "lrs-key", "lrs-secret"
REPORT_FIELDS = ["employeeNumber", "displayName", "firstName", "lastName", "workEmail",
                 "department", "jobTitle", "supervisorEId", "supervisorId", "hireDate", "status",
                 "employmentHistoryStatus", "terminationDate", "division", "location"]

PLUGINS_TOML = """
[ledger]
url = "{ledger}"

[connectors.bamboo]
type = "bamboohr"
company_domain = "acme"
api_key = "{api_key}"
base_url = "{url}/bamboo/v1"
training_scan = "changed"
# one training request at a time: the vendor is local (no latency to overlap), and on 2 cores more
# threads only contend for the GIL (a vendor over the internet wants the default, 4)
training_concurrency = 1
default_currency = "CNY"
http = {{ backoff_base = 0.2, max_attempts = 8 }}

[connectors.lrs]
type = "xapi"
endpoint = "{url}/xapi/"
username = "{user}"
password = "{secret}"
page_size = {xapi_limit}
http = {{ backoff_base = 0.2, max_attempts = 8 }}
"""


# --- trainbridge -------------------------------------------------------------------------

def run_trainbridge(url: str, store: str, workdir: Path, *, only_xapi: bool = False,
                    jobs: Sequence[str] = ("ingest",)) -> dict[str, Any]:
    """``sync(ws, jobs)`` (every job when ``jobs`` is empty) into ``store``; times, counts, ledger."""
    from trainbridge.core.config import load_settings
    from trainbridge.core.runner import Workspace, sync

    workdir.mkdir(parents=True, exist_ok=True)
    text = PLUGINS_TOML.format(ledger=store, api_key=API_KEY, url=url, user=LRS_USER,
                               secret=LRS_SECRET, xapi_limit=XAPI_LIMIT)
    if only_xapi:
        text = text.split("[connectors.bamboo]")[0] + "[connectors.lrs]" + \
            text.split("[connectors.lrs]")[1]
    from trainbridge.connectors.bamboohr.config import BambooHRConfig

    if "training_concurrency" not in BambooHRConfig.model_fields:  # a checkout from before it
        text = "\n".join(line for line in text.splitlines() if not line.startswith("training_concurrency"))
    (workdir / "plugins.toml").write_text(text, encoding="utf-8")
    ws = Workspace(load_settings(workdir / "plugins.toml"))
    ws.ensure_migrated()
    started, cpu, readers = time.perf_counter(), time.process_time(), _children_cpu()
    results = sync(ws, list(jobs))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    readers = _children_cpu() - readers  # the reader processes (``[sync] read_processes``), reaped
    peak = sync_peak_rss_mb()
    counts = ledger_counts(ws.ledger.engine, ws.settings.tenant)
    ws.close()
    out = {"seconds": seconds, "cpu_seconds": cpu + readers, "writer_cpu_seconds": cpu,
           "reader_cpu_seconds": readers, "sync_peak_rss_mb": peak,
           "reader_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
           "status": next((r.status for r in results if r.status != "ok"), "ok"),
           "errors": [e for r in results for e in r.errors][:5], **counts}
    if len(results) == 1:
        out["run_counts"] = results[0].counts
    else:
        out["jobs"] = {r.job: {"status": r.status, "run_counts": r.counts} for r in results}
    return out


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def sync_peak_rss_mb() -> float:
    """This process's peak RSS so far: taken right after the sync, before the store is counted
    (counting reads every id, and psycopg holds a whole result in memory)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def ledger_counts(engine: sa.Engine, tenant: str) -> dict[str, Any]:
    """Records per kind and a fingerprint of (kind, id, content hash): equal ledgers, equal prints."""
    from trainbridge.core.ledger import records_table as t

    digest = hashlib.sha256()
    kinds: dict[str, int] = {}
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.kind, t.c.id, t.c.hash).where(t.c.tenant == tenant)
                            .order_by(t.c.kind, t.c.id))
        for kind, rid, digest_ in rows:
            kinds[kind] = kinds.get(kind, 0) + 1
            digest.update(f"{kind}\x00{rid}\x00{digest_}\n".encode())
    return {"rows": kinds, "fingerprint": digest.hexdigest()[:16], "total_rows": sum(kinds.values())}


# --- dlt ---------------------------------------------------------------------------------

#: dlt's ways in: the same store as trainbridge through its sqlalchemy destination, and DuckDB
#: through its fastest documented path (parquet loader files, pyarrow) and its default one.
DLT_TOOLS = {"dlt": None, "dlt-parquet": "parquet", "dlt-duckdb": None}


def run_dlt(url: str, store: str, workdir: Path, *, only_xapi: bool = False,
            tool: str = "dlt") -> dict[str, Any]:
    """One dlt pipeline run into ``store``: ``dlt`` through the sqlalchemy destination (SQLite or
    PostgreSQL, as trainbridge), ``dlt-parquet`` and ``dlt-duckdb`` into a DuckDB file
    (``duckdb:///path``) with ``loader_file_format="parquet"`` and with dlt's default."""
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
    os.environ["DLT_DATA_DIR"] = str(workdir / "dlt_data")
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    import dlt
    from dlt.sources.rest_api import rest_api_source

    workdir.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {"dataset_name": "bench"} if store.startswith(("postgresql", "duckdb")) else {}
    if store.startswith("duckdb"):
        destination = dlt.destinations.duckdb(store.removeprefix("duckdb:///"))
    else:
        destination = dlt.destinations.sqlalchemy(credentials=store)
    pipeline = dlt.pipeline(pipeline_name="bench", pipelines_dir=str(workdir / "pipelines"),
                            destination=destination, **options)
    lrs = rest_api_source({
        "client": {"base_url": f"{url}/xapi/",
                   "auth": {"type": "http_basic", "username": LRS_USER, "password": LRS_SECRET},
                   "headers": {"X-Experience-API-Version": "1.0.3"}},
        "resource_defaults": {"write_disposition": "merge", "primary_key": "id"},
        "resources": [{
            "name": "statements",
            "endpoint": {
                "path": "statements",
                "params": {"limit": XAPI_LIMIT, "ascending": "true", "format": "ids"},
                "data_selector": "statements",
                "paginator": more_paginator(),
                "incremental": {"start_param": "since", "cursor_path": "stored",
                                "initial_value": "1970-01-01T00:00:00.000Z"},
            },
        }],
    })
    sources: list[Any] = [lrs]
    if not only_xapi:
        sources.append(bamboo_source(url))
    file_format = DLT_TOOLS.get(tool)
    started, cpu = time.perf_counter(), time.process_time()
    info = pipeline.run(sources, loader_file_format=file_format) if file_format else pipeline.run(sources)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = sync_peak_rss_mb()
    rows = pipeline.last_trace.last_normalize_info.row_counts if pipeline.last_trace else {}
    counts = dlt_counts(pipeline)
    del info
    return {"seconds": seconds, "cpu_seconds": cpu, "sync_peak_rss_mb": peak, "status": "ok",
            "loader_file_format": file_format or "default", "destination": destination.destination_name,
            "loaded_this_run": {k: v for k, v in rows.items() if not k.startswith("_dlt")}, **counts}


def more_paginator() -> Any:
    """dlt's JSON link paginator, told that xAPI's last page has ``"more": ""`` (Data 2.5)."""
    from dlt.sources.helpers.rest_client.paginators import JSONLinkPaginator

    class MorePaginator(JSONLinkPaginator):
        def update_state(self, response: Any, data: Any = None) -> None:
            super().update_state(response, data)
            if not self._next_reference:
                self._next_reference = None

    return MorePaginator(next_url_path="more")


def dlt_counts(pipeline: Any) -> dict[str, Any]:
    kinds: dict[str, int] = {}
    digest = hashlib.sha256()
    with pipeline.sql_client() as client:
        for table in ("statements", "employees", "separations", "training"):
            try:
                rows = client.execute_sql(f"SELECT id FROM {client.make_qualified_table_name(table)}"
                                          " ORDER BY id")
            except Exception:
                continue
            kinds[table] = len(rows)
            for (rid,) in rows:
                digest.update(f"{table}\x00{rid}\n".encode())
            dup = client.execute_sql(f"SELECT COUNT(*) - COUNT(DISTINCT id) FROM "
                                     f"{client.make_qualified_table_name(table)}")
            kinds[f"{table}_duplicates"] = int(dup[0][0])
    return {"rows": kinds, "fingerprint": digest.hexdigest()[:16],
            "total_rows": sum(v for k, v in kinds.items() if not k.endswith("_duplicates"))}


def bamboo_source(url: str) -> Any:
    import dlt
    from dlt.sources.helpers.rest_client import RESTClient
    from dlt.sources.helpers.rest_client.auth import HttpBasicAuth

    client = RESTClient(base_url=f"{url}/bamboo/v1/", auth=HttpBasicAuth(API_KEY, "x"),
                        headers={"Accept": "application/json"})
    epoch = "1970-01-01T00:00:00+00:00"

    def changed(path: str, since: str) -> list[tuple[str, dict[str, Any]]]:
        body = client.get(path, params={"since": since}).json()
        entries = body.get("employees") or {}
        return sorted(entries.items(), key=lambda kv: (kv[1]["lastChanged"], int(kv[0])))

    @dlt.source(name="bamboo")
    def source() -> Any:
        @dlt.resource(name="employees", primary_key="id", write_disposition="merge")
        def employees(last=dlt.sources.incremental("lastChanged", initial_value=epoch)) -> Iterator[Any]:
            entries = changed("employees/changed", last.last_value)
            for start in range(0, len(entries), 500):
                batch = entries[start:start + 500]
                report = client.post("reports/custom", params={"format": "json"}, json={
                    "title": "bench", "fields": REPORT_FIELDS,
                    "filters": {"employeeIds": [int(k) for k, _ in batch]}}).json()
                stamps = {k: v["lastChanged"] for k, v in batch}
                yield [{**row, "lastChanged": stamps[row["id"]]} for row in report["employees"]]

        @dlt.resource(name="separations", primary_key="id", write_disposition="merge")
        def separations(last=dlt.sources.incremental("lastChanged", initial_value=epoch)) -> Iterator[Any]:
            for key, value in changed("employees/changed/tables/employmentStatus", last.last_value):
                rows = [{**r, "id": f"{key}:{r['date']}", "employee_id": key,
                         "lastChanged": value["lastChanged"]}
                        for r in value["rows"] if r["employmentStatus"] == "Terminated"]
                if rows:
                    yield rows

        @dlt.resource(name="training", primary_key="id", write_disposition="merge")
        def training(last=dlt.sources.incremental("lastChanged", initial_value=epoch)) -> Iterator[Any]:
            for key, value in changed("employees/changed", last.last_value):
                records = client.get(f"training/record/employee/{key}").json()
                if isinstance(records, dict) and records:
                    yield [{**r, "lastChanged": value["lastChanged"]} for r in records.values()]

        return employees, separations, training

    return source()


def json_dump(data: Any) -> str:
    return json.dumps(data, default=str, sort_keys=True)
