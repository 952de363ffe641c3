"""Source streams: which hook produces which record kinds, and which streams a set of jobs needs.

A sync ingests each stream once per connector instance, for all the jobs it runs, before
any job decides; jobs name the record kinds they read (``Job.inputs``), never hooks. A
stream is a source hook (``fetch_*``), or a poll the core runs for records it already
holds (``signature_status`` for envelopes still waiting to be signed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

#: Source hook -> the record kinds its pages carry.
SOURCE_STREAMS: Mapping[str, tuple[str, ...]] = {
    "fetch_employees": ("employee",),
    "fetch_separations": ("separation",),
    "fetch_training_catalog": ("program", "session", "enrollment"),
    "fetch_learning_events": ("learning_event", "certificate"),
    "fetch_cost_items": ("cost_item",),
    "fetch_metrics": ("metric",),
    "fetch_agreements": ("agreement",),
}
#: Polls: a role hook the core calls per record it holds, turning answers into records.
POLL_STREAMS: Mapping[str, tuple[str, ...]] = {
    "signature_status": ("envelope",),
}
STREAMS: Mapping[str, tuple[str, ...]] = {**SOURCE_STREAMS, **POLL_STREAMS}


def kinds_of(hooks: Iterable[str]) -> tuple[str, ...]:
    """The record kinds the given source hooks produce (the older ``Job.reads`` form)."""
    return tuple(kind for hook in hooks for kind in STREAMS.get(hook, ()))

