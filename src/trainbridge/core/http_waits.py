"""What vendors asked us to wait: Retry-After read, and kept per host for every client of this process.

A host that answered ``Retry-After`` is not asked again before that moment by any client of this
process (:class:`trainbridge.core.http.HttpClient` honours it before each request).
"""

from __future__ import annotations

import email.utils
import re
import threading
import time
from datetime import UTC, datetime


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or HTTP date); None if unreadable."""
    value = (value or "").strip()
    if not value:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = now or datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


_HOST_NOT_BEFORE: dict[str, float] = {}
_HOST_LOCK = threading.Lock()


def remember_host_wait(host: str, seconds: float | None) -> None:
    """Keep a host's Retry-After (a monotonic deadline) for every client of this process."""
    if not seconds or seconds <= 0:
        return
    with _HOST_LOCK:
        _HOST_NOT_BEFORE[host] = max(_HOST_NOT_BEFORE.get(host, 0.0), time.monotonic() + seconds)


def host_wait(host: str) -> float:
    """Seconds still to wait before the next request to ``host`` (0 when none)."""
    with _HOST_LOCK:
        deadline = _HOST_NOT_BEFORE.get(host)
        if deadline is None:
            return 0.0
        left = deadline - time.monotonic()
        if left <= 0:
            del _HOST_NOT_BEFORE[host]
        return max(left, 0.0)
