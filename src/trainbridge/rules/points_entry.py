"""A points entry made of values already of their fields' types, not validated a second time.

:func:`trainbridge.rules.points.make_entry` builds three quarters of a million of these for a
million learning events: validating each took a fifth of the scoring, and pydantic's own
``model_construct`` costs twice what validating does. :func:`typed_entry` does what
``model_construct`` does for this one model, for half the cost of validating.
"""

from __future__ import annotations

from typing import Any

from trainbridge.core.records import PointsEntry

_new, _set = object.__new__, object.__setattr__
#: PointsEntry's fields in their order; ``source`` is never given (its default, "").
FIELDS = ("id", "source", "employee_id", "points", "category", "rule", "rule_version", "event_id",
          "earned_on", "reason")
_GIVEN = frozenset(FIELDS) - {"source"}
#: PointsEntry is as this module knows it: these fields in this order, no post-init, no extras kept.
TRUSTED = (tuple(PointsEntry.model_fields) == FIELDS and not PointsEntry.__pydantic_post_init__
           and PointsEntry.model_config.get("extra") != "allow")


def typed_entry(values: dict[str, Any]) -> PointsEntry:
    """The entry of ``values`` (every field but ``source``, each already of its field's type).

    Equal to ``PointsEntry(**values)``, field for field, fields set included (all but ``source``);
    the caller vouches for the types (tests/core/test_prepare_record_identity.py compares the two).
    Should PointsEntry change, it is validated, as before.
    """
    if not TRUSTED:  # pragma: no cover - PointsEntry changed
        return PointsEntry(**values)
    entry = _new(PointsEntry)
    _set(entry, "__dict__", {"id": values["id"], "source": "", **values})
    _set(entry, "__pydantic_fields_set__", set(_GIVEN))
    _set(entry, "__pydantic_extra__", None)
    _set(entry, "__pydantic_private__", None)
    return entry
