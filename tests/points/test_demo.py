"""`trainbridge demo` tells the seed 003 story: a quarter of managers' points, the leaderboard, proposals."""

from __future__ import annotations

from datetime import date

from trainbridge.core.config import load_settings
from trainbridge.core.demo import run_demo
from trainbridge.core.runner import Workspace
from trainbridge.plugins.points import LeaderboardVisibility
from trainbridge.plugins.points_leaderboard import leaderboard_for


def test_the_demo_scores_a_quarter_of_manager_events_and_proposes_incentives_for_hr(tmp_path):
    lines: list[str] = []
    assert run_demo(tmp_path / "d", today=date(2026, 11, 23), echo=lines.append) == 0
    text = "\n".join(lines)
    assert "points: 18 new entries" in text
    assert "leaderboard 2026Q3: 孙强 (M001) 150, 朱丽 (M002) 80, 胡斌 (M003) 33" in text
    assert "reminders: 2 due" in text
    assert "incentive:bonus_coefficient:M001:2026Q3" in text  # top 20% of 6 managers
    assert "incentive:promotion:M001:2026Q3" in text
    assert "incentive:bonus:M004:2026Q3" in text  # 10 points: the late action plan did not score
    ws = Workspace(load_settings(tmp_path / "d" / "plugins.toml"))
    with ws.ledger.transaction() as conn:
        entries = list(ws.ledger.iter_records(conn, "points_entry"))
        pending = [p["id"] for p in ws.ledger.list_proposals(conn, status="pending")]
    assert len(entries) == 18
    assert sum(e.points for e in entries if e.employee_id == "M003") == 33  # checked in late: 10 - 2 + 5 + 20
    assert "incentive:perks:M002:2026Q3" in pending
    # the demo keeps the default visibility: anonymous except one's own row
    mine = leaderboard_for(ws, "M003", period="2026Q3", today=date(2026, 11, 23))
    assert mine.visibility == "anonymous" and [r.name for r in mine.rows if r.name] == ["胡斌"]
    hr = leaderboard_for(ws, None, period="2026Q3", today=date(2026, 11, 23),
                         visibility=LeaderboardVisibility(visibility="named"))
    assert [r.name for r in hr.rows[:2]] == ["孙强", "朱丽"]
