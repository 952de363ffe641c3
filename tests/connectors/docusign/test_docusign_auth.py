"""DocuSign JWT grant: the RS256 assertion we post, token caching, refresh, and refusals."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import ValidationError

from trainbridge.connectors.docusign import DocusignConnector, rs256_jwt
from trainbridge.core.errors import AuthError, ConfigError

from .conftest import (
    ACCOUNT_ID,
    API,
    ENVELOPE_ID,
    INTEGRATION_KEY,
    NOW,
    TOKEN_URL,
    USER_ID,
    payload,
)

ENVELOPE = f"{API}/envelopes/{ENVELOPE_ID}"


def b64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def decode_verified(assertion: str, key: rsa.RSAPrivateKey) -> tuple[dict, dict]:
    header, claims, signature = assertion.split(".")
    key.public_key().verify(b64url(signature), f"{header}.{claims}".encode(),
                            padding.PKCS1v15(), hashes.SHA256())
    return json.loads(b64url(header)), json.loads(b64url(claims))


def test_the_jwt_grant_posts_an_rs256_assertion_for_the_impersonated_user(jwt_docusign, fake,
                                                                          rsa_key):
    fake.post(TOKEN_URL, json=payload("oauth_token"))
    fake.get(ENVELOPE, json=payload("envelope_sent"))

    jwt_docusign.signature_status(ENVELOPE_ID)

    form = parse_qs(fake.calls[0].request.body)
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    header, claims = decode_verified(form["assertion"][0], rsa_key)
    assert header == {"typ": "JWT", "alg": "RS256"}
    assert claims == {"iss": INTEGRATION_KEY, "sub": USER_ID, "aud": "account-d.docusign.com",
                      "iat": int(NOW), "exp": int(NOW) + 3600,
                      "scope": "signature impersonation"}
    token = payload("oauth_token")["access_token"]
    assert fake.calls[1].request.headers["Authorization"] == f"Bearer {token}"


def test_a_tampered_assertion_does_not_verify(rsa_key):
    assertion = rs256_jwt({"sub": USER_ID}, rsa_key)
    header, _, signature = assertion.split(".")
    forged = base64.urlsafe_b64encode(b'{"sub":"someone-else"}').rstrip(b"=").decode()

    with pytest.raises(InvalidSignature):
        decode_verified(f"{header}.{forged}.{signature}", rsa_key)


def test_the_token_is_reused_until_shortly_before_it_expires(jwt_docusign, fake, clock):
    fake.post(TOKEN_URL, json=payload("oauth_token"))
    fake.get(ENVELOPE, json=payload("envelope_sent"))

    jwt_docusign.signature_status(ENVELOPE_ID)
    clock.advance(3000)  # 10 minutes left: still inside the margin
    jwt_docusign.signature_status(ENVELOPE_ID)
    clock.advance(400)  # 200 s left: fetch a new one
    jwt_docusign.signature_status(ENVELOPE_ID)

    assert [c.request.url for c in fake.calls].count(TOKEN_URL) == 2


def test_a_token_refused_mid_run_is_replaced_once(jwt_docusign, fake):
    fake.post(TOKEN_URL, json=payload("oauth_token"))
    fake.get(ENVELOPE, status=401, json=payload("error_token_expired"))
    fake.get(ENVELOPE, json=payload("envelope_sent"))

    envelope = jwt_docusign.signature_status(ENVELOPE_ID)

    assert envelope.envelope_id == ENVELOPE_ID
    assert [c.request.url for c in fake.calls].count(TOKEN_URL) == 2


def test_missing_consent_says_how_to_grant_it(jwt_docusign, fake):
    fake.post(TOKEN_URL, status=400, json=payload("oauth_consent_required"))

    with pytest.raises(AuthError) as refused:
        jwt_docusign.signature_status(ENVELOPE_ID)

    assert "consent_required" in refused.value.message
    assert "https://account-d.docusign.com/oauth/auth?response_type=code" in refused.value.hint


def test_the_production_oauth_host_follows_the_production_base_uri(make_docusign, rsa_pem):
    conn = make_docusign(base_uri="https://na3.docusign.net", access_token=None,
                         integration_key=INTEGRATION_KEY, user_id=USER_ID, private_key=rsa_pem)

    assert conn.oauth_host == "account.docusign.com"
    assert conn.api_base == "https://na3.docusign.net/restapi"


def test_a_private_key_file_is_read_relative_to_plugins_toml(make_docusign, rsa_pem, tmp_path,
                                                               fake):
    (tmp_path / "docusign.pem").write_text(rsa_pem)
    conn = make_docusign(access_token=None, integration_key=INTEGRATION_KEY, user_id=USER_ID,
                         private_key_file="docusign.pem")
    fake.post(TOKEN_URL, json=payload("oauth_token"))

    assert conn.access_token() == payload("oauth_token")["access_token"]


def test_a_private_key_with_escaped_newlines_from_one_env_line_works(make_docusign, rsa_pem, fake):
    one_line = rsa_pem.strip().replace("\n", "\\n")
    conn = make_docusign(access_token=None, integration_key=INTEGRATION_KEY, user_id=USER_ID,
                         private_key=one_line)
    fake.post(TOKEN_URL, json=payload("oauth_token"))

    assert "\n" not in one_line and conn.access_token()


def test_a_private_key_that_is_not_rsa_pem_is_a_config_error(make_docusign):
    conn = make_docusign(access_token=None, integration_key=INTEGRATION_KEY, user_id=USER_ID,
                         private_key="not a key")

    with pytest.raises(ConfigError, match="RSA PEM"):
        conn.access_token()


def test_configuration_needs_a_token_or_the_whole_jwt_grant():
    with pytest.raises(ValidationError, match="access_token, or integration_key"):
        DocusignConnector.config_model.model_validate(
            {"account_id": ACCOUNT_ID, "integration_key": INTEGRATION_KEY})

