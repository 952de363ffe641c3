"""Leaderboard visibility (S2, S4): named for HR, anonymous except one's own row, own rank with N
neighbours; scoped to the department or the company; the command applies it for ``--as``."""

from __future__ import annotations

import json
from datetime import date

import pytest
from click.testing import CliRunner

from tests.points.test_points_job import points_ws
from trainbridge.cli import build_cli
from trainbridge.core.errors import ConfigError
from trainbridge.core.runner import sync
from trainbridge.plugins.points import PointsConfig
from trainbridge.plugins.points_leaderboard import NotVisible, leaderboard_for
from trainbridge.rules.leaderboard import LeaderboardVisibility, rank, visible_rows

PEOPLE = {f"M{i}": (f"经理{i}", "Sales" if i % 2 else "Operations") for i in range(1, 8)}
SCORES = {"M1": 90, "M2": 80, "M3": 70, "M4": 70, "M5": 40, "M6": 20, "M7": 5}
BOARD = rank(SCORES, PEOPLE)


def seen(rows):
    return [(r.rank, r.points, r.employee_id or None) for r in rows]


def test_named_shows_every_row_with_names_for_hr():
    rows, _ = visible_rows(BOARD, "M5", "Sales", LeaderboardVisibility(visibility="named"))
    assert [r.name for r in rows] == [f"经理{i}" for i in range(1, 8)]
    assert [r.rank for r in rows] == [1, 2, 3, 3, 5, 6, 7]  # ties share a rank


def test_anonymous_hides_every_name_but_ones_own():
    rows, note = visible_rows(BOARD, "M5", "Sales", LeaderboardVisibility(visibility="anonymous"))
    assert seen(rows) == [(1, 90, None), (2, 80, None), (3, 70, None), (3, 70, None), (5, 40, "M5"),
                          (6, 20, None), (7, 5, None)]
    assert [r.me for r in rows].count(True) == 1 and rows[4].name == "经理5"
    assert all(r.name == "" and r.department == "" for r in rows if not r.me)
    assert "anonymous" in note


def test_own_rank_with_2_neighbours_shows_five_rows_around_ones_own():
    config = LeaderboardVisibility(visibility="neighbours", neighbours=2)
    rows, note = visible_rows(BOARD, "M5", "Sales", config)
    assert seen(rows) == [(3, 70, None), (3, 70, None), (5, 40, "M5"), (6, 20, None), (7, 5, None)]
    top, _ = visible_rows(BOARD, "M1", "Sales", LeaderboardVisibility(visibility="neighbours", neighbours=1))
    assert seen(top) == [(1, 90, "M1"), (2, 80, None)]  # nobody above the first
    assert "of 7" in note


def test_department_scope_ranks_within_the_viewers_department():
    config = LeaderboardVisibility(visibility="anonymous", scope="department")
    rows, note = visible_rows(BOARD, "M5", "Sales", config)
    # Sales: M1 90, M3 70, M5 40, M7 5 -> M5 is third there
    assert seen(rows) == [(1, 90, None), (2, 70, None), (3, 40, "M5"), (4, 5, None)]
    assert "department Sales" in note


def test_a_viewer_not_on_the_board_sees_no_neighbours():
    rows, note = visible_rows(BOARD, "E9", "Sales", LeaderboardVisibility(visibility="neighbours"))
    assert rows == [] and "not on the leaderboard" in note


def test_visibility_is_configured_under_jobs_points_leaderboard(make_workspace, tmp_path):
    config = PointsConfig.model_validate({"leaderboard": {"visibility": "neighbours", "neighbours": 3,
                                                          "scope": "department"}})
    assert (config.leaderboard.visibility, config.leaderboard.neighbours) == ("neighbours", 3)
    assert PointsConfig().leaderboard.visibility == "anonymous"  # private unless HR configures otherwise
    with pytest.raises(ConfigError) as err:  # the workspace validates the table when it opens
        ws = points_ws(make_workspace, tmp_path, leaderboard={"visibility": "everyone"})
        leaderboard_for(ws, "M001", period="2026", today=date(2026, 9, 30))
    assert "jobs.points" in str(err.value) and "leaderboard.visibility" in str(err.value)


def test_leaderboard_for_applies_the_configured_visibility_for_a_viewer(make_workspace, tmp_path):
    ws = points_ws(make_workspace, tmp_path, leaderboard={"visibility": "anonymous"})
    sync(ws, ["points"])
    view = leaderboard_for(ws, "M003", period="2026", today=date(2026, 9, 30))
    assert seen(view.rows) == [(1, 40, None), (2, 35, "M003"), (3, 28, None)]
    with pytest.raises(NotVisible, match="give --as|anonymous"):
        leaderboard_for(ws, None, period="2026", today=date(2026, 9, 30))
    with pytest.raises(NotVisible, match="no employee 'X999'"):
        leaderboard_for(ws, "X999", period="2026", today=date(2026, 9, 30))


def test_department_scope_refuses_another_department(make_workspace, tmp_path):
    ws = points_ws(make_workspace, tmp_path, leaderboard={"visibility": "named", "scope": "department"})
    sync(ws, ["points"])
    view = leaderboard_for(ws, "M001", period="2026", today=date(2026, 9, 30))
    assert [(r.rank, r.employee_id, r.points) for r in view.rows] == [(1, "M002", 40), (2, "M001", 28)]
    with pytest.raises(NotVisible, match="only department Sales"):
        leaderboard_for(ws, "M001", period="2026", today=date(2026, 9, 30), department="Operations")
    hr = leaderboard_for(ws, None, period="2026", today=date(2026, 9, 30))  # named: HR sees everyone
    assert [r.employee_id for r in hr.rows] == ["M002", "M003", "M001"]


def test_the_command_shows_the_board_as_the_employee_given_by_as(make_workspace, tmp_path):
    ws = points_ws(make_workspace, tmp_path, leaderboard={"visibility": "neighbours", "neighbours": 1})
    sync(ws, ["points"])
    base = ["--config", str(ws.settings.path), "points", "leaderboard", "--period", "2026"]
    out = CliRunner().invoke(build_cli(), [*base, "--as", "M001", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert (data["visibility"], data["viewer"]) == ("neighbours", "M001")
    assert [(r["rank"], r["employee_id"], r["name"]) for r in data["rows"]] == [
        (2, "", ""), (3, "M001", "孙强")]
    table = CliRunner().invoke(build_cli(), [*base, "--as", "M001"])
    assert "*  3  M001" in table.output and "朱丽" not in table.output and "胡斌" not in table.output
    # Without --as it is HR's view, named, as the console shows HR: every manager with their name.
    hr = CliRunner().invoke(build_cli(), [*base, "--json"])
    assert hr.exit_code == 0, hr.output
    board = json.loads(hr.output)
    assert board["visibility"] == "named" and "managers see: neighbours" in board["note"]
    assert [r["name"] for r in board["rows"]][:3] == ["朱丽", "胡斌", "孙强"]
    named = CliRunner().invoke(build_cli(), base)
    assert named.exit_code == 0 and "朱丽" in named.output and "孙强" in named.output
