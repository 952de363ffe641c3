"""Feishu CoreHR JSON -> record data (dicts that ``Page.add`` validates).

Shapes: ``corehr/v2/employees/search`` items (SDK model ``corehr/v2/model/employee.py``),
``corehr/v2/employees/job_datas/batch_get`` items (``employee_job_data.py``, ``job_data.py``)
and ``corehr/v1/offboardings/search`` items (``corehr/v1/model/offboarding.py``,
``offboarding_info.py``); enums are ``{"enum_name", "display": [{"lang", "value"}]}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from trainbridge.connectors.feishu.reasons import (
    ReasonCatalog,
    ReasonTable,
    i18n_pick,
    i18n_values,
)
from trainbridge.core.records import EmploymentStatus, make_id

REASON_SCOPE = "corehr:employment.offboarding_reason:read"


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return str(value).strip() if value not in (None, "") else ""


def _day(value: Any) -> str | None:
    """``2022-02-08`` or ``2022-02-08 11:22:33`` -> ``2022-02-08``; anything else is validated."""
    text = _text(value)
    return text[:10] if len(text) >= 10 and text[4:5] == "-" else (text or None)


def employee_name(item: Mapping[str, Any]) -> str:
    person = _obj(item.get("person_info"))
    for key in ("preferred_name", "preferred_local_full_name", "legal_name",
                "preferred_english_full_name"):
        if _text(person.get(key)):
            return _text(person[key])
    return ""


def employee_email(item: Mapping[str, Any]) -> str | None:
    if _text(item.get("email_address")):
        return _text(item["email_address"])
    for entry in item.get("work_email_list") or []:
        if isinstance(entry, dict) and _text(entry.get("email")):
            return _text(entry["email"])
    return None


def employee_data(item: Mapping[str, Any], *, instance: str, language: str,
                  history: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    employment_id = _text(item.get("employment_id"))
    status = _obj(item.get("employment_status")).get("enum_name")
    department = i18n_pick(_obj(item.get("department")).get("department_name"), language)
    job_title = i18n_pick(_obj(item.get("job")).get("name"), language)
    names = {"department": {_text(item.get("department_id")): department},
             "job": {_text(item.get("job_id")): job_title}}
    data: dict[str, Any] = {
        "id": make_id(instance, employment_id or "?"),
        "source": instance,
        "employee_id": employment_id,
        "name": employee_name(item),
        "email": employee_email(item),
        "department": department or _text(item.get("department_id")),
        "job_title": job_title,
        "manager_id": _text(item.get("direct_manager_id")) or None,
        "legal_entity": _text(item.get("company_id")),
        "hire_date": _day(item.get("effective_date")),
        "probation_end": _day(item.get("probation_end_date")),
        "status": (EmploymentStatus.TERMINATED if status == "terminated"
                   else EmploymentStatus.ACTIVE),
        "job_history": job_changes(history, names),
    }
    return data


def job_changes(job_datas: Iterable[Mapping[str, Any]],
                names: Mapping[str, Mapping[str, str]]) -> list[dict[str, Any]]:
    """Every version of the primary job, oldest first, as ``JobChange`` data."""
    changes = []
    for job in job_datas:
        if job.get("primary_job_data") is False:
            continue
        day = _day(job.get("effective_time"))
        if not day:
            continue
        dept_id, job_id = _text(job.get("department_id")), _text(job.get("job_id"))
        reason = _obj(job.get("assignment_start_reason")).get("enum_name")
        changes.append({
            "effective_date": day,
            "department": names["department"].get(dept_id) or dept_id,
            "job_title": names["job"].get(job_id) or job_id,
            "change": _text(reason) or "change",
        })
    changes.sort(key=lambda c: str(c["effective_date"]))
    return changes


def separation_data(item: Mapping[str, Any], *, instance: str, table: ReasonTable,
                    catalog: ReasonCatalog | None) -> tuple[dict[str, Any] | None, str]:
    """(data, "") for a mappable offboarding, or (None, why) for a reject."""
    info = _obj(item.get("offboarding_info"))
    offboarding_id = _text(item.get("offboarding_id"))
    reason = info.get("reason")
    if not isinstance(reason, dict) or not _text(reason.get("enum_name")):
        return None, (f"offboarding {offboarding_id or '?'} has no reason: the app needs the field "
                      f"scope {REASON_SCOPE} (获取员工离职原因) to read it")
    key = _text(reason["enum_name"])
    display = i18n_values(reason.get("display"))
    mapped = table.lookup(key, display, catalog)
    label = f"{key} ({' / '.join(display)})" if display else key
    if mapped is None:
        return None, (f"offboarding reason {label} is not in the reason table: add it under "
                      f"[connectors.{instance}.reasons] (by identifier or name), e.g. "
                      f'"{key}" = "dismissal_for_cause"')
    note = " | ".join(t for t in (_text(info.get("reason_explanation")),
                                  _text(info.get("employee_reason_explanation"))) if t)
    return {
        "id": make_id(instance, offboarding_id or "?"),
        "source": instance,
        "employee_id": _text(info.get("employment_id")),
        "last_day": _day(info.get("offboarding_date")),
        "reason": mapped,
        "note": note,
        "vendor_reason": label,
    }, ""
