"""Shared fixtures: a workspace on SQLite (always) and on PostgreSQL (when configured).

PostgreSQL tests need TRAINBRIDGE_TEST_POSTGRES_URL (``.ci/run`` sets it to the server on
this machine); each test gets its own tenant, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from trainbridge.core.config import load_settings
from trainbridge.core.demo import to_toml
from trainbridge.core.runner import Workspace

PG_ENV = "TRAINBRIDGE_TEST_POSTGRES_URL"
# Streams are read in the test's own process, where `responses` fakes the vendors and a test
# can count the calls a source received; tests/core/test_read_processes.py, the kill -9 tests
# and the benchmark's end-to-end test read them in reader processes (the default elsewhere).
os.environ.setdefault("TRAINBRIDGE_READ_PROCESSES", "0")
_WORKER_DATABASE: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist each worker gets a PostgreSQL database of its own, created from the
    configured one's server (``test`` -> ``test_gw0_<run>``) and dropped at the end: workers
    never migrate the same schema at once. Subprocesses a test starts inherit the URL."""
    worker, url = os.environ.get("PYTEST_XDIST_WORKER"), os.environ.get(PG_ENV)
    if not worker or not url:
        return
    import sqlalchemy as sa

    base = sa.engine.make_url(url)
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", uuid.uuid4().hex)[:8]
    name = f"{base.database or 'test'}_{worker}_{run}"
    try:
        engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
    except sa.exc.SQLAlchemyError:
        return  # unreachable: the PostgreSQL tests say so and skip, as without workers
    os.environ[PG_ENV] = base.set(database=name).render_as_string(hide_password=False)
    _WORKER_DATABASE[:] = [url, name]


def pytest_unconfigure(config: pytest.Config) -> None:
    if not _WORKER_DATABASE:
        return
    import sqlalchemy as sa

    url, name = _WORKER_DATABASE
    os.environ[PG_ENV] = url
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    except sa.exc.SQLAlchemyError:
        pass  # left for the next run's server clean-up; nothing else depends on it
    finally:
        engine.dispose()


def _backends() -> list[Any]:
    return ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=_backends())
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return "sqlite:///trainbridge.db"
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"PostgreSQL not configured: set {PG_ENV}=postgresql+psycopg://user@host/db "
                    "(.ci/run sets it)")
    return url


@pytest.fixture
def make_workspace(tmp_path: Path, ledger_url: str) -> Iterator[Callable[..., Workspace]]:
    """Write plugins.toml in tmp_path with the given tables and open it (unique tenant)."""
    opened: list[Workspace] = []

    def build(config: Mapping[str, Any], *, directory: Path | None = None) -> Workspace:
        folder = directory or tmp_path
        data: dict[str, Any] = {"tenant": {"id": f"t{uuid.uuid4().hex[:12]}"},
                                "ledger": {"url": ledger_url}, **config}
        path = folder / "plugins.toml"
        path.write_text(to_toml(data), encoding="utf-8")
        ws = Workspace(load_settings(path))
        ws.ensure_migrated()
        opened.append(ws)
        return ws

    yield build
    for ws in opened:
        ws.close()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
