"""The review's refund cases (/work/notes/review.md), each a test named after the case.

The seed story of :mod:`tests.refunds.conftest`: 李娜 (E003) owes 850.00 under her first agreement
(1700 x 12/24) and, in the retake cases, 1125.00 under the second (1500 x 18/24).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from tests.refunds.conftest import agreement, put_agreements, seed_config, seed_files
from tests.refunds.test_hr_cases import retake_agreement, retake_files
from trainbridge.core.runner import sync

D = Decimal
LIMITS = {"require_deduction_consent": True, "minimum_wage": {"ACME-SH": "2690.00"}}


def separations(final_pay: str = "8000.00", last_day: str = "2026-05-10") -> str:
    return ("separation_id,employee_id,last_day,reason,final_pay\n"
            f"S-E003,E003,{last_day},resignation,{final_pay}\n")


def proposals(ws) -> dict[str, dict]:
    with ws.ledger.transaction() as conn:
        return {p["kind"]: p for p in ws.ledger.list_proposals(conn)}


def quotes(ws, employee_id: str = "E003") -> list[dict]:
    with ws.ledger.transaction() as conn:
        return ws.ledger.list_decisions(conn, "refund_quote", subject=employee_id)


# --- 1. one agreement's consent does not reach another agreement's refund ------------------------


def test_consent_in_the_first_agreement_deducts_its_850_and_the_retakes_1125_is_requested(seed_ws):
    ws = seed_ws(jobs={"separations": LIMITS}, separations__csv=separations("8000.00"), **retake_files())
    put_agreements(ws, agreement(session_id="FIRE-CTRL-1", deduction_consent=True),
                   retake_agreement(session_id="FIRE-CTRL-2"))
    [run] = sync(ws, ["separations"])
    assert run.status == "ok", run.errors
    found = proposals(ws)
    # 20% of 8000 = 1600 would fit 1600.00 of the 1975.00: only S1's 850.00 has written consent.
    assert found["refund"]["amount"] == D("850.00")
    assert found["repayment_request"]["amount"] == D("1125.00")
    text = "\n".join(found["refund"]["explanation"])
    assert "1125.00 CNY is owed under agreement agreement:lms:FIRE-CTRL-2-E003 without the employee's " \
           "written consent" in text
    [quote] = quotes(ws)
    rules = [i["rule"] for i in quote["payload"]["explanation_items"] if i["rule"].startswith("collection")]
    assert rules == ["collection:payroll", "collection:no_consent"]


def test_consent_in_both_agreements_is_capped_at_20_percent_of_the_total_deducted(seed_ws):
    # 1975.00 owed, all with consent; 20% of 3000 = 600; 3000 - 2000 (minimum) = 1000: 600 in all.
    jobs = {"separations": {**LIMITS, "minimum_wage": {"ACME-SH": "2000.00"}}}
    ws = seed_ws(jobs=jobs, separations__csv=separations("3000.00"), **retake_files())
    put_agreements(ws, agreement(session_id="FIRE-CTRL-1", deduction_consent=True),
                   retake_agreement(session_id="FIRE-CTRL-2", deduction_consent=True))
    sync(ws, ["separations"])
    found = proposals(ws)
    assert (found["refund"]["amount"], found["repayment_request"]["amount"]) == (D("600.00"), D("1375.00"))


def test_consent_only_in_the_retake_deducts_at_most_its_1125_within_the_wage_limits(seed_ws):
    # S2 consents (1125.00); 20% of 3000 = 600 bites; S1's 850 and the other 525 are requested.
    jobs = {"separations": {**LIMITS, "minimum_wage": {"ACME-SH": "2000.00"}}}
    ws = seed_ws(jobs=jobs, separations__csv=separations("3000.00"), **retake_files())
    put_agreements(ws, agreement(session_id="FIRE-CTRL-1"),
                   retake_agreement(session_id="FIRE-CTRL-2", deduction_consent=True))
    sync(ws, ["separations"])
    found = proposals(ws)
    assert (found["refund"]["amount"], found["repayment_request"]["amount"]) == (D("600.00"), D("1375.00"))


# --- 2. the signing day is the tenant's ---------------------------------------------------------


def shanghai_ws(make_workspace, tmp_path, **jobs):
    seed_files(tmp_path, separations__csv=separations(last_day="2026-06-01"))
    config = seed_config(**jobs)
    config["tenant"] = {"id": f"t{uuid.uuid4().hex[:12]}", "timezone": "Asia/Shanghai"}
    return make_workspace(config)


def test_signed_at_20_00_utc_on_june_1_is_june_2_in_shanghai_after_the_last_day_and_binds_nobody(
        make_workspace, tmp_path):
    ws = shanghai_ws(make_workspace, tmp_path)
    put_agreements(ws, agreement(signed_at=datetime(2026, 6, 1, 20, 0, tzinfo=UTC)))
    sync(ws, ["separations"])
    [quote] = quotes(ws)
    assert D(quote["amount"]) == 0 and "refund" not in proposals(ws)
    assert "was signed on 2026-06-02, after the last day 2026-06-01: it binds nobody" in \
           "\n".join(quote["explanation"])


def test_signed_at_15_00_utc_on_june_1_is_still_june_1_in_shanghai_and_binds(make_workspace, tmp_path):
    ws = shanghai_ws(make_workspace, tmp_path)
    put_agreements(ws, agreement(signed_at=datetime(2026, 6, 1, 15, 0, tzinfo=UTC)))  # 23:00 Beijing
    sync(ws, ["separations"])
    [quote] = quotes(ws)
    assert D(quote["amount"]) > 0 and "(signed 2026-06-01)" in "\n".join(quote["explanation"])


def test_the_ledger_quote_reads_the_signing_day_in_the_tenants_zone_too(make_workspace, tmp_path):
    from trainbridge.plugins.refunds import quote_from_ledger

    ws = shanghai_ws(make_workspace, tmp_path)
    put_agreements(ws, agreement(signed_at=datetime(2026, 6, 1, 20, 0, tzinfo=UTC)))
    sync(ws, ["ingest"])
    [answer] = quote_from_ledger(ws, "E003")
    assert answer.quote.amount == 0
    [late] = [i for i in answer.quote.items if i.rule == "agreement:signed_after_last_day"]
    assert dict(late.inputs) == {"agreement_id": "agreement:lms:FIRE-CTRL-1-E003", "program_id": "FIRE-CTRL",
                                 "signed_on": "2026-06-02", "last_day": "2026-06-01"}
    assert date.fromisoformat(late.inputs["signed_on"]) > date(2026, 6, 1)


# --- 3. an imported agreement's service_end is its inclusive last day -------------------------


PAPER = {"agreement_id": "paper-S1-E003", "employee_id": "E003", "program_id": "FIRE-CTRL",
         "session_id": "FIRE-CTRL-1", "template_id": "paper", "template_version": "1",
         "service_start": "2025-05-11", "status": "signed", "signed_at": "2025-05-03T10:00:00+08:00"}


def paper_ws(make_workspace, tmp_path, **period):
    import json

    seed_files(tmp_path, agreements__jsonl=json.dumps({**PAPER, **period}) + "\n")
    config = seed_config()
    config["connectors"]["lms"]["agreements"] = "agreements.jsonl"
    ws = make_workspace(config)
    sync(ws, ["ingest", "separations"])
    return ws


def test_a_paper_agreement_of_24_months_ending_2027_05_10_inclusive_owes_850_00_not_848_82(
        make_workspace, tmp_path):
    ws = paper_ws(make_workspace, tmp_path, service_months=24, service_end="2027-05-10")
    [quote] = quotes(ws)
    assert D(quote["amount"]) == D("850.00")
    assert quote["payload"]["quote"]["lines"][0]["period"] == "24"


def test_a_paper_agreement_with_only_its_inclusive_last_day_or_only_its_months_owes_850_00(
        make_workspace, tmp_path):
    for period in ({"service_end": "2027-05-10"}, {"service_months": 24}):
        ws = paper_ws(make_workspace, tmp_path, **period)
        [quote] = quotes(ws)
        assert D(quote["amount"]) == D("850.00"), period


def test_a_paper_agreement_whose_last_day_and_months_disagree_is_quarantined_naming_both(
        make_workspace, tmp_path):
    # 2027-05-11 is the day after 24 months: as an inclusive last day it says 24 months and a day.
    ws = paper_ws(make_workspace, tmp_path, service_months=24, service_end="2027-05-11")
    with ws.ledger.transaction() as conn:
        [entry] = ws.ledger.list_quarantine(conn)
        assert ws.ledger.get_record(conn, "agreement", "lms:paper-S1-E003") is None
    assert "line 1" in entry["reason"]
    assert "service_end 2027-05-11 and service_months 24 disagree: 24 months from 2025-05-11 end on " \
           "2027-05-10 (service_end is the inclusive last day)" in entry["reason"]


def test_an_envelope_whose_last_day_and_months_disagree_is_quarantined_naming_both():
    from trainbridge.connectors.esign_agreements import add_agreement
    from trainbridge.core.records import Page

    terms = {"employee_id": "E003", "program_id": "FIRE-CTRL", "service_start": "2025-05-11",
             "service_months": "24", "service_last_day": "2027-05-11"}
    page = Page()
    moment = datetime(2025, 5, 3, 2, 0, tzinfo=UTC)
    assert add_agreement(page, instance="ds", vendor="DocuSign", envelope_id="ENV-1", terms=terms,
                         signed_at=moment, raw={}, docs="docs/connectors/docusign.md") is None
    [reject] = page.rejects
    assert "service_last_day 2027-05-11 and service_months 24 disagree" in reject.reason
    agreeing = {**terms, "service_last_day": "2027-05-10"}
    record = add_agreement(page, instance="ds", vendor="DocuSign", envelope_id="ENV-2", terms=agreeing,
                           signed_at=moment, raw={}, docs="docs/connectors/docusign.md")
    assert record is not None and record.service_end == date(2027, 5, 11) and record.service_months == 24


# --- 4. repayment payments: whole cents, more than 0; nothing open after a waiver ---------------


def asked_ws(make_workspace, tmp_path):
    from trainbridge.core.runner import approve_proposals

    seed_files(tmp_path)
    config = seed_config(separations={"require_deduction_consent": True})
    config["connectors"]["notices"] = {"type": "file_notifier", "path": "out/notices.jsonl"}
    ws = make_workspace(config)
    put_agreements(ws, agreement())
    sync(ws, ["separations"])
    approve_proposals(ws, ["repayment:hr:S-E003"], actor="hr@acme")
    return ws


def refund_cli(ws, *args):
    from click.testing import CliRunner

    from trainbridge.cli import build_cli

    return CliRunner().invoke(build_cli(), ["--config", str(ws.settings.path), "refund", *args])


def test_a_payment_of_0_001_or_0_or_10_005_is_refused_and_nothing_is_recorded(make_workspace, tmp_path):
    ws = asked_ws(make_workspace, tmp_path)
    for amount in ("0.001", "0", "10.005", "-5"):
        result = refund_cli(ws, "settle", "repayment:hr:S-E003", "--amount", amount, "--on", "2026-06-01")
        assert result.exit_code == 2, (amount, result.output)
        assert "Traceback" not in result.output
    assert "more than 2 decimals" in refund_cli(ws, "settle", "repayment:hr:S-E003", "--amount", "0.001",
                                                "--on", "2026-06-01").output
    assert "more than 0" in refund_cli(ws, "settle", "repayment:hr:S-E003", "--amount", "0",
                                       "--on", "2026-06-01").output
    with ws.ledger.transaction() as conn:
        assert ws.ledger.list_decisions(conn, "repayment_payment") == []


def test_a_waived_request_refuses_a_later_payment_and_shows_nothing_open(make_workspace, tmp_path):
    import json

    ws = asked_ws(make_workspace, tmp_path)
    paid = refund_cli(ws, "settle", "repayment:hr:S-E003", "--amount", "100", "--on", "2026-06-01")
    assert paid.exit_code == 0, paid.output
    assert refund_cli(ws, "waive", "repayment:hr:S-E003", "--reason", "hardship").exit_code == 0
    late = refund_cli(ws, "settle", "repayment:hr:S-E003", "--amount", "10", "--on", "2026-06-07")
    assert late.exit_code == 2 and "was waived by HR (hardship): nothing is open on it" in late.output
    [data] = json.loads(refund_cli(ws, "repayments", "--json").output)
    assert (data["status"], data["paid"], data["remaining"], data["waived_amount"]) == \
        ("waived", "100.00", "0.00", "750.00")


# --- 5. a last day still to come is quoted, proposed when the day has come ----------------------


def test_a_leaver_whose_last_day_is_in_six_months_is_quoted_and_proposed_only_on_that_day(seed_ws):
    # The demo's E007: notice given, last day 2026-05-10, the job runs half a year before it.
    ws = seed_ws(jobs={"separations": {"require_deduction_consent": True}})
    put_agreements(ws, agreement())
    [early] = sync(ws, ["separations"], today=date(2025, 11, 10))
    [quote] = quotes(ws)
    assert D(quote["amount"]) == D("850.00") and quote["payload"]["held"] is True
    assert proposals(ws) == {}
    assert any("李娜 (E003) leaves on 2026-05-10 (resignation): owes 850.00 CNY under 1 agreement; nothing "
               "is proposed before the last day" in line for line in early.summary)
    assert not any(" left " in line for line in early.summary)
    assert "The last day 2026-05-10 is still to come (today is 2025-11-10)" in "\n".join(quote["explanation"])
    # Nothing changes on the eve of the day ...
    sync(ws, ["separations"], today=date(2026, 5, 9))
    assert proposals(ws) == {} and len(quotes(ws)) == 1
    # ... and on the day the repayment request is proposed, worded as past.
    [day] = sync(ws, ["separations"], today=date(2026, 5, 10))
    assert set(proposals(ws)) == {"repayment_request"}
    assert proposals(ws)["repayment_request"]["amount"] == D("850.00")
    assert any("李娜 (E003) left 2026-05-10" in line for line in day.summary)
    [released] = [q for q in quotes(ws) if q["id"].endswith(":r2")]
    assert "The last day 2026-05-10 has come" in "\n".join(released["explanation"])
    assert all("proposals" not in r.counts for r in sync(ws, ["separations"], today=date(2026, 5, 11)))


def test_a_leaver_owing_nothing_is_summarised_without_0_agreements(seed_ws):
    ws = seed_ws()
    [run] = sync(ws, ["separations"])
    assert any("李娜 (E003) left 2026-05-10 (resignation): owes nothing (no signed agreement binds)" in line
               for line in run.summary)
    assert not any("0 agreement" in line for line in run.summary)


# --- 17. the repayment request reads wholly in the employee's language --------------------------


def notice_of(make_workspace, tmp_path, language: str = "") -> dict:
    import json

    from trainbridge.core.runner import approve_proposals

    people = None
    if language:
        from tests.refunds.conftest import employees_csv

        rows = employees_csv().splitlines()
        people = "\n".join([rows[0] + ",language"] + [r + f",{language}" for r in rows[1:]]) + "\n"
    seed_files(tmp_path, **({"employees__csv": people} if people else {}))
    config = seed_config(separations={"require_deduction_consent": True})
    config["connectors"]["notices"] = {"type": "file_notifier", "path": "out/notices.jsonl"}
    ws = make_workspace(config)
    put_agreements(ws, agreement(signed_at=datetime(2025, 5, 3, 2, 0, tzinfo=UTC)))
    sync(ws, ["separations"])
    approve_proposals(ws, ["repayment:hr:S-E003"], actor="hr@acme")
    [notice] = [json.loads(x) for x in (tmp_path / "out" / "notices.jsonl").read_text("utf-8").splitlines()]
    return notice


def test_the_repayment_request_to_a_chinese_reader_is_all_chinese_with_no_internal_ids(
        make_workspace, tmp_path):
    import re

    notice = notice_of(make_workspace, tmp_path)
    body = notice["body"]
    assert notice["language"] == "zh" and notice["subject"] == "培训费用返还通知：请返还 ¥850.00"
    assert "李娜，您好" in body and "您已于2026年5月10日离职（主动辞职）" in body
    assert "培训协议签署于2025年5月3日，服务期2025年5月11日至2027年5月10日（24个月），您已服务12个月" in body
    assert "可返还的培训费用 ¥1,700.00，按未服务的比例折算应返还 ¥850.00" in body
    assert "未经您书面同意，培训费用不得从工资中扣除" in body
    assert "如何支付：请将 ¥850.00 转账至人力资源部告知的公司账户" in body and "工号 E003" in body
    assert "《劳动合同法》第二十二条" in body and "《工资支付暂行规定》第十五条" in body
    assert re.search(r"[A-Za-z]{2,}", body) is None, body  # no English word, no ledger id
    assert not any(tag in body for tag in ("agreement:", "finance:", "repayment:", "hr:S-E003"))


def test_the_repayment_request_to_an_english_reader_is_in_english(make_workspace, tmp_path):
    notice = notice_of(make_workspace, tmp_path, language="en")
    body = notice["body"]
    assert notice["language"] == "en" and notice["subject"] == "Training cost repayment: please repay ¥850.00"
    assert "You left on 2026-05-10 (resignation)" in body and "you served 12 months" in body
    assert "How to pay: transfer ¥850.00" in body and "Wages art. 15" in body
    names = body.replace("消防设施操作员(消防中控)上岗证书培训", "").replace("李娜", "")  # name, title
    assert "Dear 李娜," in body and not any("\u4e00" <= ch <= "\u9fff" for ch in names), body


# --- 8, 9. the console's what-if quote: the late agreement explained, months as months and days ---


def rendered(quote, language: str) -> list[str]:
    from trainbridge.web.explain import render_items
    from trainbridge.web.local import Local

    return [r["text"] for r in render_items([i.as_json() for i in quote.items], Local(language))]


def test_the_what_if_quote_explains_an_agreement_signed_after_the_last_day_in_chinese_and_english(seed_ws):
    from trainbridge.plugins.refunds import quote_from_ledger

    ws = seed_ws()
    put_agreements(ws, agreement(signed_at=datetime(2026, 12, 5, 2, 0, tzinfo=UTC)))
    sync(ws, ["ingest"])
    [answer] = quote_from_ledger(ws, "E003", date(2026, 12, 1), "resignation")
    assert [i.rule for i in answer.quote.items] == ["departure", "agreement:signed_after_last_day",
                                                     "no_agreement"]
    zh, en = rendered(answer.quote, "zh"), rendered(answer.quote, "en")
    assert "培训项目 FIRE-CTRL 的培训协议签署于 2026年12月5日，晚于最后工作日 2026年12月1日：" \
           "对已离职的员工没有约束力，不计算返还。" in zh, zh
    assert "The agreement for program FIRE-CTRL was signed on 5 Dec 2026, after the last day 1 Dec 2026: " \
           "it binds nobody who had already left; not quoted." in en, en
    assert "No signed agreement with a service period: nothing is owed." in en


def test_the_console_shows_12_months_and_6_days_served_not_378_31(seed_ws):
    from trainbridge.plugins.refunds import quote_from_ledger

    ws = seed_ws()
    put_agreements(ws, agreement())
    sync(ws, ["ingest"])
    # 12 months to 2026-05-11, then 6 of the 31 days to 2026-06-11: served 378/31 months
    [answer] = quote_from_ledger(ws, "E003", date(2026, 5, 16), "resignation")
    [served] = [i for i in answer.quote.items if i.rule == "service_served"]
    assert served.inputs["served"] == "378/31"
    zh, en = rendered(answer.quote, "zh"), rendered(answer.quote, "en")
    assert any("服务期 24个月，已服务 12个月又6天，未服务 11个月又25天" in line for line in zh), zh
    assert any("Served 12 months and 6 days of 24 months" in line for line in en), en
    assert not any("/31" in line for line in zh + en)


# --- 6, 7, 19. the calculator: whole cents, every rule the ledger applies, currencies upper-cased --


def calculator(*args: str):
    from click.testing import CliRunner

    from trainbridge.cli import build_cli

    base = ["refund", "quote", "--cost", "1700", "--service-start", "2025-05-11", "--service-months", "24",
            "--last-day", "2026-05-10"]
    return CliRunner().invoke(build_cli(), [*base, *args])


def test_a_cost_of_1000_005_is_refused_not_rounded_to_a_different_base():
    from click.testing import CliRunner

    from trainbridge.cli import build_cli

    result = CliRunner().invoke(build_cli(), [
        "refund", "quote", "--cost", "1000.005", "--service-start", "2025-01-01", "--service-months", "12",
        "--last-day", "2024-12-31", "--reason", "resignation"])
    assert result.exit_code == 2 and "1000.005 has more than 2 decimals" in result.output
    assert "Total owed" not in result.output


def test_the_calculator_quotes_a_refused_extension_and_names_its_flag_when_not_refused():
    refused = calculator("--reason", "contract_end", "--refused-extension", "--json")
    assert refused.exit_code == 0, refused.output
    import json

    assert json.loads(refused.output)["amount"] == "850.00"
    ended = calculator("--reason", "contract_end")
    assert "nothing owed" in ended.output and "give --refused-extension" in ended.output
    assert "set refused_extension on the separation record" not in ended.output


def test_the_calculator_takes_the_signing_day_and_an_agreement_signed_after_the_last_day_owes_nothing():
    late = calculator("--reason", "resignation", "--signed-on", "2026-05-11")
    assert late.exit_code == 0 and "nothing owed (0.00 CNY)" in late.output
    assert "was signed on 2026-05-11, after the last day 2026-05-10: it binds nobody" in late.output
    on_time = calculator("--reason", "resignation", "--signed-on", "2025-05-03")
    assert "(signed 2025-05-03)" in on_time.output and "owed: 850.00 CNY" in on_time.output


def test_the_calculator_collects_210_by_payroll_and_requests_640_with_consent_final_pay_2900_minimum_2690():
    import json

    both = calculator("--reason", "resignation", "--consent", "--final-pay", "2900", "--minimum-wage", "2690",
                      "--json")
    assert both.exit_code == 0, both.output
    collection = json.loads(both.output)["collection"]
    assert (collection["payroll"], collection["request"]) == ("210.00", "640.00")
    none = calculator("--reason", "resignation", "--no-consent")
    assert "payroll deduction: 0.00 CNY; repayment request: 850.00 CNY" in none.output
    unsaid = calculator("--reason", "resignation", "--final-pay", "2900")
    assert unsaid.exit_code == 2 and "--consent or --no-consent" in unsaid.output


def test_a_lowercase_usd_is_usd_in_the_calculator_and_in_an_imported_agreement(make_workspace, tmp_path):
    result = calculator("--reason", "resignation", "--currency", "usd")
    assert result.exit_code == 0 and "owed: 850.00 USD" in result.output and "usd" not in result.output
    assert calculator("--reason", "resignation", "--currency", "xyz").exit_code == 2
    from trainbridge.core.records import Agreement

    record = agreement(currency="cny")
    assert isinstance(record, Agreement) and record.currency == "CNY"
