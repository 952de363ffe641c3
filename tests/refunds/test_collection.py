"""Collecting a refund under the wage rules: payroll only with written consent, within art. 16's limits.

《工资支付暂行规定》 art. 15: nothing is withheld from wages but what the law allows (a training
refund needs the employee's written consent); art. 16: a month's deduction takes at most 20% of
the wage and leaves at least the local minimum wage. The rest is asked of the employee by notice.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from tests.refunds.conftest import agreement, employees_csv, lines, put_agreements, seed_config, seed_files
from trainbridge.core.records import Separation, SeparationReason
from trainbridge.core.runner import approve_proposals, sync
from trainbridge.plugins.refunds.collection import collect

D = Decimal
CONSENT = {"separations": {"require_deduction_consent": True, "minimum_wage": {"ACME-SH": "2690.00"}}}


def decisions_and_proposals(ws):
    with ws.ledger.transaction() as conn:
        [quote] = ws.ledger.list_decisions(conn, "refund_quote", subject="E003")
        proposals = {p["kind"]: p for p in ws.ledger.list_proposals(conn)}
    return quote, proposals


def test_850_without_written_consent_is_all_a_repayment_request():
    collection = collect(D("850.00"), "CNY", consent=None)
    assert (collection.payroll, collection.request) == (D("0.00"), D("850.00"))
    assert "no written consent" in collection.explanation[0] and "第十五条" in collection.explanation[0]
    assert [i.rule for i in collection.items] == ["collection:no_consent"]


def test_850_with_consent_and_a_final_pay_of_8000_is_all_deducted():
    # 20% of 8000 = 1600; 8000 - 2690 = 5310: neither limit bites.
    collection = collect(D("850.00"), "CNY", consent="agreement A", final_pay=D("8000.00"),
                         minimum_wage=D("2690.00"))
    assert (collection.payroll, collection.request) == (D("850.00"), D("0.00"))
    assert collection.warnings == ()


def test_20_percent_of_a_3000_final_pay_is_600_and_the_other_250_is_requested():
    collection = collect(D("850.00"), "CNY", consent="agreement A", final_pay=D("3000.00"),
                         minimum_wage=D("2000.00"))
    assert (collection.payroll, collection.request) == (D("600.00"), D("250.00"))
    assert [i.rule for i in collection.items] == ["collection:payroll", "collection:over_wage_limit"]


def test_the_minimum_wage_2690_leaves_only_210_of_a_2900_final_pay():
    # 20% of 2900 = 580, but 2900 - 2690 = 210: the minimum wage is the tighter limit.
    collection = collect(D("850.00"), "CNY", consent="agreement A", final_pay=D("2900.00"),
                         minimum_wage=D("2690.00"))
    assert (collection.payroll, collection.request) == (D("210.00"), D("640.00"))
    assert "minimum wage 2690.00" in collection.explanation[0]


def test_a_final_pay_below_the_minimum_wage_is_never_deducted_from():
    collection = collect(D("850.00"), "CNY", consent="agreement A", final_pay=D("2500.00"),
                         minimum_wage=D("2690.00"))
    assert (collection.payroll, collection.request) == (D("0.00"), D("850.00"))


def test_an_unknown_final_pay_caps_nothing_and_says_payroll_must_check():
    collection = collect(D("850.00"), "CNY", consent="agreement A", minimum_wage=D("2690.00"))
    assert (collection.payroll, collection.request) == (D("850.00"), D("0.00"))
    assert any("final pay is not known" in w and "20%" in w for w in collection.warnings)


def test_without_consent_and_the_rule_off_it_is_deducted_with_a_warning():
    collection = collect(D("850.00"), "CNY", consent=None, require_consent=False)
    assert collection.payroll == D("850.00")
    assert any("no written consent" in w for w in collection.warnings)


def test_no_consent_on_record_makes_the_850_a_repayment_request_notice(seed_ws, tmp_path):
    ws = seed_ws(jobs=CONSENT)
    put_agreements(ws, agreement())
    [run] = sync(ws, ["separations"])
    quote, proposals = decisions_and_proposals(ws)
    assert set(proposals) == {"repayment_request"}
    request = proposals["repayment_request"]
    assert (request["id"], request["amount"]) == ("repayment:hr:S-E003", D("850.00"))
    assert quote["payload"]["proposal"] is None and quote["payload"]["repayment"] == "repayment:hr:S-E003"
    assert quote["payload"]["collection"]["request"] == "850.00"
    assert any("repayment request" in line for line in request["explanation"])
    assert any("repayment request (repayment:hr:S-E003)" in s for s in run.summary)
    # The quote's own lines are unchanged: how it is collected is the proposal's business.
    assert not any(line.startswith("Collection") for line in quote["explanation"])


def test_consent_in_the_agreement_deducts_the_850_by_payroll(seed_ws):
    ws = seed_ws(jobs=CONSENT)
    put_agreements(ws, agreement(deduction_consent=True))
    sync(ws, ["separations"])
    quote, proposals = decisions_and_proposals(ws)
    assert set(proposals) == {"refund"} and proposals["refund"]["amount"] == D("850.00")
    assert quote["payload"]["repayment"] is None
    assert any("written consent (agreement agreement:lms:FIRE-CTRL-1-E003)" in line
               for line in proposals["refund"]["explanation"])


def test_consent_in_the_separation_agreement_deducts_by_payroll(seed_ws):
    ws = seed_ws(jobs=CONSENT, separations__csv="separation_id,employee_id,last_day,reason,waived\n")
    separation = Separation(id="hris:S-E003", source="hris", employee_id="E003", last_day=date(2026, 5, 10),
                            reason=SeparationReason.RESIGNATION, deduction_consent=True)
    put_agreements(ws, agreement())
    with ws.ledger.transaction() as conn:
        ws.ledger.upsert_records(conn, [separation])
    sync(ws, ["separations"])
    _, proposals = decisions_and_proposals(ws)
    assert set(proposals) == {"refund"} and proposals["refund"]["amount"] == D("850.00")
    assert any("separation agreement hris:S-E003" in line for line in proposals["refund"]["explanation"])


def test_an_approved_repayment_request_sends_the_notice_once_and_is_not_asked_again(make_workspace, tmp_path):
    seed_files(tmp_path)
    config = seed_config(**CONSENT)
    config["connectors"]["notices"] = {"type": "file_notifier", "path": "out/notices.jsonl"}
    ws = make_workspace(config)
    put_agreements(ws, agreement())
    sync(ws, ["separations"])
    result = approve_proposals(ws, ["repayment:hr:S-E003"], actor="hr@acme")
    assert result["repayment:hr:S-E003"] == "approved and delivered"
    [notice] = lines(tmp_path / "out" / "notices.jsonl")
    assert notice["id"] == "repayment:hr:S-E003" and "¥850.00" in notice["subject"]
    assert "如何支付" in notice["body"] and "按未服务的比例折算应返还 ¥850.00" in notice["body"]
    assert notice["recipients"][0]["employee_id"] == "E003"
    again = sync(ws, ["separations"])
    assert all("proposals" not in r.counts for r in again)
    assert len(lines(tmp_path / "out" / "notices.jsonl")) == 1


def test_the_850_quote_is_explained_as_data_rule_by_rule(seed_ws):
    ws = seed_ws()
    put_agreements(ws, agreement(deduction_consent=True))
    sync(ws, ["separations"])
    quote, _ = decisions_and_proposals(ws)
    items = {item["rule"]: item for item in quote["payload"]["explanation_items"]}
    assert list(items) == ["departure", "agreement", "refundable_base", "service_served", "pro_rata", "owed",
                           "total", "collection:payroll_unchecked"]
    assert items["refundable_base"]["amount"] == "1700.00"
    assert items["refundable_base"]["article"] == "Implementing Regulations art. 16"
    served = items["service_served"]["inputs"]
    assert (served["served"], served["period"], served["unit"]) == ("12", "24", "months")
    assert (items["pro_rata"]["inputs"]["fraction"], items["pro_rata"]["amount"]) == ("1/2", "850.00")
    assert items["pro_rata"]["article"] == "LCL arts. 22, 37"
    assert items["total"]["amount"] == "850.00" and items["total"]["currency"] == "CNY"
    consent = items["collection:payroll_unchecked"]["inputs"]["consent"]
    assert consent == "agreement agreement:lms:FIRE-CTRL-1-E003"


def test_a_probation_leaver_is_explained_by_the_probation_rule_at_zero(seed_ws):
    ws = seed_ws(employees__csv=employees_csv(probation_end="2026-06-01"))
    put_agreements(ws, agreement())
    sync(ws, ["separations"])
    quote, proposals = decisions_and_proposals(ws)
    [blocked] = [i for i in quote["payload"]["explanation_items"] if i["rule"].startswith("not_owed")]
    assert blocked["rule"] == "not_owed:probation" and blocked["amount"] == "0.00"
    assert proposals == {}


FINAL_PAY_CSV = ("separation_id,employee_id,last_day,reason,deduction_consent,refused_extension,final_pay\n"
                 "S-E003,E003,2026-05-10,resignation,true,,{pay}\n")


def test_a_final_pay_of_2900_in_the_people_csv_deducts_210_and_requests_640(seed_ws):
    # The separation row carries the consent and the final pay: the 2690.00 minimum wage leaves 210.00.
    ws = seed_ws(jobs=CONSENT, separations__csv=FINAL_PAY_CSV.format(pay="2900.00"))
    put_agreements(ws, agreement())
    sync(ws, ["separations"])
    quote, proposals = decisions_and_proposals(ws)
    assert proposals["refund"]["amount"] == D("210.00")
    assert proposals["repayment_request"]["amount"] == D("640.00")
    assert quote["payload"]["collection"] == {"payroll": "210.00", "request": "640.00", "warnings": []}
    rules = {i["rule"]: i for i in quote["payload"]["explanation_items"]}
    assert rules["collection:payroll"]["inputs"]["final_pay"] == "2900.00"
    assert rules["collection:over_wage_limit"]["amount"] == "640.00"
    assert any("separation agreement hr:S-E003" in line and "minimum wage 2690.00" in line
               for line in proposals["refund"]["explanation"])


def test_a_final_pay_of_3000_in_the_people_csv_caps_the_deduction_at_20_percent(seed_ws):
    jobs = {"separations": {**CONSENT["separations"], "minimum_wage": {"ACME-SH": "2000.00"}}}
    ws = seed_ws(jobs=jobs, separations__csv=FINAL_PAY_CSV.format(pay="3000.00"))
    put_agreements(ws, agreement())
    sync(ws, ["separations"])
    _, proposals = decisions_and_proposals(ws)
    assert (proposals["refund"]["amount"], proposals["repayment_request"]["amount"]) == (D("600.00"),
                                                                                         D("250.00"))


def test_a_final_pay_corrected_later_requotes_and_the_limits_count_what_was_deducted(seed_ws, tmp_path):
    ws = seed_ws(jobs=CONSENT, separations__csv=FINAL_PAY_CSV.format(pay="2900.00"))
    put_agreements(ws, agreement())
    sync(ws, ["separations"])
    approve_proposals(ws, ["refund:hr:S-E003"], actor="hr@acme")
    (tmp_path / "separations.csv").write_text(FINAL_PAY_CSV.format(pay="3000.00"), encoding="utf-8")
    sync(ws, ["separations"])
    with ws.ledger.transaction() as conn:
        quotes = ws.ledger.list_decisions(conn, "refund_quote", subject="E003")
    latest = max(quotes, key=lambda q: q["payload"]["revision"])
    # 3000 - 2690 = 310 may go; 210 already went: 100 more by payroll, 540 asked of her.
    assert latest["payload"]["collection"] == {"payroll": "100.00", "request": "540.00", "warnings": []}
    with ws.ledger.transaction() as conn:
        remainder = ws.ledger.get_proposal(conn, latest["payload"]["proposal"])
    assert remainder["amount"] == D("100.00")
    assert any("210.00 was already deducted from it" in line for line in remainder["explanation"])


def test_the_people_csv_reads_final_pay_consent_and_refused_extension(seed_ws):
    ws = seed_ws(separations__csv=FINAL_PAY_CSV.format(pay="8000.00"))
    sync(ws, ["ingest"])
    with ws.ledger.transaction() as conn:
        separation = ws.ledger.get_record(conn, "separation", "hr:S-E003")
    assert separation.final_pay == D("8000.00") and separation.deduction_consent
    assert separation.refused_extension is False
