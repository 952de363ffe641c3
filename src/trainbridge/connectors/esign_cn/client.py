"""The shared e签宝 v3 client: signs every request, unwraps ``{code, message, data}``.

The signature is computed in a ``requests`` auth hook, so each retry of the core's
HttpClient is signed again with a fresh ``X-Tsign-Open-Ca-Timestamp`` (the gateway
accepts a timestamp for 15 minutes). Requests to other hosts (the OSS upload and
download URLs e签宝 hands out) are sent unsigned.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.auth

from trainbridge.connectors.esign_cn.signing import JSON_CONTENT_TYPE, signed_headers
from trainbridge.core.connector import ConnectorContext
from trainbridge.core.errors import AuthError, ClientError, ConnectorError, NotFound
from trainbridge.core.http import REQUEST_ID_HEADERS, HttpClient, HttpSettings

SANDBOX_URL = "https://smlopenapi.esign.cn"
PRODUCTION_URL = "https://openapi.esign.cn"
TRACE_HEADER = "X-Tsign-Trace-Id"


def now_ms() -> int:
    """Epoch milliseconds of the wall clock (a connector uses ``ctx.clock`` instead)."""
    return int(time.time() * 1000)


class EsignAuth(requests.auth.AuthBase):
    """Adds the X-Tsign-Open-* signature headers to requests bound for ``base_url``."""

    def __init__(
        self, app_id: str, app_secret: str, base_url: str, clock: Callable[[], int] = now_ms
    ) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.netloc = urlsplit(base_url).netloc
        self.clock = clock

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        if urlsplit(r.url or "").netloc != self.netloc:
            return r
        body = r.body.encode("utf-8") if isinstance(r.body, str) else r.body
        r.headers.update(
            signed_headers(
                self.app_id, self.app_secret, r.method or "GET", r.url or "", body, self.clock()
            )
        )
        return r


def vendor_hint(resp: requests.Response) -> str | None:
    """Turn the gateway's answers into what the operator should do."""
    try:
        message = str(resp.json().get("message", ""))
    except (ValueError, AttributeError):
        return None
    if resp.status_code == 401:
        return (
            f"e签宝 gateway said {message!r}: check app_id and app_secret, and that the "
            "base_url matches the app (sandbox apps only work on smlopenapi.esign.cn)"
        )
    return f"e签宝 said {message!r}" if message else None


class EsignApi:
    """One app's signed connection to the v3 API."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    @classmethod
    def build(
        cls,
        ctx: ConnectorContext,
        *,
        instance: str,
        base_url: str,
        app_id: str,
        app_secret: str,
        settings: HttpSettings,
        clock: Callable[[], int] | None = None,
    ) -> EsignApi:
        """The client of ``ctx``: its retries wait with ``ctx.sleep``; the signature's timestamp
        is ``ctx.clock`` in milliseconds unless ``clock`` gives another."""
        http = ctx.http(
            base_url,
            instance=instance,
            settings=settings,
            auth=EsignAuth(app_id, app_secret, base_url, clock or (lambda: int(ctx.clock() * 1000))),
            request_id_headers=(TRACE_HEADER, *REQUEST_ID_HEADERS),
            error_hint=vendor_hint,
        )
        return cls(http)

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        idempotent: bool | None = None,
    ) -> Any:
        """Send a signed request; return ``data`` when ``code`` is 0, else raise."""
        payload = None
        headers = {"Content-Type": JSON_CONTENT_TYPE}
        if body is not None:
            payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        resp = self.http.request(method, path, data=payload, headers=headers, idempotent=idempotent)
        return self.unwrap(resp, f"{method} {path}")

    def unwrap(self, resp: requests.Response, what: str) -> Any:
        request_id = resp.headers.get(TRACE_HEADER) or None
        try:
            answer = resp.json()
        except ValueError:
            msg = (
                f"{what} answered {resp.headers.get('Content-Type') or 'no Content-Type'}, not JSON"
            )
            raise ConnectorError(
                msg,
                instance=self.http.instance,
                status=resp.status_code,
                request_id=request_id,
                hint="check base_url: a proxy may be answering",
            ) from None
        code = answer.get("code")
        if code in (0, "0"):
            return answer.get("data")
        raise business_error(
            self.http.instance, what, code, str(answer.get("message", "")), request_id
        )


def business_error(
    instance: str, what: str, code: Any, message: str, request_id: str | None
) -> ConnectorError:
    """Map e签宝's business codes (HTTP 200, ``code`` != 0) to our errors with a hint."""
    text = f"{what} failed: e签宝 code {code}: {message}"
    lowered = message.lower()
    if code in (401, "401") or "授权" in message or "无权限" in message or "permission" in lowered:
        return AuthError(
            text,
            instance=instance,
            request_id=request_id,
            hint="the app lacks a permission this call needs: grant it in the "
            "e签宝 console (应用管理) or ask the user to authorise the app",
        )
    if "不存在" in message or "not exist" in lowered:
        return NotFound(
            text,
            instance=instance,
            request_id=request_id,
            hint="the id is unknown to this app: check it and that base_url is "
            "the environment the flow was created in",
        )
    return ClientError(
        text,
        instance=instance,
        request_id=request_id,
        hint="e签宝 refused the request; its message says why (see "
        "open.esign.cn 错误码 for the code)",
    )
