"""A ``requests`` session that reads the proxy and CA-bundle environment once per host."""

from __future__ import annotations

import threading
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
