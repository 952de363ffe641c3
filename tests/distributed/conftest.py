"""Real Celery workers, brokers and PostgreSQL for the distributed tests (skipped when absent)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.distributed.tenantdata import write_tenant
from trainbridge.core.demo import to_toml

ROOT = Path(__file__).parents[2]
PG_ENV = "TRAINBRIDGE_TEST_POSTGRES_URL"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BROKERS = {"redis": "redis://127.0.0.1:6379/0", "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//"}


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def pg_url() -> str:
    url = os.environ.get(PG_ENV, PG_DEFAULT)
    try:
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as exc:
        pytest.skip(f"PostgreSQL not reachable at {url} ({type(exc).__name__}); set {PG_ENV}")
    return url


def broker_url(name: str) -> str:
    pytest.importorskip("celery", reason="Celery is not installed: pip install 'trainbridge[celery]'")
    port = 6379 if name == "redis" else 5672
    if not _listening(port):
        pytest.skip(f"{name} is not listening on 127.0.0.1:{port}")
    return BROKERS[name]


@dataclass
class Deployment:
    path: Path
    folder: Path
    tenants: dict[str, Path]
    queue: str
    broker: str

    def runs(self, url: str) -> list[dict[str, Any]]:
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(sa.text(
                    "select id, tenant, job, status, counts, errors from tb_runs where tenant = any(:t) "
                    "order by id"), {"t": list(self.tenants)}).mappings().all()
        finally:
            engine.dispose()
        return [dict(r) for r in rows]


@pytest.fixture
def deployment(tmp_path: Path, pg_url: str) -> Callable[..., Deployment]:
    def build(broker: str, count: int, *, down: tuple[int, ...] = ()) -> Deployment:
        uid = uuid.uuid4().hex[:8]
        tenants = {}
        for n in range(count):
            tenant = f"d{uid}-t{n:02d}"
            folder = tmp_path / "tenants" / tenant
            write_tenant(folder, tenant, today=date.today(), down=n in down)
            tenants[tenant] = folder
        queue = f"trainbridge-test-{uid}"
        path = tmp_path / "trainbridge.toml"
        path.write_text(to_toml({"tenants_dir": "tenants", "ledger": {"url": pg_url},
                                 "celery": {"broker_url": broker, "queue": queue}}), encoding="utf-8")
        return Deployment(path=path, folder=tmp_path, tenants=tenants, queue=queue, broker=broker)

    return build


@dataclass
class Worker:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[..., list[Worker]]]:
    started: list[Worker] = []

    def start(dep: Deployment, n: int = 2, *, env: dict[str, str] | None = None,
              metrics_port: int | None = None) -> list[Worker]:
        batch = []
        for i in range(n):
            name = f"w{i}-{dep.queue[-8:]}"
            log = tmp_path / f"{name}.log"
            worker_env = {**os.environ, "PYTHONPATH": str(ROOT), "TRAINBRIDGE_DEPLOYMENT": str(dep.path),
                          **(env or {})}
            for key in ("TRAINBRIDGE_FAULT", "TRAINBRIDGE_BROKER_URL", "TRAINBRIDGE_METRICS_PORT",
                        "PROMETHEUS_MULTIPROC_DIR"):
                worker_env.pop(key, None)
            if metrics_port and i == 0:
                worker_env["TRAINBRIDGE_METRICS_PORT"] = str(metrics_port)
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "celery", "-A", "tests.distributed.fault_app", "worker",
                     "--pool=prefork", "--concurrency=1", "-Q", dep.queue, "-n", f"{name}@%h",
                     "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=info"],
                    cwd=ROOT, env=worker_env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            worker = Worker(name, proc, log)
            started.append(worker)
            batch.append(worker)
        deadline = time.monotonic() + 60
        for worker in batch:
            while " ready." not in worker.text():
                if worker.proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"worker {worker.name} did not start:\n{worker.text()[-3000:]}")
                time.sleep(0.2)
        return batch

    yield start
    for worker in started:
        if worker.proc.poll() is None:
            os.killpg(worker.proc.pid, signal.SIGTERM)
    for worker in started:
        try:
            worker.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(worker.proc.pid, signal.SIGKILL)
            worker.proc.wait()


def wait_for(predicate: Callable[[], bool], *, timeout: float, what: str,
             logs: Callable[[], str] = lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}\n{logs()[-4000:]}")
        time.sleep(0.3)
