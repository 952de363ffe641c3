"""What each console page shows, read from the workspace: plain dicts for the templates."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from trainbridge.core.records import Employee, TrainingProgram
from trainbridge.core.runner import Workspace
from trainbridge.web.accounts import User
from trainbridge.web.i18n import translate
from trainbridge.web.local import Local


def overview_view(ws: Workspace) -> dict[str, Any]:
    with ws.ledger.transaction() as conn:
        runs = ws.ledger.list_runs(conn, limit=500)
        open_quarantine = len(ws.ledger.list_quarantine(conn, status="open", limit=10_000))
        pending = ws.ledger.list_proposals(conn, status="pending")
        dead = ws.ledger.outbox(conn, states=("dead", "failed"))
    last: dict[str, dict[str, Any]] = {}
    for run in runs:
        last.setdefault(run["job"], run)
    failures = [r for r in runs if r["status"] in ("failed", "partial")][:10]
    by_kind: dict[str, int] = {}
    for p in pending:
        by_kind[p["kind"]] = by_kind.get(p["kind"], 0) + 1
    return {"last_runs": sorted(last.values(), key=lambda r: r["job"]), "failures": failures,
            "open_quarantine": open_quarantine, "pending_by_kind": sorted(by_kind.items()),
            "pending_total": len(pending), "undelivered": dead}


def _employees(ws: Workspace, conn: Any) -> dict[str, Employee]:
    return {e.employee_id: e for e in ws.ledger.iter_records(conn, "employee") if isinstance(e, Employee)}


def program_titles(ws: Workspace, conn: Any) -> dict[str, str]:
    """Program id -> its title (a proposal for a training is headed by the title, not the code)."""
    return {p.program_id: p.title for p in ws.ledger.iter_records(conn, "program")
            if isinstance(p, TrainingProgram) and p.title}


PAGE_SIZE = 50


def proposals_view(ws: Workspace, loc: Local, *, kind: str = "", status: str = "", period: str = "",
                   department: str = "", ids: list[str] | None = None, page: int = 1,
                   page_size: int = PAGE_SIZE) -> dict[str, Any]:
    """Proposals filtered by kind, status, period (a key in the id like 2026Q3, or the creation month)
    and the subject's department, one page of them, each with its headline and explanation."""
    from trainbridge.web.approvals import first_approvals
    from trainbridge.web.proposal_info import decision_for, explanation, headline

    firsts = first_approvals(ws)
    with ws.ledger.transaction() as conn:
        everything = ws.ledger.list_proposals(conn)
        employees = _employees(ws, conn)
        titles = program_titles(ws, conn)
        kinds = sorted({p["kind"] for p in everything})
        departments = sorted({employees[p["subject"]].department for p in everything
                              if p["subject"] in employees and employees[p["subject"]].department})
        matching = []
        for p in everything:
            if ids is not None and p["id"] not in ids:
                continue
            if (kind and p["kind"] != kind) or (status and p["status"] != status):
                continue
            employee = employees.get(p["subject"] or "")
            if department and (employee is None or employee.department != department):
                continue
            if period and period not in p["id"].split(":") and not str(p["created_at"]).startswith(period):
                continue
            matching.append((p, employee))
        pages = max(1, -(-len(matching) // page_size))
        page = min(max(page, 1), pages)
        rows = []
        for p, employee in matching[(page - 1) * page_size:page * page_size]:
            name = employee.name if employee else ""
            rows.append({**p, "employee_name": name, "department": employee.department if employee else "",
                         "head": headline(p, name, loc, titles),
                         **explanation(p, decision_for(ws, conn, p), loc),
                         "first_approval": firsts.get(p["id"]) if p["status"] == "pending" else None})
    return {"rows": rows, "kinds": kinds, "departments": departments, "total": len(matching),
            "page": page, "pages": pages, "statuses": ["pending", "approved", "delivered", "rejected"]}


def proposal_detail_view(ws: Workspace, loc: Local, proposal_id: str) -> dict[str, Any] | None:
    """One proposal: what approving will do (system, amount, effective date, employee) and its evidence."""
    from trainbridge.plugins.agreements import list_agreements
    from trainbridge.web.approvals import first_approvals
    from trainbridge.web.proposal_info import decision_for, evidence, explanation, headline, target, written

    firsts = first_approvals(ws)
    with ws.ledger.transaction() as conn:
        row = ws.ledger.get_proposal(conn, proposal_id)
        if row is None:
            return None
        employee = _employees(ws, conn).get(row["subject"] or "")
        titles = program_titles(ws, conn)
        decision = decision_for(ws, conn, row)
        targets = target(ws, conn, row, loc)
        found = evidence(ws, conn, row, decision)
    name = employee.name if employee else ""
    agreement_ids = {a["id"] for a in found.get("agreement", [])}
    agreement_ids |= set(((decision or {}).get("payload") or {}).get("agreements") or [])
    agreements = [a for a in list_agreements(ws) if a["id"] in agreement_ids] if agreement_ids else []
    return {"p": {**row, "employee_name": name, "department": employee.department if employee else "",
                  "head": headline(row, name, loc, titles), **explanation(row, decision, loc),
                  "first_approval": firsts.get(row["id"])},
            "record": written(row), "targets": targets, "agreements": agreements,
            "costs": found.get("cost_item", []), "points": found.get("points_entry", []),
            "separations": found.get("separation", [])}


#: a last day outside these years is a typing error (and 9999-12-31 + 1 day does not exist).
LAST_DAY_YEARS = (1900, 2999)


def refund_quote_view(ws: Workspace, employee_id: str, last_day: str,
                      loc: Local | None = None) -> dict[str, Any]:
    """Refund proposals with their explanation, and a quote for one employee when asked."""
    import click

    from trainbridge.plugins.refunds import ledger_quote as _ledger_quote

    with ws.ledger.transaction() as conn:
        proposals = [p for p in ws.ledger.list_proposals(conn)
                     if p["kind"] in ("refund", "refund_credit", "repayment_request")]
        if loc is not None:
            from trainbridge.web.proposal_info import decision_for, explanation, headline

            employees = _employees(ws, conn)
            proposals = [{**p, "head": headline(p, getattr(employees.get(p["subject"] or ""), "name", ""),
                                                loc),
                          **explanation(p, decision_for(ws, conn, p), loc)} for p in proposals]
    quotes: list[Any] = []
    error = ""
    bad_input = False
    if employee_id:
        try:
            day = date.fromisoformat(last_day) if last_day else None
            if day is not None and not LAST_DAY_YEARS[0] <= day.year <= LAST_DAY_YEARS[1]:
                raise ValueError(f"last day {day.isoformat()} is not a working day anyone has "
                                 f"(years {LAST_DAY_YEARS[0]} to {LAST_DAY_YEARS[1]})")
            quotes = _ledger_quote(ws, employee_id, day, None, False, None, None, False, "CNY")
        except click.ClickException as exc:
            # an employee not in the ledger, or not gone: an answer, not a bad request
            key = "quote_needs_departure" if isinstance(exc, click.UsageError) else "quote_unknown_employee"
            error = exc.message if loc is None else translate(loc.lang, key)  # never the CLI's flags
        except (ValueError, OverflowError) as exc:
            error, bad_input = str(exc) if loc is None else translate(loc.lang, "quote_bad_day"), True
    return {"proposals": proposals, "quotes": quotes, "error": error, "bad_input": bad_input}


def points_visibility(ws: Workspace) -> Any | None:
    """The points plugin's ``[jobs.points.leaderboard]`` rule, when the installed points plugin has one."""
    try:
        from trainbridge.plugins.points import PointsConfig
        from trainbridge.rules.leaderboard import visible_rows  # noqa: F401
    except ImportError:
        return None
    config = ws.settings.job_config("points", PointsConfig) or PointsConfig()
    return getattr(config, "leaderboard", None)


def leaderboard_view(ws: Workspace, user: User, *, period: str, department: str | None,
                     visibility: str | None, today: date) -> dict[str, Any]:
    """The standings as ``user`` may see them.

    ``visibility`` "named" shows everyone (HR); "department" or "self" is the console's own
    rule; None follows the points plugin's ``[jobs.points.leaderboard]`` configuration, or
    "self" where the plugin has none. Without a period: this quarter, or the last one while
    this one has no points yet.
    """
    from trainbridge.plugins.points_leaderboard import leaderboard
    from trainbridge.rules.points import period_bounds, period_key

    if period:
        rows = leaderboard(ws, period=period, today=today, department=department)
    else:
        period = period_key(today, "quarter")
        rows = leaderboard(ws, period=period, today=today, department=department)
        if not any(r.points for r in rows):
            first, _ = period_bounds(period, today)
            period = period_key(first - timedelta(days=1), "quarter")
            rows = leaderboard(ws, period=period, today=today, department=department)
    own_department = next((r.department for r in rows if r.employee_id == user.employee_id), None)
    configured = points_visibility(ws) if visibility is None else None
    if configured is not None:
        from trainbridge.rules.leaderboard import visible_rows

        if own_department is None and user.employee_id:
            with ws.ledger.transaction() as conn:
                me = _employees(ws, conn).get(user.employee_id)
            own_department = me.department if me else ""
        visible, note = visible_rows(rows, user.employee_id or "", own_department or "", configured)
        return {"period": period, "note": note, "rows": [
            {"rank": r.rank, "points": r.points, "named": bool(r.name or r.employee_id),
             "employee_id": r.employee_id, "name": r.name, "department": r.department, "me": r.me}
            for r in visible]}
    visibility = visibility or "self"
    shown = []
    for r in rows:
        named = (visibility == "named" or r.employee_id == user.employee_id
                 or (visibility == "department" and own_department is not None
                     and r.department == own_department))
        shown.append({"rank": r.rank, "points": r.points, "named": named,
                      "employee_id": r.employee_id if named else "", "name": r.name if named else "",
                      "department": r.department if named or visibility != "self" else "",
                      "me": r.employee_id == user.employee_id})
    return {"period": period, "note": "" if visibility == "named" else visibility, "rows": shown}


def report_html(ws: Workspace, name: str) -> str:
    from trainbridge.core.reports import to_html

    return to_html(ws.host.reports[name].build(ws))
