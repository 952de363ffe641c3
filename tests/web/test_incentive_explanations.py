"""Issue 18: what points buy is explained to HR in their language, from data.

Every proposal the incentives job makes (bonus, coefficient, perks, regional manager,
excellent, promotion, promotion priority, review points) has a decision with its id whose
``explanation_items`` give the rule, the seed sentence, the inputs and the amount with its
unit; the console renders them as sentences in Chinese and English (no folded English text),
heads a promotion priority with the program's title, and the reports name the kinds in words.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

pytest.importorskip("starlette", reason="the console needs the serve extra: pip install 'trainbridge[serve]'")

from starlette.testclient import TestClient

from trainbridge.core.runner import Workspace

from .conftest import login

ZH = {"Accept-Language": "zh-CN"}
EN = {"Accept-Language": "en"}
PERKS = "incentive:perks:M001:2026Q3"
PRIORITY = "incentive:promotion_priority:E001:FIRE-CTRL"


def _decisions(ws: Workspace) -> dict[str, dict[str, Any]]:
    with ws.ledger.transaction() as conn:
        return {d["id"]: d for d in ws.ledger.list_decisions(conn, "incentive_proposal")}


def test_every_incentive_proposal_is_explained_as_data(workspace: Workspace) -> None:
    with workspace.ledger.transaction() as conn:
        proposals = [p for p in workspace.ledger.list_proposals(conn) if p["job"] == "incentives"]
    decisions = _decisions(workspace)
    assert {p["kind"] for p in proposals} >= {"bonus", "bonus_coefficient", "perks", "regional_manager",
                                              "excellent", "promotion", "promotion_priority", "review_points"}
    for p in proposals:
        decision = decisions[p["id"]]  # the decision has the proposal's id
        assert decision["payload"]["proposal"] == p["id"]
        items = decision["payload"]["explanation_items"]
        assert items, p["id"]
        for item in items:
            assert item["rule"] == f"incentive:{p['kind']}"
            assert item["article"].startswith("seed 00"), item
            assert item["amount"] is not None and item["unit"] in ("percent", "coefficient", "points")
    perks = decisions[PERKS]["payload"]["explanation_items"][0]
    assert perks["inputs"] == {"quarter": "2026Q3", "points": 150, "threshold": 80}
    assert (perks["amount"], perks["unit"]) == ("150", "points")
    assert "积分≥80分可享受" in perks["article"]
    coefficient = decisions["incentive:bonus_coefficient:M001:2026Q3"]["payload"]["explanation_items"][0]
    assert (coefficient["amount"], coefficient["unit"]) == ("0.1", "coefficient")
    assert coefficient["inputs"]["managers"] == 6 and coefficient["inputs"]["cut"] == 150
    [priority] = decisions[PRIORITY]["payload"]["explanation_items"]
    assert priority["inputs"]["program"] == "消防设施操作员(消防中控)上岗证书培训"
    before_after = (priority["inputs"]["before"], priority["inputs"]["after"], priority["amount"])
    assert before_after == ("0.05", "0.01", "80")  # the error rate fell by 80%


@pytest.mark.parametrize(("headers", "sentence", "source", "folded"), [
    (ZH, "2026年第三季度积分 150 分 ≥ 80 分，可享受福利", "种子文档 003：积分≥80分可享受", "英文原文说明"),
    (EN, "150 points in Q3 2026 ≥ 80 points: entitled to the perks", "seed 003: 积分≥80分可享受",
     "Explanation in English"),
])
def test_a_perks_proposal_reads_as_a_sentence_with_its_seed_sentence(
        client: TestClient, headers: dict[str, str], sentence: str, source: str, folded: str) -> None:
    login(client, "hr")
    page = client.get(f"/proposals/{PERKS}", headers=headers)
    assert page.status_code == 200
    assert sentence in page.text and source in page.text
    assert folded not in page.text  # the job's English lines are no longer the explanation
    listing = client.get("/proposals?kind=perks", headers=headers)
    assert sentence in listing.text and folded not in listing.text


def test_each_incentive_kind_has_its_own_chinese_sentence(client: TestClient, workspace: Workspace) -> None:
    login(client, "hr")
    expected = {
        "incentive:bonus_coefficient:M001:2026Q3":
            "位列 6 名管理者的前 20%（入围线 150 分）：季度奖金系数 +0.10",
        "incentive:bonus:M001:2026Q3": "每满 10 分季度奖金增加 1%，最高 5%，本季度奖金 +5%",
        "incentive:regional_manager:M001:2026Q3": "积分 150 分 ≥ 100 分，可获得区域经理竞聘资格",
        "incentive:excellent:M001:2026": "2026 年度积分 150 分 ≥ 80 分，可参评优秀",
        "incentive:promotion:M001:2026Q3": "行动计划完成率 100% ≥ 80%：两项均满足",
        "incentive:review_points:M001:2026Q3": "计入绩效考核，占绩效得分的 10%",
        PRIORITY: "差错率由 0.05 变为 0.01，改善 80% ≥ 10%：晋升优先",
    }
    for pid, sentence in expected.items():
        page = client.get(f"/proposals/{pid}", headers=ZH)
        assert sentence in page.text, pid
        assert "英文原文说明" not in page.text, pid


@pytest.mark.parametrize("headers", [ZH, EN])
def test_a_promotion_priority_is_headed_by_the_programs_title(client: TestClient,
                                                              headers: dict[str, str]) -> None:
    login(client, "hr")
    page = client.get("/proposals?kind=promotion_priority", headers=headers)
    assert "消防设施操作员(消防中控)上岗证书培训" in page.text
    # the code is left only in the small id line
    visible = re.sub(r'<[^>]*class="id"[^>]*>[^<]*<', "<", page.text)
    assert "FIRE-CTRL" not in re.sub(r"<[^>]+>", " ", visible.split("<main", 1)[-1]).replace(
        "FIRE-CTRL-1", ""), "the program code is shown as a headline"


@pytest.mark.parametrize(("headers", "words"), [
    (ZH, ("优先晋升", "区域经理资格", "绩效考核积分")),
    (EN, ("promotion priority", "regional manager eligibility", "points for the review")),
])
def test_the_incentives_report_names_each_kind_in_words(client: TestClient, headers: dict[str, str],
                                                        words: tuple[str, ...]) -> None:
    login(client, "hr")
    page = client.get("/reports?name=incentives", headers=headers)
    assert page.status_code == 200
    chart = page.text[page.text.index("<svg"):page.text.index("</svg>")]
    for word in words:
        assert word in chart
    for raw in ("promotion_priority", "regional_manager", "review_points"):
        assert raw not in chart and f">{raw}<" not in page.text


def test_english_cost_categories_are_capitalised(client: TestClient) -> None:
    login(client, "hr")
    page = client.get("/proposals/refund:hr:S-E003", headers=EN)
    assert "Course fee" in page.text and "course fee" not in page.text


def test_the_demo_runs_on_the_tenants_day_not_the_machines_utc_date(monkeypatch: pytest.MonkeyPatch) -> None:
    from trainbridge.core import demo, localtime

    from .test_timezone_reports import _Clock  # 18:00 UTC on 30 September: 1 October in Shanghai

    assert demo.demo_today(datetime(2026, 9, 30, 18, 0, tzinfo=UTC)).isoformat() == "2026-10-01"
    monkeypatch.setattr(localtime, "datetime", _Clock)
    days = []

    def prepare(folder: Any, today: Any) -> Any:
        days.append(today)
        raise SystemExit(3)  # the day is all this test needs: stop before the sync

    monkeypatch.setattr(demo, "prepare_workspace", prepare)
    from click.testing import CliRunner

    from trainbridge.cli import cli

    CliRunner().invoke(cli, ["demo", "--dir", "unused"])
    assert [d.isoformat() for d in days] == ["2026-10-01"]
