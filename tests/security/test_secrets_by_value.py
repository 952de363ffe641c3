"""Medium: ``${VAR}`` secrets were recognised by their key's name, and URL-encoded forms leaked."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus, urlencode

from trainbridge.core.config import substitute_env
from trainbridge.core.secrets import redact, register_secret, scrub

SECRET = "k+y=z/s3cr3t&v4lue"


def test_a_value_from_the_environment_is_a_secret_whatever_its_key(monkeypatch):
    monkeypatch.setenv("TB_SECURITY_REST_KEY", SECRET)

    params = substitute_env({"params": {"key": "${TB_SECURITY_REST_KEY}"}}, file="plugins.toml",
                            table="connectors.rest", key="")

    assert params == {"params": {"key": SECRET}}
    assert redact(f"GET https://api.example.com/v1?key={SECRET}") == "GET https://api.example.com/v1?key=***"


def test_a_default_written_in_the_file_is_not_a_secret():
    substitute_env("${TB_SECURITY_UNSET_VAR:-budget committee minutes}", file="plugins.toml", table="t",
                   key="k")

    assert redact("budget committee minutes") == "budget committee minutes"


def test_every_encoding_of_a_secret_is_masked():
    register_secret(SECRET)
    url = "https://api.example.com/v1?" + urlencode({"key": SECRET})
    basic = base64.b64encode(f"svc-user:{SECRET}".encode()).decode()

    assert SECRET not in redact(f"failed: {SECRET}")
    assert quote(SECRET, safe="") not in redact(url)
    assert quote_plus(SECRET) not in redact(f"body key={quote_plus(SECRET)}")
    assert "***" in redact(f"Authorization: Basic {basic}")
    for shift in ("", "a", "ab"):
        encoded = base64.b64encode(f"{shift}{SECRET}tail".encode()).decode()
        assert "***" in redact(encoded), shift
    assert SECRET not in json.dumps(scrub({"error": json.dumps({"echo": SECRET})}))


def test_masking_leaves_text_that_merely_resembles_no_secret():
    register_secret(SECRET)

    assert redact("approved by budget committee") == "approved by budget committee"
    assert redact("k+y=z") == "k+y=z"
