"""The HttpClient's own way of preparing and sending a request sends what requests would send.

Every request of an ``HttpClient`` on its own session goes through ``LeanSender`` (the
client's CPU per small GET is a training scan's cost); these tests send the same calls through
``requests.Session.request`` and compare what reached the (faked) vendor, then check the
features one by one: headers, auth and token refresh, cookies, proxies, retries, redaction.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
from requests.adapters import HTTPAdapter

from trainbridge.core.errors import ClientError
from trainbridge.core.http import HttpClient, HttpSettings, TokenCache
from trainbridge.core.http_send import LeanAdapter, LeanSender
from trainbridge.core.http_session import EnvironmentOnceSession
from trainbridge.sdk.auth import TokenAuth, with_fresh_token
from trainbridge.sdk.throttle import retry_throttled

BASE = "https://api.hris.example/v1"


@pytest.fixture
def vendor() -> Iterator[responses.RequestsMock]:
    """Any GET or POST answered with an empty object; each test reads what was sent."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.GET, re.compile(r"https://.*"), callback=lambda r: (200, {}, "{}"))
        mock.add_callback(responses.POST, re.compile(r"https://.*"), callback=lambda r: (201, {}, "{}"))
        yield mock


@pytest.fixture
def waits() -> list[float]:
    return []


def client(waits: list[float], **kwargs: Any) -> HttpClient:
    return HttpClient(BASE, instance="hris", settings=kwargs.pop("settings", HttpSettings()),
                      sleep=waits.append, **kwargs)


def sent(call: Any) -> dict[str, Any]:
    req = call.request
    return {"method": req.method, "url": req.url, "headers": dict(req.headers), "body": req.body,
            "kwargs": dict(req.req_kwargs)}


CALLS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "training/record/employee/42", {}),
    ("GET", "/employees/changed", {"params": {"since": "2024-01-01T00:00:00Z"}}),
    ("GET", "employees/E 7/ü", {}),
    ("GET", "reports/a/../b/./c", {}),
    ("GET", "files/7.json", {"headers": {"Accept": "text/csv", "X-Trace": "t-1"}}),
    ("GET", "https://API.hris.example:443/v1/next?cursor=c%2f2#frag", {}),
    ("POST", "reports/custom", {"json": {"fields": ["id"], "filters": {"ids": [1, 2]}}}),
    ("POST", "upload", {"data": {"a": "1", "b": "two words"}}),
    ("POST", "upload", {"files": {"doc": ("a.txt", b"hello", "text/plain")}}),
]


@pytest.mark.parametrize(("method", "path", "kw"), CALLS)
def test_each_request_reaches_the_vendor_exactly_as_requests_would_send_it(
        vendor: responses.RequestsMock, waits: list[float], method: str, path: str,
        kw: dict[str, Any]) -> None:
    lean = client(waits, auth=("api-key-1234", "x"), headers={"Accept": "application/json"})
    assert isinstance(lean._lean, LeanSender)
    lean.request(method, path, **kw)
    plain = client(waits, auth=("api-key-1234", "x"), headers={"Accept": "application/json"})
    plain._lean = None  # requests' Session.request, as before
    plain.request(method, path, **kw)

    ours, theirs = (sent(c) for c in vendor.calls)
    if "files" in kw:  # a multipart boundary is random
        for one in (ours, theirs):
            one["body"] = one["headers"]["Content-Type"] = "multipart"
            one["headers"].pop("Content-Length")
    assert ours == theirs


def test_urls_prepared_from_their_directory_are_the_urls_requests_prepares() -> None:
    rng = random.Random(5)
    alphabet = "aZ09._~-/%:@!$&'()*+,;= é?#"
    sender = LeanSender(EnvironmentOnceSession())
    for _ in range(3000):
        tail = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        host = rng.choice(["api.hris.example", "API.Hris.Example:8443", "u:p@h.example", "h.example."])
        url = f"{rng.choice(['https', 'http', 'HTTPS'])}://{host}/{tail}"
        expected = requests.PreparedRequest()
        try:
            expected.prepare_url(url, None)
        except requests.RequestException:  # the client then gets requests' own error
            assert sender._plain_url(url) is None, url
            continue
        plain = sender._plain_url(url)
        assert plain is None or plain == expected.url, url


def test_session_headers_changed_later_are_sent_and_request_headers_win(
        vendor: responses.RequestsMock, waits: list[float]) -> None:
    http = client(waits, headers={"Accept": "application/json", "X-Tenant": "acme"})
    http.get("people")
    http.session.headers["X-Tenant"] = "acme-cn"
    http.get("people", headers={"accept": "text/csv"})
    del http.session.headers["X-Tenant"]
    http.get("people")
    first, second, third = (c.request.headers for c in vendor.calls)
    assert first["X-Tenant"] == "acme" and first["Accept"] == "application/json"
    assert second["X-Tenant"] == "acme-cn" and second["Accept"] == "text/csv"
    assert "X-Tenant" not in third
    assert all(h["User-Agent"].startswith("trainbridge/") for h in (first, second, third))


def test_basic_auth_is_sent_and_a_changed_key_is_sent_from_then_on(
        vendor: responses.RequestsMock, waits: list[float]) -> None:
    http = client(waits, auth=("key-one-1234", "x"))
    http.get("people")
    http.session.auth = ("key-two-5678", "x")
    http.get("people")
    assert [c.request.headers["Authorization"] for c in vendor.calls] == [
        requests.auth._basic_auth_str("key-one-1234", "x"),
        requests.auth._basic_auth_str("key-two-5678", "x")]


def test_a_refused_token_is_fetched_again_and_the_new_one_is_sent(waits: list[float]) -> None:
    issued = iter(["token-first-0001", "token-second-0002"])
    tokens = TokenCache(lambda: (next(issued), 3600), margin=60)
    http = client(waits, auth=TokenAuth(tokens))
    with responses.RequestsMock() as vendor:
        vendor.get(f"{BASE}/people", status=401)
        vendor.get(f"{BASE}/people", json=[])
        assert with_fresh_token(tokens, lambda: http.get_json("people")) == []
        assert [c.request.headers["Authorization"] for c in vendor.calls] == [
            "Bearer token-first-0001", "Bearer token-second-0002"]


def test_a_header_an_auth_hook_adds_never_reaches_an_error(waits: list[float]) -> None:
    def signed(r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["X-Api-Key"] = "hook-key-9a8b7c6d"
        return r

    http = client(waits, auth=signed)
    with responses.RequestsMock() as vendor:
        vendor.get(f"{BASE}/people", status=400, json={"error": "bad key hook-key-9a8b7c6d"})
        with pytest.raises(ClientError) as caught:
            http.get("people")
    assert "hook-key-9a8b7c6d" not in str(caught.value)


def test_netrc_credentials_are_used_when_no_auth_is_given(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch, waits: list[float]) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine api.hris.example login svc password netrc-pass-1\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    with responses.RequestsMock() as vendor:
        vendor.get(f"{BASE}/people", json=[])
        client(waits).get("people")
        assert vendor.calls[0].request.headers["Authorization"] == \
            requests.auth._basic_auth_str("svc", "netrc-pass-1")


def test_cookies_a_vendor_sets_are_sent_back_and_cookies_the_session_had_are_sent(
        waits: list[float]) -> None:
    http = client(waits)
    with responses.RequestsMock() as vendor:
        vendor.get(f"{BASE}/login", json={}, headers={"Set-Cookie": "sid=abc123; Path=/"})
        vendor.get(f"{BASE}/people", json=[])
        vendor.get(f"{BASE}/people", json=[])
        assert http.get("login").cookies["sid"] == "abc123"
        http.get("people")
        assert vendor.calls[1].request.headers["Cookie"] == "sid=abc123"
        http.session.cookies.clear()
        http.get("people")
        assert "Cookie" not in vendor.calls[2].request.headers

    other = client(waits)
    other.session.cookies.set("region", "cn", domain="api.hris.example", path="/")
    with responses.RequestsMock() as vendor:
        vendor.get(f"{BASE}/people", json=[])
        other.get("people")
        assert vendor.calls[0].request.headers["Cookie"] == "region=cn"


def test_redirects_are_followed_as_requests_follows_them(waits: list[float]) -> None:
    http = client(waits)
    with responses.RequestsMock() as vendor:
        vendor.get(f"{BASE}/export", status=302, headers={"Location": f"{BASE}/export/7",
                                                           "Set-Cookie": "step=1; Path=/"})
        vendor.get(f"{BASE}/export/7", json={"rows": []})
        resp = http.get("export")
        assert resp.json() == {"rows": []} and [r.status_code for r in resp.history] == [302]
        assert vendor.calls[1].request.headers["Cookie"] == "step=1"


def test_proxies_come_from_the_environment_once_per_host(
        monkeypatch: pytest.MonkeyPatch, vendor: responses.RequestsMock, waits: list[float]) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.acme.internal:3128")
    monkeypatch.setenv("NO_PROXY", "near.acme.internal")
    http = client(waits)
    http.get("people")
    http.get("https://near.acme.internal/api/people")
    far, near = (c.request.req_kwargs["proxies"] for c in vendor.calls)  # type: ignore[attr-defined]
    assert far["https"] == "http://proxy.acme.internal:3128" and "https" not in near


def test_verify_and_timeout_reach_the_adapter(vendor: responses.RequestsMock, waits: list[float],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    client(waits, settings=HttpSettings(verify="/etc/acme/ca.pem", timeout=9)).get("people")
    client(waits, settings=HttpSettings(verify=False)).get("people")
    first, second = (c.request.req_kwargs for c in vendor.calls)  # type: ignore[attr-defined]
    assert (first["verify"], first["timeout"], first["stream"]) == ("/etc/acme/ca.pem", 9, False)
    assert second["verify"] is False


def test_429_and_503_with_retry_after_are_retried_after_waiting(waits: list[float]) -> None:
    http = client(waits)
    with responses.RequestsMock() as vendor:
        vendor.get(f"{BASE}/training/record/employee/1", status=429, headers={"Retry-After": "3"})
        vendor.get(f"{BASE}/training/record/employee/1", status=503, headers={"Retry-After": "5"})
        vendor.get(f"{BASE}/training/record/employee/1", json={"7": {"id": 7}})
        assert http.get_json("training/record/employee/1") == {"7": {"id": 7}}
    assert len(waits) == 2 and waits[0] >= 3 and waits[1] >= 5


def test_a_session_hook_sees_every_answer(waits: list[float]) -> None:
    http = client(waits)
    retry_throttled(http, lambda r: 2.0 if r.json().get("code") == 99991400 else None)
    with responses.RequestsMock() as vendor:
        vendor.get(f"{BASE}/people", json={"code": 99991400})
        vendor.get(f"{BASE}/people", json={"code": 0})
        assert http.get_json("people") == {"code": 0}
    assert waits and waits[0] >= 2.0


def test_a_streamed_download_is_left_unread(waits: list[float]) -> None:
    http = client(waits)
    with responses.RequestsMock() as vendor:
        vendor.get(f"{BASE}/export.csv", body=b"a,b\n1,2\n")
        resp = http.get("export.csv", stream=True)
        assert resp._content_consumed is False  # type: ignore[attr-defined]
        assert b"".join(resp.iter_content(3)) == b"a,b\n1,2\n"


def test_a_session_of_the_callers_own_sends_through_its_own_request(
        vendor: responses.RequestsMock, waits: list[float]) -> None:
    seen: list[str] = []

    class Recording(requests.Session):
        def request(self, method: str | bytes, url: str | bytes, *args: Any, **kw: Any) -> Any:
            seen.append(str(url))
            return super().request(method, url, *args, **kw)

    http = client(waits, session=Recording())
    assert http._lean is None
    http.get("people")
    assert seen == [f"{BASE}/people"]


@pytest.mark.parametrize("verify", [True, False, "/etc/ssl/certs"])
def test_the_adapter_picks_the_pool_and_request_line_requests_would(verify: Any) -> None:
    adapter = LeanAdapter()
    for url in ("https://api.hris.example/v1/people?x=1", "http://api.hris.example:8080/a b",
                "https://u:p@API.hris.example/v1/"):
        req = requests.PreparedRequest()
        req.prepare(method="GET", url=url)
        ours = adapter.get_connection_with_tls_context(req, verify, {}, None)
        theirs = HTTPAdapter.get_connection_with_tls_context(adapter, req, verify, {}, None)
        assert ours is theirs
        assert adapter.request_url(req, {}) == HTTPAdapter.request_url(adapter, req, {})
        proxies = {"https": "http://proxy:3128", "http": "http://proxy:3128"}
        assert adapter.request_url(req, proxies) == HTTPAdapter.request_url(adapter, req, proxies)
