"""The console at request level: login, approvals posted once, roles, CSRF, rate limit, webhooks."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

pytest.importorskip("starlette", reason="the console needs the serve extra: pip install 'trainbridge[serve]'")
pytest.importorskip("argon2", reason="the console needs the serve extra: pip install 'trainbridge[serve]'")
from starlette.testclient import TestClient

from trainbridge.connectors.local_esign import signed_callback
from trainbridge.core.records import Agreement, AgreementStatus, Reject
from trainbridge.core.runner import Workspace
from trainbridge.web import WebSettings, create_app

from .conftest import BONUS, PASSWORDS, REFUND, TODAY, csrf_of, login, payroll_lines


def audit_actions(ws: Workspace) -> list[tuple[str, str, str]]:
    with ws.ledger.transaction() as conn:
        return [(a["actor"], a["action"], a["subject"]) for a in ws.ledger.list_audit(conn)]


def proposal(ws: Workspace, pid: str) -> dict[str, object]:
    with ws.ledger.transaction() as conn:
        row = ws.ledger.get_proposal(conn, pid)
    assert row is not None
    return row


# --- access --------------------------------------------------------------------------------


def test_every_page_but_the_webhook_needs_a_login(client: TestClient) -> None:
    for path in ("/", "/proposals", "/agreements", "/refunds", "/leaderboard", "/reports", "/quarantine",
                 "/audit", "/reports/costs.html"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/login?next=")
    assert client.post("/proposals/decide", data={"ids": BONUS, "action": "approve"}).status_code == 403


def test_session_cookie_is_httponly_and_lax(client: TestClient) -> None:
    form = client.get("/login")
    answer = client.post("/login", data={"username": "hr", "password": PASSWORDS["hr"],
                                         "csrf_token": csrf_of(form.text)}, follow_redirects=False)
    assert answer.status_code == 303
    cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and "tb_session=" in v)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http in tests; "auto" sets it behind https


def test_secure_cookies_always(workspace: Workspace) -> None:
    app = create_app(workspace, WebSettings(secure_cookies="always"))
    with TestClient(app, base_url="https://testserver") as c:
        form = c.get("/login")
        answer = c.post("/login", data={"username": "hr", "password": PASSWORDS["hr"],
                                        "csrf_token": csrf_of(form.text)}, follow_redirects=False)
    assert "Secure" in answer.headers["set-cookie"]


def test_wrong_password_is_refused_and_the_sixth_try_is_rate_limited(client: TestClient) -> None:
    token = csrf_of(client.get("/login").text)
    for _ in range(5):
        answer = client.post("/login", data={"username": "hr", "password": "guess", "csrf_token": token})
        assert answer.status_code == 401
        token = csrf_of(answer.text)
    # Even the right password waits now: the limit is per user and address, before any check.
    answer = client.post("/login", data={"username": "hr", "password": PASSWORDS["hr"], "csrf_token": token})
    assert answer.status_code == 429
    # Another user from the same address is not locked out by hr's failures.
    login(client, "viewer")


def test_login_form_without_its_csrf_token_is_refused(client: TestClient) -> None:
    client.get("/login")
    answer = client.post("/login", data={"username": "hr", "password": PASSWORDS["hr"]})
    assert answer.status_code == 403


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(
        client: TestClient, workspace: Workspace, demo_dir: Path) -> None:
    login(client, "hr")
    answer = client.post("/proposals/decide", data={"ids": BONUS, "action": "approve", "reason": "ok"})
    assert answer.status_code == 403
    answer = client.post("/proposals/decide", data={"ids": BONUS, "action": "approve",
                                                     "csrf_token": "forged"})
    assert answer.status_code == 403
    assert proposal(workspace, BONUS)["status"] == "pending"
    assert payroll_lines(demo_dir) == []
    assert client.post("/logout").status_code == 403


def test_a_viewer_sees_proposals_but_cannot_approve(
        client: TestClient, workspace: Workspace, demo_dir: Path) -> None:
    csrf = login(client, "viewer")
    page = client.get("/proposals")
    assert BONUS in page.text
    assert 'value="approve"' not in page.text
    answer = client.post("/proposals/decide", data={"ids": BONUS, "action": "approve", "csrf_token": csrf})
    assert answer.status_code == 403
    assert proposal(workspace, BONUS)["status"] == "pending"
    assert payroll_lines(demo_dir) == []
    assert client.post("/quarantine/1/discard", data={"csrf_token": csrf}).status_code == 403
    assert client.get("/audit").status_code == 403


# --- approvals ------------------------------------------------------------------------------


def test_hr_approves_a_bonus_and_it_is_posted_to_payroll_once(
        client: TestClient, workspace: Workspace, demo_dir: Path) -> None:
    csrf = login(client, "hr")
    answer = client.post("/proposals/decide", data={"ids": BONUS, "action": "approve",
                                                     "reason": "Q3 points confirmed", "csrf_token": csrf})
    assert answer.status_code == 200
    assert "approved and delivered" in answer.text
    lines = [json.loads(line) for line in payroll_lines(demo_dir)]
    assert [line["id"] for line in lines] == [lines[0]["id"]]
    assert lines[0]["employee_id"] == "M001"
    row = proposal(workspace, BONUS)
    assert (row["status"], row["decided_by"], row["decision_reason"]) == (
        "delivered", "hr", "Q3 points confirmed")
    assert row["decided_at"] is not None
    # Approving again (a double click, a second tab) posts nothing more.
    again = client.post("/proposals/decide", data={"ids": BONUS, "action": "approve", "csrf_token": csrf})
    assert "not pending" in again.text
    assert len(payroll_lines(demo_dir)) == 1
    with workspace.ledger.transaction() as conn:
        rows = workspace.ledger.outbox(conn, operation="post_adjustment")
    assert [(r.proposal_id, r.state) for r in rows if r.proposal_id == BONUS] == [(BONUS, "delivered")]
    assert ("hr", "proposal.approved", BONUS) in audit_actions(workspace)
    audit_page = client.get("/audit")
    assert "批准提案" in audit_page.text and BONUS in audit_page.text  # the action in words, the id aside


def test_hr_approves_the_refund_deduction_of_850(
        client: TestClient, workspace: Workspace, demo_dir: Path) -> None:
    csrf = login(client, "hr")
    refunds = client.get("/refunds?employee=E003")
    assert "850.00" in refunds.text
    client.post("/proposals/decide", data={"ids": REFUND, "action": "approve", "csrf_token": csrf})
    lines = [json.loads(line) for line in payroll_lines(demo_dir)]
    assert len(lines) == 1
    assert lines[0]["employee_id"] == "E003"
    assert "850" in json.dumps(lines[0])


def test_approve_and_reject_many_with_a_reason(client: TestClient, workspace: Workspace) -> None:
    csrf = login(client, "admin")
    perks = ["incentive:perks:M001:2026Q3", "incentive:perks:M002:2026Q3"]
    missing = client.post("/proposals/decide", data={"ids": perks, "action": "reject", "csrf_token": csrf})
    assert missing.status_code == 400  # a rejection needs a reason
    answer = client.post("/proposals/decide", data={"ids": perks, "action": "reject",
                                                     "reason": "budget frozen", "csrf_token": csrf})
    assert answer.status_code == 200
    for pid in perks:
        row = proposal(workspace, pid)
        assert (row["status"], row["decided_by"], row["decision_reason"]) == (
            "rejected", "admin", "budget frozen")
        assert ("admin", "proposal.rejected", pid) in audit_actions(workspace)


def test_proposals_filter_by_kind_period_and_department(client: TestClient) -> None:
    login(client, "hr")
    bonuses = client.get("/proposals?kind=bonus&status=pending&period=2026Q3")
    assert BONUS in bonuses.text and REFUND not in bonuses.text
    assert "incentive:bonus:M004:2026Q3" in bonuses.text
    nothing = client.get("/proposals?kind=bonus&status=pending&period=2025Q1")
    assert BONUS not in nothing.text


# --- webhooks -------------------------------------------------------------------------------


def _reopen(ws: Workspace) -> Agreement:
    """Put one demo agreement back to 'sent', as if its employee had not signed yet."""
    with ws.ledger.transaction() as conn:
        agreement = next(r for r in ws.ledger.iter_records(conn, "agreement")
                         if isinstance(r, Agreement) and r.esign_instance == "esign")
        reopened = agreement.model_copy(update={"status": AgreementStatus.SENT, "signed_at": None})
        ws.ledger.upsert_records(conn, [reopened])
    return reopened


def _completed_event(agreement: Agreement) -> dict[str, str]:
    return {"event_id": f"{agreement.envelope_id}:completed", "type": "envelope.completed",
            "envelope_id": str(agreement.envelope_id), "status": "completed",
            "occurred_at": "2026-11-23T10:00:00+00:00"}


def _webhook_events(ws: Workspace) -> int:
    from trainbridge.core.ledger import webhook_events_table as t

    with ws.ledger.transaction() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())


def _status(ws: Workspace, agreement_id: str) -> AgreementStatus:
    with ws.ledger.transaction() as conn:
        record = ws.ledger.get_record(conn, "agreement", agreement_id)
    assert isinstance(record, Agreement)
    return record.status


def test_a_forged_webhook_gets_401_and_changes_nothing(client: TestClient, workspace: Workspace) -> None:
    agreement = _reopen(workspace)
    events_before = _webhook_events(workspace)
    headers, body = signed_callback("not-the-secret", _completed_event(agreement))
    answer = client.post("/webhooks/esign", content=body, headers=headers)
    assert answer.status_code == 401
    assert _status(workspace, agreement.id) is AgreementStatus.SENT
    assert _webhook_events(workspace) == events_before
    assert not [a for a in audit_actions(workspace) if a[1] in ("agreement.status", "envelope.status")]


def test_a_signed_webhook_is_kept_once_and_the_next_sync_signs_the_agreement(
        client: TestClient, workspace: Workspace) -> None:
    from trainbridge.core.runner import sync

    agreement = _reopen(workspace)
    secret = workspace.host.instances["esign"].config.webhook_secret.get_secret_value()  # the demo's own
    headers, body = signed_callback(secret, _completed_event(agreement))
    answer = client.post("/webhooks/esign?timestamp=1&sign=abc", content=body, headers=headers)
    # Exactly what local_esign's reply says, without a login.
    assert (answer.status_code, answer.text, answer.headers["content-type"]) == (
        200, '{"ok":true}', "application/json")
    replay = client.post("/webhooks/esign", content=body, headers=headers)
    assert replay.status_code == 200
    changes = [a for a in audit_actions(workspace) if a[1] == "envelope.status"]
    assert changes == [("webhook:esign", "envelope.status", agreement.id)]
    assert _status(workspace, agreement.id) is AgreementStatus.SENT  # the job moves it, not the intake
    sync(workspace, ["agreements"])
    assert _status(workspace, agreement.id) is AgreementStatus.SIGNED


def test_the_query_string_reaches_the_connector(workspace: Workspace,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}

    def fake_apply(ws: Workspace, instance: str, headers: dict[str, str], body: bytes) -> object:
        from trainbridge.core.records import WebhookReply

        seen.update(instance=instance, headers=headers, body=body)
        return WebhookReply(status_code=200, body="success", content_type="text/plain")

    monkeypatch.setattr("trainbridge.core.webhooks.receive_webhook", fake_apply)
    with TestClient(create_app(workspace)) as c:
        answer = c.post("/webhooks/dingtalk?signature=s1&timestamp=17&nonce=n", content=b"{}",
                        headers={"X-Vendor": "v"})
    assert answer.text == "success"
    headers = seen["headers"]
    assert isinstance(headers, dict)
    assert headers["X-Trainbridge-Query"] == "signature=s1&timestamp=17&nonce=n"
    assert headers["x-vendor"] == "v" and seen["body"] == b"{}"


def test_a_webhook_to_an_unknown_instance_or_one_without_webhooks_is_404(client: TestClient) -> None:
    assert client.post("/webhooks/nobody", content=b"{}").status_code == 404
    assert client.post("/webhooks/payroll", content=b"{}").status_code == 404


def test_a_webhook_body_over_a_megabyte_is_refused_unread(client: TestClient) -> None:
    assert client.post("/webhooks/esign", content=b"x" * (1 << 20 | 1)).status_code == 413


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example/"])
def test_login_never_redirects_off_site(client: TestClient, target: str) -> None:
    form = client.get("/login")
    answer = client.post("/login", data={"username": "hr", "password": PASSWORDS["hr"], "next": target,
                                         "csrf_token": csrf_of(form.text)}, follow_redirects=False)
    assert answer.headers["location"] == "/"


# --- the other pages ------------------------------------------------------------------------


def test_overview_shows_runs_pending_approvals_and_quarantine(client: TestClient,
                                                              workspace: Workspace) -> None:
    with workspace.ledger.transaction() as conn:
        workspace.ledger.quarantine(conn, [Reject(model="employee", reason="hire_date: not a date",
                                                  data={"employee_id": "E099", "name": "钱七"},
                                                  raw={"hireDate": "31/02/2026"}, key="E099")],
                                    run_id=None, job="ingest", instance="hr", hook="fetch_employees")
        pending = len(workspace.ledger.list_proposals(conn, status="pending"))
    login(client, "hr")
    page = client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert "Last run of each job" in page.text
    assert pending >= 2
    assert f'id="pending-total">{pending}<' in page.text
    assert 'id="quarantine-count">1<' in page.text
    assert "Incentives" in page.text and "Leavers" in page.text  # the jobs by what they do


def test_quarantine_shows_reason_and_payload_and_retry_is_audited(client: TestClient,
                                                                   workspace: Workspace) -> None:
    with workspace.ledger.transaction() as conn:
        workspace.ledger.quarantine(conn, [
            Reject(model="employee", reason="hire_date: not a date",
                   data={"id": "hr:E099", "employee_id": "E099", "name": "钱七"},
                   raw={"hireDate": "31/02/2026"}, key="E099"),
            Reject(model="employee", reason="name: missing", data={"employee_id": "E098"}, key="E098"),
        ], run_id=None, job="ingest", instance="hr", hook="fetch_employees")
        ids = [q["id"] for q in workspace.ledger.list_quarantine(conn)]
    csrf = login(client, "hr")
    page = client.get("/quarantine")
    assert "hire_date: not a date" in page.text and "31/02/2026" in page.text
    # The first one's data is valid as it stands (the bad field was dropped): retry accepts it.
    assert client.post(f"/quarantine/{ids[0]}/retry", data={"csrf_token": csrf}).status_code == 200
    still_bad = client.post(f"/quarantine/{ids[1]}/retry", data={"csrf_token": csrf})
    assert still_bad.status_code == 422
    assert client.post(f"/quarantine/{ids[1]}/discard", data={"csrf_token": csrf}).status_code == 200
    with workspace.ledger.transaction() as conn:
        statuses = {q["id"]: q["status"] for q in workspace.ledger.list_quarantine(conn, status=None)}
    assert statuses == {ids[0]: "resolved", ids[1]: "discarded"}
    actions = audit_actions(workspace)
    assert ("hr", "quarantine.retry", str(ids[0])) in actions
    assert ("hr", "quarantine.discard", str(ids[1])) in actions


def test_agreements_page_downloads_the_signed_pdf_and_verifies_its_evidence(
        client: TestClient, workspace: Workspace) -> None:
    login(client, "viewer")
    page = client.get("/agreements")
    agreement_id = "agreement:lms:FIRE-CTRL-1-E001"
    assert agreement_id in page.text and "signed" in page.text
    pdf = client.get(f"/agreements/{agreement_id}/signed.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    check = client.get(f"/agreements/{agreement_id}/evidence", headers={"Accept-Language": "en"})
    assert check.status_code == 200
    assert "Valid" in check.text and "matches" in check.text


def test_refunds_page_explains_the_quote(client: TestClient) -> None:
    login(client, "hr")
    page = client.get("/refunds?employee=E003")
    assert "¥850.00" in page.text
    assert '<ol class="explain"><li>' in page.text  # the explanation, step by step
    assert "《劳动合同法》第二十二条、第三十七条" in page.text  # the articles as HR cites them
    assert client.get("/refunds?employee=NOBODY").status_code == 200


def test_reports_are_embedded(client: TestClient) -> None:
    login(client, "hr")
    page = client.get("/reports")
    assert 'id="report"' in page.text and "/reports/costs.csv" in page.text  # shown inline, downloadable
    for name in ("costs", "points", "incentives"):
        report = client.get(f"/reports/{name}.html")
        assert report.status_code == 200 and "<table>" in report.text, name


def test_hr_sees_every_name_on_the_leaderboard(client: TestClient) -> None:
    login(client, "hr")
    page = client.get("/leaderboard")
    assert "2026Q3" in page.text
    for name in ("孙强", "朱丽", "胡斌", "林峰"):
        assert name in page.text


def test_a_manager_sees_only_their_own_name_and_nothing_else(client: TestClient) -> None:
    login(client, "M002")
    page = client.get("/leaderboard")
    assert "朱丽" in page.text  # M002 themself
    assert "孙强" not in page.text and "胡斌" not in page.text
    assert page.text.count("（不公开）") == 5
    assert client.get("/proposals").status_code == 403
    assert client.get("/").status_code == 403


def test_department_visibility_names_the_managers_own_department(workspace: Workspace) -> None:
    app = create_app(workspace, WebSettings(leaderboard_visibility="department", today=lambda: TODAY))
    with TestClient(app) as c:
        login(c, "M002")
        page = c.get("/leaderboard", headers={"Accept-Language": "en"})
    with workspace.ledger.transaction() as conn:
        from trainbridge.core.records import Employee

        employees = [e for e in workspace.ledger.iter_records(conn, "employee") if isinstance(e, Employee)]
    department = next(e.department for e in employees if e.employee_id == "M002")
    for e in employees:
        if e.is_manager:
            assert (e.name in page.text) == (e.department == department), e.employee_id


def test_language_follows_the_browser_then_the_users_choice(client: TestClient) -> None:
    assert "登录" in client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).text
    assert "Log in" in client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.8,zh;q=0.5"}).text
    client.get("/language?lang=zh", follow_redirects=False)
    assert "登录" in client.get("/login", headers={"Accept-Language": "en"}).text


def test_security_headers(client: TestClient) -> None:
    answer = client.get("/login")
    assert "frame-ancestors 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["x-frame-options"] == "SAMEORIGIN"
    assert answer.headers["cache-control"] == "no-store"


def test_logout_ends_the_session(client: TestClient, logged_in: Callable[[str], str]) -> None:
    csrf = logged_in("hr")
    assert client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    assert client.get("/proposals", follow_redirects=False).status_code == 303


def test_a_deduction_above_the_limit_needs_a_second_approver(workspace: Workspace, demo_dir: Path) -> None:
    from decimal import Decimal

    app = create_app(workspace, WebSettings(second_approver_above=Decimal("500"), today=lambda: TODAY))
    with TestClient(app) as hr_client, TestClient(app) as admin_client:
        hr = login(hr_client, "hr")
        first = hr_client.post("/proposals/decide", data={"ids": [REFUND, BONUS], "action": "approve",
                                                           "reason": "checked", "csrf_token": hr})
        assert "waits for a second approver" in first.text
        # The bonus is a percentage, not money: one approver is enough.
        assert proposal(workspace, BONUS)["status"] == "delivered"
        assert proposal(workspace, REFUND)["status"] == "pending"
        assert len(payroll_lines(demo_dir)) == 1
        again = hr_client.post("/proposals/decide",
                               data={"ids": REFUND, "action": "approve", "csrf_token": hr})
        assert "already approved by hr" in again.text
        assert proposal(workspace, REFUND)["status"] == "pending"
        admin = login(admin_client, "admin")
        assert "hr" in admin_client.get("/proposals?kind=refund").text
        second = admin_client.post("/proposals/decide", data={"ids": REFUND, "action": "approve",
                                                               "reason": "second pair of eyes",
                                                               "csrf_token": admin})
        assert "approved and delivered" in second.text
    row = proposal(workspace, REFUND)
    assert (row["status"], row["decided_by"]) == ("delivered", "admin")
    assert len(payroll_lines(demo_dir)) == 2
    actions = audit_actions(workspace)
    assert ("hr", "proposal.first_approval", REFUND) in actions
    assert ("admin", "proposal.approved", REFUND) in actions


def test_a_manager_sees_what_the_points_leaderboard_table_allows(demo_dir: Path) -> None:
    from trainbridge.core.config import load_settings
    from trainbridge.plugins.points import PointsConfig

    if "leaderboard" not in PointsConfig.model_fields:
        pytest.skip("this points plugin has no [jobs.points.leaderboard] visibility table")
    config = demo_dir / "plugins.toml"
    table = '\n[jobs.points.leaderboard]\nvisibility = "neighbours"\nneighbours = 1\n'
    config.write_text(config.read_text(encoding="utf-8") + table, encoding="utf-8")
    ws = Workspace(load_settings(config))
    try:
        with TestClient(create_app(ws, WebSettings(today=lambda: TODAY))) as c:
            login(c, "M002")
            page = c.get("/leaderboard", headers={"Accept-Language": "en"})
            assert "朱丽" in page.text and "孙强" not in page.text
            ranks = [int(r) for r in re.findall(r"<tr(?: class=\"me\")?><td>(\d+)</td>", page.text)]
            assert ranks == [1, 2, 3]  # M002 is second: one neighbour either side
            login(c, "hr")
            assert "孙强" in c.get("/leaderboard").text  # HR always sees names
    finally:
        ws.close()
