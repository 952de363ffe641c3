"""What every console page shares: the settings, the templates, the session check and the language.

A route module (``login_routes``, ``page_routes``, ...) has a ``routes(console)`` function
returning its Starlette routes; :func:`trainbridge.web.app.create_app` collects them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from trainbridge.core.localtime import tenant_today, tenant_zone
from trainbridge.core.runner import Workspace
from trainbridge.web import accounts
from trainbridge.web.accounts import HashingGate, LoginLimiter, Session
from trainbridge.web.i18n import pick_language, translate
from trainbridge.web.local import Local
from trainbridge.web.security import same_secret

log = logging.getLogger("trainbridge.web")
SESSION_COOKIE = "tb_session"
#: what a session whose one-time password is spent may still do.
SET_PASSWORD_PATHS = ("/account/password", "/logout")
LOGIN_CSRF_COOKIE = "tb_login_csrf"
LANG_COOKIE = "tb_lang"
#: a random value set at login: the browser counts as its own source in the login limiter.
DEVICE_COOKIE = "tb_device"
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
    #: the console's "today" (the leaderboard's default quarter); ``Console.today`` reads the
    #: default (date.today) as the tenant's day in its [tenant] timezone.
    today: Callable[[], date] = field(default=date.today)


Handler = Callable[[Request], Awaitable[Response]]


class Console:
    """One workspace's console: what the route modules need to render and guard their pages."""

    def __init__(self, ws: Workspace, settings: WebSettings) -> None:
        self.ws = ws
        self.settings = settings
        self.env = Environment(loader=PackageLoader("trainbridge.web", "templates"),
                               autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
        self.limiter = LoginLimiter(settings.login_attempts, settings.login_window_seconds)
        self.gate = HashingGate(settings.hashing_slots)
        #: extra template globals (filters, helpers) a route module may add.
        self.globals: dict[str, Any] = {}

    def today(self) -> date:
        if self.settings.today is date.today:
            return tenant_today(self.ws.settings)
        return self.settings.today()

    def language(self, request: Request) -> str:
        return pick_language(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"),
                             self.settings.language)

    def loc(self, request: Request) -> Local:
        """The reader's language and the tenant's time zone, for formats."""
        return Local(self.language(request), tenant_zone(self.ws.settings))

    def t(self, request: Request, key: str) -> str:
        return translate(self.language(request), key)

    def render(self, request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        lang = self.language(request)
        session: Session | None = getattr(request.state, "session", None)
        body = self.env.get_template(name).render(
            request=request, lang=lang, t=lambda key: translate(lang, key), session=session,
            user=session.user if session else None, csrf=session.csrf_token if session else "",
            path=request.url.path, loc=self.loc(request), **{**self.globals, **context})
        return HTMLResponse(body, status_code=status_code)

    def secure(self, request: Request) -> bool:
        if self.settings.secure_cookies == "always":
            return True
        if self.settings.secure_cookies == "never":
            return False
        return request.url.scheme == "https"

    def current_session(self, request: Request) -> Session | None:
        token = request.cookies.get(SESSION_COOKIE)
        return accounts.load_session(self.ws.ledger, token) if token else None

    def page(self, *roles: str) -> Callable[[Handler], Handler]:
        """A handler that needs a session (and one of ``roles``, when given); posts need the CSRF token."""
        def wrap(handler: Handler) -> Handler:
            async def endpoint(request: Request) -> Response:
                session = await run_in_threadpool(self.current_session, request)
                if session is None:
                    if request.method == "GET":
                        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
                    return self.forbidden(request, "login")
                request.state.session = session
                if session.user.must_set_password and request.url.path not in SET_PASSWORD_PATHS:
                    if request.method == "GET":
                        return RedirectResponse("/account/password", status_code=303)
                    return self.forbidden(request, "one-time password")
                if request.method == "POST":
                    form = await request.form()
                    if not same_secret(str(form.get("csrf_token", "")), session.csrf_token):
                        return self.forbidden(request, "csrf")
                    request.state.form = form
                if roles and session.user.role not in roles:
                    return self.forbidden(request, "role")
                return await handler(request)
            return endpoint
        return wrap

    def forbidden(self, request: Request, why: str) -> HTMLResponse:
        log.warning("refused %s %s: %s", request.method, request.url.path, why)
        key = "read_only" if why == "role" and request.method == "POST" else "forbidden"
        return self.render(request, "error.html", status_code=403, message=self.t(request, key))

    def error(self, request: Request, status_code: int, key: str, detail: str = "") -> HTMLResponse:
        """An error page saying ``key`` in the reader's language (and ``detail``, already translated)."""
        message = self.t(request, key) + (f": {detail}" if detail else "")
        return self.render(request, "error.html", status_code=status_code, message=message)

    @staticmethod
    def form_of(request: Request) -> FormData:
        form: FormData = request.state.form
        return form
