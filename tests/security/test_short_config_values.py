"""Review item 10: a short configured value that is also a word of an id (the demo's Feishu
``app_secret = "demo"``) corrupted the audit log (``feishu:ou_***_hr_li``). Values under 8
characters are masked only as whole tokens; a real secret is masked wherever it appears."""

from __future__ import annotations

import json

import pytest

from trainbridge.core import secrets
from trainbridge.core.secrets import redact, register_secret

SHORT = "demo"
REAL = "fs-app-secret-7Qx9mK2pLw4R"


@pytest.fixture(autouse=True)
def own_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """"demo" stays a secret for these tests only (other tests print the word)."""
    monkeypatch.setattr(secrets, "_secrets", set(secrets._secrets))
    monkeypatch.setattr(secrets, "_forms", list(secrets._forms))
    monkeypatch.setattr(secrets, "_pattern", secrets._pattern)


@pytest.fixture
def ws(make_workspace):  # type: ignore[no-untyped-def]
    register_secret(SHORT)
    register_secret(REAL)
    return make_workspace({})


def test_an_approver_id_holding_a_short_config_value_is_stored_intact_in_the_audit_log(ws):
    with ws.ledger.transaction() as conn:
        ws.ledger.audit(conn, actor="hr.li", action="approval.approver", subject="refund:hr:S-E003",
                        detail={"instance": "feishu_demo", "approvers": ["feishu:ou_demo_hr_li"],
                                "error": f"Feishu refused app_secret {REAL}: code 99991663"})
        [row] = [r for r in ws.ledger.list_audit(conn) if r["action"] == "approval.approver"]

    assert row["detail"]["approvers"] == ["feishu:ou_demo_hr_li"]
    assert row["detail"]["instance"] == "feishu_demo"
    assert REAL not in json.dumps(row["detail"])
    assert row["detail"]["error"] == "Feishu refused app_secret ***: code 99991663"


def test_a_short_value_standing_alone_is_still_masked_but_not_inside_an_identifier():
    register_secret(SHORT)

    assert redact("login with demo refused") == "login with *** refused"
    assert redact("https://svc:demo@hr.example.com/x?key=demo&y=1") == "https://svc:***@hr.example.com/x?key=***&y=1"
    assert redact('{"secret": "demo"}') == '{"secret": "***"}'
    assert redact("feishu:ou_demo_hr_li feishu_demo demo-encrypt-key DEMO42") == (
        "feishu:ou_demo_hr_li feishu_demo demo-encrypt-key DEMO42")


def test_a_long_secret_containing_a_short_one_is_masked_whole():
    register_secret(SHORT)
    register_secret("demo-" + REAL)

    assert redact(f"token demo-{REAL} refused") == "token *** refused"
