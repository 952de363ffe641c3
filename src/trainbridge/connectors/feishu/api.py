"""The Feishu Open Platform transport: tenant token, ``{code, msg, data}`` answers, paging.

Sources (official): ``POST /open-apis/auth/v3/tenant_access_token/internal`` answers
``{code, msg, tenant_access_token, expire}`` (larksuite/oapi-sdk-python
``core/token/manager.py``, which also refreshes 10 minutes early); list APIs take
``page_size``/``page_token`` and answer ``data.items``, ``data.has_more``,
``data.page_token``. Rate limits ("频控策略", server-docs/api-call-guide/frequency-control):
HTTP 429 (HTTP 400 on some older APIs) with code 99991400 and ``x-ogw-ratelimit-reset``
seconds to wait. Token and scope codes: server-docs/api-call-guide/generic-error-code
(99991663 invalid/expired tenant token, 99991672 scope missing).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import requests

from trainbridge.core import errors
from trainbridge.core.errors import ConnectorError
from trainbridge.core.http import HttpClient, TokenCache
from trainbridge.core.secrets import redact
from trainbridge.sdk.auth import TokenAuth, with_fresh_token
from trainbridge.sdk.streams import Cursor, RestStream
from trainbridge.sdk.throttle import body_of, retry_throttled

log = logging.getLogger("trainbridge.connectors.feishu")

TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
RATE_LIMITED = 99991400
#: The tenant token is expired, malformed or missing: fetch a new one and try once more.
TOKEN_INVALID = frozenset({99991661, 99991663, 99991665, 99991671})
#: The app lacks an API scope (99991672) or the token lacks the permission (99991676).
SCOPE_MISSING = frozenset({99991672, 99991676})
#: Answers whose body carries the vendor code we act on; 429 and 5xx stay with the client's
#: retries (a rate limit on HTTP 400 is turned into a 429 first, see ``_throttled``).
_READ_STATUSES = frozenset({200, 400, 401, 403})
#: ``{code, msg, data}`` list answers: ``data.items``, ``data.page_token`` while ``data.has_more``.
PAGING = Cursor(next="data.page_token", param="page_token", has_more="data.has_more")


class FeishuError(ConnectorError):
    """A Feishu answer with a non-zero code that none of the error classes fits."""


class FeishuApi:
    """One app's calls to one Feishu (or Lark) host.

    Rate limits are retried by the client (its backoff and sleep, ``http.max_attempts``); the
    tenant token is renewed once when Feishu refuses it (``with_fresh_token``). ``sleep`` is
    accepted for callers written before and not used: the client's retries wait.
    """

    def __init__(self, client: HttpClient, *, app_id: str, app_secret: str,
                 refresh_margin: float = 600.0, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] | None = None) -> None:
        self.client = client
        self.instance = client.instance
        self._app_id = app_id
        self._app_secret = app_secret
        self._tokens = TokenCache(self._fetch_token, margin=refresh_margin, clock=clock)
        self._auth = TokenAuth(self._tokens)
        retry_throttled(client, _throttled)
        if client.error_hint is None:
            client.error_hint = _error_hint

    # --- token -----------------------------------------------------------------------

    def token(self, *, force: bool = False) -> str:
        """The cached tenant token, fetched again when it is within the margin of expiry."""
        return self._tokens.get(force=force)

    def _fetch_token(self) -> tuple[str, float]:
        resp = self.client.request(
            "POST", TOKEN_PATH, json={"app_id": self._app_id, "app_secret": self._app_secret},
            idempotent=True, ok=_READ_STATUSES)
        body = _json(resp, self.instance)
        if body.get("code") != 0 or not body.get("tenant_access_token"):
            raise errors.AuthError(
                f"the tenant access token was refused: code {body.get('code')} "
                f"{body.get('msg', '')}",
                instance=self.instance, status=resp.status_code, request_id=_request_id(resp, body),
                hint=f"check app_id and app_secret of [connectors.{self.instance}] (a custom app's "
                     "credentials from the Feishu developer console), and that the app is enabled")
        return str(body["tenant_access_token"]), float(body.get("expire") or 0)

    # --- calls -----------------------------------------------------------------------

    def request(self, method: str, url: str, *, params: Any = None, json: Any = None) -> requests.Response:
        """Send with the tenant token; the answer when its code is 0, else our error for it."""

        def send() -> requests.Response:
            return self.client.request(method, url, params=params, json=json, idempotent=True,
                                       headers=self._auth.headers(), ok=_READ_STATUSES)

        resp = with_fresh_token(self._tokens, send,
                                refused=lambda r: body_of(r).get("code") in TOKEN_INVALID)
        answer = _json(resp, self.instance)
        if answer.get("code") != 0:
            raise self.error(method, url, resp, answer)
        return resp

    def call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
             body: Any = None) -> dict[str, Any]:
        """Send with the tenant token; return ``data``. Vendor codes become our errors."""
        data = _json(self.request(method, path, params=params, json=body), self.instance).get("data")
        return data if isinstance(data, dict) else {}

    def stream(self, path: str, *, params: Mapping[str, Any], body: Any = None,
               name: str = "") -> RestStream:
        """A search API's pages (``POST`` with ``page_size``/``page_token`` in the query)."""
        return RestStream(self, path, paging=PAGING, records="data.items", params=params,
                          method="POST", body=body, name=name or f"POST {path}",
                          where=f"[connectors.{self.instance}]")

    def pages(self, path: str, *, params: Mapping[str, Any], body: Any = None,
              page_token: str | None = None) -> Iterator[tuple[list[Any], str | None]]:
        """Each page's ``items`` with the token of the next page (None after the last)."""
        resume = json.dumps({"next": page_token}) if page_token else None
        for part in self.stream(path, params=params, body=body).pages(resume):
            yield part.items, (str(part.next) if part.next else None)

    def error(self, method: str, path: str, resp: requests.Response,
              answer: Mapping[str, Any]) -> ConnectorError:
        code, msg = answer.get("code"), str(answer.get("msg") or "")
        where = f"[connectors.{self.instance}]"
        request_id = _request_id(resp, answer)
        text = redact(f"{method} {path}: Feishu code {code}: {msg}")
        if code in SCOPE_MISSING or resp.status_code in (401, 403):
            missing = ", ".join(missing_scopes(answer))
            return errors.AuthError(text, instance=self.instance, status=resp.status_code,
                                    request_id=request_id, hint=(
                f"the app of {where} lacks a permission{': ' + missing if missing else ''}; "
                "add it under 权限管理 in the developer console, publish a new app version, and "
                "check the data scope (数据权限) covers these employees"))
        if code in TOKEN_INVALID:
            return errors.AuthError(text, instance=self.instance, status=resp.status_code,
                                    request_id=request_id,
                                    hint=f"a fresh tenant token was refused too: check {where}")
        cls = errors.ServerError if resp.status_code >= 500 else errors.ClientError
        return cls(text, instance=self.instance, status=resp.status_code, request_id=request_id,
                   hint="the Feishu answer says why; look the code up in its error code list")


def _throttled(resp: requests.Response) -> float | None:
    """Seconds ``x-ogw-ratelimit-reset`` asks for, when Feishu says 99991400 (HTTP 429, or 400
    on older APIs: server-docs/api-call-guide/frequency-control)."""
    if resp.status_code != 429 and body_of(resp).get("code") != RATE_LIMITED:
        return None
    try:
        return float(resp.headers.get("x-ogw-ratelimit-reset", "0"))
    except ValueError:
        return 0.0


def _error_hint(resp: requests.Response) -> str | None:
    if resp.status_code == 429:
        return ("Feishu allows most CoreHR APIs 100 calls a minute per app and tenant: "
                "run later or lower page traffic (fewer instances on one app)")
    return None


def missing_scopes(answer: Mapping[str, Any]) -> list[str]:
    """Scope names from ``error.permission_violations`` of a 99991672 answer."""
    error = answer.get("error")
    violations = error.get("permission_violations") if isinstance(error, dict) else None
    if not isinstance(violations, list):
        return []
    return [str(v["subject"]) for v in violations if isinstance(v, dict) and v.get("subject")]


def _json(resp: requests.Response, instance: str) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        msg = f"Feishu answered HTTP {resp.status_code} without a JSON object"
        raise FeishuError(msg, instance=instance, status=resp.status_code,
                          request_id=resp.headers.get("X-Tt-Logid"),
                          hint="check base_url: a proxy or login page may be answering")
    return body


def _request_id(resp: requests.Response, answer: Mapping[str, Any]) -> str | None:
    error = answer.get("error")
    log_id = error.get("log_id") if isinstance(error, dict) else None
    return resp.headers.get("X-Tt-Logid") or resp.headers.get("X-Request-Id") or log_id
