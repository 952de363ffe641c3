"""Scenario ``jobs``: every job at 1k / 10k / 100k subjects, timed as the user runs it.

For each job and size a ledger is filled directly (``Ledger.upsert_records`` in pages: the
ingestion is not what is measured here), then ``python -m trainbridge -c ws/plugins.toml
sync JOB --today 2026-12-05`` runs in a child process, twice: the first run decides
everything, the second has nothing new. Each run reports

* ``cli_seconds``: the child process from spawn to exit (interpreter, imports, plugins,
  migrations check, the sync, delivery), what the user waits for;
* ``job_seconds``: the job's own run as the ledger recorded it (``tb_runs``: decide, the plan
  written, delivery), no start-up and no ingestion;
* ``cpu_seconds``: the child's user + system CPU time (``os.wait4``): on a shared machine, what
  the command cost, less at the mercy of other processes than the wall time;
* ``peak_rss_mb``: the command's peak RSS, as GNU time (``/usr/bin/time -f %M``) reports it: a
  child forked from this process would count this process's pages in its ``ru_maxrss``
  (``os.wait4``, the fallback without GNU time, then an upper bound).

Subjects: employees for ``costs``, ``certificates`` and ``agreements``; leavers for
``separations``; managers for ``incentives``; learning events for ``points`` and
``points_reminders`` (10x the size: 10k / 100k / 1M; realistic events, about one in six scoring
nothing; ``points:worst`` runs the points job on events nine in ten of which score nothing, each a
decision with its reasons: the most a run writes). The reports (``report:costs``,
``report:points``, ``report:progress``) run ``trainbridge report NAME --format json``
(``report:points`` on the incentives job's ledger: managers with points entries).
Growth per 10x: ``time(10x) / (10 * time(x))`` (1.0 is linear).

PostgreSQL: one database per run named ``bench_jobs_<pid>_<random>``, created and dropped here.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TODAY = "2026-12-05"
JOBS = ("costs", "separations", "certificates", "points", "points:worst", "points_reminders", "incentives",
        "agreements", "report:costs", "report:points", "report:progress")
#: Jobs whose subjects are learning events: their sizes are 10x.
EVENT_JOBS = ("points", "points:worst", "points_reminders")
#: Other data for the same job: ``points:worst`` is ``points`` on events most of which score nothing.
VARIANTS = {"points:worst": "points"}
PAGE = 5000
TIME = "/usr/bin/time"


# --- the data ---------------------------------------------------------------------------------


def _employees(n: int, *, managers_every: int = 10, prefix: str = "E") -> Iterator[Any]:
    from trainbridge.core.records import Employee

    for k in range(n):
        yield Employee(id=f"hr:{prefix}{k:06d}", source="hr", employee_id=f"{prefix}{k:06d}", name=f"员工{k}",
                       email=f"e{k}@example.com", department=f"D{k % 40}", legal_entity="ACME-SH",
                       site="Shanghai", hire_date=date(2020, 1, 1) + timedelta(days=k % 900),
                       is_manager=k % managers_every == 0, role="hr" if k == 1 else "")


def _catalog(programs: int, sessions: int, *, template: str | None = None) -> Iterator[Any]:
    from trainbridge.core.records import Delivery, TrainingProgram, TrainingSession

    for p in range(programs):
        yield TrainingProgram(id=f"lms:P{p}", source="lms", program_id=f"P{p}", title=f"课程 {p}",
                              delivery=Delivery.ONLINE if p % 3 == 0 else Delivery.OFFLINE,
                              agreement_template=template, service_months=24 if template else None)
    for s in range(sessions):
        start = datetime(2026, 1, 5, 9, tzinfo=UTC) + timedelta(days=s % 300)
        yield TrainingSession(id=f"lms:S{s}", source="lms", session_id=f"S{s}", program_id=f"P{s % programs}",
                              starts_at=start, ends_at=start + timedelta(hours=8))


def hr_world(n: int, *, leavers: bool, agreements: bool, certificates: bool) -> Iterator[Any]:
    """``n`` employees, each enrolled in one session of 20 and attending it; a shared cost item per
    session and an own item for every second employee; optionally every employee leaving with one or
    two signed agreements, and a certificate each."""
    from trainbridge.core.records import (
        Agreement,
        AgreementStatus,
        Certificate,
        CostItem,
        Enrollment,
        LearningEvent,
        LearningEventKind,
        Separation,
        SeparationReason,
    )

    sessions = max(1, n // 20)
    programs = min(300, sessions)
    yield from _employees(n)
    yield from _catalog(programs, sessions)
    reasons = (SeparationReason.RESIGNATION, SeparationReason.DISMISSAL_FOR_CAUSE,
               SeparationReason.NO_FAULT_DISMISSAL)
    for k in range(n):
        emp, s = f"E{k:06d}", k % sessions
        program = f"P{s % programs}"
        start = datetime(2026, 1, 5, 9, tzinfo=UTC) + timedelta(days=s % 300)
        yield Enrollment(id=f"lms:enr:{k}", source="lms", employee_id=emp, program_id=program,
                         session_id=f"S{s}", enrolled_on=start.date() - timedelta(days=10))
        yield LearningEvent(id=f"lms:att:{k}", source="lms", employee_id=emp,
                            event=LearningEventKind.ATTENDED, occurred_at=start, program_id=program,
                            session_id=f"S{s}", checked_in_at=start)
        if k % 2 == 0:
            yield CostItem(id=f"fin:own:{k}", source="fin", amount=Decimal(800 + k % 400), category="travel",
                           allocation="employee", employee_id=emp, program_id=program,
                           incurred_on=start.date(), voucher_ref=f"V{k}")
        if leavers:
            yield Separation(id=f"hr:sep:{k}", source="hr", employee_id=emp,
                             last_day=date(2026, 6, 1) + timedelta(days=k % 150), reason=reasons[k % 3])
        if agreements:
            for j in range(1 + k % 2):
                p = program if j == 0 else f"P{(s + 1) % programs}"
                service = start.date() + timedelta(days=j)
                yield Agreement(id=f"agr:{k}:{j}", source="lms", employee_id=emp, program_id=p,
                                session_id=f"S{s}" if j == 0 else None, template_id="service",
                                template_version="v1", service_start=service, service_months=24,
                                service_end=service + timedelta(days=730), clause_amount=Decimal(5000),
                                status=AgreementStatus.SIGNED)
        if certificates:
            issued = date(2024, 1, 1) + timedelta(days=k % 700)
            yield Certificate(id=f"lms:cert:{k}", source="lms", employee_id=emp, certificate=f"C{k % 7}",
                              issued_on=issued, expires_on=issued + timedelta(days=3 * 365))
    for s in range(sessions):
        yield CostItem(id=f"fin:shared:{s}", source="fin", amount=Decimal("20000.00"), category="course_fee",
                       allocation="shared", session_id=f"S{s}",
                       incurred_on=date(2026, 1, 5) + timedelta(days=s % 300), voucher_ref=f"VS{s}")


def points_world(events: int, *, worst: bool = False) -> Iterator[Any]:
    """``events`` learning events of ``events / 100`` managers: a manager's year as
    ``bench.domain._real_event`` has it (about one event in six scores nothing; one in 20 voids
    the manager's event before it, one in 40 un-completes a course). ``worst``: bench.domain's
    ``_events``, every manager's hundred events on three programs, so that nearly nine in ten
    score nothing (each a "not scored" decision with its reasons, the most a run writes)."""
    from bench.domain import _job_event, _real_job_event
    from trainbridge.core.records import Employee

    managers = max(10, events // 100)
    for m in range(managers):
        yield Employee(id=f"hr:M{m:05d}", source="hr", employee_id=f"M{m:05d}", name=f"经理{m}",
                       department=f"D{m % 40}", is_manager=True, legal_entity="ACME-SH")
    yield from _catalog(300, 3000)
    make = _job_event if worst else _real_job_event
    for k in range(events):
        yield make(k, managers)


def incentives_world(managers: int) -> Iterator[Any]:
    """``managers`` managers with 12 points entries and 10 learning events each."""
    from bench.domain import _event
    from trainbridge.core.records import Employee, PointsEntry

    for m in range(managers):
        yield Employee(id=f"hr:M{m:05d}", source="hr", employee_id=f"M{m:05d}", name=f"经理{m}",
                       department=f"D{m % 40}", is_manager=True, legal_entity="ACME-SH")
        for j in range(12):
            yield PointsEntry(id=f"points:M{m:05d}:offline_attended:S{j}", employee_id=f"M{m:05d}",
                              points=5 + (m * 7 + j) % 20, category="participation", rule="offline_attended",
                              rule_version="v1", event_id=f"lrs:{m}-{j}",
                              earned_on=date(2026, 1 + (j * 11) % 12, 1 + (m + j) % 28))
    yield from _catalog(300, 3000)
    for k in range(10 * managers):
        yield _event(k, managers)


def world(job: str, n: int) -> Iterator[Any]:
    name = job.removeprefix("report:")
    if job in EVENT_JOBS:
        return points_world(n, worst=job == "points:worst")
    if name in ("incentives", "points"):
        return incentives_world(n)
    if name == "agreements":
        return agreements_world(n)
    return hr_world(n, leavers=name == "separations", agreements=name == "separations",
                    certificates=name == "certificates")


def agreements_world(n: int) -> Iterator[Any]:
    """``n`` employees enrolled in sessions of programs that need a training agreement."""
    from trainbridge.core.records import Enrollment

    sessions = max(1, n // 20)
    programs = min(30, sessions)
    yield from _employees(n)
    yield from _catalog(programs, sessions, template="service-24m")
    for k in range(n):
        s = k % sessions
        yield Enrollment(id=f"lms:enr:{k}", source="lms", employee_id=f"E{k:06d}",
                         program_id=f"P{s % programs}", session_id=f"S{s}", enrolled_on=date(2026, 11, 1))


# --- the workspace -----------------------------------------------------------------------------


def workspace(folder: Path, url: str, job: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "out").mkdir(exist_ok=True)
    lines = ['[tenant]', 'id = "bench"', '', '[ledger]', f'url = "{url}"', '',
             '[connectors.notices]', 'type = "file_notifier"', 'path = "out/notices.jsonl"', '',
             '[connectors.payroll]', 'type = "jsonl_payroll"', 'path = "out/payroll.jsonl"', '']
    if job == "agreements":  # the shipped template, the local e-signature signing at once
        lines += ['[connectors.esign]', 'type = "local_esign"', 'folder = "esign"', 'auto_sign = true',
                  f'webhook_secret = "{secrets.token_urlsafe(24)}"', '',
                  '[connectors.tsa]', 'type = "rfc3161"', 'url = "local"', 'local_dir = ".tsa"', '',
                  '[jobs.agreements]', 'company_name = "艾克美（上海）消防科技有限公司"', '']
        lines += [f'[jobs.agreements.programs.P{p}]\ntraining_cost = "{1000 + 100 * p}.00"\n'
                  for p in range(30)]
    (folder / "plugins.toml").write_text("\n".join(lines), encoding="utf-8")
    return folder / "plugins.toml"


def fill(config: Path, records: Iterator[Any]) -> dict[str, Any]:
    """Write ``records`` into the workspace's ledger in pages (one transaction each)."""
    from trainbridge.core.config import load_settings
    from trainbridge.core.workspace import Workspace

    ws = Workspace(load_settings(config))
    ws.ensure_migrated()
    started, count, page = time.perf_counter(), 0, []
    for record in records:
        page.append(record)
        if len(page) >= PAGE:
            with ws.ledger.transaction() as conn:
                ws.ledger.upsert_records(conn, page)
            count += len(page)
            page = []
    if page:
        with ws.ledger.transaction() as conn:
            ws.ledger.upsert_records(conn, page)
        count += len(page)
    ws.ledger.dispose()
    return {"records": count, "fill_seconds": round(time.perf_counter() - started, 2)}


def create_pg() -> tuple[str, str]:
    import sqlalchemy as sa

    name = f"bench_jobs_{os.getpid()}_{secrets.token_hex(4)}"
    engine = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return name, PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def drop_pg(name: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    engine.dispose()


# --- one measured command ---------------------------------------------------------------------


def command(config: Path, job: str) -> list[str]:
    base = [sys.executable, "-m", "trainbridge", "-c", str(config)]
    if job.startswith("report:"):
        name = job.removeprefix("report:")
        return [*base, "report", name, "--format", "json", *(("--today", TODAY) if name != "costs" else ()),
                "-o", str(config.parent / "out" / f"{job.replace(':', '-')}.json")]
    return [*base, "sync", VARIANTS.get(job, job), "--today", TODAY, "--json"]


def run_cli(config: Path, job: str, *, timeout: float) -> dict[str, Any]:
    """The command in a child process: wall time, exit status, peak RSS, and the job's own run."""
    started = time.perf_counter()
    out_path, err_path = config.parent / "out" / "stdout.txt", config.parent / "out" / "stderr.txt"
    usage_path = config.parent / "out" / "rusage.txt"
    usage_path.unlink(missing_ok=True)
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        # the installed trainbridge, or the checkout PYTHONPATH names (a before/after of one change);
        # through GNU time where there is one: a child forked from this process starts with this
        # process's pages, which Linux counts in the child's ru_maxrss (so would ours, filled ledgers
        # and all); time is a small process, so what it reports is the command's own peak
        timed = [TIME, "-f", "%M %U %S", "-o", str(usage_path)] if Path(TIME).exists() else []
        proc = subprocess.Popen([*timed, *command(config, job)], stdout=out, stderr=err, cwd=config.parent)
        status, usage = 0, None
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - started > timeout:
                proc.kill()
                _, status, usage = os.wait4(proc.pid, 0)
                return {"error": f"stopped after {timeout:,.0f} s", "timed_out": True,
                        "cli_seconds": round(time.perf_counter() - started, 2)}
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    # CPU seconds: what the command cost the machine, less at the mercy of other processes than wall time
    peak_kb, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    if usage_path.exists():  # GNU time: "peak-KB user-s system-s" on its last line
        fields = usage_path.read_text(encoding="utf-8").split()[-3:]
        peak_kb, cpu = int(fields[0]), float(fields[1]) + float(fields[2])
    result: dict[str, Any] = {"cli_seconds": round(wall, 3), "cpu_seconds": round(cpu, 3),
                              "exit": proc.returncode, "peak_rss_mb": round(peak_kb / 1024, 1),
                              "rss_from": "time" if usage_path.exists() else "wait4"}
    if not job.startswith("report:"):
        result.update(_job_run(config, job))
    if proc.returncode not in (0, 3):  # 3: the run finished with warnings (partial)
        result["error"] = err_path.read_text(encoding="utf-8", errors="replace")[-2000:]
    return result


def _job_run(config: Path, job: str) -> dict[str, Any]:
    """The latest run of ``job`` as the ledger recorded it: its own seconds and counts."""
    from trainbridge.core.config import load_settings
    from trainbridge.core.ledger import Ledger

    settings = load_settings(config)
    ledger = Ledger(settings.resolved_ledger_url(), settings.tenant)
    try:
        with ledger.transaction() as conn:
            runs = ledger.list_runs(conn, job=VARIANTS.get(job, job), limit=1)
    finally:
        ledger.dispose()
    if not runs:
        return {}
    run = runs[0]
    seconds = (run["finished_at"] - run["started_at"]).total_seconds() if run["finished_at"] else None
    return {"job_seconds": seconds, "status": run["status"], "counts": run["counts"],
            "errors": [e[:300] for e in run["errors"][:3]]}


# --- the scenario ----------------------------------------------------------------------------


def _brief(run: dict[str, Any]) -> dict[str, Any]:
    """What ``python -m bench`` prints as a run goes (its progress line's keys)."""
    brief = {"seconds": run.get("cli_seconds"), "status": run.get("status"),
             "peak_rss_mb": run.get("peak_rss_mb"), "total_rows": run.get("job_seconds")}
    return {**brief, "error": run["error"]} if "error" in run else brief


def sizes_for(job: str, sizes: Sequence[int]) -> list[int]:
    return [10 * n for n in sizes] if job in EVENT_JOBS else list(sizes)


def measure(job: str, n: int, store: str, workdir: Path, *, timeout: float) -> dict[str, Any]:
    folder = workdir / f"{job.replace(':', '-')}-{store}-{n}"
    shutil.rmtree(folder, ignore_errors=True)
    pg_name = None
    if store == "postgres":
        pg_name, url = create_pg()
    else:
        url = f"sqlite:///{folder / 'ledger.db'}"
    try:
        config = workspace(folder, url, job)
        result: dict[str, Any] = {"job": job, "store": store, "subjects": n, **fill(config, world(job, n))}
        result["first"] = run_cli(config, job, timeout=timeout)
        result["again"] = run_cli(config, job, timeout=timeout)
        return result
    finally:
        if pg_name:
            drop_pg(pg_name)
        shutil.rmtree(folder, ignore_errors=True)


def startup(timeout: float = 120) -> float:
    """What any command costs before it does anything: ``trainbridge --version`` in a child."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "trainbridge", "--version"], check=True, capture_output=True,
                   timeout=timeout)
    return round(time.perf_counter() - started, 3)


def growth(runs: list[dict[str, Any]], key: str = "cli_seconds") -> list[float | None]:
    """time(10x) / (10 * time(x)) between consecutive sizes (1.0: linear)."""
    out: list[float | None] = []
    for a, b in itertools.pairwise(runs):
        ta, tb = a["first"].get(key), b["first"].get(key)
        ratio = b["subjects"] / a["subjects"]
        out.append(round(tb / (ratio * ta), 2) if ta and tb else None)
    return out


def scenario(jobs: Sequence[str], sizes: Sequence[int], stores: Sequence[str], workdir: Path, *,
             timeout: float, progress: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"today": TODAY, "startup_seconds": startup(), "runs": []}
    for store in stores:
        for job in jobs:
            runs = []
            for n in sizes_for(job, sizes):
                run = measure(job, n, store, workdir, timeout=timeout)
                runs.append(run)
                if progress:
                    progress(f"jobs/{store}/{job}/{n}", *(_brief(r) for r in (run["first"], run["again"])))
                if run["first"].get("timed_out"):
                    break
            out["runs"].append({"job": job, "store": store, "sizes": runs,
                                "growth_cli": growth(runs), "growth_job": growth(runs, "job_seconds")})
    return out


def table(data: dict[str, Any]) -> str:
    lines = [f"jobs at scale (today {data['today']}; a command's start-up alone: "
             f"{data['startup_seconds']:.2f} s); seconds through the CLI (the job's own run in brackets)", "",
             "| job | store | subjects | CLI s (job s) | CLI CPU s | growth per 10x (CLI / job) "
             "| peak RSS MB | again: CLI s (job s) |",
             "| --- | --- | --- | --- | --- | --- | ---: | --- |"]
    for entry in data["runs"]:
        sizes = entry["sizes"]

        def cell(r: dict[str, Any]) -> str:
            if "error" in r:
                return f"error ({r.get('cli_seconds')} s)"
            job = r.get("job_seconds")
            return f"{r['cli_seconds']:.2f}" + (f" ({job:.2f})" if job is not None else "")

        subjects = " / ".join(f"{r['subjects']:,}" for r in sizes)
        first = " / ".join(cell(r["first"]) for r in sizes)
        again = " / ".join(cell(r["again"]) for r in sizes)
        grow = " / ".join(f"{a if a is not None else '-'}|{b if b is not None else '-'}"
                          for a, b in zip(entry["growth_cli"], entry["growth_job"], strict=False)) or "-"
        peak = max((r["first"].get("peak_rss_mb") or 0 for r in sizes), default=0)
        cpu = " / ".join(f"{r['first'].get('cpu_seconds', 0):.1f}" for r in sizes)
        lines.append(f"| {entry['job']} | {entry['store']} | {subjects} | {first} | {cpu} | {grow} "
                     f"| {peak:,.0f} | {again} |")
    return "\n".join(lines)


def save(data: dict[str, Any], target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, indent=1, default=str) + "\n", encoding="utf-8")
