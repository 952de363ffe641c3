"""Screenshots of the console's main pages for docs/console.md.

    .venv/bin/python -m tests.web.make_screenshots [docs/console]

Builds the demo workspace, starts the console on a free port and photographs each page,
in Chinese and in English (``NAME-zh.png``, ``NAME-en.png``; the proposals list and a
proposal's detail also at a phone's 390 px: ``proposals-390-zh.png``), with Debian's
headless Chromium. CJK glyphs come from the WenQuanYi font that the
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
from urllib.parse import quote

LANGUAGES = {"zh": "zh-CN,zh;q=0.9", "en": "en-US,en;q=0.9"}
LOCALES = {"zh": "zh-CN", "en": "en-US"}
REFUND = "refund:hr:S-E003"
BONUSES = ("incentive:bonus:M001:2026Q3", "incentive:bonus:M002:2026Q3")


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
    with ws.ledger.transaction() as conn:
        signed = next(a.id for a in ws.ledger.iter_records(conn, "agreement")
                      if getattr(a, "esign_instance", None))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(ws, WebSettings(today=lambda: today)), host="127.0.0.1",
                                           port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    add_user(ws.ledger, "admin", "admin", "admin-password-1", replace=True)
    #: (file name, path, whole page) an HR user sees, in each language; "reports" keeps its frame's height.
    shots = [("overview", "/", True), ("proposals", "/proposals", True),
             ("proposal", f"/proposals/{REFUND}", True), ("agreements", "/agreements", True),
             ("evidence", f"/agreements/{quote(signed, safe='')}/evidence", True),
             ("refunds", "/refunds?employee=E003", True), ("leaderboard", "/leaderboard", True),
             ("reports", "/reports?name=incentives", False),
             ("reports-points", "/reports?name=points&period=2026Q3", True),
             ("quote", "/refunds/quote?employee=E001&last_day=2026-12-31&reason=resignation", True),
             ("quarantine", "/quarantine", True)]
    #: the same at a phone's width (390 px): the list HR approves from and a proposal's detail.
    phone = [("proposals-390", "/proposals?kind=bonus"), ("proposal-390", f"/proposals/{REFUND}")]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

        def session(name: str, password: str, lang: str, width: int = 1280, login_shot: bool = False) -> Any:
            context = browser.new_context(viewport={"width": width, "height": 844}, locale=LOCALES[lang],
                                          extra_http_headers={"Accept-Language": LANGUAGES[lang]})
            page = context.new_page()
            page.goto(f"{base}/login")
            if login_shot:
                page.screenshot(path=str(out / f"login-{lang}.png"))
            page.fill("input[name=username]", name)
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
            page.wait_for_selector("#current-user")
            return page

        reasons = {"zh": "2026Q3 积分已核对", "en": "Q3 points checked"}
        for lang, bonus in zip(("zh", "en"), BONUSES, strict=True):
            reason = reasons[lang]
            page = session("hr", "hr-password-1", lang, login_shot=True)
            for name, path, whole in shots:
                page.goto(base + path)
                page.screenshot(path=str(out / f"{name}-{lang}.png"), full_page=whole)
            page.goto(f"{base}/proposals?kind=bonus")
            page.check(f"input[name=ids][value='{bonus}']")
            page.fill("input[name=reason]", reason)
            page.click("button[value=approve]")
            page.wait_for_selector("#outcome")
            page.screenshot(path=str(out / f"approved-{lang}.png"), full_page=True)
            page.goto(f"{base}/audit")
            page.screenshot(path=str(out / f"audit-{lang}.png"))
            mobile = session("hr", "hr-password-1", lang, width=390)
            for name, path in phone:
                mobile.goto(base + path)
                mobile.screenshot(path=str(out / f"{name}-{lang}.png"), full_page=True)
            admin = session("admin", "admin-password-1", lang)
            admin.goto(f"{base}/accounts")
            admin.screenshot(path=str(out / f"accounts-{lang}.png"), full_page=True)
            manager = session("M002", "manager-password-1", lang)
            manager.screenshot(path=str(out / f"leaderboard-manager-{lang}.png"))
        browser.close()
    server.should_exit = True
    ws.close()

if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/console"))
