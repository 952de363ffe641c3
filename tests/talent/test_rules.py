"""T1, T2, D1 as pure rules: the seed example (10 operators required, 5 certified) and its variants."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from trainbridge.core.records import (
    Certificate,
    Employee,
    Enrollment,
    JobChange,
    LearningEvent,
    MetricValue,
    PointsCategory,
    PointsEntry,
    Separation,
    TrainingProgram,
)
from trainbridge.rules.talent import (
    CostLine,
    Requirement,
    RoleRequirements,
    capability_profile,
    forecast,
    latest_certificates,
    parse_horizon,
    training_needs,
)

TODAY = date(2026, 11, 23)
FIRE = TrainingProgram(id="lms:FIRE-CTRL", program_id="FIRE-CTRL", title="消防中控",
                       certificate="fire_control_operator", competencies=("fire_control",))


def operators(n: int = 10) -> list[Employee]:
    return [Employee(id=f"hr:E{i:03d}", employee_id=f"E{i:03d}", name=f"op{i}", role="fire_operator",
                     site="Shanghai") for i in range(1, n + 1)]


def cert(who: str, expires: date | None = date(2029, 1, 1), issued: date = date(2025, 1, 1)) -> Certificate:
    return Certificate(id=f"lms:FCO-{who}:{expires}", employee_id=who, certificate="fire_control_operator",
                       issued_on=issued, expires_on=expires)


def seed_costs() -> list[CostLine]:
    """Seed 000 C1: 1000 course fee + 500 travel + 200 (2000 instructor shared by 10) = 1700 a head."""
    lines = []
    for i in range(1, 11):
        who = f"E{i:03d}"
        lines.append(CostLine(f"FEE-{who}", who, "FIRE-CTRL", "course_fee", Decimal("1000.00"), "CNY"))
        lines.append(CostLine(f"TRV-{who}", who, "FIRE-CTRL", "travel", Decimal("500.00"), "CNY"))
        lines.append(CostLine("INSTR-1", who, "FIRE-CTRL", "instructor", Decimal("200.00"), "CNY"))
    return lines


def run(certs, separations=(), employees=None, *, required=10, class_size=20, horizon=12, costs=None):
    return forecast(Requirement("fire_control_operator", "fire_operator", required, "Shanghai"),
                    employees=employees or operators(), separations=list(separations),
                    certificates=certs, programs=[FIRE], enrollments=[], events=[],
                    costs=seed_costs() if costs is None else costs,
                    today=TODAY, horizon_months=horizon, class_size=class_size)


def test_10_operators_required_5_certified_means_5_to_train_in_1_session_for_8500():
    f = run([cert(f"E{i:03d}") for i in range(1, 6)])
    assert (f.requirement.required, len(f.holders), f.headcount) == (10, 5, 10)
    assert f.expiring == [] and f.attrition_rate == Decimal("0.0")
    assert f.to_train == 5
    assert f.sessions == 1
    assert f.cost.per_head == Decimal("1700.00")
    assert f.budget == Decimal("8500.00")
    assert {item for item, _, _ in f.cost.items} >= {"FEE-E001", "TRV-E010", "INSTR-1"}
    assert len(f.cost.items) == 21 and f.cost.people == 10


def test_certificates_expiring_within_the_horizon_are_trained_again():
    certs = [cert("E001", date(2026, 12, 13)), cert("E002", date(2027, 1, 7)),
             *[cert(f"E{i:03d}") for i in range(3, 6)]]
    f = run(certs, class_size=6)
    assert [x.employee_id for x in f.expiring] == ["E001", "E002"]
    assert f.expiring[0].days_left == 20
    assert f.to_train == 7  # 10 - 5 + 2
    assert f.sessions == 2  # ceil(7 / 6)
    assert run(certs, horizon=1).to_train == 6  # only E001 expires within one month


def test_attrition_from_a_leaver_in_the_last_12_months_is_shown_with_its_rate():
    certs = [cert(f"E{i:03d}") for i in (1, 2, 4, 5, 6)]
    leaver = Separation(id="hr:S-E003", employee_id="E003", last_day=date(2026, 11, 22), reason="resignation")
    f = run(certs, [leaver])
    assert f.leavers_12m == ["E003"]
    assert f.headcount == 9 and f.attrition_base == 10
    assert f.attrition_rate == Decimal("10.0")  # 1 leaver / 10 people in the role during the year
    assert f.expected_attrition == Decimal("0.5")  # 5 holders x 10% x 12/12
    assert f.expected_leavers == 1  # rounded up: plan for the leaver
    assert f.to_train == 6  # 10 - 5 + 0 + 1
    assert any("10.0%" in line for line in f.explanation)


def test_a_leaver_older_than_12_months_does_not_count_and_an_expired_certificate_holds_nothing():
    old = Separation(id="hr:S-E009", employee_id="E009", last_day=date(2025, 6, 30), reason="resignation")
    f = run([cert("E001", date(2026, 11, 1)), cert("E002")], [old])
    assert f.leavers_12m == [] and f.holders == ["E002"]


def test_a_renewed_certificate_replaces_the_old_one():
    renewed = [cert("E001", date(2026, 12, 13), date(2023, 12, 13)), cert("E001", date(2029, 12, 13))]
    assert latest_certificates(renewed)[("E001", "fire_control_operator")].expires_on == date(2029, 12, 13)
    assert run(renewed).expiring == []


def test_no_cost_history_leaves_the_budget_open_and_says_why():
    f = run([cert("E001")], costs=[])
    assert f.budget is None
    assert "no cost history for FIRE-CTRL" in f.explanation[-1]


def test_horizon_text():
    assert parse_horizon("12m") == 12 and parse_horizon("2y") == 24 and parse_horizon("18") == 18
    with pytest.raises(ValueError, match="months"):
        parse_horizon("soon")


# --- T1 -------------------------------------------------------------------------------


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, tzinfo=UTC)


def test_profile_of_an_operator_with_training_certificate_metrics_points_and_a_promotion():
    employee = Employee(id="hr:E001", employee_id="E001", name="张伟", role="fire_operator", job_history=(
        JobChange(effective_date=date(2024, 1, 1), job_title="操作员", change="hire"),
        JobChange(effective_date=date(2026, 3, 1), job_title="消防中控员", change="promotion")))
    profile = capability_profile(
        "E001", employee, programs=[FIRE],
        enrollments=[Enrollment(id="e1", employee_id="E001", program_id="FIRE-CTRL",
                                enrolled_on=date(2025, 11, 1), status="completed")],
        events=[LearningEvent(id="a1", employee_id="E001", event="attended",
                              occurred_at=at(date(2025, 11, 22)), program_id="FIRE-CTRL")],
        certificates=[cert("E001", date(2026, 12, 13))],
        points=[PointsEntry(id=f"p{q}", employee_id="E001", points=pts, category=PointsCategory.PARTICIPATION,
                            rule="r", rule_version="1", event_id="x", earned_on=day)
                for q, (pts, day) in enumerate([(10, date(2026, 5, 1)), (25, date(2026, 8, 1))])],
        metrics=[MetricValue(id="m1", employee_id="E001", metric="error_rate", value=Decimal("0.05"),
                             as_of=date(2025, 10, 22), direction="lower_is_better"),
                 MetricValue(id="m2", employee_id="E001", metric="error_rate", value=Decimal("0.01"),
                             as_of=date(2026, 2, 22), direction="lower_is_better")],
        requirements=RoleRequirements(("fire_control", "emergency_response"), ("fire_control_operator",)),
        today=TODAY)
    assert [(t.program_id, t.status) for t in profile.trainings] == [("FIRE-CTRL", "completed")]
    assert [(c.certificate, c.status, c.days_left) for c in profile.certificates] == [
        ("fire_control_operator", "expiring", 20)]
    assert profile.points_by_quarter == [("2026Q2", 10), ("2026Q3", 25)] and profile.trend == "up"
    change = profile.metric_changes[0]
    assert (change.metric, change.before, change.after) == ("error_rate", Decimal("0.05"), Decimal("0.01"))
    assert [j.change for j in profile.job_history] == ["hire", "promotion"]
    assert [g.requirement for g in profile.gaps] == ["emergency_response"]
    assert profile.covered == {"fire_control": "completed FIRE-CTRL",
                               "fire_control_operator": "certificate fire_control_operator"}


def test_profile_of_an_employee_with_no_history_is_empty_not_an_error():
    newcomer = Employee(id="hr:E099", employee_id="E099", name="新人", role="fire_operator")
    profile = capability_profile("E099", newcomer, programs=[FIRE], enrollments=[], events=[],
                                 certificates=[], points=[], metrics=[],
                                 requirements=RoleRequirements(("fire_control",), ("fire_control_operator",)),
                                 today=TODAY)
    assert not profile.has_history
    assert [(g.requirement, g.reason) for g in profile.gaps] == [
        ("fire_control", "no completed training or certificate covers it"),
        ("fire_control_operator", "not held")]


# --- D1 -------------------------------------------------------------------------------


def test_low_review_scores_and_career_goals_rank_training_topics_with_their_evidence():
    managers = [Employee(id=f"hr:M00{i}", employee_id=f"M00{i}", name=f"m{i}", is_manager=True,
                         career_goals=("regional_manager",) if i <= 2 else ()) for i in range(1, 5)]
    scores = {"M001": "2.5", "M002": "4", "M003": "2", "M004": "1"}
    metrics = [MetricValue(id=f"r-{who}", employee_id=who, metric="competency:negotiation", value=Decimal(v),
                           as_of=date(2026, 11, 1)) for who, v in scores.items()]
    # M004's later review is fine again: only the latest review counts.
    metrics.append(MetricValue(id="r-M004-later", employee_id="M004", metric="competency:negotiation",
                               value=Decimal("3.5"), as_of=date(2026, 11, 20)))
    needs, notes = training_needs(managers, metrics, gone=set(), low_score=Decimal(3),
                                  competency_topics={"negotiation": "商务谈判"},
                                  goal_topics={"regional_manager": ("领导力",), "negotiation": ("商务谈判",)})
    assert [(n.topic, sorted(n.people)) for n in needs] == [("商务谈判", ["M001", "M003"]),
                                                            ("领导力", ["M001", "M002"])]
    assert needs[0].evidence[0] == "M001 competency:negotiation 2.5 < 3 (2026-11-01)"
    assert notes == []
    unmapped, notes = training_needs(managers[:1], [], gone=set(), low_score=Decimal(3), competency_topics={},
                                     goal_topics={})
    assert unmapped[0].topic == "regional_manager" and "regional_manager" in notes[0]
