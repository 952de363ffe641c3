"""The console's vocabulary: the shared word lists of :mod:`trainbridge.core.words` (the CLI
reads the same words without importing the console)."""

from __future__ import annotations

from trainbridge.core.words import (
    ADJUSTMENTS,
    AUDIT_ACTIONS,
    CONNECTOR_TYPES,
    COST_CATEGORIES,
    COUNTS,
    DETAIL_KEYS,
    FIELDS,
    FLAGS,
    JOBS,
    KINDS,
    OPERATIONS,
    POINTS_CATEGORIES,
    PYDANTIC_MESSAGES,
    QUARANTINE_REASONS,
    RECORDS,
    ROLES,
    SEPARATION_REASONS,
    STATUSES,
    TABLES,
    Pair,
    quarantine_sentences,
    word,
)

__all__ = [
    "ADJUSTMENTS",
    "AUDIT_ACTIONS",
    "CONNECTOR_TYPES",
    "COST_CATEGORIES",
    "COUNTS",
    "DETAIL_KEYS",
    "FIELDS",
    "FLAGS",
    "JOBS",
    "KINDS",
    "OPERATIONS",
    "POINTS_CATEGORIES",
    "PYDANTIC_MESSAGES",
    "QUARANTINE_REASONS",
    "RECORDS",
    "ROLES",
    "SEPARATION_REASONS",
    "STATUSES",
    "TABLES",
    "Pair",
    "quarantine_sentences",
    "word",
]
