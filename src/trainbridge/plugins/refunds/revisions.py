"""Decisions that follow their inputs: the latest revision of each, whether it went stale, and why."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

_SHOWN = 8


def latest(rows: Iterable[dict[str, Any]],
           key: Callable[[Mapping[str, Any]], Any]) -> dict[Any, dict[str, Any]]:
    """The highest revision of each decision key (``key`` reads the payload)."""
    found: dict[Any, dict[str, Any]] = {}
    for row in rows:
        k = key(row["payload"])
        if k not in found or row["payload"]["revision"] > found[k]["payload"]["revision"]:
            found[k] = row
    return found


def revision_id(base: str, previous: Mapping[str, Any] | None) -> tuple[str, int]:
    """``base`` for a first decision, ``base:rN`` for the N-th revision."""
    revision = previous["payload"]["revision"] + 1 if previous else 1
    return (base if revision == 1 else f"{base}:r{revision}"), revision


def recorded_inputs(row: Mapping[str, Any]) -> dict[str, str] | None:
    """The inputs a decision row was made from; None for a decision recorded before inputs were kept."""
    inputs = row.get("inputs")
    return dict(inputs) if inputs else None


def what_changed(before: Mapping[str, str] | None, after: Mapping[str, str]) -> str:
    """The inputs that differ, as an auditor reads them: new, changed, gone."""
    if before is None:
        return "its inputs were not recorded before"
    parts = []
    for label, ids in (("new", sorted(after.keys() - before.keys())),
                       ("changed", sorted(k for k in after.keys() & before.keys() if after[k] != before[k])),
                       ("gone", sorted(before.keys() - after.keys()))):
        if ids:
            more = f" and {len(ids) - _SHOWN} more" if len(ids) > _SHOWN else ""
            parts.append(f"{label} {', '.join(ids[:_SHOWN])}{more}")
    return "; ".join(parts) or "nothing"
