"""A user's own account (choosing a password) and, for admins, every account: add, disable, enable, remove.

Changing one's password needs the current one, except right after a one-time password's
login (that login proved it). Every change is audited (:mod:`trainbridge.web.account_admin`).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from trainbridge.core.errors import ConfigError
from trainbridge.web import account_admin, accounts
from trainbridge.web.account_admin import AccountRefused
from trainbridge.web.console import Console


def _rule_key(exc: ConfigError) -> str:
    return "password_too_short" if "shorter" in exc.message else "password_too_long"


def routes(c: Console) -> list[BaseRoute]:
    ws, gate = c.ws, c.gate

    @c.page()
    async def set_password(request: Request) -> Response:
        if request.method == "GET":
            return c.render(request, "password.html", error="")
        user = request.state.session.user
        form = c.form_of(request)
        password = str(form.get("password", ""))
        if password != str(form.get("repeat", "")):
            return c.render(request, "password.html", status_code=400,
                            error=c.t(request, "password_mismatch"))
        try:
            accounts.check_password_rules(password)
        except ConfigError as exc:
            return c.render(request, "password.html", status_code=400, error=c.t(request, _rule_key(exc)))
        if not gate.try_enter():
            return c.render(request, "password.html", status_code=429, error=c.t(request, "login_busy"))
        try:
            changed = await run_in_threadpool(account_admin.change_password, ws.ledger, user.name,
                                              str(form.get("current", "")), password)
        finally:
            gate.leave()
        if not changed:
            return c.render(request, "password.html", status_code=400,
                            error=c.t(request, "current_password_wrong"))
        return RedirectResponse("/leaderboard" if user.role == "manager" else "/", status_code=303)

    @c.page("admin")
    async def accounts_page(request: Request) -> Response:
        rows = await run_in_threadpool(account_admin.accounts_table, ws.ledger)
        done = request.query_params.get("done", "")
        return c.render(request, "accounts.html", rows=rows, error="", created=None,
                        done=c.t(request, f"account_done_{done}") if done in ("disable", "enable", "remove")
                        else "", roles=accounts.ROLES)

    @c.page("admin")
    async def account_act(request: Request) -> Response:
        name, action = request.path_params["name"], request.path_params["action"]
        me = request.state.session.user.name
        try:
            if action in ("disable", "enable"):
                await run_in_threadpool(lambda: account_admin.set_disabled(
                    ws.ledger, name, action == "disable", actor=me, self_name=me))
            elif action == "remove":
                await run_in_threadpool(lambda: account_admin.remove_user(ws.ledger, name, actor=me,
                                                                          self_name=me))
            else:
                return c.error(request, 404, "not_found")
        except AccountRefused as exc:
            rows = await run_in_threadpool(account_admin.accounts_table, ws.ledger)
            status = 404 if exc.key == "account_unknown" else 409
            return c.render(request, "accounts.html", status_code=status, rows=rows,
                            error=c.t(request, exc.key), created=None, done="", roles=accounts.ROLES)
        return RedirectResponse(f"/accounts?done={action}", status_code=303)

    @c.page("admin")
    async def account_add(request: Request) -> Response:
        form = c.form_of(request)
        name = str(form.get("name", "")).strip()
        role = str(form.get("role", ""))
        employee = str(form.get("employee", "")).strip() or None
        password = accounts.new_password()
        error = ""
        if not name or len(name) > accounts.MAX_NAME_CHARS:
            error = "account_bad_name"
        elif role == "manager" and not employee:
            error = "account_manager_needs_employee"
        elif role not in accounts.ROLES:
            error = "forbidden"
        if not error:
            try:
                await run_in_threadpool(lambda: accounts.add_user(ws.ledger, name, role, password,
                                                                  employee_id=employee, one_time=True))
            except ConfigError:
                error = "account_exists"
        rows = await run_in_threadpool(account_admin.accounts_table, ws.ledger)
        if error:
            return c.render(request, "accounts.html", status_code=400, rows=rows, error=c.t(request, error),
                            created=None, done="", roles=accounts.ROLES)
        return c.render(request, "accounts.html", rows=rows, error="", done="", roles=accounts.ROLES,
                        created={"name": name, "password": password})

    return [
        Route("/account/password", set_password, methods=["GET", "POST"]),
        Route("/accounts", accounts_page),
        Route("/accounts/add", account_add, methods=["POST"]),
        Route("/accounts/{name}/{action}", account_act, methods=["POST"]),
    ]
