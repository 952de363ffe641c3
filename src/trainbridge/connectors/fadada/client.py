"""法大大 FASC: one app's signed connection, its access token, and the ``{code, msg, data}`` envelope.

Every call is a form POST (``bizContent=<JSON>``) signed by :class:`FascAuth` (each attempt
anew: FASC refuses a nonce seen in the last 10 minutes). The access token
(``/service/get-access-token``) is the SDK's ``TokenCache`` (kept until
``token_refresh_margin_seconds`` before it expires, on the context's clock) and is renewed once
by ``with_fresh_token`` when FASC answers ``100002``. :meth:`FascApi.request` is also the
transport of a ``RestStream`` (a list's paging parameters travel in ``bizContent``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import requests

from trainbridge.connectors.fadada.config import FadadaConfig
from trainbridge.connectors.fadada.signing import FascAuth
from trainbridge.core.connector import ConnectorContext
from trainbridge.core.errors import AuthError, ClientError, ConnectorError
from trainbridge.core.http import REQUEST_ID_HEADERS, HttpClient
from trainbridge.sdk.auth import TokenCache, with_fresh_token
from trainbridge.sdk.throttle import body_of

OK = "100000"
TOKEN_INVALID = "100002"
REQUEST_ID = "X-FASC-Request-Id"
FORM = "application/x-www-form-urlencoded"
TOKEN_PATH = "/service/get-access-token"
AUTH_CODES = ("100001", "100003", "100004", "100012", "100016")


class TokenExpired(AuthError):
    """FASC answered 100002: the access token expired or was revoked."""


class FascApi:
    """The FASC 5.1 API of one app (``instance`` names it in errors)."""

    def __init__(self, name: str, config: FadadaConfig, ctx: ConnectorContext) -> None:
        self.instance, self.config, self.ctx = name, config, ctx
        self.nonce: Callable[[], str] = lambda: uuid.uuid4().hex
        self.tokens = TokenCache(self._fetch_token, margin=config.token_refresh_margin_seconds,
                                 clock=ctx.clock)
        self._http: HttpClient | None = None

    @property
    def http(self) -> HttpClient:
        if self._http is None:
            cfg = self.config
            auth = FascAuth(cfg.app_id, cfg.app_secret.get_secret_value(), cfg.base_url,
                            clock=lambda: int(self.ctx.clock() * 1000), nonce=lambda: self.nonce())
            self._http = self.ctx.http(cfg.base_url, instance=self.instance, settings=cfg.http, auth=auth,
                                       request_id_headers=(REQUEST_ID, *REQUEST_ID_HEADERS))
        return self._http

    def _fetch_token(self) -> tuple[str, float]:
        resp = self.http.post(TOKEN_PATH, headers={"Content-Type": FORM}, idempotent=True, ok={200, 401})
        data = self.unwrap(resp, TOKEN_PATH)
        return str(data["accessToken"]), float(int(data.get("expiresIn") or 7200))

    def request(self, method: str, url: str, *, params: Any = None, json: Any = None,
                idempotent: bool = True) -> requests.Response:
        """POST ``json`` as bizContent with the token (renewed once on 100002); the answer when
        FASC's code is 100000, else our error for it. ``method`` and ``params`` are for the
        ``RestStream`` transport shape: FASC takes every call as a form POST."""
        biz_content = _biz(json or {})

        def send() -> requests.Response:
            return self.http.post(url, data={"bizContent": biz_content}, idempotent=idempotent, ok={200, 401},
                                  headers={"X-FASC-AccessToken": self.tokens.get(), "Content-Type": FORM})

        resp = with_fresh_token(self.tokens, send,
                                refused=lambda r: str(body_of(r).get("code", "")) == TOKEN_INVALID)
        self.unwrap(resp, url)
        return resp

    def call(self, path: str, biz: dict[str, Any], *, idempotent: bool = False) -> Any:
        """POST ``biz`` as bizContent; its ``data``."""
        return self.unwrap(self.request("POST", path, json=biz, idempotent=idempotent), path)

    def unwrap(self, resp: requests.Response, path: str) -> Any:
        request_id = resp.headers.get(REQUEST_ID) or None
        try:
            answer = resp.json()
        except ValueError:
            raise ConnectorError(f"POST {path} did not answer JSON", instance=self.instance,
                                 status=resp.status_code, request_id=request_id,
                                 hint="check base_url: it ends in /api/v5") from None
        code, msg = str(answer.get("code", "")), str(answer.get("msg", ""))
        if code == OK:
            return answer.get("data") or {}
        text = f"POST {path} failed: 法大大 code {code}: {msg}"
        if code == TOKEN_INVALID:
            raise TokenExpired(text, instance=self.instance, request_id=request_id, status=resp.status_code,
                               hint="the access token expired or was revoked; a new one is fetched")
        if resp.status_code == 401 or code in AUTH_CODES:
            raise AuthError(text, instance=self.instance, request_id=request_id, status=resp.status_code,
                            hint="check app_id, app_secret, the server clock (5 min) and the IP "
                                 "whitelist of the app, and that base_url is the app's environment")
        raise ClientError(text, instance=self.instance, request_id=request_id, status=resp.status_code,
                          hint="法大大 refused the request; its msg says why (codes 21xxxx are "
                               "business rules, e.g. the initiator has not authorised the app)")


def _biz(biz: Any) -> str:
    return json.dumps(biz, ensure_ascii=False, separators=(",", ":"), default=str)
