"""Every page in Chinese shows no untranslated English: each ASCII word of three or more letters
is a name, an id (``class="id"``), text someone typed (``class="typed"``), English marked as such
(``lang="en"``: a job's original lines where it gave no structured explanation) or on the allow-list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from trainbridge.core.record_base import Reject
from trainbridge.core.records import Employee
from trainbridge.core.runner import Workspace

from .conftest import BONUS, REFUND
from .visible_text import latin_words, visible_text

pytest.importorskip("starlette", reason="the console needs the serve extra: pip install 'trainbridge[serve]'")

#: words that are the same in Chinese text: the product, the language switch, file formats, units.
ALLOWED = {"trainbridge", "English", "PDF", "SHA", "CSV", "Excel", "CNY", "USD", "UTC", "CST",
           "Gusto"}  # a vendor's name
PAGES = ["/", "/proposals", "/proposals?status=", "/proposals?status=delivered", f"/proposals/{REFUND}",
         f"/proposals/{BONUS}", "/agreements", "/refunds", "/refunds?employee=E003", "/leaderboard",
         "/quarantine?status=all", "/audit", "/webhook-tokens", "/account/password", "/nowhere"]


def data_words(workspace: Workspace) -> set[str]:
    """Names the sources gave (departments, people, programs, users): data, not the console's words."""
    words: set[str] = {"hr", "admin", "viewer", "cli"}
    with workspace.ledger.transaction() as conn:
        for e in workspace.ledger.iter_records(conn, "employee"):
            if isinstance(e, Employee):
                words |= set(f"{e.name} {e.department}".split())
        for p in workspace.ledger.iter_records(conn, "program"):
            words |= set(str(getattr(p, "title", "")).replace("-", " ").split())
            words |= set(str(getattr(p, "program_id", "")).replace("-", " ").split())
    return words


@pytest.fixture
def zh_pages(client: Any, workspace: Workspace, logged_in: Callable[[str], str]) -> dict[str, str]:
    with workspace.ledger.transaction() as conn:
        workspace.ledger.quarantine(conn, [
            Reject(model="employee", reason="hire_date: Input should be a valid date; name: Field required",
                   data={"employee_id": "E099"}),
            Reject(model="cost_item", reason="amount: Input should be a valid decimal", data={"id": "X"})],
            run_id=None, job="ingest", instance="hr", hook="fetch_employees")
    client.cookies.set("tb_lang", "zh")
    csrf = logged_in("admin")
    client.post("/proposals/decide", data={"ids": BONUS, "action": "approve", "reason": "季度积分已确认",
                                           "csrf_token": csrf})
    client.post("/proposals/decide", data={"ids": REFUND, "action": "reject", "reason": "待核实",
                                           "csrf_token": csrf})
    return {path: client.get(path).text for path in PAGES}


def test_no_zh_page_shows_an_untranslated_word(zh_pages: dict[str, str], workspace: Workspace) -> None:
    allowed = ALLOWED | data_words(workspace)
    found = {path: sorted(set(latin_words(visible_text(html), allowed))) for path, html in zh_pages.items()}
    assert {path: words for path, words in found.items() if words} == {}


def test_the_check_finds_english_where_there_is_some() -> None:
    page = '<p>待审批 pending</p><span class="id">finance:FEE-E003</span><p lang="en">the job said</p>'
    assert latin_words(visible_text(page), ALLOWED) == ["pending"]
    assert "job" in latin_words(visible_text(page, skip_marked=False), ALLOWED)


def test_quarantine_reasons_are_plain_sentences(zh_pages: dict[str, str]) -> None:
    page = zh_pages["/quarantine?status=all"]
    assert "字段「入职日期」不是有效日期" in page and "缺少必填字段「姓名」" in page
    assert "字段「金额」不是有效金额" in page
