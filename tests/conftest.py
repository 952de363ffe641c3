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
