"""The tenant's own day: ``[tenant] timezone`` decides "today" for jobs, and the console's clock."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from trainbridge.core.config import load_settings
from trainbridge.core.demo import to_toml
from trainbridge.core.errors import ConfigError
from trainbridge.core.jobs import JobContext, Plan
from trainbridge.core.localtime import tenant_today
from trainbridge.core.runner import Workspace, sync
from trainbridge.rules.points import period_key


def _workspace(tmp_path: Path, tenant: dict[str, Any]) -> Workspace:
    path = tmp_path / "plugins.toml"
    path.write_text(to_toml({"tenant": tenant, "ledger": {"url": "sqlite:///trainbridge.db"}}),
                    encoding="utf-8")
    ws = Workspace(load_settings(path))
    ws.ensure_migrated()
    return ws


class QuarterProbe:
    """A job that notes which quarter it believes it is in."""

    name, inputs, reads, order, config_model = "quarter_probe", (), (), 1, None

    def __init__(self) -> None:
        self.seen: list[date] = []

    def decide(self, ctx: JobContext) -> Plan:
        self.seen.append(ctx.today)
        return Plan()


# 02:00 in Shanghai on the first day of Q4 is still 30 September in UTC.
TWO_AM_SHANGHAI = datetime(2026, 9, 30, 18, 0, tzinfo=UTC)


def test_at_two_in_the_morning_in_shanghai_the_job_is_in_the_new_quarter(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, {"id": "acme", "timezone": "Asia/Shanghai"})
    probe = QuarterProbe()
    ws.host.jobs[probe.name] = probe  # type: ignore[assignment]
    try:
        [result] = sync(ws, [probe.name], now=TWO_AM_SHANGHAI)
    finally:
        ws.close()
    assert result.status == "ok", result.errors
    assert probe.seen == [date(2026, 10, 1)]
    assert period_key(probe.seen[0], "quarter") == "2026Q4"


def test_without_a_timezone_the_day_is_utc(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, {"id": "acme"})
    try:
        assert ws.settings.timezone == "UTC"
        assert tenant_today(ws.settings, TWO_AM_SHANGHAI) == date(2026, 9, 30)
    finally:
        ws.close()


def test_an_unknown_zone_names_the_file_key_and_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _workspace(tmp_path, {"id": "acme", "timezone": "Asia/Beijing"})
    text = str(caught.value)
    assert "timezone" in text and "plugins.toml" in text and "Asia/Shanghai" in text


def test_the_demo_and_init_live_in_shanghai(demo_dir: Path) -> None:
    from trainbridge.core.templates import INIT_TOML

    assert load_settings(demo_dir / "plugins.toml").timezone == "Asia/Shanghai"
    assert 'timezone = "Asia/Shanghai"' in INIT_TOML
