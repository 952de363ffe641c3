"""A small job used by the core tests: a 100 CNY attendance bonus per attended session.

It exercises everything a real job uses: reading a source, a decision with an
explanation, a proposal that waits for approval, and a notice written straight away.
Run as a script (``python sample_jobs.py plugins.toml [job]``) it syncs with the job
registered, so tests can kill the process mid-run.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from typing import ClassVar

from trainbridge.core.config import load_settings
from trainbridge.core.jobs import Decision, Job, JobContext, Plan, Proposal, Write
from trainbridge.core.records import (
    AdjustmentKind,
    LearningEvent,
    LearningEventKind,
    Notice,
    PayrollAdjustment,
    Recipient,
)
from trainbridge.core.runner import Workspace, overall_exit, sync


class AttendanceBonus(Job):
    name = "attendance_bonus"
    reads: ClassVar[tuple[str, ...]] = ("fetch_employees", "fetch_learning_events")

    def decide(self, ctx: JobContext) -> Plan:
        plan = Plan()
        for event in ctx.changed("learning_event"):
            assert isinstance(event, LearningEvent)
            if event.event is not LearningEventKind.ATTENDED:
                continue
            adjustment = PayrollAdjustment(
                id=f"bonus:{event.id}", employee_id=event.employee_id, adjustment=AdjustmentKind.BONUS,
                amount=Decimal("100.00"), currency="CNY", effective_date=ctx.today,
                reason="attendance bonus", explanation=("rule: 100 CNY per attended session",))
            plan.decisions.append(Decision(id=f"bonus:{event.id}", kind="bonus", subject=event.employee_id,
                                           payload={"event": event.id}, amount=Decimal("100.00"),
                                           currency="CNY", explanation=adjustment.explanation))
            plan.proposals.append(Proposal(
                id=f"bonus:{event.id}", kind="bonus", subject=event.employee_id,
                summary=f"100 CNY for attending {event.session_id}",
                write=Write("post_adjustment", {"adjustment": adjustment}),
                amount=Decimal("100.00"), currency="CNY"))
            notice = Notice(id=f"thanks:{event.id}", notice="thanks", subject="谢谢参加培训",
                            body=f"{event.employee_id} attended {event.session_id}",
                            recipients=(Recipient(employee_id=event.employee_id),))
            plan.writes.append(Write("send_notice", {"notice": notice}))
        ctx.mark_seen(plan, "learning_event")
        return plan


def workspace(config: str) -> Workspace:
    ws = Workspace(load_settings(config))
    ws.host.jobs[AttendanceBonus.name] = AttendanceBonus()
    return ws


if __name__ == "__main__":
    ws = workspace(sys.argv[1])
    results = sync(ws, sys.argv[2:] or [AttendanceBonus.name])
    for r in results:
        print(r.job, r.status, r.counts, r.errors)
    sys.exit(overall_exit(results))
