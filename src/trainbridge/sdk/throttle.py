"""A vendor's own "slow down" answer, retried by the ``HttpClient`` like a 429.

Some vendors throttle with a code in the body of an HTTP 200 or 400 answer (Feishu's
99991400, DingTalk's ``QpsLimitForApi``, a group robot's 9499), and say how long to wait in a
header of their own. ``retry_throttled(http, wait_of)`` turns such an answer into a 429 with
``Retry-After`` before the client sees it, so the client's one retry loop (backoff with
jitter, never shorter than the wait; ``http.max_attempts``; ``http.max_wait``; the context's
``sleep``) handles it, and no connector keeps a retry loop of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from trainbridge.core.http import HttpClient

__all__ = ["body_of", "retry_throttled"]


def retry_throttled(http: HttpClient, wait_of: Callable[[requests.Response], float | None]) -> None:
    """Retry an answer ``wait_of`` calls throttled (seconds to wait, at least) as a 429."""

    def hook(resp: requests.Response, *args: Any, **kwargs: Any) -> None:
        if resp.status_code == 429 and "Retry-After" in resp.headers:
            return
        wait = wait_of(resp)
        if wait is None:
            return
        resp.status_code = 429
        resp.headers["Retry-After"] = f"{max(wait, 0.0):.3f}".rstrip("0").rstrip(".")

    http.session.hooks["response"].append(hook)


def body_of(resp: requests.Response) -> dict[str, Any]:
    """The answer's JSON object, or {} (a throttle check must not fail on an HTML page)."""
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
