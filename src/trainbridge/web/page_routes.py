"""The pages HR reads: the overview, agreements and their evidence, refunds, the leaderboard,
quarantined records and the audit log."""

from __future__ import annotations

import json
import logging
import re
from datetime import date
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from trainbridge.core.errors import TrainbridgeError
from trainbridge.core.runner import retry_quarantined
from trainbridge.core.secrets import redact
from trainbridge.rules.leaderboard import period_bounds
from trainbridge.web import accounts
from trainbridge.web.console import Console
from trainbridge.web.explain import render_items
from trainbridge.web.local import Local
from trainbridge.web.views import leaderboard_view, overview_view, refund_quote_view

log = logging.getLogger("trainbridge.web")


def valid_period(period: str, today: date) -> bool:
    """``period`` is one the leaderboard and reports understand (2026Q3, 2026, 2026-11, last-12-months)."""
    try:
        period_bounds(period, today)
    except ValueError:
        return False
    return True

#: what an evidence check found, by the reason's first words (the server's paths are never shown).
EVIDENCE_RESULTS = {
    "not signed": ("协议尚未签署，没有已签署文件的摘要",
                   "The agreement is not signed: there is no signed document"),
    "missing file": ("服务器上找不到已签署文件", "The signed file is missing on the server"),
    "tampered file": ("文件已被改动：摘要与签署时记录的不一致",
                      "The file was changed: its digest differs from the one signed"),
    "no evidence": ("没有该文件的时间戳凭证", "No timestamp receipt for this file"),
    "wrong token": ("时间戳凭证与文件不符", "The timestamp token does not match the file"),
}


def evidence_words(valid: bool, reason: str, loc: Local) -> dict[str, str]:
    """The check's result as a sentence, the digest, and who stamped it when."""
    digest = re.search(r"SHA-256 ([0-9a-f]{64})", reason)
    stamped = re.search(r"timestamped (\S+) by (.+?)(?:, serial (\d+))?$", reason)
    # the issuer is the authority's own name (its certificate's), data like a person's name
    issuer, when = (stamped[2], loc.when(stamped[1])) if stamped else ("", "")
    if valid:
        result = loc.text("文件摘要与签署时一致，时间戳有效",
                          "The file matches the signed digest; the timestamp is valid")
    else:
        key = next((k for k in EVIDENCE_RESULTS if reason.startswith(k)), "")
        result = loc.text(*EVIDENCE_RESULTS[key]) if key else loc.text("校验未通过", "The check failed")
    return {"result": result, "digest": digest[1] if digest else "", "stamped": when, "issuer": issuer}


def routes(c: Console) -> list[BaseRoute]:
    ws, settings = c.ws, c.settings

    @c.page("admin", "hr", "viewer")
    async def overview(request: Request) -> Response:
        data = await run_in_threadpool(overview_view, ws)
        return c.render(request, "overview.html", **data)

    @c.page("admin", "hr", "viewer")
    async def agreements(request: Request) -> Response:
        from trainbridge.plugins.agreements import list_agreements

        rows = await run_in_threadpool(list_agreements, ws)
        types = {name: str(table.get("type", "")) for name, table in ws.settings.connectors.items()}
        return c.render(request, "agreements.html", rows=rows, tsa_types=types)

    @c.page("admin", "hr", "viewer")
    async def agreement_signed(request: Request) -> Response:
        from trainbridge.plugins.agreements import list_agreements

        agreement_id = request.path_params["agreement_id"]
        rows = await run_in_threadpool(list_agreements, ws)
        row = next((r for r in rows if r["id"] == agreement_id), None)
        if row is None or not row["signed_document"] or not Path(row["signed_document"]).is_file():
            raise HTTPException(404)
        return FileResponse(row["signed_document"], media_type="application/pdf",
                            filename=f"{agreement_id.replace(':', '_')}-signed.pdf")

    @c.page("admin", "hr", "viewer")
    async def agreement_evidence(request: Request) -> Response:
        from trainbridge.plugins.agreements import list_agreements, verify_agreement_evidence

        agreement_id = request.path_params["agreement_id"]
        try:
            check = await run_in_threadpool(verify_agreement_evidence, ws, agreement_id)
        except TrainbridgeError as exc:
            log.info("evidence check of %s: %s", agreement_id, redact(str(exc)))
            return c.error(request, 404, "not_found")
        agreements = await run_in_threadpool(list_agreements, ws)
        agreement = next((a for a in agreements if a["id"] == agreement_id), {})
        words: dict[str, Any] = evidence_words(check.valid, check.reason, c.loc(request))
        return c.render(request, "evidence.html", agreement_id=agreement_id, agreement=agreement, check=check,
                        **words)

    @c.page("admin", "hr", "viewer")
    async def refunds(request: Request) -> Response:
        employee = request.query_params.get("employee", "").strip()
        last_day = request.query_params.get("last_day", "").strip()
        loc = c.loc(request)
        data = await run_in_threadpool(refund_quote_view, ws, employee, last_day, loc)

        def explain(quote: Any) -> list[dict[str, str]]:
            return render_items([item.as_json() for item in getattr(quote, "items", ())], loc)

        return c.render(request, "refunds.html", status_code=400 if data["bad_input"] else 200,
                        employee=employee, last_day=last_day, explain=explain, **data)

    @c.page("admin", "hr", "viewer", "manager")
    async def leaderboard(request: Request) -> Response:
        user = request.state.session.user
        period = request.query_params.get("period", "").strip()
        department = request.query_params.get("department", "").strip() or None
        visibility = "named" if user.role in accounts.DECIDERS else settings.leaderboard_visibility
        if period and not valid_period(period, c.today()):
            return c.error(request, 400, "invalid_period", period)
        try:
            data = await run_in_threadpool(leaderboard_view, ws, user, period=period, department=department,
                                           visibility=visibility, today=c.today())
        except ValueError as exc:
            return c.render(request, "error.html", status_code=400, message=str(exc))
        return c.render(request, "leaderboard.html", department=department or "", **data)

    @c.page("admin", "hr", "viewer")
    async def quarantine(request: Request) -> Response:
        show = request.query_params.get("status", "open")

        def load() -> list[dict[str, Any]]:
            with ws.ledger.transaction() as conn:
                return ws.ledger.list_quarantine(conn, status=None if show == "all" else show)

        rows = await run_in_threadpool(load)
        loc = c.loc(request)
        for row in rows:
            row["sentences"] = loc.quarantine_reason(row["reason"])
            row["data_json"] = json.dumps(row["data"], ensure_ascii=False, indent=2, default=str)
            row["raw_json"] = json.dumps(row["raw"], ensure_ascii=False, indent=2, default=str)
        return c.render(request, "quarantine.html", rows=rows, show=show, error=None)

    @c.page("admin", "hr")
    async def quarantine_act(request: Request) -> Response:
        qid = int(request.path_params["qid"])
        action = request.path_params["action"]
        actor = request.state.session.user.name
        if action == "retry":
            try:
                await run_in_threadpool(lambda: retry_quarantined(ws, qid, actor=actor))
            except (ValueError, TrainbridgeError) as exc:
                return c.error(request, 422, "retry_failed", redact(str(exc)))
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

    @c.page("admin", "hr")
    async def audit(request: Request) -> Response:
        def load() -> list[dict[str, Any]]:
            with ws.ledger.transaction() as conn:
                return ws.ledger.list_audit(conn, limit=500)

        rows = await run_in_threadpool(load)
        return c.render(request, "audit.html", rows=rows)

    return [
        Route("/", overview),
        Route("/agreements", agreements),
        Route("/agreements/{agreement_id}/signed.pdf", agreement_signed),
        Route("/agreements/{agreement_id}/evidence", agreement_evidence),
        Route("/refunds", refunds),
        Route("/leaderboard", leaderboard),
        Route("/quarantine", quarantine),
        Route("/quarantine/{qid:int}/{action}", quarantine_act, methods=["POST"]),
        Route("/audit", audit),
    ]
