"""The reports page: every registered report's html output in a sandboxed frame."""

from __future__ import annotations

import html
import logging

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from trainbridge.core.secrets import redact
from trainbridge.web.console import Console
from trainbridge.web.views import report_html

log = logging.getLogger("trainbridge.web")


def routes(c: Console) -> list[BaseRoute]:
    ws = c.ws

    @c.page("admin", "hr", "viewer")
    async def reports(request: Request) -> Response:
        names = sorted(ws.host.reports)
        selected = request.query_params.get("name") or (names[0] if names else "")
        if selected and selected not in ws.host.reports:
            raise HTTPException(404)
        return c.render(request, "reports.html", reports=[ws.host.reports[n] for n in names],
                        selected=selected)

    @c.page("admin", "hr", "viewer")
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

    return [
        Route("/reports", reports),
        Route("/reports/{name}.html", report_frame),
    ]
