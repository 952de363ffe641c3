"""DocuSign: the account's API connection (bearer token, JWT grant, rate-limit headers).

The token is a configured ``access_token``, or one from the JWT grant (``POST
https://{account[-d].docusign.com}/oauth/token``, an RS256 assertion), cached by the SDK's
``TokenCache`` until ``token_refresh_margin_seconds`` before it expires and renewed once by
``with_fresh_token`` when DocuSign answers 401. Time is the context's ``clock``; waits are the
``HttpClient``'s (``ctx.sleep``), with DocuSign's rate-limit headers turned into ``Retry-After``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from trainbridge.connectors.docusign.config import (
    BURST_WINDOW_SECONDS,
    ERROR_HINTS,
    JWT_GRANT,
    TOKEN_HINTS,
    DocusignConfig,
)
from trainbridge.core.connector import ConnectorContext
from trainbridge.core.errors import AuthError, ConfigError, ConnectorError
from trainbridge.core.http import HttpClient
from trainbridge.core.secrets import register_secret
from trainbridge.sdk.auth import TokenAuth, TokenCache, with_fresh_token

#: A configured access token is kept for as long as the instance lives.
STATIC_LIFETIME = 10 * 365 * 86400.0


class DocusignApi:
    """``/v2.1/accounts/{accountId}`` of one account: a ``RestStream`` transport as well."""

    def __init__(self, name: str, config: DocusignConfig, ctx: ConnectorContext) -> None:
        self.instance, self.config, self.ctx = name, config, ctx
        base = config.base_uri.rstrip("/")
        self.api_base = base if base.endswith("/restapi") else f"{base}/restapi"
        self.oauth_host = config.oauth_host or (
            "account-d.docusign.com" if "demo." in base else "account.docusign.com")
        self.account_path = f"/v2.1/accounts/{config.account_id}"
        self.tokens = TokenCache(self._fetch_token, margin=config.token_refresh_margin_seconds,
                                 clock=ctx.clock)
        self._http: HttpClient | None = None
        self._oauth: HttpClient | None = None

    @property
    def jwt_mode(self) -> bool:
        return self.config.access_token is None

    @property
    def http(self) -> HttpClient:
        if self._http is None:
            self._http = self.ctx.http(self.api_base, instance=self.instance, settings=self.config.http,
                                       auth=TokenAuth(self.tokens), error_hint=_error_hint)
            self._http.session.hooks["response"].append(self._rate_limit_hook)
        return self._http

    def _rate_limit_hook(self, resp: requests.Response, *args: Any, **kwargs: Any) -> None:
        """Turn DocuSign's rate-limit headers into the Retry-After HttpClient honours."""
        if resp.status_code != 429 or "Retry-After" in resp.headers:
            return
        if resp.headers.get("X-RateLimit-Remaining") == "0":
            try:
                reset = float(resp.headers["X-RateLimit-Reset"])
            except (KeyError, ValueError):
                return
            resp.headers["Retry-After"] = str(max(1, int(reset - self.ctx.clock() + 0.999)))
        elif resp.headers.get("X-BurstLimit-Remaining") == "0":
            resp.headers["Retry-After"] = str(int(BURST_WINDOW_SECONDS))

    # --- calls --------------------------------------------------------------------------

    def request(self, method: str, path: str, *, params: Any = None, json: Any = None,
                **kw: Any) -> requests.Response:
        """One call under the account; with the JWT grant a refused token is renewed once."""
        url = path if path.startswith(("http://", "https://")) else self.account_path + path

        def send() -> requests.Response:
            return self.http.request(method, url, params=params, json=json, **kw)

        if not self.jwt_mode:
            return send()
        return with_fresh_token(self.tokens, send, renew_on=lambda exc: exc.status == 401)

    def json(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        """One call's JSON object; an HTML page (a proxy, a login) is a ConnectorError with a hint."""
        answer = self.http.json_of(self.request(method, path, **kw))
        if not isinstance(answer, dict):
            msg = f"{method} {self.account_path + path} answered {type(answer).__name__}, not an object"
            raise ConnectorError(msg, instance=self.instance,
                                 hint=f"check base_url and account_id of [connectors.{self.instance}]")
        return answer

    # --- the token ----------------------------------------------------------------------

    def _fetch_token(self) -> tuple[str, float]:
        cfg = self.config
        if cfg.access_token is not None:
            return cfg.access_token.get_secret_value(), STATIC_LIFETIME
        return self._jwt_grant()

    def _jwt_grant(self) -> tuple[str, float]:
        cfg, host = self.config, self.oauth_host
        now = int(self.ctx.clock())
        claims = {"iss": cfg.integration_key, "sub": cfg.user_id, "aud": host, "iat": now,
                  "exp": now + cfg.jwt_lifetime_seconds, "scope": " ".join(cfg.scopes)}
        if self._oauth is None:
            self._oauth = self.ctx.http(f"https://{host}", instance=self.instance, settings=cfg.http)
        resp = self._oauth.post(
            "/oauth/token", data={"grant_type": JWT_GRANT,
                                  "assertion": rs256_jwt(claims, self._private_key())},
            idempotent=True, ok={200, 400, 401})
        try:
            answer = resp.json()
        except ValueError:
            answer = {}
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if resp.status_code != 200 or not token:
            code = str(answer.get("error", "")) if isinstance(answer, dict) else ""
            detail = str(answer.get("error_description", "")) if isinstance(answer, dict) else ""
            raise AuthError(
                f"JWT grant refused by {host}: {code or resp.reason} {detail}".strip(),
                instance=self.instance, status=resp.status_code,
                request_id=resp.headers.get("X-DocuSign-TraceToken"),
                hint=TOKEN_HINTS.get(code, "check the JWT grant settings of "
                                           f"[connectors.{self.instance}]").format(host=host))
        register_secret(str(token))
        return str(token), float(answer.get("expires_in") or 3600)

    def _private_key(self) -> rsa.RSAPrivateKey:
        cfg = self.config
        if cfg.private_key is not None:
            text = cfg.private_key.get_secret_value()
            # A PEM kept in one environment variable often arrives with its newlines escaped.
            pem = (text.replace("\\n", "\n") if "\n" not in text else text).encode()
        else:
            path = self.ctx.resolve(str(cfg.private_key_file))
            try:
                pem = path.read_bytes()
            except OSError as exc:
                raise ConfigError(f"cannot read {path}: {exc.strerror}", table=f"connectors.{self.instance}",
                                  key="private_key_file") from None
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except ValueError:
            key = None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ConfigError("private key is not an unencrypted RSA PEM",
                              table=f"connectors.{self.instance}", key="private_key",
                              hint="paste the RSA key pair's private key generated for the "
                                   "integration key (-----BEGIN RSA PRIVATE KEY-----)")
        return key


def rs256_jwt(claims: Mapping[str, Any], key: rsa.RSAPrivateKey) -> str:
    """A compact JWS (RFC 7515) signed RS256, as DocuSign's JWT grant requires."""
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

    header = part(json.dumps({"typ": "JWT", "alg": "RS256"}, separators=(",", ":")).encode())
    payload = part(json.dumps(dict(claims), separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode("ascii")
    return f"{header}.{payload}.{part(key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256()))}"


def _error_hint(resp: requests.Response) -> str | None:
    try:
        code = str(resp.json().get("errorCode", ""))
    except (ValueError, AttributeError):
        return None
    return ERROR_HINTS.get(code.upper(), f"DocuSign errorCode {code}" if code else None)
