"""The tenant's own clock: ``[tenant] timezone`` decides which day "today" is.

A job run at 02:00 Asia/Shanghai on 1 October is in the fourth quarter although UTC
still says 30 September; periods, reminders and quarters follow the tenant's day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo


class HasTimezone(Protocol):
    timezone: str


def tenant_zone(settings: HasTimezone) -> tzinfo:
    """The configured zone (validated when the configuration was read); UTC when absent."""
    name = getattr(settings, "timezone", "") or "UTC"
    return UTC if name == "UTC" else ZoneInfo(name)


def tenant_now(settings: HasTimezone, now: datetime | None = None) -> datetime:
    """``now`` (default: the current instant) as a time in the tenant's zone."""
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # the ledger stores UTC
    return moment.astimezone(tenant_zone(settings))


def tenant_today(settings: HasTimezone, now: datetime | None = None) -> date:
    """The tenant's calendar day at ``now``."""
    return tenant_now(settings, now).date()
