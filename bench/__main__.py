"""``python -m bench [--scenarios ...] [--scale 0.1]``: run, print a table, write results.

Scenarios: ceiling, full (full + incremental after 1% changed), faults (clean vs 2% 429 +
1% 5xx, compared ledger for ledger), scale (xAPI only: time and peak RSS per size),
domain (points, refund quotes, incentive run), requests (vendor requests per endpoint of a
sync of every job, full and after 1% changed, for each checkout named by --checkouts).
Every tool run is a child process (``bench.worker``) so its peak RSS is its own
(``os.wait4`` -> ``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SCENARIOS = ("ceiling", "full", "faults", "scale", "domain", "requests", "jobs")


# --- the fake vendor in its own process --------------------------------------------------

class Vendor:
    """``python -m bench.fake_vendor`` as a child process (its own core, its own GIL)."""

    def __init__(self, employees: int, statements: int, seed: int = 1) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.fake_vendor", "--employees", str(employees),
             "--statements", str(statements), "--seed", str(seed)],
            stdout=subprocess.PIPE, text=True, cwd=ROOT.parent)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        self.employees, self.statements = employees, statements

    def admin(self, action: str, **params: float) -> dict[str, Any]:
        answer: dict[str, Any] = requests.post(f"{self.url}/_bench/{action}", params=params,
                                               timeout=30).json()
        return answer

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


# --- stores ----------------------------------------------------------------------------------

def fresh_store(kind: str, tool: str, workdir: Path) -> str:
    """An empty store for one tool: a new SQLite file, or a new PostgreSQL database.

    A PostgreSQL database gets a name of its own (``bench_<tool>_<pid>_<random>``), never a
    fixed one: several benchmarks (and other people's work) may share the server, and nothing
    of theirs is dropped. :func:`drop_store` removes it when the scenario is done with it.
    """
    if kind == "sqlite":
        path = workdir / f"{tool}.sqlite"
        path.unlink(missing_ok=True)
        for sidecar in workdir.glob(f"{tool}__*.sqlite"):
            sidecar.unlink()  # dlt's sqlalchemy destination keeps each dataset in its own file
        return f"sqlite:///{path}"
    if kind == "duckdb":
        path = workdir / f"{tool}.duckdb"
        path.unlink(missing_ok=True)
        return f"duckdb:///{path}"
    import sqlalchemy as sa

    name = "bench_" + re.sub(r"[^a-z0-9]+", "_", tool.lower()) + f"_{os.getpid()}_{secrets.token_hex(4)}"
    engine = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    engine.dispose()
    _created.append(name)
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


_created: list[str] = []


def drop_store(store: str) -> None:
    """Drop a database :func:`fresh_store` created (SQLite and DuckDB files stay in the workdir)."""
    if not store.startswith("postgresql"):
        return
    import sqlalchemy as sa

    name = store.rsplit("/", 1)[1]
    if name not in _created:
        return
    engine = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    engine.dispose()
    _created.remove(name)


# --- one measured run -------------------------------------------------------------------------

def run_measured(tool: str, url: str, store: str, workdir: Path, *, timeout: float | None = None,
                 src: str | None = None, **kw: Any) -> dict[str, Any]:
    """One tool run in a child process; its own peak RSS comes from ``os.wait4``.

    A run still going after ``timeout`` seconds is killed and reported as stopped. ``src``
    (a checkout's ``src`` directory) is the trainbridge the run imports instead of
    ``PYTHONPATH``'s or the installed one.
    """
    spec = {"tool": tool, "url": url, "store": store, "workdir": str(workdir),
            "only_xapi": kw.get("only_xapi", False), "jobs": kw.get("jobs", ["ingest"])}
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        # an existing PYTHONPATH comes after bench's root: PYTHONPATH=/old/checkout/src measures that
        # checkout's trainbridge with this benchmark (a before/after of one change)
        path = os.pathsep.join(p for p in (str(ROOT.parent), src or os.environ.get("PYTHONPATH")) if p)
        pid = os.posix_spawn(sys.executable, [sys.executable, "-m", "bench.worker", json.dumps(spec)],
                             {**os.environ, "PYTHONPATH": path},
                             file_actions=[(os.POSIX_SPAWN_DUP2, out.fileno(), 1),
                                           (os.POSIX_SPAWN_DUP2, err.fileno(), 2)])
        while True:
            done, _, usage = os.wait4(pid, os.WNOHANG)
            if done:
                break
            if timeout is not None and time.perf_counter() - started > timeout:
                os.kill(pid, signal.SIGKILL)
                os.wait4(pid, 0)
                return {"tool": tool, "error": f"stopped after {timeout:,.0f} s (--run-timeout)",
                        "timed_out": True, "wall_seconds": time.perf_counter() - started}
            time.sleep(0.2)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    line = next((x for x in stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        return {"tool": tool, "error": (stderr or stdout)[-3000:], "wall_seconds": wall}
    result: dict[str, Any] = json.loads(line[len("RESULT "):])
    process_peak = round(usage.ru_maxrss / 1024, 1)
    # the sync's own peak when the worker reports it; the whole process's includes counting the store
    result.update(tool=tool, wall_seconds=wall, process_peak_rss_mb=process_peak,
                  peak_rss_mb=result.get("sync_peak_rss_mb") or process_peak)
    return result


# --- scenarios ---------------------------------------------------------------------------------

def scenario_ceiling(args: argparse.Namespace, out: dict[str, Any]) -> None:
    """The fake vendor's own ceiling: small requests one at a time through ``http.client`` (and
    through a ``requests.Session``, whose own cost per request is most of a small request's),
    and statements in pages of the size both tools ask for, bodies not decoded. Above what the
    tools reach, the vendor is not what the benchmark measures."""
    from bench.sides import XAPI_LIMIT

    vendor = Vendor(1000, 1_000_000)
    try:
        host, port = vendor.url.removeprefix("http://").split(":")
        plain = http.client.HTTPConnection(host, int(port))
        n, started = 0, time.perf_counter()
        while time.perf_counter() - started < 3:
            plain.request("GET", f"/bamboo/v1/training/record/employee/{2 + n % 998}")
            plain.getresponse().read()
            n += 1
        small = n / (time.perf_counter() - started)
        plain.close()
        session = requests.Session()
        session.trust_env = False  # no proxy look-up per request
        n, started = 0, time.perf_counter()
        while time.perf_counter() - started < 3:
            session.get(f"{vendor.url}/bamboo/v1/training/record/employee/{2 + n % 998}").raise_for_status()
            n += 1
        small_requests = n / (time.perf_counter() - started)
        rows, started = 0, time.perf_counter()
        url: str | None = f"{vendor.url}/xapi/statements?limit={XAPI_LIMIT}"
        while url and time.perf_counter() - started < 10:
            # the vendor's ceiling: bytes received, not decoded (the tools decode on their side)
            raw = session.get(url).content
            tail = raw[raw.rindex(b'"more":'):]
            more = json.loads(tail[len(b'"more":'):-1])
            rows += raw.count(b'"objectType":"Activity"')
            url = vendor.url + more if more else None
        statements = rows / (time.perf_counter() - started)
    finally:
        vendor.close()
    out["ceiling"] = {"small_requests_per_s": round(small),
                      "small_requests_per_s_requests_client": round(small_requests),
                      "statements_per_s": round(statements), "limit": XAPI_LIMIT,
                      "client": "http.client for small requests, requests.Session for statements; "
                                "one keep-alive connection, sequential, bodies not decoded"}


def scenario_full(args: argparse.Namespace, out: dict[str, Any], workdir: Path) -> None:
    """Full sync then incremental after 1% changed, for each tool and store, one after the other
    against the same vendor process. trainbridge and ``dlt`` write to each of ``--stores``;
    ``dlt-parquet`` and ``dlt-duckdb`` write to a DuckDB file (their own store), once."""
    employees, statements = int(100_000 * args.scale), int(1_000_000 * args.scale)
    vendor = Vendor(employees, statements)
    runs = []
    plan = [(store_kind, tool) for store_kind in args.stores for tool in args.tools
            if tool in ("trainbridge", "dlt")]
    plan += [("duckdb", tool) for tool in args.tools if tool in ("dlt-parquet", "dlt-duckdb")]
    try:
        for store_kind, tool in plan:
            vendor.admin("reset")
            tool_dir = workdir / f"full-{store_kind}-{tool}"
            shutil.rmtree(tool_dir, ignore_errors=True)
            store = fresh_store(store_kind, tool, workdir)
            try:
                full = run_measured(tool, vendor.url, store, tool_dir, timeout=args.run_timeout)
                vendor.admin("change")
                incremental = run_measured(tool, vendor.url, store, tool_dir, timeout=args.run_timeout)
            finally:
                drop_store(store)
            runs.append({"store": store_kind, "tool": tool, "full": full, "incremental": incremental})
            progress(f"full/{store_kind}/{tool}", full, incremental)
    finally:
        vendor.close()
    out["full"] = {"employees": employees, "statements": statements,
                   "cost_items": employees // 2, "logical_records": logical(employees, statements),
                   "runs": runs}


def logical(employees: int, statements: int) -> int:
    """Records in the source: employees, leavers, training records (cost items) and statements."""
    return employees + employees // 50 + employees // 2 + statements


def scenario_faults(args: argparse.Namespace, out: dict[str, Any], workdir: Path) -> None:
    employees, statements = int(args.fault_employees), int(args.fault_statements)
    vendor = Vendor(employees, statements)
    runs = []
    try:
        for tool in [t for t in args.tools if t in ("trainbridge", "dlt")]:
            result: dict[str, Any] = {"tool": tool}
            for mode in ("clean", "faulty"):
                vendor.admin("reset")
                faults = {"p429": 0.02, "p5xx": 0.01} if mode == "faulty" else {"p429": 0, "p5xx": 0}
                vendor.admin("faults", **faults)
                tool_dir = workdir / f"faults-{mode}-{tool}"
                shutil.rmtree(tool_dir, ignore_errors=True)
                store = fresh_store("sqlite", f"{tool}-{mode}", workdir)
                full = run_measured(tool, vendor.url, store, tool_dir, timeout=args.run_timeout)
                vendor.admin("change")
                incremental = run_measured(tool, vendor.url, store, tool_dir, timeout=args.run_timeout)
                injected = vendor.admin("faults", p429=0, p5xx=0)
                result[mode] = {"full": full, "incremental": incremental, "server": injected}
                progress(f"faults/{mode}/{tool}", full, incremental)
            clean, faulty = result["clean"]["incremental"], result["faulty"]["incremental"]
            result["same_final_ledger"] = clean.get("fingerprint") == faulty.get("fingerprint") \
                and clean.get("rows") == faulty.get("rows")
            result["duplicates"] = sum(v for k, v in (faulty.get("rows") or {}).items()
                                       if k.endswith("_duplicates"))
            runs.append(result)
    finally:
        vendor.close()
    out["faults"] = {"employees": employees, "statements": statements, "runs": runs}


def scenario_scale(args: argparse.Namespace, out: dict[str, Any], workdir: Path) -> None:
    runs = []
    for size in args.sizes:
        vendor = Vendor(1000, size)
        try:
            for tool in [t for t in args.tools if t in ("trainbridge", "dlt")]:
                tool_dir = workdir / f"scale-{size}-{tool}"
                shutil.rmtree(tool_dir, ignore_errors=True)
                store = fresh_store("sqlite", f"{tool}-scale", workdir)
                result = run_measured(tool, vendor.url, store, tool_dir, only_xapi=True,
                                      timeout=args.run_timeout)
                runs.append({"size": size, "tool": tool, **result})
                progress(f"scale/{size}/{tool}", result)
        finally:
            vendor.close()
    out["scale"] = {"runs": runs}


def scenario_domain(args: argparse.Namespace, out: dict[str, Any]) -> None:
    from bench import domain

    events = args.points_events
    out["domain"] = {
        "refunds": domain.refunds(10_000),
        "incentives": domain.incentives(10_000),
        "points_rules": domain.points(events, budget_s=args.points_budget),
        "points_job": [domain.points_job(n) for n in args.points_job_events],
    }
    progress("domain", out["domain"])


def scenario_requests(args: argparse.Namespace, out: dict[str, Any], workdir: Path) -> None:
    """What one ``trainbridge sync`` of every job asks the vendor, endpoint by endpoint.

    The bench's plugins.toml (BambooHR for people, separations, training and costs; an xAPI
    LRS for learning events), all jobs, a fresh SQLite ledger: the full sync, then the sync
    after 1% changed. Each checkout in ``--checkouts`` (its ``src`` directory; the installed
    trainbridge when none) is measured against the same fake vendor, counted by
    :class:`bench.fake_vendor.RequestTally`.
    """
    employees, statements = int(100_000 * args.scale), int(1_000_000 * args.scale)
    vendor = Vendor(employees, statements)
    runs = []
    try:
        for src in args.checkouts or [None]:
            run: dict[str, Any] = {"checkout": _checkout(Path(src).resolve() if src else None)}
            vendor.admin("reset")
            label = Path(run["checkout"]["path"]).name
            tool_dir = workdir / f"requests-{label}-{(run['checkout']['commit'] or 'none')[:7]}"
            shutil.rmtree(tool_dir, ignore_errors=True)
            store = fresh_store("sqlite", f"trainbridge-requests-{label}", workdir)
            for phase in ("full", "incremental"):
                if phase == "incremental":
                    vendor.admin("change")
                vendor.admin("requests", clear=1)
                result = run_measured("trainbridge", vendor.url, store, tool_dir, src=src, jobs=[],
                                      timeout=args.run_timeout)
                result["vendor_requests"] = vendor.admin("requests", clear=1)["endpoints"]
                run[phase] = result
            runs.append(run)
            progress(f"requests/{run['checkout']['commit'] or label}", run["full"], run["incremental"])
    finally:
        vendor.close()
    out["requests"] = {"employees": employees, "statements": statements, "jobs": "all", "runs": runs}


def progress(label: str, *results: dict[str, Any]) -> None:
    brief = []
    for r in results:
        if "error" in r:
            brief.append("ERROR " + r["error"][-300:])
        else:
            brief.append(json.dumps({k: r.get(k) for k in ("seconds", "cpu_seconds", "peak_rss_mb",
                                                          "total_rows", "status")}, default=str))
    print(f"[{datetime.now(UTC):%H:%M:%S}] {label}: " + " | ".join(brief), file=sys.stderr, flush=True)


# --- facts, table, file ---------------------------------------------------------------------

def machine() -> dict[str, Any]:
    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    mem_kb = 0
    with open("/proc/meminfo", encoding="utf-8") as fh:
        for row in fh:
            if row.startswith("MemTotal:"):
                mem_kb = int(row.split()[1])
    return {"nproc": os.cpu_count(), "memory_gb": round(mem_kb / 1024 / 1024, 1), "trainbridge": _checkout(),
            "load_avg_at_start": os.getloadavg(), "python": platform.python_version(),
            "platform": platform.platform(),
            "versions": {n: version(n) for n in ("trainbridge", "dlt", "duckdb", "pyarrow", "SQLAlchemy",
                                                 "pydantic", "requests", "psycopg", "psutil")}}


def _checkout(src: Path | None = None) -> dict[str, Any]:
    """Which trainbridge the workers import (PYTHONPATH may name another checkout) and its commit.

    ``src``: a checkout's ``src`` directory, named instead of the one this process imports.
    """
    if src is None:
        import trainbridge

        src = Path(trainbridge.__file__).resolve().parents[1]  # src/trainbridge/__init__.py
    where = src.parent

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(where), *args], capture_output=True, text=True, check=False)
        return done.stdout.strip()

    return {"path": str(where), "commit": git("rev-parse", "HEAD") or None,
            "uncommitted_changes": bool(git("status", "--porcelain", "--untracked-files=no"))}


def _has(*modules: str) -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in modules)


def table(out: dict[str, Any]) -> str:
    from bench.report import render

    text = render(out)
    if "jobs" in out:
        from bench.jobs import table as jobs_table

        text += "\n\n" + jobs_table(out["jobs"])
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", nargs="+", choices=SCENARIOS,
                        default=[n for n in SCENARIOS if n != "requests"],
                        help="default: all but requests (a sync of every job, run when named)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="factor on the full-sync size (100k employees, 1M statements)")
    parser.add_argument("--tools", nargs="+", choices=("trainbridge", "dlt", "dlt-parquet", "dlt-duckdb"),
                        default=["trainbridge", "dlt", "dlt-parquet", "dlt-duckdb"],
                        help="dlt: the same store through dlt's sqlalchemy destination; dlt-parquet and "
                             "dlt-duckdb: DuckDB with parquet loader files and with dlt's default (full "
                             "scenario only)")
    parser.add_argument("--stores", nargs="+", choices=("sqlite", "postgres"),
                        default=["sqlite", "postgres"])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000],
                        help="statement counts of the scale scenario")
    parser.add_argument("--fault-employees", type=int, default=1000)
    parser.add_argument("--fault-statements", type=int, default=20_000)
    parser.add_argument("--points-events", type=int, default=1_000_000)
    parser.add_argument("--points-job-events", type=int, nargs="+", default=[10_000, 100_000, 1_000_000],
                        help="event counts for PointsJob.decide itself")
    parser.add_argument("--points-budget", type=float, default=120.0,
                        help="seconds after which a points run stops and reports how far it got")
    parser.add_argument("--run-timeout", type=float, default=1800.0,
                        help="seconds after which one tool run is killed and reported as stopped")
    parser.add_argument("--checkouts", nargs="+", default=None, metavar="SRC",
                        help="requests scenario: the src directories of the checkouts to measure, in "
                             "order (e.g. an old worktree's, then src); default the installed one")
    parser.add_argument("--jobs", dest="job_names", nargs="+", default=None, metavar="JOB",
                        help="jobs scenario: the jobs (and report:NAME) to time; default all (bench/jobs.py)")
    parser.add_argument("--job-sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000],
                        help="jobs scenario: subjects per job (10x for the learning-event jobs)")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--output", type=Path, default=None,
                        help="results file (default bench/results/<date>.json, or <date>-requests.json "
                             "when the requests scenario runs alone)")
    args = parser.parse_args(argv)
    if any(t.startswith("dlt") for t in args.tools):
        try:
            import dlt  # noqa: F401
        except ImportError:
            print("dlt is not installed: running trainbridge only (pip install -e '.[bench]')",
                  file=sys.stderr)
            args.tools = [t for t in args.tools if not t.startswith("dlt")]
    if any(t in ("dlt-parquet", "dlt-duckdb") for t in args.tools) and not _has("duckdb", "pyarrow"):
        print("duckdb or pyarrow is not installed: no dlt-parquet / dlt-duckdb runs "
              "(pip install 'dlt[duckdb,parquet]')", file=sys.stderr)
        args.tools = [t for t in args.tools if t not in ("dlt-parquet", "dlt-duckdb")]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tb-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    out: dict[str, Any] = {"started": started.isoformat(timespec="seconds"), "machine": machine(),
                           "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}}
    suffix = f"-{args.scenarios[0]}" if args.scenarios in (["requests"], ["jobs"]) else ""
    target = args.output or RESULTS / f"{started:%Y-%m-%d}{suffix}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    for name in args.scenarios:
        if name == "ceiling":
            scenario_ceiling(args, out)
        elif name == "full":
            scenario_full(args, out, workdir)
        elif name == "faults":
            scenario_faults(args, out, workdir)
        elif name == "scale":
            scenario_scale(args, out, workdir)
        elif name == "domain":
            scenario_domain(args, out)
        elif name == "requests":
            scenario_requests(args, out, workdir)
        elif name == "jobs":
            from bench import jobs

            out["jobs"] = jobs.scenario(args.job_names or jobs.JOBS, args.job_sizes, args.stores, workdir,
                                        timeout=args.run_timeout, progress=progress)
        # what is done so far survives a run stopped halfway
        target.write_text(json.dumps(out, indent=1, default=str) + "\n", encoding="utf-8")
    out["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    out["machine"]["load_avg_at_end"] = os.getloadavg()
    text = table(out)
    print(text)
    target.write_text(json.dumps({**out, "table": text}, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"results written to {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
