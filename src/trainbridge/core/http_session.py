"""A ``requests`` session that reads the proxy and CA-bundle environment once per host."""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any
from urllib.parse import urlsplit

import requests


class EnvironmentOnceSession(requests.Session):
    """A session that reads the proxy and CA-bundle environment once per scheme and host.

    requests reads the environment (``HTTPS_PROXY``, ``NO_PROXY``, ``REQUESTS_CA_BUNDLE``, ...)
    on every request: ~0.2 ms each, more than a small answer from a nearby vendor takes, and a
    training scan sends one request per employee. Same settings, read once.
    """

    def __init__(self) -> None:
        super().__init__()
        _SESSIONS.add(self)
        self._environment: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._environment_lock = threading.Lock()

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any,
                                   cert: Any) -> Any:
        if not self.trust_env or proxies:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, stream, verify, cert)
        with self._environment_lock:
            cached = self._environment.get(key)
        if cached is None:
            cached = dict(super().merge_environment_settings(url, {}, stream, verify, cert))
            with self._environment_lock:
                self._environment[key] = cached
        return {**cached, "proxies": dict(cached["proxies"])}


#: Every session made in this process, so a forked process drops the connections it inherited.
_SESSIONS: weakref.WeakSet[EnvironmentOnceSession] = weakref.WeakSet()


def _drop_inherited_connections() -> None:
    """In a forked child (a reader process, a worker): close this process's copies of the
    kept-alive sockets, so parent and child never talk over one connection. Closing a copy
    leaves the parent's connection open; the child opens its own when it needs one."""
    for session in list(_SESSIONS):
        session.close()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_inherited_connections)
