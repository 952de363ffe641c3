"""The PRC refund policy, case by case: the seed example and every rule of the law."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from trainbridge.core.manager import PluginHost
from trainbridge.core.records import Proration, SeparationReason
from trainbridge.rules.refunds import (
    PRC_POLICY,
    Departure,
    ServiceTerms,
    add_months,
    months_between,
    quote_prc,
    round_cents,
)

D = Decimal
R = SeparationReason
START = date(2025, 1, 1)


def terms(base: str = "1700.00", start: date = START, months: int = 24, **kw: object) -> ServiceTerms:
    return ServiceTerms.for_months(str(kw.pop("agreement_id", "A1")), D(base), start, months,
                                   program_id="FIRE-CTRL", **kw)


def leaving(last_day: date, reason: R = R.RESIGNATION, **kw: object) -> Departure:
    return Departure(last_day=last_day, reason=reason, **kw)


# --- the seed example ----------------------------------------------------------------


def test_seed_example_1700_after_12_of_24_months_owes_850():
    quote = PRC_POLICY.quote(leaving(date(2025, 12, 31)), [terms()])
    assert quote.owed is True
    assert quote.amount == D("850.00") and quote.currency == "CNY"
    [line] = quote.lines
    assert (line.served, line.unserved, line.fraction) == (12, 12, Fraction(1, 2))
    assert line.base == D("1700.00") and line.amount == D("850.00")
    assert "LCL" in line.article and "art" in line.article


def test_the_prc_policy_is_what_the_refund_policy_hook_answers_for_prc():
    host = PluginHost.create()
    assert host.refund_policy("prc") is PRC_POLICY
    assert host.refund_policy("PRC") is PRC_POLICY
    assert host.pm.hook.refund_policy(jurisdiction="de") is None


def test_the_explanation_names_the_base_the_service_and_the_articles():
    quote = quote_prc(leaving(date(2025, 12, 31)), [terms(base_detail=("course_fee 1000.00", "travel 500.00",
                                                                          "instructor 200.00"))])
    text = "\n".join(quote.explanation)
    assert "1700.00 CNY = course_fee 1000.00 + travel 500.00 + instructor 200.00" in text
    assert "Implementing Regulations art. 16" in text
    assert "2025-01-01 to 2027-01-01" in text
    assert "Served 12 of 24 months through 2025-12-31" in text
    assert "LCL art. 22" in text and "1700.00 x 1/2 = 850.00 CNY" in text
    assert quote.explanation[-1] == "Total owed: 850.00 CNY."


# --- reasons -----------------------------------------------------------------------------


@pytest.mark.parametrize(("reason", "article"), [
    (R.RESIGNATION, "LCL arts. 22, 37"),
    (R.DISMISSAL_FOR_CAUSE, "Implementing Regulations art. 26 para. 2"),
])
def test_resignation_and_dismissal_for_cause_owe_the_unserved_part(reason, article):
    quote = quote_prc(leaving(date(2025, 12, 31), reason), [terms()])
    assert quote.amount == D("850.00") and quote.owed
    assert article in quote.lines[0].article


@pytest.mark.parametrize(("reason", "article"), [
    (R.EMPLOYER_FAULT, "LCL art. 38; Implementing Regulations art. 26 para. 1"),
    (R.NO_FAULT_DISMISSAL, "LCL arts. 40, 41"),
    (R.CONTRACT_END, "LCL art. 44"),
    (R.RETIREMENT, "LCL art. 44 item 2"),
    (R.DEATH, "LCL art. 44 item 3"),
])
def test_reasons_that_owe_nothing_with_their_article(reason, article):
    quote = quote_prc(leaving(date(2025, 12, 31), reason), [terms()])
    assert quote.owed is False and quote.amount == D("0.00")
    [line] = quote.lines
    assert line.amount == D("0.00") and article in line.article
    assert any("Nothing owed" in t and article in t for t in quote.explanation)


def test_mutual_agreement_owes_unless_the_separation_waives_it():
    owed = quote_prc(leaving(date(2025, 12, 31), R.MUTUAL_AGREEMENT), [terms()])
    waived = quote_prc(leaving(date(2025, 12, 31), R.MUTUAL_AGREEMENT, waived=True), [terms()])
    assert owed.amount == D("850.00") and "LCL arts. 22, 36" in owed.lines[0].article
    assert waived.amount == D("0.00") and waived.lines[0].article == "LCL art. 36"
    assert "refund waived" in waived.explanation[0]


def test_leaving_during_probation_owes_nothing():
    quote = quote_prc(leaving(date(2025, 3, 31), probation_end=date(2025, 3, 31)), [terms()])
    assert quote.owed is False and quote.amount == D("0.00")
    assert "264号" in quote.lines[0].article


def test_leaving_the_day_after_probation_owes():
    quote = quote_prc(leaving(date(2025, 4, 1), probation_end=date(2025, 3, 31)), [terms()])
    assert quote.owed is True


@pytest.mark.parametrize("category", ["induction", "safety"])
def test_induction_and_safety_training_carry_no_service_period(category):
    quote = quote_prc(leaving(date(2025, 12, 31)), [terms(training_category=category)])
    assert quote.amount == D("0.00") and "LCL arts. 22, 25" in quote.lines[0].article


def test_no_refundable_base_owes_nothing():
    quote = quote_prc(leaving(date(2025, 12, 31)), [terms(base="0.00")])
    assert quote.owed is False and "art. 16" in quote.lines[0].article


# --- the service period -------------------------------------------------------------------


def test_last_day_after_the_service_end_owes_nothing():
    quote = quote_prc(leaving(date(2027, 3, 1)), [terms()])
    assert quote.owed is False and quote.lines[0].served == 24
    assert "served in full" in quote.lines[0].rule


def test_last_day_on_the_last_day_of_the_period_owes_nothing():
    # [2025-01-01, 2027-01-01): 2026-12-31 is the last day of service
    assert quote_prc(leaving(date(2026, 12, 31)), [terms()]).amount == D("0.00")
    assert quote_prc(leaving(date(2026, 12, 30)), [terms()]).amount == D("2.28")  # 1700 x (1/31) / 24


def test_leaving_before_the_service_period_starts_owes_at_most_the_base():
    quote = quote_prc(leaving(date(2024, 12, 1)), [terms()])
    assert quote.amount == D("1700.00") and quote.lines[0].served == 0


def test_month_proration_counts_the_days_of_the_next_month():
    # 2025-01-01 .. last day 2025-02-14: 1 month + 14 of February's 28 days
    quote = quote_prc(leaving(date(2025, 2, 14)), [terms(base="2400.00")])
    line = quote.lines[0]
    assert line.served == 1 + Fraction(14, 28)
    assert quote.amount == D("2250.00")  # 2400 x 22.5 / 24


def test_day_proration_counts_days_of_the_whole_period():
    # [2025-01-01, 2027-01-01) is 730 days; through 2025-12-31 is 365 served
    quote = quote_prc(leaving(date(2025, 12, 31)), [terms(proration=Proration.DAY)])
    assert quote.lines[0].unit == "days" and quote.lines[0].period == 730 and quote.lines[0].served == 365
    assert quote.amount == D("850.00")
    later = quote_prc(leaving(date(2026, 1, 31)), [terms(proration=Proration.DAY)])
    assert later.amount == D("777.81")  # 1700 x (730 - 396) / 730 = 777.808...


def test_day_and_month_proration_differ_within_a_month():
    month = quote_prc(leaving(date(2025, 2, 14)), [terms(base="2400.00")])
    day = quote_prc(leaving(date(2025, 2, 14)), [terms(base="2400.00", proration=Proration.DAY)])
    assert month.amount == D("2250.00")
    assert day.amount == D("2252.05")  # 2400 x (730 - 45) / 730 = 2252.054...


def test_leap_year_start_on_february_29():
    start = date(2024, 2, 29)
    assert add_months(start, 12) == date(2025, 2, 28) and add_months(start, 48) == date(2028, 2, 29)
    period = terms(start=start)
    assert period.service_end == date(2026, 2, 28)
    # the first year is served through 2025-02-27: start + 12 months = 2025-02-28
    quote = quote_prc(leaving(date(2025, 2, 27)), [period])
    assert quote.lines[0].served == 12 and quote.amount == D("850.00")
    by_day = quote_prc(leaving(date(2025, 2, 27)), [terms(start=start, proration=Proration.DAY)])
    assert by_day.lines[0].period == 730 and by_day.lines[0].served == 365 and by_day.amount == D("850.00")


def test_month_end_start_on_january_31_clamps_without_drifting():
    start = date(2025, 1, 31)
    assert [add_months(start, m) for m in (1, 2, 13)] == [date(2025, 2, 28), date(2025, 3, 31),
                                                          date(2026, 2, 28)]
    # one month ends on 02-28 (clamped); the next month runs 02-28 .. 03-31 (31 days)
    assert months_between(start, date(2025, 2, 28)) == 1
    assert months_between(start, date(2025, 3, 16)) == 1 + Fraction(16, 31)
    assert months_between(start, date(2025, 3, 31)) == 2  # counted from the start, not from 02-28
    quote = quote_prc(leaving(date(2025, 2, 27)), [terms(start=start)])
    assert quote.lines[0].served == 1 and quote.amount == D("1629.17")  # 1700 x 23/24 = 1629.1666...


def test_month_end_start_in_a_leap_february():
    start = date(2024, 1, 31)
    assert add_months(start, 1) == date(2024, 2, 29)
    assert months_between(start, date(2024, 2, 29)) == 1


# --- clause, rounding, several agreements ------------------------------------------------


def test_clause_asking_more_than_pro_rata_is_capped_with_a_warning():
    quote = quote_prc(leaving(date(2025, 12, 31)), [terms(clause_amount=D("1700.00"))])
    assert quote.amount == D("850.00")
    [warning] = quote.warnings
    assert "1700.00" in warning and "capped" in warning and "LCL art. 22" in warning
    assert any(t.startswith("[A1] Warning:") for t in quote.explanation)
    assert quote.lines[0].warnings


def test_clause_asking_less_than_pro_rata_is_what_is_owed():
    quote = quote_prc(leaving(date(2025, 12, 31)), [terms(clause_amount=D("600.00"))])
    assert quote.amount == D("600.00") and not quote.warnings
    assert "clause amount" in quote.lines[0].rule


def test_rounding_happens_once_at_the_end():
    # 1000 over 36 months, 1 served: 1000 x 35/36 = 972.2222...; rounding the monthly
    # amount first (27.78 x 35) would give 972.30
    quote = quote_prc(leaving(date(2025, 1, 31)), [terms(base="1000.00", months=36)])
    assert quote.amount == D("972.22")
    # an exact half cent rounds up (1700.01 / 2 = 850.005), never to even
    assert quote_prc(leaving(date(2025, 12, 31)), [terms(base="1700.01")]).amount == D("850.01")
    assert round_cents(Fraction(2, 3)) == D("0.67") and round_cents(Fraction(1, 200)) == D("0.01")


def test_several_agreements_one_line_each_and_a_total():
    fire = terms(agreement_id="A-FIRE")
    forklift = ServiceTerms.for_months("A-LIFT", D("1200.00"), date(2025, 7, 1), 12, program_id="LIFT")
    done = ServiceTerms.for_months("A-OLD", D("900.00"), date(2023, 1, 1), 12, program_id="OLD")
    quote = quote_prc(leaving(date(2025, 12, 31)), [fire, forklift, done])
    assert [line.agreement_id for line in quote.lines] == ["A-FIRE", "A-LIFT", "A-OLD"]
    assert [line.amount for line in quote.lines] == [D("850.00"), D("600.00"), D("0.00")]
    assert quote.amount == D("1450.00") == sum(line.amount for line in quote.lines)
    assert "Total owed: 850.00 + 600.00 + 0.00 = 1450.00 CNY" in quote.explanation[-1]


def test_agreements_in_two_currencies_are_refused():
    usd = ServiceTerms.for_months("A2", D("100.00"), START, 12, currency="USD")
    with pytest.raises(ValueError, match="several currencies"):
        quote_prc(leaving(date(2025, 12, 31)), [terms(), usd])


def test_no_agreement_owes_nothing():
    quote = quote_prc(leaving(date(2025, 12, 31)), [])
    assert quote.as_json() == {"owed": False, "amount": "0.00", "currency": "CNY", "lines": [],
                               "explanation": quote.as_json()["explanation"]}
    assert "nothing is owed" in quote.explanation[-1]


def test_amounts_are_decimal_and_the_json_amount_has_two_decimals():
    quote = quote_prc(leaving(date(2025, 12, 31)), [terms(base="1700")])
    data = quote.as_json()
    assert isinstance(quote.amount, Decimal) and isinstance(quote.lines[0].amount, Decimal)
    assert set(data) == {"owed", "amount", "currency", "lines", "explanation"}
    assert data["amount"] == "850.00" and data["lines"][0]["base"] == "1700.00"
    assert data["lines"][0]["fraction"] == "0.5" and data["lines"][0]["served"] == "12"


def test_bad_terms_are_refused_with_the_agreement_named():
    with pytest.raises(ValueError, match="A9: base must be a Decimal"):
        ServiceTerms.for_months("A9", 1700.0, START, 24)
    with pytest.raises(ValueError, match="A9: service_end"):
        ServiceTerms(agreement_id="A9", base=D("1"), service_start=START, service_end=START)
