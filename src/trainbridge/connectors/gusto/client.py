"""Talking to Gusto: version header, bearer token (refreshed through OAuth), pages, error hints."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import requests

from trainbridge.connectors.gusto.config import GustoConfig
from trainbridge.core.connector import ConnectorContext
from trainbridge.core.errors import AuthError, ConnectorError
from trainbridge.core.http import HttpClient, TokenCache
from trainbridge.core.secrets import register_secret
from trainbridge.sdk.auth import TokenAuth, with_fresh_token
from trainbridge.sdk.streams import PageNumber, RestStream

PER_PAGE = 100
MAX_PAGES = 1000
#: docs.gusto.com/embedded-payroll/docs/pagination: ``page``/``per``, ``X-Total-Pages`` back.
PAGING = PageNumber(param="page", size_param="per", size=PER_PAGE, total_pages_header="X-Total-Pages")
#: Company access tokens live 2 hours (``expires_in`` of /oauth/token); renewed a minute early.
TOKEN_MARGIN_SECONDS = 60.0
#: A configured access token's age is unknown: it is used until Gusto refuses it.
_UNKNOWN_LIFETIME = 10.0 * 365 * 86400


class GustoClient:
    """One instance's session: every call carries ``X-Gusto-API-Version`` and the bearer token.

    With an ``oauth`` table the token comes from a ``TokenCache`` (the configured one first, if
    any) and a refused one (401) is renewed once through ``with_fresh_token``.
    """

    def __init__(self, name: str, config: GustoConfig, ctx: ConnectorContext,
                 scopes: Sequence[str] = ()) -> None:
        self.name, self.config, self.ctx, self.scopes = name, config, ctx, tuple(scopes)
        headers = {"Accept": "application/json", "X-Gusto-API-Version": config.api_version}
        self.tokens: TokenCache | None = None
        auth: TokenAuth | None = None
        if config.oauth is not None:
            self._seed = config.access_token.get_secret_value() if config.access_token else None
            self.tokens = TokenCache(self._fetch_token, margin=TOKEN_MARGIN_SECONDS, clock=ctx.clock)
            auth = TokenAuth(self.tokens)
            # The token request must not ask the cache for a token: a client of its own.
            self._oauth_http = ctx.http(config.base_url, instance=name, settings=config.http,
                                        headers=headers, error_hint=self._error_hint)
        elif config.access_token is not None:
            headers["Authorization"] = f"Bearer {config.access_token.get_secret_value()}"
        self.http: HttpClient = ctx.http(config.base_url, instance=name, settings=config.http,
                                         headers=headers, error_hint=self._error_hint, auth=auth)

    def json(self, method: str, path: str, **kw: Any) -> Any:
        return self.http.json_of(self.request(method, path, **kw))

    def pages(self, path: str, params: Mapping[str, Any]) -> Iterator[Any]:
        """Every item of a paged list (``page``/``per``, ``X-Total-Pages``), one page at a time."""
        stream = RestStream(_Authorized(self), path, paging=PAGING, params=params, max_pages=MAX_PAGES,
                            name=f"Gusto GET {path}", ctx=self.ctx,
                            where=f"base_url and api_version of [connectors.{self.name}]")
        for part in stream.pages():
            yield from part.items

    def request(self, method: str, path: str, **kw: Any) -> requests.Response:
        if self.tokens is None:
            return self.http.request(method, path, **kw)
        return with_fresh_token(self.tokens, lambda: self.http.request(method, path, **kw),
                                renew_on=lambda exc: exc.status == 401)

    def _fetch_token(self) -> tuple[str, float]:
        if self._seed is not None:
            token, self._seed = self._seed, None
            return token, _UNKNOWN_LIFETIME
        return self.refresh()

    def refresh(self) -> tuple[str, float]:
        """Trade the stored refresh token for an access token; store the rotated refresh token."""
        oauth = self.config.oauth
        if oauth is None:
            msg = "no access token and no oauth table to get one"
            raise AuthError(msg, instance=self.name, hint=f"set access_token in [connectors.{self.name}]")
        file = self.ctx.resolve(oauth.refresh_token_file)
        try:
            refresh_token = file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            msg = f"cannot read the refresh token file {file}: {exc.strerror}"
            raise AuthError(msg, instance=self.name, hint="write the refresh token of the OAuth "
                            "authorization into that file") from None
        register_secret(refresh_token)
        body = {"client_id": oauth.client_id, "client_secret": oauth.client_secret.get_secret_value(),
                "grant_type": "refresh_token", "refresh_token": refresh_token}
        if oauth.redirect_uri:
            body["redirect_uri"] = oauth.redirect_uri
        # Never retried: a refresh token works once, so a repeated refresh would burn it.
        resp = self._oauth_http.request("POST", "oauth/token", json=body)
        try:
            answer = resp.json()
        except ValueError:
            answer = None
        access = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(access, str) or not access:
            raise AuthError("POST /oauth/token answered without an access_token", instance=self.name,
                            hint="authorize the application again and store the new refresh token")
        register_secret(access)
        rotated = answer.get("refresh_token") if isinstance(answer, dict) else None
        if isinstance(rotated, str) and rotated:
            register_secret(rotated)
            replace_secret_file(file, rotated)
        lifetime = answer.get("expires_in") if isinstance(answer, dict) else None
        return access, float(lifetime) if isinstance(lifetime, int | float) else 7200.0

    def bad_answer(self, what: str, answer: Any) -> ConnectorError:
        shown = answer if isinstance(answer, str) else json.dumps(answer, default=str)[:120]
        return ConnectorError(f"unexpected answer from Gusto for {what}: {shown}", instance=self.name,
                              hint=f"check base_url and api_version of [connectors.{self.name}]")

    def _error_hint(self, resp: requests.Response) -> str | None:
        try:
            body = resp.json()
        except ValueError:
            body = None
        errors = body.get("errors") if isinstance(body, dict) else None
        said = "; ".join(str(e.get("message") or e.get("category")) for e in errors or []
                         if isinstance(e, dict))
        status = resp.status_code
        if status == 401:
            return ("Gusto refused the access token: company tokens expire after 2 hours; refresh it "
                    f"or configure [connectors.{self.name}.oauth]")
        if status == 403:
            return "the token lacks a scope this call needs: " + ", ".join(self.scopes)
        if status == 409:
            return "the object changed in Gusto meanwhile (stale version): the delivery will be retried"
        return f"Gusto says: {said}" if said else None


class _Authorized:
    """The stream's transport: the client's requests, with the token renewed when refused."""

    def __init__(self, client: GustoClient) -> None:
        self.client = client

    @property
    def instance(self) -> str:
        return self.client.name

    def request(self, method: str, url: str, *, params: Any = None, json: Any = None) -> requests.Response:
        return self.client.request(method, url, params=params, json=json)


def replace_secret_file(path: Path, value: str) -> None:
    """Write the rotated refresh token atomically, readable by its owner only."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(value + "\n")
    os.replace(tmp, path)
