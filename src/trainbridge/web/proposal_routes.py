"""The proposals HR decides: the list with its filters, approving and rejecting."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from trainbridge.core.runner import reject_proposals
from trainbridge.web import approvals
from trainbridge.web.console import Console
from trainbridge.web.views import proposals_view


def routes(c: Console) -> list[BaseRoute]:
    ws, settings = c.ws, c.settings

    @c.page("admin", "hr", "viewer")
    async def proposals(request: Request) -> Response:
        filters = {k: request.query_params.get(k, "") for k in ("kind", "status", "period", "department")}
        if "status" not in request.query_params:
            filters["status"] = "pending"
        data = await run_in_threadpool(lambda: proposals_view(
            ws, kind=filters["kind"], status=filters["status"], period=filters["period"],
            department=filters["department"]))
        return c.render(request, "proposals.html", filters=filters, outcome=None, **data)

    @c.page("admin", "hr")
    async def decide(request: Request) -> Response:
        form = c.form_of(request)
        ids = [str(v) for v in form.getlist("ids")]
        action = str(form.get("action", ""))
        reason = str(form.get("reason", "")).strip()
        actor = request.state.session.user.name
        if not ids:
            return c.error(request, 400, "nothing_selected")
        if action == "approve":
            outcome = await run_in_threadpool(lambda: approvals.approve(
                ws, ids, actor=actor, reason=reason, second_above=settings.second_approver_above))
        elif action == "reject":
            if not reason:
                return c.error(request, 400, "reason_required")
            outcome = await run_in_threadpool(lambda: reject_proposals(ws, ids, actor=actor, reason=reason))
        else:
            return c.error(request, 400, "unknown_action")
        filters = {"kind": "", "status": "", "period": "", "department": ""}
        data = await run_in_threadpool(lambda: proposals_view(ws, ids=ids))
        return c.render(request, "proposals.html", filters=filters, outcome=outcome, **data)

    return [
        Route("/proposals", proposals),
        Route("/proposals/decide", decide, methods=["POST"]),
    ]
