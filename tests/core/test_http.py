"""The HTTP layer every connector uses: retries, Retry-After, idempotency keys, errors, secrets.

Vendors are faked with ``responses``; the client's sleep is a list that records each wait,
so nothing sleeps for real.
"""

from __future__ import annotations

import email.utils
import io
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pydantic
import pytest
import requests
import responses

from trainbridge.core.connector import ConnectorConfig
from trainbridge.core.errors import (
    AuthError,
    ClientError,
    ConnectorError,
    NotFound,
    RateLimited,
    ServerError,
)
from trainbridge.core.http import HttpClient, HttpSettings, parse_retry_after
from trainbridge.core.secrets import register_secret

BASE = "https://api.payroll.example/v1"
EMPLOYEES = f"{BASE}/employees"
MakeClient = Callable[..., HttpClient]


@pytest.fixture
def vendor() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:  # fails the test if a faked answer goes unused
        yield mock


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def make_client(waits: list[float]) -> MakeClient:
    def build(*, settings: HttpSettings | None = None, **kwargs: Any) -> HttpClient:
        return HttpClient(BASE, instance="payroll_cn", settings=settings or HttpSettings(),
                          sleep=waits.append, **kwargs)

    return build


def test_429_with_retry_after_seconds_waits_at_least_that_long(
        vendor: responses.RequestsMock, make_client: MakeClient, waits: list[float]) -> None:
    vendor.get(EMPLOYEES, status=429, headers={"Retry-After": "7"})
    vendor.get(EMPLOYEES, json={"items": [{"id": "E1"}]})

    assert make_client().get_json("/employees") == {"items": [{"id": "E1"}]}
    assert len(vendor.calls) == 2
    assert len(waits) == 1 and waits[0] >= 7


def test_retry_after_as_http_date_is_honoured(
        vendor: responses.RequestsMock, make_client: MakeClient, waits: list[float]) -> None:
    later = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=40), usegmt=True)
    vendor.get(EMPLOYEES, status=503, headers={"Retry-After": later})
    vendor.get(EMPLOYEES, json=[])

    make_client().get("employees")
    assert len(waits) == 1 and 30 < waits[0] <= 40


def test_parse_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2015, 10, 21, 7, 27, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 60.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now=now) == 0.0
    for unreadable in (None, "", "soon", "-5", "inf"):
        assert parse_retry_after(unreadable) is None


def test_retry_after_above_max_wait_fails_at_once_without_sleeping(
        vendor: responses.RequestsMock, make_client: MakeClient, waits: list[float]) -> None:
    vendor.get(EMPLOYEES, status=429, headers={"Retry-After": "3600"})

    with pytest.raises(RateLimited) as caught:
        make_client(settings=HttpSettings(max_wait=120)).get("/employees")
    assert waits == []
    assert len(vendor.calls) == 1
    assert "http.max_wait" in caught.value.hint and "3600 s" in caught.value.hint


def test_503_every_time_raises_server_error_with_request_id_after_max_attempts(
        vendor: responses.RequestsMock, make_client: MakeClient, waits: list[float]) -> None:
    vendor.get(EMPLOYEES, status=503, body="upstream unavailable",
               headers={"X-Request-Id": "req-7f3a"})

    with pytest.raises(ServerError) as caught:
        make_client(settings=HttpSettings(max_attempts=3)).get("/employees")
    error = caught.value
    assert len(vendor.calls) == 3 and len(waits) == 2
    assert (error.instance, error.status, error.request_id) == ("payroll_cn", 503, "req-7f3a")
    assert "req-7f3a" in str(error) and "upstream unavailable" in str(error)


def test_backoff_grows_exponentially_with_jitter_under_the_cap(
        vendor: responses.RequestsMock, make_client: MakeClient, waits: list[float]) -> None:
    vendor.get(EMPLOYEES, status=502)
    settings = HttpSettings(max_attempts=6, backoff_base=1.0, backoff_max=4.0)

    with pytest.raises(ServerError):
        make_client(settings=settings).get("/employees")
    assert len(waits) == 5
    for attempt, wait in enumerate(waits):
        assert 0 <= wait <= min(4.0, 2**attempt)


def test_post_without_idempotency_key_is_not_retried_on_500(
        vendor: responses.RequestsMock, make_client: MakeClient, waits: list[float]) -> None:
    vendor.post(f"{BASE}/adjustments", status=500)

    with pytest.raises(ServerError):
        make_client().post("/adjustments", json={"employee": "E1", "amount": "-850.00"})
    assert len(vendor.calls) == 1 and waits == []


def test_a_refused_create_is_retried_but_one_that_may_have_happened_is_not(
        vendor: responses.RequestsMock, make_client: MakeClient, waits: list[float]) -> None:
    vendor.post(f"{BASE}/envelopes", status=429, headers={"Retry-After": "3"})
    vendor.post(f"{BASE}/envelopes", status=201, json={"envelopeId": "e1"})
    client = make_client()

    made = client.post("/envelopes", json={}, idempotent=False, retry_refused=True)
    assert made.json() == {"envelopeId": "e1"} and len(vendor.calls) == 2 and waits[0] >= 3

    vendor.replace(responses.POST, f"{BASE}/envelopes", status=500)
    with pytest.raises(ServerError):
        client.post("/envelopes", json={}, idempotent=False, retry_refused=True)
    assert len(vendor.calls) == 3


def test_post_with_idempotency_key_is_retried_with_the_same_key_every_time(
        vendor: responses.RequestsMock, make_client: MakeClient, waits: list[float]) -> None:
    vendor.post(f"{BASE}/adjustments", status=500)
    vendor.post(f"{BASE}/adjustments", status=502)
    vendor.post(f"{BASE}/adjustments", status=201, json={"id": "ADJ-1"})

    resp = make_client().post("/adjustments", json={"employee": "E1", "amount": "-850.00"},
                              idempotency_key="adj-E1-2024-06")
    assert resp.json() == {"id": "ADJ-1"}
    assert [c.request.headers["Idempotency-Key"] for c in vendor.calls] == ["adj-E1-2024-06"] * 3
    assert len({c.request.body for c in vendor.calls}) == 1


@pytest.mark.parametrize(("method", "idempotent", "calls"), [
    ("PUT", None, 2), ("DELETE", None, 2), ("PATCH", None, 1),
    ("POST", True, 2), ("GET", False, 1),
])
def test_which_requests_are_retried(vendor: responses.RequestsMock, make_client: MakeClient,
                                    method: str, idempotent: bool | None, calls: int) -> None:
    vendor.add(method, EMPLOYEES, status=503)
    vendor.add(method, EMPLOYEES, status=200)
    vendor.assert_all_requests_are_fired = False
    client = make_client()

    if calls == 1:
        with pytest.raises(ServerError):
            client.request(method, "/employees", idempotent=idempotent)
    else:
        assert client.request(method, "/employees", idempotent=idempotent).status_code == 200
    assert len(vendor.calls) == calls


def test_connection_errors_are_retried(
        vendor: responses.RequestsMock, make_client: MakeClient, waits: list[float]) -> None:
    vendor.get(EMPLOYEES, body=requests.ConnectionError("connection reset by peer"))
    vendor.get(EMPLOYEES, body=requests.ReadTimeout("read timed out"))
    vendor.get(EMPLOYEES, json=[])

    assert make_client().get_json("/employees") == []
    assert len(waits) == 2


def test_a_vendor_that_stays_unreachable_raises_connector_error(
        vendor: responses.RequestsMock, make_client: MakeClient) -> None:
    vendor.get(EMPLOYEES, body=requests.ConnectTimeout("connect timed out"))

    with pytest.raises(ConnectorError) as caught:
        make_client(settings=HttpSettings(max_attempts=2, timeout=9)).get("/employees")
    assert type(caught.value) is ConnectorError
    assert "timed out after 2 attempt(s)" in str(caught.value)
    assert "http.timeout is 9 s" in caught.value.hint


def test_401_raises_auth_error_with_the_vendor_hint(
        vendor: responses.RequestsMock, make_client: MakeClient) -> None:
    # Feishu's error envelope: https://open.feishu.cn/document/server-docs/api-call-guide/generic-error-code
    vendor.get(EMPLOYEES, status=401, json={"code": 99991663, "msg": "Invalid access token"},
               headers={"X-Tt-Logid": "20240601abc"})

    client = make_client(error_hint=lambda r: f"code {r.json()['code']}: {r.json()['msg']}")
    with pytest.raises(AuthError) as caught:
        client.get("/employees")
    assert "expired" in caught.value.hint
    assert "code 99991663: Invalid access token" in caught.value.hint
    assert caught.value.request_id == "20240601abc"


def test_404_raises_not_found_and_400_client_error(
        vendor: responses.RequestsMock, make_client: MakeClient) -> None:
    vendor.get(f"{EMPLOYEES}/E404", status=404)
    vendor.post(EMPLOYEES, status=400, json={"error": "hire_date must be a date"})

    with pytest.raises(NotFound):
        make_client().get("/employees/E404")
    with pytest.raises(ClientError, match="hire_date must be a date"):
        make_client().post("/employees", json={"hire_date": "soon"})
    assert len(vendor.calls) == 2


def test_ok_statuses_are_returned_instead_of_raised(
        vendor: responses.RequestsMock, make_client: MakeClient) -> None:
    vendor.get(f"{EMPLOYEES}/E404", status=404)

    assert make_client().get("/employees/E404", ok={200, 404}).status_code == 404


def test_every_request_carries_the_timeout(
        vendor: responses.RequestsMock, make_client: MakeClient) -> None:
    vendor.get(EMPLOYEES, json=[])
    vendor.get(f"{BASE}/ping", json={})
    client = make_client(settings=HttpSettings(timeout=12.5))

    client.get("/employees")
    client.session.get(f"{BASE}/ping")  # a connector using the session directly
    sent = [c.request.req_kwargs["timeout"] for c in vendor.calls]  # type: ignore[attr-defined]
    assert sent == [12.5, 12.5]


def test_secrets_never_reach_errors_or_logs(
        vendor: responses.RequestsMock, make_client: MakeClient,
        caplog: pytest.LogCaptureFixture) -> None:
    known, token, api_key = "sk_live_known_51Hx", "tok-bearer-9f8e7d6c", "key-query-0a1b2c3d"
    register_secret(known)
    echoed = {"error": f"bad request to /v1/employees?api_key={api_key}",
              "access_token": token, "detail": f"config {known}"}
    vendor.get(f"{EMPLOYEES}?api_key={api_key}", status=500, json=echoed)
    caplog.set_level(logging.DEBUG, logger="trainbridge.http")

    client = make_client(settings=HttpSettings(max_attempts=2),
                         headers={"Authorization": f"Bearer {token}"})
    with pytest.raises(ServerError) as caught:
        client.get("/employees", params={"api_key": api_key})
    outputs = [str(caught.value), caught.value.hint, caplog.text]
    assert "attempt 2" in caplog.text and "retrying" in caplog.text
    assert "api_key=***" in str(caught.value)
    for secret in (known, token, api_key):
        assert not any(secret in output for output in outputs), secret


def test_secrets_in_network_errors_and_basic_auth_are_masked(
        vendor: responses.RequestsMock, make_client: MakeClient) -> None:
    api_key, password = "key-query-77aa88bb", "basic-pass-1234"
    vendor.get(f"{EMPLOYEES}?api_key={api_key}", body=requests.ConnectionError(
        f"Max retries exceeded with url: /v1/employees?api_key={api_key} ({password})"))

    client = make_client(settings=HttpSettings(max_attempts=1), auth=("svc-trainbridge", password))
    with pytest.raises(ConnectorError) as caught:
        client.get(f"/employees?api_key={api_key}")
    assert api_key not in str(caught.value) and password not in str(caught.value)


def test_absolute_next_links_are_followed_as_given(
        vendor: responses.RequestsMock, make_client: MakeClient) -> None:
    next_link = "https://api.payroll.example/v1/employees?cursor=c2"
    export = "https://files.payroll.example/exports/7.json"
    vendor.get(EMPLOYEES, json={"items": [], "next": next_link})
    vendor.get(next_link, json={"items": [], "export": export})
    vendor.get(export, json={"rows": []})
    client = make_client()

    page = client.get_json("employees")
    page = client.get_json(page["next"])
    client.get_json(page["export"])
    assert [c.request.url for c in vendor.calls] == [EMPLOYEES, next_link, export]


def test_get_json_on_a_login_page_names_instance_and_path(
        vendor: responses.RequestsMock, make_client: MakeClient) -> None:
    vendor.get(EMPLOYEES, body="<html>Please sign in</html>", content_type="text/html")

    with pytest.raises(ConnectorError, match=r"payroll_cn: GET /v1/employees .*text/html"):
        make_client().get_json("/employees")


def test_an_answer_that_must_be_an_object_but_is_a_list_names_instance_and_path(
        vendor: responses.RequestsMock, make_client: MakeClient) -> None:
    vendor.get(EMPLOYEES, json=[{"id": "E001"}])
    vendor.get(EMPLOYEES, json={"employees": []})
    client = make_client()

    with pytest.raises(ConnectorError, match=r"payroll_cn: GET /v1/employees answered HTTP 200 with JSON "
                                             r"that is not an object"):
        client.json_object(client.get("/employees"))
    assert client.json_object(client.get("/employees")) == {"employees": []}


def test_an_uploaded_file_is_sent_whole_on_every_attempt(
        vendor: responses.RequestsMock, make_client: MakeClient) -> None:
    vendor.put(f"{BASE}/documents/D1", status=503)
    vendor.put(f"{BASE}/documents/D1", status=200)
    pdf = io.BytesIO(b"%PDF-1.7 training agreement")

    make_client().put("/documents/D1", files={"file": ("agreement.pdf", pdf, "application/pdf")})
    bodies = [cast(bytes, c.request.body) for c in vendor.calls]
    assert all(b"%PDF-1.7 training agreement" in body for body in bodies)


def test_settings_are_a_strict_nested_table() -> None:
    class PayrollConfig(ConnectorConfig):
        http: HttpSettings = HttpSettings()

    config = PayrollConfig.model_validate({"http": {"max_wait": 600, "verify": "ca.pem"}})
    assert (config.http.max_wait, config.http.verify, config.http.timeout) == (600, "ca.pem", 30)
    with pytest.raises(pydantic.ValidationError):
        PayrollConfig.model_validate({"http": {"max_wiat": 600}})


def test_a_token_is_kept_until_the_margin_before_expiry_and_fetched_again_when_refused() -> None:
    from trainbridge.core.http import TokenCache

    now = [1000.0]
    fetched: list[str] = []

    def fetch() -> tuple[str, float]:
        fetched.append(f"tok-{len(fetched) + 1}-abcdef")
        return fetched[-1], 7200.0

    tokens = TokenCache(fetch, margin=300, clock=lambda: now[0])
    assert tokens.get() == tokens.get() == "tok-1-abcdef"
    now[0] += 7200 - 301
    assert tokens.get() == "tok-1-abcdef"
    now[0] += 2
    assert tokens.get() == "tok-2-abcdef"
    tokens.invalidate()
    assert tokens.get() == "tok-3-abcdef"
    from trainbridge.core.secrets import redact

    assert redact("Bearer tok-3-abcdef") == "Bearer ***"
