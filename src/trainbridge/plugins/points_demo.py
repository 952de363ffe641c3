"""The seed 003 demo story for the points reports: a quarter of managers' learning.

Pure data: :func:`demo_manager_story` builds the catalog and the events; the ``demo_prepare``
hook in :mod:`trainbridge.plugins.points_reports` writes them into the demo workspace.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from trainbridge.rules.points import period_bounds, period_key

__all__ = ["demo_manager_story"]


def demo_manager_story(today: date) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(catalog, events): a quarter of managers' learning before ``today``'s quarter, and a session ahead.

    M001 trains, plans, gets a plan adopted, teaches front-line staff and writes (150 points);
    M002 80; M003 checks in late (33); M004 submits the plan too late (10); M005 only the
    online course (5); M006 does not come (0). M005 and M006 are enrolled in a session in
    two days, so they get the 3-day reminder.
    """
    from trainbridge.plugins.ingest import SHANGHAI

    quarter_start = period_bounds(period_key(today, "quarter"), today)[0]
    first = period_bounds(period_key(quarter_start - timedelta(days=1), "quarter"), today)[0]

    def at(days: int, hour: int = 9, minute: int = 0) -> str:
        return datetime.combine(first + timedelta(days=days), time(hour, minute), SHANGHAI).isoformat()

    upcoming = datetime.combine(today + timedelta(days=2), time(9, 0), SHANGHAI)
    catalog: list[dict[str, Any]] = [
        {"record": "program", "program_id": "MGR-LEAD", "title": "管理者领导力工作坊", "delivery": "offline",
         "category": "management"},
        {"record": "program", "program_id": "MGR-ONLINE", "title": "绩效面谈在线课程", "delivery": "online",
         "category": "management"},
        {"record": "program", "program_id": "MGR-COACH", "title": "辅导下属实战", "delivery": "offline",
         "category": "management"},
        {"record": "program", "program_id": "FRONTLINE-SAFETY", "title": "一线员工安全操作分享",
         "delivery": "offline", "category": "safety"},
        {"record": "session", "session_id": "MGR-LEAD-1", "program_id": "MGR-LEAD", "starts_at": at(20),
         "ends_at": at(20, 17), "location": "上海培训中心", "audience": "managers"},
        {"record": "session", "session_id": "FRONTLINE-SAFETY-1", "program_id": "FRONTLINE-SAFETY",
         "starts_at": at(50, 14), "location": "上海工厂", "audience": "frontline"},
        {"record": "session", "session_id": "MGR-COACH-1", "program_id": "MGR-COACH",
         "starts_at": upcoming.isoformat(), "location": "上海培训中心", "audience": "managers"},
    ]
    statuses = {"MGR-LEAD": {"M001": "completed", "M002": "completed", "M003": "completed",
                             "M004": "completed", "M006": "enrolled"},
                "MGR-ONLINE": {"M001": "completed", "M002": "completed", "M003": "completed",
                               "M004": "in_progress", "M005": "completed"},
                "MGR-COACH": {"M005": "enrolled", "M006": "enrolled"}}
    sessions = {"MGR-LEAD": "MGR-LEAD-1", "MGR-COACH": "MGR-COACH-1"}
    for program, people in statuses.items():
        catalog += [{"record": "enrollment", "enrollment_id": f"{program}-{who}", "employee_id": who,
                     "program_id": program, "session_id": sessions.get(program),
                     "enrolled_on": first.isoformat(), "status": status} for who, status in people.items()]

    events: list[dict[str, Any]] = []

    def event(eid: str, who: str, kind: str, occurred: str, **more: Any) -> None:
        events.append({"event_id": eid, "employee_id": who, "event": kind, "occurred_at": occurred, **more})

    for who in ("M001", "M002", "M003", "M004"):
        check_in = at(20, 9, 12) if who == "M003" else at(20, 8, 50)
        event(f"mgr-att-{who}", who, "attended", at(20), program_id="MGR-LEAD", session_id="MGR-LEAD-1",
              checked_in_at=check_in)
    for who in ("M001", "M002", "M003", "M005"):
        event(f"mgr-online-{who}", who, "completed", at(30, 20), program_id="MGR-ONLINE",
              object_id="MGR-ONLINE")
    for who in ("M001", "M002", "M003"):
        event(f"mgr-plan-{who}", who, "action_plan_submitted", at(30), program_id="MGR-LEAD",
              object_id=f"plan-MGR-LEAD-{who}")
    event("mgr-plan-M001-online", "M001", "action_plan_submitted", at(40), program_id="MGR-ONLINE",
          object_id="plan-MGR-ONLINE-M001")
    # Re-submitted: the same (employee, rule, program) earns nothing more.
    event("mgr-plan-M001-again", "M001", "action_plan_submitted", at(41), program_id="MGR-LEAD",
          object_id="plan-MGR-LEAD-M001")
    event("mgr-plan-M004", "M004", "action_plan_submitted", at(62), program_id="MGR-LEAD",
          object_id="plan-MGR-LEAD-M004")  # 42 days after: outside the 30-day window
    event("mgr-adopted-M001", "M001", "action_plan_adopted", at(55), program_id="MGR-LEAD",
          object_id="plan-MGR-LEAD-M001")
    for who in ("M001", "M002"):
        event(f"mgr-taught-{who}", who, "taught", at(50, 14), program_id="FRONTLINE-SAFETY",
              session_id="FRONTLINE-SAFETY-1", audience="frontline")
        event(f"mgr-article-{who}", who, "article", at(60), object_id=f"article-{who}-leadership")
    return catalog, events
