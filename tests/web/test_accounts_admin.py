"""Keeping console accounts: disable, enable, remove, passwords, failed logins audited, first login."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("starlette", reason="the console needs the serve extra: pip install 'trainbridge[serve]'")

from click.testing import CliRunner
from starlette.testclient import TestClient

from trainbridge.cli import build_cli
from trainbridge.core.runner import Workspace
from trainbridge.web import account_admin, accounts

from .conftest import PASSWORDS, csrf_of, login


def audit(ws: Workspace, action: str) -> list[dict[str, Any]]:
    with ws.ledger.transaction() as conn:
        return [r for r in ws.ledger.list_audit(conn, limit=500) if r["action"] == action]


def try_login(client: TestClient, name: str, password: str) -> Any:
    form = client.get("/login")
    return client.post("/login", data={"username": name, "password": password,
                                       "csrf_token": csrf_of(form.text)}, follow_redirects=False)


def test_a_failed_login_is_audited_with_the_name_and_source_never_the_password(
        client: TestClient, workspace: Workspace) -> None:
    assert try_login(client, "hr", "guess-number-1").status_code == 401
    assert try_login(client, "nobody", "guess-number-2").status_code == 401
    rows = audit(workspace, "web.login_failed")
    assert {r["subject"] for r in rows} == {"hr", "nobody"}
    assert all(r["detail"]["source"] for r in rows)
    assert "guess-number" not in str(rows)


def test_an_admin_disables_enables_and_removes_an_account(client: TestClient, workspace: Workspace) -> None:
    viewer = TestClient(client.app, base_url="http://testserver")
    login(viewer, "viewer")
    token = login(client, "admin")
    page = client.get("/accounts", headers={"Accept-Language": "zh"})
    assert page.status_code == 200 and 'data-account="viewer"' in page.text and "停用" in page.text
    answer = client.post("/accounts/viewer/disable", data={"csrf_token": token})
    assert answer.status_code == 200 and "账户已停用" in answer.text
    # The viewer's session ended and the right password no longer lets them in.
    assert viewer.get("/proposals", follow_redirects=False).status_code == 303
    assert try_login(viewer, "viewer", PASSWORDS["viewer"]).status_code == 401
    client.post("/accounts/viewer/enable", data={"csrf_token": token})
    assert try_login(viewer, "viewer", PASSWORDS["viewer"]).status_code == 303
    client.post("/accounts/viewer/remove", data={"csrf_token": token})
    assert "viewer" not in [u["name"] for u in accounts.list_users(workspace.ledger)]
    actions = [r["action"] for action in ("web.user_disabled", "web.user_enabled", "web.user_removed")
               for r in audit(workspace, action)]
    assert sorted(actions) == ["web.user_disabled", "web.user_enabled", "web.user_removed"]


def test_nobody_removes_themselves_or_the_last_admin(client: TestClient, workspace: Workspace) -> None:
    token = login(client, "admin")
    answer = client.post("/accounts/admin/remove", data={"csrf_token": token},
                         headers={"Accept-Language": "en"})
    assert answer.status_code == 409 and "your own account" in answer.text
    with pytest.raises(account_admin.AccountRefused, match="last enabled admin"):
        account_admin.remove_user(workspace.ledger, "admin", actor="cli")
    with pytest.raises(account_admin.AccountRefused, match="last enabled admin"):
        account_admin.set_disabled(workspace.ledger, "admin", True, actor="cli")
    hr_token = login(client, "hr")
    assert client.post("/accounts/viewer/disable", data={"csrf_token": hr_token}).status_code == 403


def test_changing_ones_password_needs_the_current_one(client: TestClient, workspace: Workspace) -> None:
    token = login(client, "hr")
    wrong = client.post("/account/password", data={"csrf_token": token, "current": "not-it-at-all",
                                                   "password": "a-new-password", "repeat": "a-new-password"},
                        headers={"Accept-Language": "zh"})
    assert wrong.status_code == 400 and "当前密码不正确" in wrong.text
    right = client.post("/account/password", data={"csrf_token": token, "current": PASSWORDS["hr"],
                                                    "password": "a-new-password", "repeat": "a-new-password"},
                        follow_redirects=False)
    assert right.status_code == 303
    assert accounts.authenticate(workspace.ledger, "hr", "a-new-password") is not None
    assert accounts.authenticate(workspace.ledger, "hr", PASSWORDS["hr"]) is None


def production_mode(demo_dir: Any) -> str:
    """The demo's configuration in [web] mode = "production" (the default; the demo writes "demo")."""
    path = demo_dir / "plugins.toml"
    path.write_text(path.read_text(encoding="utf-8").replace('mode = "demo"', 'mode = "production"'),
                    encoding="utf-8")
    return str(path)


def test_in_production_mode_an_account_the_cli_made_must_choose_its_password(
        client: TestClient, workspace: Workspace, demo_dir: Any) -> None:
    config = production_mode(demo_dir)
    made = CliRunner().invoke(build_cli(), ["--config", config, "users", "add", "wang", "--role", "hr",
                                            "--password-stdin"], input="first-password\n")
    assert made.exit_code == 0, made.output
    answer = try_login(client, "wang", "first-password")
    assert answer.headers["location"] == "/account/password"
    assert client.get("/proposals", follow_redirects=False).headers["location"] == "/account/password"
    token = csrf_of(client.get("/account/password").text)
    client.post("/account/password", data={"csrf_token": token, "current": "first-password",
                                           "password": "my-own-password", "repeat": "my-own-password"})
    assert client.get("/proposals").status_code == 200


def test_the_users_commands_disable_enable_remove_and_set_passwords(demo_dir: Any,
                                                                   workspace: Workspace) -> None:
    config = ["--config", production_mode(demo_dir), "users"]
    run = CliRunner().invoke
    assert run(build_cli(), [*config, "disable", "viewer"]).exit_code == 0
    assert accounts.authenticate(workspace.ledger, "viewer", PASSWORDS["viewer"]) is None
    assert "disabled" in run(build_cli(), [*config, "list"]).output
    assert run(build_cli(), [*config, "enable", "viewer"]).exit_code == 0
    assert accounts.authenticate(workspace.ledger, "viewer", PASSWORDS["viewer"]) is not None
    reset = run(build_cli(), [*config, "passwd", "viewer", "--password-stdin"], input="reset-password-1\n")
    assert reset.exit_code == 0, reset.output
    user = accounts.authenticate(workspace.ledger, "viewer", "reset-password-1")
    assert user is not None and user.must_set_password  # production mode: they choose their own next
    refused = run(build_cli(), [*config, "remove", "admin", "--yes"])
    assert refused.exit_code == 1 and "last enabled admin" in refused.output
    assert run(build_cli(), [*config, "remove", "viewer", "--yes"]).exit_code == 0
    assert "viewer" not in run(build_cli(), [*config, "list"]).output
