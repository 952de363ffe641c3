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

import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import requests

from trainbridge.core import errors
from trainbridge.core.errors import ConnectorError
from trainbridge.core.http import HttpClient, TokenCache
from trainbridge.core.secrets import redact

log = logging.getLogger("trainbridge.connectors.feishu")

TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
RATE_LIMITED = 99991400
#: The tenant token is expired, malformed or missing: fetch a new one and try once more.
TOKEN_INVALID = frozenset({99991661, 99991663, 99991665, 99991671})
#: The app lacks an API scope (99991672) or the token lacks the permission (99991676).
SCOPE_MISSING = frozenset({99991672, 99991676})
#: Answers whose body carries the vendor code we act on; 5xx stay with the core's retries.
_READ_STATUSES = frozenset({200, 400, 401, 403, 429})


class FeishuError(ConnectorError):
    """A Feishu answer with a non-zero code that none of the error classes fits."""


class FeishuApi:
    """One app's calls to one Feishu (or Lark) host."""

    def __init__(self, client: HttpClient, *, app_id: str, app_secret: str,
                 refresh_margin: float = 600.0, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self.instance = client.instance
        self._app_id = app_id
        self._app_secret = app_secret
        self._sleep = sleep
        self._tokens = TokenCache(self._fetch_token, margin=refresh_margin, clock=clock)

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

    def call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
             body: Any = None) -> dict[str, Any]:
        """Send with the tenant token; return ``data``. Vendor codes become our errors."""
        attempts, renewed = 0, False
        max_attempts = self.client.settings.max_attempts
        while True:
            attempts += 1
            headers = {"Authorization": f"Bearer {self.token()}"}
            resp = self.client.request(method, path, params=params, json=body, headers=headers,
                                       idempotent=True, ok=_READ_STATUSES)
            answer = _json(resp, self.instance)
            code = answer.get("code")
            if code == 0:
                data = answer.get("data")
                return data if isinstance(data, dict) else {}
            if code in TOKEN_INVALID and not renewed:
                renewed = True
                self._tokens.invalidate()
                continue
            if code == RATE_LIMITED or resp.status_code == 429:
                wait = self._rate_limit_wait(resp, attempts)
                if attempts < max_attempts and wait <= self.client.settings.max_wait:
                    log.info("%s: %s %s rate-limited (code %s), retrying in %.1f s",
                             self.instance, method, path, code, wait)
                    self._sleep(wait)
                    continue
                raise errors.RateLimited(
                    f"{method} {path} is still rate-limited after {attempts} attempt(s)",
                    instance=self.instance, status=resp.status_code,
                    request_id=_request_id(resp, answer),
                    hint="Feishu allows most CoreHR APIs 100 calls a minute per app and tenant: "
                         "run later or lower page traffic (fewer instances on one app)")
            raise self.error(method, path, resp, answer)

    def pages(self, path: str, *, params: Mapping[str, Any], body: Any = None,
              page_token: str | None = None) -> Iterator[tuple[list[Any], str | None]]:
        """Each page's ``items`` with the token of the next page (None after the last)."""
        while True:
            query = dict(params)
            if page_token:
                query["page_token"] = page_token
            data = self.call("POST", path, params=query, body=body)
            items = data.get("items") or []
            next_token = data.get("page_token") if data.get("has_more") else None
            next_token = str(next_token) if next_token else None
            if next_token and next_token == page_token:
                msg = f"POST {path}: has_more with the same page_token {page_token}"
                raise FeishuError(msg, instance=self.instance,
                                  hint="run again later; report it to Feishu if it persists")
            yield (items if isinstance(items, list) else []), next_token
            if not next_token:
                return
            page_token = next_token

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

    def _rate_limit_wait(self, resp: requests.Response, attempt: int) -> float:
        s = self.client.settings
        backoff = random.uniform(0, min(s.backoff_max, s.backoff_base * 2 ** min(attempt - 1, 16)))
        try:
            reset = float(resp.headers.get("x-ogw-ratelimit-reset", "0"))
        except ValueError:
            reset = 0.0
        return max(backoff, reset)


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
