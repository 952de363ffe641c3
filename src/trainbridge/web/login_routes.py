"""Logging in and out, and choosing the language."""

from __future__ import annotations

import secrets
from datetime import timedelta

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from trainbridge.web import account_admin, accounts
from trainbridge.web.accounts import MAX_NAME_CHARS, MAX_PASSWORD_CHARS
from trainbridge.web.console import (
    DEVICE_COOKIE,
    LANG_COOKIE,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Console,
)
from trainbridge.web.i18n import LANGUAGES
from trainbridge.web.security import same_secret, same_site_path


def routes(c: Console) -> list[BaseRoute]:
    ws, settings, limiter, gate = c.ws, c.settings, c.limiter, c.gate

    async def login_form(request: Request, error: str = "", status_code: int = 200) -> Response:
        token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
        response = c.render(request, "login.html", status_code=status_code, error=error, login_csrf=token,
                            next=request.query_params.get("next", "/"))
        response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                            secure=c.secure(request), path="/login")
        return response

    async def login(request: Request) -> Response:
        if request.method == "GET":
            return await login_form(request)
        form = await request.form()
        # Before a session exists the token is double-submitted: the cookie and the field must agree.
        cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not cookie or not same_secret(str(form.get("csrf_token", "")), cookie):
            return c.forbidden(request, "login csrf")
        name = str(form.get("username", "")).strip()
        password = str(form.get("password", ""))
        device = request.cookies.get(DEVICE_COOKIE, "")[:64]
        address = limiter.source(name, request.client.host if request.client else "-", device)
        if not name or len(name) > MAX_NAME_CHARS or len(password) > MAX_PASSWORD_CHARS:
            return await login_form(request, c.t(request, "login_failed"), 400)
        if not gate.try_enter():
            return await login_form(request, c.t(request, "login_busy"), 429)
        try:
            if not limiter.begin(name, address):
                return await login_form(request, c.t(request, "login_limited"), 429)
            user = await run_in_threadpool(accounts.authenticate, ws.ledger, name, password)
        finally:
            gate.leave()
        if user is None:
            await run_in_threadpool(account_admin.audit_failed_login, ws.ledger, name,
                                    request.client.host if request.client else "-")
            return await login_form(request, c.t(request, "login_failed"), 401)
        limiter.succeeded(name, address)
        device = device or secrets.token_urlsafe(24)
        limiter.trust(name, device)
        token, _ = await run_in_threadpool(accounts.open_session, ws.ledger, user,
                                           lifetime=timedelta(hours=settings.session_hours))
        target = str(form.get("next", "/"))
        if not target.startswith("/") or target.startswith("//") or "\\" in target:
            target = "/"
        if user.role == "manager":
            target = "/leaderboard"
        if user.must_set_password:
            target = "/account/password"
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", secure=c.secure(request),
                            max_age=settings.session_hours * 3600)
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        response.set_cookie(DEVICE_COOKIE, device, httponly=True, samesite="strict", secure=c.secure(request),
                            path="/login", max_age=365 * 86400)
        return response

    @c.page()
    async def logout(request: Request) -> Response:
        await run_in_threadpool(accounts.close_session, ws.ledger, request.state.session)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    async def set_language(request: Request) -> Response:
        lang = request.query_params.get("lang", "")
        back = same_site_path(request.headers.get("referer", ""), request.url.netloc)
        response = RedirectResponse(back if lang else "/", status_code=303)
        if lang in LANGUAGES:
            response.set_cookie(LANG_COOKIE, lang, samesite="lax", max_age=365 * 86400)
        return response

    return [
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/language", set_language, methods=["GET"]),
    ]
