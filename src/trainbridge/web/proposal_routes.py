"""The proposals HR decides: the list with its filters and pages, one proposal's detail
(what approving will do, and its evidence), approving and rejecting one, many or all on a page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from trainbridge.core.manager import proposal_kinds
from trainbridge.core.runner import reject_proposals
from trainbridge.web import approvals
from trainbridge.web.console import Console
from trainbridge.web.local import Local
from trainbridge.web.page_routes import valid_period
from trainbridge.web.views import proposal_detail_view, proposals_view

FILTERS = ("kind", "status", "period", "department")


def outcome_words(what: str, loc: Local) -> str:
    """An approval's or rejection's outcome (the runner's English) in the reader's language."""
    known = (
        ("approved and delivered", "已批准并送达", "approved and delivered"),
        ("approved; delivery failed", "已批准，但送达失败（将自动重试）",
         "approved; delivery failed (it is retried)"),
        ("approved; delivery waits", "已批准，将在正在运行的同步结束后送达",
         "approved; delivered after the running sync"),
        ("approved", "已批准", "approved"),
        ("rejected", "已驳回", "rejected"),
        ("first approval recorded", "已记录第一审批，等待第二位审批人",
         "first approval recorded; waits for a second approver"),
        ("already approved by", "您已审批过，等待另一位审批人",
         "you approved it already; waits for a second approver"),
        ("not pending", "不是待审批状态，未作更改", "not pending: nothing changed"),
        ("unknown", "找不到该提案", "no such proposal"),
        ("not found", "找不到该提案", "no such proposal"),
    )
    for prefix, zh, en in known:
        if what.startswith(prefix):
            return loc.text(zh, en)
    return what


def routes(c: Console) -> list[BaseRoute]:
    ws, settings = c.ws, c.settings

    def filters_of(source: Any, default_status: str = "pending") -> dict[str, str]:
        filters = {k: str(source.get(k, "") or "") for k in FILTERS}
        if "status" not in source:
            filters["status"] = default_status
        return filters

    def page_of(source: Any) -> int:
        try:
            return max(1, int(str(source.get("page", "1"))))
        except ValueError:
            return 1

    async def show(request: Request, filters: dict[str, str], page: int,
                   flash: list[dict[str, str]] | None = None, status_code: int = 200) -> Response:
        loc = c.loc(request)
        data = await run_in_threadpool(lambda: proposals_view(
            ws, loc, kind=filters["kind"], status=filters["status"], period=filters["period"],
            department=filters["department"], page=page))
        error = filter_error(request, filters, data["kinds"])
        query = urlencode({k: v for k, v in filters.items()})
        return c.render(request, "proposals.html", status_code=400 if error and not flash else status_code,
                        filters=filters, flash=flash, query=query, error=error, **data)

    def filter_error(request: Request, filters: dict[str, str], kinds: list[str]) -> str:
        """What is wrong with the typed filters, in the reader's words (a period 2026Q9, a kind
        no job makes): said on the page rather than silently matching nothing."""
        period = filters["period"]
        if period and (period == "last-12-months" or not valid_period(period, c.today())):
            return f"{c.t(request, 'report_bad_period')}: {period}"
        kind = filters["kind"]
        if kind and kind not in kinds and kind not in proposal_kinds(ws.host.jobs):
            return f"{c.t(request, 'invalid_kind')}: {kind}"
        return ""

    @c.page("admin", "hr", "viewer")
    async def proposals(request: Request) -> Response:
        return await show(request, filters_of(request.query_params), page_of(request.query_params))

    @c.page("admin", "hr", "viewer")
    async def proposal_detail(request: Request) -> Response:
        loc = c.loc(request)
        data = await run_in_threadpool(proposal_detail_view, ws, loc, request.path_params["proposal_id"])
        if data is None:
            raise HTTPException(404)
        return c.render(request, "proposal.html", **data)

    @c.page("admin", "hr")
    async def decide(request: Request) -> Response:
        form = c.form_of(request)
        filters = filters_of(form)
        page = page_of(form)
        action = str(form.get("action", ""))
        ids = [str(v) for v in form.getlist("ids")]
        if action in ("approve_page", "reject_page"):  # the "all on this page" buttons
            ids = [str(v) for v in form.getlist("page_ids")]
            action = action.removesuffix("_page")
        reason = str(form.get("reason", "")).strip()
        actor = request.state.session.user.name
        loc = c.loc(request)
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
        labels = await run_in_threadpool(lambda: proposals_view(ws, loc, ids=ids, page_size=len(ids) or 1))
        heads = {r["id"]: r["head"] for r in labels["rows"]}
        flash = [{"id": pid, "what": outcome_words(what, loc), "raw": what,
                  "label": " · ".join(x for x in (heads.get(pid, {}).get("name", ""),
                                                   heads.get(pid, {}).get("kind", ""),
                                                   heads.get(pid, {}).get("amount", "")) if x) or pid}
                 for pid, what in outcome.items()]
        # the same filtered list again, with what was done on top
        return await show(request, filters, page, flash)

    return [
        Route("/proposals", proposals),
        Route("/proposals/decide", decide, methods=["POST"]),
        Route("/proposals/{proposal_id:path}", proposal_detail),
    ]
