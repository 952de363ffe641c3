"""DingTalk access token, both error styles, throttling codes and retries."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from trainbridge.connectors.dingtalk_hrm import DingTalkHrm
from trainbridge.core.errors import AuthError, ConnectorError, RateLimited, ServerError
from trainbridge.testing import Clock

from .conftest import DISMISSIONS_URL, INFOS_URL, ON_JOB_URL, TOKEN, TOKEN_URL, payload

NO_LEAVERS = {"nextToken": 0, "hasMore": False, "userIdList": []}
NOBODY_ON_JOB = {"errcode": 0, "errmsg": "ok", "result": {"data_list": []}, "success": True,
                 "request_id": "4jzllmte0wau"}


def leavers(conn: DingTalkHrm) -> list:
    return list(conn.fetch_separations(since=None))


def test_one_token_serves_both_apis_until_it_nears_expiry(dingtalk: DingTalkHrm, fake, token_ok,
                                                             clock: Clock):
    fake.add(responses.GET, DISMISSIONS_URL, json=NO_LEAVERS)
    fake.add(responses.POST, ON_JOB_URL, json=NOBODY_ON_JOB)
    leavers(dingtalk)
    list(dingtalk.fetch_employees(since=None))
    assert token_ok.call_count == 1
    assert json.loads(fake.calls[0].request.body) == {"appKey": "dingxyz0123456789",
                                                      "appSecret": "dt-app-secret-0123456789"}
    new_api = next(c for c in fake.calls if c.request.url.startswith(DISMISSIONS_URL))
    assert new_api.request.headers["x-acs-dingtalk-access-token"] == TOKEN
    old_api = next(c for c in fake.calls if c.request.url.startswith(ON_JOB_URL))
    assert parse_qs(urlsplit(old_api.request.url).query)["access_token"] == [TOKEN]
    clock.advance(7200 - 299)  # inside the 300 s margin
    leavers(dingtalk)
    assert token_ok.call_count == 2


def test_refused_app_credentials_are_an_auth_error(dingtalk: DingTalkHrm, fake):
    fake.add(responses.POST, TOKEN_URL, status=400, json={
        "code": "InvalidAuthentication", "message": "appKey or appSecret is invalid",
        "requestid": "03F2E3EB-1F9C-77EA-B8D2-7DBD6DA4671E"})
    with pytest.raises(AuthError) as err:
        leavers(dingtalk)
    assert err.value.request_id == "03F2E3EB-1F9C-77EA-B8D2-7DBD6DA4671E"
    assert "app_key and app_secret" in err.value.hint


def test_a_refused_token_on_the_new_api_is_renewed_once(dingtalk: DingTalkHrm, fake, token_ok):
    fake.add(responses.GET, DISMISSIONS_URL, status=400, json={
        "code": "InvalidAuthentication", "requestid": "01A08FE7-CD6B-79BB-8B2E-35D8768AD457",
        "message": "不合法的access_token"})
    fake.add(responses.GET, DISMISSIONS_URL, json=NO_LEAVERS)
    leavers(dingtalk)
    assert token_ok.call_count == 2


def test_an_expired_token_on_the_old_api_is_renewed_once(dingtalk: DingTalkHrm, fake, token_ok):
    fake.add(responses.POST, ON_JOB_URL, json={"errcode": 40014, "errmsg": "不合法的access_token"})
    fake.add(responses.POST, ON_JOB_URL, json=NOBODY_ON_JOB)
    list(dingtalk.fetch_employees(since=None))
    assert token_ok.call_count == 2


def test_the_app_qps_limit_waits_a_second_and_retries(dingtalk: DingTalkHrm, fake, token_ok,
                                                      clock: Clock):
    fake.add(responses.GET, DISMISSIONS_URL, status=403, json={
        "code": "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi", "requestid": "x1",
        "message": "调用该接口超过每秒限制"})
    fake.add(responses.GET, DISMISSIONS_URL, json=NO_LEAVERS)
    leavers(dingtalk)
    assert clock.sleeps == [1.0]


def test_the_old_apis_qps_codes_are_retried(dingtalk: DingTalkHrm, fake, token_ok, clock: Clock):
    fake.add(responses.POST, ON_JOB_URL, json={"errcode": 90018, "errmsg": "应用调用接口超过每秒限制"})
    fake.add(responses.POST, ON_JOB_URL, json={"errcode": 90002, "errmsg": "接口全局每秒限制"})
    fake.add(responses.POST, ON_JOB_URL, json=NOBODY_ON_JOB)
    list(dingtalk.fetch_employees(since=None))
    assert clock.sleeps == [1.0, 1.0]


def test_throttling_that_outlasts_the_retries_is_rate_limited(dingtalk: DingTalkHrm, fake,
                                                            token_ok):
    for _ in range(3):
        fake.add(responses.GET, DISMISSIONS_URL, status=403, json={
            "code": "Forbidden.AccessDenied.QpsLimitForApi", "requestid": "qps-1",
            "message": "当前所有钉钉应用调用该接口次数过多"})
    with pytest.raises(RateLimited) as err:
        leavers(dingtalk)
    assert err.value.request_id == "qps-1"


def test_http_429_is_retried(dingtalk: DingTalkHrm, fake, token_ok):
    fake.add(responses.GET, DISMISSIONS_URL, status=429, json={"code": "Throttling"})
    fake.add(responses.GET, DISMISSIONS_URL, json=NO_LEAVERS)
    leavers(dingtalk)


def test_the_monthly_quota_is_not_retried(dingtalk: DingTalkHrm, fake, token_ok, clock: Clock):
    fake.add(responses.GET, DISMISSIONS_URL, status=403, json={
        "code": "Forbidden.AccessDenied.ApiCountLimitForOrg", "requestid": "quota-1",
        "message": "超出每月调用次数限制"})
    with pytest.raises(RateLimited, match="ApiCountLimitForOrg") as err:
        leavers(dingtalk)
    assert "monthly" in err.value.hint and clock.sleeps == []


def test_a_5xx_is_retried_then_reported_with_the_request_id(dingtalk: DingTalkHrm, fake,
                                                            token_ok):
    fake.add(responses.GET, DISMISSIONS_URL, status=500, json={"code": "systemError"})
    fake.add(responses.GET, DISMISSIONS_URL, json=NO_LEAVERS)
    leavers(dingtalk)
    for _ in range(3):
        fake.add(responses.GET, DISMISSIONS_URL, status=500, json={"code": "systemError",
                 "message": "系统异常"}, headers={"x-acs-request-id": "5XX-REQ"})
    with pytest.raises(ServerError) as err:
        leavers(dingtalk)
    assert err.value.request_id == "5XX-REQ"


def test_a_missing_permission_names_it(dingtalk: DingTalkHrm, fake, token_ok):
    fake.add(responses.POST, ON_JOB_URL, json={
        "errcode": 88, "sub_code": "60011", "sub_msg": "没有调用该接口的权限",
        "errmsg": "ding talk error[subcode=60011,submsg=没有调用该接口的权限]",
        "request_id": "5imjny7u9xwa"})
    with pytest.raises(AuthError) as err:
        list(dingtalk.fetch_employees(since=None))
    assert err.value.request_id == "5imjny7u9xwa"
    assert "qyapi_hrm_read_user" in err.value.hint


def test_a_forbidden_new_api_call_is_an_auth_error(dingtalk: DingTalkHrm, fake, token_ok):
    fake.add(responses.GET, DISMISSIONS_URL, json=payload("dismissions_page2"))
    fake.add(responses.GET, INFOS_URL, status=403, json={
        "code": "Forbidden.AccessDenied.AccessTokenPermissionDenied", "requestid": "perm-1",
        "message": "没有调用该接口的权限"})
    with pytest.raises(AuthError, match="AccessTokenPermissionDenied"):
        leavers(dingtalk)


def test_has_more_without_progress_stops_instead_of_looping(dingtalk: DingTalkHrm, fake,
                                                           token_ok):
    fake.add(responses.GET, DISMISSIONS_URL,
             json={"nextToken": 0, "hasMore": True, "userIdList": ["manager4220"]})
    fake.add(responses.GET, INFOS_URL, json={"result": []})
    with pytest.raises(ConnectorError, match="paging does not end: cursor 0 came back"):
        leavers(dingtalk)
    assert len([c for c in fake.calls if c.request.url.startswith(DISMISSIONS_URL)]) == 1
