"""Every page in Chinese shows no untranslated English: each ASCII word of three or more letters
is a name, an id (``class="id"``), text someone typed (``class="typed"``), English marked as such
(``lang="en"``: a job's original lines where it gave no structured explanation) or on the allow-list."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from trainbridge.core.record_base import Reject
from trainbridge.core.records import Employee
from trainbridge.core.runner import Workspace
from trainbridge.core.words import KINDS, POINTS_RULES, VENDOR_STATUSES
from trainbridge.plugins.agreements import list_agreements
from trainbridge.web.accounts import list_users
from trainbridge.web.report_text import titles_of

from .conftest import BONUS, REFUND, csrf_of, login
from .visible_text import latin_words, visible_text

pytest.importorskip("starlette", reason="the console needs the serve extra: pip install 'trainbridge[serve]'")

BAD_DAY = "/refunds/quote?employee=E001&last_day=31.12.2026&reason=resignation"
BAD_PERIOD = "/reports?name=points&period=last-year"
#: words that are the same in Chinese text: the product, the language switch, file formats, units.
ALLOWED = {"trainbridge", "English", "PDF", "SHA", "CSV", "Excel", "CNY", "USD", "UTC", "CST",
           "Gusto"}  # a vendor's name
PAGES = ["/", "/proposals", "/proposals?status=", "/proposals?status=delivered", f"/proposals/{REFUND}",
         f"/proposals/{BONUS}", "/agreements", "/refunds", "/refunds?employee=E003", "/leaderboard",
         "/quarantine?status=all", "/audit", "/webhook-tokens", "/account/password", "/accounts",
         # the what-if quote: the form, a leaver, a current employee who would resign, a typing error
         "/refunds/quote", "/refunds/quote?employee=E003",
         "/refunds/quote?employee=E001&last_day=2026-12-31&reason=resignation",
         "/refunds/quote?employee=E001&last_day=2026-12-31&reason=resignation&waived=1",
         "/refunds/quote?employee=E001", BAD_DAY,
         # errors: an unknown page, an unknown report, a period nobody can read
         "/nowhere", "/reports?name=nope", BAD_PERIOD, "/reports/points.html?period=x", "/proposals/nope",
         # filters, a second page, another period, a refund for a day, a report's own choices
         "/proposals?kind=bonus&status=", "/proposals?status=&page=2", "/leaderboard?period=2026Q2",
         "/refunds?employee=E001&last_day=2026-12-31", "/refunds?employee=E001&last_day=3000-01-01",
         "/refunds?employee=NOBODY", "/accounts?done=disable",
         "/reports?name=costs&by=program", "/reports?name=costs&by=department",
         "/reports?name=incentives&status=approved", "/reports?name=profile&employee=E001"]
#: every report's page and its page alone, as it opens and for a period and a department.
SELECTIONS = ["", "&period=2026Q3", "&period=2026&department=运营部", "&department=销售部"]


def config_words(value: Any) -> set[str]:
    """The words in configuration values: skill, role and certificate names HR chose (data)."""
    if isinstance(value, dict):
        return {w for k, v in value.items() for w in config_words(k) | config_words(v)}
    if isinstance(value, list):
        return {w for v in value for w in config_words(v)}
    return set(str(value).replace("_", " ").split()) if isinstance(value, str) else set()


def data_words(workspace: Workspace) -> set[str]:
    """Names the sources gave (departments, people, sites, programs, users) and the skills, roles and
    certificates the configuration names: data, not the console's words."""
    words: set[str] = {"cli", *(u["name"] for u in list_users(workspace.ledger))}
    words |= config_words(workspace.settings.jobs.get("talent", {}))
    with workspace.ledger.transaction() as conn:
        for e in workspace.ledger.iter_records(conn, "employee"):
            if isinstance(e, Employee):
                words |= set(f"{e.name} {e.department} {e.site or ''}".split())
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
    answers = {"/proposals/decide (approve)": client.post("/proposals/decide", data={
        "ids": BONUS, "action": "approve", "reason": "季度积分已确认", "csrf_token": csrf}).text,
               "/proposals/decide (reject)": client.post("/proposals/decide", data={
        "ids": REFUND, "action": "reject", "reason": "待核实", "csrf_token": csrf}).text,
               "/accounts/add": client.post("/accounts/add", data={
        "name": "auditor", "role": "viewer", "csrf_token": csrf}).text,
               "/accounts/admin/disable (oneself)": client.post("/accounts/admin/disable", data={
        "csrf_token": csrf}).text,
               "/account/password (wrong)": client.post("/account/password", data={
        "current": "not-it", "password": "a-new-password-1", "repeat": "a-new-password-1",
        "csrf_token": csrf}).text}
    agreements = [a["id"] for a in list_agreements(workspace)]
    with workspace.ledger.transaction() as conn:
        kinds = {p["kind"]: p["id"] for p in workspace.ledger.list_proposals(conn, status=None)}
    reports = [f"/reports?name={name}{extra}" for name in sorted(workspace.host.reports)
               for extra in SELECTIONS]
    alone = [f"/reports/{name}.html?{extra[1:]}" for name in sorted(workspace.host.reports)
             for extra in SELECTIONS]
    details = [f"/proposals/{quote(pid, safe=':')}" for pid in kinds.values()]
    evidence = [f"/agreements/{quote(agreements[0], safe=':')}/evidence", "/agreements/nope/evidence"]
    pages = {path: client.get(path).text for path in [*PAGES, *reports, *alone, *details, *evidence]}
    pages.update(answers)
    client.post("/logout", data={"csrf_token": csrf})
    login(client, "M002")
    pages["/leaderboard (manager)"] = client.get("/leaderboard").text
    pages["/proposals (manager)"] = client.get("/proposals").text
    form = client.get("/login")
    failed = client.post("/login", data={"username": "hr", "password": "wrong-password-1",
                                         "csrf_token": csrf_of(form.text), "next": "/"})
    assert failed.status_code == 401
    pages["/login (failed)"] = failed.text
    client.cookies.clear()
    client.cookies.set("tb_lang", "zh")
    pages["/login"] = client.get("/login").text
    return pages


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


def test_report_explanations_and_chart_tooltips_are_chinese(zh_pages: dict[str, str]) -> None:
    demand = zh_pages["/reports?name=demand"]
    assert "需培训 = 需求 10 − 持证 5 + 到期 2 + 预计离职 1 = 8" in demand
    assert "班次 = 8 ÷ 每班 6 人，向上取整 = 2" in demand and "<title>目标 10</title>" in demand
    needs = zh_pages["/reports?name=needs"]
    assert "M001 职业目标 商务谈判" in needs and "评分 2.5 低于 3（2026年11月3日）" in needs
    # a config key stays as it is written, marked as code
    for page in (zh_pages["/reports?name=costs"], zh_pages["/reports/costs.html?"]):
        assert "<code>[jobs.costs] include_unvouchered = true</code>" in page


def test_errors_and_a_failed_login_are_said_in_chinese(client: Any, zh_pages: dict[str, str],
                                                      logged_in: Callable[[str], str]) -> None:
    assert "用户名或密码错误" in zh_pages["/login (failed)"]
    logged_in("hr")
    client.cookies.set("tb_lang", "zh")
    statuses = {path: client.get(path).status_code for path in
                ["/nowhere", "/reports?name=nope", BAD_PERIOD, BAD_DAY]}
    assert statuses == {"/nowhere": 404, "/reports?name=nope": 404, BAD_PERIOD: 400, BAD_DAY: 400}


#: text inside ``class="id"`` elements (shown, though the word check leaves ids out).
ID_SPANS = re.compile(r'class="id"[^>]*>([^<]*)<')


def vocabulary_codes(workspace: Workspace) -> set[str]:
    """Codes a Chinese page must say in words, even where it shows ids: points rules, proposal
    kinds, vendor statuses and every certificate, role or competency code the configuration titles."""
    return {*POINTS_RULES, *KINDS, *(k for k in VENDOR_STATUSES if k.isupper()),
            *titles_of(workspace.settings.jobs)}


def test_no_zh_page_shows_a_code_that_has_words(zh_pages: dict[str, str], workspace: Workspace) -> None:
    """Review item 18: rule ids in a proposal's points entries (shown as ids), certificate and
    role codes in the demand and needs reports (allowed as data words), the Feishu verdict's
    "已通过 in 飞书审批 Feishu Approval" and the audit log's APPROVED passed the word check."""
    codes = vocabulary_codes(workspace)
    split = re.compile(r"[\s,;()\[\]{}<>«»“”\"'，。；：（）、《》·|=+×]+")
    found: dict[str, list[str]] = {}
    for path, html in zh_pages.items():
        shown = visible_text(html) + " " + " ".join(ID_SPANS.findall(html))
        hits = sorted({token for token in split.split(shown) if token in codes})
        if " in 飞书" in html or "已通过 in" in html:
            hits.append("mixed verdict reason")
        if hits:
            found[path] = hits
    assert {path: found[path] for path in sorted(found)} == {}


def test_a_feishu_verdict_and_the_vendor_statuses_are_said_in_words(zh_pages: dict[str, str]) -> None:
    delivered = zh_pages["/proposals?status=delivered"]  # 赵敏's repayment request, approved in Feishu
    assert "已在飞书审批中通过（审批实例 DEMO-INSTANCE-1）" in delivered or (
        "已在审批应用中通过（审批实例 DEMO-INSTANCE-1）" in delivered)
    audit = zh_pages["/audit"]
    assert "外部审批人" in audit and "APPROVED" not in visible_text(audit, skip_marked=False)
    assert "已通过" in audit  # the vendor status in words


def test_a_proposals_points_entries_name_their_rules_in_words(zh_pages: dict[str, str]) -> None:
    detail = zh_pages[f"/proposals/{BONUS}"]
    assert "参加线下课程" in detail and "offline_attended" not in detail
