"""Domain throughput, the rules alone: points, refund quotes, the incentive run.

No HTTP, no ledger, no CLI: each function builds its input in memory, times only the rule
calls, and returns ``{"items", "seconds", "per_s"}``. What a user waits for, the job run
through ``trainbridge sync JOB`` with its ledger reads and writes, is the ``jobs`` scenario
(:mod:`bench.jobs`, BENCHMARKS.md "Jobs at scale").
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from trainbridge.core.records import LearningEvent, LearningEventKind, PointsEntry, SeparationReason

KINDS = (LearningEventKind.ATTENDED, LearningEventKind.COMPLETED, LearningEventKind.ARTICLE,
         LearningEventKind.ACTION_PLAN_ADOPTED)


def _event(k: int, employees: int) -> LearningEvent:
    at = datetime(2026, 1, 1, 9, tzinfo=UTC) + timedelta(minutes=k % 200_000)
    kind = KINDS[k % len(KINDS)]
    return LearningEvent(id=f"lrs:{k}", employee_id=f"M{k % employees:05d}", event=kind,
                         occurred_at=at, object_id=f"course-{k % 5000}",
                         program_id=f"P{k % 300}", session_id=f"S{k % 3000}" if k % 4 == 0 else None,
                         checked_in_at=at if kind is LearningEventKind.ATTENDED else None)


def _job_event(k: int, managers: int) -> LearningEvent:
    """``_event(k)``, except that one in 20 voids the event ten before and one in 40 un-completes."""
    if k % 20 == 19 or k % 40 == 9:
        target = _event(k - 10 if k % 20 == 19 else k - 8, managers)
        voided = k % 20 == 19
        return LearningEvent(id=f"lrs:{k}", employee_id=target.employee_id,
                             event=LearningEventKind.VOIDED if voided else LearningEventKind.UNCOMPLETED,
                             occurred_at=target.occurred_at + timedelta(hours=1),
                             voids=target.id if voided else None, object_id=target.object_id,
                             program_id=target.program_id)
    return _event(k, managers)


#: A manager's year of learning, ten events at a time (index ``j % 10``): three courses attended
#: (one in ten of them late), two online courses completed, an action plan submitted for the first
#: course attended and adopted, a reflection article; then what earns nothing: the same attendance
#: sent again (already earned) and the LMS completing an offline course (scores through attendance).
_YEAR = ("attended", "attended", "attended", "completed", "completed", "action_plan_submitted",
         "action_plan_adopted", "article", "attended again", "completed offline")
_OFFLINE = [p for p in range(300) if p % 3]  # bench.jobs' catalog: P{p} is online when p % 3 == 0


def _real_event(k: int, managers: int) -> LearningEvent:
    """Event ``k`` of realistic data: manager ``k % managers``'s ``k // managers``-th event of
    :data:`_YEAR` (different courses every ten events), about one in five scoring nothing."""
    m, j = k % managers, k // managers
    step, decade = j % 10, j // 10
    kind = _YEAR[step]
    employee = f"M{m:05d}"

    def attended(n: int) -> tuple[str, str, datetime]:  # the n-th course manager m attended
        program = _OFFLINE[(m * 7 + n) % len(_OFFLINE)]
        session = program + 300 * (m % 10)  # bench.jobs' catalog: S{s} is of P{s % 300}
        start = datetime(2026, 1, 5, 9, tzinfo=UTC) + timedelta(days=session % 300)
        return f"P{program}", f"S{session}", start

    if kind in ("attended", "attended again"):
        program, session, start = attended(3 * decade + (step if step < 3 else 0))
        late = kind == "attended" and (m + j) % 10 == 0
        return LearningEvent(id=f"lrs:{k}", employee_id=employee, event=LearningEventKind.ATTENDED,
                             occurred_at=start, program_id=program, session_id=session,
                             checked_in_at=start + timedelta(minutes=12 if late else 0))
    if kind in ("action_plan_submitted", "action_plan_adopted"):
        program, _, start = attended(3 * decade)
        days = 10 if kind == "action_plan_submitted" else 40
        return LearningEvent(id=f"lrs:{k}", employee_id=employee, event=LearningEventKind(kind),
                             occurred_at=start + timedelta(days=days), program_id=program)
    at = datetime(2026, 1, 1, 9, tzinfo=UTC) + timedelta(days=(m + 3 * j) % 330, minutes=m % 600)
    if kind == "article":
        return LearningEvent(id=f"lrs:{k}", employee_id=employee, event=LearningEventKind.ARTICLE,
                             occurred_at=at, object_id=f"article-{m}-{j}")
    if kind == "completed offline":
        program, _, start = attended(3 * decade + 1)
        return LearningEvent(id=f"lrs:{k}", employee_id=employee, event=LearningEventKind.COMPLETED,
                             occurred_at=start + timedelta(hours=8), program_id=program)
    online = 3 * ((m * 11 + 2 * decade + step - 3) % 100)
    return LearningEvent(id=f"lrs:{k}", employee_id=employee, event=LearningEventKind.COMPLETED,
                         occurred_at=at, program_id=f"P{online}", object_id=f"course-{online}")


def _real_job_event(k: int, managers: int) -> LearningEvent:
    """``_real_event(k)``, except that one event in 20 of each manager voids the manager's event
    before it and one in 40 un-completes the manager's last online course."""
    m, j = k % managers, k // managers
    voided = (m + j) % 20 == 19
    if j and (voided or ((m + j) % 40 == 9 and j % 10 > 3)):
        target = _real_event(k - managers * (1 if voided else j % 10 - 3), managers)
        return LearningEvent(id=f"lrs:{k}", employee_id=target.employee_id,
                             event=LearningEventKind.VOIDED if voided else LearningEventKind.UNCOMPLETED,
                             occurred_at=target.occurred_at + timedelta(hours=1),
                             voids=target.id if voided else None, object_id=target.object_id,
                             program_id=target.program_id)
    return _real_event(k, managers)


def points(events: int, *, employees: int = 10_000, budget_s: float = 120.0) -> dict[str, Any]:
    """Score ``events`` learning events with rules.points.score_event alone.

    The context is what the job passes: the live set of entries earned so far and the live
    counts for caps (no copies); ``points_job`` runs the job itself. Stops at ``budget_s``
    and says so.
    """
    from trainbridge.plugins.points import load_rules
    from trainbridge.rules.points import EventContext, period_key, score_event

    rules = load_rules()
    existing: set[str] = set()
    counts: dict[tuple[str, str, str], int] = {}
    entries = skipped = done = 0
    build = 0.0
    started = time.perf_counter()
    for k in range(events):
        t0 = time.perf_counter()
        event = _event(k, employees)
        build += time.perf_counter() - t0
        scored = score_event(event, rules, EventContext(existing=existing, period_counts=counts))
        skipped += len(scored.skipped)
        for entry in scored.entries:
            entries += 1
            existing.add(entry.id)
            for per in ("month", "quarter", "year"):
                key = (entry.employee_id, entry.rule, period_key(entry.earned_on, per))
                counts[key] = counts.get(key, 0) + 1
        done += 1
        if time.perf_counter() - started > budget_s:
            break
    seconds = time.perf_counter() - started - build
    return {"items": done, "asked": events, "complete": done == events, "seconds": seconds,
            "per_s": done / seconds if seconds else 0.0, "entries": entries, "skipped": skipped,
            "event_build_seconds": build}


def refunds(leavers: int) -> dict[str, Any]:
    from trainbridge.rules.refunds import Departure, ServiceTerms, quote_prc

    reasons = (SeparationReason.RESIGNATION, SeparationReason.DISMISSAL_FOR_CAUSE,
               SeparationReason.NO_FAULT_DISMISSAL, SeparationReason.CONTRACT_END)
    cases = []
    for k in range(leavers):
        start = date(2024, 1 + k % 12, 1 + k % 28)
        terms = [ServiceTerms.for_months(f"AGR-{k}-{j}", Decimal(1000 + 250 * j + k % 500),
                                         start + timedelta(days=40 * j), 24 if j else 12)
                 for j in range(1 + k % 2)]
        cases.append((Departure(last_day=date(2025, 1 + k % 12, 1 + k % 27),
                                reason=reasons[k % len(reasons)]), terms))
    started = time.perf_counter()
    owed = 0
    for departure, terms in cases:
        owed += quote_prc(departure, terms).owed
    seconds = time.perf_counter() - started
    return {"items": leavers, "seconds": seconds, "per_s": leavers / seconds, "owed": owed}


def incentives(managers: int, *, entries_per_manager: int = 12) -> dict[str, Any]:
    """The pure part of the incentives job: totals, top share, bonus, flags, promotion."""
    from trainbridge.rules.incentives import IncentiveThresholds, bonus_percent, flags, promotion, top_share
    from trainbridge.rules.points import totals

    t = IncentiveThresholds()
    entries = [PointsEntry(id=f"points:M{m:05d}:offline_attended:{j}", employee_id=f"M{m:05d}",
                           points=5 + (m * 7 + j) % 20, category="participation", rule="offline_attended",
                           rule_version="v1", event_id=f"e{m}-{j}",
                           earned_on=date(2026, 1 + j % 6, 1 + (m + j) % 28))
               for m in range(managers) for j in range(entries_per_manager)]
    ids = [f"M{m:05d}" for m in range(managers)]
    started = time.perf_counter()
    first, last = date(2026, 4, 1), date(2026, 6, 30)
    quarterly = {m: 0 for m in ids} | totals(entries, first, last, set())
    annual = totals(entries, date(2026, 1, 1), last, set())
    last_12m = totals(entries, last - timedelta(days=364), last, set())
    winners, _ = top_share(quarterly, t)
    proposals = 0
    for m in ids:
        points = quarterly[m]
        proposals += (m in winners) + bool(bonus_percent(points, t))
        proposals += len(flags(points, annual.get(m, 0), t))
        proposals += promotion(last_12m.get(m, 0), Decimal("0.9"), t)[0]
    seconds = time.perf_counter() - started
    return {"items": managers, "seconds": seconds, "per_s": managers / seconds,
            "proposals": proposals, "points_entries": len(entries)}


def points_job(events: int, *, managers: int = 10_000) -> dict[str, Any]:
    """``PointsJob.decide``'s scoring over ``events`` learning events already in memory.

    No ledger: a stand-in context hands the job its records (the job itself reads them from the
    ledger, a batch of employees at a time, and writes its results; that is the ``jobs``
    scenario). The events are built before the clock starts; one
    in 20 voids an earlier event (which then earns nothing) and one in 40 un-completes a
    course (its +5 is taken back), so voiding and taking back are part of what is measured.
    """
    from trainbridge.core.jobs import Plan
    from trainbridge.core.records import Employee
    from trainbridge.plugins.points import Book, PointsConfig, PointsJob, load_rules
    from trainbridge.rules.points import effective_events, training_ends, voided_ids

    people = {f"M{m:05d}": Employee(id=f"hr:M{m:05d}", employee_id=f"M{m:05d}", name=f"M{m}", is_manager=True)
              for m in range(managers)}
    learning = [_job_event(k, managers) for k in range(events)]
    started = time.perf_counter()
    plan, tally = Plan(), {"events": 0, "entries": 0, "skipped": 0, "taken": 0}
    in_order = sorted(learning, key=lambda e: e.occurred_at)
    PointsJob().score(in_order, config=PointsConfig(), rules=load_rules(), employees=people, catalog=({}, {}),
                      trained_on=training_ends(effective_events(learning)), voided=voided_ids(learning),
                      book=Book(), plan=plan, tally=tally)
    seconds = time.perf_counter() - started
    return {"items": events, "asked": events, "complete": True, "seconds": seconds,
            "per_s": events / seconds, "entries": len(plan.records),
            "taken_back": sum(1 for d in plan.decisions if d.kind == "points_superseded")}
