"""The one token helper: a cached token on every request, renewed once when the vendor refuses it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import responses
from responses import matchers

from trainbridge.core.errors import AuthError
from trainbridge.core.http import HttpClient, HttpSettings
from trainbridge.core.secrets import redact
from trainbridge.sdk.auth import TokenAuth, TokenCache, with_fresh_token

LMS = "https://lms.acme.example/api"


@pytest.fixture
def vendor() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def issued() -> list[str]:
    return []


@pytest.fixture
def now() -> list[float]:
    return [0.0]


@pytest.fixture
def tokens(issued: list[str], now: list[float]) -> TokenCache:
    def fetch() -> tuple[str, float]:
        issued.append(f"lms-access-token-{len(issued) + 1:04d}")
        return issued[-1], 3600.0

    return TokenCache(fetch, margin=300, clock=lambda: now[0])


def client(tokens: TokenCache) -> HttpClient:
    return HttpClient(LMS, instance="acme_lms", settings=HttpSettings(), auth=TokenAuth(tokens),
                      sleep=lambda _s: None)


def bearer(token: str) -> list[Any]:
    return [matchers.header_matcher({"Authorization": f"Bearer {token}"})]


def test_one_token_serves_every_request_until_the_refresh_margin(vendor, tokens, issued, now):
    vendor.get(f"{LMS}/courses", json=[], match=bearer("lms-access-token-0001"))
    vendor.get(f"{LMS}/courses", json=[], match=bearer("lms-access-token-0002"))
    http = client(tokens)

    http.get("/courses")
    http.get("/courses")
    now[0] = 3301.0  # within 300 s of the hour the token lives
    http.get("/courses")

    assert issued == ["lms-access-token-0001", "lms-access-token-0002"]


def test_a_refused_token_is_renewed_once_and_the_call_sent_again(vendor, tokens, issued):
    vendor.get(f"{LMS}/courses", status=401, json={"error": "token revoked"},
               match=bearer("lms-access-token-0001"))
    vendor.get(f"{LMS}/courses", json=[{"id": "C1"}], match=bearer("lms-access-token-0002"))
    http = client(tokens)

    resp = with_fresh_token(tokens, lambda: http.get("/courses"))

    assert resp.json() == [{"id": "C1"}]
    assert len(issued) == 2


def test_a_second_refusal_is_the_vendors_answer(vendor, tokens, issued):
    vendor.get(f"{LMS}/courses", status=403, json={"error": "missing scope courses:read"})
    http = client(tokens)

    with pytest.raises(AuthError):
        with_fresh_token(tokens, lambda: http.get("/courses"))
    assert len(issued) == 2


def test_a_vendor_that_refuses_with_a_code_in_a_200_answer_is_told_by_refused(vendor, tokens, issued):
    vendor.get(f"{LMS}/courses", json={"code": 99991663}, match=bearer("lms-access-token-0001"))
    vendor.get(f"{LMS}/courses", json={"code": 0}, match=bearer("lms-access-token-0002"))
    http = client(tokens)

    answer = with_fresh_token(tokens, lambda: http.get("/courses").json(),
                              refused=lambda body: body["code"] == 99991663)

    assert answer == {"code": 0}


def test_every_token_fetched_is_a_secret(tokens):
    token = tokens.get()

    assert token not in redact(f"GET /courses with {token}")
