"""The console in a real browser: headless Chromium (Debian's package) driven by Playwright.

Skipped when /usr/bin/chromium or the playwright package is absent; `.ci/run` installs both.
The server is uvicorn on 127.0.0.1 and a free port, in a thread of this process.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from trainbridge.connectors.local_esign import signed_callback
from trainbridge.core.records import Agreement, AgreementStatus
from trainbridge.core.runner import Workspace
from trainbridge.web import WebSettings, create_app

from .conftest import BONUS, PASSWORDS, TODAY, payroll_lines

CHROMIUM = os.environ.get("TRAINBRIDGE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]

pytest.importorskip("starlette", reason="the console needs the serve extra: pip install 'trainbridge[serve]'")
if not Path(CHROMIUM).exists():
    pytest.skip(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="browser tests need playwright (pip install playwright; "
                                      "no `playwright install`: Debian's chromium is used)")
uvicorn = pytest.importorskip("uvicorn", reason="the console needs the serve extra")

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(workspace: Workspace) -> Iterator[str]:
    """The console of ``workspace`` on 127.0.0.1 and a free port (uvicorn in a thread); yields its URL."""
    port = _free_port()
    app = create_app(workspace, WebSettings(today=lambda: TODAY))
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def launch() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright."""
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def server(workspace: Workspace) -> Iterator[str]:
    yield from serve(workspace)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="en-US", extra_http_headers={"Accept-Language": "en-US,en"})
    yield context.new_page()
    context.close()


def log_in(page: Any, base: str, name: str) -> None:
    page.goto(f"{base}/proposals")
    assert "/login" in page.url
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORDS[name])
    page.click("button[type=submit]")
    page.wait_for_selector("#current-user")
    assert page.inner_text("#current-user") == name


def test_hr_logs_in_approves_a_bonus_and_it_is_posted_once(
        page: Any, server: str, workspace: Workspace, demo_dir: Path) -> None:
    log_in(page, server, "hr")
    assert page.url.endswith("/proposals")
    page.check(f"input[name=ids][value='{BONUS}']")
    page.fill("input[name=reason]", "Q3 points confirmed")
    page.click("button[value=approve]")
    page.wait_for_selector("#outcome")
    assert "approved and delivered" in page.inner_text("#outcome")
    lines = [json.loads(line) for line in payroll_lines(demo_dir)]
    assert len(lines) == 1 and lines[0]["employee_id"] == "M001"
    # Back to the list: the bonus is no longer pending, so it cannot be approved twice.
    page.goto(f"{server}/proposals")
    assert page.locator(f"input[name=ids][value='{BONUS}']").count() == 0
    page.goto(f"{server}/proposals?status=delivered")
    row = page.locator(f"tr[data-proposal='{BONUS}']")
    assert "Delivered" in row.inner_text() and "hr" in row.inner_text()
    assert len(payroll_lines(demo_dir)) == 1


def test_a_viewer_cannot_approve(page: Any, server: str, workspace: Workspace, demo_dir: Path) -> None:
    log_in(page, server, "viewer")
    assert page.locator(f"tr[data-proposal='{BONUS}']").count() == 1
    assert page.locator("button[value=approve]").count() == 0
    # Even a hand-made form with the viewer's own CSRF token is refused.
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    answer = page.request.post(f"{server}/proposals/decide",
                               form={"ids": BONUS, "action": "approve", "csrf_token": token})
    assert answer.status == 403
    assert payroll_lines(demo_dir) == []


def test_a_form_post_without_the_csrf_token_is_refused(page: Any, server: str, demo_dir: Path) -> None:
    log_in(page, server, "hr")
    page.evaluate("document.querySelector('#decide input[name=csrf_token]').remove()")
    page.check(f"input[name=ids][value='{BONUS}']")
    page.click("button[value=approve]")
    page.wait_for_load_state()
    assert page.locator(".error").count() == 1
    assert payroll_lines(demo_dir) == []


def test_a_forged_webhook_is_refused(page: Any, server: str, workspace: Workspace) -> None:
    with workspace.ledger.transaction() as conn:
        agreement = next(r for r in workspace.ledger.iter_records(conn, "agreement")
                         if isinstance(r, Agreement) and r.esign_instance == "esign")
        workspace.ledger.upsert_records(conn, [agreement.model_copy(update={"status": AgreementStatus.SENT})])
    event = {"event_id": f"{agreement.envelope_id}:completed", "type": "envelope.completed",
             "envelope_id": agreement.envelope_id, "status": "completed"}
    headers, body = signed_callback("forged-secret", event)
    answer = page.request.post(f"{server}/webhooks/esign", headers=headers, data=body)
    assert answer.status == 401
    with workspace.ledger.transaction() as conn:
        record = workspace.ledger.get_record(conn, "agreement", agreement.id)
    assert isinstance(record, Agreement) and record.status is AgreementStatus.SENT
