"""The points leaderboard (seed 003, S2 and S4) and who may see which of its rows.

Ranking: more points first; ties share a rank (1, 2, 2, 4). Visibility is
configuration (``[jobs.points.leaderboard]``), applied for one viewer:

* ``named``: every row with its name (what HR sees);
* ``anonymous``: every row's rank and points, names hidden except the viewer's own;
* ``neighbours``: only the viewer's row and the ``neighbours`` rows above and below it,
  the others' names hidden.

``scope = "department"`` limits what a viewer sees to their own department (ranked
within it); ``company`` ranks everyone together. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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
