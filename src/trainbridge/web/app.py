"""The console's Starlette application: the webhook receiver and the HR pages.

``POST /webhooks/<instance>`` needs no login (the vendor's signature is the credential);
every other path needs a session, and every form post carries the session's CSRF token.
"""

from __future__ import annotations

import html
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from trainbridge.core.errors import ConfigError, PluginError, TrainbridgeError, WebhookRejected
from trainbridge.core.runner import Workspace, reject_proposals, retry_quarantined
from trainbridge.core.secrets import redact
from trainbridge.web import accounts, approvals
from trainbridge.web.accounts import MAX_NAME_CHARS, MAX_PASSWORD_CHARS, HashingGate, LoginLimiter, Session
from trainbridge.web.i18n import LANGUAGES, pick_language, translate
from trainbridge.web.security import SecurityHeaders, same_secret, same_site_path
from trainbridge.web.views import (
    leaderboard_view,
    overview_view,
    proposals_view,
    refund_quote_view,
    report_html,
)

log = logging.getLogger("trainbridge.web")
SESSION_COOKIE = "tb_session"
#: what a session whose one-time password is spent may still do.
SET_PASSWORD_PATHS = ("/account/password", "/logout")
LOGIN_CSRF_COOKIE = "tb_login_csrf"
LANG_COOKIE = "tb_lang"
#: a random value set at login: the browser counts as its own source in the login limiter.
DEVICE_COOKIE = "tb_device"
QUERY_HEADER = "X-Trainbridge-Query"
#: e-signature callbacks are small JSON or form posts; anything bigger is not one.
MAX_WEBHOOK_BYTES = 1 << 20
VISIBILITY = ("named", "department", "self")


@dataclass
class WebSettings:
    """How the console behaves; ``trainbridge serve`` options fill it."""

    #: "auto" marks the session cookie Secure when the request came over https.
    secure_cookies: str = "auto"
    language: str = "zh"
    #: what a manager (or viewer) sees of other managers: None follows the points plugin's
    #: [jobs.points.leaderboard] table; or "named", "department" (names in their own
    #: department only), "self" (ranks and points of all, their own name only).
    leaderboard_visibility: str | None = None
    #: money proposals above this amount (in their own currency) need two different approvers.
    second_approver_above: Decimal | None = None
    session_hours: int = 12
    login_attempts: int = 5
    login_window_seconds: float = 300.0
    #: password hashes computed at once; a login beyond them is answered 429 at once.
    hashing_slots: int = 2
    today: Callable[[], date] = field(default=date.today)


Handler = Callable[[Request], Awaitable[Response]]


def create_app(ws: Workspace, settings: WebSettings | None = None) -> Starlette:
    """The console for one workspace (its ledger is migrated, including the ``web`` tables)."""
    settings = settings or WebSettings()
    if settings.leaderboard_visibility is not None and settings.leaderboard_visibility not in VISIBILITY:
        raise ConfigError(f"unknown leaderboard visibility {settings.leaderboard_visibility!r}",
                          hint=f"one of {', '.join(VISIBILITY)}")
    ws.ensure_migrated()
    env = Environment(loader=PackageLoader("trainbridge.web", "templates"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    limiter = LoginLimiter(settings.login_attempts, settings.login_window_seconds)
    gate = HashingGate(settings.hashing_slots)

    def language(request: Request) -> str:
        return pick_language(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"),
                             settings.language)

    def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        lang = language(request)
        session: Session | None = getattr(request.state, "session", None)
        body = env.get_template(name).render(
            request=request, lang=lang, t=lambda key: translate(lang, key), session=session,
            user=session.user if session else None, csrf=session.csrf_token if session else "",
            path=request.url.path, **context)
        return HTMLResponse(body, status_code=status_code)

    def secure(request: Request) -> bool:
        if settings.secure_cookies == "always":
            return True
        if settings.secure_cookies == "never":
            return False
        return request.url.scheme == "https"

    def current_session(request: Request) -> Session | None:
        token = request.cookies.get(SESSION_COOKIE)
        return accounts.load_session(ws.ledger, token) if token else None

    def page(*roles: str) -> Callable[[Handler], Handler]:
        """A handler that needs a session (and one of ``roles``, when given); posts need the CSRF token."""
        def wrap(handler: Handler) -> Handler:
            async def endpoint(request: Request) -> Response:
                session = await run_in_threadpool(current_session, request)
                if session is None:
                    if request.method == "GET":
                        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
                    return forbidden(request, "login")
                request.state.session = session
                if session.user.must_set_password and request.url.path not in SET_PASSWORD_PATHS:
                    if request.method == "GET":
                        return RedirectResponse("/account/password", status_code=303)
                    return forbidden(request, "one-time password")
                if request.method == "POST":
                    form = await request.form()
                    if not same_secret(str(form.get("csrf_token", "")), session.csrf_token):
                        return forbidden(request, "csrf")
                    request.state.form = form
                if roles and session.user.role not in roles:
                    return forbidden(request, "role")
                return await handler(request)
            return endpoint
        return wrap

    def forbidden(request: Request, why: str) -> HTMLResponse:
        log.warning("refused %s %s: %s", request.method, request.url.path, why)
        message = translate(language(request), "read_only" if why == "role" and request.method == "POST"
                            else "forbidden")
        return render(request, "error.html", status_code=403, message=message)

    def form_of(request: Request) -> FormData:
        form: FormData = request.state.form
        return form

    # --- login ---------------------------------------------------------------------------

    async def login_form(request: Request, error: str = "", status_code: int = 200) -> Response:
        token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
        response = render(request, "login.html", status_code=status_code, error=error, login_csrf=token,
                          next=request.query_params.get("next", "/"))
        response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                            secure=secure(request), path="/login")
        return response

    async def login(request: Request) -> Response:
        if request.method == "GET":
            return await login_form(request)
        form = await request.form()
        # Before a session exists the token is double-submitted: the cookie and the field must agree.
        cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not cookie or not same_secret(str(form.get("csrf_token", "")), cookie):
            return forbidden(request, "login csrf")
        name = str(form.get("username", "")).strip()
        password = str(form.get("password", ""))
        device = request.cookies.get(DEVICE_COOKIE, "")[:64]
        address = limiter.source(name, request.client.host if request.client else "-", device)
        lang = language(request)
        if not name or len(name) > MAX_NAME_CHARS or len(password) > MAX_PASSWORD_CHARS:
            return await login_form(request, translate(lang, "login_failed"), 400)
        if not gate.try_enter():
            return await login_form(request, translate(lang, "login_busy"), 429)
        try:
            if not limiter.begin(name, address):
                return await login_form(request, translate(lang, "login_limited"), 429)
            user = await run_in_threadpool(accounts.authenticate, ws.ledger, name, password)
        finally:
            gate.leave()
        if user is None:
            return await login_form(request, translate(lang, "login_failed"), 401)
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
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", secure=secure(request),
                            max_age=settings.session_hours * 3600)
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        response.set_cookie(DEVICE_COOKIE, device, httponly=True, samesite="strict", secure=secure(request),
                            path="/login", max_age=365 * 86400)
        return response

    @page()
    async def logout(request: Request) -> Response:
        await run_in_threadpool(accounts.close_session, ws.ledger, request.state.session)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @page()
    async def set_password(request: Request) -> Response:
        lang = language(request)
        if request.method == "GET":
            return render(request, "password.html", error="")
        form = form_of(request)
        password = str(form.get("password", ""))
        if password != str(form.get("repeat", "")):
            return render(request, "password.html", status_code=400,
                          error=translate(lang, "password_mismatch"))
        try:
            accounts.check_password_rules(password)
        except ConfigError as exc:
            return render(request, "password.html", status_code=400, error=exc.message)
        if not gate.try_enter():
            return render(request, "password.html", status_code=429, error=translate(lang, "login_busy"))
        try:
            await run_in_threadpool(accounts.set_password, ws.ledger, request.state.session.user, password)
        finally:
            gate.leave()
        return RedirectResponse("/leaderboard" if request.state.session.user.role == "manager" else "/",
                                status_code=303)

    async def set_language(request: Request) -> Response:
        lang = request.query_params.get("lang", "")
        back = same_site_path(request.headers.get("referer", ""), request.url.netloc)
        response = RedirectResponse(back if lang else "/", status_code=303)
        if lang in LANGUAGES:
            response.set_cookie(LANG_COOKIE, lang, samesite="lax", max_age=365 * 86400)
        return response

    # --- the webhook receiver -----------------------------------------------------------

    async def webhook(request: Request) -> Response:
        from trainbridge.core.webhooks import receive_webhook

        instance = request.path_params["instance"]
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_WEBHOOK_BYTES:
                return Response("callback body too large", status_code=413, media_type="text/plain")
            chunks.append(chunk)
        body = b"".join(chunks)
        headers = dict(request.headers.items())
        # Some vendors (DingTalk) sign query parameters; the connector finds them here.
        headers[QUERY_HEADER] = request.url.query
        try:
            reply = await run_in_threadpool(receive_webhook, ws, instance, headers, body)
        except WebhookRejected:
            return Response("signature rejected", status_code=401, media_type="text/plain")
        except (ConfigError, PluginError):
            return Response("no such webhook receiver", status_code=404, media_type="text/plain")
        except (ValueError, TypeError, KeyError, AttributeError, IndexError, UnicodeError) as exc:
            # A body the connector could not read (a signed `[]`): the sender's mistake, not ours.
            log.warning("callback to %s could not be read: %s", instance, redact(repr(exc))[:200])
            return Response("callback body not understood", status_code=400, media_type="text/plain")
        except TrainbridgeError as exc:
            log.error("callback to %s failed: %s", instance, redact(str(exc)))
            return Response("callback could not be applied", status_code=500, media_type="text/plain")
        return Response(reply.body, status_code=reply.status_code, media_type=reply.content_type)

    # --- pages ---------------------------------------------------------------------------

    @page("admin", "hr", "viewer")
    async def overview(request: Request) -> Response:
        data = await run_in_threadpool(overview_view, ws)
        return render(request, "overview.html", **data)

    @page("admin", "hr", "viewer")
    async def proposals(request: Request) -> Response:
        filters = {k: request.query_params.get(k, "") for k in ("kind", "status", "period", "department")}
        if "status" not in request.query_params:
            filters["status"] = "pending"
        data = await run_in_threadpool(lambda: proposals_view(
            ws, kind=filters["kind"], status=filters["status"], period=filters["period"],
            department=filters["department"]))
        return render(request, "proposals.html", filters=filters, outcome=None, **data)

    @page("admin", "hr")
    async def decide(request: Request) -> Response:
        form = form_of(request)
        ids = [str(v) for v in form.getlist("ids")]
        action = str(form.get("action", ""))
        reason = str(form.get("reason", "")).strip()
        actor = request.state.session.user.name
        lang = language(request)
        if not ids:
            return render(request, "error.html", status_code=400, message=translate(lang, "nothing_selected"))
        if action == "approve":
            outcome = await run_in_threadpool(lambda: approvals.approve(
                ws, ids, actor=actor, reason=reason, second_above=settings.second_approver_above))
        elif action == "reject":
            if not reason:
                return render(request, "error.html", status_code=400,
                              message=translate(lang, "reason_required"))
            outcome = await run_in_threadpool(lambda: reject_proposals(ws, ids, actor=actor, reason=reason))
        else:
            return render(request, "error.html", status_code=400, message=f"unknown action {action!r}")
        filters = {"kind": "", "status": "", "period": "", "department": ""}
        data = await run_in_threadpool(lambda: proposals_view(ws, ids=ids))
        return render(request, "proposals.html", filters=filters, outcome=outcome, **data)

    @page("admin", "hr", "viewer")
    async def agreements(request: Request) -> Response:
        from trainbridge.plugins.agreements import list_agreements

        rows = await run_in_threadpool(list_agreements, ws)
        return render(request, "agreements.html", rows=rows)

    @page("admin", "hr", "viewer")
    async def agreement_signed(request: Request) -> Response:
        from trainbridge.plugins.agreements import list_agreements

        agreement_id = request.path_params["agreement_id"]
        rows = await run_in_threadpool(list_agreements, ws)
        row = next((r for r in rows if r["id"] == agreement_id), None)
        if row is None or not row["signed_document"] or not Path(row["signed_document"]).is_file():
            raise HTTPException(404)
        return FileResponse(row["signed_document"], media_type="application/pdf",
                            filename=f"{agreement_id.replace(':', '_')}-signed.pdf")

    @page("admin", "hr", "viewer")
    async def agreement_evidence(request: Request) -> Response:
        from trainbridge.plugins.agreements import verify_agreement_evidence

        agreement_id = request.path_params["agreement_id"]
        try:
            check = await run_in_threadpool(verify_agreement_evidence, ws, agreement_id)
        except TrainbridgeError as exc:
            return render(request, "error.html", status_code=404, message=redact(str(exc)))
        return render(request, "evidence.html", agreement_id=agreement_id, check=check)

    @page("admin", "hr", "viewer")
    async def refunds(request: Request) -> Response:
        employee = request.query_params.get("employee", "").strip()
        last_day = request.query_params.get("last_day", "").strip()
        data = await run_in_threadpool(refund_quote_view, ws, employee, last_day)
        return render(request, "refunds.html", status_code=400 if data["bad_input"] else 200,
                      employee=employee, last_day=last_day, **data)

    @page("admin", "hr", "viewer", "manager")
    async def leaderboard(request: Request) -> Response:
        user = request.state.session.user
        period = request.query_params.get("period", "").strip()
        department = request.query_params.get("department", "").strip() or None
        visibility = "named" if user.role in accounts.DECIDERS else settings.leaderboard_visibility
        try:
            data = await run_in_threadpool(leaderboard_view, ws, user, period=period, department=department,
                                           visibility=visibility, today=settings.today())
        except ValueError as exc:
            return render(request, "error.html", status_code=400, message=str(exc))
        return render(request, "leaderboard.html", department=department or "", **data)

    @page("admin", "hr", "viewer")
    async def reports(request: Request) -> Response:
        names = sorted(ws.host.reports)
        selected = request.query_params.get("name") or (names[0] if names else "")
        if selected and selected not in ws.host.reports:
            raise HTTPException(404)
        return render(request, "reports.html", reports=[ws.host.reports[n] for n in names], selected=selected)

    @page("admin", "hr", "viewer")
    async def report_frame(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ws.host.reports:
            raise HTTPException(404)
        try:
            text = await run_in_threadpool(report_html, ws, name)
        except Exception as exc:  # one broken report must not take the page down
            log.exception("report %s failed", name)
            text = f"<p>{html.escape(redact(str(exc)))}</p>"
        return HTMLResponse(text)

    @page("admin", "hr", "viewer")
    async def quarantine(request: Request) -> Response:
        show = request.query_params.get("status", "open")

        def load() -> list[dict[str, Any]]:
            with ws.ledger.transaction() as conn:
                return ws.ledger.list_quarantine(conn, status=None if show == "all" else show)

        rows = await run_in_threadpool(load)
        for row in rows:
            row["data_json"] = json.dumps(row["data"], ensure_ascii=False, indent=2, default=str)
            row["raw_json"] = json.dumps(row["raw"], ensure_ascii=False, indent=2, default=str)
        return render(request, "quarantine.html", rows=rows, show=show, error=None)

    @page("admin", "hr")
    async def quarantine_act(request: Request) -> Response:
        qid = int(request.path_params["qid"])
        action = request.path_params["action"]
        actor = request.state.session.user.name
        if action == "retry":
            try:
                await run_in_threadpool(lambda: retry_quarantined(ws, qid, actor=actor))
            except (ValueError, TrainbridgeError) as exc:
                lang = language(request)
                return render(request, "error.html", status_code=422,
                              message=f"{translate(lang, 'retry_failed')}: {redact(str(exc))}")
        elif action == "discard":
            def discard() -> None:
                with ws.ledger.transaction() as conn:
                    if ws.ledger.get_quarantined(conn, qid) is None:
                        raise HTTPException(404)
                    ws.ledger.set_quarantine_status(conn, qid, "discarded")
                    ws.ledger.audit(conn, actor=actor, action="quarantine.discard", subject=str(qid))
            await run_in_threadpool(discard)
        else:
            raise HTTPException(404)
        return RedirectResponse("/quarantine", status_code=303)

    def waiting_tokens() -> dict[str, Any]:
        found = {name: getattr(inst, "handshake_tokens", None)
                 for name, inst in sorted(ws.host.instances.items())}
        return {name: tokens for name, tokens in found.items() if hasattr(tokens, "take")}

    @page("admin")
    async def webhook_tokens(request: Request) -> Response:
        waiting = waiting_tokens()
        if request.method == "GET":
            return render(request, "webhook_tokens.html", waiting={n: len(t) for n, t in waiting.items()},
                          shown=None)
        instance = str(form_of(request).get("instance", ""))
        if instance not in waiting:
            raise HTTPException(404)
        tokens = waiting[instance].take()

        def note() -> None:
            with ws.ledger.transaction() as conn:
                ws.ledger.audit(conn, actor=request.state.session.user.name, action="webhook.tokens_shown",
                                subject=instance, detail={"count": len(tokens)})
        await run_in_threadpool(note)
        return render(request, "webhook_tokens.html", waiting={n: len(t) for n, t in waiting.items()},
                      shown={"instance": instance, "tokens": tokens})

    @page("admin", "hr")
    async def audit(request: Request) -> Response:
        def load() -> list[dict[str, Any]]:
            with ws.ledger.transaction() as conn:
                return ws.ledger.list_audit(conn, limit=500)

        rows = await run_in_threadpool(load)
        for row in rows:
            row["detail_json"] = json.dumps(row["detail"], ensure_ascii=False, default=str)
        return render(request, "audit.html", rows=rows)

    async def not_found(request: Request, exc: Exception) -> Response:
        code = exc.status_code if isinstance(exc, HTTPException) else 500
        return render(request, "error.html", status_code=code,
                      message=translate(language(request), "not_found" if code == 404 else "forbidden"))

    routes: Sequence[Route | Mount] = [
        Route("/webhooks/{instance}", webhook, methods=["POST"]),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/language", set_language, methods=["GET"]),
        Route("/account/password", set_password, methods=["GET", "POST"]),
        Route("/webhook-tokens", webhook_tokens, methods=["GET", "POST"]),
        Route("/", overview),
        Route("/proposals", proposals),
        Route("/proposals/decide", decide, methods=["POST"]),
        Route("/agreements", agreements),
        Route("/agreements/{agreement_id}/signed.pdf", agreement_signed),
        Route("/agreements/{agreement_id}/evidence", agreement_evidence),
        Route("/refunds", refunds),
        Route("/leaderboard", leaderboard),
        Route("/reports", reports),
        Route("/reports/{name}.html", report_frame),
        Route("/quarantine", quarantine),
        Route("/quarantine/{qid:int}/{action}", quarantine_act, methods=["POST"]),
        Route("/audit", audit),
        Mount("/static", StaticFiles(packages=[("trainbridge.web", "static")]), name="static"),
    ]
    app = Starlette(routes=list(routes), exception_handlers={HTTPException: not_found},
                    middleware=[Middleware(SecurityHeaders)])

    app.state.workspace = ws
    app.state.hashing_gate = gate
    app.state.login_limiter = limiter
    app.state.settings = settings
    return app
