"""Issue 17: the cases an HR team meets, each a test named after it (each fails on main 276d7f7)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

from tests.refunds.conftest import (
    agreement,
    catalog_jsonl,
    costs_csv,
    events_jsonl,
    put_agreements,
    separations_csv,
)
from trainbridge.core.records import Agreement, AgreementStatus
from trainbridge.core.runner import sync
from trainbridge.plugins.refunds.report import build_costs_report

D = Decimal
RETAKE_DAY = "2025-11-10"


def quotes(ws, employee_id="E003"):
    with ws.ledger.transaction() as conn:
        return ws.ledger.list_decisions(conn, "refund_quote", subject=employee_id)


def pending(ws):
    with ws.ledger.transaction() as conn:
        return ws.ledger.list_proposals(conn, kind="refund", status="pending")


def retake_files() -> dict[str, str]:
    """E003 takes FIRE-CTRL again in a second session, 1500 more (course fee, vouchered)."""
    catalog = catalog_jsonl() + "".join(json.dumps(r) + "\n" for r in [
        {"record": "session", "session_id": "FIRE-CTRL-2", "program_id": "FIRE-CTRL",
         "starts_at": f"{RETAKE_DAY}T09:00:00+08:00", "ends_at": f"{RETAKE_DAY}T17:00:00+08:00"},
        {"record": "enrollment", "enrollment_id": "FIRE-CTRL-2-E003", "employee_id": "E003",
         "program_id": "FIRE-CTRL", "session_id": "FIRE-CTRL-2", "enrolled_on": "2025-10-20",
         "status": "completed"}])
    events = events_jsonl() + json.dumps({
        "event_id": "att2-E003", "employee_id": "E003", "event": "attended",
        "occurred_at": f"{RETAKE_DAY}T09:00:00+08:00", "program_id": "FIRE-CTRL",
        "session_id": "FIRE-CTRL-2"}) + "\n"
    costs = costs_csv(f"FEE2-E003,course_fee,1500.00,CNY,employee,E003,FIRE-CTRL,FIRE-CTRL-2,{RETAKE_DAY},"
                      "INV2-E003,重训课程费")
    return {"catalog__jsonl": catalog, "events__jsonl": events, "costs__csv": costs}


def retake_agreement(**fields) -> Agreement:
    """The second agreement, from the second enrollment: 24 months from 2025-11-11, 6 served."""
    return Agreement(id="agreement:lms:FIRE-CTRL-2-E003", employee_id="E003", program_id="FIRE-CTRL",
                     template_id="service-24m", template_version="1", service_start=date(2025, 11, 11),
                     service_months=24, service_end=date(2027, 11, 11), status=AgreementStatus.SIGNED,
                     **fields)


def test_a_retake_counts_each_sessions_cost_once_under_its_own_agreement(seed_ws):
    ws = seed_ws(**retake_files())
    put_agreements(ws, agreement(session_id="FIRE-CTRL-1"), retake_agreement(session_id="FIRE-CTRL-2"))
    [run] = sync(ws, ["separations"])
    assert run.status == "ok", run.errors
    [quote] = quotes(ws)
    lines = {line["agreement_id"]: line for line in quote["payload"]["quote"]["lines"]}
    # 1700 x 12/24 = 850.00 and 1500 x 18/24 = 1125.00; not 3200 twice (3991.40 on main)
    assert lines["agreement:lms:FIRE-CTRL-1-E003"]["base"] == "1700.00"
    assert lines["agreement:lms:FIRE-CTRL-2-E003"]["base"] == "1500.00"
    assert D(quote["amount"]) == D("1975.00") <= D("3200.00")
    text = "\n".join(quote["explanation"])
    assert "course_fee 1500.00 (finance:FEE2-E003): cost of session FIRE-CTRL-2, in the base of agreement " \
           "agreement:lms:FIRE-CTRL-2-E003" in text
    [proposal] = pending(ws)
    assert D(proposal["amount"]) == D("1975.00")


def test_a_retake_recorded_before_agreements_named_their_session_takes_it_from_the_enrollment(seed_ws):
    ws = seed_ws(**retake_files())
    put_agreements(ws, agreement(), retake_agreement())  # ids agreement:{enrollment id}, no session_id
    sync(ws, ["separations"])
    [quote] = quotes(ws)
    assert [line["base"] for line in quote["payload"]["quote"]["lines"]] == ["1700.00", "1500.00"]


def test_an_agreement_signed_after_the_last_day_binds_nobody_and_the_quote_gives_the_signing_date(seed_ws):
    ws = seed_ws()
    put_agreements(ws, agreement(signed_at=datetime(2026, 5, 11, 2, 0, tzinfo=UTC)))  # the day after
    sync(ws, ["separations"])
    [quote] = quotes(ws)
    assert D(quote["amount"]) == 0 and pending(ws) == []
    assert "Agreement agreement:lms:FIRE-CTRL-1-E003 (program FIRE-CTRL) was signed on 2026-05-11, after " \
           "the last day 2026-05-10: it binds nobody" in "\n".join(quote["explanation"])


def test_an_agreement_signed_on_the_last_day_binds_and_its_explanation_gives_the_date(seed_ws):
    ws = seed_ws()
    put_agreements(ws, agreement(signed_at=datetime(2025, 5, 9, 10, 0, tzinfo=UTC)))
    sync(ws, ["separations"])
    [quote] = quotes(ws)
    assert D(quote["amount"]) == D("850.00")
    assert "[agreement:lms:FIRE-CTRL-1-E003] Agreement for program FIRE-CTRL (signed 2025-05-09)" in \
        "\n".join(quote["explanation"])


def test_contract_end_inside_the_service_period_is_extended_by_law_owes_only_if_refused(seed_ws, tmp_path):
    ws = seed_ws(separations__csv=separations_csv(reason="contract_end"))
    put_agreements(ws, agreement())
    sync(ws, ["separations"])
    [quote] = quotes(ws)
    assert D(quote["amount"]) == 0
    assert "Implementing Regulations art. 17" in quote["payload"]["quote"]["lines"][0]["article"]

    refused = ("separation_id,employee_id,last_day,reason,refused_extension\n"
               "S-E003,E003,2026-05-10,contract_end,true\n")
    (tmp_path / "separations.csv").write_text(refused, encoding="utf-8")
    sync(ws, ["separations"])
    latest = max(quotes(ws), key=lambda q: q["payload"]["revision"])
    assert D(latest["amount"]) == D("850.00")
    line = latest["payload"]["quote"]["lines"][0]
    assert "refused its extension" in line["rule"] and "art. 17" in line["article"]


def test_a_foreign_currency_cost_under_a_cny_agreement_is_a_warning_and_never_in_the_base(seed_ws):
    extra = "BOOK-E003,materials,120.00,USD,employee,E003,FIRE-CTRL,FIRE-CTRL-1,2025-05-10,INV-USD-1,教材"
    ws = seed_ws(costs__csv=costs_csv(extra))
    put_agreements(ws, agreement())
    [run] = sync(ws, ["separations"])
    [quote] = quotes(ws)
    assert D(quote["amount"]) == D("850.00")
    assert any("materials 120.00 (finance:BOOK-E003) in USD is refundable training cost but not in the "
               "agreement's CNY" in line for line in run.summary)
    # ...and `report costs` says the same: not refundable under this agreement (it said "yes" on main)
    [item] = [row for row in build_costs_report(ws).sections[0].rows if row[1] == "finance:BOOK-E003"]
    assert item[-2].startswith("no: in USD, not the agreement's CNY")

