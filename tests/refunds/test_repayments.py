"""A repayment request is followed until the leaver has paid it or HR waives the rest.

李娜 (E003) owes 850.00 and gave no written consent to a deduction: all of it is asked of her.
She pays 300.00, then 550.00; or HR waives what is left. Each step is audited in the ledger.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from click.testing import CliRunner

from tests.refunds.conftest import agreement, put_agreements, seed_config, seed_files
from trainbridge.cli import build_cli
from trainbridge.core.runner import approve_proposals, sync
from trainbridge.plugins.refunds.repayments import RepaymentError, settle_repayment, waive_repayment

D = Decimal
RID = "repayment:hr:S-E003"


@pytest.fixture
def asked(make_workspace, tmp_path):
    """E003's 850.00 asked of her by notice, approved and sent."""
    seed_files(tmp_path)
    config = seed_config(separations={"require_deduction_consent": True})
    config["connectors"]["notices"] = {"type": "file_notifier", "path": "out/notices.jsonl"}
    ws = make_workspace(config)
    put_agreements(ws, agreement())
    sync(ws, ["separations"])
    approve_proposals(ws, [RID], actor="hr@acme")
    return ws


def run(ws, *args):
    return CliRunner().invoke(build_cli(), ["--config", str(ws.settings.path), "refund", *args])


def test_a_partly_paid_repayment_request_stays_open_with_the_remainder(asked):
    request, new = settle_repayment(asked, RID, D("300.00"), date(2026, 6, 1), actor="hr@acme",
                                    reference="B-1")
    assert new and request.status == "open"
    assert (request.paid, request.remaining) == (D("300.00"), D("550.00"))
    request, _ = settle_repayment(asked, RID, D("550.00"), date(2026, 7, 1), actor="hr@acme")
    assert request.status == "settled" and request.remaining == D("0.00")
    with asked.ledger.transaction() as conn:
        audit = [a for a in asked.ledger.list_audit(conn) if a["action"] == "repayment.settled"]
        payments = asked.ledger.list_decisions(conn, "repayment_payment", subject="E003")
    assert len(audit) == 2 and {a["actor"] for a in audit} == {"hr@acme"}
    assert [p["amount"] for p in payments] == [D("300.00"), D("550.00")]
    assert "550.00 CNY remains open" in payments[0]["explanation"][0]


def test_recording_the_same_payment_twice_records_it_once(asked):
    settle_repayment(asked, RID, D("300.00"), date(2026, 6, 1), actor="hr@acme")
    request, new = settle_repayment(asked, RID, D("300.00"), date(2026, 6, 1), actor="hr@acme")
    assert not new and request.paid == D("300.00")
    with asked.ledger.transaction() as conn:
        assert len([a for a in asked.ledger.list_audit(conn) if a["action"] == "repayment.settled"]) == 1


def test_paying_more_than_is_open_is_refused(asked):
    settle_repayment(asked, RID, D("800.00"), date(2026, 6, 1), actor="hr@acme")
    with pytest.raises(RepaymentError, match="more than the 50.00 CNY still open"):
        settle_repayment(asked, RID, D("60.00"), date(2026, 6, 2), actor="hr@acme")


def test_hr_waives_the_rest_once_and_it_is_audited(asked):
    settle_repayment(asked, RID, D("300.00"), date(2026, 6, 1), actor="hr@acme")
    request, new = waive_repayment(asked, RID, "hardship: agreed with the employee", actor="hr@acme")
    assert new and request.status == "waived" and request.waived == "hardship: agreed with the employee"
    again, new = waive_repayment(asked, RID, "twice", actor="hr@acme")
    assert not new and again.waived == "hardship: agreed with the employee"
    with asked.ledger.transaction() as conn:
        [audit] = [a for a in asked.ledger.list_audit(conn) if a["action"] == "repayment.waived"]
        [waiver] = asked.ledger.list_decisions(conn, "repayment_waiver")
    assert audit["subject"] == RID and waiver["amount"] == D("550.00")
    # A waived request is not asked again by the next run.
    assert all("proposals" not in r.counts for r in sync(asked, ["separations"]))


def test_an_unknown_request_id_is_refused_naming_the_known_ones(asked):
    with pytest.raises(RepaymentError, match=f"repayment:nope is not a repayment request.*known: {RID}"):
        settle_repayment(asked, "repayment:nope", D("1.00"), date(2026, 6, 1), actor="hr@acme")
    result = run(asked, "waive", "refund:hr:S-E003", "--reason", "x")
    assert result.exit_code == 2 and "is not a repayment request" in result.output


def test_the_commands_list_settle_and_waive_in_chinese_and_english(asked):
    listed = run(asked, "repayments")
    assert listed.exit_code == 0, listed.output
    assert "未还" in listed.output and RID in listed.output and "850.00 CNY" in listed.output
    assert "未结清" in listed.output
    paid = run(asked, "settle", RID, "--amount", "300", "--on", "2026-06-01", "--by", "hr@acme")
    assert paid.exit_code == 0, paid.output
    assert "paid 300.00, open 550.00 CNY (open)" in paid.output
    same = run(asked, "settle", RID, "--amount", "300", "--on", "2026-06-01")
    assert "already recorded, nothing changed" in same.output
    english = run(asked, "repayments", "--language", "en")
    assert "open" in english.output.splitlines()[0] and "550.00" in english.output
    assert run(asked, "waive", RID, "--reason", "left the country").exit_code == 0
    data = json.loads(run(asked, "repayments", "--json").output)
    # after a waiver nothing is open: what HR gave up is the waived amount
    assert (data[0]["status"], data[0]["remaining"], data[0]["waived_amount"]) == ("waived", "0.00", "550.00")
    assert run(asked, "repayments", "--open").output.strip() == "没有还款请求。"

