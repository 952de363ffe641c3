"""A period or kind the console cannot read is said so, in the reader's language (review item 11),
and the links to a proposal's page are URL-encoded (review item 13)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from .conftest import REFUND

pytest.importorskip("starlette", reason="the console needs the serve extra: pip install 'trainbridge[serve]'")

ZH, EN = {"Accept-Language": "zh-CN"}, {"Accept-Language": "en"}


def test_a_download_for_a_bogus_period_says_the_period_is_invalid(client: Any,
                                                                  logged_in: Callable[[str], str]) -> None:
    logged_in("hr")
    for path in ("/reports/points.csv?period=bogus", "/reports/points.xlsx?period=2026Q9"):
        zh, en = client.get(path, headers=ZH), client.get(path, headers=EN)
        assert (zh.status_code, en.status_code) == (400, 400)
        assert "期间无效" in zh.text and "无权访问" not in zh.text
        assert "Invalid period" in en.text and "Not allowed" not in en.text
    unknown = client.get("/reports/costs.csv?by=colour", headers=EN)
    assert unknown.status_code == 400 and "That choice is not one of the options" in unknown.text


def test_the_leaderboard_says_a_bad_period_in_chinese_on_a_chinese_page(
    client: Any, logged_in: Callable[[str], str]
) -> None:
    logged_in("hr")
    zh = client.get("/leaderboard?period=xx", headers=ZH)
    assert zh.status_code == 400
    assert "期间无效" in zh.text and "xx" in zh.text and "is not like" not in zh.text
    en = client.get("/leaderboard?period=xx", headers=EN)
    assert en.status_code == 400 and "Invalid period: use 2026Q3, 2026, 2026-11 or last-12-months" in en.text
    assert client.get("/leaderboard?period=last-12-months", headers=ZH).status_code == 200


@pytest.mark.parametrize(("query", "zh_words", "en_words"), [
    ("period=2026Q9", "期间无效", "Invalid period"),
    ("kind=bogus", "没有这种提案类型", "No such proposal kind"),
])
def test_a_proposals_filter_nobody_can_match_is_said_not_ignored(
    client: Any, logged_in: Callable[[str], str], query: str, zh_words: str, en_words: str
) -> None:
    logged_in("hr")
    zh = client.get(f"/proposals?{query}", headers=ZH)
    assert zh.status_code == 400 and zh_words in zh.text and 'id="filter-error"' in zh.text
    en = client.get(f"/proposals?{query}", headers=EN)
    assert en.status_code == 400 and en_words in en.text


def test_good_filters_give_no_error(client: Any, logged_in: Callable[[str], str]) -> None:
    logged_in("hr")
    for query in ("period=2026Q3&status=", "period=2026&status=", "period=2026-11&status=",
                  "kind=bonus&status=", "kind=promotion&status="):  # promotion: a kind with no rows yet
        page = client.get(f"/proposals?{query}", headers=ZH)
        assert page.status_code == 200 and 'id="filter-error"' not in page.text, query


def test_the_proposal_links_are_url_encoded_and_lead_to_the_detail_page(
    client: Any, logged_in: Callable[[str], str]
) -> None:
    from trainbridge.core.approvals.form import proposal_link

    logged_in("hr")
    listing = client.get("/proposals", headers=EN).text
    assert f'href="/proposals/{quote(REFUND)}"' in listing  # refund%3Ahr%3AS-E003
    link = proposal_link("https://tb.acme.cn/proposals/{id}", REFUND)
    assert link == "https://tb.acme.cn/proposals/refund:hr:S-E003"
    assert proposal_link("https://tb.acme.cn/proposals/{id}", "refund:hr:S 1#2") == (
        "https://tb.acme.cn/proposals/refund:hr:S%201%232")
    detail = client.get(link.removeprefix("https://tb.acme.cn"), headers=EN)
    assert detail.status_code == 200 and REFUND in detail.text
