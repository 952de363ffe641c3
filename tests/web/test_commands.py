"""`trainbridge users` and `trainbridge serve --demo` (uvicorn replaced by a recorder)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette", reason="the console needs the serve extra: pip install 'trainbridge[serve]'")
pytest.importorskip("argon2", reason="the console needs the serve extra: pip install 'trainbridge[serve]'")
from click.testing import CliRunner
from starlette.testclient import TestClient

from trainbridge.cli import build_cli

from .conftest import csrf_of


def run(args: list[str], **kwargs: Any) -> Any:
    return CliRunner().invoke(build_cli(), args, catch_exceptions=False, **kwargs)


def test_users_add_and_list(demo_dir: Path) -> None:
    config = str(demo_dir / "plugins.toml")
    added = run(["-c", config, "users", "add", "lihua", "--role", "hr", "--password-stdin"],
                input="a-long-password\n")
    assert added.exit_code == 0, added.output
    assert "user lihua (hr) saved" in added.output
    generated = run(["-c", config, "users", "add", "boss", "--role", "manager", "--employee", "M001",
                     "--generate"])
    assert re.search(r"one-time password: \S{12,}", generated.output)
    listed = run(["-c", config, "users", "list"])
    assert "lihua hr" in listed.output and "boss manager M001" in listed.output
    # The password is kept only as an argon2 hash.
    assert b"a-long-password" not in (demo_dir / "trainbridge.db").read_bytes()


def test_users_add_refuses_a_manager_without_an_employee(demo_dir: Path) -> None:
    answer = CliRunner().invoke(build_cli(), ["-c", str(demo_dir / "plugins.toml"), "users", "add", "m",
                                              "--role", "manager", "--generate"])
    assert answer.exit_code != 0
    assert "needs --employee" in str(answer.exception)


def test_serve_demo_prints_a_one_time_admin_password_that_logs_in(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    served: dict[str, Any] = {}
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: served.update(app=app, **kw))
    answer = run(["serve", "--demo", "--dir", str(tmp_path / "demo"), "--port", "8123"])
    assert answer.exit_code == 0, answer.output
    match = re.search(r"console: http://127\.0\.0\.1:8123/  user: admin  one-time password: (\S+)",
                      answer.output)
    assert match, answer.output
    assert served["port"] == 8123 and served["host"] == "127.0.0.1"
    with TestClient(served["app"]) as client:
        form = client.get("/login")
        page = client.post("/login", data={"username": "admin", "password": match.group(1),
                                           "csrf_token": csrf_of(form.text)})
        assert page.status_code == 200 and page.url.path == "/account/password"
        client.post("/account/password", data={"csrf_token": csrf_of(page.text),
                                                "password": "admins-own-pass", "repeat": "admins-own-pass"})
        assert "incentive:bonus:M001" in client.get("/proposals").text
        client.cookies.clear()
        form = client.get("/login")
        again = client.post("/login", data={"username": "admin", "password": match.group(1),
                                            "csrf_token": csrf_of(form.text)})
        assert again.status_code == 401  # one-time


def test_the_demo_workspace_is_in_demo_mode_so_an_added_account_keeps_its_password(demo_dir: Path) -> None:
    config = demo_dir / "plugins.toml"
    assert '[web]\nmode = "demo"' in config.read_text(encoding="utf-8")
    added = run(["-c", str(config), "users", "add", "lihua", "--role", "hr", "--password-stdin"],
                input="a-long-password\n")
    assert added.exit_code == 0 and "must choose a new password" not in added.output, added.output
    from trainbridge.core.config import load_settings
    from trainbridge.core.runner import Workspace
    from trainbridge.web.app import create_app

    ws = Workspace(load_settings(config))
    try:
        with TestClient(create_app(ws)) as client:
            form = client.get("/login")
            page = client.post("/login", data={"username": "lihua", "password": "a-long-password",
                                               "csrf_token": csrf_of(form.text), "next": "/proposals"})
            assert page.status_code == 200 and page.url.path == "/proposals"  # no forced password change
    finally:
        ws.close()


def test_in_production_mode_an_added_account_must_choose_its_password(demo_dir: Path) -> None:
    config = demo_dir / "plugins.toml"
    config.write_text(config.read_text(encoding="utf-8").replace('mode = "demo"', 'mode = "production"'),
                      encoding="utf-8")
    added = run(["-c", str(config), "users", "add", "lihua", "--role", "hr", "--password-stdin"],
                input="a-long-password\n")
    assert "the first login must choose a new password" in added.output


def test_users_add_refuses_a_manager_for_an_unknown_employee(demo_dir: Path) -> None:
    answer = CliRunner().invoke(build_cli(), ["-c", str(demo_dir / "plugins.toml"), "users", "add", "mgr2",
                                              "--role", "manager", "--employee", "NOPE", "--generate"])
    assert answer.exit_code != 0
    message = str(answer.exception) + answer.output
    assert "no employee 'NOPE' in the ledger" in message and "known employees: E001" in message
    listed = run(["-c", str(demo_dir / "plugins.toml"), "users", "list"])
    assert "mgr2" not in listed.output
