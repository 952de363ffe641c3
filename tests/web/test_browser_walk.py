"""HR's day in a real browser, in Chinese and in English: log in, approve a bonus with a reason,
reject a perk, approve all on a page, read a refund's detail and open its evidence, and approve on
a 390 px phone. Assertions are on the text a reader sees, in the chosen language, and on times in
the tenant's zone (the demo workspace is Asia/Shanghai).

Headless Chromium (Debian's package) through Playwright, as tests/web/test_browser.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from trainbridge.core.runner import Workspace

# test_browser skips itself without Chromium; a module importing from it must skip first
if not Path(os.environ.get("TRAINBRIDGE_CHROMIUM", "/usr/bin/chromium")).exists():
    pytest.skip("browser tests need Chromium (apt-get install chromium)", allow_module_level=True)

from . import test_browser as tb
from .conftest import BONUS, PASSWORDS, REFUND, payroll_lines
from .test_untranslated import ALLOWED, data_words
from .visible_text import latin_words, visible_text

pytestmark = pytest.mark.slow

PERK = "incentive:perks:M002:2026Q3"
SHANGHAI = ZoneInfo("Asia/Shanghai")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

#: what the reader must see, (zh, en): written out here, not read from the console's tables.
WORDS = {
    "proposals": ("待审批", "Proposals"),
    "approve_page": ("批准本页全部", "Approve all on this page"),
    "delivered_now": ("已批准并送达", "approved and delivered"),
    "rejected_now": ("已驳回", "rejected"),
    "delivered": ("已送达", "Delivered"),
    "rejected": ("已驳回", "Rejected"),
    "bonus": ("积分奖金", "Points bonus"),
    "perks": ("福利", "Perks"),
    "review_points": ("绩效考核积分", "Points for the performance review"),
    "refund": ("培训费扣款", "Training cost deduction"),
    "effect": ("批准后将执行", "What approving does"),
    "evidence": ("存证", "Evidence"),
    "agreements": ("培训协议", "Agreements"),
    "paper_agreement": ("纸质协议", "Paper agreement"),
    "separation_record": ("离职记录", "Separation record"),
    "cost_lines": ("费用明细", "Cost lines"),
    "download": ("下载", "Download"),
    "verify": ("校验", "Verify"),
    "timestamp_check": ("时间戳校验", "Timestamp check"),
    "valid": ("有效", "Valid"),
    "reason_required": ("驳回必须填写理由", "A rejection needs a reason"),
    "law": ("《劳动合同法》第二十二条", "LCL art"),
    "none": ("无", "None"),
    "accept": ("zh-CN,zh;q=0.9", "en-US,en;q=0.9"),
    "locale": ("zh-CN", "en-US"),
}
SEE = {lang: {key: pair[i] for key, pair in WORDS.items()} for i, lang in enumerate(("zh", "en"))}


@pytest.fixture
def server(workspace: Workspace) -> Iterator[str]:
    yield from tb.serve(workspace)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from tb.launch()


def open_page(browser: Any, lang: str, width: int = 1280) -> Any:
    context = browser.new_context(locale=SEE[lang]["locale"], viewport={"width": width, "height": 844},
                                  extra_http_headers={"Accept-Language": SEE[lang]["accept"]})
    context.set_default_timeout(10_000)
    return context.new_page()


def log_in(page: Any, base: str, name: str = "hr") -> None:
    page.goto(f"{base}/proposals")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORDS[name])
    page.click("button[type=submit]")
    page.wait_for_selector("#current-user")
    assert page.url.endswith("/proposals")


def shanghai_time(moment: Any, lang: str) -> str:
    """How the console should show a stored (UTC) time: in Asia/Shanghai, to the minute."""
    when = datetime.fromisoformat(str(moment)) if not isinstance(moment, datetime) else moment
    t = (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(SHANGHAI)
    if lang == "zh":
        return f"{t.year}年{t.month}月{t.day}日 {t:%H:%M}"
    return f"{t.day} {MONTHS[t.month - 1]} {t.year} {t:%H:%M} CST"


def proposal(workspace: Workspace, pid: str) -> dict[str, Any]:
    with workspace.ledger.transaction() as conn:
        found = workspace.ledger.get_proposal(conn, pid)
    assert found is not None
    return found


def english_words(page: Any, workspace: Workspace) -> list[str]:
    """Untranslated English on a zh page as the browser has it (after the clicks, the flash included)."""
    return sorted(set(latin_words(visible_text(page.content()), ALLOWED | data_words(workspace))))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_hr_approves_rejects_and_approves_a_page(browser: Any, server: str, workspace: Workspace,
                                                  demo_dir: Any, lang: str) -> None:
    see = SEE[lang]
    assert workspace.settings.timezone == "Asia/Shanghai"
    page = open_page(browser, lang)
    log_in(page, server)
    assert page.inner_text("h1") == see["proposals"]
    assert see["approve_page"] in page.inner_text("#approve-page")

    # one bonus, with a reason
    page.check(f"input[name=ids][value='{BONUS}']")
    page.fill("input[name=reason]", "Q3 积分已核对")
    page.click("button[value=approve]")
    page.wait_for_selector("#outcome")
    outcome = page.inner_text(f"#outcome li[data-proposal='{BONUS}']")
    assert see["delivered_now"] in outcome and see["bonus"] in outcome
    assert len(payroll_lines(demo_dir)) == 1
    if lang == "zh":
        assert english_words(page, workspace) == []
    page.goto(f"{server}/proposals?status=delivered")
    row = page.inner_text(f"tr[data-proposal='{BONUS}']")
    decided = proposal(workspace, BONUS)
    assert see["delivered"] in row and "hr" in row and "Q3 积分已核对" in row
    assert shanghai_time(decided["decided_at"], lang) in row  # the tenant's zone, not UTC

    # a rejection needs a reason; with one it is rejected
    page.goto(f"{server}/proposals")
    page.check(f"input[name=ids][value='{PERK}']")
    page.click("button[value=reject]")
    page.wait_for_load_state()
    assert see["reason_required"] in page.inner_text("main")
    assert proposal(workspace, PERK)["status"] == "pending"
    page.goto(f"{server}/proposals")
    page.check(f"input[name=ids][value='{PERK}']")
    page.fill("input[name=reason]", "预算已用完")
    page.click("button[value=reject]")
    page.wait_for_selector("#outcome")
    outcome = page.inner_text(f"#outcome li[data-proposal='{PERK}']")
    assert see["rejected_now"] in outcome and see["perks"] in outcome
    assert proposal(workspace, PERK)["status"] == "rejected"
    page.goto(f"{server}/proposals?status=rejected")
    assert see["rejected"] in page.inner_text(f"tr[data-proposal='{PERK}']")

    # every review-points proposal on the filtered page at once
    page.goto(f"{server}/proposals?kind=review_points")
    ids = [page.locator("input[name=page_ids]").nth(i).get_attribute("value")
           for i in range(page.locator("input[name=page_ids]").count())]
    assert len(ids) == 6 and all(":review_points:" in i for i in ids)
    assert f"({len(ids)})" in page.inner_text("#approve-page")
    page.fill("input[name=reason]", "考核积分已核对")
    page.click("#approve-page")
    page.wait_for_selector("#outcome")
    assert page.locator("#outcome li").count() == 6
    assert see["review_points"] in page.inner_text("#outcome")
    statuses = {proposal(workspace, i)["status"] for i in ids}
    assert statuses <= {"approved", "delivered"} and statuses
    # the same filtered page comes back: nothing of that kind waits any more
    assert page.locator("input[name=ids]").count() == 0
    assert see["none"] in page.inner_text("table.proposals")
    if lang == "zh":
        assert english_words(page, workspace) == []
    page.context.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_refund_shows_what_approving_does_and_its_evidence(browser: Any, server: str, workspace: Workspace,
                                                             lang: str) -> None:
    see = SEE[lang]
    page = open_page(browser, lang)
    log_in(page, server)
    page.click(f"tr[data-proposal='{REFUND}'] a.name")
    page.wait_for_selector("#effect")
    assert see["refund"] in page.inner_text("h1")
    effect = page.inner_text("#effect")
    assert see["effect"] in effect and "¥" in page.inner_text("#effect-amount")
    assert see["law"] in page.inner_text("main")
    evidence = page.inner_text("#evidence")
    # the demo's refund rests on a paper agreement: no PDF to link, said in words
    for heading in ("evidence", "agreements", "paper_agreement", "separation_record", "cost_lines"):
        assert see[heading] in evidence, heading
    assert "¥" in evidence and "李娜" in page.inner_text("h1")
    if lang == "zh":
        assert english_words(page, workspace) == []
    # e-signed agreements link their signed PDF and the timestamp check
    page.goto(f"{server}/agreements")
    pdf = page.get_by_role("link", name=see["download"]).first
    answer = page.request.get(server + pdf.get_attribute("href"))
    assert answer.status == 200 and answer.body().startswith(b"%PDF")
    page.get_by_role("link", name=see["verify"]).first.click()
    page.wait_for_selector("#evidence-result")
    assert page.inner_text("h1") == see["timestamp_check"]
    assert page.inner_text("#evidence-result").startswith(see["valid"])
    if lang == "zh":
        assert english_words(page, workspace) == []
    page.context.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_at_phone_width_nothing_is_cut_and_hr_can_approve(browser: Any, server: str, workspace: Workspace,
                                                          demo_dir: Any, lang: str) -> None:
    page = open_page(browser, lang, width=390)
    log_in(page, server)
    for path in ("/proposals", f"/proposals/{REFUND}", "/"):
        page.goto(server + path)
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"{path} is {width[0]} px wide in a {width[1]} px window"
    page.goto(f"{server}/proposals")
    for button in (page.locator("button[value=approve]"), page.locator("#approve-page")):
        assert button.is_visible()
        box = button.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    # the rows are cards: a name is on one line, its label above it
    name = page.locator(f"tr[data-proposal='{BONUS}'] a.name")
    box = name.bounding_box()
    assert box is not None and box["height"] < 30
    page.check(f"input[name=ids][value='{BONUS}']")
    page.fill("input[name=reason]", "手机上批准")
    page.click("button[value=approve]")
    page.wait_for_selector("#outcome")
    assert SEE[lang]["delivered_now"] in page.inner_text("#outcome")
    assert len(payroll_lines(demo_dir)) == 1
    page.context.close()
