"""``trainbridge serve`` (the HR console and webhook receiver) and ``trainbridge users``.

The web package needs the ``serve`` extra; this plugin imports it only when a command
runs, so the rest of trainbridge works without it.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click

from trainbridge import hookimpl
from trainbridge.core.errors import ConfigError


def _accounts() -> Any:
    try:
        from trainbridge.web import accounts
    except ModuleNotFoundError as exc:
        raise ConfigError(f"the console needs {exc.name}, which is not installed",
                          hint="pip install 'trainbridge[serve]'") from None
    return accounts


@hookimpl
def register_migrations(register: Callable[..., None]) -> None:
    from trainbridge.web.account_admin import migrate_v3
    from trainbridge.web.accounts import migrate_v1
    from trainbridge.web.approvals import migrate_v2

    register("web", 1, migrate_v1)
    register("web", 2, migrate_v2)
    register("web", 3, migrate_v3)


@click.command(name="serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--demo", is_flag=True, help="Create the demo workspace and an admin with a one-time password.")
@click.option("--dir", "directory", type=click.Path(file_okay=False),
              help="With --demo: the workspace folder (default: a new temporary folder).")
@click.option("--secure-cookies", type=click.Choice(["auto", "always", "never"]), default="auto",
              show_default=True, help="auto: Secure when the request came over https (behind a proxy: "
                                      "run with --proxy-headers).")
@click.option("--proxy-headers", is_flag=True, help="Trust X-Forwarded-Proto/For from the proxy in front.")
@click.option("--language", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="Language when the browser asks for neither.")
@click.option("--leaderboard-visibility", type=click.Choice(["named", "department", "self"]), default=None,
              help="What managers and viewers see of other managers' standings (default: the "
                   "[jobs.points.leaderboard] table, or self).")
@click.option("--second-approver-above", type=str, default=None, metavar="AMOUNT",
              help="Money proposals above AMOUNT (their own currency) need two different approvers.")
@click.pass_obj
def serve(state: Any, host: str, port: int, demo: bool, directory: str | None, secure_cookies: str,
          proxy_headers: bool, language: str, leaderboard_visibility: str | None,
          second_approver_above: str | None) -> None:
    """The HR console and the e-signature webhook receiver (POST /webhooks/INSTANCE)."""
    try:
        limit = Decimal(second_approver_above) if second_approver_above else None
    except InvalidOperation:
        raise click.BadParameter("not an amount", param_hint="--second-approver-above") from None
    accounts = _accounts()
    import uvicorn

    from trainbridge.core.config import load_settings
    from trainbridge.core.runner import Workspace
    from trainbridge.web import WebSettings, create_app

    if demo:
        from trainbridge.core.demo import run_demo
        from trainbridge.core.localtime import tenant_today

        workdir = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="trainbridge-demo-"))
        demo_zone = SimpleNamespace(timezone="Asia/Shanghai")  # the demo's [tenant] timezone
        run_demo(workdir, today=tenant_today(demo_zone), echo=click.echo)
        ws = Workspace(load_settings(workdir / "plugins.toml"))
        ws.ensure_migrated()
        password = accounts.new_password()
        accounts.add_user(ws.ledger, "admin", "admin", password, replace=True, one_time=True)
        click.echo(f"\nconsole: http://{host}:{port}/  user: admin  one-time password: {password}")
        click.echo("(shown once, stored only as a hash; `trainbridge users add admin --replace` resets it)")
    else:
        ws = state.workspace()
        if not accounts.list_users(ws.ledger):
            click.echo("no console accounts yet: trainbridge users add NAME --role admin", err=True)
    app = create_app(ws, WebSettings(secure_cookies=secure_cookies, language=language,
                                     leaderboard_visibility=leaderboard_visibility,
                                     second_approver_above=limit))
    uvicorn.run(app, host=host, port=port, proxy_headers=proxy_headers, log_level="info")


@click.group(name="users")
def users_group() -> None:
    """Console accounts: add, list, disable, enable, remove, passwd."""


@users_group.command(name="add")
@click.argument("name")
@click.option("--role", type=click.Choice(["admin", "hr", "viewer", "manager"]), required=True)
@click.option("--employee", "employee_id", help="The employee id a manager is (required for managers).")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin instead of a prompt.")
@click.option("--generate", is_flag=True, help="Generate a password and print it once.")
@click.option("--replace", is_flag=True, help="Reset an existing account's password and role.")
@click.pass_obj
def users_add(state: Any, name: str, role: str, employee_id: str | None, password_stdin: bool, generate: bool,
              replace: bool) -> None:
    """Create a console account (or reset one with --replace)."""
    accounts = _accounts()
    password = _password(generate, password_stdin)
    ws = state.workspace()
    production = ws.settings.web_mode == "production"
    user = accounts.add_user(ws.ledger, name, role, password, employee_id=employee_id,
                             replace=replace, one_time=generate, must_change=production and not generate)
    click.echo(f"user {user.name} ({user.role}) saved"
               + ("; the first login must choose a new password" if production or generate else ""))
    if generate:
        click.echo(f"one-time password: {password}")


def _password(generate: bool, from_stdin: bool) -> str:
    """A generated password, the first line of stdin, or one typed twice at a hidden prompt."""
    accounts = _accounts()
    if generate:
        return str(accounts.new_password())
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(click.prompt("password", hide_input=True, confirmation_prompt=True))


def _admin() -> Any:
    _accounts()
    from trainbridge.web import account_admin

    return account_admin


@contextmanager
def _account_change() -> Iterator[Any]:
    """The account admin module; a change it refuses (the last admin, no such account) is the
    command's error, with its hint."""
    admin = _admin()
    try:
        yield admin
    except admin.AccountRefused as exc:
        raise click.ClickException(exc.message + (f" ({exc.hint})" if exc.hint else "")) from None


@users_group.command(name="disable")
@click.argument("name")
@click.pass_obj
def users_disable(state: Any, name: str) -> None:
    """Disable an account: no login, its sessions end (the last enabled admin cannot be disabled)."""
    _set_disabled(state, name, True)


@users_group.command(name="enable")
@click.argument("name")
@click.pass_obj
def users_enable(state: Any, name: str) -> None:
    """Enable a disabled account."""
    _set_disabled(state, name, False)


def _set_disabled(state: Any, name: str, disabled: bool) -> None:
    with _account_change() as admin:
        admin.set_disabled(state.workspace().ledger, name, disabled, actor="cli")
    click.echo(f"user {name} {'disabled' if disabled else 'enabled'}")


@users_group.command(name="remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def users_remove(state: Any, name: str, yes: bool) -> None:
    """Remove an account and its sessions (the audit log keeps what it did; not the last admin)."""
    with _account_change() as admin:
        if not yes:
            click.confirm(f"remove console account {name}?", abort=True)
        admin.remove_user(state.workspace().ledger, name, actor="cli")
    click.echo(f"user {name} removed")


@users_group.command(name="passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin instead of a prompt.")
@click.option("--generate", is_flag=True, help="Generate a one-time password and print it once.")
@click.pass_obj
def users_passwd(state: Any, name: str, password_stdin: bool, generate: bool) -> None:
    """Set an account's password (its sessions end); in production mode ([web] mode) the next
    login must choose a new one."""
    password = _password(generate, password_stdin)
    ws = state.workspace()
    with _account_change() as admin:
        admin.reset_password(ws.ledger, name, password, actor="cli", one_time=generate,
                             must_change=ws.settings.web_mode == "production" and not generate)
    click.echo(f"password of {name} set")
    if generate:
        click.echo(f"one-time password: {password}")


@users_group.command(name="list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def users_list(state: Any, as_json: bool) -> None:
    """Console accounts with their role and state (never their passwords)."""
    rows = _admin().accounts_table(state.workspace().ledger)
    if as_json:
        click.echo(json.dumps([{k: v for k, v in r.items() if k != "password_hash"} for r in rows],
                              ensure_ascii=False, indent=2, default=str))
        return
    for r in rows:
        state_words = [w for w, on in (("disabled", r["disabled"]),
                                       ("must change password", r["must_change"])) if on]
        click.echo(f"{r['name']} {r['role']}{' ' + r['employee_id'] if r['employee_id'] else ''} "
                   f"created {r['created_at']:%Y-%m-%d %H:%M}" + (f" ({', '.join(state_words)})"
                                                                  if state_words else ""))
    if not rows:
        click.echo("no console accounts")


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(serve)
    cli.add_command(users_group)
