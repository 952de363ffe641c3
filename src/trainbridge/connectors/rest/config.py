"""The ``[connectors.NAME]`` table of a generic REST source: auth, endpoints, paging, mapping."""

from __future__ import annotations

import types
import typing
from enum import Enum
from typing import Annotated, Any, Literal, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from trainbridge.core.connector import ConnectorConfig
from trainbridge.core.http import HttpSettings
from trainbridge.core.records import (
    Certificate,
    CostItem,
    Employee,
    Enrollment,
    LearningEvent,
    MetricValue,
    Record,
    Separation,
    TrainingProgram,
    TrainingSession,
)

#: Record kind (the endpoint table's name) -> the record it becomes and the hook that reads it.
KINDS: dict[str, tuple[type[Record], str]] = {
    "employees": (Employee, "fetch_employees"),
    "separations": (Separation, "fetch_separations"),
    "programs": (TrainingProgram, "fetch_training_catalog"),
    "sessions": (TrainingSession, "fetch_training_catalog"),
    "enrollments": (Enrollment, "fetch_training_catalog"),
    "learning_events": (LearningEvent, "fetch_learning_events"),
    "certificates": (Certificate, "fetch_learning_events"),
    "cost_items": (CostItem, "fetch_cost_items"),
    "metrics": (MetricValue, "fetch_metrics"),
}
_FILLED_IN = ("id", "source")  # made by the connector, never mapped


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- auth ---------------------------------------------------------------------------


class BearerAuth(_Strict):
    type: Literal["bearer"]
    token: SecretStr


class BasicAuth(_Strict):
    type: Literal["basic"]
    username: str = Field(min_length=1)
    password: SecretStr


class HeaderAuth(_Strict):
    type: Literal["header"]
    name: str = Field(default="X-Api-Key", min_length=1, description="Header carrying the key")
    value: SecretStr


Auth = Annotated[BearerAuth | BasicAuth | HeaderAuth, Field(discriminator="type")]


# --- paging -------------------------------------------------------------------------


class NoPaging(_Strict):
    type: Literal["none"]


class PageNumberPaging(_Strict):
    """``?page=1,2,...`` until a short or empty page (or ``total_pages`` in the body)."""

    type: Literal["page"]
    param: str = "page"
    start: int = Field(default=1, ge=0)
    size_param: str | None = Field(default=None, description="e.g. per_page")
    size: int | None = Field(default=None, ge=1)
    total_pages: str | None = Field(default=None, description="Dotted path of the page count")


class OffsetPaging(_Strict):
    """``?offset=0&limit=100``, then 100, 200, ... until a short page."""

    type: Literal["offset"]
    param: str = "offset"
    limit_param: str = "limit"
    limit: int = Field(default=100, ge=1)


class CursorPaging(_Strict):
    """The answer names the next cursor (``next``, a dotted path); sent back as ``param``."""

    type: Literal["cursor"]
    param: str = "cursor"
    next: str = Field(min_length=1, description="Dotted path of the next cursor in the answer")
    size_param: str | None = None
    size: int | None = Field(default=None, ge=1)


class LinkPaging(_Strict):
    """Follow the next page's URL: the ``Link: <...>; rel="next"`` header, or a body path."""

    type: Literal["link"]
    next: str | None = Field(default=None, description="Dotted path of the next URL; none: Link header")


Paging = Annotated[NoPaging | PageNumberPaging | OffsetPaging | CursorPaging | LinkPaging,
                   Field(discriminator="type")]


class Incremental(_Strict):
    """Read only what changed: ``param`` carries the largest ``field`` seen last time."""

    param: str = Field(min_length=1, description="Query parameter, e.g. updated_since")
    field: str = Field(min_length=1, description="Dotted path in each record, e.g. updated_at")
    initial: str | None = Field(default=None, description="Value for the first read; none: all")
    ascending: bool = Field(default=False, description="Answers are sorted by field: resume per page")


# --- field mapping -------------------------------------------------------------------

Parse = Literal["date", "datetime", "decimal", "int", "str", "bool", "list"]


class FieldSpec(_Strict):
    """Where a record field comes from: ``path``, ``const`` or ``template``, then map and parse."""

    path: str | None = Field(default=None, description="Dotted path in the vendor record")
    const: Any = None
    template: str | None = Field(default=None, description='e.g. "{first_name} {last_name}"')
    default: Any = Field(default=None, description="Used when the vendor value is missing or empty")
    map: dict[str, Any] | None = Field(default=None, description="Vendor value -> our value")
    otherwise: Any = Field(default=None, description="For values not in map; unset: reject the record")
    parse: Parse | None = None
    format: str | None = Field(default=None, description="strptime format, or epoch / epoch_ms")
    timezone: str | None = Field(default=None, description="For datetimes without an offset")
    separator: str = ","

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        return {"path": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        given = [k for k in ("path", "const", "template") if k in self.model_fields_set]
        if len(given) != 1:
            msg = f"give exactly one of path, const, template (got {', '.join(given) or 'none'})"
            raise ValueError(msg)
        if self.timezone:
            _zone(self.timezone)
        return self

    def has(self, name: str) -> bool:
        return name in self.model_fields_set


class Endpoint(_Strict):
    path: str = Field(min_length=1, description="Relative to base_url")
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    records: str = Field(default="", description="Dotted path of the record list; empty: the body")
    records_keyed_by: str | None = Field(
        default=None, min_length=1,
        description='The records are an object keyed by id ({"123": {...}}): the field each row '
                    'gets its key in, e.g. "id"')
    key: str | list[str] = Field(default="id", description="Vendor key path(s) for the record id")
    pagination: Paging = Field(default_factory=lambda: NoPaging(type="none"))
    incremental: Incremental | None = None
    fields: dict[str, FieldSpec]


class RestConfig(ConnectorConfig):
    base_url: str = Field(pattern=r"^https?://", description="e.g. https://hr.internal.example/api")
    auth: Auth | None = None
    headers: dict[str, str] = Field(default_factory=dict, description="Extra, non-secret headers")
    timezone: str = Field(default="UTC", description="For vendor datetimes without an offset")
    healthcheck_path: str | None = Field(default=None, description="Default: the first endpoint")
    max_pages: int = Field(default=10000, ge=1)
    endpoints: dict[str, Endpoint] = Field(min_length=1)
    http: HttpSettings = Field(default_factory=HttpSettings)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        _zone(value)
        return value

    @field_validator("endpoints")
    @classmethod
    def _kinds_and_mappings(cls, endpoints: dict[str, Endpoint]) -> dict[str, Endpoint]:
        problems = []
        for kind, endpoint in endpoints.items():
            if kind not in KINDS:
                problems.append(f"unknown record kind {kind!r} (known: {', '.join(KINDS)})")
                continue
            problems += [f"endpoints.{kind}: {p}" for p in _mapping_problems(KINDS[kind][0], endpoint)]
        if problems:
            raise ValueError("; ".join(problems))
        return endpoints


def _mapping_problems(model: type[Record], endpoint: Endpoint) -> list[str]:
    fields = model.model_fields
    problems = []
    unknown = [f for f in endpoint.fields if f not in fields or f in _FILLED_IN]
    if unknown:
        known = ", ".join(f for f in fields if f not in _FILLED_IN)
        problems.append(f"{model.kind} has no field(s) {', '.join(unknown)} (fields: {known})")
    missing = [name for name, info in fields.items()
               if info.is_required() and name not in _FILLED_IN and name not in endpoint.fields]
    if missing:
        problems.append(f"no mapping for required field(s) {', '.join(missing)}")
    for name, spec in endpoint.fields.items():
        enum = _enum_of(fields[name].annotation) if name in fields else None
        if enum is None:
            continue
        allowed = {e.value for e in enum}
        values = [*(spec.map or {}).values(), *([spec.const] if spec.has("const") else []),
                  *([spec.otherwise] if spec.has("otherwise") else []),
                  *([spec.default] if spec.has("default") else [])]
        bad = sorted({str(v) for v in values if str(v) not in allowed})
        if bad:
            problems.append(f"fields.{name}: {', '.join(bad)} not among {', '.join(sorted(allowed))}")
    return problems


def _enum_of(annotation: Any) -> type[Enum] | None:
    candidates = typing.get_args(annotation) if isinstance(annotation, types.UnionType) \
        or typing.get_origin(annotation) is Union else (annotation,)
    return next((c for c in candidates if isinstance(c, type) and issubclass(c, Enum)), None)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        msg = f"unknown time zone {name!r} (an IANA name such as Asia/Shanghai)"
        raise ValueError(msg) from None
