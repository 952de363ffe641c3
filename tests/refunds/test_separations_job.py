"""The separations job on a workspace: quote -> proposal -> HR approval -> posted once to payroll."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from tests.refunds.conftest import agreement, lines, put_agreements, separations_csv
from trainbridge.core.records import AgreementStatus, Proration
from trainbridge.core.runner import approve_proposals, sync

D = Decimal


def quotes(ws, employee_id="E003"):
    with ws.ledger.transaction() as conn:
        return ws.ledger.list_decisions(conn, "refund_quote", subject=employee_id)


def proposals(ws, **kw):
    with ws.ledger.transaction() as conn:
        return ws.ledger.list_proposals(conn, kind="refund", **kw)


def test_seed_leaver_owes_850_proposed_then_posted_once_after_approval(seed_ws, tmp_path: Path):
    ws = seed_ws()
    put_agreements(ws, agreement())
    results = sync(ws, ["costs", "separations"])
    assert [r.status for r in results] == ["ok", "ok"], [r.errors for r in results]
    assert "李娜 (E003) left 2026-05-10 (resignation): owes 850.00 CNY under 1 agreement" in \
        results[1].summary

    [quote] = quotes(ws)
    assert quote["id"] == "refund_quote:hr:S-E003" and Decimal(quote["amount"]) == D("850.00")
    assert quote["payload"]["quote"]["amount"] == "850.00"
    assert quote["payload"]["agreements"] == ["agreement:lms:FIRE-CTRL-1-E003"]
    text = "\n".join(quote["explanation"])
    assert "Refundable base 1700.00 CNY = course_fee 1000.00 (finance:FEE-E003) + instructor 200.00 " \
           "(finance:INSTR-1) + travel 500.00 (finance:TRV-E003)" in text
    assert "Served 12 of 24 months through 2026-05-10" in text and "LCL arts. 22, 37" in text

    [proposal] = proposals(ws, status="pending")
    assert proposal["id"] == "refund:hr:S-E003" and Decimal(proposal["amount"]) == D("850.00")
    payroll = tmp_path / "out" / "payroll.jsonl"
    assert lines(payroll) == []

    assert approve_proposals(ws, ["refund:hr:S-E003"], actor="hr@acme") == {
        "refund:hr:S-E003": "approved and delivered"}
    [posted] = lines(payroll)
    assert posted["id"] == "refund:hr:S-E003" and posted["adjustment"] == "deduction"
    assert posted["amount"] == "850.00" and posted["currency"] == "CNY"
    assert posted["employee_id"] == "E003" and posted["effective_date"] == "2026-05-10"
    assert posted["legal_entity"] == "ACME-SH" and posted["proposal_id"] == "refund:hr:S-E003"
    assert any("LCL art. 22" in line for line in posted["explanation"])

    again = sync(ws, ["costs", "separations"])
    assert all("decisions" not in r.counts and "proposals" not in r.counts for r in again)
    assert approve_proposals(ws, ["refund:hr:S-E003"], actor="hr@acme")["refund:hr:S-E003"].startswith(
        "not pending")
    assert len(lines(payroll)) == 1
    assert [p["status"] for p in proposals(ws)] == ["delivered"]


def test_running_the_job_twice_changes_nothing_the_second_time(seed_ws):
    ws = seed_ws()
    put_agreements(ws, agreement())
    [first] = sync(ws, ["separations"])
    [second] = sync(ws, ["separations"])
    assert first.counts["decisions"] == 1 and first.counts["proposals"] == 1
    assert "decisions" not in second.counts and "proposals" not in second.counts
    assert second.counts.get("outbox", 0) == 0 and second.summary == []


def test_the_separations_job_reads_the_costs_it_needs_itself(seed_ws):
    ws = seed_ws()
    put_agreements(ws, agreement())
    [run] = sync(ws, ["separations"])  # no costs job first: the quote still sees the 1700
    assert run.status == "ok" and Decimal(quotes(ws)[0]["amount"]) == D("850.00")


def test_an_unsigned_agreement_is_not_binding_and_nothing_is_proposed(seed_ws):
    ws = seed_ws()
    put_agreements(ws, agreement(status=AgreementStatus.SENT))
    [run] = sync(ws, ["separations"])
    [quote] = quotes(ws)
    assert Decimal(quote["amount"]) == 0 and quote["payload"]["proposal"] is None
    assert any("is sent, not signed: not binding" in t for t in quote["explanation"])
    assert "proposals" not in run.counts


def test_a_leaver_without_agreements_owes_nothing(seed_ws):
    ws = seed_ws()
    sync(ws, ["separations"])
    [quote] = quotes(ws)
    assert quote["payload"]["quote"]["owed"] is False and proposals(ws) == []


def test_leaving_for_the_employers_fault_owes_nothing(seed_ws):
    ws = seed_ws(separations__csv=separations_csv(reason="employer_fault"))
    put_agreements(ws, agreement())
    sync(ws, ["separations"])
    [quote] = quotes(ws)
    assert quote["payload"]["quote"]["owed"] is False
    assert "LCL art. 38; Implementing Regulations art. 26 para. 1" in quote["payload"]["quote"]["lines"][0][
        "article"]
    assert proposals(ws) == []


def test_a_mutual_agreement_that_waives_the_refund_owes_nothing(seed_ws):
    ws = seed_ws(separations__csv=separations_csv(reason="mutual_agreement", waived="true"))
    put_agreements(ws, agreement())
    sync(ws, ["separations"])
    assert quotes(ws)[0]["payload"]["quote"]["owed"] is False


def test_leaving_during_probation_owes_nothing_from_the_employee_record(seed_ws, tmp_path):
    from tests.refunds.conftest import employees_csv

    ws = seed_ws(employees__csv=employees_csv(probation_end="2026-06-30"))
    put_agreements(ws, agreement())
    sync(ws, ["separations"])
    assert "264号" in quotes(ws)[0]["payload"]["quote"]["lines"][0]["article"]


def test_several_agreements_make_one_proposal_with_the_total(seed_ws, tmp_path):
    ws = seed_ws(costs__csv=_with_forklift_costs())
    put_agreements(ws, agreement(),
                   agreement(program_id="LIFT", months=12, start=date(2025, 11, 11), end=date(2026, 11, 11)))
    sync(ws, ["separations"])
    [quote] = quotes(ws)
    lines_ = quote["payload"]["quote"]["lines"]
    assert [(x["agreement_id"], x["amount"]) for x in lines_] == [
        ("agreement:lms:FIRE-CTRL-1-E003", "850.00"), ("agreement:lms:LIFT-1-E003", "600.00")]
    [proposal] = proposals(ws)
    assert Decimal(proposal["amount"]) == D("1450.00")


def _with_forklift_costs() -> str:
    from tests.refunds.conftest import costs_csv

    return costs_csv("LIFT-E003,course_fee,1200.00,CNY,employee,E003,LIFT,,2025-11-10,INV-L1,叉车")


def test_clause_cap_and_day_proration_from_the_job_config(seed_ws):
    ws = seed_ws(jobs={"separations": {"proration": "day"}})
    put_agreements(ws, agreement(clause_amount=D("1700.00")))
    [run] = sync(ws, ["separations"])
    [quote] = quotes(ws)
    line = quote["payload"]["quote"]["lines"][0]
    assert line["proration"] == Proration.DAY.value and line["unit"] == "days"
    assert line["served"] == "365" and line["period"] == "730" and line["amount"] == "850.00"
    assert any("capped" in w for w in line["warnings"])
    assert any("warning:" in s and "capped" in s for s in run.summary)


def test_unvouchered_costs_enter_the_base_only_when_configured(seed_ws):
    from tests.refunds.conftest import costs_csv

    extra = "TAXI-E003,travel,300.00,CNY,employee,E003,FIRE-CTRL,FIRE-CTRL-1,2025-05-10,,出租车"
    ws = seed_ws(costs__csv=costs_csv(extra))
    put_agreements(ws, agreement())
    sync(ws, ["separations"])
    assert Decimal(quotes(ws)[0]["amount"]) == D("850.00")
    assert any("Not in the base: travel 300.00 (finance:TAXI-E003): no voucher" in t
               for t in quotes(ws)[0]["explanation"])

    ws2 = seed_ws(jobs={"separations": {"include_unvouchered": True}}, costs__csv=costs_csv(extra))
    put_agreements(ws2, agreement())
    sync(ws2, ["separations"])
    assert Decimal(quotes(ws2)[0]["amount"]) == D("1000.00")  # 2000 x 1/2


def test_a_corrected_last_day_revises_the_quote_and_replaces_the_pending_proposal(seed_ws, tmp_path):
    ws = seed_ws()
    put_agreements(ws, agreement())
    sync(ws, ["separations"])
    (tmp_path / "separations.csv").write_text(separations_csv(last_day="2026-11-10"), encoding="utf-8")
    [run] = sync(ws, ["separations"])
    assert run.counts["decisions"] == 1 and run.counts["proposals"] == 1
    by_id = {p["id"]: p for p in proposals(ws)}
    assert by_id["refund:hr:S-E003"]["status"] == "rejected"
    assert by_id["refund:hr:S-E003"]["decision_reason"] == "superseded by refund:hr:S-E003:r2"
    assert by_id["refund:hr:S-E003:r2"]["status"] == "pending"
    assert Decimal(by_id["refund:hr:S-E003:r2"]["amount"]) == D("425.00")  # 18 of 24 months served


def test_a_correction_after_posting_proposes_only_the_difference(seed_ws, tmp_path):
    ws = seed_ws()
    put_agreements(ws, agreement())
    sync(ws, ["separations"])
    approve_proposals(ws, ["refund:hr:S-E003"], actor="hr@acme")
    (tmp_path / "separations.csv").write_text(separations_csv(last_day="2026-02-10"), encoding="utf-8")
    sync(ws, ["separations"])
    [delta] = proposals(ws, status="pending")
    assert delta["id"] == "refund:hr:S-E003:r2" and Decimal(delta["amount"]) == D("212.50")  # 1062.50 - 850
    assert any("850.00 CNY was already deducted under refund:hr:S-E003" in t for t in delta["explanation"])
    approve_proposals(ws, [delta["id"]], actor="hr@acme")
    assert [(p["id"], p["amount"]) for p in lines(tmp_path / "out" / "payroll.jsonl")] == [
        ("refund:hr:S-E003", "850.00"), ("refund:hr:S-E003:r2", "212.50")]


def test_a_correction_below_what_was_posted_proposes_a_credit_of_the_excess(seed_ws, tmp_path):
    ws = seed_ws()
    put_agreements(ws, agreement())
    sync(ws, ["separations"])
    approve_proposals(ws, ["refund:hr:S-E003"], actor="hr@acme")
    (tmp_path / "separations.csv").write_text(separations_csv(reason="employer_fault"), encoding="utf-8")
    [run] = sync(ws, ["separations"])
    assert run.status == "ok", run.errors
    assert proposals(ws, status="pending") == []
    with ws.ledger.transaction() as conn:
        [credit] = ws.ledger.list_proposals(conn, kind="refund_credit")
    assert credit["id"] == "refund_credit:hr:S-E003:r2" and Decimal(credit["amount"]) == D("850.00")
    assert credit["status"] == "pending"
    assert credit["summary"].startswith("pay back 850.00 CNY to 李娜 (E003)")


def test_an_agreement_with_no_refund_policy_is_retried_on_the_next_run(seed_ws):
    ws = seed_ws()
    put_agreements(ws, agreement(jurisdiction="atlantis"))
    [first] = sync(ws, ["separations"])
    assert first.status == "partial"
    assert any("separation hr:S-E003 of E003 not quoted: no refund policy for jurisdiction 'atlantis'" in e
               for e in first.errors)
    put_agreements(ws, agreement())  # fixed: the same agreement, jurisdiction prc
    [second] = sync(ws, ["separations"])
    assert second.status == "ok" and Decimal(quotes(ws)[0]["amount"]) == D("850.00")
    [third] = sync(ws, ["separations"])
    assert "decisions" not in third.counts


def test_a_dry_run_quotes_and_proposes_but_writes_nothing(seed_ws):
    ws = seed_ws()
    put_agreements(ws, agreement())
    [run] = sync(ws, ["separations"], dry_run=True)
    assert any("would propose refund refund:hr:S-E003: deduct 850.00 CNY from 李娜 (E003)" in x
               for x in run.plan_lines)
    assert quotes(ws) == [] and proposals(ws) == []


def test_agreements_in_two_currencies_are_quoted_and_proposed_apart(seed_ws):
    from tests.refunds.conftest import costs_csv

    ws = seed_ws(costs__csv=costs_csv("HK-E003,course_fee,800.00,HKD,employee,E003,HK-SAFETY,,2025-11-10,"
                                      "INV-HK1,"))
    put_agreements(ws, agreement(), agreement(program_id="HK-SAFETY", months=12, start=date(2025, 11, 11),
                                              end=date(2026, 11, 11), currency="HKD"))
    sync(ws, ["separations"])
    assert sorted((p["id"], p["amount"], p["currency"]) for p in proposals(ws)) == [
        ("refund:hr:S-E003:prc:CNY", D("850.00"), "CNY"), ("refund:hr:S-E003:prc:HKD", D("400.00"), "HKD")]


def test_a_run_with_many_leavers_tells_the_first_ones_and_counts_the_rest(seed_ws, monkeypatch):
    """A run's summary (kept in tb_runs, printed by sync) tells SUMMARY_LEAVERS leavers line by
    line; 100,000 leavers would make it 400,000 lines. Each quote is in the ledger all the same."""
    from trainbridge.plugins.refunds import separations_job

    monkeypatch.setattr(separations_job, "SUMMARY_LEAVERS", 1)
    rows = "".join(f"S-{e},{e},2026-05-10,resignation,\n" for e in ("E003", "E004", "E005"))
    ws = seed_ws(separations__csv="separation_id,employee_id,last_day,reason,waived\n" + rows)
    put_agreements(ws, agreement("E003"), agreement("E004"), agreement("E005"))
    [run] = sync(ws, ["separations"])
    assert all(len(quotes(ws, e)) == 1 for e in ("E003", "E004", "E005")) and len(proposals(ws)) == 3
    told = [line for line in run.summary if line.startswith(("李娜", "trainee"))]
    assert len(told) == 1 and told[0].startswith("李娜 (E003) left 2026-05-10")
    assert run.summary[-1].startswith("... and 2 more leaver(s) quoted, with 4 warning(s) among them: "
                                      "each quote, its reasons and warnings are in the ledger")
