"""The console's Starlette application: the webhook receiver and the HR pages.

``POST /webhooks/<instance>`` needs no login (the vendor's signature is the credential);
every other path needs a session, and every form post carries the session's CSRF token.
Each route module in :data:`ROUTE_MODULES` has ``routes(console) -> list[BaseRoute]``;
add a page by adding a module to the list.
"""

from __future__ import annotations

import importlib

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from trainbridge.core.errors import ConfigError
from trainbridge.core.runner import Workspace
from trainbridge.web.console import VISIBILITY, Console, WebSettings
from trainbridge.web.i18n import MESSAGES
from trainbridge.web.security import SecurityHeaders

__all__ = ["ROUTE_MODULES", "WebSettings", "create_app"]

#: the modules whose ``routes(console)`` make up the console, in matching order.
ROUTE_MODULES: list[str] = [
    "trainbridge.web.webhook_routes",
    "trainbridge.web.login_routes",
    "trainbridge.web.account_routes",
    "trainbridge.web.proposal_routes",
    "trainbridge.web.page_routes",
    "trainbridge.web.report_routes",
    "trainbridge.web.quote_routes",
]


def create_app(ws: Workspace, settings: WebSettings | None = None) -> Starlette:
    """The console for one workspace (its ledger is migrated, including the ``web`` tables)."""
    settings = settings or WebSettings()
    if settings.leaderboard_visibility is not None and settings.leaderboard_visibility not in VISIBILITY:
        raise ConfigError(f"unknown leaderboard visibility {settings.leaderboard_visibility!r}",
                          hint=f"one of {', '.join(VISIBILITY)}")
    ws.ensure_migrated()
    console = Console(ws, settings)

    async def not_found(request: Request, exc: Exception) -> Response:
        code = exc.status_code if isinstance(exc, HTTPException) else 500
        if code == 400:  # a route names what was wrong by a message key (report_bad_period, ...)
            detail = exc.detail if isinstance(exc, HTTPException) else ""
            return console.error(request, code, detail if detail in MESSAGES else "bad_request")
        return console.error(request, code, "not_found" if code == 404 else "forbidden")

    routes: list[BaseRoute] = []
    for name in ROUTE_MODULES:
        routes.extend(importlib.import_module(name).routes(console))
    routes.append(Mount("/static", StaticFiles(packages=[("trainbridge.web", "static")]), name="static"))
    app = Starlette(routes=routes, exception_handlers={HTTPException: not_found},
                    middleware=[Middleware(SecurityHeaders)])

    app.state.workspace = ws
    app.state.hashing_gate = console.gate
    app.state.login_limiter = console.limiter
    app.state.settings = settings
    app.state.console = console
    return app
