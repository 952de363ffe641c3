"""The one token-auth helper: a cached access token, sent as a header, renewed once when refused.

``TokenCache`` (``trainbridge.core.http``) fetches a token on demand and keeps it until
``margin`` seconds before it expires; ``TokenAuth`` puts it on every request of an
``HttpClient``; ``with_fresh_token`` renews it once when the vendor refuses it::

    tokens = TokenCache(self._fetch_token, margin=300, clock=self.ctx.clock)
    self.http = self.ctx.http(base_url, instance=name, auth=TokenAuth(tokens))
    resp = with_fresh_token(tokens, lambda: self.http.get("/people"))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import requests
import requests.auth

from trainbridge.core.errors import AuthError
from trainbridge.core.http import TokenCache

T = TypeVar("T")

__all__ = ["TokenAuth", "TokenCache", "with_fresh_token"]


class TokenAuth(requests.auth.AuthBase):
    """``Authorization: Bearer <token>`` (or any ``header`` and ``scheme``) from a ``TokenCache``."""

    def __init__(self, tokens: TokenCache, *, header: str = "Authorization", scheme: str = "Bearer") -> None:
        self.tokens, self.header, self.scheme = tokens, header, scheme

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.update(self.headers())
        return request

    def headers(self) -> dict[str, str]:
        """The header with the current token, for a client that also sends the token request
        itself (where the session's ``auth`` would ask for a token to fetch a token)."""
        token = self.tokens.get()
        return {self.header: f"{self.scheme} {token}" if self.scheme else token}


def with_fresh_token(tokens: TokenCache, send: Callable[[], T], *,
                     refused: Callable[[T], bool] | None = None,
                     renew_on: Callable[[AuthError], bool] | None = None) -> T:
    """``send()``; when the token is refused (an ``AuthError``, or ``refused(answer)`` for vendors
    that answer 200 with an error code), fetch a new token and send once more. A second refusal
    is the vendor's answer: it is raised (or returned) as it is. ``renew_on`` narrows which
    errors mean the token (``lambda e: e.status == 401``: a 403 for a missing scope is not
    cured by a new token, and a rotating refresh token should not be spent on it)."""
    try:
        answer = send()
    except AuthError as exc:
        if renew_on is not None and not renew_on(exc):
            raise
        tokens.invalidate()
        return send()
    if refused is not None and refused(answer):
        tokens.invalidate()
        return send()
    return answer
