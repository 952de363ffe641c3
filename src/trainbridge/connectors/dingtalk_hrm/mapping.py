"""DingTalk HRM JSON -> record data, and separation reasons -> :class:`SeparationReason`.

Roster (``POST /v1.0/hrm/rosters/lists/query``): ``result[].fieldDataList[]`` of
``{fieldCode, fieldName, groupId, fieldValueList: [{value, label, itemIndex}]}``; the
system field codes (sys00-name, sys00-mainDept, ...) are listed in "花名册自定义字段业务code".
Separations: ``GET /v1.0/hrm/employees/dimissionInfos`` answers ``voluntaryReason`` and
``passiveReason`` (reason names, lists of strings) and ``lastWorkDay`` (epoch ms); the old
``topapi/smartwork/hrm/employee/listdimission`` answers ``reason_type`` 1-9 instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from trainbridge.core.records import EmploymentStatus, make_id
from trainbridge.core.records import SeparationReason as R

ROSTER_FIELDS = (
    "sys00-name", "sys00-email", "sys00-jobNumber", "sys00-mainDept", "sys00-mainDeptId",
    "sys00-position", "sys00-confirmJoinTime", "sys01-regularTime", "sys01-employeeStatus",
)
#: ``reason_type`` of the old API (离职原因类型, SDK ``EmpDimissionInfoVo``). 9 "其他" (other)
#: says nothing, so it has no default.
REASON_TYPES: dict[int, tuple[str, R | None]] = {
    1: ("家庭原因", R.RESIGNATION),
    2: ("个人原因", R.RESIGNATION),
    3: ("发展原因", R.RESIGNATION),
    4: ("合同到期不续签", R.CONTRACT_END),
    5: ("协议解除", R.MUTUAL_AGREEMENT),
    6: ("无法胜任工作", R.NO_FAULT_DISMISSAL),
    7: ("经济性裁员", R.NO_FAULT_DISMISSAL),
    8: ("严重违法违纪", R.DISMISSAL_FOR_CAUSE),
    9: ("其他", None),
}
#: The same reasons by name, for the new API's ``voluntaryReason`` / ``passiveReason``.
DEFAULT_REASON_NAMES: dict[str, R] = {
    name: reason for name, reason in REASON_TYPES.values() if reason is not None}
#: dimissionInfos ``status``: 1 待离职 (leaving), 2 已离职 (left); 3 and 4 are not leavers.
LEAVING_STATUSES = frozenset({1, 2})
PRE_STATUS = {1: "待入职", 2: "试用期", 3: "正式"}
_DATE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})")


def roster_values(entry: Mapping[str, Any]) -> dict[str, str]:
    """fieldCode -> the first value's label (or value)."""
    values: dict[str, str] = {}
    for field in entry.get("fieldDataList") or []:
        if not isinstance(field, dict) or not field.get("fieldCode"):
            continue
        items = [v for v in field.get("fieldValueList") or [] if isinstance(v, dict)]
        if items:
            first = items[0]
            text = first.get("label") if first.get("label") not in (None, "") else first.get("value")
            values[str(field["fieldCode"])] = str(text).strip() if text is not None else ""
    return values


def roster_date(text: str, tz: ZoneInfo) -> str | None:
    """``2021-03-16``, ``2021/3/16``, ``2021-03-16 09:00:00`` or epoch ms -> ISO date text.

    Anything else is passed through for the record's validation to reject.
    """
    text = text.strip()
    if not text:
        return None
    if text.isdigit() and len(text) >= 12:
        return epoch_ms_date(int(text), tz).isoformat()
    match = _DATE.match(text)
    if match:
        year, month, day = (int(g) for g in match.groups())
        try:
            return date(year, month, day).isoformat()
        except ValueError:
            return text
    return text


def epoch_ms_date(ms: int, tz: ZoneInfo) -> date:
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(tz).date()


def employee_data(user_id: str, values: Mapping[str, str], *, instance: str,
                  tz: ZoneInfo) -> dict[str, Any]:
    regular = roster_date(values.get("sys01-regularTime", ""), tz)
    probation_end: str | None = regular
    if regular and _is_iso(regular):
        # 转正日期 is the first day as a regular employee; probation ended the day before.
        probation_end = (date.fromisoformat(regular) - timedelta(days=1)).isoformat()
    return {
        "id": make_id(instance, user_id),
        "source": instance,
        "employee_id": user_id,
        "name": values.get("sys00-name", ""),
        "email": values.get("sys00-email") or None,
        "department": values.get("sys00-mainDept", ""),
        "job_title": values.get("sys00-position", ""),
        "hire_date": roster_date(values.get("sys00-confirmJoinTime", ""), tz),
        "probation_end": probation_end,
        "status": EmploymentStatus.ACTIVE,
    }


def _is_iso(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


class ReasonMapper:
    """Reason names (new API) and reason types (old API) -> our reasons, configurable."""

    def __init__(self, names: Mapping[str, R], types: Mapping[int, R], *,
                 voluntary_default: R | None, use_defaults: bool, instance: str) -> None:
        self.names = {**(DEFAULT_REASON_NAMES if use_defaults else {}), **names}
        defaults = {k: v for k, (_, v) in REASON_TYPES.items() if v is not None}
        self.types = {**(defaults if use_defaults else {}), **types}
        self.voluntary_default = voluntary_default
        self.instance = instance

    def from_names(self, voluntary: Iterable[str], passive: Iterable[str]) -> tuple[R | None, str]:
        """(reason, "") or (None, why). Voluntary names fall back to ``voluntary_default``."""
        voluntary, passive = [str(v) for v in voluntary], [str(p) for p in passive]
        if not voluntary and not passive:
            return None, "the separation has no voluntary or passive reason"
        found: dict[str, R] = {}
        unmapped: list[str] = []
        for name in voluntary:
            reason = self.names.get(name, self.voluntary_default)
            if reason is None:
                unmapped.append(f"主动 {name}")
            else:
                found[f"主动 {name}"] = reason
        for name in passive:
            if name in self.names:
                found[f"被动 {name}"] = self.names[name]
            else:
                unmapped.append(f"被动 {name}")
        if unmapped:
            return None, (f"reason {', '.join(unmapped)} is not in the reason table: add it "
                          f"under [connectors.{self.instance}.reasons], e.g. "
                          f'"{unmapped[0].split(" ", 1)[1]}" = "dismissal_for_cause"')
        if len(set(found.values())) > 1:
            listed = ", ".join(f"{k} -> {v.value}" for k, v in found.items())
            return None, f"the reasons disagree ({listed}): decide in DingTalk or in the table"
        return next(iter(found.values())), ""

    def from_type(self, reason_type: Any) -> tuple[R | None, str]:
        try:
            key = int(reason_type)
        except (TypeError, ValueError):
            return None, "the separation has no reason_type"
        if key in self.types:
            return self.types[key], ""
        label = REASON_TYPES.get(key, ("unknown", None))[0]
        return None, (f"reason_type {key} ({label}) is not in the table: add it under "
                      f"[connectors.{self.instance}.reason_types], e.g. \"{key}\" = \"resignation\"")


def separation_data(info: Mapping[str, Any], reason: R, *, instance: str, tz: ZoneInfo,
                    vendor_reason: str, memo: str) -> dict[str, Any]:
    user_id = str(info.get("userId") or info.get("userid") or "")
    last = info.get("lastWorkDay", info.get("last_work_day"))
    pre = info.get("preStatus", info.get("pre_status"))
    note = " | ".join(t for t in (memo.strip(), f"离职前状态: {PRE_STATUS[pre]}"
                                  if pre in PRE_STATUS else "") if t)
    return {
        "id": make_id(instance, user_id or "?"),
        "source": instance,
        "employee_id": user_id,
        "last_day": epoch_ms_date(int(last), tz) if isinstance(last, int | float) else last,
        "reason": reason,
        "note": note,
        "vendor_reason": vendor_reason,
    }
