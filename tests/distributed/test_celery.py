"""Real Celery workers (prefork, 2 of them) on Redis or RabbitMQ with the ledger in PostgreSQL.

Each test starts its own workers on its own queue and its own tenants, so nothing else
on the broker or in the database can disturb it.
"""

from __future__ import annotations

import socket
import time
import urllib.request
from collections import Counter

import pytest

from tests.distributed.conftest import broker_url, wait_for
from tests.distributed.tenantdata import JOBS, payroll_ids
from trainbridge.core.tenants import load_deployment

pytestmark = pytest.mark.slow
BONUSES = [f"incentive:bonus:E{n}:certificate:FIRE-{n}" for n in (1, 2, 3)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tick(dep) -> int:
    from trainbridge.celery_app import create_app, fire_tick

    loaded = load_deployment(dep.path)
    return fire_tick(create_app(loaded), loaded)


def _finished(runs: list[dict]) -> list[dict]:
    """Finished runs of the jobs (each sync's ingestion has a run of its own, not counted)."""
    return [r for r in runs if r["status"] not in ("running", "abandoned") and r["job"] != "ingest"]


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_a_tick_fired_twice_runs_each_tenant_job_once_and_a_down_tenant_does_not_stop_the_others(
        deployment, workers, pg_url, broker):
    dep = deployment(broker_url(broker), 20, down=(7,))
    port = _free_port()
    started = workers(dep, 2, metrics_port=port)
    began = time.monotonic()
    sent = _tick(dep) + _tick(dep)
    assert sent == 2 * 20 * len(JOBS)
    wait_for(lambda: len(_finished(dep.runs(pg_url))) >= sent, timeout=90, what=f"{sent} runs",
             logs=lambda: "\n".join(w.text() for w in started))
    elapsed = time.monotonic() - began
    runs = dep.runs(pg_url)
    down = sorted(dep.tenants)[7]
    for tenant in dep.tenants:
        for job in JOBS:
            mine = [r for r in runs if r["tenant"] == tenant and r["job"] == job]
            statuses = Counter(r["status"] for r in mine)
            ran = "partial" if tenant == down else "ok"
            assert statuses[ran] == 1, (tenant, job, statuses)
            assert sum(statuses[s] for s in ("already_running", "skipped")) == 1, (tenant, job, statuses)
        assert payroll_ids(dep.tenants[tenant]) == BONUSES, tenant
    [failed] = {r["tenant"] for r in runs if r["counts"].get("instances_failed")}
    assert failed == down
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    assert "trainbridge_run_duration_seconds_bucket" in text
    assert 'trainbridge_runs_total{job="incentives",status=' in text
    assert "trainbridge_deliveries_total" in text
    print(f"\n{broker}: {sent} messages for 20 tenants x {len(JOBS)} jobs on 2 workers in {elapsed:.1f}s")


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_a_worker_killed_mid_run_leaves_the_task_to_be_redelivered_and_nothing_is_posted_twice(
        deployment, workers, pg_url, broker, tmp_path):
    dep = deployment(broker_url(broker), 4)
    # The first pool process to post a bonus dies (SIGKILL) right after the payroll took it,
    # before the ledger could record the delivery.
    started = workers(dep, 2, env={"TRAINBRIDGE_TEST_FAULT_ONCE": "after_deliver_call",
                                   "TRAINBRIDGE_TEST_FAULT_MARKER": str(tmp_path / "fault-armed")})
    sent = _tick(dep)
    logs = lambda: "\n".join(w.text() for w in started)  # noqa: E731
    wait_for(lambda: len(_finished(dep.runs(pg_url))) >= sent, timeout=90, what=f"{sent} runs", logs=logs)
    runs = dep.runs(pg_url)
    assert [r["status"] for r in runs].count("abandoned") == 1, runs
    assert "WorkerLostError" in logs() or "exited with 'signal 9" in logs()
    for tenant, folder in dep.tenants.items():
        for job in JOBS:
            statuses = Counter(r["status"] for r in runs if r["tenant"] == tenant and r["job"] == job)
            assert statuses["ok"] == 1, (tenant, job, statuses)
        assert payroll_ids(folder) == BONUSES, tenant
