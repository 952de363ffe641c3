"""Refunds follow their inputs: whatever changes after a quote, the ledger, the payroll file and
``refund quote`` end in agreement, or with the proposal that will bring them there in plain view.

李娜 (E003) owes 850.00 on the seed (1700 x 12/24). Each case approves and posts that deduction,
changes one input, syncs again, and checks the difference proposed, then approves it.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.refunds.conftest import (
    TRAINEES,
    agreement,
    costs_csv,
    lines,
    put_agreements,
    separations_csv,
)
from trainbridge.cli import build_cli
from trainbridge.core.ledger import Ledger
from trainbridge.core.records import AgreementStatus
from trainbridge.core.runner import approve_proposals, sync

D = Decimal
JOBS = ["costs", "separations"]
HOTEL = "HOTEL-E003,accommodation,{amount},CNY,employee,E003,FIRE-CTRL,FIRE-CTRL-1,2025-05-10,INV-H1,住宿"


def payroll_total(tmp_path: Path, employee_id: str = "E003") -> Decimal:
    """What payroll took from the employee: deductions less credits, from the payroll file."""
    sign = {"deduction": 1, "credit": -1}
    return sum((sign[x["adjustment"]] * D(x["amount"]) for x in lines(tmp_path / "out" / "payroll.jsonl")
                if x["employee_id"] == employee_id), D("0.00"))


def proposals(ws: Any, status: str | None = None) -> list[dict[str, Any]]:
    with ws.ledger.transaction() as conn:
        return [p for kind in ("refund", "refund_credit")
                for p in ws.ledger.list_proposals(conn, kind=kind, status=status)]


def latest_quote(ws: Any) -> dict[str, Any]:
    with ws.ledger.transaction() as conn:
        rows = ws.ledger.list_decisions(conn, "refund_quote", subject="E003")
    return max(rows, key=lambda r: r["payload"]["revision"])


def cli_quote(ws: Any) -> dict[str, Any]:
    result = CliRunner().invoke(build_cli(), ["--config", str(ws.settings.path), "refund", "quote",
                                              "--employee", "E003", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output)
    return data


def approve_all_pending(ws: Any) -> None:
    pending = [p["id"] for p in proposals(ws, "pending")]
    assert approve_proposals(ws, pending, actor="hr@acme") == {p: "approved and delivered" for p in pending}


def quoted_and_posted(seed_ws: Any, tmp_path: Path, owed: str = "850.00", **files: str) -> Any:
    """The seed leaver quoted, her deduction approved and in the payroll file."""
    ws = seed_ws(**files)
    put_agreements(ws, agreement())
    assert [r.status for r in sync(ws, JOBS)] == ["ok", "ok"]
    approve_all_pending(ws)
    assert payroll_total(tmp_path) == D(owed) == D(cli_quote(ws)["amount"])
    return ws


def in_agreement(ws: Any, tmp_path: Path, amount: str) -> None:
    """Ledger, payroll file and ``refund quote`` all say ``amount``, and nothing is open."""
    data = cli_quote(ws)
    assert D(latest_quote(ws)["amount"]) == D(data["amount"]) == payroll_total(tmp_path) == D(amount)
    assert data["payroll"] == {"received": amount, "difference": "0.00", "open": []}
    assert proposals(ws, "pending") == []


def test_a_cost_voucher_corrected_after_posting_proposes_a_credit_of_the_excess(seed_ws, tmp_path):
    # With a 600.00 hotel invoice the base is 2300.00: 1150.00 owed, approved and posted.
    ws = quoted_and_posted(seed_ws, tmp_path, "1150.00", costs__csv=costs_csv(HOTEL.format(amount="600.00")))
    # Finance corrects the invoice to 100.00: the base is 1800.00, 900.00 owed, 250.00 too much taken.
    (tmp_path / "costs.csv").write_text(costs_csv(HOTEL.format(amount="100.00")), encoding="utf-8")
    costs, separations = sync(ws, JOBS)
    assert costs.counts["decisions"] == 1 and separations.counts["proposals"] == 1

    [credit] = proposals(ws, "pending")
    assert credit["id"] == "refund_credit:hr:S-E003:r2" and credit["kind"] == "refund_credit"
    assert D(credit["amount"]) == D("250.00")
    assert any("1150.00 CNY was already deducted under refund:hr:S-E003" in t for t in credit["explanation"])
    quote = latest_quote(ws)
    assert D(quote["amount"]) == D("900.00") and quote["payload"]["proposal"] == credit["id"]
    assert "Revises refund_quote:hr:S-E003 (1150.00 CNY before); inputs: changed finance:HOTEL-E003." in \
        quote["explanation"]
    # Until HR approves it, the command shows the gap and the open credit that closes it.
    data = cli_quote(ws)
    assert data["amount"] == "900.00" and data["payroll"]["received"] == "1150.00"
    assert data["payroll"]["difference"] == "-250.00"
    assert data["payroll"]["open"] == [{"id": "refund_credit:hr:S-E003:r2", "kind": "refund_credit",
                                        "amount": "250.00", "currency": "CNY", "status": "pending"}]

    approve_all_pending(ws)
    posted = lines(tmp_path / "out" / "payroll.jsonl")[-1]
    assert posted["adjustment"] == "credit" and posted["amount"] == "250.00"
    assert posted["proposal_id"] == "refund_credit:hr:S-E003:r2"
    in_agreement(ws, tmp_path, "900.00")


def test_the_cost_allocation_is_revised_with_the_inputs_it_came_from(seed_ws, tmp_path):
    ws = seed_ws(costs__csv=costs_csv(HOTEL.format(amount="600.00")))
    sync(ws, ["costs"])
    (tmp_path / "costs.csv").write_text(costs_csv(HOTEL.format(amount="100.00")), encoding="utf-8")
    [run] = sync(ws, ["costs"])
    assert run.counts["decisions"] == 1
    with ws.ledger.transaction() as conn:
        rows = {d["id"]: d for d in ws.ledger.list_decisions(conn, "cost_allocation", subject="E003")}
        [item_hash] = ws.ledger.record_hashes(conn, "cost_item", ["finance:HOTEL-E003"]).values()
    revised = rows["cost_allocation:finance:HOTEL-E003:E003:r2"]
    assert revised["payload"]["amount"] == "100.00" and revised["inputs"]["finance:HOTEL-E003"] == item_hash
    assert rows["cost_allocation:finance:HOTEL-E003:E003"]["inputs"]["finance:HOTEL-E003"] != item_hash
    assert "revises cost_allocation:finance:HOTEL-E003:E003 (600.00 before)" in revised["explanation"]
    # The instructor's share came from a group of ten: the group is an input of every share.
    share = rows["cost_allocation:finance:INSTR-1:E003"]
    assert {"finance:INSTR-1", "participants:finance:INSTR-1"} <= set(share["inputs"])


def test_a_late_travel_voucher_after_approval_proposes_the_remainder(seed_ws, tmp_path):
    ws = quoted_and_posted(seed_ws, tmp_path)
    taxi = "TAXI-E003,travel,300.00,CNY,employee,E003,FIRE-CTRL,FIRE-CTRL-1,2025-05-10,TX-9,出租车"
    (tmp_path / "costs.csv").write_text(costs_csv(taxi), encoding="utf-8")
    sync(ws, JOBS)

    [remainder] = proposals(ws, "pending")
    assert remainder["id"] == "refund:hr:S-E003:r2" and D(remainder["amount"]) == D("150.00")  # 2000/2 - 850
    assert any("new " in t and "finance:TAXI-E003" in t for t in latest_quote(ws)["explanation"])
    assert cli_quote(ws)["payroll"]["open"][0]["id"] == "refund:hr:S-E003:r2"
    approve_all_pending(ws)
    in_agreement(ws, tmp_path, "1000.00")


def test_an_agreement_voided_after_the_quote_drops_it_to_zero_and_credits_what_was_taken(seed_ws, tmp_path):
    ws = quoted_and_posted(seed_ws, tmp_path)
    put_agreements(ws, agreement(status=AgreementStatus.VOIDED))
    [run] = sync(ws, ["separations"])
    assert run.status == "ok", run.errors

    quote = latest_quote(ws)
    assert D(quote["amount"]) == 0 and quote["payload"]["quote"]["owed"] is False
    assert any("is voided, not signed: not binding" in t for t in quote["explanation"])
    [credit] = proposals(ws, "pending")
    assert credit["kind"] == "refund_credit" and D(credit["amount"]) == D("850.00")
    approve_all_pending(ws)
    in_agreement(ws, tmp_path, "0.00")


def test_a_separation_corrected_to_a_later_last_day_proposes_the_difference(seed_ws, tmp_path):
    ws = quoted_and_posted(seed_ws, tmp_path)
    (tmp_path / "separations.csv").write_text(separations_csv(last_day="2026-11-10"), encoding="utf-8")
    sync(ws, JOBS)

    assert D(latest_quote(ws)["amount"]) == D("425.00")  # 18 of 24 months served
    [credit] = proposals(ws, "pending")
    assert credit["id"] == "refund_credit:hr:S-E003:r2" and D(credit["amount"]) == D("425.00")
    approve_all_pending(ws)
    in_agreement(ws, tmp_path, "425.00")


def test_a_pending_credit_is_superseded_when_the_quote_moves_again(seed_ws, tmp_path):
    ws = quoted_and_posted(seed_ws, tmp_path)
    (tmp_path / "separations.csv").write_text(separations_csv(last_day="2026-11-10"), encoding="utf-8")
    sync(ws, JOBS)
    (tmp_path / "separations.csv").write_text(separations_csv(last_day="2026-08-10"), encoding="utf-8")
    sync(ws, JOBS)

    by_id = {p["id"]: p for p in proposals(ws)}
    superseded = by_id["refund_credit:hr:S-E003:r2"]
    assert superseded["status"] == "rejected"
    assert superseded["decision_reason"] == "superseded by refund_credit:hr:S-E003:r3"
    assert D(by_id["refund_credit:hr:S-E003:r3"]["amount"]) == D("212.50")  # 850 - 637.50 (15 of 24 served)
    with ws.ledger.transaction() as conn:
        audited = [a for a in ws.ledger.list_audit(conn) if a["subject"] == "refund_credit:hr:S-E003:r2"]
    assert [a["action"] for a in audited] == ["proposal.rejected"]
    approve_all_pending(ws)
    in_agreement(ws, tmp_path, "637.50")


def test_nothing_changed_a_second_run_proposes_nothing(seed_ws, tmp_path):
    ws = quoted_and_posted(seed_ws, tmp_path)
    again = sync(ws, JOBS)
    assert all("decisions" not in r.counts and "proposals" not in r.counts for r in again)
    in_agreement(ws, tmp_path, "850.00")


def test_an_input_that_leaves_the_quote_unchanged_is_recorded_without_a_new_proposal(seed_ws, tmp_path):
    ws = quoted_and_posted(seed_ws, tmp_path)
    # An unvouchered taxi is tracked but not refundable: the amount stays, the quote's inputs move.
    taxi = "TAXI-E003,travel,300.00,CNY,employee,E003,FIRE-CTRL,FIRE-CTRL-1,2025-05-10,,出租车"
    (tmp_path / "costs.csv").write_text(costs_csv(taxi), encoding="utf-8")
    [_, run] = sync(ws, JOBS)
    assert run.counts["decisions"] == 1 and "proposals" not in run.counts
    assert D(latest_quote(ws)["amount"]) == D("850.00")
    [third] = sync(ws, ["separations"])
    assert "decisions" not in third.counts
    in_agreement(ws, tmp_path, "850.00")


def test_the_quote_stores_every_input_it_read(seed_ws):
    ws = seed_ws()
    put_agreements(ws, agreement())
    sync(ws, ["separations"])
    inputs = latest_quote(ws)["inputs"]
    with ws.ledger.transaction() as conn:
        separation = ws.ledger.record_hashes(conn, "separation", ["hr:S-E003"])
        items = ws.ledger.record_hashes(conn, "cost_item", ["finance:FEE-E003", "finance:TRV-E003",
                                                             "finance:INSTR-1"])
    assert inputs["hr:S-E003"] == separation["hr:S-E003"]
    assert all(inputs[item] == digest for item, digest in items.items())
    assert {"agreement:lms:FIRE-CTRL-1-E003", "hr:E003", "lms:FIRE-CTRL-1", "participants:finance:INSTR-1",
            "config:separations"} <= set(inputs)
    assert "finance:FEE-E001" not in inputs  # another trainee's cost is not E003's input


@pytest.mark.parametrize("leavers", [2, 10])
def test_the_job_reads_each_kind_once_however_many_leave(seed_ws, tmp_path, monkeypatch, leavers):
    """Linear in leavers: the same number of ledger reads for 2 leavers as for 10 (issue 24)."""
    rows = "".join(f"S-{e},{e},2026-05-10,resignation,\n" for e in TRAINEES[:leavers])
    ws = seed_ws(separations__csv="separation_id,employee_id,last_day,reason,waived\n" + rows)
    put_agreements(ws, *(agreement(e) for e in TRAINEES[:leavers]))
    sync(ws, ["ingest"])
    reads: list[str] = []
    original = Ledger.iter_records

    def counting(self: Ledger, conn: Any, kind: str, *args: Any, **kw: Any) -> Any:
        reads.append(kind)
        return original(self, conn, kind, *args, **kw)

    monkeypatch.setattr(Ledger, "iter_records", counting)
    [run] = sync(ws, ["separations"])
    assert run.counts["decisions"] == leavers and run.counts["proposals"] == leavers
    once = ["agreement", "cost_item", "enrollment", "learning_event"]
    assert sorted(k for k in reads if k in [*once, "employee"]) == once  # employees: by subject, per batch
