"""High: an unsigned Gusto first-contact body changed process-wide state and wrote ledger rows."""

from __future__ import annotations

import json

import sqlalchemy as sa

from tests.security.conftest import csrf_of, login
from trainbridge.core.ledger import webhook_events_table
from trainbridge.core.secrets import redact

HANDSHAKE = "3c1f8a52-6b2e-4d0a-9f57-2d9b8e4c7a10"


def handshake(client, token: str):
    return client.post("/webhooks/gusto_pay", content=json.dumps({"verification_token": token}),
                       headers={"Content-Type": "application/json"})


def webhook_rows(ws) -> int:
    with ws.ledger.transaction() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(webhook_events_table)).scalar_one()


def test_an_unsigned_handshake_masks_nothing_and_writes_nothing(gusto_client):
    before = webhook_rows(gusto_client.workspace)

    answer = handshake(gusto_client, "approved by budget committee")

    assert answer.status_code == 200
    assert redact("approved by budget committee") == "approved by budget committee"
    assert webhook_rows(gusto_client.workspace) == before


def test_megabyte_handshakes_are_refused_and_kept_nowhere(gusto_client):
    for _ in range(5):
        answer = handshake(gusto_client, "A" * 900_000)
        assert answer.status_code == 401
    assert len(gusto_client.workspace.host.instances["gusto_pay"].handshake_tokens) == 0


def test_the_real_token_is_shown_once_to_an_admin(gusto_client):
    handshake(gusto_client, HANDSHAKE)
    csrf = login(gusto_client, "admin")

    page = gusto_client.get("/webhook-tokens")
    assert HANDSHAKE not in page.text  # only after asking
    shown = gusto_client.post("/webhook-tokens", data={"csrf_token": csrf, "instance": "gusto_pay"})
    again = gusto_client.post("/webhook-tokens", data={"csrf_token": csrf, "instance": "gusto_pay"})

    assert shown.status_code == 200 and HANDSHAKE in shown.text
    assert HANDSHAKE not in again.text


def test_only_admins_see_webhook_tokens(gusto_client):
    handshake(gusto_client, HANDSHAKE)
    login(gusto_client, "hr")

    page = gusto_client.get("/webhook-tokens")

    assert page.status_code == 403
    csrf = csrf_of(gusto_client.get("/").text)
    assert gusto_client.post("/webhook-tokens", data={"csrf_token": csrf, "instance": "gusto_pay"}
                             ).status_code == 403
