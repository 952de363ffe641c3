"""Screenshots of the console's main pages for docs/console.md.

    .venv/bin/python -m tests.web.make_screenshots [docs/console]

Builds the demo workspace, starts the console on a free port and photographs each page
with Debian's headless Chromium. CJK glyphs come from the WenQuanYi font that the
``paperang-p2-fonts-cjk`` dependency ships (made visible to Chromium through fontconfig).
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any


def _fontconfig() -> None:
    import paperang_p2_fonts_cjk

    fonts = Path(paperang_p2_fonts_cjk.__file__).parent / "fonts"
    conf = Path(tempfile.mkdtemp(prefix="tb-fonts-")) / "fonts.conf"
    conf.write_text('<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
                    f'<include ignore_missing="yes">/etc/fonts/fonts.conf</include><dir>{fonts}</dir>'
                    '</fontconfig>', encoding="utf-8")
    os.environ["FONTCONFIG_FILE"] = str(conf)


def main(out: Path) -> None:
    import uvicorn
    from playwright.sync_api import sync_playwright

    from trainbridge.core.config import load_settings
    from trainbridge.core.demo import run_demo
    from trainbridge.core.records import Reject
    from trainbridge.core.runner import Workspace
    from trainbridge.web import WebSettings, create_app
    from trainbridge.web.accounts import add_user

    from .test_browser import CHROMIUM, CHROMIUM_ARGS, _free_port

    _fontconfig()
    out.mkdir(parents=True, exist_ok=True)
    today = date(2026, 11, 23)
    folder = Path(tempfile.mkdtemp(prefix="tb-shots-")) / "demo"
    run_demo(folder, today=today, echo=lambda _line: None)
    ws = Workspace(load_settings(folder / "plugins.toml"))
    ws.ensure_migrated()
    add_user(ws.ledger, "hr", "hr", "hr-password-1")
    add_user(ws.ledger, "M002", "manager", "manager-password-1", employee_id="M002")
    with ws.ledger.transaction() as conn:
        ws.ledger.quarantine(conn, [Reject(
            model="employee", reason="hire_date: Input should be a valid date (got '31/02/2026')",
            data={"id": "hr:E099", "employee_id": "E099", "name": "钱七", "department": "工程部"},
            raw={"工号": "E099", "姓名": "钱七", "入职日期": "31/02/2026"}, key="E099")],
            run_id=None, job="ingest", instance="hr", hook="fetch_employees")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(ws, WebSettings(today=lambda: today)), host="127.0.0.1",
                                           port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

        def session(name: str, password: str, lang: str) -> Any:
            context = browser.new_context(viewport={"width": 1280, "height": 800},
                                          extra_http_headers={"Accept-Language": lang})
            page = context.new_page()
            page.goto(f"{base}/login")
            if name == "hr":
                page.screenshot(path=str(out / f"login-{lang[:2]}.png"))
            page.fill("input[name=username]", name)
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
            page.wait_for_selector("#current-user")
            return page

        page = session("hr", "hr-password-1", "zh-CN")
        shots = [("overview", "/"), ("proposals", "/proposals"), ("agreements", "/agreements"),
                 ("refunds", "/refunds?employee=E003"), ("leaderboard", "/leaderboard"),
                 ("reports", "/reports?name=incentives"), ("quarantine", "/quarantine")]
        for name, path in shots:
            page.goto(base + path)
            page.screenshot(path=str(out / f"{name}.png"), full_page=name != "reports")
        page.goto(f"{base}/proposals?kind=bonus")
        page.check("input[name=ids][value='incentive:bonus:M001:2026Q3']")
        page.fill("input[name=reason]", "2026Q3 积分已核对")
        page.click("button[value=approve]")
        page.wait_for_selector("#outcome")
        page.screenshot(path=str(out / "approved.png"), full_page=True)
        page.goto(f"{base}/audit")
        page.screenshot(path=str(out / "audit.png"))
        for name, path in [("reports-points", "/reports?name=points&period=2026Q3"),
                           ("quote", "/refunds/quote?employee=E001&last_day=2026-12-31&reason=resignation")]:
            page.goto(base + path)
            page.screenshot(path=str(out / f"{name}.png"), full_page=True)
        add_user(ws.ledger, "admin", "admin", "admin-password-1", replace=True)
        admin = session("admin", "admin-password-1", "zh-CN")
        admin.goto(f"{base}/accounts")
        admin.screenshot(path=str(out / "accounts.png"), full_page=True)
        english = session("hr", "hr-password-1", "en-US")
        english.goto(base + "/")
        english.screenshot(path=str(out / "overview-en.png"), full_page=True)
        manager = session("M002", "manager-password-1", "zh-CN")
        manager.screenshot(path=str(out / "leaderboard-manager.png"))
        browser.close()
    server.should_exit = True
    ws.close()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/console"))
