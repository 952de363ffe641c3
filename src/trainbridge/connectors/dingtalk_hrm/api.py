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
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from trainbridge.core import errors
from trainbridge.core.errors import ConnectorError
from trainbridge.core.http import HttpClient, TokenCache
from trainbridge.core.secrets import redact

log = logging.getLogger("trainbridge.connectors.dingtalk_hrm")

TOKEN_PATH = "/v1.0/oauth2/accessToken"
TOKEN_HEADER = "x-acs-dingtalk-access-token"
QPS_CODES = frozenset({"Forbidden.AccessDenied.QpsLimitForAppkeyAndApi",
                       "Forbidden.AccessDenied.QpsLimitForApi"})
QUOTA_CODE = "Forbidden.AccessDenied.ApiCountLimitForOrg"
TOKEN_CODES = frozenset({"InvalidAuthentication"})
OLD_QPS = frozenset({90018, 90002, -1})  # -1: "系统繁忙", retry as the global code list says
OLD_QUOTA = 90020
OLD_TOKEN = frozenset({40014, 42001})
OLD_NO_PERMISSION = frozenset({"60011", "60020"})
PERMISSION = "qyapi_hrm_read_user (智能人事个人信息读权限)"
_READ_STATUSES = frozenset({200, 400, 401, 403, 429})


class DingTalkApi:
    def __init__(self, api: HttpClient, oapi: HttpClient, *, app_key: str, app_secret: str,
                 refresh_margin: float = 300.0, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.api = api
        self.oapi = oapi
        self.instance = api.instance
        self._app_key = app_key
        self._app_secret = app_secret
        self._sleep = sleep
        self._tokens = TokenCache(self._fetch_token, margin=refresh_margin, clock=clock)

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

    # --- new API (api.dingtalk.com/v1.0) ---------------------------------------------------

    def v1(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
           body: Any = None) -> dict[str, Any]:
        attempts, renewed = 0, False
        while True:
            attempts += 1
            resp = self.api.request(method, path, params=params, json=body, idempotent=True,
                                    headers={TOKEN_HEADER: self.token()}, ok=_READ_STATUSES)
            answer = _json(resp, self.instance)
            if resp.status_code == 200:
                return answer
            code = str(answer.get("code") or "")
            if code in TOKEN_CODES and not renewed:
                renewed = True
                self._tokens.invalidate()
                continue
            if (code in QPS_CODES or resp.status_code == 429) and self._pause(attempts):
                log.info("%s: %s %s throttled (%s), retrying", self.instance, method, path, code)
                continue
            raise self._v1_error(method, path, resp, answer)

    def _v1_error(self, method: str, path: str, resp: requests.Response,
                  answer: Mapping[str, Any]) -> ConnectorError:
        code = str(answer.get("code") or "")
        text = redact(f"{method} {path}: {code or 'HTTP ' + str(resp.status_code)}: "
                      f"{answer.get('message', '')}")
        where = f"[connectors.{self.instance}]"
        request_id = answer.get("requestid") or resp.headers.get("x-acs-request-id")
        kwargs: dict[str, Any] = {"instance": self.instance, "status": resp.status_code,
                                  "request_id": request_id}
        if code in QPS_CODES or code == QUOTA_CODE or resp.status_code == 429:
            return errors.RateLimited(text, **kwargs, hint=(
                "the organisation's monthly API quota is used up: upgrade the DingTalk edition "
                "or wait for next month" if code == QUOTA_CODE else
                "DingTalk still throttles after every retry: run later, off the full hour"))
        if resp.status_code in (401, 403) or code in TOKEN_CODES or "permission" in code.lower():
            return errors.AuthError(text, **kwargs, hint=(
                f"the app of {where} lacks the permission {PERMISSION} or the token was refused: "
                "add the permission in the developer console (权限管理) and check the app's "
                "data range covers these employees"))
        cls = errors.ServerError if resp.status_code >= 500 else errors.ClientError
        return cls(text, **kwargs, hint="DingTalk's answer says why (see its global error codes)")

    # --- old API (oapi.dingtalk.com/topapi) ------------------------------------------------

    def topapi(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        attempts, renewed = 0, False
        while True:
            attempts += 1
            resp = self.oapi.request("POST", path, params={"access_token": self.token()},
                                     json=dict(body), idempotent=True, ok=_READ_STATUSES)
            answer = _json(resp, self.instance)
            errcode = answer.get("errcode")
            if errcode == 0:
                return answer
            if errcode in OLD_TOKEN and not renewed:
                renewed = True
                self._tokens.invalidate()
                continue
            if errcode in OLD_QPS and self._pause(attempts):
                log.info("%s: %s throttled (errcode %s), retrying", self.instance, path, errcode)
                continue
            raise self._topapi_error(path, resp, answer)

    def _topapi_error(self, path: str, resp: requests.Response,
                      answer: Mapping[str, Any]) -> ConnectorError:
        errcode, sub_code = answer.get("errcode"), str(answer.get("sub_code") or "")
        text = redact(f"POST {path}: errcode {errcode}"
                      f"{' sub_code ' + sub_code if sub_code else ''}: "
                      f"{answer.get('sub_msg') or answer.get('errmsg', '')}")
        kwargs: dict[str, Any] = {"instance": self.instance, "status": resp.status_code,
                                  "request_id": answer.get("request_id")}
        if errcode in OLD_QPS or errcode == OLD_QUOTA:
            return errors.RateLimited(text, **kwargs, hint=(
                "the monthly API quota is used up" if errcode == OLD_QUOTA
                else "DingTalk still throttles after every retry: run later"))
        if errcode in OLD_TOKEN or sub_code in OLD_NO_PERMISSION or errcode == 88:
            return errors.AuthError(text, **kwargs, hint=(
                f"the app of [connectors.{self.instance}] lacks the permission {PERMISSION}, "
                "or the token was refused"))
        return errors.ClientError(text, **kwargs, hint="DingTalk's errmsg says why")

    def _pause(self, attempt: int) -> bool:
        """Sleep before another try (QPS limits last one second); False when out of tries."""
        s = self.api.settings
        if attempt >= s.max_attempts:
            return False
        backoff = random.uniform(0, min(s.backoff_max, s.backoff_base * 2 ** min(attempt - 1, 16)))
        self._sleep(max(1.0, backoff))
        return True


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
