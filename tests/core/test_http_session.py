"""The proxy and CA-bundle environment is honoured as requests honours it, read once per host."""

from __future__ import annotations

from trainbridge.core.http_session import EnvironmentOnceSession


def test_the_environment_is_read_once_per_host_and_honoured(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.acme.internal:3128")
    monkeypatch.setenv("NO_PROXY", "hr.acme.internal")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/acme/ca.pem")
    session = EnvironmentOnceSession()

    far = session.merge_environment_settings("https://api.bamboohr.com/v1/x", {}, None, True, None)
    near = session.merge_environment_settings("https://hr.acme.internal/api", {}, None, True, None)
    assert far["proxies"]["https"] == "http://proxy.acme.internal:3128"
    assert "https" not in near["proxies"]  # NO_PROXY, as requests decides it
    assert far["verify"] == "/etc/acme/ca.pem"

    monkeypatch.setenv("HTTPS_PROXY", "http://other:1")  # read once: the first answer stands
    again = session.merge_environment_settings("https://api.bamboohr.com/v1/y", {}, None, True, None)
    assert again["proxies"]["https"] == "http://proxy.acme.internal:3128"
    again["proxies"]["https"] = "changed by a caller"
    assert session.merge_environment_settings("https://api.bamboohr.com/v1/z", {}, None, True, None)[
        "proxies"]["https"] == "http://proxy.acme.internal:3128"


def test_without_trust_env_or_with_explicit_proxies_requests_decides_as_always(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.acme.internal:3128")
    session = EnvironmentOnceSession()
    session.trust_env = False
    assert session.merge_environment_settings("https://api.bamboohr.com/", {}, None, True, None)[
        "proxies"] == {}
    session.trust_env = True
    explicit = {"https": "http://mine:8080"}
    assert session.merge_environment_settings("https://api.bamboohr.com/", explicit, None, True, None)[
        "proxies"]["https"] == "http://mine:8080"
