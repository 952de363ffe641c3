"""Tenants, deployments, --tenant, schedules, and the task's once-per-slot rule (no broker needed)."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.distributed.tenantdata import write_tenant
from trainbridge.cli import build_cli
from trainbridge.core.demo import to_toml
from trainbridge.core.errors import ConfigError
from trainbridge.core.tenants import ScheduleEntry, load_deployment, resolve_settings, tenant_schedule

PG_ENV = "TRAINBRIDGE_TEST_POSTGRES_URL"


def cli(*args: str) -> tuple[int, str]:
    """Exit code and output as ``trainbridge`` gives them (a TrainbridgeError exits with its code)."""
    result = CliRunner().invoke(build_cli(), list(args))
    error = result.exception
    if error is not None and not isinstance(error, SystemExit):
        return int(getattr(error, "exit_code", 1)), result.output + str(error)
    return result.exit_code, result.output


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for tenant in ("acme", "globex"):
        write_tenant(tmp_path / "tenants" / tenant, tenant, today=date.today())
    (tmp_path / "trainbridge.toml").write_text(
        to_toml({"tenants_dir": "tenants", "ledger": {"url": "sqlite:///shared.db"}}), encoding="utf-8")
    return tmp_path


def test_a_deployment_is_a_folder_of_tenants_or_a_list_in_trainbridge_toml(folder, tmp_path):
    assert sorted(load_deployment(folder / "tenants").tenants) == ["acme", "globex"]
    dep = load_deployment(folder / "trainbridge.toml")
    assert sorted(dep.tenants) == ["acme", "globex"]
    settings = dep.settings("globex")
    assert settings.tenant == "globex" and settings.resolved_ledger_url().endswith(str(folder / "shared.db"))
    listed = tmp_path / "other" / "trainbridge.toml"
    listed.parent.mkdir()
    listed.write_text('[tenants]\nacme = "../tenants/acme/plugins.toml"\n', encoding="utf-8")
    assert list(load_deployment(listed).tenants) == ["acme"]


def test_a_tenant_file_that_names_another_tenant_is_refused(folder):
    (folder / "tenants" / "globex" / "plugins.toml").write_text('[tenant]\nid = "acme"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_deployment(folder).settings("globex")
    assert err.value.table == "tenant" and err.value.key == "id" and "globex" in str(err.value)
    with pytest.raises(ConfigError, match="not 'globex'"):
        resolve_settings(folder / "tenants" / "globex" / "plugins.toml", "globex")


def test_a_deployment_without_a_tenant_asks_for_one(folder):
    code, out = cli("--config", str(folder / "trainbridge.toml"), "runs")
    assert code == 2 and "--tenant" in out and "acme, globex" in out


def _two_tenants_on(folder: Path, url: str) -> tuple[str, str]:
    uid = uuid.uuid4().hex[:8]
    a, b = f"a{uid}", f"b{uid}"
    for tenant in (a, b):
        write_tenant(folder / "tenants" / tenant, tenant, today=date.today())
    (folder / "trainbridge.toml").write_text(to_toml({"tenants_dir": "tenants", "ledger": {"url": url}}),
                                             encoding="utf-8")
    return a, b


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_two_tenants_on_one_ledger_never_see_each_others_rows(tmp_path, backend):
    url = "sqlite:///shared.db" if backend == "sqlite" else os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"PostgreSQL not configured: set {PG_ENV} (.ci/run sets it)")
    a, b = _two_tenants_on(tmp_path, url)
    config = str(tmp_path / "trainbridge.toml")
    code, out = cli("--config", config, "--tenant", a, "sync", "incentives")
    assert code == 0, out
    code, out = cli("--config", config, "--tenant", b, "runs", "--json")
    assert code == 0 and json.loads(out) == []
    code, out = cli("--config", config, "--tenant", b, "proposals", "list", "--json")
    assert json.loads(out) == []
    assert (tmp_path / "tenants" / a / "out" / "payroll.jsonl").exists()
    assert not (tmp_path / "tenants" / b / "out").exists()
    code, out = cli("--config", config, "--tenant", a, "runs", "--json")
    runs = json.loads(out)
    assert sorted(r["job"] for r in runs) == ["incentives", "ingest"]  # the sync's ingestion, the job
    assert all(r["tenant"] == a and r["status"] == "ok" and r["duration_s"] >= 0 for r in runs)
    by_env = CliRunner(env={"TRAINBRIDGE_TENANT": b}).invoke(build_cli(),
                                                             ["--config", config, "runs", "--json"])
    assert by_env.exit_code == 0 and json.loads(by_env.output) == []


def test_schedule_prints_what_runs_when(folder):
    code, out = cli("--config", str(folder / "trainbridge.toml"), "schedule", "--json", "--next", "2")
    assert code == 0, out
    rows = json.loads(out)["schedule"]
    crons = (("costs", "30 2 * * *"), ("incentives", "0 2 * * *"))
    assert {(r["tenant"], r["job"], r["cron"]) for r in rows} == {
        (t, j, c) for t in ("acme", "globex") for j, c in crons}
    first, second = (datetime.fromisoformat(x) for x in rows[0]["next"])
    assert second - first == timedelta(days=1) and first.minute in (0, 30) and first.hour == 2
    code, out = cli("--config", str(folder / "trainbridge.toml"), "--tenant", "acme", "schedule")
    assert code == 0 and "acme  incentives  (0 2 * * *, UTC)" in out and "globex" not in out


def test_an_invalid_cron_names_the_file_table_and_key(folder):
    path = folder / "tenants" / "globex" / "plugins.toml"
    path.write_text(path.read_text().replace('"0 2 * * *"', '"0 25 * * *"'), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        tenant_schedule(load_deployment(folder).settings("globex"))
    assert (err.value.file, err.value.table, err.value.key) == (str(path), "schedule", "incentives")
    code, out = cli("--config", str(folder / "trainbridge.toml"), "schedule")
    assert code == 2 and "acme" in out and "[schedule], key 'incentives'" in out


def test_schedule_refuses_unknown_jobs_and_time_zones(folder):
    settings = load_deployment(folder).settings("acme")
    settings.schedule = {"cost": "0 2 * * *"}
    with pytest.raises(ConfigError, match="unknown job 'cost'"):
        tenant_schedule(settings, {"costs", "incentives"})
    settings.schedule = {"costs": "0 2 * * *", "timezone": "Mars/Olympus"}
    with pytest.raises(ConfigError) as err:
        tenant_schedule(settings)
    assert err.value.key == "timezone"


def test_cron_times_follow_the_schedule_time_zone():
    entry = ScheduleEntry("acme", "costs", "0 2 * * *", "Asia/Shanghai")
    at = datetime(2026, 3, 1, 17, 59, tzinfo=UTC)  # 01:59 in Shanghai
    [nxt] = entry.next_runs(at)
    assert nxt.astimezone(UTC) == datetime(2026, 3, 1, 18, 0, tzinfo=UTC)
    assert entry.previous_run(nxt) == nxt
    assert entry.previous_run(nxt + timedelta(hours=5)) == nxt


def test_beat_due_times_are_the_cron_times():
    pytest.importorskip("celery", reason="Celery is not installed: pip install 'trainbridge[celery]'")
    from trainbridge.celery_app import CronSchedule

    now = datetime(2026, 3, 2, 2, 0, 30, tzinfo=UTC)
    sched = CronSchedule("0 2 * * *", nowfun=lambda: now)
    due, wait = sched.is_due(datetime(2026, 3, 1, 2, 0, 5, tzinfo=UTC))
    assert due and wait == pytest.approx(24 * 3600 - 30)
    due, wait = sched.is_due(datetime(2026, 3, 2, 2, 0, 10, tzinfo=UTC))
    assert not due and wait == pytest.approx(24 * 3600 - 30)


def test_a_slot_runs_once_and_a_held_slot_is_already_running(folder):
    pytest.importorskip("celery", reason="Celery is not installed: pip install 'trainbridge[celery]'")
    from trainbridge.celery_app import run_tenant_job

    dep = load_deployment(folder)
    slot = "2026-03-02T02:00:00+00:00"
    first = run_tenant_job(dep, "acme", "incentives", slot=slot)
    again = run_tenant_job(dep, "acme", "incentives", slot=slot)
    assert first["status"] == "ok" and first["counts"]["delivered"] == 3
    assert again["status"] == "skipped"
    ws = dep.workspace("acme")
    try:
        held = ws.ledger.start_run("incentives")
        ws.ledger.acquire_lock("incentives#schedule", -5, stale_after=timedelta(minutes=15))
        busy = run_tenant_job(dep, "acme", "incentives", slot="2026-03-03T02:00:00+00:00")
        assert busy["status"] == "already_running"
        ws.ledger.release_lock("incentives#schedule", -5)
        ws.ledger.finish_run(held, "ok", {}, [])
        later = run_tenant_job(dep, "acme", "incentives", slot="2026-03-03T02:00:00+00:00")
        assert later["status"] == "ok" and "delivered" not in later["counts"]
        with ws.ledger.transaction() as conn:
            statuses = [r["status"] for r in ws.ledger.list_runs(conn, job="incentives")]
        assert statuses.count("skipped") == 1 and statuses.count("already_running") == 1
    finally:
        ws.close()
    assert run_tenant_job(dep, "globex", "incentives")["status"] == "ok"
    assert run_tenant_job(dep, "nobody", "incentives")["status"] == "failed"


def test_a_message_whose_runs_keep_getting_killed_is_given_up(folder):
    pytest.importorskip("celery", reason="Celery is not installed: pip install 'trainbridge[celery]'")
    from trainbridge.celery_app import MAX_KILLED_RUNS, run_tenant_job

    dep = load_deployment(folder)
    ws = dep.workspace("acme")
    try:
        ws.migrate()
        for _ in range(MAX_KILLED_RUNS):
            ws.ledger.finish_run(ws.ledger.start_run("incentives"), "abandoned", {}, [])
        outcome = run_tenant_job(dep, "acme", "incentives", redelivered=True)
        assert outcome["status"] == "failed" and "killed" in outcome["errors"][0]
        assert run_tenant_job(dep, "acme", "incentives")["status"] == "ok"  # a fresh message runs
    finally:
        ws.close()


def test_a_message_that_finds_its_tenant_busy_tries_again_a_bounded_number_of_times(
        folder, monkeypatch):
    pytest.importorskip("celery", reason="Celery is not installed: pip install 'trainbridge[celery]'")
    from trainbridge import celery_app

    monkeypatch.setattr(celery_app, "BUSY_RETRIES", 2)
    monkeypatch.setattr(celery_app, "BUSY_DELAY", 0)
    attempts: list[str] = []
    real = celery_app.run_tenant_job

    def counting(*args, **kwargs):
        outcome = real(*args, **kwargs)
        attempts.append(outcome["status"])
        return outcome

    monkeypatch.setattr(celery_app, "run_tenant_job", counting)
    dep = load_deployment(folder)
    app = celery_app.create_app(dep, broker_url="memory://")
    app.conf.task_always_eager = True
    task = app.tasks[celery_app.TASK_NAME]
    ws = dep.workspace("acme")
    try:
        ws.migrate()
        held = ws.ledger.start_run("ingest")
        ws.ledger.acquire_lock("sync", held, stale_after=timedelta(minutes=15))  # a sync of acme runs
        assert task.apply(("acme", "incentives")).get()["status"] == "already_running"
        assert attempts == ["busy", "busy", "busy"]  # the first try and two more, then given up
        with ws.ledger.transaction() as conn:
            assert ws.ledger.list_runs(conn, job="incentives") == []  # a busy tenant is left untouched
        ws.ledger.release_lock("sync", held)
        assert task.apply(("acme", "incentives")).get()["status"] == "ok"
    finally:
        ws.close()


def test_workers_pick_up_a_tenant_added_after_they_started(folder, monkeypatch):
    pytest.importorskip("celery", reason="Celery is not installed: pip install 'trainbridge[celery]'")
    from trainbridge import celery_app

    monkeypatch.setenv("TRAINBRIDGE_DEPLOYMENT", str(folder / "trainbridge.toml"))
    celery_app.deployment.cache_clear()
    app = celery_app.create_app(broker_url="memory://")
    app.conf.task_always_eager = True
    task = app.tasks[celery_app.TASK_NAME]
    assert task.apply(("acme", "costs")).get()["status"] == "ok"
    write_tenant(folder / "tenants" / "initech", "initech", today=date.today())
    assert task.apply(("initech", "incentives")).get()["status"] == "ok"
    assert (folder / "tenants" / "initech" / "out" / "payroll.jsonl").exists()
    celery_app.deployment.cache_clear()
