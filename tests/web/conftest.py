"""The console's fixtures: the demo workspace (built once, copied per test) and logged-in clients."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from trainbridge.core.config import load_settings
from trainbridge.core.demo import run_demo
from trainbridge.core.runner import Workspace

TODAY = date(2026, 11, 23)
PASSWORDS = {"hr": "hr-password-1", "admin": "admin-password-1", "viewer": "viewer-password-1",
             "M002": "manager-password-1"}
BONUS = "incentive:bonus:M001:2026Q3"
REFUND = "refund:hr:S-E003"


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`trainbridge demo` once (seconds), with one account per role."""
    from trainbridge.web.accounts import add_user

    folder = tmp_path_factory.mktemp("web") / "demo"
    assert run_demo(folder, today=TODAY, echo=lambda _line: None) == 0
    ws = Workspace(load_settings(folder / "plugins.toml"))
    ws.ensure_migrated()
    add_user(ws.ledger, "hr", "hr", PASSWORDS["hr"])
    add_user(ws.ledger, "admin", "admin", PASSWORDS["admin"])
    add_user(ws.ledger, "viewer", "viewer", PASSWORDS["viewer"])
    add_user(ws.ledger, "M002", "manager", PASSWORDS["M002"], employee_id="M002")
    ws.close()
    return folder


@pytest.fixture
def demo_dir(demo_template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "demo"
    shutil.copytree(demo_template, target)
    return target


@pytest.fixture
def workspace(demo_dir: Path) -> Iterator[Workspace]:
    ws = Workspace(load_settings(demo_dir / "plugins.toml"))
    ws.ensure_migrated()
    yield ws
    ws.close()


@pytest.fixture
def client(workspace: Workspace) -> Iterator[Any]:
    from starlette.testclient import TestClient

    from trainbridge.web import WebSettings, create_app

    app = create_app(workspace, WebSettings(today=lambda: TODAY))
    with TestClient(app, base_url="http://testserver") as c:
        yield c


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def login(client: Any, name: str, password: str | None = None) -> str:
    """Log in through the form; returns the session's CSRF token from the next page."""
    form = client.get("/login")
    answer = client.post("/login", data={"username": name, "password": password or PASSWORDS[name],
                                         "csrf_token": csrf_of(form.text), "next": "/proposals"})
    assert answer.status_code == 200, answer.text
    return csrf_of(answer.text)


@pytest.fixture
def logged_in(client: Any) -> Callable[[str], str]:
    return lambda name: login(client, name)


def payroll_lines(demo_dir: Path) -> list[str]:
    path = demo_dir / "out" / "payroll.jsonl"
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []
