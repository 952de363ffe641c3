"""The US refund policies case by case: ``us`` (pro rata, FLSA), ``us-xx`` (a state's note), ``us-ca``."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from trainbridge.core.manager import PluginHost
from trainbridge.core.records import Agreement, AgreementStatus, CostAllocation, CostCategory, Employee
from trainbridge.core.records import SeparationReason as R
from trainbridge.plugins.refunds.policy import quote_leaver
from trainbridge.plugins.refunds.separations_job import SeparationsConfig
from trainbridge.plugins.refunds.us import CredentialConfig, credential_for, localized
from trainbridge.rules.costs import AllocationLine
from trainbridge.rules.refunds import Departure, ServiceTerms
from trainbridge.rules.refunds_us import (
    US_CA_POLICY,
    US_POLICY,
    CredentialTerms,
    flsa_deduction_cap,
    quote_us_ca,
    us_policy,
)

D = Decimal
START = date(2026, 2, 1)
AFTER_AB692 = date(2026, 1, 20)
MIDWAY = date(2027, 1, 31)  # 12 of 24 months served
SECURITY_PLUS = CredentialTerms("CompTIA Security+", transferable=True, offered_separately=True,
                                condition_of_employment=False, repayment_amount=D("1700.00"), prorated=True,
                                accelerated=False, owed_on_termination=False)


def terms(base: str = "1700.00", entered_on: date | None = AFTER_AB692, **kw: object) -> ServiceTerms:
    return ServiceTerms.for_months(str(kw.pop("agreement_id", "A1")), D(base), START, 24, currency="USD",
                                   program_id="SEC-PLUS", entered_on=entered_on, **kw)


def leaving(reason: R = R.RESIGNATION, last_day: date = MIDWAY, **kw: object) -> Departure:
    return Departure(last_day=last_day, reason=reason, **kw)


def text(quote) -> str:
    return "\n".join(quote.explanation)


# --- the hook --------------------------------------------------------------------------


def test_the_refund_policy_hook_answers_us_us_ca_and_a_states_us_xx():
    host = PluginHost.create()
    assert host.refund_policy("us") is US_POLICY
    assert host.refund_policy("US-CA") is US_CA_POLICY
    texas = host.refund_policy("us-tx")
    assert (texas.jurisdiction, texas.state) == ("us-tx", "TX")
    assert us_policy("us-zz") is None and us_policy("usa") is None
    assert host.refund_policy("prc").jurisdiction == "prc"


# --- us --------------------------------------------------------------------------------


def test_us_resignation_after_12_of_24_months_owes_850_pro_rata_as_agreed():
    quote = US_POLICY.quote(leaving(), [terms()])
    assert quote.owed and quote.amount == D("850.00") and quote.currency == "USD"
    [line] = quote.lines
    assert (line.served, line.unserved, line.amount) == (12, 12, D("850.00"))
    assert line.article == "the agreement (policy us: pro rata as agreed)"
    explanation = text(quote)
    assert explanation.startswith("Policy us: United States, pro rata repayment as agreed")
    assert "Pro rata: 1700.00 x 12 / 24 = 1700.00 x 1/2 = 850.00 USD" in explanation


def test_us_flags_that_the_deduction_needs_the_final_pay_figure_under_the_flsa():
    quote = US_POLICY.quote(leaving(), [terms()])
    explanation = text(quote)
    assert "29 CFR 531.35" in explanation and "29 U.S.C. 206" in explanation
    assert "needs the final-pay figure" in explanation
    assert any("needs the final-pay figure" in w and "29 CFR 531.35" in w for w in quote.warnings)
    # Without a state, the quote says it did not check the state's final-pay rules.
    assert any("does not know the state" in w for w in quote.warnings)


def test_us_tx_adds_the_texas_payday_law_note_on_final_pay_deductions():
    quote = us_policy("us-tx").quote(leaving(), [terms()])
    assert quote.amount == D("850.00")
    assert text(quote).startswith("Policy us-tx:")
    assert any("Tex. Lab. Code 61.018" in w and "written authorization" in w for w in quote.warnings)
    assert not any("does not know the state" in w for w in quote.warnings)


def test_us_nothing_owed_needs_no_final_pay_note():
    quote = US_POLICY.quote(leaving(R.NO_FAULT_DISMISSAL), [terms()])
    assert not quote.owed and quote.amount == D("0.00") and quote.warnings == ()
    assert "Nothing owed: the employer ended the employment without cause" in text(quote)


@pytest.mark.parametrize("reason", [R.NO_FAULT_DISMISSAL, R.EMPLOYER_FAULT, R.CONTRACT_END, R.RETIREMENT,
                                    R.DEATH])
def test_us_claims_only_on_resignation_mutual_agreement_or_dismissal_for_cause(reason):
    assert US_POLICY.quote(leaving(reason), [terms()]).amount == D("0.00")


@pytest.mark.parametrize("reason", [R.RESIGNATION, R.DISMISSAL_FOR_CAUSE, R.MUTUAL_AGREEMENT])
def test_us_owes_on_a_separation_the_repayment_term_covers(reason):
    assert US_POLICY.quote(leaving(reason), [terms()]).amount == D("850.00")


def test_us_a_waived_mutual_agreement_owes_nothing():
    quote = US_POLICY.quote(leaving(R.MUTUAL_AGREEMENT, waived=True), [terms()])
    assert quote.amount == D("0.00") and "waives the repayment" in text(quote)


def test_us_a_smaller_agreed_sum_wins_and_a_larger_one_is_cut_to_the_share_with_a_warning():
    smaller = US_POLICY.quote(leaving(), [terms(clause_amount=D("500.00"))])
    assert smaller.amount == D("500.00") and "the agreed sum is owed" in text(smaller)
    larger = US_POLICY.quote(leaving(), [terms(clause_amount=D("1700.00"))])
    assert larger.amount == D("850.00")
    assert any("more than the unserved share" in w for w in larger.warnings)


def test_us_a_period_served_in_full_owes_nothing():
    quote = US_POLICY.quote(leaving(last_day=date(2028, 3, 1)), [terms()])
    assert quote.amount == D("0.00") and "served in full" in text(quote)


def test_us_required_safety_training_warns_of_a_kickback():
    quote = US_POLICY.quote(leaving(), [terms(training_category="safety")])
    assert any("kick-back" in w for w in quote.warnings)


@pytest.mark.parametrize(("gross", "hours", "cap"), [
    ("800.00", "40", "510.00"),      # 800 - 40 x 7.25 = 510
    ("290.00", "40", "0.00"),        # already at the minimum wage: nothing may be deducted
    ("100.00", "40", "0.00"),        # below it: still nothing, never negative
    ("300.01", "40", "10.01"),
])
def test_flsa_cap_keeps_the_last_workweek_at_the_federal_minimum_wage(gross, hours, cap):
    assert flsa_deduction_cap(D(gross), D(hours)) == D(cap)


def test_flsa_cap_takes_a_higher_state_minimum_wage_and_rounds_down():
    assert flsa_deduction_cap(D("800.00"), D("40"), minimum_wage=D("16.90")) == D("124.00")
    assert flsa_deduction_cap(D("100.00"), D("3"), minimum_wage=D("7.333")) == D("78.00")
    with pytest.raises(ValueError, match="never negative"):
        flsa_deduction_cap(D("-1"), D("40"))


# --- us-ca: AB 692 ----------------------------------------------------------------------


def test_us_ca_a_repayment_term_entered_after_2026_is_void():
    quote = US_CA_POLICY.quote(leaving(), [terms()])
    assert not quote.owed and quote.amount == D("0.00")
    [line] = quote.lines
    assert line.article == "Bus. & Prof. Code 16608; Lab. Code 926(a)"
    explanation = text(quote)
    assert explanation.startswith("Policy us-ca: California, AB 692 (2025)")
    assert "the repayment term is void" in explanation
    assert "Lab. Code 926(c)" in explanation


def test_us_ca_the_first_day_of_2026_is_already_under_ab_692():
    assert US_CA_POLICY.quote(leaving(), [terms(entered_on=date(2026, 1, 1))]).amount == D("0.00")


def test_us_ca_the_credential_exception_owes_the_prorated_stated_amount():
    quote = US_CA_POLICY.quote(leaving(), [terms(credential=SECURITY_PLUS)])
    assert quote.owed and quote.amount == D("850.00")
    [line] = quote.lines
    assert line.article == "Bus. & Prof. Code 16608 (tuition for a transferable credential)"
    explanation = text(quote)
    assert "Tuition exception met for CompTIA Security+" in explanation
    assert "Prorated: 1700.00 x 12 / 24 = 1700.00 x 1/2 = 850.00 USD" in explanation
    assert any("no acceleration" in w for w in quote.warnings)
    assert any("Lab. Code 221" in w for w in quote.warnings)


def test_us_ca_the_prorated_amount_follows_the_stated_amount_not_the_cost():
    stated = dataclasses.replace(SECURITY_PLUS, repayment_amount=D("1200.00"))
    assert US_CA_POLICY.quote(leaving(), [terms(credential=stated)]).amount == D("600.00")


@pytest.mark.parametrize(("change", "unmet"), [
    ({"transferable": False}, "is not a transferable credential"),
    ({"offered_separately": False}, "not offered separately"),
    ({"condition_of_employment": True}, "a condition of employment"),
    ({"repayment_amount": None}, "not specified before the worker agreed"),
    ({"repayment_amount": D("2000.00")}, "exceeds the employer's cost"),
    ({"prorated": False}, "not prorated"),
    ({"accelerated": True}, "accelerates the repayment"),
    ({"owed_on_termination": True}, "terminates other than for misconduct"),
])
def test_us_ca_each_unmet_condition_of_the_exception_voids_the_term(change, unmet):
    quote = US_CA_POLICY.quote(leaving(), [terms(credential=dataclasses.replace(SECURITY_PLUS, **change))])
    assert quote.amount == D("0.00")
    assert "Tuition exception not met: " in text(quote) and unmet in text(quote)


@pytest.mark.parametrize("reason", [R.NO_FAULT_DISMISSAL, R.EMPLOYER_FAULT, R.CONTRACT_END])
def test_us_ca_under_the_exception_a_termination_owes_nothing(reason):
    quote = US_CA_POLICY.quote(leaving(reason), [terms(credential=SECURITY_PLUS)])
    assert quote.amount == D("0.00")
    assert "Nothing owed: the employer terminated the employment other than for misconduct" in text(quote)


def test_us_ca_under_the_exception_a_termination_for_misconduct_owes():
    quote = US_CA_POLICY.quote(leaving(R.DISMISSAL_FOR_CAUSE), [terms(credential=SECURITY_PLUS)])
    assert quote.amount == D("850.00") and "(terminated for misconduct;" in text(quote)


def test_us_ca_an_older_contract_follows_the_prior_rules_with_a_warning():
    quote = US_CA_POLICY.quote(leaving(), [terms(entered_on=date(2025, 12, 31))])
    assert quote.amount == D("850.00")
    assert any("before 2026-01-01" in w and "Lab. Code 926(a)" in w and "Lab. Code 2802" in w
               for w in quote.warnings)
    assert "Policy us-ca:" in text(quote)


def test_us_ca_an_unknown_signing_date_applies_ab_692_and_says_so():
    quote = quote_us_ca(leaving(), [terms(entered_on=None)])
    assert quote.amount == D("0.00")
    assert any("date the agreement was entered into is unknown" in w for w in quote.warnings)


def test_us_ca_several_agreements_each_on_its_own_date():
    quote = US_CA_POLICY.quote(leaving(), [terms(agreement_id="OLD", entered_on=date(2025, 6, 1)),
                                           terms(agreement_id="NEW")])
    assert [line.amount for line in quote.lines] == [D("850.00"), D("0.00")]
    assert quote.amount == D("850.00") and "Total owed: 850.00 + 0.00 = 850.00 USD." in text(quote)


# --- choosing the policy ------------------------------------------------------------------


def agreement(**kw: object) -> Agreement:
    fields = {"id": "agreement:lms:SEC-1-E1", "source": "lms", "employee_id": "E1", "program_id": "SEC-PLUS",
              "template_id": "tuition-24m", "template_version": "3", "service_start": START,
              "service_months": 24, "service_end": date(2028, 2, 1), "currency": "USD",
              "status": AgreementStatus.SIGNED, "signed_at": datetime(2026, 1, 20, 17, 0, tzinfo=UTC)}
    return Agreement(**{**fields, **kw})


def employee(legal_entity: str = "", site: str = "") -> Employee:
    return Employee(id="hr:E1", source="hr", employee_id="E1", name="Dana Cruz", legal_entity=legal_entity,
                    site=site)


def test_the_jurisdiction_comes_from_the_legal_entity_else_the_work_location():
    mapping = {"ACME-US-CA": "us-ca", "ACME-US-TX": "us", "Austin": "us-tx"}

    def under(who: Employee | None) -> list[str]:
        return [a.jurisdiction for a in localized([agreement()], who, mapping)]

    assert under(employee("ACME-US-CA", "Austin")) == ["us-ca"]
    assert under(employee("ACME-EU", "Austin")) == ["us-tx"]
    # Neither mapped, or no employee: the agreement's own jurisdiction.
    assert under(employee("ACME-CN", "上海")) == ["prc"]
    assert under(None) == ["prc"]


def test_the_separations_config_reads_jurisdictions_and_credentials():
    cfg = SeparationsConfig.model_validate({
        "jurisdictions": {"ACME-US-CA": "us-ca", "ACME-US-TX": "us"},
        "credentials": {"tuition-24m": {"credential": "CompTIA Security+", "transferable": True}}})
    assert cfg.jurisdictions["ACME-US-CA"] == "us-ca"
    terms_ = cfg.credentials["tuition-24m"].terms()
    # What the configuration leaves out stays unmet: condition of employment, acceleration, ...
    assert (terms_.transferable, terms_.condition_of_employment, terms_.accelerated) == (True, True, True)
    with pytest.raises(ValidationError):
        SeparationsConfig.model_validate({"credentials": {"t": {"credential": "x", "notes": "?"}}})


def test_a_template_versions_credential_terms_win_over_the_templates():
    credentials = {"tuition-24m": CredentialConfig(credential="any version"),
                   "tuition-24m@3": CredentialConfig(credential="version 3")}
    assert credential_for(agreement(), credentials).credential == "version 3"
    assert credential_for(agreement(template_version="2"), credentials).credential == "any version"
    assert credential_for(agreement(template_id="other"), credentials) is None


def test_a_leavers_quote_names_its_policy_and_carries_the_signing_day_and_credential():
    host = PluginHost.create()
    line = AllocationLine(item_id="TUITION-1", employee_id="E1", category=CostCategory.COURSE_FEE,
                          allocation=CostAllocation.EMPLOYEE, amount=D("1700.00"), currency="USD",
                          item_amount=D("1700.00"), incurred_on=START, basis="charged to E1",
                          program_id="SEC-PLUS", voucher_ref="INV-1")
    agreements = localized([agreement()], employee("ACME-US-CA"), {"ACME-US-CA": "us-ca"})
    credentials = {"tuition-24m": CredentialConfig(**dataclasses.asdict(SECURITY_PLUS))}
    [void] = quote_leaver(host.refund_policy, "E1", leaving(), agreements, [line], {})
    assert void.key == "us-ca:USD" and void.quote.amount == D("0.00")
    assert "entered into 2026-01-20" in text(void.quote)
    [kept] = quote_leaver(host.refund_policy, "E1", leaving(), agreements, [line], {},
                          credentials=credentials)
    assert kept.key == "us-ca:USD" and kept.quote.amount == D("850.00")
