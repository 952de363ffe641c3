"""DingTalk transport: one access token for the new (api.dingtalk.com/v1.0) and old
(oapi.dingtalk.com/topapi) server APIs, their two error styles, and their rate limits.

Sources (official): ``POST /v1.0/oauth2/accessToken`` with ``appKey``/``appSecret``
answers ``accessToken``/``expireIn`` (aliyun/dingtalk-sdk ``oauth2_1_0``); new APIs take
the header ``x-acs-dingtalk-access-token`` and fail with ``{code, message, requestid}``;
old ones take ``?access_token=`` and answer ``{errcode, errmsg, request_id}`` (errcode 88
carries ``sub_code``). Limits ("调用频次与限流", how-to-process-api-throttling-on-the-
dingtalk-server): per app and API ``Forbidden.AccessDenied.QpsLimitForAppkeyAndApi`` /
90018, per API overall ``Forbidden.AccessDenied.QpsLimitForApi`` / 90002 (wait one second
and retry), monthly quota ``Forbidden.AccessDenied.ApiCountLimitForOrg`` / 90020.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from trainbridge.core import errors
from trainbridge.core.errors import ConnectorError
from trainbridge.core.http import HttpClient, TokenCache
from trainbridge.core.secrets import redact
from trainbridge.sdk.auth import TokenAuth, with_fresh_token
from trainbridge.sdk.streams import Paging, RestStream
from trainbridge.sdk.throttle import body_of, retry_throttled

log = logging.getLogger("trainbridge.connectors.dingtalk_hrm")

TOKEN_PATH = "/v1.0/oauth2/accessToken"
TOKEN_HEADER = "x-acs-dingtalk-access-token"
REQUEST_ID_HEADER = "x-acs-request-id"
QPS_CODES = frozenset({"Forbidden.AccessDenied.QpsLimitForAppkeyAndApi",
                       "Forbidden.AccessDenied.QpsLimitForApi"})
QUOTA_CODE = "Forbidden.AccessDenied.ApiCountLimitForOrg"
TOKEN_CODES = frozenset({"InvalidAuthentication"})
OLD_QPS = frozenset({90018, 90002, -1})  # -1: "系统繁忙", retry as the global code list says
OLD_QUOTA = 90020
OLD_TOKEN = frozenset({40014, 42001})
OLD_NO_PERMISSION = frozenset({"60011", "60020"})
PERMISSION = "qyapi_hrm_read_user (智能人事个人信息读权限)"
#: Answers whose body carries the vendor code we act on; a throttled answer becomes a 429
#: the client retries (``_throttled``), 5xx stay with the client's retries.
_READ_STATUSES = frozenset({200, 400, 401, 403})
#: "wait one second and retry" (how-to-process-api-throttling-on-the-dingtalk-server).
QPS_WAIT = 1.0


@dataclass(frozen=True)
class _Transport:
    """What a ``RestStream`` sends through: one of the two API styles, with the token."""

    instance: str
    request: Callable[..., requests.Response]


class DingTalkApi:
    """The two API styles with one token (renewed once when refused, ``with_fresh_token``);
    throttling is retried by the clients (their backoff and sleep, ``http.max_attempts``).
    ``sleep`` is accepted for callers written before and not used: the clients' retries wait."""

    def __init__(self, api: HttpClient, oapi: HttpClient, *, app_key: str, app_secret: str,
                 refresh_margin: float = 300.0, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] | None = None) -> None:
        self.api = api
        self.oapi = oapi
        self.instance = api.instance
        self._app_key = app_key
        self._app_secret = app_secret
        self._tokens = TokenCache(self._fetch_token, margin=refresh_margin, clock=clock)
        self._auth = TokenAuth(self._tokens, header=TOKEN_HEADER, scheme="")
        for client in (api, oapi):
            retry_throttled(client, _throttled)
            if client.error_hint is None:
                client.error_hint = _error_hint

    def token(self, *, force: bool = False) -> str:
        """The cached access token, fetched again when it is within the margin of expiry."""
        return self._tokens.get(force=force)

    def _fetch_token(self) -> tuple[str, float]:
        resp = self.api.request("POST", TOKEN_PATH, idempotent=True, ok=_READ_STATUSES,
                                json={"appKey": self._app_key, "appSecret": self._app_secret})
        body = _json(resp, self.instance)
        if resp.status_code != 200 or not body.get("accessToken"):
            raise errors.AuthError(
                redact(f"the access token was refused: {body.get('code', '')} "
                       f"{body.get('message', '')}"),
                instance=self.instance, status=resp.status_code, request_id=body.get("requestid"),
                hint=f"check app_key and app_secret of [connectors.{self.instance}] (the "
                     "internal app's Client ID and Client Secret in the DingTalk console)")
        return str(body["accessToken"]), float(body.get("expireIn") or 0)

    def stream(self, path: str, paging: Paging, records: str, *, old: bool = False,
               params: Mapping[str, Any] | None = None, body: Mapping[str, Any] | None = None,
               name: str = "") -> RestStream:
        """A list's pages: the new API's ``GET`` with the paging in the query, or (``old``) a
        topapi ``POST`` with the paging in its body."""
        if old:
            return RestStream(_Transport(self.instance, self.topapi_request), path, paging=paging,
                              records=records, method="POST", body=dict(body or {}),
                              paging_in="body", name=name or path)
        return RestStream(_Transport(self.instance, self.v1_request), path, paging=paging,
                          records=records, params=dict(params or {}), name=name or path)

    # --- new API (api.dingtalk.com/v1.0) ---------------------------------------------------

    def v1(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
           body: Any = None) -> dict[str, Any]:
        return _json(self.v1_request(method, path, params=params, json=body), self.instance)

    def v1_request(self, method: str, path: str, *, params: Any = None,
                   json: Any = None) -> requests.Response:
        """Send with the token header; the answer when it is a 200, else our error for it."""

        def send() -> requests.Response:
            return self.api.request(method, path, params=params, json=json, idempotent=True,
                                    headers=self._auth.headers(), ok=_READ_STATUSES)

        resp = with_fresh_token(self._tokens, send,
                                refused=lambda r: str(body_of(r).get("code") or "") in TOKEN_CODES)
        answer = _json(resp, self.instance)
        if resp.status_code != 200:
            raise self._v1_error(method, path, resp, answer)
        return resp

    def _v1_error(self, method: str, path: str, resp: requests.Response,
                  answer: Mapping[str, Any]) -> ConnectorError:
        code = str(answer.get("code") or "")
        text = redact(f"{method} {path}: {code or 'HTTP ' + str(resp.status_code)}: "
                      f"{answer.get('message', '')}")
        where = f"[connectors.{self.instance}]"
        request_id = answer.get("requestid") or resp.headers.get(REQUEST_ID_HEADER)
        kwargs: dict[str, Any] = {"instance": self.instance, "status": resp.status_code,
                                  "request_id": request_id}
        if code == QUOTA_CODE:
            return errors.RateLimited(text, **kwargs, hint=(
                "the organisation's monthly API quota is used up: upgrade the DingTalk edition "
                "or wait for next month"))
        if resp.status_code in (401, 403) or code in TOKEN_CODES or "permission" in code.lower():
            return errors.AuthError(text, **kwargs, hint=(
                f"the app of {where} lacks the permission {PERMISSION} or the token was refused: "
                "add the permission in the developer console (权限管理) and check the app's "
                "data range covers these employees"))
        cls = errors.ServerError if resp.status_code >= 500 else errors.ClientError
        return cls(text, **kwargs, hint="DingTalk's answer says why (see its global error codes)")

    # --- old API (oapi.dingtalk.com/topapi) ------------------------------------------------

    def topapi(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return _json(self.topapi_request("POST", path, json=dict(body)), self.instance)

    def topapi_request(self, method: str, path: str, *, params: Any = None,
                       json: Any = None) -> requests.Response:
        """Send with ``?access_token=``; the answer when its errcode is 0, else our error."""

        def send() -> requests.Response:
            query = {**dict(params or {}), "access_token": self.token()}
            return self.oapi.request(method, path, params=query, json=json, idempotent=True,
                                     ok=_READ_STATUSES)

        resp = with_fresh_token(self._tokens, send,
                                refused=lambda r: body_of(r).get("errcode") in OLD_TOKEN)
        answer = _json(resp, self.instance)
        if answer.get("errcode") != 0:
            raise self._topapi_error(path, resp, answer)
        return resp

    def _topapi_error(self, path: str, resp: requests.Response,
                      answer: Mapping[str, Any]) -> ConnectorError:
        errcode, sub_code = answer.get("errcode"), str(answer.get("sub_code") or "")
        text = redact(f"POST {path}: errcode {errcode}"
                      f"{' sub_code ' + sub_code if sub_code else ''}: "
                      f"{answer.get('sub_msg') or answer.get('errmsg', '')}")
        kwargs: dict[str, Any] = {"instance": self.instance, "status": resp.status_code,
                                  "request_id": answer.get("request_id")}
        if errcode == OLD_QUOTA:
            return errors.RateLimited(text, **kwargs, hint="the monthly API quota is used up")
        if errcode in OLD_TOKEN or sub_code in OLD_NO_PERMISSION or errcode == 88:
            return errors.AuthError(text, **kwargs, hint=(
                f"the app of [connectors.{self.instance}] lacks the permission {PERMISSION}, "
                "or the token was refused"))
        return errors.ClientError(text, **kwargs, hint="DingTalk's errmsg says why")


def _error_hint(resp: requests.Response) -> str | None:
    if resp.status_code == 429:
        return "DingTalk still throttles after every retry: run later, off the full hour"
    return None


def _throttled(resp: requests.Response) -> float | None:
    """One second for a QPS limit of either API style (and any 429); None otherwise. The
    body's request id is kept as the header the client reports, should the limit outlast
    the retries."""
    body = body_of(resp)
    code, errcode = str(body.get("code") or ""), body.get("errcode")
    if not (resp.status_code == 429 or code in QPS_CODES or errcode in OLD_QPS):
        return None
    request_id = body.get("requestid") or body.get("request_id")
    if request_id and REQUEST_ID_HEADER not in resp.headers:
        resp.headers[REQUEST_ID_HEADER] = str(request_id)
    return QPS_WAIT


def _json(resp: requests.Response, instance: str) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        msg = f"DingTalk answered HTTP {resp.status_code} without a JSON object"
        raise ConnectorError(msg, instance=instance, status=resp.status_code,
                             hint="check the base URLs: a proxy or login page may be answering "
                                  "(DingTalk answers an IP that called too often with an HTML page)")
    return body
