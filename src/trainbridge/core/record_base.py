"""What every record is, whatever its kind, and how a source hands records over.

A record is a frozen model with a stable ``id`` built from its source (``instance:vendor_id``),
so that re-reading a source is idempotent, and a content hash of its payload. A source answers
in :class:`Page` objects: records, rejects (what could not become a record, and why) and the
cursor that resumes after them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError


def make_id(instance: str, *parts: object) -> str:
    """A stable record id: ``instance:part1:part2``; the same source row gives the same id."""
    if not parts:
        msg = "make_id needs at least one vendor key part"
        raise ValueError(msg)
    return ":".join([instance, *(str(p) for p in parts)])


def digest_id(*parts: object) -> str:
    """A short stable id for derived things (decisions, notices) built from their keys."""
    raw = "\x1f".join(str(p) for p in parts)
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


class Record(BaseModel):
    """Base of every record: a stable id and the connector instance it came from."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)
    kind: ClassVar[str] = "record"

    id: str = Field(min_length=1, description="Stable id built from the source: instance:vendor_id")
    source: str = Field(default="", description="Connector instance the record came from")

    def payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def content_hash(self) -> str:
        return payload_hash(self.payload())


def payload_hash(payload: dict[str, Any]) -> str:
    """The content hash of a record's payload (:meth:`Record.payload`): equal content, equal hash."""
    data = json.dumps(payload, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(data.encode()).hexdigest()


class Reject(BaseModel):
    """A payload that could not become a record: it goes to quarantine with the reason."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    model: str = Field(description="Record kind it was meant to become")
    reason: str
    data: dict[str, Any] = Field(default_factory=dict, description="The record-shaped data tried")
    raw: Any = Field(default=None, description="The vendor payload as received")
    key: str | None = Field(default=None, description="Vendor key, when known")


class Page(BaseModel):
    """One batch from a source, with the cursor that resumes after it.

    The runner commits ``records``, ``rejects`` and ``cursor`` in one transaction, so
    a cursor is never saved ahead of the records it covers.
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    records: list[Record] = Field(default_factory=list)
    rejects: list[Reject] = Field(default_factory=list)
    cursor: str | None = None

    def add(self, model: type[Record], data: dict[str, Any], raw: Any = None) -> Record | None:
        """Validate ``data`` as ``model``; keep the record, or a reject with the reason."""
        try:
            record = model.model_validate(data)
        except ValidationError as exc:
            self.rejects.append(
                Reject(model=model.kind, reason=validation_reason(exc), data=_jsonable(data),
                       raw=_jsonable(raw), key=str(data.get("id", "")) or None)
            )
            return None
        self.records.append(record)
        return record


def validation_reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(record)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str)) if value is not None else None


def paged(records: Iterable[Record], cursor: str | None = None, size: int = 500) -> Iterator[Page]:
    """Chunk already-made records into pages; the last page carries ``cursor``."""
    batch: list[Record] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield Page(records=batch)
            batch = []
    yield Page(records=batch, cursor=cursor)
