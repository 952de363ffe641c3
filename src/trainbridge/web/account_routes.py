"""A user's own account: choosing a password (the one-time password's first login ends here)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from trainbridge.core.errors import ConfigError
from trainbridge.web import accounts
from trainbridge.web.console import Console


def routes(c: Console) -> list[BaseRoute]:
    ws, gate = c.ws, c.gate

    @c.page()
    async def set_password(request: Request) -> Response:
        if request.method == "GET":
            return c.render(request, "password.html", error="")
        form = c.form_of(request)
        password = str(form.get("password", ""))
        if password != str(form.get("repeat", "")):
            return c.render(request, "password.html", status_code=400,
                            error=c.t(request, "password_mismatch"))
        try:
            accounts.check_password_rules(password)
        except ConfigError as exc:
            return c.render(request, "password.html", status_code=400, error=exc.message)
        if not gate.try_enter():
            return c.render(request, "password.html", status_code=429, error=c.t(request, "login_busy"))
        try:
            await run_in_threadpool(accounts.set_password, ws.ledger, request.state.session.user, password)
        finally:
            gate.leave()
        return RedirectResponse("/leaderboard" if request.state.session.user.role == "manager" else "/",
                                status_code=303)

    return [Route("/account/password", set_password, methods=["GET", "POST"])]
