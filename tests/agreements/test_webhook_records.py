"""A callback that carries records (an HRIS offboarding event) puts them in the ledger once."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import ClassVar

from trainbridge import hookimpl
from trainbridge.core.connector import Connector, ConnectorConfig
from trainbridge.core.records import (
    Separation,
    SeparationReason,
    WebhookEvent,
    WebhookReply,
    WebhookResult,
)
from trainbridge.plugins.agreements import apply_webhook


class Offboarding(Connector):
    config_model: ClassVar[type[ConnectorConfig]] = ConnectorConfig

    @hookimpl
    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookResult:
        leaver = Separation(id="hr:S-9", employee_id="E009", last_day=date(2026, 11, 20),
                            reason=SeparationReason.RESIGNATION)
        return WebhookResult(events=(WebhookEvent(event_id="evt-9", event_type="offboarding.updated",
                                                  records=(leaver,)),),
                             reply=WebhookReply(body="success"))


def test_a_callbacks_separation_enters_the_ledger_once(make_workspace):
    ws = make_workspace({})
    hr = Offboarding("hris", ConnectorConfig())
    ws.host.pm.register(hr, name="connector:hris")
    ws.host.instances["hris"] = hr

    assert apply_webhook(ws, "hris", {}, b"{}").body == "success"
    apply_webhook(ws, "hris", {}, b"{}")  # the vendor retries the same event

    with ws.ledger.transaction() as conn:
        [leaver] = list(ws.ledger.iter_records(conn, "separation"))
        assert leaver.source == "hris" and leaver.employee_id == "E009"  # type: ignore[attr-defined]
        assert ws.ledger.count_records(conn) == 1
