"""Pure rules of agreements: the service period, the gate, reminders, status moves."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from trainbridge.core.records import AgreementStatus, EnvelopeStatus
from trainbridge.rules.agreements import (
    gate_check,
    next_status,
    parse_lead,
    reminder_due,
    reminder_is_due,
    service_period,
    service_period_allowed,
    trained_before_signing,
)


def test_the_service_period_starts_the_day_after_the_session_and_runs_24_months():
    period = service_period(24, session_end=date(2025, 3, 1), enrolled_on=date(2025, 2, 15))
    assert (period.start, period.end) == (date(2025, 3, 2), date(2027, 3, 2))


def test_a_service_period_starting_at_a_month_end_clamps():
    period = service_period(1, session_end=date(2024, 1, 30), enrolled_on=date(2024, 1, 1))
    assert (period.start, period.end) == (date(2024, 1, 31), date(2024, 2, 29))  # leap year


def test_without_a_session_the_period_starts_on_the_enrollment_date():
    period = service_period(12, session_end=None, enrolled_on=date(2025, 5, 10))
    assert (period.start, period.end) == (date(2025, 5, 10), date(2026, 5, 10))
    assert "enrollment date" in period.explanation[0]


@pytest.mark.parametrize("category", ["induction", "safety"])
def test_induction_and_safety_training_carry_no_service_period(category):
    allowed, why = service_period_allowed(category)
    assert not allowed and "LCL arts. 22, 25" in why


def test_a_reminder_one_month_before_the_end_is_due_until_the_end():
    lead = parse_lead("1m")
    end = date(2026, 3, 31)
    assert reminder_due(end, lead) == date(2026, 2, 28)
    assert not reminder_is_due(end, lead, date(2026, 2, 27))
    assert reminder_is_due(end, lead, date(2026, 2, 28))
    assert reminder_is_due(end, lead, date(2026, 3, 30))
    assert not reminder_is_due(end, lead, end)


def test_lead_times_in_weeks_and_days():
    assert reminder_due(date(2026, 3, 31), parse_lead("2w")) == date(2026, 3, 17)
    assert reminder_due(date(2026, 3, 31), parse_lead("10d")) == date(2026, 3, 21)
    with pytest.raises(ValueError, match="lead time"):
        parse_lead("one month")


def test_the_status_never_moves_backwards():
    assert next_status(AgreementStatus.DRAFT, EnvelopeStatus.SENT) is AgreementStatus.SENT
    assert next_status(AgreementStatus.SENT, EnvelopeStatus.SIGNED) is AgreementStatus.SENT  # not finished
    assert next_status(AgreementStatus.SENT, EnvelopeStatus.COMPLETED) is AgreementStatus.SIGNED
    assert next_status(AgreementStatus.SIGNED, EnvelopeStatus.SENT) is AgreementStatus.SIGNED
    assert next_status(AgreementStatus.SENT, EnvelopeStatus.DECLINED) is AgreementStatus.DECLINED
    assert next_status(AgreementStatus.DECLINED, EnvelopeStatus.COMPLETED) is AgreementStatus.DECLINED


def test_the_gate_blocks_an_unsigned_enrollment_within_the_lead_time():
    today = date(2026, 3, 10)
    assert gate_check(AgreementStatus.SENT, date(2026, 3, 17), today, 7).blocked
    assert gate_check(None, date(2026, 3, 10), today, 7).blocked
    assert not gate_check(AgreementStatus.SENT, date(2026, 3, 18), today, 7).blocked
    assert not gate_check(AgreementStatus.SIGNED, date(2026, 3, 11), today, 7).blocked
    assert not gate_check(AgreementStatus.SENT, date(2026, 3, 9), today, 7).blocked  # already started


def test_training_before_signing():
    at = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)
    assert trained_before_signing(AgreementStatus.SENT, None, at)
    assert trained_before_signing(AgreementStatus.SIGNED, datetime(2026, 3, 9, 2, 0, tzinfo=UTC), at)
    assert not trained_before_signing(AgreementStatus.SIGNED, datetime(2026, 3, 8, tzinfo=UTC), at)
