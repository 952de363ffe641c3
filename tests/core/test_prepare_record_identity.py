"""prepare_record writes the text and hash it always wrote: a ledger keeps its content hashes.

The reference is how a record was serialised before the faster path (``model_dump(mode="json")``,
``json.dumps(sort_keys=True, ensure_ascii=False)``, sha256), applied to a record of every kind with
Decimals, dates, datetimes in several zones, None, nested lists, Chinese text and characters JSON
escapes; the points job's entries are built without validation and must store the same as validated ones.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from trainbridge.core.ledger.store import PreparedRecord, UnstorableText, _subject, prepare_record
from trainbridge.core.records import (
    RECORD_TYPES,
    Agreement,
    AgreementStatus,
    Certificate,
    CostItem,
    Employee,
    Enrollment,
    EnrollmentStatus,
    Envelope,
    EnvelopeStatus,
    EvidenceReceipt,
    JobChange,
    LearningEvent,
    LearningEventKind,
    MetricValue,
    Notice,
    PayrollAdjustment,
    PointsCategory,
    PointsEntry,
    Recipient,
    Record,
    Separation,
    SeparationReason,
    Signer,
    TrainingProgram,
    TrainingResult,
    TrainingSession,
)
from trainbridge.plugins.points import load_rules
from trainbridge.rules.points import make_entry

SHANGHAI = timezone(timedelta(hours=8))
NEPAL = timezone(timedelta(hours=5, minutes=45))
WEST = timezone(timedelta(hours=-7))
ODD = '引号 " 反斜杠 \\ 换行\n制表\t控制\x01 emoji 🎓 é ü \u2028'


def as_before(record: Record, *, source: str = "") -> PreparedRecord:
    """prepare_record as it was: the model dumped, the standard library's json.dumps, sha256."""
    payload = record.model_dump(mode="json")
    if source and not record.source:
        payload["source"] = source
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False)
    return PreparedRecord(record.kind, record.id, payload["source"], _subject(record), text,
                          hashlib.sha256(text.encode()).hexdigest())


def sample() -> list[Record]:
    """Every kind, with the values that make JSON differ: Decimal scales, zones, None, nesting, text."""
    at = datetime(2026, 7, 1, 9, 30, 15, 123456, tzinfo=SHANGHAI)
    return [
        Employee(id="hr:E1", source="hr", employee_id="E1", name="张伟", email=None, department="研发部",
                 hire_date=date(2020, 2, 29), is_manager=True, career_goals=("带团队", "PMP"),
                 job_history=(
                     JobChange(effective_date=date(2022, 1, 1), job_title="经理", change="promotion"),
                     JobChange(effective_date=date(2021, 3, 1), department=ODD))),
        Employee(id="hr:E2", employee_id="E2", name=ODD),  # no source: the instance's is given
        Separation(id="hr:sep:1", source="hr", employee_id="E1", last_day=date(2026, 6, 30),
                   reason=SeparationReason.RESIGNATION, note="离职 ", final_pay=Decimal("12345.60")),
        Separation(id="hr:sep:2", source="hr", employee_id="E2", last_day=date(2026, 1, 1),
                   reason=SeparationReason.MUTUAL_AGREEMENT, final_pay=None, waived=True),
        TrainingProgram(id="lms:P1", source="lms", program_id="P1", title="消防安全 101",
                        agreement_template="service-24m", service_months=24, competencies=("安全", "急救")),
        TrainingSession(id="lms:S1", source="lms", session_id="S1", program_id="P1", starts_at=at,
                        ends_at=at.astimezone(NEPAL) + timedelta(days=2), location="上海"),
        TrainingSession(id="lms:S2", source="lms", session_id="S2", program_id="P1",
                        starts_at=datetime(2026, 1, 5, 9, tzinfo=UTC), ends_at=None),
        Enrollment(id="lms:enr:1", source="lms", employee_id="E1", program_id="P1", session_id=None,
                   enrolled_on=date(2026, 6, 1), status=EnrollmentStatus.COMPLETED),
        LearningEvent(id="lrs:1", source="lrs", employee_id="E1", event=LearningEventKind.ATTENDED,
                      occurred_at=at.astimezone(WEST), checked_in_at=at, score=Decimal("87.50"),
                      session_id="S1", audience="frontline"),
        LearningEvent(id="lrs:2", employee_id="E1", event=LearningEventKind.VOIDED,
                      occurred_at=datetime(2026, 7, 2, tzinfo=UTC), voids="lrs:1", score=Decimal("1E+2")),
        Certificate(id="lms:cert:1", source="lms", employee_id="E1", certificate="特种作业",
                    issued_on=date(2024, 1, 1), expires_on=None),
        CostItem(id="fin:1", source="fin", amount=Decimal("20000.00"), currency="CNY", category="course_fee",
                 allocation="shared", session_id="S1", incurred_on=date(2026, 1, 5), voucher_ref="凭证-7"),
        CostItem(id="fin:2", source="fin", amount=Decimal("0.5"), category="travel", employee_id="E1",
                 incurred_on=date(2026, 1, 6), description=ODD),
        Agreement(id="agr:1", source="esign", employee_id="E1", program_id="P1", session_id="S1",
                  template_id="service", template_version="v1", service_start=date(2026, 7, 1),
                  service_months=24, service_end=date(2028, 7, 1), clause_amount=Decimal("5000"),
                  status=AgreementStatus.SIGNED, signed_at=at),
        Envelope(id="esign:env:1", source="esign", envelope_id="env-1", agreement_id="agr:1",
                 status=EnvelopeStatus.COMPLETED, completed_at=at.astimezone(NEPAL),
                 signers=(Signer(name="张伟", email="zw@example.cn", signed_at=at),
                          Signer(name="HR", role="hr", signed_at=None, ip_address="10.0.0.1"))),
        EvidenceReceipt(id="tsa:1", source="tsa", agreement_id="agr:1", digest="ab" * 32, provider="rfc3161",
                        receipt_id="r-1", token="MIIB/+==", deposited_at=at),
        MetricValue(id="perf:1", source="perf", employee_id="E1", metric="error_rate",
                    value=Decimal("-0.0310"), as_of=date(2026, 6, 30), unit="%"),
        MetricValue(id="perf:2", source="perf", employee_id="E1", metric="sales", value=Decimal("12345678.9"),
                    as_of=date(2026, 6, 30)),
        PointsEntry(id="points:E1:offline_attended:S1", employee_id="E1", points=-2,
                    category=PointsCategory.PARTICIPATION, rule="late", rule_version="2026.1",
                    event_id="lrs:1", earned_on=date(2026, 7, 1), reason="迟到 (S1): -2 under rules 2026.1"),
        PayrollAdjustment(id="pay:1", employee_id="E1", adjustment="deduction", amount=Decimal("1234.567"),
                          currency="CNY", effective_date=date(2026, 8, 1), reason="培训费用退还",
                          explanation=("按月折算", ODD)),
        PayrollAdjustment(id="pay:2", employee_id="E1", adjustment="bonus_percent", amount=Decimal("5"),
                          effective_date=date(2026, 8, 1), reason="bonus"),
        TrainingResult(id="res:1", employee_id="E1", program_id="P1", completed=True, points=35,
                       review_weight=Decimal("0.25"), flags=("优秀", "on_time")),
        TrainingResult(id="res:2", employee_id="E2", period="2026Q3", completed=None, points=None),
        Notice(id="notice:1", notice="service_period_ending", subject="服务期即将结束", body=ODD,
               recipients=(Recipient(name="张伟", employee_id="E1", email=None),
                           Recipient(name="HR", role="hr", email="hr@example.cn"))),
    ]


def test_the_sample_holds_every_record_kind() -> None:
    assert {record.kind for record in sample()} == set(RECORD_TYPES)


@pytest.mark.parametrize("record", sample(), ids=lambda r: f"{r.kind}:{r.id}")
def test_a_record_is_stored_as_before_byte_for_byte(record: Record) -> None:
    assert prepare_record(record) == as_before(record)
    assert prepare_record(record, source="lms-cn") == as_before(record, source="lms-cn")
    assert prepare_record(record).hash == record.content_hash()


def test_unstorable_text_is_still_refused() -> None:
    nul = TrainingProgram(id="lms:P9", program_id="P9", title="a\x00b")
    with pytest.raises(UnstorableText):
        prepare_record(nul)
    surrogate = TrainingProgram(id="lms:P8", program_id="P8", title="a\ud800b")
    with pytest.raises(UnstorableText):
        prepare_record(surrogate, checked=True)
    spelled = TrainingProgram(id="lms:P7", program_id="P7", title="a\\u0000b")  # a backslash, then u0000
    assert prepare_record(spelled, checked=True) == as_before(spelled)


def _event(**fields: Any) -> LearningEvent:
    return LearningEvent(id="lrs:42", source="lrs", employee_id="经理M1",
                         occurred_at=datetime(2026, 7, 1, 23, 30, tzinfo=SHANGHAI), **fields)


@pytest.mark.parametrize(("rule", "event"), [
    ("offline_attended", _event(event=LearningEventKind.ATTENDED, session_id="S1")),
    ("late", _event(event=LearningEventKind.ATTENDED, session_id="S1")),
    ("online_completed", _event(event=LearningEventKind.COMPLETED, program_id="课程P1")),
    ("action_plan_submitted", _event(event=LearningEventKind.ACTION_PLAN_SUBMITTED, program_id="P1")),
    ("reflection_article", _event(event=LearningEventKind.ARTICLE, object_id=ODD)),
])
def test_an_entry_the_points_job_builds_is_the_validated_entry(rule: str, event: LearningEvent) -> None:
    version = load_rules().versions[-1]
    entry = make_entry(event, rule, version, f"points:{event.employee_id}:{rule}:X~{event.id}", "X")
    validated = PointsEntry(**{name: getattr(entry, name) for name in entry.model_fields_set})
    assert entry == validated
    assert entry.model_fields_set == validated.model_fields_set == set(PointsEntry.model_fields) - {"source"}
    assert list(entry) == list(validated)
    assert repr(entry) == repr(validated) and hash(entry) == hash(validated)
    assert prepare_record(entry) == as_before(validated)
    assert entry.earned_on == date(2026, 7, 1) and entry.category is validated.category
    with pytest.raises(Exception, match="frozen"):
        entry.points = 0  # type: ignore[misc]
