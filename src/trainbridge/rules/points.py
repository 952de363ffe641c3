"""Manager points (seed 003, S1 and S7): the scoring of one event under the version of the
rules file in force that day (:mod:`trainbridge.rules.points_rules` reads the file).

Pure functions: no I/O, no clock. Every entry carries the rule and the version it was earned
under, and its id is stable per (employee, rule, object): re-submitting an action plan, or completing a
course again, finds the entry already there and earns nothing more. A voided event
or an un-completed course takes its entry back (superseded, never deleted); a later
completion of the same course may then earn it once more (id ``BASE~EVENT``), so the
same (employee, rule, object) never holds two active entries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date, timedelta

from trainbridge.core.records import (
    Delivery,
    Enrollment,
    EnrollmentStatus,
    LearningEvent,
    LearningEventKind,
    PointsEntry,
    TrainingProgram,
    TrainingSession,
)
from trainbridge.rules.costs import void_targets
from trainbridge.rules.leaderboard import by_category, period_bounds, totals
from trainbridge.rules.points_entry import typed_entry
from trainbridge.rules.points_rules import RULE_KINDS, PointsRules, RuleVersion, parse_rules

__all__ = ["NO_ATTENDANCE_LEFT", "RULE_KINDS", "EventContext", "PointsRules", "RuleVersion", "Scored",
           "active_entries", "base_key", "by_category", "effective_events", "entry_key", "parse_rules",
           "period_bounds", "period_key", "rescore", "score_event", "takes_back", "to_take_back", "totals",
           "training_days", "training_ends", "training_of", "trainings_after_voids", "trainings_lost_by",
           "uncompleted_key", "void_targets", "voided_ids"]


#: Why an action plan scores nothing (or loses its points) once its training's attendance was voided.
NO_ATTENDANCE_LEFT = "no attendance left after the void"
TRAINING_KINDS = (LearningEventKind.ATTENDED, LearningEventKind.COMPLETED)


# --- scoring ------------------------------------------------------------------------


def period_key(day: date, per: str) -> str:
    """``2026Q3``, ``2026-07`` or ``2026``: the cap period a day falls in."""
    if per == "month":
        return f"{day.year}-{day.month:02d}"
    if per == "quarter":
        return f"{day.year}Q{(day.month - 1) // 3 + 1}"
    return str(day.year)


def entry_key(employee_id: str, rule: str, object_key: str) -> str:
    """Stable per (employee, rule, object), whatever event or version produced it."""
    return f"points:{employee_id}:{rule}:{object_key}"


def base_key(entry_id: str) -> str:
    """The (employee, rule, object) key of an entry, without ``@VERSION`` or ``~EVENT``."""
    return entry_id.split("@", 1)[0].split("~", 1)[0]


def _object_key(event: LearningEvent, rule: str) -> str | None:
    if rule in ("offline_attended", "late", "taught_frontline"):
        return event.session_id or event.object_id or event.program_id
    if rule in ("online_completed", "action_plan_submitted", "action_plan_adopted"):
        return event.program_id or event.object_id
    return event.object_id or event.id


@dataclass(frozen=True)
class Scored:
    """What one event earned, and why anything it might have earned was not given."""

    entries: tuple[PointsEntry, ...] = ()
    skipped: tuple[str, ...] = ()


@dataclass(frozen=True)
class EventContext:
    """What scoring one event needs to know besides the event (all read by the caller)."""

    session: TrainingSession | None = None
    program: TrainingProgram | None = None
    training_day: date | None = None
    #: Base keys (:func:`base_key`) that hold an active entry: they earn nothing more.
    existing: AbstractSet[str] = frozenset()
    #: Base keys whose entries were all taken back: earning again gets a ``~EVENT`` id.
    taken_back: AbstractSet[str] = frozenset()
    #: (employee, rule, period) -> entries already earned in that period, for caps.
    period_counts: Mapping[tuple[str, str, str], int] = field(default_factory=dict)
    #: The program's every attendance or completion of this employee was voided (no training left).
    training_voided: bool = False


def rules_for(event: LearningEvent, version: RuleVersion, ctx: EventContext) -> tuple[list[str], list[str]]:
    """The rules ``event`` triggers under ``version`` and the reasons for the ones it does not."""
    kind, skipped = event.event, []
    rules: list[str] = []
    if kind is LearningEventKind.ATTENDED:
        rules.append("offline_attended")
        start = ctx.session.starts_at if ctx.session else event.occurred_at
        if event.checked_in_at is not None and \
                event.checked_in_at > start + timedelta(minutes=version.late_grace_minutes):
            rules.append("late")
    elif kind is LearningEventKind.COMPLETED:
        if ctx.program is not None and ctx.program.delivery is not Delivery.ONLINE:
            skipped.append(f"{event.id}: completion of offline program {ctx.program.program_id} "
                           "scores through attendance")
        else:
            rules.append("online_completed")
    elif kind is LearningEventKind.ACTION_PLAN_SUBMITTED:
        submitted = event.occurred_at.date()
        if ctx.training_day is None and ctx.training_voided:
            skipped.append(f"{event.id}: action plan for {event.program_id}: {NO_ATTENDANCE_LEFT} "
                           "(an action plan scores only after a training attended or completed)")
        elif ctx.training_day is None:
            skipped.append(f"{event.id}: action plan for {event.program_id} has no known training date")
        elif (submitted - ctx.training_day).days > version.action_plan_window_days:
            skipped.append(f"{event.id}: action plan submitted {(submitted - ctx.training_day).days} days "
                           f"after the training ended on {ctx.training_day} (window "
                           f"{version.action_plan_window_days} days)")
        else:
            rules.append("action_plan_submitted")
    elif kind is LearningEventKind.ACTION_PLAN_ADOPTED:
        rules.append("action_plan_adopted")
    elif kind is LearningEventKind.TAUGHT:
        audience = event.audience or (ctx.session.audience if ctx.session else "")
        if audience in version.teaching_audiences:
            rules.append("taught_frontline")
        else:
            skipped.append(f"{event.id}: taught audience {audience!r} is not front-line")
    elif kind is LearningEventKind.ARTICLE:
        rules.append("reflection_article")
    return [r for r in rules if r in version.points], skipped


def score_event(event: LearningEvent, rules: PointsRules, ctx: EventContext | None = None) -> Scored:
    """Points entries for one learning event under the version in force on its date."""
    ctx = ctx or EventContext()
    earned_on = event.occurred_at.date()
    version = rules.version_on(earned_on)
    if version is None:
        return Scored(skipped=(f"{event.id}: no rules version in force on {earned_on}",))
    names, skipped = rules_for(event, version, ctx)
    # this event's own entries count towards its caps; the caller's mapping is read, never copied
    earned_here: dict[tuple[str, str, str], int] = {}
    entries: list[PointsEntry] = []
    for rule in names:
        obj = _object_key(event, rule)
        if obj is None:
            skipped.append(f"{event.id}: no session, program or object to score {rule} against")
            continue
        entry_id = entry_key(event.employee_id, rule, obj)
        if entry_id in ctx.existing:
            skipped.append(f"{event.id}: {rule} for {obj} already earned ({entry_id})")
            continue
        if entry_id in ctx.taken_back:
            entry_id = f"{entry_id}~{event.id}"
        cap = version.caps.get(rule)
        if cap is not None:
            key = (event.employee_id, rule, period_key(earned_on, cap.per))
            if ctx.period_counts.get(key, 0) + earned_here.get(key, 0) >= cap.max:
                skipped.append(f"{event.id}: {rule} capped at {cap.max} per {cap.per}")
                continue
            earned_here[key] = earned_here.get(key, 0) + 1
        entries.append(make_entry(event, rule, version, entry_id, obj))
    return Scored(tuple(entries), tuple(skipped))


def make_entry(event: LearningEvent, rule: str, version: RuleVersion, entry_id: str,
               obj: str) -> PointsEntry:
    points, kind = version.points[rule], RULE_KINDS[rule]
    # not validated again: every value is its field's type by construction (the id entry_key's, never
    # empty; the employee and event ids a validated event's; points an int parse_rules checked; the
    # category RULE_KINDS'; the day a date)
    return typed_entry({"id": entry_id, "employee_id": event.employee_id, "points": points,
                        "category": kind.category, "rule": rule, "rule_version": version.version,
                        "event_id": event.id, "earned_on": event.occurred_at.date(),
                        "reason": f"{kind.label} ({obj}): {points:+d} under rules {version.version}"})


def rescore(entry: PointsEntry, version: RuleVersion) -> PointsEntry | None:
    """The entry re-scored under ``version`` (id suffixed by it), or None when nothing changes."""
    if entry.rule_version == version.version or entry.rule not in version.points:
        return None
    points = version.points[entry.rule]
    if points == entry.points:
        return None
    base = entry.id.split("@", 1)[0]
    return entry.model_copy(update={
        "id": f"{base}@{version.version}", "points": points, "rule_version": version.version,
        "reason": f"{RULE_KINDS[entry.rule].label}: {points:+d} under rules {version.version} "
                  f"(recomputed; was {entry.points:+d} under {entry.rule_version})"})


def active_entries(entries: Sequence[PointsEntry], superseded: set[str]) -> list[PointsEntry]:
    return [e for e in entries if e.id not in superseded]


# --- taking points back ---------------------------------------------------------------


def voided_ids(events: Iterable[LearningEvent]) -> set[str]:
    """Ids of the events some VOIDED event voids (by our id or the source's own)."""
    return {target for e in events for target in void_targets(e)}


def effective_events(events: Iterable[LearningEvent]) -> list[LearningEvent]:
    """The events that still count: voided ones and the voiding events themselves left out."""
    events = list(events)
    voided = voided_ids(events)
    return [e for e in events if e.event is not LearningEventKind.VOIDED and e.id not in voided]


def takes_back(event: LearningEvent) -> bool:
    """Whether ``event`` can take entries back at all (callers skip the lookup otherwise)."""
    return (event.event is LearningEventKind.VOIDED and bool(event.voids)) \
        or event.event is LearningEventKind.UNCOMPLETED


def uncompleted_key(event: LearningEvent) -> str | None:
    """The base key of the online-completion entry an UNCOMPLETED event would take back."""
    obj = _object_key(event, "online_completed")
    return None if obj is None else entry_key(event.employee_id, "online_completed", obj)


def to_take_back(event: LearningEvent, active: Iterable[PointsEntry]) -> tuple[list[PointsEntry], str]:
    """The active entries ``event`` takes back, and why (empty when it takes nothing back).

    A VOIDED event takes back every entry earned by the event it voids; UNCOMPLETED takes
    back the online-completion entry of that course, if it was earned on or before.
    ``active`` may be every active entry or just the candidates (the entries of the voided
    event, the entry at :func:`uncompleted_key`): the answer is the same.
    """
    if event.event is LearningEventKind.VOIDED and event.voids:
        targets = void_targets(event)
        hits = [e for e in active if e.event_id in targets]
        return hits, f"event {event.voids} voided by {event.id} on {event.occurred_at.date()}"
    if event.event is LearningEventKind.UNCOMPLETED:
        key = uncompleted_key(event)
        if key is None:
            return [], ""
        hits = [e for e in active if base_key(e.id) == key and e.earned_on <= event.occurred_at.date()]
        obj = _object_key(event, "online_completed")
        return hits, f"course {obj} un-completed ({event.id}) on {event.occurred_at.date()}"
    return [], ""


def training_ends(events: Sequence[LearningEvent],
                  sessions: Mapping[str, TrainingSession] | None = None) -> dict[tuple[str, str], date]:
    """(employee, program) -> the day the training ended: what "after the training" counts from.

    Seed 003's windows (action plan within 30 days 培训后, a reminder 10 days after) run from
    the end of the training: the last day of a multi-day session (its ``ends_at``), else
    the day attended or completed; of several trainings of a program, the latest.
    """
    by_session = sessions or {}
    out: dict[tuple[str, str], date] = {}
    for event in events:
        if event.event not in (LearningEventKind.ATTENDED, LearningEventKind.COMPLETED):
            continue
        session = by_session.get(event.session_id or "")
        program = event.program_id or (session.program_id if session else None)
        if not program:
            continue
        day = event.occurred_at.date()
        if session is not None and session.ends_at is not None:
            day = max(day, session.ends_at.astimezone(event.occurred_at.tzinfo).date())
        key = (event.employee_id, program)
        out[key] = max(out.get(key, day), day)
    return out


def training_of(event: LearningEvent, sessions: Mapping[str, TrainingSession] | None = None
                ) -> tuple[str, str] | None:
    """(employee, program) an attendance or completion trains; None for other events."""
    if event.event not in TRAINING_KINDS:
        return None
    session = (sessions or {}).get(event.session_id or "")
    program = event.program_id or (session.program_id if session else None)
    return (event.employee_id, program) if program else None


def trainings_after_voids(events: Sequence[LearningEvent], voided: AbstractSet[str],
                          sessions: Mapping[str, TrainingSession] | None = None
                          ) -> tuple[dict[tuple[str, str], date], set[tuple[str, str]]]:
    """When each (employee, program) training ended, from the events nobody voided, and the
    (employee, program) pairs whose every attendance or completion was voided.

    Seed 003's action plan is one made 培训后 (after the training): with no attendance or
    completion left after a void there is no training, so its action plan scores nothing, and
    points it earned are taken back (:data:`NO_ATTENDANCE_LEFT`).
    """
    kept = [e for e in events if e.event is not LearningEventKind.VOIDED and e.id not in voided]
    ends = training_ends(kept, sessions)
    gone = {pair for e in events if e.id in voided and (pair := training_of(e, sessions)) is not None}
    return ends, gone - ends.keys()


def trainings_lost_by(changed: Sequence[LearningEvent], theirs: Sequence[LearningEvent],
                      untrained: AbstractSet[tuple[str, str]],
                      sessions: Mapping[str, TrainingSession] | None = None
                      ) -> dict[str, set[tuple[str, str]]]:
    """For each VOIDED event in ``changed``: the (employee, program) pairs it left without any
    attendance or completion (of ``untrained``), through the events of ``theirs`` it voids."""
    voider = {target: e.id for e in changed for target in void_targets(e)}
    lost: dict[str, set[tuple[str, str]]] = {}
    for event in theirs:
        pair = training_of(event, sessions) if event.id in voider else None
        if pair is not None and pair in untrained:
            lost.setdefault(voider[event.id], set()).add(pair)
    return lost


def training_days(events: Sequence[LearningEvent], sessions: Mapping[str, TrainingSession] | None = None,
                  enrollments: Sequence[Enrollment] = ()) -> dict[tuple[str, str], date]:
    """(employee, program) -> the first day trained: attended/completed events, else a completed session."""
    by_session = sessions or {}
    out: dict[tuple[str, str], date] = {}
    for event in events:
        if event.event not in (LearningEventKind.ATTENDED, LearningEventKind.COMPLETED):
            continue
        session = by_session.get(event.session_id or "")
        program = event.program_id or (session.program_id if session else None)
        if program:
            key, day = (event.employee_id, program), event.occurred_at.date()
            out[key] = min(out.get(key, day), day)
    for enrollment in enrollments:
        session = by_session.get(enrollment.session_id or "")
        if enrollment.status is EnrollmentStatus.COMPLETED and session is not None:
            out.setdefault((enrollment.employee_id, enrollment.program_id), session.starts_at.date())
    return out
