"""The one webhook replay check, and its one config key, ``webhook_max_age_seconds``.

A connector's config declares ``webhook_max_age_seconds: int = max_age_field()``; its webhook
hook verifies the signature, then calls ``check_replay(occurred, self.ctx.clock(),
self.config.webhook_max_age_seconds, instance=self.name)`` with the time the vendor signed or
sent the event. ``replay_window_seconds``, the older name some connectors used, is still
read as a deprecated alias of the key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import AliasChoices, Field

from trainbridge.core.errors import WebhookRejected

#: The config key every connector names its replay window with.
MAX_AGE_KEY = "webhook_max_age_seconds"
#: The deprecated name of the same key, still accepted in plugins.toml.
DEPRECATED_KEY = "replay_window_seconds"


def max_age_field(default: int | None = 300, *, ge: int = 0, description: str = "") -> Any:
    """The ``webhook_max_age_seconds`` field of a connector config (0 turns the check off);
    ``replay_window_seconds`` is accepted for it as a deprecated alias."""
    return Field(default=default, ge=ge, validation_alias=AliasChoices(MAX_AGE_KEY, DEPRECATED_KEY),
                 description=description or
                 "Reject webhook events stamped longer ago (or ahead) than this; 0: off")


def check_replay(timestamp: datetime | float | None, now: datetime | float,
                 max_age_seconds: float | None, *, instance: str = "",
                 max_ahead_seconds: float | None = None) -> None:
    """Raise ``WebhookRejected`` unless ``timestamp`` is within ``max_age_seconds`` of ``now``.

    Both ways: an event stamped too far ahead is as suspect as an old one (``max_ahead_seconds``
    allows a vendor's documented clock skew instead, for windows of days). A missing
    timestamp fails when the check is on; ``max_age_seconds`` 0 or None turns it off.
    Datetimes must carry an offset; numbers are epoch seconds.
    """
    if not max_age_seconds:
        return
    where = f"{MAX_AGE_KEY} of [connectors.{instance}]" if instance else MAX_AGE_KEY
    if timestamp is None:
        msg = "the event carries no timestamp, so its age cannot be checked"
        raise WebhookRejected(msg, hint=f"the vendor must stamp its events, or set {where} to 0")
    age = _epoch(now) - _epoch(timestamp)
    ahead = max_age_seconds if max_ahead_seconds is None else max_ahead_seconds
    if age > max_age_seconds or -age > ahead:
        when = "ahead of" if age < 0 else "before"
        msg = f"the event is stamped {abs(age):.0f} s {when} now, outside the replay window"
        raise WebhookRejected(msg, hint=f"check this host's clock; {where} is {max_age_seconds:g}")


def epoch_time(value: Any) -> datetime | None:
    """An event's epoch time, in seconds or (past 1e11, as Chinese vendors send) milliseconds, as a
    UTC datetime; None when absent or not a number."""
    try:
        number = float(str(value))
    except ValueError:
        return None
    return datetime.fromtimestamp(number / 1000 if number > 1e11 else number, UTC)


def _epoch(value: datetime | float) -> float:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            msg = f"a timestamp without an offset cannot be compared: {value.isoformat()}"
            raise WebhookRejected(msg, hint="the connector must read the vendor's time zone")
        return value.timestamp()
    return float(value)
