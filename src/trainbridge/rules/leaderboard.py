"""The points leaderboard (seed 003, S2 and S4) and who may see which of its rows.

Ranking: more points first; ties share a rank (1, 2, 2, 4). Visibility is
configuration (``[jobs.points.leaderboard]``), applied for one viewer:

* ``named``: every row with its name (what HR sees);
* ``anonymous``: every row's rank and points, names hidden except the viewer's own;
* ``neighbours``: only the viewer's row and the ``neighbours`` rows above and below it,
  the others' names hidden.

``scope = "department"`` limits what a viewer sees to their own department (ranked
within it); ``company`` ranks everyone together. Periods (``2026Q3``, ``2026``,
``last-12-months``) and the totals over them are here too. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from trainbridge.core.records import PointsCategory, PointsEntry

Visibility = Literal["named", "anonymous", "neighbours"]
Scope = Literal["department", "company"]


class LeaderboardVisibility(BaseModel):
    """The ``[jobs.points.leaderboard]`` table."""

    model_config = ConfigDict(extra="forbid")
    visibility: Visibility = Field(default="anonymous", description="named, anonymous or neighbours")
    neighbours: int = Field(default=2, ge=0, le=100, description="Rows shown above and below one's own")
    scope: Scope = Field(default="company", description="department or company")


@dataclass
class Standing:
    rank: int
    employee_id: str
    name: str
    department: str
    points: int


@dataclass
class Row:
    """One row as a viewer sees it: ``employee_id`` and ``name`` empty when hidden."""

    rank: int
    points: int
    employee_id: str = ""
    name: str = ""
    department: str = ""
    me: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def rank(scores: Mapping[str, int], people: Mapping[str, tuple[str, str]]) -> list[Standing]:
    """Standings from points per employee; ``people`` maps an id to (name, department)."""
    ordered = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    out: list[Standing] = []
    for i, (employee_id, points) in enumerate(ordered):
        shared = out[-1].rank if out and out[-1].points == points else i + 1
        name, department = people.get(employee_id, ("", ""))
        out.append(Standing(shared, employee_id, name, department, points))
    return out


def rerank(standings: Sequence[Standing]) -> list[Standing]:
    """Ranks again within a subset (one department), ties still sharing a rank."""
    return rank({s.employee_id: s.points for s in standings},
                {s.employee_id: (s.name, s.department) for s in standings})


def named_rows(standings: Sequence[Standing], viewer: str | None = None) -> list[Row]:
    return [Row(s.rank, s.points, s.employee_id, s.name, s.department, s.employee_id == viewer)
            for s in standings]


def visible_rows(standings: Sequence[Standing], viewer: str, viewer_department: str,
                 config: LeaderboardVisibility) -> tuple[list[Row], str]:
    """The rows ``viewer`` may see under ``config``, and a note on what was left out."""
    scoped = list(standings)
    where = "the company"
    if config.scope == "department":
        scoped = rerank([s for s in standings if s.department == viewer_department])
        where = f"department {viewer_department or '(none)'}"
    if config.visibility == "named":
        return named_rows(scoped, viewer), f"named, {where}"
    rows = [Row(s.rank, s.points, me=True, employee_id=s.employee_id, name=s.name, department=s.department)
            if s.employee_id == viewer else Row(s.rank, s.points) for s in scoped]
    if config.visibility == "anonymous":
        return rows, f"anonymous except your own row, {where}"
    mine = next((i for i, r in enumerate(rows) if r.me), None)
    if mine is None:
        return [], f"you are not on the leaderboard of {where}"
    n = config.neighbours
    return (rows[max(0, mine - n):mine + n + 1],
            f"your rank with {n} neighbour(s) either side, {where}, of {len(rows)}")


# --- periods and totals ---------------------------------------------------------------


def period_bounds(period: str, today: date) -> tuple[date, date]:
    """``2026Q3``, ``2026``, a month ``2026-11`` or ``last-12-months`` as inclusive (first, last) days."""
    if period == "last-12-months":
        return today - timedelta(days=364), today
    month = re.fullmatch(r"(\d{4})-(0[1-9]|1[0-2])", period)
    if month:
        year, number = int(month.group(1)), int(month.group(2))
        following = date(year + 1, 1, 1) if number == 12 else date(year, number + 1, 1)
        return date(year, number, 1), following - timedelta(days=1)
    match = re.fullmatch(r"(\d{4})(?:Q([1-4]))?", period)
    if not match:
        msg = f"period {period!r} is not like 2026Q3, 2026, 2026-11 or last-12-months"
        raise ValueError(msg)
    year = int(match.group(1))
    if match.group(2) is None:
        return date(year, 1, 1), date(year, 12, 31)
    quarter = int(match.group(2))
    first = date(year, 3 * quarter - 2, 1)
    last = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    return first, last - timedelta(days=1)


def totals(entries: Sequence[PointsEntry], first: date, last: date,
           superseded: frozenset[str] | set[str] = frozenset()) -> dict[str, int]:
    """Points per employee earned between ``first`` and ``last``, superseded entries left out."""
    out: dict[str, int] = {}
    for entry in entries:
        if entry.id not in superseded and first <= entry.earned_on <= last:
            out[entry.employee_id] = out.get(entry.employee_id, 0) + entry.points
    return out


def by_category(entries: Sequence[PointsEntry], first: date, last: date,
                superseded: frozenset[str] | set[str] = frozenset()) -> dict[PointsCategory, int]:
    out = dict.fromkeys(PointsCategory, 0)
    for entry in entries:
        if entry.id not in superseded and first <= entry.earned_on <= last:
            out[entry.category] += entry.points
    return out
