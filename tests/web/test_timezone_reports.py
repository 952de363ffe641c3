"""Reports asked without a day ("today") use the tenant's day: at 02:00 in Shanghai on 1 October
the points report's default quarter is already 2026Q4, while a UTC tenant is still in 2026Q3."""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from pathlib import Path

import pytest

from trainbridge.core import localtime
from trainbridge.core.records import Employee, PointsCategory, PointsEntry

from .test_timezone import TWO_AM_SHANGHAI, _workspace


class _Clock(datetime):
    """The wall clock stopped at 18:00 UTC on 30 September (02:00 on 1 October in Shanghai)."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> _Clock:  # type: ignore[override]
        moment = TWO_AM_SHANGHAI.astimezone(tz or UTC)
        return cls.fromtimestamp(moment.timestamp(), moment.tzinfo)


def _points(day: date, points: int) -> PointsEntry:
    return PointsEntry(id=f"hr:{day}", source="hr", employee_id="M001", points=points,
                       category=PointsCategory.PARTICIPATION, rule="attended", rule_version="1",
                       event_id=f"ev-{day}", earned_on=day)


@pytest.mark.parametrize(("zone", "quarter"), [("Asia/Shanghai", "2026Q4"), ("UTC", "2026Q3")])
def test_the_points_report_defaults_to_the_tenants_quarter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           zone: str, quarter: str) -> None:
    monkeypatch.setattr(localtime, "datetime", _Clock)
    ws = _workspace(tmp_path, {"id": "acme", "timezone": zone})
    try:
        with ws.ledger.transaction() as conn:
            ws.ledger.upsert_records(conn, [
                Employee(id="hr:M001", source="hr", employee_id="M001", name="孙强", is_manager=True),
                _points(date(2026, 9, 15), 10),  # the third quarter
                _points(date(2026, 10, 1), 20)])  # the first day of the fourth, in Shanghai's today
        day = localtime.tenant_today(ws.settings)
        assert day == (date(2026, 10, 1) if zone != "UTC" else date(2026, 9, 30))
        result = ws.host.reports["points"].build(ws)  # no period, no today: the tenant's
    finally:
        ws.close()
    assert quarter in result.title, result.title
    other = "2026Q3" if quarter == "2026Q4" else "2026Q4"
    assert other not in result.title
