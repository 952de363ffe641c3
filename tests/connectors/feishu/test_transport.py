"""The tenant token, vendor codes and rate limits of the Feishu transport."""

from __future__ import annotations

import json

import pytest
import responses

from trainbridge.connectors.feishu import FeishuPeople
from trainbridge.core.errors import AuthError, RateLimited, ServerError
from trainbridge.testing import Clock

from .conftest import EMPLOYEES_URL, OFFBOARDINGS_URL, TOKEN, TOKEN_URL, payload

EMPTY = {"code": 0, "msg": "success", "data": {"items": [], "has_more": False}}


def read_all(conn: FeishuPeople) -> list:
    return list(conn.fetch_separations(since=None))


def test_the_token_is_fetched_once_and_sent_as_bearer(feishu: FeishuPeople, fake, token_ok):
    fake.add(responses.POST, OFFBOARDINGS_URL, json=EMPTY)
    read_all(feishu)
    read_all(feishu)
    assert token_ok.call_count == 1
    sent = json.loads(fake.calls[0].request.body)
    assert sent == {"app_id": "cli_a1b2c3d4e5f6", "app_secret": "app-secret-0123456789"}
    searches = [c for c in fake.calls if c.request.url.startswith(OFFBOARDINGS_URL)]
    assert all(c.request.headers["Authorization"] == f"Bearer {TOKEN}" for c in searches)


def test_the_token_is_refreshed_ten_minutes_before_it_expires(feishu: FeishuPeople, fake, token_ok,
                                                              clock: Clock):
    fake.add(responses.POST, OFFBOARDINGS_URL, json=EMPTY)
    read_all(feishu)
    clock.advance(7200 - 601)
    read_all(feishu)
    assert token_ok.call_count == 1
    clock.advance(2)  # now inside the 600 s margin
    read_all(feishu)
    assert token_ok.call_count == 2


def test_a_refused_app_secret_is_an_auth_error_with_a_hint(feishu: FeishuPeople, fake):
    fake.add(responses.POST, TOKEN_URL, json={"code": 10014, "msg": "app secret invalid"})
    with pytest.raises(AuthError) as err:
        read_all(feishu)
    assert "app_id and app_secret" in err.value.hint
    assert "app-secret-0123456789" not in str(err.value)


def test_an_expired_tenant_token_is_renewed_and_the_call_repeated(feishu: FeishuPeople, fake,
                                                                   token_ok):
    expired = {"code": 99991663, "msg": "Invalid access token for authorization. Please make "
               "a request with token attached."}
    fake.add(responses.POST, OFFBOARDINGS_URL, json=expired, status=400)
    fake.add(responses.POST, OFFBOARDINGS_URL, json=EMPTY)
    assert read_all(feishu)[0].records == []
    assert token_ok.call_count == 2


def test_code_99991400_on_http_400_waits_the_reset_header_then_retries(feishu: FeishuPeople,
                                                                       fake, token_ok, clock: Clock):
    # Older OpenAPIs answer the frequency limit with HTTP 400 (server-docs/api-call-guide/frequency-control).
    limited = {"code": 99991400, "msg": "request trigger frequency limit"}
    fake.add(responses.POST, OFFBOARDINGS_URL, json=limited, status=400,
             headers={"x-ogw-ratelimit-limit": "100", "x-ogw-ratelimit-reset": "7"})
    fake.add(responses.POST, OFFBOARDINGS_URL, json=EMPTY)
    read_all(feishu)
    assert clock.sleeps == [7.0]


def test_http_429_is_retried_and_gives_up_as_rate_limited(feishu: FeishuPeople, fake, token_ok,
                                                         clock: Clock):
    limited = {"code": 99991400, "msg": "request trigger frequency limit"}
    for _ in range(3):
        fake.add(responses.POST, OFFBOARDINGS_URL, json=limited, status=429,
                 headers={"x-ogw-ratelimit-reset": "1", "X-Tt-Logid": "20250601abcd"})
    with pytest.raises(RateLimited) as err:
        read_all(feishu)
    assert err.value.request_id == "20250601abcd"
    assert len(clock.sleeps) == 2  # 3 attempts


def test_a_5xx_is_retried_by_the_core_client(feishu: FeishuPeople, fake, token_ok):
    fake.add(responses.POST, OFFBOARDINGS_URL, status=502, body="bad gateway")
    fake.add(responses.POST, OFFBOARDINGS_URL, json=EMPTY)
    assert read_all(feishu)[0].records == []


def test_a_5xx_that_persists_is_a_server_error(feishu: FeishuPeople, fake, token_ok):
    for _ in range(3):
        fake.add(responses.POST, OFFBOARDINGS_URL, status=503, json={"code": 1160999, "msg": "x"},
                 headers={"X-Tt-Logid": "log-503"})
    with pytest.raises(ServerError) as err:
        read_all(feishu)
    assert err.value.request_id == "log-503"


def test_a_missing_scope_names_the_scope_and_the_log_id(feishu: FeishuPeople, fake, token_ok):
    denied = {
        "code": 99991672,
        "msg": "Access denied. One of the following scopes is required: [corehr:employee:read]",
        "error": {"log_id": "202506011200000102030405", "permission_violations": [
            {"type": "action_privilege_required", "subject": "corehr:employee:read"}]},
    }
    fake.add(responses.POST, EMPLOYEES_URL, json=denied, status=400)
    with pytest.raises(AuthError) as err:
        list(feishu.fetch_employees(since=None))
    assert "corehr:employee:read" in err.value.hint
    assert err.value.request_id == "202506011200000102030405"


def test_the_token_never_reaches_an_error_message(feishu: FeishuPeople, fake, token_ok):
    fake.add(responses.POST, EMPLOYEES_URL, json={"code": 1160102, "msg": f"bad {TOKEN}"},
             status=400)
    with pytest.raises(Exception) as err:
        list(feishu.fetch_employees(since=None))
    assert TOKEN not in str(err.value)
    assert payload("token")["tenant_access_token"] == TOKEN
