"""Seed 003 points rules: every number of the seed, versioning, idempotency, caps, bad files."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from importlib.resources import files
from zoneinfo import ZoneInfo

import pytest

from trainbridge.core.errors import ConfigError
from trainbridge.core.records import (
    Delivery,
    LearningEvent,
    PointsCategory,
    TrainingProgram,
    TrainingSession,
)
from trainbridge.rules.points import EventContext, parse_rules, rescore, score_event

SH = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 7, 6, 9, 0, tzinfo=SH)
DEFAULT = parse_rules((files("trainbridge.plugins") / "points_rules" / "default.toml").read_text("utf-8"),
                      file="default.toml")
SESSION = TrainingSession(id="lms:S1", session_id="S1", program_id="LEAD", starts_at=START)


def event(kind: str, eid: str = "e1", *, at: datetime = START, **extra: object) -> LearningEvent:
    return LearningEvent.model_validate({"id": f"lms:{eid}", "employee_id": "M001", "event": kind,
                                         "occurred_at": at, **extra})


def points(ev: LearningEvent, ctx: EventContext | None = None, rules=DEFAULT) -> dict[str, int]:
    return {e.rule: e.points for e in score_event(ev, rules, ctx).entries}


def test_offline_session_attended_earns_10():
    assert points(event("attended", session_id="S1", checked_in_at=START), EventContext(session=SESSION)) == {
        "offline_attended": 10}


def test_online_course_completed_earns_5():
    online = TrainingProgram(id="lms:C1", program_id="C1", title="在线课", delivery=Delivery.ONLINE)
    completed = event("completed", program_id="C1")
    assert points(completed, EventContext(program=online)) == {"online_completed": 5}


def test_late_check_in_costs_2_after_the_grace():
    late = event("attended", session_id="S1", checked_in_at=START + timedelta(minutes=1))
    assert points(late, EventContext(session=SESSION)) == {"offline_attended": 10, "late": -2}
    graced = parse_rules(_text(grace=5))
    assert points(late, EventContext(session=SESSION), graced) == {"offline_attended": 10}


def test_action_plan_submitted_within_30_days_earns_20_and_later_nothing():
    day = START.date()
    on_time = event("action_plan_submitted", program_id="LEAD", at=START + timedelta(days=30))
    too_late = event("action_plan_submitted", program_id="LEAD", at=START + timedelta(days=31))
    assert points(on_time, EventContext(training_day=day)) == {"action_plan_submitted": 20}
    scored = score_event(too_late, DEFAULT, EventContext(training_day=day))
    assert scored.entries == () and "31 days" in scored.skipped[0]


def test_action_plan_adopted_earns_50():
    assert points(event("action_plan_adopted", program_id="LEAD")) == {"action_plan_adopted": 50}


def test_teaching_front_line_staff_earns_30():
    assert points(event("taught", session_id="F1", audience="frontline")) == {"taught_frontline": 30}
    assert points(event("taught", session_id="F2", audience="managers")) == {}


def test_reflection_article_earns_15_in_sharing():
    [entry] = score_event(event("article", object_id="A1"), DEFAULT).entries
    assert entry.points == 15 and entry.category is PointsCategory.SHARING and entry.rule_version == "2026.1"


def test_categories_follow_the_seed():
    ev = event("attended", session_id="S1", checked_in_at=START)
    assert score_event(ev, DEFAULT).entries[0].category is PointsCategory.PARTICIPATION
    assert score_event(event("action_plan_adopted", program_id="P"), DEFAULT).entries[0].category is \
        PointsCategory.OUTPUT


def test_completing_uncompleting_and_completing_again_earns_nothing_more():
    first = score_event(event("completed", "c1", program_id="C1"), DEFAULT)
    again = score_event(event("completed", "c3", program_id="C1"), DEFAULT,
                        EventContext(existing=frozenset(e.id for e in first.entries)))
    assert len(first.entries) == 1 and again.entries == () and "already earned" in again.skipped[0]


def test_resubmitting_an_action_plan_earns_nothing_more():
    ctx = EventContext(training_day=START.date())
    first = score_event(event("action_plan_submitted", "p1", program_id="LEAD"), DEFAULT, ctx)
    ctx = EventContext(training_day=START.date(), existing=frozenset(e.id for e in first.entries))
    assert score_event(event("action_plan_submitted", "p2", program_id="LEAD"), DEFAULT, ctx).entries == ()


def test_the_same_event_read_twice_gets_the_same_entry_id():
    ev = event("article", object_id="A1")
    assert score_event(ev, DEFAULT).entries == score_event(ev, DEFAULT).entries


def test_caps_per_kind_and_period():
    capped = parse_rules(_text(caps='reflection_article = { max = 3, per = "quarter" }'))
    counts = {("M001", "reflection_article", "2026Q3"): 3}
    scored = score_event(event("article", object_id="A4"), capped, EventContext(period_counts=counts))
    assert scored.entries == () and "capped at 3 per quarter" in scored.skipped[0]


def _text(teaching: int = 30, grace: int = 0, caps: str = "", extra: str = "") -> str:
    return f"""[[versions]]
version = "v1"
effective = "2000-01-01"
late_grace_minutes = {grace}

[versions.points]
offline_attended = 10
late = -2
taught_frontline = {teaching}
reflection_article = 15
{extra}
[versions.caps]
{caps}
"""


VERSIONED = parse_rules(_text(teaching=20) + """
[[versions]]
version = "v2"
effective = "2026-07-01"

[versions.points]
taught_frontline = 30
""")


def test_teaching_20_to_30_keeps_earlier_entries_at_20_until_recomputed():
    before = score_event(event("taught", "t1", session_id="F1", audience="frontline",
                               at=datetime(2026, 6, 20, 9, tzinfo=SH)), VERSIONED).entries[0]
    after = score_event(event("taught", "t2", session_id="F2", audience="frontline",
                              at=datetime(2026, 7, 2, 9, tzinfo=SH)), VERSIONED).entries[0]
    assert (before.points, before.rule_version) == (20, "v1")
    assert (after.points, after.rule_version) == (30, "v2")
    recomputed = rescore(before, VERSIONED.version("v2"))
    assert recomputed is not None and recomputed.points == 30 and recomputed.id == before.id + "@v2"
    assert rescore(after, VERSIONED.version("v2")) is None


def test_an_unknown_event_kind_is_rejected_naming_the_line():
    with pytest.raises(ConfigError) as err:
        parse_rules(_text(extra="teleported = 5"), file="rules.toml")
    assert "rules.toml, line 11" in str(err.value) and "teleported" in str(err.value)


def test_a_bad_number_is_rejected_naming_the_line():
    with pytest.raises(ConfigError) as err:
        parse_rules(_text().replace("reflection_article = 15", 'reflection_article = "many"'), file="r.toml")
    assert "r.toml, line 10" in str(err.value) and "reflection_article" in str(err.value)
    with pytest.raises(ConfigError, match="line 4"):
        parse_rules(_text(grace=-1))


def test_the_default_rules_are_seed_003():
    assert dict(DEFAULT.versions[0].points) == {
        "offline_attended": 10, "online_completed": 5, "late": -2, "action_plan_submitted": 20,
        "action_plan_adopted": 50, "taught_frontline": 30, "reflection_article": 15}
    assert DEFAULT.version_on(date(2026, 1, 1)) is DEFAULT.versions[0]
