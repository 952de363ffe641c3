"""Vendor JSON -> record fields, as the ``fields`` tables of plugins.toml say. Pure functions."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from trainbridge.connectors.rest.config import FieldSpec
from trainbridge.sdk.streams import MISSING, get

_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
_TRUE, _FALSE = {"true", "yes", "y", "1", "on"}, {"false", "no", "n", "0", "off", ""}


class MappingError(ValueError):
    """One vendor record cannot become a record: it is rejected with this reason."""


def build(fields: dict[str, FieldSpec], item: Any, zone: tzinfo) -> dict[str, Any]:
    """The record data of one vendor item; fields with no value are left out (the model decides)."""
    data: dict[str, Any] = {}
    for name, spec in fields.items():
        value = field_value(name, spec, item, zone)
        if value is not MISSING:
            data[name] = value
    return data


def field_value(name: str, spec: FieldSpec, item: Any, zone: tzinfo) -> Any:
    if spec.has("const"):
        value = spec.const
    elif spec.template is not None:
        value = _fill(spec.template, item)
    else:
        value = get(item, spec.path or "")
    if value is MISSING or value is None or value == "":
        return spec.default if spec.has("default") else MISSING
    if spec.map is not None:
        key = _text(value)
        if key in spec.map:
            value = spec.map[key]
        elif spec.has("otherwise"):
            value = spec.otherwise
        else:
            msg = f"{name}: {value!r} is not in the value map ({', '.join(spec.map)})"
            raise MappingError(msg)
    if spec.parse is None:
        return value
    try:
        return _parse(spec, value, ZoneInfo(spec.timezone) if spec.timezone else zone)
    except (ValueError, TypeError, InvalidOperation, OverflowError) as exc:
        msg = f"{name}: cannot read {value!r} as {spec.parse}" + (f" ({exc})" if str(exc) else "")
        raise MappingError(msg) from None


def _fill(template: str, item: Any) -> Any:
    parts = {m: get(item, m) for m in _PLACEHOLDER.findall(template)}
    if any(v is MISSING or v is None for v in parts.values()):
        return MISSING
    return _PLACEHOLDER.sub(lambda m: _text(parts[m[1]]), template).strip()


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _parse(spec: FieldSpec, value: Any, zone: tzinfo) -> Any:
    kind = spec.parse
    if kind == "str":
        return _text(value)
    if kind == "decimal":
        return Decimal(_text(value).strip().replace(",", ""))
    if kind == "int":
        number = Decimal(_text(value).strip())
        if number != number.to_integral_value():
            raise ValueError("not a whole number")
        return int(number)
    if kind == "bool":
        word = _text(value).strip().lower()
        if word not in _TRUE | _FALSE:
            raise ValueError("not a yes/no value")
        return word in _TRUE
    if kind == "list":
        if isinstance(value, list):
            return value
        return [p.strip() for p in _text(value).split(spec.separator) if p.strip()]
    if kind == "datetime":
        return parse_instant(value, spec.format, zone)
    return parse_day(value, spec.format, zone)


def parse_instant(value: Any, fmt: str | None, zone: tzinfo) -> datetime:
    if fmt in ("epoch", "epoch_ms"):
        seconds = Decimal(_text(value)) / (1000 if fmt == "epoch_ms" else 1)
        return datetime.fromtimestamp(float(seconds), UTC)
    text = _text(value).strip()
    moment = datetime.strptime(text, fmt) if fmt else datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def parse_day(value: Any, fmt: str | None, zone: tzinfo) -> date:
    text = _text(value).strip()
    if fmt:
        return datetime.strptime(text, fmt).date()
    if len(text) == 10:
        return date.fromisoformat(text)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    # An instant is a day where the company is: 2025-05-31T18:00Z is June 1st in Shanghai.
    return moment.astimezone(zone).date() if moment.tzinfo else moment.date()
