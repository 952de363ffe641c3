"""Credentials: health check, refused tokens, OAuth refresh with the rotating refresh token."""

from __future__ import annotations

import stat

import pytest
from pydantic import ValidationError

from trainbridge.connectors.gusto import GustoConnector
from trainbridge.core.errors import AuthError
from trainbridge.core.secrets import redact

from .conftest import COMPANY, refund


def test_healthcheck_proves_the_token_with_token_info(gusto, company):
    health = gusto.healthcheck()

    assert health.ok, health.detail
    [call] = company.calls
    assert call.path == "/v1/token_info"
    assert call.headers["X-Gusto-API-Version"] == "2026-06-15"


def test_healthcheck_notices_a_token_of_another_company(make_gusto, company):
    gusto = make_gusto(company_id="7b1d0df1-6403-4a06-8768-c1dd7d24d27a")

    health = gusto.healthcheck()

    assert not health.ok
    assert f"Company {COMPANY}" in health.detail


def test_healthcheck_names_missing_scopes(gusto, company):
    company.token_info["scope"] = "public payrolls:read"

    health = gusto.healthcheck()

    assert not health.ok
    assert "garnishments:write" in health.detail


def test_an_expired_token_is_an_auth_error_with_the_request_id_and_a_hint(make_gusto, company):
    gusto = make_gusto(access_token="expired-token-0000")

    with pytest.raises(AuthError) as refused:
        gusto.post_adjustment(adjustment=refund())

    assert refused.value.status == 401
    assert refused.value.request_id == "req-401"
    assert "expire after 2 hours" in refused.value.hint
    assert "expired-token-0000" not in str(refused.value)


def test_oauth_refreshes_a_refused_token_and_keeps_the_rotated_refresh_token(make_gusto, company,
                                                                             tmp_path):
    (tmp_path / "gusto.refresh").write_text("refresh-token-1\n", encoding="utf-8")
    gusto = make_gusto(access_token="expired-token-0000", oauth={
        "client_id": "qr6L_9FRkbMVL_GdwvrMW6Ef8tcU6NUxjWpOfqXqOG8",
        "client_secret": "3aQSHRB3596nZhm6NdNBELZ1u9xbZmvCrKpBhbZYq6w",
        "refresh_token_file": "gusto.refresh"})

    gusto.post_adjustment(adjustment=refund())

    token_call = next(c for c in company.calls if c.path == "/oauth/token")
    assert token_call.body == {"client_id": "qr6L_9FRkbMVL_GdwvrMW6Ef8tcU6NUxjWpOfqXqOG8",
                               "client_secret": "3aQSHRB3596nZhm6NdNBELZ1u9xbZmvCrKpBhbZYq6w",
                               "grant_type": "refresh_token", "refresh_token": "refresh-token-1"}
    assert company.calls[-1].headers["Authorization"] == "Bearer access-token-2"
    assert len(company.ours()) == 1
    stored = tmp_path / "gusto.refresh"
    assert stored.read_text(encoding="utf-8").strip() == "refresh-token-2"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert redact("token refresh-token-2 access-token-2") == "token *** ***"


def test_oauth_alone_gets_a_token_before_the_first_call(make_gusto, company, tmp_path):
    (tmp_path / "gusto.refresh").write_text("refresh-token-1", encoding="utf-8")
    gusto = make_gusto(access_token=None, oauth={"client_id": "cid", "client_secret": "secret-0000",
                                                 "refresh_token_file": "gusto.refresh"})

    assert gusto.healthcheck().ok
    assert [c.path for c in company.calls] == ["/oauth/token", "/v1/token_info"]


def test_a_burnt_refresh_token_is_an_auth_error(make_gusto, company, tmp_path):
    (tmp_path / "gusto.refresh").write_text("refresh-token-0", encoding="utf-8")
    gusto = make_gusto(access_token=None, oauth={"client_id": "cid", "client_secret": "secret-0000",
                                                 "refresh_token_file": "gusto.refresh"})

    with pytest.raises(AuthError):
        gusto.healthcheck()


def test_the_config_needs_a_token_or_oauth(config):
    with pytest.raises(ValidationError, match="access_token"):
        GustoConnector.config_model.model_validate({**config, "access_token": None})


def test_match_by_custom_field_needs_the_field_name(config):
    with pytest.raises(ValidationError, match="custom_field"):
        GustoConnector.config_model.model_validate({**config, "match_by": "custom_field"})


def test_the_base_url_defaults_to_the_demo_environment(config):
    cfg = GustoConnector.config_model.model_validate(config)

    assert cfg.base_url == "https://api.gusto-demo.com"
    assert cfg.api_version == "2026-06-15"
