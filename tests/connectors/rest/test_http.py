"""What goes over the wire: auth, retries on 429 and 5xx, refused credentials, bad answers."""

from __future__ import annotations

import base64

import pytest
import responses

from trainbridge.core.errors import AuthError, ConnectorError, ServerError
from trainbridge.core.secrets import redact

from .conftest import ERP, HR, LEARN, PEOPLE, body, fake_finance, fake_hr, fake_learning


def test_bearer_token_and_accept_header(fake, tables, make_rest):
    fake_hr(fake)
    hr = make_rest(tables["inhouse_hr"])

    list(hr.fetch_employees(since=None))

    sent = fake.calls[0].request
    assert sent.headers["Authorization"] == "Bearer hr-token-0123456789"
    assert sent.headers["Accept"] == "application/json"


def test_basic_auth(fake, tables, make_rest):
    fake_finance(fake)
    finance = make_rest(tables["finance"], name="finance")

    list(finance.fetch_cost_items(since=None))

    expected = base64.b64encode(b"trainbridge:erp-password-0123").decode()
    assert fake.calls[0].request.headers["Authorization"] == f"Basic {expected}"
    assert fake.calls[0].request.params == {"offset": "0", "limit": "200"}


def test_an_api_key_header_is_sent_and_kept_out_of_logs(fake, tables, make_rest):
    fake_learning(fake)
    training = make_rest(tables["training"], name="training")

    list(training.fetch_training_catalog(since=None))

    assert fake.calls[0].request.headers["X-Api-Key"] == "learn-key-0123456789"
    assert redact("key learn-key-0123456789") == "key ***"


def test_429_is_retried_after_retry_after(fake, tables, make_rest):
    fake.add(responses.GET, f"{HR}/people", status=429, headers={"Retry-After": "5"})
    fake_hr(fake)
    hr = make_rest(tables["inhouse_hr"])

    [page] = hr.fetch_employees(since=None)

    assert len(page.records) == 3
    assert hr.sleeps[0] >= 5


def test_a_5xx_is_retried_then_reported_with_the_request_id(fake, tables, make_rest):
    fake.add(responses.GET, f"{HR}/people", status=503, headers={"X-Request-Id": "hr-req-42"})
    tables["inhouse_hr"]["http"] = {"max_attempts": 2, "backoff_base": 0}
    hr = make_rest(tables["inhouse_hr"])

    with pytest.raises(ServerError) as failed:
        list(hr.fetch_employees(since=None))

    assert failed.value.request_id == "hr-req-42"
    assert len(fake.calls) == 2


def test_refused_credentials_are_an_auth_error_with_a_hint(fake, tables, make_rest):
    fake.add(responses.GET, f"{HR}/people", status=401, json={"error": "invalid token"})
    hr = make_rest(tables["inhouse_hr"])

    with pytest.raises(AuthError) as refused:
        list(hr.fetch_employees(since=None))

    assert "credentials of [connectors.inhouse_hr] were refused" in refused.value.hint
    assert "hr-token-0123456789" not in str(refused.value)


def test_an_answer_that_is_not_json_fails_the_instance_with_a_hint(fake, tables, make_rest):
    fake.add(responses.GET, f"{HR}/people", body="<html>login</html>", content_type="text/html")
    hr = make_rest(tables["inhouse_hr"])

    with pytest.raises(ConnectorError, match="text/html, not JSON") as bad:
        list(hr.fetch_employees(since=None))
    assert "base_url" in bad.value.hint


def test_an_answer_without_the_records_list_names_the_path(fake, tables, make_rest):
    fake.add(responses.GET, f"{HR}/people", body=body({"items": PEOPLE}))
    hr = make_rest(tables["inhouse_hr"])

    with pytest.raises(ConnectorError, match="no list of records at 'data.items'") as bad:
        list(hr.fetch_employees(since=None))
    assert "endpoints.employees" in bad.value.hint


def test_healthcheck_gets_the_configured_path(fake, tables, make_rest):
    fake_hr(fake)
    hr = make_rest(tables["inhouse_hr"])

    health = hr.healthcheck()

    assert health.ok
    assert fake.calls[0].request.url == f"{HR}/ping"


def test_healthcheck_defaults_to_the_first_endpoint(fake, tables, make_rest):
    fake_learning(fake)
    training = make_rest(tables["training"], name="training")

    assert training.healthcheck().ok
    assert fake.calls[0].request.url == f"{LEARN}/courses"


def test_healthcheck_fails_on_refused_credentials(fake, tables, make_rest):
    fake.add(responses.GET, f"{ERP}/training-costs", status=403)
    finance = make_rest(tables["finance"], name="finance")

    with pytest.raises(AuthError):
        finance.healthcheck()
