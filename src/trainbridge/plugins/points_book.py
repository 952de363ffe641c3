"""The points entries of the employees a points run scores, kept as entries come and go."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date

from trainbridge.core.records import LearningEvent, LearningEventKind, PointsEntry
from trainbridge.rules.points import base_key, period_key, uncompleted_key, void_targets


@dataclass
class Book:
    """The entries per (employee, rule, object) key while a run scores: which one is active.

    Everything is kept as entries come and go, so one event costs O(1) whatever the
    number of entries: ``counts`` holds the active entries per (employee, rule, period)
    for caps (a taken-back entry frees its place), ``by_event`` the keys each event's
    active entries sit under (what a voiding event takes back).
    """

    active: dict[str, PointsEntry] = field(default_factory=dict)
    #: Keys that had entries, all of them taken back.
    gone: set[str] = field(default_factory=set)
    counts: dict[tuple[str, str, str], int] = field(default_factory=dict)
    by_event: dict[str, set[str]] = field(default_factory=dict)

    def add(self, entry: PointsEntry, *, active: bool) -> None:
        key = base_key(entry.id)
        if active:
            earlier = self.active.get(key)
            if earlier is not None:
                self._forget(earlier)
            self.active[key] = entry
            self._remember(entry, key)
            self.gone.discard(key)
        elif key not in self.active:
            self.gone.add(key)

    def take_back(self, entry: PointsEntry) -> None:
        key = base_key(entry.id)
        self._forget(self.active.pop(key, None))
        self.gone.add(key)

    def candidates(self, event: LearningEvent) -> list[PointsEntry]:
        """The active entries ``event`` could take back: the voided event's, or the completion's."""
        if event.event is LearningEventKind.VOIDED:
            return [self.active[key] for target in void_targets(event)
                    for key in self.by_event.get(target, ())]
        key = uncompleted_key(event)
        entry = self.active.get(key) if key else None
        return [entry] if entry is not None else []

    def _remember(self, entry: PointsEntry, key: str) -> None:
        self._count(entry, 1)
        self.by_event.setdefault(entry.event_id, set()).add(key)

    def _forget(self, entry: PointsEntry | None) -> None:
        if entry is None:
            return
        self._count(entry, -1)
        keys = self.by_event.get(entry.event_id)
        if keys is not None:
            keys.discard(base_key(entry.id))
            if not keys:
                del self.by_event[entry.event_id]

    def _count(self, entry: PointsEntry, step: int) -> None:
        counts, employee, rule = self.counts, entry.employee_id, entry.rule
        for period in _periods(entry.earned_on):
            key = (employee, rule, period)
            counts[key] = counts.get(key, 0) + step


@functools.lru_cache(maxsize=4096)
def _periods(day: date) -> tuple[str, str, str]:
    """The month, quarter and year ``day`` falls in (a run's entries share a few hundred days)."""
    return period_key(day, "month"), period_key(day, "quarter"), period_key(day, "year")
