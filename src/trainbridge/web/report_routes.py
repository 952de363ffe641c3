"""The reports page: each registered report for a period and a department, in the reader's language,
with its charts, and as CSV or Excel downloads of the same tables.

A report takes the selectors its builder names (``period``, ``department``) and its
``click.Choice`` options (``--by``, ``--status``); the others keep their defaults.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import quote, urlencode

import click
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from trainbridge.core.records import Employee
from trainbridge.core.reports import Chart, Report, ReportResult, svg_bars, to_html
from trainbridge.core.runner import Workspace
from trainbridge.core.secrets import redact
from trainbridge.rules.leaderboard import period_bounds
from trainbridge.rules.points import period_key
from trainbridge.web.console import Console
from trainbridge.web.local import Local
from trainbridge.web.report_export import to_csv_bytes, to_xlsx_bytes
from trainbridge.web.report_format import display, excel_formats
from trainbridge.web.report_text import CODE, column, localize, note_html, report_title, titles_of, word

log = logging.getLogger("trainbridge.web")
#: reports whose period defaults to the latest one with data (the others: every period).
LATEST_BY_DEFAULT = frozenset({"points"})
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class Selection:
    """What the reader chose for one report, checked; ``error`` says what was not understood."""

    report: Report
    kwargs: dict[str, Any] = field(default_factory=dict)
    shown: dict[str, str] = field(default_factory=dict)
    choices: dict[str, list[str]] = field(default_factory=dict)
    takes_period: bool = False
    takes_department: bool = False
    error: str = ""


def select(report: Report, query: Mapping[str, str], today: date) -> Selection:
    """The builder's keyword arguments from the query (only what it takes), and ``today``."""
    takes = inspect.signature(report.build).parameters
    sel = Selection(report, takes_period="period" in takes, takes_department="department" in takes)
    if "today" in takes:
        sel.kwargs["today"] = today
    period = query.get("period", "").strip()
    if sel.takes_period and period:
        try:
            period_bounds(period, today)
        except ValueError:
            sel.error = "report_bad_period"
        else:
            sel.kwargs["period"] = sel.shown["period"] = period
    department = query.get("department", "").strip()
    if sel.takes_department and department:
        sel.kwargs["department"] = sel.shown["department"] = department
    for option in report.options:
        if isinstance(option, click.Option) and isinstance(option.type, click.Choice) and option.name:
            sel.choices[option.name] = [str(c) for c in option.type.choices]
            chosen = query.get(option.name, "").strip()
            if chosen and chosen not in sel.choices[option.name]:
                sel.error = "report_unknown_choice"
            elif chosen:
                sel.kwargs[option.name] = sel.shown[option.name] = chosen
    return sel


def period_options(today: date) -> dict[str, list[str]]:
    """The last eight quarters, three years and twelve months, newest first."""
    quarters, months = [], []
    day = today
    for _ in range(8):
        quarters.append(period_key(day, "quarter"))
        first, _last = period_bounds(quarters[-1], today)
        day = date.fromordinal(first.toordinal() - 1)
    day = today
    for _ in range(12):
        months.append(period_key(day, "month"))
        day = date.fromordinal(day.replace(day=1).toordinal() - 1)
    return {"report_quarters": quarters, "report_years": [str(today.year - i) for i in range(3)],
            "report_months": months}


def departments(ws: Workspace) -> list[str]:
    with ws.ledger.transaction() as conn:
        return sorted({e.department for e in ws.ledger.iter_records(conn, "employee")
                       if isinstance(e, Employee) and e.department})


def build_both(ws: Workspace, sel: Selection, lang: str) -> tuple[ReportResult, ReportResult]:
    """The builder's result (its column names say what each column holds) and the same in ``lang``."""
    raw = sel.report.build(ws, **sel.kwargs)
    return raw, localize(raw, lang, titles_of(ws.settings.jobs))


def build(ws: Workspace, sel: Selection, lang: str) -> ReportResult:
    return build_both(ws, sel, lang)[1]


def build_shown(ws: Workspace, sel: Selection, loc: Local) -> ReportResult:
    """The report for a page: in the reader's words, money, percentages and dates in local formats."""
    raw, shown = build_both(ws, sel, loc.lang)
    return display(raw, shown, loc)


def file_name(sel: Selection, ext: str) -> str:
    parts = [sel.report.name, *[v for k, v in sel.shown.items() if k != "department"]]
    if "department" in sel.shown:
        parts.append(sel.shown["department"])
    return "-".join(parts) + f".{ext}"


def download(content: bytes, media_type: str, name: str) -> Response:
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    return Response(content, media_type=media_type, headers={"Content-Disposition": disposition})


def custom_period(sel: Selection, today: date) -> str:
    """The chosen period when the selector does not list it (``2024Q1`` typed into the address)."""
    chosen = sel.shown.get("period", "")
    listed = {p for values in period_options(today).values() for p in values}
    return chosen if chosen and chosen not in listed else ""


def chart_svg(chart: Chart) -> Markup:
    return Markup(svg_bars(chart))  # svg_bars escapes every text it writes


def routes(c: Console) -> list[BaseRoute]:
    ws = c.ws

    def selection(request: Request, name: str) -> Selection:
        if name not in ws.host.reports:
            raise HTTPException(404)
        return select(ws.host.reports[name], request.query_params, c.today())

    @c.page("admin", "hr", "viewer")
    async def reports(request: Request) -> Response:
        lang = c.language(request)
        names = sorted(ws.host.reports)
        selected = request.query_params.get("name") or (names[0] if names else "")
        if selected and selected not in ws.host.reports:
            raise HTTPException(404)
        tabs = [(n, report_title(n, ws.host.reports[n].title, lang)) for n in names]
        if not selected:
            return c.render(request, "reports.html", tabs=tabs, selected="", sel=None, result=None, error="")
        sel = selection(request, selected)
        result, error, status = None, "", 200
        if sel.error:
            error, status = c.t(request, sel.error), 400
        else:
            try:
                result = await run_in_threadpool(build_shown, ws, sel, c.loc(request))
            except Exception as exc:  # one broken report must not take the page down
                log.exception("report %s failed", selected)
                error = f"{c.t(request, 'report_failed')}: {redact(str(exc))}"
        query = urlencode(sel.shown)
        depts = await run_in_threadpool(departments, ws) if sel.takes_department else []
        return c.render(request, "reports.html", status_code=status, tabs=tabs, selected=selected, sel=sel,
                        result=result, error=error, query=query, periods=period_options(c.today()),
                        latest_default=selected in LATEST_BY_DEFAULT, departments=depts,
                        custom_period=custom_period(sel, c.today()),
                        chart_svg=chart_svg, note_html=note_html, column=lambda name: column(name, lang),
                        word=lambda text: word(text, lang, titles_of(ws.settings.jobs)))

    async def built(request: Request) -> tuple[Selection, ReportResult, ReportResult]:
        """The selection, the builder's result and the same in the reader's words (the downloads')."""
        sel = selection(request, request.path_params["name"])
        if sel.error:
            raise HTTPException(400, detail=sel.error)
        raw, shown = await run_in_threadpool(build_both, ws, sel, c.language(request))
        return sel, raw, shown

    @c.page("admin", "hr", "viewer")
    async def report_alone(request: Request) -> Response:
        try:
            _, raw, shown = await built(request)
            result = display(raw, shown, c.loc(request))
        except HTTPException:
            raise
        except Exception as exc:  # one broken report must not take the page down
            log.exception("report %s failed", request.path_params["name"])
            return c.error(request, 500, "report_failed", redact(str(exc)))
        lang = c.language(request)
        page = to_html(result).replace('<html lang="zh">', f'<html lang="{lang}">')
        return HTMLResponse(CODE.sub(r"<code>\1</code>", page))  # to_html escaped the text already

    @c.page("admin", "hr", "viewer")
    async def report_csv(request: Request) -> Response:
        sel, _, result = await built(request)
        return download(to_csv_bytes(result), "text/csv; charset=utf-8", file_name(sel, "csv"))

    @c.page("admin", "hr", "viewer")
    async def report_xlsx(request: Request) -> Response:
        sel, raw, result = await built(request)  # numbers stay numbers, money with its number format
        content = await run_in_threadpool(to_xlsx_bytes, result, excel_formats(raw))
        return download(content, XLSX, file_name(sel, "xlsx"))

    return [
        Route("/reports", reports),
        Route("/reports/{name}.html", report_alone),
        Route("/reports/{name}.csv", report_csv),
        Route("/reports/{name}.xlsx", report_xlsx),
    ]
