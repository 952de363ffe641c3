"""Workspaces over the built-in file connectors, read through a real sync (SQLite and PostgreSQL)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.refunds.conftest import seed_ws  # noqa: F401 - the seed story's workspace, reused
from trainbridge.core.runner import Workspace, sync

PEOPLE_HEADER = "employee_id,name,department,legal_entity,hire_date\n"


@pytest.fixture
def files_ws(make_workspace: Callable[..., Workspace], tmp_path: Path) -> Callable[..., Workspace]:
    """A workspace whose connectors are the given tables; ``files`` are written first (str or bytes)."""

    def build(connectors: dict[str, dict[str, Any]], **files: str | bytes) -> Workspace:
        for name, content in files.items():
            path = tmp_path / name.replace("__", ".")
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        return make_workspace({"connectors": connectors})

    return build


@pytest.fixture
def no_traceback(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Fails the test if anything logged a traceback: a stack trace is never the user interface."""
    caplog.set_level(logging.INFO)
    yield caplog
    traced = [r.getMessage() for r in caplog.records if r.exc_info]
    assert traced == [], traced


def ingest(ws: Workspace) -> Any:
    [result] = sync(ws, ["ingest"])
    return result


def quarantined(ws: Workspace) -> list[dict[str, Any]]:
    with ws.ledger.transaction() as conn:
        return ws.ledger.list_quarantine(conn)


def records(ws: Workspace, kind: str) -> dict[str, Any]:
    with ws.ledger.transaction() as conn:
        return {r.id: r for r in ws.ledger.iter_records(conn, kind)}
