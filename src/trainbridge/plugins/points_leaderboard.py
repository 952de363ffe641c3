"""The leaderboard (S2): managers ranked by points, and what one viewer may see of it.

HR's named view and the configured visibility (``[jobs.points.leaderboard]``) for a viewer;
the ranking and visibility rules themselves are in :mod:`trainbridge.rules.leaderboard`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from trainbridge.core.errors import TrainbridgeError
from trainbridge.core.records import Employee, PointsEntry
from trainbridge.plugins.points import PointsConfig, PointsJob, _typed, superseded_ids
from trainbridge.rules.leaderboard import LeaderboardVisibility, Row, Standing, named_rows, rank, visible_rows
from trainbridge.rules.points import period_bounds, totals


class NotVisible(TrainbridgeError):
    """The leaderboard's visibility does not let this viewer see what was asked."""

    exit_code = 2


def leaderboard(ws: Any, *, period: str, today: date, department: str | None = None) -> list[Standing]:
    """Managers ranked by points in ``period`` (ties share a rank), optionally one department: HR's view."""
    first, last = period_bounds(period, today)
    with ws.ledger.transaction() as conn:
        entries = _typed(ws.ledger.iter_records(conn, "points_entry"), PointsEntry)
        employees = {e.employee_id: e for e in _typed(ws.ledger.iter_records(conn, "employee"), Employee)}
        superseded = superseded_ids(ws.ledger, conn)
    scores = totals(entries, first, last, superseded)
    for employee in employees.values():
        if employee.is_manager:
            scores.setdefault(employee.employee_id, 0)
    people = {k: (e.name, e.department) for k, e in employees.items()}
    if department:
        scores = {k: v for k, v in scores.items() if people.get(k, ("", ""))[1] == department}
    return rank(scores, people)


@dataclass
class LeaderboardView:
    """The leaderboard as one viewer may see it (``viewer`` None: HR's named view)."""

    period: str
    visibility: str
    scope: str
    viewer: str | None
    rows: list[Row]
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"period": self.period, "visibility": self.visibility, "scope": self.scope,
                "viewer": self.viewer, "note": self.note, "rows": [r.as_dict() for r in self.rows]}


def leaderboard_for(ws: Any, viewer: str | None, *, period: str, today: date, department: str | None = None,
                    visibility: LeaderboardVisibility | None = None) -> LeaderboardView:
    """The leaderboard under the configured visibility (``[jobs.points.leaderboard]``) for ``viewer``.

    Without a viewer only a ``named`` configuration answers (HR's view); otherwise a viewer
    is required. Raises :class:`NotVisible` for an unknown viewer or another department
    than the viewer's under ``scope = "department"``.
    """
    if visibility is None:
        config = ws.settings.job_config(PointsJob.name, PointsConfig) or PointsConfig()
        visibility = config.leaderboard
    if viewer is None:
        if visibility.visibility != "named":
            msg = f"the leaderboard is {visibility.visibility} for everyone, HR included"
            raise NotVisible(msg, hint="give --as EMPLOYEE_ID to see it as that employee does, or set "
                                       "visibility = \"named\" under [jobs.points.leaderboard]")
        return LeaderboardView(period, "named", visibility.scope, None,
                               named_rows(leaderboard(ws, period=period, today=today, department=department)),
                               "named (HR view)")
    with ws.ledger.transaction() as conn:
        who = next((e for e in _typed(ws.ledger.iter_records(conn, "employee", subject=viewer), Employee)
                    if e.employee_id == viewer), None)
    if who is None:
        msg = f"no employee {viewer!r} in the ledger"
        raise NotVisible(msg, hint="check the id, or run `trainbridge sync` to read the HR system first")
    if department and visibility.scope == "department" and department != who.department:
        msg = f"{viewer} may see only department {who.department or '(none)'}, not {department}"
        raise NotVisible(msg, hint="the leaderboard's scope is \"department\"")
    standings = leaderboard(ws, period=period, today=today,
                            department=department if visibility.scope == "company" else None)
    rows, note = visible_rows(standings, viewer, who.department, visibility)
    return LeaderboardView(period, visibility.visibility, visibility.scope, viewer, rows, note)
