"""The ledger, read once per report: the records the talent reports need, typed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from trainbridge.core.records import (
    Certificate,
    Employee,
    Enrollment,
    LearningEvent,
    MetricValue,
    PointsEntry,
    Separation,
    TrainingProgram,
)
from trainbridge.plugins.talent.config import REMINDER
from trainbridge.rules.points import active_entries
from trainbridge.rules.talent import CostLine


class View:
    """The records the talent reports need, typed."""

    def __init__(self, records: Mapping[str, list[Any]], cost_rows: Sequence[Mapping[str, Any]],
                 reminder_rows: Sequence[Mapping[str, Any]], superseded: set[str]) -> None:
        def typed(kind: str, cls: type[Any]) -> list[Any]:
            return [r for r in records.get(kind, []) if isinstance(r, cls)]

        self.employees: list[Employee] = typed("employee", Employee)
        self.separations: list[Separation] = typed("separation", Separation)
        self.programs: list[TrainingProgram] = typed("program", TrainingProgram)
        self.enrollments: list[Enrollment] = typed("enrollment", Enrollment)
        self.events: list[LearningEvent] = typed("learning_event", LearningEvent)
        self.certificates: list[Certificate] = typed("certificate", Certificate)
        self.metrics: list[MetricValue] = typed("metric", MetricValue)
        self.points: list[PointsEntry] = active_entries(typed("points_entry", PointsEntry), superseded)
        self.costs = cost_lines(cost_rows)
        self.reminded = {row["payload"]["certificate_id"]: row for row in reminder_rows}
        self.people = {e.employee_id: e for e in self.employees}

    def name(self, employee_id: str) -> str:
        who = self.people.get(employee_id)
        return who.name if who else ""


def load_view(ws: Any) -> View:
    from trainbridge.plugins.points import superseded_ids

    kinds = ("employee", "separation", "program", "enrollment", "learning_event", "certificate", "metric",
             "points_entry")
    with ws.ledger.transaction() as conn:
        records = {kind: list(ws.ledger.iter_records(conn, kind)) for kind in kinds}
        costs = ws.ledger.list_decisions(conn, "cost_allocation")
        reminders = ws.ledger.list_decisions(conn, REMINDER)
        superseded = superseded_ids(ws.ledger, conn)
    return View(records, costs, reminders, superseded)


def cost_lines(rows: Sequence[Mapping[str, Any]]) -> list[CostLine]:
    """The latest revision of each (item, employee) allocation; withdrawn ones are left out."""
    latest: dict[tuple[str, str], Mapping[str, Any]] = {}
    for row in rows:
        p = row["payload"]
        key = (p["item_id"], p["employee_id"])
        if key not in latest or p.get("revision", 1) > latest[key].get("revision", 1):
            latest[key] = p
    return [CostLine(p["item_id"], p["employee_id"], p.get("program_id"), p.get("category", ""),
                     Decimal(str(p["amount"])), p["currency"])
            for p in latest.values() if not p.get("withdrawn")]
